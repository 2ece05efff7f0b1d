//! `FsBlobStore`: the embedded `BlobStore`, one folder per tenant (`TenantRegistry::blob_dir`).
//!
//! A put streams into a temporary file next to its target (named with a `~`, which no blob
//! key contains), fsyncs it, renames it over the target and fsyncs the folder, so a blob is
//! visible only once complete and durable. A failed or cancelled put removes its temporary file.
//!
//! Contents are encrypted (`blob_seal`: AES-256-GCM segments under a fresh data key of the
//! tenant's key per blob, the wrapped key in the file's header), sealed and opened a segment
//! (64 KiB, microseconds of work) at a time as the bytes stream through.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use hearth_tenancy::{TenantId, TenantRegistry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::blob_seal::{self, Opener, SEGMENT, Sealer};
use crate::{BlobKey, BlobStore, ByteStream, DataKey, ErrorKind, KeyService, StoreError};

pub struct FsBlobStore {
    registry: TenantRegistry,
    keys: Arc<dyn KeyService>,
}

impl FsBlobStore {
    /// Blobs in the tenants' folders of `registry`, sealed with data keys of `keys` (which
    /// provisions a tenant's key on its first blob when it has none).
    pub fn new(registry: TenantRegistry, keys: Arc<dyn KeyService>) -> FsBlobStore {
        FsBlobStore { registry, keys }
    }

    /// A fresh data key of the tenant's key, provisioning that key when it has none.
    async fn data_key(&self, tenant: &TenantId) -> Result<DataKey, StoreError> {
        match self.keys.generate(tenant).await {
            Err(e) if e.kind() == ErrorKind::Invalid => {
                self.keys.provision(tenant).await?;
                self.keys.generate(tenant).await
            }
            other => other,
        }
    }

    fn path(&self, tenant: &TenantId, key: &BlobKey) -> PathBuf {
        // Keys are validated `/`-separated segments without `.` or `..`: safe to join.
        self.registry.blob_dir(tenant).join(key.as_str())
    }

    /// Seals, in place, the tenant's blobs written before encryption at rest (files that do
    /// not start with the sealed format's magic); the number sealed. Run once, when the
    /// tenant's plaintext database of an earlier version is encrypted.
    pub(crate) async fn seal_legacy_blobs(&self, tenant: &TenantId) -> Result<usize, StoreError> {
        let root = self.registry.blob_dir(tenant);
        let files = tokio::task::spawn_blocking(move || legacy_files(&root))
            .await
            .map_err(|e| StoreError::internal("list plaintext blobs", e))??;
        for key in &files {
            let file = tokio::fs::File::open(self.path(tenant, key))
                .await
                .map_err(io_err("open plaintext blob"))?;
            let body: ByteStream = Box::pin(tokio_util::io::ReaderStream::new(file));
            self.put(tenant, key, body, u64::MAX).await?;
        }
        Ok(files.len())
    }
}

/// The keys of the blob files under `root` that are not sealed (temporary files skipped).
fn legacy_files(root: &Path) -> Result<Vec<BlobKey>, StoreError> {
    use std::io::Read;
    let mut found = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("list plaintext blobs")(e)),
        };
        for entry in entries {
            let path = entry.map_err(io_err("list plaintext blobs"))?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Some(key) = path
                .strip_prefix(root)
                .ok()
                .and_then(|rel| rel.to_str())
                .and_then(|rel| BlobKey::new(rel).ok())
            else {
                continue;
            };
            let mut lead = [0u8; blob_seal::LEAD];
            let sealed = std::fs::File::open(&path)
                .and_then(|mut f| f.read_exact(&mut lead))
                .is_ok()
                && blob_seal::wrapped_len(&lead).is_some();
            if !sealed {
                found.push(key);
            }
        }
    }
    Ok(found)
}

fn io_err(context: &'static str) -> impl Fn(std::io::Error) -> StoreError {
    move |e| StoreError::internal(context, e)
}

