//! The conformance suites of the storage ports, run against every adapter.
//!
//! A behaviour of a port is specified once, here: every adapter's tests call
//! [`resource_store_suite`] and [`blob_store_suite`] with a fresh store. Checks panic on
//! failure (they are test code) and each uses its own fresh tenants, so the suites need no
//! cleanup and may run against a shared backend such as an emulator.

mod blob;
mod jobs;
mod keys;
mod provision_on_use;
mod resource_basic;
mod resource_changes;
mod resource_concurrency;
mod resource_history;
mod resource_search;
mod resource_search_chained_pages;
mod resource_search_special;

pub use provision_on_use::ProvisionOnUse;

use std::sync::Arc;

use hearth_fhir::search::extract::extract;
use hearth_fhir::search::index::{IndexEntry, index_entries};
use hearth_fhir::search::query::{ParseOptions, parse_search};
use hearth_fhir::search::registry::Registry;
use hearth_tenancy::TenantId;
use serde_json::{Map, Value};

use crate::{
    BlobStore, JobQueue, JobStore, KeyService, Method, Precondition, ResourceKey, ResourceStore,
    SearchPage, StoreError, StoredVersion, WriteKind, WriteOp, WriteOutcome,
};

/// Every check of the `ResourceStore` contract.
pub async fn resource_store_suite(store: Arc<dyn ResourceStore>) {
    resource_core_suite(store.clone(), None).await;
    resource_search_suite(store.as_ref()).await;
}

/// The checks of the `ResourceStore` contract that do not search. `max_atomic_ops` is the
/// most ops the store applies in one atomic write (`None`: no limit).
pub async fn resource_core_suite(store: Arc<dyn ResourceStore>, max_atomic_ops: Option<usize>) {
    let s = store.as_ref();
    resource_basic::create_read_vread(s).await;
    resource_basic::server_members_keep_order(s).await;
    resource_basic::versions_continue_after_delete(s).await;
    resource_basic::delete_of_absent_is_unchanged(s).await;
    resource_basic::preconditions(s).await;
    resource_basic::multi_op_writes_are_atomic(s).await;
    resource_basic::duplicate_keys_are_rejected(s).await;
    resource_history::scopes(s).await;
    resource_history::paging_is_stable(s).await;
    resource_history::since_and_at(s).await;
    resource_history::since_and_at_with_shared_instants(s).await;
    resource_changes::state_as_of_a_snapshot(s).await;
    resource_changes::since_and_until(s).await;
    resource_changes::slices_partition_a_type(s).await;
    resource_concurrency::racing_updates_have_one_winner(&store).await;
    resource_concurrency::racing_creates_have_one_winner(&store).await;
    resource_concurrency::concurrent_creates(&store).await;
    resource_concurrency::concurrent_updates_of_one_resource(&store).await;
    resource_concurrency::timestamps_follow_the_wall_clock(&store, max_atomic_ops).await;
    resource_concurrency::large_atomic_writes(s, max_atomic_ops).await;
}

/// The search checks of the `ResourceStore` contract (its `SearchIndex`), which read their
/// writes.
pub async fn resource_search_suite(s: &dyn ResourceStore) {
    resource_search::token_string_and_special(s).await;
    resource_search::dates_numbers_quantities(s).await;
    resource_search::references_chains_has_includes(s).await;
    resource_search::sort_and_paging(s).await;
    resource_search_chained_pages::chained_filter_over_many_candidates(s).await;
    resource_search::index_follows_updates_and_deletes(s).await;
    resource_search_special::near(s).await;
    resource_search_special::list(s).await;
    resource_search_special::text_and_content(s).await;
    resource_search_special::terminology(s).await;
    resource_concurrency::tenants_are_isolated(s).await;
}

/// Every check of the `BlobStore` contract.
pub async fn blob_store_suite(store: Arc<dyn BlobStore>) {
    let s = store.as_ref();
    blob::put_get_replace_delete(s).await;
    blob::nested_and_empty_blobs(s).await;
    blob::max_bytes_is_enforced(s).await;
    blob::failed_streams_leave_nothing(s).await;
    blob::tenants_are_isolated(s).await;
}

/// Every check of the `JobStore` contract.
pub async fn job_store_suite(store: Arc<dyn JobStore>) {
    jobs::records(store.as_ref()).await;
}

