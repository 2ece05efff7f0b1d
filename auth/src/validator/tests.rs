//! Validator tests: local and OIDC tokens, each way a token can be wrong.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::*;
use crate::jwks::JwksFetchError;
use crate::test_keys::{TestKey, hs256};
use crate::{AccessClaims, ErrorKind, LocalSigner, NoJwksSource};
use hearth_tenancy::TenantId;

const NOW: u64 = 1_700_000_000;
const COGNITO: &str = "https://cognito-idp.us-east-1.amazonaws.com/pool";
const DYNAMIC: &str = "https://idp.example.org";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

struct Fixture {
    signer: LocalSigner,
    cognito: TestKey,
    dynamic: Mutex<TestKey>,
    fetches: AtomicUsize,
}

struct Source(Arc<Fixture>);

#[async_trait]
impl JwksSource for Source {
    async fn fetch(&self, uri: &str) -> Result<JwkSet, JwksFetchError> {
        self.0.fetches.fetch_add(1, Ordering::SeqCst);
        match uri {
            "https://idp.example.org/jwks" => Ok(self.0.dynamic.lock().unwrap().jwks()),
            _ => Err(JwksFetchError("connection refused".into())),
        }
    }
}

fn config() -> ValidatorConfig {
    toml::from_str(
        r#"
        local_issuer = "https://fhir.example.org"
        local_audience = "https://fhir.example.org"

        [[oidc_issuers]]
        issuer = "https://cognito-idp.us-east-1.amazonaws.com/pool"
        jwks = { keys = [] }
        tenant_claim = "custom:tenantId"
        groups_claim = "cognito:groups"
        admin_group = "hearth-admins"
        require_scopes = false

        [[oidc_issuers]]
        issuer = "https://idp.example.org"
        jwks_uri = "https://idp.example.org/jwks"
        audiences = ["api://hearth"]
        algorithms = ["RS256"]

        [[oidc_issuers]]
        issuer = "https://down.example.org"
        jwks_uri = "https://down.example.org/jwks"
        "#,
    )
    .unwrap()
}

fn setup() -> (Arc<Fixture>, Validator) {
    let fixture = Arc::new(Fixture {
        signer: LocalSigner::generate().unwrap(),
        cognito: TestKey::es256("cog-1"),
        dynamic: Mutex::new(TestKey::rsa(Algorithm::RS256, "dyn-1")),
        fetches: AtomicUsize::new(0),
    });
    let mut config = config();
    config.oidc_issuers[0].jwks = Some(fixture.cognito.jwks());
    let validator = Validator::new(
        config,
        fixture.signer.jwks(),
        Arc::new(Source(fixture.clone())),
    )
    .unwrap();
    (fixture, validator)
}

fn validate(v: &Validator, token: &str) -> Result<Principal, AuthError> {
    validate_at(v, token, NOW)
}

fn validate_at(v: &Validator, token: &str, now: u64) -> Result<Principal, AuthError> {
    futures::executor::block_on(v.validate(token, at(now)))
}

fn local_claims() -> AccessClaims {
    AccessClaims::for_tenant(
        "https://fhir.example.org",
        "https://fhir.example.org",
        "client-1",
        &"acme".parse().unwrap(),
        "system/*.rs",
        at(NOW - 10),
        300,
    )
}

fn with(claims: &AccessClaims, patch: Value) -> Value {
    let mut v = serde_json::to_value(claims).unwrap();
    for (k, x) in patch.as_object().unwrap() {
        if x.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = x.clone();
        }
    }
    v
}

/// Signs `claims` as the local issuer would (same key, ES256, its kid).
fn local_token(f: &Fixture, claims: &Value) -> String {
    let claims: AccessClaims = serde_json::from_value(claims.clone()).unwrap();
    f.signer.mint(&claims).unwrap()
}

#[test]
fn local_tenant_and_admin_tokens() {
    let (f, v) = setup();
    let p = validate(
        &v,
        &local_token(&f, &with(&local_claims(), json!({"patient": "p-1"}))),
    )
    .unwrap();
    assert_eq!(p.issuer, "https://fhir.example.org");
    assert_eq!(p.subject, "client-1");
    assert_eq!(p.tenant.as_ref().map(TenantId::as_str), Some("acme"));
    assert_eq!(p.scopes.to_string(), "system/*.rs");
    assert_eq!(p.patient.as_deref(), Some("p-1"));
    assert!(!p.is_admin && p.scopes_enforced && p.groups.is_empty());
    assert_eq!(p.expires_at, (NOW - 10 + 300) as i64);

    let admin = AccessClaims::admin(
        "https://fhir.example.org",
        "https://fhir.example.org",
        "ops",
        at(NOW),
        60,
    );
    let p = validate(&v, &f.signer.mint(&admin).unwrap()).unwrap();
    assert!(p.is_admin);
    assert_eq!(p.tenant, None);
}

