//! Conformance: job records (concurrency limit, optimistic updates, tenants, expiry) and the
//! queue (visibility, redelivery, stale receipts, dead letters).

use std::time::Duration;

use chrono::Utc;

use super::fresh_tenant;
use crate::{JobId, JobQueue, JobRecord, JobState, JobStore};

fn job(expires_in: chrono::Duration) -> JobRecord {
    JobRecord {
        id: JobId::random(),
        state: JobState::Active,
        expires: Utc::now() + expires_in,
        doc: r#"{"step":1}"#.into(),
        revision: 1,
    }
}

pub(super) async fn records(store: &dyn JobStore) {
    let (tenant, other) = (fresh_tenant(), fresh_tenant());
    let day = chrono::Duration::days(1);
    let (a, b, c) = (job(day), job(day), job(day));
    assert!(store.create(&tenant, &a, 2).await.unwrap());
    assert!(store.create(&tenant, &b, 2).await.unwrap());
    assert!(
        !store.create(&tenant, &c, 2).await.unwrap(),
        "limit of 2 active jobs"
    );
    assert!(
        store.create(&other, &c, 2).await.unwrap(),
        "the limit is per tenant"
    );
    assert_eq!(
        store.get(&other, &a.id).await.unwrap(),
        None,
        "tenants are apart"
    );

    let read = store.get(&tenant, &a.id).await.unwrap().expect("stored");
    assert_eq!((read.revision, read.doc.as_str()), (1, r#"{"step":1}"#));
    let finished = JobRecord {
        state: JobState::Finished,
        doc: r#"{"step":2}"#.into(),
        ..read.clone()
    };
    assert_eq!(store.update(&tenant, &finished).await.unwrap(), Some(2));
    assert_eq!(
        store.update(&tenant, &finished).await.unwrap(),
        None,
        "stale revision"
    );
    assert_eq!(
        store
            .update(
                &other,
                &JobRecord {
                    revision: 2,
                    ..finished.clone()
                }
            )
            .await
            .unwrap(),
        None
    );
    let read = store.get(&tenant, &a.id).await.unwrap().expect("stored");
    assert_eq!((read.state, read.revision), (JobState::Finished, 2));
    assert!(
        store.create(&tenant, &c, 2).await.unwrap(),
        "a finished job frees a slot"
    );

    let gone = job(chrono::Duration::milliseconds(-1));
    let mut late = job(day);
    late.state = JobState::Finished;
    store.create(&tenant, &late, 10).await.unwrap();
    store.create(&other, &gone, 10).await.unwrap();
    let expired = store.expired(Utc::now(), 1000).await.unwrap();
    assert!(expired.contains(&(other.clone(), gone.id.clone())));
    assert!(!expired.iter().any(|(_, id)| *id == late.id || *id == a.id));
    store.delete(&other, &gone.id).await.unwrap();
    assert_eq!(store.get(&other, &gone.id).await.unwrap(), None);
}

/// `short` is the visibility the checks use; they wait twice as long for a redelivery.
pub(super) async fn queue(queue: &dyn JobQueue, short: Duration) {
    let name = format!("q-{}", JobId::random());
    queue.send(&name, "one").await.unwrap();
    queue.send(&name, "two").await.unwrap();
    let first = queue
        .receive(&name, short, 3)
        .await
        .unwrap()
        .expect("a message");
    assert_eq!((first.body.as_str(), first.attempts), ("one", 1));
    let second = queue
        .receive(&name, short, 3)
        .await
        .unwrap()
        .expect("a message");
    assert_eq!(second.body, "two");
    assert_eq!(
        queue.receive(&name, short, 3).await.unwrap(),
        None,
        "both hidden"
    );
    queue.ack(&name, &second.receipt).await.unwrap();
    assert!(queue.extend(&name, &first.receipt, short).await.unwrap());

    tokio::time::sleep(short * 2).await;
    let again = queue
        .receive(&name, short, 3)
        .await
        .unwrap()
        .expect("redelivered");
    assert_eq!((again.body.as_str(), again.attempts), ("one", 2));
    assert!(
        !queue.extend(&name, &first.receipt, short).await.unwrap(),
        "stale receipt"
    );
    queue.ack(&name, &first.receipt).await.unwrap();
    tokio::time::sleep(short * 2).await;
    let third = queue
        .receive(&name, short, 3)
        .await
        .unwrap()
        .expect("stale ack ignored");
    assert_eq!(third.attempts, 3);
    tokio::time::sleep(short * 2).await;
    assert_eq!(
        queue.receive(&name, short, 3).await.unwrap(),
        None,
        "dead after 3"
    );
    assert_eq!(
        queue.dead_letters(&name, 10).await.unwrap(),
        vec!["one".to_owned()]
    );
    let other = format!("q-{}", JobId::random());
    assert_eq!(
        queue.receive(&other, short, 3).await.unwrap(),
        None,
        "queues are apart"
    );
}
