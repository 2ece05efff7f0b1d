//! The DynamoDB `JobStore` and the SQS `JobQueue` against the AWS stand-in: the conformance
//! suites, the active-job counter under concurrent creates, and queue naming.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hearth_aws::{DynamoJobStore, SqsJobQueue};
use hearth_store::conformance::{job_queue_suite_with_visibility, job_store_suite};
use hearth_store::{ErrorKind, JobId, JobQueue, JobRecord, JobState, JobStore};
use hearth_tenancy::TenantId;

fn job() -> JobRecord {
    JobRecord {
        id: JobId::random(),
        state: JobState::Active,
        expires: Utc::now() + chrono::Duration::days(1),
        doc: "{}".into(),
        revision: 1,
    }
}

#[tokio::test]
async fn job_store_conformance() {
    let Some(config) = common::emulator_config("job_store_conformance") else {
        return;
    };
    let clients = common::provisioned(&config).await;
    job_store_suite(Arc::new(DynamoJobStore::new(&clients, &config))).await;
}

/// The active-job counter follows creates, finishes, reactivations and deletes. (Sequential:
/// moto applies concurrent transactions without isolation, so races prove nothing there.)
#[tokio::test]
async fn the_active_count_follows_every_change() {
    let Some(config) = common::emulator_config("the_active_count_follows_every_change") else {
        return;
    };
    let clients = common::provisioned(&config).await;
    let store = DynamoJobStore::new(&clients, &config);
    let tenant: TenantId = format!("t-{}", JobId::random()).parse().unwrap();
    let (a, b, c, d) = (job(), job(), job(), job());
    assert!(store.create(&tenant, &a, 2).await.unwrap());
    assert!(store.create(&tenant, &b, 2).await.unwrap());
    assert!(!store.create(&tenant, &c, 2).await.unwrap());
    assert!(!store.create(&tenant, &c, 0).await.unwrap(), "a limit of 0");

    store.delete(&tenant, &a.id).await.unwrap();
    assert!(
        store.create(&tenant, &c, 2).await.unwrap(),
        "deleting an active job frees a slot"
    );
    assert!(!store.create(&tenant, &d, 2).await.unwrap());

    let finish = |record: &JobRecord, state| JobRecord {
        state,
        ..record.clone()
    };
    assert_eq!(
        store
            .update(&tenant, &finish(&b, JobState::Finished))
            .await
            .unwrap(),
        Some(2)
    );
    assert!(
        store.create(&tenant, &d, 2).await.unwrap(),
        "finishing a job frees a slot"
    );
    store.delete(&tenant, &b.id).await.unwrap();
    assert!(
        !store.create(&tenant, &job(), 2).await.unwrap(),
        "deleting a finished job frees nothing"
    );

    let c2 = JobRecord {
        revision: 2,
        ..finish(&c, JobState::Finished)
    };
    assert_eq!(
        store
            .update(&tenant, &finish(&c, JobState::Finished))
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(
        store
            .update(&tenant, &finish(&c2, JobState::Active))
            .await
            .unwrap(),
        Some(3)
    );
    assert!(
        !store.create(&tenant, &job(), 2).await.unwrap(),
        "a reactivated job counts again"
    );
    store
        .delete(&tenant, &a.id)
        .await
        .expect("deleting an absent job is Ok");

    let expired = store
        .expired(Utc::now() + chrono::Duration::days(2), 10_000)
        .await
        .unwrap();
    let mut ours: Vec<_> = expired
        .into_iter()
        .filter(|(t, _)| *t == tenant)
        .map(|(_, id)| id)
        .collect();
    ours.sort();
    let mut expected = vec![c.id.clone(), d.id.clone()];
    expected.sort();
    assert_eq!(ours, expected, "the expiry index holds the tenant's jobs");
}

#[tokio::test]
async fn job_queue_conformance() {
    let Some(config) = common::emulator_config("job_queue_conformance") else {
        return;
    };
    let clients = common::provisioned(&config).await;
    let queue = SqsJobQueue::new(&clients, &config);
    // SQS counts visibility in whole seconds.
    job_queue_suite_with_visibility(Arc::new(queue), Duration::from_secs(1)).await;
}

#[tokio::test]
async fn provisioned_queues_are_used_and_names_are_checked() {
    let Some(config) = common::emulator_config("provisioned_queues_are_used") else {
        return;
    };
    let clients = common::provisioned(&config).await;
    let queue = SqsJobQueue::new(&clients, &config);
    queue.send("export", "job").await.unwrap();
    let url = clients
        .sqs
        .get_queue_url()
        .queue_name(config.queue_name("export"))
        .send()
        .await
        .expect("the provisioned queue")
        .queue_url
        .unwrap();
    let attributes = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    let count = attributes
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
        .cloned();
    assert_eq!(count.as_deref(), Some("1"));
    let delivery = queue
        .receive("export", Duration::from_secs(5), 3)
        .await
        .unwrap()
        .expect("the message");
    assert_eq!((delivery.body.as_str(), delivery.attempts), ("job", 1));
    queue.ack("export", &delivery.receipt).await.unwrap();

    let err = queue.send("no spaces allowed", "x").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
}
