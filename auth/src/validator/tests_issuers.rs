//! Validator tests of issuer set-ups: Cognito ID and access tokens with an audience, OIDC
//! discovery, and admin tokens signed with the shared admin key.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::*;
use crate::jwks::JwksFetchError;
use crate::test_keys::TestKey;
use crate::{AccessClaims, AdminKey, ErrorKind, LocalSigner, NoJwksSource};
use hearth_tenancy::TenantId;

const NOW: i64 = 1_700_000_000;
const POOL: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool";
const APP_CLIENT: &str = "app-client-1";

/// Serves one key set at `{issuer}/jwks`, found by discovery.
struct Discoverable {
    key: TestKey,
    discoveries: AtomicUsize,
}

#[async_trait]
impl JwksSource for Discoverable {
    async fn fetch(&self, uri: &str) -> Result<JwkSet, JwksFetchError> {
        match uri.strip_suffix("/jwks") {
            Some(POOL) => Ok(self.key.jwks()),
            _ => Err(JwksFetchError(format!("no keys at {uri}"))),
        }
    }
    async fn discover_jwks_uri(&self, issuer: &str) -> Result<String, JwksFetchError> {
        self.discoveries.fetch_add(1, Ordering::SeqCst);
        Ok(format!("{issuer}/jwks"))
    }
}

fn validate(v: &Validator, token: &str) -> Result<Principal, AuthError> {
    let now = UNIX_EPOCH + Duration::from_secs(u64::try_from(NOW).unwrap());
    futures::executor::block_on(v.validate(token, now))
}

/// A validator for a Cognito pool with discovery (no jwks_uri) and the app client audience.
fn cognito() -> (Arc<Discoverable>, Validator) {
    let source = Arc::new(Discoverable {
        key: TestKey::rsa(Algorithm::RS256, "pool-key"),
        discoveries: AtomicUsize::new(0),
    });
    let config: ValidatorConfig = toml::from_str(&format!(
        r#"
        [[oidc_issuers]]
        issuer = "{POOL}"
        audiences = ["{APP_CLIENT}"]
        tenant_claim = "custom:tenantId"
        groups_claim = "cognito:groups"
        require_scopes = false
        "#
    ))
    .unwrap();
    let validator = Validator::new(config, JwkSet::default(), source.clone()).unwrap();
    (source, validator)
}

fn cognito_claims(token_use: &str, patch: Value) -> Value {
    let mut claims = json!({
        "iss": POOL, "sub": "user-1", "token_use": token_use,
        "iat": NOW - 10, "exp": NOW + 3600,
        "custom:tenantId": "acme", "cognito:groups": ["practitioner"],
    });
    match token_use {
        "id" => claims["aud"] = json!(APP_CLIENT),
        _ => claims["client_id"] = json!(APP_CLIENT),
    }
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

#[test]
fn cognito_id_and_access_tokens_match_the_app_client() {
    let (source, v) = cognito();
    let sign = |claims: &Value| source.key.sign(claims);
    for token_use in ["id", "access"] {
        let p = validate(&v, &sign(&cognito_claims(token_use, json!({})))).unwrap();
        assert_eq!(p.tenant.as_ref().map(TenantId::as_str), Some("acme"));
        assert_eq!(p.groups, ["practitioner"]);
        assert!(!p.scopes_enforced);
    }
    assert_eq!(
        source.discoveries.load(Ordering::SeqCst),
        1,
        "discovered once"
    );
    for (claims, why) in [
        (cognito_claims("id", json!({"aud": "other"})), "other aud"),
        (
            cognito_claims("id", json!({"aud": "other", "client_id": APP_CLIENT})),
            "an aud that does not match is not saved by client_id",
        ),
        (
            cognito_claims("access", json!({"client_id": "other"})),
            "other client",
        ),
        (
            cognito_claims("access", json!({"client_id": null})),
            "neither aud nor client_id",
        ),
    ] {
        assert_eq!(
            validate(&v, &sign(&claims)).err(),
            Some(AuthError::WrongAudience),
            "{why}"
        );
    }
}

#[test]
fn discovery_failure_is_unavailable() {
    let config: ValidatorConfig =
        toml::from_str("[[oidc_issuers]]\nissuer = \"https://idp.example.org\"").unwrap();
    let v = Validator::new(config, JwkSet::default(), Arc::new(NoJwksSource)).unwrap();
    let key = TestKey::rsa(Algorithm::RS256, "k");
    let token = key.sign(&json!({"iss": "https://idp.example.org", "sub": "u", "exp": NOW + 60}));
    let err = validate(&v, &token).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
}

#[test]
fn admin_key_signs_admin_tokens_only() {
    let signer = LocalSigner::generate().unwrap();
    let admin_key = AdminKey::new(&"s".repeat(64)).unwrap();
    let new = |key: Option<&AdminKey>| {
        let v = Validator::new(
            ValidatorConfig::default(),
            signer.jwks(),
            Arc::new(NoJwksSource),
        )
        .unwrap();
        match key {
            Some(key) => v.with_admin_key(key.clone()),
            None => v,
        }
    };
    let now = UNIX_EPOCH + Duration::from_secs(u64::try_from(NOW).unwrap());
    let admin = AccessClaims::admin("hearth", "hearth", "ops", now, 60);
    let token = admin_key.mint(&admin).unwrap();

    let p = validate(&new(Some(&admin_key)), &token).unwrap();
    assert!(p.is_admin && p.tenant.is_none());
    // without the key configured, or with another key, the token is refused
    assert!(matches!(
        validate(&new(None), &token),
        Err(AuthError::AlgorithmNotAllowed(_))
    ));
    let other = AdminKey::new(&"o".repeat(64)).unwrap();
    assert_eq!(
        validate(&new(Some(&other)), &token).err(),
        Some(AuthError::BadSignature)
    );
    // expired admin tokens are refused like any other
    let old = AccessClaims::admin(
        "hearth",
        "hearth",
        "ops",
        now - Duration::from_secs(3600),
        60,
    );
    assert_eq!(
        validate(&new(Some(&admin_key)), &admin_key.mint(&old).unwrap()).err(),
        Some(AuthError::Expired)
    );
    // an HS256 token with the admin kid that is not an admin token: refused (the key is
    // only for admin tokens, even if someone signs a tenant token with it)
    let tenant_claims = json!({
        "iss": "hearth", "aud": "hearth", "sub": "ops", "exp": NOW + 60,
        "tenant": "acme", "scope": "system/*.cruds",
    });
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.kid = Some("admin-hs256".into());
    let forged = jsonwebtoken::encode(
        &header,
        &tenant_claims,
        &jsonwebtoken::EncodingKey::from_secret("s".repeat(64).as_bytes()),
    )
    .unwrap();
    assert!(matches!(
        validate(&new(Some(&admin_key)), &forged),
        Err(AuthError::InvalidClaim { .. })
    ));
    // the local ES256 key still signs admin tokens too
    assert!(
        validate(&new(Some(&admin_key)), &signer.mint(&admin).unwrap())
            .unwrap()
            .is_admin
    );
}
