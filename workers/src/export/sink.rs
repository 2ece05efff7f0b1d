//! A file being written to the `BlobStore`: bytes go out in chunks through a bounded channel
//! while the store's `put` streams them (S3 multipart in AWS mode), so memory holds at most a
//! few chunks whatever the file size. The blob appears only once `finish` succeeds.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use hearth_store::{BlobKey, BlobStore, StoreError};
use hearth_tenancy::TenantId;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bytes gathered before a chunk is handed to the store.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between the writer and the store.
const DEPTH: usize = 4;

/// What goes through the channel: data, then `End` once the file is complete. A channel that
/// closes without `End` (the writer was dropped: a crash or a cancelled task) fails the put,
/// so a partial file is never stored.
enum Chunk {
    Data(Bytes),
    End,
}

pub struct Sink {
    /// `None` once closed.
    tx: Option<mpsc::Sender<Chunk>>,
    put: JoinHandle<Result<u64, StoreError>>,
    buf: Vec<u8>,
    bytes: u64,
}

impl Sink {
    pub fn open(blobs: Arc<dyn BlobStore>, tenant: TenantId, key: BlobKey, max_bytes: u64) -> Sink {
        let (tx, rx) = mpsc::channel::<Chunk>(DEPTH);
        let stream = futures::stream::unfold(Some(rx), |rx| async move {
            let mut rx = rx?;
            match rx.recv().await {
                Some(Chunk::Data(bytes)) => Some((Ok(bytes), Some(rx))),
                Some(Chunk::End) => None,
                None => Some((Err(std::io::Error::other("export file abandoned")), None)),
            }
        })
        .boxed();
        let put = tokio::spawn(async move { blobs.put(&tenant, &key, stream, max_bytes).await });
        Sink {
            tx: Some(tx),
            put,
            buf: Vec::with_capacity(CHUNK),
            bytes: 0,
        }
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes + self.buf.len() as u64
    }

    pub async fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.bytes += chunk.len() as u64;
        let sent = match &self.tx {
            Some(tx) => tx.send(Chunk::Data(chunk)).await.is_ok(),
            None => false,
        };
        if !sent {
            // The put ended early: its error says why.
            return Err(self.fail().await);
        }
        Ok(())
    }

    async fn fail(&mut self) -> StoreError {
        self.tx = None;
        match (&mut self.put).await {
            Ok(Err(e)) => e,
            Ok(Ok(_)) => StoreError::internal("write export file", "the store stopped reading"),
            Err(e) => StoreError::internal("write export file", e),
        }
    }

    /// Completes the file; returns its size.
    pub async fn finish(mut self) -> Result<u64, StoreError> {
        self.flush().await?;
        if let Some(tx) = self.tx.take()
            && tx.send(Chunk::End).await.is_err()
        {
            return Err(self.fail().await);
        }
        self.put
            .await
            .map_err(|e| StoreError::internal("write export file", e))?
    }

    /// Abandons the file: the store keeps nothing of it.
    pub async fn abort(self) {
        drop(self.tx);
        let _ = self.put.await;
    }
}
