//! Where the AWS adapters connect: region, endpoint override (moto locally), resource names,
//! the SDK clients built from them, and the idempotent creation of the shared resources.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};
use hearth_store::StoreError;
use hearth_tenancy::TenantId;
use serde::Deserialize;

/// The AWS resources of one deployment. Every name left out derives from `prefix`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AwsConfig {
    /// The region of every resource, e.g. `eu-west-1`.
    pub region: String,
    /// One endpoint for every service instead of AWS's own (an emulator such as moto).
    pub endpoint_url: Option<String>,
    /// Prefix of every derived resource name (`{prefix}-resources`, `{prefix}-jobs`, ...).
    pub prefix: String,
    /// The DynamoDB table of resources; default `{prefix}-resources`.
    pub resources_table: Option<String>,
    /// The DynamoDB table of job records; default `{prefix}-jobs`.
    pub jobs_table: Option<String>,
    /// The S3 bucket of blobs (all tenants, a prefix each); default `{prefix}-blobs`. Bucket
    /// names are global in AWS, so deployments set it.
    pub bucket: Option<String>,
    /// Logical names of the job queues created by provisioning; each is the SQS queue
    /// `{prefix}-{name}` with the dead-letter queue `{prefix}-{name}-dlq`.
    pub job_queues: Vec<String>,
    /// Prefix of each tenant's KMS key alias: `{key_alias_prefix}{tenant}`.
    pub key_alias_prefix: String,
    /// The KMS alias of the deployment's platform key, which seals the deployment-wide
    /// signing keys (`registry::keys`); default `alias/hearth-platform/{prefix}` (the data
    /// stack's alias).
    pub platform_key_alias: Option<String>,
    /// Whether S3 objects are encrypted with SSE-KMS under the tenant's key (which must be
    /// provisioned before the tenant's first blob).
    pub sse_kms: bool,
    /// Attempts per SDK call, the first included (standard retry mode with backoff).
    pub max_attempts: u32,
    /// Long-poll wait of the export workers' SQS receives, in seconds (0..=20; 0 answers at
    /// once, for emulators that serve one request at a time).
    pub sqs_wait_seconds: u64,
}

impl Default for AwsConfig {
    fn default() -> AwsConfig {
        AwsConfig {
            region: "us-east-1".into(),
            endpoint_url: None,
            prefix: "hearth".into(),
            resources_table: None,
            jobs_table: None,
            bucket: None,
            job_queues: vec!["export".into()],
            key_alias_prefix: "alias/hearth/".into(),
            platform_key_alias: None,
            sse_kms: true,
            max_attempts: 4,
            sqs_wait_seconds: 20,
        }
    }
}

impl AwsConfig {
    /// The defaults with every derived name under `prefix` (fresh names for tests).
    pub fn with_prefix(prefix: &str) -> AwsConfig {
        AwsConfig {
            prefix: prefix.into(),
            key_alias_prefix: format!("alias/{prefix}/"),
            ..AwsConfig::default()
        }
    }

    pub fn resources_table_name(&self) -> String {
        self.resources_table
            .clone()
            .unwrap_or_else(|| format!("{}-resources", self.prefix))
    }

    pub fn jobs_table_name(&self) -> String {
        self.jobs_table
            .clone()
            .unwrap_or_else(|| format!("{}-jobs", self.prefix))
    }

    pub fn bucket_name(&self) -> String {
        self.bucket
            .clone()
            .unwrap_or_else(|| format!("{}-blobs", self.prefix))
    }

    /// The SQS queue name of the logical job queue `name`.
    pub fn queue_name(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// The FIFO queue of index events: the logical queue `index.fifo`
    /// ([`hearth_store::INDEX_QUEUE`]).
    pub fn index_queue_name(&self) -> String {
        self.queue_name(hearth_store::INDEX_QUEUE)
    }

    /// The KMS alias of the platform key.
    pub fn platform_key_alias_name(&self) -> String {
        self.platform_key_alias
            .clone()
            .unwrap_or_else(|| format!("alias/hearth-platform/{}", self.prefix))
    }

    /// The KMS alias of the tenant's key.
    pub fn key_alias(&self, tenant: &TenantId) -> String {
        format!("{}{tenant}", self.key_alias_prefix)
    }
}

/// The SDK clients of one deployment, sharing one `SdkConfig` (credentials, retry, endpoint).
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub dynamodbstreams: aws_sdk_dynamodbstreams::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub kms: aws_sdk_kms::Client,
}

impl AwsClients {
    /// Loads credentials from the default chain and builds the clients. With an endpoint
    /// override and no credentials in the environment or profile, static dummy credentials
    /// are used (emulators accept any).
    pub async fn connect(config: &AwsConfig) -> AwsClients {
        let sdk = sdk_config(config).await;
        let s3_config = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(config.endpoint_url.is_some())
            .build();
        AwsClients {
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            dynamodbstreams: aws_sdk_dynamodbstreams::Client::new(&sdk),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            kms: aws_sdk_kms::Client::new(&sdk),
        }
    }
}

async fn sdk_config(config: &AwsConfig) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(config.region.clone()))
        .retry_config(RetryConfig::standard().with_max_attempts(config.max_attempts.max(1)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .build(),
        );
    if let Some(url) = &config.endpoint_url {
        loader = loader.endpoint_url(url);
        if !local_credentials_exist().await {
            let dummy = Credentials::new("hearth-local", "hearth-local", None, None, "static");
            loader = loader.credentials_provider(SharedCredentialsProvider::new(dummy));
        }
    }
    loader.load().await
}

/// Whether the environment or the profile files hold credentials (checked without network,
/// unlike the full default chain, which probes instance metadata).
async fn local_credentials_exist() -> bool {
    let env = aws_config::environment::EnvironmentVariableCredentialsProvider::new();
    if env.provide_credentials().await.is_ok() {
        return true;
    }
    let profile = aws_config::profile::ProfileFileCredentialsProvider::builder().build();
    profile.provide_credentials().await.is_ok()
}

/// Creates the bucket, the jobs table and the job and index queues (with their dead-letter
/// queues) when absent; Ok when they exist. For local use and bootstrapping: in AWS the
/// deployment template creates them. The resources table is created by `dynamo`.
pub async fn provision_shared(clients: &AwsClients, config: &AwsConfig) -> Result<(), StoreError> {
    crate::s3::create_bucket(&clients.s3, &config.bucket_name(), &config.region).await?;
    crate::jobs::create_table(&clients.dynamodb, &config.jobs_table_name()).await?;
    for name in &config.job_queues {
        crate::sqs::create_queue_pair(&clients.sqs, &config.queue_name(name)).await?;
    }
    crate::sqs::create_queue_pair(&clients.sqs, &config.index_queue_name()).await?;
    Ok(())
}
