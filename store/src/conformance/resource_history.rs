//! Conformance: history in every scope, newest first, with `since`, `at`, paging and totals.

use chrono::{DateTime, Duration, Utc};
use hearth_tenancy::TenantId;
use serde_json::json;

use super::{delete, fresh_tenant, key, must_write, put};
use crate::{ErrorKind, HistoryQuery, HistoryScope, Precondition, ResourceStore, StoredVersion};

fn query(count: usize) -> HistoryQuery {
    HistoryQuery {
        since: None,
        at: None,
        count,
        cursor: None,
    }
}

async fn all_pages(
    store: &dyn ResourceStore,
    tenant: &TenantId,
    scope: &HistoryScope,
    mut q: HistoryQuery,
) -> (Vec<StoredVersion>, u64) {
    let mut entries = Vec::new();
    let mut total = None;
    loop {
        let page = store.history(tenant, scope, &q).await.unwrap();
        assert!(
            page.entries.len() <= q.count,
            "a page holds at most count entries"
        );
        total.get_or_insert(page.total);
        entries.extend(page.entries);
        match page.next {
            Some(next) => q.cursor = Some(next),
            None => break,
        }
        assert!(entries.len() < 100_000, "history paging does not end");
    }
    (entries, total.unwrap_or(0))
}

fn ids(entries: &[StoredVersion]) -> Vec<String> {
    entries
        .iter()
        .map(|e| format!("{}/{}/{}", e.key.rt, e.key.id, e.version))
        .collect()
}

