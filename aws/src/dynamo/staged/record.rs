//! The record of a staged write: partition `{tenant}#tx`, sort key the transaction id. Its
//! state (`pending`, `committed`, `aborted`) decides what a lock pointing at it means; its
//! heartbeat tells a live writer from a dead one. All of a tenant's staged writes in flight
//! are listed by one query on that partition.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use chrono::Utc;
use hearth_store::StoreError;
use hearth_tenancy::TenantId;

use super::super::DynamoStore;
use super::super::item::{Item, n, number, s, string};
use super::super::read::item_key;
use super::super::table::{PK, SK};
use crate::error::sdk_error;

/// The record's state.
const STATE: &str = "st";
/// When the writer last showed it was alive (ms).
const HEARTBEAT: &str = "hb";
/// When the write started (ms).
const CREATED: &str = "cr";
/// The number of ops.
const OPS: &str = "ops";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Locking and staging; nothing visible has changed. Abandoned when its heartbeat stops.
    Pending,
    /// Past the commit point: whoever meets it completes it.
    Committed,
    /// Given up: its locks are stale.
    Aborted,
}

impl State {
    fn code(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Committed => "committed",
            State::Aborted => "aborted",
        }
    }

    fn of(code: &str) -> Result<State, StoreError> {
        match code {
            "pending" => Ok(State::Pending),
            "committed" => Ok(State::Committed),
            "aborted" => Ok(State::Aborted),
            _ => Err(StoreError::internal(
                "read staged write record",
                "bad state",
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) state: State,
    pub(crate) heartbeat_ms: i64,
    pub(crate) ops: usize,
}

pub(crate) fn record_key(tenant: &TenantId, tx: &str) -> Item {
    item_key(format!("{tenant}#tx"), tx)
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn record_of(item: &Item) -> Result<Record, StoreError> {
    Ok(Record {
        state: State::of(string(item, STATE)?)?,
        heartbeat_ms: number(item, HEARTBEAT)?,
        ops: usize::try_from(number(item, OPS)?).unwrap_or(0),
    })
}

/// Sets the heartbeat of a pending record; `false` once the record is no longer pending.
async fn beat(client: &Client, table: &str, key: Item) -> Result<bool, StoreError> {
    let sent = client
        .update_item()
        .table_name(table)
        .set_key(Some(key))
        .update_expression("SET #hb = :now")
        .condition_expression("#st = :pending")
        .expression_attribute_names("#hb", HEARTBEAT)
        .expression_attribute_names("#st", STATE)
        .expression_attribute_values(":now", n(now_ms()))
        .expression_attribute_values(":pending", s(State::Pending.code()))
        .send()
        .await;
    match sent {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(UpdateItemError::ConditionalCheckFailedException(_))
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(sdk_error("keep a staged write alive", e)),
    }
}

/// Keeps a pending record's heartbeat fresh until dropped.
pub(crate) struct Heartbeat(tokio::task::JoinHandle<()>);

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl DynamoStore {
    /// Creates the pending record of a new staged write.
    pub(crate) async fn create_record(
        &self,
        tenant: &TenantId,
        tx: &str,
        ops: usize,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut item = record_key(tenant, tx);
        item.insert(STATE.into(), s(State::Pending.code()));
        item.insert(HEARTBEAT.into(), n(now));
        item.insert(CREATED.into(), n(now));
        item.insert(OPS.into(), n(ops));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await
            .map_err(|e| sdk_error("create staged write record", e))?;
        Ok(())
    }

    /// Beats the record's heartbeat every quarter of the lock timeout until dropped.
    pub(crate) fn heartbeat(&self, tenant: &TenantId, tx: &str) -> Heartbeat {
        let (client, table, key) = (
            self.client.clone(),
            self.table.clone(),
            record_key(tenant, tx),
        );
        let every = (self.lock_timeout / 4).max(Duration::from_millis(10));
        Heartbeat(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match beat(&client, &table, key.clone()).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => tracing::warn!(error = %e, "staged write heartbeat failed"),
                }
            }
        }))
    }

    pub(crate) async fn get_record(
        &self,
        tenant: &TenantId,
        tx: &str,
    ) -> Result<Option<Record>, StoreError> {
        self.get_item(record_key(tenant, tx))
            .await?
            .map(|item| record_of(&item))
            .transpose()
    }

    /// Moves the record from `from` to `to` (when `heartbeat` is given, only if the heartbeat
    /// is still that one); `false` when the record was not in that state.
    pub(crate) async fn transition(
        &self,
        tenant: &TenantId,
        tx: &str,
        from: State,
        to: State,
        heartbeat: Option<i64>,
    ) -> Result<bool, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(record_key(tenant, tx)))
            .update_expression("SET #st = :to")
            .expression_attribute_names("#st", STATE)
            .expression_attribute_values(":to", s(to.code()))
            .expression_attribute_values(":from", s(from.code()));
        update = match heartbeat {
            Some(hb) => update
                .condition_expression("#st = :from AND #hb = :hb")
                .expression_attribute_names("#hb", HEARTBEAT)
                .expression_attribute_values(":hb", n(hb)),
            None => update.condition_expression("#st = :from"),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error("update staged write record", e)),
        }
    }

    pub(crate) async fn delete_record(
        &self,
        tenant: &TenantId,
        tx: &str,
    ) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(record_key(tenant, tx)))
            .send()
            .await
            .map_err(|e| sdk_error("delete staged write record", e))?;
        Ok(())
    }

    /// The tenant's staged writes in flight (or left behind), by transaction id.
    pub(crate) async fn list_records(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(String, Record)>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(format!("{tenant}#tx")))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("list staged writes", e))?;
            for item in page.items() {
                out.push((string(item, SK)?.to_owned(), record_of(item)?));
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(out);
            }
        }
    }
}
