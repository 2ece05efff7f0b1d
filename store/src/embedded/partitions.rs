//! `TenantPartitions` of the embedded backend: the tenant's key in the local key folder.
//! Its SQLite file and blob folder live in the tenant's registry folder, which
//! `TenantRegistry::delete` removes after `destroy`.

use std::sync::Arc;

use async_trait::async_trait;
use hearth_tenancy::TenantId;

use crate::{Envelope, KeyService, Progress, StoreError, TenantPartitions};

/// The tenant's key (and the data keys it wrapped, cached in `envelope`).
pub struct EmbeddedPartitions {
    envelope: Arc<Envelope>,
}

impl EmbeddedPartitions {
    /// Provisions and destroys keys in the key service of `envelope` (a `LocalKeyService`),
    /// and forgets the tenant's data keys cached there when its key is destroyed.
    pub fn new(envelope: Arc<Envelope>) -> EmbeddedPartitions {
        EmbeddedPartitions { envelope }
    }

    fn keys(&self) -> &dyn KeyService {
        self.envelope.keys().as_ref()
    }
}

#[async_trait]
impl TenantPartitions for EmbeddedPartitions {
    async fn provision(&self, tenant: &TenantId) -> Result<(), StoreError> {
        self.keys().provision(tenant).await
    }

    async fn destroy(&self, tenant: &TenantId, progress: Progress<'_>) -> Result<(), StoreError> {
        self.keys().destroy(tenant).await?;
        self.envelope.forget(tenant);
        progress("tenant key destroyed");
        Ok(())
    }
}