/// Removes the temporary file unless disarmed (on error, early return or cancellation).
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    let dir = tokio::fs::File::open(dir)
        .await
        .map_err(io_err("open blob folder"))?;
    dir.sync_all().await.map_err(io_err("sync blob folder"))
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(
        &self,
        tenant: &TenantId,
        key: &BlobKey,
        mut body: ByteStream,
        max_bytes: u64,
    ) -> Result<u64, StoreError> {
        let target = self.path(tenant, key);
        let dir = target
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.registry.blob_dir(tenant));
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io_err("create blob folder"))?;
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("blob");
        let temp = TempFile {
            path: dir.join(format!(".{name}~{}", uuid::Uuid::new_v4().simple())),
            armed: true,
        };
        let mut file = tokio::fs::File::create(&temp.path)
            .await
            .map_err(io_err("create blob file"))?;
        let data_key = self.data_key(tenant).await?;
        let (mut sealer, header) =
            Sealer::new(&data_key.plaintext, &data_key.wrapped, tenant, key)?;
        drop(data_key);
        file.write_all(&header)
            .await
            .map_err(io_err("write blob"))?;
        let mut size = 0u64;
        // A full segment is sealed once more bytes follow it: the last one is marked last.
        let mut segment = Vec::with_capacity(SEGMENT);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(io_err("read blob body"))?;
            size += chunk.len() as u64;
            if size > max_bytes {
                return Err(StoreError::Invalid(format!(
                    "blob exceeds the limit of {max_bytes} bytes"
                )));
            }
            let mut rest = &chunk[..];
            while !rest.is_empty() {
                if segment.len() == SEGMENT {
                    let sealed = sealer.seal(&segment, false)?;
                    file.write_all(&sealed)
                        .await
                        .map_err(io_err("write blob"))?;
                    segment.clear();
                }
                let take = (SEGMENT - segment.len()).min(rest.len());
                segment.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
            }
        }
        let sealed = sealer.seal(&segment, true)?;
        file.write_all(&sealed)
            .await
            .map_err(io_err("write blob"))?;
        file.flush().await.map_err(io_err("write blob"))?;
        file.sync_all().await.map_err(io_err("sync blob"))?;
        drop(file);
        tokio::fs::rename(&temp.path, &target)
            .await
            .map_err(io_err("publish blob"))?;
        let mut temp = temp;
        temp.armed = false;
        sync_dir(&dir).await?;
        Ok(size)
    }

    async fn get(&self, tenant: &TenantId, key: &BlobKey) -> Result<(u64, ByteStream), StoreError> {
        let mut file = match tokio::fs::File::open(self.path(tenant, key)).await {
            Ok(file) => file,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                return Err(StoreError::BlobNotFound(key.as_str().to_owned()));
            }
            Err(e) => return Err(io_err("open blob")(e)),
        };
        let meta = file.metadata().await.map_err(io_err("stat blob"))?;
        if !meta.is_file() {
            return Err(StoreError::BlobNotFound(key.as_str().to_owned()));
        }
        let damaged =
            || StoreError::internal("open blob", format!("'{}' is damaged", key.as_str()));
        let mut lead = [0u8; blob_seal::LEAD];
        file.read_exact(&mut lead).await.map_err(|_| damaged())?;
        let wrapped_len = blob_seal::wrapped_len(&lead).ok_or_else(damaged)?;
        let mut rest = vec![0u8; blob_seal::header_rest_len(wrapped_len)];
        file.read_exact(&mut rest).await.map_err(|_| damaged())?;
        let body = meta
            .len()
            .checked_sub((lead.len() + rest.len()) as u64)
            .ok_or_else(damaged)?;
        let (segments, size) = blob_seal::layout(body).ok_or_else(damaged)?;
        let data_key = self
            .keys
            .unwrap(tenant, blob_seal::wrapped_of(&rest))
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::Invalid => StoreError::TenantKeyGone(format!(
                    "the data key of blob '{}' of tenant {tenant}: {e}",
                    key.as_str()
                )),
                _ => e,
            })?;
        let opener = Opener::new(&data_key, &rest, tenant, key, segments)?;
        let stream = futures::stream::try_unfold(
            (file, opener, body),
            |(mut file, mut opener, remaining)| async move {
                let Some(len) = opener.next_len(remaining) else {
                    return Ok(None);
                };
                let mut sealed = vec![0u8; len];
                file.read_exact(&mut sealed).await?;
                let plain = opener.open(&sealed)?;
                Ok(Some((
                    Bytes::from(plain),
                    (file, opener, remaining - len as u64),
                )))
            },
        );
        Ok((size, Box::pin(stream)))
    }

    async fn delete(&self, tenant: &TenantId, key: &BlobKey) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path(tenant, key)).await {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(io_err("delete blob")(e)),
        }
    }
}
