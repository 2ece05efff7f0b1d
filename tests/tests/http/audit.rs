//! The audit trail: with AuditEvents on, every tenant request leaves an R4 AuditEvent in its
//! tenant (subtype, agent, entities, outcome), none in another; export jobs leave audit
//! records when they start and complete.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use hearth_tests::{TestServer, patient};
use serde_json::{Value, json};

/// Log lines written by the servers of this test binary.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut lines) = self.0.lock() {
            lines.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The JSON lines of audit records (target `hearth::audit`).
    fn audit_records(&self) -> Vec<Value> {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|v| v["target"] == "hearth::audit")
            .collect()
    }
}

/// The log lines of this test binary from now on, as JSON (the process's subscriber: a
/// thread-scoped one would miss events whose callsites other tests' threads registered).
fn capture_logs() -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = tracing_subscriber::fmt()
                .json()
                .with_max_level(tracing::Level::INFO)
                .with_writer(move || writer.clone())
                .finish();
            let _ = tracing::subscriber::set_global_default(subscriber);
            captured
        })
        .clone()
}

/// The AuditEvents of `base` matching `query`.
async fn events(server: &TestServer, base: &str, query: &str) -> Vec<Value> {
    let url = match query {
        "" => format!("{base}/AuditEvent?_count=500"),
        q => format!("{base}/AuditEvent?{q}&_count=500"),
    };
    let reply = server.send("GET", &url, None, &[]).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    reply.json()["entry"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e["search"]["mode"] == "match")
                .map(|e| e["resource"].clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until an AuditEvent matching `query` references `reference` (they are written in the
/// background), and returns it.
async fn event_for(server: &TestServer, query: &str, reference: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = events(server, &server.base, query)
            .await
            .into_iter()
            .find(|e| references(e).iter().any(|r| r == reference));
        if let Some(event) = found {
            return event;
        }
        assert!(
            Instant::now() < deadline,
            "no AuditEvent?{query} for {reference} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn references(event: &Value) -> Vec<String> {
    event["entity"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["what"]["reference"].as_str().map(str::to_owned))
        .collect()
}

/// The subtype, action, outcome and requestor of `event`.
fn check(event: &Value, subtype: &str, action: &str, outcome: &str) {
    assert_eq!(event["resourceType"], "AuditEvent");
    assert_eq!(event["type"]["code"], "rest", "type of {event:#}");
    assert_eq!(
        event["subtype"][0]["system"],
        "http://hl7.org/fhir/restful-interaction"
    );
    assert_eq!(event["subtype"][0]["code"], subtype, "{event:#}");
    assert_eq!(event["action"], action, "{event:#}");
    assert_eq!(event["outcome"], outcome, "{event:#}");
    let requestor = &event["agent"][0];
    assert_eq!(requestor["requestor"], true);
    assert_eq!(
        requestor["who"]["identifier"]["value"], "test",
        "the token's sub"
    );
    assert_eq!(requestor["network"]["address"], "127.0.0.1");
    assert!(event["recorded"].is_string());
    assert!(event["source"]["observer"]["display"].is_string());
}

#[tokio::test]
async fn requests_leave_audit_events_in_their_tenant() {
    let server = TestServer::with_audit_events().await;

    // A create, a read, a search, a transaction of two entries and a failed read.
    let reply = server
        .send("POST", "Patient", Some(&patient("Audited")), &[])
        .await;
    assert_eq!(reply.status, 201);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        server
            .send("GET", &format!("Patient/{id}"), None, &[])
            .await
            .status,
        200
    );
    assert_eq!(
        server
            .send("GET", "Patient?family=Audited", None, &[])
            .await
            .status,
        200
    );
    let transaction = json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:7f1c2d3e-0000-4000-8000-000000000001",
             "resource": patient("InTransaction"),
             "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Basic",
                          "code": {"text": "audited"},
                          "subject": {"reference": "urn:uuid:7f1c2d3e-0000-4000-8000-000000000001"}},
             "request": {"method": "POST", "url": "Basic"}},
        ]
    });
    let reply = server.send("POST", "", Some(&transaction), &[]).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    let locations: Vec<String> = reply.json()["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["location"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(locations.len(), 2);
    server
        .send("GET", "Patient/no-such-patient", None, &[])
        .await
        .outcome(404);

    // The AuditEvents, written in the background.
    let create = event_for(
        &server,
        "subtype=create",
        &format!("Patient/{id}/_history/1"),
    )
    .await;
    check(&create, "create", "C", "0");
    let read = event_for(&server, "subtype=read", &format!("Patient/{id}")).await;
    check(&read, "read", "R", "0");
    let search = event_for(&server, "subtype=search-type", &format!("Patient/{id}")).await;
    check(&search, "search-type", "R", "0");
    let query = search["entity"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|e| e["query"].as_str())
        .expect("the search's query");
    let query = base64::engine::general_purpose::STANDARD
        .decode(query)
        .expect("base64 query");
    assert!(String::from_utf8_lossy(&query).contains("family=Audited"));
    let tx = event_for(&server, "subtype=transaction", &locations[0]).await;
    check(&tx, "transaction", "E", "0");
    let touched = references(&tx);
    for location in &locations {
        assert!(touched.contains(location), "{location} in {touched:?}");
    }
    let failed = event_for(&server, "subtype=read", "Patient/no-such-patient").await;
    check(&failed, "read", "R", "4");
    assert_eq!(failed["outcomeDesc"], "404 not-found");

    // Searching by entity works, and the other tenant sees none of it.
    let by_entity = events(&server, &server.base, &format!("entity=Patient/{id}")).await;
    assert!(by_entity.len() >= 2, "read and search of Patient/{id}");
    let other = server.tenant_base("other");
    let theirs = events(&server, &other, "").await;
    assert!(
        theirs
            .iter()
            .all(|e| references(e).iter().all(|r| !r.contains(&id))),
        "tenant other holds an AuditEvent of tenant default: {theirs:?}"
    );
    assert!(events(&server, &other, "subtype=create").await.is_empty());
}

