//! `BlobStore` on S3: one bucket, the object `tenants/{tenant}/{blob key}`, optionally
//! encrypted with SSE-KMS under the tenant's key.
//!
//! A put streams the body: a body that fits in one part (8 MiB) is one `PutObject`; a larger
//! one is a multipart upload of 8 MiB parts, so at most one part is held in memory. The size
//! limit is checked while reading; on a breach, a failing body or a failed part the upload is
//! aborted, so nothing becomes visible (S3 shows an object only once complete). Uploads
//! orphaned by a crash are removed by the bucket's lifecycle rule (see [`create_bucket`]).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream as S3Body;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    CompletedMultipartUpload, CompletedPart, CreateBucketConfiguration, ExpirationStatus,
    LifecycleRule, LifecycleRuleFilter, ServerSideEncryption,
};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use hearth_store::{BlobKey, BlobStore, BlobUrls, ByteStream, StoreError};
use hearth_tenancy::TenantId;

use crate::config::{AwsClients, AwsConfig};
use crate::error::{error_code, sdk_error};

/// The size of every part of a multipart upload but the last.
const PART_SIZE: usize = 8 << 20;

/// Blobs of every tenant in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    /// The tenant key alias prefix when objects are encrypted with SSE-KMS.
    sse_kms_alias_prefix: Option<String>,
}

impl S3BlobStore {
    pub fn new(clients: &AwsClients, config: &AwsConfig) -> S3BlobStore {
        S3BlobStore {
            client: clients.s3.clone(),
            bucket: config.bucket_name(),
            sse_kms_alias_prefix: config.sse_kms.then(|| config.key_alias_prefix.clone()),
        }
    }

