//! The `SearchIndex` port: runs a typed search ([`SearchQuery`]) over one tenant's current
//! resources.
//!
//! Index entries ([`hearth_fhir::search::index::IndexEntry`]) travel with each write
//! (`WriteKind::Put::index`); the embedded adapter writes them in the resource's transaction,
//! so a search reads its writes. An adapter with a separate index (OpenSearch) implements
//! the same contract with eventual consistency.

use async_trait::async_trait;
use hearth_fhir::Issue;
use hearth_fhir::search::query::SearchQuery;
use hearth_tenancy::TenantId;

use crate::{StoreError, StoredVersion};

/// One page of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// The matches of this page, in the query's order (sort keys, then type and id).
    pub matches: Vec<StoredVersion>,
    /// Resources added by `_include` / `_revinclude` (each once, none of them a match).
    pub included: Vec<StoredVersion>,
    /// Number of matches across all pages, unless `_total=none`.
    pub total: Option<u64>,
    /// Cursor of the next page, if there are more matches.
    pub next: Option<String>,
    /// Cursor of the previous page, if this is not the first.
    pub previous: Option<String>,
    /// What the caller should report, such as included resources cut at the limit.
    pub issues: Vec<Issue>,
}

/// Search over current, live resources. Every call takes the tenant.
#[async_trait]
pub trait SearchIndex: Send + Sync + 'static {
    /// Runs `query` from its cursor (or the first page): filters ANDed, values ORed, sort keys
    /// then type and id (ascending) as the total order, at most `query.count` matches.
    /// Cursors stay valid while resources change: a page starts after the previous page's last
    /// row in that order (keyset paging), with no window limit. A malformed cursor is `Invalid`.
    async fn search(
        &self,
        tenant: &TenantId,
        query: &SearchQuery,
    ) -> Result<SearchPage, StoreError>;
}
