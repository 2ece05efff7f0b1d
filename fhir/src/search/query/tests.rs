//! Parsing search queries: one `check(query, expected)` per case, the expected value being a
//! compact rendering of the AST or the error.

use super::*;
use crate::search::registry::Registry;

fn parse(rt: &str, query: &str, strict: bool) -> Result<SearchQuery, Issue> {
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let options = ParseOptions {
        base: Some("http://h/tenant/t"),
        strict,
        ..ParseOptions::default()
    };
    let rt = (!rt.is_empty()).then(|| rt.parse().unwrap());
    parse_search(Registry::r4(), rt, &pairs, &options)
}

/// `expected`: the Debug of the first filter's test, `ok` to skip it, or `err:<code>`.
fn check(rt: &str, query: &str, expected: &str) {
    let actual = match parse(rt, query, true) {
        Ok(q) => q
            .filters
            .first()
            .map_or("none".to_owned(), |f| format!("{:?}", f.test)),
        Err(e) => format!("err:{}", e.code.as_str()),
    };
    if expected == "ok" {
        assert!(!actual.starts_with("err:"), "{query}: {actual}");
    } else {
        assert!(
            actual.contains(expected),
            "{query}: {actual} should contain {expected}"
        );
    }
}

#[test]
fn values_by_type() {
    check(
        "Patient",
        "name=Ann",
        "String { mode: Prefix, value: \"ann\" }",
    );
    check("Patient", "name:exact=Ann", "Exact, value: \"Ann\"");
    check("Patient", "name:contains=NN", "Contains, value: \"nn\"");
    check("Patient", "name:missing=true", "Missing(true)");
    check("Patient", "name:missing=maybe", "err:invalid");
    check(
        "Patient",
        "gender=female,male",
        "values: [Token { system: None, code: Some(\"female\") }, Token",
    );
    check(
        "Patient",
        "identifier=http://x|1",
        "system: Some(Some(\"http://x\")), code: Some(\"1\")",
    );
    check("Patient", "identifier=|1", "system: Some(None)");
    check("Patient", "gender:not=male", "not: true");
    check("Patient", "identifier:of-type=http://t|MR|12", "OfType");
    check("Patient", "identifier:of-type=MR", "err:invalid");
    check("Patient", "birthdate=ge2020-01", "Date { prefix: Ge");
    check("Patient", "birthdate=2020-13", "err:invalid");
    check(
        "RiskAssessment",
        "probability=gt0.5",
        "Number { prefix: Gt, value: 0.5, low: 0.45",
    );
    check("RiskAssessment", "probability=abc", "err:invalid");
    check(
        "Observation",
        "value-quantity=le5.4|http://unitsofmeasure.org|mg",
        "Quantity { prefix: Le",
    );
    check("Observation", "value-quantity=5||mg", "code: Some(\"mg\")");
    check(
        "Observation",
        "subject=Patient/1",
        "Reference { target_type: Some(Patient), id: \"1\" }",
    );
    check(
        "Observation",
        "subject=http://h/tenant/t/Patient/1",
        "Reference { target_type: Some(Patient)",
    );
    check(
        "Observation",
        "subject=http://other/Patient/1",
        "ReferenceUrl",
    );
    check(
        "Observation",
        "subject:Patient=1",
        "Reference { target_type: Some(Patient), id: \"1\" }",
    );
    check(
        "Observation",
        "subject:identifier=http://x|1",
        "ReferenceIdentifier",
    );
    check("Observation", "subject=Nope/1", "err:invalid");
    check("ValueSet", "url:below=http://x/", "Uri { mode: Below");
    check(
        "Observation",
        "code-value-quantity=http://loinc|1$gt5",
        "Composite([Token",
    );
    check(
        "Observation",
        "code-value-quantity=http://loinc|1",
        "err:invalid",
    );
    check("Patient", "_id=a,b", "Token");
    check("Patient", "_lastUpdated=gt2020", "Date { prefix: Gt");
}

#[test]
fn chains_and_has() {
    check(
        "Observation",
        "subject:Patient.name=x",
        "Chain([(Patient, Filter { code: \"name\"",
    );
    check(
        "Observation",
        "subject.organization.name=x",
        "(Patient, Filter { code: \"organization\"",
    );
    check("Observation", "subject.nope=x", "err:not-supported");
    check(
        "Patient",
        "_has:Observation:patient:code=1",
        "Has { source: Observation, reference: \"patient\"",
    );
    check(
        "Patient",
        "_has:Observation:patient:_has:Provenance:target:agent=x",
        "Has { source: Provenance",
    );
    check("Patient", "_has:Observation:code:code=1", "err:invalid");
}

#[test]
fn unknown_parameters_warn_or_fail() {
    let q = parse("Patient", "nope=1&name=x&name:in=x", false).unwrap();
    assert_eq!(q.warnings.len(), 2);
    assert_eq!(q.applied, [("name".to_owned(), "x".to_owned())]);
    assert!(parse("Patient", "nope=1", true).is_err());
    assert!(parse("Patient", "birthdate=bad", false).is_err());
}

