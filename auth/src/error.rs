//! `AuthError`: why a bearer token was refused or a request was not allowed, with the small
//! [`ErrorKind`] the API maps to a status (401, 403 or 503).

use hearth_tenancy::TenantId;

/// How the API should answer an [`AuthError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No usable credentials: 401 with `WWW-Authenticate: Bearer`.
    Unauthenticated,
    /// Valid credentials that do not allow this request: 403.
    Forbidden,
    /// The keys needed to check the token could not be fetched (an identity provider's JWKS):
    /// 503, so clients retry instead of throwing the token away.
    Unavailable,
}

/// Why a token or a request was refused.
///
/// The `Display` text is meant for logs. Responses should say little (see STYLE.md: an
/// authorization failure says little), for example only "invalid token" and the kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("token issuer '{0}' is not accepted")]
    UnknownIssuer(String),
    #[error("no key '{kid}' for issuer '{issuer}'")]
    UnknownKey { issuer: String, kid: String },
    #[error("algorithm {0} is not allowed")]
    AlgorithmNotAllowed(String),
    #[error("invalid token signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token not valid yet")]
    NotYetValid,
    #[error("token audience is not accepted")]
    WrongAudience,
    #[error("token lacks the '{0}' claim")]
    MissingClaim(String),
    #[error("token claim '{claim}' is invalid: {reason}")]
    InvalidClaim { claim: String, reason: String },
    #[error("fetch keys of issuer '{issuer}': {reason}")]
    KeysUnavailable { issuer: String, reason: String },
    #[error("token is for tenant {token:?}, not {requested}")]
    WrongTenant {
        token: Option<TenantId>,
        requested: TenantId,
    },
    #[error("an admin token is required")]
    NotAdmin,
    #[error("not allowed: {0}")]
    Forbidden(String),
}

impl AuthError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            AuthError::Malformed(_)
            | AuthError::UnknownIssuer(_)
            | AuthError::UnknownKey { .. }
            | AuthError::AlgorithmNotAllowed(_)
            | AuthError::BadSignature
            | AuthError::Expired
            | AuthError::NotYetValid
            | AuthError::WrongAudience
            | AuthError::MissingClaim(_)
            | AuthError::InvalidClaim { .. } => ErrorKind::Unauthenticated,
            AuthError::KeysUnavailable { .. } => ErrorKind::Unavailable,
            AuthError::WrongTenant { .. } | AuthError::NotAdmin | AuthError::Forbidden(_) => {
                ErrorKind::Forbidden
            }
        }
    }

    /// Whether the same token may succeed later (only when keys could not be fetched).
    pub fn is_retryable(&self) -> bool {
        self.kind() == ErrorKind::Unavailable
    }

    pub(crate) fn invalid_claim(claim: &str, reason: impl Into<String>) -> Self {
        AuthError::InvalidClaim {
            claim: claim.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The signing key could not be loaded, created or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid signing key: {0}")]
    Invalid(String),
    #[error("sign token: {0}")]
    Sign(String),
}

/// A configuration that cannot work (found when the validator or token service is built).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid auth configuration: {0}")]
pub struct ConfigError(pub String);
