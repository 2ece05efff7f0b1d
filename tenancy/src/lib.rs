//! Tenants: the validated [`TenantId`], the [`TenantDirectory`] port with the embedded tenant
//! registry behind it, and the naming of each tenant's partitions (its SQLite file and blob
//! folder in the embedded backend). `conformance` holds the suite every directory passes.

pub mod conformance;
mod directory;
mod id;
mod registry;

pub use directory::TenantDirectory;
pub use id::{TenantId, TenantIdError};
pub use registry::{RegistryError, Tenant, TenantRegistry, TenantStatus};
