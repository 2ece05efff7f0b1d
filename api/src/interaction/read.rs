//! Reads: the current version, one version, and conditional matching.

use hearth_fhir::search::query::{ParseOptions, Total, parse_search};
use hearth_fhir::search::registry::Registry;
use hearth_fhir::{Issue, IssueCode};
use hearth_fhir::{ResourceId, ResourceType, VersionId};
use hearth_store::{ResourceKey, StoredVersion};

use crate::context::Ctx;
use crate::error::ApiError;

/// The current version of a live resource: 404 if it never existed, 410 if deleted.
pub async fn read_current(
    ctx: &Ctx,
    rt: ResourceType,
    id: &ResourceId,
) -> Result<StoredVersion, ApiError> {
    let key = ResourceKey::new(rt, id.clone());
    match ctx.state.store.read(&ctx.tenant, &key).await? {
        None => Err(ApiError::not_found(format!("{rt}/{id} is not known"))),
        Some(v) if v.is_deleted() => Err(ApiError::gone(format!(
            "{rt}/{id} was deleted (version {})",
            v.version
        ))),
        Some(v) => Ok(v),
    }
}

/// One version: 404 if there is no such version, 410 if that version is a delete.
pub async fn read_version(
    ctx: &Ctx,
    rt: ResourceType,
    id: &ResourceId,
    version: VersionId,
) -> Result<StoredVersion, ApiError> {
    let key = ResourceKey::new(rt, id.clone());
    match ctx.state.store.vread(&ctx.tenant, &key, version).await? {
        None => Err(ApiError::not_found(format!(
            "{rt}/{id}/_history/{version} is not known"
        ))),
        Some(v) if v.is_deleted() => Err(ApiError::gone(format!(
            "{rt}/{id}/_history/{version} is a delete"
        ))),
        Some(v) => Ok(v),
    }
}

/// Resolves a conditional query (`a=b&c=d`) to the matching live resources (at most 2, which
/// is enough to tell none, one and many apart). Authorized as a search on `rt` (403).
pub async fn resolve_conditional(
    ctx: &Ctx,
    rt: ResourceType,
    query: &str,
) -> Result<Vec<ResourceKey>, ApiError> {
    // Matching is a search: it needs `s` on the type, and may not be confined by patient
    // context or filters, since a match outside them would still reveal (or touch) a resource.
    let guard = ctx.allow(&[hearth_auth::Interaction::Search], rt.as_str())?;
    if !guard.is_full() {
        return Err(ApiError::forbidden(
            "conditional matching needs search scopes without patient context or filters",
        ));
    }
    let pairs: Vec<(String, String)> = url_pairs(query);
    let bad = |issue| ApiError::new(axum::http::StatusCode::BAD_REQUEST, issue);
    // Strict: a criterion that cannot be applied must not widen the match.
    let options = ParseOptions {
        base: Some(&ctx.base),
        strict: true,
        ..ParseOptions::default()
    };
    let mut search = parse_search(Registry::r4(), Some(rt), &pairs, &options).map_err(bad)?;
    if search.filters.is_empty() {
        return Err(bad(Issue::error(
            IssueCode::Invalid,
            "a conditional interaction needs at least one search criterion",
        )));
    }
    search.count = 2;
    search.total = Total::None;
    search.sort.clear();
    search.include.clear();
    search.revinclude.clear();
    search.cursor = None;
    let search =
        hearth_store::resolve_terminology(ctx.state.store.as_ref(), &ctx.tenant, &search).await?;
    let page = ctx.state.store.search(&ctx.tenant, &search).await?;
    Ok(page.matches.into_iter().map(|v| v.key).collect())
}

/// Decodes `application/x-www-form-urlencoded` pairs.
pub fn url_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .into_owned()
        .collect()
}
