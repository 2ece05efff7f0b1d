//! Applying a committed staged write: per op the items the single-transaction path writes
//! (the new current item, which drops the lock, conditioned on the lock still being this
//! write's; the version item; the previous version's `superseded` mark; chunk items), or the
//! lock's release for an op that changes nothing. Ops go in transactions of up to 100 items
//! and 3.9 MB; an op whose lock is gone was applied already and is skipped, so applying
//! again, by anyone, is harmless.

use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use futures::{StreamExt, TryStreamExt};
use hearth_store::StoreError;
use hearth_tenancy::TenantId;

use super::super::DynamoStore;
use super::super::item::s;
use super::super::plan::{build_err, plain_put, superseded_update};
use super::super::table::{TX_LOCK, pk};
use super::super::version::{Items, Step};
use super::super::write::{MAX_BYTES, MAX_ITEMS};
use super::CONCURRENCY;
use super::lock::release_item;
use super::stage::StagedOp;
use crate::error::sdk_error;

/// Ops read back per round when rolling a whole write forward.
const WINDOW: usize = 200;
/// Attempts of one group that keeps meeting transaction conflicts.
const MAX_ATTEMPTS: u32 = 50;

/// An op's transaction items: the first one is its current item.
fn op_items(
    table: &str,
    tenant: &TenantId,
    tx: &str,
    op: &StagedOp,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let new = match &op.step {
        Step::Unchanged => {
            let release = release_item(table, pk(tenant, &op.key), tx, op.placeholder)?;
            return Ok(vec![release]);
        }
        Step::Write(new) => new,
    };
    let Items {
        current,
        version,
        chunks,
        superseded,
    } = new.items(tenant, &op.key);
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(current))
        .condition_expression("#txl = :tx")
        .expression_attribute_names("#txl", TX_LOCK)
        .expression_attribute_values(":tx", s(tx))
        .build()
        .map_err(build_err)?;
    let mut out = vec![TransactWriteItem::builder().put(put).build()];
    out.push(plain_put(table, version)?);
    if let Some((key, ms)) = superseded {
        out.push(superseded_update(table, key, ms)?);
    }
    for chunk in chunks {
        out.push(plain_put(table, chunk)?);
    }
    Ok(out)
}

/// Splits `ops` into groups that each fit in one transaction.
pub(crate) fn groups(ops: &[StagedOp]) -> Vec<&[StagedOp]> {
    let mut out = Vec::new();
    let (mut start, mut items, mut bytes) = (0, 0, 0);
    for (i, op) in ops.iter().enumerate() {
        let (count, size) = match &op.step {
            Step::Unchanged => (1, 100),
            Step::Write(new) => new.footprint(),
        };
        if i > start && (items + count > MAX_ITEMS || bytes + size > MAX_BYTES) {
            out.push(&ops[start..i]);
            (start, items, bytes) = (i, 0, 0);
        }
        items += count;
        bytes += size;
    }
    if start < ops.len() {
        out.push(&ops[start..]);
    }
    out
}

impl DynamoStore {
    /// Applies `ops` of the committed write `tx`.
    pub(crate) async fn apply(
        &self,
        tenant: &TenantId,
        tx: &str,
        ops: &[StagedOp],
    ) -> Result<(), StoreError> {
        let applies: Vec<_> = groups(ops)
            .into_iter()
            .map(|group| self.apply_group(tenant, tx, group))
            .collect();
        futures::stream::iter(applies)
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Applies one group in one transaction, leaving out the ops already applied.
    async fn apply_group(
        &self,
        tenant: &TenantId,
        tx: &str,
        group: &[StagedOp],
    ) -> Result<(), StoreError> {
        let mut todo: Vec<&StagedOp> = group.iter().collect();
        for attempt in 0..MAX_ATTEMPTS {
            if todo.is_empty() {
                return Ok(());
            }
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(u64::from(attempt.min(20)))).await;
            }
            let mut items = Vec::new();
            let mut firsts = Vec::new();
            for op in &todo {
                let op_items = op_items(&self.table, tenant, tx, op)?;
                firsts.push(items.len());
                items.extend(op_items);
            }
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let err = match sent {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancel)) => {
                    let reasons = cancel.cancellation_reasons();
                    let code = |i: usize| reasons.get(i).and_then(|r| r.code());
                    let mut done = vec![false; todo.len()];
                    for (j, first) in firsts.iter().enumerate() {
                        done[j] = code(*first) == Some("ConditionalCheckFailed");
                    }
                    let other_failed = reasons.iter().enumerate().any(|(i, r)| {
                        r.code() == Some("ConditionalCheckFailed") && !firsts.contains(&i)
                    });
                    if other_failed {
                        return Err(StoreError::internal(
                            "apply a staged write",
                            "a previous version item is missing",
                        ));
                    }
                    let mut kept = done.iter();
                    todo.retain(|_| !kept.next().copied().unwrap_or(false));
                }
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => {}
                _ => return Err(sdk_error("apply a staged write", err)),
            }
        }
        Err(StoreError::Busy(
            "a staged write kept conflicting while being applied".into(),
        ))
    }

    /// Applies op `n` of the committed write `tx` (a reader or writer met its lock).
    pub(crate) async fn roll_forward_op(
        &self,
        tenant: &TenantId,
        tx: &str,
        n: usize,
    ) -> Result<(), StoreError> {
        let ops = self.staged_ops(tenant, tx, n, n + 1).await?;
        self.apply(tenant, tx, &ops).await
    }

    /// Applies every op of the committed write `tx` of `count` ops, then discards it.
    pub(crate) async fn roll_forward(
        &self,
        tenant: &TenantId,
        tx: &str,
        count: usize,
    ) -> Result<(), StoreError> {
        let mut from = 0;
        while from < count {
            let to = (from + WINDOW).min(count);
            let ops = self.staged_ops(tenant, tx, from, to).await?;
            self.apply(tenant, tx, &ops).await?;
            from = to;
        }
        self.discard(tenant, tx).await
    }
}
