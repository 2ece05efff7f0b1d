//! `TenantPartitions` on AWS: provision creates the tenant's KMS key; destroy schedules that
//! key's deletion (the tenant's sealed items and SSE-KMS objects become unreadable at once),
//! then deletes the tenant's items from the resource and jobs tables, its objects under
//! `tenants/{tenant}/` in the bucket, and its search index.
//!
//! No step scans a table. Every resource's version items sit in the `by_tenant` index
//! (partitions `{tenant}#{shard}`), so a query of each shard names every resource partition
//! `{tenant}#{rt}#{id}` of the tenant, and a query of each such partition finds its current,
//! version and chunk items. A partition's version items are deleted last, so a destroy that
//! stops part-way still finds what it left on the next run. Job records live in the jobs
//! table's partition `{tenant}`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use futures::{StreamExt, TryStreamExt};
use hearth_store::{Envelope, KeyIndex, Progress, StoreError, TenantPartitions};
use hearth_tenancy::TenantId;

use crate::backend::AwsBackend;
use crate::config::{AwsClients, AwsConfig};
use crate::error::sdk_error;

/// The resource table's layout as `dynamo::table` defines it (partition and sort key
/// attributes, the `by_tenant` index and its shard count).
mod layout {
    pub(super) const PK: &str = "pk";
    pub(super) const SK: &str = "sk";
    pub(super) const BY_TENANT: &str = "by_tenant";
    pub(super) const TENANT_PART: &str = "ga";
    pub(super) const SHARDS: u32 = 8;
    /// Sort keys of version items; the other items of a partition are `cur` and `c#...`.
    pub(super) const VERSION_PREFIX: &str = "v#";
}

/// Items in one `BatchWriteItem` (the service's limit).
const BATCH: usize = 25;
/// Keys in one `DeleteObjects` (the service's limit).
const OBJECTS_PER_DELETE: i32 = 1000;
/// Attempts of a batch whose items keep coming back unprocessed (throttling).
const BATCH_ATTEMPTS: u32 = 8;
/// Resource partitions purged at once.
const PARALLEL_PARTITIONS: usize = 4;
/// Sweeps of the `by_tenant` index: one that finds nothing ends the purge; until then each
/// further sweep waits for the index to catch up (writes that were in flight, index lag).
const MAX_SWEEPS: u32 = 5;

type Key = HashMap<String, AttributeValue>;

/// Everything a tenant owns in one AWS deployment, beyond its registry record.
pub struct AwsTenantPartitions {
    dynamodb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    resources_table: String,
    jobs_table: String,
    bucket: String,
    envelope: Arc<Envelope>,
    index: Arc<dyn KeyIndex>,
}

impl AwsTenantPartitions {
    /// The partitions named by `config`. Keys are provisioned and destroyed through the key
    /// service of `envelope` (the `KmsKeyService`), whose cached data keys of a destroyed
    /// tenant are forgotten; `index` is the search index whose tenant index is dropped.
    pub fn new(
        clients: &AwsClients,
        config: &AwsConfig,
        envelope: Arc<Envelope>,
        index: Arc<dyn KeyIndex>,
    ) -> AwsTenantPartitions {
        AwsTenantPartitions {
            dynamodb: clients.dynamodb.clone(),
            s3: clients.s3.clone(),
            resources_table: config.resources_table_name(),
            jobs_table: config.jobs_table_name(),
            bucket: config.bucket_name(),
            envelope,
            index,
        }
    }

    /// The partitions of `backend`, with the search index its store uses.
    pub fn for_backend(backend: &AwsBackend, index: Arc<dyn KeyIndex>) -> AwsTenantPartitions {
        AwsTenantPartitions::new(
            &backend.clients,
            &backend.config,
            backend.envelope.clone(),
            index,
        )
    }

