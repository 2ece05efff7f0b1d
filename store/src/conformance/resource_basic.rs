//! Conformance: create, read, vread, update, delete, version numbering, server-set members,
//! preconditions, atomicity and duplicate keys.

use chrono::SecondsFormat;
use hearth_fhir::VersionId;
use serde_json::json;

use super::{delete, fresh_tenant, json_of, key, must_write, object, put, write_one};
use crate::{
    ErrorKind, Method, Precondition, ResourceStore, StoreError, WriteKind, WriteOp, WriteOutcome,
};

fn v(n: u64) -> VersionId {
    VersionId::new(n).expect("positive version")
}

pub(super) async fn create_read_vread(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
    let k = key("Patient", "p1");
    assert_eq!(
        store.read(&tenant, &k).await.unwrap(),
        None,
        "read of a resource that never existed"
    );
    assert!(
        store.write(&tenant, Vec::new()).await.unwrap().is_empty(),
        "an empty write writes nothing"
    );

    let (v1, created) = must_write(
        store,
        &tenant,
        put(
            &k,
            json!({"resourceType": "Patient", "active": true}),
            Precondition::None,
        ),
    )
    .await;
    assert!(created);
    assert_eq!(
        (v1.key.clone(), v1.version, v1.method, v1.blob.clone()),
        (k.clone(), v(1), Method::Put, None)
    );
    assert_eq!(
        v1.last_updated.timestamp_subsec_nanos() % 1_000_000,
        0,
        "last_updated has millisecond precision"
    );
    let body = json_of(&v1);
    assert_eq!(body["id"], "p1");
    assert_eq!(body["active"], true);
    assert_eq!(body["meta"]["versionId"], "1", "versionId is a string");
    let instant = v1.last_updated.to_rfc3339_opts(SecondsFormat::Millis, true);
    assert_eq!(
        body["meta"]["lastUpdated"],
        instant.as_str(),
        "lastUpdated is an instant with milliseconds"
    );

    assert_eq!(
        store.read(&tenant, &k).await.unwrap().as_ref(),
        Some(&v1),
        "read returns the stored bytes"
    );
    assert_eq!(
        store.vread(&tenant, &k, v(1)).await.unwrap().as_ref(),
        Some(&v1)
    );
    assert_eq!(
        store.vread(&tenant, &k, v(2)).await.unwrap(),
        None,
        "vread of a version not written"
    );
    assert_eq!(
        store
            .read(&tenant, &key("Observation", "p1"))
            .await
            .unwrap(),
        None,
        "the type is part of the key"
    );

    // The method and the blob reference are stored as given.
    let b = key("Binary", "b1");
    let op = WriteOp {
        key: b.clone(),
        kind: WriteKind::Put {
            body: object(json!({"resourceType": "Binary", "contentType": "text/plain"})),
            blob: Some("binary/b1-1".into()),
            method: Method::Post,
            index: Vec::new(),
        },
        precondition: Precondition::MustNotExist,
    };
    let (written, _) = must_write(store, &tenant, op).await;
    assert_eq!(
        (written.method, written.blob.as_deref()),
        (Method::Post, Some("binary/b1-1"))
    );
    assert_eq!(store.read(&tenant, &b).await.unwrap(), Some(written));
}

pub(super) async fn server_members_keep_order(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
    let k = key("Patient", "ordered");
    // Parsed from text, so the decimal keeps its written form (`arbitrary_precision`).
    let input: serde_json::Value = serde_json::from_str(
        r#"{"resourceType": "Patient",
            "meta": {"source": "urn:src", "versionId": "99", "tag": [{"code": "t"}]},
            "extension": [{"url": "http://x", "valueDecimal": 1.50}],
            "id": "client-said-otherwise",
            "name": [{"family": "Zed"}],
            "active": false}"#,
    )
    .unwrap();
    let (version, _) = must_write(store, &tenant, put(&k, input, Precondition::None)).await;
    let text = std::str::from_utf8(version.body.as_deref().unwrap())
        .unwrap()
        .to_owned();
    assert!(text.contains("1.50"), "numbers keep their text: {text}");
    let body = json_of(&version);
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["resourceType", "meta", "extension", "id", "name", "active"],
        "top-level order is kept"
    );
    assert_eq!(body["id"], "ordered", "the store sets id from the key");
    let meta = body["meta"].as_object().unwrap();
    assert_eq!(meta["versionId"], "1");
    assert!(meta.contains_key("lastUpdated"));
    let kept: Vec<&str> = meta
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "lastUpdated")
        .collect();
    assert_eq!(
        kept,
        ["source", "versionId", "tag"],
        "meta keeps its other members in order"
    );

    // Without id and meta, both are added; the client's members keep their order.
    let (bare, _) = must_write(
        store,
        &tenant,
        put(
            &key("Patient", "bare"),
            json!({"resourceType": "Patient", "b": 1, "a": 2}),
            Precondition::None,
        ),
    )
    .await;
    let body = json_of(&bare);
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|k| !["id", "meta"].contains(k))
        .collect();
    assert_eq!(keys, ["resourceType", "b", "a"]);
    assert_eq!(
        (body["id"].as_str(), body["meta"]["versionId"].as_str()),
        (Some("bare"), Some("1"))
    );
}

