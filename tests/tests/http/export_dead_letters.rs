//! An export whose workers all died mid-task: its message went to the dead letters after
//! `max_attempts` deliveries, none of which reached the worker's own out-of-attempts path. The
//! dead-letter check fails the job, so its status URL answers 500 with an OperationOutcome
//! instead of "in progress" until it expires; a job that completed is left alone though a stale
//! message of it is dead too, and the messages stay in the dead letters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_store::JobId;
use hearth_tests::{TestServer, patient, test_export_options};
use hearth_workers::export::{
    EXPORT_QUEUE, ExportOptions, ExportWorker, Message, fail_dead_lettered,
};

const MAX_ATTEMPTS: u32 = 2;

fn job_of(status_url: &str) -> JobId {
    status_url
        .rsplit('/')
        .next()
        .expect("job segment")
        .parse()
        .expect("job id")
}

/// The export queue's dead letters, as messages.
async fn dead_letters(server: &TestServer) -> Vec<Message> {
    let bodies = server
        .queue
        .dead_letters(EXPORT_QUEUE, 100)
        .await
        .expect("read the dead letters");
    bodies
        .iter()
        .map(|b| serde_json::from_str(b).expect("an export message"))
        .collect()
}

/// Plays workers that die on every delivery of `job`'s next message: received (visible again
/// at once), never acknowledged, until the queue moves it to the dead letters.
async fn crash_on_every_attempt(server: &TestServer, job: &JobId) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut deliveries = 0;
    while !dead_letters(server)
        .await
        .iter()
        .any(|m| m.job == job.as_str())
    {
        assert!(
            Instant::now() < deadline,
            "the message never went to the dead letters"
        );
        let delivery = server
            .queue
            .receive(EXPORT_QUEUE, Duration::ZERO, MAX_ATTEMPTS)
            .await
            .expect("receive");
        match delivery {
            Some(delivery) => {
                let message: Message = serde_json::from_str(&delivery.body).expect("message");
                assert_eq!(message.job, job.as_str(), "only this job is queued");
                deliveries += 1;
                assert_eq!(delivery.attempts, deliveries);
            }
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(deliveries, MAX_ATTEMPTS, "delivered max_attempts times");
}

/// Works the queue until it is empty, as a healthy worker does.
async fn work_queue(server: &TestServer) {
    let worker = ExportWorker::new(Arc::clone(&server.export), Arc::clone(&server.queue));
    while worker.step().await.expect("work the export queue") {}
}

#[tokio::test]
async fn a_job_whose_task_is_dead_lettered_fails_and_a_finished_one_stays() {
    let options = ExportOptions {
        max_attempts: MAX_ATTEMPTS,
        ..test_export_options()
    };
    // No workers of its own: the test plays them.
    let server = TestServer::with_export(options, 0).await;
    let reply = server
        .send("POST", "Patient", Some(&patient("Dead")), &[])
        .await;
    assert_eq!(reply.status, 201);

    // A job that completes, then a stale copy of its first message dies.
    let completed = server.kickoff_export("$export?_type=Patient").await;
    work_queue(&server).await;
    let (manifest, _) = server.await_manifest(&completed).await;
    let completed_job = job_of(&completed);
    let stale = Message {
        tenant: "default".into(),
        job: completed_job.to_string(),
        task: None,
    };
    let stale = serde_json::to_string(&stale).expect("message");
    server.queue.send(EXPORT_QUEUE, &stale).await.expect("send");
    crash_on_every_attempt(&server, &completed_job).await;

    // A job whose worker dies on every attempt: in progress for good, until the check.
    let crashed = server.kickoff_export("$export?_type=Patient").await;
    let crashed_job = job_of(&crashed);
    crash_on_every_attempt(&server, &crashed_job).await;
    let reply = server.send("GET", &crashed, None, &[]).await;
    assert_eq!(reply.status, 202, "in progress before the check");

    let failed = fail_dead_lettered(&server.export, server.queue.as_ref())
        .await
        .expect("check the dead letters");
    assert_eq!(failed, 1, "only the running job is failed");

    let reply = server.send("GET", &crashed, None, &[]).await;
    assert_eq!(reply.outcome(500), "exception");
    let text = String::from_utf8_lossy(&reply.bytes);
    assert!(text.contains("failed repeatedly"), "{text}");

    let reply = server.send("GET", &completed, None, &[]).await;
    assert_eq!(reply.status, 200, "the completed job is left alone");
    assert_eq!(reply.json()["output"], manifest["output"]);

    // The messages stay for operators; reading them again changes nothing.
    let dead: Vec<String> = dead_letters(&server)
        .await
        .into_iter()
        .map(|m| m.job)
        .collect();
    assert!(dead.contains(&crashed_job.to_string()), "{dead:?}");
    assert!(dead.contains(&completed_job.to_string()), "{dead:?}");
    let again = fail_dead_lettered(&server.export, server.queue.as_ref())
        .await
        .expect("check the dead letters again");
    assert_eq!(again, 0);
    assert_eq!(server.send("GET", &crashed, None, &[]).await.status, 500);
}

#[tokio::test]
async fn the_workers_check_the_dead_letters_on_their_own() {
    let options = ExportOptions {
        max_attempts: MAX_ATTEMPTS,
        dead_letter_check: Duration::from_millis(200),
        ..test_export_options()
    };
    // Kick off on a server without workers, so none takes the message before it dies.
    let server = TestServer::with_export(options.clone(), 0).await;
    let crashed = server.kickoff_export("$export?_type=Patient").await;
    crash_on_every_attempt(&server, &job_of(&crashed)).await;

    // The workers `hearth serve` and `hearth worker` start include the check.
    let handles = hearth_workers::spawn_workers(&server.export, &server.queue, 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = server.send("GET", &crashed, None, &[]).await;
        if reply.status == 500 {
            assert_eq!(reply.outcome(500), "exception");
            break;
        }
        assert_eq!(
            reply.status,
            202,
            "{}",
            String::from_utf8_lossy(&reply.bytes)
        );
        assert!(Instant::now() < deadline, "the job was never failed");
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    for handle in handles {
        handle.abort();
    }
}
