//! Errors of the encoder, with the small `kind()` a caller (the export worker) acts on.

use hearth_fhir::ResourceType;

/// What went wrong, in the terms the caller acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is not a resource of the writer's type, or the options are unusable.
    Invalid,
    /// The output could not be written (disk full, closed pipe...); retrying may help.
    Unavailable,
    /// A defect of the encoder (an Arrow array it built was rejected).
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The value is not a JSON object whose `resourceType` is the writer's type.
    #[error("not a {expected} resource: {reason}")]
    NotAResource {
        expected: ResourceType,
        reason: String,
    },
    /// `write_json` was given text that is not JSON.
    #[error("parse resource JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// An option value that cannot be honoured.
    #[error("invalid option: {0}")]
    Options(String),
    #[error("build arrow arrays: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("write parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotAResource { .. } | Error::Json(_) | Error::Options(_) => ErrorKind::Invalid,
            Error::Arrow(_) => ErrorKind::Internal,
            Error::Parquet(parquet::errors::ParquetError::External(e))
                if e.is::<std::io::Error>() =>
            {
                ErrorKind::Unavailable
            }
            Error::Parquet(_) => ErrorKind::Internal,
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.kind() == ErrorKind::Unavailable
    }
}
