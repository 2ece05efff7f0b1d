//! `insert`, `delete`, `replace`, `move`, and several operations in one patch.

use serde_json::json;

use super::*;

#[test]
fn insert() {
    // fhirpatch.html: insert an identifier at the front.
    check(
        params(vec![op(&[
            code("insert"),
            path("Patient.identifier"),
            int("index", 0),
            value(json!({"valueIdentifier": {"system": "http://new", "value": "0"}})),
        ])]),
        r#"{"identifier":[{"system":"http://new","value":"0"},{"system":"http://a","value":"1"},{"system":"http://b","value":"2"},{"system":"http://c","value":"3"}]}"#,
    );
    check(
        params(vec![op(&[
            code("insert"),
            path("Patient.identifier"),
            int("index", 3),
            value(json!({"valueIdentifier": {"value": "4"}})),
        ])]),
        r#"{"identifier":[{"system":"http://a","value":"1"},{"system":"http://b","value":"2"},{"system":"http://c","value":"3"},{"value":"4"}]}"#,
    );
    // The `_given` sibling keeps its alignment.
    check(
        params(vec![op(&[
            code("insert"),
            path("Patient.name[0].given"),
            int("index", 1),
            value(json!({"valueString": "Paul"})),
        ])]),
        r#"{"name":[{"use":"official","family":"Chalmers","given":["Peter","Paul","James"],"_given":[null,null,{"id":"g2"}]},{"use":"usual","given":["Jim"]}]}"#,
    );
    check(
        params(vec![op(&[
            code("insert"),
            path("Patient.telecom"),
            int("index", 0),
            value(json!({"valueContactPoint": {"value": "555"}})),
        ])]),
        r#"{"telecom":[{"value":"555"}]}"#,
    );
    check(
        params(vec![op(&[
            code("insert"),
            path("Patient.identifier"),
            int("index", 4),
            value(json!({"valueIdentifier": {}})),
        ])]),
        "processing: operation 1: cannot apply patch: index 4 is past the end of 'Patient.identifier', which has 3 items",
    );
    check(
        params(vec![op(&[
            code("insert"),
            path("Patient.gender"),
            int("index", 0),
            value(json!({"valueCode": "x"})),
        ])]),
        "processing: operation 1: cannot apply patch: 'Patient.gender' is not a list",
    );
    check(
        params(vec![op(&[
            code("insert"),
            path("Patient.identifier.first()"),
            int("index", 0),
            value(json!({"valueIdentifier": {}})),
        ])]),
        "invalid: operation 1: malformed patch: path 'Patient.identifier.first()' must end in the name of a list element",
    );
    check(
        params(vec![op(&[
            code("insert"),
            path("Patient.name.given"),
            int("index", 0),
            value(json!({"valueString": "x"})),
        ])]),
        "processing: operation 1: path 'Patient.name.given' matches 2 elements, expected one",
    );
}

#[test]
fn delete() {
    // fhirpatch.html: delete a primitive, with its `_birthDate` sibling.
    check(
        params(vec![op(&[code("delete"), path("Patient.birthDate")])]),
        r#"{"birthDate":null,"_birthDate":null}"#,
    );
    check(
        params(vec![op(&[
            code("delete"),
            path("Patient.identifier.where(system = 'http://b')"),
        ])]),
        r#"{"identifier":[{"system":"http://a","value":"1"},{"system":"http://c","value":"3"}]}"#,
    );
    check(
        params(vec![op(&[
            code("delete"),
            path("Patient.name[0].given[1]"),
        ])]),
        r#"{"name":[{"use":"official","family":"Chalmers","given":["Peter"]},{"use":"usual","given":["Jim"]}]}"#,
    );
    // The last item of a list takes the list with it.
    check(
        params(vec![op(&[code("delete"), path("Patient.name[1].given")])]),
        r#"{"name":[{"use":"official","family":"Chalmers","given":["Peter","James"],"_given":[null,{"id":"g2"}]},{"use":"usual"}]}"#,
    );
    check(
        params(vec![op(&[code("delete"), path("Patient.deceased")])]),
        r#"{"deceasedBoolean":null}"#,
    );
    // Matching nothing is not an error.
    check(
        params(vec![op(&[code("delete"), path("Patient.photo")])]),
        "{}",
    );
    check(
        params(vec![op(&[
            code("delete"),
            path("Patient.identifier.where(system = 'nope')"),
        ])]),
        "{}",
    );
    check(
        params(vec![op(&[code("delete"), path("Patient.identifier")])]),
        "processing: operation 1: path 'Patient.identifier' matches 3 elements, expected one",
    );
    check(
        params(vec![op(&[code("delete"), path("Patient")])]),
        "processing: operation 1: cannot apply patch: cannot delete the resource itself",
    );
}

