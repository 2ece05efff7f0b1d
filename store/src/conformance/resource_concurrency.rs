//! Conformance: tenant isolation, concurrent writers, and very large atomic writes.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use hearth_fhir::VersionId;
use hearth_tenancy::TenantId;
use serde_json::json;

use super::{delete, fresh_tenant, json_of, key, must_write, put, search_keys};
use crate::{
    HistoryQuery, HistoryScope, Precondition, ResourceStore, StoreError, StoredVersion,
    WriteOutcome,
};

fn all(count: usize) -> HistoryQuery {
    HistoryQuery {
        since: None,
        at: None,
        count,
        cursor: None,
    }
}

pub(super) async fn tenants_are_isolated(store: &dyn ResourceStore) {
    let (t1, t2, empty) = (fresh_tenant(), fresh_tenant(), fresh_tenant());
    let k = key("Patient", "same");
    let body = |tenant: &str| json!({"resourceType": "Patient", "identifier": [{"system": "http://t", "value": tenant}]});
    must_write(store, &t1, put(&k, body("one"), Precondition::MustNotExist)).await;
    let (created_in_t2, created) =
        must_write(store, &t2, put(&k, body("two"), Precondition::MustNotExist)).await;
    assert!(
        created,
        "the same key in another tenant is another resource"
    );
    assert_eq!(created_in_t2.version, VersionId::FIRST);
    must_write(
        store,
        &t2,
        put(&k, body("two"), Precondition::VersionIs(VersionId::FIRST)),
    )
    .await;
    must_write(store, &t1, delete(&k, Precondition::None)).await;

    let in_t2 = store
        .read(&t2, &k)
        .await
        .unwrap()
        .expect("t2 keeps its resource");
    assert_eq!((in_t2.version.get(), in_t2.is_deleted()), (2, false));
    assert_eq!(json_of(&in_t2)["identifier"][0]["value"], "two");
    assert!(store.read(&t1, &k).await.unwrap().unwrap().is_deleted());
    assert_eq!(store.read(&empty, &k).await.unwrap(), None);
    assert_eq!(
        store.vread(&empty, &k, VersionId::FIRST).await.unwrap(),
        None
    );

    for (tenant, value) in [(&t1, "one"), (&t2, "two")] {
        let page = store
            .history(tenant, &HistoryScope::System, &all(100))
            .await
            .unwrap();
        assert_eq!(page.total, 2);
        for entry in &page.entries {
            if let Some(body) = &entry.body {
                let json: serde_json::Value = serde_json::from_slice(body).unwrap();
                assert_eq!(
                    json["identifier"][0]["value"], value,
                    "history of {tenant} shows only its versions"
                );
            }
        }
    }
    let page = store
        .history(&empty, &HistoryScope::Instance(k.clone()), &all(100))
        .await
        .unwrap();
    assert_eq!((page.entries.len(), page.total), (0, 0));
    let by_value = |v: &str| format!("identifier={v}");
    assert!(
        search_keys(store, &t1, "Patient", &by_value("two"))
            .await
            .is_empty(),
        "search never crosses tenants"
    );
    assert!(
        search_keys(store, &t1, "Patient", &by_value("one"))
            .await
            .is_empty(),
        "deleted in t1"
    );
    assert_eq!(
        search_keys(store, &t2, "Patient", &by_value("two")).await,
        std::slice::from_ref(&k)
    );
    assert!(
        search_keys(store, &t2, "Patient", &by_value("one"))
            .await
            .is_empty()
    );
    store.forget_tenant(&t2).await;
    assert_eq!(
        store.read(&t2, &k).await.unwrap().unwrap().version.get(),
        2,
        "a forgotten handle reopens on use"
    );
}

pub(super) async fn racing_updates_have_one_winner(store: &Arc<dyn ResourceStore>) {
    let tenant = fresh_tenant();
    let k = key("Patient", "race");
    let (mut current, _) = must_write(
        store.as_ref(),
        &tenant,
        put(&k, json!({"resourceType": "Patient"}), Precondition::None),
    )
    .await;
    for round in 0..10 {
        let tasks: Vec<_> = (0..2)
            .map(|n| {
                let (store, tenant, k) = (Arc::clone(store), tenant.clone(), k.clone());
                let op = put(&k, json!({"resourceType": "Patient", "gender": if n == 0 { "male" } else { "female" }}), Precondition::VersionIs(current.version));
                tokio::spawn(async move { store.write(&tenant, vec![op]).await })
            })
            .collect();
        let mut wins = Vec::new();
        let mut losses = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(mut outcomes) => wins.push(outcomes.remove(0)),
                Err(StoreError::VersionMismatch { .. }) => losses += 1,
                Err(other) => panic!("round {round}: unexpected error {other}"),
            }
        }
        assert_eq!(
            (wins.len(), losses),
            (1, 1),
            "round {round}: exactly one If-Match update wins"
        );
        let Some(WriteOutcome::Written { version, .. }) = wins.pop() else {
            panic!("the winner wrote")
        };
        assert_eq!(version.version, current.version.next());
        current = version;
    }
}

