//! Search over HTTP, one table per parameter type: each case is a query and the exact set of
//! ids it must return, so what must NOT match is checked as strictly as what must.

use hearth_tests::TestServer;
use serde_json::{Value, json};

/// Stores each `(type, id, body)` with a PUT (update as create).
async fn load(s: &TestServer, items: &[(&str, &str, Value)]) {
    for (rt, id, body) in items {
        let mut body = body.clone();
        body["resourceType"] = json!(rt);
        body["id"] = json!(id);
        let reply = s.send("PUT", &format!("{rt}/{id}"), Some(&body), &[]).await;
        assert_eq!(
            reply.status,
            201,
            "{rt}/{id}: {}",
            String::from_utf8_lossy(&reply.bytes)
        );
    }
}

/// The sorted ids of the `match` entries of `GET {rt}?{query}`.
async fn ids(s: &TestServer, rt: &str, query: &str) -> Vec<String> {
    let reply = s
        .send("GET", &format!("{rt}?{query}&_count=1000"), None, &[])
        .await;
    assert_eq!(
        reply.status,
        200,
        "{rt}?{query}: {}",
        String::from_utf8_lossy(&reply.bytes)
    );
    let bundle = reply.json();
    let mut ids: Vec<String> = bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] == "match")
        .map(|e| e["resource"]["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.sort();
    ids
}

async fn check_all(s: &TestServer, rt: &str, cases: &[(&str, &[&str])]) {
    for (query, expected) in cases {
        assert_eq!(ids(s, rt, query).await, *expected, "{rt}?{query}");
    }
}

#[tokio::test]
async fn strings_and_tokens() {
    let s = TestServer::start().await;
    load(&s, &[
        ("Patient", "a", json!({"name": [{"family": "Müller", "given": ["Ann"]}], "gender": "female",
            "identifier": [{"system": "http://mrn", "value": "1"}], "active": true,
            "telecom": [{"system": "email", "value": "ann@example.org"}],
            "address": [{"city": "Zürich"}]})),
        ("Patient", "b", json!({"name": [{"family": "Mull"}], "gender": "male",
            "identifier": [{"system": "http://other", "value": "1"}, {"value": "2"}], "active": false})),
        ("Patient", "c", json!({"name": [{"family": "Smith"}],
            "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "de", "display": "German"}], "text": "Deutsch"}}]})),
    ]).await;
    check_all(
        &s,
        "Patient",
        &[
            ("family=mul", &["a", "b"]),
            ("family=MÜL", &["a", "b"]),
            ("family=ull", &[]),
            ("family:contains=ULL", &["a", "b"]),
            ("family:exact=Mull", &["b"]),
            ("family:exact=mull", &[]),
            ("family:missing=true", &[]),
            ("given=ann", &["a"]),
            ("address-city=zurich", &["a"]),
            ("address-city=zur%2Csmith", &["a"]),
            ("gender=female", &["a"]),
            ("gender=FEMALE", &[]),
            ("gender=fem", &[]),
            ("gender=female,male", &["a", "b"]),
            ("gender:not=female", &["b", "c"]),
            ("gender:missing=true", &["c"]),
            ("identifier=1", &["a", "b"]),
            ("identifier=http://mrn%7C1", &["a"]),
            ("identifier=http://mrn%7C2", &[]),
            ("identifier=%7C2", &["b"]),
            ("identifier=http://other%7C", &["b"]),
            ("email=ann@example.org", &["a"]),
            ("email=ann", &[]),
            ("active=true", &["a"]),
            ("active=false", &["b"]),
            ("_id=a,c", &["a", "c"]),
            ("_id:not=a", &["b", "c"]),
            ("gender=female&family=smith", &[]),
        ],
    )
    .await;
    // Token :text on a CodeableConcept's text and a coding's display; no cross-field match of
    // system and code.
    check_all(
        &s,
        "Patient",
        &[
            ("language:text=deutsch", &["c"]),
            ("language:text=germ", &["c"]),
            ("language:text=french", &[]),
            ("language=urn:ietf:bcp:47%7Cde", &["c"]),
            ("language=http://other%7Cde", &[]),
            ("language=German", &[]),
        ],
    )
    .await;
}

#[tokio::test]
async fn dates_numbers_quantities_uris() {
    let s = TestServer::start().await;
    load(&s, &[
        ("Patient", "y", json!({"birthDate": "2000"})),
        ("Patient", "m", json!({"birthDate": "2000-06"})),
        ("Patient", "d", json!({"birthDate": "2000-06-15"})),
        ("Observation", "q1", json!({"status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6", "display": "Systolic"}]},
            "valueQuantity": {"value": 5.4, "system": "http://unitsofmeasure.org", "code": "mg"},
            "effectivePeriod": {"start": "2020-01-01T10:00:00Z", "end": "2020-01-01T12:00:00Z"}})),
        ("Observation", "q2", json!({"status": "final", "code": {"coding": [{"system": "http://snomed.info/sct", "code": "8480-6"}], "text": "pressure"},
            "valueQuantity": {"value": 100, "system": "http://unitsofmeasure.org", "code": "g"},
            "effectiveDateTime": "2020-01-02T10:00:00+02:00"})),
        ("ValueSet", "v1", json!({"status": "active", "url": "http://example.org/fhir/ValueSet/a"})),
        ("ValueSet", "v2", json!({"status": "active", "url": "http://example.org/fhir/ValueSet/a/b"})),
    ]).await;
    check_all(
        &s,
        "Patient",
        &[
            ("birthdate=2000", &["d", "m", "y"]),
            ("birthdate=2000-06", &["d", "m"]),
            ("birthdate=eq2000-06-15", &["d"]),
            ("birthdate=ne2000-06", &["y"]),
            ("birthdate=gt2000-06-15", &["m", "y"]),
            ("birthdate=lt2000-06-01", &["y"]),
            ("birthdate=ge2000-06-15", &["d", "m", "y"]),
            ("birthdate=le2000-05-31", &["y"]),
            ("birthdate=sa1999-12-31", &["d", "m", "y"]),
            ("birthdate=eb2000-12", &["d", "m"]),
            ("birthdate=gt2000&birthdate=lt2002", &[]),
            // The year 2000 overlaps both conditions (ranges, not points).
            ("birthdate=ge2000-06&birthdate=le2000-06", &["d", "m", "y"]),
            ("birthdate=sa2000-05&birthdate=eb2000-07", &["d", "m"]),
        ],
    )
    .await;
    check_all(
        &s,
        "Observation",
        &[
            ("date=2020-01-01", &["q1"]),
            ("date=2020-01-01T11:00:00Z", &[]),
            ("date=2020-01-02T08:00:00Z", &["q2"]),
            ("date=2020-01-02T10:00:00Z", &[]),
            ("date=2020-01-02T10:00:00%2B02:00", &["q2"]),
            ("date=gt2020-01-01T11:00:00Z", &["q1", "q2"]),
            ("code=8480-6", &["q1", "q2"]),
            ("code=http://loinc.org%7C8480-6", &["q1"]),
            ("code=http://snomed.info/sct%7C8480", &[]),
            ("code:text=syst", &["q1"]),
            ("code:text=press", &["q2"]),
            ("code:not=http://loinc.org%7C8480-6", &["q2"]),
            ("value-quantity=5.4", &["q1"]),
            ("value-quantity=5", &["q1"]),
            ("value-quantity=5.40", &["q1"]),
            ("value-quantity=5.41", &[]),
            ("value-quantity=gt5.4", &["q2"]),
            ("value-quantity=lt100", &["q1"]),
            ("value-quantity=ge1e2", &["q2"]),
            (
                "value-quantity=5.4%7Chttp://unitsofmeasure.org%7Cmg",
                &["q1"],
            ),
            ("value-quantity=5.4%7Chttp://unitsofmeasure.org%7Cg", &[]),
            ("value-quantity=100%7C%7Cg", &["q2"]),
            ("value-quantity=ap95", &["q2"]),
            ("code-value-quantity=http://loinc.org%7C8480-6$gt5", &["q1"]),
            ("code-value-quantity=http://loinc.org%7C8480-6$gt50", &[]),
            ("code-value-quantity=8480-6$gt50", &["q2"]),
        ],
    )
    .await;
    check_all(
        &s,
        "ValueSet",
        &[
            ("url=http://example.org/fhir/ValueSet/a", &["v1"]),
            ("url=http://example.org/fhir/ValueSet", &[]),
            (
                "url:below=http://example.org/fhir/ValueSet/a",
                &["v1", "v2"],
            ),
            (
                "url:above=http://example.org/fhir/ValueSet/a/b/c",
                &["v1", "v2"],
            ),
            ("url:above=http://example.org/fhir/ValueSet/a", &["v1"]),
        ],
    )
    .await;
}

#[tokio::test]
async fn references_chains_and_has() {
    let s = TestServer::start().await;
    let base = s.base.clone();
    load(&s, &[
        ("Organization", "o1", json!({"name": "Acme Health"})),
        ("Organization", "o2", json!({"name": "Other"})),
        ("Patient", "p1", json!({"name": [{"family": "Peters"}], "managingOrganization": {"reference": "Organization/o1"}})),
        ("Patient", "p2", json!({"name": [{"family": "Jones"}], "managingOrganization": {"reference": format!("{base}/Organization/o2")}})),
        ("Group", "g1", json!({"type": "person", "actual": true})),
        ("Observation", "a", json!({"status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p1"}})),
        ("Observation", "b", json!({"status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p2"}})),
        ("Observation", "c", json!({"status": "final", "code": {"text": "x"}, "subject": {"reference": "Group/g1"}})),
        ("Observation", "d", json!({"status": "final", "code": {"text": "x"}, "subject": {"reference": "http://elsewhere.org/Patient/p1", "identifier": {"system": "http://mrn", "value": "9"}}})),
        ("Provenance", "v", json!({"recorded": "2020-01-01T00:00:00Z", "agent": [{"who": {"display": "x"}}], "target": [{"reference": "Observation/a"}]})),
    ]).await;
    let absolute = format!("subject={base}/Patient/p2");
    check_all(
        &s,
        "Observation",
        &[
            ("subject=Patient/p1", &["a"]),
            ("subject=p1", &["a"]),
            ("subject:Patient=p1", &["a"]),
            ("subject:Group=p1", &[]),
            (absolute.as_str(), &["b"]),
            ("subject=http://elsewhere.org/Patient/p1", &["d"]),
            ("subject:identifier=http://mrn%7C9", &["d"]),
            ("subject:identifier=http://mrn%7C8", &[]),
            ("patient=p2", &["b"]),
            ("subject:Patient.name=peters", &["a"]),
            ("subject.name=jones", &["b"]),
            ("subject:Patient.organization.name=acme", &["a"]),
            ("subject:Patient.organization.name=other", &["b"]),
            ("subject:Patient.organization.name=none", &[]),
            ("_has:Provenance:target:recorded=2020-01-01", &["a"]),
            ("_has:Provenance:target:recorded=2021", &[]),
        ],
    )
    .await;
    check_all(
        &s,
        "Patient",
        &[
            ("_has:Observation:patient:code:text=x", &["p1", "p2"]),
            (
                "_has:Observation:subject:_has:Provenance:target:recorded=2020",
                &["p1"],
            ),
            ("organization=o2", &["p2"]),
        ],
    )
    .await;
    // Writes are searchable at once, and an update replaces the old entries.
    let mut moved = json!({"resourceType": "Observation", "id": "a", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p2"}});
    assert_eq!(
        s.send("PUT", "Observation/a", Some(&moved), &[])
            .await
            .status,
        200
    );
    check_all(
        &s,
        "Observation",
        &[("subject=p1", &[]), ("subject=p2", &["a", "b"])],
    )
    .await;
    moved["status"] = json!("amended");
    assert_eq!(
        s.send("DELETE", "Observation/a", None, &[]).await.status,
        204
    );
    check_all(&s, "Observation", &[("subject=p2", &["b"])]).await;
}
