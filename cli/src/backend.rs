//! Wiring the configured backend: the embedded data dir (SQLite, local files, local queue),
//! or the AWS adapters (DynamoDB, S3, SQS, KMS) with OpenSearch for search.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hearth_api::FileClientRegistry;
use hearth_auth::{ClientRegistry, MemoryReplayCache, ReplayGuard};
use hearth_aws::backend::AwsBackend;
use hearth_aws::dynamo::IndexMode;
use hearth_opensearch::{AwsSigning, OpenSearchConfig, OpenSearchIndex};
use hearth_store::embedded::{
    EmbeddedPartitions, FsBlobStore, LocalKeyService, SqliteOptions, SqliteResourceStore,
};
use hearth_store::{
    BlobStore, Envelope, JobQueue, JobStore, KeyIndex, KeyService, Partitions, ResourceStore,
    SealedJobs, TenantPartitions,
};
use hearth_tenancy::{TenantDirectory, TenantRegistry};
use hearth_workers::export::{ExportContext, ExportService, PresignedLinks};

use crate::config::Config;

/// The adapters every command works through.
pub struct Backend {
    pub store: Arc<dyn ResourceStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub jobs: Arc<dyn JobStore>,
    pub queue: Arc<dyn JobQueue>,
    /// What provisioning and deleting a tenant does beyond its registry entry (on AWS: its
    /// KMS key, items, objects, job records and index; on the embedded backend its key in
    /// `{data_dir}/keys`, while its tenant folder holds the rest).
    pub partitions: Arc<dyn TenantPartitions>,
    /// The tenant directory: the data dir's folders, or DynamoDB (shared by every task).
    pub tenants: Arc<dyn TenantDirectory>,
    /// The SMART backend-services clients: files in the data dir, or DynamoDB.
    pub clients: Arc<dyn ClientRegistry>,
    /// Used client assertions: in this process, or DynamoDB (shared by every task).
    pub replay: Arc<dyn ReplayGuard>,
    /// The AWS parts, for the stream indexer, the pump and reindexing.
    pub aws: Option<AwsParts>,
}

pub struct AwsParts {
    pub backend: AwsBackend,
    pub index: Arc<OpenSearchIndex>,
}

impl Backend {
    /// Opens the configured backend (and, with `provision`, creates what is missing).
    pub async fn open(config: &Config, registry: &TenantRegistry) -> anyhow::Result<Backend> {
        match config.backend.as_str() {
            "aws" => aws(config).await,
            _ => embedded(config, registry),
        }
    }

    /// The export context and queue over these adapters.
    pub fn export(&self, config: &Config) -> (Arc<ExportContext>, Arc<dyn JobQueue>) {
        let ctx = Arc::new(ExportContext {
            resources: self.store.clone(),
            blobs: self.blobs.clone(),
            jobs: self.jobs.clone(),
            options: (&config.export).into(),
        });
        let queue: Arc<dyn JobQueue> = match &self.aws {
            Some(aws) => aws.backend.export_queue(),
            None => self.queue.clone(),
        };
        (ctx, queue)
    }

    /// The export service the API calls: with `export.presigned_urls` (AWS only, checked when
    /// the configuration loads), manifests link files by S3 presigned URLs.
    pub fn export_service(
        &self,
        config: &Config,
        ctx: &Arc<ExportContext>,
        queue: &Arc<dyn JobQueue>,
    ) -> Arc<ExportService> {
        let service = ExportService::new(Arc::clone(ctx), Arc::clone(queue));
        match &self.aws {
            Some(aws) if config.export.presigned_urls => {
                Arc::new(service.with_presigned_links(PresignedLinks {
                    urls: aws.backend.blobs.clone(),
                    ttl: Duration::from_secs(config.export.presigned_url_seconds),
                }))
            }
            _ => Arc::new(service),
        }
    }
}

fn embedded(config: &Config, registry: &TenantRegistry) -> anyhow::Result<Backend> {
    let keys: Arc<dyn KeyService> = Arc::new(
        LocalKeyService::open(&embedded_keys_dir(&config.data_dir))
            .context("open the tenant key folder")?,
    );
    let (store, blobs) = embedded_stores(registry, keys.clone());
    let jobs = Arc::new(
        hearth_store::embedded::SqliteJobs::open(&config.data_dir)
            .context("open the export job store")?,
    );
    let envelope = Arc::new(Envelope::new(keys));
    Ok(Backend {
        store,
        blobs,
        jobs: Arc::new(SealedJobs::new(jobs.clone(), envelope.clone())),
        queue: jobs,
        partitions: Arc::new(Partitions(vec![Arc::new(EmbeddedPartitions::new(
            envelope,
        ))])),
        tenants: Arc::new(registry.clone()),
        clients: Arc::new(FileClientRegistry::new(&config.data_dir, registry.clone())),
        replay: Arc::new(MemoryReplayCache::default()),
        aws: None,
    })
}

async fn aws(config: &Config) -> anyhow::Result<Backend> {
    let search = &config.search;
    let index = Arc::new(
        OpenSearchIndex::connect(OpenSearchConfig {
            index_prefix: search.index_prefix.clone(),
            replicas: search.replicas,
            aws: search.sigv4_service.as_ref().map(|service| AwsSigning {
                service: service.clone(),
                region: Some(config.aws.region.clone()),
            }),
            ..OpenSearchConfig::new(search.url.clone())
        })
        .await
        .context("configure the OpenSearch index")?,
    );
    let mode = match search.indexing.as_str() {
        "inline" => IndexMode::Inline,
        _ => IndexMode::Stream,
    };
    let backend = AwsBackend::connect(&config.aws, index.clone() as Arc<dyn KeyIndex>, mode).await;
    if config.provision {
        backend
            .provision()
            .await
            .context("create the AWS tables, bucket and queues")?;
    }
    Ok(Backend {
        store: backend.store.clone(),
        blobs: backend.blobs.clone(),
        jobs: Arc::new(SealedJobs::new(
            backend.jobs.clone(),
            backend.envelope.clone(),
        )),
        queue: backend.queue.clone(),
        partitions: Arc::new(backend.partitions()),
        tenants: backend.tenants.clone(),
        clients: backend.client_registry.clone(),
        replay: backend.replay.clone(),
        aws: Some(AwsParts { backend, index }),
    })
}

/// The folder of the embedded backend's master key and tenant keys.
pub fn embedded_keys_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys")
}

/// The embedded resource store and blob store of a data dir, encrypted with `keys`.
pub fn embedded_stores(
    registry: &TenantRegistry,
    keys: Arc<dyn KeyService>,
) -> (Arc<SqliteResourceStore>, Arc<FsBlobStore>) {
    (
        Arc::new(SqliteResourceStore::new(
            registry.clone(),
            SqliteOptions::default(),
            keys.clone(),
        )),
        Arc::new(FsBlobStore::new(registry.clone(), keys)),
    )
}
