//! Authentication and authorization at the edge of every request: the services built once
//! from configuration ([`Auth`]), the [`Caller`] and [`Admin`] extractors (bearer token →
//! principal), and [`Guard`], which applies an [`hearth_auth::Access`] to the resources an
//! interaction touches.
//!
//! Which requests need a token is decided by types: a FHIR handler cannot build its
//! [`crate::context::Ctx`] without a [`Caller`]; only `metadata` and
//! `.well-known/smart-configuration` use the token-less `Ctx::open`.

mod clients;
pub(crate) mod endpoints;
mod guard;
mod jwks_http;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use hearth_auth::{
    AdminKey, Authorizer, ClientRegistry, ConfigError, JwksSource, LocalSigner, Principal,
    RbacConfig, ReplayGuard, TokenService, TokenServiceConfig, Validator, ValidatorConfig,
};

pub(crate) use clients::client_json;
pub use clients::{ClientRegistration, FileClientRegistry};
pub(crate) use guard::Guard;
pub use jwks_http::{HttpJwksSource, check_jwks_url, discovery_url};

use crate::error::ApiError;
use crate::state::AppState;

/// What [`Auth::new`] is built from (the `[auth]` configuration and the local signing key).
pub struct AuthSetup {
    /// The local signing key ([`LocalSigner::load_or_create`] on
    /// [`hearth_auth::signing_key_path`]).
    pub signer: Arc<LocalSigner>,
    pub validator: ValidatorConfig,
    pub rbac: RbacConfig,
    /// Lifetime of tokens issued by `POST /auth/token` (capped at 300 s by the auth crate).
    pub token_lifetime_secs: u64,
    /// The registered SMART backend-services clients ([`FileClientRegistry`] in the data dir,
    /// or DynamoDB on AWS).
    pub clients: Arc<dyn ClientRegistry>,
    /// The `jti`s of accepted client assertions (in memory for one process, or DynamoDB on AWS
    /// so that an assertion is used once across API tasks).
    pub replay: Arc<dyn ReplayGuard>,
    /// PEM certificates trusted, besides the platform's roots, when fetching JWKS and OIDC
    /// discovery documents over https (`auth.ca_file`).
    pub ca_file: Option<PathBuf>,
    /// The shared secret that also signs admin tokens (`HEARTH_ADMIN_SIGNING_KEY`).
    pub admin_key: Option<AdminKey>,
}

/// The authentication and authorization services of the API.
pub struct Auth {
    pub(crate) validator: Validator,
    pub(crate) authorizer: Authorizer,
    pub(crate) tokens: TokenService,
    pub(crate) clients: Arc<dyn ClientRegistry>,
}

impl Auth {
    /// Builds the services; fails when the configuration cannot work (see
    /// [`Validator::new`]).
    pub fn new(setup: AuthSetup) -> Result<Auth, ConfigError> {
        // Keys are fetched from https URLs only (http on loopback): refuse others at start.
        for oidc in &setup.validator.oidc_issuers {
            if oidc.jwks.is_none() {
                let url = oidc
                    .jwks_uri
                    .clone()
                    .unwrap_or_else(|| discovery_url(&oidc.issuer));
                check_jwks_url(&url)
                    .map_err(|e| ConfigError(format!("issuer '{}': {e}", oidc.issuer)))?;
            }
        }
        let source: Arc<dyn JwksSource> = Arc::new(HttpJwksSource::new(setup.ca_file.as_deref())?);
        let mut validator =
            Validator::new(setup.validator.clone(), setup.signer.jwks(), source.clone())?;
        if let Some(key) = setup.admin_key {
            validator = validator.with_admin_key(key);
        }
        let clients = setup.clients;
        let mut token_config = TokenServiceConfig::for_validator(&setup.validator);
        token_config.token_lifetime_secs = setup.token_lifetime_secs;
        let tokens = TokenService::new(
            token_config,
            setup.signer,
            clients.clone(),
            setup.replay,
            source,
        );
        Ok(Auth {
            validator,
            authorizer: Authorizer::new(setup.rbac),
            tokens,
            clients,
        })
    }
}

/// The principal of a request with a valid bearer token. Rejects with 401 (no or invalid
/// token) or 503 (an identity provider's keys could not be fetched).
#[derive(Clone)]
pub struct Caller(pub Arc<Principal>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let token = bearer_token(&parts.headers)?;
        let principal = state
            .auth
            .validator
            .validate(token, SystemTime::now())
            .await?;
        // Who is asking goes into the request's span, which is its audit record.
        let span = tracing::Span::current();
        span.record("subject", principal.subject.as_str());
        if let Some(client_id) = &principal.client_id {
            span.record("client_id", client_id.as_str());
        }
        crate::audit::note_caller(&principal);
        Ok(Caller(Arc::new(principal)))
    }
}

/// A caller with an admin token (`/admin` API); others get 403.
pub struct Admin(#[allow(dead_code)] pub Arc<Principal>);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Admin, ApiError> {
        let Caller(principal) = Caller::from_request_parts(parts, state).await?;
        principal.require_admin()?;
        Ok(Admin(principal))
    }
}

/// The token of `Authorization: Bearer TOKEN` (scheme case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let missing = || ApiError::unauthenticated("a bearer token is required");
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| missing())?;
    match value.trim().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if token.is_empty() {
                Err(missing())
            } else {
                Ok(token)
            }
        }
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        for (value, expected) in [
            (Some("Bearer abc"), Some("abc")),
            (Some("bearer  abc "), Some("abc")),
            (Some("BEARER abc"), Some("abc")),
            (Some("Basic abc"), None),
            (Some("Bearer "), None),
            (Some("Bearer"), None),
            (None, None),
        ] {
            let mut headers = HeaderMap::new();
            if let Some(v) = value {
                headers.insert(axum::http::header::AUTHORIZATION, v.parse().unwrap());
            }
            assert_eq!(bearer_token(&headers).ok(), expected, "{value:?}");
        }
    }

    #[test]
    fn key_urls_of_oidc_issuers_must_be_https_or_loopback() {
        let build = |issuer: &str, jwks_uri: Option<&str>| {
            let mut validator = ValidatorConfig::default();
            validator.oidc_issuers.push(hearth_auth::OidcIssuer {
                jwks_uri: jwks_uri.map(str::to_owned),
                ..serde_json::from_value(serde_json::json!({ "issuer": issuer })).unwrap()
            });
            let setup = AuthSetup {
                signer: Arc::new(LocalSigner::generate().unwrap()),
                validator,
                rbac: RbacConfig::default(),
                token_lifetime_secs: 300,
                clients: Arc::new(hearth_auth::InMemoryClientRegistry::new()),
                replay: Arc::new(hearth_auth::MemoryReplayCache::default()),
                ca_file: None,
                admin_key: None,
            };
            Auth::new(setup).map(|_| ())
        };
        for (issuer, jwks_uri, ok) in [
            ("https://idp.example.org", None, true),
            ("http://idp.example.org", None, false),
            ("http://127.0.0.1:9000/pool", None, true),
            (
                "https://idp.example.org",
                Some("http://idp.example.org/jwks"),
                false,
            ),
            (
                "https://idp.example.org",
                Some("http://localhost:9/jwks"),
                true,
            ),
        ] {
            assert_eq!(build(issuer, jwks_uri).is_ok(), ok, "{issuer} {jwks_uri:?}");
        }
    }
}