pub(super) async fn racing_creates_have_one_winner(store: &Arc<dyn ResourceStore>) {
    let tenant = fresh_tenant();
    let k = key("Patient", "only-once");
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (store, tenant, op) = (
                Arc::clone(store),
                tenant.clone(),
                put(
                    &k,
                    json!({"resourceType": "Patient"}),
                    Precondition::MustNotExist,
                ),
            );
            tokio::spawn(async move { store.write(&tenant, vec![op]).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => created += 1,
            Err(StoreError::AlreadyExists { .. }) => {}
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!(created, 1, "MustNotExist lets one racing create through");
}

pub(super) async fn concurrent_creates(store: &Arc<dyn ResourceStore>) {
    let tenant = fresh_tenant();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let (store, tenant) = (Arc::clone(store), tenant.clone());
            let op = put(
                &key("Patient", &format!("c{i}")),
                json!({"resourceType": "Patient"}),
                Precondition::MustNotExist,
            );
            tokio::spawn(async move { store.write(&tenant, vec![op]).await })
        })
        .collect();
    let mut created = HashSet::new();
    for task in tasks {
        match task.await.expect("task").expect("concurrent create").pop() {
            Some(WriteOutcome::Written {
                version,
                created: true,
            }) => {
                assert_eq!(version.version, VersionId::FIRST);
                created.insert(version.key);
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(created.len(), 64, "every create wrote its own resource");
    let page = store
        .history(
            &tenant,
            &HistoryScope::Type(key("Patient", "x").rt),
            &all(100),
        )
        .await
        .unwrap();
    assert_eq!(page.total, 64);
    assert_non_decreasing_in_history_order(&page.entries);
}

/// `entries` are newest first: `last_updated` never increases going back.
fn assert_non_decreasing_in_history_order(entries: &[StoredVersion]) {
    for w in entries.windows(2) {
        assert!(
            w[0].last_updated >= w[1].last_updated,
            "last_updated does not decrease within a tenant in history order: {:?}/{} at {} after {:?}/{} at {}",
            w[1].key,
            w[1].version,
            w[1].last_updated,
            w[0].key,
            w[0].version,
            w[0].last_updated,
        );
    }
}

/// Every version of the tenant, newest first.
async fn full_history(store: &dyn ResourceStore, tenant: &TenantId) -> Vec<StoredVersion> {
    let mut q = all(10_000);
    let mut entries = Vec::new();
    loop {
        let page = store
            .history(tenant, &HistoryScope::System, &q)
            .await
            .unwrap();
        entries.extend(page.entries);
        match page.next {
            Some(next) => q.cursor = Some(next),
            None => return entries,
        }
    }
}

/// Many unconditional updates of one resource at once (likely several in one millisecond):
/// each version is later than the one before, and the tenant's order holds.
pub(super) async fn concurrent_updates_of_one_resource(store: &Arc<dyn ResourceStore>) {
    let tenant = fresh_tenant();
    let (k, other) = (key("Patient", "hot"), key("Patient", "cold"));
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let (store, tenant) = (Arc::clone(store), tenant.clone());
            // Every fourth write goes to another resource, interleaved with the bumps.
            let target = if i % 4 == 3 { &other } else { &k };
            let op = put(
                target,
                json!({"resourceType": "Patient"}),
                Precondition::None,
            );
            tokio::spawn(async move { store.write(&tenant, vec![op]).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("concurrent update");
    }
    let entries = full_history(store.as_ref(), &tenant).await;
    assert_eq!(entries.len(), 100);
    assert_non_decreasing_in_history_order(&entries);
    for resource in [&k, &other] {
        let mut versions: Vec<_> = entries.iter().filter(|e| &e.key == resource).collect();
        versions.sort_by_key(|e| e.version);
        assert!(
            versions
                .windows(2)
                .all(|w| w[0].last_updated < w[1].last_updated),
            "last_updated strictly increases across the versions of {resource:?}"
        );
    }
}

/// Under load (5,000 single creates at once, and a 10,000-op write among them, or the largest
/// write the store allows) no `last_updated` runs ahead of the wall clock: a tenant may share
/// a millisecond between many versions instead.
pub(super) async fn timestamps_follow_the_wall_clock(
    store: &Arc<dyn ResourceStore>,
    max_atomic_ops: Option<usize>,
) {
    let tenant = fresh_tenant();
    let mut tasks: Vec<_> = (0..5_000)
        .map(|i| {
            let (store, tenant) = (Arc::clone(store), tenant.clone());
            let op = put(
                &key("Patient", &format!("p{i}")),
                json!({"resourceType": "Patient"}),
                Precondition::MustNotExist,
            );
            tokio::spawn(async move { store.write(&tenant, vec![op]).await })
        })
        .collect();
    let big_ops = max_atomic_ops.map_or(10_000, |max| max.min(10_000));
    let big: Vec<_> = (0..big_ops)
        .map(|i| {
            put(
                &key("Observation", &format!("o{i}")),
                json!({"resourceType": "Observation", "status": "final"}),
                Precondition::MustNotExist,
            )
        })
        .collect();
    let big = {
        let (store, tenant) = (Arc::clone(store), tenant.clone());
        tokio::spawn(async move { store.write(&tenant, big).await })
    };
    tasks.insert(2_500, big);
    let mut written = 0;
    for task in tasks {
        written += task.await.expect("task").expect("write under load").len();
    }
    let now = Utc::now();
    assert_eq!(written, 5_000 + big_ops);

    let entries = full_history(store.as_ref(), &tenant).await;
    assert_eq!(entries.len(), 5_000 + big_ops);
    let latest = entries
        .iter()
        .map(|e| e.last_updated)
        .max()
        .expect("versions");
    assert!(
        latest <= now + Duration::seconds(1),
        "last_updated {latest} is more than 1 s ahead of the wall clock ({now})"
    );
    assert_non_decreasing_in_history_order(&entries);
}

/// The largest atomic write: 10,000 ops, or exactly `max_atomic_ops` on a store with a limit
/// (where one op more fails with `Invalid` and writes nothing). It commits whole, and one
/// failing op leaves nothing.
pub(super) async fn large_atomic_writes(store: &dyn ResourceStore, max_atomic_ops: Option<usize>) {
    let tenant = fresh_tenant();
    let n = max_atomic_ops.unwrap_or(10_000);
    let op = |i: usize, precondition| {
        put(
            &key("Observation", &format!("o{i}")),
            json!({"resourceType": "Observation", "status": "final", "valueInteger": i}),
            precondition,
        )
    };
    let outcomes = store
        .write(
            &tenant,
            (0..n).map(|i| op(i, Precondition::MustNotExist)).collect(),
        )
        .await
        .unwrap_or_else(|e| panic!("{n}-op write: {e}"));
    let now = Utc::now();
    assert_eq!(outcomes.len(), n);
    let mut previous = None;
    for (i, outcome) in outcomes.iter().enumerate() {
        match outcome {
            WriteOutcome::Written {
                version,
                created: true,
            } => {
                assert_eq!(version.key.id.as_str(), format!("o{i}"));
                assert!(
                    version.last_updated <= now + Duration::seconds(1),
                    "op {i}: last_updated {} is more than 1 s ahead of the wall clock ({now})",
                    version.last_updated
                );
                assert!(
                    previous <= Some(version.last_updated),
                    "op {i}: last_updated does not decrease across the ops of one write"
                );
                previous = Some(version.last_updated);
            }
            other => panic!("op {i}: unexpected outcome {other:?}"),
        }
    }
    let last = store
        .read(&tenant, &key("Observation", &format!("o{}", n - 1)))
        .await
        .unwrap()
        .expect("the last op is written");
    assert_eq!(json_of(&last)["valueInteger"], n - 1);

    // A write failing on its last op leaves nothing.
    let mut ops: Vec<_> = (n..2 * n - 1).map(|i| op(i, Precondition::None)).collect();
    ops.push(op(0, Precondition::MustNotExist));
    assert!(matches!(
        store.write(&tenant, ops).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(
        store
            .read(&tenant, &key("Observation", &format!("o{n}")))
            .await
            .unwrap(),
        None
    );

    // One op over the store's limit is refused whole.
    if let Some(max) = max_atomic_ops {
        let over: Vec<_> = (n..n + max + 1)
            .map(|i| op(i, Precondition::MustNotExist))
            .collect();
        match store.write(&tenant, over).await {
            Err(e @ StoreError::Invalid(_)) => assert_eq!(e.kind(), crate::ErrorKind::Invalid),
            other => panic!(
                "a write of {} ops should be Invalid, got {other:?}",
                max + 1
            ),
        }
        for i in [n, n + max] {
            assert_eq!(
                store
                    .read(&tenant, &key("Observation", &format!("o{i}")))
                    .await
                    .unwrap(),
                None,
                "a refused write writes nothing"
            );
        }
    }
    let page = store
        .history(&tenant, &HistoryScope::System, &all(1))
        .await
        .unwrap();
    assert_eq!(page.total, n as u64);
}
