//! PATCH with JSON Patch and FHIRPath Patch.

use hearth_tests::{TestServer, patient};
use serde_json::json;

const JSON_PATCH: (&str, &str) = ("content-type", "application/json-patch+json");
const FHIR_JSON: (&str, &str) = ("content-type", "application/fhir+json");

#[tokio::test]
async fn json_patch_and_fhirpath_patch() {
    let s = TestServer::start().await;
    let id = s
        .send("POST", "Patient", Some(&patient("Pa")), &[])
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("Patient/{id}");
    // (content type, patch, expected status)
    let cases = vec![
        (
            JSON_PATCH,
            json!([{ "op": "replace", "path": "/gender", "value": "male" }]),
            200,
        ),
        (
            JSON_PATCH,
            json!([{ "op": "add", "path": "/active", "value": true }]),
            200,
        ),
        (
            JSON_PATCH,
            json!([{ "op": "test", "path": "/gender", "value": "female" }]),
            422,
        ),
        (
            JSON_PATCH,
            json!([{ "op": "remove", "path": "/nothing" }]),
            422,
        ),
        (JSON_PATCH, json!({ "op": "remove" }), 400),
        (
            JSON_PATCH,
            json!([{ "op": "replace", "path": "/gender", "value": "robot" }]),
            422,
        ),
        (
            JSON_PATCH,
            json!([{ "op": "replace", "path": "/id", "value": "other" }]),
            422,
        ),
        (
            FHIR_JSON,
            json!({ "resourceType": "Parameters", "parameter": [{ "name": "operation", "part": [
                { "name": "type", "valueCode": "replace" },
                { "name": "path", "valueString": "Patient.birthDate" },
                { "name": "value", "valueDate": "1980-05-05" }
            ]}]}),
            200,
        ),
        (
            FHIR_JSON,
            json!({ "resourceType": "Parameters", "parameter": [{ "name": "operation", "part": [
                { "name": "type", "valueCode": "delete" },
                { "name": "path", "valueString": "Patient.active" }
            ]}]}),
            200,
        ),
        (FHIR_JSON, json!({ "resourceType": "Patient" }), 400),
        (("content-type", "text/plain"), json!([]), 415),
    ];
    for (content_type, patch, status) in cases {
        let reply = s
            .send_raw(
                "PATCH",
                &path,
                serde_json::to_vec(&patch).unwrap(),
                &[content_type],
            )
            .await;
        assert_eq!(
            reply.status,
            status,
            "{patch}: {}",
            String::from_utf8_lossy(&reply.bytes)
        );
    }
    let now = s.send("GET", &path, None, &[]).await.json();
    assert_eq!(now["gender"], "male");
    assert_eq!(now["birthDate"], "1980-05-05");
    assert!(now.get("active").is_none());
    assert_eq!(now["meta"]["versionId"], "5");
    // If-Match on PATCH.
    let patch =
        serde_json::to_vec(&json!([{ "op": "replace", "path": "/gender", "value": "female" }]))
            .unwrap();
    s.send_raw(
        "PATCH",
        &path,
        patch.clone(),
        &[JSON_PATCH, ("if-match", "W/\"1\"")],
    )
    .await
    .outcome(412);
    assert_eq!(
        s.send_raw(
            "PATCH",
            &path,
            patch,
            &[JSON_PATCH, ("if-match", "W/\"5\"")]
        )
        .await
        .status,
        200
    );
}
