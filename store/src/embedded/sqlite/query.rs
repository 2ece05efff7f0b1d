//! The read side: read, vread, history pages and `find`, each on one read connection.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use hearth_fhir::search::{Criterion, DatePrefix, DateRange};
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
fn version_of(key: ResourceKey, row: &Row<'_>, at: usize) -> rusqlite::Result<StoredVersion> {
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
fn decode_key(row: &Row<'_>) -> rusqlite::Result<ResourceKey> {
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

fn decode_id(row: &Row<'_>) -> rusqlite::Result<ResourceId> {
    row.get_ref(0)?.as_str()?.parse().map_err(|_| corrupt("id"))
}

/// The millisecond bounds `[lo, hi)` a `_lastUpdated` criterion accepts, and whether it is
/// negated (`ne`); mirrors `DateRange::matches_instant` on whole milliseconds.
fn last_updated_bounds(prefix: DatePrefix, range: DateRange) -> (Option<i64>, Option<i64>, bool) {
    let (start, end) = (ceil_ms(range.start), ceil_ms(range.end));
    match prefix {
        DatePrefix::Eq => (Some(start), Some(end), false),
        DatePrefix::Ne => (Some(start), Some(end), true),
        DatePrefix::Gt | DatePrefix::Sa => (Some(end), None, false),
        DatePrefix::Lt | DatePrefix::Eb => (None, Some(start), false),
        DatePrefix::Ge => (Some(start), None, false),
        DatePrefix::Le => (None, Some(end), false),
        DatePrefix::Ap => {
            let slack = (Utc::now() - range.start).abs() / 10;
            (
                Some(ceil_ms(range.start - slack)),
                Some(ceil_ms(range.end + slack)),
                false,
            )
        }
    }
}

pub(super) fn find(
    conn: &Connection,
    rt: ResourceType,
    criteria: Vec<Criterion>,
    limit: usize,
) -> Result<Vec<ResourceKey>, StoreError> {
    let text = |s: &str| SqlValue::Text(s.to_owned());
    let mut sql = String::from("SELECT c.id FROM current c WHERE c.type = ? AND c.deleted = 0");
    let mut args = vec![text(rt.as_str())];
    for criterion in &criteria {
        match criterion {
            Criterion::Ids(ids) => {
                sql.push_str(" AND c.id IN (SELECT value FROM json_each(?))");
                let ids: Vec<&str> = ids.iter().map(ResourceId::as_str).collect();
                args.push(SqlValue::Text(
                    serde_json::to_string(&ids)
                        .map_err(|e| StoreError::internal("encode ids", e))?,
                ));
            }
            Criterion::Identifier(tokens) => {
                sql.push_str(
                    " AND c.id IN (SELECT i.id FROM identifiers i WHERE i.type = ? AND (0",
                );
                args.push(text(rt.as_str()));
                for token in tokens {
                    sql.push_str(" OR (1");
                    if let Some(code) = &token.code {
                        sql.push_str(" AND i.value = ?");
                        args.push(text(code));
                    }
                    if let Some(system) = &token.system {
                        sql.push_str(" AND i.system = ?");
                        args.push(text(system.as_deref().unwrap_or("")));
                    }
                    sql.push(')');
                }
                sql.push_str("))");
            }
            Criterion::LastUpdated(prefix, range) => {
                let (lo, hi, negate) = last_updated_bounds(*prefix, *range);
                sql.push_str(if negate { " AND NOT (1" } else { " AND (1" });
                if let Some(lo) = lo {
                    sql.push_str(" AND c.last_updated >= ?");
                    args.push(SqlValue::Integer(lo));
                }
                if let Some(hi) = hi {
                    sql.push_str(" AND c.last_updated < ?");
                    args.push(SqlValue::Integer(hi));
                }
                sql.push(')');
            }
        }
    }
    sql.push_str(" ORDER BY c.id LIMIT ?");
    args.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    let mut stmt = conn.prepare_cached(&sql).map_err(sql_err("prepare find"))?;
    let mut rows = stmt
        .query(params_from_iter(args.iter()))
        .map_err(sql_err("find resources"))?;
    let mut keys = Vec::new();
    while let Some(row) = rows.next().map_err(sql_err("find resources"))? {
        let id = decode_id(row).map_err(sql_err("decode id"))?;
        keys.push(ResourceKey::new(rt, id));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_fhir::search::parse_date_range;

    fn matches(bounds: (Option<i64>, Option<i64>, bool), t: i64) -> bool {
        let inside = bounds.0.is_none_or(|lo| t >= lo) && bounds.1.is_none_or(|hi| t < hi);
        inside != bounds.2
    }

    #[test]
    fn last_updated_bounds_agree_with_matches_instant() {
        use DatePrefix::*;
        let base = DateTime::parse_from_rfc3339("2024-02-29T10:00:05Z")
            .unwrap()
            .timestamp_millis();
        for value in [
            "2024",
            "2024-02-29",
            "2024-02-29T10:00:05Z",
            "2024-02-29T10:00:05.5Z",
            "2024-02-29T10:00:05.1234Z",
        ] {
            let range = parse_date_range(value).unwrap();
            for prefix in [Eq, Ne, Gt, Lt, Ge, Le, Sa, Eb] {
                for t in [
                    base - 86_400_000,
                    base - 1,
                    base,
                    base + 1,
                    base + 123,
                    base + 124,
                    base + 500,
                    base + 600,
                    base + 1000,
                ] {
                    let instant = DateTime::from_timestamp_millis(t).unwrap();
                    assert_eq!(
                        matches(last_updated_bounds(prefix, range), t),
                        range.matches_instant(prefix, instant),
                        "{prefix:?}{value} at {instant}"
                    );
                }
            }
        }
    }
}
