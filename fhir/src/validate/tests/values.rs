//! Validation tests: primitive formats, required code bindings, nested resources and invariants.

use serde_json::{Value, json};

use super::check;
use crate::outcome::IssueCode::{
    CodeInvalid, Invalid, Invariant, Required, Structure, Value as BadValue,
};
use crate::validate::*;

#[test]
fn primitive_formats() {
    for (input, expected) in [
        (
            json!({"resourceType": "Patient", "active": "true"}),
            "Patient.active",
        ),
        (
            json!({"resourceType": "Patient", "birthDate": "2023-02-30"}),
            "Patient.birthDate",
        ),
        (
            json!({"resourceType": "Patient", "birthDate": "23-02-01"}),
            "Patient.birthDate",
        ),
        (
            json!({"resourceType": "Patient", "birthDate": ""}),
            "Patient.birthDate",
        ),
        (
            json!({"resourceType": "Patient", "deceasedDateTime": "2023-01-01T10:00:00"}),
            "Patient.deceasedDateTime",
        ),
        (
            json!({"resourceType": "Patient", "multipleBirthInteger": 1.5}),
            "Patient.multipleBirthInteger",
        ),
        (
            json!({"resourceType": "Patient", "multipleBirthInteger": 3000000000u64}),
            "Patient.multipleBirthInteger",
        ),
        (
            json!({"resourceType": "Patient", "id": "a b"}),
            "Patient.id",
        ),
        (
            json!({"resourceType": "Patient", "id": "a_b"}),
            "Patient.id",
        ),
        (
            json!({"resourceType": "Patient", "name": [{"given": ["A", ""]}]}),
            "Patient.name[0].given[1]",
        ),
        (
            json!({"resourceType": "Patient", "name": [{"family": 5}]}),
            "Patient.name[0].family",
        ),
        (
            json!({"resourceType": "Patient", "telecom": [{"rank": 0}]}),
            "Patient.telecom[0].rank",
        ),
        (
            json!({"resourceType": "Patient", "implicitRules": "http://a b"}),
            "Patient.implicitRules",
        ),
        (
            json!({"resourceType": "Patient", "language": "en  US"}),
            "Patient.language",
        ),
        (
            json!({"resourceType": "Patient", "meta": {"lastUpdated": "2023-01-01"}}),
            "Patient.meta.lastUpdated",
        ),
        (
            json!({"resourceType": "Patient", "meta": {"versionId": "1 2"}}),
            "Patient.meta.versionId",
        ),
        (
            json!({"resourceType": "Patient", "extension": [{"url": "http://x", "valueDecimal": "1.0"}]}),
            "Patient.extension[0].valueDecimal",
        ),
        (
            json!({"resourceType": "Patient", "extension": [{"url": "http://x", "valueOid": "1.2.3"}]}),
            "Patient.extension[0].valueOid",
        ),
        (
            json!({"resourceType": "Patient", "extension": [{"url": "http://x", "valueUuid": "urn:uuid:ABC"}]}),
            "Patient.extension[0].valueUuid",
        ),
        (
            json!({"resourceType": "Patient", "extension": [{"url": "http://x", "valueTime": "25:00:00"}]}),
            "Patient.extension[0].valueTime",
        ),
        (
            json!({"resourceType": "Patient", "extension": [{"url": "http://x", "valueInstant": "2023-01-01T10:00:00"}]}),
            "Patient.extension[0].valueInstant",
        ),
        (
            json!({"resourceType": "Patient", "extension": [{"url": "http://x", "valueUnsignedInt": -1}]}),
            "Patient.extension[0].valueUnsignedInt",
        ),
        (
            json!({"resourceType": "Patient", "extension": [{"url": "http://x", "valueBase64Binary": "abc"}]}),
            "Patient.extension[0].valueBase64Binary",
        ),
        (
            json!({"resourceType": "Patient", "extension": [{"url": "a b"}]}),
            "Patient.extension[0].url",
        ),
        (
            json!({"resourceType": "Patient", "text": {"status": "generated", "div": "plain text"}}),
            "Patient.text.div",
        ),
        (
            json!({"resourceType": "Binary", "contentType": "text/plain", "data": "a=bc"}),
            "Binary.data",
        ),
    ] {
        check(input, &[(BadValue, expected)]);
    }
}

#[test]
fn required_bindings_on_codes() {
    for (input, expected) in [
        (
            json!({"resourceType": "Patient", "gender": "f"}),
            "Patient.gender",
        ),
        (
            json!({"resourceType": "Patient", "gender": "Male"}),
            "Patient.gender",
        ),
        (
            json!({"resourceType": "Observation", "status": "done", "code": {"text": "x"}}),
            "Observation.status",
        ),
        (
            json!({"resourceType": "Patient", "name": [{"use": "nick"}]}),
            "Patient.name[0].use",
        ),
        (
            json!({"resourceType": "Patient", "telecom": [{"system": "pager", "use": "office"}]}),
            "Patient.telecom[0].use",
        ),
        (
            json!({"resourceType": "Invoice", "status": "draft", "totalNet": {"currency": "XXY"}}),
            "Invoice.totalNet.currency",
        ),
        (
            json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Patient", "gender": "x"}}]}),
            "Bundle.entry[0].resource.gender",
        ),
        (
            json!({"resourceType": "Patient", "contact": [{"gender": "x"}]}),
            "Patient.contact[0].gender",
        ),
    ] {
        check(input, &[(CodeInvalid, expected)]);
    }
    // Codes outside required bindings are free; extensible/preferred bindings are not checked.
    check(json!({"resourceType": "Patient", "language": "tlh"}), &[]);
    check(
        json!({"resourceType": "Binary", "contentType": "application/x-anything"}),
        &[],
    );
}

