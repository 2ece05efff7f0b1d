//! Locks of a staged write on current items (`txl` = its transaction id, `txo` = its op), a
//! placeholder current item for a resource that does not exist yet, and what anyone who
//! meets a lock does about it.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use hearth_store::{StoreError, WriteOp};
use hearth_tenancy::TenantId;

use super::super::DynamoStore;
use super::super::item::{Item, n, s};
use super::super::plan::build_err;
use super::super::read::item_key;
use super::super::table::{CURRENT, TX_LOCK, TX_OP, VERSION, pk};
use super::super::write::{LOCK_WAIT, MAX_ITEMS};
use super::CONCURRENCY;
use super::record::State;
use crate::error::sdk_error;

/// A staged write's lock on a current item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lock {
    pub(crate) tx: String,
    pub(crate) op: usize,
}

/// What meeting a lock came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Met {
    /// The write was rolled forward, or the lock was stale and is gone: read again.
    Resolved,
    /// The write is in progress: its resource is as it was before it.
    Held,
}

pub(crate) fn lock_of(item: &Item) -> Option<Lock> {
    let tx = match item.get(TX_LOCK) {
        Some(AttributeValue::S(tx)) => tx.clone(),
        _ => return None,
    };
    let op = match item.get(TX_OP) {
        Some(AttributeValue::N(op)) => op.parse().ok()?,
        _ => return None,
    };
    Some(Lock { tx, op })
}

/// A current item that only holds a lock: the resource does not exist.
pub(crate) fn is_placeholder(item: &Item) -> bool {
    !item.contains_key(VERSION)
}

fn lock_update(table: &str, pk: String, tx: &str, op: usize) -> Result<Update, StoreError> {
    Update::builder()
        .table_name(table)
        .set_key(Some(item_key(pk, CURRENT)))
        .update_expression("SET #txl = :tx, #txo = :op")
        .condition_expression("attribute_not_exists(#txl) OR #txl = :tx")
        .expression_attribute_names("#txl", TX_LOCK)
        .expression_attribute_names("#txo", TX_OP)
        .expression_attribute_values(":tx", s(tx))
        .expression_attribute_values(":op", n(op))
        .build()
        .map_err(build_err)
}

/// The transaction item releasing one lock: deleting a placeholder, or removing the lock.
pub(crate) fn release_item(
    table: &str,
    pk: String,
    tx: &str,
    placeholder: bool,
) -> Result<TransactWriteItem, StoreError> {
    let key = Some(item_key(pk, CURRENT));
    Ok(if placeholder {
        let delete = Delete::builder()
            .table_name(table)
            .set_key(key)
            .condition_expression("#txl = :tx")
            .expression_attribute_names("#txl", TX_LOCK)
            .expression_attribute_values(":tx", s(tx))
            .build()
            .map_err(build_err)?;
        TransactWriteItem::builder().delete(delete).build()
    } else {
        let update = Update::builder()
            .table_name(table)
            .set_key(key)
            .update_expression("REMOVE #txl, #txo")
            .condition_expression("#txl = :tx")
            .expression_attribute_names("#txl", TX_LOCK)
            .expression_attribute_names("#txo", TX_OP)
            .expression_attribute_values(":tx", s(tx))
            .build()
            .map_err(build_err)?;
        TransactWriteItem::builder().update(update).build()
    })
}

