//! Running a [`SearchQuery`] on one read connection: the filters compiled to SQL (`compile`),
//! the total, sort keys computed per resource from the index tables, keyset paging with an
//! opaque cursor, and includes (`include`).
//!
//! The order of a search is total: the sort keys (each preceded by "is missing", so resources
//! without a value come last in both directions), then type and id. A cursor holds the keys of
//! the row a page ends (or starts) at; the next page is the rows after it in that order, so
//! pages stay stable while resources change and there is no window limit.

mod compile;
mod include;
mod special;

use hearth_fhir::search::query::{SearchQuery, SortKey, Total};
use hearth_fhir::search::registry::ParamType;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, params_from_iter};
use serde_json::Value;

use self::compile::{Scope, Sql, filter, type_prefix};
use super::query::decode_key;
use super::schema::sql_err;
use crate::{SearchPage, StoreError, StoredVersion};

/// Above this many matches (when known), a page without sort keys walks `current` in key
/// order testing each row, which finds a page of a common match quickly; below it, the page is
/// driven from the filters' index lookups and sorted (see `compile::type_prefix`).
const SCAN_ABOVE: u64 = 1_000;

/// The `WHERE` clause selecting the matches (on `current c`); `drive` lets filters drive.
fn matches_where(q: &SearchQuery, drive: bool) -> Sql {
    let mut sql = Sql::default();
    sql.push("c.deleted = 0");
    let plus = if drive { type_prefix(&q.filters) } else { "" };
    match q.types.as_slice() {
        [] => {}
        [one] => {
            sql.push(&format!(" AND {plus}c.type = ")).arg(one.as_str());
        }
        many => {
            let names: Vec<&str> = many.iter().map(|t| t.as_str()).collect();
            sql.push(&format!(" AND {plus}c.type IN ")).list(&names);
        }
    }
    let scope = match q.types.as_slice() {
        [one] => Scope::One(one.as_str()),
        _ => Scope::Many,
    };
    for f in &q.filters {
        sql.push(" AND ");
        filter(&mut sql, scope, "c", f);
    }
    sql
}

/// The expression of a sort key on `current c`.
fn sort_expression(sql: &mut Sql, key: &SortKey) {
    let (table, asc, desc) = match (key.code.as_str(), key.kind) {
        ("_id", _) => {
            sql.push("c.id");
            return;
        }
        ("_lastUpdated", _) => {
            sql.push("c.last_updated");
            return;
        }
        (_, ParamType::String) => ("ix_string", "MIN(s.norm)", "MAX(s.norm)"),
        (_, ParamType::Date) => ("ix_date", "MIN(s.low)", "MAX(s.high)"),
        (_, ParamType::Number) => ("ix_number", "MIN(s.low)", "MAX(s.high)"),
        (_, ParamType::Quantity) => ("ix_quantity", "MIN(s.low)", "MAX(s.high)"),
        (_, ParamType::Reference) => (
            "ix_reference",
            "MIN(COALESCE(s.target_type || '/' || s.target_id, s.url))",
            "MAX(COALESCE(s.target_type || '/' || s.target_id, s.url))",
        ),
        (_, ParamType::Uri) => ("ix_uri", "MIN(s.uri)", "MAX(s.uri)"),
        _ => (
            "ix_token",
            "MIN(COALESCE(s.code, s.text))",
            "MAX(COALESCE(s.code, s.text))",
        ),
    };
    let aggregate = if key.descending { desc } else { asc };
    sql.push(&format!(
        "(SELECT {aggregate} FROM {table} s WHERE s.rid = c.rid AND s.param = "
    ))
    .arg(key.code.clone())
    .push(")");
}

/// A position in the order: the values of the ordering columns of one row.
struct Cursor {
    backward: bool,
    key: Vec<Value>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Cursor {
    fn encode(&self) -> String {
        let v = serde_json::json!({ "b": self.backward, "k": self.key });
        hex(v.to_string().as_bytes())
    }

    fn decode(s: &str, columns: usize) -> Result<Cursor, StoreError> {
        let bad = || StoreError::Invalid(format!("invalid search cursor '{s}'"));
        let v: Value = unhex(s)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(bad)?;
        let backward = v.get("b").and_then(Value::as_bool).ok_or_else(bad)?;
        let key = v
            .get("k")
            .and_then(Value::as_array)
            .ok_or_else(bad)?
            .clone();
        if key.len() != columns {
            return Err(bad());
        }
        Ok(Cursor { backward, key })
    }
}

fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => n.as_i64().map_or_else(
            || SqlValue::Real(n.as_f64().unwrap_or(0.0)),
            SqlValue::Integer,
        ),
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

fn to_json(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned().into(),
    }
}

/// One ordering column of the outer query: its name and whether it sorts descending.
type Column = (String, bool);

fn columns(sort: &[SortKey]) -> Vec<Column> {
    let mut cols = Vec::new();
    for (i, key) in sort.iter().enumerate() {
        cols.push((format!("(k{i} IS NULL)"), false));
        cols.push((format!("k{i}"), key.descending));
    }
    cols.push(("type".to_owned(), false));
    cols.push(("id".to_owned(), false));
    cols
}

/// Rows strictly after (forward) or before (backward) `key` in the order of `cols`.
fn keyset(sql: &mut Sql, cols: &[Column], key: &[Value], backward: bool) {
    sql.push("(0");
    for j in 0..cols.len() {
        sql.push(" OR (1");
        for (i, (name, _)) in cols.iter().enumerate().take(j) {
            sql.push(&format!(" AND {name} IS ")).arg(to_sql(&key[i]));
        }
        let (name, desc) = &cols[j];
        let greater = *desc == backward;
        sql.push(&format!(" AND {name} {} ", if greater { ">" } else { "<" }))
            .arg(to_sql(&key[j]));
        sql.push(")");
    }
    sql.push(")");
}

