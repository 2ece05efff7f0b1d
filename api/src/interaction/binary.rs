//! Binary resources: their bytes live in the BlobStore, never in the resource JSON.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures::TryStreamExt;
use hearth_fhir::{Issue, IssueCode, ResourceId, ResourceType};
use hearth_store::{BlobKey, StoredVersion};
use serde_json::{Map, Value};

use crate::context::Ctx;
use crate::error::ApiError;

pub fn is_binary(rt: ResourceType) -> bool {
    rt.as_str() == "Binary"
}

/// A fresh blob key for content of Binary `id`.
pub fn new_blob_key(id: &ResourceId) -> Result<BlobKey, ApiError> {
    BlobKey::new(&format!("binary/{id}/{}", uuid::Uuid::new_v4())).map_err(ApiError::from)
}

/// Moves a Binary's base64 `data` into the BlobStore (or adopts an already uploaded raw blob).
/// Returns the JSON to store, the blob reference, and the blob created now (for clean-up).
pub async fn take_data(
    ctx: &Ctx,
    rt: ResourceType,
    id: &ResourceId,
    mut map: Map<String, Value>,
    raw_blob: Option<BlobKey>,
) -> Result<(Map<String, Value>, Option<String>, Option<BlobKey>), ApiError> {
    if !is_binary(rt) {
        return Ok((map, None, None));
    }
    if let Some(key) = raw_blob {
        return Ok((map, Some(key.as_str().to_owned()), None));
    }
    let Some(Value::String(data)) = map.shift_remove("data") else {
        return Ok((map, None, None));
    };
    // base64Binary allows whitespace between groups (R4 datatype regex); it is not content.
    let compact: Vec<u8> = data.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let bytes = STANDARD.decode(&compact).map_err(|e| {
        ApiError::unprocessable(vec![
            Issue::error(IssueCode::Value, format!("invalid base64: {e}")).at("Binary.data"),
        ])
    })?;
    let key = new_blob_key(id)?;
    let stream: hearth_store::ByteStream =
        Box::pin(futures::stream::once(async move { Ok(Bytes::from(bytes)) }));
    let max = ctx.state.limits.max_binary_bytes;
    ctx.state.blobs.put(&ctx.tenant, &key, stream, max).await?;
    Ok((map, Some(key.as_str().to_owned()), Some(key)))
}

/// The FHIR JSON form of a stored Binary version: its JSON with `data` filled from the blob.
pub async fn binary_json_with_data(ctx: &Ctx, version: &StoredVersion) -> Result<Bytes, ApiError> {
    let body = version.body.clone().unwrap_or_default();
    let Some(blob) = &version.blob else {
        return Ok(body);
    };
    let key = BlobKey::new(blob)?;
    let (_, stream) = ctx.state.blobs.get(&ctx.tenant, &key).await?;
    let chunks: Vec<Bytes> = stream
        .try_collect()
        .await
        .map_err(|e| ApiError::internal(format!("read binary content: {e}")))?;
    let content: Vec<u8> = chunks.concat();
    let mut map: Map<String, Value> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::internal(format!("stored Binary unreadable: {e}")))?;
    map.insert("data".into(), Value::String(STANDARD.encode(content)));
    serde_json::to_vec(&map)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(e.to_string()))
}
