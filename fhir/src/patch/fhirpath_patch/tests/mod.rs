//! Data-driven tests for FHIRPath Patch: the examples of fhirpatch.html and malformed input.
//! Each case patches the same Patient and compares the changed members, or the error.

mod add;
mod edits;
mod errors;

use serde_json::{Value, json};

use super::super::{ElementModel, NoModel};
use super::{apply_fhirpath_patch, apply_fhirpath_patch_with};

fn patient() -> Value {
    json!({
        "resourceType": "Patient",
        "id": "example",
        "identifier": [
            {"system": "http://a", "value": "1"},
            {"system": "http://b", "value": "2"},
            {"system": "http://c", "value": "3"}
        ],
        "active": true,
        "name": [
            {"use": "official", "family": "Chalmers", "given": ["Peter", "James"], "_given": [null, {"id": "g2"}]},
            {"use": "usual", "given": ["Jim"]}
        ],
        "gender": "male",
        "birthDate": "1974-12-25",
        "_birthDate": {"extension": [{"url": "http://x", "valueDateTime": "1974-12-25T14:35:45-05:00"}]},
        "deceasedBoolean": false
    })
}

/// One operation parameter from `(part name, part)` pairs; each part is the JSON after `name`.
fn op(parts: &[(&str, Value)]) -> Value {
    let parts: Vec<Value> = parts
        .iter()
        .map(|(name, body)| {
            let mut part = json!({ "name": name });
            if let (Some(part), Some(body)) = (part.as_object_mut(), body.as_object()) {
                part.extend(body.clone());
            }
            part
        })
        .collect();
    json!({"name": "operation", "part": parts})
}

fn params(operations: Vec<Value>) -> Value {
    json!({"resourceType": "Parameters", "parameter": operations})
}

fn code(kind: &str) -> (&'static str, Value) {
    ("type", json!({ "valueCode": kind }))
}

fn path(p: &str) -> (&'static str, Value) {
    ("path", json!({ "valueString": p }))
}

fn name(n: &str) -> (&'static str, Value) {
    ("name", json!({ "valueString": n }))
}

fn int(part: &'static str, n: i64) -> (&'static str, Value) {
    (part, json!({ "valueInteger": n }))
}

fn value(body: Value) -> (&'static str, Value) {
    ("value", body)
}

/// `expected` is the changed top-level members of the patient as a JSON object (`null` for
/// removed ones), or `code: diagnostics` when the patch fails (the patient must be unchanged).
fn check(parameters: Value, expected: &str) {
    check_with(&NoModel, parameters, expected);
}

fn check_with(model: &dyn ElementModel, parameters: Value, expected: &str) {
    let mut resource = patient();
    let actual = match apply_fhirpath_patch_with(&mut resource, &parameters, model) {
        Ok(()) => diff(&patient(), &resource).to_string(),
        Err(issue) => {
            assert_eq!(resource, patient(), "failed patch changed the resource");
            format!("{}: {}", issue.code.as_str(), issue.diagnostics)
        }
    };
    assert_eq!(actual, expected, "patch {parameters}");
}

/// The top-level members that differ between `before` and `after`.
fn diff(before: &Value, after: &Value) -> Value {
    let mut changed = serde_json::Map::new();
    if let (Some(before), Some(after)) = (before.as_object(), after.as_object()) {
        for (key, value) in after {
            if before.get(key) != Some(value) {
                changed.insert(key.clone(), value.clone());
            }
        }
        for key in before.keys().filter(|k| !after.contains_key(*k)) {
            changed.insert(key.clone(), Value::Null);
        }
        let order_before: Vec<&String> = before.keys().filter(|k| after.contains_key(*k)).collect();
        let order_after: Vec<&String> = after.keys().filter(|k| before.contains_key(*k)).collect();
        if order_before != order_after {
            changed.insert("#order".into(), json!(order_after));
        }
    }
    Value::Object(changed)
}
