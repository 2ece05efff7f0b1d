//! Expansion cases: value sets and subsumption over a small stored terminology.

use serde_json::{Value, json};

use super::*;
use crate::search::query::{ParseOptions, parse_search};
use crate::search::registry::Registry;

const SYS: &str = "http://example.org/cs";

fn terminology() -> Fetched {
    let cs = json!({
        "resourceType": "CodeSystem", "url": SYS, "content": "complete",
        "concept": [
            {"code": "animal", "concept": [
                {"code": "mammal", "concept": [{"code": "dog"}, {"code": "cat"}]},
                {"code": "bird"}
            ]},
            {"code": "plant"},
            {"code": "fern", "property": [{"code": "parent", "valueCode": "plant"}]}
        ]
    });
    let vs = |compose: Value| json!({"resourceType": "ValueSet", "compose": compose});
    let mut fetched = Fetched::default();
    let mut put = |want: Want, v: Option<Value>| {
        fetched.resources.insert(want, v);
    };
    put(Want::CodeSystem(SYS.into()), Some(cs));
    put(Want::CodeSystem("http://other".into()), None);
    put(Want::ValueSet("http://vs/missing".into()), None);
    put(
        Want::ValueSet("http://vs/list".into()),
        Some(vs(
            json!({"include": [{"system": SYS, "concept": [{"code": "dog"}, {"code": "x"}]}]}),
        )),
    );
    put(
        Want::ValueSet("ValueSet/mammals".into()),
        Some(vs(json!({"include": [{"system": SYS, "filter": [
            {"property": "concept", "op": "is-a", "value": "mammal"}]}]}))),
    );
    put(
        Want::ValueSet("http://vs/animals-not-cats|2".into()),
        Some(vs(json!({
            "include": [{"system": SYS, "filter": [
                {"property": "concept", "op": "descendent-of", "value": "animal"}]}],
            "exclude": [{"system": SYS, "concept": [{"code": "cat"}]}]}))),
    );
    put(
        Want::ValueSet("http://vs/all".into()),
        Some(vs(json!({"include": [{"system": SYS}]}))),
    );
    put(
        Want::ValueSet("http://vs/import".into()),
        Some(vs(json!({"include": [{"valueSet": ["ValueSet/mammals"]},
            {"system": "http://loinc.org", "concept": [{"code": "1-8"}]}]}))),
    );
    put(
        Want::ValueSet("http://vs/expanded".into()),
        Some(
            json!({"resourceType": "ValueSet", "compose": {"include": [{"system": "http://other"}]},
            "expansion": {"contains": [{"system": SYS, "code": "bird"},
                {"system": "http://other", "code": "z", "contains": [{"system": SYS, "code": "fern"}]}]}}),
        ),
    );
    put(
        Want::ValueSet("http://vs/external".into()),
        Some(vs(json!({"include": [{"system": "http://other"}]}))),
    );
    fetched
}

/// The codes `Observation?code:{modifier}={value}` resolves to, or the error text.
fn check(modifier: &str, value: &str, expected: Result<&[(&str, &str)], &str>) {
    let pairs = vec![(format!("code:{modifier}"), value.to_owned())];
    let q = parse_search(
        Registry::r4(),
        Some("Observation".parse().unwrap()),
        &pairs,
        &ParseOptions::default(),
    )
    .unwrap();
    let got = match resolve(&q, &terminology()) {
        Ok(Resolution::Resolved(q)) => match &q.filters[0].test {
            Test::Any { values, .. } => match &values[0] {
                ValueTest::TokenSet(sets) => Ok(sets
                    .iter()
                    .flat_map(|(s, codes)| codes.iter().map(move |c| (s.clone(), c.clone())))
                    .collect::<Vec<_>>()),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        },
        Ok(Resolution::Need(wants)) => panic!("{modifier}={value}: wants {wants:?}"),
        Err(issue) => Err(issue.diagnostics),
    };
    match (got, expected) {
        (Ok(codes), Ok(expected)) => {
            let mut expected: Vec<(String, String)> = expected
                .iter()
                .map(|(s, c)| (s.to_string(), c.to_string()))
                .collect();
            expected.sort();
            assert_eq!(codes, expected, "{modifier}={value}");
        }
        (Err(e), Err(expected)) => assert!(e.contains(expected), "{modifier}={value}: {e}"),
        (got, expected) => panic!("{modifier}={value}: got {got:?}, expected {expected:?}"),
    }
}

#[test]
fn expansions() {
    let s = SYS;
    check("in", "http://vs/list", Ok(&[(s, "dog"), (s, "x")]));
    check(
        "in",
        "ValueSet/mammals",
        Ok(&[(s, "cat"), (s, "dog"), (s, "mammal")]),
    );
    check(
        "in",
        "http://vs/animals-not-cats|2",
        Ok(&[(s, "bird"), (s, "dog"), (s, "mammal")]),
    );
    check(
        "in",
        "http://vs/all",
        Ok(&[
            (s, "animal"),
            (s, "bird"),
            (s, "cat"),
            (s, "dog"),
            (s, "fern"),
            (s, "mammal"),
            (s, "plant"),
        ]),
    );
    check(
        "not-in",
        "http://vs/import",
        Ok(&[
            ("http://loinc.org", "1-8"),
            (s, "cat"),
            (s, "dog"),
            (s, "mammal"),
        ]),
    );
    check(
        "in",
        "http://vs/expanded",
        Ok(&[("http://other", "z"), (s, "bird"), (s, "fern")]),
    );
    check(
        "below",
        &format!("{s}|mammal"),
        Ok(&[(s, "cat"), (s, "dog"), (s, "mammal")]),
    );
    check(
        "below",
        &format!("{s}|plant"),
        Ok(&[(s, "fern"), (s, "plant")]),
    );
    check(
        "above",
        &format!("{s}|dog"),
        Ok(&[(s, "animal"), (s, "dog"), (s, "mammal")]),
    );
    check("above", &format!("{s}|unknown"), Ok(&[(s, "unknown")]));
    check("in", "http://vs/missing", Err("value set not found"));
    check("in", "http://vs/external", Err("code system not found"));
    check("below", "http://other|a", Err("code system not found"));
}

#[test]
fn wants_what_is_not_fetched() {
    let pairs = vec![("code:in".to_owned(), "http://vs/new".to_owned())];
    let q = parse_search(
        Registry::r4(),
        Some("Observation".parse().unwrap()),
        &pairs,
        &ParseOptions::default(),
    )
    .unwrap();
    assert!(has_terminology(&q));
    assert_eq!(
        resolve(&q, &terminology()).unwrap(),
        Resolution::Need(vec![Want::ValueSet("http://vs/new".into())])
    );
}

#[test]
fn expansions_are_capped() {
    let concepts: Vec<Value> = (0..=MAX_EXPANSION)
        .map(|i| json!({"code": format!("c{i}")}))
        .collect();
    let mut fetched = Fetched::default();
    fetched.resources.insert(
        Want::ValueSet("http://vs/big".into()),
        Some(json!({"compose": {"include": [{"system": SYS, "concept": concepts}]}})),
    );
    let pairs = vec![("code:in".to_owned(), "http://vs/big".to_owned())];
    let q = parse_search(
        Registry::r4(),
        Some("Observation".parse().unwrap()),
        &pairs,
        &ParseOptions::default(),
    )
    .unwrap();
    let e = resolve(&q, &fetched).unwrap_err();
    assert!(e.diagnostics.contains("10000"), "{}", e.diagnostics);
}
