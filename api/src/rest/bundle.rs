//! Batch and transaction at the tenant base (`POST /tenant/{id}`).
//!
//! A transaction resolves identities first (new ids for creates, conditional matches), rewrites
//! references to them, plans every write in the spec's order (DELETE, POST, PUT/PATCH), commits
//! all of them in one atomic store write, then answers the reads (GET/HEAD). A batch runs each
//! entry on its own; one failing entry does not affect the others.

mod entry;
mod references;

use std::collections::{HashMap, HashSet};

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use hearth_fhir::ResourceId;
use hearth_fhir::bundle::{BundleWriter, Entry};
use hearth_store::{BlobKey, ResourceKey};
use serde_json::{Value, json};

use self::entry::{EntryRequest, Op, parse_entries};
use self::references::rewrite_references;
use super::params::Params;
use super::render::render_json;
use crate::auth::Caller;
use crate::body::{parse_json, read_limited};
use crate::context::Ctx;
use crate::error::ApiError;
use crate::format;
use crate::headers::{Return, etag, prefer_return};
use crate::interaction::{self, Done, Kind, Planned, Target, resolve_conditional};
use crate::state::AppState;

/// `POST /tenant/{id}` with a Bundle of type `batch` or `transaction`.
pub async fn batch_or_transaction(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let ctx = Ctx::new(&state, &tenant, &headers, caller).await?;
    let params = Params::parse(q.as_deref(), &headers)?;
    format::require_fhir(&params.accept)?;
    format::require_fhir_body(&headers)?;
    let bytes = read_limited(body, state.limits.max_body_bytes).await?;
    let bundle = parse_json(&bytes, state.limits.max_json_depth)?;
    let (bundle_type, entries) = parse_entries(&ctx, bundle, state.limits.max_bundle_entries)?;
    let ret = prefer_return(&headers);
    crate::audit::note_interaction(if bundle_type == "transaction" {
        crate::audit::Interaction::Transaction
    } else {
        crate::audit::Interaction::Batch
    });
    let results = if bundle_type == "transaction" {
        transaction(&ctx, entries).await?
    } else {
        batch(&ctx, entries).await
    };
    let response_type = format!("{bundle_type}-response");
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut writer = BundleWriter::new(
        &response_type,
        &uuid::Uuid::new_v4().to_string(),
        &now,
        None,
        &[],
    );
    for result in &results {
        write_entry(&ctx, &mut writer, result, ret);
    }
    render_json(StatusCode::OK, Bytes::from(writer.finish()), params.pretty)
}

fn status_line(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
}

fn write_entry(ctx: &Ctx, writer: &mut BundleWriter, result: &Result<Done, ApiError>, ret: Return) {
    match result {
        Ok(done) => {
            let mut response = json!({ "status": status_line(done.status) });
            let mut full_url = None;
            let mut resource = None;
            if let Some(version) = &done.version {
                crate::audit::note_touched(|| {
                    format!(
                        "{}/{}/_history/{}",
                        version.key.rt, version.key.id, version.version
                    )
                });
                response["etag"] = etag(version.version).into();
                response["lastModified"] = version
                    .last_updated
                    .to_rfc3339_opts(SecondsFormat::Millis, true)
                    .into();
                if done.location {
                    response["location"] = format!(
                        "{}/{}/_history/{}",
                        version.key.rt, version.key.id, version.version
                    )
                    .into();
                }
                if !version.is_deleted() {
                    full_url = Some(ctx.full_url(version.key.rt, &version.key.id));
                    if ret == Return::Representation {
                        resource = version.body.clone();
                    }
                }
            }
            if ret == Return::OperationOutcome {
                response["outcome"] = hearth_fhir::outcome::operation_outcome(&done.issues);
            }
            writer.entry(Entry {
                full_url: full_url.as_deref(),
                resource: resource.as_deref(),
                response: Some(response),
                ..Entry::default()
            });
        }
        Err(err) => {
            let response = json!({ "status": status_line(err.status), "outcome": err.outcome() });
            writer.entry(Entry {
                response: Some(response),
                ..Entry::default()
            });
        }
    }
}

/// Each entry on its own, in order.
async fn batch(
    ctx: &Ctx,
    entries: Vec<Result<EntryRequest, ApiError>>,
) -> Vec<Result<Done, ApiError>> {
    let mut results = Vec::with_capacity(entries.len());
    for entry in entries {
        let result = match entry {
            Ok(entry) => run_batch_entry(ctx, entry).await,
            Err(err) => Err(err),
        };
        results.push(result);
    }
    results
}

async fn run_batch_entry(ctx: &Ctx, entry: EntryRequest) -> Result<Done, ApiError> {
    if let Some(done) = entry::read(ctx, &entry).await {
        return done;
    }
    let guard = ctx.allow(&[entry.op.interaction()], entry.rt.as_str())?;
    let planned = plan_write(ctx, entry, None).await?;
    interaction::execute_guarded(ctx, &guard, planned).await
}

