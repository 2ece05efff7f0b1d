//! The admin API (tenants, clients) and the SMART Backend Services token endpoint, end to end
//! with an ES384 client assertion made here.

use std::time::{SystemTime, UNIX_EPOCH};

use hearth_auth::{Algorithm, Jwk, JwkSet};
use hearth_tenancy::TenantId;
use hearth_tests::{FULL_ACCESS, TestServer, patient};
use jsonwebtoken::{EncodingKey, Header};
use p384::pkcs8::EncodePrivateKey;
use serde_json::{Value, json};

#[tokio::test]
async fn tenant_lifecycle() {
    let s = TestServer::start().await;
    let admin = s.admin_token();
    let tenants = s.root("/admin/tenants");
    let acme = json!({"id": "acme", "name": "Acme"});
    // Only admin tokens.
    let tenant_token = s.token("default", FULL_ACCESS);
    for (token, status) in [(None, 401), (Some(tenant_token.as_str()), 403)] {
        let reply = s.send_as(token, "POST", &tenants, Some(&acme), &[]).await;
        assert_eq!(reply.status, status);
        assert_eq!(
            s.send_as(token, "GET", &tenants, None, &[]).await.status,
            status
        );
    }
    // (method, path, body, expected status)
    let cases: Vec<(&str, &str, Option<Value>, u16)> = vec![
        ("POST", "", Some(acme.clone()), 201),
        ("POST", "", Some(acme.clone()), 409),
        ("POST", "", Some(json!({"id": "Bad_Id"})), 400),
        ("POST", "", Some(json!({"name": "no id"})), 400),
        ("POST", "", Some(json!({"id": "x", "extra": 1})), 400),
        ("GET", "/acme", None, 200),
        ("GET", "/nobody", None, 404),
        ("GET", "/Bad_Id", None, 400),
        ("DELETE", "/nobody", None, 404),
        ("POST", "/nobody/suspend", None, 404),
    ];
    for (method, path, body, status) in cases {
        let url = format!("{tenants}{path}");
        let reply = s
            .send_as(Some(&admin), method, &url, body.as_ref(), &[])
            .await;
        assert_eq!(reply.status, status, "{method} {path}: {:?}", reply.json());
    }
    let created = s
        .send_as(Some(&admin), "GET", &format!("{tenants}/acme"), None, &[])
        .await
        .json();
    assert_eq!(created["name"], "Acme");
    assert_eq!(created["status"], "active");
    let list = s
        .send_as(Some(&admin), "GET", &tenants, None, &[])
        .await
        .json();
    let ids: Vec<&str> = list["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme", "default", "other"]);

    // Usable at once.
    let base = s.tenant_base("acme");
    let reply = s
        .send("POST", &format!("{base}/Patient"), Some(&patient("A")), &[])
        .await;
    assert_eq!(reply.status, 201);
    let read = format!("{base}/Patient/{}", reply.json()["id"].as_str().unwrap());
    assert_eq!(s.send("GET", &read, None, &[]).await.status, 200);

    // Suspended: its URLs answer 404 until resumed.
    let suspend = format!("{tenants}/acme/suspend");
    let reply = s.send_as(Some(&admin), "POST", &suspend, None, &[]).await;
    assert_eq!(reply.json()["status"], "suspended");
    assert_eq!(
        s.send("GET", &read, None, &[]).await.outcome(404),
        "not-found"
    );
    let resume = format!("{tenants}/acme/resume");
    assert_eq!(
        s.send_as(Some(&admin), "POST", &resume, None, &[])
            .await
            .status,
        200
    );
    assert_eq!(s.send("GET", &read, None, &[]).await.status, 200);

    // Deleted: 404 at once, data gone.
    let reply = s
        .send_as(
            Some(&admin),
            "DELETE",
            &format!("{tenants}/acme"),
            None,
            &[],
        )
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        s.send("GET", &read, None, &[]).await.outcome(404),
        "not-found"
    );
    assert_eq!(
        s.send("GET", &format!("{base}/metadata"), None, &[])
            .await
            .status,
        404
    );
    let reply = s
        .send_as(Some(&admin), "GET", &format!("{tenants}/acme"), None, &[])
        .await;
    assert_eq!(reply.status, 404);
}

