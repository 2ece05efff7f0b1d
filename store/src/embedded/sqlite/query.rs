//! The read side: read, vread and history pages, each on one read connection.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use hearth_fhir::{ResourceId, ResourceType, VersionId};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row, params, params_from_iter};

use super::schema::sql_err;
use crate::{
    HistoryPage, HistoryQuery, HistoryScope, Method, ResourceKey, StoreError, StoredVersion,
};

fn corrupt(what: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, what.to_owned(), rusqlite::types::Type::Text)
}

fn method(code: i64) -> rusqlite::Result<Method> {
    match code {
        0 => Ok(Method::Post),
        1 => Ok(Method::Put),
        2 => Ok(Method::Delete),
        _ => Err(corrupt("method")),
    }
}

/// Decodes `version, last_updated, method, body, blob` starting at column `at`.
pub(super) fn version_of(
    key: ResourceKey,
    row: &Row<'_>,
    at: usize,
) -> rusqlite::Result<StoredVersion> {
    let version =
        VersionId::new(row.get::<_, i64>(at)? as u64).ok_or_else(|| corrupt("version"))?;
    let last_updated = DateTime::<Utc>::from_timestamp_millis(row.get(at + 1)?)
        .ok_or_else(|| corrupt("last_updated"))?;
    let method = method(row.get(at + 2)?)?;
    let body = row
        .get_ref(at + 3)?
        .as_blob_or_null()?
        .map(Bytes::copy_from_slice);
    let blob = row.get(at + 4)?;
    Ok(StoredVersion {
        key,
        version,
        last_updated,
        method,
        body,
        blob,
    })
}

pub(super) fn read(
    conn: &Connection,
    key: ResourceKey,
) -> Result<Option<StoredVersion>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT v.version, v.last_updated, v.method, v.body, v.blob
             FROM current c JOIN versions v ON v.seq = c.seq WHERE c.type = ?1 AND c.id = ?2",
        )
        .map_err(sql_err("prepare read"))?;
    let mut rows = stmt
        .query(params![key.rt.as_str(), key.id.as_str()])
        .map_err(sql_err("read resource"))?;
    match rows.next().map_err(sql_err("read resource"))? {
        Some(row) => version_of(key, row, 0)
            .map(Some)
            .map_err(sql_err("decode resource")),
        None => Ok(None),
    }
}

pub(super) fn vread(
    conn: &Connection,
    key: ResourceKey,
    version: VersionId,
) -> Result<Option<StoredVersion>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT version, last_updated, method, body, blob FROM versions WHERE type = ?1 AND id = ?2 AND version = ?3",
        )
        .map_err(sql_err("prepare vread"))?;
    let mut rows = stmt
        .query(params![
            key.rt.as_str(),
            key.id.as_str(),
            version.get() as i64
        ])
        .map_err(sql_err("read version"))?;
    match rows.next().map_err(sql_err("read version"))? {
        Some(row) => version_of(key, row, 0)
            .map(Some)
            .map_err(sql_err("decode version")),
        None => Ok(None),
    }
}

/// Milliseconds of the first whole millisecond at or after `t`.
fn ceil_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis() + i64::from(!t.timestamp_subsec_nanos().is_multiple_of(1_000_000))
}

pub(super) fn history(
    conn: &Connection,
    scope: HistoryScope,
    query: HistoryQuery,
) -> Result<HistoryPage, StoreError> {
    let mut filter = String::from("1");
    let mut args: Vec<SqlValue> = Vec::new();
    match &scope {
        HistoryScope::System => {}
        HistoryScope::Type(rt) => {
            filter.push_str(" AND v.type = ?");
            args.push(SqlValue::Text(rt.as_str().to_owned()));
        }
        HistoryScope::Instance(key) => {
            filter.push_str(" AND v.type = ? AND v.id = ?");
            args.push(SqlValue::Text(key.rt.as_str().to_owned()));
            args.push(SqlValue::Text(key.id.as_str().to_owned()));
        }
    }
    if let Some(since) = query.since {
        filter.push_str(" AND v.last_updated >= ?");
        args.push(SqlValue::Integer(ceil_ms(since)));
    }
    if let Some(at) = query.at {
        // Current at `at` or later: no next version replaced it at or before `at`.
        filter.push_str(
            " AND NOT EXISTS (SELECT 1 FROM versions n WHERE n.type = v.type AND n.id = v.id
               AND n.version = v.version + 1 AND n.last_updated <= ?)",
        );
        args.push(SqlValue::Integer(at.timestamp_millis()));
    }
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM versions v WHERE {filter}"))
        .and_then(|mut stmt| stmt.query_row(params_from_iter(args.iter()), |row| row.get(0)))
        .map_err(sql_err("count history"))?;

    let before = match &query.cursor {
        Some(cursor) => cursor
            .parse::<i64>()
            .map_err(|_| StoreError::Invalid(format!("invalid history cursor '{cursor}'")))?,
        None => i64::MAX,
    };
    let count = query.count.clamp(1, 10_000);
    args.push(SqlValue::Integer(before));
    args.push(SqlValue::Integer(count as i64 + 1));
    let sql = format!(
        "SELECT v.seq, v.type, v.id, v.version, v.last_updated, v.method, v.body, v.blob FROM versions v
         WHERE {filter} AND v.seq < ? ORDER BY v.seq DESC LIMIT ?"
    );
    let mut stmt = conn
        .prepare_cached(&sql)
        .map_err(sql_err("prepare history"))?;
    let mut rows = stmt
        .query(params_from_iter(args.iter()))
        .map_err(sql_err("list history"))?;
    let mut entries = Vec::with_capacity(count);
    let (mut last_seq, mut more) = (None, false);
    while let Some(row) = rows.next().map_err(sql_err("list history"))? {
        if entries.len() == count {
            more = true;
            break;
        }
        last_seq = Some(row.get::<_, i64>(0).map_err(sql_err("decode history"))?);
        let key = decode_key(row).map_err(sql_err("decode history"))?;
        entries.push(version_of(key, row, 3).map_err(sql_err("decode history"))?);
    }
    let next = if more {
        last_seq.map(|seq| seq.to_string())
    } else {
        None
    };
    Ok(HistoryPage {
        entries,
        total: total as u64,
        next,
    })
}

/// Decodes the `type, id` of columns 1 and 2.
pub(super) fn decode_key(row: &Row<'_>) -> rusqlite::Result<ResourceKey> {
    let rt: ResourceType = row
        .get_ref(1)?
        .as_str()?
        .parse()
        .map_err(|_| corrupt("type"))?;
    let id: ResourceId = row
        .get_ref(2)?
        .as_str()?
        .parse()
        .map_err(|_| corrupt("id"))?;
    Ok(ResourceKey::new(rt, id))
}
