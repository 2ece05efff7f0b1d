//! Table tests: a resource and a parameter code → the index values, in debug-like short form.

use serde_json::{Value, json};

use super::{IndexValue, SpecialValue, extract, normalize_string};
use crate::search::registry::Registry;

fn short(v: &IndexValue) -> String {
    let o = |s: &Option<String>| s.clone().unwrap_or_default();
    match v {
        IndexValue::String(s) => format!("{}~{}", s.original, s.normalized),
        IndexValue::Token(t) => {
            let mut s = format!("{}|{}", o(&t.system), o(&t.code));
            if let Some(text) = &t.text {
                s += &format!(" text={text}");
            }
            for (sys, code) in &t.identifier_type {
                s += &format!(" type={}|{}", o(sys), o(code));
            }
            s
        }
        IndexValue::Date(d) => format!(
            "{} [{}, {})",
            d.original,
            d.low.map_or("-".into(), |t| t.to_rfc3339()),
            d.high.map_or("-".into(), |t| t.to_rfc3339())
        ),
        IndexValue::Number(n) => format!("{} {:?}..{:?}", n.original, n.low, n.high),
        IndexValue::Quantity(q) => format!(
            "{} {:?}..{:?} {}|{}",
            q.number.original,
            q.number.low,
            q.number.high,
            o(&q.system),
            o(&q.code)
        ),
        IndexValue::Reference(r) => format!(
            "{:?} {} type={} id={} version={} base={} identifier={:?}",
            r.kind,
            o(&r.reference),
            o(&r.resource_type),
            o(&r.id),
            o(&r.version),
            o(&r.base_url),
            r.identifier
        ),
        IndexValue::Uri(u) => u.clone(),
        IndexValue::Composite(c) => c
            .components
            .iter()
            .map(short)
            .collect::<Vec<_>>()
            .join(" $ "),
        IndexValue::Special(SpecialValue::Position {
            latitude,
            longitude,
        }) => format!("{latitude},{longitude}"),
    }
}

/// The values of parameter `code` for `resource`, one per line; errors as `error: ...`.
fn check(resource: &Value, code: &str, expected: &[&str]) {
    let extraction = extract(Registry::r4(), resource);
    if let Some(e) = extraction.errors.iter().find(|e| e.param.code == code) {
        panic!("{code}: error {}", e.error);
    }
    let actual: Vec<String> = extraction
        .params
        .iter()
        .filter(|p| p.param.code == code)
        .flat_map(|p| p.values.iter().map(short))
        .collect();
    assert_eq!(actual, expected, "parameter {code}");
}

#[test]
fn strings_are_normalized() {
    let p = json!({"resourceType": "Patient",
        "name": [{"family": "Müller-Ångström", "given": ["José", "Ⅻ"]}],
        "address": [{"line": ["1 Rue Élysée"], "city": "Orléans", "use": "home"}]});
    check(&p, "family", &["Müller-Ångström~muller-angstrom"]);
    check(
        &p,
        "name",
        &["Müller-Ångström~muller-angstrom", "José~jose", "Ⅻ~ⅻ"],
    );
    check(
        &p,
        "address",
        &["1 Rue Élysée~1 rue elysee", "Orléans~orleans"],
    );
    check(&p, "address-use", &["|home"]);
    assert_eq!(normalize_string("ŁÓDŹ straße"), "łodz straße");
}

#[test]
fn tokens() {
    let p = json!({"resourceType": "Patient", "id": "p1", "active": true, "gender": "female",
        "identifier": [{"system": "urn:s", "value": "123", "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}], "text": "MRN"}}],
        "telecom": [{"system": "email", "value": "a@b.c"}, {"system": "phone", "value": "555"}],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "fr", "display": "French"}], "text": "français"}}],
        "meta": {"tag": [{"system": "urn:t", "code": "x"}], "security": [{"code": "R"}]}});
    check(&p, "_id", &["|p1"]);
    check(&p, "active", &["|true"]);
    check(&p, "gender", &["|female"]);
    check(
        &p,
        "identifier",
        &["urn:s|123 text=MRN type=http://terminology.hl7.org/CodeSystem/v2-0203|MR"],
    );
    check(&p, "email", &["email|a@b.c"]);
    check(&p, "phone", &["phone|555"]);
    check(&p, "telecom", &["email|a@b.c", "phone|555"]);
    check(
        &p,
        "language",
        &["urn:ietf:bcp:47|fr text=French", "| text=français"],
    );
    check(&p, "_tag", &["urn:t|x"]);
    check(&p, "_security", &["|R"]);
}

