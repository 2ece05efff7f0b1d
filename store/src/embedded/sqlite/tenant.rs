//! The open handles of one tenant's SQLite file: the writer thread's queue and a small pool of
//! read-only connections used from `spawn_blocking`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::SqliteOptions;
use super::apply::Clock;
use super::cipher::{DbKey, encrypt_if_plaintext};
use super::schema::{open_reader, open_writer};
use super::writer::{GroupLimits, Writer};
use crate::{StoreError, WriteOp, WriteOutcome};

pub(super) struct TenantDb {
    path: PathBuf,
    busy_timeout: Duration,
    /// The file's SQLCipher key, for the read connections opened later.
    key: DbKey,
    /// Idle read connections; at most `read_connections` are in use at once.
    readers: Mutex<Vec<Connection>>,
    read_permits: Arc<Semaphore>,
    /// Dropped last (fields drop in order), after the read connections: the writer's connection
    /// is then the file's last and checkpoints the WAL as it closes.
    writer: Writer,
}

impl TenantDb {
    /// Opens (creating if needed) the file keyed with `key`, encrypting a file of an earlier
    /// version first, and starts the writer thread. Blocking.
    pub(super) fn open(
        name: &str,
        path: PathBuf,
        key: DbKey,
        options: &SqliteOptions,
    ) -> Result<TenantDb, StoreError> {
        if encrypt_if_plaintext(&path, &key)? {
            tracing::info!(
                tenant_id = name,
                "encrypted a tenant database of an earlier version"
            );
        }
        let conn = open_writer(&path, options.busy_timeout, &key)?;
        let clock = Clock::load(&conn)?;
        let limits = GroupLimits {
            max_requests: options.max_group.max(1),
            max_ops: options.max_group_ops.max(1),
        };
        let writer = Writer::spawn(name, (conn, &path), clock, limits, options.queue_depth)?;
        Ok(TenantDb {
            path,
            busy_timeout: options.busy_timeout,
            key,
            writer,
            readers: Mutex::new(Vec::new()),
            read_permits: Arc::new(Semaphore::new(options.read_connections.max(1))),
        })
    }

    /// Queues `ops` for the writer thread and waits until they are durable (or failed).
    pub(super) async fn write(&self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>, StoreError> {
        self.writer.write(ops).await
    }

    /// Runs `f` on a read connection on the blocking pool.
    pub(super) async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.read_permits)
            .acquire_owned()
            .await
            .map_err(|e| StoreError::internal("wait for a read connection", e))?;
        let db = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut conn = match db.readers.lock().ok().and_then(|mut idle| idle.pop()) {
                Some(conn) => conn,
                None => open_reader(&db.path, db.busy_timeout, &db.key)?,
            };
            let result = f(&mut conn);
            if let Ok(mut idle) = db.readers.lock() {
                idle.push(conn);
            }
            drop(permit);
            result
        })
        .await
        .map_err(|e| StoreError::internal("run read", e))?
    }
}
