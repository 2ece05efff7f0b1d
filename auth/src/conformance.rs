//! The conformance suites of the [`ClientRegistry`] and [`ReplayGuard`] ports: every
//! implementation that serves a deployment (the embedded files, DynamoDB) passes the same
//! checks. Checks panic on failure and use fresh ids, so the suites may run against a shared
//! backend such as an emulator.

use std::sync::Arc;

use hearth_tenancy::{TenantDirectory, TenantId, TenantStatus};

use crate::{ClientKeys, ClientRegistry, RegisteredClient, RegistryError, ReplayGuard, ScopeSet};

/// `label` and a fresh suffix: an id no earlier run used (the suites share emulators).
pub fn unique(label: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{label}-{}", &id[..12])
}

/// A client of `tenant` with keys at a URL that is never fetched and a resource scope.
pub fn client(client_id: &str, tenant: &TenantId) -> RegisteredClient {
    RegisteredClient {
        client_id: client_id.to_owned(),
        tenant: tenant.clone(),
        keys: ClientKeys::JwksUri("https://client.example.org/jwks".into()),
        scope: ScopeSet::parse("system/*.rs").expect("scope"),
    }
}

/// Every check of the `ClientRegistry` contract, for a registry whose tenants live in
/// `tenants`.
pub async fn client_registry_suite(
    registry: Arc<dyn ClientRegistry>,
    tenants: Arc<dyn TenantDirectory>,
) {
    register_get_list_remove(registry.as_ref(), tenants.as_ref()).await;
    ids_are_unique_in_the_deployment(&registry, tenants.as_ref()).await;
    clients_of_suspended_or_deleted_tenants_get_nothing(registry.as_ref(), tenants.as_ref()).await;
    remove_all_releases_the_tenants_ids(registry.as_ref(), tenants.as_ref()).await;
}

async fn tenant(tenants: &dyn TenantDirectory) -> TenantId {
    let id: TenantId = unique("t").parse().expect("tenant id");
    tenants
        .create(&id, id.as_str())
        .await
        .expect("create tenant");
    id
}

/// A registered client is found by id and listed under its tenant only, until removed.
pub async fn register_get_list_remove(r: &dyn ClientRegistry, tenants: &dyn TenantDirectory) {
    let (acme, beta) = (tenant(tenants).await, tenant(tenants).await);
    let (b, a) = (unique("b.client"), unique("a_client"));
    for id in [&b, &a] {
        r.register(client(id, &acme)).await.expect("register");
    }
    let other = unique("other");
    r.register(client(&other, &beta)).await.expect("register");
    assert_eq!(r.get(&a).await.expect("get"), Some(client(&a, &acme)));
    assert_eq!(r.get(&unique("absent")).await.expect("get"), None);
    let listed: Vec<String> = r
        .list(&acme)
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.client_id)
        .collect();
    assert_eq!(
        listed,
        vec![a.clone(), b.clone()],
        "sorted, this tenant's only"
    );
    assert!(
        !r.remove(&acme, &other).await.expect("remove"),
        "another tenant's client is not removed"
    );
    assert!(r.get(&other).await.expect("get").is_some());
    assert!(r.remove(&acme, &a).await.expect("remove"));
    assert!(!r.remove(&acme, &a).await.expect("remove again"));
    assert_eq!(r.get(&a).await.expect("get"), None);
    assert_eq!(r.list(&acme).await.expect("list").len(), 1);
    r.register(client(&a, &beta))
        .await
        .expect("a removed id can be registered again");
    assert_eq!(r.get(&a).await.expect("get").map(|c| c.tenant), Some(beta));
}

/// A client id is unique across tenants, also under concurrent registrations.
pub async fn ids_are_unique_in_the_deployment(
    r: &Arc<dyn ClientRegistry>,
    tenants: &dyn TenantDirectory,
) {
    let (acme, beta) = (tenant(tenants).await, tenant(tenants).await);
    let id = unique("dup");
    r.register(client(&id, &acme)).await.expect("register");
    assert!(matches!(
        r.register(client(&id, &beta)).await,
        Err(RegistryError::Duplicate(_))
    ));
    assert!(matches!(
        r.register(client(&id, &acme)).await,
        Err(RegistryError::Duplicate(_))
    ));
    assert_eq!(
        r.get(&id).await.expect("get").map(|c| c.tenant),
        Some(acme.clone())
    );
    assert!(r.list(&beta).await.expect("list").is_empty());

    let raced = unique("race");
    let registrations = [acme.clone(), beta.clone(), acme, beta].map(|t| {
        let (r, raced) = (r.clone(), raced.clone());
        async move { r.register(client(&raced, &t)).await }
    });
    let results = futures::future::join_all(registrations).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(RegistryError::Duplicate(_))))
    );
}

