//! The registered SMART backend-services clients: the [`ClientRegistry`] port and an
//! in-memory implementation for tests (the embedded registry is in `api`, the DynamoDB one in
//! `aws`).

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;
use hearth_tenancy::TenantId;
use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};

use crate::scope::ScopeSet;

/// Where a client's public keys are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKeys {
    /// Registered inline.
    Jwks(JwkSet),
    /// Fetched (through [`crate::JwksSource`]) from the URL registered with the client.
    JwksUri(String),
}

/// A client registered with `POST /admin/tenants/{id}/clients`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredClient {
    /// Unique in the deployment.
    pub client_id: String,
    /// The tenant every token of this client is for.
    #[serde(with = "tenant_serde")]
    pub tenant: TenantId,
    pub keys: ClientKeys,
    /// The scopes the client may ask for (the admin's grant). Requests must be a subset.
    pub scope: ScopeSet,
}

/// `TenantId` as its string (hearth-tenancy has no serde impls of its own).
mod tenant_serde {
    use hearth_tenancy::TenantId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(tenant: &TenantId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(tenant.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TenantId, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The client registry could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("client '{0}' already exists")]
    Duplicate(String),
    #[error("client registry unavailable: {0}")]
    Unavailable(String),
}

/// The registered clients of a deployment (the token endpoint's lookups, the admin API's
/// changes). `Err(Unavailable)` only when the registry itself failed (the token endpoint
/// answers `server_error`, not `invalid_client`).
#[async_trait]
pub trait ClientRegistry: Send + Sync {
    /// The client, or `Ok(None)` for an unknown one. Registries that know tenants (the embedded
    /// and DynamoDB ones) also answer `None` for a client whose tenant is suspended or gone:
    /// it gets no tokens.
    async fn get(&self, client_id: &str) -> Result<Option<RegisteredClient>, RegistryError>;

    /// Registers `client`; `Duplicate` when its id is taken anywhere in the deployment (of two
    /// concurrent registrations of one id, exactly one succeeds).
    async fn register(&self, client: RegisteredClient) -> Result<(), RegistryError>;

    /// The clients of `tenant`, sorted by id.
    async fn list(&self, tenant: &TenantId) -> Result<Vec<RegisteredClient>, RegistryError>;

    /// Removes the client `client_id` of `tenant`; `false` when `tenant` has no such client
    /// (a client of another tenant is left alone).
    async fn remove(&self, tenant: &TenantId, client_id: &str) -> Result<bool, RegistryError>;

    /// Removes every client of `tenant` and returns how many there were, so their ids are
    /// free for any tenant at once. Idempotent: a call that failed part-way is run again, and
    /// a tenant with no clients left gives 0. A client of another tenant with an id this
    /// tenant once had is left alone. Deleting a tenant calls it before anything else can
    /// fail.
    async fn remove_all(&self, tenant: &TenantId) -> Result<usize, RegistryError> {
        let mut removed = 0;
        for client in self.list(tenant).await? {
            if self.remove(tenant, &client.client_id).await? {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Clients held in memory.
#[derive(Debug, Default)]
pub struct InMemoryClientRegistry {
    clients: RwLock<HashMap<String, RegisteredClient>>,
}

impl InMemoryClientRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a client; a client id is unique in the deployment, across tenants.
    pub fn register(&self, client: RegisteredClient) -> Result<(), RegistryError> {
        let mut clients = self.clients.write().unwrap_or_else(|p| p.into_inner());
        if clients.contains_key(&client.client_id) {
            return Err(RegistryError::Duplicate(client.client_id));
        }
        clients.insert(client.client_id.clone(), client);
        Ok(())
    }

    /// Removes the client `client_id` of `tenant`; returns whether it existed.
    pub fn remove(&self, tenant: &TenantId, client_id: &str) -> bool {
        let mut clients = self.clients.write().unwrap_or_else(|p| p.into_inner());
        if clients.get(client_id).is_some_and(|c| &c.tenant == tenant) {
            clients.remove(client_id);
            true
        } else {
            false
        }
    }

    /// The clients of one tenant, by id.
    pub fn list(&self, tenant: &TenantId) -> Vec<RegisteredClient> {
        let clients = self.clients.read().unwrap_or_else(|p| p.into_inner());
        let mut list: Vec<_> = clients
            .values()
            .filter(|c| &c.tenant == tenant)
            .cloned()
            .collect();
        list.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        list
    }
}

#[async_trait]
impl ClientRegistry for InMemoryClientRegistry {
    async fn get(&self, client_id: &str) -> Result<Option<RegisteredClient>, RegistryError> {
        let clients = self.clients.read().unwrap_or_else(|p| p.into_inner());
        Ok(clients.get(client_id).cloned())
    }

    async fn register(&self, client: RegisteredClient) -> Result<(), RegistryError> {
        InMemoryClientRegistry::register(self, client)
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<RegisteredClient>, RegistryError> {
        Ok(InMemoryClientRegistry::list(self, tenant))
    }

    async fn remove(&self, tenant: &TenantId, client_id: &str) -> Result<bool, RegistryError> {
        Ok(InMemoryClientRegistry::remove(self, tenant, client_id))
    }
}
