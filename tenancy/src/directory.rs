//! The [`TenantDirectory`] port: the deployment's tenant records (create, look up, list,
//! suspend or resume, delete), implemented by the embedded [`crate::TenantRegistry`] (a folder
//! per tenant) and, on AWS, by the `aws` crate's DynamoDB directory, shared by every API task.

use async_trait::async_trait;

use crate::{RegistryError, Tenant, TenantId, TenantStatus};

/// The tenants of one deployment. Every call reads or writes the shared record: a change made
/// through one instance is seen by the next call of every other instance.
#[async_trait]
pub trait TenantDirectory: Send + Sync {
    /// Creates `tenant` (active); `AlreadyExists` when it is there. Of two concurrent creates
    /// of one id, exactly one succeeds.
    async fn create(&self, tenant: &TenantId, name: &str) -> Result<Tenant, RegistryError>;

    /// The tenant, or `None` when it does not exist.
    async fn get(&self, tenant: &TenantId) -> Result<Option<Tenant>, RegistryError>;

    /// All tenants, sorted by id.
    async fn list(&self) -> Result<Vec<Tenant>, RegistryError>;

    /// Sets the status of `tenant` and returns the updated record; `NotFound` when it does not
    /// exist. [`TenantStatus::Deleting`] is one-way: once set, any other status is refused with
    /// `Deleting` (setting `Deleting` again is Ok), so a deletion that stopped part-way cannot
    /// bring back a tenant whose key may be gone.
    async fn set_status(
        &self,
        tenant: &TenantId,
        status: TenantStatus,
    ) -> Result<Tenant, RegistryError>;

    /// Removes `tenant`'s record and what the directory keeps for it (the embedded directory:
    /// its whole folder; DynamoDB: its registered clients too); `NotFound` when absent. The
    /// tenant's other partitions are removed before, through `TenantPartitions::destroy`.
    async fn delete(&self, tenant: &TenantId) -> Result<(), RegistryError>;
}
