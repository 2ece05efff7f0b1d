//! A resource store whose search runs on a separate [`KeyIndex`], indexed inline: each write
//! is applied to the index (and made visible) before the call returns, so search reads its
//! writes. An index failure does not fail the durable write; it is logged, and a reindex
//! repairs it.

use std::sync::Arc;

use async_trait::async_trait;
use hearth_fhir::VersionId;
use hearth_fhir::search::query::SearchQuery;
use hearth_tenancy::TenantId;

use crate::key_index::index_inline;
use crate::{
    ChangesPage, ChangesQuery, HistoryPage, HistoryQuery, HistoryScope, KeyIndex, ResourceKey,
    ResourceStore, SearchIndex, SearchPage, Snapshot, StoreError, StoredVersion, WriteOp,
    WriteOutcome, search_via_keys,
};

pub struct IndexedStore {
    inner: Arc<dyn ResourceStore>,
    index: Arc<dyn KeyIndex>,
}

impl IndexedStore {
    pub fn new(inner: Arc<dyn ResourceStore>, index: Arc<dyn KeyIndex>) -> IndexedStore {
        IndexedStore { inner, index }
    }
}

#[async_trait]
impl SearchIndex for IndexedStore {
    async fn search(
        &self,
        tenant: &TenantId,
        query: &SearchQuery,
    ) -> Result<SearchPage, StoreError> {
        search_via_keys(self.inner.as_ref(), self.index.as_ref(), tenant, query).await
    }
}

#[async_trait]
impl ResourceStore for IndexedStore {
    async fn write(
        &self,
        tenant: &TenantId,
        ops: Vec<WriteOp>,
    ) -> Result<Vec<WriteOutcome>, StoreError> {
        let kept = ops.clone();
        let outcomes = self.inner.write(tenant, ops).await?;
        index_inline(self.index.as_ref(), tenant, &kept, &outcomes).await;
        Ok(outcomes)
    }

    async fn read(
        &self,
        tenant: &TenantId,
        key: &ResourceKey,
    ) -> Result<Option<StoredVersion>, StoreError> {
        self.inner.read(tenant, key).await
    }

    async fn read_many(
        &self,
        tenant: &TenantId,
        keys: &[ResourceKey],
    ) -> Result<Vec<Option<StoredVersion>>, StoreError> {
        self.inner.read_many(tenant, keys).await
    }

    async fn vread(
        &self,
        tenant: &TenantId,
        key: &ResourceKey,
        version: VersionId,
    ) -> Result<Option<StoredVersion>, StoreError> {
        self.inner.vread(tenant, key, version).await
    }

    async fn history(
        &self,
        tenant: &TenantId,
        scope: &HistoryScope,
        query: &HistoryQuery,
    ) -> Result<HistoryPage, StoreError> {
        self.inner.history(tenant, scope, query).await
    }

    async fn snapshot(&self, tenant: &TenantId) -> Result<Snapshot, StoreError> {
        self.inner.snapshot(tenant).await
    }

    async fn changes(
        &self,
        tenant: &TenantId,
        query: &ChangesQuery,
    ) -> Result<ChangesPage, StoreError> {
        self.inner.changes(tenant, query).await
    }

    fn change_slices(&self) -> u32 {
        self.inner.change_slices()
    }

    async fn forget_tenant(&self, tenant: &TenantId) {
        self.inner.forget_tenant(tenant).await;
        if let Err(e) = self.index.drop_tenant(tenant).await {
            tracing::error!(%tenant, error = %e, "dropping the tenant's index failed");
        }
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.inner.ready().await?;
        self.index.ready().await
    }
}