    /// Deletes every resource item of the tenant; returns how many.
    async fn purge_resources(&self, tenant: &TenantId) -> Result<usize, StoreError> {
        let mut deleted = 0;
        for sweep in 0..MAX_SWEEPS {
            if sweep > 0 {
                tokio::time::sleep(crate::dynamo::SETTLE).await;
            }
            let mut seen = 0;
            for shard in 0..layout::SHARDS {
                let (found, items) = self.purge_shard(tenant, shard).await?;
                seen += found;
                deleted += items;
            }
            if seen == 0 {
                return Ok(deleted);
            }
        }
        Err(StoreError::Busy(format!(
            "resources of tenant {tenant} keep appearing after {MAX_SWEEPS} sweeps; destroy again"
        )))
    }

    /// Purges the resource partitions named in one `by_tenant` shard; returns how many
    /// partitions the shard named and how many items were deleted.
    async fn purge_shard(
        &self,
        tenant: &TenantId,
        shard: u32,
    ) -> Result<(usize, usize), StoreError> {
        let prefix = format!("{tenant}#");
        let (mut seen, mut deleted) = (0, 0);
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .query()
                .table_name(&self.resources_table)
                .index_name(layout::BY_TENANT)
                .key_condition_expression("#p = :p")
                .expression_attribute_names("#p", layout::TENANT_PART)
                .expression_attribute_names("#pk", layout::PK)
                .expression_attribute_values(":p", AttributeValue::S(format!("{tenant}#{shard}")))
                .projection_expression("#pk")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("list tenant resources", e))?;
            let partitions: BTreeSet<String> = page
                .items()
                .iter()
                .filter_map(|item| match item.get(layout::PK) {
                    Some(AttributeValue::S(pk)) if pk.starts_with(&prefix) => Some(pk.clone()),
                    _ => None,
                })
                .collect();
            seen += partitions.len();
            let counts: Vec<usize> = futures::stream::iter(partitions)
                .map(|pk| self.purge_partition(pk))
                .buffer_unordered(PARALLEL_PARTITIONS)
                .try_collect()
                .await?;
            deleted += counts.iter().sum::<usize>();
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok((seen, deleted));
            }
        }
    }

    /// Deletes every item of one resource partition, its version items last.
    async fn purge_partition(&self, pk: String) -> Result<usize, StoreError> {
        let mut keys = self
            .partition_keys(&self.resources_table, &pk, "list resource items")
            .await?;
        let is_version = |key: &Key| matches!(key.get(layout::SK), Some(AttributeValue::S(sk)) if sk.starts_with(layout::VERSION_PREFIX));
        keys.sort_by_key(is_version);
        batch_delete(&self.dynamodb, &self.resources_table, keys).await
    }

    /// The keys of every item in partition `pk` of `table` (both tables key on `pk`, `sk`).
    async fn partition_keys(
        &self,
        table: &str,
        pk: &str,
        context: &str,
    ) -> Result<Vec<Key>, StoreError> {
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamodb
                .query()
                .table_name(table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", layout::PK)
                .expression_attribute_names("#sk", layout::SK)
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
                .projection_expression("#pk, #sk")
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error(context, e))?;
            keys.extend(page.items().iter().cloned());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(keys);
            }
        }
    }

    /// Deletes the tenant's job records and active-job counter; returns how many items.
    async fn purge_jobs(&self, tenant: &TenantId) -> Result<usize, StoreError> {
        let keys = self
            .partition_keys(&self.jobs_table, tenant.as_str(), "list tenant jobs")
            .await?;
        batch_delete(&self.dynamodb, &self.jobs_table, keys).await
    }

    /// Deletes the tenant's objects and aborts its unfinished uploads; returns how many
    /// objects.
    async fn purge_blobs(&self, tenant: &TenantId) -> Result<usize, StoreError> {
        let prefix = format!("tenants/{tenant}/");
        let mut deleted = 0;
        // Each page listed is deleted before the next listing, which starts over: what is
        // left is always exactly what a listing shows.
        loop {
            let page = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&prefix)
                .max_keys(OBJECTS_PER_DELETE)
                .send()
                .await
                .map_err(|e| sdk_error("list tenant blobs", e))?;
            let objects = page
                .contents()
                .iter()
                .filter_map(|object| object.key())
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::internal("build blob delete", e))?;
            if objects.is_empty() {
                break;
            }
            let count = objects.len();
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| StoreError::internal("build blob delete", e))?;
            let out = self
                .s3
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| sdk_error("delete tenant blobs", e))?;
            if let Some(error) = out.errors().first() {
                return Err(StoreError::Busy(format!(
                    "delete tenant blobs: {} of {count} not deleted, the first {}: {}",
                    out.errors().len(),
                    error.key().unwrap_or_default(),
                    error.code().unwrap_or_default()
                )));
            }
            deleted += count;
        }
        self.abort_uploads(&prefix).await?;
        Ok(deleted)
    }

    /// Aborts the multipart uploads under `prefix` (a put cut short by the destroy).
    async fn abort_uploads(&self, prefix: &str) -> Result<(), StoreError> {
        loop {
            let page = self
                .s3
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .prefix(prefix)
                .send()
                .await
                .map_err(|e| sdk_error("list tenant uploads", e))?;
            let uploads: Vec<(String, String)> = page
                .uploads()
                .iter()
                .filter_map(|u| Some((u.key()?.to_owned(), u.upload_id()?.to_owned())))
                .collect();
            if uploads.is_empty() {
                return Ok(());
            }
            for (key, upload_id) in uploads {
                self.s3
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .send()
                    .await
                    .map_err(|e| sdk_error("abort tenant upload", e))?;
            }
        }
    }
}

