//! Bulk Data `$export` over HTTP, as a Bulk Data client drives it: kick-off, polling, manifest,
//! downloads, and every parameter, checked against the data the test wrote.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use hearth_tests::{KICKOFF, TestServer, patient, test_export_options};
use serde_json::{Value, json};

async fn create(server: &TestServer, body: Value) -> String {
    let rt = body["resourceType"].as_str().unwrap().to_owned();
    let reply = server.send("POST", &rt, Some(&body), &[]).await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    reply.json()["id"].as_str().unwrap().to_owned()
}

fn observation(patient: &str, code: &str, status: &str) -> Value {
    json!({"resourceType": "Observation", "status": status,
           "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
           "subject": {"reference": format!("Patient/{patient}")},
           "valueQuantity": {"value": 1.5, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}})
}

/// Downloads every file of a manifest section: `type -> lines` (parsed).
async fn download(
    server: &TestServer,
    manifest: &Value,
    section: &str,
) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for file in manifest[section].as_array().expect("section array") {
        let url = file["url"].as_str().unwrap();
        let reply = server.send("GET", url, None, &[]).await;
        assert_eq!(reply.status, 200, "{url}");
        assert_eq!(
            reply.header("content-type"),
            Some("application/fhir+ndjson")
        );
        let text = String::from_utf8(reply.bytes).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("NDJSON line"))
            .collect();
        assert_eq!(
            lines.len() as u64,
            file["count"].as_u64().unwrap(),
            "count of {url}"
        );
        let rt = file["type"].as_str().unwrap().to_owned();
        for line in &lines {
            assert_eq!(
                line["resourceType"],
                rt.as_str(),
                "line type matches the file type"
            );
        }
        out.entry(rt).or_default().extend(lines);
    }
    out
}

