//! The per-request context: the tenant (checked to exist), its base URL, the state, and the
//! caller's principal, through which every interaction is authorized.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use hearth_auth::{Interaction, Principal};
use hearth_tenancy::{TenantId, TenantStatus};

use crate::auth::{Caller, Guard};
use crate::error::ApiError;
use crate::state::AppState;

/// How long a positive tenant lookup is trusted before the directory is asked again: the bound
/// on how long another API task keeps serving a tenant after it was suspended or deleted (the
/// task that made the change forgets it at once). Documented in `docs/deploy.md`.
pub const TENANT_CACHE_TTL: Duration = Duration::from_secs(2);

/// Who and where a request is for.
#[derive(Clone)]
pub struct Ctx {
    pub state: AppState,
    pub tenant: TenantId,
    /// Absolute FHIR base of the tenant, e.g. `http://127.0.0.1:8080/tenant/default`.
    pub base: String,
    /// Whose token the request carries; `None` only on the token-less endpoints.
    caller: Option<Arc<Principal>>,
}

impl Ctx {
    /// Builds the context of an authenticated request for `tenant`. A token for another
    /// tenant (or an admin token) is a 403 whether or not the URL's tenant exists; an
    /// unknown, malformed or suspended tenant answers 404, saying nothing about others.
    pub async fn new(
        state: &AppState,
        tenant: &str,
        headers: &HeaderMap,
        caller: Caller,
    ) -> Result<Ctx, ApiError> {
        let Caller(principal) = caller;
        let id: TenantId = tenant.parse().map_err(|_| unknown(tenant))?;
        principal.check_tenant(&id)?;
        let mut ctx = Ctx::open(state, tenant, headers).await?;
        ctx.caller = Some(principal);
        crate::audit::note_tenant(&ctx.tenant);
        Ok(ctx)
    }

    /// The context of a token-less request (`metadata`, `.well-known/smart-configuration`):
    /// it authorizes nothing.
    pub async fn open(
        state: &AppState,
        tenant: &str,
        headers: &HeaderMap,
    ) -> Result<Ctx, ApiError> {
        let id: TenantId = tenant.parse().map_err(|_| unknown(tenant))?;
        if !tenant_is_active(state, &id).await? {
            return Err(unknown(tenant));
        }
        let base = format!("{}/tenant/{}", origin(state, headers), id);
        Ok(Ctx {
            state: state.clone(),
            tenant: id,
            base,
            caller: None,
        })
    }

    /// The caller's principal; `None` on a token-less context.
    pub fn caller(&self) -> Option<&Principal> {
        self.caller.as_deref()
    }

    /// `{base}/{type}/{id}`.
    pub fn full_url(&self, rt: impl std::fmt::Display, id: impl std::fmt::Display) -> String {
        format!("{}/{}/{}", self.base, rt, id)
    }

    /// Authorizes `interactions` (all needed) on `resource_type` (`"*"`: every type, for
    /// system-level interactions), giving the [`Guard`] that checks what they may touch.
    /// Errors: 403 (401 on a token-less context).
    pub fn allow(
        &self,
        interactions: &[Interaction],
        resource_type: &str,
    ) -> Result<Guard, ApiError> {
        let principal = self
            .caller
            .as_ref()
            .ok_or_else(|| ApiError::unauthenticated("a bearer token is required"))?;
        let authorizer = &self.state.auth.authorizer;
        let accesses = interactions
            .iter()
            .map(|i| authorizer.authorize(principal, &self.tenant, *i, resource_type))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Guard::new(accesses))
    }
}

fn unknown(tenant: &str) -> ApiError {
    ApiError::not_found(format!("unknown tenant '{tenant}'"))
}

async fn tenant_is_active(state: &AppState, tenant: &TenantId) -> Result<bool, ApiError> {
    if let Ok(cache) = state.known_tenants.read()
        && cache
            .get(tenant)
            .is_some_and(|t| t.elapsed() < TENANT_CACHE_TTL)
    {
        return Ok(true);
    }
    let active = match state.tenants.get(tenant).await? {
        Some(record) => record.status == TenantStatus::Active,
        None => false,
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
pub(crate) fn origin(state: &AppState, headers: &HeaderMap) -> String {
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
