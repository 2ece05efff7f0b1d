//! `SqliteJobs`: the embedded `JobStore` and `JobQueue`, one SQLite file for the deployment
//! (`{data_dir}/jobs.sqlite`), so `hearth serve` and `hearth worker` on one data dir share it.
//!
//! Every call is one short transaction on the blocking pool; SQLite's file lock orders writers
//! of several processes. Queue visibility is a `visible_at` instant: receiving a message moves
//! it into the future and gives it a fresh receipt, so a crashed worker's message comes back
//! when that instant passes, and its stale receipt can no longer ack or extend it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hearth_tenancy::TenantId;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::StoreError;
use crate::jobs::{Delivery, JobId, JobQueue, JobRecord, JobState, JobStore};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    tenant TEXT NOT NULL, id TEXT NOT NULL, active INTEGER NOT NULL, expires INTEGER NOT NULL,
    revision INTEGER NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (tenant, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jobs_by_expiry ON jobs (expires);
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY, queue TEXT NOT NULL, body TEXT NOT NULL,
    visible_at INTEGER NOT NULL, receipt TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    dead INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS queue_visible ON queue (queue, dead, visible_at);
";

fn err(context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Busy(format!("{context}: {e}"))
        }
        _ => StoreError::internal(context, e),
    }
}

