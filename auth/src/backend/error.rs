//! `OAuthError`: token endpoint errors per RFC 6749 §5.2, with the HTTP status each maps to.

use serde::Serialize;

/// The `error` code of a token endpoint error response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthErrorCode {
    /// A parameter is missing, repeated or malformed.
    InvalidRequest,
    /// Client authentication failed: unknown client, bad assertion (signature, `aud`,
    /// `exp`, replayed `jti`, unknown `kid`, algorithm). SMART Backend Services asks for
    /// this code for every assertion problem.
    InvalidClient,
    /// The grant is invalid or was revoked (reserved: `client_credentials` has no grant of
    /// its own to be invalid, but the API may use it for a tenant that no longer serves).
    InvalidGrant,
    /// A requested scope is malformed or beyond the client's pre-authorized scopes.
    InvalidScope,
    /// `grant_type` is not `client_credentials`.
    UnsupportedGrantType,
    /// The client registry could not be read. Not in RFC 6749's token endpoint list, but
    /// the common answer to an internal failure.
    ServerError,
    /// The replay cache is full, or client keys could not be fetched: retry later.
    TemporarilyUnavailable,
}

impl OAuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthErrorCode::InvalidRequest => "invalid_request",
            OAuthErrorCode::InvalidClient => "invalid_client",
            OAuthErrorCode::InvalidGrant => "invalid_grant",
            OAuthErrorCode::InvalidScope => "invalid_scope",
            OAuthErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthErrorCode::ServerError => "server_error",
            OAuthErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The HTTP status: 401 for `invalid_client` (RFC 6749 allows 400, but 401 tells the
    /// client its credentials are at fault), 500/503 for server-side trouble, 400 otherwise.
    pub fn http_status(self) -> u16 {
        match self {
            OAuthErrorCode::InvalidClient => 401,
            OAuthErrorCode::ServerError => 500,
            OAuthErrorCode::TemporarilyUnavailable => 503,
            OAuthErrorCode::InvalidRequest
            | OAuthErrorCode::InvalidGrant
            | OAuthErrorCode::InvalidScope
            | OAuthErrorCode::UnsupportedGrantType => 400,
        }
    }
}

/// A token endpoint error. Serializes as the RFC 6749 JSON body
/// `{"error": "...", "error_description": "..."}`; [`OAuthError::http_status`] is the status
/// to send it with (plus `Cache-Control: no-store`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}: {description}", error.as_str())]
pub struct OAuthError {
    pub error: OAuthErrorCode,
    /// Safe to show the client: says what was wrong with its request, nothing about others.
    #[serde(rename = "error_description")]
    pub description: String,
}

impl OAuthError {
    pub fn new(error: OAuthErrorCode, description: impl Into<String>) -> Self {
        OAuthError {
            error,
            description: description.into(),
        }
    }

    pub fn http_status(&self) -> u16 {
        self.error.http_status()
    }

    pub(crate) fn request(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    pub(crate) fn client(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidClient, description)
    }
}
