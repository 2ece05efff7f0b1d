//! Validation tests: resource types, unknown elements, JSON shapes and cardinality, choice types.

use serde_json::json;

use super::check;
use crate::outcome::IssueCode::{Invalid, Required, Structure};

#[test]
fn good_resources_pass() {
    for input in [
        json!({"resourceType": "Patient"}),
        json!({"resourceType": "Patient", "id": "p1", "meta": {"versionId": "1", "lastUpdated": "2023-01-01T00:00:00Z"},
               "active": true, "gender": "female", "birthDate": "1970-02-28",
               "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"]}],
               "deceasedBoolean": false, "multipleBirthInteger": 2,
               "telecom": [{"system": "phone", "value": "(03) 5555 6473", "rank": 1}],
               "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
               "contact": [{"relationship": [{"coding": [{"system": "http://x", "code": "N"}]}], "gender": "male"}],
               "extension": [{"url": "http://x/ext", "valueQuantity": {"value": 1.5, "unit": "kg"}}]}),
        // primitive extensions, single and aligned arrays
        json!({"resourceType": "Patient", "birthDate": "1970", "_birthDate": {"extension": [{"url": "http://x", "valueDateTime": "1970-03-30T10:00:00+01:00"}]}}),
        json!({"resourceType": "Patient", "name": [{"given": ["A", null], "_given": [null, {"id": "g2"}]}]}),
        json!({"resourceType": "Patient", "name": [{"_given": [{"id": "g1"}]}]}),
        json!({"resourceType": "Patient", "_gender": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}}),
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueQuantity": {"value": 1e3, "code": "mg"},
               "effectivePeriod": {"start": "2023-01-01"}, "component": [{"code": {"text": "y"}, "valueString": "z"}]}),
        // required element present only as a primitive extension
        json!({"resourceType": "Observation", "_status": {"extension": [{"url": "http://x", "valueString": "n/a"}]}, "code": {"text": "x"}}),
        json!({"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1", "type": "group",
               "item": [{"linkId": "1.1", "type": "string", "item": [{"linkId": "1.1.1", "type": "boolean"}]}]}]}),
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "urn:uuid:c757873d-ec9a-4326-a141-556f43239520",
               "resource": {"resourceType": "Patient", "id": "a"}}]}),
        json!({"resourceType": "Parameters", "parameter": [{"name": "r", "resource": {"resourceType": "Basic", "code": {"text": "x"}}},
               {"name": "v", "valueTiming": {"repeat": {"boundsDuration": {"value": 1}, "frequency": 2, "period": 1, "periodUnit": "d", "timeOfDay": ["10:00:00"]}}}]}),
        json!({"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "o1", "name": "x"}],
               "managingOrganization": {"reference": "#o1"}}),
        json!({"resourceType": "MedicationRequest", "status": "active", "intent": "order", "subject": {"reference": "Patient/1"},
               "medicationCodeableConcept": {"text": "x"}, "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 1}}],
               "timing": {"code": {"text": "BID"}}}]}),
        json!({"resourceType": "Binary", "contentType": "text/plain", "data": "aGVsbG8="}),
        json!({"resourceType": "Invoice", "status": "draft", "totalNet": {"value": 1, "currency": "EUR"}}),
        json!({"resourceType": "StructureDefinition", "url": "http://x", "name": "X", "status": "draft", "kind": "resource",
               "abstract": false, "type": "Patient", "differential": {"element": [{"path": "Patient", "min": 0, "max": "*",
               "type": [{"code": "Patient"}], "fixedString": "x"}]}}),
        json!({"resourceType": "Patient", "id": "a", "identifier": [{"value": "decimal", "period": {"end": "2023-01-01T10:11:12.123Z"}}]}),
    ] {
        check(input, &[]);
    }
}

#[test]
fn resource_type_must_name_a_resource() {
    check(json!([1]), &[(Structure, "resourceType")]);
    check(json!("Patient"), &[(Structure, "resourceType")]);
    check(json!({"id": "x"}), &[(Structure, "resourceType")]);
    check(json!({"resourceType": 5}), &[(Structure, "resourceType")]);
    check(
        json!({"resourceType": "Patients"}),
        &[(Invalid, "resourceType")],
    );
    check(
        json!({"resourceType": "DomainResource"}),
        &[(Invalid, "resourceType")],
    );
    check(
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Nope"}}]}),
        &[(Invalid, "Bundle.entry[0].resource.resourceType")],
    );
    check(
        json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"id": "x"}}]}),
        &[(Structure, "Bundle.entry[0].resource.resourceType")],
    );
}

