//! Table tests of the evaluator: expression on a resource → the values (and type names) found.

use serde_json::{Value, json};

use super::Expression;

/// `expected`: the results as `type:json` joined with `, `, or `error: ...`.
fn check(resource: &Value, expr: &str, expected: &str) {
    let actual = match Expression::parse(expr).and_then(|e| {
        e.evaluate(resource).map(|nodes| {
            nodes
                .iter()
                .map(|n| format!("{}:{}", n.type_name(), n.value))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }) {
        Ok(s) => s,
        Err(e) => format!("error: {e}"),
    };
    assert_eq!(actual, expected, "evaluating {expr}");
}

#[test]
fn paths_and_choice_types() {
    let obs = json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "1234-5"}]},
        "valueQuantity": {"value": 1.50, "unit": "mg"},
        "effectivePeriod": {"start": "2020-01-01"},
        "component": [{"code": {"text": "a"}, "valueString": "x"}, {"code": {"text": "b"}, "valueCodeableConcept": {"text": "c"}}],
        "subject": {"reference": "Patient/p1"},
        "_issued": {"extension": [{"url": "u", "valueString": "e"}]}
    });
    check(&obs, "Observation.status", r#"code:"final""#);
    check(&obs, "Patient.name", "");
    check(&obs, "Resource.status", r#"code:"final""#);
    check(&obs, "Observation.code.coding.code", r#"code:"1234-5""#);
    check(
        &obs,
        "Observation.value",
        r#"Quantity:{"value":1.5,"unit":"mg"}"#,
    );
    check(
        &obs,
        "Observation.value as Quantity",
        r#"Quantity:{"value":1.5,"unit":"mg"}"#,
    );
    check(&obs, "Observation.value.as(Range)", "");
    check(
        &obs,
        "Observation.effective.as(Period).start",
        r#"dateTime:"2020-01-01""#,
    );
    check(
        &obs,
        "Observation.component.value as string",
        r#"string:"x""#,
    );
    check(
        &obs,
        "Observation.component.value.ofType(CodeableConcept).text",
        r#"string:"c""#,
    );
    check(&obs, "Observation.component[1].code.text", r#"string:"b""#);
    check(&obs, "Observation.issued", "instant:null");
    check(&obs, "Observation.issued.exists()", "Boolean:true");
    check(&obs, "Observation.issued.hasValue()", "Boolean:false");
    check(
        &obs,
        "Observation.issued.extension('u').value",
        r#"string:"e""#,
    );
    check(
        &obs,
        "Observation.status | Observation.status",
        r#"code:"final""#,
    );
    check(&obs, "%resource.status.first()", r#"code:"final""#);
}

#[test]
fn where_resolve_and_logic() {
    let p = json!({
        "resourceType": "Patient",
        "active": true,
        "deceasedBoolean": false,
        "telecom": [{"system": "phone", "value": "1"}, {"system": "email", "value": "a@b"}],
        "generalPractitioner": [{"reference": "Practitioner/x"}, {"reference": "http://h/fhir/Organization/o/_history/2"}, {"reference": "#c"}],
        "link": [{"other": {"reference": "Patient/q"}}]
    });
    check(
        &p,
        "Patient.telecom.where(system='email').value",
        r#"string:"a@b""#,
    );
    check(
        &p,
        "Patient.telecom.where(system!='email').value",
        r#"string:"1""#,
    );
    check(
        &p,
        "Patient.generalPractitioner.where(resolve() is Organization)",
        r#"Reference:{"reference":"http://h/fhir/Organization/o/_history/2"}"#,
    );
    check(
        &p,
        "Patient.generalPractitioner.resolve().id",
        r#"id:"x", id:"o""#,
    );
    check(
        &p,
        "Patient.deceased.exists() and Patient.deceased != false",
        "Boolean:false",
    );
    check(
        &p,
        "Patient.active and Patient.name.exists()",
        "Boolean:false",
    );
    check(
        &p,
        "Patient.active or Patient.name.exists().not()",
        "Boolean:true",
    );
    check(&p, "Patient.link.other is Reference", "Boolean:true");
    check(
        &p,
        "Patient.telecom is ContactPoint",
        "error: 'is' expects a single item, got 2",
    );
    check(&p, "Patient.telecom.count() > 1", "Boolean:true");
    check(&p, "Patient.active.single()", "boolean:true");
    check(&p, "Patient.telecom.single()", "error: single() on 2 items");
}

#[test]
fn nested_resources_and_inheritance() {
    let b = json!({
        "resourceType": "Bundle",
        "entry": [{"resource": {"resourceType": "Composition", "id": "c", "title": "t"}}],
        "meta": {"tag": [{"code": "x"}]}
    });
    check(&b, "Bundle.entry[0].resource.title", r#"string:"t""#);
    check(&b, "Bundle.entry.resource is Composition", "Boolean:true");
    check(
        &b,
        "Bundle.entry.resource is DomainResource",
        "Boolean:true",
    );
    check(&b, "Resource.meta.tag.code", r#"code:"x""#);
    let p =
        json!({"resourceType": "Patient", "extension": [{"url": "a", "valueAge": {"value": 3}}]});
    check(
        &p,
        "Patient.extension.value.as(Quantity).value",
        "decimal:3",
    );
    check(&p, "Patient.extension.value is Age", "Boolean:true");
    check(
        &p,
        "Patient.extension('a').value is FHIR.Quantity",
        "Boolean:true",
    );
}
