//! The `ResourceStore` port: versioned FHIR resources of one tenant at a time.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use hearth_fhir::search::index::IndexEntry;
use hearth_fhir::{ResourceId, ResourceType, VersionId};
use hearth_tenancy::TenantId;
use serde_json::{Map, Value};

use crate::{SearchIndex, StoreError};

/// A resource's identity within a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    pub rt: ResourceType,
    pub id: ResourceId,
}

impl ResourceKey {
    pub fn new(rt: ResourceType, id: ResourceId) -> ResourceKey {
        ResourceKey { rt, id }
    }
}

/// The interaction that produced a version (`Bundle.entry.request.method` in history). The
/// store records what the caller says; it does not derive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A create with a server-assigned id (`POST [type]`).
    Post,
    /// A create with a client-chosen id, an update, or a write after a delete (`PUT [type]/[id]`,
    /// and PATCH, which history also reports as an update).
    Put,
    /// A delete version; set by the store for `WriteKind::Delete`.
    Delete,
}

/// One stored version of a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVersion {
    pub key: ResourceKey,
    pub version: VersionId,
    /// Millisecond precision, UTC. Strictly increasing across the versions of one resource;
    /// non-decreasing across the versions of one tenant in history (`seq`) order, so versions
    /// written together (one write, or writes committed together) may share an instant. Never
    /// ahead of the wall clock, except by the least needed to keep those two rules (a resource
    /// updated again within its previous version's millisecond, or a clock stepped back).
    /// History order is the tenant's write order, not `last_updated`.
    pub last_updated: DateTime<Utc>,
    pub method: Method,
    /// The resource JSON exactly as stored (client JSON with server-set `id` and
    /// `meta.versionId`/`meta.lastUpdated`); `None` for a delete.
    pub body: Option<Bytes>,
    /// The blob holding this version's bytes (Binary content), if any.
    pub blob: Option<String>,
}

impl StoredVersion {
    pub fn is_deleted(&self) -> bool {
        self.body.is_none()
    }
}

/// What must hold for a write to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    None,
    /// The resource has never existed, or its current version is a delete.
    MustNotExist,
    /// The current version is exactly this one (`If-Match`); a deleted or absent resource fails.
    VersionIs(VersionId),
}

#[derive(Debug, Clone, PartialEq)]
pub enum WriteKind {
    /// Store a new version with this content. The store sets `id`, `meta.versionId` and
    /// `meta.lastUpdated` in it and keeps every other member and its order.
    Put {
        body: Map<String, Value>,
        blob: Option<String>,
        method: Method,
        /// The search index entries of this version (computed by the caller, outside the
        /// store's writer); they replace the previous version's entries.
        index: Vec<IndexEntry>,
    },
    /// Record a delete version (and drop the resource's index entries). Deleting an absent or
    /// already deleted resource writes nothing.
    Delete,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WriteOp {
    pub key: ResourceKey,
    pub kind: WriteKind,
    pub precondition: Precondition,
}

/// The result of one `WriteOp`.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOutcome {
    /// A new version was written; `created` when no live version existed before.
    Written {
        version: StoredVersion,
        created: bool,
    },
    /// A delete of something absent or already deleted: nothing written.
    Unchanged,
}

/// Which history to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryScope {
    System,
    Type(ResourceType),
    Instance(ResourceKey),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only versions with `last_updated >= since`.
    pub since: Option<DateTime<Utc>>,
    /// Only versions that were current at `at` or later: the version current at `at` and
    /// every later one (R4 `_at` for an instant).
    pub at: Option<DateTime<Utc>>,
    /// Page size, at least 1.
    pub count: usize,
    /// Opaque cursor from a previous page's `next`.
    pub cursor: Option<String>,
}

/// A page of history, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// Number of versions matching the query across all pages.
    pub total: u64,
    /// Cursor of the next (older) page, if any.
    pub next: Option<String>,
}

pub type HistoryEntry = StoredVersion;

