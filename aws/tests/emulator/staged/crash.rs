//! Writers dying before and after the commit point, and a write in progress holding its
//! resources.

use std::time::Duration;

use hearth_aws::dynamo::StopAfter;
use hearth_fhir::VersionId;
use hearth_store::{HistoryScope, Precondition, ResourceStore, StoreError, WriteOutcome};
use serde_json::json;

use crate::staged::fixture::{endpoint, fixture, history_total, key, leftovers, marker, patient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_dying_after_the_commit_point_is_rolled_forward() {
    let Some(endpoint) = endpoint("a_writer_dying_after_the_commit_point_is_rolled_forward") else {
        return;
    };
    let f = fixture(&endpoint, Duration::from_secs(30)).await;
    f.store
        .write(&f.tenant, vec![patient("p0", "male", Precondition::None)])
        .await
        .unwrap();
    let ops: Vec<_> = (0..100)
        .map(|i| patient(&format!("p{i}"), "female", Precondition::None))
        .collect();
    f.store
        .write_staged_until(&f.tenant, ops, StopAfter::Commit)
        .await
        .unwrap();
    let rt = key("Patient", "x").rt;
    assert_eq!(
        history_total(&f, HistoryScope::Type(rt)).await,
        1,
        "nothing applied"
    );
    // Reading one resource completes its op.
    let p0 = f
        .store
        .read(&f.tenant, &key("Patient", "p0"))
        .await
        .unwrap();
    let p0 = p0.expect("p0");
    assert_eq!((p0.version.get(), marker(&p0.body)), (2, json!("female")));
    assert_eq!(history_total(&f, HistoryScope::Type(rt)).await, 2);
    // A single write meeting another of its locks completes that op and goes on.
    let (v, _) = match f
        .store
        .write(
            &f.tenant,
            vec![patient(
                "p1",
                "other",
                Precondition::VersionIs(VersionId::FIRST),
            )],
        )
        .await
        .unwrap()
        .pop()
    {
        Some(WriteOutcome::Written { version, created }) => (version, created),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(v.version.get(), 2, "after the committed version 1");
    // The rest is completed on recovery (a snapshot runs it).
    assert_eq!(f.store.recover(&f.tenant).await.unwrap(), 1);
    assert_eq!(history_total(&f, HistoryScope::Type(rt)).await, 1 + 100 + 1);
    let p99 = f
        .store
        .read(&f.tenant, &key("Patient", "p99"))
        .await
        .unwrap();
    assert_eq!(p99.map(|v| v.version.get()), Some(1));
    assert_eq!(leftovers(&f).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_dying_before_the_commit_point_is_aborted() {
    let Some(endpoint) = endpoint("a_writer_dying_before_the_commit_point_is_aborted") else {
        return;
    };
    let f = fixture(&endpoint, Duration::from_millis(400)).await;
    f.store
        .write(&f.tenant, vec![patient("e", "male", Precondition::None)])
        .await
        .unwrap();
    let mut ops: Vec<_> = (0..50)
        .map(|i| patient(&format!("p{i}"), "female", Precondition::MustNotExist))
        .collect();
    ops.push(patient(
        "e",
        "female",
        Precondition::VersionIs(VersionId::FIRST),
    ));
    f.store
        .write_staged_until(&f.tenant, ops, StopAfter::Staging)
        .await
        .unwrap();
    // While its lock is young, reads see the state before it.
    let e = f.store.read(&f.tenant, &key("Patient", "e")).await.unwrap();
    assert_eq!(e.map(|v| marker(&v.body)), Some(json!("male")));
    assert_eq!(
        f.store
            .read(&f.tenant, &key("Patient", "p0"))
            .await
            .unwrap(),
        None
    );
    // Past the lock timeout a new write goes through; nothing of the dead write shows.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let written = f
        .store
        .write(
            &f.tenant,
            vec![patient(
                "e",
                "unknown",
                Precondition::VersionIs(VersionId::FIRST),
            )],
        )
        .await
        .expect("write after the timeout");
    assert!(
        matches!(&written[0], WriteOutcome::Written { version, .. } if version.version.get() == 2)
    );
    let keys: Vec<_> = (0..50).map(|i| key("Patient", &format!("p{i}"))).collect();
    assert!(
        f.store
            .read_many(&f.tenant, &keys)
            .await
            .unwrap()
            .iter()
            .all(Option::is_none)
    );
    let rt = key("Patient", "x").rt;
    assert_eq!(history_total(&f, HistoryScope::Type(rt)).await, 2);
    assert_eq!(
        leftovers(&f).await,
        Vec::<String>::new(),
        "reads removed the stale locks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_in_progress_holds_its_resources() {
    let Some(endpoint) = endpoint("a_write_in_progress_holds_its_resources") else {
        return;
    };
    let f = fixture(&endpoint, Duration::from_secs(30)).await;
    let ops: Vec<_> = (0..40)
        .map(|i| patient(&format!("p{i}"), "female", Precondition::None))
        .collect();
    f.store
        .write_staged_until(&f.tenant, ops, StopAfter::Staging)
        .await
        .unwrap();
    // The heartbeat stopped with the "writer", but 30 s have not passed: it holds.
    match f
        .store
        .write(&f.tenant, vec![patient("p3", "male", Precondition::None)])
        .await
    {
        Err(StoreError::Busy(_)) => {}
        other => panic!("expected Busy, got {other:?}"),
    }
    assert_eq!(
        f.store
            .read(&f.tenant, &key("Patient", "p3"))
            .await
            .unwrap(),
        None
    );
}