/// Plans one write entry; `assigned` is the id a transaction reserved for it.
async fn plan_write(
    ctx: &Ctx,
    entry: EntryRequest,
    assigned: Option<ResourceId>,
) -> Result<Planned, ApiError> {
    let rt = entry.rt;
    match entry.op {
        Op::Create { if_none_exist } => {
            let resource = entry
                .resource
                .ok_or_else(|| ApiError::bad_request("a POST entry needs a resource"))?;
            interaction::plan_create(ctx, rt, resource, if_none_exist.as_deref(), assigned, None)
                .await
        }
        Op::Update { target } => {
            let resource = entry
                .resource
                .ok_or_else(|| ApiError::bad_request("a PUT entry needs a resource"))?;
            let target = assigned.map(Target::Id).unwrap_or(target);
            interaction::plan_update(ctx, rt, target, resource, entry.if_match, None).await
        }
        Op::Patch { target, format } => {
            let patch = entry.resource.ok_or_else(|| {
                ApiError::bad_request("a PATCH entry needs a Binary or Parameters resource")
            })?;
            let target = assigned.map(Target::Id).unwrap_or(target);
            interaction::plan_patch(ctx, rt, target, &patch, format, entry.if_match).await
        }
        Op::Delete { target } => match (assigned, target) {
            (Some(id), _) | (None, Target::Id(id)) => {
                Ok(interaction::plan_delete(rt, id, entry.if_match))
            }
            (None, Target::Conditional(query)) => {
                interaction::plan_conditional_delete(ctx, rt, &query).await
            }
        },
        Op::Read { .. } | Op::VRead { .. } => {
            Err(ApiError::internal("a read reached the write planner"))
        }
    }
}

fn entry_error(index: usize, err: ApiError) -> ApiError {
    let issues = err
        .issues
        .into_iter()
        .map(|mut issue| {
            issue.diagnostics = format!("Bundle.entry[{index}]: {}", issue.diagnostics);
            if issue.expression.is_none() {
                issue.expression = Some(format!("Bundle.entry[{index}]"));
            }
            issue
        })
        .collect();
    ApiError::with_issues(err.status, issues)
}

/// All entries or none.
async fn transaction(
    ctx: &Ctx,
    entries: Vec<Result<EntryRequest, ApiError>>,
) -> Result<Vec<Result<Done, ApiError>>, ApiError> {
    let mut requests = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        requests.push(entry.map_err(|e| entry_error(index, e))?);
    }
    // 0. Every entry must be allowed, or nothing happens (403 for the whole transaction).
    let mut guards = Vec::with_capacity(requests.len());
    for (index, entry) in requests.iter().enumerate() {
        let guard = ctx
            .allow(&[entry.op.interaction()], entry.rt.as_str())
            .map_err(|e| entry_error(index, e))?;
        guards.push(guard);
    }
    // 1. Identities: fullUrl → "Type/id" for every entry that writes, conditional matches.
    let mut identities: HashMap<String, String> = HashMap::new();
    let mut assigned: Vec<Option<ResourceId>> = vec![None; requests.len()];
    let mut results: Vec<Option<Result<Done, ApiError>>> =
        (0..requests.len()).map(|_| None).collect();
    let mut targets: HashSet<ResourceKey> = HashSet::new();
    for (index, entry) in requests.iter_mut().enumerate() {
        let identity = resolve_identity(ctx, entry)
            .await
            .map_err(|e| entry_error(index, e))?;
        let id = match identity {
            Identity::None => continue,
            Identity::Existing(version) => {
                guards[index]
                    .check_stored(&ctx.base, &version)
                    .map_err(|e| entry_error(index, e))?;
                // A conditional create that matched: nothing to write.
                if let Some(full_url) = &entry.full_url {
                    identities.insert(full_url.clone(), format!("{}/{}", entry.rt, version.key.id));
                }
                results[index] = Some(Ok(Done::new(StatusCode::OK, Some(version))));
                continue;
            }
            Identity::Id(id) => id,
        };
        if !targets.insert(ResourceKey::new(entry.rt, id.clone())) {
            return Err(entry_error(
                index,
                ApiError::bad_request(format!(
                    "{}/{id} is the target of more than one entry",
                    entry.rt
                )),
            ));
        }
        if let Some(full_url) = &entry.full_url {
            identities.insert(full_url.clone(), format!("{}/{id}", entry.rt));
        }
        assigned[index] = Some(id);
    }
    // 2. References to those identities, and conditional references, everywhere.
    for (index, entry) in requests.iter_mut().enumerate() {
        if let Some(resource) = entry.resource.as_mut() {
            rewrite_references(ctx, resource, &identities)
                .await
                .map_err(|e| entry_error(index, e))?;
        }
    }
    // 3. Plan the writes in the spec's order, then commit them at once.
    let mut order: Vec<usize> = (0..requests.len())
        .filter(|i| results[*i].is_none() && !requests[*i].op.is_read())
        .collect();
    order.sort_by_key(|i| requests[*i].op.rank());
    let mut slots: Vec<Option<EntryRequest>> = requests.into_iter().map(Some).collect();
    let mut ops = Vec::with_capacity(order.len());
    let mut kinds: Vec<(usize, Kind)> = Vec::with_capacity(order.len());
    let mut new_blobs: Vec<BlobKey> = Vec::new();
    for &index in &order {
        let Some(entry) = slots[index].take() else {
            continue;
        };
        let mut planned = plan_write(ctx, entry, assigned[index].take()).await;
        if let Ok(plan) = &planned
            && let Err(err) = interaction::check_planned(ctx, &guards[index], plan).await
        {
            if let Planned::Write {
                new_blob: Some(key),
                ..
            } = plan
            {
                new_blobs.push(key.clone());
            }
            planned = Err(err);
        }
        match planned.map_err(|e| entry_error(index, e)) {
            Ok(Planned::Write { kind, op, new_blob }) => {
                ops.push(op);
                kinds.push((index, kind));
                new_blobs.extend(new_blob);
            }
            Ok(Planned::Done(done)) => results[index] = Some(Ok(done)),
            Err(err) => {
                remove_blobs(ctx, &new_blobs).await;
                return Err(err);
            }
        }
    }
    let outcomes = match ctx.state.store.write(&ctx.tenant, ops).await {
        Ok(outcomes) => outcomes,
        Err(err) => {
            remove_blobs(ctx, &new_blobs).await;
            return Err(err.into());
        }
    };
    for ((index, kind), outcome) in kinds.into_iter().zip(outcomes) {
        results[index] = Some(Ok(interaction::finish(kind, outcome)));
    }
    // 4. Reads see the state after the writes.
    for (index, slot) in slots.iter().enumerate() {
        if let Some(entry) = slot
            && let Some(done) = entry::read(ctx, entry).await
        {
            results[index] = Some(done);
        }
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(ApiError::internal("entry not processed"))))
        .collect())
}

