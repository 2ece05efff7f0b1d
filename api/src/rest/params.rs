//! The query parameters every FHIR request may carry, split from the rest.

use crate::error::ApiError;
use crate::format::{self, Accept};
use crate::interaction::url_pairs;
use axum::http::HeaderMap;

/// `_format`, `_pretty` and what remains of the query.
pub struct Params {
    pub accept: Accept,
    pub pretty: bool,
    /// The other parameters, in order.
    pub rest: Vec<(String, String)>,
}

impl Params {
    pub fn parse(query: Option<&str>, headers: &HeaderMap) -> Result<Params, ApiError> {
        let mut format_param = None;
        let mut pretty_param = None;
        let mut rest = Vec::new();
        for (k, v) in url_pairs(query.unwrap_or("")) {
            match k.as_str() {
                "_format" => format_param = Some(v),
                "_pretty" => pretty_param = Some(v),
                _ => rest.push((k, v)),
            }
        }
        Ok(Params {
            accept: format::negotiate(headers, format_param.as_deref())?,
            pretty: format::pretty(pretty_param.as_deref())?,
            rest,
        })
    }

    /// The remaining parameters as a query string, for conditional interactions.
    pub fn rest_query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.rest.iter())
            .finish()
    }
}