#[test]
fn unknown_elements_are_rejected() {
    for (input, expected) in [
        (json!({"resourceType": "Patient", "foo": 1}), "Patient.foo"),
        (
            json!({"resourceType": "Patient", "name": [{"family": "x", "foo": 1}]}),
            "Patient.name[0].foo",
        ),
        (
            json!({"resourceType": "Patient", "name": [{"family": "x"}, {"resourceType": "HumanName"}]}),
            "Patient.name[1].resourceType",
        ),
        (
            json!({"resourceType": "Patient", "fhir_comments": ["x"]}),
            "Patient.fhir_comments",
        ),
        (
            json!({"resourceType": "Patient", "deceased": true}),
            "Patient.deceased",
        ),
        (
            json!({"resourceType": "Patient", "deceasedString": "x"}),
            "Patient.deceasedString",
        ),
        (
            json!({"resourceType": "Patient", "Gender": "male"}),
            "Patient.Gender",
        ),
        (
            json!({"resourceType": "Patient", "_foo": {"id": "x"}}),
            "Patient._foo",
        ),
        (
            json!({"resourceType": "Patient", "_birthDate": {"foo": 1}}),
            "Patient._birthDate.foo",
        ),
        (
            json!({"resourceType": "Patient", "contact": [{"bar": 1}]}),
            "Patient.contact[0].bar",
        ),
        (
            json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueFoo": 1}),
            "Observation.valueFoo",
        ),
        (
            json!({"resourceType": "Patient", "contained": [{"resourceType": "Basic", "id": "b", "code": {"text": "x"}, "name": "n"}],
                "generalPractitioner": [{"reference": "#b"}]}),
            "Patient.contained[0].name",
        ),
        (
            json!({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Basic", "code": {"text": "x"}, "name": "n"}}]}),
            "Bundle.entry[0].resource.name",
        ),
    ] {
        check(input, &[(Structure, expected)]);
    }
}

#[test]
fn json_shapes_and_cardinality() {
    for (input, expected) in [
        (
            json!({"resourceType": "Patient", "name": {"family": "x"}}),
            (Structure, "Patient.name"),
        ),
        (
            json!({"resourceType": "Patient", "gender": ["male"]}),
            (Structure, "Patient.gender"),
        ),
        (
            json!({"resourceType": "Patient", "name": [{"given": "A"}]}),
            (Structure, "Patient.name[0].given"),
        ),
        (
            json!({"resourceType": "Patient", "name": []}),
            (Structure, "Patient.name"),
        ),
        (
            json!({"resourceType": "Patient", "name": [{}]}),
            (Structure, "Patient.name[0]"),
        ),
        (
            json!({"resourceType": "Patient", "maritalStatus": {}}),
            (Structure, "Patient.maritalStatus"),
        ),
        (
            json!({"resourceType": "Patient", "gender": null}),
            (Structure, "Patient.gender"),
        ),
        (
            json!({"resourceType": "Patient", "name": [null]}),
            (Structure, "Patient.name[0]"),
        ),
        (
            json!({"resourceType": "Patient", "name": [{"given": ["A", null]}]}),
            (Structure, "Patient.name[0].given[1]"),
        ),
        (
            json!({"resourceType": "Patient", "name": [{"given": ["A", null], "_given": [null, null]}]}),
            (Structure, "Patient.name[0]._given[1]"),
        ),
        (
            json!({"resourceType": "Patient", "name": [{"given": ["A"], "_given": [null, {"id": "x"}]}]}),
            (Structure, "Patient.name[0]._given"),
        ),
        (
            json!({"resourceType": "Patient", "name": [{"_given": {"id": "x"}}]}),
            (Structure, "Patient.name[0]._given"),
        ),
        (
            json!({"resourceType": "Patient", "_birthDate": [{"id": "x"}]}),
            (Structure, "Patient._birthDate"),
        ),
        (
            json!({"resourceType": "Patient", "_birthDate": "x"}),
            (Structure, "Patient._birthDate"),
        ),
        (
            json!({"resourceType": "Patient", "_name": [{"id": "x"}]}),
            (Structure, "Patient._name"),
        ),
        (
            json!({"resourceType": "Patient", "maritalStatus": "M"}),
            (Structure, "Patient.maritalStatus"),
        ),
        (
            json!({"resourceType": "Patient", "gender": {"value": "male"}}),
            (Structure, "Patient.gender"),
        ),
        (
            json!({"resourceType": "Patient", "contained": ["x"]}),
            (Structure, "Patient.contained[0]"),
        ),
        (
            json!({"resourceType": "Observation", "code": {"text": "x"}}),
            (Required, "Observation.status"),
        ),
        (
            json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "component": [{"valueString": "x"}]}),
            (Required, "Observation.component[0].code"),
        ),
        (
            json!({"resourceType": "Patient", "extension": [{"valueString": "x"}]}),
            (Required, "Patient.extension[0].url"),
        ),
        (
            json!({"resourceType": "Patient", "link": [{"type": "seealso"}]}),
            (Required, "Patient.link[0].other"),
        ),
    ] {
        check(input, &[expected]);
    }
}

#[test]
fn choice_types_take_one_allowed_branch() {
    check(
        json!({"resourceType": "Patient", "deceasedBoolean": true, "deceasedDateTime": "2020"}),
        &[(Structure, "Patient.deceasedDateTime")],
    );
    check(
        json!({"resourceType": "Patient", "deceasedBoolean": true, "_deceasedBoolean": {"id": "a"}}),
        &[],
    );
    check(
        json!({"resourceType": "Patient", "_deceasedBoolean": {"id": "a"}, "deceasedDateTime": "2020"}),
        &[(Structure, "Patient.deceasedDateTime")],
    );
    check(
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueQuantity": {"value": 1}, "valueString": "x", "valueBoolean": true}),
        &[
            (Structure, "Observation.valueString"),
            (Structure, "Observation.valueBoolean"),
        ],
    );
    check(
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueQuantity": "5 mg"}),
        &[(Structure, "Observation.valueQuantity")],
    );
    check(
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueReference": {"reference": "Patient/1"}}),
        &[(Structure, "Observation.valueReference")],
    );
}
