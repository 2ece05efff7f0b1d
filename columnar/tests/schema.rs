//! The schema rules, checked on the shapes they give well-known elements.

mod common;

use std::sync::Arc;

use common::{render, type_at};
use hearth_columnar::{DecimalAs, Options, RESOURCE_JSON, schema};

/// The rendered type at `path` in the schema of `rt` (`None`: no such column).
fn check(options: &Options, rt: &str, path: &str, expected: Option<&str>) {
    let schema = schema(rt.parse().expect("resource type"), options).expect("schema");
    let actual = type_at(schema.fields(), path).map(|t| render(&t));
    assert_eq!(actual.as_deref(), expected, "{rt}.{path}");
}

const CODING: &str =
    "Struct<system: Utf8, version: Utf8, code: Utf8, display: Utf8, userSelected: Boolean>";

#[test]
fn patient_has_the_expected_nested_shape() {
    let o = Options::default();
    check(&o, "Patient", "id", Some("Utf8"));
    check(&o, "Patient", "birthDate", Some("Utf8"));
    check(&o, "Patient", "active", Some("Boolean"));
    check(&o, "Patient", "gender", Some("Utf8"));
    check(
        &o,
        "Patient",
        "name",
        Some(
            "List<Struct<use: Utf8, text: Utf8, family: Utf8, given: List<Utf8>, \
             prefix: List<Utf8>, suffix: List<Utf8>, period: Struct<start: Utf8, end: Utf8>>>",
        ),
    );
    check(&o, "Patient", "name.given", Some("List<Utf8>"));
    check(&o, "Patient", "deceasedBoolean", Some("Boolean"));
    check(&o, "Patient", "deceasedDateTime", Some("Utf8"));
    check(&o, "Patient", "deceased", None);
    check(&o, "Patient", "multipleBirthInteger", Some("Int32"));
    check(
        &o,
        "Patient",
        "maritalStatus.coding",
        Some(&format!("List<{CODING}>")),
    );
    check(&o, "Patient", "contact.name.family", Some("Utf8"));
    check(&o, "Patient", "contact.telecom.system", Some("Utf8"));
    check(&o, "Patient", "photo.data", Some("Utf8"));
    check(&o, "Patient", "text.div", Some("Utf8"));
    check(&o, "Patient", "meta.profile", Some("List<Utf8>"));
    check(&o, "Patient", "meta.lastUpdated", Some("Utf8"));
    // Primitive extensions (`_birthDate`) and element ids have no column.
    check(&o, "Patient", "_birthDate", None);
    check(&o, "Patient", "name.id", None);
    check(&o, "Patient", "contact.id", None);
    check(&o, "Patient", "resourceType", None);
}

#[test]
fn choice_elements_get_one_field_per_type() {
    let o = Options::default();
    check(
        &o,
        "Observation",
        "valueQuantity",
        Some("Struct<value: Utf8, comparator: Utf8, unit: Utf8, system: Utf8, code: Utf8>"),
    );
    check(&o, "Observation", "valueString", Some("Utf8"));
    check(&o, "Observation", "valueBoolean", Some("Boolean"));
    check(&o, "Observation", "valueInteger", Some("Int32"));
    check(&o, "Observation", "valueCodeableConcept.text", Some("Utf8"));
    check(&o, "Observation", "valuePeriod.start", Some("Utf8"));
    check(&o, "Observation", "effectiveDateTime", Some("Utf8"));
    check(&o, "Observation", "effectiveInstant", Some("Utf8"));
    check(
        &o,
        "Observation",
        "component.valueQuantity.value",
        Some("Utf8"),
    );
    check(
        &o,
        "Observation",
        "component.code.coding.code",
        Some("Utf8"),
    );
    check(&o, "Observation", "value", None);
    check(
        &o,
        "MedicationRequest",
        "medicationCodeableConcept.text",
        Some("Utf8"),
    );
    check(
        &o,
        "MedicationRequest",
        "medicationReference.reference",
        Some("Utf8"),
    );
}

