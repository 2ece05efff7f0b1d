//! The deletion flow's checks over the ports it drives (a tenant directory, a client registry
//! and a tenant's partitions), run on the embedded files here and on DynamoDB, S3 and KMS in
//! the `aws` crate's emulator tests. A failure is injected by a [`TenantPartitions`] decorator
//! whose first destroy does the work and then fails, as a KMS or S3 call failing part-way
//! would. Checks panic on failure and use fresh ids, so they may run against a shared backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use hearth_auth::ClientRegistry;
use hearth_auth::conformance::{client, unique};
use hearth_store::{Progress, StoreError, TenantPartitions};
use hearth_tenancy::{RegistryError, TenantDirectory, TenantId, TenantStatus};

use super::{DeletionError, begin, finish};

/// Partitions whose first destroy destroys, then fails; later ones pass through.
struct FailsOnce {
    inner: Arc<dyn TenantPartitions>,
    failed: AtomicBool,
}

#[async_trait]
impl TenantPartitions for FailsOnce {
    async fn provision(&self, tenant: &TenantId) -> Result<(), StoreError> {
        self.inner.provision(tenant).await
    }

    async fn destroy(&self, tenant: &TenantId, progress: Progress<'_>) -> Result<(), StoreError> {
        self.inner.destroy(tenant, progress).await?;
        if self.failed.swap(true, Ordering::SeqCst) {
            Ok(())
        } else {
            Err(StoreError::Busy("injected: a call failed part-way".into()))
        }
    }
}

async fn tenant(tenants: &dyn TenantDirectory, partitions: &dyn TenantPartitions) -> TenantId {
    let id: TenantId = unique("del").parse().expect("tenant id");
    tenants
        .create(&id, id.as_str())
        .await
        .expect("create tenant");
    partitions.provision(&id).await.expect("provision tenant");
    id
}

/// Every check of the deletion flow.
pub async fn tenant_deletion_suite(
    tenants: Arc<dyn TenantDirectory>,
    clients: Arc<dyn ClientRegistry>,
    partitions: Arc<dyn TenantPartitions>,
) {
    a_failed_deletion_releases_client_ids_and_a_retry_finishes(&tenants, &clients, &partitions)
        .await;
    deleting_an_absent_tenant_is_not_found(tenants.as_ref()).await;
}

/// A deletion that fails after its first steps leaves the tenant deleting, served to no one
/// and never active again, with its client ids already free for another tenant; deleting it
/// again finishes, and leaves the other tenant's client of a released id alone.
pub async fn a_failed_deletion_releases_client_ids_and_a_retry_finishes(
    tenants: &Arc<dyn TenantDirectory>,
    clients: &Arc<dyn ClientRegistry>,
    partitions: &Arc<dyn TenantPartitions>,
) {
    let failing = FailsOnce {
        inner: partitions.clone(),
        failed: AtomicBool::new(false),
    };
    let (t, c) = (tenants.as_ref(), clients.as_ref());
    let (acme, beta) = (tenant(t, &failing).await, tenant(t, &failing).await);
    let id = unique("client");
    c.register(client(&id, &acme)).await.expect("register");
    let quiet = |_: &str| {};

    begin(t, &acme).await.expect("begin");
    let failed = finish(t, c, &failing, &acme, &quiet).await;
    assert!(
        matches!(failed, Err(DeletionError::Partitions(_))),
        "{failed:?}"
    );
    assert_eq!(
        t.get(&acme).await.expect("get").map(|r| r.status),
        Some(TenantStatus::Deleting),
        "the tenant stays, deleting"
    );
    assert_eq!(c.get(&id).await.expect("get"), None, "no tokens meanwhile");
    assert!(matches!(
        t.set_status(&acme, TenantStatus::Active).await,
        Err(RegistryError::Deleting(_))
    ));
    c.register(client(&id, &beta))
        .await
        .expect("the id is free before the deletion is run again");

    begin(t, &acme).await.expect("begin again");
    finish(t, c, &failing, &acme, &quiet)
        .await
        .expect("the deletion run again finishes");
    assert!(t.get(&acme).await.expect("get").is_none(), "tenant gone");
    assert!(c.list(&acme).await.expect("list").is_empty());
    assert_eq!(
        c.get(&id).await.expect("get").map(|r| r.tenant),
        Some(beta.clone()),
        "the new owner keeps the id"
    );

    begin(t, &beta).await.expect("begin");
    finish(t, c, partitions.as_ref(), &beta, &quiet)
        .await
        .expect("delete the other tenant");
    assert_eq!(c.get(&id).await.expect("get"), None);
}

/// Deleting a tenant that does not exist (or no longer) is `NotFound` at the first step.
pub async fn deleting_an_absent_tenant_is_not_found(tenants: &dyn TenantDirectory) {
    let absent: TenantId = unique("absent").parse().expect("tenant id");
    assert!(matches!(
        begin(tenants, &absent).await,
        Err(RegistryError::NotFound(_))
    ));
}
