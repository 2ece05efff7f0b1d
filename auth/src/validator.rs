//! `Validator`: checks a bearer token (signature, algorithm, `iss`, `aud`, `exp`/`nbf` with
//! leeway) against the accepted issuers — the local signing key (and the shared admin key, for
//! admin tokens only) and configured OIDC issuers — and turns it into a [`Principal`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, AlgorithmFamily};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::admin_key::{ADMIN_KEY_ID, AdminKey};
use crate::claims::{audience_matches, seconds_at, string_at, unix_seconds};
use crate::discovery::DiscoveryCache;
use crate::error::{AuthError, ConfigError};
use crate::jwks::{JwksCache, JwksSource, decoding_key, select, verify_signature};
use crate::principal::Principal;

/// `iss` of locally signed tokens unless configured.
pub const DEFAULT_LOCAL_ISSUER: &str = "hearth";
/// `aud` of locally signed tokens unless configured.
pub const DEFAULT_AUDIENCE: &str = "hearth";
/// Tokens longer than this are refused before any parsing.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Which tokens are accepted. TOML-deserializable:
///
/// ```toml
/// local_issuer = "https://fhir.example.org"
/// local_audience = "https://fhir.example.org"
///
/// [[oidc_issuers]]
/// issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc"
/// jwks_uri = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc/.well-known/jwks.json"
/// audiences = ["1example23456789"]   # the app client id: `aud` of ID tokens, `client_id` of access tokens
/// tenant_claim = "custom:tenantId"
/// groups_claim = "cognito:groups"
/// require_scopes = false
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorConfig {
    /// `iss` of tokens signed with the local key (`hearth token`, `POST /auth/token`).
    #[serde(default = "default_local_issuer")]
    pub local_issuer: String,
    /// `aud` of locally signed tokens; the only audience accepted for them.
    #[serde(default = "default_audience")]
    pub local_audience: String,
    #[serde(default)]
    pub oidc_issuers: Vec<OidcIssuer>,
    /// Clock skew allowed on `exp` and `nbf`.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
}

impl Default for ValidatorConfig {
    fn default() -> Self {
        ValidatorConfig {
            local_issuer: default_local_issuer(),
            local_audience: default_audience(),
            oidc_issuers: Vec::new(),
            leeway_secs: default_leeway(),
        }
    }
}

/// An external OpenID Connect issuer whose access tokens are accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcIssuer {
    /// Exact `iss` value.
    pub issuer: String,
    /// Where its keys are fetched (through [`JwksSource`]), overriding discovery. At most one
    /// of `jwks_uri` and `jwks` is set; with neither, the `jwks_uri` is discovered from
    /// `{issuer}/.well-known/openid-configuration` ([`JwksSource::discover_jwks_uri`]).
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Its keys, inline.
    #[serde(default)]
    pub jwks: Option<JwkSet>,
    /// Accepted audiences. A token with an `aud` claim must name one of them there; a token
    /// without `aud` must carry one of them as `client_id` (Cognito access tokens carry the app
    /// client id as `client_id` and no `aud`; its ID tokens carry it as `aud`). Empty: neither
    /// is checked — only for issuers that issue tokens for nothing else.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Accepted signing algorithms (never HMAC).
    #[serde(default = "default_oidc_algorithms")]
    pub algorithms: Vec<Algorithm>,
    /// Claim path of the tenant id (`tenant`, `custom:tenantId`, `ext.tenant`).
    #[serde(default = "default_tenant_claim")]
    pub tenant_claim: String,
    /// Claim path of the groups used by RBAC (`cognito:groups`); unset: groups are ignored.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// Members of this group get admin tokens.
    #[serde(default)]
    pub admin_group: Option<String>,
    /// When false, a token of this issuer without any SMART resource scope is decided by
    /// its groups alone (FWoA-style RBAC). Tokens that carry resource scopes always have
    /// them enforced.
    #[serde(default = "default_true")]
    pub require_scopes: bool,
}

fn default_local_issuer() -> String {
    DEFAULT_LOCAL_ISSUER.to_owned()
}
fn default_audience() -> String {
    DEFAULT_AUDIENCE.to_owned()
}
fn default_leeway() -> u64 {
    60
}
fn default_oidc_algorithms() -> Vec<Algorithm> {
    vec![Algorithm::RS256, Algorithm::ES256]
}
fn default_tenant_claim() -> String {
    "tenant".to_owned()
}
fn default_true() -> bool {
    true
}

