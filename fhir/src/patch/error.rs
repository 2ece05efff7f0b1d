//! Why a patch could not be applied, and how that becomes an OperationOutcome issue.

use crate::{Issue, IssueCode};

use super::fhirpath::PathError;

/// A patch failure. [`PatchError::code`] splits them in two: the patch document itself is wrong
/// (`invalid`, HTTP 400) or it is well formed but does not apply to this resource (`processing`,
/// HTTP 422).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatchError {
    #[error("malformed patch: {0}")]
    Malformed(String),
    #[error("bad FHIRPath '{path}': {source}")]
    BadPath { path: String, source: PathError },
    #[error("path '{path}' matches no element")]
    NoMatch { path: String },
    #[error("path '{path}' matches {count} elements, expected one")]
    MultipleMatches { path: String, count: usize },
    #[error("cannot apply patch: {0}")]
    NotApplicable(String),
    #[error("patch test failed: {0}")]
    TestFailed(String),
}

impl PatchError {
    pub fn code(&self) -> IssueCode {
        match self {
            PatchError::Malformed(_) => IssueCode::Invalid,
            // A syntax error is a malformed document; a failure while evaluating over this
            // resource's data (e.g. `single()` on two items) is about the resource.
            PatchError::BadPath {
                source: PathError::Syntax { .. },
                ..
            } => IssueCode::Invalid,
            PatchError::BadPath {
                source: PathError::Evaluation(_),
                ..
            } => IssueCode::Processing,
            PatchError::NoMatch { .. }
            | PatchError::MultipleMatches { .. }
            | PatchError::NotApplicable(_)
            | PatchError::TestFailed(_) => IssueCode::Processing,
        }
    }

    /// The FHIRPath the error is about, when there is one.
    fn expression(&self) -> Option<&str> {
        match self {
            PatchError::BadPath { path, .. }
            | PatchError::NoMatch { path }
            | PatchError::MultipleMatches { path, .. } => Some(path),
            _ => None,
        }
    }
}

impl From<PatchError> for Issue {
    fn from(error: PatchError) -> Issue {
        let issue = Issue::error(error.code(), error.to_string());
        match error.expression() {
            Some(path) => issue.at(path),
            None => issue,
        }
    }
}
