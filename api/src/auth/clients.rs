//! Registered SMART backend-services clients in the embedded backend: one JSON file per client
//! under its tenant's folder (`tenants/{id}/clients/{client_id}.json`, so deleting a tenant
//! deletes its clients), and a deployment-wide index `{data_dir}/clients/{client_id}` holding
//! the owning tenant's id, created with `create_new` so a client id is unique in the
//! deployment. An index entry whose client file is gone (its tenant was deleted) is stale and
//! is replaced by the next registration of that id.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hearth_auth::{ClientKeys, ClientRegistry, JwkSet, RegisteredClient, RegistryError, ScopeSet};
use hearth_tenancy::{TenantId, TenantRegistry, TenantStatus};
use serde::Deserialize;
use serde_json::{Value, json};

use super::jwks_http::check_jwks_url;
use crate::error::ApiError;

/// The body of `POST /admin/tenants/{id}/clients`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRegistration {
    pub client_id: String,
    #[serde(default)]
    pub jwks: Option<JwkSet>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// The scopes the client may ask for, space-separated.
    pub scope: String,
}

impl ClientRegistration {
    /// Checks the registration (400 on any problem) and makes the client of `tenant`.
    pub fn into_client(self, tenant: TenantId) -> Result<RegisteredClient, ApiError> {
        if !is_client_id(&self.client_id) {
            return Err(ApiError::bad_request(
                "client_id must be 1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-', not starting with '.'",
            ));
        }
        let keys = match (self.jwks, self.jwks_uri) {
            (Some(jwks), None) => {
                if jwks.keys.is_empty() {
                    return Err(ApiError::bad_request("jwks has no keys"));
                }
                if jwks.keys.iter().any(|k| k.common.key_id.is_none()) {
                    return Err(ApiError::bad_request(
                        "every key in jwks needs a 'kid' (assertions name their key)",
                    ));
                }
                ClientKeys::Jwks(jwks)
            }
            (None, Some(uri)) => {
                check_jwks_url(&uri).map_err(ApiError::bad_request)?;
                ClientKeys::JwksUri(uri)
            }
            _ => {
                return Err(ApiError::bad_request(
                    "give exactly one of 'jwks' and 'jwks_uri'",
                ));
            }
        };
        let scope = ScopeSet::parse(&self.scope)
            .map_err(|e| ApiError::bad_request(format!("scope: {e}")))?;
        if !scope.has_resource_scopes() {
            return Err(ApiError::bad_request(
                "scope must grant at least one resource scope (e.g. system/*.rs)",
            ));
        }
        Ok(RegisteredClient {
            client_id: self.client_id,
            tenant,
            keys,
            scope,
        })
    }
}

/// A client as the admin API shows it: the registration's fields plus its tenant.
pub fn client_json(client: &RegisteredClient) -> Value {
    let mut value = json!({
        "client_id": client.client_id,
        "tenant": client.tenant.as_str(),
        "scope": client.scope.to_string(),
    });
    match &client.keys {
        ClientKeys::Jwks(jwks) => value["jwks"] = json!(jwks),
        ClientKeys::JwksUri(uri) => value["jwks_uri"] = json!(uri),
    }
    value
}

/// `[A-Za-z0-9._-]{1,128}`, not starting with `.` (it names files).
pub fn is_client_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The client registry of an embedded data dir. Registrations are serialized in the process
/// (the server's admin API is the one writer of a data dir), so that of two concurrent ones
/// with the same id only one finds the index entry free.
pub struct FileClientRegistry {
    index_dir: PathBuf,
    tenants: TenantRegistry,
    registering: Arc<Mutex<()>>,
}

fn unavailable(context: &str) -> impl FnOnce(io::Error) -> RegistryError + '_ {
    move |e| RegistryError::Unavailable(format!("{context}: {e}"))
}

impl FileClientRegistry {
    pub fn new(data_dir: &Path, tenants: TenantRegistry) -> FileClientRegistry {
        FileClientRegistry {
            index_dir: data_dir.join("clients"),
            tenants,
            registering: Arc::default(),
        }
    }

    fn client_dir(&self, tenant: &TenantId) -> PathBuf {
        self.tenants.tenant_dir(tenant).join("clients")
    }

    fn client_path(&self, tenant: &TenantId, client_id: &str) -> PathBuf {
        self.client_dir(tenant).join(format!("{client_id}.json"))
    }
}

