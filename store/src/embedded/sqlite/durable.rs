//! Making committed groups durable off the writer thread.
//!
//! The writer's connection runs with `synchronous=NORMAL`: a commit writes its WAL frames but
//! does not wait for them to reach the disk. The callers of a committed group are answered by
//! this thread, only once it has flushed the WAL (`fdatasync`) after that commit; so an answered
//! write is as durable as under `synchronous=FULL`, while the writer applies the next group
//! during the flush. One flush answers every group committed before it started. (Checkpoints
//! sync the WAL before copying it, and the file after, in either mode.)
//!
//! A commit is visible to readers before its flush ends. A power loss in that window (not a
//! crash of the process: the frames are then in the OS's cache) loses it, although a reader
//! may have seen it; its caller was never answered.
//!
//! A failed flush leaves the WAL in doubt: the kernel may have dropped the pages it could not
//! write, and recovery stops at the first bad frame, so later commits would be lost even if
//! their own flush succeeded. From the first failure on, every group gets an error and the
//! writer refuses new writes, until the process restarts and SQLite recovers the WAL.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::{StoreError, WriteOutcome};

/// Where a write's answer goes.
pub(super) type Reply = oneshot::Sender<Result<Vec<WriteOutcome>, StoreError>>;

/// The answers of one committed group.
pub(super) type Answers = Vec<(Reply, Result<Vec<WriteOutcome>, StoreError>)>;

/// The flushing thread of one tenant's WAL; dropping it answers what is queued (after a last
/// flush) and waits for the thread.
pub(super) struct Syncer {
    queue: Option<mpsc::Sender<Answers>>,
    failed: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Whether a flush of the tenant's WAL has failed (see the module's doc).
#[derive(Clone)]
pub(super) struct Failed(Arc<AtomicBool>);

impl Failed {
    /// The error of every write from the first failed flush on, if one failed.
    pub(super) fn check(&self) -> Result<(), StoreError> {
        if self.0.load(Ordering::Acquire) {
            return Err(refused());
        }
        Ok(())
    }
}

const REFUSED: &str =
    "an earlier flush of the tenant's WAL failed; writes are refused until the server restarts";

fn refused() -> StoreError {
    StoreError::internal("flush the WAL", REFUSED)
}

impl Syncer {
    /// Starts the thread on the WAL of the database file `db` (which the writer has opened).
    pub(super) fn start(name: String, db: &Path) -> Result<Syncer, StoreError> {
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        let wal = File::open(&wal).map_err(|e| StoreError::internal("open the WAL", e))?;
        Syncer::on(name, wal)
    }

    /// Starts the thread on `wal`, an open WAL file.
    fn on(name: String, wal: File) -> Result<Syncer, StoreError> {
        let (queue, groups) = mpsc::channel();
        let failed = Arc::new(AtomicBool::new(false));
        let thread = {
            let failed = Arc::clone(&failed);
            std::thread::Builder::new()
                .name(name)
                .spawn(move || run(&wal, &groups, &failed))
                .map_err(|e| StoreError::internal("start the WAL flushing thread", e))?
        };
        Ok(Syncer {
            queue: Some(queue),
            failed,
            thread: Some(thread),
        })
    }

    /// Whether a flush has failed, for the writer to refuse writes.
    pub(super) fn failed(&self) -> Failed {
        Failed(Arc::clone(&self.failed))
    }

    /// Answers a committed group once the WAL is flushed.
    pub(super) fn answer(&self, answers: Answers) {
        let Some(queue) = &self.queue else { return };
        if let Err(mpsc::SendError(answers)) = queue.send(answers) {
            for (reply, _) in answers {
                let _ = reply.send(Err(StoreError::internal(
                    "flush the WAL",
                    "the flushing thread stopped",
                )));
            }
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("a WAL flushing thread panicked");
        }
    }
}

fn run(wal: &File, groups: &mpsc::Receiver<Answers>, failed: &AtomicBool) {
    while let Ok(first) = groups.recv() {
        let mut batch = vec![first];
        batch.extend(groups.try_iter());
        // The error's message, once a flush failed (this one or an earlier one).
        let flushed = if failed.load(Ordering::Acquire) {
            Err(REFUSED.to_owned())
        } else {
            wal.sync_data().map_err(|e| {
                tracing::error!(error = %e, "flushing the WAL failed; the tenant refuses writes until the server restarts");
                failed.store(true, Ordering::Release);
                e.to_string()
            })
        };
        for (reply, result) in batch.into_iter().flatten() {
            let result = match &flushed {
                Ok(()) => result,
                Err(message) => Err(StoreError::internal("flush the WAL", message)),
            };
            let _ = reply.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::{Answers, Syncer};
    use crate::{StoreError, WriteOutcome};

    type Answer = oneshot::Receiver<Result<Vec<WriteOutcome>, StoreError>>;

    fn group(results: Vec<Result<Vec<WriteOutcome>, StoreError>>) -> (Answers, Vec<Answer>) {
        results
            .into_iter()
            .map(|result| {
                let (reply, answer) = oneshot::channel();
                ((reply, result), answer)
            })
            .unzip()
    }

    /// Every queued group is answered with its own results, also when the syncer is dropped
    /// right after (the drop waits for a last flush).
    #[test]
    fn every_group_is_answered_with_its_results() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.sqlite");
        std::fs::write(dir.path().join("t.sqlite-wal"), b"frames").unwrap();
        let syncer = Syncer::start("test-flush".into(), &db).unwrap();
        let (first, first_answers) = group(vec![Ok(vec![WriteOutcome::Unchanged])]);
        let (second, second_answers) = group(vec![
            Err(StoreError::internal("test", "refused")),
            Ok(Vec::new()),
        ]);
        syncer.answer(first);
        syncer.answer(second);
        drop(syncer);
        let answers: Vec<_> = first_answers
            .into_iter()
            .chain(second_answers)
            .map(|mut answer| answer.try_recv().unwrap())
            .collect();
        assert!(matches!(
            answers[0].as_deref(),
            Ok([WriteOutcome::Unchanged])
        ));
        assert!(answers[1].is_err());
        assert!(matches!(answers[2].as_deref(), Ok([])));
    }

    /// A flush that fails (`fdatasync` of a pipe: EINVAL) fails its group, every later group,
    /// and the writer's check, whose writes would otherwise be acknowledged after a hole in
    /// the WAL.
    #[test]
    fn a_failed_flush_fails_every_later_write() {
        let (reader, _writer) = std::io::pipe().unwrap();
        let wal = std::fs::File::from(std::os::fd::OwnedFd::from(reader));
        let syncer = Syncer::on("test-flush".into(), wal).unwrap();
        let failed = syncer.failed();
        assert!(failed.check().is_ok());
        for expected in ["flush the WAL", "an earlier flush"] {
            let (answers, mut receivers) = group(vec![Ok(Vec::new())]);
            syncer.answer(answers);
            let answer = receivers.remove(0).blocking_recv().unwrap();
            let error = answer.unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
        let refused = failed.check().unwrap_err().to_string();
        assert!(
            refused.contains("refused until the server restarts"),
            "{refused}"
        );
    }

    #[test]
    fn a_missing_wal_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Syncer::start("test-flush".into(), &dir.path().join("none.sqlite")).is_err());
    }
}
