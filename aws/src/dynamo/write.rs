//! Writes: one conditional `TransactWriteItems` per call, or a staged write for more ops
//! (or items) than one transaction holds (see [`staged`](super::staged)).
//!
//! Each op reads its resource's current item first (one BatchGetItem), checks its
//! precondition, and then writes, in one transaction: the new current item (conditioned on
//! the version just read, or on its absence, and on no staged write holding it), the new
//! version item, the `superseded` mark on the previous version item, and the chunk items of a
//! large body. A delete of an absent or deleted resource writes nothing but still checks that
//! state in the transaction. When the transaction is cancelled because another writer got
//! there first, the call reads again and retries; a precondition that no longer holds then
//! fails with `VersionMismatch` or `AlreadyExists` naming the version found. A resource held
//! by a staged write is resolved first (rolled forward, or its stale lock removed); one held
//! by a staged write still in progress is waited for, up to [`LOCK_WAIT`], then `Busy`.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use hearth_fhir::VersionId;
use hearth_store::{Method, Precondition, StoreError, WriteOp, WriteOutcome};
use hearth_tenancy::TenantId;

use super::DynamoStore;
use super::item::{Item, method_code, number, string};
use super::plan::{Head, Role};
use super::read::item_key;
use super::staged::{Met, lock_of};
use super::table::{CURRENT, LAST_UPDATED, METHOD, PK, TX_LOCK, TX_OP, VERSION, pk};
use crate::error::sdk_error;

/// The most ops one transaction holds on this backend: a transaction holds at most 100
/// items, and an update takes three (current item, new version, the previous version's
/// `superseded` mark). Larger writes are staged.
pub const MAX_ATOMIC_OPS: usize = 33;
/// The most ops of one `write` call (a staged write).
pub const MAX_STAGED_OPS: usize = 20_000;
/// Items in one transaction (the service's limit).
pub(crate) const MAX_ITEMS: usize = 100;
/// Bytes in one transaction: the service allows 4 MB; the estimate keeps a margin.
pub(crate) const MAX_BYTES: usize = 3_900_000;
/// Attempts of a write that keeps losing races before it gives up as busy.
const MAX_ATTEMPTS: u32 = 100;
/// How long a single write waits for a staged write in progress to release a resource.
pub const LOCK_WAIT: Duration = Duration::from_secs(3);

enum Commit {
    Done,
    /// Another writer changed a resource first: read again and retry.
    Lost,
}

pub(crate) fn check(op: &WriteOp, head: Option<&Head>) -> Result<(), StoreError> {
    let (rt, id) = (op.key.rt, || op.key.id.to_string());
    match op.precondition {
        Precondition::None => Ok(()),
        Precondition::MustNotExist => match head {
            Some(h) if !h.deleted => Err(StoreError::AlreadyExists { rt, id: id() }),
            _ => Ok(()),
        },
        Precondition::VersionIs(expected) => match head {
            Some(h) if !h.deleted && h.version == expected => Ok(()),
            found => Err(StoreError::VersionMismatch {
                rt,
                id: id(),
                expected,
                found: found.map(|h| h.version),
            }),
        },
    }
}

/// Refuses what one transaction cannot hold, and the same key twice.
pub(crate) fn validate(ops: &[WriteOp]) -> Result<(), StoreError> {
    if ops.len() > MAX_STAGED_OPS {
        return Err(StoreError::Invalid(format!(
            "a transaction on the DynamoDB backend holds at most {MAX_STAGED_OPS} entries (got {})",
            ops.len()
        )));
    }
    let mut seen = HashSet::with_capacity(ops.len());
    for op in ops {
        if !seen.insert(&op.key) {
            return Err(StoreError::DuplicateKey {
                rt: op.key.rt,
                id: op.key.id.to_string(),
            });
        }
    }
    Ok(())
}

