//! Instance-level interactions: read, vread (both with `_summary` and `_elements`), update,
//! patch, delete (`/{type}/{id}`).

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hearth_fhir::{ResourceId, ResourceType, VersionId};

use super::binary;
use super::params::Params;
use super::render::{render_done, render_json, version_headers};
use super::search_subset::Subset;
use crate::auth::{Caller, Guard};
use crate::body::{parse_json, read_limited};
use crate::context::Ctx;
use crate::error::ApiError;
use crate::format::{self, Accept, BodyKind};
use crate::headers::{self, IfNoneMatch};
use crate::interaction::{self, PatchFormat, Target, binary_json_with_data, is_binary};
use crate::state::AppState;
use hearth_auth::Interaction;

type InstancePath = Path<(String, String, String)>;

async fn parse_path(
    state: &AppState,
    headers: &HeaderMap,
    path: (String, String, String),
    caller: Caller,
) -> Result<(Ctx, ResourceType, ResourceId), ApiError> {
    let (tenant, rt, id) = path;
    let ctx = Ctx::new(state, &tenant, headers, caller).await?;
    Ok((ctx, rt.parse()?, id.parse()?))
}

/// `GET|HEAD /{type}/{id}`.
pub async fn read(
    State(state): State<AppState>,
    Path(path): InstancePath,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (ctx, rt, id) = parse_path(&state, &headers, path, caller).await?;
    let guard = ctx.allow(&[Interaction::Read], rt.as_str())?;
    let params = Params::parse(q.as_deref(), &headers)?;
    let subset = Subset::from_read_params(&params.rest)?;
    let version = interaction::read_current(&ctx, rt, &id).await?;
    guard.check_stored(&ctx.base, &version)?;
    if not_modified(&headers, &version)? {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        version_headers(&mut response, &ctx, &version, false);
        return Ok(response);
    }
    respond_with_version(&ctx, &params, &subset, version).await
}

/// `GET|HEAD /{type}/{id}/_history/{vid}`.
pub async fn vread(
    State(state): State<AppState>,
    Path((tenant, rt, id, vid)): Path<(String, String, String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (ctx, rt, id) = parse_path(&state, &headers, (tenant, rt, id), caller).await?;
    let guard = ctx.allow(&[Interaction::Read], rt.as_str())?;
    let vid: VersionId = vid.parse()?;
    let params = Params::parse(q.as_deref(), &headers)?;
    let subset = Subset::from_read_params(&params.rest)?;
    let version = interaction::read_version(&ctx, rt, &id, vid).await?;
    guard.check_stored(&ctx.base, &version)?;
    respond_with_version(&ctx, &params, &subset, version).await
}

async fn respond_with_version(
    ctx: &Ctx,
    params: &Params,
    subset: &Subset,
    version: hearth_store::StoredVersion,
) -> Result<Response, ApiError> {
    let rt = version.key.rt;
    if is_binary(rt) && !matches!(params.accept, Accept::FhirJson) {
        return binary::download(ctx, &version, &params.accept).await;
    }
    format::require_fhir(&params.accept)?;
    let bytes = if is_binary(rt) {
        binary_json_with_data(ctx, &version).await?
    } else {
        version.body.clone().unwrap_or_default()
    };
    let bytes = if subset.is_subsetted() {
        subset.apply(rt, &bytes)?.into()
    } else {
        bytes
    };
    let mut response = render_json(StatusCode::OK, bytes, params.pretty)?;
    version_headers(&mut response, ctx, &version, false);
    Ok(response)
}

/// `If-None-Match` and `If-Modified-Since` on a read.
fn not_modified(
    headers: &HeaderMap,
    version: &hearth_store::StoredVersion,
) -> Result<bool, ApiError> {
    if let Some(inm) = headers::if_none_match(headers)? {
        return Ok(match inm {
            IfNoneMatch::Any => true,
            IfNoneMatch::Version(v) => v == version.version,
        });
    }
    if let Some(since) = headers::if_modified_since(headers)? {
        // HTTP dates have second precision.
        return Ok(version.last_updated.timestamp() <= since.timestamp());
    }
    Ok(false)
}

/// `PUT /{type}/{id}`: update, or create with the client's id.
pub async fn update(
    State(state): State<AppState>,
    Path(path): InstancePath,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let (ctx, rt, id) = parse_path(&state, &headers, path, caller).await?;
    let guard = ctx.allow(&[Interaction::Update], rt.as_str())?;
    let params = Params::parse(q.as_deref(), &headers)?;
    format::require_fhir(&params.accept)?;
    let if_match = headers::if_match(&headers)?;
    let planned = if is_binary(rt) && matches!(format::body_kind(&headers), BodyKind::Other(_)) {
        let (resource, blob) = binary::upload(&ctx, &headers, body, Some(&id)).await?;
        interaction::plan_update(&ctx, rt, Target::Id(id), resource, if_match, Some(blob)).await?
    } else {
        format::require_fhir_body(&headers)?;
        let bytes = read_limited(body, state.limits.max_body_bytes).await?;
        let resource = parse_json(&bytes, state.limits.max_json_depth)?;
        interaction::plan_update(&ctx, rt, Target::Id(id), resource, if_match, None).await?
    };
    let done = interaction::execute_guarded(&ctx, &guard, planned).await?;
    render_done(&ctx, done, headers::prefer_return(&headers), params.pretty)
}

/// `DELETE /{type}/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    Path(path): InstancePath,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (ctx, rt, id) = parse_path(&state, &headers, path, caller).await?;
    let guard = ctx.allow(&[Interaction::Delete], rt.as_str())?;
    let params = Params::parse(q.as_deref(), &headers)?;
    let planned = interaction::plan_delete(rt, id, headers::if_match(&headers)?);
    let done = interaction::execute_guarded(&ctx, &guard, planned).await?;
    render_done(&ctx, done, headers::prefer_return(&headers), params.pretty)
}

