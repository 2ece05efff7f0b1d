//! The AWS backend assembled from one [`AwsConfig`]: every adapter sharing one set of SDK
//! clients, for the binary and the tests to wire into the API and the workers.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hearth_store::{Envelope, IndexDoc, IndexSource, KeyIndex, ResourceKey, StoreError};
use hearth_tenancy::TenantId;

use crate::config::{AwsClients, AwsConfig, provision_shared};
use crate::dynamo::{DynamoStore, IndexMode, create_table};
use crate::jobs::DynamoJobStore;
use crate::kms::KmsKeyService;
use crate::registry::{
    DynamoClientRegistry, DynamoDeploymentKeys, DynamoReplayGuard, DynamoTenantDirectory,
};
use crate::s3::S3BlobStore;
use crate::sqs::SqsJobQueue;
use crate::tenant::AwsTenantPartitions;

pub struct AwsBackend {
    pub config: AwsConfig,
    pub clients: AwsClients,
    pub keys: Arc<KmsKeyService>,
    pub envelope: Arc<Envelope>,
    pub store: Arc<DynamoStore>,
    pub blobs: Arc<S3BlobStore>,
    pub jobs: Arc<DynamoJobStore>,
    pub queue: Arc<SqsJobQueue>,
    /// The search index behind `store`.
    pub index: Arc<dyn KeyIndex>,
    /// The tenant directory, client registry and replay guard, shared by every API task.
    pub tenants: Arc<DynamoTenantDirectory>,
    pub client_registry: Arc<DynamoClientRegistry>,
    pub replay: Arc<DynamoReplayGuard>,
}

impl AwsBackend {
    /// Connects every adapter; `index` answers searches, and `mode` says who indexes writes.
    pub async fn connect(
        config: &AwsConfig,
        index: Arc<dyn KeyIndex>,
        mode: IndexMode,
    ) -> AwsBackend {
        let clients = AwsClients::connect(config).await;
        let keys = Arc::new(KmsKeyService::new(&clients, config));
        let envelope = Arc::new(Envelope::new(keys.clone()));
        let blobs = Arc::new(S3BlobStore::new(&clients, config));
        let store = Arc::new(
            DynamoStore::new(
                clients.dynamodb.clone(),
                config.resources_table_name(),
                envelope.clone(),
                Some(index.clone()),
                mode,
            )
            .with_body_objects(blobs.clone()),
        );
        AwsBackend {
            config: config.clone(),
            blobs,
            jobs: Arc::new(DynamoJobStore::new(&clients, config)),
            queue: Arc::new(SqsJobQueue::new(&clients, config)),
            keys,
            envelope,
            store,
            index,
            tenants: Arc::new(DynamoTenantDirectory::new(&clients, config)),
            client_registry: Arc::new(DynamoClientRegistry::new(&clients, config)),
            replay: Arc::new(DynamoReplayGuard::new(&clients, config)),
            clients,
        }
    }

    /// The queue export workers receive from: `queue` with long polls of
    /// `sqs_wait_seconds` (an export worker takes one job per receive, so waiting for it costs
    /// nothing). The indexers keep `queue`'s short polls: they drain a batch with one receive
    /// per message, and a long poll would hold a batch until the wait ends.
    pub fn export_queue(&self) -> Arc<SqsJobQueue> {
        let wait = Duration::from_secs(self.config.sqs_wait_seconds);
        Arc::new((*self.queue).clone().with_long_poll(wait))
    }

    /// Provisioning and removal of a tenant's partitions: its KMS key, items, objects, job
    /// records and search index.
    pub fn partitions(&self) -> AwsTenantPartitions {
        AwsTenantPartitions::for_backend(self, self.index.clone())
    }

    /// The deployment-wide token- and URL-signing keys.
    pub fn deployment_keys(&self) -> DynamoDeploymentKeys {
        DynamoDeploymentKeys::new(&self.clients, &self.config)
    }

    /// Creates the tables, bucket, queues and platform key that do not exist yet (for
    /// emulators and first runs; in AWS the deployment template creates them).
    pub async fn provision(&self) -> Result<(), StoreError> {
        create_table(&self.clients.dynamodb, &self.config.resources_table_name()).await?;
        crate::registry::enable_ttl(&self.clients.dynamodb, &self.config.resources_table_name())
            .await?;
        crate::registry::provision_platform_key(&self.clients, &self.config).await?;
        provision_shared(&self.clients, &self.config).await
    }
}

#[async_trait]
impl IndexSource for DynamoStore {
    async fn index_docs(
        &self,
        tenant: &TenantId,
        keys: &[ResourceKey],
    ) -> Result<Vec<IndexDoc>, StoreError> {
        DynamoStore::index_docs(self, tenant, keys).await
    }
}
