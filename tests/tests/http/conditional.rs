//! Conditional create, update, patch and delete, with any search criteria.

use hearth_tests::{TestServer, patient};
use serde_json::{Value, json};

fn with_identifier(value: &str) -> Value {
    let mut p = patient("Cond");
    p["identifier"] = json!([{ "system": "http://example.org/mrn", "value": value }]);
    p
}

#[tokio::test]
async fn conditional_create() {
    let s = TestServer::start().await;
    let criteria = [("if-none-exist", "identifier=http://example.org/mrn|1")];
    let first = s
        .send("POST", "Patient", Some(&with_identifier("1")), &criteria)
        .await;
    assert_eq!(first.status, 201);
    let again = s
        .send("POST", "Patient", Some(&with_identifier("1")), &criteria)
        .await;
    assert_eq!(again.status, 200, "a match returns the existing resource");
    assert_eq!(again.json()["id"], first.json()["id"]);
    // A second resource with the same identifier makes the condition ambiguous.
    assert_eq!(
        s.send("POST", "Patient", Some(&with_identifier("1")), &[])
            .await
            .status,
        201
    );
    s.send("POST", "Patient", Some(&with_identifier("1")), &criteria)
        .await
        .outcome(412);
    // Any search parameter works; unknown ones are refused, never matched against everything.
    s.send(
        "POST",
        "Patient",
        Some(&with_identifier("2")),
        &[("if-none-exist", "name=Cond")],
    )
    .await
    .outcome(412);
    s.send(
        "POST",
        "Patient",
        Some(&with_identifier("2")),
        &[("if-none-exist", "nope=Cond")],
    )
    .await
    .outcome(400);
    s.send(
        "POST",
        "Patient",
        Some(&with_identifier("2")),
        &[("if-none-exist", "identifier=")],
    )
    .await
    .outcome(400);
}

#[tokio::test]
async fn conditional_update_patch_delete() {
    let s = TestServer::start().await;
    // No match: creates.
    let created = s
        .send(
            "PUT",
            "Patient?identifier=http://example.org/mrn|7",
            Some(&with_identifier("7")),
            &[],
        )
        .await;
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    // One match: updates that resource.
    let mut changed = with_identifier("7");
    changed["gender"] = json!("male");
    let updated = s
        .send(
            "PUT",
            "Patient?identifier=http://example.org/mrn|7",
            Some(&changed),
            &[],
        )
        .await;
    assert_eq!(
        (updated.status, updated.json()["id"].as_str().unwrap()),
        (200, id.as_str())
    );
    // Token forms: code only, and system| with any code.
    for query in [
        "identifier=7",
        "identifier=http://example.org/mrn|7",
        &format!("_id={id}"),
    ] {
        let reply = s
            .send("PUT", &format!("Patient?{query}"), Some(&changed), &[])
            .await;
        assert_eq!(reply.status, 200, "{query}");
    }
    // Wrong system: no match, so a create.
    assert_eq!(
        s.send(
            "PUT",
            "Patient?identifier=http://other|7",
            Some(&with_identifier("8")),
            &[]
        )
        .await
        .status,
        201
    );
    // PATCH by condition.
    let patch = json!([{ "op": "replace", "path": "/gender", "value": "other" }]);
    let patched = s
        .send_raw(
            "PATCH",
            "Patient?identifier=http://example.org/mrn|7",
            serde_json::to_vec(&patch).unwrap(),
            &[("content-type", "application/json-patch+json")],
        )
        .await;
    assert_eq!(
        (patched.status, patched.json()["gender"].clone()),
        (200, json!("other"))
    );
    // Several matches: 412 for update and delete.
    assert_eq!(
        s.send("POST", "Patient", Some(&with_identifier("7")), &[])
            .await
            .status,
        201
    );
    s.send("PUT", "Patient?identifier=7", Some(&changed), &[])
        .await
        .outcome(412);
    s.send("DELETE", "Patient?identifier=7", None, &[])
        .await
        .outcome(412);
    // One match: deleted; none: a no-op.
    assert_eq!(
        s.send("DELETE", &format!("Patient?_id={id}"), None, &[])
            .await
            .status,
        204
    );
    assert_eq!(
        s.send("GET", &format!("Patient/{id}"), None, &[])
            .await
            .status,
        410
    );
    assert_eq!(
        s.send("DELETE", &format!("Patient?_id={id}"), None, &[])
            .await
            .status,
        204
    );
    // No criteria at all is refused.
    s.send("DELETE", "Patient", None, &[]).await.outcome(400);
    s.send("PUT", "Patient?nope=x", Some(&changed), &[])
        .await
        .outcome(400);
    // _lastUpdated with a prefix.
    assert_eq!(
        s.send(
            "PUT",
            "Patient?_lastUpdated=gt2100-01-01",
            Some(&with_identifier("9")),
            &[]
        )
        .await
        .status,
        201
    );
    s.send("DELETE", "Patient?_lastUpdated=lt2100-01-01", None, &[])
        .await
        .outcome(412);
}
