//! The per-request context: the tenant (checked to exist), its base URL, the state.

use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use hearth_tenancy::{TenantId, TenantStatus};

use crate::error::ApiError;
use crate::state::AppState;

/// How long a positive tenant lookup is trusted before the registry is asked again.
const TENANT_CACHE_TTL: Duration = Duration::from_secs(2);

/// Who and where a request is for.
#[derive(Clone)]
pub struct Ctx {
    pub state: AppState,
    pub tenant: TenantId,
    /// Absolute FHIR base of the tenant, e.g. `http://127.0.0.1:8080/tenant/default`.
    pub base: String,
}

impl Ctx {
    /// Builds the context for `tenant`; an unknown, malformed or suspended tenant answers 404,
    /// saying nothing about other tenants.
    pub fn new(state: &AppState, tenant: &str, headers: &HeaderMap) -> Result<Ctx, ApiError> {
        let unknown = || ApiError::not_found(format!("unknown tenant '{tenant}'"));
        let tenant: TenantId = tenant.parse().map_err(|_| unknown())?;
        if !tenant_is_active(state, &tenant)? {
            return Err(unknown());
        }
        let base = format!("{}/tenant/{}", origin(state, headers), tenant);
        Ok(Ctx {
            state: state.clone(),
            tenant,
            base,
        })
    }

    /// `{base}/{type}/{id}`.
    pub fn full_url(&self, rt: impl std::fmt::Display, id: impl std::fmt::Display) -> String {
        format!("{}/{}/{}", self.base, rt, id)
    }
}

fn tenant_is_active(state: &AppState, tenant: &TenantId) -> Result<bool, ApiError> {
    if let Ok(cache) = state.known_tenants.read()
        && cache
            .get(tenant)
            .is_some_and(|t| t.elapsed() < TENANT_CACHE_TTL)
    {
        return Ok(true);
    }
    let active = match state.tenants.get(tenant) {
        Ok(Some(record)) => record.status == TenantStatus::Active,
        Ok(None) => false,
        Err(err) => {
            tracing::error!(error = %err, "read tenant registry");
            return Err(ApiError::internal("tenant registry unavailable"));
        }
    };
    if let Ok(mut cache) = state.known_tenants.write() {
        if active {
            cache.insert(tenant.clone(), Instant::now());
        } else {
            cache.remove(tenant);
        }
    }
    Ok(active)
}

/// `scheme://host[:port]` of this server as the client sees it.
fn origin(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.public_url {
        return url.to_string();
    }
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(axum::http::header::HOST))
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic() && b != b'/'))
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}
