//! Errors of the storage ports, with the small `kind()` the API maps to HTTP.

use hearth_fhir::{ResourceType, VersionId};

/// What went wrong, in the terms the caller acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    PreconditionFailed,
    Invalid,
    Unavailable,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `Precondition::VersionIs` did not hold.
    #[error("{rt}/{id}: expected version {expected}, found {}", found.map(|v| v.to_string()).unwrap_or_else(|| "none".into()))]
    VersionMismatch {
        rt: ResourceType,
        id: String,
        expected: VersionId,
        found: Option<VersionId>,
    },
    /// `Precondition::MustNotExist` did not hold.
    #[error("{rt}/{id} already exists")]
    AlreadyExists { rt: ResourceType, id: String },
    /// The same resource appears twice in one atomic write.
    #[error("{rt}/{id} appears more than once in one atomic write")]
    DuplicateKey { rt: ResourceType, id: String },
    #[error("blob '{0}' not found")]
    BlobNotFound(String),
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("storage busy, retry: {0}")]
    Busy(String),
    /// The tenant's data cannot be opened because its key is gone (the tenant was deleted:
    /// crypto-shredded) or does not open its data key.
    #[error("tenant data unavailable: {0}")]
    TenantKeyGone(String),
    #[error("{context}: {message}")]
    Internal { context: String, message: String },
}

impl StoreError {
    pub fn internal(context: &str, err: impl std::fmt::Display) -> StoreError {
        StoreError::Internal {
            context: context.to_owned(),
            message: err.to_string(),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::VersionMismatch { .. } => ErrorKind::PreconditionFailed,
            StoreError::AlreadyExists { .. } | StoreError::DuplicateKey { .. } => {
                ErrorKind::Conflict
            }
            // Answered as for a deleted tenant.
            StoreError::BlobNotFound(_) | StoreError::TenantKeyGone(_) => ErrorKind::NotFound,
            StoreError::Invalid(_) => ErrorKind::Invalid,
            StoreError::Busy(_) => ErrorKind::Unavailable,
            StoreError::Internal { .. } => ErrorKind::Internal,
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.kind(), ErrorKind::Unavailable)
    }
}