/// (name, token, expected error)
type Case = (&'static str, String, fn(&AuthError) -> bool);

#[test]
fn bad_local_tokens() {
    let (f, v) = setup();
    let base = local_claims();
    let other = LocalSigner::generate().unwrap();
    let good = local_token(&f, &serde_json::to_value(&base).unwrap());
    let (head, rest) = good.split_once('.').unwrap();
    let (payload, _sig) = rest.split_once('.').unwrap();
    let forged_payload = {
        use base64::Engine;
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: Value = serde_json::from_slice(&e.decode(payload).unwrap()).unwrap();
        claims["tenant"] = json!("other");
        e.encode(serde_json::to_vec(&claims).unwrap())
    };
    let tampered = format!(
        "{head}.{forged_payload}.{}",
        good.rsplit('.').next().unwrap()
    );
    let stolen_kid = {
        let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
        header.kid = Some(f.signer.kid().to_owned());
        TestKey::es256("x").sign_with(header, &serde_json::to_value(&base).unwrap())
    };

    let cases: Vec<Case> = vec![
        ("garbage", "not-a-jwt".into(), |e| {
            matches!(e, AuthError::Malformed(_))
        }),
        ("too long", "a".repeat(20_000), |e| {
            matches!(e, AuthError::Malformed(_))
        }),
        ("tampered payload", tampered, |e| {
            matches!(e, AuthError::BadSignature)
        }),
        ("same kid, other key", stolen_kid, |e| {
            matches!(e, AuthError::BadSignature)
        }),
        ("other local key", other.mint(&base).unwrap(), |e| {
            matches!(e, AuthError::UnknownKey { .. })
        }),
        (
            "hs256",
            hs256(f.signer.kid(), &serde_json::to_value(&base).unwrap()),
            |e| matches!(e, AuthError::AlgorithmNotAllowed(_)),
        ),
        (
            "expired beyond leeway",
            local_token(&f, &with(&base, json!({"exp": NOW - 61}))),
            |e| matches!(e, AuthError::Expired),
        ),
        (
            "not yet valid",
            local_token(&f, &with(&base, json!({"nbf": NOW + 61}))),
            |e| matches!(e, AuthError::NotYetValid),
        ),
        (
            "wrong audience",
            local_token(&f, &with(&base, json!({"aud": "https://elsewhere"}))),
            |e| matches!(e, AuthError::WrongAudience),
        ),
        (
            "unknown issuer",
            local_token(&f, &with(&base, json!({"iss": "https://evil.example"}))),
            |e| matches!(e, AuthError::UnknownIssuer(_)),
        ),
        (
            "bad tenant",
            local_token(&f, &with(&base, json!({"tenant": "Not Valid"}))),
            |e| matches!(e, AuthError::InvalidClaim { .. }),
        ),
        (
            "bad patient",
            local_token(&f, &with(&base, json!({"patient": "a/b"}))),
            |e| matches!(e, AuthError::InvalidClaim { .. }),
        ),
        (
            "empty subject",
            local_token(&f, &with(&base, json!({"sub": ""}))),
            |e| matches!(e, AuthError::MissingClaim(_)),
        ),
    ];
    for (name, token, expected) in cases {
        let err = validate(&v, &token).expect_err(name);
        assert!(expected(&err), "{name}: {err:?}");
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{name}");
    }

    // within the 60 s leeway
    assert!(validate(&v, &local_token(&f, &with(&base, json!({"exp": NOW - 59})))).is_ok());
    assert!(validate(&v, &local_token(&f, &with(&base, json!({"nbf": NOW + 59})))).is_ok());
}

#[test]
fn cognito_style_tokens() {
    let (f, v) = setup();
    let claims = json!({
        "iss": COGNITO,
        "sub": "user-7",
        "client_id": "app",
        "exp": NOW + 100,
        "custom:tenantId": "acme",
        "cognito:groups": ["practitioner", "hearth-admins"],
        "scope": "openid profile",
    });
    let p = validate(&v, &f.cognito.sign(&claims)).unwrap();
    assert_eq!(p.tenant.as_ref().map(TenantId::as_str), Some("acme"));
    assert_eq!(p.groups, ["practitioner", "hearth-admins"]);
    assert_eq!(p.client_id.as_deref(), Some("app"));
    assert!(p.is_admin);
    assert!(
        !p.scopes_enforced,
        "no resource scope, require_scopes = false"
    );

    let mut with_scp = claims.clone();
    with_scp["scp"] = json!(["user/Patient.rs", "not/valid.zz", "patient/X.zz"]);
    let p = validate(&v, &f.cognito.sign(&with_scp)).unwrap();
    assert!(p.scopes_enforced);
    assert_eq!(
        p.scopes.to_string(),
        "openid profile user/Patient.rs not/valid.zz"
    );

    let wrong_alg = {
        let key = TestKey::es384("cog-1");
        key.sign(&claims)
    };
    assert!(matches!(
        validate(&v, &wrong_alg),
        Err(AuthError::AlgorithmNotAllowed(_))
    ));
    let unknown_kid = TestKey::es256("cog-2").sign(&claims);
    assert!(matches!(
        validate(&v, &unknown_kid),
        Err(AuthError::UnknownKey { .. })
    ));
}

#[test]
fn jwks_fetched_through_the_source_and_refreshed_on_unknown_kid() {
    let (f, v) = setup();
    let claims = json!({
        "iss": DYNAMIC, "sub": "svc", "aud": ["api://hearth"], "exp": NOW + 100,
        "tenant": "acme", "scope": "system/*.rs",
    });
    let first = f.dynamic.lock().unwrap().sign(&claims);
    assert!(validate(&v, &first).is_ok());
    assert!(validate(&v, &first).is_ok());
    assert_eq!(f.fetches.load(Ordering::SeqCst), 1);

    // key rotation at the provider: the new kid triggers one refetch (once the last fetch
    // is 30 s old, so made-up kids cannot make us hammer the provider)
    *f.dynamic.lock().unwrap() = TestKey::rsa(Algorithm::RS256, "dyn-2");
    let rotated = f.dynamic.lock().unwrap().sign(&claims);
    assert!(matches!(
        validate_at(&v, &rotated, NOW + 10),
        Err(AuthError::UnknownKey { .. })
    ));
    assert_eq!(f.fetches.load(Ordering::SeqCst), 1);
    assert!(validate_at(&v, &rotated, NOW + 30).is_ok());
    assert_eq!(f.fetches.load(Ordering::SeqCst), 2);

    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("api://other");
    let token = f.dynamic.lock().unwrap().sign(&wrong_aud);
    assert!(matches!(
        validate(&v, &token),
        Err(AuthError::WrongAudience)
    ));

    let rs384 = TestKey::rsa(Algorithm::RS384, "dyn-2").sign(&claims);
    assert!(matches!(
        validate(&v, &rs384),
        Err(AuthError::AlgorithmNotAllowed(_))
    ));

    let mut down = claims.clone();
    down["iss"] = json!("https://down.example.org");
    let token = TestKey::es256("k").sign(&down);
    let err = validate(&v, &token).unwrap_err();
    assert!(matches!(err, AuthError::KeysUnavailable { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
}

#[test]
fn invalid_configurations_are_refused() {
    let check = |toml_text: &str, fragment: &str| {
        let config: ValidatorConfig = toml::from_str(toml_text).unwrap();
        let err = Validator::new(config, JwkSet::default(), Arc::new(NoJwksSource))
            .err()
            .expect(toml_text);
        assert!(err.to_string().contains(fragment), "{err}");
    };
    check(
        "[[oidc_issuers]]\nissuer = \"a\"\njwks_uri = \"u\"\nalgorithms = [\"HS256\"]",
        "asymmetric",
    );
    check(
        "[[oidc_issuers]]\nissuer = \"a\"\njwks_uri = \"u\"\njwks = { keys = [] }",
        "at most one of",
    );
    check(
        "[[oidc_issuers]]\nissuer = \"hearth\"\njwks_uri = \"u\"",
        "repeated",
    );
    assert!(toml::from_str::<ValidatorConfig>("unknown = 1").is_err());
    let defaults: ValidatorConfig = toml::from_str("").unwrap();
    assert_eq!(defaults, ValidatorConfig::default());
}

#[test]
fn a_verified_token_is_remembered_only_until_it_expires() {
    let (f, v) = setup();
    let claims = local_claims();
    let token = local_token(&f, &serde_json::to_value(&claims).unwrap());
    // Verified once, then answered from memory while valid.
    assert!(validate_at(&v, &token, NOW).is_ok());
    assert!(validate_at(&v, &token, NOW + 100).is_ok());
    // Past `exp` and the leeway, the remembered token is refused like any expired one.
    assert!(validate_at(&v, &token, NOW + 300 + 61).is_err());
    // A different token with the same claims but a changed byte is verified afresh.
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert!(validate_at(&v, &tampered, NOW).is_err());
}