/// Deletes `keys` from `table` in batches, retrying what comes back unprocessed; returns how
/// many were asked (deleting an absent item is no error).
async fn batch_delete(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<Key>,
) -> Result<usize, StoreError> {
    let total = keys.len();
    let requests = keys
        .into_iter()
        .map(|key| {
            DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .map(|delete| WriteRequest::builder().delete_request(delete).build())
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError::internal("build item delete", e))?;
    for chunk in requests.chunks(BATCH) {
        let mut pending = chunk.to_vec();
        let mut attempt = 0;
        while !pending.is_empty() {
            if attempt == BATCH_ATTEMPTS {
                return Err(StoreError::Busy(format!(
                    "delete items of {table}: {} still unprocessed after {BATCH_ATTEMPTS} attempts",
                    pending.len()
                )));
            }
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            attempt += 1;
            let out = client
                .batch_write_item()
                .request_items(table, pending)
                .send()
                .await
                .map_err(|e| sdk_error("delete tenant items", e))?;
            pending = out
                .unprocessed_items
                .and_then(|mut unprocessed| unprocessed.remove(table))
                .unwrap_or_default();
        }
    }
    Ok(total)
}

/// The wait before retry `attempt` (1, 2, ...): 50 ms doubling, at most 3.2 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(50 << attempt.saturating_sub(1).min(6))
}

#[async_trait]
impl TenantPartitions for AwsTenantPartitions {
    async fn provision(&self, tenant: &TenantId) -> Result<(), StoreError> {
        self.envelope.keys().provision(tenant).await
    }

    async fn destroy(&self, tenant: &TenantId, progress: Progress<'_>) -> Result<(), StoreError> {
        self.envelope.keys().destroy(tenant).await?;
        self.envelope.forget(tenant);
        progress("tenant key scheduled for deletion");
        let items = self.purge_resources(tenant).await?;
        progress(&format!("{items} resource items deleted"));
        let objects = self.purge_blobs(tenant).await?;
        progress(&format!("{objects} blobs deleted"));
        let jobs = self.purge_jobs(tenant).await?;
        progress(&format!("{jobs} job items deleted"));
        self.index.drop_tenant(tenant).await?;
        progress("search index dropped");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let waits: Vec<u64> = (1..=9).map(|a| backoff(a).as_millis() as u64).collect();
        assert_eq!(waits, [50, 100, 200, 400, 800, 1600, 3200, 3200, 3200]);
    }
}
