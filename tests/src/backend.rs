//! The backend of test servers: embedded by default; with `HEARTH_TEST_BACKEND=aws`, the AWS
//! adapters on the emulators (`HEARTH_TEST_AWS_ENDPOINT`: moto, `HEARTH_TEST_OPENSEARCH_URL`:
//! an OpenSearch node), each server under fresh table, bucket, queue and index names.
//!
//! Search on AWS servers is indexed inline, so tests read their writes; export snapshots
//! exclude the last [`hearth_aws::dynamo::SETTLE`] of writes, which tests wait out with
//! [`crate::TestServer::settle`].

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hearth_api::FileClientRegistry;
use hearth_auth::{ClientRegistry, MemoryReplayCache, ReplayGuard};
use hearth_aws::AwsConfig;
use hearth_aws::backend::AwsBackend;
use hearth_aws::dynamo::{IndexMode, SETTLE};
use hearth_opensearch::{OpenSearchConfig, OpenSearchIndex};
use hearth_store::embedded::{
    EmbeddedPartitions, FsBlobStore, LocalKeyService, SqliteJobs, SqliteOptions,
    SqliteResourceStore,
};
use hearth_store::{
    BlobStore, BlobUrls, Envelope, JobQueue, JobStore, KeyService, ResourceStore, SealedJobs,
    TenantPartitions,
};
use hearth_tenancy::{TenantDirectory, TenantId, TenantRegistry};

pub struct TestBackend {
    pub store: Arc<dyn ResourceStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub jobs: Arc<dyn JobStore>,
    pub queue: Arc<dyn JobQueue>,
    /// A tenant's partitions beyond its folder (AWS: its key, items, objects, index; embedded:
    /// its key in `{data_dir}/keys`).
    pub partitions: Option<Arc<dyn TenantPartitions>>,
    /// How long a write takes to enter export snapshots.
    pub settle: Duration,
    /// The tenant directory, client registry and replay guard (AWS: DynamoDB; embedded: the
    /// data dir's folders and files, and memory).
    pub tenants: Arc<dyn TenantDirectory>,
    pub clients: Arc<dyn ClientRegistry>,
    pub replay: Arc<dyn ReplayGuard>,
    /// Presigned read URLs of blobs (AWS: S3), for export manifests that need no token.
    pub urls: Option<Arc<dyn BlobUrls>>,
}

/// Whether test servers run on the AWS adapters.
pub fn aws_selected() -> bool {
    std::env::var("HEARTH_TEST_BACKEND").is_ok_and(|v| v == "aws")
}

/// The black-box tests that do not apply on the AWS backend, with the reason: the one list.
pub const SKIPPED_ON_AWS: &[(&str, &str)] = &[(
    "encryption::nothing_of_a_tenants_data_is_readable_on_disk",
    "it reads the embedded data dir's files; the aws crate's tests check encryption on AWS",
)];

/// Whether the test `name` (`module::test`) is skipped on the selected backend; says why.
pub fn skipped(name: &str) -> bool {
    if !aws_selected() {
        return false;
    }
    match SKIPPED_ON_AWS.iter().find(|(skipped, _)| *skipped == name) {
        Some((_, reason)) => {
            eprintln!("skipping {name} on the AWS backend: {reason}");
            true
        }
        None => false,
    }
}

pub async fn open(registry: &TenantRegistry, dir: &Path) -> TestBackend {
    if aws_selected() {
        aws().await
    } else {
        let jobs = Arc::new(SqliteJobs::open(dir).expect("open the job store"));
        // As `hearth serve` wires it: tenant keys under `{data_dir}/keys`.
        let keys: Arc<dyn KeyService> =
            Arc::new(LocalKeyService::open(&dir.join("keys")).expect("open the key folder"));
        let envelope = Arc::new(Envelope::new(keys.clone()));
        TestBackend {
            store: Arc::new(SqliteResourceStore::new(
                registry.clone(),
                SqliteOptions::default(),
                keys.clone(),
            )),
            blobs: Arc::new(FsBlobStore::new(registry.clone(), keys.clone())),
            jobs: Arc::new(SealedJobs::new(jobs.clone(), envelope.clone())),
            queue: jobs,
            partitions: Some(Arc::new(EmbeddedPartitions::new(envelope))),
            settle: Duration::ZERO,
            tenants: Arc::new(registry.clone()),
            clients: Arc::new(FileClientRegistry::new(dir, registry.clone())),
            replay: Arc::new(MemoryReplayCache::default()),
            urls: None,
        }
    }
}

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("HEARTH_TEST_BACKEND=aws needs {name} (scripts/test.sh sets it)")
    })
}

async fn aws() -> TestBackend {
    let name = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let config = AwsConfig {
        endpoint_url: Some(required("HEARTH_TEST_AWS_ENDPOINT")),
        // moto serves one request at a time (tests/moto/serve.py): no long polls.
        sqs_wait_seconds: 0,
        ..AwsConfig::with_prefix(&name)
    };
    let index = OpenSearchIndex::connect(OpenSearchConfig {
        index_prefix: format!("hearth-{name}-"),
        replicas: Some(0),
        ..OpenSearchConfig::new(required("HEARTH_TEST_OPENSEARCH_URL"))
    })
    .await
    .expect("OpenSearch index");
    let backend = AwsBackend::connect(&config, Arc::new(index), IndexMode::Inline).await;
    backend.provision().await.expect("create the AWS resources");
    TestBackend {
        store: backend.store.clone(),
        blobs: backend.blobs.clone(),
        jobs: Arc::new(SealedJobs::new(
            backend.jobs.clone(),
            backend.envelope.clone(),
        )),
        queue: backend.export_queue(),
        partitions: Some(Arc::new(backend.partitions())),
        settle: SETTLE,
        tenants: backend.tenants.clone(),
        clients: backend.client_registry.clone(),
        replay: backend.replay.clone(),
        urls: Some(backend.blobs.clone()),
    }
}

impl TestBackend {
    /// Prepares a new tenant's partitions (its key on AWS).
    pub async fn provision(&self, tenant: &TenantId) {
        if let Some(partitions) = &self.partitions {
            partitions
                .provision(tenant)
                .await
                .expect("provision the tenant's partitions");
        }
    }
}
