//! Throttled DynamoDB and S3 calls of the full stores are retried, and lasting throttling
//! surfaces as a retryable `Unavailable` (which the API answers with 503 and Retry-After),
//! against a scripted endpoint that answers like a throttled service.

use crate::common::scripted::{Answer, Scripted};

use std::sync::Arc;

use hearth_aws::dynamo::{DynamoStore, IndexMode};
use hearth_aws::{AwsClients, AwsConfig, KmsKeyService, S3BlobStore};
use hearth_store::{BlobKey, BlobStore, Envelope, ErrorKind, ResourceKey, ResourceStore};
use hearth_tenancy::TenantId;

const DYNAMO_THROTTLED: Answer = Answer {
    status: 400,
    error_type: Some("ProvisionedThroughputExceededException"),
    body: r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"rate exceeded"}"#,
};

/// GetItem of an item that does not exist.
const NO_ITEM: Answer = Answer {
    status: 200,
    error_type: None,
    body: "{}",
};

const S3_SLOW_DOWN: Answer = Answer {
    status: 503,
    error_type: None,
    body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
};

const S3_NO_SUCH_KEY: Answer = Answer {
    status: 404,
    error_type: None,
    body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
};

async fn clients_for(server: &Scripted) -> (AwsClients, AwsConfig) {
    let mut config = AwsConfig::with_prefix("throttled");
    config.endpoint_url = Some(server.url.clone());
    (AwsClients::connect(&config).await, config)
}

async fn read_against(answers: Vec<Answer>) -> (Result<bool, hearth_store::StoreError>, usize) {
    let server = Scripted::start(answers).await;
    let (clients, config) = clients_for(&server).await;
    let keys = Arc::new(KmsKeyService::new(&clients, &config));
    let store = DynamoStore::new(
        clients.dynamodb.clone(),
        config.resources_table_name(),
        Arc::new(Envelope::new(keys)),
        None,
        IndexMode::Inline,
    );
    let tenant: TenantId = "acme".parse().unwrap();
    let key = ResourceKey::new("Patient".parse().unwrap(), "p1".parse().unwrap());
    let result = store.read(&tenant, &key).await.map(|found| found.is_some());
    (result, server.requests())
}

async fn get_against(answers: Vec<Answer>) -> (Result<u64, hearth_store::StoreError>, usize) {
    let server = Scripted::start(answers).await;
    let (clients, config) = clients_for(&server).await;
    let blobs = S3BlobStore::new(&clients, &config);
    let tenant: TenantId = "acme".parse().unwrap();
    let key = BlobKey::new("binary/b1").unwrap();
    let result = blobs.get(&tenant, &key).await.map(|(len, _)| len);
    (result, server.requests())
}

#[tokio::test]
async fn a_throttled_dynamodb_read_is_retried() {
    let (result, requests) = read_against(vec![DYNAMO_THROTTLED, DYNAMO_THROTTLED, NO_ITEM]).await;
    assert!(!result.expect("the third attempt answers"), "no such item");
    assert_eq!(requests, 3);
}

#[tokio::test]
async fn lasting_dynamodb_throttling_is_unavailable() {
    let (result, requests) = read_against(vec![DYNAMO_THROTTLED]).await;
    let err = result.expect_err("always throttled");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_retryable());
    assert_eq!(requests, AwsConfig::default().max_attempts as usize);
}

#[tokio::test]
async fn a_throttled_s3_read_is_retried() {
    let (result, requests) = get_against(vec![S3_SLOW_DOWN, S3_SLOW_DOWN, S3_NO_SUCH_KEY]).await;
    let err = result.expect_err("the object does not exist");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(requests, 3, "two SlowDown answers, then the real one");
}

#[tokio::test]
async fn lasting_s3_throttling_is_unavailable() {
    let (result, requests) = get_against(vec![S3_SLOW_DOWN]).await;
    let err = result.expect_err("always throttled");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_retryable());
    assert_eq!(requests, AwsConfig::default().max_attempts as usize);
}
