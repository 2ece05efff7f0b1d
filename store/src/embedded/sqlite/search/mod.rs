//! Running a [`SearchQuery`] on one read connection: the filters compiled to SQL (`compile`),
//! the total, sort keys computed per resource from the index tables, keyset paging with an
//! opaque cursor, and includes (`include`).
//!
//! The order of a search is total: the sort keys (each preceded by "is missing", so resources
//! without a value come last in both directions), then type and id. A cursor holds the keys of
//! the row a page ends (or starts) at; the next page is the rows after it in that order, so
//! pages stay stable while resources change and there is no window limit.

mod compile;
mod count;
mod include;
mod load;
mod page;
mod special;

use hearth_fhir::search::query::{Filter, SearchQuery, SortKey, Test, Total};
use hearth_fhir::search::registry::ParamType;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, params_from_iter};
use serde_json::Value;

use self::compile::{Form, Scope, Sql, filter, has_rid_set, rid_set, type_prefix};
use self::count::{Counted, count};
use super::schema::sql_err;
use crate::{SearchPage, StoreError};

/// Above this many matches (or when they are too many to count), a page without sort keys walks `current` in key
/// order testing each row, which finds a page of a common match quickly; below it, the page is
/// driven from the filters' index lookups and sorted (see `compile::type_prefix`).
const SCAN_ABOVE: u64 = 5_000;

/// A search driven by plain index filters whose candidates are then tested by following
/// references is counted (unless `_total=accurate`) only when it has at most this many
/// candidates.
const COUNT_FOLLOWING_UP_TO: u64 = 300;

fn scope_of(q: &SearchQuery) -> Scope<'_> {
    match q.types.as_slice() {
        [one] => Scope::One(one.as_str()),
        _ => Scope::Many,
    }
}

/// Appends `S1 INTERSECT S2 ...` of the `rid` sets of `sets` (at least one).
fn intersect(sql: &mut Sql, scope: Scope<'_>, sets: &[&Filter]) {
    for (i, f) in sets.iter().enumerate() {
        if i > 0 {
            sql.push(" INTERSECT ");
        }
        rid_set(sql, scope, f);
    }
}

/// Whether a plain index filter (not a chain or `_has`) drives the search.
fn plain_driver(q: &SearchQuery) -> bool {
    drivers(&q.filters, scope_of(q))
        .0
        .iter()
        .any(|f| !follows(f))
}

/// Whether `f` follows references (a chain or `_has`).
fn follows(f: &Filter) -> bool {
    matches!(f.test, Test::Chain(_) | Test::Has { .. })
}

/// The filters whose `rid` sets select the candidates, and the filters that test them. A
/// chain or `_has` (whose set can be large and costly to build) only selects when no plain
/// index filter can; otherwise it tests the candidates by following their references.
fn drivers<'f>(filters: &'f [Filter], scope: Scope<'_>) -> (Vec<&'f Filter>, Vec<&'f Filter>) {
    let plain = filters.iter().any(|f| has_rid_set(f, scope) && !follows(f));
    filters
        .iter()
        .partition(|f| has_rid_set(f, scope) && !(plain && follows(f)))
}

/// The `WHERE` clause selecting the matches (on `current c`). With `drive`, the filters that
/// have `rid` sets select the candidates through the intersection of their sets (each an
/// index range) and the others test each candidate; without, every filter tests the rows a
/// walk of `current` in key order meets, by lookups on the index tables' `rid` keys.
struct Where {
    sql: Sql,
    /// The candidates come from index rows (of live resources only): the clause reads no
    /// column of `current` but `rid`, `type` and `id`, which `current_by_rid` covers.
    from_sets: bool,
    /// The parts of `sql`: the condition on `current` alone (live, type)...
    head: Sql,
    /// ...the `rid`s of the candidates (the intersection of the sets; empty without)...
    set: Sql,
    /// ...and the tests of each candidate (empty when there are none).
    tests: Sql,
}

