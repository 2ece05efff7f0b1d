//! The DynamoDB tenant directory, client registry and replay guard against the AWS stand-in:
//! the same conformance suites as the embedded implementations, and what two API tasks (two
//! sets of clients on one table) see of each other's changes.

use crate::common;

use std::sync::Arc;

use hearth_auth::conformance::{client_registry_suite, replay_guard_suite};
use hearth_auth::{ClientRegistry, ReplayGuard};
use hearth_aws::dynamo::create_table;
use hearth_aws::registry::enable_ttl;
use hearth_aws::{AwsClients, AwsConfig};
use hearth_aws::{DynamoClientRegistry, DynamoReplayGuard, DynamoTenantDirectory};
use hearth_tenancy::conformance::tenant_directory_suite;
use hearth_tenancy::{TenantDirectory, TenantId, TenantStatus};

/// Clients with the resource table (and its TTL) created.
async fn table(config: &AwsConfig) -> AwsClients {
    let clients = AwsClients::connect(config).await;
    let name = config.resources_table_name();
    create_table(&clients.dynamodb, &name)
        .await
        .expect("create resource table");
    enable_ttl(&clients.dynamodb, &name)
        .await
        .expect("enable ttl");
    enable_ttl(&clients.dynamodb, &name)
        .await
        .expect("enabling ttl again is a no-op");
    clients
}

#[tokio::test]
async fn tenant_directory_conformance() {
    let Some(config) = common::emulator_config("tenant_directory_conformance") else {
        return;
    };
    let clients = table(&config).await;
    tenant_directory_suite(Arc::new(DynamoTenantDirectory::new(&clients, &config))).await;
}

#[tokio::test]
async fn client_registry_conformance() {
    let Some(config) = common::emulator_config("client_registry_conformance") else {
        return;
    };
    let clients = table(&config).await;
    client_registry_suite(
        Arc::new(DynamoClientRegistry::new(&clients, &config)),
        Arc::new(DynamoTenantDirectory::new(&clients, &config)),
    )
    .await;
}

#[tokio::test]
async fn replay_guard_conformance() {
    let Some(config) = common::emulator_config("replay_guard_conformance") else {
        return;
    };
    let clients = table(&config).await;
    replay_guard_suite(Arc::new(DynamoReplayGuard::new(&clients, &config))).await;
}

/// Two tasks, each with its own SDK clients: what one writes, the other reads at once.
#[tokio::test]
async fn two_tasks_share_the_registries() {
    let Some(config) = common::emulator_config("two_tasks_share_the_registries") else {
        return;
    };
    let one = table(&config).await;
    let two = AwsClients::connect(&config).await;
    let (tenants_1, tenants_2) = (
        DynamoTenantDirectory::new(&one, &config),
        DynamoTenantDirectory::new(&two, &config),
    );
    let acme: TenantId = "acme".parse().expect("tenant id");
    tenants_1.create(&acme, "Acme").await.expect("create");
    assert_eq!(
        tenants_2.get(&acme).await.expect("get").map(|t| t.status),
        Some(TenantStatus::Active)
    );
    let client = hearth_auth::RegisteredClient {
        client_id: "svc".into(),
        tenant: acme.clone(),
        keys: hearth_auth::ClientKeys::JwksUri("https://client.example.org/jwks".into()),
        scope: hearth_auth::ScopeSet::parse("system/*.rs").expect("scope"),
    };
    DynamoClientRegistry::new(&one, &config)
        .register(client.clone())
        .await
        .expect("register");
    let registry_2 = DynamoClientRegistry::new(&two, &config);
    assert_eq!(registry_2.get("svc").await.expect("get"), Some(client));
    let (guard_1, guard_2) = (
        DynamoReplayGuard::new(&one, &config),
        DynamoReplayGuard::new(&two, &config),
    );
    let now = hearth_auth::unix_seconds(std::time::SystemTime::now());
    assert_eq!(
        guard_1.first_use("svc", "j1", now + 300, now).await,
        Ok(true)
    );
    assert_eq!(
        guard_2.first_use("svc", "j1", now + 300, now).await,
        Ok(false)
    );
    tenants_1
        .set_status(&acme, TenantStatus::Suspended)
        .await
        .expect("suspend");
    assert_eq!(
        tenants_2.get(&acme).await.expect("get").map(|t| t.status),
        Some(TenantStatus::Suspended)
    );
    assert_eq!(registry_2.get("svc").await.expect("get"), None);
    tenants_1.delete(&acme).await.expect("delete");
    assert_eq!(tenants_2.get(&acme).await.expect("get"), None);
    assert!(registry_2.list(&acme).await.expect("list").is_empty());
}
