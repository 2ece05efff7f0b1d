//! The conformance suite of [`TenantDirectory`]: every implementation (the embedded folders,
//! DynamoDB) passes the same checks. Checks panic on failure and use fresh tenant ids, so the
//! suite may run against a shared backend such as an emulator.

use std::sync::Arc;

use crate::{RegistryError, TenantDirectory, TenantId, TenantStatus};

fn fresh(label: &str) -> TenantId {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    format!("{label}-{}", &unique[..12])
        .parse()
        .expect("tenant id")
}

/// Every check of the `TenantDirectory` contract.
pub async fn tenant_directory_suite(directory: Arc<dyn TenantDirectory>) {
    lifecycle(directory.as_ref()).await;
    deleting_is_one_way(directory.as_ref()).await;
    list_is_sorted_and_complete(directory.as_ref()).await;
    racing_creates_have_one_winner(&directory).await;
}

/// Create, get, duplicate create, suspend, resume, delete, and the errors of an absent tenant.
pub async fn lifecycle(d: &dyn TenantDirectory) {
    let acme = fresh("acme");
    assert!(d.get(&acme).await.expect("get").is_none());
    let created = d.create(&acme, "Acme").await.expect("create");
    assert_eq!(created.id, acme.as_str());
    assert_eq!(created.name, "Acme");
    assert_eq!(created.status, TenantStatus::Active);
    assert!(!created.created.is_empty());
    assert!(matches!(
        d.create(&acme, "Again").await,
        Err(RegistryError::AlreadyExists(_))
    ));
    assert_eq!(d.get(&acme).await.expect("get"), Some(created.clone()));
    let suspended = d
        .set_status(&acme, TenantStatus::Suspended)
        .await
        .expect("suspend");
    assert_eq!(suspended.status, TenantStatus::Suspended);
    assert_eq!(suspended.name, "Acme");
    assert_eq!(d.get(&acme).await.expect("get"), Some(suspended));
    let active = d
        .set_status(&acme, TenantStatus::Active)
        .await
        .expect("resume");
    assert_eq!(active, created);
    d.delete(&acme).await.expect("delete");
    assert!(d.get(&acme).await.expect("get").is_none());
    assert!(matches!(
        d.set_status(&acme, TenantStatus::Suspended).await,
        Err(RegistryError::NotFound(_))
    ));
    assert!(matches!(
        d.delete(&acme).await,
        Err(RegistryError::NotFound(_))
    ));
    assert!(
        d.get(&acme).await.expect("get").is_none(),
        "a status change of a deleted tenant does not bring it back"
    );
    let again = d.create(&acme, "Acme 2").await.expect("create again");
    assert_eq!(again.name, "Acme 2");
    d.delete(&acme).await.expect("delete");
}

/// A tenant whose deletion has begun is never active or suspended again: its deletion can be
/// begun again and finished, nothing else.
pub async fn deleting_is_one_way(d: &dyn TenantDirectory) {
    let acme = fresh("deleting");
    d.create(&acme, "Acme").await.expect("create");
    let deleting = d
        .set_status(&acme, TenantStatus::Deleting)
        .await
        .expect("begin deletion");
    assert_eq!(deleting.status, TenantStatus::Deleting);
    for status in [TenantStatus::Active, TenantStatus::Suspended] {
        assert!(
            matches!(
                d.set_status(&acme, status).await,
                Err(RegistryError::Deleting(_))
            ),
            "{status:?} refused"
        );
    }
    assert_eq!(
        d.get(&acme).await.expect("get").map(|t| t.status),
        Some(TenantStatus::Deleting),
        "a refused change changes nothing"
    );
    assert_eq!(
        d.set_status(&acme, TenantStatus::Deleting)
            .await
            .expect("begin deletion again"),
        deleting
    );
    d.delete(&acme).await.expect("delete");
    assert!(d.get(&acme).await.expect("get").is_none());
    assert!(matches!(
        d.set_status(&acme, TenantStatus::Deleting).await,
        Err(RegistryError::NotFound(_))
    ));
}

/// `list` holds every tenant once, sorted by id, with its current status.
pub async fn list_is_sorted_and_complete(d: &dyn TenantDirectory) {
    let prefix = fresh("list");
    let ids: Vec<TenantId> = ["c", "a", "b"]
        .iter()
        .map(|s| format!("{prefix}-{s}").parse().expect("tenant id"))
        .collect();
    for id in &ids {
        d.create(id, id.as_str()).await.expect("create");
    }
    d.set_status(&ids[1], TenantStatus::Suspended)
        .await
        .expect("suspend");
    let listed: Vec<_> = d
        .list()
        .await
        .expect("list")
        .into_iter()
        .filter(|t| t.id.starts_with(prefix.as_str()))
        .collect();
    let names: Vec<&str> = listed.iter().map(|t| t.id.as_str()).collect();
    let mut expected: Vec<&str> = ids.iter().map(TenantId::as_str).collect();
    expected.sort_unstable();
    assert_eq!(names, expected);
    assert_eq!(listed[0].status, TenantStatus::Suspended, "{listed:?}");
    let all = d.list().await.expect("list");
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "sorted by id");
    for id in &ids {
        d.delete(id).await.expect("delete");
    }
}

/// Of concurrent creates of one id, exactly one succeeds.
pub async fn racing_creates_have_one_winner(d: &Arc<dyn TenantDirectory>) {
    let id = fresh("race");
    let creates = (0..4).map(|i| {
        let d = d.clone();
        let id = id.clone();
        async move { d.create(&id, &format!("racer {i}")).await }
    });
    let results = futures::future::join_all(creates).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(RegistryError::AlreadyExists(_))))
    );
    d.delete(&id).await.expect("delete");
}