#[tokio::test]
async fn export_jobs_leave_audit_records() {
    let captured = capture_logs();

    let server = TestServer::with_audit_events().await;
    let reply = server
        .send("POST", "Patient", Some(&patient("Exported")), &[])
        .await;
    assert_eq!(reply.status, 201);
    let status_url = server.kickoff_export("$export?_type=Patient").await;
    let job = status_url.rsplit('/').next().unwrap().to_owned();
    server.await_manifest(&status_url).await;

    // The worker logs completion just after it saves the manifest.
    let of_job = |records: &[Value], event: &str| {
        records
            .iter()
            .find(|r| r["fields"]["job_id"] == job.as_str() && r["fields"]["event"] == event)
            .cloned()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let (records, started, completed) = loop {
        let records = captured.audit_records();
        if let (Some(started), Some(completed)) =
            (of_job(&records, "started"), of_job(&records, "completed"))
        {
            break (records, started, completed);
        }
        assert!(
            Instant::now() < deadline,
            "no started and completed audit records of job {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for record in [&started, &completed] {
        assert_eq!(record["fields"]["tenant_id"], "default");
        assert_eq!(record["fields"]["subject"], "test");
        assert_eq!(record["fields"]["interaction"], "$export");
    }
    assert_eq!(completed["fields"]["outcome"], "0");
    assert!(
        completed["fields"]["files"].as_u64().unwrap() >= 1,
        "{completed}"
    );
    assert!(
        completed["fields"]["resources"].as_u64().unwrap() >= 1,
        "{completed}"
    );

    // The kick-off is a request: a request record naming the job in the log, and an
    // AuditEvent with the job as an entity.
    assert!(
        records
            .iter()
            .any(|r| r["fields"]["interaction"] == "$export"
                && r["fields"]["status"] == 202
                && r["fields"]["job_id"] == job.as_str()),
        "{records:#?}"
    );
    let names_job = |e: &Value| {
        e["entity"].as_array().into_iter().flatten().any(|entity| {
            entity["what"]["identifier"]["system"] == "urn:hearth:export-job"
                && entity["what"]["identifier"]["value"] == job.as_str()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let kickoffs = events(&server, &server.base, "subtype=operation").await;
        if kickoffs
            .iter()
            .any(|e| e["subtype"][0]["display"] == "$export" && e["action"] == "E" && names_job(e))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no $export AuditEvent within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
