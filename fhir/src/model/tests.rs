//! Tests of the model lookups against facts from the R4 definitions.

use super::*;

fn check_child(type_code: &str, json_name: &str, expected: Option<(&str, &str, Max)>) {
    let group = type_definition(type_code).map(|t| t.elements());
    let actual = group
        .and_then(|g| g.child(json_name))
        .map(|c| (c.element.path.as_str(), c.ty.code.as_str(), c.element.max));
    assert_eq!(actual, expected, "{type_code}.{json_name}");
}

#[test]
fn json_names_resolve_to_elements() {
    check_child(
        "Patient",
        "gender",
        Some(("Patient.gender", "code", Max::Limit(1))),
    );
    check_child(
        "Patient",
        "name",
        Some(("Patient.name", "HumanName", Max::Many)),
    );
    check_child("Patient", "id", Some(("Patient.id", "id", Max::Limit(1))));
    check_child(
        "Patient",
        "deceasedBoolean",
        Some(("Patient.deceased[x]", "boolean", Max::Limit(1))),
    );
    check_child(
        "Patient",
        "deceasedDateTime",
        Some(("Patient.deceased[x]", "dateTime", Max::Limit(1))),
    );
    check_child("Patient", "deceasedString", None);
    check_child("Patient", "deceased", None);
    check_child("Patient", "foo", None);
    check_child(
        "Observation",
        "valueQuantity",
        Some(("Observation.value[x]", "Quantity", Max::Limit(1))),
    );
    check_child(
        "Observation",
        "valueCodeableConcept",
        Some(("Observation.value[x]", "CodeableConcept", Max::Limit(1))),
    );
    check_child(
        "Extension",
        "url",
        Some(("Extension.url", "uri", Max::Limit(1))),
    );
    check_child(
        "Extension",
        "valueBase64Binary",
        Some(("Extension.value[x]", "base64Binary", Max::Limit(1))),
    );
    check_child(
        "Extension",
        "valueMeta",
        Some(("Extension.value[x]", "Meta", Max::Limit(1))),
    );
    check_child(
        "Element",
        "id",
        Some(("Element.id", "string", Max::Limit(1))),
    );
    check_child(
        "HumanName",
        "given",
        Some(("HumanName.given", "string", Max::Many)),
    );
    check_child(
        "Timing",
        "repeat",
        Some(("Timing.repeat", "Element", Max::Limit(1))),
    );
    check_child(
        "Bundle",
        "entry",
        Some(("Bundle.entry", "BackboneElement", Max::Many)),
    );
    check_child(
        "Dosage",
        "doseAndRate",
        Some(("Dosage.doseAndRate", "Element", Max::Many)),
    );
    check_child(
        "string",
        "value",
        Some(("string.value", "string", Max::Limit(1))),
    );
}

#[test]
fn paths_resolve_through_backbones_datatypes_and_content_references() {
    for (ty, path, expected) in [
        ("Patient", "contact.name", Some("Patient.contact.name")),
        ("Patient", "contact.name.given", Some("HumanName.given")),
        (
            "Questionnaire",
            "item.item",
            Some("Questionnaire.item.item"),
        ),
        (
            "Questionnaire",
            "item.item.item.linkId",
            Some("Questionnaire.item.linkId"),
        ),
        ("Observation", "value[x]", Some("Observation.value[x]")),
        (
            "Timing",
            "repeat.bounds[x]",
            Some("Timing.repeat.bounds[x]"),
        ),
        ("Bundle", "entry.resource", Some("Bundle.entry.resource")),
        ("Patient", "contact.foo", None),
    ] {
        assert_eq!(
            element(ty, path).map(|e| e.path.as_str()),
            expected,
            "{ty} {path}"
        );
    }
    let item = element("Questionnaire", "item.item")
        .map(|e| (e.content_reference.as_deref(), e.is_repeating()));
    assert_eq!(item, Some((Some("#Questionnaire.item"), true)));
}

#[test]
fn every_resource_type_has_a_definition() {
    for rt in ResourceType::all() {
        let def = resource_definition(rt);
        assert!(def.is_resource() && !def.is_abstract, "{rt}");
        assert!(def.elements().child("id").is_some(), "{rt}");
    }
    let resources = model()
        .types()
        .iter()
        .filter(|t| t.is_resource() && !t.is_abstract)
        .count();
    assert_eq!(resources, 146);
}

#[test]
fn required_elements_and_bindings() {
    let required: Vec<&str> = resource_definition("Observation".parse().unwrap())
        .elements()
        .required()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(required, ["status", "code"]);
    let gender = element("Patient", "gender")
        .and_then(|e| e.required_codes())
        .map(|v| v.codes().collect::<Vec<_>>());
    assert_eq!(gender, Some(vec!["female", "male", "other", "unknown"]));
    assert!(
        element("Money", "currency")
            .and_then(|e| e.required_codes())
            .is_some_and(|v| v.contains("EUR"))
    );
    assert!(
        element("Patient", "language")
            .and_then(|e| e.required_codes())
            .is_none()
    );
    assert!(
        model()
            .skipped_value_sets()
            .iter()
            .any(|(url, _)| url.ends_with("/mimetypes"))
    );
}

#[test]
fn primitive_types_know_their_format() {
    for code in [
        "boolean",
        "date",
        "dateTime",
        "instant",
        "uuid",
        "oid",
        "positiveInt",
        "xhtml",
    ] {
        let def = type_definition(code).unwrap();
        assert_eq!(def.primitive.map(|p| p.code()), Some(code));
        assert_eq!(def.kind, TypeKind::Primitive);
    }
    assert!(
        type_definition("date")
            .and_then(|d| d.regex.as_deref())
            .is_some_and(|r| r.contains("0[1-9]|1[0-2]"))
    );
}
