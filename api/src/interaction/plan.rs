//! Planning writes: validation, conditional matching and patching, up to the store op.

use axum::http::StatusCode;
use hearth_fhir::{Issue, IssueCode, ResourceId, ResourceType, VersionId};
use hearth_store::{BlobKey, Method, Precondition, ResourceKey, WriteKind, WriteOp, WriteOutcome};
use serde_json::Value;

use super::binary::take_data;
use super::index::index_of;
use super::outcome::{Done, Kind};
use super::read::{read_current, resolve_conditional};
use super::validate::{body_id, validate_body};
use crate::context::Ctx;
use crate::error::ApiError;

/// Which resource a write addresses.
#[derive(Debug, Clone)]
pub enum Target {
    Id(ResourceId),
    /// A conditional query such as `identifier=http://x|1`.
    Conditional(String),
}

/// The two PATCH body formats of R4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchFormat {
    JsonPatch,
    FhirPathPatch,
}

/// A write ready for the store, or an interaction that needs no write.
#[derive(Debug)]
pub enum Planned {
    Write {
        kind: Kind,
        op: WriteOp,
        /// A blob written while planning, to remove if the write does not happen.
        new_blob: Option<BlobKey>,
    },
    Done(Done),
}

fn new_id() -> ResourceId {
    ResourceId::new_v4(uuid::Uuid::new_v4())
}

/// Plans a create. `assigned_id` is the id a transaction reserved for a `urn:uuid:` entry;
/// `raw_blob` is Binary content already uploaded in its own media type.
pub async fn plan_create(
    ctx: &Ctx,
    rt: ResourceType,
    body: Value,
    if_none_exist: Option<&str>,
    assigned_id: Option<ResourceId>,
    raw_blob: Option<BlobKey>,
) -> Result<Planned, ApiError> {
    let map = validate_body(rt, body)?;
    if let Some(query) = if_none_exist.filter(|q| !q.trim().is_empty()) {
        let matches = resolve_conditional(ctx, rt, query).await?;
        match matches.as_slice() {
            [] => {}
            [one] => {
                let current = read_current(ctx, rt, &one.id).await?;
                return Ok(Planned::Done(Done::new(StatusCode::OK, Some(current))));
            }
            _ => {
                return Err(ApiError::precondition_failed(format!(
                    "If-None-Exist '{query}' matches more than one {rt}"
                )));
            }
        }
    }
    // The server assigns the id of a created resource; one sent by the client is ignored.
    let id = assigned_id.unwrap_or_else(new_id);
    let (map, blob, new_blob) = take_data(ctx, rt, &id, map, raw_blob).await?;
    let (map, index) = index_of(ctx, rt, map);
    let op = WriteOp {
        key: ResourceKey::new(rt, id),
        kind: WriteKind::Put {
            body: map,
            blob,
            method: Method::Post,
            index,
        },
        precondition: Precondition::MustNotExist,
    };
    Ok(Planned::Write {
        kind: Kind::Create,
        op,
        new_blob,
    })
}

/// Plans an update by id (update-as-create when absent) or by condition.
pub async fn plan_update(
    ctx: &Ctx,
    rt: ResourceType,
    target: Target,
    body: Value,
    if_match: Option<VersionId>,
    raw_blob: Option<BlobKey>,
) -> Result<Planned, ApiError> {
    let map = validate_body(rt, body)?;
    let body_id = body_id(&map)?;
    let id = match target {
        Target::Id(id) => {
            match &body_id {
                None => {
                    return Err(ApiError::bad_request(
                        "an update needs the resource's id in the body",
                    ));
                }
                Some(b) if *b != id => {
                    return Err(ApiError::bad_request(format!(
                        "the body's id '{b}' does not match the URL's id '{id}'"
                    )));
                }
                Some(_) => {}
            }
            id
        }
        Target::Conditional(query) => {
            let matches = resolve_conditional(ctx, rt, &query).await?;
            match matches.as_slice() {
                [] => body_id.unwrap_or_else(new_id),
                [one] => {
                    if body_id.as_ref().is_some_and(|b| *b != one.id) {
                        return Err(ApiError::bad_request(format!(
                            "the body's id does not match the resource {rt}/{} that '{query}' selects",
                            one.id
                        )));
                    }
                    one.id.clone()
                }
                _ => {
                    return Err(ApiError::precondition_failed(format!(
                        "'{query}' matches more than one {rt}"
                    )));
                }
            }
        }
    };
    let (map, blob, new_blob) = take_data(ctx, rt, &id, map, raw_blob).await?;
    let (map, index) = index_of(ctx, rt, map);
    let op = WriteOp {
        key: ResourceKey::new(rt, id),
        kind: WriteKind::Put {
            body: map,
            blob,
            method: Method::Put,
            index,
        },
        precondition: if_match.map_or(Precondition::None, Precondition::VersionIs),
    };
    Ok(Planned::Write {
        kind: Kind::Update,
        op,
        new_blob,
    })
}