#[test]
fn nested_and_contained_resources() {
    let referenced = |contained: Value| json!({"resourceType": "Patient", "contained": [contained], "managingOrganization": {"reference": "#c"}});
    check(
        referenced(
            json!({"resourceType": "Patient", "id": "c", "contained": [{"resourceType": "Basic", "id": "b", "code": {"text": "x"}}],
                          "generalPractitioner": [{"reference": "#b"}]}),
        ),
        &[(Invariant, "Patient.contained[0].contained")],
    );
    check(
        referenced(json!({"resourceType": "Patient", "id": "c", "meta": {"versionId": "1"}})),
        &[(Invariant, "Patient.contained[0].meta")],
    );
    check(
        referenced(
            json!({"resourceType": "Patient", "id": "c", "meta": {"security": [{"code": "R"}]}}),
        ),
        &[(Invariant, "Patient.contained[0].meta")],
    );
    check(
        referenced(json!({"resourceType": "Observation", "id": "c"})),
        &[
            (Required, "Patient.contained[0].status"),
            (Required, "Patient.contained[0].code"),
        ],
    );
    // dom-3: a contained resource is referenced by `#id`, or refers to its container with `#`.
    check(
        json!({"resourceType": "Patient", "contained": [{"resourceType": "Patient", "id": "c"}]}),
        &[(Invariant, "Patient.contained[0]")],
    );
    check(
        json!({"resourceType": "Patient", "contained": [{"resourceType": "Patient"}]}),
        &[(Invariant, "Patient.contained[0]")],
    );
    check(
        json!({"resourceType": "Patient", "contained": [{"resourceType": "Patient", "link": [{"other": {"reference": "#"}, "type": "seealso"}]}]}),
        &[],
    );
    check(
        json!({"resourceType": "ValueSet", "status": "draft", "contained": [{"resourceType": "CodeSystem", "id": "cs", "status": "draft", "content": "complete"}],
                 "compose": {"include": [{"system": "#cs"}]}}),
        &[],
    );
    check(
        json!({"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "GET", "url": "Patient"}},
               {"resource": {"resourceType": "Parameters", "parameter": [{"name": "x", "resource": {"resourceType": "Patient", "birthDate": "x"}}]}}]}),
        &[(
            BadValue,
            "Bundle.entry[1].resource.parameter[0].resource.birthDate",
        )],
    );
    check(
        json!({"resourceType": "Bundle", "type": "batch", "entry": [{"resource": "Patient/1"}]}),
        &[(Structure, "Bundle.entry[0].resource")],
    );
}

#[test]
fn extensions_have_a_value_or_extensions() {
    check(
        json!({"resourceType": "Patient", "extension": [{"url": "http://x", "valueString": "a", "extension": [{"url": "y", "valueString": "b"}]}]}),
        &[(Invariant, "Patient.extension[0]")],
    );
    check(
        json!({"resourceType": "Patient", "extension": [{"url": "http://x", "extension": [{"url": "y", "valueString": "b"}]}]}),
        &[],
    );
}

#[test]
fn reports_every_issue_up_to_the_cap() {
    check(
        json!({"resourceType": "Observation", "foo": 1, "status": "x", "code": {"coding": [{"system": "a b"}]}}),
        &[
            (Structure, "Observation.foo"),
            (CodeInvalid, "Observation.status"),
            (BadValue, "Observation.code.coding[0].system"),
        ],
    );
    let many: Vec<Value> = (0..500).map(|_| json!({"foo": 1})).collect();
    let issues = validate_resource(&json!({"resourceType": "Patient", "name": many})).unwrap_err();
    assert_eq!(issues.len(), MAX_ISSUES);
}

#[test]
fn resource_type_can_be_pinned_and_datatypes_checked_alone() {
    let patient = json!({"resourceType": "Patient"});
    assert!(validate_resource_as(&patient, "Patient".parse().unwrap()).is_ok());
    let err = validate_resource_as(&patient, "Observation".parse().unwrap()).unwrap_err();
    assert_eq!(
        (err[0].code, err[0].expression.as_deref()),
        (Invalid, Some("resourceType"))
    );
    assert!(validate_datatype(&json!({"family": "x"}), "HumanName").is_ok());
    let err = validate_datatype(&json!({"value": "x"}), "Quantity").unwrap_err();
    assert_eq!(err[0].expression.as_deref(), Some("Quantity.value"));
    assert!(validate_datatype(&json!({}), "string").is_err());
}
