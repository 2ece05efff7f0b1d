//! Content negotiation: `_format`, `Accept`, `Content-Type` and `_pretty`.

use axum::http::HeaderMap;
use axum::http::header;

use crate::error::ApiError;

pub const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// What the client wants back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accept {
    /// FHIR JSON (also for `application/json`, as the spec requires).
    FhirJson,
    /// Anything, no preference stated: FHIR JSON, except Binary answers with its own content.
    Any,
    /// A non-FHIR media type: only a Binary can answer it (with its raw content).
    Other(String),
}

/// What the request body is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind {
    FhirJson,
    JsonPatch,
    /// Not a FHIR format: raw content (Binary) — or an error for every other type.
    Other(String),
}

fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_fhir_json(mt: &str) -> bool {
    matches!(
        mt,
        "application/fhir+json"
            | "application/json"
            | "application/json+fhir"
            | "json"
            | "text/json"
    )
}

fn is_fhir_xml(mt: &str) -> bool {
    matches!(
        mt,
        "application/fhir+xml" | "application/xml" | "application/xml+fhir" | "xml" | "text/xml"
    )
}

/// Decides the response format from `_format` (wins) and `Accept`.
pub fn negotiate(headers: &HeaderMap, format_param: Option<&str>) -> Result<Accept, ApiError> {
    if let Some(format) = format_param {
        let mt = media_type(format);
        if is_fhir_json(&mt) {
            return Ok(Accept::FhirJson);
        }
        if is_fhir_xml(&mt) || mt == "ttl" || mt == "html" || mt == "text/html" {
            return Err(ApiError::not_acceptable(format!(
                "_format '{format}' is not supported: this server speaks FHIR JSON only"
            )));
        }
        return Err(ApiError::bad_request(format!("unknown _format '{format}'")));
    }
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(Accept::Any);
    };
    let mut other = None;
    let mut any = false;
    for part in accept.split(',') {
        let mt = media_type(part);
        let refused = part
            .split(';')
            .skip(1)
            .any(|p| p.trim().replace(' ', "") == "q=0");
        if mt.is_empty() || refused {
            continue;
        }
        if is_fhir_json(&mt) {
            return Ok(Accept::FhirJson);
        }
        if mt == "*/*" || mt == "application/*" {
            any = true;
        } else if !is_fhir_xml(&mt) && other.is_none() {
            other = Some(mt);
        }
    }
    match (any, other) {
        (true, _) => Ok(Accept::Any),
        (false, Some(mt)) => Ok(Accept::Other(mt)),
        (false, None) if accept.trim().is_empty() => Ok(Accept::Any),
        (false, None) => Err(ApiError::not_acceptable(format!(
            "cannot answer in any of '{accept}': this server speaks FHIR JSON (application/fhir+json)"
        ))),
    }
}

/// Requires that a FHIR (non-Binary) response is acceptable.
pub fn require_fhir(accept: &Accept) -> Result<(), ApiError> {
    match accept {
        Accept::FhirJson | Accept::Any => Ok(()),
        Accept::Other(mt) => Err(ApiError::not_acceptable(format!(
            "cannot answer in '{mt}': this server speaks FHIR JSON (application/fhir+json)"
        ))),
    }
}

/// Classifies the request body by `Content-Type`; a missing type is taken as FHIR JSON.
pub fn body_kind(headers: &HeaderMap) -> BodyKind {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return BodyKind::FhirJson;
    };
    let mt = media_type(ct);
    if is_fhir_json(&mt) {
        BodyKind::FhirJson
    } else if mt == "application/json-patch+json" {
        BodyKind::JsonPatch
    } else {
        BodyKind::Other(mt)
    }
}

/// Requires a FHIR JSON body.
pub fn require_fhir_body(headers: &HeaderMap) -> Result<(), ApiError> {
    match body_kind(headers) {
        BodyKind::FhirJson => Ok(()),
        BodyKind::JsonPatch => Err(ApiError::unsupported_media_type(
            "application/json-patch+json is only accepted by PATCH",
        )),
        BodyKind::Other(mt) => Err(ApiError::unsupported_media_type(format!(
            "unsupported Content-Type '{mt}': send application/fhir+json"
        ))),
    }
}

/// `_pretty=true` asks for indented JSON.
pub fn pretty(param: Option<&str>) -> Result<bool, ApiError> {
    match param {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "_pretty must be true or false, not '{other}'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn check(accept: Option<&str>, format: Option<&str>, expected: Result<Accept, u16>) {
        let mut headers = HeaderMap::new();
        if let Some(a) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_str(a).unwrap());
        }
        let got = negotiate(&headers, format).map_err(|e| e.status.as_u16());
        assert_eq!(got, expected, "accept={accept:?} _format={format:?}");
    }

    #[test]
    fn negotiation() {
        check(None, None, Ok(Accept::Any));
        check(Some("application/fhir+json"), None, Ok(Accept::FhirJson));
        check(Some("application/json"), None, Ok(Accept::FhirJson));
        check(
            Some("application/fhir+json;q=0.9, */*;q=0.1"),
            None,
            Ok(Accept::FhirJson),
        );
        check(Some("*/*"), None, Ok(Accept::Any));
        check(Some("application/fhir+xml"), None, Err(406));
        check(
            Some("image/png"),
            None,
            Ok(Accept::Other("image/png".into())),
        );
        check(
            Some("application/fhir+xml"),
            Some("json"),
            Ok(Accept::FhirJson),
        );
        check(None, Some("application/fhir+json"), Ok(Accept::FhirJson));
        check(None, Some("xml"), Err(406));
        check(None, Some("bogus"), Err(400));
    }
}
