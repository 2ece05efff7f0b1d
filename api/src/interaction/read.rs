//! Reads: the current version, one version, and conditional matching.

use hearth_fhir::search::parse_criteria;
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
/// is enough to tell none, one and many apart).
pub async fn resolve_conditional(
    ctx: &Ctx,
    rt: ResourceType,
    query: &str,
) -> Result<Vec<ResourceKey>, ApiError> {
    let pairs: Vec<(String, String)> = url_pairs(query);
    let criteria = parse_criteria(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|issue| ApiError::new(axum::http::StatusCode::BAD_REQUEST, issue))?;
    Ok(ctx.state.store.find(&ctx.tenant, rt, &criteria, 2).await?)
}

/// Decodes `application/x-www-form-urlencoded` pairs.
pub fn url_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .into_owned()
        .collect()
}
