//! Authentication and authorization for Hearth, as plain logic: no HTTP, no storage, no
//! network I/O (keys of other parties come through the [`JwksSource`] port, clients through
//! [`ClientRegistry`], replay state through [`ReplayGuard`]).
//!
//! How the API uses it:
//!
//! - **Start-up**: [`LocalSigner::load_or_create`] on [`signing_key_path`]`(data_dir)` (or
//!   [`LocalSigner::from_pkcs8_der`] with a deployment-wide key kept elsewhere);
//!   [`Validator::new`] with a [`ValidatorConfig`] (from TOML), the signer's
//!   [`LocalSigner::jwks`] and a `JwksSource`; [`Authorizer::new`] with an [`RbacConfig`];
//!   [`TokenService::new`] with the signer, a `ClientRegistry` and a [`MemoryReplayCache`].
//! - **Each FHIR request**: [`Validator::validate`] the bearer token (errors: 401, or 503 for
//!   [`ErrorKind::Unavailable`]) → [`Authorizer::authorize`] the tenant, interaction and
//!   resource type (errors: 403) → apply the returned [`Access`]: [`Access::Full`], or
//!   AND the [`Restriction`]s (patient compartment, granular filters) into searches and check
//!   single-resource targets against them. Map FHIR interactions with
//!   [`Interaction::from_restful`]; check each entry of a batch/transaction on its own.
//! - **Admin API**: [`Principal::require_admin`].
//! - **`POST /auth/token`**: [`TokenService::exchange`] with the decoded form and the
//!   advertised endpoint URL; answer [`TokenResponse`] as JSON, or [`OAuthError`] with
//!   [`OAuthError::http_status`].
//! - **`.well-known/smart-configuration`**: [`smart_configuration`].
//! - **`hearth token`**: [`AccessClaims::for_tenant`] / [`AccessClaims::admin`] with the
//!   validator config's `local_issuer` and `local_audience`, then [`LocalSigner::mint`].
//!
//! Build note: `jsonwebtoken` must be built with exactly one crypto backend; the workspace
//! enables `rust_crypto` only. Enabling `aws_lc_rs` as well anywhere in the workspace makes
//! it panic at first use.

mod admin_key;
mod backend;
mod claims;
pub mod conformance;
mod discovery;
mod error;
mod jwks;
mod key_file;
mod principal;
mod rbac;
pub mod scope;
mod signer;
mod smart_config;
#[cfg(test)]
mod test_keys;
mod url_signer;
mod validator;

pub use admin_key::AdminKey;
pub use backend::{
    ASSERTION_ALGORITHMS, ClientKeys, ClientRegistry, InMemoryClientRegistry, JWT_BEARER_ASSERTION,
    MemoryReplayCache, OAuthError, OAuthErrorCode, RegisteredClient, RegistryError, ReplayError,
    ReplayGuard, TokenResponse, TokenService, TokenServiceConfig,
};
pub use claims::{AccessClaims, unix_seconds};
pub use error::{AuthError, ConfigError, ErrorKind, KeyError};
pub use jwks::{FetchedJwks, JwksCache, JwksFetchError, JwksSource, NoJwksSource};
pub use principal::{Access, Authorizer, Principal, Restriction};
pub use rbac::{FWOA_FINANCIAL_RESOURCES, GroupRule, RbacConfig};
pub use scope::{Decision, Interaction, Scope, ScopeError, ScopeSet};
pub use signer::{LocalSigner, signing_key_path};
pub use smart_config::{SmartConfiguration, smart_configuration};
pub use url_signer::{UrlSigner, url_signing_key_path};
pub use validator::{
    DEFAULT_AUDIENCE, DEFAULT_LOCAL_ISSUER, OidcIssuer, Validator, ValidatorConfig,
};

/// Re-exported so callers can name JWKS documents and algorithms without their own
/// dependency on `jsonwebtoken`.
pub use jsonwebtoken::Algorithm;
pub use jsonwebtoken::jwk::{Jwk, JwkSet};

#[cfg(test)]
mod send_tests {
    //! The API awaits these inside axum handlers, which need `Send` futures.

    fn assert_send<T: Send>(_: &T) {}

    #[allow(dead_code)] // compiled, never run
    fn futures_are_send(
        validator: &crate::Validator,
        tokens: &crate::TokenService,
        form: &[(String, String)],
    ) {
        let now = std::time::SystemTime::now();
        assert_send(&validator.validate("t", now));
        assert_send(&tokens.exchange(form, "u", now));
    }
}
