//! Runs the storage conformance suites against the embedded adapters in a temporary data dir.

use std::sync::Arc;

use hearth_store::conformance::{
    ProvisionOnUse, blob_store_suite, job_queue_suite, job_store_suite, key_service_suite,
    resource_store_suite,
};
use hearth_store::embedded::{
    FsBlobStore, LocalKeyService, SqliteJobs, SqliteOptions, SqliteResourceStore,
};
use hearth_store::{Envelope, KeyService, SealedJobs};
use hearth_tenancy::TenantRegistry;

/// The key service of a data dir, as `hearth serve` opens it.
fn keys(dir: &tempfile::TempDir) -> Arc<dyn KeyService> {
    Arc::new(LocalKeyService::open(&dir.path().join("keys")).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_resource_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteResourceStore::new(
        TenantRegistry::new(dir.path()),
        SqliteOptions::default(),
        keys(&dir),
    );
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
    let store = SqliteResourceStore::new(TenantRegistry::new(dir.path()), options, keys(&dir));
    resource_store_suite(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_blob_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::new(TenantRegistry::new(dir.path()), keys(&dir));
    blob_store_suite(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_key_service_conforms() {
    let dir = tempfile::tempdir().unwrap();
    key_service_suite(keys(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_jobs_conform() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = Arc::new(SqliteJobs::open(dir.path()).unwrap());
    job_store_suite(jobs.clone()).await;
    job_queue_suite(jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_jobs_conform() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = Arc::new(SqliteJobs::open(dir.path()).unwrap());
    let envelope = Arc::new(Envelope::new(Arc::new(ProvisionOnUse::new(keys(&dir)))));
    job_store_suite(Arc::new(SealedJobs::new(jobs, envelope))).await;
}
