//! `KeyService` on KMS: a customer managed key per tenant, named by the alias
//! `{alias_prefix}{tenant}`; data keys are generated and unwrapped under that alias with the
//! encryption context `{"hearth:tenant": id}`, so a wrapped key of one tenant never unwraps for
//! another (the context is part of the ciphertext's authentication).
//!
//! Destroying a tenant's key schedules its deletion (7 days, KMS's shortest window) and
//! deletes the alias. Every call names the key by the alias, so from then on generate and
//! unwrap fail at once, even where the key itself is still usable while pending deletion
//! (emulators do not enforce key states).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_kms::operation::generate_data_key::builders::GenerateDataKeyFluentBuilder;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeyMetadata, KeyState, Tag};
use hearth_store::{DataKey, KeyService, StoreError};
use hearth_tenancy::TenantId;
use zeroize::{Zeroize, Zeroizing};

use crate::config::{AwsClients, AwsConfig};
use crate::error::{error_code, sdk_error};

/// Days between `destroy` and the key's deletion.
const DELETION_WINDOW_DAYS: i32 = 7;

/// Error codes meaning the tenant's key cannot serve the request: absent, destroyed, disabled
/// or not the key of the ciphertext.
const UNUSABLE_KEY_CODES: &[&str] = &[
    "NotFoundException",
    "KMSInvalidStateException",
    "DisabledException",
    "IncorrectKeyException",
    "InvalidCiphertextException",
];

/// Answers while a new key's alias or tags are not yet part of KMS authorization.
const PROPAGATION_CODES: &[&str] = &["AccessDeniedException", "NotFoundException"];

/// Default of `KmsKeyService::with_ready_timeout`: AWS documents "up to five minutes" for
/// alias and tag changes; a few minutes covers what is seen in practice.
const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// Longest pause between two readiness attempts.
const MAX_READY_PAUSE: Duration = Duration::from_secs(10);

/// The encryption-context key naming the tenant (the deployment's IAM policy requires it).
const CONTEXT_KEY: &str = "hearth:tenant";

fn tag(key: &str, value: &str) -> Result<Tag, StoreError> {
    Tag::builder()
        .tag_key(key)
        .tag_value(value)
        .build()
        .map_err(|e| StoreError::internal("build tenant key tag", e))
}

/// Tenant keys in KMS.
#[derive(Debug, Clone)]
pub struct KmsKeyService {
    client: aws_sdk_kms::Client,
    alias_prefix: String,
    /// The deployment's name, tagged on each key (`hearth:environment`) for IAM conditions.
    environment: String,
    /// How long `provision` waits for a new key's alias and tags to reach KMS authorization.
    ready_timeout: Duration,
}

impl KmsKeyService {
    pub fn new(clients: &AwsClients, config: &AwsConfig) -> KmsKeyService {
        KmsKeyService {
            client: clients.kms.clone(),
            alias_prefix: config.key_alias_prefix.clone(),
            environment: config.prefix.clone(),
            ready_timeout: READY_TIMEOUT,
        }
    }

    /// Sets how long `provision` retries the tenant's first data key (default 3 minutes).
    pub fn with_ready_timeout(mut self, timeout: Duration) -> KmsKeyService {
        self.ready_timeout = timeout;
        self
    }

    /// Generates data keys until one succeeds: KMS applies a new alias and new tags to
    /// authorization (the deployment's IAM conditions on `hearth:environment`) after a delay,
    /// so a tenant is ready only once its first `GenerateDataKey` works. Retries the answers
    /// of that delay (access denied, alias not found) with exponential backoff.
    async fn await_usable(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let deadline = Instant::now() + self.ready_timeout;
        let mut pause = Duration::from_millis(200);
        loop {
            let attempt = self.generate_request(tenant).send().await;
            match attempt {
                Ok(_) => return Ok(()),
                Err(e)
                    if error_code(&e).is_some_and(|code| PROPAGATION_CODES.contains(&code))
                        && Instant::now() + pause < deadline =>
                {
                    tracing::info!(%tenant, code = error_code(&e), "tenant key not usable yet, retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_READY_PAUSE);
                }
                Err(e) => return Err(sdk_error("use the new tenant key", e)),
            }
        }
    }

    fn alias(&self, tenant: &TenantId) -> String {
        format!("{}{tenant}", self.alias_prefix)
    }

    /// The key behind the tenant's alias, if there is one.
    async fn describe(&self, tenant: &TenantId) -> Result<Option<KeyMetadata>, StoreError> {
        match self
            .client
            .describe_key()
            .key_id(self.alias(tenant))
            .send()
            .await
        {
            Ok(output) => Ok(output.key_metadata),
            Err(e) if error_code(&e) == Some("NotFoundException") => Ok(None),
            Err(e) => Err(sdk_error("describe tenant key", e)),
        }
    }

    async fn delete_alias(&self, tenant: &TenantId) -> Result<(), StoreError> {
        match self
            .client
            .delete_alias()
            .alias_name(self.alias(tenant))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if error_code(&e) == Some("NotFoundException") => Ok(()),
            Err(e) => Err(sdk_error("delete tenant key alias", e)),
        }
    }

