//! Wiring export on the embedded backend: the job store and queue in `{data_dir}/jobs.sqlite`,
//! and the in-process workers and expiry sweeper that `hearth serve` (or `hearth worker`) runs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hearth_store::embedded::SqliteJobs;
use hearth_store::{BlobStore, Envelope, JobQueue, ResourceStore, SealedJobs, StoreError};
use tokio::task::JoinHandle;

use crate::export::{
    ExportContext, ExportOptions, ExportService, ExportWorker, sweep_expired, watch_dead_letters,
};

/// How often expired jobs are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The export context and queue of an embedded data dir; job documents are sealed with the
/// tenants' keys through `envelope`.
pub fn embedded_export(
    data_dir: &Path,
    resources: Arc<dyn ResourceStore>,
    blobs: Arc<dyn BlobStore>,
    envelope: Arc<Envelope>,
    options: ExportOptions,
) -> Result<(Arc<ExportContext>, Arc<dyn JobQueue>), StoreError> {
    let jobs = Arc::new(SqliteJobs::open(data_dir)?);
    let ctx = Arc::new(ExportContext {
        resources,
        blobs,
        jobs: Arc::new(SealedJobs::new(jobs.clone(), envelope)),
        options,
    });
    Ok((ctx, jobs))
}

/// The service the API uses.
pub fn export_service(ctx: &Arc<ExportContext>, queue: &Arc<dyn JobQueue>) -> Arc<ExportService> {
    Arc::new(ExportService::new(Arc::clone(ctx), Arc::clone(queue)))
}

/// Starts `workers` export workers, the expiry sweeper and the dead-letter watcher (every
/// `dead_letter_check` of the options); they run until aborted.
pub fn spawn_workers(
    ctx: &Arc<ExportContext>,
    queue: &Arc<dyn JobQueue>,
    workers: usize,
) -> Vec<JoinHandle<()>> {
    let mut handles: Vec<JoinHandle<()>> = (0..workers.max(1))
        .map(|_| tokio::spawn(ExportWorker::new(Arc::clone(ctx), Arc::clone(queue)).run()))
        .collect();
    handles.push(tokio::spawn(sweep_expired(Arc::clone(ctx), SWEEP_EVERY)));
    handles.push(tokio::spawn(watch_dead_letters(
        Arc::clone(ctx),
        Arc::clone(queue),
        ctx.options.dead_letter_check,
    )));
    handles
}