fn matches_where(q: &SearchQuery, drive: bool) -> Where {
    let scope = scope_of(q);
    let (sets, tests) = if drive {
        drivers(&q.filters, scope)
    } else {
        (Vec::new(), q.filters.iter().collect())
    };
    let mut sql = Sql::default();
    sql.push(if sets.is_empty() {
        "c.deleted = 0"
    } else {
        "1"
    });
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
    let head = sql.clone();
    let mut set = sql.following();
    if !sets.is_empty() {
        intersect(&mut set, scope, &sets);
        sql.push(" AND c.rid IN (").push(&set.text).push(")");
        sql.args.extend(set.args.iter().cloned());
    }
    let mut probes = set.following();
    for (i, f) in tests.into_iter().enumerate() {
        if i > 0 {
            probes.push(" AND ");
        }
        filter(&mut probes, scope, "c", f, Form::Probe);
    }
    if !probes.text.is_empty() {
        sql.push(" AND ").push(&probes.text);
        sql.args.extend(probes.args.iter().cloned());
    }
    Where {
        sql,
        from_sets: !sets.is_empty(),
        head,
        set,
        tests: probes,
    }
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
    /// What the first page counted.
    total: Option<Counted>,
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
        let mut v = serde_json::json!({ "b": self.backward, "k": self.key });
        if let Some(total) = self.total {
            v["t"] = total.to_json();
        }
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
        let total = match v.get("t") {
            None => None,
            Some(t) => Some(Counted::from_json(t).ok_or_else(bad)?),
        };
        Ok(Cursor {
            backward,
            key,
            total,
        })
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

/// Rows strictly after (forward) or before (backward) `key` in the order of `cols`, of a
/// search of `one_type` or many.
fn keyset(sql: &mut Sql, cols: &[Column], key: &[Value], backward: bool, one_type: bool) {
    if let (true, [_, (id, _)]) = (one_type, cols) {
        // No sort keys and one type: the order is the id's, so SQLite seeks to the cursor on
        // the primary key (the general form below made it scan from the start of the type,
        // each later page of a walk slower than the last).
        sql.push(&format!("{id} {} ", if backward { "<" } else { ">" }))
            .arg(to_sql(&key[1]));
        return;
    }
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
    /// `seq` of its current version, when the page query read it.
    seq: Option<i64>,
    key: Vec<Value>,
}

/// The total a page reports of what was counted.
fn reported(q: &SearchQuery, counted: Counted) -> Option<u64> {
    match (q.total, counted) {
        (Total::None, _) | (_, Counted::Many) => None,
        (_, Counted::Exactly(n)) => Some(n),
    }
}

/// Counts the matches (unless `carried`) and finds the page's rows. When a plain index filter
/// drives the search, one statement finds the page and counts every match (within the budget,
/// unless accurate); a search that runs out of it has too many (or too costly) matches to
/// count, and is planned from what is cheap to know: a walk when the matches are many, else
/// driven again, testing the candidates in key order until a page is found.
fn find(
    conn: &mut Connection,
    q: &SearchQuery,
    cols: &[Column],
    cursor: Option<&Cursor>,
    carried: Option<Counted>,
) -> Result<(Counted, Vec<Hit>), StoreError> {
    let budgeted = q.total != Total::Accurate;
    let plain = plain_driver(q);
    let uncountable = match carried {
        None if plain => count::uncountable(conn, q, COUNT_FOLLOWING_UP_TO, SCAN_ABOVE)?,
        _ => None,
    };
    let counted = match carried {
        Some(carried) => carried,
        None if uncountable.is_some() => Counted::Many,
        None if plain => {
            if let Some(rows) = page::rows(conn, q, cols, cursor, true, true, budgeted)? {
                return Ok((all_of(conn, q, &rows, cursor)?, rows.hits));
            }
            Counted::Many
        }
        None => count(conn, q)?,
    };
    let drive = match uncountable {
        Some(drive) => drive,
        None => !count::walk(conn, q, counted, SCAN_ABOVE)?,
    };
    let count_all = drive && plain && carried.is_none() && counted != Counted::Many;
    let rows = page::rows(conn, q, cols, cursor, drive, count_all, false)?.unwrap_or(page::Rows {
        hits: Vec::new(),
        all: None,
    });
    let counted = if count_all {
        all_of(conn, q, &rows, cursor)?
    } else {
        counted
    };
    Ok((counted, rows.hits))
}

/// The count a page query with `count_all` made: no row back is no match on a first page.
fn all_of(
    conn: &mut Connection,
    q: &SearchQuery,
    rows: &page::Rows,
    cursor: Option<&Cursor>,
) -> Result<Counted, StoreError> {
    Ok(match (rows.all, cursor) {
        (Some(n), _) => Counted::Exactly(n),
        (None, None) => Counted::Exactly(0),
        (None, Some(_)) => count(conn, q)?,
    })
}

/// Runs `q` in one read transaction: the page, its resources and the includes come from one
/// snapshot (and the statements share one lock instead of taking one each).
pub(super) fn run(conn: &mut Connection, q: &SearchQuery) -> Result<SearchPage, StoreError> {
    if !conn.is_autocommit() {
        conn.execute_batch("ROLLBACK")
            .map_err(sql_err("end an earlier read"))?;
    }
    conn.prepare_cached("BEGIN")
        .and_then(|mut s| s.execute([]))
        .map_err(sql_err("begin search"))?;
    let page = in_snapshot(conn, q);
    let end = if page.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.prepare_cached(end)
        .and_then(|mut s| s.execute([]))
        .map_err(sql_err("end search"))?;
    page
}

fn in_snapshot(conn: &mut Connection, q: &SearchQuery) -> Result<SearchPage, StoreError> {
    let cols = columns(&q.sort);
    let cursor = q
        .cursor
        .as_deref()
        .map(|c| Cursor::decode(c, cols.len()))
        .transpose()?;
    let started = std::time::Instant::now();
    // A later page reuses what the first page counted, unless the count must be accurate.
    let carried = cursor
        .as_ref()
        .and_then(|c| c.total)
        .filter(|_| q.total != Total::Accurate);
    if q.count == 0 {
        let counted = match carried {
            Some(carried) => carried,
            None => count(conn, q)?,
        };
        return Ok(SearchPage {
            matches: Vec::new(),
            included: Vec::new(),
            total: reported(q, counted),
            next: None,
            previous: None,
            issues: Vec::new(),
        });
    }
    let (counted, mut hits) = find(conn, q, &cols, cursor.as_ref(), carried)?;
    let total = reported(q, counted);
    let backward = cursor.as_ref().is_some_and(|c| c.backward);
    let paged = started.elapsed();
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
            Cursor {
                backward,
                key,
                total: Some(counted),
            }
            .encode()
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
    let matches = load::hits(conn, &hits)?;
    let loaded = started.elapsed();
    let (included, issues) = include::run(conn, q, &matches)?;
    tracing::debug!(
        page_us = paged.as_micros() as u64,
        load_us = (loaded - paged).as_micros() as u64,
        include_us = (started.elapsed() - loaded).as_micros() as u64,
        matches = matches.len(),
        included = included.len(),
        total = ?total,
        "search phases"
    );
    Ok(SearchPage {
        matches,
        included,
        total,
        next,
        previous,
        issues,
    })
}

/// Logs SQLite's plan of a page query (at trace level, to tune the compiler).
fn explain(conn: &Connection, sql: &Sql) {
    let plan = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", sql.text))
        .and_then(|mut s| {
            s.query_map(params_from_iter(sql.args.iter()), |r| r.get::<_, String>(3))?
                .collect::<rusqlite::Result<Vec<String>>>()
        });
    match plan {
        Ok(steps) => tracing::trace!(plan = %steps.join(" | "), "search plan"),
        Err(e) => tracing::trace!(error = %e, "search plan unavailable"),
    }
}
