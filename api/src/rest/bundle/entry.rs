//! Parsing the entries of a batch or transaction Bundle into typed requests.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hearth_auth::Interaction;
use hearth_fhir::{ResourceId, ResourceType, VersionId};
use serde_json::Value;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::headers::parse_etag;
use crate::interaction::{self, Done, PatchFormat, Target};

/// What an entry asks for.
#[derive(Debug, Clone)]
pub enum Op {
    Create { if_none_exist: Option<String> },
    Update { target: Target },
    Patch { target: Target, format: PatchFormat },
    Delete { target: Target },
    Read { id: ResourceId },
    VRead { id: ResourceId, version: VersionId },
}

impl Op {
    pub fn is_read(&self) -> bool {
        matches!(self, Op::Read { .. } | Op::VRead { .. })
    }

    /// The permission the entry needs on its type (conditional matching adds a search,
    /// checked where it happens).
    pub fn interaction(&self) -> Interaction {
        match self {
            Op::Create { .. } => Interaction::Create,
            Op::Update { .. } | Op::Patch { .. } => Interaction::Update,
            Op::Delete { .. } => Interaction::Delete,
            Op::Read { .. } | Op::VRead { .. } => Interaction::Read,
        }
    }

    /// Processing order of a transaction: DELETE, POST, PUT/PATCH, then GET/HEAD.
    pub fn rank(&self) -> u8 {
        match self {
            Op::Delete { .. } => 0,
            Op::Create { .. } => 1,
            Op::Update { .. } | Op::Patch { .. } => 2,
            Op::Read { .. } | Op::VRead { .. } => 3,
        }
    }
}

/// One entry, parsed.
#[derive(Debug, Clone)]
pub struct EntryRequest {
    pub rt: ResourceType,
    pub op: Op,
    /// The resource to write, or the patch document.
    pub resource: Option<Value>,
    pub full_url: Option<String>,
    pub if_match: Option<VersionId>,
}

/// Checks the Bundle and parses its entries; an entry that cannot be parsed is an `Err` in
/// its slot (a batch answers it alone, a transaction fails as a whole).
pub fn parse_entries(
    ctx: &Ctx,
    bundle: Value,
    max_entries: usize,
) -> Result<(String, Vec<Result<EntryRequest, ApiError>>), ApiError> {
    let Value::Object(mut bundle) = bundle else {
        return Err(ApiError::bad_request("the body must be a Bundle"));
    };
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(ApiError::bad_request(
            "the base URL accepts only a Bundle of type batch or transaction",
        ));
    }
    let bundle_type = match bundle.get("type").and_then(Value::as_str) {
        Some(t @ ("batch" | "transaction")) => t.to_owned(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Bundle type '{other}' cannot be processed; send batch or transaction"
            )));
        }
        None => return Err(ApiError::bad_request("the Bundle has no type")),
    };
    let entries = match bundle.shift_remove("entry") {
        None => Vec::new(),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(ApiError::bad_request("Bundle.entry must be an array")),
    };
    if entries.len() > max_entries {
        return Err(ApiError::too_large(format!(
            "the Bundle has {} entries; the limit is {max_entries}",
            entries.len()
        )));
    }
    let parsed = entries
        .into_iter()
        .map(|entry| parse_entry(ctx, entry))
        .collect();
    Ok((bundle_type, parsed))
}

