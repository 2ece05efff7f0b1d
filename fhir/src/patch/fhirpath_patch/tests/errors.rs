//! Malformed patches and what the issue carries.

use serde_json::json;

use super::*;

#[test]
fn malformed() {
    check(
        json!({"resourceType": "Patient"}),
        "invalid: malformed patch: a FHIRPath Patch must be a Parameters resource",
    );
    check(
        json!([]),
        "invalid: malformed patch: a FHIRPath Patch must be a Parameters resource",
    );
    check(
        json!({"resourceType": "Parameters", "parameter": {}}),
        "invalid: malformed patch: 'parameter' must be an array",
    );
    check(
        params(vec![json!({"name": "op", "part": []})]),
        "invalid: malformed patch: parameter 1: unexpected parameter 'op', expected 'operation'",
    );
    check(
        params(vec![op(&[path("Patient.active")])]),
        "invalid: malformed patch: parameter 1: operation has no 'type'",
    );
    check(
        params(vec![op(&[code("upsert"), path("Patient.active")])]),
        "invalid: malformed patch: parameter 1: unknown operation type 'upsert'",
    );
    check(
        params(vec![op(&[code("delete")])]),
        "invalid: malformed patch: parameter 1: delete operation needs 'path'",
    );
    check(
        params(vec![op(&[code("replace"), path("Patient.active")])]),
        "invalid: malformed patch: parameter 1: replace operation needs 'value'",
    );
    check(
        params(vec![op(&[
            code("add"),
            path("Patient"),
            value(json!({"valueBoolean": true})),
        ])]),
        "invalid: malformed patch: parameter 1: add operation needs 'name'",
    );
    check(
        params(vec![op(&[
            code("insert"),
            path("Patient.identifier"),
            value(json!({"valueIdentifier": {}})),
        ])]),
        "invalid: malformed patch: parameter 1: insert operation needs 'index'",
    );
    check(
        params(vec![op(&[
            code("move"),
            path("Patient.identifier"),
            int("source", 0),
        ])]),
        "invalid: malformed patch: parameter 1: move operation needs 'destination'",
    );
    check(
        params(vec![op(&[
            code("insert"),
            path("Patient.identifier"),
            int("index", -1),
            value(json!({"valueIdentifier": {}})),
        ])]),
        "invalid: malformed patch: parameter 1: part 'index' needs a non-negative valueInteger",
    );
    check(
        params(vec![op(&[
            code("delete"),
            path("Patient.active"),
            path("Patient.gender"),
        ])]),
        "invalid: malformed patch: parameter 1: part 'path' is repeated",
    );
    check(
        params(vec![op(&[
            code("delete"),
            path("Patient.active"),
            ("colour", json!({"valueString": "red"})),
        ])]),
        "invalid: malformed patch: parameter 1: unknown part 'colour'",
    );
    check(
        params(vec![op(&[
            code("replace"),
            path("Patient.active"),
            value(json!({})),
        ])]),
        "invalid: malformed patch: parameter 1: part 'value' has no value[x] and no parts",
    );
    check(
        params(vec![op(&[
            code("replace"),
            path("Patient.active"),
            value(json!({"valueBoolean": true, "valueString": "x"})),
        ])]),
        "invalid: malformed patch: parameter 1: part 'value' has more than one value[x]",
    );
    check(
        params(vec![op(&[
            code("add"),
            path("Patient"),
            name("a.b"),
            value(json!({"valueBoolean": true})),
        ])]),
        "invalid: operation 1: malformed patch: 'a.b' is not an element name",
    );
    // Bad FHIRPath syntax.
    check(
        params(vec![op(&[code("delete"), path("Patient..name")])]),
        "invalid: operation 1: bad FHIRPath 'Patient..name': at 8: expected a name after '.', found '.'",
    );
    check(
        params(vec![op(&[
            code("delete"),
            path("Patient.name.where(use = 'x'"),
        ])]),
        "invalid: operation 1: bad FHIRPath 'Patient.name.where(use = 'x'': at 28: expected ')', found end of expression",
    );
    check(
        params(vec![op(&[
            code("delete"),
            path("Patient.contained.resolve()"),
        ])]),
        "invalid: operation 1: bad FHIRPath 'Patient.contained.resolve()': at 18: unsupported function 'resolve'",
    );
    // An evaluation error is about this resource's data.
    check(
        params(vec![op(&[code("delete"), path("Patient.name.single()")])]),
        "processing: operation 1: bad FHIRPath 'Patient.name.single()': single() found 2 items",
    );
}

#[test]
fn issue_names_the_path() {
    let mut resource = patient();
    let parameters = params(vec![op(&[
        code("replace"),
        path("Patient.photo"),
        value(json!({"valueAttachment": {}})),
    ])]);
    let issue = apply_fhirpath_patch(&mut resource, &parameters).err();
    assert_eq!(
        issue.and_then(|i| i.expression),
        Some("Patient.photo".to_string())
    );
}