    async fn schedule_deletion(&self, key_id: &str) -> Result<(), StoreError> {
        match self
            .client
            .schedule_key_deletion()
            .key_id(key_id)
            .pending_window_in_days(DELETION_WINDOW_DAYS)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already pending deletion (a retried destroy).
            Err(e) if error_code(&e) == Some("KMSInvalidStateException") => Ok(()),
            Err(e) => Err(sdk_error("schedule tenant key deletion", e)),
        }
    }

    /// A 256-bit data key under the tenant's alias, with the tenant's encryption context.
    fn generate_request(&self, tenant: &TenantId) -> GenerateDataKeyFluentBuilder {
        self.client
            .generate_data_key()
            .key_id(self.alias(tenant))
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(Self::context(tenant)))
    }

    fn context(tenant: &TenantId) -> HashMap<String, String> {
        HashMap::from([(CONTEXT_KEY.to_owned(), tenant.to_string())])
    }
}

/// The error of a call that failed because the tenant's key cannot serve it.
fn key_error(context: &str, tenant: &TenantId, code: Option<&str>) -> Option<StoreError> {
    code.filter(|code| UNUSABLE_KEY_CODES.contains(code))
        .map(|code| StoreError::Invalid(format!("{context} of tenant {tenant}: {code}")))
}

/// Moves a 32-byte plaintext key out of `bytes`, wiping them.
fn take_key(context: &str, mut bytes: Vec<u8>) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let mut key = Zeroizing::new([0u8; 32]);
    let fits = bytes.len() == key.len();
    if fits {
        key.copy_from_slice(&bytes);
    }
    bytes.zeroize();
    if fits {
        Ok(key)
    } else {
        Err(StoreError::internal(context, "data key is not 32 bytes"))
    }
}

#[async_trait]
impl KeyService for KmsKeyService {
    async fn provision(&self, tenant: &TenantId) -> Result<(), StoreError> {
        match self.describe(tenant).await? {
            Some(key) if key.key_state != Some(KeyState::PendingDeletion) => {
                return self.await_usable(tenant).await;
            }
            // A destroy that stopped before removing the alias: the tenant gets a new key.
            Some(_) => self.delete_alias(tenant).await?,
            None => {}
        }
        let created = self
            .client
            .create_key()
            .description(format!("hearth tenant {tenant}"))
            .tags(tag("hearth:tenant", tenant.as_str())?)
            .tags(tag("hearth:environment", &self.environment)?)
            .send()
            .await
            .map_err(|e| sdk_error("create tenant key", e))?;
        let key_id = created
            .key_metadata
            .map(|meta| meta.key_id)
            .ok_or_else(|| StoreError::internal("create tenant key", "no key id"))?;
        match self
            .client
            .create_alias()
            .alias_name(self.alias(tenant))
            .target_key_id(&key_id)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if error_code(&e) == Some("AlreadyExistsException") => {
                // A concurrent provision won; ours is not needed.
                self.schedule_deletion(&key_id).await?;
            }
            Err(e) => return Err(sdk_error("create tenant key alias", e)),
        }
        self.await_usable(tenant).await
    }

    async fn generate(&self, tenant: &TenantId) -> Result<DataKey, StoreError> {
        let output = match self.generate_request(tenant).send().await {
            Ok(output) => output,
            Err(e) => {
                return Err(key_error("generate data key", tenant, error_code(&e))
                    .unwrap_or_else(|| sdk_error("generate data key", e)));
            }
        };
        let (Some(plaintext), Some(wrapped)) = (output.plaintext, output.ciphertext_blob) else {
            return Err(StoreError::internal(
                "generate data key",
                "incomplete answer",
            ));
        };
        Ok(DataKey {
            plaintext: take_key("generate data key", plaintext.into_inner())?,
            wrapped: wrapped.into_inner(),
        })
    }

    async fn unwrap(
        &self,
        tenant: &TenantId,
        wrapped: &[u8],
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        let output = match self
            .client
            .decrypt()
            .key_id(self.alias(tenant))
            .ciphertext_blob(Blob::new(wrapped))
            .set_encryption_context(Some(Self::context(tenant)))
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) => {
                return Err(key_error("unwrap data key", tenant, error_code(&e))
                    .unwrap_or_else(|| sdk_error("unwrap data key", e)));
            }
        };
        let plaintext = output
            .plaintext
            .ok_or_else(|| StoreError::internal("unwrap data key", "no plaintext"))?;
        take_key("unwrap data key", plaintext.into_inner())
    }

    async fn destroy(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let Some(key) = self.describe(tenant).await? else {
            return Ok(());
        };
        // The deletion first: if the alias removal fails, a retry still finds the key.
        self.schedule_deletion(&key.key_id).await?;
        self.delete_alias(tenant).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_32_bytes() {
        assert_eq!(*take_key("t", vec![7; 32]).unwrap(), [7; 32]);
        assert!(take_key("t", vec![7; 31]).is_err());
        assert!(take_key("t", vec![7; 33]).is_err());
    }

    #[test]
    fn unusable_keys_are_invalid() {
        let tenant: TenantId = "acme".parse().unwrap();
        for code in UNUSABLE_KEY_CODES {
            let err = key_error("unwrap", &tenant, Some(code)).expect("mapped");
            assert_eq!(err.kind(), hearth_store::ErrorKind::Invalid);
        }
        assert!(key_error("unwrap", &tenant, Some("ThrottlingException")).is_none());
        assert!(key_error("unwrap", &tenant, None).is_none());
    }
}
