//! Export reads: the tenant's snapshot mark and the resources of one type as of a mark.
//!
//! A mark is a `seq`: the writes committed so far. `changes` walks `versions_by_type`
//! (`type, seq`) from the cursor up to the mark and keeps, for each resource, only its last
//! version at or before the mark, so a resource updated after the snapshot is exported as it
//! was then. `last_updated` is non-decreasing in `seq` order, so `_since` and `_until` become
//! `seq` bounds found by binary search on the primary key: no time index, no table scan.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::query::{decode_key, version_of};
use super::schema::sql_err;
use crate::{ChangesPage, ChangesQuery, Snapshot, StoreError};

pub(super) fn snapshot(conn: &Connection) -> Result<Snapshot, StoreError> {
    let last: Option<(i64, i64)> = conn
        .query_row(
            "SELECT seq, last_updated FROM versions ORDER BY seq DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
        .map_err(sql_err("read snapshot"))?;
    let (seq, millis) = last.unwrap_or((0, 0));
    let at = DateTime::<Utc>::from_timestamp_millis(millis)
        .ok_or_else(|| StoreError::internal("read snapshot", "last_updated out of range"))?;
    Ok(Snapshot {
        mark: seq.to_string(),
        at,
    })
}

fn parse_seq(what: &str, text: &str) -> Result<i64, StoreError> {
    text.parse::<i64>()
        .ok()
        .filter(|seq| *seq >= 0)
        .ok_or_else(|| StoreError::Invalid(format!("invalid {what} '{text}'")))
}

/// `last_updated` of the first version at or after `seq`, if any.
fn time_at_or_after(conn: &Connection, seq: i64) -> Result<Option<i64>, StoreError> {
    conn.prepare_cached("SELECT last_updated FROM versions WHERE seq >= ?1 ORDER BY seq LIMIT 1")
        .and_then(|mut stmt| stmt.query_row([seq], |row| row.get(0)).optional())
        .map_err(sql_err("find version by time"))
}

/// The smallest `x` in `lo..=hi` such that every version with `seq >= x` has a `last_updated`
/// meeting `reached` (`hi` when none before does). Valid because `last_updated` never
/// decreases along `seq`.
fn first_seq_where(
    conn: &Connection,
    mut lo: i64,
    mut hi: i64,
    reached: impl Fn(i64) -> bool,
) -> Result<i64, StoreError> {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match time_at_or_after(conn, mid)? {
            Some(t) if !reached(t) => lo = mid + 1,
            _ => hi = mid,
        }
    }
    Ok(lo)
}

pub(super) fn changes(conn: &Connection, q: &ChangesQuery) -> Result<ChangesPage, StoreError> {
    let mut upto = parse_seq("snapshot mark", &q.upto)?;
    let mut after = match &q.cursor {
        Some(cursor) => parse_seq("export cursor", cursor)?,
        None => 0,
    };
    if let Some(since) = q.since {
        let since = since.timestamp_millis();
        after = after.max(first_seq_where(conn, 0, upto + 1, |t| t >= since)? - 1);
    }
    if let Some(until) = q.until {
        let until = until.timestamp_millis();
        upto = upto.min(first_seq_where(conn, 0, upto + 1, |t| t > until)? - 1);
    }
    let count = q.count.clamp(1, 100_000);
    let mut stmt = conn
        .prepare_cached(
            "SELECT v.seq, v.type, v.id, v.version, v.last_updated, v.method, v.body, v.blob
             FROM versions v
             WHERE v.type = ?1 AND v.seq > ?2 AND v.seq <= ?3
               AND NOT EXISTS (SELECT 1 FROM versions w WHERE w.type = ?1 AND w.id = v.id
                               AND w.version > v.version AND w.seq <= ?3)
             ORDER BY v.seq LIMIT ?4",
        )
        .map_err(sql_err("prepare export read"))?;
    let mut rows = stmt
        .query(params![q.rt.as_str(), after, upto, count as i64])
        .map_err(sql_err("export read"))?;
    let mut versions = Vec::with_capacity(count.min(4096));
    let (mut last, mut bytes, mut full) = (None, 0usize, false);
    while let Some(row) = rows.next().map_err(sql_err("export read"))? {
        last = Some(row.get::<_, i64>(0).map_err(sql_err("decode export row"))?);
        let key = decode_key(row).map_err(sql_err("decode export row"))?;
        let version = version_of(key, row, 3).map_err(sql_err("decode export row"))?;
        bytes += version.body.as_ref().map_or(0, |b| b.len());
        versions.push(version);
        if bytes >= q.max_bytes.max(1) {
            full = true;
            break;
        }
    }
    let next = if full || versions.len() == count {
        last.map(|seq| seq.to_string())
    } else {
        None
    };
    Ok(ChangesPage { versions, next })
}