impl DynamoStore {
    pub(crate) async fn write_ops(
        &self,
        tenant: &TenantId,
        ops: &[WriteOp],
    ) -> Result<Vec<WriteOutcome>, StoreError> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        validate(ops)?;
        if ops.len() > MAX_ATOMIC_OPS {
            return self.write_staged(tenant, ops).await;
        }
        let started = Instant::now();
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                let jitter = u64::from(uuid::Uuid::new_v4().as_u128() as u8 % 8);
                tokio::time::sleep(Duration::from_millis(u64::from(attempt.min(10)) + jitter))
                    .await;
            }
            let permit = self
                .writers
                .acquire()
                .await
                .map_err(|e| StoreError::internal("wait for a write slot", e))?;
            let items = self.head_items(tenant, ops).await?;
            match self.settle_locks(tenant, &items).await? {
                Locks::Free => {}
                Locks::Resolved => continue,
                Locks::Held if started.elapsed() < LOCK_WAIT => {
                    drop(permit);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Locks::Held => {
                    return Err(StoreError::Busy(
                        "a large transaction in progress holds these resources".into(),
                    ));
                }
            }
            let heads = heads_of(tenant, ops, &items)?;
            for (op, head) in ops.iter().zip(&heads) {
                check(op, head.as_ref())?;
            }
            let plan = self.plan(tenant, ops, &heads).await?;
            if plan.items.len() > MAX_ITEMS || plan.bytes > MAX_BYTES {
                drop(permit);
                self.discard_body_objects(tenant, &plan.steps).await;
                return self.write_staged(tenant, ops).await;
            }
            match self.commit(plan.items, &plan.roles).await {
                Ok(Commit::Done) => return Ok(plan.outcomes),
                Ok(Commit::Lost) => self.discard_body_objects(tenant, &plan.steps).await,
                Err(e) => {
                    // Not knowing whether the transaction applied, the objects stay.
                    if !e.is_retryable() {
                        self.discard_body_objects(tenant, &plan.steps).await;
                    }
                    return Err(e);
                }
            }
        }
        Err(StoreError::Busy(
            "the resources kept changing under this write".into(),
        ))
    }

    /// The current items of each op's resource (what a write needs of them), by partition key.
    pub(crate) async fn head_items(
        &self,
        tenant: &TenantId,
        ops: &[WriteOp],
    ) -> Result<HashMap<String, Item>, StoreError> {
        let keys = ops
            .iter()
            .map(|op| item_key(pk(tenant, &op.key), CURRENT))
            .collect();
        self.batch_get(
            keys,
            Some(&[PK, VERSION, LAST_UPDATED, METHOD, TX_LOCK, TX_OP]),
        )
        .await
    }

    /// Resolves the staged writes' locks on `items`.
    async fn settle_locks(
        &self,
        tenant: &TenantId,
        items: &HashMap<String, Item>,
    ) -> Result<Locks, StoreError> {
        let mut locks = Locks::Free;
        for (pk, item) in items {
            if let Some(lock) = lock_of(item) {
                match self.meet_lock(tenant, pk, &lock).await? {
                    Met::Resolved if locks == Locks::Free => locks = Locks::Resolved,
                    Met::Resolved => {}
                    Met::Held => locks = Locks::Held,
                }
            }
        }
        Ok(locks)
    }

    /// The transaction items and outcomes of `ops` over the current state `heads`.
    async fn commit(
        &self,
        items: Vec<TransactWriteItem>,
        roles: &[Role],
    ) -> Result<Commit, StoreError> {
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(uuid::Uuid::new_v4().to_string())
            .send()
            .await;
        let err = match sent {
            Ok(_) => return Ok(Commit::Done),
            Err(err) => err,
        };
        match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(cancel)) => {
                let reasons = cancel.cancellation_reasons();
                let failed = |role: Role, code: &str| {
                    reasons
                        .iter()
                        .zip(roles)
                        .any(|(r, rl)| *rl == role && r.code() == Some(code))
                };
                if failed(Role::Previous, "ConditionalCheckFailed") {
                    return Err(StoreError::internal(
                        "write resources",
                        "a previous version item is missing",
                    ));
                }
                let lost = reasons.iter().any(|r| {
                    matches!(
                        r.code(),
                        Some("ConditionalCheckFailed" | "TransactionConflict")
                    )
                });
                if lost {
                    return Ok(Commit::Lost);
                }
                let codes: Vec<&str> = reasons
                    .iter()
                    .filter_map(|r| r.code())
                    .filter(|c| *c != "None")
                    .collect();
                Err(StoreError::internal(
                    "write resources",
                    format!("transaction cancelled: {}", codes.join(", ")),
                ))
            }
            Some(TransactWriteItemsError::TransactionInProgressException(_)) => Ok(Commit::Lost),
            _ => Err(sdk_error("write resources", err)),
        }
    }
}