#[test]
fn dates_cover_their_precision() {
    let p = json!({"resourceType": "Patient", "birthDate": "1974-12",
        "meta": {"lastUpdated": "2020-01-02T03:04:05.123+02:00"}});
    check(
        &p,
        "birthdate",
        &["1974-12 [1974-12-01T00:00:00+00:00, 1975-01-01T00:00:00+00:00)"],
    );
    check(
        &p,
        "_lastUpdated",
        &[
            "2020-01-02T03:04:05.123+02:00 [2020-01-02T01:04:05.123+00:00, 2020-01-02T01:04:05.124+00:00)",
        ],
    );
    let e = json!({"resourceType": "Encounter", "period": {"start": "2020-01-01"}});
    check(&e, "date", &["2020-01-01.. [2020-01-01T00:00:00+00:00, -)"]);
    let m = json!({"resourceType": "MedicationRequest",
        "dosageInstruction": [{"timing": {"event": ["2021"], "repeat": {"boundsPeriod": {"end": "2021-06-30"}}}}]});
    check(&m, "authoredon", &[]);
    let o = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
        "effectiveTiming": {"event": ["2021-02-03T10:00:00Z"]}});
    check(
        &o,
        "date",
        &["2021-02-03T10:00:00Z [2021-02-03T10:00:00+00:00, 2021-02-03T10:00:01+00:00)"],
    );
}

#[test]
fn numbers_and_quantities() {
    let r: Value = serde_json::from_str(
        r#"{"resourceType": "RiskAssessment", "prediction": [{"probabilityDecimal": 0.50}]}"#,
    )
    .unwrap_or_default();
    check(&r, "probability", &["0.50 Some(0.495)..Some(0.505)"]);
    let o: Value = serde_json::from_str(r#"{"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "valueQuantity": {"value": 120, "comparator": "<", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}"#)
        .unwrap_or_default();
    check(
        &o,
        "value-quantity",
        &["120 None..Some(120.5) http://unitsofmeasure.org|mm[Hg]"],
    );
    check(
        &o,
        "code-value-quantity",
        &["http://loinc.org|8480-6 $ 120 None..Some(120.5) http://unitsofmeasure.org|mm[Hg]"],
    );
    let c = json!({"resourceType": "ChargeItem", "status": "billed", "code": {"text": "x"}, "subject": {"reference": "Patient/1"},
        "priceOverride": {"value": 40, "currency": "EUR"}});
    check(
        &c,
        "price-override",
        &["40 Some(39.5)..Some(40.5) urn:iso:std:iso:4217|EUR"],
    );
    let a = json!({"resourceType": "ActivityDefinition", "status": "active",
        "useContext": [{"code": {"code": "age"}, "valueRange": {"low": {"value": 18, "system": "http://unitsofmeasure.org", "code": "a"}}}]});
    check(
        &a,
        "context-quantity",
        &["18.. Some(18.0)..None http://unitsofmeasure.org|a"],
    );
}

#[test]
fn references() {
    let o = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
        "subject": {"reference": "http://x.org/fhir/Patient/p1/_history/2"},
        "performer": [{"reference": "#c1"}, {"identifier": {"system": "urn:npi", "value": "9"}}, {"display": "only"}],
        "basedOn": [{"reference": "urn:uuid:0a"}],
        "hasMember": [{"reference": "Observation/o2"}]});
    check(
        &o,
        "subject",
        &[
            r#"Absolute http://x.org/fhir/Patient/p1/_history/2 type=Patient id=p1 version=2 base=http://x.org/fhir identifier=None"#,
        ],
    );
    check(
        &o,
        "patient",
        &[
            r#"Absolute http://x.org/fhir/Patient/p1/_history/2 type=Patient id=p1 version=2 base=http://x.org/fhir identifier=None"#,
        ],
    );
    check(
        &o,
        "performer",
        &[
            "Contained #c1 type= id=c1 version= base= identifier=None",
            r#"Logical  type= id= version= base= identifier=Some((Some("urn:npi"), Some("9")))"#,
        ],
    );
    check(
        &o,
        "based-on",
        &["Urn urn:uuid:0a type= id= version= base= identifier=None"],
    );
    check(
        &o,
        "has-member",
        &["Relative Observation/o2 type=Observation id=o2 version= base= identifier=None"],
    );
    let q = json!({"resourceType": "QuestionnaireResponse", "status": "completed",
        "questionnaire": "http://x.org/Questionnaire/q1|2.0"});
    check(
        &q,
        "questionnaire",
        &[
            "Canonical http://x.org/Questionnaire/q1|2.0 type=Questionnaire id=q1 version=2.0 base= identifier=None",
        ],
    );
}

#[test]
fn uri_special_and_composites() {
    let l =
        json!({"resourceType": "Location", "position": {"latitude": 42.25, "longitude": -83.69}});
    check(&l, "near", &["42.25,-83.69"]);
    let v = json!({"resourceType": "ValueSet", "status": "draft", "url": "http://x.org/vs"});
    check(&v, "url", &["http://x.org/vs"]);
    let m = json!({"resourceType": "MolecularSequence", "coordinateSystem": 0,
        "referenceSeq": {"chromosome": {"coding": [{"code": "1"}]}}, "variant": [{"start": 10, "end": 12}]});
    check(
        &m,
        "chromosome-variant-coordinate",
        &["|1 $ 10 Some(9.5)..Some(10.5) $ 12 Some(11.5)..Some(12.5)"],
    );
}
