//! Envelope encryption over the local key service: what opens and what must not.

use std::sync::Arc;

use hearth_store::embedded::LocalKeyService;
use hearth_store::{Envelope, ErrorKind, KeyService};
use hearth_tenancy::TenantId;

fn tenant(id: &str) -> TenantId {
    id.parse().unwrap()
}

async fn envelope(dir: &std::path::Path, tenants: &[&TenantId]) -> Envelope {
    let keys = LocalKeyService::open(&dir.join("keys")).unwrap();
    for t in tenants {
        keys.provision(t).await.unwrap();
    }
    Envelope::new(Arc::new(keys))
}

#[tokio::test]
async fn sealed_values_open_only_in_their_tenant_and_context() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (tenant("acme"), tenant("bravo"));
    let env = envelope(dir.path(), &[&a, &b]).await;
    let secret = br#"{"resourceType":"Patient","name":[{"family":"Secret"}]}"#;
    let sealed = env.seal(&a, b"Patient/1/1", secret).await.unwrap();
    assert!(
        !sealed.windows(6).any(|w| w == b"Secret"),
        "sealed bytes hide the plaintext"
    );
    assert_eq!(env.open(&a, b"Patient/1/1", &sealed).await.unwrap(), secret);

    let mut tampered = sealed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let cases: [(&TenantId, &[u8], &[u8]); 5] = [
        (&b, b"Patient/1/1", &sealed),
        (&a, b"Patient/1/2", &sealed),
        (&a, b"Patient/1/1", &tampered),
        (&a, b"Patient/1/1", &sealed[..10]),
        (&a, b"Patient/1/1", b""),
    ];
    for (i, (t, aad, bytes)) in cases.into_iter().enumerate() {
        let err = env.open(t, aad, bytes).await.expect_err("must not open");
        assert_eq!(err.kind(), ErrorKind::Invalid, "case {i}: {err}");
    }
}

#[tokio::test]
async fn a_fresh_envelope_opens_what_another_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let a = tenant("acme");
    let sealed = envelope(dir.path(), &[&a])
        .await
        .seal(&a, b"x", b"hello")
        .await
        .unwrap();
    let other = envelope(dir.path(), &[]).await;
    assert_eq!(other.open(&a, b"x", &sealed).await.unwrap(), b"hello");
}

#[tokio::test]
async fn destroying_the_tenant_key_shreds_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let a = tenant("acme");
    let keys = Arc::new(LocalKeyService::open(&dir.path().join("keys")).unwrap());
    keys.provision(&a).await.unwrap();
    let env = Envelope::new(keys.clone());
    let sealed = env.seal(&a, b"x", b"hello").await.unwrap();
    keys.destroy(&a).await.unwrap();
    env.forget(&a);
    assert!(env.open(&a, b"x", &sealed).await.is_err());
    assert!(env.seal(&a, b"x", b"again").await.is_err());
    let key_file = dir.path().join("keys").join("acme.key");
    assert!(!key_file.exists(), "the key file is gone");
}

#[cfg(unix)]
#[tokio::test]
async fn key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let a = tenant("acme");
    envelope(dir.path(), &[&a]).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.path().join("keys")), 0o700);
    assert_eq!(mode(&dir.path().join("keys").join("acme.key")), 0o600);
}
