//! SMART Backend Services (client credentials with `private_key_jwt`): the logic of
//! `POST /auth/token` without the HTTP. [`TokenService::exchange`] takes the decoded form,
//! authenticates the client by its signed assertion (RS384 or ES384, checked against the keys
//! the client registered), checks the requested scopes against the client's pre-authorized
//! ones and mints a short-lived access token for the client's tenant.

mod clients;
mod error;
mod replay;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::SystemTime;

use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use clients::{
    ClientKeys, ClientRegistry, InMemoryClientRegistry, RegisteredClient, RegistryError,
};
pub use error::{OAuthError, OAuthErrorCode};
pub use replay::{MemoryReplayCache, ReplayError, ReplayGuard};

use crate::claims::{AccessClaims, audience_matches, seconds_at, string_at, unix_seconds};
use crate::jwks::{JwksCache, JwksSource, decoding_key, select, verify_signature};
use crate::scope::ScopeSet;
use crate::signer::LocalSigner;
use crate::validator::{DEFAULT_AUDIENCE, DEFAULT_LOCAL_ISSUER};

/// `client_assertion_type` of `private_key_jwt` (RFC 7523).
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Signing algorithms SMART Backend Services requires servers to accept.
pub const ASSERTION_ALGORITHMS: [Algorithm; 2] = [Algorithm::RS384, Algorithm::ES384];
/// Longest assertion lifetime SMART allows (`exp` at most five minutes ahead).
const MAX_ASSERTION_LIFETIME_SECS: i64 = 300;
const MAX_ASSERTION_LEN: usize = 16 * 1024;

/// Settings of the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenServiceConfig {
    /// `iss` of issued tokens: must be the validator's `local_issuer`.
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// `aud` of issued tokens: must be the validator's `local_audience`.
    #[serde(default = "default_audience")]
    pub audience: String,
    /// Lifetime of issued access tokens; capped at 300 s.
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_secs: u64,
    /// Clock skew allowed on the assertion's `exp`, `nbf` and `iat`.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
}

fn default_issuer() -> String {
    DEFAULT_LOCAL_ISSUER.to_owned()
}
fn default_audience() -> String {
    DEFAULT_AUDIENCE.to_owned()
}
fn default_token_lifetime() -> u64 {
    300
}
fn default_leeway() -> u64 {
    60
}

impl TokenServiceConfig {
    /// Issues tokens that `validator` accepts as local ones.
    pub fn for_validator(validator: &crate::ValidatorConfig) -> Self {
        TokenServiceConfig {
            issuer: validator.local_issuer.clone(),
            audience: validator.local_audience.clone(),
            ..Self::default()
        }
    }
}

impl Default for TokenServiceConfig {
    fn default() -> Self {
        TokenServiceConfig {
            issuer: default_issuer(),
            audience: default_audience(),
            token_lifetime_secs: default_token_lifetime(),
            leeway_secs: default_leeway(),
        }
    }
}

/// A successful token response (RFC 6749 §5.1 as SMART Backend Services profiles it).
/// Send as JSON with `Cache-Control: no-store`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `"bearer"`.
    pub token_type: String,
    pub expires_in: u64,
    /// The granted scopes: exactly the requested ones.
    pub scope: String,
}

/// The token endpoint. Share it behind an `Arc`.
pub struct TokenService {
    config: TokenServiceConfig,
    signer: Arc<LocalSigner>,
    clients: Arc<dyn ClientRegistry>,
    replay: Arc<dyn ReplayGuard>,
    jwks: JwksCache,
}

impl TokenService {
    /// `jwks_source` fetches the keys of clients registered with a `jwks_uri`.
    pub fn new(
        config: TokenServiceConfig,
        signer: Arc<LocalSigner>,
        clients: Arc<dyn ClientRegistry>,
        replay: Arc<dyn ReplayGuard>,
        jwks_source: Arc<dyn JwksSource>,
    ) -> Self {
        TokenService {
            config,
            signer,
            clients,
            replay,
            jwks: JwksCache::new(jwks_source),
        }
    }

