//! Cutting a resource down to some of its elements (`_elements`, `_summary`, export
//! `_elements`), marked with the `SUBSETTED` tag as the spec requires.

use serde_json::{Map, Value, json};

use crate::ResourceType;
use crate::model::resource_definition;

/// Kept in every subset besides the type's mandatory elements.
const ALWAYS: [&str; 3] = ["resourceType", "id", "meta"];

/// Whether the JSON member `key` is the element `name` (`value[x]` matches `valueQuantity`,
/// and `_birthDate` is `birthDate`'s primitive extension).
pub fn is_element(key: &str, name: &str) -> bool {
    let key = key.strip_prefix('_').unwrap_or(key);
    match name.strip_suffix("[x]") {
        Some(stem) => key.starts_with(stem) && key[stem.len()..].starts_with(char::is_uppercase),
        None => key == name,
    }
}

/// The names of the type's mandatory (min ≥ 1) top-level elements.
pub fn mandatory(rt: ResourceType) -> Vec<&'static str> {
    resource_definition(rt)
        .elements()
        .required()
        .map(|e| e.name.as_str())
        .collect()
}

/// Keeps `resourceType`, `id`, `meta`, the mandatory elements and the members `keep` accepts,
/// and adds the `SUBSETTED` tag to `meta.tag`.
pub fn subset(
    rt: ResourceType,
    resource: Map<String, Value>,
    keep: impl Fn(&str) -> bool,
) -> Map<String, Value> {
    let required = mandatory(rt);
    let named = |key: &str, names: &[&str]| names.iter().any(|n| is_element(key, n));
    let mut out: Map<String, Value> = resource
        .into_iter()
        .filter(|(k, _)| named(k, &ALWAYS) || named(k, &required) || keep(k))
        .collect();
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_named_mandatory_and_identity() {
        let rt: ResourceType = "Observation".parse().unwrap();
        let Value::Object(obs) = json!({"resourceType": "Observation", "id": "o", "status": "final",
            "code": {"text": "x"}, "subject": {"reference": "Patient/p"}, "valueQuantity": {"value": 1},
            "note": [{"text": "n"}]})
        else {
            unreachable!()
        };
        let out = subset(rt, obs, |k| is_element(k, "value[x]"));
        let keys: Vec<&str> = out.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "resourceType",
                "id",
                "status",
                "code",
                "valueQuantity",
                "meta"
            ]
        );
        assert_eq!(out["meta"]["tag"][0]["code"], "SUBSETTED");
    }

    #[test]
    fn element_names() {
        let cases = [
            ("valueQuantity", "value[x]", true),
            ("valueQuantity", "value", false),
            ("_birthDate", "birthDate", true),
            ("values", "value[x]", false),
            ("name", "name", true),
        ];
        for (key, name, expected) in cases {
            assert_eq!(is_element(key, name), expected, "{key} {name}");
        }
    }
}