/// Plans a delete by id.
pub fn plan_delete(rt: ResourceType, id: ResourceId, if_match: Option<VersionId>) -> Planned {
    Planned::Write {
        kind: Kind::Delete,
        op: WriteOp {
            key: ResourceKey::new(rt, id),
            kind: WriteKind::Delete,
            precondition: if_match.map_or(Precondition::None, Precondition::VersionIs),
        },
        new_blob: None,
    }
}

/// Plans a conditional delete: none matching is a successful no-op, several is 412.
pub async fn plan_conditional_delete(
    ctx: &Ctx,
    rt: ResourceType,
    query: &str,
) -> Result<Planned, ApiError> {
    let matches = resolve_conditional(ctx, rt, query).await?;
    match matches.as_slice() {
        [] => Ok(Planned::Done(Done::new(StatusCode::NO_CONTENT, None))),
        [one] => Ok(plan_delete(rt, one.id.clone(), None)),
        _ => Err(ApiError::precondition_failed(format!(
            "'{query}' matches more than one {rt}; this server deletes one resource at a time"
        ))),
    }
}

/// Plans a patch: reads the current version, applies the patch, validates the result, and
/// writes it only if nobody wrote in between.
pub async fn plan_patch(
    ctx: &Ctx,
    rt: ResourceType,
    target: Target,
    patch: &Value,
    format: PatchFormat,
    if_match: Option<VersionId>,
) -> Result<Planned, ApiError> {
    let id = match target {
        Target::Id(id) => id,
        Target::Conditional(query) => {
            let matches = resolve_conditional(ctx, rt, &query).await?;
            match matches.as_slice() {
                [] => return Err(ApiError::not_found(format!("'{query}' matches no {rt}"))),
                [one] => one.id.clone(),
                _ => {
                    return Err(ApiError::precondition_failed(format!(
                        "'{query}' matches more than one {rt}"
                    )));
                }
            }
        }
    };
    let current = read_current(ctx, rt, &id).await?;
    if let Some(expected) = if_match
        && expected != current.version
    {
        return Err(ApiError::precondition_failed(format!(
            "If-Match expects version {expected}, the current version is {}",
            current.version
        )));
    }
    let bytes = current.body.as_deref().unwrap_or_default();
    let mut resource: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::internal(format!("stored resource unreadable: {e}")))?;
    let applied = match format {
        PatchFormat::JsonPatch => hearth_fhir::patch::apply_json_patch(&mut resource, patch),
        PatchFormat::FhirPathPatch => {
            hearth_fhir::patch::apply_fhirpath_patch(&mut resource, patch)
        }
    };
    applied.map_err(|issue| {
        let status = if issue.code == IssueCode::Invalid {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        ApiError::new(status, issue)
    })?;
    let unchanged_identity = resource.get("resourceType").and_then(Value::as_str)
        == Some(rt.as_str())
        && resource.get("id").and_then(Value::as_str) == Some(id.as_str());
    if !unchanged_identity {
        return Err(ApiError::unprocessable(vec![Issue::error(
            IssueCode::Processing,
            "a patch must not change the resourceType or id",
        )]));
    }
    let map = validate_body(rt, resource)?;
    let (map, index) = index_of(ctx, rt, map);
    let op = WriteOp {
        key: ResourceKey::new(rt, id),
        kind: WriteKind::Put {
            body: map,
            blob: current.blob.clone(),
            method: Method::Put,
            index,
        },
        precondition: Precondition::VersionIs(current.version),
    };
    Ok(Planned::Write {
        kind: Kind::Patch,
        op,
        new_blob: None,
    })
}

/// Turns the store's outcome of a planned write into the interaction's result.
pub fn finish(kind: Kind, outcome: WriteOutcome) -> Done {
    match outcome {
        WriteOutcome::Written { version, created } => {
            let (status, location) = match kind {
                Kind::Create => (StatusCode::CREATED, true),
                Kind::Update if created => (StatusCode::CREATED, true),
                Kind::Update | Kind::Patch => (StatusCode::OK, false),
                Kind::Delete => (StatusCode::NO_CONTENT, false),
            };
            let mut done = Done::new(status, Some(version));
            done.location = location;
            done
        }
        WriteOutcome::Unchanged => Done::new(StatusCode::NO_CONTENT, None),
    }
}
