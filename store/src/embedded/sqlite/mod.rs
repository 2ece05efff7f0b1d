//! `SqliteResourceStore`: the embedded `ResourceStore`, one SQLite file per tenant.
//!
//! Files open lazily on first use and stay open (cached per tenant) until `forget_tenant`.
//! Each file is encrypted whole with SQLCipher under a data key of the tenant's key (see
//! `cipher`); a tenant whose key was destroyed cannot be opened (`TenantKeyGone`).
//! Writes go to the tenant's writer thread, which commits them in groups (see `writer`);
//! reads use a small pool of read-only connections on the blocking pool, concurrently with
//! the writer thanks to WAL.

mod apply;
mod changes;
mod cipher;
mod durable;
mod index_write;
mod query;
mod schema;
mod search;
mod tenant;
mod writer;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hearth_fhir::VersionId;
use hearth_fhir::search::query::SearchQuery;
use hearth_tenancy::{TenantId, TenantRegistry};

use self::tenant::TenantDb;
use super::FsBlobStore;
use crate::{
    ChangesPage, ChangesQuery, HistoryPage, HistoryQuery, HistoryScope, KeyService, ResourceKey,
    ResourceStore, SearchIndex, SearchPage, Snapshot, StoreError, StoredVersion, WriteOp,
    WriteOutcome,
};

pub use self::cipher::DB_KEY_FILE;

/// Tuning of the embedded resource store; `Default` suits a small server.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Read-only connections per tenant, used at once at most.
    pub read_connections: usize,
    /// Most `write` calls committed together by one fsync.
    pub max_group: usize,
    /// Stop adding calls to a group once it holds this many ops.
    pub max_group_ops: usize,
    /// `write` calls that may wait for a tenant's writer before callers wait to queue.
    pub queue_depth: usize,
    /// How long SQLite waits on a lock held by another process before `Busy`.
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> SqliteOptions {
        SqliteOptions {
            read_connections: 4,
            max_group: 256,
            max_group_ops: 20_000,
            queue_depth: 4096,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

pub struct SqliteResourceStore {
    registry: TenantRegistry,
    options: SqliteOptions,
    keys: Arc<dyn KeyService>,
    tenants: Mutex<HashMap<TenantId, Arc<TenantDb>>>,
    /// Serializes first opens, so a tenant's file is opened (and its writer started) once.
    opening: tokio::sync::Mutex<()>,
}

impl SqliteResourceStore {
    /// Tenants' files under `registry`, keyed with data keys of `keys` (which provisions a
    /// tenant's key when its file is first made).
    pub fn new(
        registry: TenantRegistry,
        options: SqliteOptions,
        keys: Arc<dyn KeyService>,
    ) -> SqliteResourceStore {
        SqliteResourceStore {
            registry,
            options,
            keys,
            tenants: Mutex::new(HashMap::new()),
            opening: tokio::sync::Mutex::new(()),
        }
    }

    fn cached(&self, tenant: &TenantId) -> Option<Arc<TenantDb>> {
        self.tenants.lock().ok()?.get(tenant).cloned()
    }

    async fn db(&self, tenant: &TenantId) -> Result<Arc<TenantDb>, StoreError> {
        if let Some(db) = self.cached(tenant) {
            return Ok(db);
        }
        let _guard = self.opening.lock().await;
        if let Some(db) = self.cached(tenant) {
            return Ok(db);
        }
        let key = cipher::database_key(
            self.keys.as_ref(),
            tenant,
            &self.registry.tenant_dir(tenant),
        )
        .await?;
        let path = self.registry.sqlite_path(tenant);
        if cipher::is_plaintext(&path)? {
            // A tenant of an earlier version: its blobs are sealed before its database is
            // encrypted (which happens once), so a crash in between repeats both.
            let blobs = FsBlobStore::new(self.registry.clone(), self.keys.clone());
            let sealed = blobs.seal_legacy_blobs(tenant).await?;
            tracing::info!(tenant_id = %tenant, sealed, "sealed plaintext blobs of an earlier version");
        }
        let name = tenant.to_string();
        let options = self.options.clone();
        let db = tokio::task::spawn_blocking(move || TenantDb::open(&name, path, key, &options))
            .await
            .map_err(|e| StoreError::internal("open tenant database", e))??;
        let db = Arc::new(db);
        self.tenants
            .lock()
            .map_err(|e| StoreError::internal("cache tenant database", e))?
            .insert(tenant.clone(), Arc::clone(&db));
        Ok(db)
    }
}

fn check_distinct(ops: &[WriteOp]) -> Result<(), StoreError> {
    if ops.len() < 2 {
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(ops.len());
    for op in ops {
        if !seen.insert((op.key.rt, op.key.id.as_str())) {
            return Err(StoreError::DuplicateKey {
                rt: op.key.rt,
                id: op.key.id.to_string(),
            });
        }
    }
    Ok(())
}

#[async_trait]
impl ResourceStore for SqliteResourceStore {
    async fn write(
        &self,
        tenant: &TenantId,
        ops: Vec<WriteOp>,
    ) -> Result<Vec<WriteOutcome>, StoreError> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        check_distinct(&ops)?;
        self.db(tenant).await?.write(ops).await
    }

    async fn read(
        &self,
        tenant: &TenantId,
        key: &ResourceKey,
    ) -> Result<Option<StoredVersion>, StoreError> {
        let key = key.clone();
        self.db(tenant)
            .await?
            .read(move |conn| query::read(conn, key))
            .await
    }

    async fn vread(
        &self,
        tenant: &TenantId,
        key: &ResourceKey,
        version: VersionId,
    ) -> Result<Option<StoredVersion>, StoreError> {
        let key = key.clone();
        self.db(tenant)
            .await?
            .read(move |conn| query::vread(conn, key, version))
            .await
    }

    async fn history(
        &self,
        tenant: &TenantId,
        scope: &HistoryScope,
        query: &HistoryQuery,
    ) -> Result<HistoryPage, StoreError> {
        let (scope, query) = (scope.clone(), query.clone());
        self.db(tenant)
            .await?
            .read(move |conn| query::history(conn, scope, query))
            .await
    }

    async fn snapshot(&self, tenant: &TenantId) -> Result<Snapshot, StoreError> {
        self.db(tenant)
            .await?
            .read(|conn| changes::snapshot(conn))
            .await
    }

    async fn changes(
        &self,
        tenant: &TenantId,
        query: &ChangesQuery,
    ) -> Result<ChangesPage, StoreError> {
        // One slice: the whole type.
        if query.slice.is_some_and(|s| s > 0) {
            return Err(StoreError::Invalid(format!(
                "changes slice {:?} of 1",
                query.slice
            )));
        }
        let query = query.clone();
        self.db(tenant)
            .await?
            .read(move |conn| changes::changes(conn, &query))
            .await
    }

    async fn forget_tenant(&self, tenant: &TenantId) {
        if let Ok(mut tenants) = self.tenants.lock() {
            tenants.remove(tenant);
        }
    }

    async fn ready(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl SearchIndex for SqliteResourceStore {
    async fn search(
        &self,
        tenant: &TenantId,
        query: &SearchQuery,
    ) -> Result<SearchPage, StoreError> {
        let query = query.clone();
        self.db(tenant)
            .await?
            .read(move |conn| search::run(conn, &query))
            .await
    }
}