/// A tenant whose deletion stopped part-way stays `deleting`: it cannot be resumed or
/// suspended, takes no new clients, has none left, and deleting it again finishes.
#[tokio::test]
async fn a_tenant_left_deleting_is_deleted_again() {
    let s = TestServer::start().await;
    let admin = s.admin_token();
    let tenant = s.root("/admin/tenants/gamma");
    let clients = format!("{tenant}/clients");
    let client = json!({
        "client_id": "gamma-client",
        "jwks_uri": "https://client.example.org/jwks",
        "scope": "system/*.rs",
    });
    // (method, url, body, expected status)
    type Case = (&'static str, String, Option<Value>, u16);
    let check = |cases: Vec<Case>| {
        let (s, admin) = (&s, &admin);
        async move {
            for (method, url, body, status) in cases {
                let reply = s
                    .send_as(Some(admin), method, &url, body.as_ref(), &[])
                    .await;
                assert_eq!(reply.status, status, "{method} {url}: {:?}", reply.json());
            }
        }
    };
    check(vec![
        (
            "POST",
            s.root("/admin/tenants"),
            Some(json!({"id": "gamma"})),
            201,
        ),
        ("POST", clients.clone(), Some(client.clone()), 201),
    ])
    .await;
    // As a deletion stopped after its first step would leave it.
    let gamma: TenantId = "gamma".parse().unwrap();
    hearth_api::deletion::begin(s.tenants.as_ref(), &gamma)
        .await
        .unwrap();
    let reply = s.send_as(Some(&admin), "GET", &tenant, None, &[]).await;
    assert_eq!(reply.json()["status"], "deleting");
    let default_clients = s.root("/admin/tenants/default/clients");
    let mut other_client = client.clone();
    other_client["client_id"] = json!("gamma-other");
    check(vec![
        ("POST", format!("{tenant}/resume"), None, 409),
        ("POST", format!("{tenant}/suspend"), None, 409),
        ("POST", clients.clone(), Some(other_client), 409),
        ("DELETE", tenant.clone(), None, 204),
        ("GET", tenant.clone(), None, 404),
        ("DELETE", tenant.clone(), None, 404),
        // Its client id is free.
        ("POST", default_clients, Some(client.clone()), 201),
    ])
    .await;
}

/// An ES384 key pair of a backend-services client.
struct ClientKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Jwk,
}