    /// A URL that reads the blob without credentials until `ttl` passes (at most 7 days).
    /// It does not check that the blob exists.
    pub async fn presign_get(
        &self,
        tenant: &TenantId,
        key: &BlobKey,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        let presigning = PresigningConfig::expires_in(ttl)
            .map_err(|e| StoreError::Invalid(format!("presigned url lifetime: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(object_key(tenant, key))
            .presigned(presigning)
            .await
            .map_err(|e| sdk_error("presign blob url", e))?;
        Ok(request.uri().to_owned())
    }

    /// The KMS key of the tenant's objects, when SSE-KMS is on.
    fn kms_key(&self, tenant: &TenantId) -> Option<String> {
        self.sse_kms_alias_prefix
            .as_ref()
            .map(|prefix| format!("{prefix}{tenant}"))
    }

    async fn put_single(
        &self,
        tenant: &TenantId,
        object: &str,
        body: Bytes,
    ) -> Result<(), StoreError> {
        let length = body.len() as i64;
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(object)
            .content_length(length)
            .set_tagging(tagging(tenant, object))
            .body(S3Body::from(body));
        if let Some(kms_key) = self.kms_key(tenant) {
            request = request
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(kms_key)
                .bucket_key_enabled(true);
        }
        request.send().await.map_err(|e| sdk_error("put blob", e))?;
        Ok(())
    }

    async fn start_multipart(&self, tenant: &TenantId, object: &str) -> Result<String, StoreError> {
        let mut request = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .set_tagging(tagging(tenant, object))
            .key(object);
        if let Some(kms_key) = self.kms_key(tenant) {
            request = request
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(kms_key)
                .bucket_key_enabled(true);
        }
        let output = request
            .send()
            .await
            .map_err(|e| sdk_error("start blob upload", e))?;
        output
            .upload_id
            .ok_or_else(|| StoreError::internal("start blob upload", "no upload id"))
    }

    /// Uploads the parts of a body larger than one part: `buffer` (a full part, read already)
    /// and the rest of `body`, then completes the upload. The caller aborts it on error.
    async fn upload_parts(
        &self,
        object: &str,
        upload_id: &str,
        mut buffer: BytesMut,
        body: &mut ByteStream,
        mut total: u64,
        max_bytes: u64,
    ) -> Result<u64, StoreError> {
        let mut parts = Vec::new();
        let mut ended = false;
        loop {
            while !ended && buffer.len() < PART_SIZE {
                match read_chunk(body, &mut total, max_bytes).await? {
                    Some(chunk) => buffer.extend_from_slice(&chunk),
                    None => ended = true,
                }
            }
            if buffer.is_empty() {
                break;
            }
            let take = buffer.len().min(PART_SIZE);
            let part = buffer.split_to(take).freeze();
            let number = parts.len() as i32 + 1;
            let output = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(object)
                .upload_id(upload_id)
                .part_number(number)
                .content_length(part.len() as i64)
                .body(S3Body::from(part))
                .send()
                .await
                .map_err(|e| sdk_error("upload blob part", e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(output.e_tag)
                    .build(),
            );
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(object)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| sdk_error("complete blob upload", e))?;
        Ok(total)
    }

    async fn abort(&self, object: &str, upload_id: &str) {
        let result = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(object)
            .upload_id(upload_id)
            .send()
            .await;
        if let Err(e) = result {
            // The bucket's lifecycle rule removes what is left.
            tracing::warn!(error = %sdk_error("abort blob upload", e), "upload not aborted");
        }
    }
}

/// The object key of a tenant's blob.
fn object_key(tenant: &TenantId, key: &BlobKey) -> String {
    format!("tenants/{tenant}/{}", key.as_str())
}

/// The next chunk of the body, counted against `max_bytes`.
async fn read_chunk(
    body: &mut ByteStream,
    total: &mut u64,
    max_bytes: u64,
) -> Result<Option<Bytes>, StoreError> {
    match body.next().await {
        None => Ok(None),
        Some(Err(e)) => Err(StoreError::internal("read blob body", e)),
        Some(Ok(chunk)) => {
            *total += chunk.len() as u64;
            if *total > max_bytes {
                return Err(StoreError::Invalid(format!(
                    "blob exceeds {max_bytes} bytes"
                )));
            }
            Ok(Some(chunk))
        }
    }
}

/// Presigned GETs (SigV4, so SSE-KMS objects read too); the signature covers the bucket and
/// the object key, which holds the tenant.
#[async_trait]
impl BlobUrls for S3BlobStore {
    async fn read_url(
        &self,
        tenant: &TenantId,
        key: &BlobKey,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        self.presign_get(tenant, key, ttl).await
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(
        &self,
        tenant: &TenantId,
        key: &BlobKey,
        mut body: ByteStream,
        max_bytes: u64,
    ) -> Result<u64, StoreError> {
        let object = object_key(tenant, key);
        let mut total = 0;
        let mut buffer = BytesMut::new();
        while buffer.len() < PART_SIZE {
            match read_chunk(&mut body, &mut total, max_bytes).await? {
                Some(chunk) => buffer.extend_from_slice(&chunk),
                None => {
                    self.put_single(tenant, &object, buffer.freeze()).await?;
                    return Ok(total);
                }
            }
        }
        let upload_id = self.start_multipart(tenant, &object).await?;
        let result = self
            .upload_parts(&object, &upload_id, buffer, &mut body, total, max_bytes)
            .await;
        if result.is_err() {
            self.abort(&object, &upload_id).await;
        }
        result
    }

    async fn get(&self, tenant: &TenantId, key: &BlobKey) -> Result<(u64, ByteStream), StoreError> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(object_key(tenant, key))
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if error_code(&e) == Some("NoSuchKey") => {
                return Err(StoreError::BlobNotFound(key.as_str().to_owned()));
            }
            Err(e) => return Err(sdk_error("get blob", e)),
        };
        let size = output
            .content_length
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| StoreError::internal("get blob", "no content length"))?;
        let stream = futures::stream::unfold(output.body, |mut body| async move {
            body.next()
                .await
                .map(|chunk| (chunk.map_err(std::io::Error::other), body))
        });
        // Fused: callers may poll once more after the end (an `unfold` would panic).
        Ok((size, Box::pin(futures::StreamExt::fuse(stream))))
    }

    async fn delete(&self, tenant: &TenantId, key: &BlobKey) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(object_key(tenant, key))
            .send()
            .await
            .map_err(|e| sdk_error("delete blob", e))?;
        Ok(())
    }
}

/// The object tags: export files carry `hearth-object=export`, which the bucket's expiry rule
/// matches (lifecycle prefixes cannot hold the tenant wildcard).
fn tagging(tenant: &TenantId, object: &str) -> Option<String> {
    object
        .starts_with(&format!("tenants/{tenant}/exports/"))
        .then(|| "hearth-object=export".to_owned())
}

/// Creates the bucket when absent, with a lifecycle rule that removes multipart uploads left
/// incomplete for a day (by a crashed process). Ok when the bucket is ours already.
pub async fn create_bucket(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    region: &str,
) -> Result<(), StoreError> {
    let mut request = client.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(e) if error_code(&e) == Some("BucketAlreadyOwnedByYou") => {}
        Err(e) => return Err(sdk_error("create bucket", e)),
    }
    let rule = LifecycleRule::builder()
        .id("abort-incomplete-uploads")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(1)
                .build(),
        )
        .build()
        .map_err(|e| StoreError::internal("build bucket lifecycle rule", e))?;
    let lifecycle = BucketLifecycleConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(|e| StoreError::internal("build bucket lifecycle", e))?;
    client
        .put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(lifecycle)
        .send()
        .await
        .map_err(|e| sdk_error("set bucket lifecycle", e))?;
    Ok(())
}
