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

use std::fs::File;
use std::path::Path;
use std::sync::mpsc;
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
    thread: Option<JoinHandle<()>>,
}

impl Syncer {
    /// Starts the thread on the WAL of the database file `db` (which the writer has opened).
    pub(super) fn start(name: String, db: &Path) -> Result<Syncer, StoreError> {
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        let wal = File::open(&wal).map_err(|e| StoreError::internal("open the WAL", e))?;
        let (queue, groups) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || run(&wal, &groups))
            .map_err(|e| StoreError::internal("start the WAL flushing thread", e))?;
        Ok(Syncer {
            queue: Some(queue),
            thread: Some(thread),
        })
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

fn run(wal: &File, groups: &mpsc::Receiver<Answers>) {
    while let Ok(first) = groups.recv() {
        let mut batch = vec![first];
        batch.extend(groups.try_iter());
        let flushed = wal.sync_data();
        if let Err(e) = &flushed {
            tracing::error!(error = %e, "flushing the WAL failed; its writes are not durable");
        }
        for (reply, result) in batch.into_iter().flatten() {
            let result = match &flushed {
                Ok(()) => result,
                Err(e) => Err(StoreError::internal("flush the WAL", e)),
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

    #[test]
    fn a_missing_wal_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Syncer::start("test-flush".into(), &dir.path().join("none.sqlite")).is_err());
    }
}
