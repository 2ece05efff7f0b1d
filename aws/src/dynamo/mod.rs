//! `ResourceStore` on DynamoDB: versioned resources in one table, bodies sealed client-side
//! with the tenant's data key, search on a separate [`KeyIndex`].
//!
//! # Layout
//!
//! One table; the tenant is in every key. Per resource, partition `{tenant}#{rt}#{id}`:
//!
//! | sort key | item |
//! |---|---|
//! | `cur` | the current version: number, `lu` (last_updated, ms), method, sealed body (or its chunk count), sealed index entries, blob |
//! | `v#{version:012}` | one per version, the same fields but the index entries; `sup` = `lu` of the version that replaced it |
//! | `c#{version:012}#{n:04}` | a piece of a sealed body over 100 KB (300 KB each), written once with its version |
//!
//! Version items carry the keys of two global secondary indexes, both sorted by the history
//! key `{lu:013}#{seq:020}#{rt}#{id}#{version:012}`:
//! `by_type` (partition `{tenant}#{rt}#{shard}`) serves type history and export, and
//! `by_tenant` (partition `{tenant}#{shard}`) serves system history; a resource's shard is a
//! hash of its id (and type) into [`SHARDS`](table::SHARDS) partitions, merged when read. No
//! read scans the table.
//!
//! History is newest first in history-key order: `last_updated`, then the order in which the
//! writing process stamped its versions. Writers in different processes interleave by their
//! clocks. The indexes are eventually consistent on AWS, so type and system history may lag
//! a write by a moment; reads of a resource and its versions are consistent.
//!
//! A write is one transaction when it fits in one (at most [`MAX_ATOMIC_OPS`] ops, 100 items
//! and 4 MB); a larger one is a staged write (see [`staged`]), which locks its resources
//! (`txl` on their current items, or a placeholder current item without a version for one
//! that does not exist), stages its sealed versions in partition `{tenant}#tx#{txid}`,
//! commits on a record `{tenant}#tx` / `{txid}` and then applies them.
//!
//! # Limits
//!
//! At most [`MAX_STAGED_OPS`] ops per write. A resource's items must fit in one
//! transaction, so its sealed body and index entries together stay under about 3.9 MB;
//! anything larger is refused with `Invalid`. Index entries (zlib-compressed, then sealed) stay under 300 KB per
//! resource.

mod changes;
mod clock;
mod cursor;
mod history;
mod index_codec;
mod item;
mod objects;
mod plan;
mod read;
mod staged;
mod table;
mod version;
mod walk;
mod write;

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use hearth_fhir::VersionId;
use hearth_fhir::search::query::SearchQuery;
use hearth_store::{
    BlobStore, ChangesPage, ChangesQuery, Envelope, HistoryPage, HistoryQuery, HistoryScope,
    KeyIndex, ResourceKey, ResourceStore, SearchIndex, SearchPage, Snapshot, StoreError,
    StoredVersion, WriteOp, WriteOutcome, index_inline, search_via_keys,
};
use hearth_tenancy::TenantId;

pub use changes::SETTLE;
pub use staged::{DEFAULT_LOCK_TIMEOUT, StopAfter};
pub use table::create_table;
pub use write::{LOCK_WAIT, MAX_ATOMIC_OPS, MAX_STAGED_OPS};

use crate::error::sdk_error;
use clock::Clock;

/// Who keeps the search index up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexMode {
    /// Each write applies its documents to the index (and refreshes it) before returning, so
    /// search reads its writes. An index failure is logged, not returned.
    Inline,
    /// A stream indexer applies them from the table's stream ([`DynamoStore::index_docs`]).
    Stream,
}

pub struct DynamoStore {
    client: Client,
    table: String,
    envelope: Arc<Envelope>,
    index: Option<Arc<dyn KeyIndex>>,
    mode: IndexMode,
    clock: Clock,
    /// Bounds the writes in flight at once (each holds a connection or two).
    writers: tokio::sync::Semaphore,
    /// How long a staged write's heartbeat may be silent before others abort it.
    lock_timeout: std::time::Duration,
    /// Where bodies too large for chunk items go (the tenant's S3 prefix); without it such
    /// resources are refused with the limit named.
    bodies: Option<Arc<dyn BlobStore>>,
}

/// Writes one store sends to DynamoDB at once; more wait their turn.
pub const MAX_CONCURRENT_WRITES: usize = 64;

impl DynamoStore {
    /// A store on `table` (see [`create_table`]). Without an `index`, search is refused and
    /// writes index nothing (for tools that never search, and for tests).
    pub fn new(
        client: Client,
        table: impl Into<String>,
        envelope: Arc<Envelope>,
        index: Option<Arc<dyn KeyIndex>>,
        mode: IndexMode,
    ) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
            envelope,
            index,
            mode,
            clock: Clock::default(),
            writers: tokio::sync::Semaphore::new(MAX_CONCURRENT_WRITES),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            bodies: None,
        }
    }

    /// Keeps sealed bodies over 1 MB as objects of `bodies` (the tenant's S3 prefix) instead
    /// of chunk items, so no resource is refused for DynamoDB's item and transaction sizes.
    pub fn with_body_objects(mut self, bodies: Arc<dyn BlobStore>) -> DynamoStore {
        self.bodies = Some(bodies);
        self
    }
}

#[async_trait]
impl SearchIndex for DynamoStore {
    async fn search(
        &self,
        tenant: &TenantId,
        query: &SearchQuery,
    ) -> Result<SearchPage, StoreError> {
        match &self.index {
            Some(index) => search_via_keys(self, index.as_ref(), tenant, query).await,
            None => Err(StoreError::Invalid("search needs a search index".into())),
        }
    }
}

#[async_trait]
impl ResourceStore for DynamoStore {
    async fn write(
        &self,
        tenant: &TenantId,
        ops: Vec<WriteOp>,
    ) -> Result<Vec<WriteOutcome>, StoreError> {
        let outcomes = self.write_ops(tenant, &ops).await?;
        if let (IndexMode::Inline, Some(index)) = (self.mode, &self.index) {
            index_inline(index.as_ref(), tenant, &ops, &outcomes).await;
        }
        Ok(outcomes)
    }

    async fn read(
        &self,
        tenant: &TenantId,
        key: &ResourceKey,
    ) -> Result<Option<StoredVersion>, StoreError> {
        self.read_current(tenant, key).await
    }

    async fn read_many(
        &self,
        tenant: &TenantId,
        keys: &[ResourceKey],
    ) -> Result<Vec<Option<StoredVersion>>, StoreError> {
        self.read_many_current(tenant, keys).await
    }

    async fn vread(
        &self,
        tenant: &TenantId,
        key: &ResourceKey,
        version: VersionId,
    ) -> Result<Option<StoredVersion>, StoreError> {
        self.read_version(tenant, key, version).await
    }

    async fn history(
        &self,
        tenant: &TenantId,
        scope: &HistoryScope,
        query: &HistoryQuery,
    ) -> Result<HistoryPage, StoreError> {
        self.history_page(tenant, scope, query).await
    }

    async fn snapshot(&self, tenant: &TenantId) -> Result<Snapshot, StoreError> {
        self.snapshot_of(tenant).await
    }

    async fn changes(
        &self,
        tenant: &TenantId,
        query: &ChangesQuery,
    ) -> Result<ChangesPage, StoreError> {
        self.changes_page(tenant, query).await
    }

    fn change_slices(&self) -> u32 {
        table::SHARDS
    }

    async fn forget_tenant(&self, tenant: &TenantId) {
        self.clock.forget(tenant);
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| sdk_error("describe resource table", e))?;
        Ok(())
    }
}
