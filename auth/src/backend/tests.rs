//! Token endpoint tests: good RS384/ES384 assertions pass and their tokens validate; every
//! kind of bad request fails with the right OAuth error.

use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};

use super::*;
use crate::jwks::JwksFetchError;
use crate::scope::Interaction;
use crate::test_keys::{TestKey, hs256};
use crate::{Authorizer, Validator, ValidatorConfig};

const NOW: i64 = 1_700_000_000;
const ENDPOINT: &str = "https://fhir.example.org/auth/token";

struct ClientJwks(JwkSet);

#[async_trait]
impl JwksSource for ClientJwks {
    async fn fetch(&self, uri: &str) -> Result<JwkSet, JwksFetchError> {
        if uri == "https://client.example.org/jwks" {
            Ok(self.0.clone())
        } else {
            Err(JwksFetchError("unreachable".into()))
        }
    }
}

struct Fixture {
    service: TokenService,
    signer: Arc<LocalSigner>,
    rsa: TestKey,
    ec: TestKey,
}

fn fixture() -> Fixture {
    let signer = Arc::new(LocalSigner::generate().unwrap());
    let rsa = TestKey::rsa(Algorithm::RS384, "rsa-1");
    let ec = TestKey::es384("ec-1");
    let clients = InMemoryClientRegistry::new();
    clients
        .register(RegisteredClient {
            client_id: "rsa-client".into(),
            tenant: "acme".parse().unwrap(),
            keys: ClientKeys::Jwks(rsa.jwks()),
            scope: ScopeSet::parse("system/*.rs system/Observation.cruds").unwrap(),
        })
        .unwrap();
    clients
        .register(RegisteredClient {
            client_id: "ec-client".into(),
            tenant: "beta".parse().unwrap(),
            keys: ClientKeys::JwksUri("https://client.example.org/jwks".into()),
            scope: ScopeSet::parse("system/Patient.read").unwrap(),
        })
        .unwrap();
    clients
        .register(RegisteredClient {
            client_id: "offline-client".into(),
            tenant: "beta".parse().unwrap(),
            keys: ClientKeys::JwksUri("https://down.example.org/jwks".into()),
            scope: ScopeSet::parse("system/Patient.read").unwrap(),
        })
        .unwrap();
    assert!(matches!(
        clients.register(RegisteredClient {
            client_id: "ec-client".into(),
            tenant: "acme".parse().unwrap(),
            keys: ClientKeys::Jwks(JwkSet::default()),
            scope: ScopeSet::default(),
        }),
        Err(RegistryError::Duplicate(_))
    ));
    assert_eq!(clients.list(&"beta".parse().unwrap()).len(), 2);
    let service = TokenService::new(
        TokenServiceConfig::for_validator(&ValidatorConfig::default()),
        signer.clone(),
        Arc::new(clients),
        Arc::new(MemoryReplayCache::default()),
        Arc::new(ClientJwks(ec.jwks())),
    );
    Fixture {
        service,
        signer,
        rsa,
        ec,
    }
}

fn assertion_claims(client_id: &str, jti: &str) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": ENDPOINT,
        "exp": NOW + 240,
        "iat": NOW - 5,
        "jti": jti,
    })
}

fn form(assertion: &str, scope: &str) -> Vec<(String, String)> {
    vec![
        ("grant_type".into(), "client_credentials".into()),
        ("client_assertion_type".into(), JWT_BEARER_ASSERTION.into()),
        ("client_assertion".into(), assertion.into()),
        ("scope".into(), scope.into()),
    ]
}

fn exchange(f: &Fixture, form: &[(String, String)]) -> Result<TokenResponse, OAuthError> {
    futures::executor::block_on(f.service.exchange(
        form,
        ENDPOINT,
        UNIX_EPOCH + Duration::from_secs(NOW as u64),
    ))
}

