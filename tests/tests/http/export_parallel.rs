//! One export run by several workers at once: on AWS the job is split into tasks (one per
//! index shard) that the workers take from the queue; every resource must still appear exactly
//! once across the part files, for system and Patient-level exports.

use std::collections::{BTreeMap, BTreeSet};

use hearth_store::JobId;
use hearth_tests::{TestServer, patient, test_export_options};
use hearth_workers::export::Status;
use serde_json::{Value, json};

async fn create(server: &TestServer, body: Value) -> String {
    let rt = body["resourceType"].as_str().expect("type").to_owned();
    let reply = server.send("POST", &rt, Some(&body), &[]).await;
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.bytes)
    );
    reply.json()["id"].as_str().expect("id").to_owned()
}

/// Every output file of the manifest: `type -> ids` (with repeats), and the number of files.
async fn exported_ids(
    server: &TestServer,
    manifest: &Value,
) -> (BTreeMap<String, Vec<String>>, usize) {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let files = manifest["output"].as_array().expect("output");
    for file in files {
        let url = file["url"].as_str().expect("url");
        let reply = server.send("GET", url, None, &[]).await;
        assert_eq!(reply.status, 200, "{url}");
        let text = String::from_utf8(reply.bytes).expect("utf-8");
        assert_eq!(
            text.lines().count() as u64,
            file["count"].as_u64().expect("count"),
            "{url}"
        );
        for line in text.lines() {
            let value: Value = serde_json::from_str(line).expect("NDJSON line");
            let rt = value["resourceType"].as_str().expect("type").to_owned();
            out.entry(rt)
                .or_default()
                .push(value["id"].as_str().expect("id").to_owned());
        }
    }
    for ids in out.values_mut() {
        ids.sort();
    }
    (out, files.len())
}

#[tokio::test]
async fn two_workers_share_a_job_and_export_each_resource_once() {
    let server = TestServer::with_export(test_export_options(), 2).await;
    let (mut patients, mut observations) = (Vec::new(), Vec::new());
    for i in 0..24 {
        let p = create(&server, patient(&format!("Worker{i}"))).await;
        let obs = json!({"resourceType": "Observation", "status": "final",
            "code": {"text": "x"}, "subject": {"reference": format!("Patient/{p}")}});
        observations.push(create(&server, obs).await);
        patients.push(p);
    }
    // Not in any patient's compartment: only the system export has it.
    let lone = json!({"resourceType": "Observation", "status": "final", "code": {"text": "y"}});
    let lone = create(&server, lone).await;
    patients.sort();
    observations.sort();
    let mut all_observations = observations.clone();
    all_observations.push(lone);
    all_observations.sort();

    let tenant = "default".parse().expect("tenant");
    let slices = server.export.resources.change_slices() as usize;
    for (kickoff, expected_observations) in [
        ("$export?_type=Patient,Observation", &all_observations),
        ("Patient/$export?_type=Patient,Observation", &observations),
    ] {
        let status = server.kickoff_export(kickoff).await;
        let (manifest, _) = server.await_manifest(&status).await;
        let (ids, files) = exported_ids(&server, &manifest).await;
        assert_eq!(
            ids.get("Patient"),
            Some(&patients),
            "{kickoff}: each Patient once"
        );
        assert_eq!(
            ids.get("Observation"),
            Some(expected_observations),
            "{kickoff}: each Observation once"
        );

        let job: JobId = status
            .rsplit('/')
            .next()
            .expect("id")
            .parse()
            .expect("job id");
        let loaded = server
            .export
            .load(&tenant, &job)
            .await
            .expect("load the job")
            .expect("the job");
        let tasks = &loaded.job.tasks;
        assert_eq!(tasks.len(), slices, "{kickoff}: one task per slice");
        assert!(tasks.iter().all(|t| t.done), "{kickoff}: every task done");
        let workers: BTreeSet<&str> = tasks.iter().filter_map(|t| t.worker.as_deref()).collect();
        if slices > 1 {
            assert!(
                files > 2,
                "{kickoff}: part files of several tasks ({files})"
            );
            assert_eq!(
                workers.len(),
                2,
                "{kickoff}: both workers ran tasks: {tasks:?}"
            );
        } else {
            assert_eq!(workers.len(), 1, "{kickoff}: one task, one worker");
        }
    }
}

#[tokio::test]
async fn a_cancel_stops_the_tasks_of_a_running_job() {
    let server = TestServer::with_export(test_export_options(), 2).await;
    for i in 0..6 {
        create(&server, patient(&format!("Cancel{i}"))).await;
    }
    let tenant = "default".parse().expect("tenant");
    // Every type: the tasks take a while, so the cancel meets them running (or queued).
    let status = server.kickoff_export("$export").await;
    let job: JobId = status
        .rsplit('/')
        .next()
        .expect("id")
        .parse()
        .expect("job id");
    for _ in 0..100 {
        let loaded = server
            .export
            .load(&tenant, &job)
            .await
            .expect("load")
            .expect("job");
        if !loaded.job.tasks.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(server.send("DELETE", &status, None, &[]).await.status, 202);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let loaded = server
        .export
        .load(&tenant, &job)
        .await
        .expect("load")
        .expect("job");
    assert_eq!(
        loaded.job.status,
        Status::Cancelled,
        "no task completes a cancelled job"
    );
    server.send("GET", &status, None, &[]).await.outcome(404);
}
