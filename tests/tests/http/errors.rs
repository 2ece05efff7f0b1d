//! Bad input of every kind: the right status with an OperationOutcome, never a 500.

use hearth_api::Limits;
use hearth_tests::{TestServer, patient};
use serde_json::json;

#[tokio::test]
async fn bad_requests_get_the_right_status_and_outcome() {
    let s = TestServer::start().await;
    let fhir = [("content-type", "application/fhir+json")];
    // (method, path, raw body, expected status)
    let cases: Vec<(&str, &str, &str, u16)> = vec![
        ("POST", "Patient", "{", 400),
        ("POST", "Patient", "", 400),
        ("POST", "Patient", "[]", 400),
        ("POST", "Patient", "\"Patient\"", 400),
        ("POST", "Patient", r#"{"name":[{"family":"x"}]}"#, 400),
        (
            "POST",
            "Patient",
            r#"{"resourceType":"Observation","status":"final","code":{"text":"x"}}"#,
            400,
        ),
        ("POST", "Patient", r#"{"resourceType":"Nope"}"#, 400),
        (
            "POST",
            "Patient",
            r#"{"resourceType":"Patient","foo":1}"#,
            422,
        ),
        (
            "POST",
            "Patient",
            r#"{"resourceType":"Patient","birthDate":"1970-02-30"}"#,
            422,
        ),
        (
            "POST",
            "Patient",
            r#"{"resourceType":"Patient","gender":"robot"}"#,
            422,
        ),
        (
            "POST",
            "Patient",
            r#"{"resourceType":"Patient","active":"yes"}"#,
            422,
        ),
        (
            "POST",
            "Patient",
            r#"{"resourceType":"Patient","name":{"family":"x"}}"#,
            422,
        ),
        (
            "POST",
            "Patient",
            r#"{"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2020"}"#,
            422,
        ),
        (
            "POST",
            "Observation",
            r#"{"resourceType":"Observation","code":{"text":"x"}}"#,
            422,
        ),
        ("POST", "NotAType", r#"{"resourceType":"NotAType"}"#, 404),
        ("GET", "Patient/bad_id!", "", 400),
        ("GET", "Patient/x/_history/zero", "", 400),
        ("PUT", "Patient/a", r#"{"resourceType":"Patient"}"#, 400),
        (
            "PUT",
            "Patient/a",
            r#"{"resourceType":"Patient","id":"b"}"#,
            400,
        ),
        ("GET", "Patient/never", "", 404),
        (
            "POST",
            "",
            r#"{"resourceType":"Bundle","type":"collection"}"#,
            400,
        ),
        ("POST", "", r#"{"resourceType":"Patient"}"#, 400),
        ("GET", "Patient/x/y/z/w", "", 404),
        ("PATCH", "Patient/never", "[]", 404),
    ];
    for (method, path, body, status) in cases {
        let headers: &[(&str, &str)] = if body.is_empty() { &[] } else { &fhir };
        let reply = s
            .send_raw(method, path, body.as_bytes().to_vec(), headers)
            .await;
        reply.outcome(status);
    }
}

#[tokio::test]
async fn content_errors_name_the_element() {
    let s = TestServer::start().await;
    let reply = s
        .send(
            "POST",
            "Patient",
            Some(&json!({"resourceType": "Patient", "birthDate": "1970-13-01"})),
            &[],
        )
        .await;
    reply.outcome(422);
    let expressions = reply.json()["issue"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["expression"].as_array().cloned().unwrap_or_default())
        .collect::<Vec<_>>();
    assert!(
        expressions
            .iter()
            .any(|e| e.as_str().unwrap_or("").contains("birthDate")),
        "{expressions:?}"
    );
}

#[tokio::test]
async fn limits_are_explicit() {
    let limits = Limits {
        max_body_bytes: 2_000,
        max_bundle_entries: 3,
        max_json_depth: 10,
        ..Limits::default()
    };
    let s = TestServer::with_limits(limits).await;
    let mut big = patient("Big");
    big["name"][0]["given"] = json!(vec!["x".repeat(100); 30]);
    assert_eq!(
        s.send("POST", "Patient", Some(&big), &[])
            .await
            .outcome(413),
        "too-long"
    );
    let deep = format!(
        "{{\"resourceType\":\"Patient\",\"x\":{}1{}}}",
        "[".repeat(20),
        "]".repeat(20)
    );
    s.send_raw(
        "POST",
        "Patient",
        deep.into_bytes(),
        &[("content-type", "application/fhir+json")],
    )
    .await
    .outcome(400);
    let entry = json!({"request": {"method": "GET", "url": "Patient/x"}});
    let bundle =
        json!({"resourceType": "Bundle", "type": "batch", "entry": [entry, entry, entry, entry]});
    assert_eq!(
        s.send("POST", "", Some(&bundle), &[]).await.outcome(413),
        "too-long"
    );
}

#[tokio::test]
async fn methods_not_allowed_and_unknown_paths() {
    let s = TestServer::start().await;
    s.send("DELETE", "metadata", None, &[]).await.outcome(405);
    s.send("POST", "Patient/x/_history", None, &[])
        .await
        .outcome(405);
    s.send("GET", &format!("http://{}/nowhere", s.addr), None, &[])
        .await
        .outcome(404);
}
