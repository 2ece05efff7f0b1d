//! Running one export job: plan it (snapshot, types, patients, tasks), then run each task:
//! export its slice of each type page by page, closing a file at the size limit and
//! checkpointing the task after every file.
//!
//! Tasks of one job run in parallel on different workers and share the job document, saved
//! with optimistic concurrency (`commit.rs`): a task re-reads and reapplies its change when
//! another task saved first. A cancel, a failure, or another worker that took the task over
//! is noticed at the next checkpoint, and at every page by a cheap re-read; the files this run
//! wrote and did not record are then removed. The task whose checkpoint leaves every task done
//! completes the job.

use std::collections::HashSet;
use std::sync::Arc;

use hearth_fhir::ResourceType;
use hearth_fhir::VersionId;
use hearth_fhir::compartment::{in_patient_compartment, patients_linked};
use hearth_fhir::search::query::{ParseOptions, Total, parse_search};
use hearth_fhir::search::registry::Registry;
use hearth_store::{ChangesQuery, JobId, ResourceKey, StoreError, StoredVersion};
use hearth_tenancy::TenantId;
use serde_json::{Value, json};

use super::associated::Association;
use super::commit::{Commit, commit};
use super::context::{ExportContext, Loaded};
use super::job::{FileKind, FileRecord, Part, Status, Task};
use super::page::{EncodeThread, Encoder, PageWork, Selection};
use super::request::{Associated, Format, Level, form_pairs};
use super::sink::Sink;

/// Why a run stopped before the job completed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Cancelled, removed or taken over by another worker: nothing more to do here.
    #[error("the job was cancelled or changed by someone else")]
    Superseded,
    /// The job cannot succeed; it is marked failed.
    #[error("{0}")]
    Fatal(String),
    /// A storage problem; the job is retried from its last checkpoint.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Plans the job if it is not yet; returns the tasks left to run (none once it ended).
pub async fn plan_job(
    ctx: &ExportContext,
    tenant: &TenantId,
    id: &JobId,
) -> Result<Vec<usize>, RunError> {
    let Some(mut loaded) = ctx.load(tenant, id).await? else {
        return Err(RunError::Superseded);
    };
    if !loaded.job.status.is_active() {
        return Ok(Vec::new());
    }
    if loaded.job.status == Status::Accepted || loaded.job.tasks.is_empty() {
        plan(ctx, tenant, &mut loaded).await?;
    }
    Ok(loaded
        .job
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.done)
        .map(|(i, _)| i)
        .collect())
}

/// Runs task `task` of the job to its end (or until the job is cancelled, fails or the task
/// is taken over); `Ok(true)` when it was the last task and completed the job.
pub async fn run_task(
    ctx: &ExportContext,
    tenant: &TenantId,
    id: &JobId,
    task: usize,
    worker: &str,
) -> Result<bool, RunError> {
    let Some(mut loaded) = ctx.load(tenant, id).await? else {
        return Err(RunError::Superseded);
    };
    if loaded.job.status != Status::Running {
        return Ok(false);
    }
    let Some(state) = loaded.job.tasks.get(task) else {
        return Err(RunError::Fatal(format!("the job has no task {task}")));
    };
    if state.done {
        return Ok(false);
    }
    let encoding =
        EncodeThread::start().map_err(|e| StoreError::internal("start an encoding thread", e))?;
    for index in state.part..loaded.job.parts.len() {
        export_part(ctx, tenant, &mut loaded, task, index, &encoding).await?;
    }
    let worker = worker.to_owned();
    let done = Commit {
        files: Vec::new(),
        problems: Vec::new(),
        update: Box::new(move |t| {
            t.done = true;
            t.worker = Some(worker.clone());
        }),
    };
    commit(ctx, tenant, &mut loaded, task, done).await
}

