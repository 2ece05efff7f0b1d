//! `_include` and `_revinclude` for one page of matches, with `:iterate` applied to what was
//! included until nothing new comes in. Included resources are capped per page at
//! [`MAX_INCLUDED`]; when the cap cuts the set, the page says so with a warning issue (never a
//! silent cut).

use std::collections::HashSet;

use hearth_fhir::search::query::{Include, SearchQuery};
use hearth_fhir::{Issue, IssueCode, ResourceId, ResourceType};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params_from_iter};

use super::super::query::read;
use super::super::schema::sql_err;
use super::compile::Sql;
use crate::{ResourceKey, StoreError, StoredVersion};

/// Most resources included in one page.
pub(super) const MAX_INCLUDED: usize = 10_000;
/// Most `:iterate` rounds.
const MAX_ROUNDS: usize = 16;
/// Ids bound per statement.
const CHUNK: usize = 500;

type Key = (String, String);

fn key_of(v: &StoredVersion) -> Key {
    (v.key.rt.as_str().to_owned(), v.key.id.as_str().to_owned())
}

/// The keys `include` reaches from `from`.
fn follow(
    conn: &Connection,
    inc: &Include,
    reverse: bool,
    from: &[Key],
) -> Result<Vec<Key>, StoreError> {
    let mut out = Vec::new();
    let source = inc.source.as_str();
    let ids: Vec<&Key> = from
        .iter()
        .filter(|(t, _)| {
            if reverse {
                inc.target.is_none_or(|target| target.as_str() == t)
            } else {
                t == source
            }
        })
        .collect();
    // Reverse includes are grouped by the type they point to.
    let mut types: Vec<&str> = ids.iter().map(|(t, _)| t.as_str()).collect();
    types.sort_unstable();
    types.dedup();
    for ty in types {
        let of_type: Vec<String> = ids
            .iter()
            .filter(|(t, _)| t == ty)
            .map(|(_, id)| id.clone())
            .collect();
        for chunk in of_type.chunks(CHUNK) {
            let mut sql = Sql::default();
            if reverse {
                sql.push("SELECT DISTINCT c.type, c.id FROM ix_reference r JOIN current c ON c.rid = r.rid WHERE r.type = ")
                    .arg(source)
                    .push(" AND r.target_type = ")
                    .arg(ty)
                    .push(" AND r.target_id IN ")
                    .list(chunk);
            } else {
                sql.push(
                    "SELECT DISTINCT r.target_type, r.target_id FROM current c JOIN ix_reference r ON r.rid = c.rid WHERE c.type = ",
                )
                .arg(source)
                .push(" AND r.target_id IS NOT NULL AND r.target_type IS NOT NULL AND c.id IN ")
                .list(chunk);
                if let Some(target) = inc.target {
                    sql.push(" AND r.target_type = ").arg(target.as_str());
                }
            }
            if let Some(param) = &inc.param {
                sql.push(" AND r.param = ")
                    .arg(SqlValue::Text(param.clone()));
            }
            let mut stmt = conn
                .prepare(&sql.text)
                .map_err(sql_err("prepare include"))?;
            let mut rows = stmt
                .query(params_from_iter(sql.args.iter()))
                .map_err(sql_err("run include"))?;
            while let Some(row) = rows.next().map_err(sql_err("run include"))? {
                let t: String = row.get(0).map_err(sql_err("decode include"))?;
                let id: String = row.get(1).map_err(sql_err("decode include"))?;
                out.push((t, id));
            }
        }
    }
    Ok(out)
}

/// The resources the query's includes add to `matches`, and any truncation warning.
pub(super) fn run(
    conn: &Connection,
    q: &SearchQuery,
    matches: &[StoredVersion],
) -> Result<(Vec<StoredVersion>, Vec<Issue>), StoreError> {
    if (q.include.is_empty() && q.revinclude.is_empty()) || matches.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut seen: HashSet<Key> = matches.iter().map(key_of).collect();
    let mut frontier: Vec<Key> = seen.iter().cloned().collect();
    frontier.sort();
    let mut included = Vec::new();
    let mut issues = Vec::new();
    for round in 0..MAX_ROUNDS {
        let mut found = Vec::new();
        let all = q
            .include
            .iter()
            .map(|i| (i, false))
            .chain(q.revinclude.iter().map(|i| (i, true)));
        for (inc, reverse) in all {
            if round > 0 && !inc.iterate {
                continue;
            }
            found.extend(follow(conn, inc, reverse, &frontier)?);
        }
        found.sort();
        found.dedup();
        let mut next = Vec::new();
        for key in found {
            if seen.contains(&key) {
                continue;
            }
            if included.len() >= MAX_INCLUDED {
                issues.push(Issue::warning(
                    IssueCode::TooCostly,
                    format!(
                        "included resources were cut at {MAX_INCLUDED} for this page; ask for a smaller _count"
                    ),
                ));
                return Ok((included, issues));
            }
            seen.insert(key.clone());
            let (Ok(rt), Ok(id)) = (key.0.parse::<ResourceType>(), key.1.parse::<ResourceId>())
            else {
                continue;
            };
            if let Some(v) = read(conn, ResourceKey::new(rt, id))?
                && !v.is_deleted()
            {
                included.push(v);
                next.push(key);
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    Ok((included, issues))
}
