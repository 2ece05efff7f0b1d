//! Versioning and preference headers: ETag, If-Match, If-None-Match, If-Modified-Since, Prefer.

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use hearth_fhir::VersionId;

use crate::error::ApiError;

/// `W/"n"`.
pub fn etag(version: VersionId) -> String {
    format!("W/\"{version}\"")
}

/// Parses an ETag-like version (`W/"3"`, `"3"` or `3`).
pub fn parse_etag(value: &str) -> Result<VersionId, ApiError> {
    let v = value.trim();
    let v = v.strip_prefix("W/").unwrap_or(v);
    let v = v
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v);
    v.parse()
        .map_err(|_| ApiError::bad_request(format!("invalid version in ETag '{value}'")))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("header {name} is not ASCII"))),
    }
}

/// The version `If-Match` requires, if any.
pub fn if_match(headers: &HeaderMap) -> Result<Option<VersionId>, ApiError> {
    header(headers, "if-match")?.map(parse_etag).transpose()
}

/// `If-None-Match` on a read: `*` or a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfNoneMatch {
    Any,
    Version(VersionId),
}

pub fn if_none_match(headers: &HeaderMap) -> Result<Option<IfNoneMatch>, ApiError> {
    match header(headers, "if-none-match")? {
        None => Ok(None),
        Some(v) if v.trim() == "*" => Ok(Some(IfNoneMatch::Any)),
        Some(v) => parse_etag(v).map(|v| Some(IfNoneMatch::Version(v))),
    }
}

/// `If-Modified-Since` as an instant (HTTP date).
pub fn if_modified_since(headers: &HeaderMap) -> Result<Option<DateTime<Utc>>, ApiError> {
    match header(headers, "if-modified-since")? {
        None => Ok(None),
        Some(v) => httpdate::parse_http_date(v)
            .map(|t| Some(DateTime::<Utc>::from(t)))
            .map_err(|_| ApiError::bad_request(format!("invalid If-Modified-Since date '{v}'"))),
    }
}

/// `Last-Modified` value for an instant.
pub fn http_date(t: DateTime<Utc>) -> String {
    httpdate::fmt_http_date(t.into())
}

/// `Prefer: return=…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Return {
    Minimal,
    #[default]
    Representation,
    OperationOutcome,
}

pub fn prefer_return(headers: &HeaderMap) -> Return {
    let Some(prefer) = headers.get("prefer").and_then(|v| v.to_str().ok()) else {
        return Return::default();
    };
    for part in prefer.split([',', ';']) {
        match part.trim().replace(' ', "").as_str() {
            "return=minimal" => return Return::Minimal,
            "return=representation" => return Return::Representation,
            "return=OperationOutcome" => return Return::OperationOutcome,
            _ => {}
        }
    }
    Return::default()
}

/// Whether a `Prefer` header carries `preference` (such as `handling=strict` or
/// `respond-async`), spaces ignored.
pub fn prefers(headers: &HeaderMap, preference: &str) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .any(|p| p.trim().replace(' ', "") == preference)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags() {
        for (input, expected) in [
            ("W/\"3\"", Some(3)),
            ("\"12\"", Some(12)),
            ("7", Some(7)),
            ("W/\"x\"", None),
            ("W/\"0\"", None),
        ] {
            assert_eq!(parse_etag(input).ok().map(|v| v.get()), expected, "{input}");
        }
        assert_eq!(etag(VersionId::FIRST), "W/\"1\"");
    }
}
