//! The one place where errors become HTTP: status code plus OperationOutcome.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_auth::{AuthError, OAuthError};
use hearth_fhir::outcome::operation_outcome;
use hearth_fhir::{IdError, Issue, IssueCode};
use hearth_store::{ErrorKind, StoreError};
use hearth_tenancy::RegistryError;

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

    /// 401 with `WWW-Authenticate: Bearer`: no usable credentials.
    pub fn unauthenticated(msg: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            Issue::error(IssueCode::Login, msg),
        )
    }

    /// 403: valid credentials that do not allow this request. Say little in `msg`.
    pub fn forbidden(msg: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            Issue::error(IssueCode::Forbidden, msg),
        )
    }

    pub fn internal(msg: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Issue::error(IssueCode::Exception, msg),
        )
    }

    /// A 429 with `Retry-After` (whole seconds, at least 1).
    pub fn throttled(msg: impl Into<String>, retry_after_secs: u64) -> Response {
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            Issue::error(IssueCode::Throttled, msg),
        )
        .into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(retry_after_secs.max(1)),
        );
        response
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

/// Token and authorization failures. The response says little (STYLE.md): which of "no
/// valid token" (401), "not allowed" (403) or "try again" (503), and for a 403 the interaction
/// that was refused; the exact reason (wrong issuer, expired, which tenant) goes to the log
/// only, at debug level, since refusals are routine and clients cause them.
impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> ApiError {
        tracing::debug!(error = %err, "request refused");
        match err.kind() {
            hearth_auth::ErrorKind::Unauthenticated => {
                ApiError::unauthenticated("the bearer token is not valid")
            }
            // The tenant of the token is not named: it is not the caller's business whether
            // the URL's tenant exists, and its own tenant it knows.
            hearth_auth::ErrorKind::Forbidden => match err {
                AuthError::WrongTenant { .. } => {
                    ApiError::forbidden("the token is not valid for this tenant")
                }
                AuthError::NotAdmin => ApiError::forbidden("an admin token is required"),
                AuthError::Forbidden(what) => ApiError::forbidden(format!("not allowed: {what}")),
                _ => ApiError::forbidden("not allowed"),
            },
            // The identity provider's keys could not be fetched: the token may be fine.
            hearth_auth::ErrorKind::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Issue::error(
                    IssueCode::Transient,
                    "the token cannot be checked right now",
                ),
            ),
        }
    }
}

/// Tenant registry failures (admin API, tenant lookups).
impl From<RegistryError> for ApiError {
    fn from(err: RegistryError) -> ApiError {
        match err {
            RegistryError::AlreadyExists(_) => ApiError::conflict(err.to_string()),
            RegistryError::NotFound(_) => ApiError::not_found(err.to_string()),
            // Its deletion has begun (and may have stopped part-way): only deleting it again
            // is allowed, so a suspend or resume conflicts with the tenant's state.
            RegistryError::Deleting(_) => ApiError::conflict(err.to_string()),
            RegistryError::Io { .. }
            | RegistryError::Corrupt { .. }
            | RegistryError::Unavailable(_) => {
                tracing::error!(error = %err, "tenant registry failure");
                ApiError::internal("tenant registry unavailable")
            }
        }
    }
}

/// A tenant deletion stopped at one of its steps (admin API); deleting again resumes.
impl From<crate::deletion::DeletionError> for ApiError {
    fn from(err: crate::deletion::DeletionError) -> ApiError {
        match err {
            crate::deletion::DeletionError::Directory(e) => e.into(),
            crate::deletion::DeletionError::Clients(e) => e.into(),
            crate::deletion::DeletionError::Partitions(e) => e.into(),
        }
    }
}

/// Client registry failures (admin API).
impl From<hearth_auth::RegistryError> for ApiError {
    fn from(err: hearth_auth::RegistryError) -> ApiError {
        match err {
            // A client id is unique in the whole deployment.
            hearth_auth::RegistryError::Duplicate(_) => ApiError::conflict(err.to_string()),
            hearth_auth::RegistryError::Unavailable(_) => {
                tracing::error!(error = %err, "client registry failure");
                ApiError::internal("client registry unavailable")
            }
        }
    }
}

/// A token endpoint error: RFC 6749 §5.2 JSON (`{"error", "error_description"}`), not an
/// OperationOutcome, with the status the auth crate assigns (401 for `invalid_client`) and
/// `Cache-Control: no-store`. (No `WWW-Authenticate` on a 401: the client authenticated with
/// an assertion in the body, not an `Authorization` header.)
pub struct OAuthReply(pub OAuthError);

impl IntoResponse for OAuthReply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        if status.is_server_error() {
            tracing::warn!(error = %self.0, "token endpoint failure");
        } else {
            tracing::debug!(error = %self.0, "token request refused");
        }
        let body = serde_json::to_vec(&self.0).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.outcome()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        if let Some(issue) = self.issues.first() {
            // For the request's audit record, without re-reading the body.
            response
                .extensions_mut()
                .insert(crate::audit::IssueCodeExt(issue.code.as_str()));
        }
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