#[test]
fn good_assertions_get_tokens_that_validate() {
    let f = fixture();
    let validator = Validator::new(
        ValidatorConfig::default(),
        f.signer.jwks(),
        Arc::new(crate::NoJwksSource),
    )
    .unwrap();
    for (client, key, scope, tenant) in [
        (
            "rsa-client",
            &f.rsa,
            "system/Patient.rs system/Observation.c",
            "acme",
        ),
        ("ec-client", &f.ec, "system/Patient.read", "beta"),
    ] {
        let assertion = key.sign(&assertion_claims(client, "jti-1"));
        let response = exchange(&f, &form(&assertion, scope)).unwrap();
        assert_eq!(response.token_type, "bearer");
        assert_eq!(response.expires_in, 300);
        assert_eq!(response.scope, scope);

        let principal = futures::executor::block_on(validator.validate(
            &response.access_token,
            UNIX_EPOCH + Duration::from_secs(NOW as u64 + 299),
        ))
        .unwrap();
        assert_eq!(principal.subject, client);
        assert_eq!(principal.client_id.as_deref(), Some(client));
        assert_eq!(principal.tenant.as_ref().map(|t| t.as_str()), Some(tenant));
        assert_eq!(principal.scopes.to_string(), scope);
        assert!(principal.expires_at <= NOW + 300);
        let access = Authorizer::default().authorize(
            &principal,
            &tenant.parse().unwrap(),
            Interaction::Read,
            "Patient",
        );
        assert!(access.is_ok(), "{access:?}");
    }
}

/// (name, form, expected error, fragment of the description)
type Case<'a> = (&'a str, Vec<(String, String)>, OAuthErrorCode, &'a str);

