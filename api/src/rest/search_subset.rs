//! `_summary` and `_elements` on search results: the resource cut down to the elements asked
//! for, marked with the `SUBSETTED` tag.
//!
//! `_elements` keeps the named top-level elements plus `resourceType`, `id`, `meta` and the
//! mandatory ones. `_summary=text` keeps `text`, `id`, `meta` and the mandatory elements;
//! `_summary=data` drops `text`. The model extract has no `isSummary` flags yet, so
//! `_summary=true` keeps the mandatory elements plus the usual summary elements of most
//! resources (identifiers, status, codes, names, subject/patient, dates).

use hearth_fhir::ResourceType;
use hearth_fhir::model::resource_definition;
use hearth_fhir::search::query::{SearchQuery, Summary};
use serde_json::{Map, Value, json};

use crate::error::ApiError;

const ALWAYS: [&str; 3] = ["resourceType", "id", "meta"];
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

/// Whether the JSON member `key` is the element `name` (`value[x]` matches `valueQuantity`).
fn is_element(key: &str, name: &str) -> bool {
    let key = key.strip_prefix('_').unwrap_or(key);
    match name.strip_suffix("[x]") {
        Some(stem) => key.starts_with(stem) && key[stem.len()..].starts_with(char::is_uppercase),
        None => key == name,
    }
}

fn mandatory(rt: ResourceType) -> Vec<&'static str> {
    resource_definition(rt)
        .elements()
        .required()
        .map(|e| e.name.as_str())
        .collect()
}

/// The subsetted JSON of a stored resource.
pub fn subset(rt: ResourceType, body: &[u8], query: &SearchQuery) -> Result<Vec<u8>, ApiError> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return Err(ApiError::internal("stored resource unreadable"));
    };
    let required = mandatory(rt);
    let keep = |key: &str| -> bool {
        let named = |names: &[&str]| names.iter().any(|n| is_element(key, n));
        if named(&ALWAYS) || named(&required) {
            return true;
        }
        if !query.elements.is_empty() {
            let names: Vec<&str> = query.elements.iter().map(String::as_str).collect();
            return named(&names);
        }
        match query.summary {
            Some(Summary::Text) => is_element(key, "text"),
            Some(Summary::Data) => !is_element(key, "text"),
            Some(Summary::True) => named(&SUMMARY_LIKE),
            Some(Summary::Count | Summary::False) | None => true,
        }
    };
    let mut out: Map<String, Value> = map.into_iter().filter(|(k, _)| keep(k)).collect();
    let meta = out
        .entry("meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(meta) = meta {
        let tags = meta
            .entry("tag")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(tags) = tags {
            tags.push(json!({
                "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                "code": "SUBSETTED",
                "display": "subsetted"
            }));
        }
    }
    serde_json::to_vec(&Value::Object(out)).map_err(|e| ApiError::internal(e.to_string()))
}