/// Validates bearer tokens. Cheap to share (`Arc<Validator>`); JWKS documents of OIDC issuers
/// are cached inside.
pub struct Validator {
    config: ValidatorConfig,
    local_keys: JwkSet,
    /// Verifies HS256 admin tokens of the local issuer, when configured.
    admin_key: Option<AdminKey>,
    jwks: JwksCache,
    discovery: DiscoveryCache,
    /// Tokens whose signature and claims were verified, with their principal, until they expire:
    /// a signature check costs far more than a request, and clients reuse a token many times.
    verified: RwLock<HashMap<Box<str>, Principal>>,
}

/// Most verified tokens remembered; beyond it, expired ones are dropped, then all.
const VERIFIED_CACHE_LIMIT: usize = 10_000;

enum Issuer<'a> {
    Local,
    Oidc(&'a OidcIssuer),
}

impl Validator {
    /// `local_keys`: the public keys of locally signed tokens ([`crate::LocalSigner::jwks`]).
    /// `source` fetches the JWKS of OIDC issuers configured with `jwks_uri`
    /// ([`crate::NoJwksSource`] when there are none).
    pub fn new(
        config: ValidatorConfig,
        local_keys: JwkSet,
        source: Arc<dyn JwksSource>,
    ) -> Result<Self, ConfigError> {
        if config.local_issuer.is_empty() || config.local_audience.is_empty() {
            return Err(ConfigError("local issuer and audience must be set".into()));
        }
        let mut seen = vec![config.local_issuer.as_str()];
        for oidc in &config.oidc_issuers {
            let name = &oidc.issuer;
            if name.is_empty() || seen.contains(&name.as_str()) {
                return Err(ConfigError(format!("issuer '{name}' is empty or repeated")));
            }
            seen.push(name);
            if oidc.jwks.is_some() && oidc.jwks_uri.is_some() {
                return Err(ConfigError(format!(
                    "issuer '{name}' takes at most one of jwks_uri and jwks"
                )));
            }
            if oidc.algorithms.is_empty()
                || oidc
                    .algorithms
                    .iter()
                    .any(|a| a.family() == AlgorithmFamily::Hmac)
            {
                return Err(ConfigError(format!(
                    "issuer '{name}' needs asymmetric algorithms (no HS256/384/512)"
                )));
            }
        }
        Ok(Validator {
            config,
            local_keys,
            admin_key: None,
            jwks: JwksCache::new(source.clone()),
            discovery: DiscoveryCache::new(source),
            verified: RwLock::new(HashMap::new()),
        })
    }

    /// Also accepts admin tokens of the local issuer signed with `key` (HS256); tokens signed
    /// with it that are not admin tokens are refused.
    pub fn with_admin_key(mut self, key: AdminKey) -> Self {
        self.admin_key = Some(key);
        self
    }

    pub fn config(&self) -> &ValidatorConfig {
        &self.config
    }

    /// Checks `token` (the bearer token without `Bearer `) at time `now`. A token verified
    /// before is answered from memory until its `exp`; the exact token text is the key, so only
    /// what was verified byte for byte is reused.
    pub async fn validate(&self, token: &str, now: SystemTime) -> Result<Principal, AuthError> {
        let seconds = unix_seconds(now);
        if let Ok(verified) = self.verified.read()
            && let Some(principal) = verified.get(token)
            && seconds < principal.expires_at
        {
            return Ok(principal.clone());
        }
        let principal = self.validate_uncached(token, now).await?;
        if let Ok(mut verified) = self.verified.write() {
            if verified.len() >= VERIFIED_CACHE_LIMIT {
                verified.retain(|_, p| seconds < p.expires_at);
                if verified.len() >= VERIFIED_CACHE_LIMIT {
                    verified.clear();
                }
            }
            verified.insert(token.into(), principal.clone());
        }
        Ok(principal)
    }

