//! The KMS `KeyService` against the AWS stand-in: the conformance suite, and the KMS details
//! behind it (alias, deletion schedule), and the SDK retry of throttled calls (against a
//! scripted endpoint, without the emulator).

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_kms::types::KeyState;
use common::scripted;
use hearth_aws::{AwsClients, AwsConfig, KmsKeyService};
use hearth_store::conformance::key_service_suite;
use hearth_store::{ErrorKind, KeyService, StoreError};
use hearth_tenancy::TenantId;

#[tokio::test]
async fn key_service_conformance() {
    let Some(config) = common::emulator_config("key_service_conformance") else {
        return;
    };
    let clients = AwsClients::connect(&config).await;
    key_service_suite(Arc::new(KmsKeyService::new(&clients, &config))).await;
}

#[tokio::test]
async fn destroy_schedules_deletion_and_removes_the_alias() {
    let Some(config) = common::emulator_config("destroy_schedules_deletion") else {
        return;
    };
    let clients = AwsClients::connect(&config).await;
    let keys = KmsKeyService::new(&clients, &config);
    let tenant: TenantId = "acme".parse().unwrap();
    keys.provision(&tenant).await.unwrap();
    let alias = config.key_alias(&tenant);
    assert!(alias.ends_with("/acme"), "{alias}");
    let key_id = clients
        .kms
        .describe_key()
        .key_id(&alias)
        .send()
        .await
        .expect("the alias names the key")
        .key_metadata
        .unwrap()
        .key_id;

    keys.destroy(&tenant).await.unwrap();
    let meta = clients
        .kms
        .describe_key()
        .key_id(&key_id)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state, Some(KeyState::PendingDeletion));
    assert!(
        clients
            .kms
            .describe_key()
            .key_id(&alias)
            .send()
            .await
            .is_err(),
        "the alias is gone"
    );
    keys.destroy(&tenant).await.expect("destroying again is Ok");

    keys.provision(&tenant)
        .await
        .expect("a new key after destroy");
    let data_key = keys.generate(&tenant).await.unwrap();
    let unwrapped = keys.unwrap(&tenant, &data_key.wrapped).await.unwrap();
    assert_eq!(*unwrapped, *data_key.plaintext);
}

const THROTTLED: scripted::Answer = scripted::Answer {
    status: 400,
    error_type: Some("ThrottlingException"),
    body: r#"{"__type":"ThrottlingException","message":"slow down"}"#,
};

const DESCRIBED: scripted::Answer = scripted::Answer {
    status: 200,
    error_type: None,
    body: r#"{"KeyMetadata":{"KeyId":"k-1","KeyState":"Enabled"}}"#,
};

/// A data key: 32 bytes of plaintext and a wrapped form (base64).
const GENERATED: scripted::Answer = scripted::Answer {
    status: 200,
    error_type: None,
    body: r#"{"KeyId":"k-1","Plaintext":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=","CiphertextBlob":"d3JhcHBlZA=="}"#,
};

const DENIED: scripted::Answer = scripted::Answer {
    status: 400,
    error_type: Some("AccessDeniedException"),
    body: r#"{"__type":"AccessDeniedException","message":"not authorized yet"}"#,
};

const NOT_FOUND: scripted::Answer = scripted::Answer {
    status: 400,
    error_type: Some("NotFoundException"),
    body: r#"{"__type":"NotFoundException","message":"alias not found"}"#,
};

/// Runs `provision` against a scripted KMS endpoint; returns its result and the request count.
async fn provision_against(answers: Vec<scripted::Answer>) -> (Result<(), StoreError>, usize) {
    let server = scripted::Scripted::start(answers).await;
    let mut config = AwsConfig::with_prefix("retry");
    config.endpoint_url = Some(server.url.clone());
    let clients = AwsClients::connect(&config).await;
    let tenant: TenantId = "acme".parse().unwrap();
    let result = KmsKeyService::new(&clients, &config)
        .provision(&tenant)
        .await;
    (result, server.requests())
}

#[tokio::test]
async fn throttled_calls_are_retried() {
    let (result, requests) =
        provision_against(vec![THROTTLED, THROTTLED, DESCRIBED, GENERATED]).await;
    result.expect("the third attempt succeeds");
    assert_eq!(
        requests, 4,
        "describe three times, then the readiness check"
    );
}

#[tokio::test]
async fn provisioning_waits_until_the_key_is_usable() {
    let (result, requests) =
        provision_against(vec![DESCRIBED, DENIED, DENIED, NOT_FOUND, GENERATED]).await;
    result.expect("usable after the alias and tags propagate");
    assert_eq!(requests, 5);
}

#[tokio::test]
async fn a_key_that_never_becomes_usable_fails_provisioning() {
    let server = scripted::Scripted::start(vec![DESCRIBED, DENIED]).await;
    let mut config = AwsConfig::with_prefix("retry");
    config.endpoint_url = Some(server.url.clone());
    let clients = AwsClients::connect(&config).await;
    let tenant: TenantId = "acme".parse().unwrap();
    let err = KmsKeyService::new(&clients, &config)
        .with_ready_timeout(Duration::from_millis(700))
        .provision(&tenant)
        .await
        .expect_err("never usable");
    assert!(err.to_string().contains("use the new tenant key"), "{err}");
    assert!(server.requests() >= 3, "retried before giving up");
}

#[tokio::test]
async fn lasting_throttling_is_busy() {
    let (result, requests) = provision_against(vec![THROTTLED]).await;
    let err = result.expect_err("always throttled");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_retryable());
    assert_eq!(requests, AwsConfig::default().max_attempts as usize);
}