/// Marks the job failed with `message` if it is still running (a cancelled, completed or
/// failed job stays as it is); `Ok(true)` when this call failed it.
pub async fn fail(
    ctx: &ExportContext,
    tenant: &TenantId,
    id: &JobId,
    message: &str,
) -> Result<bool, StoreError> {
    // Parallel tasks save the same document: a lost race is retried.
    for _ in 0..20 {
        let Some(mut loaded) = ctx.load(tenant, id).await? else {
            return Ok(false);
        };
        if !loaded.job.status.is_active() {
            return Ok(false);
        }
        loaded.job.status = Status::Failed;
        loaded.job.failure = Some(message.to_owned());
        if ctx.save(tenant, &mut loaded).await? {
            let names: Vec<String> = loaded.job.files.iter().map(|f| f.name.clone()).collect();
            ctx.remove_files(tenant, id, names.iter().map(String::as_str))
                .await?;
            return Ok(true);
        }
    }
    Ok(false)
}

async fn save(ctx: &ExportContext, tenant: &TenantId, loaded: &mut Loaded) -> Result<(), RunError> {
    if ctx.save(tenant, loaded).await? {
        Ok(())
    } else {
        Err(RunError::Superseded)
    }
}

/// The types a level covers when `_type` is not given.
fn default_types(level: &Level) -> Vec<String> {
    ResourceType::all()
        .filter(|rt| *level == Level::System || in_patient_compartment(*rt))
        .map(|rt| rt.as_str().to_owned())
        .collect()
}

/// Whether a Group member counts now: not `inactive`, and its `period` (if any) holds today.
fn active_member(member: &Value, now: &str) -> bool {
    if member.get("inactive").and_then(Value::as_bool) == Some(true) {
        return false;
    }
    let period = member.get("period");
    let start = period.and_then(|p| p.get("start")).and_then(Value::as_str);
    let end = period.and_then(|p| p.get("end")).and_then(Value::as_str);
    // FHIR dateTimes of one precision compare as strings; a partial date covers its range.
    start.is_none_or(|s| s[..s.len().min(now.len())] <= now[..s.len().min(now.len())])
        && end.is_none_or(|e| e[..e.len().min(now.len())] >= now[..e.len().min(now.len())])
}

/// The patients of a Group export: ids of the active `Patient` members.
async fn group_members(
    ctx: &ExportContext,
    tenant: &TenantId,
    group_id: &str,
) -> Result<Vec<String>, RunError> {
    let key = ResourceKey::new(
        "Group"
            .parse()
            .map_err(|_| RunError::Fatal("Group type".into()))?,
        group_id
            .parse()
            .map_err(|_| RunError::Fatal(format!("invalid Group id '{group_id}'")))?,
    );
    let group = ctx.resources.read(tenant, &key).await?;
    let Some(body) = group.and_then(|g| g.body) else {
        return Err(RunError::Fatal(format!("Group/{group_id} does not exist")));
    };
    let group: Value = serde_json::from_slice(&body)
        .map_err(|e| RunError::Fatal(format!("Group/{group_id} is unreadable: {e}")))?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut out = Vec::new();
    for member in group
        .get("member")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !active_member(member, &now) {
            continue;
        }
        let reference = member
            .pointer("/entity/reference")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(id) = reference.strip_prefix("Patient/") {
            out.push(id.to_owned());
        }
    }
    Ok(out)
}

async fn plan(ctx: &ExportContext, tenant: &TenantId, loaded: &mut Loaded) -> Result<(), RunError> {
    let job = &mut loaded.job;
    let snapshot = ctx.resources.snapshot(tenant).await?;
    job.members = match &job.request.level {
        Level::Group(group_id) => {
            let members = group_members(ctx, tenant, group_id).await?;
            Some(match job.request.patients.is_empty() {
                true => members,
                false => members
                    .into_iter()
                    .filter(|m| job.request.patients.contains(m))
                    .collect(),
            })
        }
        Level::Patient if !job.request.patients.is_empty() => Some(job.request.patients.clone()),
        _ => None,
    };
    let types = match job.request.types.is_empty() {
        true => default_types(&job.request.level),
        false => job.request.types.clone(),
    };
    let provenance_asked = types.iter().any(|t| t == "Provenance");
    job.parts = types
        .into_iter()
        .map(|rt| Part {
            rt,
            associated: false,
        })
        .collect();
    if !job.request.associated.is_empty() && !provenance_asked {
        job.parts.push(Part {
            rt: "Provenance".into(),
            associated: true,
        });
    }
    // One task per slice of the store's `changes` (its index shards): each reads its slice of
    // every type, Patient and Group exports included, as their selection (compartments,
    // members, `_typeFilter`, associated Provenance) is decided resource by resource.
    job.tasks = match ctx.resources.change_slices() {
        0 | 1 => vec![Task::new(None)],
        n => (0..n).map(|slice| Task::new(Some(slice))).collect(),
    };
    // A job planned by an earlier version without tasks starts over.
    let stale: Vec<String> = job.files.drain(..).map(|f| f.name).collect();
    job.exported = 0;
    job.transaction_time = Some(snapshot.at);
    job.snapshot = Some(snapshot.mark);
    job.status = Status::Running;
    let id = loaded.id.clone();
    save(ctx, tenant, loaded).await?;
    ctx.remove_files(tenant, &id, stale.iter().map(String::as_str))
        .await?;
    Ok(())
}

