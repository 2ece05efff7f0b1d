//! Staged writes on DynamoDB against the emulator: large writes are atomic, a failure leaves
//! nothing, a writer dying before or after the commit point is aborted or rolled forward, and
//! single writes racing a large one never interleave with it.
//!
//! Runs when `HEARTH_TEST_EMULATORS=1`, against the DynamoDB endpoint in
//! `HEARTH_TEST_AWS_ENDPOINT`; each test makes its own table.

mod crash;
mod fixture;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hearth_aws::dynamo::StopAfter;
use hearth_fhir::VersionId;
use hearth_store::{HistoryScope, Precondition, ResourceStore, StoreError, WriteOutcome};
use serde_json::json;

use crate::staged::fixture::{
    endpoint, fixture, history_total, key, leftovers, marker, obs, patient,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2000_op_write_is_atomic_and_leaves_nothing_behind() {
    let Some(endpoint) = endpoint("a_2000_op_write_is_atomic_and_leaves_nothing_behind") else {
        return;
    };
    let f = fixture(&endpoint, Duration::from_secs(30)).await;
    let started = Instant::now();
    let ops: Vec<_> = (0..2_000)
        .map(|i| obs(i, Precondition::MustNotExist))
        .collect();
    let outcomes = f.store.write(&f.tenant, ops).await.expect("2,000-op write");
    eprintln!("2,000-op staged write: {:?}", started.elapsed());
    assert_eq!(outcomes.len(), 2_000);
    let instants: std::collections::HashSet<_> = outcomes
        .iter()
        .map(|o| match o {
            WriteOutcome::Written {
                version,
                created: true,
            } => version.last_updated,
            other => panic!("unexpected outcome {other:?}"),
        })
        .collect();
    assert_eq!(instants.len(), 1, "one instant for the whole write");
    let keys: Vec<_> = (0..2_000)
        .map(|i| key("Observation", &format!("o{i}")))
        .collect();
    let read = f.store.read_many(&f.tenant, &keys).await.unwrap();
    for (i, version) in read.iter().enumerate() {
        let version = version.as_ref().unwrap_or_else(|| panic!("o{i} written"));
        assert_eq!(version.version, VersionId::FIRST);
    }
    let rt = keys[0].rt;
    assert_eq!(history_total(&f, HistoryScope::Type(rt)).await, 2_000);
    assert_eq!(leftovers(&f).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_op_in_a_2000_op_write_leaves_nothing() {
    let Some(endpoint) = endpoint("a_failing_op_in_a_2000_op_write_leaves_nothing") else {
        return;
    };
    let f = fixture(&endpoint, Duration::from_secs(30)).await;
    // A failure found by the first reads writes nothing at all.
    f.store
        .write(&f.tenant, vec![obs(1_500, Precondition::None)])
        .await
        .unwrap();
    let ops: Vec<_> = (0..2_000)
        .map(|i| obs(i, Precondition::MustNotExist))
        .collect();
    assert!(matches!(
        f.store.write(&f.tenant, ops).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(leftovers(&f).await, Vec::<String>::new());
    // A failure found after locking: o1000 is created by a write whose writer died right
    // after its commit point, so only the locked read (which rolls it forward) sees it.
    let dead: Vec<_> = (1_000..1_040).map(|i| obs(i, Precondition::None)).collect();
    f.store
        .write_staged_until(&f.tenant, dead, StopAfter::Commit)
        .await
        .unwrap();
    let mut ops: Vec<_> = (2_000..4_000)
        .map(|i| obs(i, Precondition::MustNotExist))
        .collect();
    ops[1_000] = obs(1_000, Precondition::MustNotExist);
    match f.store.write(&f.tenant, ops).await {
        Err(StoreError::AlreadyExists { id, .. }) => assert_eq!(id, "o1000"),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    for i in [2_000, 2_999, 3_999] {
        let k = key("Observation", &format!("o{i}"));
        assert_eq!(f.store.read(&f.tenant, &k).await.unwrap(), None, "o{i}");
    }
    // No lock is left on the failed write's resources: a single write goes through at once.
    let (tx, _) = tokio::time::timeout(
        Duration::from_secs(2),
        f.store
            .write(&f.tenant, vec![obs(2_500, Precondition::MustNotExist)]),
    )
    .await
    .map(|r| (r.expect("single write"), ()))
    .expect("not held");
    assert_eq!(tx.len(), 1);
    // The dead writer's write, rolled forward where met, is completed by a snapshot.
    f.store.snapshot(&f.tenant).await.unwrap();
    let rt = key("Observation", "x").rt;
    assert_eq!(history_total(&f, HistoryScope::Type(rt)).await, 1 + 40 + 1);
    assert_eq!(leftovers(&f).await, Vec::<String>::new());
}

/// Single updates racing a 2,000-op write on 10 of its resources, from before it starts
/// until it returns: each resource's versions are one sequence, each holding what its writer
/// wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn single_writes_racing_a_large_one_never_interleave() {
    let Some(endpoint) = endpoint("single_writes_racing_a_large_one_never_interleave") else {
        return;
    };
    let f = fixture(&endpoint, Duration::from_secs(30)).await;
    let shared: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    let first: Vec<_> = shared
        .iter()
        .map(|id| patient(id, "unknown", Precondition::None))
        .collect();
    f.store.write(&f.tenant, first).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let singles: Vec<_> = shared
        .iter()
        .map(|id| {
            let (store, tenant, done) = (f.store.clone(), f.tenant.clone(), done.clone());
            let op = patient(id, "male", Precondition::None);
            tokio::spawn(async move {
                let (mut written, mut busy) = (Vec::new(), 0);
                while !done.load(Ordering::SeqCst) {
                    match store.write(&tenant, vec![op.clone()]).await {
                        Ok(mut outcomes) => written.push(outcomes.pop()),
                        Err(StoreError::Busy(_)) => busy += 1,
                        Err(other) => panic!("unexpected {other}"),
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                (written, busy)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut big: Vec<_> = (0..1_990)
        .map(|i| patient(&format!("n{i}"), "female", Precondition::None))
        .collect();
    big.extend(
        shared
            .iter()
            .map(|id| patient(id, "female", Precondition::None)),
    );
    let large = f.store.write(&f.tenant, big).await.expect("large write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    done.store(true, Ordering::SeqCst);
    let mut written: Vec<(String, u64, &str)> = Vec::new();
    for outcome in large.into_iter().skip(1_990) {
        let WriteOutcome::Written { version, .. } = outcome else {
            panic!("written")
        };
        written.push((version.key.id.to_string(), version.version.get(), "female"));
    }
    let (mut singles_written, mut singles_busy) = (0, 0);
    for single in singles {
        let (outcomes, busy) = single.await.unwrap();
        singles_busy += busy;
        for outcome in outcomes {
            let Some(WriteOutcome::Written { version, .. }) = outcome else {
                panic!("written")
            };
            singles_written += 1;
            written.push((version.key.id.to_string(), version.version.get(), "male"));
        }
    }
    eprintln!("racing single writes: {singles_written} written, {singles_busy} busy");
    for id in &shared {
        let k = key("Patient", id);
        let mut mine: Vec<_> = written.iter().filter(|w| &w.0 == id).collect();
        mine.sort_by_key(|w| w.1);
        let versions: Vec<u64> = mine.iter().map(|w| w.1).collect();
        assert_eq!(
            versions,
            (2..2 + mine.len() as u64).collect::<Vec<_>>(),
            "{id}: one version per write, no version claimed twice"
        );
        let current = f.store.read(&f.tenant, &k).await.unwrap().expect("current");
        assert_eq!(current.version.get(), 1 + mine.len() as u64, "{id}");
        for (_, version, gender) in mine {
            let v = VersionId::new(*version).unwrap();
            let stored = f.store.vread(&f.tenant, &k, v).await.unwrap();
            let stored = stored.expect("version");
            assert_eq!(
                marker(&stored.body),
                json!(gender),
                "{id} version {version}"
            );
        }
    }
    assert_eq!(leftovers(&f).await, Vec::<String>::new());
}
