//! Conformance: `search` by every parameter type, modifiers and prefixes (with what must not
//! match), references, chains, `_has`, includes, sorting with ties, keyset paging, and the
//! index following updates and deletes.

use serde_json::{Value, json};

use super::{delete, fresh_tenant, key, must_write, put, search_keys, search_page};
use crate::{Precondition, ResourceStore};

/// Writes `items` (type, id, body without `resourceType`) one by one.
pub(super) async fn load(
    store: &dyn ResourceStore,
    tenant: &hearth_tenancy::TenantId,
    items: &[(&str, &str, Value)],
) {
    for (rt, id, body) in items {
        let mut body = body.clone();
        body["resourceType"] = json!(rt);
        must_write(store, tenant, put(&key(rt, id), body, Precondition::None)).await;
    }
}

/// Asserts the ids (sorted) of the first page of `query` on `rt`.
async fn check(
    store: &dyn ResourceStore,
    tenant: &hearth_tenancy::TenantId,
    rt: &str,
    query: &str,
    expected: &[&str],
) {
    let mut ids: Vec<String> = search_keys(store, tenant, rt, query)
        .await
        .into_iter()
        .map(|k| k.id.to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, expected, "{rt}?{query}");
}

pub(super) async fn token_string_and_special(store: &dyn ResourceStore) {
    let t = fresh_tenant();
    load(store, &t, &[
        ("Patient", "a", json!({"name": [{"family": "Müller", "given": ["Ann"]}], "gender": "female",
            "identifier": [{"system": "http://mrn", "value": "1", "type": {"coding": [{"system": "http://v2", "code": "MR"}]}}],
            "active": true, "meta": {"tag": [{"system": "http://tags", "code": "t1"}]}})),
        ("Patient", "b", json!({"name": [{"family": "Mull"}], "gender": "male",
            "identifier": [{"system": "http://other", "value": "1"}, {"value": "2"}], "active": false})),
        ("Patient", "c", json!({"name": [{"family": "Smith", "text": "Jo Smith"}]})),
    ]).await;
    let cases: &[(&str, &[&str])] = &[
        ("family=mul", &["a", "b"]),
        ("family=MUELLER", &[]),
        ("family=muller", &["a"]),
        ("family:exact=Müller", &["a"]),
        ("family:exact=müller", &[]),
        ("family:contains=ll", &["a", "b"]),
        ("family:contains=xyz", &[]),
        ("name=jo", &["c"]),
        ("family:missing=true", &[]),
        ("gender=female", &["a"]),
        ("gender=fem", &[]),
        ("gender=female,male", &["a", "b"]),
        ("gender:not=female", &["b", "c"]),
        ("gender:missing=true", &["c"]),
        ("gender:missing=false", &["a", "b"]),
        ("identifier=1", &["a", "b"]),
        ("identifier=http://mrn|1", &["a"]),
        ("identifier=http://mrn|2", &[]),
        ("identifier=|2", &["b"]),
        ("identifier=|1", &[]),
        ("identifier=http://other|", &["b"]),
        ("identifier:of-type=http://v2|MR|1", &["a"]),
        ("identifier:of-type=http://v2|MR|2", &[]),
        ("active=true", &["a"]),
        ("active=false", &["b"]),
        ("_id=a,c", &["a", "c"]),
        ("_id:not=a", &["b", "c"]),
        ("_tag=http://tags|t1", &["a"]),
        ("_tag=t2", &[]),
        ("gender=female&family=smith", &[]),
        ("family=mul&family=mull", &["a", "b"]),
        ("family=mul&family:exact=Mull", &["b"]),
    ];
    for (query, expected) in cases {
        check(store, &t, "Patient", query, expected).await;
    }
}

