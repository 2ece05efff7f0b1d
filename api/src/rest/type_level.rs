//! Type-level interactions: create (`POST /{type}`) and the conditional update, patch and
//! delete (`PUT|PATCH|DELETE /{type}?criteria`).

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use hearth_fhir::ResourceType;

use super::binary;
use super::instance::run_patch;
use super::params::Params;
use super::render::render_done;
use crate::auth::Caller;
use crate::body::{parse_json, read_limited};
use crate::context::Ctx;
use crate::error::ApiError;
use crate::format::{self, BodyKind};
use crate::headers;
use crate::interaction::{self, Target, is_binary};
use crate::state::AppState;
use hearth_auth::Interaction;

async fn parse_path(
    state: &AppState,
    headers: &HeaderMap,
    (tenant, rt): (String, String),
    caller: Caller,
) -> Result<(Ctx, ResourceType), ApiError> {
    let ctx = Ctx::new(state, &tenant, headers, caller).await?;
    Ok((ctx, rt.parse()?))
}

/// `POST /{type}`, conditional with `If-None-Exist`.
pub async fn create(
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let (ctx, rt) = parse_path(&state, &headers, path, caller).await?;
    let guard = ctx.allow(&[Interaction::Create], rt.as_str())?;
    let params = Params::parse(q.as_deref(), &headers)?;
    format::require_fhir(&params.accept)?;
    let if_none_exist = headers
        .get("if-none-exist")
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::bad_request("If-None-Exist is not ASCII"))
        })
        .transpose()?;
    let planned = if is_binary(rt) && matches!(format::body_kind(&headers), BodyKind::Other(_)) {
        let (resource, blob) = binary::upload(&ctx, &headers, body, None).await?;
        interaction::plan_create(&ctx, rt, resource, if_none_exist, None, Some(blob)).await?
    } else {
        format::require_fhir_body(&headers)?;
        let bytes = read_limited(body, state.limits.max_body_bytes).await?;
        let resource = parse_json(&bytes, state.limits.max_json_depth)?;
        interaction::plan_create(&ctx, rt, resource, if_none_exist, None, None).await?
    };
    let done = interaction::execute_guarded(&ctx, &guard, planned).await?;
    render_done(&ctx, done, headers::prefer_return(&headers), params.pretty)
}

/// The criteria of a conditional interaction; none at all is refused, never a match-all.
fn criteria(params: &Params) -> Result<String, ApiError> {
    if params.rest.is_empty() {
        return Err(ApiError::bad_request(
            "a conditional interaction needs search criteria in the query (e.g. ?identifier=system|value)",
        ));
    }
    Ok(params.rest_query())
}

/// `PUT /{type}?criteria`.
pub async fn conditional_update(
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let (ctx, rt) = parse_path(&state, &headers, path, caller).await?;
    let guard = ctx.allow(&[Interaction::Update], rt.as_str())?;
    let params = Params::parse(q.as_deref(), &headers)?;
    format::require_fhir(&params.accept)?;
    format::require_fhir_body(&headers)?;
    let query = criteria(&params)?;
    let bytes = read_limited(body, state.limits.max_body_bytes).await?;
    let resource = parse_json(&bytes, state.limits.max_json_depth)?;
    let planned = interaction::plan_update(
        &ctx,
        rt,
        Target::Conditional(query),
        resource,
        headers::if_match(&headers)?,
        None,
    )
    .await?;
    let done = interaction::execute_guarded(&ctx, &guard, planned).await?;
    render_done(&ctx, done, headers::prefer_return(&headers), params.pretty)
}

/// `DELETE /{type}?criteria`.
pub async fn conditional_delete(
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (ctx, rt) = parse_path(&state, &headers, path, caller).await?;
    let guard = ctx.allow(&[Interaction::Delete], rt.as_str())?;
    let params = Params::parse(q.as_deref(), &headers)?;
    let query = criteria(&params)?;
    let planned = interaction::plan_conditional_delete(&ctx, rt, &query).await?;
    let done = interaction::execute_guarded(&ctx, &guard, planned).await?;
    render_done(&ctx, done, headers::prefer_return(&headers), params.pretty)
}

/// `PATCH /{type}?criteria`.
pub async fn conditional_patch(
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let (ctx, rt) = parse_path(&state, &headers, path, caller).await?;
    let guard = ctx.allow(&[Interaction::Update], rt.as_str())?;
    let params = Params::parse(q.as_deref(), &headers)?;
    let query = criteria(&params)?;
    run_patch(
        &ctx,
        &guard,
        rt,
        Target::Conditional(query),
        q.as_deref(),
        &headers,
        body,
    )
    .await
}
