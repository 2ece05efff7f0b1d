//! Search: `GET /{type}?...`, `POST /{type}/_search` (form body and query string combined)
//! and the system search `GET /?_type=...`, answered with a searchset Bundle.
//!
//! The query is parsed into the typed AST (`hearth_fhir::search::query`) and run by the
//! store's `SearchIndex`. The Bundle's `self` link echoes the parameters applied (ignored ones
//! are reported in an `outcome` entry instead), `next` / `previous` carry the store's cursor.
//! Under a restricted scope (patient context, granular filters) the page is filtered resource
//! by resource and carries no total, since the store does not know the scope.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use hearth_auth::Interaction;
use hearth_fhir::ResourceType;
use hearth_fhir::bundle::{BundleWriter, Entry};
use hearth_fhir::outcome::operation_outcome;
use hearth_fhir::search::query::{ParseOptions, SearchQuery, parse_search};
use hearth_fhir::search::registry::Registry;

use super::params::Params;
use super::render::render_json;
use super::search_subset::Subset;
use crate::auth::{Caller, Guard};
use crate::body::read_limited;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::format;
use crate::state::AppState;

/// `GET /{type}?criteria`.
pub async fn search_type(
    State(state): State<AppState>,
    Path((tenant, rt)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&state, &tenant, &headers, caller).await?;
    let rt: ResourceType = rt.parse()?;
    let guard = ctx.allow(&[Interaction::Search], rt.as_str())?;
    search(&ctx, Some(rt), q.unwrap_or_default(), &headers, &guard).await
}

/// `POST /{type}/_search` with an `application/x-www-form-urlencoded` body; its parameters
/// follow those of the query string.
/// `POST /_search`: system search with a form body (and query string), combined.
pub async fn search_system_post(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&state, &tenant, &headers, caller).await?;
    let guard = ctx.allow(&[Interaction::Search], "*")?;
    let query = form_query(&state, &headers, q.as_deref(), body).await?;
    search(&ctx, None, query, &headers, &guard).await
}

/// The parameters of a POST `_search`: the query string and the form body, in that order.
async fn form_query(
    state: &AppState,
    headers: &HeaderMap,
    q: Option<&str>,
    body: Body,
) -> Result<String, ApiError> {
    let form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err(ApiError::unsupported_media_type(
            "POST _search takes an application/x-www-form-urlencoded body",
        ));
    }
    let bytes = read_limited(body, state.limits.max_body_bytes).await?;
    let body = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::bad_request("the form body is not UTF-8"))?;
    Ok(match q.filter(|q| !q.is_empty()) {
        Some(q) if !body.is_empty() => format!("{q}&{body}"),
        Some(q) => q.to_owned(),
        None => body.to_owned(),
    })
}

pub async fn search_type_post(
    State(state): State<AppState>,
    Path((tenant, rt)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&state, &tenant, &headers, caller).await?;
    let rt: ResourceType = rt.parse()?;
    let guard = ctx.allow(&[Interaction::Search], rt.as_str())?;
    let query = form_query(&state, &headers, q.as_deref(), body).await?;
    search(&ctx, Some(rt), query, &headers, &guard).await
}

/// `GET /?_type=...&criteria`: the system search.
pub async fn search_system(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&state, &tenant, &headers, caller).await?;
    let guard = ctx.allow(&[Interaction::Search], "*")?;
    search(&ctx, None, q.unwrap_or_default(), &headers, &guard).await
}

/// `Prefer: handling=strict`.
fn strict(headers: &HeaderMap) -> bool {
    crate::headers::prefers(headers, "handling=strict")
}

