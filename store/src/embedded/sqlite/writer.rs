//! The writer thread of one tenant, with group commit.
//!
//! Callers queue their `write` calls on a channel. The thread takes the first request and
//! keeps taking queued ones while it applies them, until the queue is empty or a limit is
//! reached (see [`commit_group`]). A failed request is rolled back alone and its error goes to
//! its caller (see [`apply_request`]). The group commits once; its callers are answered once
//! the WAL is flushed, by another thread while this one goes on (see `durable`).

use std::path::Path;
use std::thread::JoinHandle;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::apply::{Clock, apply};
use super::durable::{Failed, Syncer};
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

/// The queue of a running writer thread. Dropping it closes the queue and waits for the thread:
/// the thread answers what is queued, then closes its connection (checkpointing the WAL when it
/// is the file's last). Waiting matters at exit: a thread still inside SQLCipher while the
/// process runs its exit handlers (OpenSSL's cleanup among them) may crash the process.
pub(super) struct Writer {
    queue: Option<mpsc::Sender<WriteRequest>>,
    /// Set once a flush of the WAL failed: writes are refused from then on.
    failed: Failed,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread on `conn`, the writer's connection to the file `db`, and the
    /// thread that flushes its WAL (see `durable`).
    pub(super) fn spawn(
        name: &str,
        (conn, db): (Connection, &Path),
        clock: Clock,
        limits: GroupLimits,
        queue_depth: usize,
    ) -> Result<Writer, StoreError> {
        let syncer = Syncer::start(format!("hearth-flush-{name}"), db)?;
        let failed = syncer.failed();
        let (queue, requests) = mpsc::channel(queue_depth.max(1));
        let thread = std::thread::Builder::new()
            .name(format!("hearth-writer-{name}"))
            .spawn(move || run(conn, clock, requests, limits, syncer))
            .map_err(|e| StoreError::internal("start writer thread", e))?;
        Ok(Writer {
            queue: Some(queue),
            failed,
            thread: Some(thread),
        })
    }

    /// Queues `ops` and waits until they are durable (or failed).
    pub(super) async fn write(&self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>, StoreError> {
        let stopped = || StoreError::internal("queue write", "the tenant's writer thread stopped");
        self.failed.check()?;
        let queue = self.queue.as_ref().ok_or_else(stopped)?;
        let (reply, answer) = oneshot::channel();
        queue
            .send(WriteRequest { ops, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("a writer thread panicked");
        }
    }
}

fn run(
    mut conn: Connection,
    mut clock: Clock,
    mut requests: mpsc::Receiver<WriteRequest>,
    limits: GroupLimits,
    syncer: Syncer,
) {
    let mut group = Vec::with_capacity(limits.max_requests);
    while let Some(first) = requests.blocking_recv() {
        commit_group(
            &mut conn,
            &mut clock,
            first,
            &mut requests,
            limits,
            &mut group,
            &syncer,
        );
    }
    // Every committed group is answered (after a last flush) before the connection closes.
    drop(syncer);
    drop(conn);
    tracing::debug!("writer thread stopped");
}

/// One group: `first`, then whatever is queued, taken one request at a time *while* the group
/// is applied (so requests that arrive during the group's work join it), until the queue is
/// empty or a limit is reached; then one commit and every answer.
fn commit_group(
    conn: &mut Connection,
    clock: &mut Clock,
    first: WriteRequest,
    requests: &mut mpsc::Receiver<WriteRequest>,
    limits: GroupLimits,
    group: &mut Vec<(WriteRequest, Result<Vec<WriteOutcome>, StoreError>)>,
    syncer: &Syncer,
) {
    let map = sql_err("begin write transaction");
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let message = e.to_string();
            let error = match map(e) {
                StoreError::Busy(_) => {
                    StoreError::Busy(format!("begin write transaction: {message}"))
                }
                _ => StoreError::internal("begin write transaction", &message),
            };
            let _ = first.reply.send(Err(error));
            return;
        }
    };
    clock.start_group();
    let mut next = Some(first);
    let mut ops = 0;
    while let Some(mut request) = next.take() {
        let taken = std::mem::take(&mut request.ops);
        ops += taken.len();
        match apply_request(&mut tx, taken, clock) {
            Applied::Done(result) => group.push((request, result)),
            Applied::Poisoned(e) => {
                // The transaction holds part of a failed request: none of the group can commit.
                let message = e.to_string();
                tracing::error!(error = %message, "a write failed part-way; its group is rolled back");
                drop(tx);
                let _ = request.reply.send(Err(e));
                for (request, _) in group.drain(..) {
                    let _ = request.reply.send(Err(StoreError::internal(
                        "write group rolled back",
                        &message,
                    )));
                }
                return;
            }
        }
        if group.len() < limits.max_requests && ops < limits.max_ops {
            next = requests.try_recv().ok();
        }
    }
    match tx.commit() {
        Ok(()) => syncer.answer(
            group
                .drain(..)
                .map(|(request, result)| (request.reply, result))
                .collect(),
        ),
        Err(e) => {
            let message = e.to_string();
            tracing::error!(error = %message, "commit of a write group failed");
            for (request, _) in group.drain(..) {
                let _ = request
                    .reply
                    .send(Err(StoreError::internal("commit writes", &message)));
            }
        }
    }
}