fn parse_entry(ctx: &Ctx, entry: Value) -> Result<EntryRequest, ApiError> {
    let Value::Object(mut entry) = entry else {
        return Err(ApiError::bad_request("a Bundle entry must be an object"));
    };
    let request = entry
        .get("request")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad_request("the entry has no request"))?;
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("the entry has no request.method"))?
        .to_owned();
    let url = request
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("the entry has no request.url"))?
        .to_owned();
    let (method, url) = (method.as_str(), url.as_str());
    let if_match = request
        .get("ifMatch")
        .and_then(Value::as_str)
        .map(parse_etag)
        .transpose()?;
    let if_none_exist = request
        .get("ifNoneExist")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let relative = url
        .strip_prefix(&format!("{}/", ctx.base))
        .unwrap_or(url)
        .trim_start_matches('/');
    let (path, query) = match relative.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (relative, None),
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(first) = segments.first() else {
        return Err(ApiError::bad_request(format!(
            "request.url '{url}' names no resource type"
        )));
    };
    let rt: ResourceType = first.parse()?;
    let target = |segments: &[&str], query: Option<String>| -> Result<Target, ApiError> {
        match (segments, query) {
            ([_, id], None) => Ok(Target::Id(id.parse()?)),
            ([_], Some(q)) if !q.is_empty() => Ok(Target::Conditional(q)),
            _ => Err(ApiError::bad_request(format!(
                "request.url '{url}' must be Type/id or Type?criteria for {method}"
            ))),
        }
    };
    let mut resource = entry.shift_remove("resource");
    let op = match method {
        "POST" if segments.len() == 1 && query.is_none() => Op::Create { if_none_exist },
        "PUT" => Op::Update {
            target: target(&segments, query)?,
        },
        "DELETE" => Op::Delete {
            target: target(&segments, query)?,
        },
        "PATCH" => {
            let (format, patch) = patch_document(resource.take())?;
            resource = Some(patch);
            Op::Patch {
                target: target(&segments, query)?,
                format,
            }
        }
        "GET" | "HEAD" => match segments.as_slice() {
            [_, id] if query.is_none() => Op::Read { id: id.parse()? },
            [_, id, "_history", vid] => Op::VRead {
                id: id.parse()?,
                version: vid.parse()?,
            },
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    hearth_fhir::Issue::error(
                        hearth_fhir::IssueCode::NotSupported,
                        format!(
                            "'{method} {url}' is not supported in a Bundle yet (read and vread are)"
                        ),
                    ),
                ));
            }
        },
        "POST" => {
            return Err(ApiError::bad_request(format!(
                "a POST entry's url must be a resource type, not '{url}'"
            )));
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown request.method '{other}'"
            )));
        }
    };
    let full_url = entry
        .get("fullUrl")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(EntryRequest {
        rt,
        op,
        resource,
        full_url,
        if_match,
    })
}

/// A PATCH entry carries a Binary holding a JSON Patch, or a Parameters (FHIRPath Patch).
fn patch_document(resource: Option<Value>) -> Result<(PatchFormat, Value), ApiError> {
    let resource =
        resource.ok_or_else(|| ApiError::bad_request("a PATCH entry needs a resource"))?;
    match resource.get("resourceType").and_then(Value::as_str) {
        Some("Parameters") => Ok((PatchFormat::FhirPathPatch, resource)),
        Some("Binary") => {
            let data = resource
                .get("data")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::bad_request("the PATCH Binary has no data"))?;
            let bytes = STANDARD.decode(data).map_err(|e| {
                ApiError::bad_request(format!("the PATCH Binary's data is not base64: {e}"))
            })?;
            let patch = serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::bad_request(format!("the PATCH Binary's data is not JSON: {e}"))
            })?;
            Ok((PatchFormat::JsonPatch, patch))
        }
        _ => Err(ApiError::bad_request(
            "a PATCH entry's resource must be a Parameters or a Binary",
        )),
    }
}

/// Answers a read entry (authorized like a read of its own); `None` for entries that write.
pub async fn read(ctx: &Ctx, entry: &EntryRequest) -> Option<Result<Done, ApiError>> {
    if !entry.op.is_read() {
        return None;
    }
    let guard = match ctx.allow(&[Interaction::Read], entry.rt.as_str()) {
        Ok(guard) => guard,
        Err(err) => return Some(Err(err)),
    };
    let result = match &entry.op {
        Op::Read { id } => interaction::read_current(ctx, entry.rt, id).await,
        Op::VRead { id, version } => interaction::read_version(ctx, entry.rt, id, *version).await,
        _ => return None,
    };
    Some(result.and_then(|v| {
        guard.check_stored(&ctx.base, &v)?;
        Ok(Done::new(StatusCode::OK, Some(v)))
    }))
}
