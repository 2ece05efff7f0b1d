//! The one mapping of AWS SDK errors to `StoreError`: throttling, timeouts, dropped
//! connections and 5xx are `Busy` (retryable, after the SDK's own retries gave up); everything
//! else is `Internal` with a lowercase context. Conditional-check failures and other codes with
//! a meaning for a port (a missing object, a stale receipt) are read with [`error_code`] by the
//! adapter that knows that meaning, before falling back to [`sdk_error`].

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use hearth_store::StoreError;

/// Error codes that mean "slow down and retry", across DynamoDB, S3, SQS and KMS.
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "RequestThrottled",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
    "SlowDown",
    "ServiceUnavailable",
    "InternalServerError",
    "InternalError",
    "InternalFailure",
    "KMSInternalException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// The store error for a failed SDK call.
pub fn sdk_error<E>(context: &str, err: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = match err.code() {
        Some(code) => format!("{code}: {}", err.message().unwrap_or_default()),
        None => aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string(),
    };
    if is_retryable(&err) {
        StoreError::Busy(format!("{context}: {message}"))
    } else {
        StoreError::internal(context, message)
    }
}

/// Whether the call may succeed when made again later.
fn is_retryable<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    let status = err.raw_response().map(|raw| raw.status().as_u16());
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(service) => {
            service
                .err()
                .code()
                .is_some_and(|code| RETRYABLE_CODES.contains(&code))
                || status.is_some_and(busy_status)
        }
        SdkError::ResponseError(_) => status.is_some_and(busy_status),
        _ => false,
    }
}

/// 429 Too Many Requests and every 5xx.
fn busy_status(status: u16) -> bool {
    status == 429 || status >= 500
}

/// The service error code of a failed call, if it reached the service.
pub fn error_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::config::http::HttpResponse;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_s3::primitives::SdkBody;
    use hearth_store::ErrorKind;

    use super::*;

    fn service_error(code: &str, status: u16) -> SdkError<ErrorMetadata> {
        let meta = ErrorMetadata::builder().code(code).message("m").build();
        let raw = HttpResponse::new(status.try_into().expect("status code"), SdkBody::from(""));
        SdkError::service_error(meta, raw)
    }

    fn check(code: &str, status: u16, expected: ErrorKind) {
        let err = sdk_error("read thing", service_error(code, status));
        assert_eq!(err.kind(), expected, "{code} {status}: {err}");
        assert!(err.to_string().contains("read thing"), "{err}");
    }

    #[test]
    fn throttling_and_server_errors_are_busy() {
        check("ThrottlingException", 400, ErrorKind::Unavailable);
        check(
            "ProvisionedThroughputExceededException",
            400,
            ErrorKind::Unavailable,
        );
        check("SlowDown", 503, ErrorKind::Unavailable);
        check("Whatever", 500, ErrorKind::Unavailable);
        check("Whatever", 429, ErrorKind::Unavailable);
    }

    #[test]
    fn other_errors_are_internal() {
        check("ValidationException", 400, ErrorKind::Internal);
        check("AccessDeniedException", 403, ErrorKind::Internal);
        check("ConditionalCheckFailedException", 400, ErrorKind::Internal);
    }

    #[test]
    fn the_code_is_readable() {
        let err = service_error("ConditionalCheckFailedException", 400);
        assert_eq!(error_code(&err), Some("ConditionalCheckFailedException"));
    }
}
