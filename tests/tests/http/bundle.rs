//! Batch and transaction at the tenant base.

use hearth_tests::{TestServer, patient};
use serde_json::{Value, json};

fn entry(method: &str, url: &str, full_url: Option<&str>, resource: Option<Value>) -> Value {
    let mut e = json!({ "request": { "method": method, "url": url } });
    if let Some(f) = full_url {
        e["fullUrl"] = json!(f);
    }
    if let Some(r) = resource {
        e["resource"] = r;
    }
    e
}

fn bundle(kind: &str, entries: Vec<Value>) -> Value {
    json!({ "resourceType": "Bundle", "type": kind, "entry": entries })
}

fn observation(subject: &str) -> Value {
    json!({ "resourceType": "Observation", "status": "final", "code": { "text": "x" }, "subject": { "reference": subject } })
}

#[tokio::test]
async fn transaction_rewrites_urn_uuid_references_and_is_atomic() {
    let s = TestServer::start().await;
    let mut p = patient("Tx");
    p["identifier"] = json!([{ "system": "http://example.org/mrn", "value": "tx-1" }]);
    let tx = bundle(
        "transaction",
        vec![
            entry(
                "POST",
                "Observation",
                Some("urn:uuid:obs"),
                Some(observation("urn:uuid:pat")),
            ),
            entry("POST", "Patient", Some("urn:uuid:pat"), Some(p.clone())),
        ],
    );
    let reply = s.send("POST", "", Some(&tx), &[]).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    let body = reply.json();
    assert_eq!(body["type"], "transaction-response");
    let entries = body["entry"].as_array().unwrap();
    assert_eq!(entries[0]["response"]["status"], "201 Created");
    let obs_location = entries[0]["response"]["location"].as_str().unwrap();
    let pat_location = entries[1]["response"]["location"].as_str().unwrap();
    let pat_id = pat_location.split('/').nth(1).unwrap();
    let obs = s.send("GET", obs_location, None, &[]).await.json();
    assert_eq!(obs["subject"]["reference"], format!("Patient/{pat_id}"));

    // A conditional reference resolves to the one match.
    let tx = bundle(
        "transaction",
        vec![entry(
            "POST",
            "Observation",
            None,
            Some(observation(
                "Patient?identifier=http://example.org/mrn|tx-1",
            )),
        )],
    );
    let reply = s.send("POST", "", Some(&tx), &[]).await;
    assert_eq!(
        reply.json()["entry"][0]["resource"]["subject"]["reference"],
        format!("Patient/{pat_id}")
    );
    let tx = bundle(
        "transaction",
        vec![entry(
            "POST",
            "Observation",
            None,
            Some(observation("Patient?identifier=none")),
        )],
    );
    s.send("POST", "", Some(&tx), &[]).await.outcome(412);

    // One bad entry fails the whole transaction: nothing is written.
    let before = s.send("GET", "_history", None, &[]).await.json()["total"].clone();
    let tx = bundle(
        "transaction",
        vec![
            entry("POST", "Patient", None, Some(patient("Never"))),
            entry(
                "POST",
                "Patient",
                None,
                Some(json!({ "resourceType": "Patient", "gender": "robot" })),
            ),
        ],
    );
    s.send("POST", "", Some(&tx), &[]).await.outcome(422);
    let tx = bundle(
        "transaction",
        vec![
            entry("POST", "Patient", None, Some(patient("Never"))),
            entry(
                "PUT",
                &format!("Patient/{pat_id}"),
                None,
                Some({
                    let mut q = p.clone();
                    q["id"] = json!(pat_id);
                    q
                }),
            ),
        ],
    );
    let mut stale = tx.clone();
    stale["entry"][1]["request"]["ifMatch"] = json!("W/\"9\"");
    s.send("POST", "", Some(&stale), &[]).await.outcome(412);
    assert_eq!(
        s.send("GET", "_history", None, &[]).await.json()["total"],
        before
    );

    // Two entries on one resource are refused.
    let twice = bundle(
        "transaction",
        vec![
            entry("DELETE", &format!("Patient/{pat_id}"), None, None),
            entry("GET", &format!("Patient/{pat_id}"), None, None),
            entry("DELETE", &format!("Patient/{pat_id}"), None, None),
        ],
    );
    s.send("POST", "", Some(&twice), &[]).await.outcome(400);
}

#[tokio::test]
async fn transaction_processes_in_the_specs_order() {
    let s = TestServer::start().await;
    let mut p = patient("Order");
    p["id"] = json!("ord");
    s.send("PUT", "Patient/ord", Some(&p), &[]).await;
    // GET is answered after the writes, whatever its position.
    let tx = bundle(
        "transaction",
        vec![
            entry("GET", "Patient/ord", None, None),
            entry(
                "PUT",
                "Patient/ord",
                None,
                Some({
                    let mut q = p.clone();
                    q["gender"] = json!("male");
                    q
                }),
            ),
        ],
    );
    let reply = s.send("POST", "", Some(&tx), &[]).await.json();
    assert_eq!(reply["entry"][0]["resource"]["gender"], "male");
    assert_eq!(reply["entry"][1]["response"]["status"], "200 OK");
}

#[tokio::test]
async fn batch_entries_succeed_or_fail_alone() {
    let s = TestServer::start().await;
    let b = bundle(
        "batch",
        vec![
            entry("POST", "Patient", None, Some(patient("B1"))),
            entry(
                "POST",
                "Patient",
                None,
                Some(json!({ "resourceType": "Patient", "gender": "robot" })),
            ),
            entry("GET", "Patient/missing", None, None),
            entry(
                "PUT",
                "Patient/b3",
                None,
                Some({
                    let mut q = patient("B3");
                    q["id"] = json!("b3");
                    q
                }),
            ),
            json!({ "request": { "method": "POST" } }),
        ],
    );
    let reply = s.send("POST", "", Some(&b), &[]).await;
    assert_eq!(reply.status, 200);
    let statuses: Vec<String> = reply.json()["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        statuses,
        [
            "201 Created",
            "422 Unprocessable Entity",
            "404 Not Found",
            "201 Created",
            "400 Bad Request"
        ]
    );
    assert_eq!(
        reply.json()["entry"][1]["response"]["outcome"]["resourceType"],
        "OperationOutcome"
    );
    // Clients also post to the base with a trailing slash.
    let slash_batch = bundle("batch", vec![entry("GET", "Patient/b3", None, None)]);
    let slash = s
        .send("POST", &format!("{}/", s.base), Some(&slash_batch), &[])
        .await;
    assert_eq!(slash.status, 200);
    assert_eq!(slash.json()["entry"][0]["resource"]["id"], "b3");
    assert_eq!(s.send("GET", "metadata/", None, &[]).await.status, 200);
}

#[tokio::test]
async fn transaction_with_ten_thousand_entries() {
    let s = TestServer::start().await;
    let entries: Vec<Value> = (0..10_000)
        .map(|i| {
            entry(
                "POST",
                "Patient",
                Some(&format!("urn:uuid:00000000-0000-0000-0000-{i:012}")),
                Some(patient(&format!("N{i}"))),
            )
        })
        .collect();
    let reply = s
        .send(
            "POST",
            "",
            Some(&bundle("transaction", entries)),
            &[("prefer", "return=minimal")],
        )
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.bytes[..reply.bytes.len().min(500)])
    );
    assert_eq!(reply.json()["entry"].as_array().unwrap().len(), 10_000);
    assert_eq!(
        s.send("GET", "Patient/_history?_count=1", None, &[])
            .await
            .json()["total"],
        10_000
    );
}
