//! The router: every path of the service and the layers around it.

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::normalize_path::NormalizePath;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::DefaultOnFailure;
use tower_http::trace::TraceLayer;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::health;
use crate::rest::{self, render_json};
use crate::state::AppState;

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
            post(rest::batch_or_transaction).fallback(method_not_allowed),
        )
        .route("/metadata", get(metadata).fallback(method_not_allowed))
        .route(
            "/_history",
            get(rest::history_system).fallback(method_not_allowed),
        )
        .route(
            "/{rt}",
            post(rest::create)
                .put(rest::conditional_update)
                .patch(rest::conditional_patch)
                .delete(rest::conditional_delete)
                .get(search_not_yet)
                .fallback(method_not_allowed),
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
        );
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .nest("/tenant/{tenant}", fhir)
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .layer(CatchPanicLayer::custom(|_| ApiError::internal("internal error").into_response()))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(300)))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            let tenant = request.uri().path().strip_prefix("/tenant/").and_then(|p| p.split('/').next()).unwrap_or("");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), tenant_id = %tenant, request_id = %request_id)
        }).on_failure(DefaultOnFailure::new().level(tracing::Level::WARN)))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// `GET /tenant/{id}/metadata`.
async fn metadata(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&state, &tenant, &headers)?;
    let pretty = q.as_deref().is_some_and(|q| q.contains("_pretty=true"));
    let mut statement: serde_json::Value =
        serde_json::from_slice(&state.capability).map_err(|e| ApiError::internal(e.to_string()))?;
    statement["implementation"]["url"] = ctx.base.clone().into();
    let bytes = serde_json::to_vec(&statement).map_err(|e| ApiError::internal(e.to_string()))?;
    render_json(StatusCode::OK, Bytes::from(bytes), pretty)
}

async fn search_not_yet() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        hearth_fhir::Issue::error(
            hearth_fhir::IssueCode::NotSupported,
            "search is not supported yet",
        ),
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed("this method is not allowed on this URL")
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}
