//! The S3 `BlobStore` against the AWS stand-in: the conformance suite with and without
//! SSE-KMS, multipart uploads, what an aborted upload leaves, and presigned URLs.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::types::ServerSideEncryption;
use bytes::Bytes;
use futures::StreamExt;
use hearth_aws::{AwsClients, AwsConfig, KmsKeyService, S3BlobStore};
use hearth_store::conformance::blob_store_suite;
use hearth_store::{BlobKey, BlobStore, ByteStream, ErrorKind, KeyService};
use hearth_tenancy::TenantId;

const MIB: usize = 1 << 20;

fn tenant() -> TenantId {
    format!("t-{}", uuid::Uuid::new_v4().simple())
        .parse()
        .expect("tenant id")
}

/// A body of `total` bytes in chunks of `chunk` bytes; byte `i` is `i * 7 % 251`.
fn body(total: usize, chunk: usize) -> ByteStream {
    let chunks: Vec<_> = (0..total)
        .step_by(chunk)
        .map(|start| {
            let bytes: Vec<u8> = (start..(start + chunk).min(total))
                .map(|i| (i * 7 % 251) as u8)
                .collect();
            Ok(Bytes::from(bytes))
        })
        .collect();
    Box::pin(futures::stream::iter(chunks))
}

async fn read_all(mut stream: ByteStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.expect("chunk"));
    }
    bytes
}

async fn store(config: &AwsConfig) -> (AwsClients, S3BlobStore) {
    let clients = common::provisioned(config).await;
    let store = S3BlobStore::new(&clients, config);
    (clients, store)
}

#[tokio::test]
async fn conformance_without_sse_kms() {
    let Some(mut config) = common::emulator_config("conformance_without_sse_kms") else {
        return;
    };
    config.sse_kms = false;
    let (_, store) = store(&config).await;
    blob_store_suite(Arc::new(store)).await;
}

#[tokio::test]
async fn conformance_with_sse_kms() {
    let Some(config) = common::emulator_config("conformance_with_sse_kms") else {
        return;
    };
    let (_, store) = store(&config).await;
    blob_store_suite(Arc::new(store)).await;
}

#[tokio::test]
async fn large_blobs_are_multipart_and_encrypted_with_the_tenant_key() {
    let Some(config) = common::emulator_config("large_blobs_are_multipart") else {
        return;
    };
    let (clients, store) = store(&config).await;
    let tenant = tenant();
    KmsKeyService::new(&clients, &config)
        .provision(&tenant)
        .await
        .expect("provision tenant key");
    let key = BlobKey::new("exports/job/Patient.ndjson").unwrap();
    let size = 20 * MIB + 3;
    let written = store
        .put(&tenant, &key, body(size, 300_000), 64 * MIB as u64)
        .await
        .expect("put 20 MiB");
    assert_eq!(written, size as u64);

    let head = clients
        .s3
        .head_object()
        .bucket(config.bucket_name())
        .key(format!("tenants/{tenant}/exports/job/Patient.ndjson"))
        .send()
        .await
        .expect("head object");
    assert_eq!(
        head.server_side_encryption,
        Some(ServerSideEncryption::AwsKms)
    );
    let e_tag = head.e_tag.unwrap_or_default();
    assert!(e_tag.ends_with("-3\""), "three 8 MiB parts: {e_tag}");

    let (reported, stream) = store.get(&tenant, &key).await.expect("get");
    assert_eq!(reported, size as u64);
    let bytes = read_all(stream).await;
    assert_eq!(bytes.len(), size);
    assert!(
        bytes
            .iter()
            .enumerate()
            .all(|(i, b)| *b == (i * 7 % 251) as u8)
    );
}

#[tokio::test]
async fn a_breached_limit_aborts_the_upload() {
    let Some(mut config) = common::emulator_config("a_breached_limit_aborts_the_upload") else {
        return;
    };
    config.sse_kms = false;
    let (clients, store) = store(&config).await;
    let tenant = tenant();
    let key = BlobKey::new("too-big").unwrap();
    let err = store
        .put(&tenant, &key, body(18 * MIB, MIB), 17 * MIB as u64)
        .await
        .expect_err("over the limit after two parts");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let uploads = clients
        .s3
        .list_multipart_uploads()
        .bucket(config.bucket_name())
        .send()
        .await
        .expect("list uploads");
    assert!(uploads.uploads().is_empty(), "{:?}", uploads.uploads());
    assert!(matches!(
        store.get(&tenant, &key).await.map(|(size, _)| size),
        Err(hearth_store::StoreError::BlobNotFound(_))
    ));
}

#[tokio::test]
async fn presigned_urls_read_the_blob() {
    let Some(mut config) = common::emulator_config("presigned_urls_read_the_blob") else {
        return;
    };
    config.sse_kms = false;
    let (_, store) = store(&config).await;
    let tenant = tenant();
    let key = BlobKey::new("exports/j/Observation.ndjson").unwrap();
    store
        .put(&tenant, &key, body(1000, 100), 1000)
        .await
        .expect("put");
    let url = store
        .presign_get(&tenant, &key, Duration::from_secs(600))
        .await
        .expect("presign");
    assert!(
        url.contains(&format!("tenants/{tenant}/exports/j/Observation.ndjson")),
        "{url}"
    );
    assert!(url.contains("X-Amz-Expires=600"), "{url}");
    let response = reqwest::get(&url).await.expect("fetch presigned url");
    assert!(response.status().is_success(), "{}", response.status());
    let bytes = response.bytes().await.expect("body");
    assert_eq!(bytes.len(), 1000);
    assert!(
        bytes
            .iter()
            .enumerate()
            .all(|(i, b)| *b == (i * 7 % 251) as u8)
    );

    let too_long = store
        .presign_get(&tenant, &key, Duration::from_secs(8 * 24 * 3600))
        .await
        .expect_err("more than 7 days");
    assert_eq!(too_long.kind(), ErrorKind::Invalid);
}

#[tokio::test]
async fn bodies_of_whole_parts_have_no_empty_part() {
    let Some(mut config) = common::emulator_config("bodies_of_whole_parts") else {
        return;
    };
    config.sse_kms = false;
    let (clients, store) = store(&config).await;
    let tenant = tenant();
    for (size, parts) in [(8 * MIB, 1), (16 * MIB, 2), (8 * MIB + 1, 2)] {
        let key = BlobKey::new(&format!("b{size}")).unwrap();
        let written = store
            .put(&tenant, &key, body(size, 3 * MIB), size as u64)
            .await
            .unwrap_or_else(|e| panic!("put {size}: {e}"));
        assert_eq!(written, size as u64);
        let head = clients
            .s3
            .head_object()
            .bucket(config.bucket_name())
            .key(format!("tenants/{tenant}/b{size}"))
            .send()
            .await
            .expect("head object");
        let e_tag = head.e_tag.unwrap_or_default();
        assert!(e_tag.ends_with(&format!("-{parts}\"")), "{size}: {e_tag}");
        assert_eq!(head.content_length, Some(size as i64));
    }
}
