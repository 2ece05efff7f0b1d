//! Staged writes: atomic writes of any size (up to [`MAX_STAGED_OPS`](super::MAX_STAGED_OPS) ops), for what one
//! `TransactWriteItems` cannot hold (more than [`MAX_ATOMIC_OPS`](super::MAX_ATOMIC_OPS)
//! ops, or 100 items or 4 MB). All or nothing, and safe against the writer dying at any point.
//!
//! # Protocol
//!
//! 1. **Check.** Duplicate keys and the preconditions of resources no one holds are checked
//!    by reading; a failure writes nothing.
//! 2. **Record.** A record `{tenant}#tx` / `{txid}`: state `pending`, a heartbeat the writer
//!    renews every quarter of the lock timeout, the op count.
//! 3. **Lock.** Each op's current item gets `txl = txid`, `txo = op` (conditional on no other
//!    lock), 100 per transaction, in partition key order, so two staged writes never wait on
//!    each other in a cycle. A resource that does not exist gets a placeholder current item
//!    (no version), which reads as absent. A lock held by a live write is waited for, up to
//!    [`LOCK_WAIT`](super::LOCK_WAIT), then `Busy`.
//! 4. **Read and seal.** The locked current items are read; a failed precondition releases
//!    the locks, aborts and returns the error the single path returns. Otherwise the new
//!    versions are stamped (one instant for the write, as a single transaction is) and
//!    sealed exactly as the single path seals them.
//! 5. **Stage.** One item per op in partition `{tenant}#tx#{txid}` (`op#{n:06}`; its body in
//!    pieces `op#{n:06}#c#{k:04}` when large), by BatchWriteItem. Nothing visible changed.
//! 6. **Commit point.** The record goes `pending → committed` (conditional). From here the
//!    write is durable, and whoever meets one of its locks completes that op.
//! 7. **Apply** (see [`apply`]): per op the single path's items, conditioned on the lock still
//!    being this write's (the new current item has no lock), 100 items per transaction; then
//!    the staged items and the record are deleted.
//!
//! # Meeting a lock
//!
//! A reader or writer finding `txl` on a current item reads the record. `committed`: it
//! applies that op and reads again. `pending` with a heartbeat younger than the lock timeout
//! ([`DEFAULT_LOCK_TIMEOUT`], [`DynamoStore::with_lock_timeout`]): readers take the item as
//! it is (the state before the write; a placeholder is absent), writers wait. `pending` with
//! an older heartbeat (its writer died): it is aborted (conditional on that heartbeat), its
//! staged items and record deleted, the lock removed. `aborted` or no record: the lock is
//! stale and is removed (a placeholder deleted). Single writes require no lock on the items
//! they write, so they never overwrite a held resource.
//!
//! # What others see
//!
//! Reads see a staged write's versions resource by resource as they are applied (or rolled
//! forward on reading), never a mix within one resource; versions carry the instant stamped
//! before staging. History and export see the versions once applied: an export snapshot may
//! fall in the middle of applying a large write, and one taken while a write is being staged
//! may miss it if it commits later than [`SETTLE`](super::SETTLE) after its stamp. Applying
//! takes one transaction per 33 ops or so, four at a time ([`DynamoStore::recover`], run by
//! every snapshot, completes what a dead writer committed). On the emulator (one request at
//! a time) a whole 2,000-op write takes about 9 s and a 10,000-op write about 50 s.

mod apply;
mod lock;
mod record;
mod stage;

use std::time::Duration;

use hearth_store::{StoreError, WriteOp, WriteOutcome};
use hearth_tenancy::TenantId;

use super::DynamoStore;
use super::table::pk;
use super::version::Step;
use super::write::{MAX_BYTES, MAX_ITEMS, check, heads_of, validate};
pub(crate) use lock::{Met, is_placeholder, lock_of};
use record::State;
use stage::StagedOp;

/// Requests one staged write sends at once.
const CONCURRENCY: usize = 4;

