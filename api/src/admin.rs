//! The admin API (admin token only): tenants (`/admin/tenants[/{id}]`, suspend and resume)
//! and their SMART backend-services clients (`/admin/tenants/{id}/clients[/{client_id}]`).
//! Plain JSON in and out; errors are OperationOutcomes like everywhere else.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hearth_tenancy::{Tenant, TenantId, TenantStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Admin, ClientRegistration};
use crate::deletion;
use crate::error::ApiError;
use crate::state::AppState;

/// The body of `POST /admin/tenants`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

fn tenant_id(id: &str) -> Result<TenantId, ApiError> {
    id.parse()
        .map_err(|e: hearth_tenancy::TenantIdError| ApiError::bad_request(e.to_string()))
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(v)| v)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// The tenant, or 404.
async fn existing(state: &AppState, id: &TenantId) -> Result<Tenant, ApiError> {
    state
        .tenants
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("tenant '{id}' not found")))
}

/// `POST /admin/tenants` `{"id", "name"}` → 201 with the tenant (its key provisioned);
/// usable at once.
pub async fn create_tenant(
    State(state): State<AppState>,
    _admin: Admin,
    body: Result<Json<NewTenant>, JsonRejection>,
) -> Result<Response, ApiError> {
    let new = json_body(body)?;
    let id = tenant_id(&new.id)?;
    let name = new.name.unwrap_or_else(|| new.id.clone());
    let tenant = state.tenants.create(&id, &name).await?;
    if let Err(e) = state.partitions.provision(&id).await {
        // Undo the create, so that the same request can be made again.
        if let Err(undo) = state.tenants.delete(&id).await {
            tracing::error!(tenant_id = %id, error = %undo, "unprovisioned tenant left in the registry");
        }
        return Err(e.into());
    }
    tracing::info!(tenant_id = %tenant.id, "tenant created");
    Ok((StatusCode::CREATED, Json(tenant)).into_response())
}

/// `GET /admin/tenants` → `{"tenants": [...]}`.
pub async fn list_tenants(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Json<Value>, ApiError> {
    let tenants = state.tenants.list().await?;
    Ok(Json(json!({ "tenants": tenants })))
}

/// `GET /admin/tenants/{id}`.
pub async fn get_tenant(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _admin: Admin,
) -> Result<Json<Tenant>, ApiError> {
    let id = tenant_id(&id)?;
    Ok(Json(existing(&state, &id).await?))
}

/// `DELETE /admin/tenants/{id}` → 204; the tenant's URLs answer 404 at once (on other API
/// tasks within [`crate::context::TENANT_CACHE_TTL`]). It is marked deleting, its client ids
/// are released, its key is destroyed (crypto-shredding its data), then its data removed, then
/// its record ([`crate::deletion`]). A deletion that fails part-way leaves it deleting, to be
/// deleted again.
pub async fn delete_tenant(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _admin: Admin,
) -> Result<StatusCode, ApiError> {
    let id = tenant_id(&id)?;
    // 404 when there is no such tenant; from here its URLs answer 404 and its clients get no
    // tokens while the rest goes.
    deletion::begin(state.tenants.as_ref(), &id).await?;
    state.forget_tenant(&id);
    let progress = |step: &str| tracing::info!(tenant_id = %id, step, "deleting tenant");
    let finished = deletion::finish(
        state.tenants.as_ref(),
        state.auth.clients.as_ref(),
        state.partitions.as_ref(),
        &id,
        &progress,
    )
    .await;
    // Forget the tenant again: no request admitted by the cache in between.
    state.forget_tenant(&id);
    finished?;
    // Close the store's handles on the removed files, so a tenant created again with this id
    // starts from new, empty partitions.
    state.store.forget_tenant(&id).await;
    tracing::info!(tenant_id = %id, "tenant deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /admin/tenants/{id}/suspend`: the tenant's URLs answer 404 (as for an unknown
/// tenant; on other API tasks within [`crate::context::TENANT_CACHE_TTL`]) and its clients get
/// no tokens, until `resume`. Its data stays.
pub async fn suspend_tenant(
    State(state): State<AppState>,
    Path(id): Path<String>,
    admin: Admin,
) -> Result<Json<Tenant>, ApiError> {
    set_status(state, id, admin, TenantStatus::Suspended).await
}

/// `POST /admin/tenants/{id}/resume`: active again.
pub async fn resume_tenant(
    State(state): State<AppState>,
    Path(id): Path<String>,
    admin: Admin,
) -> Result<Json<Tenant>, ApiError> {
    set_status(state, id, admin, TenantStatus::Active).await
}

async fn set_status(
    state: AppState,
    id: String,
    _admin: Admin,
    status: TenantStatus,
) -> Result<Json<Tenant>, ApiError> {
    let id = tenant_id(&id)?;
    let tenant = state.tenants.set_status(&id, status).await?;
    state.forget_tenant(&id);
    tracing::info!(tenant_id = %id, status = ?status, "tenant status changed");
    Ok(Json(tenant))
}

/// `POST /admin/tenants/{id}/clients` `{client_id, jwks | jwks_uri, scope}` → 201.
pub async fn register_client(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _admin: Admin,
    body: Result<Json<ClientRegistration>, JsonRejection>,
) -> Result<Response, ApiError> {
    let id = tenant_id(&id)?;
    let registration = json_body(body)?;
    // A tenant being deleted has released its ids; it takes no new ones.
    if existing(&state, &id).await?.status == TenantStatus::Deleting {
        return Err(hearth_tenancy::RegistryError::Deleting(id).into());
    }
    let client = registration.into_client(id.clone())?;
    state.auth.clients.register(client.clone()).await?;
    tracing::info!(tenant_id = %id, client_id = %client.client_id, "client registered");
    let body = crate::auth::client_json(&client);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /admin/tenants/{id}/clients` → `{"clients": [...]}`.
pub async fn list_clients(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _admin: Admin,
) -> Result<Json<Value>, ApiError> {
    let id = tenant_id(&id)?;
    existing(&state, &id).await?;
    let clients = state.auth.clients.list(&id).await?;
    let clients: Vec<Value> = clients.iter().map(crate::auth::client_json).collect();
    Ok(Json(json!({ "clients": clients })))
}

/// `DELETE /admin/tenants/{id}/clients/{client_id}` → 204, or 404.
pub async fn delete_client(
    State(state): State<AppState>,
    Path((id, client_id)): Path<(String, String)>,
    _admin: Admin,
) -> Result<StatusCode, ApiError> {
    let id = tenant_id(&id)?;
    existing(&state, &id).await?;
    if state.auth.clients.remove(&id, &client_id).await? {
        tracing::info!(tenant_id = %id, client_id = %client_id, "client removed");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "no client '{client_id}' in tenant '{id}'"
        )))
    }
}
