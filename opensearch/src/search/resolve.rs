//! Chains and `_has` resolved before the page is searched: the chained (or `_has`) filter is
//! searched on its own type first, and what it reaches becomes a terms filter
//! ([`Clause::Chain`], [`Clause::Keys`]). Each inner search is bounded by the configured
//! `inner_limit`; a larger set is `Invalid` (the caller narrows the search) rather than a
//! silent cut.

use std::future::Future;
use std::pin::Pin;

use hearth_fhir::ResourceType;
use hearth_fhir::search::query::{Filter, Test};
use hearth_store::StoreError;
use serde_json::{Value, json};

use super::Target;
use crate::query::{Clause, compile};

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The clauses of `filters` on `types`, chains and `_has` resolved.
pub(super) async fn clauses<'q>(
    target: &Target<'_>,
    types: &[ResourceType],
    filters: &'q [Filter],
    now: i64,
) -> Result<Vec<Clause<'q>>, StoreError> {
    let mut out = Vec::with_capacity(filters.len());
    for f in filters {
        out.push(clause(target, types, f, now).await?);
    }
    Ok(out)
}

fn clause<'a, 'q: 'a>(
    target: &'a Target<'a>,
    types: &'a [ResourceType],
    f: &'q Filter,
    now: i64,
) -> Boxed<'a, Clause<'q>> {
    Box::pin(async move {
        match &f.test {
            Test::Chain(branches) if f.code != "_id" && f.code != "_lastUpdated" => {
                let mut targets = Vec::with_capacity(branches.len());
                for (ty, inner) in branches {
                    let one = std::slice::from_ref(ty);
                    let c = clause(target, one, inner, now).await?;
                    let hits =
                        matching(target, one, c, json!(["id"]), now, "a chained search").await?;
                    let ids = hits
                        .iter()
                        .filter_map(|h| h.pointer("/_source/id").and_then(Value::as_str))
                        .map(str::to_owned)
                        .collect();
                    targets.push((*ty, ids));
                }
                Ok(Clause::Chain {
                    code: f.code.as_str(),
                    targets,
                })
            }
            Test::Has {
                source,
                reference,
                filter,
            } if f.code != "_id" && f.code != "_lastUpdated" => {
                let one = std::slice::from_ref(source);
                let c = clause(target, one, filter, now).await?;
                let fields = json!(["ref.p", "ref.tt", "ref.ti"]);
                let hits = matching(target, one, c, fields, now, "a _has search").await?;
                let mut keys = Vec::new();
                for hit in &hits {
                    let refs = hit
                        .pointer("/_source/ref")
                        .and_then(Value::as_array)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    for r in refs {
                        let s = |k: &str| r.get(k).and_then(Value::as_str);
                        let (Some(p), Some(tt), Some(ti)) = (s("p"), s("tt"), s("ti")) else {
                            continue;
                        };
                        let wanted = match types {
                            [one] => one.as_str() == tt,
                            _ => true,
                        };
                        if p == reference && wanted {
                            keys.push((tt.to_owned(), ti.to_owned()));
                        }
                    }
                }
                keys.sort();
                keys.dedup();
                if keys.len() > target.inner_limit {
                    return Err(too_many("a _has search", target.inner_limit));
                }
                Ok(Clause::Keys(keys))
            }
            _ => Ok(Clause::Filter(f)),
        }
    })
}

fn too_many(what: &str, limit: usize) -> StoreError {
    StoreError::Invalid(format!(
        "{what} reaches more than {limit} resources (the limit); narrow the search"
    ))
}

/// The hits (with `fields` of their source) of the live resources of `types` satisfying `c`.
async fn matching(
    target: &Target<'_>,
    types: &[ResourceType],
    c: Clause<'_>,
    fields: Value,
    now: i64,
    what: &str,
) -> Result<Vec<Value>, StoreError> {
    let limit = target.inner_limit;
    let body = json!({
        "query": compile(types, &[c], now),
        "size": limit,
        "track_total_hits": limit + 1,
        "_source": fields,
    });
    let (hits, total) = target.hits(&body).await?;
    if total > limit as u64 {
        return Err(too_many(what, limit));
    }
    Ok(hits)
}
