//! Writes: one conditional `TransactWriteItems` per call.
//!
//! Each op reads its resource's current item first (one BatchGetItem), checks its
//! precondition, and then writes, in one transaction: the new current item (conditioned on
//! the version just read, or on its absence), the new version item, the `superseded` mark on
//! the previous version item, and the chunk items of a large body. A delete of an absent or
//! deleted resource writes nothing but still checks that state in the transaction. When the
//! transaction is cancelled because another writer got there first, the call reads again and
//! retries; a precondition that no longer holds then fails with `VersionMismatch` or
//! `AlreadyExists` naming the version found.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;
use hearth_fhir::VersionId;
use hearth_store::{Method, Precondition, StoreError, WriteOp, WriteOutcome};
use hearth_tenancy::TenantId;

use super::DynamoStore;
use super::item::{method_code, number, string};
use super::plan::{CHUNK_BYTES, Head, Role};
use super::read::item_key;
use super::table::{CURRENT, LAST_UPDATED, METHOD, PK, VERSION, pk};
use crate::error::sdk_error;

/// The most ops one `write` call holds on this backend: a transaction holds at most 100
/// items, and an update takes three (current item, new version, the previous version's
/// `superseded` mark).
pub const MAX_ATOMIC_OPS: usize = 33;
/// Items in one transaction (the service's limit).
const MAX_ITEMS: usize = 100;
/// Bytes in one transaction: the service allows 4 MB; the estimate keeps a margin.
const MAX_BYTES: usize = 3_900_000;
/// Attempts of a write that keeps losing races before it gives up as busy.
const MAX_ATTEMPTS: u32 = 100;

enum Commit {
    Done,
    /// Another writer changed a resource first: read again and retry.
    Lost,
}

fn check(op: &WriteOp, head: Option<&Head>) -> Result<(), StoreError> {
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
fn validate(ops: &[WriteOp]) -> Result<(), StoreError> {
    if ops.len() > MAX_ATOMIC_OPS {
        return Err(StoreError::Invalid(format!(
            "a transaction on the DynamoDB backend holds at most {MAX_ATOMIC_OPS} entries (got {})",
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
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                let jitter = u64::from(uuid::Uuid::new_v4().as_u128() as u8 % 8);
                tokio::time::sleep(Duration::from_millis(u64::from(attempt.min(10)) + jitter))
                    .await;
            }
            let _permit = self
                .writers
                .acquire()
                .await
                .map_err(|e| StoreError::internal("wait for a write slot", e))?;
            let heads = self.heads(tenant, ops).await?;
            for (op, head) in ops.iter().zip(&heads) {
                check(op, head.as_ref())?;
            }
            let plan = self.plan(tenant, ops, &heads).await?;
            if plan.items.len() > MAX_ITEMS {
                return Err(StoreError::Invalid(format!(
                    "a transaction on the DynamoDB backend holds at most {MAX_ITEMS} items; this one needs {} (large resources take one per {} KB)",
                    plan.items.len(),
                    CHUNK_BYTES / 1000
                )));
            }
            if plan.bytes > MAX_BYTES {
                return Err(StoreError::Invalid(format!(
                    "a transaction on the DynamoDB backend holds at most 4 MB of items; this one needs about {} KB",
                    plan.bytes / 1000
                )));
            }
            match self.commit(plan.items, &plan.roles).await? {
                Commit::Done => return Ok(plan.outcomes),
                Commit::Lost => continue,
            }
        }
        Err(StoreError::Busy(
            "the resources kept changing under this write".into(),
        ))
    }

    /// The current version of each op's resource.
    async fn heads(
        &self,
        tenant: &TenantId,
        ops: &[WriteOp],
    ) -> Result<Vec<Option<Head>>, StoreError> {
        let keys = ops
            .iter()
            .map(|op| item_key(pk(tenant, &op.key), CURRENT))
            .collect();
        let items = self
            .batch_get(keys, Some(&[PK, VERSION, LAST_UPDATED, METHOD]))
            .await?;
        ops.iter()
            .map(|op| {
                let Some(item) = items.get(&pk(tenant, &op.key)) else {
                    return Ok(None);
                };
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
        let ops: Vec<_> = (0..MAX_ATOMIC_OPS).map(|i| op(&format!("p{i}"))).collect();
        assert!(validate(&ops).is_ok());
        let mut over = ops.clone();
        over.push(op("extra"));
        assert!(matches!(validate(&over), Err(StoreError::Invalid(m)) if m.contains("at most 33")));
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
