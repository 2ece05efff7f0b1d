//! Conformance: tenant isolation, concurrent writers, and very large atomic writes.

use std::collections::HashSet;
use std::sync::Arc;

use hearth_fhir::VersionId;
use hearth_fhir::search::{Criterion, Token};
use serde_json::json;

use super::{delete, fresh_tenant, json_of, key, must_write, put};
use crate::{HistoryQuery, HistoryScope, Precondition, ResourceStore, StoreError, WriteOutcome};

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
    let by_value = |v: &str| {
        [Criterion::Identifier(vec![Token {
            system: None,
            code: Some(v.to_owned()),
        }])]
    };
    let rt = k.rt;
    assert!(
        store
            .find(&t1, rt, &by_value("two"), 10)
            .await
            .unwrap()
            .is_empty(),
        "find never crosses tenants"
    );
    assert!(
        store
            .find(&t1, rt, &by_value("one"), 10)
            .await
            .unwrap()
            .is_empty(),
        "deleted in t1"
    );
    assert_eq!(
        store.find(&t2, rt, &by_value("two"), 10).await.unwrap(),
        std::slice::from_ref(&k)
    );
    assert!(
        store
            .find(&t2, rt, &by_value("one"), 10)
            .await
            .unwrap()
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
    let mut stamps = HashSet::new();
    for task in tasks {
        match task.await.expect("task").expect("concurrent create").pop() {
            Some(WriteOutcome::Written {
                version,
                created: true,
            }) => {
                assert_eq!(version.version, VersionId::FIRST);
                stamps.insert(version.last_updated);
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(
        stamps.len(),
        64,
        "every version of a tenant has its own last_updated"
    );
    let page = store
        .history(
            &tenant,
            &HistoryScope::Type(key("Patient", "x").rt),
            &all(10),
        )
        .await
        .unwrap();
    assert_eq!(page.total, 64);
}

pub(super) async fn ten_thousand_ops_in_one_write(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
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
            (0..10_000)
                .map(|i| op(i, Precondition::MustNotExist))
                .collect(),
        )
        .await
        .expect("10,000-op write");
    assert_eq!(outcomes.len(), 10_000);
    for (i, outcome) in outcomes.iter().enumerate() {
        match outcome {
            WriteOutcome::Written {
                version,
                created: true,
            } => assert_eq!(version.key.id.as_str(), format!("o{i}")),
            other => panic!("op {i}: unexpected outcome {other:?}"),
        }
    }
    let last = store
        .read(&tenant, &key("Observation", "o9999"))
        .await
        .unwrap()
        .expect("the last op is written");
    assert_eq!(json_of(&last)["valueInteger"], 9999);

    // A 10,000-op write failing on its last op leaves nothing.
    let mut ops: Vec<_> = (10_000..19_999)
        .map(|i| op(i, Precondition::None))
        .collect();
    ops.push(op(0, Precondition::MustNotExist));
    assert!(matches!(
        store.write(&tenant, ops).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(
        store
            .read(&tenant, &key("Observation", "o10000"))
            .await
            .unwrap(),
        None
    );
    let page = store
        .history(&tenant, &HistoryScope::System, &all(1))
        .await
        .unwrap();
    assert_eq!(page.total, 10_000);
}
