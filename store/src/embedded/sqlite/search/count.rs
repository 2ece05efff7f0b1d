//! Counting the matches of a search. `_total=accurate` counts them all; otherwise the count
//! runs under a time budget of a few milliseconds and is given up when it would be expensive
//! (the matches are then "many": the page is found by a walk, and Bundle.total is omitted).
//! A count (or "many") made on the first page is carried in the cursor to the later pages.

use std::time::{Duration, Instant};

use hearth_fhir::search::query::{SearchQuery, Total};
use rusqlite::{Connection, ErrorCode, params_from_iter};

use super::compile::{Scope, Sql, rid_set};
use super::{drivers, follows, intersect, matches_where, scope_of};
use crate::StoreError;
use crate::embedded::sqlite::schema::sql_err;

/// VM instructions between two looks at the clock of a budgeted count.
const OPS_PER_CHECK: i32 = 500;
/// How long a budgeted count may take: enough for some thousands of matches (depending on the
/// filters), little next to the page itself.
const BUDGET: Duration = Duration::from_millis(4);
/// Checks before the budget applies: a count of a few thousand VM instructions always
/// finishes, however busy the machine, so small result sets always get their total.
const MIN_CHECKS: u32 = 20;

/// What is known of the number of matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Counted {
    Exactly(u64),
    /// More than a budgeted count could count.
    Many,
}

impl Counted {
    /// The value carried in a cursor (`-1` for many).
    pub(super) fn to_json(self) -> serde_json::Value {
        match self {
            Counted::Exactly(n) => n.into(),
            Counted::Many => (-1).into(),
        }
    }

    pub(super) fn from_json(v: &serde_json::Value) -> Option<Counted> {
        match v.as_i64()? {
            -1 => Some(Counted::Many),
            n if n >= 0 => Some(Counted::Exactly(n as u64)),
            _ => None,
        }
    }

    /// Whether the matches are more than `n` (many always are).
    pub(super) fn above(self, n: u64) -> bool {
        match self {
            Counted::Exactly(m) => m > n,
            Counted::Many => true,
        }
    }
}

/// Runs `f` on `conn`, within the budget when `budgeted`: `Ok(None)` when it ran out.
pub(super) fn within_budget<T>(
    conn: &mut Connection,
    budgeted: bool,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    if budgeted {
        let started = Instant::now();
        let mut checks = 0u32;
        conn.progress_handler(
            OPS_PER_CHECK,
            Some(move || {
                checks += 1;
                checks > MIN_CHECKS && started.elapsed() > BUDGET
            }),
        )
        .map_err(sql_err("set search budget"))?;
    }
    let result = f(conn);
    if budgeted {
        conn.progress_handler(0, None::<fn() -> bool>)
            .map_err(sql_err("clear search budget"))?;
    }
    match result {
        Ok(v) => Ok(Some(v)),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if budgeted && e.code == ErrorCode::OperationInterrupted =>
        {
            Ok(None)
        }
        Err(e) => Err(sql_err("run search")(e)),
    }
}

/// Counts the matches of `q`: exactly for `_total=accurate`, else within the budget.
pub(super) fn count(conn: &mut Connection, q: &SearchQuery) -> Result<Counted, StoreError> {
    let sql = count_sql(q);
    let n = within_budget(conn, q.total != Total::Accurate, |conn| {
        conn.prepare_cached(&sql.text)
            .and_then(|mut s| s.query_row(params_from_iter(sql.args.iter()), |r| r.get(0)))
    })?;
    Ok(n.map_or(Counted::Many, |n: i64| Counted::Exactly(n as u64)))
}

/// Whether the page is found by walking `current` in key order (testing each row) rather than
/// from the filters' `rid` sets: when no `_sort` is asked and the matches are more than
/// `limit`. Matches too many to count within the budget count as many, unless one of the
/// sets that would drive the search holds at most `limit` resources (the count then ran out
/// of time testing those candidates, and a walk would test far more rows).
pub(super) fn walk(
    conn: &Connection,
    q: &SearchQuery,
    counted: Counted,
    limit: u64,
) -> Result<bool, StoreError> {
    if !q.sort.is_empty() || !counted.above(limit) {
        return Ok(false);
    }
    if counted != Counted::Many {
        return Ok(true);
    }
    let scope = scope_of(q);
    let plain = drivers(&q.filters, scope)
        .0
        .into_iter()
        .filter(|f| !follows(f));
    for f in plain {
        let mut sql = Sql::default();
        sql.push("SELECT COUNT(*) FROM (");
        rid_set(&mut sql, scope, f);
        sql.push(" LIMIT ").arg(limit as i64 + 1).push(")");
        let n: i64 = conn
            .prepare_cached(&sql.text)
            .and_then(|mut s| s.query_row(params_from_iter(sql.args.iter()), |r| r.get(0)))
            .map_err(sql_err("count candidates"))?;
        if n as u64 <= limit {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The statement counting the matches: on the index tables alone when every filter selects
/// by its `rid` set and the search has one type (index rows exist only for live resources of
/// their type), else on `current`.
fn count_sql(q: &SearchQuery) -> Sql {
    let scope = scope_of(q);
    let (sets, tests) = drivers(&q.filters, scope);
    if !matches!(scope, Scope::One(_)) || sets.is_empty() || !tests.is_empty() {
        let w = matches_where(q, true).sql;
        let mut sql = Sql::default();
        sql.push("SELECT COUNT(*) FROM current c WHERE ")
            .push(&w.text);
        sql.args.extend(w.args);
        return sql;
    }
    let mut sql = Sql::default();
    sql.push(if sets.len() == 1 {
        "SELECT COUNT(DISTINCT rid) FROM ("
    } else {
        "SELECT COUNT(*) FROM ("
    });
    intersect(&mut sql, scope, &sets);
    sql.push(")");
    sql
}
