//! Saving a task's progress into the shared job document: tasks of one job run in parallel
//! and save the same document with optimistic concurrency, so a task whose save lost re-reads
//! the document and applies its change again. It stops (`Superseded`) when the job is no
//! longer running (cancelled, failed, removed) or its task was changed by someone else (another
//! worker took it over after this one went silent), removing the files it was recording. The
//! save that leaves every task done also completes the job: the errors file, then `Completed`.

use hearth_store::StoreError;
use hearth_tenancy::TenantId;
use serde_json::json;

use super::context::{ExportContext, Loaded};
use super::job::{ExportJob, FileKind, FileRecord, Status, Task};
use super::request::Format;
use super::runner::{OpenFile, RunError, file_record};

/// Saves lost to other tasks before giving up for now (the task is retried from its last
/// checkpoint).
const MAX_SAVES: usize = 50;

/// What a task records at a checkpoint.
pub struct Commit {
    /// Files it finished (closed) since its last checkpoint.
    pub files: Vec<FileRecord>,
    /// Problems met since its last checkpoint (they go to the errors file).
    pub problems: Vec<String>,
    /// The change of its task's state.
    pub update: Box<dyn Fn(&mut Task) + Send + Sync>,
}

impl Commit {
    fn apply(&self, job: &mut ExportJob, task: usize) {
        (self.update)(&mut job.tasks[task]);
        job.exported += self
            .files
            .iter()
            .filter(|f| f.kind == FileKind::Output)
            .map(|f| f.count)
            .sum::<u64>();
        job.files.extend(self.files.iter().cloned());
        job.warnings.extend(self.problems.iter().cloned());
    }
}

/// Records `change` of task `task` in the job; `Ok(true)` when it completed the job.
pub async fn commit(
    ctx: &ExportContext,
    tenant: &TenantId,
    loaded: &mut Loaded,
    task: usize,
    change: Commit,
) -> Result<bool, RunError> {
    let expected = loaded.job.tasks[task].clone();
    let mut current = loaded.clone();
    for _ in 0..MAX_SAVES {
        change.apply(&mut current.job, task);
        let completes = current.job.tasks.iter().all(|t| t.done);
        if completes {
            finish(ctx, tenant, &mut current).await?;
        }
        if ctx.save(tenant, &mut current).await? {
            *loaded = current;
            return Ok(completes);
        }
        match ctx.load(tenant, &loaded.id).await? {
            Some(now)
                if now.job.status == Status::Running
                    && now.job.tasks.get(task) == Some(&expected) =>
            {
                current = now;
            }
            _ => {
                let names: Vec<&str> = change.files.iter().map(|f| f.name.as_str()).collect();
                ctx.remove_files(tenant, &loaded.id, names).await?;
                return Err(RunError::Superseded);
            }
        }
    }
    Err(RunError::Store(StoreError::Busy(
        "the export job kept changing while saving a task".into(),
    )))
}

/// Completes the job: an errors file with the warnings (once), then the status.
async fn finish(
    ctx: &ExportContext,
    tenant: &TenantId,
    loaded: &mut Loaded,
) -> Result<(), RunError> {
    let job = &mut loaded.job;
    if !job.warnings.is_empty() && !job.files.iter().any(|f| f.kind == FileKind::Error) {
        let record = file_record(FileKind::Error, "", &Task::new(None), Format::Ndjson);
        let mut file = OpenFile::open(ctx, tenant, &loaded.id, record)?;
        for warning in &job.warnings {
            let outcome = json!({
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "warning", "code": "processing", "diagnostics": warning}]
            });
            let mut line = outcome.to_string().into_bytes();
            line.push(b'\n');
            file.sink.write(&line).await?;
            file.record.count += 1;
        }
        file.record.bytes = file.sink.finish().await?;
        job.files.push(file.record);
    }
    job.status = Status::Completed;
    Ok(())
}
