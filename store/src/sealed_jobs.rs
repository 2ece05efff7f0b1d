//! `SealedJobs`: a `JobStore` decorator that seals each job's document with the tenant's data
//! key (`Envelope`), so a job's request (`_typeFilter` criteria can name patients), progress
//! and manifest are not readable where the records are stored, and go with the tenant's key.
//!
//! The associated data binds the document to its tenant and job id: a document copied to
//! another job or tenant does not open. Documents stored before sealing existed (plain JSON)
//! are read as they are and sealed on their next update.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hearth_tenancy::TenantId;

use crate::{Envelope, JobId, JobRecord, JobStore, StoreError};

/// What a sealed document starts with (then the sealed bytes in base64).
const SEALED: &str = "sealed:1:";

pub struct SealedJobs {
    inner: Arc<dyn JobStore>,
    envelope: Arc<Envelope>,
}

impl SealedJobs {
    pub fn new(inner: Arc<dyn JobStore>, envelope: Arc<Envelope>) -> SealedJobs {
        SealedJobs { inner, envelope }
    }

    async fn seal(&self, tenant: &TenantId, record: &JobRecord) -> Result<JobRecord, StoreError> {
        let sealed = self
            .envelope
            .seal(tenant, &aad(&record.id), record.doc.as_bytes())
            .await?;
        Ok(JobRecord {
            doc: format!("{SEALED}{}", STANDARD.encode(sealed)),
            ..record.clone()
        })
    }

    async fn open(
        &self,
        tenant: &TenantId,
        mut record: JobRecord,
    ) -> Result<JobRecord, StoreError> {
        let Some(encoded) = record.doc.strip_prefix(SEALED) else {
            return Ok(record);
        };
        let sealed = STANDARD
            .decode(encoded)
            .map_err(|e| StoreError::internal("open job document", e))?;
        let plain = self
            .envelope
            .open(tenant, &aad(&record.id), &sealed)
            .await?;
        record.doc =
            String::from_utf8(plain).map_err(|e| StoreError::internal("open job document", e))?;
        Ok(record)
    }
}

fn aad(id: &JobId) -> Vec<u8> {
    format!("job\0{}", id.as_str()).into_bytes()
}

#[async_trait]
impl JobStore for SealedJobs {
    async fn create(
        &self,
        tenant: &TenantId,
        record: &JobRecord,
        max_active: usize,
    ) -> Result<bool, StoreError> {
        let sealed = self.seal(tenant, record).await?;
        self.inner.create(tenant, &sealed, max_active).await
    }

    async fn get(&self, tenant: &TenantId, id: &JobId) -> Result<Option<JobRecord>, StoreError> {
        match self.inner.get(tenant, id).await? {
            Some(record) => Ok(Some(self.open(tenant, record).await?)),
            None => Ok(None),
        }
    }

    async fn update(
        &self,
        tenant: &TenantId,
        record: &JobRecord,
    ) -> Result<Option<u64>, StoreError> {
        let sealed = self.seal(tenant, record).await?;
        self.inner.update(tenant, &sealed).await
    }

    async fn delete(&self, tenant: &TenantId, id: &JobId) -> Result<(), StoreError> {
        self.inner.delete(tenant, id).await
    }

    async fn expired(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(TenantId, JobId)>, StoreError> {
        self.inner.expired(now, limit).await
    }
}