#[test]
fn decimals_are_text_or_float() {
    check(
        &Options::default(),
        "Observation",
        "valueQuantity.value",
        Some("Utf8"),
    );
    let floats = Options {
        decimal: DecimalAs::Float64,
        ..Options::default()
    };
    check(
        &floats,
        "Observation",
        "valueQuantity.value",
        Some("Float64"),
    );
    check(&floats, "Observation", "valueDecimal", None); // not a type of Observation.value[x]
    check(
        &floats,
        "RiskAssessment",
        "prediction.probabilityDecimal",
        Some("Float64"),
    );
}

#[test]
fn nested_resources_are_json_text() {
    let o = Options::default();
    check(&o, "Patient", "contained", Some("List<Utf8>"));
    check(&o, "Bundle", "entry.resource", Some("Utf8"));
    check(&o, "Parameters", "parameter.resource", Some("Utf8"));
}

#[test]
fn resource_json_is_the_last_column_unless_turned_off() -> anyhow::Result<()> {
    let rt = "Patient".parse()?;
    let kept = schema(rt, &Options::default())?;
    let last = kept
        .fields()
        .last()
        .map(|f| (f.name().as_str(), f.data_type().to_string()));
    assert_eq!(last, Some((RESOURCE_JSON, "Utf8".to_owned())));
    let without = schema(
        rt,
        &Options {
            keep_json: false,
            ..Options::default()
        },
    )?;
    assert!(without.field_with_name(RESOURCE_JSON).is_err());
    assert_eq!(without.fields().len() + 1, kept.fields().len());
    assert_eq!(
        kept.metadata().get("fhir.resourceType").map(String::as_str),
        Some("Patient")
    );
    Ok(())
}

#[test]
fn extensions_are_typed_at_the_root_to_the_configured_depth() {
    let o = Options::default();
    check(&o, "Patient", "extension.url", Some("Utf8"));
    check(&o, "Patient", "extension.valueCode", Some("Utf8"));
    check(&o, "Patient", "extension.valueDecimal", Some("Utf8"));
    check(&o, "Patient", "extension.valueCoding", Some(CODING));
    check(&o, "Patient", "extension.valueAddress.city", Some("Utf8"));
    check(
        &o,
        "Patient",
        "modifierExtension.valueBoolean",
        Some("Boolean"),
    );
    // Not in the default value types.
    check(&o, "Patient", "extension.valueAttachment", None);
    // Level 2 (US Core race), not level 3.
    check(
        &o,
        "Patient",
        "extension.extension.valueCoding.code",
        Some("Utf8"),
    );
    check(&o, "Patient", "extension.extension.extension", None);
    // Extensions of datatypes, backbone elements and extension values have no column.
    check(&o, "Patient", "address.extension", None);
    check(&o, "Patient", "contact.modifierExtension", None);
    check(&o, "Patient", "extension.valueCoding.extension", None);

    let deeper = Options {
        extension_depth: 3,
        open_types: vec!["string".into(), "Attachment".into()],
        ..Options::default()
    };
    check(
        &deeper,
        "Patient",
        "extension.extension.extension.valueString",
        Some("Utf8"),
    );
    check(
        &deeper,
        "Patient",
        "extension.valueAttachment.url",
        Some("Utf8"),
    );
    check(&deeper, "Patient", "extension.valueCode", None);
    let none = Options {
        extension_depth: 0,
        ..Options::default()
    };
    check(&none, "Patient", "extension", None);
    check(&none, "Patient", "modifierExtension", None);
}

