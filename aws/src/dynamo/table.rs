//! The table's layout: attribute names, key formats, the two history indexes, and
//! `create_table` for tests and local bootstrap.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use hearth_fhir::VersionId;
use hearth_store::{ResourceKey, StoreError};
use hearth_tenancy::TenantId;

use crate::error::{error_code, sdk_error};

/// Partition key: `{tenant}#{rt}#{id}`.
pub(crate) const PK: &str = "pk";
/// Sort key: `cur`, `v#{version:012}` or `c#{version:012}#{chunk:04}`.
pub(crate) const SK: &str = "sk";
pub(crate) const TENANT: &str = "t";
pub(crate) const RT: &str = "rt";
pub(crate) const ID: &str = "id";
pub(crate) const VERSION: &str = "v";
/// `last_updated` in milliseconds since the epoch.
pub(crate) const LAST_UPDATED: &str = "lu";
pub(crate) const METHOD: &str = "m";
/// The sealed body, when it fits in the item.
pub(crate) const BODY: &str = "b";
/// The number of chunk items holding the sealed body, when it does not.
pub(crate) const CHUNKS: &str = "n";
/// The blob-store object holding the sealed body, when it is too large for chunk items.
pub(crate) const OBJECT: &str = "o";
/// The sealed index entries (current item only).
pub(crate) const INDEX: &str = "x";
pub(crate) const BLOB: &str = "blob";
/// On a version item: the `last_updated` of the version that replaced it.
pub(crate) const SUPERSEDED: &str = "sup";
/// Partition of `by_type`: `{tenant}#{rt}#{shard}`.
pub(crate) const TYPE_PART: &str = "gt";
/// Partition of `by_tenant`: `{tenant}#{shard}`.
pub(crate) const TENANT_PART: &str = "ga";
/// Sort key of both history indexes (see [`history_key`]).
pub(crate) const HISTORY_KEY: &str = "gs";

pub(crate) const BY_TYPE: &str = "by_type";
pub(crate) const BY_TENANT: &str = "by_tenant";

/// Partitions per tenant (and per tenant and type) in the history indexes: one busy type
/// spreads over this many, and export reads them one after another.
pub(crate) const SHARDS: u32 = 8;

pub(crate) const CURRENT: &str = "cur";

/// On a current item: the staged write holding it (its transaction id). A current item
/// without a version number is a placeholder a staged write put there to lock a resource
/// that does not exist; it reads as absent.
pub(crate) const TX_LOCK: &str = "txl";
/// On a locked current item: the number of the holding write's op on this resource.
pub(crate) const TX_OP: &str = "txo";

pub(crate) fn pk(tenant: &TenantId, key: &ResourceKey) -> String {
    format!("{tenant}#{}#{}", key.rt, key.id)
}

pub(crate) fn version_sk(version: VersionId) -> String {
    format!("v#{:012}", version.get())
}

pub(crate) fn chunk_sk(version: VersionId, chunk: usize) -> String {
    format!("c#{:012}#{chunk:04}", version.get())
}

/// A stable hash (FNV-1a), so shards stay put across builds and processes.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub(crate) fn type_part(tenant: &TenantId, key: &ResourceKey) -> String {
    let shard = fnv1a(key.id.as_str()) % u64::from(SHARDS);
    type_part_of(tenant, key.rt.as_str(), shard as u32)
}

pub(crate) fn type_part_of(tenant: &TenantId, rt: &str, shard: u32) -> String {
    format!("{tenant}#{rt}#{shard}")
}

pub(crate) fn tenant_part(tenant: &TenantId, key: &ResourceKey) -> String {
    let shard = fnv1a(&format!("{}/{}", key.rt, key.id)) % u64::from(SHARDS);
    tenant_part_of(tenant, shard as u32)
}

pub(crate) fn tenant_part_of(tenant: &TenantId, shard: u32) -> String {
    format!("{tenant}#{shard}")
}

/// The history order: `{last_updated ms:013}#{seq:020}#{rt}#{id}#{version:012}`. `seq` orders
/// the versions one process stamps within a millisecond; the rest makes the key unique.
pub(crate) fn history_key(
    last_updated_ms: i64,
    seq: u64,
    key: &ResourceKey,
    version: VersionId,
) -> String {
    format!(
        "{last_updated_ms:013}#{seq:020}#{}#{}#{:012}",
        key.rt,
        key.id,
        version.get()
    )
}