    /// Handles one token request.
    ///
    /// `form`: the decoded `application/x-www-form-urlencoded` body, in order (a repeated
    /// parameter is an `invalid_request`). `endpoint_url`: this endpoint's absolute URL as
    /// advertised in `.well-known/smart-configuration`, which the assertion's `aud` must be.
    /// Checks, in order: grant type, assertion type, presence of `scope` and assertion,
    /// the assertion's header (`alg` RS384/ES384, `kid`), `iss` = `sub` = client id (and the
    /// `client_id` parameter, if sent), the client, its key by `kid`, the signature, `aud`,
    /// `exp` (present, not past, at most 5 minutes ahead), `nbf`/`iat` not in the future,
    /// `jti` (present, never seen before), then the scopes.
    pub async fn exchange(
        &self,
        form: &[(String, String)],
        endpoint_url: &str,
        now: SystemTime,
    ) -> Result<TokenResponse, OAuthError> {
        let now = unix_seconds(now);
        let param = |name: &str| -> Result<Option<&str>, OAuthError> {
            let mut values = form
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.as_str());
            let first = values.next();
            if values.next().is_some() {
                return Err(OAuthError::request(format!("'{name}' is repeated")));
            }
            Ok(first)
        };
        let required = |name: &str| -> Result<&str, OAuthError> {
            param(name)?
                .filter(|v| !v.is_empty())
                .ok_or_else(|| OAuthError::request(format!("'{name}' is missing")))
        };

        let grant_type = required("grant_type")?;
        if grant_type != "client_credentials" {
            return Err(OAuthError::new(
                OAuthErrorCode::UnsupportedGrantType,
                "only 'client_credentials' is supported",
            ));
        }
        if required("client_assertion_type")? != JWT_BEARER_ASSERTION {
            return Err(OAuthError::client(format!(
                "client_assertion_type must be '{JWT_BEARER_ASSERTION}'"
            )));
        }
        let assertion = required("client_assertion")?;
        let requested = ScopeSet::parse(required("scope")?)
            .map_err(|e| OAuthError::new(OAuthErrorCode::InvalidScope, e.to_string()))?;

        let client = self
            .authenticate(assertion, param("client_id")?, endpoint_url, now)
            .await?;

        let missing = requested.not_covered_by(&client.scope);
        if !missing.is_empty() {
            let missing = ScopeSet::from_scopes(missing);
            return Err(OAuthError::new(
                OAuthErrorCode::InvalidScope,
                format!("not authorized for '{missing}'"),
            ));
        }