pub(super) async fn dates_numbers_quantities(store: &dyn ResourceStore) {
    let t = fresh_tenant();
    load(store, &t, &[
        ("Patient", "y", json!({"birthDate": "2000"})),
        ("Patient", "m", json!({"birthDate": "2000-06"})),
        ("Patient", "d", json!({"birthDate": "2000-06-15"})),
        ("Observation", "q1", json!({"status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "x"}]},
            "valueQuantity": {"value": 5.4, "system": "http://unitsofmeasure.org", "code": "mg"},
            "effectivePeriod": {"start": "2020-01-01T10:00:00Z", "end": "2020-01-01T12:00:00Z"}})),
        ("Observation", "q2", json!({"status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "y"}]},
            "valueQuantity": {"value": 100, "system": "http://unitsofmeasure.org", "code": "g"},
            "effectiveDateTime": "2020-01-02T10:00:00+02:00"})),
        ("RiskAssessment", "r1", json!({"status": "final", "subject": {"reference": "Patient/d"}, "prediction": [{"probabilityDecimal": 0.25}]})),
        ("RiskAssessment", "r2", json!({"status": "final", "subject": {"reference": "Patient/d"}, "prediction": [{"probabilityDecimal": 0.8}]})),
    ]).await;
    let patients: &[(&str, &[&str])] = &[
        ("birthdate=2000", &["d", "m", "y"]),
        ("birthdate=2000-06", &["d", "m"]),
        ("birthdate=2000-06-15", &["d"]),
        ("birthdate=2000-06-16", &[]),
        ("birthdate=ne2000-06", &["y"]),
        ("birthdate=gt2000-06-15", &["m", "y"]),
        ("birthdate=ge2000-06-15", &["d", "m", "y"]),
        ("birthdate=lt2000-06-01", &["y"]),
        ("birthdate=le2000-06-30", &["d", "m", "y"]),
        ("birthdate=sa1999", &["d", "m", "y"]),
        ("birthdate=sa2000-01", &["d", "m"]),
        ("birthdate=eb2001", &["d", "m", "y"]),
        ("birthdate=eb2000-12", &["d", "m"]),
        ("birthdate=gt2001", &[]),
    ];
    for (query, expected) in patients {
        check(store, &t, "Patient", query, expected).await;
    }
    let observations: &[(&str, &[&str])] = &[
        ("date=2020-01-01", &["q1"]),
        ("date=2020-01-01T11:00:00Z", &[]),
        ("date=ge2020-01-01T11:00:00Z", &["q1", "q2"]),
        ("date=2020-01-02T08:00:00Z", &["q2"]),
        ("date=2020-01-02T10:00:00Z", &[]),
        ("date=lt2020-01-01T11:00:00Z", &["q1"]),
        ("value-quantity=5.4", &["q1"]),
        ("value-quantity=5", &["q1"]),
        ("value-quantity=5.0", &[]),
        ("value-quantity=gt5.4", &["q2"]),
        ("value-quantity=ge5.4", &["q1", "q2"]),
        ("value-quantity=lt100", &["q1"]),
        ("value-quantity=le100|http://unitsofmeasure.org|mg", &["q1"]),
        ("value-quantity=100||g", &["q2"]),
        ("value-quantity=100||mg", &[]),
        ("value-quantity=1e2", &["q2"]),
        ("value-quantity=ap98", &["q2"]),
        ("value-quantity=ap80", &[]),
        ("code-value-quantity=http://loinc.org|x$gt5", &["q1"]),
        ("code-value-quantity=http://loinc.org|x$gt50", &[]),
        ("code-value-quantity=http://loinc.org|y$gt50", &["q2"]),
        (
            "code-value-quantity=http://loinc.org|x$gt5,http://loinc.org|y$gt50",
            &["q1", "q2"],
        ),
    ];
    for (query, expected) in observations {
        check(store, &t, "Observation", query, expected).await;
    }
    let risks: &[(&str, &[&str])] = &[
        ("probability=0.25", &["r1"]),
        ("probability=0.3", &["r1"]),
        ("probability=0.30", &[]),
        ("probability=gt0.5", &["r2"]),
        ("probability=lt0.5", &["r1"]),
        ("probability=ne0.8", &["r1"]),
    ];
    for (query, expected) in risks {
        check(store, &t, "RiskAssessment", query, expected).await;
    }
}