pub struct SqliteJobs {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteJobs {
    /// Opens (creating) `{data_dir}/jobs.sqlite`.
    pub fn open(data_dir: &Path) -> Result<SqliteJobs, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::internal("create data folder", e))?;
        let path = data_dir.join("jobs.sqlite");
        let conn = Connection::open(&path).map_err(err("open jobs database"))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(err("set busy timeout"))?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(err("enable WAL"))?;
        conn.execute_batch(&format!("PRAGMA synchronous = FULL; {SCHEMA}"))
            .map_err(err("create jobs schema"))?;
        Ok(SqliteJobs {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection on the blocking pool (calls are short and serialized).
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .map_err(|e| StoreError::internal("lock jobs database", e))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::internal("run jobs call", e))?
    }
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

fn record(id: JobId, active: bool, expires: i64, revision: i64, doc: String) -> JobRecord {
    JobRecord {
        id,
        state: if active {
            JobState::Active
        } else {
            JobState::Finished
        },
        expires: DateTime::<Utc>::from_timestamp_millis(expires).unwrap_or_default(),
        doc,
        revision: revision as u64,
    }
}

#[async_trait]
impl JobStore for SqliteJobs {
    async fn create(
        &self,
        tenant: &TenantId,
        record: &JobRecord,
        max_active: usize,
    ) -> Result<bool, StoreError> {
        let (tenant, record) = (tenant.to_string(), record.clone());
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err("begin job create"))?;
            let active: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM jobs WHERE tenant = ?1 AND active = 1",
                    [&tenant],
                    |row| row.get(0),
                )
                .map_err(err("count active jobs"))?;
            if active as usize >= max_active {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO jobs (tenant, id, active, expires, revision, doc) VALUES (?1, ?2, ?3, ?4, 1, ?5)",
                params![
                    tenant,
                    record.id.as_str(),
                    record.state == JobState::Active,
                    millis(record.expires),
                    record.doc
                ],
            )
            .map_err(err("insert job"))?;
            tx.commit().map_err(err("commit job create"))?;
            Ok(true)
        })
        .await
    }

    async fn get(&self, tenant: &TenantId, id: &JobId) -> Result<Option<JobRecord>, StoreError> {
        let (tenant, id) = (tenant.to_string(), id.clone());
        self.run(move |conn| {
            conn.query_row(
                "SELECT active, expires, revision, doc FROM jobs WHERE tenant = ?1 AND id = ?2",
                params![tenant, id.as_str()],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()
            .map_err(err("read job"))
            .map(|found| found.map(|(a, e, r, d)| record(id, a, e, r, d)))
        })
        .await
    }

    async fn update(
        &self,
        tenant: &TenantId,
        record: &JobRecord,
    ) -> Result<Option<u64>, StoreError> {
        let (tenant, record) = (tenant.to_string(), record.clone());
        self.run(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE jobs SET active = ?1, expires = ?2, doc = ?3, revision = revision + 1
                     WHERE tenant = ?4 AND id = ?5 AND revision = ?6",
                    params![
                        record.state == JobState::Active,
                        millis(record.expires),
                        record.doc,
                        tenant,
                        record.id.as_str(),
                        record.revision as i64
                    ],
                )
                .map_err(err("update job"))?;
            Ok((changed == 1).then_some(record.revision + 1))
        })
        .await
    }

    async fn delete(&self, tenant: &TenantId, id: &JobId) -> Result<(), StoreError> {
        let (tenant, id) = (tenant.to_string(), id.clone());
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM jobs WHERE tenant = ?1 AND id = ?2",
                params![tenant, id.as_str()],
            )
            .map(|_| ())
            .map_err(err("delete job"))
        })
        .await
    }

    async fn expired(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(TenantId, JobId)>, StoreError> {
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT tenant, id FROM jobs WHERE expires <= ?1 LIMIT ?2")
                .map_err(err("prepare expired jobs"))?;
            let rows = stmt
                .query_map(params![millis(now), limit as i64], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(err("list expired jobs"))?;
            let mut out = Vec::new();
            for row in rows {
                let (tenant, id) = row.map_err(err("list expired jobs"))?;
                // Rows this adapter wrote always parse; skip anything else rather than fail.
                if let (Ok(tenant), Ok(id)) = (tenant.parse(), id.parse()) {
                    out.push((tenant, id));
                }
            }
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl JobQueue for SqliteJobs {
    async fn send(&self, queue: &str, body: &str) -> Result<(), StoreError> {
        let (queue, body) = (queue.to_owned(), body.to_owned());
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO queue (queue, body, visible_at) VALUES (?1, ?2, ?3)",
                params![queue, body, now_millis()],
            )
            .map(|_| ())
            .map_err(err("send message"))
        })
        .await
    }

    async fn receive(
        &self,
        queue: &str,
        visibility: Duration,
        max_attempts: u32,
    ) -> Result<Option<Delivery>, StoreError> {
        let queue = queue.to_owned();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(err("begin receive"))?;
            let now = now_millis();
            loop {
                let next: Option<(i64, String, u32)> = tx
                    .query_row(
                        "SELECT seq, body, attempts FROM queue
                         WHERE queue = ?1 AND dead = 0 AND visible_at <= ?2
                         ORDER BY visible_at, seq LIMIT 1",
                        params![queue, now],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )
                    .optional()
                    .map_err(err("receive message"))?;
                let Some((seq, body, attempts)) = next else {
                    tx.commit().map_err(err("commit receive"))?;
                    return Ok(None);
                };
                if attempts >= max_attempts {
                    tx.execute("UPDATE queue SET dead = 1 WHERE seq = ?1", [seq])
                        .map_err(err("dead-letter message"))?;
                    tracing::warn!(queue, seq, attempts, "message moved to dead letters");
                    continue;
                }
                let receipt = uuid::Uuid::new_v4().simple().to_string();
                let visible_at = now + visibility.as_millis() as i64;
                tx.execute(
                    "UPDATE queue SET visible_at = ?1, receipt = ?2, attempts = attempts + 1 WHERE seq = ?3",
                    params![visible_at, receipt, seq],
                )
                .map_err(err("hide message"))?;
                tx.commit().map_err(err("commit receive"))?;
                return Ok(Some(Delivery {
                    receipt,
                    body,
                    attempts: attempts + 1,
                }));
            }
        })
        .await
    }

    async fn extend(
        &self,
        queue: &str,
        receipt: &str,
        visibility: Duration,
    ) -> Result<bool, StoreError> {
        let (queue, receipt) = (queue.to_owned(), receipt.to_owned());
        self.run(move |conn| {
            conn.execute(
                "UPDATE queue SET visible_at = ?1 WHERE queue = ?2 AND receipt = ?3 AND dead = 0",
                params![now_millis() + visibility.as_millis() as i64, queue, receipt],
            )
            .map(|changed| changed == 1)
            .map_err(err("extend visibility"))
        })
        .await
    }

    async fn ack(&self, queue: &str, receipt: &str) -> Result<(), StoreError> {
        let (queue, receipt) = (queue.to_owned(), receipt.to_owned());
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM queue WHERE queue = ?1 AND receipt = ?2",
                params![queue, receipt],
            )
            .map(|_| ())
            .map_err(err("ack message"))
        })
        .await
    }

    async fn dead_letters(&self, queue: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let queue = queue.to_owned();
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT body FROM queue WHERE queue = ?1 AND dead = 1 ORDER BY seq LIMIT ?2",
                )
                .map_err(err("prepare dead letters"))?;
            let rows = stmt
                .query_map(params![queue, limit as i64], |row| row.get::<_, String>(0))
                .map_err(err("list dead letters"))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(err("list dead letters"))
        })
        .await
    }
}
