//! The page query: the rows of one page in the search's order after the cursor, driven by the
//! filters' `rid` sets or found by a walk of `current` in key order; when asked, it also
//! counts every match (a window over the driven set), so a first page takes one statement.

use hearth_fhir::search::query::SearchQuery;
use rusqlite::{Connection, params_from_iter};
use serde_json::Value;

use super::compile::Sql;
use super::count::{budget, within_budget};
use super::{Column, Cursor, Hit, Where, explain, keyset, matches_where, sort_expression, to_json};
use crate::StoreError;

/// One page's rows (up to `count + 1`, in the query's direction) and, when asked and some
/// row came back, the number of all matches.
pub(super) struct Rows {
    pub(super) hits: Vec<Hit>,
    pub(super) all: Option<u64>,
}

/// Runs the page query; `None` when `budgeted` and it ran out of its budget.
pub(super) fn rows(
    conn: &mut Connection,
    q: &SearchQuery,
    cols: &[Column],
    cursor: Option<&Cursor>,
    drive: bool,
    count_all: bool,
    budgeted: bool,
) -> Result<Option<Rows>, StoreError> {
    let backward = cursor.is_some_and(|c| c.backward);
    let mut sql = Sql::default();
    sql.push("SELECT seq, type, id");
    for i in 0..q.sort.len() {
        sql.push(&format!(", k{i}"));
    }
    if count_all {
        sql.push(", n");
    }
    let w = matches_where(q, drive);
    if drive && !count_all && q.sort.is_empty() && w.from_sets && !w.tests.text.is_empty() {
        return first_passing(conn, q, cols, cursor, w, budgeted);
    }
    // Candidates from index sets are found on `current_by_rid` alone; the page's rows are read
    // by key afterwards.
    sql.push(if w.from_sets {
        " FROM (SELECT NULL AS seq, c.type AS type, c.id AS id"
    } else {
        " FROM (SELECT c.seq AS seq, c.type AS type, c.id AS id"
    });
    for (i, key) in q.sort.iter().enumerate() {
        sql.push(", ");
        sort_expression(&mut sql, key);
        sql.push(&format!(" AS k{i}"));
    }
    if count_all {
        sql.push(", COUNT(*) OVER () AS n");
    }
    sql.push(" FROM current c WHERE ").push(&w.sql.text);
    sql.args.extend(w.sql.args);
    sql.push(") WHERE ");
    match cursor {
        Some(c) => keyset(&mut sql, cols, &c.key, c.backward, q.types.len() == 1),
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
    read(conn, q, cols, &sql, count_all, budgeted)
}

/// The first `count + 1` candidates in key order (after the cursor) that pass the tests: the
/// candidates are sorted first (on `current_by_rid`, cheap) and tested in that order, so a
/// page of common matches tests few of them, however costly the tests (chains, `_has`).
fn first_passing(
    conn: &mut Connection,
    q: &SearchQuery,
    cols: &[Column],
    cursor: Option<&Cursor>,
    w: Where,
    budgeted: bool,
) -> Result<Option<Rows>, StoreError> {
    let backward = cursor.is_some_and(|c| c.backward);
    let mut sql = Sql::default();
    // The candidates' `rid`s join `current_by_rid` directly (grouped: a resource may be in a
    // set more than once; the grouping's sort is the order's); an `IN` would first copy them
    // all into a temporary index.
    sql.push("SELECT c.seq, c.type, c.id FROM (SELECT c.type AS type, c.id AS id FROM (")
        .push(&w.set.text)
        .push(") AS s CROSS JOIN current c INDEXED BY current_by_rid ON c.rid = s.rid WHERE ")
        .push(&w.head.text);
    sql.args.extend(w.set.args);
    sql.args.extend(w.head.args);
    if let Some(c) = cursor {
        sql.push(" AND ");
        keyset(&mut sql, cols, &c.key, c.backward, q.types.len() == 1);
    }
    let dir = if backward { " DESC" } else { "" };
    // `LIMIT -1` keeps SQLite from flattening the sorted candidates into the outer query, which
    // then scans them in order (a co-routine) and stops after a page.
    sql.push(&format!(
        " GROUP BY +c.type, +c.id ORDER BY +type{dir}, +id{dir} LIMIT -1) AS p CROSS JOIN current c ON c.type = p.type AND c.id = p.id WHERE "
    ))
    .push(&w.tests.text);
    sql.args.extend(w.tests.args);
    sql.push(" LIMIT ").arg(q.count as i64 + 1);
    read(conn, q, cols, &sql, false, budgeted)
}

/// Runs a page statement whose columns are `seq, type, id`, the sort keys, and (with
/// `count_all`) the number of all matches.
fn read(
    conn: &mut Connection,
    q: &SearchQuery,
    cols: &[Column],
    sql: &Sql,
    count_all: bool,
    budgeted: bool,
) -> Result<Option<Rows>, StoreError> {
    if tracing::enabled!(tracing::Level::TRACE) {
        explain(conn, sql);
    }
    let sorts = q.sort.len();
    let started = std::time::Instant::now();
    let budget = if budgeted { budget(q) } else { None };
    let rows = within_budget(conn, budget, |conn| {
        let mut stmt = conn.prepare_cached(&sql.text)?;
        let mut rows = stmt.query(params_from_iter(sql.args.iter()))?;
        let mut hits = Vec::with_capacity(q.count + 1);
        let mut all = None;
        while let Some(row) = rows.next()? {
            let seq: Option<i64> = row.get(0)?;
            let mut key = Vec::with_capacity(cols.len());
            for i in 0..sorts {
                let v = to_json(row.get_ref(3 + i)?);
                key.push(Value::Bool(v.is_null()));
                key.push(v);
            }
            for i in [1, 2] {
                key.push(to_json(row.get_ref(i)?));
            }
            if count_all {
                all = Some(row.get::<_, i64>(3 + sorts)? as u64);
            }
            hits.push(Hit { seq, key });
        }
        Ok(Rows { hits, all })
    })?;
    tracing::trace!(
        us = started.elapsed().as_micros() as u64,
        rows = rows.as_ref().map(|r| r.hits.len()),
        count_all,
        "page statement"
    );
    Ok(rows)
}
