//! `ProvisionOnUse`: a `KeyService` wrapper that provisions each tenant's key on first use,
//! for suites that make fresh tenants no tenant registry has provisioned.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use hearth_tenancy::TenantId;
use zeroize::Zeroizing;

use crate::{DataKey, KeyService, StoreError};

pub struct ProvisionOnUse {
    keys: Arc<dyn KeyService>,
    provisioned: tokio::sync::Mutex<HashSet<TenantId>>,
}

impl ProvisionOnUse {
    pub fn new(keys: Arc<dyn KeyService>) -> ProvisionOnUse {
        ProvisionOnUse {
            keys,
            provisioned: tokio::sync::Mutex::new(HashSet::new()),
        }
    }
}

#[async_trait]
impl KeyService for ProvisionOnUse {
    async fn provision(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let mut provisioned = self.provisioned.lock().await;
        if !provisioned.contains(tenant) {
            self.keys.provision(tenant).await?;
            provisioned.insert(tenant.clone());
        }
        Ok(())
    }

    async fn generate(&self, tenant: &TenantId) -> Result<DataKey, StoreError> {
        self.provision(tenant).await?;
        self.keys.generate(tenant).await
    }

    async fn unwrap(
        &self,
        tenant: &TenantId,
        wrapped: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        self.keys.unwrap(tenant, wrapped).await
    }

    async fn destroy(&self, tenant: &TenantId) -> Result<(), StoreError> {
        self.provisioned.lock().await.remove(tenant);
        self.keys.destroy(tenant).await
    }
}