impl ClientKey {
    fn new(kid: &str) -> ClientKey {
        let der = p384::SecretKey::random(&mut rand_core::OsRng)
            .to_pkcs8_der()
            .unwrap();
        let encoding = EncodingKey::from_ec_der(der.as_bytes());
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES384).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        ClientKey {
            kid: kid.to_owned(),
            encoding,
            jwk,
        }
    }

    fn jwks(&self) -> Value {
        json!(JwkSet {
            keys: vec![self.jwk.clone()]
        })
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES384);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn assertion_claims(client_id: &str, aud: &str) -> Value {
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "exp": now() + 120,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

/// `POST /auth/token` with a form; returns (status, JSON body, Cache-Control).
async fn token_request(s: &TestServer, form: &[(String, String)]) -> (u16, Value, String) {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let reply = s
        .send_raw(
            "POST",
            &s.root("/auth/token"),
            body.into_bytes(),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        reply.headers
    );
    let cache = reply.header("cache-control").unwrap_or_default().to_owned();
    (reply.status, reply.json(), cache)
}

/// A decoded form body, in order.
type Form = Vec<(String, String)>;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[tokio::test]
async fn client_registration_and_token_endpoint() {
    let s = TestServer::start().await;
    let admin = s.admin_token();
    let key = ClientKey::new("k1");
    let clients = s.root("/admin/tenants/default/clients");
    let register = |body: Value| {
        let (s, admin, clients) = (&s, &admin, &clients);
        async move {
            s.send_as(Some(admin), "POST", clients, Some(&body), &[])
                .await
        }
    };
    let good = json!({"client_id": "backend-1", "jwks": key.jwks(), "scope": "system/Patient.rs"});
    let reply = register(good.clone()).await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    assert_eq!(reply.json()["tenant"], "default");
    // (registration, expected status)
    let cases = vec![
        (good.clone(), 409),
        (
            json!({"client_id": "bad id!", "jwks": key.jwks(), "scope": "system/*.rs"}),
            400,
        ),
        (json!({"client_id": "c2", "scope": "system/*.rs"}), 400),
        (
            json!({"client_id": "c2", "jwks": key.jwks(), "jwks_uri": "https://x/j", "scope": "system/*.rs"}),
            400,
        ),
        (
            json!({"client_id": "c2", "jwks_uri": "http://example.org/jwks", "scope": "system/*.rs"}),
            400,
        ),
        (
            json!({"client_id": "c2", "jwks": key.jwks(), "scope": "system/*.xyz"}),
            400,
        ),
        (
            json!({"client_id": "c2", "jwks": {"keys": []}, "scope": "system/*.rs"}),
            400,
        ),
    ];
    for (body, status) in cases {
        assert_eq!(register(body.clone()).await.status, status, "{body}");
    }
    // A client id is unique in the deployment, not per tenant.
    let reply = s
        .send_as(
            Some(&admin),
            "POST",
            &s.root("/admin/tenants/other/clients"),
            Some(&good),
            &[],
        )
        .await;
    assert_eq!(reply.status, 409);
    let list = s
        .send_as(Some(&admin), "GET", &clients, None, &[])
        .await
        .json();
    assert_eq!(list["clients"][0]["client_id"], "backend-1");
    assert_eq!(list["clients"][0]["scope"], "system/Patient.rs");

    // The aud of an assertion is the token endpoint as discovery advertises it.
    let endpoint = s
        .send_as(None, "GET", ".well-known/smart-configuration", None, &[])
        .await
        .json()["token_endpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let assertion = key.sign(&assertion_claims("backend-1", &endpoint));
    let form = |assertion: &str, scope: &str| -> Form {
        vec![
            ("grant_type".into(), "client_credentials".into()),
            ("client_assertion_type".into(), ASSERTION_TYPE.into()),
            ("client_assertion".into(), assertion.into()),
            ("scope".into(), scope.into()),
        ]
    };
    let ok_form = form(&assertion, "system/Patient.rs");
    let (status, body, cache) = token_request(&s, &ok_form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(cache, "no-store");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["scope"], "system/Patient.rs");
    let access = body["access_token"].as_str().unwrap().to_owned();

    // The issued token works within its scopes and tenant.
    s.send(
        "PUT",
        "Patient/b1",
        Some(&json!({"resourceType": "Patient", "id": "b1"})),
        &[],
    )
    .await;
    let get = s
        .send_as(Some(&access), "GET", "Patient/b1", None, &[])
        .await;
    assert_eq!(get.status, 200);
    let post = s
        .send_as(Some(&access), "POST", "Patient", Some(&patient("B")), &[])
        .await;
    assert_eq!(post.status, 403);
    let other = s
        .send_as(
            Some(&access),
            "GET",
            &format!("{}/Patient/b1", s.tenant_base("other")),
            None,
            &[],
        )
        .await;
    assert_eq!(other.status, 403);

    // Bad requests: RFC 6749 error JSON, never an OperationOutcome.
    let stranger = ClientKey::new("k1");
    let wrong_aud = key.sign(&assertion_claims("backend-1", "https://elsewhere/token"));
    let unknown = key.sign(&assertion_claims("nobody", &endpoint));
    let forged = stranger.sign(&assertion_claims("backend-1", &endpoint));
    let mut late = assertion_claims("backend-1", &endpoint);
    late["exp"] = json!(now() - 3600);
    let expired = key.sign(&late);
    let mut far = assertion_claims("backend-1", &endpoint);
    far["exp"] = json!(now() + 3600);
    let too_long = key.sign(&far);
    let fresh = || key.sign(&assertion_claims("backend-1", &endpoint));
    let mut wrong_grant = form(&fresh(), "system/Patient.rs");
    wrong_grant[0].1 = "authorization_code".into();
    let mut wrong_type = form(&fresh(), "system/Patient.rs");
    wrong_type[1].1 = "jwt".into();
    // (form, expected status, error code)
    let cases: Vec<(Form, u16, &str)> = vec![
        (ok_form.clone(), 401, "invalid_client"), // replayed jti
        (form(&wrong_aud, "system/Patient.rs"), 401, "invalid_client"),
        (form(&unknown, "system/Patient.rs"), 401, "invalid_client"),
        (form(&forged, "system/Patient.rs"), 401, "invalid_client"),
        (form(&expired, "system/Patient.rs"), 401, "invalid_client"),
        (form(&too_long, "system/Patient.rs"), 401, "invalid_client"),
        (
            form("not-a-jwt", "system/Patient.rs"),
            401,
            "invalid_client",
        ),
        (form(&fresh(), "system/Patient.cruds"), 400, "invalid_scope"),
        (
            form(&fresh(), "system/Observation.rs"),
            400,
            "invalid_scope",
        ),
        (wrong_grant, 400, "unsupported_grant_type"),
        (wrong_type, 401, "invalid_client"),
        (
            form(&fresh(), "system/Patient.rs")[..3].to_vec(),
            400,
            "invalid_request",
        ),
    ];
    for (f, status, code) in cases {
        let (got, body, cache) = token_request(&s, &f).await;
        assert_eq!(
            (got, body["error"].as_str().unwrap_or_default()),
            (status, code),
            "{f:?}: {body}"
        );
        assert!(body["error_description"].is_string());
        assert!(body.get("resourceType").is_none());
        assert_eq!(cache, "no-store");
    }
    let reply = s
        .send_raw(
            "POST",
            &s.root("/auth/token"),
            b"{}".to_vec(),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(
        (reply.status, reply.json()["error"].clone()),
        (400, json!("invalid_request"))
    );

    // A removed client gets no more tokens.
    let one = s.root("/admin/tenants/default/clients/backend-1");
    assert_eq!(
        s.send_as(Some(&admin), "DELETE", &one, None, &[])
            .await
            .status,
        204
    );
    assert_eq!(
        s.send_as(Some(&admin), "DELETE", &one, None, &[])
            .await
            .status,
        404
    );
    let (status, body, _) = token_request(&s, &form(&fresh(), "system/Patient.rs")).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (401, "invalid_client")
    );
    // ... and its id is free again.
    assert_eq!(register(good).await.status, 201);

    // A client whose keys are fetched from its jwks_uri (loopback http is allowed).
    let uri_key = ClientKey::new("u1");
    let jwks_uri = serve_once_per_request(uri_key.jwks().to_string()).await;
    let reply =
        register(json!({"client_id": "by-uri", "jwks_uri": jwks_uri, "scope": "system/*.rs"}))
            .await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    let assertion = uri_key.sign(&assertion_claims("by-uri", &endpoint));
    let (status, body, _) = token_request(&s, &form(&assertion, "system/Patient.rs")).await;
    assert_eq!(status, 200, "{body}");
}

/// A loopback HTTP server answering every request with `body` as JSON; returns its URL.
async fn serve_once_per_request(body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    url
}