pub(super) async fn versions_continue_after_delete(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
    let k = key("Patient", "p");
    let body = |n: u64| json!({"resourceType": "Patient", "birthDate": format!("200{n}-01-01")});
    let (v1, _) = must_write(store, &tenant, put(&k, body(1), Precondition::None)).await;
    let (v2, created) = must_write(store, &tenant, put(&k, body(2), Precondition::None)).await;
    assert!(!created, "an update does not create");
    assert_eq!(v2.version, v(2));
    assert_eq!(json_of(&v2)["meta"]["versionId"], "2");

    let (v3, created) = must_write(store, &tenant, delete(&k, Precondition::None)).await;
    assert!(!created);
    assert_eq!(
        (v3.version, v3.method, v3.body.clone()),
        (v(3), Method::Delete, None)
    );
    let current = store
        .read(&tenant, &k)
        .await
        .unwrap()
        .expect("a deleted resource reads as its delete");
    assert!(current.is_deleted());
    assert_eq!(current, v3);
    assert_eq!(
        store.vread(&tenant, &k, v(2)).await.unwrap(),
        Some(v2.clone()),
        "old versions stay readable"
    );
    assert_eq!(
        store.vread(&tenant, &k, v(3)).await.unwrap(),
        Some(v3.clone())
    );
    assert_eq!(
        write_one(store, &tenant, delete(&k, Precondition::None))
            .await
            .unwrap(),
        WriteOutcome::Unchanged
    );

    let (v4, created) = must_write(store, &tenant, put(&k, body(4), Precondition::None)).await;
    assert!(created, "a write after a delete creates");
    assert_eq!(v4.version, v(4), "numbering continues after a delete");
    let times = [
        v1.last_updated,
        v2.last_updated,
        v3.last_updated,
        v4.last_updated,
    ];
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "last_updated strictly increases across the versions of one resource: {times:?}"
    );
}

pub(super) async fn delete_of_absent_is_unchanged(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
    let k = key("Patient", "never");
    assert_eq!(
        write_one(store, &tenant, delete(&k, Precondition::None))
            .await
            .unwrap(),
        WriteOutcome::Unchanged
    );
    assert_eq!(
        store.read(&tenant, &k).await.unwrap(),
        None,
        "an unchanged delete writes nothing"
    );
    assert_eq!(store.vread(&tenant, &k, v(1)).await.unwrap(), None);
}

fn assert_mismatch(result: Result<WriteOutcome, StoreError>, expected: u64, found: Option<u64>) {
    match result {
        Err(e @ StoreError::VersionMismatch { .. }) => {
            assert_eq!(e.kind(), ErrorKind::PreconditionFailed);
            let StoreError::VersionMismatch {
                expected: e_exp,
                found: e_found,
                ..
            } = e
            else {
                unreachable!()
            };
            assert_eq!(e_exp, v(expected));
            if let Some(found) = found {
                assert_eq!(e_found, Some(v(found)));
            }
        }
        other => panic!("expected VersionMismatch, got {other:?}"),
    }
}

pub(super) async fn preconditions(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
    let k = key("Patient", "pre");
    let body = || json!({"resourceType": "Patient"});
    let absent = write_one(
        store,
        &tenant,
        put(&k, body(), Precondition::VersionIs(v(1))),
    )
    .await;
    match absent {
        Err(StoreError::VersionMismatch { found: None, .. }) => {}
        other => panic!(
            "VersionIs on an absent resource: expected VersionMismatch with found None, got {other:?}"
        ),
    }
    assert_eq!(store.read(&tenant, &k).await.unwrap(), None);

    must_write(store, &tenant, put(&k, body(), Precondition::MustNotExist)).await;
    match write_one(store, &tenant, put(&k, body(), Precondition::MustNotExist)).await {
        Err(e @ StoreError::AlreadyExists { .. }) => assert_eq!(e.kind(), ErrorKind::Conflict),
        other => panic!("MustNotExist on a live resource: expected AlreadyExists, got {other:?}"),
    }
    let (v2, _) = must_write(
        store,
        &tenant,
        put(&k, body(), Precondition::VersionIs(v(1))),
    )
    .await;
    assert_eq!(v2.version, v(2));
    assert_mismatch(
        write_one(
            store,
            &tenant,
            put(&k, body(), Precondition::VersionIs(v(1))),
        )
        .await,
        1,
        Some(2),
    );
    assert_mismatch(
        write_one(store, &tenant, delete(&k, Precondition::VersionIs(v(3)))).await,
        3,
        Some(2),
    );
    let (v3, _) = must_write(store, &tenant, delete(&k, Precondition::VersionIs(v(2)))).await;
    assert_eq!(v3.version, v(3));
    assert_mismatch(
        write_one(
            store,
            &tenant,
            put(&k, body(), Precondition::VersionIs(v(3))),
        )
        .await,
        3,
        None,
    );
    let (v4, created) =
        must_write(store, &tenant, put(&k, body(), Precondition::MustNotExist)).await;
    assert!(created, "MustNotExist holds on a deleted resource");
    assert_eq!(v4.version, v(4));
    assert_eq!(
        store.vread(&tenant, &k, v(5)).await.unwrap(),
        None,
        "failed writes wrote nothing"
    );
}

