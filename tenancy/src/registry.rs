//! The embedded tenant registry: one folder per tenant under `{data_dir}/tenants/`, holding
//! `tenant.json` and the tenant's partitions. Folders make the registry safe to change from the
//! CLI while a server runs on the same data dir: the server looks a tenant up on each request.
//! It is the embedded [`TenantDirectory`] (its calls run on the blocking pool).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::{TenantDirectory, TenantId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
    /// Its deletion has begun (and may have stopped part-way): it is served to no one, its
    /// clients are released, and it never becomes active or suspended again; deleting it once
    /// more finishes the job.
    Deleting,
}

/// A tenant as the registry records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub status: TenantStatus,
    pub created: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("tenant '{0}' already exists")]
    AlreadyExists(TenantId),
    #[error("tenant '{0}' not found")]
    NotFound(TenantId),
    /// A status change of a tenant whose deletion has begun (it can only be deleted).
    #[error("tenant '{0}' is being deleted")]
    Deleting(TenantId),
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
    #[error("read tenant record {path}: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    /// A shared directory (DynamoDB) failed or is throttled: the call may succeed later.
    #[error("tenant directory unavailable: {0}")]
    Unavailable(String),
}

impl Tenant {
    /// A new, active tenant created now.
    pub fn new_active(tenant: &TenantId, name: &str) -> Tenant {
        Tenant {
            id: tenant.to_string(),
            name: name.to_owned(),
            status: TenantStatus::Active,
            created: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> RegistryError {
    let context = context.into();
    move |source| RegistryError::Io { context, source }
}

/// Registry of the tenants of one embedded data dir.
#[derive(Debug, Clone)]
pub struct TenantRegistry {
    root: PathBuf,
}

impl TenantRegistry {
    pub fn new(data_dir: &Path) -> TenantRegistry {
        TenantRegistry {
            root: data_dir.join("tenants"),
        }
    }

    /// The folder holding every partition of `tenant` in the embedded backend.
    pub fn tenant_dir(&self, tenant: &TenantId) -> PathBuf {
        self.root.join(tenant.as_str())
    }

    /// The SQLite file of `tenant`'s resources.
    pub fn sqlite_path(&self, tenant: &TenantId) -> PathBuf {
        self.tenant_dir(tenant).join("resources.sqlite")
    }

    /// The folder of `tenant`'s blobs (Binary contents, export files).
    pub fn blob_dir(&self, tenant: &TenantId) -> PathBuf {
        self.tenant_dir(tenant).join("blobs")
    }

    fn record_path(&self, tenant: &TenantId) -> PathBuf {
        self.tenant_dir(tenant).join("tenant.json")
    }

    /// Creates `tenant`; fails with `AlreadyExists` when it is there.
    pub fn create(&self, tenant: &TenantId, name: &str) -> Result<Tenant, RegistryError> {
        fs::create_dir_all(&self.root).map_err(io_err("create tenants folder"))?;
        let dir = self.tenant_dir(tenant);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if self.record_path(tenant).exists() {
                    return Err(RegistryError::AlreadyExists(tenant.clone()));
                }
            }
            Err(e) => return Err(io_err("create tenant folder")(e)),
        }
        let record = Tenant::new_active(tenant, name);
        let tmp = dir.join(format!("tenant.json.{}.tmp", uuid::Uuid::new_v4().simple()));
        let json = serde_json::to_vec_pretty(&record).map_err(|e| RegistryError::Corrupt {
            path: tmp.clone(),
            source: e,
        })?;
        fs::write(&tmp, json).map_err(io_err("write tenant record"))?;
        // A hard link publishes the complete record and fails when one is there: of two
        // concurrent creates, one wins.
        let published = fs::hard_link(&tmp, self.record_path(tenant));
        let _ = fs::remove_file(&tmp);
        match published {
            Ok(()) => Ok(record),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(RegistryError::AlreadyExists(tenant.clone()))
            }
            Err(e) => Err(io_err("publish tenant record")(e)),
        }
    }

    /// The tenant, or `None` when it does not exist.
    pub fn get(&self, tenant: &TenantId) -> Result<Option<Tenant>, RegistryError> {
        let path = self.record_path(tenant);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| RegistryError::Corrupt { path, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read tenant record")(e)),
        }
    }

