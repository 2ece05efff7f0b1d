//! The HTTP face of Hearth: FHIR REST under `/tenant/{tenantId}`, health and readiness, the
//! SMART token endpoint and the admin API; bearer tokens are checked on every request but the
//! few documented open ones.
//!
//! Invariant: this is the only crate that knows HTTP, and `error.rs` is the only place where
//! domain errors become status codes and OperationOutcomes.

mod admin;
mod audit;
mod auth;
mod body;
mod capability;
mod context;
pub mod deletion;
mod error;
mod format;
mod headers;
mod health;
mod interaction;
mod rate_limit;
mod rest;
mod routes;
mod state;

pub use audit::{AuditEvents, AuditEventsConfig};
pub use auth::{Auth, AuthSetup, FileClientRegistry};
pub use error::ApiError;
pub use routes::app;
pub use state::{AppState, Limits};

/// Serves `router` on `listener` until the process ends (tests and embedders).
pub async fn serve(listener: tokio::net::TcpListener, router: axum::Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}