#[async_trait]
impl ClientRegistry for FileClientRegistry {
    /// `Duplicate` when an index entry names a live client: one whose file is still under its
    /// tenant's folder.
    async fn register(&self, client: RegisteredClient) -> Result<(), RegistryError> {
        let index = self.index_dir.join(&client.client_id);
        let path = self.client_path(&client.tenant, &client.client_id);
        let index_dir = self.index_dir.clone();
        let owner_path = {
            let registry = self.tenants.clone();
            move |tenant: &TenantId, id: &str| {
                registry
                    .tenant_dir(tenant)
                    .join("clients")
                    .join(format!("{id}.json"))
            }
        };
        let registering = self.registering.clone();
        blocking(move || {
            let _serialized = registering.lock().unwrap_or_else(|p| p.into_inner());
            fs::create_dir_all(&index_dir).map_err(unavailable("create client index"))?;
            let tenant = client.tenant.as_str().as_bytes().to_vec();
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&index)
            {
                Ok(mut file) => file
                    .write_all(&tenant)
                    .and_then(|()| file.sync_all())
                    .map_err(unavailable("write client index"))?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let owner =
                        fs::read_to_string(&index).map_err(unavailable("read client index"))?;
                    let live = owner
                        .parse::<TenantId>()
                        .is_ok_and(|t| owner_path(&t, &client.client_id).exists());
                    if live {
                        return Err(RegistryError::Duplicate(client.client_id.clone()));
                    }
                    write_replacing(&index, &tenant)?;
                }
                Err(e) => return Err(unavailable("create client index")(e)),
            }
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            fs::create_dir_all(&dir).map_err(unavailable("create client folder"))?;
            let bytes = serde_json::to_vec_pretty(&client)
                .map_err(|e| RegistryError::Unavailable(format!("encode client: {e}")))?;
            write_replacing(&path, &bytes)
        })
        .await
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<RegisteredClient>, RegistryError> {
        let dir = self.client_dir(tenant);
        blocking(move || {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(unavailable("list clients")(e)),
            };
            let mut clients = Vec::new();
            for entry in entries {
                let path = entry.map_err(unavailable("list clients"))?.path();
                if path.extension().is_some_and(|e| e == "json")
                    && let Some(client) = read_client(&path)?
                {
                    clients.push(client);
                }
            }
            clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
            Ok(clients)
        })
        .await
    }

    async fn remove(&self, tenant: &TenantId, client_id: &str) -> Result<bool, RegistryError> {
        if !is_client_id(client_id) {
            return Ok(false);
        }
        let path = self.client_path(tenant, client_id);
        let index = self.index_dir.join(client_id);
        let owner = tenant.as_str().to_owned();
        blocking(move || {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(unavailable("remove client")(e)),
            }
            if fs::read_to_string(&index).is_ok_and(|t| t == owner) {
                fs::remove_file(&index).map_err(unavailable("remove client index"))?;
            }
            Ok(true)
        })
        .await
    }

    /// `None` also for clients of a tenant that is suspended or gone: they get no tokens.
    async fn get(&self, client_id: &str) -> Result<Option<RegisteredClient>, RegistryError> {
        if !is_client_id(client_id) {
            return Ok(None);
        }
        let index = self.index_dir.join(client_id);
        let registry = self.tenants.clone();
        let client_id = client_id.to_owned();
        blocking(move || {
            let owner = match fs::read_to_string(&index) {
                Ok(owner) => owner,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(unavailable("read client index")(e)),
            };
            let Ok(tenant) = owner.parse::<TenantId>() else {
                return Ok(None);
            };
            match registry.get(&tenant) {
                Ok(Some(t)) if t.status == TenantStatus::Active => {}
                Ok(_) => return Ok(None),
                Err(e) => return Err(RegistryError::Unavailable(e.to_string())),
            }
            let path = registry
                .tenant_dir(&tenant)
                .join("clients")
                .join(format!("{client_id}.json"));
            Ok(read_client(&path)?.filter(|c| c.tenant == tenant))
        })
        .await
    }
}

fn read_client(path: &Path) -> Result<Option<RegisteredClient>, RegistryError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| RegistryError::Unavailable(format!("read {}: {e}", path.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(unavailable("read client")(e)),
    }
}

/// Writes `bytes` to a temporary file next to `path` and renames it over `path`.
fn write_replacing(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4()));
    let written = fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(unavailable("write client"))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, RegistryError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RegistryError::Unavailable(format!("client registry task: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conforms_to_the_client_registry_suite() {
        let dir = std::env::temp_dir().join(format!("hearth-clients-{}", uuid::Uuid::new_v4()));
        let tenants = TenantRegistry::new(&dir);
        let registry = Arc::new(FileClientRegistry::new(&dir, tenants.clone()));
        hearth_auth::conformance::client_registry_suite(registry, Arc::new(tenants)).await;
        let _ = fs::remove_dir_all(&dir);
    }
}