/// `PATCH /{type}/{id}` with JSON Patch or FHIRPath Patch.
pub async fn patch(
    State(state): State<AppState>,
    Path(path): InstancePath,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let (ctx, rt, id) = parse_path(&state, &headers, path, caller).await?;
    let guard = ctx.allow(&[Interaction::Update], rt.as_str())?;
    run_patch(
        &ctx,
        &guard,
        rt,
        Target::Id(id),
        q.as_deref(),
        &headers,
        body,
    )
    .await
}

/// Shared by instance and conditional PATCH. Without `If-Match`, a patch that lost a race
/// with another writer is re-applied to the new version (a few times).
pub async fn run_patch(
    ctx: &Ctx,
    guard: &Guard,
    rt: ResourceType,
    target: Target,
    q: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let params = Params::parse(q, headers)?;
    format::require_fhir(&params.accept)?;
    let format = patch_format(headers)?;
    let bytes = read_limited(body, ctx.state.limits.max_body_bytes).await?;
    let patch = parse_json(&bytes, ctx.state.limits.max_json_depth)?;
    let if_match = headers::if_match(headers)?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let planned =
            interaction::plan_patch(ctx, rt, target.clone(), &patch, format, if_match).await?;
        match interaction::execute_guarded(ctx, guard, planned).await {
            Err(err)
                if if_match.is_none()
                    && attempts < 5
                    && err.status == StatusCode::PRECONDITION_FAILED =>
            {
                continue;
            }
            result => {
                return render_done(ctx, result?, headers::prefer_return(headers), params.pretty);
            }
        }
    }
}

fn patch_format(headers: &HeaderMap) -> Result<PatchFormat, ApiError> {
    match format::body_kind(headers) {
        BodyKind::JsonPatch => Ok(PatchFormat::JsonPatch),
        BodyKind::FhirJson if headers.get(axum::http::header::CONTENT_TYPE).is_some() => {
            Ok(PatchFormat::FhirPathPatch)
        }
        _ => Err(ApiError::unsupported_media_type(
            "PATCH takes application/json-patch+json (JSON Patch) or application/fhir+json (FHIRPath Patch)",
        )),
    }
}