/// Clients of a suspended tenant get nothing until it is resumed; a deleted tenant's clients
/// are gone, and their ids free again.
pub async fn clients_of_suspended_or_deleted_tenants_get_nothing(
    r: &dyn ClientRegistry,
    tenants: &dyn TenantDirectory,
) {
    let acme = tenant(tenants).await;
    let id = unique("c");
    r.register(client(&id, &acme)).await.expect("register");
    tenants
        .set_status(&acme, TenantStatus::Suspended)
        .await
        .expect("suspend");
    assert_eq!(r.get(&id).await.expect("get"), None, "suspended");
    tenants
        .set_status(&acme, TenantStatus::Active)
        .await
        .expect("resume");
    assert!(r.get(&id).await.expect("get").is_some(), "resumed");
    tenants.delete(&acme).await.expect("delete tenant");
    assert_eq!(r.get(&id).await.expect("get"), None, "tenant deleted");
    let beta = tenant(tenants).await;
    r.register(client(&id, &beta))
        .await
        .expect("the id of a deleted tenant's client is free");
    assert_eq!(r.get(&id).await.expect("get").map(|c| c.tenant), Some(beta));
}

/// `remove_all` (the first step of a tenant's deletion) frees every id of the tenant at once,
/// for any tenant, while the tenant's record is still there; run again it removes nothing, and
/// never a client that another tenant has registered under a released id since. The clients of
/// a tenant whose deletion has begun get nothing.
pub async fn remove_all_releases_the_tenants_ids(
    r: &dyn ClientRegistry,
    tenants: &dyn TenantDirectory,
) {
    let (acme, beta) = (tenant(tenants).await, tenant(tenants).await);
    let (one, two, kept) = (unique("one"), unique("two"), unique("kept"));
    for id in [&one, &two] {
        r.register(client(id, &acme)).await.expect("register");
    }
    r.register(client(&kept, &beta)).await.expect("register");
    tenants
        .set_status(&acme, TenantStatus::Deleting)
        .await
        .expect("begin deletion");
    assert_eq!(
        r.get(&one).await.expect("get"),
        None,
        "tenant being deleted"
    );
    assert_eq!(r.remove_all(&acme).await.expect("remove all"), 2);
    assert!(r.list(&acme).await.expect("list").is_empty());
    r.register(client(&one, &beta))
        .await
        .expect("a released id is free while its old tenant is still being deleted");
    assert_eq!(
        r.remove_all(&acme).await.expect("remove all again"),
        0,
        "idempotent"
    );
    assert_eq!(
        r.get(&one).await.expect("get").map(|c| c.tenant),
        Some(beta.clone()),
        "the new owner keeps the id"
    );
    assert!(
        r.get(&kept).await.expect("get").is_some(),
        "other tenant kept"
    );
    assert_eq!(r.remove_all(&beta).await.expect("remove all"), 2);
    for t in [&acme, &beta] {
        tenants.delete(t).await.expect("delete tenant");
    }
}

/// Every check of the `ReplayGuard` contract.
pub async fn replay_guard_suite(guard: Arc<dyn ReplayGuard>) {
    let now = crate::unix_seconds(std::time::SystemTime::now());
    let (client_a, client_b, jti) = (unique("a"), unique("b"), unique("jti"));
    let g = guard.as_ref();
    assert_eq!(g.first_use(&client_a, &jti, now + 60, now).await, Ok(true));
    assert_eq!(
        g.first_use(&client_a, &jti, now + 60, now + 1).await,
        Ok(false),
        "replayed"
    );
    assert_eq!(
        g.first_use(&client_a, &jti, now + 60, now + 60).await,
        Ok(false),
        "still recorded at its expiry"
    );
    assert_eq!(
        g.first_use(&client_b, &jti, now + 60, now).await,
        Ok(true),
        "a jti is per client"
    );
    let long = "j".repeat(4_000);
    assert_eq!(g.first_use(&client_a, &long, now + 60, now).await, Ok(true));
    assert_eq!(
        g.first_use(&client_a, &long, now + 60, now).await,
        Ok(false),
        "long jti"
    );
    let short = unique("short");
    assert_eq!(
        g.first_use(&client_a, &short, now - 10, now - 20).await,
        Ok(true)
    );
    assert_eq!(
        g.first_use(&client_a, &short, now + 60, now).await,
        Ok(true),
        "an expired record no longer counts"
    );

    let raced = unique("race");
    let uses = (0..6).map(|_| {
        let (guard, client_a, raced) = (guard.clone(), client_a.clone(), raced.clone());
        async move { guard.first_use(&client_a, &raced, now + 60, now).await }
    });
    let results = futures::future::join_all(uses).await;
    assert_eq!(
        results.iter().filter(|r| **r == Ok(true)).count(),
        1,
        "{results:?}"
    );
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
}