#[test]
fn open_choice_elements_get_fields_for_the_open_types_only() {
    let o = Options::default();
    for (rt, path) in [
        ("Parameters", "parameter.value"),
        ("Task", "input.value"),
        ("StructureDefinition", "snapshot.element.fixed"),
        ("StructureDefinition", "differential.element.pattern"),
    ] {
        check(&o, rt, &format!("{path}String"), Some("Utf8"));
        check(&o, rt, &format!("{path}Coding"), Some(CODING));
        check(&o, rt, &format!("{path}Reference.reference"), Some("Utf8"));
        check(&o, rt, &format!("{path}Timing"), None);
        check(&o, rt, &format!("{path}Dosage"), None);
    }
    // A closed choice keeps all its types.
    check(&o, "Observation", "valueSampledData.data", Some("Utf8"));
    let wider = Options {
        open_types: vec!["Timing".into()],
        ..Options::default()
    };
    check(
        &wider,
        "Parameters",
        "parameter.valueTiming.repeat.count",
        Some("Int32"),
    );
    check(&wider, "Parameters", "parameter.valueString", None);
}

#[test]
fn unknown_open_types_are_rejected() {
    let bad = Options {
        open_types: vec!["Patient".into()],
        ..Options::default()
    };
    let err = schema("Patient".parse().expect("type"), &bad).map(|_| ());
    assert!(
        matches!(&err, Err(e) if e.to_string().contains("open type 'Patient' is not a datatype")),
        "{err:?}"
    );
}

#[test]
fn recursive_elements_are_cut_at_the_configured_depth() {
    let o = Options::default();
    // Backbone elements through content references: two more levels by default.
    check(&o, "Questionnaire", "item.linkId", Some("Utf8"));
    check(&o, "Questionnaire", "item.item.item.linkId", Some("Utf8"));
    check(&o, "Questionnaire", "item.item.item.item", None);
    check(
        &o,
        "QuestionnaireResponse",
        "item.answer.item.answer.valueString",
        Some("Utf8"),
    );
    check(
        &o,
        "CodeSystem",
        "concept.concept.concept.code",
        Some("Utf8"),
    );
    check(&o, "CodeSystem", "concept.concept.concept.concept", None);
    // Datatypes: cut at the first repeat.
    check(&o, "Patient", "identifier.assigner.reference", Some("Utf8"));
    check(&o, "Patient", "identifier.assigner.identifier", None);
    check(
        &o,
        "Patient",
        "generalPractitioner.identifier.value",
        Some("Utf8"),
    );
    check(
        &o,
        "Patient",
        "generalPractitioner.identifier.assigner",
        None,
    );

    let deeper = Options {
        max_recursion: 0,
        max_datatype_recursion: 1,
        ..Options::default()
    };
    check(&deeper, "Questionnaire", "item.item", None);
    check(
        &deeper,
        "Patient",
        "identifier.assigner.identifier.assigner.display",
        Some("Utf8"),
    );
    check(
        &deeper,
        "Patient",
        "identifier.assigner.identifier.assigner.identifier",
        None,
    );
}

#[test]
fn element_ids_are_an_option() {
    let o = Options {
        element_ids: true,
        ..Options::default()
    };
    check(&o, "Patient", "name.id", Some("Utf8"));
    check(&o, "Patient", "contact.id", Some("Utf8"));
    check(&o, "Patient", "extension.id", Some("Utf8"));
    check(&o, "Patient", "id", Some("Utf8"));
}

#[test]
fn schemas_are_cached_per_type_and_options() -> anyhow::Result<()> {
    let rt = "Observation".parse()?;
    let a = schema(rt, &Options::default())?;
    let b = schema(rt, &Options::default())?;
    assert!(Arc::ptr_eq(&a, &b));
    let c = schema(
        rt,
        &Options {
            max_recursion: 1,
            ..Options::default()
        },
    )?;
    assert!(!Arc::ptr_eq(&a, &c));
    // Options that do not shape the schema share it.
    let d = schema(
        rt,
        &Options {
            batch_rows: 7,
            ..Options::default()
        },
    )?;
    assert!(Arc::ptr_eq(&a, &d));
    Ok(())
}
