//! The jobs table: its schema, its creation, and the items of a job record.
//!
//! - a job: pk `{tenant}`, sk `job#{id}`, with `state`, `expires` (epoch milliseconds),
//!   `doc`, `revision` and `exp_shard` (`exp#{0..SHARDS}`, from the id);
//! - the tenant's active-job counter: pk `{tenant}`, sk `jobs#active`, attribute `active`;
//! - the index `by-expiry` (partition `exp_shard`, sort `expires`, keys only) finds expired
//!   jobs of every tenant with one query per shard, never a scan. Counter items have no
//!   `exp_shard`, so the index holds jobs only.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TableStatus,
};
use chrono::{DateTime, Utc};
use hearth_store::{JobId, JobRecord, JobState, StoreError};
use hearth_tenancy::TenantId;

use crate::error::{error_code, sdk_error};

pub(super) type Item = HashMap<String, AttributeValue>;

/// Partitions of the expiry index; spreads its writes (each job lands on one).
pub(super) const SHARDS: u8 = 8;
pub(super) const EXPIRY_INDEX: &str = "by-expiry";
pub(super) const COUNTER_SK: &str = "jobs#active";
const JOB_PREFIX: &str = "job#";

/// Creates the jobs table when absent and waits until it is active.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), StoreError> {
    let build = |e| StoreError::internal("build jobs table schema", e);
    let key = |name: &str, key_type| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(build)
    };
    let attribute = |name: &str, kind| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(kind)
            .build()
            .map_err(build)
    };
    let index = GlobalSecondaryIndex::builder()
        .index_name(EXPIRY_INDEX)
        .key_schema(key("exp_shard", KeyType::Hash)?)
        .key_schema(key("expires", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
        )
        .build()
        .map_err(build)?;
    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .attribute_definitions(attribute("pk", ScalarAttributeType::S)?)
        .attribute_definitions(attribute("sk", ScalarAttributeType::S)?)
        .attribute_definitions(attribute("exp_shard", ScalarAttributeType::S)?)
        .attribute_definitions(attribute("expires", ScalarAttributeType::N)?)
        .global_secondary_indexes(index)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if error_code(&e) == Some("ResourceInUseException") => {}
        Err(e) => return Err(sdk_error("create jobs table", e)),
    }
    wait_until_active(client, name).await
}

async fn wait_until_active(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(), StoreError> {
    for _ in 0..240 {
        let table = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| sdk_error("describe jobs table", e))?
            .table;
        if table.and_then(|t| t.table_status) == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StoreError::Busy(format!("table {name} is not active yet")))
}

pub(super) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn job_sk(id: &JobId) -> String {
    format!("{JOB_PREFIX}{id}")
}

/// The index shard of a job: from its (random) id, so stable across updates.
pub(super) fn shard(id: &JobId) -> String {
    let first = id.as_str().get(..2).unwrap_or("0");
    let value = u8::from_str_radix(first, 16).unwrap_or(0);
    format!("exp#{}", value % SHARDS)
}

pub(super) fn key_of(tenant: &TenantId, sk: &str) -> Item {
    HashMap::from([("pk".into(), s(tenant.as_str())), ("sk".into(), s(sk))])
}

pub(super) fn state_name(state: JobState) -> &'static str {
    match state {
        JobState::Active => "active",
        JobState::Finished => "finished",
    }
}

/// The item of a new job record (revision 1).
pub(super) fn job_item(tenant: &TenantId, record: &JobRecord) -> Item {
    let mut item = key_of(tenant, &job_sk(&record.id));
    item.insert("state".into(), s(state_name(record.state)));
    item.insert("expires".into(), n(record.expires.timestamp_millis()));
    item.insert("exp_shard".into(), s(&shard(&record.id)));
    item.insert("doc".into(), s(&record.doc));
    item.insert("revision".into(), n(1));
    item
}

fn string<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(StoreError::internal(
            "read job item",
            format!("no string {name}"),
        )),
    }
}

fn number(item: &Item, name: &str) -> Result<i64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map_err(|e| StoreError::internal("read job item", format!("{name}: {e}"))),
        _ => Err(StoreError::internal(
            "read job item",
            format!("no number {name}"),
        )),
    }
}

/// The job id of a job item's sort key.
pub(super) fn job_id_of(item: &Item) -> Result<JobId, StoreError> {
    let sk = string(item, "sk")?;
    sk.strip_prefix(JOB_PREFIX)
        .ok_or_else(|| StoreError::internal("read job item", format!("not a job: {sk}")))?
        .parse()
}

pub(super) fn tenant_of(item: &Item) -> Result<TenantId, StoreError> {
    string(item, "pk")?
        .parse()
        .map_err(|e| StoreError::internal("read job item", e))
}

pub(super) fn expires_of(item: &Item) -> Result<i64, StoreError> {
    number(item, "expires")
}

pub(super) fn record_of(item: &Item) -> Result<JobRecord, StoreError> {
    let state = match string(item, "state")? {
        "active" => JobState::Active,
        "finished" => JobState::Finished,
        other => {
            return Err(StoreError::internal(
                "read job item",
                format!("state {other}"),
            ));
        }
    };
    let expires = DateTime::<Utc>::from_timestamp_millis(expires_of(item)?)
        .ok_or_else(|| StoreError::internal("read job item", "expires out of range"))?;
    let revision = u64::try_from(number(item, "revision")?)
        .map_err(|e| StoreError::internal("read job item", e))?;
    Ok(JobRecord {
        id: job_id_of(item)?,
        state,
        expires,
        doc: string(item, "doc")?.to_owned(),
        revision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip() {
        let tenant: TenantId = "acme".parse().unwrap();
        let record = JobRecord {
            id: JobId::random(),
            state: JobState::Finished,
            expires: DateTime::<Utc>::from_timestamp_millis(1_700_000_000_123).unwrap(),
            doc: r#"{"a":1}"#.into(),
            revision: 1,
        };
        let item = job_item(&tenant, &record);
        assert_eq!(record_of(&item).unwrap(), record);
        assert_eq!(tenant_of(&item).unwrap(), tenant);
    }

    #[test]
    fn shards_are_stable_and_bounded() {
        let id: JobId = "ff00000000000000000000000000000a".parse().unwrap();
        assert_eq!(shard(&id), "exp#7");
        for _ in 0..100 {
            let id = JobId::random();
            assert_eq!(shard(&id), shard(&id));
            let n: u8 = shard(&id)[4..].parse().unwrap();
            assert!(n < SHARDS);
        }
    }
}
