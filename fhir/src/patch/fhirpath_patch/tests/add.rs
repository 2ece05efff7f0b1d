//! `add`, with and without an element model.

use super::super::super::ElementModel;
use serde_json::json;

use super::*;

#[test]
fn add() {
    // fhirpatch.html: add a primitive.
    check(
        params(vec![op(&[
            code("add"),
            path("Patient"),
            name("maritalStatus"),
            value(json!({"valueCodeableConcept": {"text": "married"}})),
        ])]),
        r#"{"maritalStatus":{"text":"married"}}"#,
    );
    // fhirpatch.html: add a complex value given as parts.
    check(
        params(vec![op(&[
            code("add"),
            path("Patient"),
            name("contact"),
            value(json!({"part": [
                {"name": "name", "valueHumanName": {"text": "a name"}},
                {"name": "telecom", "valueContactPoint": {"system": "phone", "value": "555"}},
                {"name": "telecom", "valueContactPoint": {"system": "email", "value": "a@b"}},
                {"name": "period", "part": [{"name": "start", "valueDateTime": "2020-01-01"}]}
            ]})),
        ])]),
        r#"{"contact":{"name":{"text":"a name"},"telecom":[{"system":"phone","value":"555"},{"system":"email","value":"a@b"}],"period":{"start":"2020-01-01"}}}"#,
    );
    // Appending to an existing list.
    check(
        params(vec![op(&[
            code("add"),
            path("Patient"),
            name("identifier"),
            value(json!({"valueIdentifier": {"value": "4"}})),
        ])]),
        r#"{"identifier":[{"system":"http://a","value":"1"},{"system":"http://b","value":"2"},{"system":"http://c","value":"3"},{"value":"4"}]}"#,
    );
    check(
        params(vec![op(&[
            code("add"),
            path("Patient.name.where(use = 'usual')"),
            name("given"),
            value(json!({"valueString": "Jimmy"})),
        ])]),
        r#"{"name":[{"use":"official","family":"Chalmers","given":["Peter","James"],"_given":[null,{"id":"g2"}]},{"use":"usual","given":["Jim","Jimmy"]}]}"#,
    );
    // Choice element named with [x].
    check(
        params(vec![op(&[
            code("add"),
            path("Patient"),
            name("multipleBirth[x]"),
            value(json!({"valueInteger": 2})),
        ])]),
        r#"{"multipleBirthInteger":2}"#,
    );
    check(
        params(vec![op(&[
            code("add"),
            path("Patient"),
            name("gender"),
            value(json!({"valueCode": "female"})),
        ])]),
        "processing: operation 1: cannot apply patch: 'gender' at 'Patient' already has a value; use replace",
    );
    check(
        params(vec![op(&[
            code("add"),
            path("Patient.name"),
            name("text"),
            value(json!({"valueString": "x"})),
        ])]),
        "processing: operation 1: path 'Patient.name' matches 2 elements, expected one",
    );
    check(
        params(vec![op(&[
            code("add"),
            path("Patient.contact"),
            name("gender"),
            value(json!({"valueCode": "male"})),
        ])]),
        "processing: operation 1: path 'Patient.contact' matches no element",
    );
    check(
        params(vec![op(&[
            code("add"),
            path("Patient.gender"),
            name("text"),
            value(json!({"valueString": "x"})),
        ])]),
        "processing: operation 1: cannot apply patch: 'Patient.gender' is a primitive, not an element with children",
    );
    check(
        params(vec![op(&[
            code("add"),
            path("Patient"),
            name("deceased[x]"),
            value(json!({"part": []})),
        ])]),
        "invalid: operation 1: malformed patch: choice element 'deceased[x]' needs a value[x], not parts",
    );
}

/// Knows that `Patient.contact` and `Patient.contact.telecom` repeat and `Patient.deceased`
/// is a choice.
struct PatientModel;

impl ElementModel for PatientModel {
    fn is_repeating(&self, element_path: &str) -> Option<bool> {
        Some(matches!(
            element_path,
            "Patient.contact" | "Patient.contact.telecom"
        ))
    }

    fn is_choice(&self, element_path: &str) -> Option<bool> {
        Some(element_path == "Patient.deceased")
    }
}

#[test]
fn add_with_model() {
    check_with(
        &PatientModel,
        params(vec![op(&[
            code("add"),
            path("Patient"),
            name("contact"),
            value(json!({"part": [{"name": "telecom", "valueContactPoint": {"value": "555"}}]})),
        ])]),
        r#"{"contact":[{"telecom":[{"value":"555"}]}]}"#,
    );
    check_with(
        &PatientModel,
        params(vec![
            op(&[code("delete"), path("Patient.deceased")]),
            op(&[
                code("add"),
                path("Patient"),
                name("deceased"),
                value(json!({"valueDateTime": "2020-01-01"})),
            ]),
        ]),
        r#"{"deceasedDateTime":"2020-01-01","deceasedBoolean":null}"#,
    );
}
