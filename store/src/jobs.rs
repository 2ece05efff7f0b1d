//! The `JobStore` and `JobQueue` ports: durable job records of a tenant, and the queue that
//! hands work to workers with visibility timeouts.
//!
//! A job record is a JSON document whose shape belongs to the worker that runs it; the store
//! keeps it with the fields it must query on (tenant, state, expiry) and a revision for
//! optimistic updates, so concurrent workers and cancels never overwrite each other.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hearth_tenancy::TenantId;

use crate::StoreError;

/// A job's id: 32 lowercase hex digits, unguessable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(String);

impl JobId {
    pub fn random() -> JobId {
        JobId(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for JobId {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<JobId, StoreError> {
        if s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(JobId(s.to_owned()))
        } else {
            Err(StoreError::Invalid(format!("invalid job id '{s}'")))
        }
    }
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a job still counts against its tenant's concurrency limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Accepted or running.
    Active,
    /// Completed, failed or cancelled; kept until `expires`.
    Finished,
}

/// One job record.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: JobId,
    pub state: JobState,
    /// When the record and its files may be removed.
    pub expires: DateTime<Utc>,
    /// The worker's document.
    pub doc: String,
    /// Increases with every update; `update` succeeds only on the revision it read.
    pub revision: u64,
}

/// Durable job records, per tenant.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Stores a new job (revision 1) if the tenant has fewer than `max_active` active jobs;
    /// `Ok(false)` when it has that many already.
    async fn create(
        &self,
        tenant: &TenantId,
        record: &JobRecord,
        max_active: usize,
    ) -> Result<bool, StoreError>;

    /// The job, if the tenant has it.
    async fn get(&self, tenant: &TenantId, id: &JobId) -> Result<Option<JobRecord>, StoreError>;

    /// Replaces the job's state, expiry and document if its revision is still `record.revision`;
    /// returns the new revision, or `None` when someone else updated or removed it first (the
    /// caller reads it again).
    async fn update(
        &self,
        tenant: &TenantId,
        record: &JobRecord,
    ) -> Result<Option<u64>, StoreError>;

    /// Removes the job record.
    async fn delete(&self, tenant: &TenantId, id: &JobId) -> Result<(), StoreError>;

    /// Jobs of every tenant whose `expires` has passed, at most `limit`.
    async fn expired(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(TenantId, JobId)>, StoreError>;
}

/// A message taken from a queue, invisible to other receivers until its visibility ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Names this delivery for `ack` and `extend`; a later delivery of the same message gets a
    /// new receipt and invalidates this one.
    pub receipt: String,
    pub body: String,
    /// How many times the message has been delivered, this time included.
    pub attempts: u32,
}

/// A durable at-least-once queue. Messages are not tenant data: their bodies name the tenant.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    async fn send(&self, queue: &str, body: &str) -> Result<(), StoreError>;

    /// The oldest visible message, hidden for `visibility`; a message delivered more than
    /// `max_attempts` times moves to the queue's dead letters instead.
    async fn receive(
        &self,
        queue: &str,
        visibility: Duration,
        max_attempts: u32,
    ) -> Result<Option<Delivery>, StoreError>;

    /// Keeps the message hidden for `visibility` from now; `Ok(false)` if the receipt is stale
    /// (the message was redelivered or acknowledged).
    async fn extend(
        &self,
        queue: &str,
        receipt: &str,
        visibility: Duration,
    ) -> Result<bool, StoreError>;

    /// Removes the message; a stale receipt is ignored.
    async fn ack(&self, queue: &str, receipt: &str) -> Result<(), StoreError>;

    /// Bodies of the queue's dead letters, oldest first, at most `limit`.
    async fn dead_letters(&self, queue: &str, limit: usize) -> Result<Vec<String>, StoreError>;
}