/// The resource type of a part's output lines: Binary goes out as DocumentReference.
fn output_type(rt: &str) -> &str {
    if rt == "Binary" {
        "DocumentReference"
    } else {
        rt
    }
}

/// An open output or deleted file of the current part.
pub(super) struct OpenFile {
    pub(super) sink: Sink,
    pub(super) record: FileRecord,
}

impl OpenFile {
    pub(super) fn open(
        ctx: &ExportContext,
        tenant: &TenantId,
        id: &JobId,
        record: FileRecord,
    ) -> Result<OpenFile, StoreError> {
        let key = ExportContext::file_key(id, &record.name)?;
        Ok(OpenFile {
            sink: Sink::open(
                ctx.blobs.clone(),
                tenant.clone(),
                key,
                ctx.options.max_file_bytes,
            ),
            record,
        })
    }
}

/// The record of the next file of `kind` of a task in `part` (`rt` for errors); names stay
/// unique across tasks by the slice (`Patient-1-s3.ndjson`).
pub(super) fn file_record(kind: FileKind, rt: &str, task: &Task, format: Format) -> FileRecord {
    let slice = task.slice.map(|s| format!("-s{s}")).unwrap_or_default();
    let n = task.next_file;
    let (rt, name) = match kind {
        FileKind::Output => (
            output_type(rt).to_owned(),
            format!("{rt}-{n}{slice}.{}", format.extension()),
        ),
        FileKind::Deleted => (
            "Bundle".to_owned(),
            format!("{rt}-deleted-{n}{slice}.ndjson"),
        ),
        FileKind::Error => ("OperationOutcome".to_owned(), "errors.ndjson".to_owned()),
    };
    FileRecord {
        kind,
        rt,
        name,
        count: 0,
        bytes: 0,
    }
}

/// The `_typeFilter` matches among `versions`: one search per filter, restricted to their ids.
async fn type_filter_matches(
    ctx: &ExportContext,
    tenant: &TenantId,
    rt: ResourceType,
    filters: &[String],
    versions: &[StoredVersion],
    base: &str,
) -> Result<Option<HashSet<String>>, RunError> {
    if filters.is_empty() {
        return Ok(None);
    }
    let ids: Vec<&str> = versions
        .iter()
        .filter(|v| !v.is_deleted())
        .map(|v| v.key.id.as_str())
        .collect();
    let mut out = HashSet::new();
    if ids.is_empty() {
        return Ok(Some(out));
    }
    let options = ParseOptions {
        base: Some(base),
        strict: true,
        default_count: ids.len(),
        max_count: ids.len(),
    };
    for filter in filters {
        let mut pairs = form_pairs(filter);
        pairs.push(("_id".to_owned(), ids.join(",")));
        let mut query =
            parse_search(Registry::r4(), Some(rt), &pairs, &options).map_err(|issue| {
                RunError::Fatal(format!("_typeFilter {filter}: {}", issue.diagnostics))
            })?;
        query.total = Total::None;
        let page = ctx.resources.search(tenant, &query).await?;
        out.extend(page.matches.into_iter().map(|v| v.key.id.to_string()));
    }
    Ok(Some(out))
}

/// The line of a deleted file: a transaction Bundle deleting the resource.
fn deleted_line(version: &StoredVersion) -> Vec<u8> {
    let bundle = json!({
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "DELETE", "url": format!("{}/{}", version.key.rt, version.key.id)}}]
    });
    let mut line = bundle.to_string().into_bytes();
    line.push(b'\n');
    line
}