/// What applying one request left in the group's transaction.
enum Applied {
    /// Its ops are all in, or none of them is: its answer.
    Done(Result<Vec<WriteOutcome>, StoreError>),
    /// It failed after writing some rows, outside a savepoint (or SQLite rolled the whole
    /// transaction back): the transaction must be abandoned.
    Poisoned(StoreError),
}

/// Applies one request's ops. Several ops go inside a savepoint, so a failure rolls back that
/// request alone. A single op goes without one (a savepoint copies every page it first
/// touches into a sub-journal, a twentieth of the writer's time under load): its refusals
/// (preconditions, serialization) all come before its first row is written, and a failure
/// after that (an I/O or disk-full error) poisons the group instead.
fn apply_request(tx: &mut Transaction<'_>, ops: Vec<WriteOp>, clock: &mut Clock) -> Applied {
    let clock_before = *clock;
    if ops.len() == 1 {
        let changes = tx.total_changes();
        return match apply(tx, ops, clock) {
            Ok(outcomes) => Applied::Done(Ok(outcomes)),
            Err(e) if tx.total_changes() == changes && !tx.is_autocommit() => {
                *clock = clock_before;
                Applied::Done(Err(e))
            }
            Err(e) => Applied::Poisoned(e),
        };
    }
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
    Applied::Done(result)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Map, json};
    use tokio::sync::{mpsc, oneshot};
    use zeroize::Zeroizing;

    use super::{Clock, GroupLimits, Syncer, WriteRequest, run};
    use crate::embedded::sqlite::schema::open_writer;
    use crate::{Method, Precondition, ResourceKey, StoreError, WriteKind, WriteOp, WriteOutcome};

    type Reply = oneshot::Receiver<Result<Vec<WriteOutcome>, StoreError>>;

    fn create(id: &str) -> (WriteRequest, Reply) {
        let body: Map<_, _> = json!({ "resourceType": "Basic" })
            .as_object()
            .cloned()
            .unwrap_or_default();
        let op = WriteOp {
            key: ResourceKey::new("Basic".parse().unwrap(), id.parse().unwrap()),
            kind: WriteKind::Put {
                body,
                blob: None,
                method: Method::Post,
                index: Vec::new(),
            },
            precondition: Precondition::MustNotExist,
        };
        let (reply, answer) = oneshot::channel();
        (
            WriteRequest {
                ops: vec![op],
                reply,
            },
            answer,
        )
    }

    /// A single write that fails after its first row (here a trigger refuses its `current`
    /// row) rolls back its whole group: the request before it in the group is answered with an
    /// error and leaves nothing, and the next group commits.
    #[tokio::test]
    async fn a_write_failing_part_way_rolls_back_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let key = Zeroizing::new([3u8; 32]);
        let conn = open_writer(&path, Duration::from_secs(5), &key).unwrap();
        conn.execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON current WHEN NEW.id = 'boom'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
        let clock = Clock::load(&conn).unwrap();
        let (tx, rx) = mpsc::channel(8);
        let mut answers = Vec::new();
        // Queued before the thread starts, so the first two are one group.
        for id in ["before", "boom", "after"] {
            let (request, answer) = create(id);
            tx.send(request).await.unwrap();
            answers.push(answer);
        }
        let limits = GroupLimits {
            max_requests: 2,
            max_ops: 100,
        };
        let syncer = Syncer::start("test-flush".into(), &path).unwrap();
        let writer = std::thread::spawn(move || run(conn, clock, rx, limits, syncer));
        let mut results = Vec::new();
        for answer in answers {
            results.push(answer.await.unwrap());
        }
        drop(tx);
        writer.join().unwrap();
        let before = results[0].as_ref().unwrap_err().to_string();
        assert!(before.contains("rolled back"), "{before}");
        let boom = results[1].as_ref().unwrap_err().to_string();
        assert!(boom.contains("refused"), "{boom}");
        assert!(matches!(
            results[2].as_deref(),
            Ok([WriteOutcome::Written { created: true, .. }])
        ));

        let check = open_writer(&path, Duration::from_secs(5), &key).unwrap();
        let ids: Vec<String> = check
            .prepare("SELECT id FROM versions ORDER BY seq")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(ids, ["after"]);
    }
}
