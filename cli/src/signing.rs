//! The signing keys of `hearth serve` and `hearth token`: files in the data dir on the
//! embedded backend; on AWS the deployment-wide keys in DynamoDB, sealed with the platform KMS
//! key, so every API task signs with the same keys and accepts what the others signed.

use std::path::PathBuf;

use anyhow::Context;
use hearth_auth::{LocalSigner, UrlSigner, signing_key_path, url_signing_key_path};
use hearth_aws::{AwsClients, DynamoDeploymentKeys};

use crate::backend::Backend;
use crate::config::Config;

/// Where the signing keys of a configuration are kept.
pub enum SigningKeys {
    /// The data dir's key files.
    Files { data_dir: PathBuf },
    /// The AWS deployment's keys.
    Deployment(DynamoDeploymentKeys),
}

impl SigningKeys {
    /// The keys of an opened backend.
    pub fn of_backend(config: &Config, backend: &Backend) -> SigningKeys {
        match &backend.aws {
            Some(aws) => SigningKeys::Deployment(aws.backend.deployment_keys()),
            None => SigningKeys::files(config),
        }
    }

    /// The keys of `config` without opening the rest of the backend (`hearth token`).
    pub async fn connect(config: &Config) -> SigningKeys {
        if config.backend == "aws" {
            let clients = AwsClients::connect(&config.aws).await;
            SigningKeys::Deployment(DynamoDeploymentKeys::new(&clients, &config.aws))
        } else {
            SigningKeys::files(config)
        }
    }

    fn files(config: &Config) -> SigningKeys {
        SigningKeys::Files {
            data_dir: config.data_dir.clone(),
        }
    }

    /// The token-signing key, created on first use.
    pub async fn token_signer(&self) -> anyhow::Result<LocalSigner> {
        match self {
            SigningKeys::Files { data_dir } => {
                let path = signing_key_path(data_dir);
                LocalSigner::load_or_create(&path)
                    .with_context(|| format!("load or create the signing key {}", path.display()))
            }
            SigningKeys::Deployment(keys) => keys
                .token_signer()
                .await
                .context("load or create the deployment's signing key"),
        }
    }

    /// The URL-signing key of signed export links, created on first use.
    pub async fn url_signer(&self) -> anyhow::Result<UrlSigner> {
        match self {
            SigningKeys::Files { data_dir } => {
                let path = url_signing_key_path(data_dir);
                UrlSigner::load_or_create(&path).with_context(|| {
                    format!("load or create the URL-signing key {}", path.display())
                })
            }
            SigningKeys::Deployment(keys) => keys
                .url_signer()
                .await
                .context("load or create the deployment's URL-signing key"),
        }
    }
}