async fn search(
    ctx: &Ctx,
    rt: Option<ResourceType>,
    query: String,
    headers: &HeaderMap,
    guard: &Guard,
) -> Result<Response, ApiError> {
    crate::audit::note_query(&query);
    let params = Params::parse(Some(&query), headers)?;
    format::require_fhir(&params.accept)?;
    let limits = &ctx.state.limits;
    let options = ParseOptions {
        base: Some(&ctx.base),
        strict: strict(headers),
        default_count: limits.default_page_size,
        max_count: limits.max_page_size,
    };
    let mut parsed = parse_search(Registry::r4(), rt, &params.rest, &options)
        .map_err(|issue| ApiError::new(StatusCode::BAD_REQUEST, issue))?;
    let restricted = !guard.is_full();
    if restricted {
        parsed.total = hearth_fhir::search::query::Total::None;
    }
    // `:in`, `:not-in`, token `:above`/`:below`: code sets from the tenant's terminology.
    let mut parsed =
        hearth_store::resolve_terminology(ctx.state.store.as_ref(), &ctx.tenant, &parsed).await?;
    let mut page = ctx.state.store.search(&ctx.tenant, &parsed).await?;
    if restricted {
        page.matches
            .retain(|v| guard.check_stored(&ctx.base, v).is_ok());
        page.included
            .retain(|v| guard.check_stored(&ctx.base, v).is_ok());
    }

    let path = match rt {
        Some(rt) => format!("{}/{rt}", ctx.base),
        None => ctx.base.clone(),
    };
    let link = |cursor: Option<&str>| link(&path, &parsed, cursor);
    let self_link = link(parsed.cursor.as_deref());
    let next = page.next.as_deref().map(|c| link(Some(c)));
    let previous = page.previous.as_deref().map(|c| link(Some(c)));
    let mut links = vec![("self", self_link.as_str())];
    if let Some(next) = &next {
        links.push(("next", next.as_str()));
    }
    if let Some(previous) = &previous {
        links.push(("previous", previous.as_str()));
    }
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut bundle = BundleWriter::new(
        "searchset",
        &uuid::Uuid::new_v4().to_string(),
        &now,
        page.total,
        &links,
    );
    let subset = Subset {
        summary: parsed.summary,
        elements: parsed.elements.clone(),
    };
    let entries = page
        .matches
        .iter()
        .map(|v| (v, "match"))
        .chain(page.included.iter().map(|v| (v, "include")));
    for (version, mode) in entries {
        let Some(body) = &version.body else { continue };
        crate::audit::note_touched(|| format!("{}/{}", version.key.rt, version.key.id));
        let full_url = ctx.full_url(version.key.rt, &version.key.id);
        let subsetted;
        let resource: &[u8] = if parsed.is_subsetted() {
            subsetted = subset.apply(version.key.rt, body)?;
            &subsetted
        } else {
            body
        };
        bundle.entry(Entry {
            full_url: Some(&full_url),
            resource: Some(resource),
            search_mode: Some(mode),
            ..Entry::default()
        });
    }
    let mut issues = std::mem::take(&mut parsed.warnings);
    issues.append(&mut page.issues);
    if !issues.is_empty() {
        let outcome = serde_json::to_vec(&operation_outcome(&issues))
            .map_err(|e| ApiError::internal(e.to_string()))?;
        bundle.entry(Entry {
            resource: Some(&outcome),
            search_mode: Some("outcome"),
            ..Entry::default()
        });
    }
    render_json(StatusCode::OK, Bytes::from(bundle.finish()), params.pretty)
}

/// `{path}?{applied parameters}[&_cursor=...]`.
fn link(path: &str, query: &SearchQuery, cursor: Option<&str>) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &query.applied {
        s.append_pair(k, v);
    }
    if let Some(c) = cursor {
        s.append_pair("_cursor", c);
    }
    let qs = s.finish();
    if qs.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{qs}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefer_strict() {
        let mut h = HeaderMap::new();
        assert!(!strict(&h));
        h.insert("prefer", "return=minimal, handling=strict".parse().unwrap());
        assert!(strict(&h));
        h.insert("prefer", "handling=lenient".parse().unwrap());
        assert!(!strict(&h));
    }
}
