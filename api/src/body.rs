//! Reading request bodies within the limits, and parsing FHIR JSON safely.

use axum::body::Body;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::Value;

use crate::error::ApiError;

/// Reads the whole body, refusing more than `limit` bytes with 413.
pub async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<LengthLimitError>() => Err(ApiError::too_large(format!(
            "request body larger than the limit of {limit} bytes"
        ))),
        Err(err) => Err(ApiError::bad_request(format!(
            "could not read the request body: {err}"
        ))),
    }
}

/// Nesting depth of a JSON text, found without parsing it (strings are skipped).
fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Parses a JSON body: 400 for malformed JSON, too deep nesting or an empty body.
pub fn parse_json(bytes: &[u8], max_depth: usize) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the request body is empty"));
    }
    let depth = json_depth(bytes);
    if depth > max_depth {
        return Err(ApiError::bad_request(format!(
            "JSON nesting depth {depth} exceeds the limit of {max_depth}"
        )));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_ignores_brackets_in_strings() {
        for (input, depth) in [
            ("{}", 1),
            ("{\"a\":[{}]}", 3),
            ("{\"a\":\"[[[{{\"}", 1),
            ("{\"a\":\"\\\"[\"}", 1),
            ("1", 0),
        ] {
            assert_eq!(json_depth(input.as_bytes()), depth, "{input}");
        }
    }

    #[test]
    fn bad_json_is_400() {
        for input in ["", "  ", "{", "{\"a\":}", "[1,]"] {
            assert_eq!(
                parse_json(input.as_bytes(), 64)
                    .unwrap_err()
                    .status
                    .as_u16(),
                400,
                "{input}"
            );
        }
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert_eq!(
            parse_json(deep.as_bytes(), 64).unwrap_err().status.as_u16(),
            400
        );
    }
}
