//! The one place where errors become HTTP: status code plus OperationOutcome.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_fhir::outcome::operation_outcome;
use hearth_fhir::{IdError, Issue, IssueCode};
use hearth_store::{ErrorKind, StoreError};

use crate::format::FHIR_JSON;

/// An error on its way to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub issues: Vec<Issue>,
}

impl ApiError {
    pub fn new(status: StatusCode, issue: Issue) -> ApiError {
        ApiError {
            status,
            issues: vec![issue],
        }
    }

    pub fn with_issues(status: StatusCode, issues: Vec<Issue>) -> ApiError {
        ApiError { status, issues }
    }

    pub fn bad_request(msg: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Issue::error(IssueCode::Invalid, msg),
        )
    }

    pub fn not_found(msg: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            Issue::error(IssueCode::NotFound, msg),
        )
    }

    pub fn gone(msg: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::GONE, Issue::error(IssueCode::Deleted, msg))
    }

    pub fn precondition_failed(msg: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            Issue::error(IssueCode::Conflict, msg),
        )
    }

    pub fn conflict(msg: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, Issue::error(IssueCode::Conflict, msg))
    }

    pub fn unprocessable(issues: Vec<Issue>) -> ApiError {
        ApiError::with_issues(StatusCode::UNPROCESSABLE_ENTITY, issues)
    }

    pub fn too_large(msg: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Issue::error(IssueCode::TooLong, msg),
        )
    }

    pub fn not_acceptable(msg: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            Issue::error(IssueCode::NotSupported, msg),
        )
    }

    pub fn unsupported_media_type(msg: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Issue::error(IssueCode::NotSupported, msg),
        )
    }

    pub fn method_not_allowed(msg: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            Issue::error(IssueCode::NotSupported, msg),
        )
    }

    pub fn internal(msg: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Issue::error(IssueCode::Exception, msg),
        )
    }

    /// The OperationOutcome body.
    pub fn outcome(&self) -> serde_json::Value {
        operation_outcome(&self.issues)
    }
}

impl From<IdError> for ApiError {
    fn from(err: IdError) -> ApiError {
        match err {
            // An unknown type in a URL names an endpoint that does not exist.
            IdError::UnknownResourceType(_) => ApiError::not_found(err.to_string()),
            IdError::InvalidResourceId(_) | IdError::InvalidVersionId(_) => {
                ApiError::bad_request(err.to_string())
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err.kind() {
            // If-Match / version-aware writes that lost the race.
            ErrorKind::PreconditionFailed => ApiError::precondition_failed(err.to_string()),
            // Create-only writes and duplicate identities inside one transaction.
            ErrorKind::Conflict => ApiError::conflict(err.to_string()),
            ErrorKind::NotFound => ApiError::not_found(err.to_string()),
            ErrorKind::Invalid => ApiError::bad_request(err.to_string()),
            ErrorKind::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Issue::error(IssueCode::Transient, err.to_string()),
            ),
            ErrorKind::Internal => {
                tracing::error!(error = %err, "storage failure");
                ApiError::internal("internal storage error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.outcome()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
