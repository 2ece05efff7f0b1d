//! JSON Patch (RFC 6902) on a resource, through the `json-patch` crate.

use serde_json::Value;

use crate::Issue;

use super::PatchError;

/// Applies the RFC 6902 document `patch` to `resource`, all or nothing.
///
/// A document that is not an array of well-formed operations is `invalid`; an operation whose
/// path does not exist or a failing `test` is `processing`. On error `resource` is unchanged.
pub fn apply_json_patch(resource: &mut Value, patch: &Value) -> Result<(), Issue> {
    apply(resource, patch).map_err(Issue::from)
}

fn apply(resource: &mut Value, patch: &Value) -> Result<(), PatchError> {
    if !patch.is_array() {
        return Err(PatchError::Malformed(
            "a JSON Patch document must be an array of operations".into(),
        ));
    }
    let operations: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| PatchError::Malformed(e.to_string()))?;
    // Work on a copy so a failure part-way leaves the resource untouched whatever the crate does.
    let mut patched = resource.clone();
    json_patch::patch(&mut patched, &operations).map_err(|e| match e.kind {
        json_patch::PatchErrorKind::TestFailed => PatchError::TestFailed(e.to_string()),
        _ => PatchError::NotApplicable(e.to_string()),
    })?;
    *resource = patched;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patient() -> Value {
        json!({"resourceType": "Patient", "id": "p1", "active": true, "name": [{"family": "Doe", "given": ["Jane"]}]})
    }

    /// `expected` is the patched resource, or `code: diagnostics` when the patch fails (and the
    /// resource must then be unchanged).
    fn check(patch: Value, expected: &str) {
        let mut resource = patient();
        let actual = match apply_json_patch(&mut resource, &patch) {
            Ok(()) => resource.to_string(),
            Err(issue) => {
                assert_eq!(resource, patient(), "failed patch changed the resource");
                format!("{}: {}", issue.code.as_str(), issue.diagnostics)
            }
        };
        assert_eq!(actual, expected, "patch {patch}");
    }

    #[test]
    fn applies() {
        check(
            json!([{"op": "add", "path": "/birthDate", "value": "1970-01-01"}]),
            r#"{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["Jane"]}],"birthDate":"1970-01-01"}"#,
        );
        check(
            json!([{"op": "add", "path": "/name/0/given/-", "value": "Ann"}]),
            r#"{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["Jane","Ann"]}]}"#,
        );
        check(
            json!([{"op": "remove", "path": "/active"}]),
            r#"{"resourceType":"Patient","id":"p1","name":[{"family":"Doe","given":["Jane"]}]}"#,
        );
        check(
            json!([{"op": "replace", "path": "/active", "value": false}]),
            r#"{"resourceType":"Patient","id":"p1","active":false,"name":[{"family":"Doe","given":["Jane"]}]}"#,
        );
        check(
            json!([
                {"op": "test", "path": "/name/0/family", "value": "Doe"},
                {"op": "replace", "path": "/name/0/family", "value": "Roe"}
            ]),
            r#"{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Roe","given":["Jane"]}]}"#,
        );
        check(
            json!([{"op": "move", "from": "/name/0/family", "path": "/name/0/text"}]),
            r#"{"resourceType":"Patient","id":"p1","active":true,"name":[{"given":["Jane"],"text":"Doe"}]}"#,
        );
        check(
            json!([{"op": "copy", "from": "/name/0", "path": "/name/-"}]),
            r#"{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["Jane"]},{"family":"Doe","given":["Jane"]}]}"#,
        );
        check(json!([]), &patient().to_string());
    }

    #[test]
    fn does_not_apply() {
        check(
            json!([{"op": "test", "path": "/active", "value": false}]),
            "processing: patch test failed: operation '/0' failed at path '/active': value did not match",
        );
        // The first operation succeeded; the failing second must roll it back.
        check(
            json!([
                {"op": "replace", "path": "/active", "value": false},
                {"op": "remove", "path": "/photo"}
            ]),
            "processing: cannot apply patch: operation '/1' failed at path '/photo': path is invalid",
        );
        check(
            json!([{"op": "replace", "path": "/name/3/family", "value": "X"}]),
            "processing: cannot apply patch: operation '/0' failed at path '/name/3/family': path is invalid",
        );
    }

    #[test]
    fn malformed() {
        check(
            json!({"op": "remove", "path": "/active"}),
            "invalid: malformed patch: a JSON Patch document must be an array of operations",
        );
        check(
            json!([{"op": "frobnicate", "path": "/active"}]),
            "invalid: malformed patch: unknown variant `frobnicate`, expected one of `add`, `remove`, `replace`, `move`, `copy`, `test`",
        );
        check(
            json!([{"op": "add", "path": "/active"}]),
            "invalid: malformed patch: missing field `value`",
        );
        check(
            json!([{"op": "remove", "path": "active"}]),
            "invalid: malformed patch: json pointer failed to parse; does not start with a slash ('/') and is not empty",
        );
    }
}
