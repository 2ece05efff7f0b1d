//! The deployment-wide signing keys on DynamoDB (layout in [`super`]): the ES256 key of
//! `/auth/token` and `hearth token` ([`LocalSigner`]) and the HMAC key of signed export links
//! ([`UrlSigner`]), so every API task signs with the same keys and accepts what the others
//! signed. Each key is sealed under the platform KMS key ([`PlatformSeal`]).
//!
//! The item of a purpose's current key is pk `_keys`, sk `{purpose}` (`token-signing`,
//! `url-signing`), with `kid`, `alg`, `created`, the wrapped data key `wrapped` and the sealed
//! key `sealed` (associated data `_keys/{purpose}/{kid}`, so a sealed key moved to another item
//! or relabelled does not open). The first task to start creates it with a conditional put;
//! every other start, and the loser of a race of first starts, reads the winner's item.
//! Rotation (not built) would keep earlier keys as `{purpose}#{kid}` items, published in the
//! JWKS until their tokens expire.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use hearth_auth::{KeyError, LocalSigner, UrlSigner};
use hearth_store::StoreError;
use zeroize::Zeroizing;

use super::platform_seal::{PlatformSeal, Sealed};
use super::{Item, PK, key, s, string};
use crate::config::{AwsClients, AwsConfig};
use crate::error::{error_code, sdk_error};

const PARTITION: &str = "_keys";
const KID: &str = "kid";
const ALG: &str = "alg";
const CREATED: &str = "created";
const WRAPPED: &str = "wrapped";
const SEALED: &str = "sealed";

/// What a deployment key signs; its name is the item's sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPurpose {
    /// Access tokens (ES256).
    TokenSigning,
    /// Signed export file links (HMAC-SHA256).
    UrlSigning,
}

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::TokenSigning => "token-signing",
            KeyPurpose::UrlSigning => "url-signing",
        }
    }

    fn alg(self) -> &'static str {
        match self {
            KeyPurpose::TokenSigning => "ES256",
            KeyPurpose::UrlSigning => "HS256",
        }
    }
}

/// A deployment key as read: its id and secret bytes (PKCS#8 DER, or the HMAC key).
pub struct DeploymentKey {
    pub kid: String,
    pub secret: Zeroizing<Vec<u8>>,
}

/// The signing keys of one AWS deployment.
#[derive(Debug, Clone)]
pub struct DynamoDeploymentKeys {
    client: aws_sdk_dynamodb::Client,
    table: String,
    seal: PlatformSeal,
}

fn key_error(context: &str) -> impl FnOnce(KeyError) -> StoreError + '_ {
    move |e| StoreError::internal(context, e)
}

fn aad(purpose: KeyPurpose, kid: &str) -> Vec<u8> {
    format!("{PARTITION}/{}/{kid}", purpose.as_str()).into_bytes()
}

fn blob<'a>(item: &'a Item, name: &str) -> Option<&'a [u8]> {
    match item.get(name) {
        Some(AttributeValue::B(value)) => Some(value.as_ref()),
        _ => None,
    }
}

fn required<T>(found: Option<T>, name: &str) -> Result<T, StoreError> {
    found.ok_or_else(|| StoreError::internal("read the deployment key", format!("no {name}")))
}

impl DynamoDeploymentKeys {
    pub fn new(clients: &AwsClients, config: &AwsConfig) -> DynamoDeploymentKeys {
        DynamoDeploymentKeys {
            client: clients.dynamodb.clone(),
            table: config.resources_table_name(),
            seal: PlatformSeal::new(clients, config),
        }
    }

    /// The deployment's token-signing key, created on first use.
    pub async fn token_signer(&self) -> Result<LocalSigner, StoreError> {
        const CONTEXT: &str = "load the token-signing key";
        let stored = self
            .load_or_create(KeyPurpose::TokenSigning, || {
                let der =
                    Zeroizing::new(LocalSigner::generate_pkcs8_der().map_err(key_error(CONTEXT))?);
                let kid = LocalSigner::from_pkcs8_der(&der)
                    .map_err(key_error(CONTEXT))?
                    .kid()
                    .to_owned();
                Ok(DeploymentKey { kid, secret: der })
            })
            .await?;
        let signer = LocalSigner::from_pkcs8_der(&stored.secret).map_err(key_error(CONTEXT))?;
        if signer.kid() != stored.kid {
            return Err(StoreError::internal(
                CONTEXT,
                "the key does not match its kid",
            ));
        }
        Ok(signer)
    }

    /// The deployment's URL-signing key, created on first use.
    pub async fn url_signer(&self) -> Result<UrlSigner, StoreError> {
        const CONTEXT: &str = "load the URL-signing key";
        let stored = self
            .load_or_create(KeyPurpose::UrlSigning, || {
                Ok(DeploymentKey {
                    kid: uuid::Uuid::new_v4().simple().to_string(),
                    secret: Zeroizing::new(UrlSigner::generate_key()),
                })
            })
            .await?;
        UrlSigner::from_key(stored.secret.to_vec()).map_err(key_error(CONTEXT))
    }

    /// The current key of `purpose`: the stored one, or `generate`'s when none is stored yet
    /// and this call's conditional put wins.
    pub async fn load_or_create(
        &self,
        purpose: KeyPurpose,
        generate: impl FnOnce() -> Result<DeploymentKey, StoreError>,
    ) -> Result<DeploymentKey, StoreError> {
        if let Some(stored) = self.load(purpose).await? {
            return Ok(stored);
        }
        let fresh = generate()?;
        let sealed = self
            .seal
            .seal(&aad(purpose, &fresh.kid), &fresh.secret)
            .await?;
        let mut item = key(PARTITION, purpose.as_str());
        item.insert(KID.into(), s(&fresh.kid));
        item.insert(ALG.into(), s(purpose.alg()));
        item.insert(CREATED.into(), s(&chrono::Utc::now().to_rfc3339()));
        item.insert(WRAPPED.into(), AttributeValue::B(Blob::new(sealed.wrapped)));
        item.insert(
            SEALED.into(),
            AttributeValue::B(Blob::new(sealed.ciphertext)),
        );
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match put {
            Ok(_) => {
                let purpose = purpose.as_str();
                tracing::info!(purpose, kid = %fresh.kid, "created the deployment key");
                Ok(fresh)
            }
            Err(e) if error_code(&e) == Some("ConditionalCheckFailedException") => {
                self.load(purpose).await?.ok_or_else(|| {
                    StoreError::internal("load the deployment key", "lost a race to no key")
                })
            }
            Err(e) => Err(sdk_error("store the deployment key", e)),
        }
    }

    /// The stored current key of `purpose`, read consistently and opened.
    async fn load(&self, purpose: KeyPurpose) -> Result<Option<DeploymentKey>, StoreError> {
        const CONTEXT: &str = "read the deployment key";
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(PARTITION, purpose.as_str())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(CONTEXT, e))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let kid = required(string(&item, KID), KID)?.to_owned();
        let sealed = Sealed {
            wrapped: required(blob(&item, WRAPPED), WRAPPED)?.to_vec(),
            ciphertext: required(blob(&item, SEALED), SEALED)?.to_vec(),
        };
        let secret = self.seal.open(&aad(purpose, &kid), &sealed).await?;
        Ok(Some(DeploymentKey { kid, secret }))
    }
}
