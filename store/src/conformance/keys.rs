//! Conformance: `KeyService` round trips, tenant binding, foreign and damaged wrapped keys,
//! idempotent provisioning and destruction.

use hearth_tenancy::TenantId;

use super::fresh_tenant;
use crate::{DataKey, ErrorKind, KeyService};

async fn provisioned(keys: &dyn KeyService) -> TenantId {
    let tenant = fresh_tenant();
    keys.provision(&tenant).await.expect("provision");
    tenant
}

async fn generate(keys: &dyn KeyService, tenant: &TenantId) -> DataKey {
    keys.generate(tenant)
        .await
        .unwrap_or_else(|e| panic!("generate for {tenant}: {e}"))
}

/// Asserts that `wrapped` does not unwrap for `tenant`, with `Invalid`.
async fn refused(keys: &dyn KeyService, tenant: &TenantId, wrapped: &[u8], what: &str) {
    match keys.unwrap(tenant, wrapped).await {
        Ok(_) => panic!("{what} unwrapped for {tenant}"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::Invalid, "{what}: {e}"),
    }
}

pub(super) async fn round_trip(keys: &dyn KeyService) {
    let tenant = provisioned(keys).await;
    let first = generate(keys, &tenant).await;
    let second = generate(keys, &tenant).await;
    assert_ne!(*first.plaintext, [0u8; 32], "a data key is not all zeros");
    assert_ne!(
        *first.plaintext, *second.plaintext,
        "every data key is fresh"
    );
    assert_ne!(first.wrapped, second.wrapped);
    assert!(
        !first
            .wrapped
            .windows(32)
            .any(|w| w == first.plaintext.as_slice()),
        "the wrapped key does not hold the plaintext"
    );
    for key in [&first, &second] {
        let unwrapped = keys.unwrap(&tenant, &key.wrapped).await.expect("unwrap");
        assert_eq!(
            *unwrapped, *key.plaintext,
            "unwrap returns the generated key"
        );
    }
}

pub(super) async fn provision_is_idempotent(keys: &dyn KeyService) {
    let tenant = provisioned(keys).await;
    let key = generate(keys, &tenant).await;
    keys.provision(&tenant)
        .await
        .expect("provisioning again is Ok");
    let unwrapped = keys
        .unwrap(&tenant, &key.wrapped)
        .await
        .expect("provisioning again keeps the tenant's key");
    assert_eq!(*unwrapped, *key.plaintext);
}

pub(super) async fn keys_are_bound_to_their_tenant(keys: &dyn KeyService) {
    let (a, b) = (provisioned(keys).await, provisioned(keys).await);
    let key = generate(keys, &a).await;
    refused(keys, &b, &key.wrapped, "a key of another tenant").await;
    let never = fresh_tenant();
    assert!(
        keys.unwrap(&never, &key.wrapped).await.is_err(),
        "a tenant without a key unwraps nothing"
    );
    assert!(
        keys.generate(&never).await.is_err(),
        "a tenant without a key generates nothing"
    );
    let still = keys.unwrap(&a, &key.wrapped).await.expect("unwrap for a");
    assert_eq!(*still, *key.plaintext);
}

pub(super) async fn damaged_keys_do_not_unwrap(keys: &dyn KeyService) {
    let tenant = provisioned(keys).await;
    refused(keys, &tenant, b"not a wrapped key at all", "garbage").await;
    let key = generate(keys, &tenant).await;
    let mut flipped = key.wrapped.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    refused(keys, &tenant, &flipped, "a wrapped key with a flipped bit").await;
    let truncated = &key.wrapped[..key.wrapped.len() / 2];
    refused(keys, &tenant, truncated, "half a wrapped key").await;
}

pub(super) async fn destroyed_keys_are_gone(keys: &dyn KeyService) {
    let (tenant, other) = (provisioned(keys).await, provisioned(keys).await);
    let key = generate(keys, &tenant).await;
    let kept = generate(keys, &other).await;
    keys.destroy(&tenant).await.expect("destroy");
    assert!(
        keys.unwrap(&tenant, &key.wrapped).await.is_err(),
        "what the destroyed key wrapped can no longer be read"
    );
    assert!(
        keys.generate(&tenant).await.is_err(),
        "a destroyed key wraps nothing new"
    );
    let unwrapped = keys
        .unwrap(&other, &kept.wrapped)
        .await
        .expect("other tenants keep their keys");
    assert_eq!(*unwrapped, *kept.plaintext);
}
