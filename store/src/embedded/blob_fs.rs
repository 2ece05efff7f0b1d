//! `FsBlobStore`: the embedded `BlobStore`, one folder per tenant (`TenantRegistry::blob_dir`).
//!
//! A put streams into a temporary file next to its target (named with a `~`, which no blob
//! key contains), fsyncs it, renames it over the target and fsyncs the folder, so a blob is
//! visible only once complete and durable. A failed or cancelled put removes its temporary file.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures::StreamExt;
use hearth_tenancy::{TenantId, TenantRegistry};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use crate::{BlobKey, BlobStore, ByteStream, StoreError};

const READ_CHUNK: usize = 64 * 1024;

pub struct FsBlobStore {
    registry: TenantRegistry,
}

impl FsBlobStore {
    pub fn new(registry: TenantRegistry) -> FsBlobStore {
        FsBlobStore { registry }
    }

    fn path(&self, tenant: &TenantId, key: &BlobKey) -> PathBuf {
        // Keys are validated `/`-separated segments without `.` or `..`: safe to join.
        self.registry.blob_dir(tenant).join(key.as_str())
    }
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
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(io_err("read blob body"))?;
            size += chunk.len() as u64;
            if size > max_bytes {
                return Err(StoreError::Invalid(format!(
                    "blob exceeds the limit of {max_bytes} bytes"
                )));
            }
            file.write_all(&chunk).await.map_err(io_err("write blob"))?;
        }
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
        let file = match tokio::fs::File::open(self.path(tenant, key)).await {
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
        Ok((
            meta.len(),
            Box::pin(ReaderStream::with_capacity(file, READ_CHUNK)),
        ))
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
