//! Runs the storage conformance suites against the embedded adapters in a temporary data dir.

use std::sync::Arc;

use hearth_store::conformance::{
    blob_store_suite, job_queue_suite, job_store_suite, resource_store_suite,
};
use hearth_store::embedded::{FsBlobStore, SqliteJobs, SqliteOptions, SqliteResourceStore};
use hearth_tenancy::TenantRegistry;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_resource_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteResourceStore::new(TenantRegistry::new(dir.path()), SqliteOptions::default());
    resource_store_suite(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_resource_store_conforms_with_one_connection_and_no_grouping() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        read_connections: 1,
        max_group: 1,
        queue_depth: 1,
        ..SqliteOptions::default()
    };
    let store = SqliteResourceStore::new(TenantRegistry::new(dir.path()), options);
    resource_store_suite(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_blob_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    blob_store_suite(Arc::new(FsBlobStore::new(TenantRegistry::new(dir.path())))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_jobs_conform() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = Arc::new(SqliteJobs::open(dir.path()).unwrap());
    job_store_suite(jobs.clone()).await;
    job_queue_suite(jobs).await;
}
