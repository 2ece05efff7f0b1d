//! Reads: the current item, one version, many current items at once (BatchGetItem), chunked
//! bodies, opening sealed bodies, and the index documents of current versions.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use hearth_fhir::VersionId;
use hearth_fhir::search::index::IndexEntry;
use hearth_store::{IndexDoc, ResourceKey, StoreError, StoredVersion};
use hearth_tenancy::TenantId;

use super::DynamoStore;
use super::item::{Item, Row, SealedBody, body_aad, bytes, index_aad, row_of, s};
use super::staged::{Met, is_placeholder, lock_of};
use super::table::{BODY, CURRENT, INDEX, PK, SK, chunk_sk, pk, version_sk};
use crate::error::sdk_error;

/// Keys per BatchGetItem call (the service's limit).
const BATCH_KEYS: usize = 100;
/// Staged writes' locks a read resolves on one item before it takes the item as it is.
const SETTLE_ROUNDS: usize = 5;
/// Rounds of retrying the keys a BatchGetItem left unprocessed before giving up as busy.
const BATCH_ROUNDS: u32 = 20;

pub(crate) fn item_key(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

pub(crate) fn instant(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::internal("decode resource item", "last_updated out of range"))
}

impl DynamoStore {
    /// One item, read consistently.
    pub(crate) async fn get_item(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("read resource item", e))?;
        Ok(out.item)
    }

    /// Items by key, read consistently, keyed by partition key (the keys must have distinct
    /// partition keys). `projection` limits the attributes read.
    pub(crate) async fn batch_get(
        &self,
        keys: Vec<Item>,
        projection: Option<&[&str]>,
    ) -> Result<HashMap<String, Item>, StoreError> {
        let mut found = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_KEYS) {
            let mut request = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(true);
            if let Some(names) = projection {
                let placeholders: Vec<String> =
                    (0..names.len()).map(|i| format!("#a{i}")).collect();
                request = request.projection_expression(placeholders.join(", "));
                for (placeholder, name) in placeholders.iter().zip(names) {
                    request = request.expression_attribute_names(placeholder, *name);
                }
            }
            let mut pending = Some(
                request
                    .build()
                    .map_err(|e| StoreError::internal("build batch read", e))?,
            );
            let mut round = 0;
            while let Some(request) = pending.take() {
                if round == BATCH_ROUNDS {
                    return Err(StoreError::Busy("batch read left keys unprocessed".into()));
                }
                if round > 0 {
                    tokio::time::sleep(Duration::from_millis(10 << round.min(6))).await;
                }
                round += 1;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| sdk_error("read resource items", e))?;
                let items = out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default();
                for item in items {
                    if let Some(AttributeValue::S(pk)) = item.get(PK) {
                        found.insert(pk.clone(), item);
                    }
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
            }
        }
        Ok(found)
    }

    /// The sealed body of a chunked version, put back together.
    async fn chunked_body(
        &self,
        tenant: &TenantId,
        key: &ResourceKey,
        version: VersionId,
        chunks: usize,
    ) -> Result<Vec<u8>, StoreError> {
        let mut sealed = Vec::new();
        let mut seen = 0;
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(pk(tenant, key)))
                .expression_attribute_values(":lo", s(chunk_sk(version, 0)))
                .expression_attribute_values(":hi", s(chunk_sk(version, 9999)))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("read body chunks", e))?;
            for item in out.items() {
                sealed.extend_from_slice(bytes(item, BODY)?.unwrap_or_default());
                seen += 1;
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        if seen != chunks {
            return Err(StoreError::internal(
                "read body chunks",
                format!(
                    "{}/{} version {version}: {seen} of {chunks} chunks",
                    key.rt, key.id
                ),
            ));
        }
        Ok(sealed)
    }

    /// A row with its body fetched (if chunked) and opened.
    pub(crate) async fn open_row(
        &self,
        tenant: &TenantId,
        row: Row,
    ) -> Result<StoredVersion, StoreError> {
        let sealed = match row.body {
            SealedBody::Inline(sealed) => Some(sealed),
            SealedBody::Chunked(n) => {
                Some(self.chunked_body(tenant, &row.key, row.version, n).await?)
            }
            SealedBody::Object(name) => Some(self.body_object(tenant, &name).await?),
            SealedBody::Absent => None,
        };
        let body = match sealed {
            Some(sealed) => {
                let aad = body_aad(tenant, &row.key, row.version);
                Some(Bytes::from(
                    self.envelope.open(tenant, &aad, &sealed).await?,
                ))
            }
            None => None,
        };
        Ok(StoredVersion {
            key: row.key,
            version: row.version,
            last_updated: instant(row.last_updated_ms)?,
            method: row.method,
            body,
            blob: row.blob,
        })
    }

    /// A current item as readers see it: a staged write's lock resolved (rolled forward or
    /// removed, then read again) unless that write is in progress, which leaves the item as
    /// it was; a placeholder is absent.
    async fn settled(
        &self,
        tenant: &TenantId,
        pk: &str,
        mut item: Option<Item>,
    ) -> Result<Option<Item>, StoreError> {
        for _ in 0..SETTLE_ROUNDS {
            let Some(lock) = item.as_ref().and_then(lock_of) else {
                break;
            };
            match self.meet_lock(tenant, pk, &lock).await? {
                Met::Resolved => {
                    item = self.get_item(item_key(pk.to_owned(), CURRENT)).await?;
                }
                Met::Held => break,
            }
        }
        Ok(item.filter(|item| !is_placeholder(item)))
    }

    pub(crate) async fn read_current(
        &self,
        tenant: &TenantId,
        key: &ResourceKey,
    ) -> Result<Option<StoredVersion>, StoreError> {
        let pk = pk(tenant, key);
        let item = self.get_item(item_key(pk.clone(), CURRENT)).await?;
        match self.settled(tenant, &pk, item).await? {
            Some(item) => Ok(Some(self.open_row(tenant, row_of(&item)?).await?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn read_version(
        &self,
        tenant: &TenantId,
        key: &ResourceKey,
        version: VersionId,
    ) -> Result<Option<StoredVersion>, StoreError> {
        match self
            .get_item(item_key(pk(tenant, key), &version_sk(version)))
            .await?
        {
            Some(item) => Ok(Some(self.open_row(tenant, row_of(&item)?).await?)),
            None => Ok(None),
        }
    }

    /// The current items of `keys` (deduplicated), keyed by partition key.
    async fn current_items(
        &self,
        tenant: &TenantId,
        keys: &[ResourceKey],
    ) -> Result<HashMap<String, Item>, StoreError> {
        let mut wanted: Vec<String> = keys.iter().map(|k| pk(tenant, k)).collect();
        wanted.sort();
        wanted.dedup();
        let keys = wanted.into_iter().map(|pk| item_key(pk, CURRENT)).collect();
        let mut items = self.batch_get(keys, None).await?;
        let locked: Vec<String> = items
            .iter()
            .filter(|(_, item)| lock_of(item).is_some() || is_placeholder(item))
            .map(|(pk, _)| pk.clone())
            .collect();
        for pk in locked {
            let item = items.remove(&pk);
            if let Some(item) = self.settled(tenant, &pk, item).await? {
                items.insert(pk, item);
            }
        }
        Ok(items)
    }

    pub(crate) async fn read_many_current(
        &self,
        tenant: &TenantId,
        keys: &[ResourceKey],
    ) -> Result<Vec<Option<StoredVersion>>, StoreError> {
        let items = self.current_items(tenant, keys).await?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(match items.get(&pk(tenant, key)) {
                Some(item) => Some(self.open_row(tenant, row_of(item)?).await?),
                None => None,
            });
        }
        Ok(out)
    }

    /// What a search index should hold for `keys` now: each current version with its
    /// (opened) index entries, a delete document for a deleted resource, nothing for a
    /// resource that never existed. For stream indexers and reindexing.
    pub async fn index_docs(
        &self,
        tenant: &TenantId,
        keys: &[ResourceKey],
    ) -> Result<Vec<IndexDoc>, StoreError> {
        let items = self.current_items(tenant, keys).await?;
        let mut docs = Vec::with_capacity(items.len());
        let mut done = std::collections::HashSet::new();
        for key in keys {
            let pk = pk(tenant, key);
            let Some(item) = items.get(&pk) else { continue };
            if !done.insert(pk) {
                continue;
            }
            let row = row_of(item)?;
            let entries = match (&row.body, bytes(item, INDEX)?) {
                (SealedBody::Absent, _) => None,
                (_, Some(sealed)) => {
                    let aad = index_aad(tenant, &row.key, row.version);
                    let plain = self.envelope.open(tenant, &aad, sealed).await?;
                    let entries: Vec<IndexEntry> = super::index_codec::decode(&plain)?;
                    Some(entries)
                }
                (_, None) => Some(Vec::new()),
            };
            docs.push(IndexDoc::new(
                &row.key,
                row.version,
                instant(row.last_updated_ms)?,
                entries,
            ));
        }
        Ok(docs)
    }
}
