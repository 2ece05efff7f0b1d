//! Conformance: `BlobStore` put, get, replace, delete, size limits, failed streams, isolation.

use bytes::Bytes;
use futures::StreamExt;
use hearth_tenancy::TenantId;

use super::fresh_tenant;
use crate::{BlobKey, BlobStore, ByteStream, ErrorKind, StoreError};

fn stream(chunks: Vec<Vec<u8>>) -> ByteStream {
    Box::pin(futures::stream::iter(
        chunks.into_iter().map(|c| Ok(Bytes::from(c))),
    ))
}

fn blob_key(s: &str) -> BlobKey {
    BlobKey::new(s).expect("valid blob key")
}

/// The blob's bytes, or `None` when `get` says `BlobNotFound`.
async fn fetch(store: &dyn BlobStore, tenant: &TenantId, key: &BlobKey) -> Option<Vec<u8>> {
    match store.get(tenant, key).await {
        Ok((size, mut body)) => {
            let mut bytes = Vec::new();
            while let Some(chunk) = body.next().await {
                bytes.extend_from_slice(&chunk.expect("blob chunk"));
            }
            assert_eq!(size, bytes.len() as u64, "get reports the size it streams");
            Some(bytes)
        }
        Err(e @ StoreError::BlobNotFound(_)) => {
            assert_eq!(e.kind(), ErrorKind::NotFound);
            None
        }
        Err(other) => panic!("get {key:?}: {other}"),
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

pub(super) async fn put_get_replace_delete(store: &dyn BlobStore) {
    let tenant = fresh_tenant();
    let k = blob_key("binary/b1");
    assert_eq!(fetch(store, &tenant, &k).await, None);
    let chunks = vec![pattern(100_000, 1), pattern(7, 2), pattern(150_000, 3)];
    let whole: Vec<u8> = chunks.concat();
    assert_eq!(
        store
            .put(&tenant, &k, stream(chunks), 1 << 20)
            .await
            .unwrap(),
        whole.len() as u64
    );
    assert_eq!(fetch(store, &tenant, &k).await, Some(whole));

    let replacement = pattern(10, 9);
    assert_eq!(
        store
            .put(&tenant, &k, stream(vec![replacement.clone()]), 1 << 20)
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        fetch(store, &tenant, &k).await,
        Some(replacement),
        "put replaces"
    );

    store.delete(&tenant, &k).await.unwrap();
    assert_eq!(fetch(store, &tenant, &k).await, None);
    store
        .delete(&tenant, &k)
        .await
        .expect("deleting a deleted blob is Ok");
    store
        .delete(&tenant, &blob_key("never/there"))
        .await
        .expect("deleting an absent blob is Ok");
}

pub(super) async fn nested_and_empty_blobs(store: &dyn BlobStore) {
    let tenant = fresh_tenant();
    let (a, b) = (
        blob_key("exports/job-1/Patient.ndjson"),
        blob_key("exports/job-1/Observation.1.ndjson"),
    );
    store
        .put(&tenant, &a, stream(vec![b"a".to_vec()]), 10)
        .await
        .unwrap();
    store
        .put(&tenant, &b, stream(vec![b"b".to_vec()]), 10)
        .await
        .unwrap();
    assert_eq!(fetch(store, &tenant, &a).await, Some(b"a".to_vec()));
    store.delete(&tenant, &a).await.unwrap();
    assert_eq!(
        fetch(store, &tenant, &b).await,
        Some(b"b".to_vec()),
        "siblings are independent"
    );
    assert_eq!(
        fetch(store, &tenant, &blob_key("exports/job-1")).await,
        None,
        "a prefix is not a blob"
    );

    let empty = blob_key("empty");
    assert_eq!(
        store.put(&tenant, &empty, stream(vec![]), 0).await.unwrap(),
        0
    );
    assert_eq!(fetch(store, &tenant, &empty).await, Some(Vec::new()));
}

pub(super) async fn max_bytes_is_enforced(store: &dyn BlobStore) {
    let tenant = fresh_tenant();
    let k = blob_key("limited");
    assert_eq!(
        store
            .put(
                &tenant,
                &k,
                stream(vec![pattern(60, 0), pattern(40, 1)]),
                100
            )
            .await
            .unwrap(),
        100,
        "exactly max_bytes fits"
    );
    let kept = fetch(store, &tenant, &k).await.unwrap();
    let err = store
        .put(
            &tenant,
            &k,
            stream(vec![pattern(60, 2), pattern(41, 3)]),
            100,
        )
        .await
        .expect_err("101 bytes exceed 100");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(
        fetch(store, &tenant, &k).await,
        Some(kept),
        "a failed replace keeps the old blob"
    );
    let fresh = blob_key("too-big");
    assert!(
        store
            .put(&tenant, &fresh, stream(vec![pattern(101, 0)]), 100)
            .await
            .is_err()
    );
    assert_eq!(
        fetch(store, &tenant, &fresh).await,
        None,
        "nothing is kept of a blob over the limit"
    );
}

pub(super) async fn failed_streams_leave_nothing(store: &dyn BlobStore) {
    let tenant = fresh_tenant();
    let k = blob_key("broken");
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from(pattern(1000, 0))),
        Err(std::io::Error::other("client went away")),
    ];
    let body: ByteStream = Box::pin(futures::stream::iter(chunks));
    assert!(
        store.put(&tenant, &k, body, 1 << 20).await.is_err(),
        "a failing body fails the put"
    );
    assert_eq!(
        fetch(store, &tenant, &k).await,
        None,
        "a blob is visible only once complete"
    );
}

pub(super) async fn tenants_are_isolated(store: &dyn BlobStore) {
    let (t1, t2, t3) = (fresh_tenant(), fresh_tenant(), fresh_tenant());
    let k = blob_key("shared/name.bin");
    store
        .put(&t1, &k, stream(vec![b"one".to_vec()]), 10)
        .await
        .unwrap();
    store
        .put(&t2, &k, stream(vec![b"two".to_vec()]), 10)
        .await
        .unwrap();
    assert_eq!(fetch(store, &t1, &k).await, Some(b"one".to_vec()));
    assert_eq!(fetch(store, &t2, &k).await, Some(b"two".to_vec()));
    assert_eq!(fetch(store, &t3, &k).await, None);
    store.delete(&t1, &k).await.unwrap();
    assert_eq!(
        fetch(store, &t2, &k).await,
        Some(b"two".to_vec()),
        "a delete stays in its tenant"
    );
}
