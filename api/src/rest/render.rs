//! Rendering finished interactions as HTTP responses: status, versioning headers, and the
//! body `Prefer: return` asks for.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use hearth_fhir::Issue;
use hearth_fhir::outcome::operation_outcome;
use hearth_store::StoredVersion;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::format::FHIR_JSON;
use crate::headers::{Return, etag, http_date};
use crate::interaction::Done;

/// A FHIR JSON response, indented when `_pretty=true`.
pub fn render_json(status: StatusCode, bytes: Bytes, pretty: bool) -> Result<Response, ApiError> {
    let bytes = if pretty {
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::internal(format!("stored JSON unreadable: {e}")))?;
        Bytes::from(
            serde_json::to_vec_pretty(&value).map_err(|e| ApiError::internal(e.to_string()))?,
        )
    } else {
        bytes
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    Ok(response)
}

/// Adds ETag and Last-Modified of `version`, and Location when asked.
pub fn version_headers(
    response: &mut Response,
    ctx: &Ctx,
    version: &StoredVersion,
    location: bool,
) {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag(version.version)) {
        headers.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(version.last_updated)) {
        headers.insert(header::LAST_MODIFIED, v);
    }
    if location {
        let url = format!(
            "{}/_history/{}",
            ctx.full_url(version.key.rt, &version.key.id),
            version.version
        );
        if let Ok(v) = HeaderValue::from_str(&url) {
            headers.insert(header::LOCATION, v);
        }
    }
}

/// Renders a finished write (or conditional no-op) as the client prefers.
pub fn render_done(ctx: &Ctx, done: Done, ret: Return, pretty: bool) -> Result<Response, ApiError> {
    if let Some(v) = &done.version {
        crate::audit::note_touched(|| format!("{}/{}/_history/{}", v.key.rt, v.key.id, v.version));
    }
    let body = match (&done.version, ret) {
        (_, Return::OperationOutcome) => {
            let mut issues = done.issues.clone();
            issues.push(Issue::information(format!("{}", done.status)));
            Some(Bytes::from(
                serde_json::to_vec(&operation_outcome(&issues))
                    .map_err(|e| ApiError::internal(e.to_string()))?,
            ))
        }
        (Some(v), Return::Representation) if done.status != StatusCode::NO_CONTENT => {
            v.body.clone()
        }
        _ => None,
    };
    let mut response = match body {
        Some(bytes) => {
            // A body replaces "204 No Content" by "200 OK".
            let status = if done.status == StatusCode::NO_CONTENT {
                StatusCode::OK
            } else {
                done.status
            };
            render_json(status, bytes, pretty)?
        }
        None => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = done.status;
            r
        }
    };
    if let Some(version) = &done.version
        && !version.is_deleted()
    {
        version_headers(&mut response, ctx, version, done.location);
    } else if let Some(version) = &done.version
        && let Ok(v) = HeaderValue::from_str(&etag(version.version))
    {
        response.headers_mut().insert(header::ETAG, v);
    }
    Ok(response)
}
