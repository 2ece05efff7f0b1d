//! Quick, rough throughput of the embedded resource store: concurrent durable creates, then
//! concurrent reads, in a temporary data dir. Not a benchmark harness; the load driver is.
//!
//! `cargo run --release -p hearth-store --example embedded_throughput [tasks] [creates] [reads]`
//! (`HEARTH_INDEX=1` to write search index entries too)
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use hearth_fhir::ResourceType;
use hearth_fhir::search::extract::extract;
use hearth_fhir::search::index::index_entries;
use hearth_fhir::search::registry::Registry;
use hearth_store::embedded::{LocalKeyService, SqliteOptions, SqliteResourceStore};
use hearth_store::{
    Method, Precondition, ResourceKey, ResourceStore, WriteKind, WriteOp, WriteOutcome,
};
use hearth_tenancy::{TenantId, TenantRegistry};
use serde_json::json;

#[tokio::main]
async fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("a number"));
    let tasks = args.next().unwrap_or(64);
    let creates = args.next().unwrap_or(20_000);
    let reads = args.next().unwrap_or(200_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn ResourceStore> = Arc::new(SqliteResourceStore::new(
        TenantRegistry::new(dir.path()),
        SqliteOptions::default(),
        Arc::new(LocalKeyService::open(&dir.path().join("keys")).expect("key folder")),
    ));
    let tenant: TenantId = "bench".parse().unwrap();
    let rt: ResourceType = "Patient".parse().unwrap();
    // HEARTH_INDEX=1 writes each Patient's search index entries too; ids are UUIDs as the
    // server assigns them.
    let with_index = std::env::var_os("HEARTH_INDEX").is_some();
    let key = move |i: usize| {
        ResourceKey::new(
            rt,
            uuid::Uuid::from_u128(i as u128 * 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
                .to_string()
                .parse()
                .unwrap(),
        )
    };
    store.read(&tenant, &key(0)).await.unwrap();

    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (store, tenant) = (Arc::clone(&store), tenant.clone());
            tokio::spawn(async move {
                let mut last = None;
                for i in (t..creates).step_by(tasks) {
                    let body = json!({"resourceType": "Patient", "active": true,
                        "identifier": [{"system": "http://example.org/mrn", "value": format!("mrn-{i}")}],
                        "name": [{"family": "Doe", "given": ["Jane", "Q"]}], "gender": "female", "birthDate": "1970-01-01"});
                    let index = if with_index {
                        index_entries(&extract(Registry::r4(), &body), None)
                    } else {
                        Vec::new()
                    };
                    let serde_json::Value::Object(body) = body else { unreachable!() };
                    let op = WriteOp { key: key(i), kind: WriteKind::Put { body, blob: None, method: Method::Put, index }, precondition: Precondition::None };
                    if let Some(WriteOutcome::Written { version, .. }) = store.write(&tenant, vec![op]).await.unwrap().pop() {
                        last = Some(version.last_updated);
                    }
                }
                last
            })
        })
        .collect();
    let mut newest = None;
    for handle in handles {
        newest = newest.max(handle.await.unwrap());
    }
    let elapsed = started.elapsed();
    println!(
        "{creates} durable creates by {tasks} tasks: {:.0}/s ({elapsed:?})",
        creates as f64 / elapsed.as_secs_f64()
    );
    if let Some(newest) = newest {
        println!(
            "newest lastUpdated is {} ms ahead of the clock",
            (newest - chrono::Utc::now()).num_milliseconds()
        );
    }

    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (store, tenant) = (Arc::clone(&store), tenant.clone());
            tokio::spawn(async move {
                for n in (t..reads).step_by(tasks) {
                    let found = store.read(&tenant, &key(n * 7919 % creates)).await.unwrap();
                    assert!(found.is_some());
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "{reads} reads by {tasks} tasks: {:.0}/s ({elapsed:?})",
        reads as f64 / elapsed.as_secs_f64()
    );
}
