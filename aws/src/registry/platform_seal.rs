//! Sealing of deployment secrets (the signing keys in [`super::keys`]) under the platform KMS
//! key: a fresh AES-256 data key per secret from `GenerateDataKey` with the deployment-level
//! encryption context `{"hearth:purpose": "signing-key"}` (the API task role may use the
//! platform key directly only with it), AES-256-GCM over the secret with associated data that
//! names its item, and the wrapped data key stored next to the ciphertext.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, Tag};
use hearth_store::StoreError;
use zeroize::Zeroizing;

use crate::config::{AwsClients, AwsConfig};
use crate::error::{error_code, sdk_error};

/// The encryption-context entry of every platform-sealed secret.
pub const PURPOSE_CONTEXT: (&str, &str) = ("hearth:purpose", "signing-key");

const NONCE_LEN: usize = 12;

/// A secret as stored: the wrapped data key, and the nonce followed by ciphertext and tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub wrapped: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Seals and opens secrets with data keys of the platform key.
#[derive(Debug, Clone)]
pub struct PlatformSeal {
    kms: aws_sdk_kms::Client,
    alias: String,
}

fn context() -> HashMap<String, String> {
    HashMap::from([(PURPOSE_CONTEXT.0.to_owned(), PURPOSE_CONTEXT.1.to_owned())])
}

fn cipher_of(context: &str, key: &[u8]) -> Result<Aes256Gcm, StoreError> {
    Aes256Gcm::new_from_slice(key).map_err(|_| StoreError::internal(context, "data key size"))
}

impl PlatformSeal {
    pub fn new(clients: &AwsClients, config: &AwsConfig) -> PlatformSeal {
        PlatformSeal {
            kms: clients.kms.clone(),
            alias: config.platform_key_alias_name(),
        }
    }

    /// Encrypts `secret` under a new data key, bound to `aad`.
    pub async fn seal(&self, aad: &[u8], secret: &[u8]) -> Result<Sealed, StoreError> {
        const CONTEXT: &str = "seal deployment secret";
        let output = self
            .kms
            .generate_data_key()
            .key_id(&self.alias)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(context()))
            .send()
            .await
            .map_err(|e| sdk_error(CONTEXT, e))?;
        let (Some(plaintext), Some(wrapped)) = (output.plaintext, output.ciphertext_blob) else {
            return Err(StoreError::internal(CONTEXT, "incomplete answer"));
        };
        let key = Zeroizing::new(plaintext.into_inner());
        let cipher = cipher_of(CONTEXT, &key)?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(&nonce, Payload { msg: secret, aad })
            .map_err(|_| StoreError::internal(CONTEXT, "encryption failed"))?;
        let mut ciphertext = nonce.to_vec();
        ciphertext.extend_from_slice(&sealed);
        Ok(Sealed {
            wrapped: wrapped.into_inner(),
            ciphertext,
        })
    }

    /// Decrypts what [`PlatformSeal::seal`] made with the same `aad`.
    pub async fn open(
        &self,
        aad: &[u8],
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        const CONTEXT: &str = "open deployment secret";
        if sealed.ciphertext.len() < NONCE_LEN {
            return Err(StoreError::internal(CONTEXT, "ciphertext too short"));
        }
        let output = self
            .kms
            .decrypt()
            .key_id(&self.alias)
            .ciphertext_blob(Blob::new(sealed.wrapped.clone()))
            .set_encryption_context(Some(context()))
            .send()
            .await
            .map_err(|e| sdk_error(CONTEXT, e))?;
        let key = Zeroizing::new(
            output
                .plaintext
                .ok_or_else(|| StoreError::internal(CONTEXT, "no plaintext"))?
                .into_inner(),
        );
        let cipher = cipher_of(CONTEXT, &key)?;
        let (nonce, body) = sealed.ciphertext.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| StoreError::internal(CONTEXT, "nonce size"))?;
        cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: body, aad })
            .map(Zeroizing::new)
            .map_err(|_| StoreError::internal(CONTEXT, "the secret does not open"))
    }
}

/// Creates the platform key and its alias when the alias is absent (emulators and first runs;
/// in AWS the data stack creates them). A concurrent creation keeps the first alias.
pub async fn provision_platform_key(
    clients: &AwsClients,
    config: &AwsConfig,
) -> Result<(), StoreError> {
    let alias = config.platform_key_alias_name();
    match clients.kms.describe_key().key_id(&alias).send().await {
        Ok(_) => return Ok(()),
        Err(e) if error_code(&e) == Some("NotFoundException") => {}
        Err(e) => return Err(sdk_error("describe platform key", e)),
    }
    let tag = Tag::builder()
        .tag_key("hearth:environment")
        .tag_value(&config.prefix)
        .build()
        .map_err(|e| StoreError::internal("build platform key tag", e))?;
    let created = clients
        .kms
        .create_key()
        .description(format!("hearth {} platform key", config.prefix))
        .tags(tag)
        .send()
        .await
        .map_err(|e| sdk_error("create platform key", e))?;
    let key_id = created
        .key_metadata
        .map(|meta| meta.key_id)
        .ok_or_else(|| StoreError::internal("create platform key", "no key id"))?;
    match clients
        .kms
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&key_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if error_code(&e) == Some("AlreadyExistsException") => clients
            .kms
            .schedule_key_deletion()
            .key_id(&key_id)
            .pending_window_in_days(7)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| sdk_error("drop the unused platform key", e)),
        Err(e) => Err(sdk_error("create platform key alias", e)),
    }
}
