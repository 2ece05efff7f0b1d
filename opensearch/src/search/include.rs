//! `_include` and `_revinclude` for one page of matches, as the embedded store does them:
//! forward includes follow the references of the page (and, with `:iterate`, of what was
//! included) to live resources; reverse includes find live resources referring to them.
//! Rounds repeat until nothing new comes in, at most [`MAX_ROUNDS`]; at most
//! [`MAX_INCLUDED`] keys per page, with a warning issue when the cap cuts the set.

use std::collections::{HashMap, HashSet};

use hearth_fhir::search::query::{Include, SearchQuery};
use hearth_fhir::{Issue, IssueCode};
use hearth_store::{ResourceKey, StoreError};
use serde_json::{Value, json};

use super::{MAX_WINDOW, Target};
use crate::document::doc_id;
use crate::query::{all, nested, term, terms};

/// Most resources included in one page.
const MAX_INCLUDED: usize = 10_000;
/// Most `:iterate` rounds.
const MAX_ROUNDS: usize = 16;
/// Keys per request.
const CHUNK: usize = 1_000;

/// The source fields an include needs of a resource: its references.
pub(super) const REF_FIELDS: [&str; 3] = ["ref.p", "ref.tt", "ref.ti"];

type Key = (String, String);

/// A live resource and its local references (param, type, id).
struct Node {
    key: Key,
    refs: Vec<(String, String, String)>,
}

fn node(hit: &Value) -> Option<Node> {
    let s = |p: &str| hit.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let key = (s("/_source/rt")?, s("/_source/id")?);
    let refs = hit
        .pointer("/_source/ref")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| {
            let f = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
            Some((f("p")?, f("tt")?, f("ti")?))
        })
        .collect();
    Some(Node { key, refs })
}

fn source() -> Value {
    let mut fields = vec!["rt", "id"];
    fields.extend(REF_FIELDS);
    json!(fields)
}

/// The live resources among `keys`, with their references.
async fn fetch(target: &Target<'_>, keys: &[Key]) -> Result<HashMap<Key, Node>, StoreError> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(CHUNK) {
        let ids: Vec<String> = chunk.iter().map(|(t, i)| doc_id(t, i)).collect();
        let body = json!({
            "query": {"bool": {"filter": [{"ids": {"values": ids}}, term("deleted", false)]}},
            "size": chunk.len(),
            "_source": source(),
        });
        for hit in target.hits(&body).await?.0 {
            if let Some(n) = node(&hit) {
                out.insert(n.key.clone(), n);
            }
        }
    }
    Ok(out)
}

/// The keys `inc` reaches from `from`, and whether a reverse search was cut.
async fn follow(
    target: &Target<'_>,
    inc: &Include,
    reverse: bool,
    from: &[Node],
) -> Result<(Vec<Key>, bool), StoreError> {
    let source = inc.source.as_str();
    let param_ok = |p: &str| inc.param.as_deref().is_none_or(|want| want == p);
    if !reverse {
        let mut out = Vec::new();
        for n in from.iter().filter(|n| n.key.0 == source) {
            for (p, tt, ti) in &n.refs {
                if param_ok(p) && inc.target.is_none_or(|t| t.as_str() == tt) {
                    out.push((tt.clone(), ti.clone()));
                }
            }
        }
        return Ok((out, false));
    }
    let mut out = Vec::new();
    let mut cut = false;
    let mut types: Vec<&str> = from
        .iter()
        .map(|n| n.key.0.as_str())
        .filter(|t| inc.target.is_none_or(|target| target.as_str() == *t))
        .collect();
    types.sort_unstable();
    types.dedup();
    for ty in types {
        let ids: Vec<Value> = from
            .iter()
            .filter(|n| n.key.0 == ty)
            .map(|n| Value::from(n.key.1.as_str()))
            .collect();
        for chunk in ids.chunks(CHUNK) {
            let mut entry = vec![term("ref.tt", ty), terms("ref.ti", chunk.to_vec())];
            if let Some(p) = &inc.param {
                entry.push(term("ref.p", p.as_str()));
            }
            let body = json!({
                "query": {"bool": {"filter": [
                    term("deleted", false),
                    term("rt", source),
                    nested("ref", all(entry)),
                ]}},
                "size": MAX_WINDOW,
                "track_total_hits": MAX_WINDOW + 1,
                "_source": ["rt", "id"],
            });
            let (hits, total) = target.hits(&body).await?;
            cut |= total > hits.len() as u64;
            out.extend(hits.iter().filter_map(node).map(|n| n.key));
        }
    }
    Ok((out, cut))
}

fn cut_warning() -> Issue {
    Issue::warning(
        IssueCode::TooCostly,
        format!(
            "included resources were cut at {MAX_INCLUDED} for this page; ask for a smaller _count"
        ),
    )
}

/// The keys the query's includes add to the page `hits` (which carry their references).
pub(super) async fn run(
    target: &Target<'_>,
    q: &SearchQuery,
    hits: &[Value],
) -> Result<(Vec<ResourceKey>, Vec<Issue>), StoreError> {
    if (q.include.is_empty() && q.revinclude.is_empty()) || hits.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut frontier: Vec<Node> = hits.iter().filter_map(node).collect();
    let mut seen: HashSet<Key> = frontier.iter().map(|n| n.key.clone()).collect();
    frontier.sort_by(|a, b| a.key.cmp(&b.key));
    let mut included = Vec::new();
    for round in 0..MAX_ROUNDS {
        let mut found = Vec::new();
        let mut cut = false;
        let all = q
            .include
            .iter()
            .map(|i| (i, false))
            .chain(q.revinclude.iter().map(|i| (i, true)));
        for (inc, reverse) in all {
            if round > 0 && !inc.iterate {
                continue;
            }
            let (keys, c) = follow(target, inc, reverse, &frontier).await?;
            found.extend(keys);
            cut |= c;
        }
        found.sort();
        found.dedup();
        found.retain(|k| !seen.contains(k));
        let mut live = fetch(target, &found).await?;
        let mut next = Vec::new();
        for key in found {
            if included.len() >= MAX_INCLUDED {
                return Ok((included, vec![cut_warning()]));
            }
            seen.insert(key.clone());
            if let Some(n) = live.remove(&key) {
                let (Ok(rt), Ok(id)) = (key.0.parse(), key.1.parse()) else {
                    continue;
                };
                included.push(ResourceKey::new(rt, id));
                next.push(n);
            }
        }
        if cut {
            return Ok((included, vec![cut_warning()]));
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    Ok((included, Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_keeps_only_local_references() {
        let hit = json!({"_source": {"rt": "Observation", "id": "a", "ref": [
            {"p": "subject", "tt": "Patient", "ti": "p1"},
            {"p": "subject", "url": "http://elsewhere.org/Patient/p1"},
        ]}});
        let n = node(&hit).unwrap();
        assert_eq!(n.key, ("Observation".into(), "a".into()));
        assert_eq!(
            n.refs,
            vec![("subject".into(), "Patient".into(), "p1".into())]
        );
        assert!(node(&json!({"_source": {"id": "a"}})).is_none());
    }
}
