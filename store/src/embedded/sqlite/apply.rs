//! Applying the ops of one `write` call inside the writer's transaction: preconditions,
//! version numbering, the server-set members, and the three tables.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use hearth_fhir::VersionId;
use rusqlite::{Connection, OptionalExtension, params};

use super::index_write;
use super::schema::sql_err;
use crate::stamp::{format_instant, stamp};
use crate::{Method, Precondition, StoreError, StoredVersion, WriteKind, WriteOp, WriteOutcome};

/// Hands out `last_updated` values in milliseconds: non-decreasing per tenant, strictly
/// increasing per resource, and never ahead of the wall clock except as little as those two
/// rules need.
///
/// Each commit group takes one instant, the wall clock or the last value handed out if the
/// clock is behind it (stepped back). A version whose resource's previous version is not
/// earlier than that instant gets the previous version's time + 1 ms instead, and the rest of
/// the group (and later groups) continue from there so the tenant's values never decrease in
/// `seq` order.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    last_ms: i64,
}

impl Clock {
    pub(super) fn load(conn: &Connection) -> Result<Clock, StoreError> {
        let last_ms: Option<i64> = conn
            .query_row("SELECT MAX(last_updated) FROM versions", [], |row| {
                row.get(0)
            })
            .map_err(sql_err("read last timestamp"))?;
        Ok(Clock {
            last_ms: last_ms.unwrap_or(i64::MIN),
        })
    }

    /// Takes the instant of a new commit group.
    pub(super) fn start_group(&mut self) {
        self.last_ms = self.last_ms.max(Utc::now().timestamp_millis());
    }

    /// The `last_updated` of a new version whose resource's previous version (if any) has
    /// `previous_ms`.
    fn stamp(&mut self, previous_ms: Option<i64>) -> (i64, DateTime<Utc>) {
        if let Some(previous) = previous_ms {
            self.last_ms = self.last_ms.max(previous.saturating_add(1));
        }
        (
            self.last_ms,
            DateTime::from_timestamp_millis(self.last_ms).unwrap_or(DateTime::<Utc>::MAX_UTC),
        )
    }
}

pub(super) fn method_code(method: Method) -> i64 {
    match method {
        Method::Post => 0,
        Method::Put => 1,
        Method::Delete => 2,
    }
}

/// The current version of a resource: its number, whether it is a delete, and its time.
struct Current {
    version: u64,
    deleted: bool,
    last_updated_ms: i64,
    /// The resource's row id in the search index tables (the `seq` of its first version).
    rid: i64,
}

fn check(op: &WriteOp, current: Option<&Current>) -> Result<(), StoreError> {
    let (rt, id) = (op.key.rt, || op.key.id.to_string());
    match op.precondition {
        Precondition::None => Ok(()),
        Precondition::MustNotExist => match current {
            Some(c) if !c.deleted => Err(StoreError::AlreadyExists { rt, id: id() }),
            _ => Ok(()),
        },
        Precondition::VersionIs(expected) => match current {
            Some(c) if !c.deleted && c.version == expected.get() => Ok(()),
            found => Err(StoreError::VersionMismatch {
                rt,
                id: id(),
                expected,
                found: found.and_then(|c| VersionId::new(c.version)),
            }),
        },
    }
}

/// Applies `ops` in order on `conn` (inside a savepoint the caller rolls back on error).
pub(super) fn apply(
    conn: &Connection,
    ops: Vec<WriteOp>,
    clock: &mut Clock,
) -> Result<Vec<WriteOutcome>, StoreError> {
    let mut select = conn
        .prepare_cached(
            "SELECT version, deleted, last_updated, rid FROM current WHERE type = ?1 AND id = ?2",
        )
        .map_err(sql_err("prepare current lookup"))?;
    let mut insert_version = conn
        .prepare_cached(
            "INSERT INTO versions (type, id, version, last_updated, method, body, blob) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(sql_err("prepare version insert"))?;
    let mut upsert_current = conn
        .prepare_cached(
            "INSERT INTO current (type, id, version, seq, deleted, last_updated, rid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?4)
             ON CONFLICT (type, id) DO UPDATE SET version = excluded.version, seq = excluded.seq,
                 deleted = excluded.deleted, last_updated = excluded.last_updated",
        )
        .map_err(sql_err("prepare current upsert"))?;
    let mut outcomes = Vec::with_capacity(ops.len());
    for op in ops {
        let (rt, id) = (op.key.rt.as_str(), op.key.id.as_str());
        let current = select
            .query_row(params![rt, id], |row| {
                Ok(Current {
                    version: row.get::<_, i64>(0)? as u64,
                    deleted: row.get::<_, i64>(1)? != 0,
                    last_updated_ms: row.get(2)?,
                    rid: row.get(3)?,
                })
            })
            .optional()
            .map_err(sql_err("look up current version"))?;
        check(&op, current.as_ref())?;
        let live = current.as_ref().is_some_and(|c| !c.deleted);
        let version = current.as_ref().map_or(VersionId::FIRST, |c| {
            VersionId::new(c.version + 1).unwrap_or(VersionId::FIRST)
        });

        let (body, blob, method) = match op.kind {
            WriteKind::Delete if !live => {
                outcomes.push(WriteOutcome::Unchanged);
                continue;
            }
            WriteKind::Delete => (None, None, Method::Delete),
            WriteKind::Put {
                body,
                blob,
                method,
                index,
            } => (Some((body, index)), blob, method),
        };
        let (ms, last_updated) = clock.stamp(current.as_ref().map(|c| c.last_updated_ms));
        let (bytes, index) = match body {
            Some((mut body, index)) => {
                stamp(
                    op.key.rt,
                    &mut body,
                    id,
                    version,
                    &format_instant(last_updated),
                )?;
                let bytes = serde_json::to_vec(&body)
                    .map_err(|e| StoreError::internal("serialize resource", e))?;
                (Some(Bytes::from(bytes)), index)
            }
            None => (None, Vec::new()),
        };
        insert_version
            .execute(params![
                rt,
                id,
                version.get() as i64,
                ms,
                method_code(method),
                bytes.as_deref(),
                blob.as_deref()
            ])
            .map_err(sql_err("insert version"))?;
        let seq = conn.last_insert_rowid();
        upsert_current
            .execute(params![
                rt,
                id,
                version.get() as i64,
                seq,
                bytes.is_none(),
                ms
            ])
            .map_err(sql_err("update current version"))?;
        // A new resource's rows take the new version's `seq` as their `rid`, so they append
        // to the index tables' `rid` indexes.
        let rid = current.as_ref().map_or(seq, |c| c.rid);
        if live {
            index_write::remove(conn, rid)?;
        }
        index_write::insert(conn, rt, rid, &index)?;
        outcomes.push(WriteOutcome::Written {
            version: StoredVersion {
                key: op.key,
                version,
                last_updated,
                method,
                body: bytes,
                blob,
            },
            created: !live,
        });
    }
    Ok(outcomes)
}