/// What the staged writes' locks on a write's resources came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Locks {
    /// None was held.
    Free,
    /// Each was rolled forward or removed: read again.
    Resolved,
    /// One is held by a staged write in progress: wait, then read again.
    Held,
}

/// The current version of each op's resource in `items` (a placeholder is absent).
pub(crate) fn heads_of(
    tenant: &TenantId,
    ops: &[WriteOp],
    items: &HashMap<String, Item>,
) -> Result<Vec<Option<Head>>, StoreError> {
    ops.iter()
        .map(|op| {
            let Some(item) = items.get(&pk(tenant, &op.key)) else {
                return Ok(None);
            };
            if !item.contains_key(VERSION) {
                return Ok(None);
            }
            let version = u64::try_from(number(item, VERSION)?)
                .ok()
                .and_then(VersionId::new)
                .ok_or_else(|| StoreError::internal("read current version", "bad version"))?;
            Ok(Some(Head {
                version,
                last_updated_ms: number(item, LAST_UPDATED)?,
                deleted: string(item, METHOD)? == method_code(Method::Delete),
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_store::{ResourceKey, WriteKind};

    fn op(id: &str) -> WriteOp {
        WriteOp {
            key: ResourceKey::new("Patient".parse().unwrap(), id.parse().unwrap()),
            kind: WriteKind::Delete,
            precondition: Precondition::None,
        }
    }

    #[test]
    fn validation_limits_ops_and_refuses_duplicates() {
        let ops: Vec<_> = (0..MAX_STAGED_OPS).map(|i| op(&format!("p{i}"))).collect();
        assert!(validate(&ops).is_ok());
        let mut over = ops.clone();
        over.push(op("extra"));
        assert!(
            matches!(validate(&over), Err(StoreError::Invalid(m)) if m.contains("at most 20000"))
        );
        assert!(matches!(
            validate(&[op("a"), op("b"), op("a")]),
            Err(StoreError::DuplicateKey { .. })
        ));
    }

    #[test]
    fn preconditions_report_what_they_found() {
        let live = Head {
            version: VersionId::new(2).unwrap(),
            last_updated_ms: 0,
            deleted: false,
        };
        let deleted = Head {
            deleted: true,
            ..live
        };
        let with = |precondition| WriteOp {
            precondition,
            ..op("a")
        };
        assert!(check(&with(Precondition::MustNotExist), Some(&deleted)).is_ok());
        assert!(matches!(
            check(&with(Precondition::MustNotExist), Some(&live)),
            Err(StoreError::AlreadyExists { .. })
        ));
        let v1 = Precondition::VersionIs(VersionId::FIRST);
        assert!(matches!(
            check(&with(v1), Some(&live)),
            Err(StoreError::VersionMismatch { found: Some(f), .. }) if f.get() == 2
        ));
        assert!(matches!(
            check(&with(v1), None),
            Err(StoreError::VersionMismatch { found: None, .. })
        ));
    }
}