    async fn validate_uncached(
        &self,
        token: &str,
        now: SystemTime,
    ) -> Result<Principal, AuthError> {
        let now = unix_seconds(now);
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Malformed("token too long".into()));
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        let unverified: Value = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|e| AuthError::Malformed(e.to_string()))?;
        let iss = string_at(&unverified, "iss")
            .map_err(|e| AuthError::invalid_claim("iss", e))?
            .ok_or_else(|| AuthError::MissingClaim("iss".into()))?;
        let issuer = if iss == self.config.local_issuer {
            Issuer::Local
        } else {
            Issuer::Oidc(
                self.config
                    .oidc_issuers
                    .iter()
                    .find(|o| o.issuer == iss)
                    .ok_or_else(|| AuthError::UnknownIssuer(iss.to_owned()))?,
            )
        };

        let alg = header.alg;
        let kid = header.kid.as_deref();
        let admin_hmac =
            matches!(issuer, Issuer::Local) && alg == Algorithm::HS256 && kid == Some(ADMIN_KEY_ID);
        if admin_hmac {
            let key = self
                .admin_key
                .as_ref()
                .ok_or_else(|| AuthError::AlgorithmNotAllowed(format!("{alg:?}")))?
                .decoding_key();
            return self.check_claims(token, alg, &key, iss, &issuer, now, true);
        }
        let allowed: &[Algorithm] = match issuer {
            Issuer::Local => &[Algorithm::ES256],
            Issuer::Oidc(o) => &o.algorithms,
        };
        if !allowed.contains(&alg) {
            return Err(AuthError::AlgorithmNotAllowed(format!("{alg:?}")));
        }
        let unknown_key = || AuthError::UnknownKey {
            issuer: iss.to_owned(),
            kid: kid.unwrap_or("(none)").to_owned(),
        };
        let jwk = match issuer {
            Issuer::Local => select(&self.local_keys, kid),
            Issuer::Oidc(OidcIssuer {
                jwks: Some(keys), ..
            }) => select(keys, kid),
            Issuer::Oidc(o) => {
                let unavailable = |e: crate::JwksFetchError| AuthError::KeysUnavailable {
                    issuer: iss.to_owned(),
                    reason: e.to_string(),
                };
                let uri = match &o.jwks_uri {
                    Some(uri) => uri.clone(),
                    None => self
                        .discovery
                        .jwks_uri(&o.issuer, now)
                        .await
                        .map_err(unavailable)?,
                };
                self.jwks.find(&uri, kid, now).await.map_err(unavailable)?
            }
        }
        .ok_or_else(unknown_key)?;
        let key = decoding_key(&jwk, alg).map_err(AuthError::AlgorithmNotAllowed)?;
        self.check_claims(token, alg, &key, iss, &issuer, now, false)
    }

    /// Checks the signature with `key`, then time and audience, and makes the principal.
    /// `admin_only`: the token must be an admin token (one signed with the shared admin key).
    #[allow(clippy::too_many_arguments)]
    fn check_claims(
        &self,
        token: &str,
        alg: Algorithm,
        key: &jsonwebtoken::DecodingKey,
        iss: &str,
        issuer: &Issuer<'_>,
        now: i64,
        admin_only: bool,
    ) -> Result<Principal, AuthError> {
        let claims = verify_signature(token, alg, key).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
            _ => AuthError::Malformed(e.to_string()),
        })?;

        let leeway = i64::try_from(self.config.leeway_secs).unwrap_or(i64::MAX);
        let exp = seconds_at(&claims, "exp")
            .map_err(|e| AuthError::invalid_claim("exp", e))?
            .ok_or_else(|| AuthError::MissingClaim("exp".into()))?;
        if now > exp.saturating_add(leeway) {
            return Err(AuthError::Expired);
        }
        if let Some(nbf) =
            seconds_at(&claims, "nbf").map_err(|e| AuthError::invalid_claim("nbf", e))?
            && nbf > now.saturating_add(leeway)
        {
            return Err(AuthError::NotYetValid);
        }
        match issuer {
            Issuer::Local => {
                if !audience_matches(&claims, std::slice::from_ref(&self.config.local_audience)) {
                    return Err(AuthError::WrongAudience);
                }
            }
            Issuer::Oidc(o) => {
                if !o.audiences.is_empty() && !oidc_audience_matches(&claims, &o.audiences) {
                    return Err(AuthError::WrongAudience);
                }
            }
        }
        let principal = principal(&claims, iss, issuer, exp)?;
        if admin_only && !principal.is_admin {
            return Err(AuthError::invalid_claim(
                "admin",
                "the admin signing key signs admin tokens only",
            ));
        }
        Ok(principal)
    }
}

/// `aud` names one of `audiences`; without an `aud` claim, `client_id` is one of them.
fn oidc_audience_matches(claims: &Value, audiences: &[String]) -> bool {
    if claims.get("aud").is_some() {
        return audience_matches(claims, audiences);
    }
    matches!(string_at(claims, "client_id"), Ok(Some(c)) if audiences.iter().any(|a| a == c))
}

mod principal_claims;

use principal_claims::principal;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_issuers;
