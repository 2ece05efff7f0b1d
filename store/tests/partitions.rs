//! The embedded `TenantPartitions`: provision creates the tenant's key, destroy shreds it
//! (what it sealed no longer opens, even through the envelope that cached its data keys),
//! other tenants keep theirs, and both calls are idempotent.

use std::sync::{Arc, Mutex};

use hearth_store::embedded::{EmbeddedPartitions, LocalKeyService};
use hearth_store::{Envelope, ErrorKind, Partitions, TenantPartitions};
use hearth_tenancy::{TenantId, TenantRegistry};

fn tenant(id: &str) -> TenantId {
    id.parse().expect("tenant id")
}

struct Fixture {
    _dir: tempfile::TempDir,
    keys_dir: std::path::PathBuf,
    envelope: Arc<Envelope>,
    partitions: EmbeddedPartitions,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys_dir = dir.path().join("keys");
    let keys = LocalKeyService::open(&keys_dir).expect("key folder");
    let envelope = Arc::new(Envelope::new(Arc::new(keys)));
    Fixture {
        _dir: dir,
        partitions: EmbeddedPartitions::new(envelope.clone()),
        keys_dir,
        envelope,
    }
}

/// A fresh envelope over the same key folder: what another process would read with.
fn reopened(f: &Fixture) -> Envelope {
    Envelope::new(Arc::new(
        LocalKeyService::open(&f.keys_dir).expect("key folder"),
    ))
}

#[tokio::test]
async fn destroy_shreds_the_tenant_and_only_that_tenant() {
    let f = fixture();
    let (acme, other) = (tenant("acme"), tenant("other"));
    for t in [&acme, &other, &acme] {
        f.partitions.provision(t).await.expect("provision");
    }
    let sealed = f
        .envelope
        .seal(&acme, b"ctx", b"secret")
        .await
        .expect("seal");
    let kept = f
        .envelope
        .seal(&other, b"ctx", b"kept")
        .await
        .expect("seal");
    assert_eq!(
        f.envelope.open(&acme, b"ctx", &sealed).await.expect("open"),
        b"secret"
    );

    let steps = Mutex::new(Vec::new());
    let progress = |step: &str| steps.lock().unwrap().push(step.to_owned());
    f.partitions
        .destroy(&acme, &progress)
        .await
        .expect("destroy");
    assert_eq!(*steps.lock().unwrap(), ["tenant key destroyed"]);
    assert!(!f.keys_dir.join("acme.key").exists());

    for envelope in [f.envelope.as_ref(), &reopened(&f)] {
        let err = envelope.open(&acme, b"ctx", &sealed).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
        let err = envelope.seal(&acme, b"ctx", b"new").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
        assert_eq!(
            envelope.open(&other, b"ctx", &kept).await.expect("open"),
            b"kept"
        );
    }

    f.partitions
        .destroy(&acme, &|_| {})
        .await
        .expect("a second destroy");
    f.partitions
        .provision(&acme)
        .await
        .expect("provision again");
    let err = f.envelope.open(&acme, b"ctx", &sealed).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Invalid,
        "a new key does not open old data: {err}"
    );
}

#[tokio::test]
async fn destroy_of_a_never_provisioned_tenant_is_ok() {
    let f = fixture();
    f.partitions
        .destroy(&tenant("ghost"), &|_| {})
        .await
        .expect("destroy");
}

/// The lifecycle the admin API runs: registry create, provision, destroy, registry delete.
#[tokio::test]
async fn with_the_registry_nothing_of_the_tenant_remains() {
    let f = fixture();
    let registry = TenantRegistry::new(&f._dir.path().join("data"));
    let acme = tenant("acme");
    let partitions = Partitions(vec![Arc::new(EmbeddedPartitions::new(f.envelope.clone()))]);
    registry.create(&acme, "Acme").expect("create");
    partitions.provision(&acme).await.expect("provision");
    assert!(f.keys_dir.join("acme.key").exists());

    partitions.destroy(&acme, &|_| {}).await.expect("destroy");
    registry.delete(&acme).expect("delete");
    assert!(!f.keys_dir.join("acme.key").exists());
    assert!(!registry.tenant_dir(&acme).exists());
    assert!(registry.get(&acme).expect("get").is_none());
}
