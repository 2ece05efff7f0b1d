//! The router: every path of the service and the layers around it.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use bytes::Bytes;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::normalize_path::NormalizePath;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::DefaultOnFailure;
use tower_http::trace::TraceLayer;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::rest::{self, render_json};
use crate::state::AppState;
use crate::{admin, audit, auth, health, rate_limit};

/// The whole service, ready to serve or to call with `oneshot` in tests. A trailing slash is
/// ignored (`POST /tenant/default/` is the base), as FHIR clients send both forms.
pub fn app(state: AppState) -> Router {
    let routes = routes(state);
    Router::new().fallback_service(NormalizePath::trim_trailing_slash(routes))
}

fn routes(state: AppState) -> Router {
    let fhir = Router::new()
        .route(
            "/",
            post(rest::batch_or_transaction)
                .get(rest::search_system)
                .fallback(method_not_allowed),
        )
        .route("/metadata", get(metadata).fallback(method_not_allowed))
        .route(
            "/$export",
            get(rest::export_system)
                .post(rest::export_system)
                .fallback(method_not_allowed),
        )
        .route(
            "/Patient/$export",
            get(rest::export_patient)
                .post(rest::export_patient)
                .fallback(method_not_allowed),
        )
        .route(
            "/Group/{id}/$export",
            get(rest::export_group)
                .post(rest::export_group)
                .fallback(method_not_allowed),
        )
        .route(
            "/$export-status/{job}",
            get(rest::export_status)
                .delete(rest::export_cancel)
                .fallback(method_not_allowed),
        )
        .route(
            "/$export-file/{job}/{file}",
            // gzip when the client accepts it (the files are large and compress well).
            get(rest::export_file)
                .layer(tower_http::compression::CompressionLayer::new())
                .fallback(method_not_allowed),
        )
        .route(
            "/.well-known/smart-configuration",
            get(auth::endpoints::smart_config).fallback(method_not_allowed),
        )
        .route(
            "/_history",
            get(rest::history_system).fallback(method_not_allowed),
        )
        .route(
            "/_search",
            post(rest::search_system_post).fallback(method_not_allowed),
        )
        .route(
            "/{rt}",
            post(rest::create)
                .put(rest::conditional_update)
                .patch(rest::conditional_patch)
                .delete(rest::conditional_delete)
                .get(rest::search_type)
                .fallback(method_not_allowed),
        )
        .route(
            "/{rt}/_search",
            post(rest::search_type_post).fallback(method_not_allowed),
        )
        .route(
            "/{rt}/_history",
            get(rest::history_type).fallback(method_not_allowed),
        )
        .route(
            "/{rt}/{id}",
            get(rest::read)
                .put(rest::update)
                .patch(rest::patch)
                .delete(rest::delete)
                .fallback(method_not_allowed),
        )
        .route(
            "/{rt}/{id}/_history",
            get(rest::history_instance).fallback(method_not_allowed),
        )
        .route(
            "/{rt}/{id}/_history/{vid}",
            get(rest::vread).fallback(method_not_allowed),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ));
    let admin = Router::new()
        .route(
            "/tenants",
            post(admin::create_tenant)
                .get(admin::list_tenants)
                .fallback(method_not_allowed),
        )
        .route(
            "/tenants/{id}",
            get(admin::get_tenant)
                .delete(admin::delete_tenant)
                .fallback(method_not_allowed),
        )
        .route(
            "/tenants/{id}/suspend",
            post(admin::suspend_tenant).fallback(method_not_allowed),
        )
        .route(
            "/tenants/{id}/resume",
            post(admin::resume_tenant).fallback(method_not_allowed),
        )
        .route(
            "/tenants/{id}/clients",
            post(admin::register_client)
                .get(admin::list_clients)
                .fallback(method_not_allowed),
        )
        .route(
            "/tenants/{id}/clients/{client_id}",
            delete(admin::delete_client).fallback(method_not_allowed),
        );
    // Open without a token: /health, /ready, POST /auth/token, and per tenant `metadata` and
    // `.well-known/smart-configuration`. Every other handler takes a `Caller` or `Admin`.
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs))
        .route("/docs/{*file}", get(docs_file))
        .route(
            auth::endpoints::TOKEN_PATH,
            post(auth::endpoints::token).fallback(method_not_allowed),
        )
        .nest("/admin", admin)
        .nest("/tenant/{tenant}", fhir)
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("internal error").into_response()
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(300),
        ))
        // Inside the request's span and outside the timeout and panic layers, so it sees
        // every answer; its record replaces the usual "finished processing request" event.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::layer,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(())
                .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// The span of a request: who (`subject`, `client_id`, recorded once the token is verified),
/// the tenant, method and path, request id and source address. Every request ends with one
/// INFO audit event in it (`hearth::audit`, see [`audit::layer`]).
fn request_span(request: &Request<axum::body::Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let tenant = request
        .uri()
        .path()
        .strip_prefix("/tenant/")
        .and_then(|p| p.split('/').next())
        .unwrap_or("");
    let remote = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        tenant_id = %tenant,
        request_id = %request_id,
        remote = %remote,
        subject = tracing::field::Empty,
        client_id = tracing::field::Empty,
    )
}

/// `GET /tenant/{id}/metadata`.
async fn metadata(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ctx = Ctx::open(&state, &tenant, &headers).await?;
    let pretty = q.as_deref().is_some_and(|q| q.contains("_pretty=true"));
    let mut statement: serde_json::Value =
        serde_json::from_slice(&state.capability).map_err(|e| ApiError::internal(e.to_string()))?;
    statement["implementation"]["url"] = ctx.base.clone().into();
    let bytes = serde_json::to_vec(&statement).map_err(|e| ApiError::internal(e.to_string()))?;
    render_json(StatusCode::OK, Bytes::from(bytes), pretty)
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed("this method is not allowed on this URL")
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// `GET /openapi.json`: the generated document, built once (off the runtime) and then served
/// from memory.
async fn openapi_json() -> Result<Response, ApiError> {
    let bytes = tokio::task::spawn_blocking(hearth_openapi::document_json)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        Bytes::from_static(bytes),
    )
        .into_response())
}

/// `GET /docs`: Swagger UI, with its assets under `/docs/` (embedded, no CDN).
async fn docs() -> Result<Response, ApiError> {
    docs_asset("")
}

async fn docs_file(Path(file): Path<String>) -> Result<Response, ApiError> {
    docs_asset(&file)
}

fn docs_asset(file: &str) -> Result<Response, ApiError> {
    let asset = hearth_openapi::docs_ui::asset(file)
        .ok_or_else(|| ApiError::not_found("no such endpoint"))?;
    let body = match asset.bytes {
        std::borrow::Cow::Borrowed(b) => Bytes::from_static(b),
        std::borrow::Cow::Owned(v) => Bytes::from(v),
    };
    let mut response = (
        [(axum::http::header::CONTENT_TYPE, asset.content_type)],
        body,
    )
        .into_response();
    if asset.gzipped {
        response.headers_mut().insert(
            axum::http::header::CONTENT_ENCODING,
            axum::http::HeaderValue::from_static("gzip"),
        );
    }
    Ok(response)
}
