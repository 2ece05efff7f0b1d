//! The few invariants of Resource, DomainResource and Extension that every write must meet
//! (dom-2 .. dom-5, ext-1), checked on the JSON directly.

use serde_json::{Map, Value};

/// dom-2, dom-4, dom-5 for a contained resource: `(element, message)` of each violation.
pub(super) fn contained_violations(
    resource: &Map<String, Value>,
) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    if resource.contains_key("contained") {
        out.push((
            "contained",
            "a contained resource SHALL NOT contain other resources (dom-2)",
        ));
    }
    if let Some(Value::Object(meta)) = resource.get("meta") {
        if meta.contains_key("versionId") || meta.contains_key("lastUpdated") {
            out.push((
                "meta",
                "a contained resource SHALL NOT have meta.versionId or meta.lastUpdated (dom-4)",
            ));
        }
        if meta.contains_key("security") {
            out.push((
                "meta",
                "a contained resource SHALL NOT have a security label (dom-5)",
            ));
        }
    }
    out
}

/// dom-3: indexes of `contained` entries that nothing in `resource` refers to (`#id` as a
/// reference, canonical, uri or url) and that do not themselves refer to their container (`#`).
pub(super) fn unreferenced_contained(resource: &Map<String, Value>) -> Vec<usize> {
    let Some(Value::Array(contained)) = resource.get("contained") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, entry) in contained.iter().enumerate() {
        let Value::Object(entry) = entry else {
            continue;
        };
        let id = entry.get("id").and_then(Value::as_str);
        let referenced =
            id.is_some_and(|id| any_string_in_map(resource, &|s| s.strip_prefix('#') == Some(id)));
        if !referenced && !any_string_in_map(entry, &|s| s == "#") {
            out.push(i);
        }
    }
    out
}

fn any_string_in_map(map: &Map<String, Value>, pred: &dyn Fn(&str) -> bool) -> bool {
    map.values().any(|v| any_string(v, pred))
}

fn any_string(value: &Value, pred: &dyn Fn(&str) -> bool) -> bool {
    match value {
        Value::String(s) => s.starts_with('#') && pred(s),
        Value::Array(items) => items.iter().any(|v| any_string(v, pred)),
        Value::Object(map) => any_string_in_map(map, pred),
        _ => false,
    }
}

/// ext-1: an extension has either nested extensions or a `value[x]`, not both.
pub(super) fn extension_has_value_and_extensions(extension: &Map<String, Value>) -> bool {
    extension.contains_key("extension") && extension.keys().any(|k| k.starts_with("value"))
}