impl DynamoStore {
    /// Locks the resources of `ops` for `tx`, in partition key order (so two staged writes
    /// never wait on each other in a cycle), [`MAX_ITEMS`] per transaction. Records each op
    /// locked in `locked`. A resource held by a write in progress is waited for, up to
    /// [`LOCK_WAIT`] per group, then `Busy`.
    pub(crate) async fn lock_all(
        &self,
        tenant: &TenantId,
        tx: &str,
        ops: &[WriteOp],
        locked: &mut Vec<usize>,
    ) -> Result<(), StoreError> {
        let mut order: Vec<(String, usize)> = ops
            .iter()
            .enumerate()
            .map(|(i, op)| (pk(tenant, &op.key), i))
            .collect();
        order.sort();
        for group in order.chunks(MAX_ITEMS) {
            let started = Instant::now();
            let mut attempt = 0u32;
            loop {
                attempt += 1;
                let items = group
                    .iter()
                    .map(|(pk, i)| {
                        let update = lock_update(&self.table, pk.clone(), tx, *i)?;
                        Ok(TransactWriteItem::builder().update(update).build())
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let sent = self
                    .client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .send()
                    .await;
                let err = match sent {
                    Ok(_) => {
                        locked.extend(group.iter().map(|(_, i)| *i));
                        break;
                    }
                    Err(err) => err,
                };
                let blocked: Vec<&String> = match err.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(cancel)) => cancel
                        .cancellation_reasons()
                        .iter()
                        .zip(group)
                        .filter(|(r, _)| r.code() == Some("ConditionalCheckFailed"))
                        .map(|(_, (pk, _))| pk)
                        .collect(),
                    Some(TransactWriteItemsError::TransactionInProgressException(_)) => Vec::new(),
                    _ => return Err(sdk_error("lock resources", err)),
                };
                let mut held = false;
                for pk in blocked {
                    let item = self.get_item(item_key(pk.clone(), CURRENT)).await?;
                    if let Some(lock) = item.as_ref().and_then(lock_of) {
                        held |= self.meet_lock(tenant, pk, &lock).await? == Met::Held;
                    }
                }
                if started.elapsed() > LOCK_WAIT {
                    return Err(StoreError::Busy(
                        "another large transaction holds these resources".into(),
                    ));
                }
                if held || attempt > 1 {
                    let pause = if held { 50 } else { u64::from(attempt.min(20)) };
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            }
        }
        Ok(())
    }

    /// Releases `tx`'s locks on `pks` (`Some(placeholder)` when known; the locks not held
    /// are left alone): a transaction per group when the kinds are known, one by one else.
    pub(crate) async fn release(
        &self,
        tx: &str,
        pks: Vec<(String, Option<bool>)>,
    ) -> Result<(), StoreError> {
        let (known, unknown): (Vec<_>, Vec<_>) = pks.into_iter().partition(|(_, p)| p.is_some());
        let mut one_by_one: Vec<String> = unknown.into_iter().map(|(pk, _)| pk).collect();
        for group in known.chunks(MAX_ITEMS) {
            let items = group
                .iter()
                .map(|(pk, p)| release_item(&self.table, pk.clone(), tx, p.unwrap_or(false)))
                .collect::<Result<Vec<_>, _>>()?;
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            if sent.is_err() {
                one_by_one.extend(group.iter().map(|(pk, _)| pk.clone()));
            }
        }
        let clears: Vec<_> = one_by_one
            .iter()
            .map(|pk| self.clear_lock(pk, tx))
            .collect();
        futures::stream::iter(clears)
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Removes `tx`'s lock on the current item `pk`, if it is still there: deletes a
    /// placeholder, or removes the lock from a real item.
    pub(crate) async fn clear_lock(&self, pk: &str, tx: &str) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item_key(pk.to_owned(), CURRENT)))
            .condition_expression("#txl = :tx AND attribute_not_exists(#v)")
            .expression_attribute_names("#txl", TX_LOCK)
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_values(":tx", s(tx))
            .send()
            .await;
        match deleted {
            Ok(_) => return Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(DeleteItemError::ConditionalCheckFailedException(_))
                ) => {}
            Err(e) => return Err(sdk_error("release a lock", e)),
        }
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item_key(pk.to_owned(), CURRENT)))
            .update_expression("REMOVE #txl, #txo")
            .condition_expression("#txl = :tx")
            .expression_attribute_names("#txl", TX_LOCK)
            .expression_attribute_names("#txo", TX_OP)
            .expression_attribute_values(":tx", s(tx))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("release a lock", e)),
        }
    }

    /// Resolves a lock met on the current item `pk`: a committed write is rolled forward on
    /// that resource; an aborted or vanished write's lock is removed; a pending write whose
    /// heartbeat stopped longer than the lock timeout ago is aborted first; a pending write
    /// that is alive holds.
    pub(crate) async fn meet_lock(
        &self,
        tenant: &TenantId,
        pk: &str,
        lock: &Lock,
    ) -> Result<Met, StoreError> {
        for _ in 0..3 {
            let record = self.get_record(tenant, &lock.tx).await?;
            match record.map(|r| (r.state, r.heartbeat_ms)) {
                None | Some((State::Aborted, _)) => {
                    self.clear_lock(pk, &lock.tx).await?;
                    return Ok(Met::Resolved);
                }
                Some((State::Committed, _)) => {
                    self.roll_forward_op(tenant, &lock.tx, lock.op).await?;
                    return Ok(Met::Resolved);
                }
                Some((State::Pending, heartbeat)) => {
                    let silent = Utc::now().timestamp_millis() - heartbeat;
                    if silent <= self.lock_timeout.as_millis() as i64 {
                        return Ok(Met::Held);
                    }
                    let aborted = self
                        .transition(
                            tenant,
                            &lock.tx,
                            State::Pending,
                            State::Aborted,
                            Some(heartbeat),
                        )
                        .await?;
                    if aborted {
                        tracing::warn!(%tenant, tx = %lock.tx, "aborted a staged write whose writer stopped");
                        self.clear_lock(pk, &lock.tx).await?;
                        self.discard(tenant, &lock.tx).await?;
                        return Ok(Met::Resolved);
                    }
                }
            }
        }
        Ok(Met::Held)
    }
}
