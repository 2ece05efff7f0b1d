//! What export work needs: the ports, the options, and loading and saving the job document.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hearth_store::{
    BlobKey, BlobStore, JobId, JobRecord, JobState, JobStore, ResourceStore, StoreError,
};
use hearth_tenancy::TenantId;

use super::job::ExportJob;

/// Export settings; `Default` suits one machine.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// A file is closed and a new one started once it holds at least this many bytes.
    pub file_bytes: u64,
    /// Resources read per store call.
    pub page: usize,
    /// A store call also stops once it read this many bytes of resources (a page of large
    /// resources, such as Provenance listing every record of a patient, stays small).
    pub page_bytes: usize,
    /// How long a finished job and its files are kept.
    pub ttl: Duration,
    /// Active jobs per tenant.
    pub max_active: usize,
    /// The `Retry-After` of an in-progress status; polling more often than half of it is
    /// answered 429.
    pub poll_interval: Duration,
    /// How long a received job stays hidden from other workers (extended while it runs).
    pub visibility: Duration,
    /// Deliveries of one job before it goes to the dead letters.
    pub max_attempts: u32,
    /// How often the export queue's dead letters are read to fail the jobs still running
    /// whose task is among them (its workers crashed on every attempt).
    pub dead_letter_check: Duration,
    /// Largest export file accepted by the blob store.
    pub max_file_bytes: u64,
    /// A Parquet file also ends once it holds this many rows (its writer's metadata grows
    /// with the rows of a file).
    pub parquet_file_rows: u64,
}

impl Default for ExportOptions {
    fn default() -> ExportOptions {
        ExportOptions {
            file_bytes: 128 << 20,
            page: 1000,
            page_bytes: 8 << 20,
            ttl: Duration::from_secs(24 * 3600),
            max_active: 2,
            poll_interval: Duration::from_secs(2),
            visibility: Duration::from_secs(60),
            max_attempts: 5,
            dead_letter_check: Duration::from_secs(30),
            max_file_bytes: 4 << 30,
            parquet_file_rows: 100_000,
        }
    }
}

/// The name of the export jobs queue.
pub const EXPORT_QUEUE: &str = "export";

pub struct ExportContext {
    pub resources: Arc<dyn ResourceStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub jobs: Arc<dyn JobStore>,
    pub options: ExportOptions,
}

/// A job document with the record it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub id: JobId,
    pub job: ExportJob,
    pub revision: u64,
}

impl ExportContext {
    pub async fn load(&self, tenant: &TenantId, id: &JobId) -> Result<Option<Loaded>, StoreError> {
        let Some(record) = self.jobs.get(tenant, id).await? else {
            return Ok(None);
        };
        let job: ExportJob = serde_json::from_str(&record.doc)
            .map_err(|e| StoreError::internal("read export job", e))?;
        Ok(Some(Loaded {
            id: record.id,
            job,
            revision: record.revision,
        }))
    }

    fn record(&self, id: &JobId, job: &ExportJob, revision: u64) -> Result<JobRecord, StoreError> {
        let active = job.status.is_active();
        let ttl = chrono::Duration::from_std(self.options.ttl).unwrap_or(chrono::Duration::days(1));
        Ok(JobRecord {
            id: id.clone(),
            state: if active {
                JobState::Active
            } else {
                JobState::Finished
            },
            // An active job expires a ttl after its last save, so an abandoned one is removed.
            expires: Utc::now() + ttl,
            doc: serde_json::to_string(job)
                .map_err(|e| StoreError::internal("write export job", e))?,
            revision,
        })
    }

    /// Stores a new job unless the tenant has `max_active` active ones (`Ok(false)`).
    pub async fn create(
        &self,
        tenant: &TenantId,
        id: &JobId,
        job: &ExportJob,
    ) -> Result<bool, StoreError> {
        let record = self.record(id, job, 1)?;
        self.jobs
            .create(tenant, &record, self.options.max_active)
            .await
    }

    /// Saves `loaded` if nobody changed it since it was read; `Ok(false)` otherwise.
    pub async fn save(&self, tenant: &TenantId, loaded: &mut Loaded) -> Result<bool, StoreError> {
        let record = self.record(&loaded.id, &loaded.job, loaded.revision)?;
        match self.jobs.update(tenant, &record).await? {
            Some(revision) => {
                loaded.revision = revision;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The blob key of one of a job's files.
    pub fn file_key(id: &JobId, name: &str) -> Result<BlobKey, StoreError> {
        BlobKey::new(&format!("exports/{id}/{name}"))
    }

    /// Removes the named files of a job (missing ones are fine).
    pub async fn remove_files<'a>(
        &self,
        tenant: &TenantId,
        id: &JobId,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), StoreError> {
        for name in names {
            self.blobs
                .delete(tenant, &Self::file_key(id, name)?)
                .await?;
        }
        Ok(())
    }
}