fn keys(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub(super) async fn scopes(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
    let (a, b, o) = (
        key("Patient", "a"),
        key("Patient", "b"),
        key("Observation", "o"),
    );
    let mut written = Vec::new();
    for op in [
        put(&a, json!({"resourceType": "Patient"}), Precondition::None),
        put(&b, json!({"resourceType": "Patient"}), Precondition::None),
        put(
            &o,
            json!({"resourceType": "Observation"}),
            Precondition::None,
        ),
        put(
            &a,
            json!({"resourceType": "Patient", "active": true}),
            Precondition::None,
        ),
        delete(&b, Precondition::None),
    ] {
        written.push(must_write(store, &tenant, op).await.0);
    }
    written.reverse();

    let page = store
        .history(&tenant, &HistoryScope::System, &query(100))
        .await
        .unwrap();
    assert_eq!(
        page.entries, written,
        "system history: every version, newest first, as stored"
    );
    assert_eq!((page.total, page.next), (5, None));
    assert!(
        page.entries
            .windows(2)
            .all(|w| w[0].last_updated >= w[1].last_updated),
        "last_updated never increases going back in history"
    );
    let time = |k: &str, version: u64| {
        page.entries
            .iter()
            .find(|e| {
                format!("{}/{}/{}", e.key.rt, e.key.id, e.version) == format!("{k}/{version}")
            })
            .map(|e| e.last_updated)
            .expect("version in history")
    };
    assert!(
        time("Patient/a", 1) < time("Patient/a", 2) && time("Patient/b", 1) < time("Patient/b", 2),
        "last_updated strictly increases across the versions of one resource"
    );
    assert!(page.entries[0].is_deleted(), "deletes are history entries");

    for (scope, expected, total) in [
        (
            HistoryScope::Type(a.rt),
            keys(&["Patient/b/2", "Patient/a/2", "Patient/b/1", "Patient/a/1"]),
            4,
        ),
        (HistoryScope::Type(o.rt), keys(&["Observation/o/1"]), 1),
        (
            HistoryScope::Type("Encounter".parse().unwrap()),
            keys(&[]),
            0,
        ),
        (
            HistoryScope::Instance(a.clone()),
            keys(&["Patient/a/2", "Patient/a/1"]),
            2,
        ),
        (
            HistoryScope::Instance(b.clone()),
            keys(&["Patient/b/2", "Patient/b/1"]),
            2,
        ),
        (HistoryScope::Instance(key("Patient", "zz")), keys(&[]), 0),
    ] {
        let page = store.history(&tenant, &scope, &query(100)).await.unwrap();
        assert_eq!(
            (ids(&page.entries), page.total, page.next.is_none()),
            (expected, total, true),
            "{scope:?}"
        );
    }
}

pub(super) async fn paging_is_stable(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
    for i in 0..7 {
        must_write(
            store,
            &tenant,
            put(
                &key("Patient", &format!("p{}", i % 3)),
                json!({"resourceType": "Patient"}),
                Precondition::None,
            ),
        )
        .await;
    }
    let full = store
        .history(&tenant, &HistoryScope::System, &query(100))
        .await
        .unwrap();
    assert_eq!(full.entries.len(), 7);
    let (paged, total) = all_pages(store, &tenant, &HistoryScope::System, query(3)).await;
    assert_eq!(
        (ids(&paged), total),
        (ids(&full.entries), 7),
        "pages of 3 add up to the whole"
    );
    let (paged, _) = all_pages(store, &tenant, &HistoryScope::System, query(1)).await;
    assert_eq!(ids(&paged), ids(&full.entries));

    // New versions arriving between pages do not shift the older pages.
    let first = store
        .history(&tenant, &HistoryScope::System, &query(3))
        .await
        .unwrap();
    assert_eq!((first.entries.len(), first.total), (3, 7));
    for i in 0..4 {
        must_write(
            store,
            &tenant,
            put(
                &key("Patient", &format!("new{i}")),
                json!({"resourceType": "Patient"}),
                Precondition::None,
            ),
        )
        .await;
    }
    let rest_query = HistoryQuery {
        cursor: first.next.clone(),
        ..query(3)
    };
    let (rest, _) = all_pages(store, &tenant, &HistoryScope::System, rest_query).await;
    let mut seen = ids(&first.entries);
    seen.extend(ids(&rest));
    assert_eq!(
        seen,
        ids(&full.entries),
        "no entry is skipped or repeated while writes arrive"
    );

    let bad = HistoryQuery {
        cursor: Some("not a cursor".into()),
        ..query(3)
    };
    let err = store
        .history(&tenant, &HistoryScope::System, &bad)
        .await
        .expect_err("a garbage cursor is rejected");
    assert_eq!(err.kind(), ErrorKind::Invalid);
}

pub(super) async fn since_and_at(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
    let (a, b, c) = (
        key("Patient", "a"),
        key("Patient", "b"),
        key("Patient", "c"),
    );
    let mut t = Vec::new();
    for op in [
        put(&a, json!({"resourceType": "Patient"}), Precondition::None),
        put(&a, json!({"resourceType": "Patient"}), Precondition::None),
        put(&b, json!({"resourceType": "Patient"}), Precondition::None),
        delete(&a, Precondition::None),
        put(&c, json!({"resourceType": "Patient"}), Precondition::None),
    ] {
        let written = must_write(store, &tenant, op).await.0.last_updated;
        t.push(written);
        // Writes within one millisecond may share it; wait so each version here has its own.
        while Utc::now() < written + Duration::milliseconds(1) {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
    assert!(
        t.windows(2).all(|w| w[0] < w[1]),
        "writes in later milliseconds get later last_updated: {t:?}"
    );
    let tenant = &tenant;
    let run = |since: Option<DateTime<Utc>>, at: Option<DateTime<Utc>>, scope: HistoryScope| {
        let q = HistoryQuery {
            since,
            at,
            ..query(100)
        };
        async move {
            let (entries, total) = all_pages(store, tenant, &scope, q).await;
            assert_eq!(
                entries.len() as u64,
                total,
                "total counts the matching versions"
            );
            ids(&entries)
        }
    };
    let all = keys(&[
        "Patient/c/1",
        "Patient/a/3",
        "Patient/b/1",
        "Patient/a/2",
        "Patient/a/1",
    ]);
    let ms = Duration::milliseconds(1);
    assert_eq!(
        run(Some(t[2]), None, HistoryScope::System).await,
        all[..3].to_vec(),
        "since is inclusive"
    );
    assert_eq!(
        run(Some(t[2] + ms), None, HistoryScope::System).await,
        all[..2].to_vec()
    );
    assert_eq!(
        run(Some(t[0] - Duration::days(1)), None, HistoryScope::System).await,
        all
    );
    assert_eq!(
        run(Some(t[4] + ms), None, HistoryScope::System).await,
        keys(&[])
    );
    // `at`: the version current at that instant and every later one.
    assert_eq!(
        run(None, Some(t[2]), HistoryScope::System).await,
        all[..4].to_vec(),
        "a/1 was replaced before t2"
    );
    assert_eq!(
        run(None, Some(t[1] - ms), HistoryScope::System).await,
        all,
        "a/1 was current just before t1"
    );
    assert_eq!(
        run(None, Some(t[0] - Duration::days(1)), HistoryScope::System).await,
        all
    );
    assert_eq!(
        run(None, Some(t[4] + Duration::days(1)), HistoryScope::System).await,
        all[..3].to_vec(),
        "the latest version of each resource"
    );
    assert_eq!(
        run(None, Some(t[2]), HistoryScope::Instance(a.clone())).await,
        keys(&["Patient/a/3", "Patient/a/2"])
    );
    assert_eq!(
        run(Some(t[3]), Some(t[2]), HistoryScope::System).await,
        all[..2].to_vec(),
        "since and at combine"
    );

    let q = HistoryQuery {
        since: Some(t[1]),
        ..query(2)
    };
    let page = store
        .history(tenant, &HistoryScope::System, &q)
        .await
        .unwrap();
    assert_eq!(
        (ids(&page.entries), page.total, page.next.is_some()),
        (all[..2].to_vec(), 4, true)
    );
    let page = store
        .history(
            tenant,
            &HistoryScope::System,
            &HistoryQuery {
                cursor: page.next,
                ..q
            },
        )
        .await
        .unwrap();
    assert_eq!((ids(&page.entries), page.next), (all[2..4].to_vec(), None));
}

/// Versions sharing an instant: `since` includes all of them, and `at` picks, per resource,
/// the version current at that instant (a resource's versions never share one).
pub(super) async fn since_and_at_with_shared_instants(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
    let (x, y) = (key("Patient", "x"), key("Patient", "y"));
    let patient = || json!({"resourceType": "Patient"});
    let outcomes = store
        .write(
            &tenant,
            vec![
                put(&x, patient(), Precondition::None),
                put(&y, patient(), Precondition::None),
            ],
        )
        .await
        .unwrap();
    let times: Vec<_> = outcomes
        .iter()
        .map(|o| match o {
            crate::WriteOutcome::Written { version, .. } => version.last_updated,
            other => panic!("unexpected outcome {other:?}"),
        })
        .collect();
    assert!(times[0] <= times[1]);
    // Right away, so x/2 likely shares y/1's millisecond; it must still be later than x/1.
    let x2 = must_write(store, &tenant, put(&x, patient(), Precondition::None))
        .await
        .0
        .last_updated;
    let x3 = must_write(store, &tenant, put(&x, patient(), Precondition::None))
        .await
        .0
        .last_updated;
    assert!(
        times[0] < x2 && x2 < x3,
        "one resource's versions have increasing last_updated"
    );
    assert!(
        times[1] <= x2,
        "last_updated does not decrease within a tenant"
    );

    let run = |since: Option<DateTime<Utc>>, at: Option<DateTime<Utc>>| {
        let q = HistoryQuery {
            since,
            at,
            ..query(100)
        };
        let tenant = &tenant;
        async move {
            let (entries, total) = all_pages(store, tenant, &HistoryScope::System, q).await;
            assert_eq!(entries.len() as u64, total);
            ids(&entries)
        }
    };
    let all = keys(&["Patient/x/3", "Patient/x/2", "Patient/y/1", "Patient/x/1"]);
    assert_eq!(run(Some(times[0]), None).await, all, "since is inclusive");
    assert_eq!(
        run(None, Some(times[0])).await,
        all,
        "x/1 is current at its own instant"
    );
    assert_eq!(
        run(None, Some(x2)).await,
        all[..3].to_vec(),
        "at x/2's instant x/2 is current, y/1 still is"
    );
    assert_eq!(
        run(None, Some(x3)).await,
        keys(&["Patient/x/3", "Patient/y/1"]),
        "at x/3's instant only the latest versions"
    );
}