/// The lowest history key at or after an instant.
pub(crate) fn history_floor(ms: i64) -> String {
    format!("{:013}", ms.max(0))
}

/// A bound above every history key at or before an instant (`$` sorts after `#`).
pub(crate) fn history_ceiling(ms: i64) -> String {
    format!("{:013}$", ms.max(0))
}

/// Checks the shape of a history key from a cursor.
pub(crate) fn is_history_key(text: &str) -> bool {
    let parts: Vec<&str> = text.split('#').collect();
    parts.len() == 5
        && parts[0].len() == 13
        && parts[1].len() == 20
        && parts[4].len() == 12
        && [parts[0], parts[1], parts[4]]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// The version number at the end of a history key.
pub(crate) fn version_of_history_key(text: &str) -> Option<u64> {
    text.rsplit('#').next()?.parse().ok()
}

fn attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| StoreError::internal("describe table attribute", e))
}

fn key_element(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| StoreError::internal("describe table key", e))
}

fn history_index(name: &str, part: &str) -> Result<GlobalSecondaryIndex, StoreError> {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key_element(part, KeyType::Hash)?)
        .key_schema(key_element(HISTORY_KEY, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| StoreError::internal("describe history index", e))
}

/// Creates the resource table (keys, both history indexes, a stream with old and new images)
/// unless it exists. Idempotent.
pub async fn create_table(client: &Client, name: &str) -> Result<(), StoreError> {
    let stream = StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
        .map_err(|e| StoreError::internal("describe table stream", e))?;
    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute(PK)?)
        .attribute_definitions(attribute(SK)?)
        .attribute_definitions(attribute(TYPE_PART)?)
        .attribute_definitions(attribute(TENANT_PART)?)
        .attribute_definitions(attribute(HISTORY_KEY)?)
        .key_schema(key_element(PK, KeyType::Hash)?)
        .key_schema(key_element(SK, KeyType::Range)?)
        .global_secondary_indexes(history_index(BY_TYPE, TYPE_PART)?)
        .global_secondary_indexes(history_index(BY_TENANT, TENANT_PART)?)
        .stream_specification(stream)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if error_code(&e) == Some("ResourceInUseException") => {}
        Err(e) => return Err(sdk_error("create resource table", e)),
    }
    for _ in 0..120 {
        let described = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| sdk_error("describe resource table", e))?;
        let status = described.table().and_then(|t| t.table_status());
        if status.is_some_and(|s| s.as_str() == "ACTIVE") {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(StoreError::Busy(format!("table {name} is not active yet")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(rt: &str, id: &str) -> ResourceKey {
        ResourceKey::new(rt.parse().unwrap(), id.parse().unwrap())
    }

    #[test]
    fn history_keys_sort_by_time_then_sequence() {
        let k = key("Patient", "a");
        let v = VersionId::FIRST;
        let early = history_key(1_000, 99, &k, v);
        let later_seq = history_key(1_000, 100, &key("Observation", "0"), v);
        let later_ms = history_key(1_001, 0, &k, v);
        assert!(early < later_seq && later_seq < later_ms);
        assert!(history_floor(1_000) <= early && early < history_ceiling(1_000));
        assert!(later_ms > history_ceiling(1_000));
        assert!(is_history_key(&early), "{early}");
        assert_eq!(version_of_history_key(&early), Some(1));
        for bad in ["", "1#2#3#4#5", "000000000100#x", &early[1..]] {
            assert!(!is_history_key(bad), "{bad}");
        }
    }

    #[test]
    fn shards_are_stable_and_spread() {
        let t: TenantId = "t1".parse().unwrap();
        assert_eq!(
            type_part(&t, &key("Patient", "a")),
            type_part(&t, &key("Patient", "a"))
        );
        let shards: std::collections::HashSet<String> = (0..200)
            .map(|i| type_part(&t, &key("Patient", &format!("p{i}"))))
            .collect();
        assert_eq!(shards.len(), SHARDS as usize, "200 ids reach every shard");
    }
}
