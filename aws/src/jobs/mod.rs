//! `JobStore` on DynamoDB: an item per job and a counter of active jobs per tenant (layout in
//! [`table`]).
//!
//! Every change of a job's state moves the counter in the same `TransactWriteItems`: a create
//! of an active job adds one under the condition `active < max_active`; finishing or deleting
//! an active job takes one off. Updates are conditional on the revision that was read.

mod table;

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use futures::future::try_join_all;
use hearth_store::{JobId, JobRecord, JobState, JobStore, StoreError};
use hearth_tenancy::TenantId;

use crate::config::{AwsClients, AwsConfig};
use crate::error::sdk_error;
pub use table::create_table;
use table::{COUNTER_SK, EXPIRY_INDEX, Item, SHARDS, job_sk, key_of, n, s};

/// Tries of a write that lost a race (a transaction conflict, a concurrent update).
const TRIES: usize = 5;

/// Job records of every tenant in one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoJobStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// How a transaction ended.
enum Outcome {
    Done,
    /// The condition of the item at this position did not hold.
    ConditionFailed(usize),
    /// Another transaction touched the same items; try again.
    Conflict,
}

impl DynamoJobStore {
    pub fn new(clients: &AwsClients, config: &AwsConfig) -> DynamoJobStore {
        DynamoJobStore {
            client: clients.dynamodb.clone(),
            table: config.jobs_table_name(),
        }
    }

    async fn read(&self, tenant: &TenantId, id: &JobId) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_of(tenant, &job_sk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("read job", e))?;
        Ok(output.item)
    }

    async fn transact(
        &self,
        context: &str,
        items: Vec<TransactWriteItem>,
    ) -> Result<Outcome, StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(Outcome::Done),
            Err(e) => {
                let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
                    e.as_service_error()
                else {
                    return Err(sdk_error(context, e));
                };
                let codes: Vec<_> = cancel
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None"))
                    .collect();
                if let Some(at) = codes.iter().position(|c| *c == "ConditionalCheckFailed") {
                    Ok(Outcome::ConditionFailed(at))
                } else if codes.contains(&"TransactionConflict") {
                    Ok(Outcome::Conflict)
                } else {
                    Err(StoreError::Busy(format!(
                        "{context}: cancelled ({codes:?})"
                    )))
                }
            }
        }
    }

    /// Moves the tenant's active-job counter by `delta`.
    fn counter_change(
        &self,
        tenant: &TenantId,
        delta: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(tenant, COUNTER_SK)))
            .update_expression("ADD active :delta")
            .expression_attribute_values(":delta", n(delta))
            .build()
            .map_err(|e| StoreError::internal("build job counter update", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Queries one shard of the expiry index for jobs expired at `now`, at most `limit`.
    async fn expired_in(
        &self,
        shard: u8,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(i64, TenantId, JobId)>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(EXPIRY_INDEX)
                .key_condition_expression("exp_shard = :shard AND expires <= :now")
                .expression_attribute_values(":shard", s(&format!("exp#{shard}")))
                .expression_attribute_values(":now", n(now))
                .limit(limit.clamp(1, 1000) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("query expired jobs", e))?;
            for item in output.items.unwrap_or_default() {
                let expires = table::expires_of(&item)?;
                found.push((expires, table::tenant_of(&item)?, table::job_id_of(&item)?));
            }
            start = output.last_evaluated_key;
            if start.is_none() || found.len() >= limit {
                return Ok(found);
            }
        }
    }
}

#[async_trait]
impl JobStore for DynamoJobStore {
    async fn create(
        &self,
        tenant: &TenantId,
        record: &JobRecord,
        max_active: usize,
    ) -> Result<bool, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(table::job_item(tenant, record)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::internal("build job put", e))?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        if record.state == JobState::Active {
            if max_active == 0 {
                return Ok(false);
            }
            let update = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(tenant, COUNTER_SK)))
                .update_expression("ADD active :one")
                .condition_expression("attribute_not_exists(active) OR active < :max")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":max", n(max_active))
                .build()
                .map_err(|e| StoreError::internal("build job counter update", e))?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        for _ in 0..TRIES {
            match self.transact("create job", items.clone()).await? {
                Outcome::Done => return Ok(true),
                Outcome::ConditionFailed(0) => {
                    return Err(StoreError::Invalid(format!("job {} exists", record.id)));
                }
                Outcome::ConditionFailed(_) => return Ok(false),
                Outcome::Conflict => continue,
            }
        }
        Err(StoreError::Busy("create job: too many conflicts".into()))
    }

    async fn get(&self, tenant: &TenantId, id: &JobId) -> Result<Option<JobRecord>, StoreError> {
        self.read(tenant, id)
            .await?
            .map(|item| table::record_of(&item))
            .transpose()
    }

    async fn update(
        &self,
        tenant: &TenantId,
        record: &JobRecord,
    ) -> Result<Option<u64>, StoreError> {
        let Some(current) = self.get(tenant, &record.id).await? else {
            return Ok(None);
        };
        if current.revision != record.revision {
            return Ok(None);
        }
        let next = record.revision + 1;
        let values = HashMap::from([
            (":state".to_owned(), s(table::state_name(record.state))),
            (":expires".to_owned(), n(record.expires.timestamp_millis())),
            (":doc".to_owned(), s(&record.doc)),
            (":next".to_owned(), n(next)),
            (":revision".to_owned(), n(record.revision)),
        ]);
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_of(tenant, &job_sk(&record.id))))
            .update_expression(
                "SET #state = :state, expires = :expires, doc = :doc, revision = :next",
            )
            .condition_expression("revision = :revision")
            .expression_attribute_names("#state", "state")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::internal("build job update", e))?;
        let mut items = vec![TransactWriteItem::builder().update(update).build()];
        match (current.state, record.state) {
            (JobState::Active, JobState::Finished) => items.push(self.counter_change(tenant, -1)?),
            // Reactivation is not limited: the caller checked the limit when it created the job.
            (JobState::Finished, JobState::Active) => items.push(self.counter_change(tenant, 1)?),
            _ => {}
        }
        match self.transact("update job", items).await? {
            Outcome::Done => Ok(Some(next)),
            Outcome::ConditionFailed(_) | Outcome::Conflict => Ok(None),
        }
    }

    async fn delete(&self, tenant: &TenantId, id: &JobId) -> Result<(), StoreError> {
        for _ in 0..TRIES {
            let Some(current) = self.get(tenant, id).await? else {
                return Ok(());
            };
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(tenant, &job_sk(id))))
                .condition_expression("revision = :revision")
                .expression_attribute_values(":revision", n(current.revision))
                .build()
                .map_err(|e| StoreError::internal("build job delete", e))?;
            let mut items = vec![TransactWriteItem::builder().delete(delete).build()];
            if current.state == JobState::Active {
                items.push(self.counter_change(tenant, -1)?);
            }
            if let Outcome::Done = self.transact("delete job", items).await? {
                return Ok(());
            }
        }
        Err(StoreError::Busy(format!(
            "delete job {id}: too many conflicts"
        )))
    }

    async fn expired(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(TenantId, JobId)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = now.timestamp_millis();
        let shards = (0..SHARDS).map(|shard| self.expired_in(shard, now, limit));
        let mut found: Vec<_> = try_join_all(shards).await?.into_iter().flatten().collect();
        found.sort_by_key(|(expires, _, _)| *expires);
        found.truncate(limit);
        Ok(found
            .into_iter()
            .map(|(_, tenant, id)| (tenant, id))
            .collect())
    }
}