pub(super) async fn multi_op_writes_are_atomic(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
    let body = || json!({"resourceType": "Patient"});
    let (a, b, c, d) = (
        key("Patient", "a"),
        key("Patient", "b"),
        key("Patient", "c"),
        key("Patient", "d"),
    );
    must_write(store, &tenant, put(&b, body(), Precondition::None)).await;

    let failing = vec![
        put(&a, body(), Precondition::None),
        put(&c, body(), Precondition::None),
        put(&b, body(), Precondition::MustNotExist),
    ];
    assert!(matches!(
        store.write(&tenant, failing).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let failing = vec![
        put(&b, body(), Precondition::VersionIs(v(1))),
        delete(&b, Precondition::None),
        put(&d, body(), Precondition::VersionIs(v(5))),
    ];
    assert!(matches!(
        store.write(&tenant, failing).await,
        Err(StoreError::DuplicateKey { .. } | StoreError::VersionMismatch { .. })
    ));
    let failing = vec![
        put(&b, body(), Precondition::VersionIs(v(1))),
        put(&d, body(), Precondition::VersionIs(v(5))),
    ];
    assert!(matches!(
        store.write(&tenant, failing).await,
        Err(StoreError::VersionMismatch { .. })
    ));
    for k in [&a, &c, &d] {
        assert_eq!(
            store.read(&tenant, k).await.unwrap(),
            None,
            "{k:?} must not be written by a failed write"
        );
    }
    assert_eq!(
        store.read(&tenant, &b).await.unwrap().unwrap().version,
        v(1),
        "b keeps its version"
    );

    let outcomes = store
        .write(
            &tenant,
            vec![
                put(&a, body(), Precondition::MustNotExist),
                delete(&b, Precondition::VersionIs(v(1))),
                delete(&c, Precondition::None),
            ],
        )
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 3, "one outcome per op");
    match &outcomes[..] {
        [
            WriteOutcome::Written {
                version: va,
                created: true,
            },
            WriteOutcome::Written {
                version: vb,
                created: false,
            },
            WriteOutcome::Unchanged,
        ] => {
            assert_eq!((&va.key, va.version), (&a, v(1)));
            assert_eq!((&vb.key, vb.version, vb.is_deleted()), (&b, v(2), true));
            assert!(
                va.last_updated <= vb.last_updated,
                "last_updated does not decrease across the ops of one write"
            );
        }
        other => panic!("unexpected outcomes {other:?}"),
    }
}

pub(super) async fn duplicate_keys_are_rejected(store: &dyn ResourceStore) {
    let tenant = fresh_tenant();
    let body = || json!({"resourceType": "Patient"});
    let x = key("Patient", "x");
    for ops in [
        vec![
            put(&x, body(), Precondition::None),
            put(&x, body(), Precondition::None),
        ],
        vec![
            put(&key("Patient", "y"), body(), Precondition::None),
            put(&x, body(), Precondition::None),
            delete(&x, Precondition::None),
        ],
    ] {
        match store.write(&tenant, ops).await {
            Err(e @ StoreError::DuplicateKey { .. }) => assert_eq!(e.kind(), ErrorKind::Conflict),
            other => panic!("expected DuplicateKey, got {other:?}"),
        }
    }
    assert_eq!(store.read(&tenant, &x).await.unwrap(), None);
    assert_eq!(
        store.read(&tenant, &key("Patient", "y")).await.unwrap(),
        None
    );
    let same_id_other_types = vec![
        put(&x, body(), Precondition::None),
        put(
            &key("Observation", "x"),
            json!({"resourceType": "Observation"}),
            Precondition::None,
        ),
    ];
    assert_eq!(
        store
            .write(&tenant, same_id_other_types)
            .await
            .unwrap()
            .len(),
        2,
        "the same id in two types is two keys"
    );
}