fn ids(lines: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = lines
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn system_export_with_manifest_and_files() {
    let server = TestServer::start().await;
    let p1 = create(&server, patient("One")).await;
    let p2 = create(&server, patient("Two")).await;
    let o1 = create(&server, observation(&p1, "1-1", "final")).await;
    let org = create(
        &server,
        json!({"resourceType": "Organization", "name": "Org"}),
    )
    .await;

    let status_url = server.kickoff_export("$export").await;
    let (manifest, _) = server.await_manifest(&status_url).await;
    assert_eq!(manifest["request"], format!("{}/$export", server.base));
    assert_eq!(manifest["requiresAccessToken"], true);
    assert!(manifest["transactionTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(manifest["error"], json!([]));
    assert_eq!(manifest["deleted"], json!([]));
    let files = download(&server, &manifest, "output").await;
    assert_eq!(
        files.keys().cloned().collect::<Vec<_>>(),
        ["Observation", "Organization", "Patient"]
    );
    assert_eq!(ids(&files["Patient"]), sorted(vec![p1.clone(), p2]));
    assert_eq!(ids(&files["Observation"]), [o1]);
    assert_eq!(ids(&files["Organization"]), [org]);
    assert_eq!(
        files["Patient"][0]["meta"]["versionId"], "1",
        "whole stored resources"
    );

    // Files need the token, and come gzipped when asked.
    let url = manifest["output"][0]["url"].as_str().unwrap();
    let anonymous = server.send_as(None, "GET", url, None, &[]).await;
    anonymous.outcome(401);
    let gz = server
        .send("GET", url, None, &[("accept-encoding", "gzip")])
        .await;
    assert_eq!(gz.status, 200, "{}", String::from_utf8_lossy(&gz.bytes));
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz.bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(
        text.lines().count() as u64,
        manifest["output"][0]["count"].as_u64().unwrap()
    );

    // Cancel after completion deletes: 202, then 404 for status and files.
    let reply = server.send("DELETE", &status_url, None, &[]).await;
    assert_eq!(reply.status, 202);
    server
        .send("GET", &status_url, None, &[])
        .await
        .outcome(404);
    server.send("GET", url, None, &[]).await.outcome(404);
    server
        .send("DELETE", &status_url, None, &[])
        .await
        .outcome(404);
}

#[tokio::test]
async fn type_since_elements_and_type_filter() {
    let server = TestServer::start().await;
    let p1 = create(&server, patient("One")).await;
    let keep = create(&server, observation(&p1, "1-1", "final")).await;
    let _other = create(&server, observation(&p1, "2-2", "final")).await;
    let _prelim = create(&server, observation(&p1, "1-1", "preliminary")).await;
    let gone = create(&server, patient("Gone")).await;

    let (manifest, _) = server.await_manifest(&server.kickoff_export("$export?_type=Observation&_typeFilter=Observation%3Fcode%3Dhttp%3A%2F%2Floinc.org%7C1-1%26status%3Dfinal").await).await;
    let files = download(&server, &manifest, "output").await;
    assert_eq!(files.keys().collect::<Vec<_>>(), ["Observation"]);
    assert_eq!(ids(&files["Observation"]), [keep], "_typeFilter");

    let (manifest, _) = server
        .await_manifest(
            &server
                .kickoff_export("$export?_type=Patient&_elements=gender")
                .await,
        )
        .await;
    let files = download(&server, &manifest, "output").await;
    for p in &files["Patient"] {
        assert!(p.get("name").is_none() && p["gender"] == "female", "{p}");
        assert_eq!(p["meta"]["tag"][0]["code"], "SUBSETTED");
    }

    // _since: what changed after it, with deletes in the deleted files and not in output.
    let since = manifest["transactionTime"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut updated = patient("One");
    updated["id"] = json!(p1);
    assert_eq!(
        server
            .send("PUT", &format!("Patient/{p1}"), Some(&updated), &[])
            .await
            .status,
        200
    );
    assert_eq!(
        server
            .send("DELETE", &format!("Patient/{gone}"), None, &[])
            .await
            .status,
        204
    );
    let path = format!("$export?_since={}", since.replace('+', "%2B"));
    let (manifest, _) = server
        .await_manifest(&server.kickoff_export(&path).await)
        .await;
    let files = download(&server, &manifest, "output").await;
    assert_eq!(files.keys().collect::<Vec<_>>(), ["Patient"], "{manifest}");
    assert_eq!(ids(&files["Patient"]), [p1]);
    assert_eq!(files["Patient"][0]["meta"]["versionId"], "2");
    let deleted = download(&server, &manifest, "deleted").await;
    let bundles = &deleted["Bundle"];
    assert_eq!(bundles.len(), 1);
    assert_eq!(bundles[0]["type"], "transaction");
    assert_eq!(
        bundles[0]["entry"][0]["request"],
        json!({"method": "DELETE", "url": format!("Patient/{gone}")})
    );
}

#[tokio::test]
async fn patient_and_group_exports_follow_compartments() {
    let server = TestServer::start().await;
    let a = create(&server, patient("A")).await;
    let b = create(&server, patient("B")).await;
    let c = create(&server, patient("C")).await;
    let oa = create(&server, observation(&a, "1", "final")).await;
    let ob = create(&server, observation(&b, "1", "final")).await;
    let _oc = create(&server, observation(&c, "1", "final")).await;
    let _org = create(
        &server,
        json!({"resourceType": "Organization", "name": "Org"}),
    )
    .await;
    let group = create(
        &server,
        json!({"resourceType": "Group", "type": "person", "actual": true,
        "member": [{"entity": {"reference": format!("Patient/{a}")}},
                   {"entity": {"reference": format!("Patient/{b}")}},
                   {"entity": {"reference": format!("Patient/{c}")}, "inactive": true}]}),
    )
    .await;

    let (manifest, _) = server
        .await_manifest(
            &server
                .kickoff_export(&format!("Group/{group}/$export"))
                .await,
        )
        .await;
    let files = download(&server, &manifest, "output").await;
    assert!(
        !files.contains_key("Organization"),
        "not in the Patient compartment"
    );
    assert_eq!(
        ids(&files["Patient"]),
        sorted(vec![a.clone(), b.clone()]),
        "inactive member left out"
    );
    assert_eq!(
        ids(&files["Observation"]),
        sorted(vec![oa.clone(), ob.clone()])
    );

    let (manifest, _) = server
        .await_manifest(
            &server
                .kickoff_export("Patient/$export?_type=Patient,Observation")
                .await,
        )
        .await;
    let files = download(&server, &manifest, "output").await;
    assert_eq!(files["Patient"].len(), 3);
    assert_eq!(files["Observation"].len(), 3);

    // POST with a Parameters body: `patient` narrows a Patient export.
    let params = json!({"resourceType": "Parameters", "parameter": [
        {"name": "patient", "valueReference": {"reference": format!("Patient/{b}")}},
        {"name": "_type", "valueString": "Observation"}]});
    let reply = server
        .send("POST", "Patient/$export", Some(&params), &KICKOFF)
        .await;
    assert_eq!(
        reply.status,
        202,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    let (manifest, _) = server
        .await_manifest(reply.header("content-location").unwrap())
        .await;
    assert_eq!(
        manifest["request"],
        format!("{}/Patient/$export", server.base)
    );
    let files = download(&server, &manifest, "output").await;
    assert_eq!(ids(&files["Observation"]), [ob]);

    server
        .send("GET", "Group/nope/$export", None, &KICKOFF)
        .await
        .outcome(404);
}

#[tokio::test]
async fn parquet_files() {
    let server = TestServer::start().await;
    create(&server, patient("P")).await;
    let (manifest, _) = server
        .await_manifest(
            &server
                .kickoff_export(
                    "$export?_outputFormat=application%2Fvnd.apache.parquet&_type=Patient",
                )
                .await,
        )
        .await;
    let file = &manifest["output"][0];
    assert_eq!(
        (file["type"].as_str(), file["count"].as_u64()),
        (Some("Patient"), Some(1))
    );
    let reply = server
        .send("GET", file["url"].as_str().unwrap(), None, &[])
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("application/vnd.apache.parquet")
    );
    assert!(
        reply.bytes.starts_with(b"PAR1") && reply.bytes.ends_with(b"PAR1"),
        "a Parquet file"
    );
}

#[tokio::test]
async fn bad_kickoffs_are_400() {
    let server = TestServer::start().await;
    let cases = [
        "$export?_outputFormat=text/csv",
        "$export?_type=NotAType",
        "$export?_since=yesterday",
        "$export?_typeFilter=Observation",
        "$export?unknown=1",
        "$export?patient=Patient/1",
    ];
    for path in cases {
        let reply = server.send("GET", path, None, &KICKOFF).await;
        assert_eq!(reply.outcome(400), "invalid", "{path}");
    }
    // Lenient handling drops what it can and reports it in the error file.
    let reply = server
        .send(
            "GET",
            "$export?_type=Patient,NotAType",
            None,
            &[("prefer", "respond-async, handling=lenient")],
        )
        .await;
    assert_eq!(reply.status, 202);
    let (manifest, _) = server
        .await_manifest(reply.header("content-location").unwrap())
        .await;
    let errors = download(&server, &manifest, "error").await;
    let text = errors["OperationOutcome"][0]["issue"][0]["diagnostics"]
        .as_str()
        .unwrap();
    assert!(text.contains("NotAType"), "{text}");
    let reply = server
        .send("GET", "$export-status/not-a-job", None, &[])
        .await;
    reply.outcome(404);
}

#[tokio::test]
async fn authorization_and_tenant_isolation() {
    let server = TestServer::start().await;
    create(&server, patient("P")).await;
    let read_patients = server.token("default", "system/Patient.rs");
    let (srv, tok) = (&server, &read_patients);
    let kick = move |path: &'static str| async move {
        srv.settle().await;
        srv.send_as(Some(tok), "GET", &srv.url(path), None, &KICKOFF)
            .await
    };
    kick("$export?_type=Observation").await.outcome(403);
    let reply = kick("$export").await;
    assert_eq!(reply.status, 202, "only the readable types are exported");
    let status_url = reply.header("content-location").unwrap().to_owned();
    let mut manifest = None;
    for _ in 0..60 {
        let r = server
            .send_as(Some(&read_patients), "GET", &status_url, None, &[])
            .await;
        if r.status == 200 {
            manifest = Some(r.json());
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let manifest = manifest.expect("finished");
    let types: Vec<&str> = manifest["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["Patient"]);

    // Another client of the same tenant, and another tenant, see no such job.
    let other_client =
        server.token_with("default", "system/*.rs", |c| c.sub = "someone-else".into());
    server
        .send_as(Some(&other_client), "GET", &status_url, None, &[])
        .await
        .outcome(404);
    let url = manifest["output"][0]["url"].as_str().unwrap();
    server
        .send_as(Some(&other_client), "GET", url, None, &[])
        .await
        .outcome(404);
    let foreign = status_url.replace("/tenant/default/", "/tenant/other/");
    let other_tenant = server.token("other", "system/*.rs");
    server
        .send_as(Some(&other_tenant), "GET", &foreign, None, &[])
        .await
        .outcome(404);
    server
        .send_as(Some(&other_tenant), "GET", &status_url, None, &[])
        .await
        .outcome(403);

    let patient_scope =
        server.token_with("default", "patient/*.rs", |c| c.patient = Some("x".into()));
    server
        .send_as(
            Some(&patient_scope),
            "GET",
            &server.url("Patient/$export"),
            None,
            &KICKOFF,
        )
        .await
        .outcome(403);
}

#[tokio::test]
async fn concurrency_limit_and_polling_too_fast() {
    // No workers: jobs stay accepted, so the limit and the polling rule show.
    let server = TestServer::with_export(test_export_options(), 0).await;
    let first = server.kickoff_export("$export").await;
    server.kickoff_export("$export").await;
    let reply = server.send("GET", "$export", None, &KICKOFF).await;
    assert_eq!(reply.outcome(429), "throttled");
    assert!(reply.header("retry-after").is_some());
    let other = server
        .send(
            "GET",
            &format!("{}/$export", server.tenant_base("other")),
            None,
            &KICKOFF,
        )
        .await;
    assert_eq!(other.status, 202, "the limit is per tenant");

    let poll = server.send("GET", &first, None, &[]).await;
    assert_eq!(poll.status, 202);
    let again = server.send("GET", &first, None, &[]).await;
    assert_eq!(again.outcome(429), "throttled");
    assert_eq!(again.header("retry-after"), Some("1"));

    // Cancelling an accepted job frees its slot.
    assert_eq!(server.send("DELETE", &first, None, &[]).await.status, 202);
    server.send("GET", &first, None, &[]).await.outcome(404);
    server.kickoff_export("$export").await;
}

#[tokio::test]
async fn files_roll_at_the_size_limit() {
    let options = hearth_workers::export::ExportOptions {
        file_bytes: 1,
        page: 2,
        ..test_export_options()
    };
    let server = TestServer::with_export(options, 1).await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(create(&server, patient(&format!("P{i}"))).await);
    }
    let (manifest, _) = server
        .await_manifest(&server.kickoff_export("$export?_type=Patient").await)
        .await;
    let counts: Vec<u64> = manifest["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["count"].as_u64().unwrap())
        .collect();
    assert_pages(&server, &counts, "one file per page at a 1-byte limit");
    let files = download(&server, &manifest, "output").await;
    assert_eq!(
        ids(&files["Patient"]),
        sorted(created),
        "no gaps, no duplicates"
    );
}

#[tokio::test]
async fn include_associated_provenance() {
    let server = TestServer::start().await;
    let p = create(&server, patient("P")).await;
    let o1 = create(&server, observation(&p, "1", "final")).await;
    let o2 = create(&server, observation(&p, "2", "final")).await;
    let org = create(
        &server,
        json!({"resourceType": "Organization", "name": "Org"}),
    )
    .await;
    let provenance = |target: String, recorded: &str| {
        json!({"resourceType": "Provenance", "target": [{"reference": target}], "recorded": recorded,
               "agent": [{"who": {"reference": format!("Organization/{org}")}}]})
    };
    let old = create(
        &server,
        provenance(format!("Observation/{o1}"), "2024-01-01T00:00:00Z"),
    )
    .await;
    let new = create(
        &server,
        provenance(format!("Observation/{o1}"), "2025-01-01T00:00:00Z"),
    )
    .await;
    let other = create(
        &server,
        provenance(format!("Observation/{o2}"), "2024-06-01T00:00:00Z"),
    )
    .await;
    create(
        &server,
        provenance(format!("Organization/{org}"), "2025-01-01T00:00:00Z"),
    )
    .await;

    let cases = [
        (
            "LatestProvenanceResources",
            sorted(vec![new.clone(), other.clone()]),
        ),
        ("RelevantProvenanceResources", sorted(vec![old, new, other])),
    ];
    for (value, expected) in cases {
        let path = format!("$export?_type=Observation&includeAssociatedData={value}");
        let (manifest, _) = server
            .await_manifest(&server.kickoff_export(&path).await)
            .await;
        let files = download(&server, &manifest, "output").await;
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            ["Observation", "Provenance"],
            "{value}"
        );
        assert_eq!(ids(&files["Provenance"]), expected, "{value}");
    }
}

#[tokio::test]
async fn signed_file_urls() {
    let server = TestServer::with_signed_export_urls().await;
    create(&server, patient("P")).await;
    let (manifest, _) = server
        .await_manifest(&server.kickoff_export("$export?_type=Patient").await)
        .await;
    assert_eq!(manifest["requiresAccessToken"], false);
    let url = manifest["output"][0]["url"].as_str().unwrap().to_owned();
    assert!(
        url.contains("?expires=") && url.contains("&signature="),
        "{url}"
    );
    let reply = server.send_as(None, "GET", &url, None, &[]).await;
    assert_eq!(reply.status, 200, "no token needed");
    assert_eq!(String::from_utf8(reply.bytes).unwrap().lines().count(), 1);

    let tampered = [
        url.replace("Patient-1", "Patient-2"),
        url.replace("expires=", "expires=1"),
        format!("{}0000", &url[..url.len() - 4]),
        url.replace("/tenant/default/", "/tenant/other/"),
        url.split('?').next().unwrap().to_owned(),
    ];
    for bad in tampered {
        let reply = server.send_as(None, "GET", &bad, None, &[]).await;
        assert_eq!(reply.status, 401, "{bad}");
    }
}

#[tokio::test]
async fn binary_goes_out_as_document_reference() {
    let server = TestServer::start().await;
    let reply = server
        .send_raw(
            "POST",
            "Binary",
            b"hello".to_vec(),
            &[("content-type", "text/plain")],
        )
        .await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let (manifest, _) = server
        .await_manifest(&server.kickoff_export("$export?_type=Binary").await)
        .await;
    let files = download(&server, &manifest, "output").await;
    let docs = &files["DocumentReference"];
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["id"], id.as_str());
    let attachment = &docs[0]["content"][0]["attachment"];
    assert_eq!(attachment["contentType"], "text/plain");
    let url = attachment["url"].as_str().unwrap();
    assert_eq!(url, format!("{}/Binary/{id}", server.base));
    let content = server
        .send("GET", url, None, &[("accept", "text/plain")])
        .await;
    assert_eq!(content.bytes, b"hello", "the URL serves the content");
}

#[tokio::test]
async fn parquet_files_end_at_a_row_count() {
    let options = hearth_workers::export::ExportOptions {
        parquet_file_rows: 2,
        page: 2,
        ..test_export_options()
    };
    let server = TestServer::with_export(options, 1).await;
    for i in 0..5 {
        create(&server, patient(&format!("P{i}"))).await;
    }
    let path = "$export?_type=Patient&_outputFormat=parquet";
    let (manifest, _) = server
        .await_manifest(&server.kickoff_export(path).await)
        .await;
    let counts: Vec<u64> = manifest["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["count"].as_u64().unwrap())
        .collect();
    assert_pages(&server, &counts, "a file ends at the row count");
}

/// File counts of 5 resources in files of at most 2: `[2, 2, 1]` in one walk; with the work
/// split into slices (AWS: one task per index shard) each slice's files follow the rule.
fn assert_pages(server: &TestServer, counts: &[u64], what: &str) {
    if server.export.resources.change_slices() == 1 {
        assert_eq!(counts, [2, 2, 1], "{what}");
    } else {
        assert_eq!(counts.iter().sum::<u64>(), 5, "{what}: {counts:?}");
        assert!(
            counts.iter().all(|c| (1..=2).contains(c)),
            "{what}: {counts:?}"
        );
    }
}
