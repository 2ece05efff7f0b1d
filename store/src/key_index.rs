//! The `KeyIndex` port: a search index kept apart from the resource store (OpenSearch). It
//! holds each current resource's index entries and answers a search with keys; the resource
//! store it serves reads the bodies ([`search_via_keys`]).
//!
//! Documents carry the resource's version number, and an index keeps the highest version it
//! has seen of a key: a late or repeated document never overwrites a newer one, so indexing
//! may run out of order and more than once (stream indexers redeliver).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hearth_fhir::Issue;
use hearth_fhir::VersionId;
use hearth_fhir::search::index::IndexEntry;
use hearth_fhir::search::query::SearchQuery;
use hearth_tenancy::TenantId;
use serde::{Deserialize, Serialize};

use crate::{ResourceKey, ResourceStore, SearchPage, StoreError};

/// What the index should hold for one resource as of one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexDoc {
    pub rt: String,
    pub id: String,
    pub version: u64,
    pub last_updated: DateTime<Utc>,
    /// The version's entries; `None` when this version is a delete.
    pub entries: Option<Vec<IndexEntry>>,
}

impl IndexDoc {
    pub fn new(
        key: &ResourceKey,
        version: VersionId,
        last_updated: DateTime<Utc>,
        entries: Option<Vec<IndexEntry>>,
    ) -> IndexDoc {
        IndexDoc {
            rt: key.rt.to_string(),
            id: key.id.to_string(),
            version: version.get(),
            last_updated,
            entries,
        }
    }
}

/// One page of a search, as keys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeyPage {
    /// The matches of this page, in the query's order.
    pub matches: Vec<ResourceKey>,
    /// Keys added by `_include` / `_revinclude` (each once, none of them a match).
    pub included: Vec<ResourceKey>,
    pub total: Option<u64>,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub issues: Vec<Issue>,
}

#[async_trait]
pub trait KeyIndex: Send + Sync + 'static {
    /// Stores the documents (a delete removes the key), each only if its version is higher
    /// than the one indexed for its key. Idempotent.
    async fn apply(&self, tenant: &TenantId, docs: &[IndexDoc]) -> Result<(), StoreError>;

    /// Makes every applied document visible to `search_keys`.
    async fn refresh(&self, tenant: &TenantId) -> Result<(), StoreError>;

    /// Runs `query` with the [`crate::SearchIndex::search`] contract, answering with keys.
    async fn search_keys(
        &self,
        tenant: &TenantId,
        query: &SearchQuery,
    ) -> Result<KeyPage, StoreError>;

    /// Removes everything the index holds for the tenant.
    async fn drop_tenant(&self, tenant: &TenantId) -> Result<(), StoreError>;

    /// Checks the backend answers.
    async fn ready(&self) -> Result<(), StoreError>;
}

/// A search answered by `index` with bodies read from `store`: keys whose resource is
/// deleted or absent in the store (the index lags behind) are left out.
pub async fn search_via_keys(
    store: &dyn ResourceStore,
    index: &dyn KeyIndex,
    tenant: &TenantId,
    query: &SearchQuery,
) -> Result<SearchPage, StoreError> {
    let page = index.search_keys(tenant, query).await?;
    let live = |v: &Option<crate::StoredVersion>| v.as_ref().is_some_and(|v| !v.is_deleted());
    let matches = store.read_many(tenant, &page.matches).await?;
    let included = store.read_many(tenant, &page.included).await?;
    Ok(SearchPage {
        matches: matches.into_iter().filter(live).flatten().collect(),
        included: included.into_iter().filter(live).flatten().collect(),
        total: page.total,
        next: page.next,
        previous: page.previous,
        issues: page.issues,
    })
}

/// Applies a successful write to `index` and makes it visible (inline indexing). The write is
/// durable already, so an index failure is logged rather than returned; a reindex repairs it.
pub async fn index_inline(
    index: &dyn KeyIndex,
    tenant: &TenantId,
    ops: &[crate::WriteOp],
    outcomes: &[crate::WriteOutcome],
) {
    let docs = docs_of_write(ops, outcomes);
    if docs.is_empty() {
        return;
    }
    let indexed = match index.apply(tenant, &docs).await {
        Ok(()) => index.refresh(tenant).await,
        Err(e) => Err(e),
    };
    if let Err(e) = indexed {
        tracing::error!(%tenant, error = %e, "index update failed; reindex the tenant");
    }
}

/// The index documents of a successful write: one per op that wrote a version.
pub fn docs_of_write(ops: &[crate::WriteOp], outcomes: &[crate::WriteOutcome]) -> Vec<IndexDoc> {
    ops.iter()
        .zip(outcomes)
        .filter_map(|(op, outcome)| match outcome {
            crate::WriteOutcome::Written { version, .. } => {
                let entries = match &op.kind {
                    crate::WriteKind::Put { index, .. } => Some(index.clone()),
                    crate::WriteKind::Delete => None,
                };
                Some(IndexDoc::new(
                    &version.key,
                    version.version,
                    version.last_updated,
                    entries,
                ))
            }
            crate::WriteOutcome::Unchanged => None,
        })
        .collect()
}

/// Where a stream indexer reads what to index: a resource store that keeps each version's
/// index entries (the DynamoDB adapter seals them next to the body).
#[async_trait]
pub trait IndexSource: Send + Sync + 'static {
    /// The documents of the current versions of `keys` (a delete document for a deleted
    /// resource; nothing for a resource that never existed).
    async fn index_docs(
        &self,
        tenant: &TenantId,
        keys: &[ResourceKey],
    ) -> Result<Vec<IndexDoc>, StoreError>;
}
