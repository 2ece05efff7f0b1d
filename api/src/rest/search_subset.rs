//! `_summary` and `_elements` on search results: the resource cut down to the elements asked
//! for, marked with the `SUBSETTED` tag.
//!
//! `_elements` keeps the named top-level elements plus `resourceType`, `id`, `meta` and the
//! mandatory ones. `_summary=text` keeps `text`, `id`, `meta` and the mandatory elements;
//! `_summary=data` drops `text`. The model extract has no `isSummary` flags yet, so
//! `_summary=true` keeps the mandatory elements plus the usual summary elements of most
//! resources (identifiers, status, codes, names, subject/patient, dates).

use hearth_fhir::ResourceType;
use hearth_fhir::search::query::{SearchQuery, Summary};
use hearth_fhir::subset::{is_element, subset as subset_elements};
use serde_json::Value;

use crate::error::ApiError;

const SUMMARY_LIKE: [&str; 14] = [
    "identifier",
    "status",
    "code",
    "name",
    "subject",
    "patient",
    "type",
    "category",
    "active",
    "gender",
    "birthDate",
    "date",
    "url",
    "version",
];

/// The subsetted JSON of a stored resource.
pub fn subset(rt: ResourceType, body: &[u8], query: &SearchQuery) -> Result<Vec<u8>, ApiError> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Err(ApiError::internal("stored resource unreadable"));
    };
    let keep = |key: &str| -> bool {
        if !query.elements.is_empty() {
            return query.elements.iter().any(|n| is_element(key, n));
        }
        match query.summary {
            Some(Summary::Text) => is_element(key, "text"),
            Some(Summary::Data) => !is_element(key, "text"),
            Some(Summary::True) => SUMMARY_LIKE.iter().any(|n| is_element(key, n)),
            Some(Summary::Count | Summary::False) | None => true,
        }
    };
    let out = subset_elements(rt, map, keep);
    serde_json::to_vec(&Value::Object(out)).map_err(|e| ApiError::internal(e.to_string()))
}
