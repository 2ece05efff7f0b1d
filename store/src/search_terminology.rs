//! Resolving a search's terminology modifiers (`:in`, `:not-in`, token `:above` / `:below`)
//! against the ValueSets and CodeSystems stored in the tenant, through the `SearchIndex` port
//! itself, so every engine receives plain code sets (see `hearth_fhir::search::terminology`).
//! Callers run it before [`SearchIndex::search`]; an engine given an unresolved test matches
//! nothing.

use hearth_fhir::ResourceType;
use hearth_fhir::search::query::{ParseOptions, SearchQuery, Total, parse_search};
use hearth_fhir::search::registry::Registry;
use hearth_fhir::search::terminology::{Fetched, Resolution, Want, has_terminology, resolve};
use hearth_tenancy::TenantId;
use serde_json::Value;

use crate::{SearchIndex, StoreError};

/// Rounds of fetching: one per level of value-set imports, plus the code systems.
const MAX_ROUNDS: usize = 8;

/// `query` with its terminology tests replaced by the code sets they stand for. Unknown value
/// sets or code systems, unsupported filters and expansions above the limit are `Invalid`.
pub async fn resolve_terminology<S: SearchIndex + ?Sized>(
    index: &S,
    tenant: &TenantId,
    query: &SearchQuery,
) -> Result<SearchQuery, StoreError> {
    if !has_terminology(query) {
        return Ok(query.clone());
    }
    let mut fetched = Fetched::default();
    for _ in 0..MAX_ROUNDS {
        match resolve(query, &fetched).map_err(|i| StoreError::Invalid(i.diagnostics))? {
            Resolution::Resolved(q) => return Ok(*q),
            Resolution::Need(wants) => {
                for want in wants {
                    let found = fetch(index, tenant, &want).await?;
                    fetched.resources.insert(want, found);
                }
            }
        }
    }
    Err(StoreError::Invalid(
        "value set imports nest too deep to expand".to_owned(),
    ))
}

/// The current resource `want` names, if the tenant has one (the highest `version` when a
/// canonical URL without version matches several).
async fn fetch<S: SearchIndex + ?Sized>(
    index: &S,
    tenant: &TenantId,
    want: &Want,
) -> Result<Option<Value>, StoreError> {
    let (rt, pairs) = match want {
        Want::ValueSet(r) => match r.strip_prefix("ValueSet/") {
            Some(id) => ("ValueSet", vec![("_id", id.to_owned())]),
            None => match r.split_once('|') {
                Some((url, version)) => (
                    "ValueSet",
                    vec![("url", url.to_owned()), ("version", version.to_owned())],
                ),
                None => ("ValueSet", vec![("url", r.clone())]),
            },
        },
        Want::CodeSystem(url) => ("CodeSystem", vec![("url", url.clone())]),
    };
    let rt: ResourceType = rt
        .parse()
        .map_err(|e| StoreError::internal("resolve terminology", e))?;
    let pairs: Vec<(String, String)> = pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let mut q = parse_search(Registry::r4(), Some(rt), &pairs, &ParseOptions::default())
        .map_err(|i| StoreError::Invalid(i.diagnostics))?;
    q.total = Total::None;
    q.count = 50;
    let page = index.search(tenant, &q).await?;
    let mut best: Option<Value> = None;
    for m in page.matches {
        let Some(body) = m.body else { continue };
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| StoreError::internal("read terminology resource", e))?;
        let version = |v: &Value| {
            v.get("version")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        if best.as_ref().is_none_or(|b| version(&v) > version(b)) {
            best = Some(v);
        }
    }
    Ok(best)
}
