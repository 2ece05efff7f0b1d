//! Embedded adapters: SQLite resource store, local-folder blob store, and the SQLite job
//! store and queue (`{data_dir}/jobs.sqlite`).
//!
//! Both keep each tenant apart on disk: one SQLite file per tenant
//! (`TenantRegistry::sqlite_path`) and one blob folder per tenant (`TenantRegistry::blob_dir`).

mod blob_fs;
mod jobs_sqlite;
mod sqlite;

pub use blob_fs::FsBlobStore;
pub use jobs_sqlite::SqliteJobs;
pub use sqlite::{SqliteOptions, SqliteResourceStore};
