//! The result of an interaction, before it is rendered as an HTTP response or a Bundle entry.

use axum::http::StatusCode;
use hearth_fhir::Issue;
use hearth_store::StoredVersion;

/// What kind of write produced a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Create,
    Update,
    Patch,
    Delete,
}

/// A finished interaction.
#[derive(Debug, Clone)]
pub struct Done {
    pub status: StatusCode,
    /// The version written or read; gives ETag, Last-Modified, Location and the body.
    pub version: Option<StoredVersion>,
    /// Whether a `Location` header belongs in the answer (creates).
    pub location: bool,
    /// Informational or warning issues for `Prefer: return=OperationOutcome`.
    pub issues: Vec<Issue>,
}

impl Done {
    pub fn new(status: StatusCode, version: Option<StoredVersion>) -> Done {
        Done {
            status,
            version,
            location: false,
            issues: Vec::new(),
        }
    }
}
