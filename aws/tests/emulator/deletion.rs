//! Tenant deletion on the AWS adapters against the AWS stand-in: the deletion flow's suite
//! (a deletion failing part-way releases the tenant's client ids at once, and deleting again
//! finishes) over the DynamoDB directory and client registry and the KMS, DynamoDB and S3
//! partitions.

use crate::common;
use crate::tenant::RecordingIndex;

use std::sync::Arc;

use hearth_api::deletion::suite::tenant_deletion_suite;
use hearth_aws::backend::AwsBackend;
use hearth_aws::dynamo::IndexMode;
use hearth_aws::tenant::AwsTenantPartitions;
use hearth_aws::{DynamoClientRegistry, DynamoTenantDirectory};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conforms_to_the_tenant_deletion_suite() {
    let Some(config) = common::emulator_config("conforms_to_the_tenant_deletion_suite") else {
        return;
    };
    let index = Arc::new(RecordingIndex::default());
    let backend = AwsBackend::connect(&config, index.clone(), IndexMode::Stream).await;
    backend
        .provision()
        .await
        .expect("provision shared resources");
    tenant_deletion_suite(
        Arc::new(DynamoTenantDirectory::new(&backend.clients, &config)),
        Arc::new(DynamoClientRegistry::new(&backend.clients, &config)),
        Arc::new(AwsTenantPartitions::for_backend(&backend, index)),
    )
    .await;
}
