//! The DSL of a few parsed searches, checked whole: one `check(query, expected)` per case.

use hearth_fhir::search::query::{ParseOptions, SearchQuery, parse_search};
use hearth_fhir::search::registry::Registry;
use serde_json::{Value, json};

use super::{Clause, compile};

fn parse(rt: &str, query: &str) -> SearchQuery {
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let options = ParseOptions {
        base: Some("http://example.org/fhir"),
        strict: true,
        ..ParseOptions::default()
    };
    parse_search(Registry::r4(), Some(rt.parse().unwrap()), &pairs, &options).unwrap()
}

/// Checks the clause compiled for the single filter of `query` on `rt`.
fn check(rt: &str, query: &str, expected: Value) {
    let q = parse(rt, query);
    let clauses: Vec<Clause<'_>> = q.filters.iter().map(Clause::Filter).collect();
    let dsl = compile(&q.types, &clauses, 0);
    let filters = dsl["bool"]["filter"].as_array().unwrap();
    assert_eq!(filters[0], json!({"term": {"deleted": false}}));
    assert_eq!(filters[1], json!({"term": {"rt": rt}}));
    assert_eq!(filters.len(), 3, "{query}: one filter");
    assert_eq!(filters[2], expected, "{rt}?{query}");
}

#[test]
fn strings() {
    check(
        "Patient",
        "family=Mül",
        json!({"nested": {"path": "str", "query": {"bool": {"filter": [
            {"term": {"str.p": "family"}}, {"prefix": {"str.n": {"value": "mul"}}}]}}}}),
    );
    check(
        "Patient",
        "family:exact=Müller",
        json!({"nested": {"path": "str", "query": {"bool": {"filter": [
            {"term": {"str.p": "family"}}, {"term": {"str.e": "Müller"}}]}}}}),
    );
}

#[test]
fn or_values_share_one_nested_query_and_not_negates_it() {
    let tokens = json!({"nested": {"path": "tok", "query": {"bool": {"filter": [
        {"term": {"tok.p": "gender"}},
        {"bool": {"should": [{"term": {"tok.c": "female"}}, {"term": {"tok.c": "male"}}],
                  "minimum_should_match": 1}}]}}}});
    check("Patient", "gender=female,male", tokens.clone());
    check(
        "Patient",
        "gender:not=female,male",
        json!({"bool": {"must_not": [tokens]}}),
    );
}

#[test]
fn missing_and_identifier_variants() {
    check(
        "Patient",
        "gender:missing=true",
        json!({"bool": {"must_not": [{"nested": {"path": "tok", "query": {"term": {"tok.p": "gender"}}}}]}}),
    );
    check(
        "Patient",
        "identifier:of-type=http://v2|MR|1",
        json!({"nested": {"path": "tok", "query": {"bool": {"filter": [
            {"term": {"tok.p": "identifier:of-type"}},
            {"bool": {"filter": [{"term": {"tok.c": "MR"}}, {"term": {"tok.t": "1"}},
                                 {"term": {"tok.s": "http://v2"}}]}}]}}}}),
    );
    check(
        "Observation",
        "subject:identifier=http://mrn|9",
        json!({"nested": {"path": "tok", "query": {"bool": {"filter": [
            {"term": {"tok.p": "subject:identifier"}},
            {"bool": {"filter": [{"term": {"tok.c": "9"}}, {"term": {"tok.s": "http://mrn"}}]}}]}}}}),
    );
}

#[test]
fn ids_and_last_updated_use_the_document_fields() {
    check(
        "Patient",
        "_id:not=a",
        json!({"bool": {"must_not": [{"terms": {"id": ["a"]}}]}}),
    );
    let q = parse("Patient", "_lastUpdated=gt2020-01-01");
    let dsl = compile(&q.types, &[Clause::Filter(&q.filters[0])], 0);
    assert_eq!(
        dsl["bool"]["filter"][2],
        json!({"range": {"lu": {"gte": 1_577_923_200_000_i64}}})
    );
}

#[test]
fn references_and_uris() {
    check(
        "Observation",
        "subject=Patient/p1",
        json!({"nested": {"path": "ref", "query": {"bool": {"filter": [
            {"term": {"ref.p": "subject"}},
            {"bool": {"filter": [{"term": {"ref.ti": "p1"}}, {"term": {"ref.tt": "Patient"}}]}}]}}}}),
    );
    check(
        "Observation",
        "subject=http://elsewhere.org/Patient/p1",
        json!({"nested": {"path": "ref", "query": {"bool": {"filter": [
            {"term": {"ref.p": "subject"}}, {"term": {"ref.url": "http://elsewhere.org/Patient/p1"}}]}}}}),
    );
    check(
        "ValueSet",
        "url:below=http://x.org/vs",
        json!({"nested": {"path": "uri", "query": {"bool": {"filter": [
            {"term": {"uri.p": "url"}}, {"prefix": {"uri.u": {"value": "http://x.org/vs"}}}]}}}}),
    );
}

#[test]
fn composites_correlate_components_within_one_value() {
    check(
        "Observation",
        "code-value-quantity=http://loinc.org|x$gt5",
        json!({"nested": {"path": "comp", "query": {"bool": {"filter": [
            {"term": {"comp.p": "code-value-quantity"}},
            {"nested": {"path": "comp.tok", "query": {"bool": {"filter": [
                {"term": {"comp.tok.p": "code-value-quantity#0"}},
                {"bool": {"filter": [{"term": {"comp.tok.c": "x"}}, {"term": {"comp.tok.s": "http://loinc.org"}}]}}]}}}},
            {"nested": {"path": "comp.qty", "query": {"bool": {"filter": [
                {"term": {"comp.qty.p": "code-value-quantity#1"}},
                {"range": {"comp.qty.hi": {"gt": 5.0}}}]}}}}]}}}}),
    );
}

#[test]
fn resolved_chains_and_keys() {
    let patient = "Patient".parse().unwrap();
    let chain = Clause::Chain {
        code: "subject",
        targets: vec![(patient, vec!["p1".into(), "p2".into()])],
    };
    let dsl = compile(&[], &[chain], 0);
    assert_eq!(
        dsl,
        json!({"bool": {"filter": [{"term": {"deleted": false}},
            {"nested": {"path": "ref", "query": {"bool": {"filter": [
                {"term": {"ref.p": "subject"}},
                {"bool": {"filter": [{"term": {"ref.tt": "Patient"}}, {"terms": {"ref.ti": ["p1", "p2"]}}]}}]}}}}]}})
    );
    let none = Clause::Chain {
        code: "subject",
        targets: vec![(patient, vec![])],
    };
    assert_eq!(
        compile(&[patient], &[none], 0)["bool"]["filter"][2],
        json!({"match_none": {}})
    );
    let keys = Clause::Keys(vec![
        ("Patient".into(), "a".into()),
        ("Group".into(), "g".into()),
        ("Patient".into(), "b".into()),
    ]);
    assert_eq!(
        compile(&[], &[keys], 0)["bool"]["filter"][1],
        json!({"bool": {"should": [
            {"bool": {"filter": [{"term": {"rt": "Group"}}, {"terms": {"id": ["g"]}}]}},
            {"bool": {"filter": [{"term": {"rt": "Patient"}}, {"terms": {"id": ["a", "b"]}}]}}],
            "minimum_should_match": 1}})
    );
}
