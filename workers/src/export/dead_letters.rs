//! Failing the jobs whose task went to the dead letters: a task whose worker died on every
//! attempt (killed, out of memory) never reaches the out-of-attempts path of the worker loop,
//! so its job would stay in progress until it expires. A watcher reads the export queue's dead
//! letters through the `JobQueue` port and fails each job among them that is still running,
//! with the same conditional save as any other failure (a job that completed, failed or was
//! cancelled meanwhile is left alone). The messages stay in the dead letters for operators;
//! reading them again changes nothing.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use hearth_store::{JobId, JobQueue, StoreError};
use hearth_tenancy::TenantId;
use tracing::Instrument;

use super::audit::{self, JobEvent};
use super::context::{EXPORT_QUEUE, ExportContext};
use super::runner::fail;
use super::worker::Message;

/// Dead letters read per check. The embedded queue returns the oldest first and SQS a sample,
/// so a dead-letter queue far deeper than this (never inspected) can hide newer ones.
const READ_LIMIT: usize = 500;

/// Checks the dead letters every `every`, until the task is dropped.
pub async fn watch_dead_letters(
    ctx: Arc<ExportContext>,
    queue: Arc<dyn JobQueue>,
    every: Duration,
) {
    // Never a busy loop, whatever the configuration says.
    let every = every.max(Duration::from_millis(100));
    loop {
        if let Err(e) = fail_dead_lettered(&ctx, queue.as_ref()).await {
            tracing::warn!(error = %e, "could not read the export dead letters");
        }
        tokio::time::sleep(every).await;
    }
}

/// One check; returns how many jobs it failed.
pub async fn fail_dead_lettered(
    ctx: &ExportContext,
    queue: &dyn JobQueue,
) -> Result<usize, StoreError> {
    let bodies = queue.dead_letters(EXPORT_QUEUE, READ_LIMIT).await?;
    let mut seen = HashSet::new();
    let mut failed = 0;
    for body in bodies {
        // An unreadable message is the operators' to inspect; it names no job to fail.
        let Ok(message) = serde_json::from_str::<Message>(&body) else {
            continue;
        };
        let (Ok(tenant), Ok(id)) = (
            message.tenant.parse::<TenantId>(),
            message.job.parse::<JobId>(),
        ) else {
            continue;
        };
        if !seen.insert((message.tenant.clone(), message.job.clone())) {
            continue;
        }
        let span = audit::job_span(&tenant, &id);
        match fail_job(ctx, &tenant, &id, message.task)
            .instrument(span)
            .await
        {
            Ok(true) => failed += 1,
            Ok(false) => {}
            // One job's trouble (its tenant deleted, say) does not hold up the others.
            Err(e) => {
                tracing::warn!(tenant_id = %tenant, job_id = %id, error = %e,
                    "could not fail a dead-lettered export");
            }
        }
    }
    Ok(failed)
}

/// Fails the job if it still runs; `Ok(true)` when this call failed it.
async fn fail_job(
    ctx: &ExportContext,
    tenant: &TenantId,
    id: &JobId,
    task: Option<usize>,
) -> Result<bool, StoreError> {
    let Some(loaded) = ctx.load(tenant, id).await? else {
        return Ok(false);
    };
    if !loaded.job.status.is_active() {
        return Ok(false);
    }
    let attempts = ctx.options.max_attempts;
    let message = format!(
        "a task of the export failed repeatedly: its worker stopped during each of its {attempts} attempts"
    );
    if !fail(ctx, tenant, id, &message).await? {
        return Ok(false);
    }
    tracing::warn!(tenant_id = %tenant, job_id = %id, task, attempts,
        "export failed: its task is in the dead letters");
    let ended = ctx.load(tenant, id).await?.map(|l| l.job);
    audit::record(tenant, id, JobEvent::Failed, ended.as_ref(), Some(&message));
    Ok(true)
}
