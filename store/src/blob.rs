//! The `BlobStore` port: opaque bytes per tenant (Binary contents, export files), streamed.

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use hearth_tenancy::TenantId;

use crate::StoreError;

/// A stream of byte chunks.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// A blob's name within its tenant: `[A-Za-z0-9._-]` segments separated by `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    pub fn new(key: &str) -> Result<BlobKey, StoreError> {
        let ok = !key.is_empty()
            && key.split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            });
        if ok {
            Ok(BlobKey(key.to_owned()))
        } else {
            Err(StoreError::Invalid(format!("invalid blob key '{key}'")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Writes the stream under `key`, replacing any blob there; at most `max_bytes` are
    /// accepted, beyond that the write fails with `Invalid` and nothing is kept. Returns the
    /// size. The blob is visible only once complete.
    async fn put(
        &self,
        tenant: &TenantId,
        key: &BlobKey,
        body: ByteStream,
        max_bytes: u64,
    ) -> Result<u64, StoreError>;

    /// Streams the blob, with its size; `BlobNotFound` when absent.
    async fn get(&self, tenant: &TenantId, key: &BlobKey) -> Result<(u64, ByteStream), StoreError>;

    /// Removes the blob; Ok when it did not exist.
    async fn delete(&self, tenant: &TenantId, key: &BlobKey) -> Result<(), StoreError>;
}

/// Direct, credential-free read URLs of blobs (an object store's presigned GET), for handing a
/// blob to a client without the server in the path.
#[async_trait]
pub trait BlobUrls: Send + Sync + 'static {
    /// A URL that reads the tenant's blob `key` without further credentials until `ttl` has
    /// passed. It names exactly this tenant and key: it cannot be turned into another blob's
    /// URL. It does not check that the blob exists.
    async fn read_url(
        &self,
        tenant: &TenantId,
        key: &BlobKey,
        ttl: std::time::Duration,
    ) -> Result<String, StoreError>;
}