#[test]
fn bad_requests_fail_with_the_right_error() {
    use OAuthErrorCode::*;
    let f = fixture();
    let good = |jti: &str| f.rsa.sign(&assertion_claims("rsa-client", jti));
    let patched = |patch: Value| {
        let mut claims = assertion_claims("rsa-client", "x");
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        f.rsa.sign(&claims)
    };
    let with_header = |alg: Algorithm, kid: Option<&str>, key: &TestKey| {
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = kid.map(str::to_owned);
        key.sign_with(header, &assertion_claims("rsa-client", "h"))
    };
    let replayed = good("once");
    assert!(exchange(&f, &form(&replayed, "system/Patient.rs")).is_ok());

    // each case that gets past client authentication uses its own jti: an assertion is
    // spent once authenticated, even when the scope check then fails
    let scope = "system/Patient.rs";
    let set = |mut form: Vec<(String, String)>, name: &str, value: Option<&str>| {
        form.retain(|(k, _)| k != name);
        if let Some(v) = value {
            form.push((name.into(), v.into()));
        }
        form
    };
    let cases: Vec<Case<'_>> = vec![
        (
            "no grant_type",
            set(form(&good("a"), scope), "grant_type", None),
            InvalidRequest,
            "'grant_type' is missing",
        ),
        (
            "auth code grant",
            set(
                form(&good("a"), scope),
                "grant_type",
                Some("authorization_code"),
            ),
            UnsupportedGrantType,
            "client_credentials",
        ),
        (
            "no assertion type",
            set(form(&good("a"), scope), "client_assertion_type", None),
            InvalidRequest,
            "client_assertion_type",
        ),
        (
            "wrong assertion type",
            set(
                form(&good("a"), scope),
                "client_assertion_type",
                Some("urn:x"),
            ),
            InvalidClient,
            "client_assertion_type",
        ),
        (
            "no assertion",
            set(form(&good("a"), scope), "client_assertion", None),
            InvalidRequest,
            "'client_assertion' is missing",
        ),
        (
            "no scope",
            set(form(&good("a"), scope), "scope", None),
            InvalidRequest,
            "'scope' is missing",
        ),
        (
            "repeated scope",
            {
                let mut f = form(&good("a"), scope);
                f.push(("scope".into(), scope.into()));
                f
            },
            InvalidRequest,
            "repeated",
        ),
        (
            "malformed scope",
            form(&good("a"), "system/Patient.sr"),
            InvalidScope,
            "order",
        ),
        (
            "over-scoped",
            form(&good("o1"), "system/Patient.rs system/Patient.c"),
            InvalidScope,
            "system/Patient.c",
        ),
        (
            "over-scoped wildcard",
            form(&good("o2"), "system/*.cruds"),
            InvalidScope,
            "system/*.cruds",
        ),
        (
            "other context",
            form(&good("o3"), "user/Patient.rs"),
            InvalidScope,
            "user/Patient.rs",
        ),
        (
            "garbage assertion",
            form("not.a.jwt", scope),
            InvalidClient,
            "not a JWT",
        ),
        (
            "expired",
            form(&patched(json!({"exp": NOW - 61})), scope),
            InvalidClient,
            "expired",
        ),
        (
            "exp too far ahead",
            form(&patched(json!({"exp": NOW + 400})), scope),
            InvalidClient,
            "five minutes",
        ),
        (
            "no exp",
            form(&patched(json!({"exp": null})), scope),
            InvalidClient,
            "'exp'",
        ),
        (
            "iat in the future",
            form(&patched(json!({"iat": NOW + 120})), scope),
            InvalidClient,
            "'iat'",
        ),
        (
            "no jti",
            form(&patched(json!({"jti": null})), scope),
            InvalidClient,
            "'jti'",
        ),
        (
            "replayed",
            form(&replayed, scope),
            InvalidClient,
            "already used",
        ),
        (
            "wrong aud",
            form(
                &patched(json!({"aud": "https://fhir.example.org/tenant/acme"})),
                scope,
            ),
            InvalidClient,
            "'aud'",
        ),
        (
            "iss != sub",
            form(&patched(json!({"sub": "someone"})), scope),
            InvalidClient,
            "'iss' and 'sub'",
        ),
        (
            "unknown client",
            form(
                &TestKey::rsa(Algorithm::RS384, "rsa-1").sign(&assertion_claims("nobody", "n")),
                scope,
            ),
            InvalidClient,
            "unknown client",
        ),
        (
            "client_id param differs",
            {
                let mut f = form(&good("b"), scope);
                f.push(("client_id".into(), "ec-client".into()));
                f
            },
            InvalidClient,
            "'client_id'",
        ),
        (
            "unknown kid",
            form(&with_header(Algorithm::RS384, Some("rsa-2"), &f.rsa), scope),
            InvalidClient,
            "no key 'rsa-2'",
        ),
        (
            "no kid",
            form(&with_header(Algorithm::RS384, None, &f.rsa), scope),
            InvalidClient,
            "'kid'",
        ),
        (
            "RS256",
            form(&with_header(Algorithm::RS256, Some("rsa-1"), &f.rsa), scope),
            InvalidClient,
            "RS256",
        ),
        (
            "HS256",
            form(&hs256("rsa-1", &assertion_claims("rsa-client", "h")), scope),
            InvalidClient,
            "HS256",
        ),
        (
            "ES384 with the RSA kid",
            form(
                &{
                    let mut header = jsonwebtoken::Header::new(Algorithm::ES384);
                    header.kid = Some("rsa-1".into());
                    f.ec.sign_with(header, &assertion_claims("rsa-client", "e"))
                },
                scope,
            ),
            InvalidClient,
            "key 'rsa-1'",
        ),
        (
            "signed by another key",
            form(
                &TestKey::es384("ec-1").sign(&assertion_claims("ec-client", "s")),
                "system/Patient.read",
            ),
            InvalidClient,
            "signature",
        ),
        (
            "client jwks_uri down",
            form(
                &f.ec.sign(&assertion_claims("offline-client", "d")),
                "system/Patient.read",
            ),
            TemporarilyUnavailable,
            "jwks_uri",
        ),
    ];
    for (name, form, code, fragment) in cases {
        let err = exchange(&f, &form).expect_err(name);
        assert_eq!(err.error, code, "{name}: {err}");
        assert!(
            err.description.contains(fragment),
            "{name}: '{}' lacks '{fragment}'",
            err.description
        );
        let status = err.http_status();
        match code {
            InvalidClient => assert_eq!(status, 401, "{name}"),
            TemporarilyUnavailable => assert_eq!(status, 503, "{name}"),
            _ => assert_eq!(status, 400, "{name}"),
        }
    }
}

#[test]
fn exp_within_leeway_and_the_five_minute_limit_passes() {
    let f = fixture();
    for (jti, exp) in [("a", NOW - 59), ("b", NOW + 300), ("c", NOW + 359)] {
        let mut claims = assertion_claims("rsa-client", jti);
        claims["exp"] = json!(exp);
        let r = exchange(&f, &form(&f.rsa.sign(&claims), "system/Patient.rs"));
        assert!(r.is_ok(), "exp {exp}: {r:?}");
    }
}

#[test]
fn error_bodies_follow_rfc_6749() {
    let err = OAuthError::new(OAuthErrorCode::InvalidScope, "not authorized for 'x'");
    assert_eq!(
        serde_json::to_value(&err).unwrap(),
        json!({"error": "invalid_scope", "error_description": "not authorized for 'x'"})
    );
    assert_eq!(err.to_string(), "invalid_scope: not authorized for 'x'");
}
