//! What the API asks of export: kick-off, status, cancel and file downloads, each checked
//! against the tenant and the client that started the job.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hearth_store::{ByteStream, JobId, JobQueue, StoreError};
use hearth_tenancy::TenantId;
use serde_json::Value;

use super::context::{EXPORT_QUEUE, ExportContext, Loaded};
use super::job::{ExportJob, FileRecord, Owner, Status};
use super::links::PresignedLinks;
use super::request::ExportRequest;
use super::worker::Message;

/// A kick-off that was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum KickoffError {
    #[error("the tenant already runs {0} exports; retry when one finishes")]
    TooMany(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a status request answers.
#[derive(Debug)]
pub enum JobStatus {
    /// 202 with `X-Progress` and `Retry-After`.
    InProgress {
        progress: String,
        retry_after: Duration,
    },
    /// 429: polled sooner than `Retry-After` allows.
    TooSoon { retry_after: Duration },
    /// 200 with the manifest and `Expires`.
    Completed {
        manifest: Value,
        expires: DateTime<Utc>,
    },
    /// 500 with the reason.
    Failed { message: String },
}

pub struct ExportService {
    ctx: Arc<ExportContext>,
    queue: Arc<dyn JobQueue>,
    /// Last status poll per job, for the 429 on polling too often.
    polls: Mutex<HashMap<JobId, Instant>>,
    /// Set when manifests link files by presigned URLs instead of token-guarded ones.
    links: Option<PresignedLinks>,
}

impl ExportService {
    pub fn new(ctx: Arc<ExportContext>, queue: Arc<dyn JobQueue>) -> ExportService {
        ExportService {
            ctx,
            queue,
            polls: Mutex::new(HashMap::new()),
            links: None,
        }
    }

    /// Completion manifests link files by presigned URLs of `links`
    /// (`requiresAccessToken: false`).
    pub fn with_presigned_links(mut self, links: PresignedLinks) -> ExportService {
        self.links = Some(links);
        self
    }

    pub fn context(&self) -> &Arc<ExportContext> {
        &self.ctx
    }

    /// Records the job and queues it; returns its id.
    pub async fn kickoff(
        &self,
        tenant: &TenantId,
        owner: Owner,
        request: ExportRequest,
        warnings: Vec<String>,
        request_url: String,
        base_url: String,
    ) -> Result<JobId, KickoffError> {
        let id = JobId::random();
        let job = ExportJob::new(request, request_url, base_url, owner, warnings);
        if !self.ctx.create(tenant, &id, &job).await? {
            return Err(KickoffError::TooMany(self.ctx.options.max_active));
        }
        let message = Message {
            tenant: tenant.to_string(),
            job: id.to_string(),
            task: None,
        };
        let body =
            serde_json::to_string(&message).map_err(|e| StoreError::internal("queue export", e))?;
        if let Err(e) = self.queue.send(EXPORT_QUEUE, &body).await {
            // Not queued: remove the record so it does not hold a slot.
            let _ = self.ctx.jobs.delete(tenant, &id).await;
            return Err(e.into());
        }
        tracing::info!(%tenant, job = %id, "export accepted");
        Ok(id)
    }

    /// The job if it exists for this tenant and owner and was not cancelled.
    async fn visible(
        &self,
        tenant: &TenantId,
        owner: &Owner,
        id: &JobId,
    ) -> Result<Option<Loaded>, StoreError> {
        Ok(self
            .ctx
            .load(tenant, id)
            .await?
            .filter(|l| l.job.owner.same(owner) && l.job.status != Status::Cancelled))
    }

    /// `None`: no such job for this tenant and client (404).
    pub async fn status(
        &self,
        tenant: &TenantId,
        owner: &Owner,
        id: &JobId,
    ) -> Result<Option<JobStatus>, StoreError> {
        let Some(loaded) = self.visible(tenant, owner, id).await? else {
            return Ok(None);
        };
        let job = &loaded.job;
        let retry_after = self.ctx.options.poll_interval;
        Ok(Some(match job.status {
            Status::Accepted | Status::Running => {
                let now = Instant::now();
                let mut polls = self.polls.lock().unwrap_or_else(PoisonError::into_inner);
                polls.retain(|_, at| now.duration_since(*at) < retry_after * 10);
                match polls.insert(id.clone(), now) {
                    Some(last) if now.duration_since(last) < retry_after / 2 => {
                        JobStatus::TooSoon { retry_after }
                    }
                    _ => JobStatus::InProgress {
                        progress: job.progress(),
                        retry_after,
                    },
                }
            }
            Status::Completed => {
                let record = self.ctx.jobs.get(tenant, id).await?;
                let expires = record.map_or_else(Utc::now, |r| r.expires);
                let mut manifest = job.manifest(id);
                if let Some(links) = &self.links {
                    let ttl = links.lifetime(Utc::now(), expires);
                    links.apply(tenant, id, &mut manifest, ttl).await?;
                }
                JobStatus::Completed { manifest, expires }
            }
            Status::Failed => JobStatus::Failed {
                message: job
                    .failure
                    .clone()
                    .unwrap_or_else(|| "the export failed".into()),
            },
            Status::Cancelled => return Ok(None),
        }))
    }

    /// Cancels (or, once finished, deletes) the job and removes its files; `false` when there
    /// is no such job (404).
    pub async fn cancel(
        &self,
        tenant: &TenantId,
        owner: &Owner,
        id: &JobId,
    ) -> Result<bool, StoreError> {
        // Running tasks save the same document: a lost race is retried.
        for _ in 0..20 {
            let Some(mut loaded) = self.visible(tenant, owner, id).await? else {
                return Ok(false);
            };
            loaded.job.status = Status::Cancelled;
            if self.ctx.save(tenant, &mut loaded).await? {
                let names: Vec<&str> = loaded.job.files.iter().map(|f| f.name.as_str()).collect();
                self.ctx.remove_files(tenant, id, names).await?;
                tracing::info!(%tenant, job = %id, "export cancelled");
                super::audit::record(
                    tenant,
                    id,
                    super::audit::JobEvent::Cancelled,
                    Some(&loaded.job),
                    None,
                );
                return Ok(true);
            }
        }
        Err(StoreError::Busy(
            "the export job changed while cancelling; retry".into(),
        ))
    }

    /// A completed job's file, with its size and bytes; `None` when absent (404). `owner` is
    /// `None` for a signed URL, which stands for the owner's permission.
    pub async fn file(
        &self,
        tenant: &TenantId,
        owner: Option<&Owner>,
        id: &JobId,
        name: &str,
    ) -> Result<Option<(FileRecord, u64, ByteStream)>, StoreError> {
        let loaded = match owner {
            Some(owner) => self.visible(tenant, owner, id).await?,
            None => self
                .ctx
                .load(tenant, id)
                .await?
                .filter(|l| l.job.status != Status::Cancelled),
        };
        let Some(loaded) = loaded else {
            return Ok(None);
        };
        if loaded.job.status != Status::Completed {
            return Ok(None);
        }
        let Some(record) = loaded.job.files.into_iter().find(|f| f.name == name) else {
            return Ok(None);
        };
        let key = ExportContext::file_key(id, name)?;
        match self.ctx.blobs.get(tenant, &key).await {
            Ok((size, stream)) => Ok(Some((record, size, stream))),
            Err(StoreError::BlobNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
