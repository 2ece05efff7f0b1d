//! The writer thread of one tenant, with group commit.
//!
//! Callers queue their `write` calls on a channel. The thread takes the first request, drains
//! what is already queued (bounded), applies each request inside its own savepoint (a failed
//! request is rolled back alone and its error goes to its caller), commits once (one fsync for
//! the whole group), then answers every caller.

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::apply::{Clock, apply};
use super::schema::sql_err;
use crate::{StoreError, WriteOp, WriteOutcome};

/// One `write` call waiting for the writer.
pub(super) struct WriteRequest {
    pub(super) ops: Vec<WriteOp>,
    pub(super) reply: oneshot::Sender<Result<Vec<WriteOutcome>, StoreError>>,
}

/// Limits of one group commit.
#[derive(Debug, Clone, Copy)]
pub(super) struct GroupLimits {
    /// Most requests in one commit.
    pub(super) max_requests: usize,
    /// Stop draining once this many ops are in the group (one request may exceed it alone).
    pub(super) max_ops: usize,
}

/// Starts the writer thread; it stops when every sender is dropped.
pub(super) fn spawn(
    name: String,
    conn: Connection,
    clock: Clock,
    requests: mpsc::Receiver<WriteRequest>,
    limits: GroupLimits,
) -> Result<(), StoreError> {
    std::thread::Builder::new()
        .name(name)
        .spawn(move || run(conn, clock, requests, limits))
        .map(drop)
        .map_err(|e| StoreError::internal("start writer thread", e))
}

fn run(
    mut conn: Connection,
    mut clock: Clock,
    mut requests: mpsc::Receiver<WriteRequest>,
    limits: GroupLimits,
) {
    let mut group = Vec::with_capacity(limits.max_requests);
    while let Some(first) = requests.blocking_recv() {
        let mut ops = first.ops.len();
        group.push(first);
        while group.len() < limits.max_requests && ops < limits.max_ops {
            match requests.try_recv() {
                Ok(next) => {
                    ops += next.ops.len();
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        commit_group(&mut conn, &mut clock, &mut group);
    }
    tracing::debug!("writer thread stopped");
}

fn commit_group(conn: &mut Connection, clock: &mut Clock, group: &mut Vec<WriteRequest>) {
    let map = sql_err("begin write transaction");
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let message = e.to_string();
            let busy = matches!(map(e), StoreError::Busy(_));
            for request in group.drain(..) {
                let err = if busy {
                    StoreError::Busy(format!("begin write transaction: {message}"))
                } else {
                    StoreError::internal("begin write transaction", &message)
                };
                let _ = request.reply.send(Err(err));
            }
            return;
        }
    };
    clock.start_group();
    let mut results = Vec::with_capacity(group.len());
    for request in group.iter_mut() {
        let ops = std::mem::take(&mut request.ops);
        let clock_before = *clock;
        let result = match tx.savepoint() {
            Ok(mut savepoint) => match apply(&savepoint, ops, clock) {
                Ok(outcomes) => savepoint
                    .commit()
                    .map(|()| outcomes)
                    .map_err(sql_err("release savepoint")),
                Err(e) => {
                    // Roll back this request only; the others in the group go on.
                    let _ = savepoint.rollback();
                    *clock = clock_before;
                    Err(e)
                }
            },
            Err(e) => Err(sql_err("open savepoint")(e)),
        };
        results.push(result);
    }
    match tx.commit() {
        Ok(()) => {
            for (request, result) in group.drain(..).zip(results) {
                let _ = request.reply.send(result);
            }
        }
        Err(e) => {
            let message = e.to_string();
            tracing::error!(error = %message, "commit of a write group failed");
            for request in group.drain(..) {
                let _ = request
                    .reply
                    .send(Err(StoreError::internal("commit writes", &message)));
            }
        }
    }
}
