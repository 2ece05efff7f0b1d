//! History at system, type and instance level, newest first, paged by cursor.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use hearth_fhir::bundle::{BundleWriter, Entry};
use hearth_fhir::search::parse_date_range;
use hearth_fhir::{ResourceId, ResourceType};
use hearth_store::{HistoryQuery, HistoryScope, Method, ResourceKey};
use serde_json::json;

use super::params::Params;
use super::render::render_json;
use crate::auth::Caller;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::format;
use crate::headers::etag;
use crate::state::AppState;
use hearth_auth::Interaction;

/// History lists many resources at once; under a restricted scope (patient context, granular
/// filters) it would have to filter pages, which it does not do yet.
fn unrestricted_only(guard: &crate::auth::Guard) -> Result<(), ApiError> {
    if guard.is_full() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "type and system history need scopes without patient context or filters",
        ))
    }
}

/// `GET /_history`.
pub async fn history_system(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&state, &tenant, &headers, caller).await?;
    unrestricted_only(&ctx.allow(&[Interaction::Search], "*")?)?;
    history(
        &ctx,
        HistoryScope::System,
        "_history".into(),
        q.as_deref(),
        &headers,
    )
    .await
}

/// `GET /{type}/_history`.
pub async fn history_type(
    State(state): State<AppState>,
    Path((tenant, rt)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&state, &tenant, &headers, caller).await?;
    let rt: ResourceType = rt.parse()?;
    unrestricted_only(&ctx.allow(&[Interaction::Search], rt.as_str())?)?;
    history(
        &ctx,
        HistoryScope::Type(rt),
        format!("{rt}/_history"),
        q.as_deref(),
        &headers,
    )
    .await
}

/// `GET /{type}/{id}/_history`.
pub async fn history_instance(
    State(state): State<AppState>,
    Path((tenant, rt, id)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&state, &tenant, &headers, caller).await?;
    let rt: ResourceType = rt.parse()?;
    let guard = ctx.allow(&[Interaction::Read], rt.as_str())?;
    let id: ResourceId = id.parse()?;
    let key = ResourceKey::new(rt, id.clone());
    let Some(current) = ctx.state.store.read(&ctx.tenant, &key).await? else {
        return Err(ApiError::not_found(format!("{rt}/{id} is not known")));
    };
    // Restricted: the resource as it is now decides (a deleted one cannot be checked).
    guard.check_stored(&ctx.base, &current)?;
    history(
        &ctx,
        HistoryScope::Instance(key),
        format!("{rt}/{id}/_history"),
        q.as_deref(),
        &headers,
    )
    .await
}

async fn history(
    ctx: &Ctx,
    scope: HistoryScope,
    path: String,
    q: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let params = Params::parse(q, headers)?;
    format::require_fhir(&params.accept)?;
    let limits = &ctx.state.limits;
    let mut query = HistoryQuery {
        since: None,
        at: None,
        count: limits.default_page_size,
        cursor: None,
    };
    let mut echoed: Vec<(&str, String)> = Vec::new();
    let mut count_zero = false;
    for (name, value) in &params.rest {
        match name.as_str() {
            "_since" => {
                query.since = Some(
                    parse_date_range(value)
                        .map_err(|i| ApiError::new(StatusCode::BAD_REQUEST, i))?
                        .start,
                );
                echoed.push(("_since", value.clone()));
            }
            "_at" => {
                query.at = Some(
                    parse_date_range(value)
                        .map_err(|i| ApiError::new(StatusCode::BAD_REQUEST, i))?
                        .start,
                );
                echoed.push(("_at", value.clone()));
            }
            "_count" => {
                let n: usize = value.parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "_count must be a non-negative integer, not '{value}'"
                    ))
                })?;
                count_zero = n == 0;
                query.count = n.clamp(1, limits.max_page_size);
                echoed.push(("_count", n.min(limits.max_page_size).to_string()));
            }
            "_cursor" => query.cursor = Some(value.clone()),
            // Unknown parameters are ignored, as the search page allows by default.
            _ => {}
        }
    }
    let page = ctx.state.store.history(&ctx.tenant, &scope, &query).await?;
    let link = |cursor: Option<&str>| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &echoed {
            s.append_pair(k, v);
        }
        if let Some(c) = cursor {
            s.append_pair("_cursor", c);
        }
        let qs = s.finish();
        if qs.is_empty() {
            format!("{}/{path}", ctx.base)
        } else {
            format!("{}/{path}?{qs}", ctx.base)
        }
    };
    let self_link = link(query.cursor.as_deref());
    let next_link = page
        .next
        .as_deref()
        .filter(|_| !count_zero)
        .map(|c| link(Some(c)));
    let mut links = vec![("self", self_link.as_str())];
    if let Some(next) = &next_link {
        links.push(("next", next.as_str()));
    }
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut bundle = BundleWriter::new(
        "history",
        &uuid::Uuid::new_v4().to_string(),
        &now,
        Some(page.total),
        &links,
    );
    for version in page.entries.iter().filter(|_| !count_zero) {
        let (rt, id) = (version.key.rt, &version.key.id);
        crate::audit::note_touched(|| format!("{rt}/{id}/_history/{}", version.version));
        let full_url = ctx.full_url(rt, id);
        let (method, url, status) = match version.method {
            Method::Post => ("POST", rt.to_string(), "201 Created"),
            Method::Put if version.version.get() == 1 => {
                ("PUT", format!("{rt}/{id}"), "201 Created")
            }
            Method::Put => ("PUT", format!("{rt}/{id}"), "200 OK"),
            Method::Delete => ("DELETE", format!("{rt}/{id}"), "204 No Content"),
        };
        bundle.entry(Entry {
            full_url: Some(&full_url),
            resource: version.body.as_deref(),
            request: Some(json!({ "method": method, "url": url })),
            response: Some(json!({
                "status": status,
                "etag": etag(version.version),
                "lastModified": version.last_updated.to_rfc3339_opts(SecondsFormat::Millis, true),
            })),
            ..Entry::default()
        });
    }
    render_json(StatusCode::OK, Bytes::from(bundle.finish()), params.pretty)
}
