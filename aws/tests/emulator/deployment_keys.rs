//! The deployment-wide signing keys against the AWS stand-in: two API tasks (two sets of
//! clients on one table) starting at once end with one token-signing key and one URL-signing
//! key, and what one signs the other accepts.

use crate::common;

use std::sync::Arc;
use std::time::SystemTime;

use hearth_auth::{AccessClaims, NoJwksSource, Validator, ValidatorConfig};
use hearth_aws::dynamo::create_table;
use hearth_aws::registry::{KeyPurpose, provision_platform_key};
use hearth_aws::{AwsClients, AwsConfig, DynamoDeploymentKeys};
use hearth_tenancy::TenantId;

/// Clients with the resource table and the platform key created (twice: idempotent).
async fn deployment(config: &AwsConfig) -> AwsClients {
    let clients = AwsClients::connect(config).await;
    create_table(&clients.dynamodb, &config.resources_table_name())
        .await
        .expect("create resource table");
    for _ in 0..2 {
        provision_platform_key(&clients, config)
            .await
            .expect("provision the platform key");
    }
    clients
}

fn validator(jwks: hearth_auth::JwkSet) -> Validator {
    Validator::new(ValidatorConfig::default(), jwks, Arc::new(NoJwksSource)).expect("validator")
}

#[tokio::test]
async fn two_tasks_share_the_signing_keys() {
    let Some(config) = common::emulator_config("two_tasks_share_the_signing_keys") else {
        return;
    };
    let one = DynamoDeploymentKeys::new(&deployment(&config).await, &config);
    let two = DynamoDeploymentKeys::new(&AwsClients::connect(&config).await, &config);

    // A race of two first starts: both end with the winner's keys.
    let (signer_1, signer_2) = tokio::join!(one.token_signer(), two.token_signer());
    let (signer_1, signer_2) = (signer_1.expect("signer 1"), signer_2.expect("signer 2"));
    assert_eq!(signer_1.kid(), signer_2.kid());
    let (urls_1, urls_2) = tokio::join!(one.url_signer(), two.url_signer());
    let (urls_1, urls_2) = (urls_1.expect("URL signer 1"), urls_2.expect("URL signer 2"));

    // A later start loads them.
    let three = DynamoDeploymentKeys::new(&AwsClients::connect(&config).await, &config);
    let signer_3 = three.token_signer().await.expect("signer 3");
    assert_eq!(signer_3.kid(), signer_1.kid());
    assert_eq!(signer_3.jwks(), signer_2.jwks(), "one JWKS for every task");

    let now = SystemTime::now();
    let defaults = ValidatorConfig::default();
    let tenant: TenantId = "acme".parse().expect("tenant id");
    let claims = AccessClaims::for_tenant(
        &defaults.local_issuer,
        &defaults.local_audience,
        "ops",
        &tenant,
        "system/*.rs",
        now,
        60,
    );
    let token = signer_1.mint(&claims).expect("mint");
    for jwks in [signer_2.jwks(), signer_3.jwks()] {
        let principal = validator(jwks).validate(&token, now).await.expect("valid");
        assert_eq!(principal.tenant, Some(tenant.clone()));
    }

    let expires = hearth_auth::unix_seconds(now) + 60;
    let signature = urls_1.sign("acme/job/Patient-1.ndjson", expires);
    let urls_3 = three.url_signer().await.expect("URL signer 3");
    for signer in [&urls_2, &urls_3] {
        assert!(signer.verify(
            "acme/job/Patient-1.ndjson",
            expires,
            &signature,
            expires - 1
        ));
    }
}

#[tokio::test]
async fn keys_are_sealed_and_bound_to_their_item() {
    let Some(config) = common::emulator_config("keys_are_sealed_and_bound_to_their_item") else {
        return;
    };
    let clients = deployment(&config).await;
    let keys = DynamoDeploymentKeys::new(&clients, &config);
    let signer = keys.token_signer().await.expect("signer");
    let table = config.resources_table_name();
    let key_of = |sk: &str| {
        std::collections::HashMap::from([("pk".to_owned(), s("_keys")), ("sk".to_owned(), s(sk))])
    };
    let item = clients
        .dynamodb
        .get_item()
        .table_name(&table)
        .set_key(Some(key_of(KeyPurpose::TokenSigning.as_str())))
        .send()
        .await
        .expect("get")
        .item
        .expect("the key item");
    assert_eq!(item["kid"].as_s().expect("kid"), signer.kid());
    assert_eq!(item["alg"].as_s().expect("alg"), "ES256");
    let sealed = item["sealed"].as_b().expect("sealed").as_ref().to_vec();
    assert!(item["wrapped"].as_b().is_ok());
    assert!(sealed.len() > 12 + 16 + 100, "nonce, tag and a PKCS#8 key");

    // The sealed token key moved under the URL-signing purpose does not open there.
    let mut moved = item.clone();
    moved.insert("sk".into(), s(KeyPurpose::UrlSigning.as_str()));
    clients
        .dynamodb
        .put_item()
        .table_name(&table)
        .set_item(Some(moved))
        .send()
        .await
        .expect("put");
    assert!(keys.url_signer().await.is_err(), "bound to its purpose");
}

fn s(value: &str) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::S(value.to_owned())
}
