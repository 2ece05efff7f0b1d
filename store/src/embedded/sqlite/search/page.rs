//! The page query: the rows of one page in the search's order after the cursor, driven by the
//! filters' `rid` sets or found by a walk of `current` in key order; when asked, it also
//! counts every match (a window over the driven set), so a first page takes one statement.

use hearth_fhir::search::query::SearchQuery;
use rusqlite::{Connection, params_from_iter};
use serde_json::Value;

use super::compile::Sql;
use super::count::within_budget;
use super::{Column, Cursor, Hit, explain, keyset, matches_where, sort_expression, to_json};
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
        Some(c) => keyset(&mut sql, cols, &c.key, c.backward),
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
    if tracing::enabled!(tracing::Level::TRACE) {
        explain(conn, &sql);
    }
    let sorts = q.sort.len();
    within_budget(conn, budgeted, |conn| {
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
    })
}
