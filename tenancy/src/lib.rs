//! Tenants: the validated [`TenantId`], the embedded tenant registry, and the naming of each
//! tenant's partitions (its SQLite file and blob folder in the embedded backend).

mod id;
mod registry;

pub use id::{TenantId, TenantIdError};
pub use registry::{RegistryError, Tenant, TenantRegistry, TenantStatus};