pub(super) async fn references_chains_has_includes(store: &dyn ResourceStore) {
    let t = fresh_tenant();
    load(store, &t, &[
        ("Organization", "o1", json!({"name": "Acme Health"})),
        ("Organization", "o2", json!({"name": "Other"})),
        ("Patient", "p1", json!({"name": [{"family": "Peters"}], "managingOrganization": {"reference": "Organization/o1"}})),
        ("Patient", "p2", json!({"name": [{"family": "Jones"}], "managingOrganization": {"reference": "http://example.org/fhir/Organization/o2"}})),
        ("Group", "g1", json!({"type": "person", "actual": true})),
        ("Observation", "a", json!({"status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p1"}})),
        ("Observation", "b", json!({"status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p2"}})),
        ("Observation", "c", json!({"status": "final", "code": {"text": "x"}, "subject": {"reference": "Group/g1"}})),
        ("Observation", "d", json!({"status": "final", "code": {"text": "x"}, "subject": {"reference": "http://elsewhere.org/Patient/p1", "identifier": {"system": "http://mrn", "value": "9"}}})),
        ("Provenance", "v", json!({"recorded": "2020-01-01T00:00:00Z", "agent": [{"who": {"display": "x"}}], "target": [{"reference": "Observation/a"}]})),
    ]).await;
    let observations: &[(&str, &[&str])] = &[
        ("subject=Patient/p1", &["a"]),
        ("subject=p1", &["a"]),
        ("subject:Patient=p1", &["a"]),
        ("subject:Group=p1", &[]),
        ("subject=Group/p1", &[]),
        ("subject=http://example.org/fhir/Patient/p2", &["b"]),
        ("subject=http://elsewhere.org/Patient/p1", &["d"]),
        ("subject:identifier=http://mrn|9", &["d"]),
        ("subject:identifier=http://mrn|8", &[]),
        ("patient=p1", &["a"]),
        ("subject:missing=true", &[]),
        ("subject:Patient.name=peters", &["a"]),
        ("subject.name=jones", &["b"]),
        ("subject:Patient.organization.name=acme", &["a"]),
        ("subject:Patient.organization.name=other", &["b"]),
        ("subject:Patient.organization.name=nobody", &[]),
        ("_has:Provenance:target:recorded=2020-01-01", &["a"]),
        ("_has:Provenance:target:recorded=2021", &[]),
    ];
    for (query, expected) in observations {
        check(store, &t, "Observation", query, expected).await;
    }
    check(
        store,
        &t,
        "Patient",
        "_has:Observation:subject:_has:Provenance:target:recorded=2020",
        &["p1"],
    )
    .await;
    check(
        store,
        &t,
        "Patient",
        "_has:Observation:patient:code:text=x",
        &["p1", "p2"],
    )
    .await;

    let included = |page: crate::SearchPage| {
        let mut keys: Vec<String> = page
            .included
            .iter()
            .map(|v| format!("{}/{}", v.key.rt, v.key.id))
            .collect();
        keys.sort();
        keys
    };
    let page = search_page(
        store,
        &t,
        "Observation",
        "_id=a,b&_include=Observation:subject",
    )
    .await;
    assert_eq!(included(page), ["Patient/p1", "Patient/p2"]);
    let page = search_page(
        store,
        &t,
        "Observation",
        "_id=a,c&_include=Observation:subject:Group",
    )
    .await;
    assert_eq!(included(page), ["Group/g1"]);
    let page = search_page(
        store,
        &t,
        "Observation",
        "_id=a&_include=Observation:subject&_include:iterate=Patient:organization",
    )
    .await;
    assert_eq!(included(page), ["Organization/o1", "Patient/p1"]);
    let page = search_page(
        store,
        &t,
        "Observation",
        "_id=a&_include=Observation:*&_revinclude=Provenance:target",
    )
    .await;
    assert_eq!(included(page), ["Patient/p1", "Provenance/v"]);
    let page = search_page(
        store,
        &t,
        "Patient",
        "_id=p1&_revinclude=Observation:subject&_revinclude:iterate=Provenance:target",
    )
    .await;
    assert_eq!(included(page), ["Observation/a", "Provenance/v"]);
}

