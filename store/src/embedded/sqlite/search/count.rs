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
/// The budget when a filter follows references (a chain, `_has`): each candidate costs
/// several lookups, so a count that does not finish quickly would not finish in `BUDGET`
/// either (measured: 20,000 chained matches take over 100 ms to count).
const FOLLOWING_BUDGET: Duration = Duration::from_millis(1);
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

/// How long counting the matches of `q` may take: `None` (no limit) for `_total=accurate`.
pub(super) fn budget(q: &SearchQuery) -> Option<Duration> {
    if q.total == Total::Accurate {
        None
    } else if q.filters.iter().any(follows) {
        Some(FOLLOWING_BUDGET)
    } else {
        Some(BUDGET)
    }
}

/// Runs `f` on `conn`, within `budget` if any: `Ok(None)` when it ran out.
pub(super) fn within_budget<T>(
    conn: &mut Connection,
    budget: Option<Duration>,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    let budgeted = budget.is_some();
    if let Some(budget) = budget {
        let started = Instant::now();
        let mut checks = 0u32;
        conn.progress_handler(
            OPS_PER_CHECK,
            Some(move || {
                checks += 1;
                checks > MIN_CHECKS && started.elapsed() > budget
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
    let n = within_budget(conn, budget(q), |conn| {
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
    Ok(smallest_set(conn, q, limit)?.is_none())
}

/// The size of the smallest `rid` set of the plain index filters that would drive `q`, if one
/// holds at most `limit` resources (each set is counted up to `limit + 1`).
pub(super) fn smallest_set(
    conn: &Connection,
    q: &SearchQuery,
    limit: u64,
) -> Result<Option<u64>, StoreError> {
    let scope = scope_of(q);
    let plain = drivers(&q.filters, scope)
        .0
        .into_iter()
        .filter(|f| !follows(f));
    let mut smallest = None;
    for f in plain {
        let mut sql = Sql::default();
        sql.push("SELECT COUNT(*) FROM (");
        rid_set(&mut sql, scope, f);
        sql.push(" LIMIT ").arg(limit as i64 + 1).push(")");
        let n: i64 = conn
            .prepare_cached(&sql.text)
            .and_then(|mut s| s.query_row(params_from_iter(sql.args.iter()), |r| r.get(0)))
            .map_err(sql_err("count candidates"))?;
        let n = n as u64;
        if n <= limit && smallest.is_none_or(|m| n < m) {
            smallest = Some(n);
        }
    }
    Ok(smallest)
}

/// Whether counting the matches of a driven `q` is not worth trying: the candidates are tested
/// by following references and are more than `count_up_to` (counting them all would take far
/// longer than the page, which tests candidates only until it is full). When it is not, the
/// answer is also the plan: `Some(true)` to drive from the sets (one holds at most
/// `scan_above` resources), `Some(false)` to walk; `None` to try counting. One look at the
/// sets' sizes serves both.
pub(super) fn uncountable(
    conn: &Connection,
    q: &SearchQuery,
    count_up_to: u64,
    scan_above: u64,
) -> Result<Option<bool>, StoreError> {
    if q.total == Total::Accurate || !q.filters.iter().any(follows) {
        return Ok(None);
    }
    Ok(match smallest_set(conn, q, scan_above)? {
        Some(n) if n <= count_up_to => None,
        smallest => Some(smallest.is_some() || !q.sort.is_empty()),
    })
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
