//! Embedded adapters: SQLite resource store and local-folder blob store.
//!
//! Both keep each tenant apart on disk: one SQLite file per tenant
//! (`TenantRegistry::sqlite_path`) and one blob folder per tenant (`TenantRegistry::blob_dir`).

mod blob_fs;
mod sqlite;

pub use blob_fs::FsBlobStore;
pub use sqlite::{SqliteOptions, SqliteResourceStore};
