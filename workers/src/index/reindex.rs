//! `reindex`: rebuilds a tenant's search index from the store, type by type, from a snapshot
//! of its current resources. Safe while writes go on: the index keeps the highest version of
//! each key, and the stream indexer applies later changes.

use hearth_fhir::ResourceType;
use hearth_store::{ChangesQuery, IndexSource, KeyIndex, ResourceKey, ResourceStore, StoreError};
use hearth_tenancy::TenantId;

/// Resources read per page.
const PAGE: usize = 500;
/// Bytes read per page, at most.
const PAGE_BYTES: usize = 8 << 20;

/// Reindexes every resource of `tenant`; `progress` is called after each page with the
/// type and the number of resources indexed so far. Returns that number.
pub async fn reindex(
    store: &dyn ResourceStore,
    source: &dyn IndexSource,
    index: &dyn KeyIndex,
    tenant: &TenantId,
    mut progress: impl FnMut(ResourceType, u64),
) -> Result<u64, StoreError> {
    let snapshot = store.snapshot(tenant).await?;
    let mut done = 0u64;
    for rt in ResourceType::all() {
        let mut cursor = None;
        loop {
            let page = store
                .changes(
                    tenant,
                    &ChangesQuery {
                        rt,
                        upto: snapshot.mark.clone(),
                        since: None,
                        until: None,
                        count: PAGE,
                        max_bytes: PAGE_BYTES,
                        cursor,
                        slice: None,
                    },
                )
                .await?;
            let keys: Vec<ResourceKey> = page.versions.into_iter().map(|v| v.key).collect();
            if !keys.is_empty() {
                let docs = source.index_docs(tenant, &keys).await?;
                index.apply(tenant, &docs).await?;
                done += keys.len() as u64;
                progress(rt, done);
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    index.refresh(tenant).await?;
    Ok(done)
}