#[test]
fn replace() {
    // fhirpatch.html: replace a primitive; its `_birthDate` extension stays.
    check(
        params(vec![op(&[
            code("replace"),
            path("Patient.birthDate"),
            value(json!({"valueDate": "1930-01-01"})),
        ])]),
        r#"{"birthDate":"1930-01-01"}"#,
    );
    check(
        params(vec![op(&[
            code("replace"),
            path("Patient.identifier[1].value"),
            value(json!({"valueString": "two"})),
        ])]),
        r#"{"identifier":[{"system":"http://a","value":"1"},{"system":"http://b","value":"two"},{"system":"http://c","value":"3"}]}"#,
    );
    check(
        params(vec![op(&[
            code("replace"),
            path("Patient.name.where(use = 'usual')"),
            value(json!({"valueHumanName": {"text": "Jim"}})),
        ])]),
        r#"{"name":[{"use":"official","family":"Chalmers","given":["Peter","James"],"_given":[null,{"id":"g2"}]},{"text":"Jim"}]}"#,
    );
    // A choice element by its base name is renamed to the new type, in place.
    check(
        params(vec![op(&[
            code("replace"),
            path("Patient.deceased"),
            value(json!({"valueDateTime": "2020-02-02"})),
        ])]),
        r#"{"deceasedDateTime":"2020-02-02","deceasedBoolean":null}"#,
    );
    check(
        params(vec![op(&[
            code("replace"),
            path("Patient.deceased"),
            value(json!({"valueBoolean": true})),
        ])]),
        r#"{"deceasedBoolean":true}"#,
    );
    check(
        params(vec![op(&[
            code("replace"),
            path("Patient.name.given"),
            value(json!({"valueString": "x"})),
        ])]),
        "processing: operation 1: path 'Patient.name.given' matches 3 elements, expected one",
    );
    check(
        params(vec![op(&[
            code("replace"),
            path("Patient.photo"),
            value(json!({"valueAttachment": {}})),
        ])]),
        "processing: operation 1: path 'Patient.photo' matches no element",
    );
    check(
        params(vec![op(&[
            code("replace"),
            path("Patient.name.exists()"),
            value(json!({"valueBoolean": true})),
        ])]),
        "invalid: operation 1: malformed patch: path 'Patient.name.exists()' selects a computed value, not an element",
    );
}

#[test]
fn replace_keeps_member_order() {
    let mut resource = patient();
    let parameters = params(vec![op(&[
        code("replace"),
        path("Patient.deceased"),
        value(json!({"valueDateTime": "2020-02-02"})),
    ])]);
    let outcome = apply_fhirpath_patch(&mut resource, &parameters);
    assert!(outcome.is_ok(), "{outcome:?}");
    let keys: Vec<&str> = resource
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(keys.last(), Some(&"deceasedDateTime"));
    assert_eq!(keys.get(keys.len().saturating_sub(2)), Some(&"_birthDate"));
}

#[test]
fn move_() {
    // fhirpatch.html: move within a list.
    check(
        params(vec![op(&[
            code("move"),
            path("Patient.identifier"),
            int("source", 0),
            int("destination", 2),
        ])]),
        r#"{"identifier":[{"system":"http://b","value":"2"},{"system":"http://c","value":"3"},{"system":"http://a","value":"1"}]}"#,
    );
    check(
        params(vec![op(&[
            code("move"),
            path("Patient.identifier"),
            int("source", 2),
            int("destination", 0),
        ])]),
        r#"{"identifier":[{"system":"http://c","value":"3"},{"system":"http://a","value":"1"},{"system":"http://b","value":"2"}]}"#,
    );
    check(
        params(vec![op(&[
            code("move"),
            path("Patient.name[0].given"),
            int("source", 1),
            int("destination", 0),
        ])]),
        r#"{"name":[{"use":"official","family":"Chalmers","given":["James","Peter"],"_given":[{"id":"g2"},null]},{"use":"usual","given":["Jim"]}]}"#,
    );
    check(
        params(vec![op(&[
            code("move"),
            path("Patient.identifier"),
            int("source", 3),
            int("destination", 0),
        ])]),
        "processing: operation 1: cannot apply patch: move from 3 to 0 is outside 'Patient.identifier', which has 3 items",
    );
    check(
        params(vec![op(&[
            code("move"),
            path("Patient.telecom"),
            int("source", 0),
            int("destination", 0),
        ])]),
        "processing: operation 1: path 'Patient.telecom' matches no element",
    );
}

#[test]
fn several_operations_apply_in_order_or_not_at_all() {
    check(
        params(vec![
            op(&[code("delete"), path("Patient.identifier[0]")]),
            op(&[
                code("replace"),
                path("Patient.identifier[0].value"),
                value(json!({"valueString": "b"})),
            ]),
            op(&[
                code("replace"),
                path("Patient.active"),
                value(json!({"valueBoolean": false})),
            ]),
        ]),
        r#"{"identifier":[{"system":"http://b","value":"b"},{"system":"http://c","value":"3"}],"active":false}"#,
    );
    check(
        params(vec![
            op(&[code("delete"), path("Patient.identifier[0]")]),
            op(&[
                code("replace"),
                path("Patient.photo"),
                value(json!({"valueAttachment": {}})),
            ]),
        ]),
        "processing: operation 2: path 'Patient.photo' matches no element",
    );
    check(params(vec![]), "{}");
    check(json!({"resourceType": "Parameters"}), "{}");
}
