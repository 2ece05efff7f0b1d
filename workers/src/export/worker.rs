//! The export worker loop: take a job from the queue, keep it hidden while it runs, ack it when
//! done; and the sweeper that removes expired jobs and their files.
//!
//! A job's first message plans it and queues one message per further task (a slice of the
//! store's `changes`, so several workers export one job in parallel); the planning worker then
//! runs the first task. A worker that dies leaves its message unacknowledged: it comes back
//! after the visibility timeout and the next worker resumes the task from its last checkpoint;
//! a task that used up its attempts fails the job. A task whose worker died on every attempt
//! goes to the dead letters instead; the watcher in `dead_letters.rs` fails its job.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hearth_store::{Delivery, JobId, JobQueue, StoreError};
use hearth_tenancy::TenantId;
use serde::{Deserialize, Serialize};

use tracing::Instrument;

use super::audit::{self, JobEvent};
use super::context::{EXPORT_QUEUE, ExportContext};
use super::job::Status;
use super::runner::{RunError, fail, plan_job, run_task};

/// The queue message of a job (`task` absent: plan it) or of one of its tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub tenant: String,
    pub job: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<usize>,
}

/// How long an idle worker waits before looking at the queue again.
const IDLE: Duration = Duration::from_millis(250);

pub struct ExportWorker {
    ctx: Arc<ExportContext>,
    queue: Arc<dyn JobQueue>,
    /// Names this worker in the tasks it finishes.
    id: String,
}

impl ExportWorker {
    pub fn new(ctx: Arc<ExportContext>, queue: Arc<dyn JobQueue>) -> ExportWorker {
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        ExportWorker { ctx, queue, id }
    }

    /// The name this worker records in the tasks it finishes.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Works jobs until the task is dropped.
    pub async fn run(self) {
        loop {
            match self.step().await {
                Ok(true) => {}
                Ok(false) => tokio::time::sleep(IDLE).await,
                Err(e) => {
                    tracing::warn!(error = %e, "export queue unavailable");
                    tokio::time::sleep(IDLE * 8).await;
                }
            }
        }
    }

    /// Takes and works one job; `false` when the queue had none.
    pub async fn step(&self) -> Result<bool, StoreError> {
        let options = &self.ctx.options;
        let Some(delivery) = self
            .queue
            .receive(EXPORT_QUEUE, options.visibility, options.max_attempts)
            .await?
        else {
            return Ok(false);
        };
        let Ok(message) = serde_json::from_str::<Message>(&delivery.body) else {
            tracing::error!(body = %delivery.body, "unreadable export message dropped");
            self.queue.ack(EXPORT_QUEUE, &delivery.receipt).await?;
            return Ok(true);
        };
        let (Ok(tenant), Ok(id)) = (
            message.tenant.parse::<TenantId>(),
            message.job.parse::<JobId>(),
        ) else {
            tracing::error!(body = %delivery.body, "export message with a bad tenant or job dropped");
            self.queue.ack(EXPORT_QUEUE, &delivery.receipt).await?;
            return Ok(true);
        };
        self.work(&tenant, &id, message.task, &delivery)
            .instrument(audit::job_span(&tenant, &id))
            .await?;
        Ok(true)
    }

