//! Conformance: the special search parameters and terminology modifiers, with what must not
//! match: `near` (distances, units, across the antimeridian), `_list`, `_text` and
//! `_content`, and `:in` / `:not-in` / `:above` / `:below` resolved against the tenant's
//! ValueSets and CodeSystems (unknown value sets and oversized expansions are `Invalid`).

use serde_json::{Value, json};

use super::resource_search::load;
use super::{delete, fresh_tenant, key, must_write, search_keys, try_search_page};
use crate::{Precondition, ResourceStore, StoreError};

type Tenant = hearth_tenancy::TenantId;

/// Runs `cases` (query, ids expected, sorted) on `rt`.
async fn check_all(
    store: &dyn ResourceStore,
    tenant: &Tenant,
    rt: &str,
    cases: &[(&str, &[&str])],
) {
    for (query, expected) in cases {
        let mut ids: Vec<String> = search_keys(store, tenant, rt, query)
            .await
            .into_iter()
            .map(|k| k.id.to_string())
            .collect();
        ids.sort();
        assert_eq!(ids, *expected, "{rt}?{query}");
    }
}

fn position(latitude: f64, longitude: f64) -> Value {
    json!({"status": "active", "position": {"latitude": latitude, "longitude": longitude}})
}

pub(super) async fn near(store: &dyn ResourceStore) {
    let t = fresh_tenant();
    load(
        store,
        &t,
        &[
            ("Location", "aa", position(42.2808, -83.7430)),
            ("Location", "det", position(42.3314, -83.0458)),
            ("Location", "yp", position(42.2411, -83.6130)),
            ("Location", "syd", position(-33.8688, 151.2093)),
            ("Location", "fiji", position(-17.7134, 178.0650)),
            ("Location", "dl", position(-17.7, -179.9)),
            (
                "Location",
                "none",
                json!({"status": "active", "name": "Nowhere"}),
            ),
        ],
    )
    .await;
    let aa = "42.2808|-83.7430";
    let cases: Vec<(String, &[&str])> = vec![
        (format!("near={aa}|1|km"), &["aa"]),
        (format!("near={aa}"), &["aa"]),
        (format!("near={aa}|11|km"), &["aa"]),
        (format!("near={aa}|12|km"), &["aa", "yp"]),
        (format!("near={aa}|11000|m"), &["aa"]),
        (format!("near={aa}|12000|m"), &["aa", "yp"]),
        (format!("near={aa}|57|km"), &["aa", "yp"]),
        (format!("near={aa}|58|km"), &["aa", "det", "yp"]),
        (format!("near={aa}|30|[mi_i]"), &["aa", "yp"]),
        (format!("near={aa}|35|mi"), &["aa", "yp"]),
        (format!("near={aa}|36|mi"), &["aa", "det", "yp"]),
        (
            format!("near={aa}|12|km,-33.8688|151.2093|5|km"),
            &["aa", "syd", "yp"],
        ),
        ("near=-17.7|-179.9|100|km".into(), &["dl"]),
        ("near=-17.7|-179.9|250|km".into(), &["dl", "fiji"]),
        ("near=0|0|1000|km".into(), &[]),
        ("near=90|0|1000|km".into(), &[]),
        (format!("near={aa}|12|km&name=x"), &[]),
        ("near:missing=true".into(), &["none"]),
        (
            "near:missing=false".into(),
            &["aa", "det", "dl", "fiji", "syd", "yp"],
        ),
    ];
    for (query, expected) in &cases {
        check_all(store, &t, "Location", &[(query.as_str(), expected)]).await;
    }
}

pub(super) async fn list(store: &dyn ResourceStore) {
    let t = fresh_tenant();
    let entries = |refs: &[&str]| -> Value {
        let items: Vec<Value> = refs
            .iter()
            .map(|r| json!({"item": {"reference": r}}))
            .collect();
        json!({"status": "current", "mode": "working", "entry": items})
    };
    load(
        store,
        &t,
        &[
            ("Patient", "a", json!({"gender": "female"})),
            ("Patient", "b", json!({"gender": "male"})),
            ("Patient", "c", json!({"gender": "male"})),
            (
                "Observation",
                "o",
                json!({"status": "final", "code": {"text": "x"}}),
            ),
            (
                "List",
                "l1",
                entries(&["Patient/a", "Patient/b", "Observation/o", "Patient/gone"]),
            ),
            ("List", "l2", entries(&["Patient/c"])),
            ("List", "l3", entries(&["Patient/a"])),
            (
                "List",
                "empty",
                json!({"status": "current", "mode": "working"}),
            ),
        ],
    )
    .await;
    must_write(store, &t, delete(&key("List", "l3"), Precondition::None)).await;
    check_all(
        store,
        &t,
        "Patient",
        &[
            ("_list=l1", &["a", "b"]),
            ("_list=List/l1", &["a", "b"]),
            ("_list=l1,l2", &["a", "b", "c"]),
            ("_list=l1&gender=male", &["b"]),
            ("_list=l1&_list=l2", &[]),
            ("_list=l3", &[]),
            ("_list=empty", &[]),
            ("_list=nope", &[]),
        ],
    )
    .await;
    check_all(
        store,
        &t,
        "Observation",
        &[("_list=l1", &["o"]), ("_list=l2", &[])],
    )
    .await;
    // The List's current version counts.
    load(store, &t, &[("List", "l2", entries(&["Patient/a"]))]).await;
    check_all(store, &t, "Patient", &[("_list=l2", &["a"])]).await;
}