    /// All tenants, sorted by id.
    pub fn list(&self) -> Result<Vec<Tenant>, RegistryError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("list tenants")(e)),
        };
        let mut tenants = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("list tenants"))?;
            let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<TenantId>().ok())
            else {
                continue;
            };
            if let Some(tenant) = self.get(&id)? {
                tenants.push(tenant);
            }
        }
        tenants.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(tenants)
    }

    /// Sets the status of `tenant` (suspend, reactivate, or begin its deletion) and returns
    /// the updated record; `NotFound` when it does not exist, `Deleting` when its deletion has
    /// begun and `status` is not [`TenantStatus::Deleting`]. The record is replaced atomically
    /// (write, rename).
    pub fn set_status(
        &self,
        tenant: &TenantId,
        status: TenantStatus,
    ) -> Result<Tenant, RegistryError> {
        let mut record = self
            .get(tenant)?
            .ok_or_else(|| RegistryError::NotFound(tenant.clone()))?;
        if record.status == TenantStatus::Deleting && status != TenantStatus::Deleting {
            return Err(RegistryError::Deleting(tenant.clone()));
        }
        record.status = status;
        let tmp = self.tenant_dir(tenant).join("tenant.json.status.tmp");
        let json = serde_json::to_vec_pretty(&record).map_err(|e| RegistryError::Corrupt {
            path: tmp.clone(),
            source: e,
        })?;
        fs::write(&tmp, json).map_err(io_err("write tenant record"))?;
        fs::rename(&tmp, self.record_path(tenant)).map_err(io_err("publish tenant record"))?;
        Ok(record)
    }

    /// Deletes `tenant` and every partition it owns.
    pub fn delete(&self, tenant: &TenantId) -> Result<(), RegistryError> {
        let record = self.record_path(tenant);
        match fs::remove_file(&record) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RegistryError::NotFound(tenant.clone()));
            }
            Err(e) => return Err(io_err("remove tenant record")(e)),
        }
        fs::remove_dir_all(self.tenant_dir(tenant)).map_err(io_err("remove tenant partitions"))
    }
}

/// Runs a registry call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, RegistryError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RegistryError::Unavailable(format!("tenant registry task: {e}")))?
}

#[async_trait]
impl TenantDirectory for TenantRegistry {
    async fn create(&self, tenant: &TenantId, name: &str) -> Result<Tenant, RegistryError> {
        let (registry, tenant, name) = (self.clone(), tenant.clone(), name.to_owned());
        blocking(move || TenantRegistry::create(&registry, &tenant, &name)).await
    }

    async fn get(&self, tenant: &TenantId) -> Result<Option<Tenant>, RegistryError> {
        let (registry, tenant) = (self.clone(), tenant.clone());
        blocking(move || TenantRegistry::get(&registry, &tenant)).await
    }

    async fn list(&self) -> Result<Vec<Tenant>, RegistryError> {
        let registry = self.clone();
        blocking(move || TenantRegistry::list(&registry)).await
    }

    async fn set_status(
        &self,
        tenant: &TenantId,
        status: TenantStatus,
    ) -> Result<Tenant, RegistryError> {
        let (registry, tenant) = (self.clone(), tenant.clone());
        blocking(move || TenantRegistry::set_status(&registry, &tenant, status)).await
    }

    async fn delete(&self, tenant: &TenantId) -> Result<(), RegistryError> {
        let (registry, tenant) = (self.clone(), tenant.clone());
        blocking(move || TenantRegistry::delete(&registry, &tenant)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let registry = TenantRegistry::new(dir.path());
        let acme: TenantId = "acme".parse().unwrap();
        assert!(registry.get(&acme).unwrap().is_none());
        registry.create(&acme, "Acme").unwrap();
        assert!(matches!(
            registry.create(&acme, "Acme"),
            Err(RegistryError::AlreadyExists(_))
        ));
        assert_eq!(registry.get(&acme).unwrap().unwrap().name, "Acme");
        assert_eq!(registry.list().unwrap().len(), 1);
        let suspended = registry.set_status(&acme, TenantStatus::Suspended).unwrap();
        assert_eq!(suspended.status, TenantStatus::Suspended);
        assert_eq!(registry.get(&acme).unwrap().unwrap(), suspended);
        registry.set_status(&acme, TenantStatus::Active).unwrap();
        registry.delete(&acme).unwrap();
        assert!(matches!(
            registry.set_status(&acme, TenantStatus::Suspended),
            Err(RegistryError::NotFound(_))
        ));
        assert!(registry.get(&acme).unwrap().is_none());
        assert!(!registry.tenant_dir(&acme).exists());
        assert!(matches!(
            registry.delete(&acme),
            Err(RegistryError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn conforms_to_the_tenant_directory_suite() {
        let dir = tempfile::tempdir().unwrap();
        let registry: std::sync::Arc<dyn TenantDirectory> =
            std::sync::Arc::new(TenantRegistry::new(dir.path()));
        crate::conformance::tenant_directory_suite(registry).await;
    }
}