/// A matching row: `seq` of its current version and its ordering key.
struct Hit {
    seq: i64,
    key: Vec<Value>,
}

pub(super) fn run(conn: &Connection, q: &SearchQuery) -> Result<SearchPage, StoreError> {
    let cols = columns(&q.sort);
    let cursor = q
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, cols.len()))
        .transpose()?;
    let total = match q.total {
        Total::None => None,
        Total::Estimate | Total::Accurate => {
            let w = matches_where(q, true);
            let sql = format!("SELECT COUNT(*) FROM current c WHERE {}", w.text);
            let n: i64 = conn
                .prepare_cached(&sql)
                .and_then(|mut s| s.query_row(params_from_iter(w.args.iter()), |r| r.get(0)))
                .map_err(sql_err("count search matches"))?;
            Some(n as u64)
        }
    };
    if q.count == 0 {
        return Ok(SearchPage {
            matches: Vec::new(),
            included: Vec::new(),
            total,
            next: None,
            previous: None,
            issues: Vec::new(),
        });
    }

    let backward = cursor.as_ref().is_some_and(|c| c.backward);
    let mut sql = Sql::default();
    sql.push("SELECT seq, type, id");
    for i in 0..q.sort.len() {
        sql.push(&format!(", k{i}"));
    }
    sql.push(" FROM (SELECT c.seq AS seq, c.type AS type, c.id AS id");
    for (i, key) in q.sort.iter().enumerate() {
        sql.push(", ");
        sort_expression(&mut sql, key);
        sql.push(&format!(" AS k{i}"));
    }
    let drive = !(q.sort.is_empty() && total.is_some_and(|t| t > SCAN_ABOVE));
    let w = matches_where(q, drive);
    sql.push(" FROM current c WHERE ").push(&w.text);
    sql.args.extend(w.args);
    sql.push(") WHERE ");
    match &cursor {
        Some(c) => keyset(&mut sql, &cols, &c.key, c.backward),
        None => {
            sql.push("1");
        }
    }
    sql.push(" ORDER BY ");
    // With filters, `+` keeps SQLite from walking `current` in id order testing each row (a
    // full scan when few match): it drives from the filters' index lookups and sorts the
    // matches instead. Without filters the id order is the cheap way.
    let plus = if drive && !q.filters.is_empty() {
        "+"
    } else {
        ""
    };
    let order: Vec<String> = cols
        .iter()
        .map(|(name, desc)| {
            let desc = *desc != backward;
            format!("{plus}{name}{}", if desc { " DESC" } else { "" })
        })
        .collect();
    sql.push(&order.join(", "));
    sql.push(" LIMIT ").arg(q.count as i64 + 1);

    let mut hits = Vec::with_capacity(q.count + 1);
    {
        let mut stmt = conn
            .prepare_cached(&sql.text)
            .map_err(sql_err("prepare search"))?;
        let mut rows = stmt
            .query(params_from_iter(sql.args.iter()))
            .map_err(sql_err("run search"))?;
        while let Some(row) = rows.next().map_err(sql_err("run search"))? {
            let seq: i64 = row.get(0).map_err(sql_err("decode search row"))?;
            let mut key = Vec::with_capacity(cols.len());
            for i in 0..q.sort.len() {
                let v = to_json(row.get_ref(3 + i).map_err(sql_err("decode search row"))?);
                key.push(Value::Bool(v.is_null()));
                key.push(v);
            }
            for i in [1, 2] {
                key.push(to_json(
                    row.get_ref(i).map_err(sql_err("decode search row"))?,
                ));
            }
            hits.push(Hit { seq, key });
        }
    }
    let more = hits.len() > q.count;
    hits.truncate(q.count);
    if backward {
        hits.reverse();
    }
    let key_of = |hit: Option<&Hit>, backward: bool| {
        hit.map(|h| {
            // The "is missing" flags are stored as booleans; SQL compares them as integers.
            let key = h
                .key
                .iter()
                .map(|v| match v {
                    Value::Bool(b) => Value::from(i64::from(*b)),
                    other => other.clone(),
                })
                .collect();
            Cursor { backward, key }.encode()
        })
    };
    let (next, previous) = if backward {
        (
            key_of(hits.last(), false),
            if more {
                key_of(hits.first(), true)
            } else {
                None
            },
        )
    } else {
        (
            if more {
                key_of(hits.last(), false)
            } else {
                None
            },
            if cursor.is_some() {
                key_of(hits.first(), true)
            } else {
                None
            },
        )
    };
    let mut matches = Vec::with_capacity(hits.len());
    for hit in &hits {
        matches.push(load_seq(conn, hit.seq)?);
    }
    let (included, issues) = include::run(conn, q, &matches)?;
    Ok(SearchPage {
        matches,
        included,
        total,
        next,
        previous,
        issues,
    })
}

/// The version stored at `seq`.
fn load_seq(conn: &Connection, seq: i64) -> Result<StoredVersion, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, type, id, version, last_updated, method, body, blob FROM versions WHERE seq = ?1",
        )
        .map_err(sql_err("prepare search load"))?;
    stmt.query_row([seq], |row| {
        let key = decode_key(row)?;
        super::query::version_of(key, row, 3)
    })
    .map_err(sql_err("load search match"))
}
