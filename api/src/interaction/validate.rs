//! Checks a FHIR JSON body before it is written: syntax and identity (400), content (422).

use hearth_fhir::{ResourceId, ResourceType};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Validates `body` as a resource of type `rt`. Shape and `resourceType` problems are 400;
/// content errors against the R4 definitions are 422 with every issue found.
pub fn validate_body(rt: ResourceType, body: Value) -> Result<Map<String, Value>, ApiError> {
    let Value::Object(map) = body else {
        return Err(ApiError::bad_request(
            "the body must be a JSON object holding a FHIR resource",
        ));
    };
    match map.get("resourceType") {
        Some(Value::String(t)) if t == rt.as_str() => {}
        Some(Value::String(t)) => {
            return Err(ApiError::bad_request(format!(
                "resourceType '{t}' does not match the type '{rt}' of the URL"
            )));
        }
        _ => return Err(ApiError::bad_request("the body has no resourceType")),
    }
    let body = Value::Object(map);
    hearth_fhir::validate::validate_resource(&body).map_err(ApiError::unprocessable)?;
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::internal("validated body is not an object")),
    }
}

/// The `id` member of a body, if any, checked against the id rules (400 when malformed).
pub fn body_id(map: &Map<String, Value>) -> Result<Option<ResourceId>, ApiError> {
    match map.get("id") {
        None => Ok(None),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|e: hearth_fhir::IdError| ApiError::bad_request(e.to_string())),
        Some(_) => Err(ApiError::bad_request("id must be a string")),
    }
}
