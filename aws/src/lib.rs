//! The AWS adapters of the storage ports: `ResourceStore` and `JobStore` on DynamoDB,
//! `BlobStore` on S3, `JobQueue` on SQS and `KeyService` on KMS. Every adapter takes the
//! tenant in each call and keeps it in every key, prefix and encryption context.

pub mod backend;
pub mod config;
pub mod dynamo;
pub mod error;
pub mod jobs;
pub mod kms;
pub mod registry;
pub mod s3;
pub mod sqs;
pub mod stream;
pub mod tenant;

pub use config::{AwsClients, AwsConfig, provision_shared};
pub use jobs::DynamoJobStore;
pub use kms::KmsKeyService;
pub use registry::{
    DynamoClientRegistry, DynamoDeploymentKeys, DynamoReplayGuard, DynamoTenantDirectory,
};
pub use s3::S3BlobStore;
pub use sqs::SqsJobQueue;
