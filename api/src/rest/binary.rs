//! Binary in its own media type: raw upload into the BlobStore and raw, streamed download.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures::TryStreamExt;
use hearth_fhir::ResourceId;
use hearth_store::{BlobKey, ErrorKind, StoredVersion};
use serde_json::{Map, Value};

use super::render::version_headers;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::format::Accept;
use crate::interaction::new_blob_key;

/// Streams a raw request body into a new blob and builds the Binary resource describing it
/// (`contentType` from `Content-Type`, `securityContext` from `X-Security-Context`).
pub async fn upload(
    ctx: &Ctx,
    headers: &HeaderMap,
    body: Body,
    id: Option<&ResourceId>,
) -> Result<(Value, BlobKey), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::bad_request("a raw Binary upload needs a Content-Type"))?
        .to_owned();
    let key_id = id.cloned().unwrap_or_else(|| ResourceId::new_v4("upload"));
    let key = new_blob_key(&key_id)?;
    let max = ctx.state.limits.max_binary_bytes;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    match ctx
        .state
        .blobs
        .put(&ctx.tenant, &key, Box::pin(stream), max)
        .await
    {
        Ok(_) => {}
        Err(err) if err.kind() == ErrorKind::Invalid => {
            return Err(ApiError::too_large(format!(
                "Binary content larger than the limit of {max} bytes"
            )));
        }
        Err(err) => return Err(err.into()),
    }
    let mut map = Map::new();
    map.insert("resourceType".into(), "Binary".into());
    if let Some(id) = id {
        map.insert("id".into(), id.as_str().into());
    }
    map.insert("contentType".into(), content_type.into());
    if let Some(reference) = headers
        .get("x-security-context")
        .and_then(|v| v.to_str().ok())
    {
        map.insert(
            "securityContext".into(),
            serde_json::json!({ "reference": reference }),
        );
    }
    Ok((Value::Object(map), key))
}

/// Answers a Binary read with its content in its own media type, streamed from the BlobStore.
pub async fn download(
    ctx: &Ctx,
    version: &StoredVersion,
    accept: &Accept,
) -> Result<Response, ApiError> {
    let resource: Value = serde_json::from_slice(version.body.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::internal(format!("stored Binary unreadable: {e}")))?;
    let content_type = resource
        .get("contentType")
        .and_then(Value::as_str)
        .unwrap_or("application/octet-stream");
    if let Accept::Other(wanted) = accept {
        let base = content_type.split(';').next().unwrap_or("").trim();
        let (wanted_major, wanted_minor) = wanted.split_once('/').unwrap_or((wanted, "*"));
        let (major, _) = base.split_once('/').unwrap_or((base, ""));
        let compatible = wanted == base || (wanted_minor == "*" && wanted_major == major);
        if !compatible {
            return Err(ApiError::not_acceptable(format!(
                "this Binary is {content_type}; ask for it, */* or application/fhir+json"
            )));
        }
    }
    let mut response = match &version.blob {
        Some(blob) => {
            let (size, stream) = ctx
                .state
                .blobs
                .get(&ctx.tenant, &BlobKey::new(blob)?)
                .await?;
            let mut r = Response::new(Body::from_stream(stream));
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
            r
        }
        None => Response::new(Body::empty()),
    };
    *response.status_mut() = StatusCode::OK;
    // A `contentType` that is no media type (a `code` may hold any character but whitespace
    // runs, or be empty in a stored document of an earlier version) is served as bytes of no
    // known type, never as a missing or malformed header.
    let declared = Some(content_type)
        .filter(|t| t.parse::<mime::Mime>().is_ok())
        .and_then(|t| HeaderValue::from_str(t).ok())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, declared);
    if let Some(reference) = resource
        .pointer("/securityContext/reference")
        .and_then(Value::as_str)
        && let Ok(v) = HeaderValue::from_str(reference)
    {
        response.headers_mut().insert("x-security-context", v);
    }
    version_headers(&mut response, ctx, version, false);
    Ok(response)
}