/// Every check of the `KeyService` contract.
pub async fn key_service_suite(keys: Arc<dyn KeyService>) {
    let k = keys.as_ref();
    keys::round_trip(k).await;
    keys::provision_is_idempotent(k).await;
    keys::keys_are_bound_to_their_tenant(k).await;
    keys::damaged_keys_do_not_unwrap(k).await;
    keys::destroyed_keys_are_gone(k).await;
}

/// Every check of the `JobQueue` contract.
pub async fn job_queue_suite(queue: Arc<dyn JobQueue>) {
    job_queue_suite_with_visibility(queue, std::time::Duration::from_millis(200)).await;
}

/// [`job_queue_suite`] with the visibility `short` in its checks, for queues that count
/// visibility in coarser units (SQS: whole seconds).
pub async fn job_queue_suite_with_visibility(queue: Arc<dyn JobQueue>, short: std::time::Duration) {
    jobs::queue(queue.as_ref(), short).await;
}

/// A tenant no other check uses.
fn fresh_tenant() -> TenantId {
    format!("conf-{}", uuid::Uuid::new_v4().simple())
        .parse()
        .expect("valid tenant id")
}

fn key(rt: &str, id: &str) -> ResourceKey {
    ResourceKey::new(
        rt.parse().expect("resource type"),
        id.parse().expect("resource id"),
    )
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn put(key: &ResourceKey, body: Value, precondition: Precondition) -> WriteOp {
    WriteOp {
        key: key.clone(),
        kind: WriteKind::Put {
            body: object(body.clone()),
            blob: None,
            method: Method::Put,
            index: index_of(&body),
        },
        precondition,
    }
}

/// The index entries of `body`, as the API computes them.
fn index_of(body: &Value) -> Vec<IndexEntry> {
    let registry = Registry::r4();
    index_entries(&extract(registry, body), Some("http://example.org/fhir"))
}

/// The keys of the first page of `query` (a query string) on `rt`, in order.
async fn search_keys(
    store: &dyn ResourceStore,
    tenant: &TenantId,
    rt: &str,
    query: &str,
) -> Vec<ResourceKey> {
    search_page(store, tenant, rt, query)
        .await
        .matches
        .into_iter()
        .map(|v| v.key)
        .collect()
}

/// The first page of `query` on `rt` (`""` for a system search).
async fn search_page(
    store: &dyn ResourceStore,
    tenant: &TenantId,
    rt: &str,
    query: &str,
) -> SearchPage {
    try_search_page(store, tenant, rt, query)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}

/// The first page of `query` on `rt`, terminology resolved as the API does, or the error.
async fn try_search_page(
    store: &dyn ResourceStore,
    tenant: &TenantId,
    rt: &str,
    query: &str,
) -> Result<SearchPage, StoreError> {
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace("%7C", "|")))
        .collect();
    let rt = (!rt.is_empty()).then(|| rt.parse().expect("resource type"));
    let options = ParseOptions {
        base: Some("http://example.org/fhir"),
        strict: true,
        ..ParseOptions::default()
    };
    let q = parse_search(Registry::r4(), rt, &pairs, &options)
        .unwrap_or_else(|e| panic!("{query}: {e:?}"));
    let q = crate::resolve_terminology(store, tenant, &q).await?;
    store.search(tenant, &q).await
}

fn delete(key: &ResourceKey, precondition: Precondition) -> WriteOp {
    WriteOp {
        key: key.clone(),
        kind: WriteKind::Delete,
        precondition,
    }
}

async fn write_one(
    store: &dyn ResourceStore,
    tenant: &TenantId,
    op: WriteOp,
) -> Result<WriteOutcome, StoreError> {
    let mut outcomes = store.write(tenant, vec![op]).await?;
    assert_eq!(outcomes.len(), 1, "one outcome per op");
    Ok(outcomes.remove(0))
}

/// Writes `op`, which must succeed and write a version; returns it and `created`.
async fn must_write(
    store: &dyn ResourceStore,
    tenant: &TenantId,
    op: WriteOp,
) -> (StoredVersion, bool) {
    let what = format!("{:?}", op.key);
    match write_one(store, tenant, op).await {
        Ok(WriteOutcome::Written { version, created }) => (version, created),
        other => panic!("write of {what} should write a version, got {other:?}"),
    }
}

/// The stored body as JSON.
fn json_of(version: &StoredVersion) -> Value {
    let body = version
        .body
        .as_ref()
        .unwrap_or_else(|| panic!("{:?} has no body", version.key));
    serde_json::from_slice(body).expect("stored body is JSON")
}
