//! Deleting a tenant, the one flow behind `DELETE /admin/tenants/{id}` and `hearth tenant
//! delete`: [`begin`] marks it deleting (served to no one, never active again), then [`finish`]
//! releases its SMART client ids, destroys its partitions (key first) and removes its record.
//!
//! Every step is idempotent and a tenant stays `deleting` until the last one succeeds, so a
//! deletion that fails part-way (a KMS, S3 or DynamoDB call) is finished by deleting again.
//! Client ids go first because they are the one thing of the tenant that others can want: a
//! failed deletion must not keep them from other tenants until it is run again.

pub mod suite;

use hearth_auth::ClientRegistry;
use hearth_store::{Progress, StoreError, TenantPartitions};
use hearth_tenancy::{RegistryError, Tenant, TenantDirectory, TenantId, TenantStatus};

/// Why a step of [`finish`] failed; deleting the tenant again resumes.
#[derive(Debug, thiserror::Error)]
pub enum DeletionError {
    #[error("remove the tenant's record: {0}")]
    Directory(#[from] RegistryError),
    #[error("release the tenant's clients: {0}")]
    Clients(#[from] hearth_auth::RegistryError),
    #[error("destroy the tenant's partitions: {0}")]
    Partitions(#[from] StoreError),
}

/// Marks `tenant` deleting (again, for a deletion that stopped part-way); `NotFound` when it
/// does not exist.
pub async fn begin(
    tenants: &dyn TenantDirectory,
    tenant: &TenantId,
) -> Result<Tenant, RegistryError> {
    tenants.set_status(tenant, TenantStatus::Deleting).await
}

/// The steps after [`begin`]: release the tenant's clients, destroy its partitions, remove its
/// record. `progress` hears of each step done.
pub async fn finish(
    tenants: &dyn TenantDirectory,
    clients: &dyn ClientRegistry,
    partitions: &dyn TenantPartitions,
    tenant: &TenantId,
    progress: Progress<'_>,
) -> Result<(), DeletionError> {
    let released = clients.remove_all(tenant).await?;
    progress(&format!("{released} clients released"));
    partitions.destroy(tenant, progress).await?;
    tenants.delete(tenant).await?;
    progress("tenant record removed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hearth_store::Envelope;
    use hearth_store::embedded::{EmbeddedPartitions, LocalKeyService};
    use hearth_tenancy::TenantRegistry;

    use crate::FileClientRegistry;

    #[tokio::test]
    async fn conforms_to_the_tenant_deletion_suite_on_files() {
        let dir = std::env::temp_dir().join(format!("hearth-deletion-{}", uuid::Uuid::new_v4()));
        let tenants = TenantRegistry::new(&dir);
        let keys = LocalKeyService::open(&dir.join("keys")).expect("open the key folder");
        let partitions = EmbeddedPartitions::new(Arc::new(Envelope::new(Arc::new(keys))));
        super::suite::tenant_deletion_suite(
            Arc::new(tenants.clone()),
            Arc::new(FileClientRegistry::new(&dir, tenants)),
            Arc::new(partitions),
        )
        .await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