pub(super) async fn text_and_content(store: &dyn ResourceStore) {
    let t = fresh_tenant();
    let narrative = |div: &str| json!({"status": "generated", "div": div});
    load(store, &t, &[
        ("Patient", "a", json!({"text": narrative("<div xmlns=\"http://www.w3.org/1999/xhtml\">Peter <b>Chalmers</b>, born &amp; raised in Zürich</div>"),
            "name": [{"family": "Chalmers", "given": ["Peter"]}], "address": [{"city": "Basel"}]})),
        ("Patient", "b", json!({"text": narrative("<div xmlns=\"http://www.w3.org/1999/xhtml\">Jane Doe</div>"),
            "name": [{"family": "Doe", "given": ["Jane"]}], "telecom": [{"system": "email", "value": "jane@zurich.example"}]})),
        ("Patient", "c", json!({"name": [{"family": "Chalmersson"}]})),
    ])
    .await;
    check_all(
        store,
        &t,
        "Patient",
        &[
            ("_text=chalmers", &["a"]),
            ("_text=PETER  Chalmers", &["a"]),
            ("_text=raised in z", &["a"]),
            ("_text=zurich", &["a"]),
            ("_text=almer", &["a"]),
            ("_text=jane,peter", &["a", "b"]),
            ("_text=chalmersson", &[]),
            ("_text=basel", &[]),
            ("_text=<b>", &[]),
            ("_text:contains=doe", &["b"]),
            ("_content=chalmers", &["a", "c"]),
            ("_content=basel", &["a"]),
            ("_content=zurich", &["b"]),
            ("_content=jane@zurich", &["b"]),
            ("_content=raised", &[]),
            ("_content=chalmers&_text=peter", &["a"]),
            ("_text:missing=true", &["c"]),
        ],
    )
    .await;
}

const SYS: &str = "http://example.org/fhir/CodeSystem/animals";

pub(super) async fn terminology(store: &dyn ResourceStore) {
    let t = fresh_tenant();
    let obs = |code: &str| json!({"status": "final", "code": {"coding": [{"system": SYS, "code": code}]}});
    let too_many: Vec<Value> = (0..10_001)
        .map(|i| json!({"code": format!("c{i}")}))
        .collect();
    load(store, &t, &[
        ("CodeSystem", "animals", json!({"url": SYS, "status": "active", "content": "complete",
            "concept": [
                {"code": "animal", "concept": [
                    {"code": "mammal", "concept": [{"code": "dog"}, {"code": "cat"}]},
                    {"code": "bird"}]},
                {"code": "plant"}]})),
        ("ValueSet", "mammals", json!({"url": "http://example.org/fhir/ValueSet/mammals", "version": "2",
            "status": "active", "compose": {"include": [{"system": SYS,
                "filter": [{"property": "concept", "op": "is-a", "value": "mammal"}]}]}})),
        ("ValueSet", "pets", json!({"url": "http://example.org/fhir/ValueSet/pets", "status": "active",
            "compose": {"include": [{"system": SYS, "concept": [{"code": "dog"}, {"code": "bird"}]}],
                "exclude": [{"system": SYS, "concept": [{"code": "bird"}]}]}})),
        ("ValueSet", "big", json!({"url": "http://example.org/fhir/ValueSet/big", "status": "active",
            "compose": {"include": [{"system": SYS, "concept": too_many}]}})),
        ("Observation", "dog", obs("dog")),
        ("Observation", "cat", obs("cat")),
        ("Observation", "bird", obs("bird")),
        ("Observation", "plant", obs("plant")),
        ("Observation", "other", json!({"status": "final", "code": {"coding": [{"system": "http://other", "code": "dog"}]}})),
    ])
    .await;
    let mammals = "http://example.org/fhir/ValueSet/mammals";
    let cases: Vec<(String, &[&str])> = vec![
        (format!("code:in={mammals}"), &["cat", "dog"]),
        (format!("code:in={mammals}|2"), &["cat", "dog"]),
        ("code:in=ValueSet/mammals".into(), &["cat", "dog"]),
        (
            "code:in=http://example.org/fhir/ValueSet/pets".into(),
            &["dog"],
        ),
        (
            format!("code:in={mammals},http://example.org/fhir/ValueSet/pets"),
            &["cat", "dog"],
        ),
        (
            format!("code:not-in={mammals}"),
            &["bird", "other", "plant"],
        ),
        (format!("code:in={mammals}&code=cat"), &["cat"]),
        (format!("code:below={SYS}|animal"), &["bird", "cat", "dog"]),
        (format!("code:below={SYS}|mammal"), &["cat", "dog"]),
        (format!("code:below={SYS}|plant"), &["plant"]),
        (format!("code:above={SYS}|mammal"), &[]),
        (format!("code:above={SYS}|cat"), &["cat"]),
        (
            format!("subject:missing=true&code:below={SYS}|dog"),
            &["dog"],
        ),
    ];
    for (query, expected) in &cases {
        check_all(store, &t, "Observation", &[(query.as_str(), expected)]).await;
    }
    for (query, error) in [
        (format!("code:in={mammals}|9"), "value set not found"),
        (
            "code:in=http://nowhere/ValueSet/x".to_owned(),
            "value set not found",
        ),
        ("code:in=ValueSet/nope".to_owned(), "value set not found"),
        (
            "code:in=http://example.org/fhir/ValueSet/big".to_owned(),
            "10000",
        ),
        (
            "code:below=http://nowhere|x".to_owned(),
            "code system not found",
        ),
    ] {
        match try_search_page(store, &t, "Observation", &query).await {
            Err(StoreError::Invalid(msg)) => assert!(msg.contains(error), "{query}: {msg}"),
            other => panic!("{query}: expected Invalid, got {other:?}"),
        }
    }
}