#[test]
fn result_parameters() {
    let q = parse("Patient", "_count=5000&_sort=-birthdate,_id&_total=none&_include=Patient:organization&_revinclude:iterate=Observation:subject&_elements=name,gender", true).unwrap();
    assert_eq!(q.count, 1000);
    assert_eq!(q.sort.len(), 2);
    assert!(q.sort[0].descending);
    assert_eq!(q.total, Total::None);
    assert_eq!(q.include[0].param.as_deref(), Some("organization"));
    assert!(q.revinclude[0].iterate);
    assert_eq!(q.elements, ["name", "gender"]);
    assert!(q.is_subsetted());
    let q = parse("Patient", "_summary=count", true).unwrap();
    assert_eq!(q.count, 0);
    assert!(parse("Patient", "_count=x", true).is_err());
    assert!(parse("Patient", "_include=Patient:name", true).is_err());
    let q = parse("", "_type=Patient,Observation&_id=1", true).unwrap();
    assert_eq!(q.types.len(), 2);
    assert!(parse("", "_type=Nope", true).is_err());
}

#[test]
fn implied_ranges() {
    for (input, low, high) in [
        ("100", 99.5, 100.5),
        ("1.50", 1.495, 1.505),
        ("1e2", 50.0, 150.0),
        ("-5", -5.5, -4.5),
    ] {
        let (_, l, h) = implied_range(input).unwrap();
        assert!(
            (l - low).abs() < 1e-9 && (h - high).abs() < 1e-9,
            "{input}: {l} {h}"
        );
    }
    assert!(implied_range("1,5").is_none());
}

#[test]
fn special_parameters_and_terminology_modifiers() {
    let cases = [
        (
            "Location",
            "near=42.25|-83.69|10|km",
            "Near { latitude: 42.25, longitude: -83.69, distance_km: 10.0 }",
        ),
        ("Location", "near=42.25|-83.69", "distance_km: 10.0"),
        ("Location", "near=0|0|1000|m", "distance_km: 1.0"),
        ("Location", "near=0|0|1|[mi_i]", "distance_km: 1.609344"),
        ("Location", "near=0|0|1|mi", "distance_km: 1.609344"),
        ("Location", "near=91|0|1|km", "err:invalid"),
        ("Location", "near=0|181", "err:invalid"),
        ("Location", "near=0", "err:invalid"),
        ("Location", "near=a|b|c", "err:invalid"),
        ("Location", "near=0|0|-1", "err:invalid"),
        ("Location", "near=0|0|1|parsec", "err:invalid"),
        ("Location", "near:missing=true", "Missing(true)"),
        (
            "Patient",
            "_list=42",
            "Has { source: List, reference: \"item\"",
        ),
        (
            "Patient",
            "_list=List/42,43",
            "code: Some(\"42\") }, Token { system: None, code: Some(\"43\")",
        ),
        ("Patient", "_list=a/b", "err:invalid"),
        ("Patient", "_list=$current-allergies", "err:not-supported"),
        (
            "Patient",
            "_text=Peter  CHALMERS",
            "String { mode: Contains, value: \"peter chalmers\" }",
        ),
        (
            "Patient",
            "_content=Pétér",
            "String { mode: Contains, value: \"peter\" }",
        ),
        ("Patient", "_text:exact=x", "err:not-supported"),
        (
            "Observation",
            "code:in=http://vs|1",
            "Terminology(In(\"http://vs|1\"))",
        ),
        (
            "Observation",
            "code:not-in=ValueSet/x",
            "Any { not: true, values: [Terminology(In(\"ValueSet/x\"))",
        ),
        (
            "Observation",
            "code:below=http://s|c",
            "Subsumption { system: \"http://s\", code: \"c\", above: false }",
        ),
        ("Observation", "code:above=http://s|c", "above: true"),
        ("Observation", "code:below=c", "err:invalid"),
    ];
    for (rt, query, expected) in cases {
        check(rt, query, expected);
    }
}

/// Every one of the 46 R4 composite parameters is registered with resolvable components and
/// parses a `$`-separated value into a composite test.
#[test]
fn every_composite_parameter_is_searchable() {
    let registry = Registry::r4();
    let mut composites = 0;
    for p in registry.all().filter(|p| p.kind == ParamType::Composite) {
        composites += 1;
        assert!(p.component.len() >= 2, "{}", p.url);
        let mut parts = Vec::new();
        for c in &p.component {
            let def = registry
                .by_url(&c.definition)
                .unwrap_or_else(|| panic!("{}: component {} unknown", p.url, c.definition));
            parts.push(match def.kind {
                ParamType::String => "a",
                ParamType::Token => "http://s|c",
                ParamType::Date => "ge2020-01",
                ParamType::Number => "1.5",
                ParamType::Quantity => "lt5|http://unitsofmeasure.org|mg",
                ParamType::Reference => "Patient/1",
                ParamType::Uri => "http://a",
                ParamType::Composite | ParamType::Special => {
                    panic!("{}: component of type {:?}", p.url, def.kind)
                }
            });
        }
        let value = parts.join("$").replace('|', "%7C");
        for base in &p.base {
            let q = parse(
                base,
                &format!("{}={}", p.code, value.replace("%7C", "|")),
                true,
            )
            .unwrap_or_else(|e| panic!("{base}?{}: {e:?}", p.code));
            assert!(
                matches!(&q.filters[0].test, Test::Any { values, .. }
                    if matches!(&values[0], ValueTest::Composite(c) if c.len() == p.component.len())),
                "{base}?{}",
                p.code
            );
        }
    }
    assert_eq!(composites, 46);
}