    async fn work(
        &self,
        tenant: &TenantId,
        id: &JobId,
        task: Option<usize>,
        delivery: &Delivery,
    ) -> Result<(), StoreError> {
        tracing::info!(%tenant, job = %id, task, attempt = delivery.attempts, "export started");
        let job = self.ctx.load(tenant, id).await?.map(|l| l.job);
        if task.is_none() && job.as_ref().is_some_and(|j| j.status == Status::Accepted) {
            audit::record(tenant, id, JobEvent::Started, job.as_ref(), None);
        }
        let heartbeat = self.heartbeat(delivery.receipt.clone());
        let result = match task {
            None => self.plan(tenant, id).await,
            Some(task) => run_task(&self.ctx, tenant, id, task, &self.id).await,
        };
        drop(heartbeat);
        let (event, message) = match result {
            Ok(false) => {
                tracing::info!(%tenant, job = %id, task, "export task done");
                return self.queue.ack(EXPORT_QUEUE, &delivery.receipt).await;
            }
            Ok(true) => {
                tracing::info!(%tenant, job = %id, "export completed");
                (JobEvent::Completed, None)
            }
            Err(RunError::Superseded) => {
                // Cancelled (the cancel records it), failed by another task, or taken over.
                tracing::info!(%tenant, job = %id, task, "export task stopped: the job or task changed");
                return self.queue.ack(EXPORT_QUEUE, &delivery.receipt).await;
            }
            Err(RunError::Fatal(message)) => {
                tracing::warn!(%tenant, job = %id, task, %message, "export failed");
                fail(&self.ctx, tenant, id, &message).await?;
                (JobEvent::Failed, Some(message))
            }
            Err(RunError::Store(e)) => {
                // Left unacknowledged: it comes back and resumes from its checkpoint, unless it
                // has used up its attempts.
                tracing::warn!(%tenant, job = %id, task, error = %e, "export interrupted; will resume");
                let message = format!("storage error: {e}");
                if delivery.attempts >= self.ctx.options.max_attempts {
                    fail(&self.ctx, tenant, id, &message).await?;
                    (JobEvent::Failed, Some(message))
                } else {
                    audit::record(
                        tenant,
                        id,
                        JobEvent::Interrupted,
                        job.as_ref(),
                        Some(&message),
                    );
                    return Ok(());
                }
            }
        };
        // The job as it ended (files, counts); what was read at the start if it is gone.
        let ended = self.ctx.load(tenant, id).await?.map(|l| l.job).or(job);
        audit::record(tenant, id, event, ended.as_ref(), message.as_deref());
        self.queue.ack(EXPORT_QUEUE, &delivery.receipt).await
    }

    /// The job's first message: plan it, queue a message for each of its other tasks (other
    /// workers take them), then run the first here. `Ok(true)` when that completed the job.
    async fn plan(&self, tenant: &TenantId, id: &JobId) -> Result<bool, RunError> {
        let tasks = plan_job(&self.ctx, tenant, id).await?;
        let Some((&first, others)) = tasks.split_first() else {
            return Ok(false);
        };
        for &task in others {
            let message = Message {
                tenant: tenant.to_string(),
                job: id.to_string(),
                task: Some(task),
            };
            let body = serde_json::to_string(&message)
                .map_err(|e| StoreError::internal("queue an export task", e))?;
            self.queue.send(EXPORT_QUEUE, &body).await?;
        }
        if !others.is_empty() {
            tracing::info!(%tenant, job = %id, tasks = tasks.len(), "export planned in parallel tasks");
        }
        run_task(&self.ctx, tenant, id, first, &self.id).await
    }

    /// Keeps the message hidden while the job runs: until the returned guard is dropped, which
    /// also happens when this worker's task is dropped mid-job.
    fn heartbeat(&self, receipt: String) -> Heartbeat {
        let queue = Arc::clone(&self.queue);
        let visibility = self.ctx.options.visibility;
        Heartbeat(tokio::spawn(async move {
            loop {
                tokio::time::sleep(visibility / 3).await;
                match queue.extend(EXPORT_QUEUE, &receipt, visibility).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => tracing::warn!(error = %e, "could not extend an export's visibility"),
                }
            }
        }))
    }
}

/// Stops the visibility heartbeat when dropped.
struct Heartbeat(tokio::task::JoinHandle<()>);

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Removes expired jobs and their files, every `every`, until the task is dropped.
pub async fn sweep_expired(ctx: Arc<ExportContext>, every: Duration) {
    loop {
        if let Err(e) = sweep_once(&ctx).await {
            tracing::warn!(error = %e, "could not remove expired exports");
        }
        tokio::time::sleep(every).await;
    }
}

/// One sweep; returns how many jobs were removed.
pub async fn sweep_once(ctx: &ExportContext) -> Result<usize, StoreError> {
    let expired = ctx.jobs.expired(Utc::now(), 100).await?;
    for (tenant, id) in &expired {
        if let Some(loaded) = ctx.load(tenant, id).await? {
            let names: Vec<&str> = loaded.job.files.iter().map(|f| f.name.as_str()).collect();
            ctx.remove_files(tenant, id, names).await?;
        }
        ctx.jobs.delete(tenant, id).await?;
        tracing::info!(%tenant, job = %id, "expired export removed");
    }
    Ok(expired.len())
}
