//! Conformance: snapshots and `changes`, the reads behind `$export` (state as of a snapshot,
//! `since`, `until`, deletes, paging, tenants).

use std::time::Duration;

use hearth_tenancy::TenantId;
use serde_json::json;

use super::{delete, fresh_tenant, key, must_write, put};
use crate::{ChangesQuery, ErrorKind, Precondition, ResourceStore, Snapshot, StoredVersion};

fn query(rt: &str, snapshot: &Snapshot, count: usize) -> ChangesQuery {
    ChangesQuery {
        rt: rt.parse().expect("resource type"),
        upto: snapshot.mark.clone(),
        since: None,
        until: None,
        count,
        max_bytes: usize::MAX,
        cursor: None,
        slice: None,
    }
}

/// Every page of `q`, as `id/version` (`id/deleted` for a delete), sorted.
async fn all(store: &dyn ResourceStore, tenant: &TenantId, mut q: ChangesQuery) -> Vec<String> {
    let mut seen: Vec<StoredVersion> = Vec::new();
    loop {
        let page = store.changes(tenant, &q).await.expect("changes");
        assert!(page.versions.len() <= q.count, "a page holds at most count");
        seen.extend(page.versions);
        match page.next {
            Some(next) => q.cursor = Some(next),
            None => break,
        }
        assert!(seen.len() < 100_000, "changes paging does not end");
    }
    let mut out: Vec<String> = seen
        .iter()
        .map(|v| {
            assert_eq!(v.key.rt, q.rt, "only the asked type");
            if v.is_deleted() {
                format!("{}/deleted", v.key.id)
            } else {
                format!("{}/{}", v.key.id, v.version)
            }
        })
        .collect();
    out.sort();
    out
}

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A pause so the next write gets a later millisecond than the previous one.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

pub(super) async fn state_as_of_a_snapshot(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
    let empty = store.snapshot(&tenant).await.expect("snapshot");
    assert_eq!(
        all(store, &tenant, query("Patient", &empty, 10)).await,
        Vec::<String>::new()
    );
    let (a, b, gone, obs) = (
        key("Patient", "a"),
        key("Patient", "b"),
        key("Patient", "gone"),
        key("Observation", "o"),
    );
    let patient = json!({"resourceType": "Patient", "active": true});
    must_write(store, &tenant, put(&a, patient.clone(), Precondition::None)).await;
    must_write(store, &tenant, put(&b, patient.clone(), Precondition::None)).await;
    must_write(
        store,
        &tenant,
        put(&gone, patient.clone(), Precondition::None),
    )
    .await;
    let obs_body = json!({"resourceType": "Observation", "status": "final",
        "code": {"text": "x"}});
    must_write(store, &tenant, put(&obs, obs_body, Precondition::None)).await;
    must_write(store, &tenant, put(&a, patient.clone(), Precondition::None)).await;
    must_write(store, &tenant, delete(&gone, Precondition::None)).await;
    let snap = store.snapshot(&tenant).await.expect("snapshot");
    let (last, _) = must_write(store, &tenant, put(&b, patient.clone(), Precondition::None)).await;
    assert!(
        last.last_updated >= snap.at,
        "later writes are at or after the snapshot"
    );
    must_write(store, &tenant, delete(&a, Precondition::None)).await;
    must_write(
        store,
        &tenant,
        put(&key("Patient", "new"), patient, Precondition::None),
    )
    .await;

    let expected = list(&["a/2", "b/1", "gone/deleted"]);
    assert_eq!(
        all(store, &tenant, query("Patient", &snap, 1000)).await,
        expected
    );
    assert_eq!(
        all(store, &tenant, query("Patient", &snap, 1)).await,
        expected,
        "paged"
    );
    assert_eq!(
        all(store, &tenant, query("Observation", &snap, 10)).await,
        list(&["o/1"])
    );
    let now = store.snapshot(&tenant).await.expect("snapshot");
    assert_eq!(
        all(store, &tenant, query("Patient", &now, 2)).await,
        list(&["a/deleted", "b/2", "gone/deleted", "new/1"])
    );

    let page = store
        .changes(&tenant, &query("Patient", &snap, 10))
        .await
        .expect("changes");
    let a2 = page.versions.iter().find(|v| v.key == a).expect("a listed");
    let body: serde_json::Value =
        serde_json::from_slice(a2.body.as_ref().expect("body")).expect("json");
    assert_eq!(
        body["meta"]["versionId"], "2",
        "the body of the version at the snapshot"
    );

    let other = fresh_tenant();
    assert_eq!(
        all(store, &other, query("Patient", &now, 10)).await,
        Vec::<String>::new(),
        "another tenant sees nothing"
    );
}