/// Whether a resource deleted at the snapshot was in the export's patients' compartments,
/// judged by its last live version.
async fn deleted_in_scope(
    ctx: &ExportContext,
    tenant: &TenantId,
    selection: &Selection,
    version: &StoredVersion,
) -> Result<bool, RunError> {
    if !selection.compartment {
        return Ok(true);
    }
    let Some(previous) = VersionId::new(version.version.get() - 1) else {
        return Ok(false);
    };
    let Some(body) = ctx
        .resources
        .vread(tenant, &version.key, previous)
        .await?
        .and_then(|v| v.body)
    else {
        return Ok(false);
    };
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let patients = patients_linked(Registry::r4(), &value, Some(&selection.base));
    Ok(match &selection.members {
        Some(members) => patients.iter().any(|p| members.contains(p)),
        None => !patients.is_empty(),
    })
}

async fn export_part(
    ctx: &ExportContext,
    tenant: &TenantId,
    loaded: &mut Loaded,
    task: usize,
    index: usize,
    encoding: &EncodeThread,
) -> Result<(), RunError> {
    let job = &loaded.job;
    let part = job.parts[index].clone();
    // Where this task stands in this part: its last checkpoint there, or the start.
    let mut position = job.tasks[task].clone();
    if position.part != index {
        position = Task {
            part: index,
            cursor: None,
            next_file: 1,
            ..position
        };
    }
    let rt: ResourceType = part
        .rt
        .parse()
        .map_err(|_| RunError::Fatal(format!("unknown resource type {}", part.rt)))?;
    let format = job.request.format;
    let patient_level = job.request.level != Level::System;
    let members: Option<HashSet<String>> =
        job.members.as_ref().map(|m| m.iter().cloned().collect());
    let associated_types: HashSet<String> = job
        .parts
        .iter()
        .filter(|p| !p.associated)
        .map(|p| p.rt.clone())
        .collect();
    let selection = Arc::new(Selection {
        rt,
        // Associated Provenance are chosen by their targets instead.
        compartment: patient_level && !part.associated,
        members: members.clone(),
        elements: job
            .request
            .elements
            .iter()
            .filter(|(t, _)| t.as_deref().is_none_or(|t| t == part.rt))
            .map(|(_, e)| e.clone())
            .collect(),
        base: job.base_url.clone(),
    });
    let filters: Vec<String> = job
        .request
        .type_filters
        .iter()
        .filter(|f| f.rt == part.rt)
        .map(|f| f.query.clone())
        .collect();
    let mut query = ChangesQuery {
        rt,
        upto: job
            .snapshot
            .clone()
            .ok_or_else(|| RunError::Fatal("job has no snapshot".into()))?,
        since: job.request.since,
        until: job.request.until,
        count: ctx.options.page,
        max_bytes: ctx.options.page_bytes,
        cursor: position.cursor.clone(),
        slice: position.slice,
    };
    let report_deletes = job.request.since.is_some() && !part.associated;
    let base_url = job.base_url.clone();
    let latest_only = !job
        .request
        .associated
        .contains(&Associated::RelevantProvenance);
    let association = Association {
        types: &associated_types,
        patients: patient_level.then_some(&members),
        latest_only,
        base: &base_url,
    };
    let (mut output, mut deleted): (Option<OpenFile>, Option<OpenFile>) = (None, None);
    let mut encoder: Option<Encoder> = None;
    let mut problems = Vec::new();
    let id = loaded.id.clone();
    let result: Result<(), RunError> = async {
        loop {
            // A cancel shows as a changed revision; notice it without waiting for a file to end.
            match ctx.load(tenant, &id).await? {
                Some(now)
                    if now.job.status == Status::Running
                        && now.job.tasks.get(task) == loaded.job.tasks.get(task) => {}
                _ => return Err(RunError::Superseded),
            }
            let page = ctx.resources.changes(tenant, &query).await?;
            let matching =
                type_filter_matches(ctx, tenant, rt, &filters, &page.versions, &selection.base)
                    .await?;
            let mut live = Vec::with_capacity(page.versions.len());
            for version in page.versions {
                if !version.is_deleted() {
                    if part.associated {
                        let body = version.body.as_deref().unwrap_or_default();
                        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                        if !association
                            .selects(ctx, tenant, version.key.id.as_str(), &value)
                            .await?
                        {
                            continue;
                        }
                    }
                    live.push(version);
                } else if report_deletes
                    && deleted_in_scope(ctx, tenant, &selection, &version).await?
                {
                    let file = match &mut deleted {
                        Some(file) => file,
                        None => deleted.insert(OpenFile::open(
                            ctx,
                            tenant,
                            &id,
                            file_record(FileKind::Deleted, &part.rt, &position, format),
                        )?),
                    };
                    file.sink.write(&deleted_line(&version)).await?;
                    file.record.count += 1;
                }
            }
            if !live.is_empty() {
                let enc = match encoder.take() {
                    Some(enc) => enc,
                    None if format == Format::Parquet => {
                        let out: ResourceType = output_type(rt.as_str())
                            .parse()
                            .map_err(|_| RunError::Fatal("output type".into()))?;
                        Encoder::parquet(out).map_err(RunError::Fatal)?
                    }
                    None => Encoder::Ndjson,
                };
                let work = PageWork {
                    versions: live,
                    selection: selection.clone(),
                    matching,
                    encoder: enc,
                };
                let done = encoding.page(work).await.map_err(RunError::Fatal)?;
                encoder = Some(done.encoder);
                problems.extend(done.problems);
                if done.count > 0 || !done.bytes.is_empty() {
                    let file = match &mut output {
                        Some(file) => file,
                        None => output.insert(OpenFile::open(
                            ctx,
                            tenant,
                            &id,
                            file_record(FileKind::Output, &part.rt, &position, format),
                        )?),
                    };
                    file.sink.write(&done.bytes).await?;
                    file.record.count += done.count;
                }
            }
            let last = page.next.is_none();
            query.cursor = page.next;
            // A Parquet writer keeps every row group's metadata (statistics, page indexes of
            // hundreds of columns) until its file ends, so files also end at a row count.
            let full = output.as_ref().is_some_and(|f| {
                f.sink.bytes() >= ctx.options.file_bytes
                    || (format == Format::Parquet
                        && f.record.count >= ctx.options.parquet_file_rows)
            });
            if full || last {
                let tail = match encoder.take() {
                    Some(enc) => Some(encoding.finish(enc).await.map_err(RunError::Fatal)?),
                    None => None,
                };
                let files = close(output.take(), deleted.take(), tail).await?;
                if !files.is_empty() || !problems.is_empty() {
                    let next = match last {
                        true => Task::new(position.slice).at_part(index + 1),
                        false => Task {
                            cursor: query.cursor.clone(),
                            next_file: position.next_file + u32::from(!files.is_empty()),
                            ..position.clone()
                        },
                    };
                    position = next.clone();
                    let change = Commit {
                        files,
                        problems: std::mem::take(&mut problems),
                        update: Box::new(move |t| {
                            t.part = next.part;
                            t.cursor = next.cursor.clone();
                            t.next_file = next.next_file;
                        }),
                    };
                    commit(ctx, tenant, loaded, task, change).await?;
                }
            }
            if last {
                return Ok(());
            }
        }
    }
    .await;
    if result.is_err() {
        for file in [output, deleted].into_iter().flatten() {
            file.sink.abort().await;
        }
    }
    result
}

/// Closes the open files of a part (the tail of the encoding into the output file); returns
/// their records.
async fn close(
    output: Option<OpenFile>,
    deleted: Option<OpenFile>,
    tail: Option<Vec<u8>>,
) -> Result<Vec<FileRecord>, RunError> {
    let mut finished = Vec::new();
    if let Some(mut file) = output {
        if let Some(tail) = tail {
            file.sink.write(&tail).await?;
        }
        file.record.bytes = file.sink.finish().await?;
        finished.push(file.record);
    }
    if let Some(file) = deleted {
        let mut record = file.record;
        record.bytes = file.sink.finish().await?;
        finished.push(record);
    }
    Ok(finished)
}