/// A point in a tenant's write order, taken when an export starts: the writes committed before
/// it and none after. `at` is the `last_updated` of its last write (the epoch for an empty
/// tenant), so every version written later has `last_updated >= at`, and an export `_since=at`
/// misses nothing written after the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Opaque to callers; stored in job records and handed back to `changes`.
    pub mark: String,
    pub at: DateTime<Utc>,
}

/// Which resources of one type an export reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesQuery {
    pub rt: ResourceType,
    /// The state as of this snapshot (`Snapshot::mark`).
    pub upto: String,
    /// Only resources whose last change (at or before `upto`) has `last_updated >= since`.
    pub since: Option<DateTime<Utc>>,
    /// The state as of the last write with `last_updated <= until`, if earlier than `upto`.
    pub until: Option<DateTime<Utc>>,
    /// Page size, at least 1.
    pub count: usize,
    /// A page also ends once its bodies reach this many bytes (after at least one version),
    /// so memory stays bounded whatever the resources' sizes.
    pub max_bytes: usize,
    /// Opaque cursor from a previous page's `next`.
    pub cursor: Option<String>,
    /// Only slice `s` of the type's resources, `s < ResourceStore::change_slices()`: the
    /// slices are disjoint and together hold every resource, so each can be read by a
    /// different worker. `None`: all of them.
    pub slice: Option<u32>,
}

/// One page of `changes`: for each resource, the version that was current at the snapshot
/// (a delete version when it was deleted then), in an order stable across calls.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangesPage {
    pub versions: Vec<StoredVersion>,
    /// Cursor of the next page, if there may be more.
    pub next: Option<String>,
}

/// Versioned FHIR resources. Every method takes the tenant; no call reaches another tenant's
/// data. Writes are durable before the call returns. Every resource store is also the
/// [`SearchIndex`] of its resources.
#[async_trait]
pub trait ResourceStore: SearchIndex + Send + Sync + 'static {
    /// Applies `ops` atomically, in order: all of them or none. A failed precondition fails
    /// the whole call with `VersionMismatch` or `AlreadyExists`; the same key twice fails with
    /// `DuplicateKey`. Returns one outcome per op, in order.
    async fn write(
        &self,
        tenant: &TenantId,
        ops: Vec<WriteOp>,
    ) -> Result<Vec<WriteOutcome>, StoreError>;

    /// The current version (possibly a delete), or `None` if the resource never existed.
    async fn read(
        &self,
        tenant: &TenantId,
        key: &ResourceKey,
    ) -> Result<Option<StoredVersion>, StoreError>;

    /// The current versions of `keys`, in their order (`None` where a resource never existed).
    async fn read_many(
        &self,
        tenant: &TenantId,
        keys: &[ResourceKey],
    ) -> Result<Vec<Option<StoredVersion>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.read(tenant, key).await?);
        }
        Ok(out)
    }

    /// One version (possibly a delete), or `None` if that version does not exist.
    async fn vread(
        &self,
        tenant: &TenantId,
        key: &ResourceKey,
        version: VersionId,
    ) -> Result<Option<StoredVersion>, StoreError>;

    /// History newest first, paged by cursor; stable while new versions arrive.
    async fn history(
        &self,
        tenant: &TenantId,
        scope: &HistoryScope,
        query: &HistoryQuery,
    ) -> Result<HistoryPage, StoreError>;

    /// The tenant's current point in its write order (see [`Snapshot`]).
    async fn snapshot(&self, tenant: &TenantId) -> Result<Snapshot, StoreError>;

    /// The resources of one type as of a snapshot, paged (see [`ChangesQuery`]); never a
    /// scan of other types' data. A malformed cursor or mark is `Invalid`.
    async fn changes(
        &self,
        tenant: &TenantId,
        query: &ChangesQuery,
    ) -> Result<ChangesPage, StoreError>;

    /// Into how many slices `changes` can split a type (see [`ChangesQuery::slice`]): the
    /// shards of a sharded index, 1 for a store that reads a type in one ordered walk.
    fn change_slices(&self) -> u32 {
        1
    }

    /// Drops every cached handle on `tenant` (after its partitions were removed).
    async fn forget_tenant(&self, tenant: &TenantId);

    /// Checks the backend answers.
    async fn ready(&self) -> Result<(), StoreError>;
}