/// How long a staged write's heartbeat may be silent before others abort it.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a test stops a staged write, as if its writer died there.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAfter {
    /// Locked and staged, not committed.
    Staging,
    /// Committed, nothing applied.
    Commit,
}

impl DynamoStore {
    /// Others abort a staged write whose heartbeat was silent this long (a quarter of it is
    /// the heartbeat's period).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> DynamoStore {
        self.lock_timeout = timeout;
        self
    }

    pub(crate) async fn write_staged(
        &self,
        tenant: &TenantId,
        ops: &[WriteOp],
    ) -> Result<Vec<WriteOutcome>, StoreError> {
        self.run_staged(tenant, ops, None).await
    }

    /// A staged write of `ops` that stops at `stop` as if its writer died there.
    #[doc(hidden)]
    pub async fn write_staged_until(
        &self,
        tenant: &TenantId,
        ops: Vec<WriteOp>,
        stop: StopAfter,
    ) -> Result<(), StoreError> {
        self.run_staged(tenant, &ops, Some(stop)).await.map(drop)
    }

    /// Completes the tenant's committed staged writes whose writers died before applying
    /// them, and discards the abandoned ones; returns how many it completed.
    pub async fn recover(&self, tenant: &TenantId) -> Result<usize, StoreError> {
        let mut completed = 0;
        for (tx, record) in self.list_records(tenant).await? {
            match record.state {
                State::Committed => {
                    self.roll_forward(tenant, &tx, record.ops).await?;
                    completed += 1;
                }
                State::Aborted => self.discard(tenant, &tx).await?,
                State::Pending => {
                    let silent = chrono::Utc::now().timestamp_millis() - record.heartbeat_ms;
                    if silent > self.lock_timeout.as_millis() as i64
                        && self
                            .transition(
                                tenant,
                                &tx,
                                State::Pending,
                                State::Aborted,
                                Some(record.heartbeat_ms),
                            )
                            .await?
                    {
                        self.discard(tenant, &tx).await?;
                    }
                }
            }
        }
        Ok(completed)
    }

    async fn run_staged(
        &self,
        tenant: &TenantId,
        ops: &[WriteOp],
        stop: Option<StopAfter>,
    ) -> Result<Vec<WriteOutcome>, StoreError> {
        validate(ops)?;
        let _permit = self
            .writers
            .acquire()
            .await
            .map_err(|e| StoreError::internal("wait for a write slot", e))?;
        let items = self.head_items(tenant, ops).await?;
        let heads = heads_of(tenant, ops, &items)?;
        for (op, head) in ops.iter().zip(&heads) {
            let held = items
                .get(&pk(tenant, &op.key))
                .is_some_and(|item| lock_of(item).is_some());
            if !held {
                check(op, head.as_ref())?;
            }
        }
        let tx = uuid::Uuid::new_v4().simple().to_string();
        self.create_record(tenant, &tx, ops.len()).await?;
        let heartbeat = self.heartbeat(tenant, &tx);
        let mut locked = Vec::new();
        let mut placeholders = None;
        let prepared = self
            .prepare(tenant, &tx, ops, &mut locked, &mut placeholders)
            .await;
        let (staged, outcomes) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                drop(heartbeat);
                self.abandon(tenant, &tx, ops, &locked, placeholders.as_deref())
                    .await;
                return Err(e);
            }
        };
        if stop == Some(StopAfter::Staging) {
            return Ok(Vec::new());
        }
        let committed = match self
            .transition(tenant, &tx, State::Pending, State::Committed, None)
            .await
        {
            Ok(committed) => committed,
            // The answer was lost: the record says whether it happened.
            Err(e) => match self.get_record(tenant, &tx).await {
                Ok(Some(record)) if record.state == State::Committed => true,
                _ => {
                    drop(heartbeat);
                    self.abandon(tenant, &tx, ops, &locked, placeholders.as_deref())
                        .await;
                    return Err(e);
                }
            },
        };
        drop(heartbeat);
        if !committed {
            self.abandon(tenant, &tx, ops, &locked, placeholders.as_deref())
                .await;
            return Err(StoreError::Busy(
                "the transaction was too slow to stage and was aborted".into(),
            ));
        }
        if stop == Some(StopAfter::Commit) {
            return Ok(Vec::new());
        }
        // Durable from here: a failure to apply is left to whoever meets a lock (or
        // `recover`), not reported as a failed write.
        let applied = match self.apply(tenant, &tx, &staged).await {
            Ok(()) => self.discard(tenant, &tx).await,
            Err(e) => Err(e),
        };
        if let Err(e) = applied {
            tracing::warn!(%tenant, %tx, error = %e, "a committed staged write is not fully applied yet");
        }
        Ok(outcomes)
    }

    /// Locks, reads, checks, seals and stages `ops`.
    async fn prepare(
        &self,
        tenant: &TenantId,
        tx: &str,
        ops: &[WriteOp],
        locked: &mut Vec<usize>,
        placeholders: &mut Option<Vec<bool>>,
    ) -> Result<(Vec<StagedOp>, Vec<WriteOutcome>), StoreError> {
        self.lock_all(tenant, tx, ops, locked).await?;
        let items = self.head_items(tenant, ops).await?;
        for op in ops {
            let ours = items
                .get(&pk(tenant, &op.key))
                .and_then(lock_of)
                .is_some_and(|lock| lock.tx == tx);
            if !ours {
                return Err(StoreError::Busy(
                    "the transaction lost a lock (too slow, and aborted)".into(),
                ));
            }
        }
        let heads = heads_of(tenant, ops, &items)?;
        *placeholders = Some(heads.iter().map(Option::is_none).collect());
        for (op, head) in ops.iter().zip(&heads) {
            check(op, head.as_ref())?;
        }
        let (steps, outcomes) = self.seal_ops(tenant, ops, &heads).await?;
        for (op, step) in ops.iter().zip(&steps) {
            if let Step::Write(new) = step {
                let (items, bytes) = new.footprint();
                if items > MAX_ITEMS || bytes > MAX_BYTES {
                    self.discard_body_objects(tenant, &steps).await;
                    return Err(StoreError::Invalid(format!(
                        "{}/{} takes about {} KB; the DynamoDB backend holds at most 3.9 MB per resource",
                        op.key.rt,
                        op.key.id,
                        bytes / 1000
                    )));
                }
            }
        }
        let mut staged = Vec::with_capacity(ops.len());
        for (n, ((op, head), step)) in ops.iter().zip(&heads).zip(steps).enumerate() {
            staged.push(StagedOp {
                n,
                key: op.key.clone(),
                step,
                placeholder: head.is_none(),
            });
        }
        self.stage(tenant, tx, &staged).await?;
        Ok((staged, outcomes))
    }

    /// Undoes what a failed staged write did before its commit point: releases its locks,
    /// aborts its record and deletes what it staged. Failures are logged: what is left is
    /// stale, and whoever meets it removes it.
    async fn abandon(
        &self,
        tenant: &TenantId,
        tx: &str,
        ops: &[WriteOp],
        locked: &[usize],
        placeholders: Option<&[bool]>,
    ) {
        let aborted = self
            .transition(tenant, tx, State::Pending, State::Aborted, None)
            .await;
        let pks = locked
            .iter()
            .map(|&i| {
                (
                    pk(tenant, &ops[i].key),
                    placeholders.and_then(|p| p.get(i).copied()),
                )
            })
            .collect();
        let released = match aborted {
            Ok(_) => self.release(tx, pks).await,
            Err(e) => Err(e),
        };
        let discarded = match released {
            Ok(()) => self.discard(tenant, tx).await,
            Err(e) => Err(e),
        };
        if let Err(e) = discarded {
            tracing::warn!(%tenant, %tx, error = %e, "could not clean up an abandoned staged write");
        }
    }
}