pub(super) async fn since_and_until(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
    let (a, b, c) = (
        key("Patient", "a"),
        key("Patient", "b"),
        key("Patient", "c"),
    );
    let patient = json!({"resourceType": "Patient"});
    must_write(store, &tenant, put(&a, patient.clone(), Precondition::None)).await;
    tick().await;
    let (b1, _) = must_write(store, &tenant, put(&b, patient.clone(), Precondition::None)).await;
    tick().await;
    let (c1, _) = must_write(store, &tenant, put(&c, patient.clone(), Precondition::None)).await;
    tick().await;
    must_write(store, &tenant, delete(&b, Precondition::None)).await;
    let snap = store.snapshot(&tenant).await.expect("snapshot");

    let since = |t| ChangesQuery {
        since: Some(t),
        ..query("Patient", &snap, 1)
    };
    assert_eq!(
        all(store, &tenant, since(b1.last_updated)).await,
        list(&["b/deleted", "c/1"]),
        "since is inclusive and reports deletes"
    );
    assert_eq!(
        all(
            store,
            &tenant,
            since(snap.at + chrono::Duration::milliseconds(1))
        )
        .await,
        Vec::<String>::new()
    );
    let until = ChangesQuery {
        until: Some(c1.last_updated - chrono::Duration::milliseconds(1)),
        ..query("Patient", &snap, 10)
    };
    assert_eq!(
        all(store, &tenant, until).await,
        list(&["a/1", "b/1"]),
        "until: the state at that instant"
    );

    let bad = ChangesQuery {
        cursor: Some("not-a-cursor".into()),
        ..query("Patient", &snap, 10)
    };
    let err = store.changes(&tenant, &bad).await.expect_err("bad cursor");
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

/// The slices of a type are disjoint and together hold every resource, paged or not; a slice
/// beyond `change_slices()` is `Invalid`.
pub(super) async fn slices_partition_a_type(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
    let patient = json!({"resourceType": "Patient"});
    for i in 0..24 {
        let k = key("Patient", &format!("p{i}"));
        must_write(store, &tenant, put(&k, patient.clone(), Precondition::None)).await;
    }
    must_write(
        store,
        &tenant,
        delete(&key("Patient", "p3"), Precondition::None),
    )
    .await;
    let snap = store.snapshot(&tenant).await.expect("snapshot");
    let whole = all(store, &tenant, query("Patient", &snap, 1000)).await;
    assert_eq!(whole.len(), 24);
    let slices = store.change_slices();
    assert!(slices >= 1);
    let mut union = Vec::new();
    for slice in 0..slices {
        let q = |count| ChangesQuery {
            slice: Some(slice),
            ..query("Patient", &snap, count)
        };
        let one = all(store, &tenant, q(1000)).await;
        assert_eq!(all(store, &tenant, q(2)).await, one, "slice {slice} paged");
        union.extend(one);
    }
    union.sort();
    assert_eq!(union, whole, "the slices partition the type");
    let beyond = ChangesQuery {
        slice: Some(slices),
        ..query("Patient", &snap, 10)
    };
    let err = store
        .changes(&tenant, &beyond)
        .await
        .expect_err("no such slice");
    assert_eq!(err.kind(), ErrorKind::Invalid);
}