async fn remove_blobs(ctx: &Ctx, keys: &[BlobKey]) {
    for key in keys {
        if let Err(err) = ctx.state.blobs.delete(&ctx.tenant, key).await {
            tracing::warn!(error = %err, "remove blob of a failed transaction");
        }
    }
}

enum Identity {
    /// A read, or a write whose target is decided later (conditional delete).
    None,
    /// A conditional create matched this resource.
    Existing(hearth_store::StoredVersion),
    /// The entry writes this id.
    Id(ResourceId),
}

async fn resolve_identity(ctx: &Ctx, entry: &mut EntryRequest) -> Result<Identity, ApiError> {
    let rt = entry.rt;
    match &entry.op {
        Op::Create { if_none_exist } => {
            if let Some(query) = if_none_exist.as_deref().filter(|q| !q.is_empty()) {
                let matches = resolve_conditional(ctx, rt, query).await?;
                match matches.as_slice() {
                    [] => {}
                    [one] => {
                        return Ok(Identity::Existing(
                            interaction::read_current(ctx, rt, &one.id).await?,
                        ));
                    }
                    _ => {
                        return Err(ApiError::precondition_failed(format!(
                            "ifNoneExist '{query}' matches more than one {rt}"
                        )));
                    }
                }
            }
            Ok(Identity::Id(ResourceId::new_v4(uuid::Uuid::new_v4())))
        }
        Op::Update {
            target: Target::Id(id),
        }
        | Op::Patch {
            target: Target::Id(id),
            ..
        }
        | Op::Delete {
            target: Target::Id(id),
        } => Ok(Identity::Id(id.clone())),
        Op::Update {
            target: Target::Conditional(query),
        } => {
            let matches = resolve_conditional(ctx, rt, query).await?;
            let body_id = entry
                .resource
                .as_ref()
                .and_then(|r| r.get("id"))
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<ResourceId>().ok());
            let id = match matches.as_slice() {
                [] => body_id.unwrap_or_else(|| ResourceId::new_v4(uuid::Uuid::new_v4())),
                [one] => one.id.clone(),
                _ => {
                    return Err(ApiError::precondition_failed(format!(
                        "'{query}' matches more than one {rt}"
                    )));
                }
            };
            if let Some(Value::Object(map)) = entry.resource.as_mut() {
                map.entry("id")
                    .or_insert_with(|| Value::String(id.to_string()));
            }
            Ok(Identity::Id(id))
        }
        Op::Patch {
            target: Target::Conditional(query),
            ..
        }
        | Op::Delete {
            target: Target::Conditional(query),
        } => {
            let matches = resolve_conditional(ctx, rt, query).await?;
            match matches.as_slice() {
                [one] => Ok(Identity::Id(one.id.clone())),
                [] if matches!(entry.op, Op::Delete { .. }) => Ok(Identity::None),
                [] => Err(ApiError::not_found(format!("'{query}' matches no {rt}"))),
                _ => Err(ApiError::precondition_failed(format!(
                    "'{query}' matches more than one {rt}"
                ))),
            }
        }
        Op::Read { .. } | Op::VRead { .. } => Ok(Identity::None),
    }
}
