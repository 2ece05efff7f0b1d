//! The token-less auth endpoints: `POST /auth/token` (SMART Backend Services) and
//! `GET /tenant/{id}/.well-known/smart-configuration`.

use std::time::SystemTime;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_auth::{OAuthError, OAuthErrorCode, smart_configuration};

use crate::body::read_limited;
use crate::context::{Ctx, origin};
use crate::error::{ApiError, OAuthReply};
use crate::state::AppState;

/// The path of the token endpoint, shared by every tenant.
pub const TOKEN_PATH: &str = "/auth/token";
/// Largest token request body (an assertion is at most 16 KiB).
const MAX_TOKEN_REQUEST_BYTES: usize = 64 * 1024;

/// `POST /auth/token`: client credentials with a signed assertion; answers RFC 6749 JSON.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return OAuthReply(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        ))
        .into_response();
    }
    let Ok(bytes) = read_limited(body, MAX_TOKEN_REQUEST_BYTES).await else {
        return OAuthReply(OAuthError::new(
            OAuthErrorCode::InvalidRequest,
            "the request body is too large or unreadable",
        ))
        .into_response();
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
    let endpoint = format!("{}{TOKEN_PATH}", origin(&state, &headers));
    match state
        .auth
        .tokens
        .exchange(&form, &endpoint, SystemTime::now())
        .await
    {
        Ok(granted) => {
            let mut response = (StatusCode::OK, Json(granted)).into_response();
            let h = response.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(err) => OAuthReply(err).into_response(),
    }
}

/// `GET /tenant/{id}/.well-known/smart-configuration`: discovery, no token needed; the
/// `token_endpoint` is this server's origin + `/auth/token` (what assertions' `aud` must be).
pub async fn smart_config(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let ctx = Ctx::open(&state, &tenant, &headers).await?;
    Ok(Json(smart_configuration(&ctx.base, TOKEN_PATH)).into_response())
}
