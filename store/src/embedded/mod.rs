//! Embedded adapters: SQLite resource store, local-folder blob store, and the SQLite job
//! store and queue (`{data_dir}/jobs.sqlite`).
//!
//! Both keep each tenant apart on disk: one SQLite file per tenant
//! (`TenantRegistry::sqlite_path`) and one blob folder per tenant (`TenantRegistry::blob_dir`),
//! both encrypted at rest under data keys of the tenant's key (`LocalKeyService`: tenant keys
//! wrapped by a master key file).

mod blob_fs;
mod blob_seal;
mod jobs_sqlite;
mod keys_local;
mod partitions;
mod sqlite;

pub use blob_fs::FsBlobStore;
pub use jobs_sqlite::SqliteJobs;
pub use keys_local::{LocalKeyService, MASTER_KEY_FILE};
pub use partitions::EmbeddedPartitions;
pub use sqlite::{DB_KEY_FILE, SqliteOptions, SqliteResourceStore};
