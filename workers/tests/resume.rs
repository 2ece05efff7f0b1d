//! Export jobs survive their worker: a worker stopped mid-export (its task dropped, as a
//! killed process leaves it) loses nothing, the next worker resumes from the last checkpoint,
//! and the files end up with every resource exactly once. Expired jobs go with their files.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use hearth_store::embedded::{FsBlobStore, LocalKeyService, SqliteOptions, SqliteResourceStore};
use hearth_store::{Method, Precondition, ResourceKey, ResourceStore, WriteKind, WriteOp};
use hearth_tenancy::{TenantId, TenantRegistry};
use hearth_workers::export::{
    ExportOptions, ExportService, ExportWorker, JobStatus, Level, Owner, parse_request, sweep_once,
};
use serde_json::{Value, json};

struct Setup {
    _dir: tempfile::TempDir,
    tenant: TenantId,
    service: Arc<ExportService>,
    ctx: Arc<hearth_workers::export::ExportContext>,
    queue: Arc<dyn hearth_store::JobQueue>,
}

async fn setup(options: ExportOptions, patients: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let registry = TenantRegistry::new(dir.path());
    let tenant: TenantId = "t1".parse().unwrap();
    registry.create(&tenant, "t1").unwrap();
    let keys: Arc<dyn hearth_store::KeyService> =
        Arc::new(LocalKeyService::open(&dir.path().join("keys")).unwrap());
    let store = Arc::new(SqliteResourceStore::new(
        registry.clone(),
        SqliteOptions::default(),
        keys.clone(),
    ));
    let blobs = Arc::new(FsBlobStore::new(registry, keys.clone()));
    let ops = (0..patients)
        .map(|i| WriteOp {
            key: ResourceKey::new("Patient".parse().unwrap(), format!("p{i}").parse().unwrap()),
            kind: WriteKind::Put {
                body: json!({"resourceType": "Patient", "gender": "other"})
                    .as_object()
                    .unwrap()
                    .clone(),
                blob: None,
                method: Method::Put,
                index: Vec::new(),
            },
            precondition: Precondition::None,
        })
        .collect();
    store.write(&tenant, ops).await.unwrap();
    let (ctx, queue) = hearth_workers::embedded_export(
        dir.path(),
        store,
        blobs,
        Arc::new(hearth_store::Envelope::new(keys)),
        options,
    )
    .unwrap();
    let service = hearth_workers::export_service(&ctx, &queue);
    Setup {
        _dir: dir,
        tenant,
        service,
        ctx,
        queue,
    }
}

fn owner() -> Owner {
    Owner {
        subject: "s".into(),
        client_id: Some("c".into()),
    }
}

async fn kickoff(s: &Setup) -> hearth_store::JobId {
    let (request, warnings) =
        parse_request(Level::System, &[("_type".into(), "Patient".into())], false).unwrap();
    s.service
        .kickoff(
            &s.tenant,
            owner(),
            request,
            warnings,
            "http://h/$export".into(),
            "http://h".into(),
        )
        .await
        .unwrap()
}

/// Waits for the manifest, polling no faster than allowed.
async fn manifest(s: &Setup, id: &hearth_store::JobId) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match s
            .service
            .status(&s.tenant, &owner(), id)
            .await
            .unwrap()
            .expect("job")
        {
            JobStatus::Completed { manifest, .. } => return manifest,
            JobStatus::Failed { message } => panic!("failed: {message}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "export did not finish");
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
}

/// Every exported id, asserting none appears twice.
async fn exported_ids(s: &Setup, id: &hearth_store::JobId, manifest: &Value) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for file in manifest["output"].as_array().unwrap() {
        let name = file["url"].as_str().unwrap().rsplit('/').next().unwrap();
        let (_, _, stream) = s
            .service
            .file(&s.tenant, Some(&owner()), id, name)
            .await
            .unwrap()
            .expect("file");
        let bytes: Vec<u8> = stream.map_ok(|b| b.to_vec()).try_concat().await.unwrap();
        for line in String::from_utf8(bytes).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let rid = v["id"].as_str().unwrap().to_owned();
            assert!(ids.insert(rid.clone()), "{rid} exported twice");
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_worker_loses_nothing_and_duplicates_nothing() {
    let options = ExportOptions {
        page: 10,
        file_bytes: 1,
        visibility: Duration::from_secs(1),
        poll_interval: Duration::from_secs(1),
        ..ExportOptions::default()
    };
    let s = setup(options, 400).await;
    let id = kickoff(&s).await;

    let first = tokio::spawn(ExportWorker::new(s.ctx.clone(), s.queue.clone()).run());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let loaded = s.ctx.load(&s.tenant, &id).await.unwrap().unwrap();
        if loaded.job.files.len() >= 5 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.abort();
    let _ = first.await;
    let at_stop = s.ctx.load(&s.tenant, &id).await.unwrap().unwrap();
    assert!(
        at_stop.job.files.len() < 40,
        "stopped mid-export ({} files)",
        at_stop.job.files.len()
    );

    // The message comes back after its visibility ends; a new worker resumes the job.
    let second = tokio::spawn(ExportWorker::new(s.ctx.clone(), s.queue.clone()).run());
    let manifest = manifest(&s, &id).await;
    second.abort();
    let ids = exported_ids(&s, &id, &manifest).await;
    let expected: BTreeSet<String> = (0..400).map(|i| format!("p{i}")).collect();
    assert_eq!(ids, expected, "every resource exactly once");
    let counts: u64 = manifest["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counts, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_jobs_and_files_are_removed() {
    let options = ExportOptions {
        ttl: Duration::from_millis(200),
        poll_interval: Duration::from_secs(1),
        ..ExportOptions::default()
    };
    let s = setup(options, 3).await;
    let id = kickoff(&s).await;
    let worker = tokio::spawn(ExportWorker::new(s.ctx.clone(), s.queue.clone()).run());
    let manifest = manifest(&s, &id).await;
    worker.abort();
    let name = manifest["output"][0]["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        s.service
            .file(&s.tenant, Some(&owner()), &id, &name)
            .await
            .unwrap()
            .is_some()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(sweep_once(&s.ctx).await.unwrap() >= 1);
    assert!(
        s.service
            .status(&s.tenant, &owner(), &id)
            .await
            .unwrap()
            .is_none(),
        "job gone"
    );
    let key = hearth_store::BlobKey::new(&format!("exports/{id}/{name}")).unwrap();
    let err = s
        .ctx
        .blobs
        .get(&s.tenant, &key)
        .await
        .err()
        .expect("file gone");
    assert_eq!(err.kind(), hearth_store::ErrorKind::NotFound);
}