pub(super) async fn sort_and_paging(store: &dyn ResourceStore) {
    let t = fresh_tenant();
    let mut items = Vec::new();
    for i in 0..25 {
        let mut body = json!({"gender": if i % 2 == 0 { "female" } else { "male" }});
        if i % 5 != 0 {
            body["birthDate"] = json!(format!("19{:02}-01-01", 50 + i % 7));
        }
        items.push(("Patient", format!("p{i:02}"), body));
    }
    let refs: Vec<(&str, &str, Value)> = items
        .iter()
        .map(|(r, i, b)| (*r, i.as_str(), b.clone()))
        .collect();
    load(store, &t, &refs).await;

    for sort in [
        "birthdate",
        "-birthdate",
        "gender,-birthdate",
        "-_id",
        "_lastUpdated",
    ] {
        // Every page, forward then backward, gives the whole ordered set once.
        let all = search_keys(store, &t, "Patient", &format!("_sort={sort}&_count=100")).await;
        assert_eq!(all.len(), 25);
        let mut forward = Vec::new();
        let mut page = search_page(store, &t, "Patient", &format!("_sort={sort}&_count=4")).await;
        assert_eq!(page.total, Some(25));
        assert!(page.previous.is_none());
        let mut cursors = Vec::new();
        loop {
            forward.extend(page.matches.iter().map(|v| v.key.clone()));
            let Some(next) = page.next.clone() else { break };
            cursors.push(page.previous.clone());
            page = search_page(
                store,
                &t,
                "Patient",
                &format!("_sort={sort}&_count=4&_cursor={next}"),
            )
            .await;
        }
        assert_eq!(forward, all, "paging forward with _sort={sort}");
        // And backward from the last page.
        let mut backward = Vec::new();
        let mut page = page;
        loop {
            backward.splice(0..0, page.matches.iter().map(|v| v.key.clone()));
            let Some(prev) = page.previous.clone() else {
                break;
            };
            page = search_page(
                store,
                &t,
                "Patient",
                &format!("_sort={sort}&_count=4&_cursor={prev}"),
            )
            .await;
        }
        assert_eq!(backward, all, "paging backward with _sort={sort}");
    }
    // Ties are broken by id; missing values come last both ways.
    let asc = search_keys(store, &t, "Patient", "_sort=birthdate&_count=100").await;
    assert_eq!(asc.first().map(|k| k.id.as_str()), Some("p07"));
    assert_eq!(asc.last().map(|k| k.id.as_str()), Some("p20"));
    let desc = search_keys(store, &t, "Patient", "_sort=-birthdate&_count=100").await;
    assert_eq!(desc.first().map(|k| k.id.as_str()), Some("p06"));
    assert_eq!(desc.last().map(|k| k.id.as_str()), Some("p20"));
    let page = search_page(store, &t, "Patient", "_total=none&_count=0").await;
    assert_eq!((page.total, page.matches.len()), (None, 0));
    let page = search_page(store, &t, "", "_type=Patient&gender=male&_count=3").await;
    assert_eq!(page.total, Some(12));

    // A later page: `_total=accurate` counts again; the default gives a count too (the first
    // page's, carried in the cursor, or a new one).
    let first = search_page(store, &t, "Patient", "gender=male&_count=5").await;
    let accurate = search_page(store, &t, "Patient", "gender=male&_count=5&_total=accurate").await;
    assert_eq!((first.total, accurate.total), (Some(12), Some(12)));
    let male = json!({"resourceType": "Patient", "id": "p99", "gender": "male"});
    load(store, &t, &[("Patient", "p99", male)]).await;
    let cursor = |page: &crate::SearchPage| page.next.clone().expect("a next page");
    let later = format!("gender=male&_count=5&_cursor={}", cursor(&first));
    let later = search_page(store, &t, "Patient", &later).await;
    assert!(matches!(later.total, Some(12 | 13)), "{:?}", later.total);
    let later = format!(
        "gender=male&_count=5&_total=accurate&_cursor={}",
        cursor(&accurate)
    );
    assert_eq!(
        search_page(store, &t, "Patient", &later).await.total,
        Some(13)
    );
}

pub(super) async fn index_follows_updates_and_deletes(store: &dyn ResourceStore) {
    let t = fresh_tenant();
    let k = key("Patient", "u");
    must_write(
        store,
        &t,
        put(
            &k,
            json!({"resourceType": "Patient", "gender": "female"}),
            Precondition::None,
        ),
    )
    .await;
    check(store, &t, "Patient", "gender=female", &["u"]).await;
    must_write(
        store,
        &t,
        put(
            &k,
            json!({"resourceType": "Patient", "gender": "male"}),
            Precondition::None,
        ),
    )
    .await;
    check(store, &t, "Patient", "gender=female", &[]).await;
    check(store, &t, "Patient", "gender=male", &["u"]).await;
    must_write(store, &t, delete(&k, Precondition::None)).await;
    check(store, &t, "Patient", "gender=male", &[]).await;
    check(store, &t, "Patient", "_id=u", &[]).await;
}