        let lifetime = self.config.token_lifetime_secs.min(300);
        let mut claims = AccessClaims::for_tenant(
            &self.config.issuer,
            &self.config.audience,
            &client.client_id,
            &client.tenant,
            &requested.to_string(),
            crate::claims::system_time(now),
            lifetime,
        );
        claims.client_id = Some(client.client_id.clone());
        let access_token = self.signer.mint(&claims).map_err(|e| {
            OAuthError::new(OAuthErrorCode::ServerError, format!("sign token: {e}"))
        })?;
        Ok(TokenResponse {
            access_token,
            token_type: "bearer".to_owned(),
            expires_in: lifetime,
            scope: requested.to_string(),
        })
    }

    /// Checks the client assertion and returns the client it authenticates.
    async fn authenticate(
        &self,
        assertion: &str,
        client_id_param: Option<&str>,
        endpoint_url: &str,
        now: i64,
    ) -> Result<RegisteredClient, OAuthError> {
        if assertion.len() > MAX_ASSERTION_LEN {
            return Err(OAuthError::client("client_assertion is too long"));
        }
        let header = jsonwebtoken::decode_header(assertion)
            .map_err(|e| OAuthError::client(format!("client_assertion is not a JWT: {e}")))?;
        if !ASSERTION_ALGORITHMS.contains(&header.alg) {
            return Err(OAuthError::client(format!(
                "client_assertion alg {:?} is not accepted; use RS384 or ES384",
                header.alg
            )));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| OAuthError::client("client_assertion header lacks 'kid'"))?;
        let unverified: Value = jsonwebtoken::dangerous::insecure_decode_claims(assertion)
            .map_err(|e| OAuthError::client(format!("client_assertion is not a JWT: {e}")))?;
        let iss = string_at(&unverified, "iss").ok().flatten();
        let sub = string_at(&unverified, "sub").ok().flatten();
        let client_id = match (iss, sub) {
            (Some(iss), Some(sub)) if iss == sub && !iss.is_empty() => iss,
            _ => {
                return Err(OAuthError::client(
                    "client_assertion 'iss' and 'sub' must both be the client id",
                ));
            }
        };
        if client_id_param.is_some_and(|c| c != client_id) {
            return Err(OAuthError::client(
                "'client_id' differs from the assertion's 'iss'",
            ));
        }
        let client = self
            .clients
            .get(client_id)
            .await
            .map_err(|e| OAuthError::new(OAuthErrorCode::ServerError, e.to_string()))?
            .ok_or_else(|| OAuthError::client("unknown client"))?;

        let jwk = match &client.keys {
            ClientKeys::Jwks(keys) => select(keys, Some(kid)),
            ClientKeys::JwksUri(uri) => self.jwks.find(uri, Some(kid), now).await.map_err(|e| {
                OAuthError::new(
                    OAuthErrorCode::TemporarilyUnavailable,
                    format!("fetch the client's jwks_uri: {e}"),
                )
            })?,
        }
        .ok_or_else(|| OAuthError::client(format!("no key '{kid}' registered for the client")))?;
        let key = decoding_key(&jwk, header.alg)
            .map_err(|e| OAuthError::client(format!("key '{kid}': {e}")))?;
        let claims = verify_signature(assertion, header.alg, &key)
            .map_err(|_| OAuthError::client("client_assertion signature is invalid"))?;

        if !audience_matches(&claims, &[endpoint_url.to_owned()]) {
            return Err(OAuthError::client(format!(
                "client_assertion 'aud' must be '{endpoint_url}'"
            )));
        }
        let leeway = i64::try_from(self.config.leeway_secs).unwrap_or(i64::MAX);
        let exp = seconds_at(&claims, "exp")
            .ok()
            .flatten()
            .ok_or_else(|| OAuthError::client("client_assertion lacks a numeric 'exp'"))?;
        if now > exp.saturating_add(leeway) {
            return Err(OAuthError::client("client_assertion has expired"));
        }
        if exp > now + MAX_ASSERTION_LIFETIME_SECS + leeway {
            return Err(OAuthError::client(
                "client_assertion 'exp' is more than five minutes ahead",
            ));
        }
        for name in ["nbf", "iat"] {
            let value = seconds_at(&claims, name)
                .map_err(|e| OAuthError::client(format!("client_assertion '{name}' {e}")))?;
            if value.is_some_and(|t| t > now.saturating_add(leeway)) {
                return Err(OAuthError::client(format!(
                    "client_assertion '{name}' is in the future"
                )));
            }
        }
        let jti = string_at(&claims, "jti")
            .ok()
            .flatten()
            .filter(|j| !j.is_empty())
            .ok_or_else(|| OAuthError::client("client_assertion lacks 'jti'"))?;
        let first = self
            .replay
            .first_use(client_id, jti, exp.saturating_add(leeway), now)
            .await
            .map_err(|e| OAuthError::new(OAuthErrorCode::TemporarilyUnavailable, e.to_string()))?;
        if !first {
            return Err(OAuthError::client(
                "client_assertion 'jti' was already used",
            ));
        }
        Ok(client)
    }
}
