//! Test harness: a Hearth server on a real loopback socket with a fresh data dir, and small
//! helpers for black-box HTTP tests.

use std::net::SocketAddr;
use std::sync::Arc;

use hearth_api::{AppState, Limits, app};
use hearth_store::embedded::{FsBlobStore, SqliteOptions, SqliteResourceStore};
use hearth_tenancy::{TenantId, TenantRegistry};
use serde_json::Value;

/// A running server; dropped at the end of the test with its data dir.
pub struct TestServer {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT/tenant/default`.
    pub base: String,
    pub client: reqwest::Client,
    pub registry: TenantRegistry,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server with default limits and the tenants `default` and `other`.
    pub async fn start() -> TestServer {
        TestServer::with_limits(Limits::default()).await
    }

    pub async fn with_limits(limits: Limits) -> TestServer {
        let dir = tempfile::tempdir().expect("create temp dir");
        let registry = TenantRegistry::new(dir.path());
        for tenant in ["default", "other"] {
            registry
                .create(&tenant.parse::<TenantId>().expect("tenant id"), tenant)
                .expect("create tenant");
        }
        let store = Arc::new(SqliteResourceStore::new(
            registry.clone(),
            SqliteOptions::default(),
        ));
        let blobs = Arc::new(FsBlobStore::new(registry.clone()));
        let state = AppState::new(store, blobs, registry.clone(), limits, None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum_serve(listener, state).await;
        });
        TestServer {
            addr,
            base: format!("http://{addr}/tenant/default"),
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(8)
                .build()
                .expect("client"),
            registry,
            _dir: dir,
        }
    }

    /// The base URL of another tenant.
    pub fn tenant_base(&self, tenant: &str) -> String {
        format!("http://{}/tenant/{tenant}", self.addr)
    }

    /// `{base}/{path}`.
    pub fn url(&self, path: &str) -> String {
        if path.is_empty() {
            self.base.clone()
        } else {
            format!("{}/{}", self.base, path.trim_start_matches('/'))
        }
    }

    /// Sends a request with a FHIR JSON body (if any) and returns status, headers and body.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            self.url(path)
        };
        let mut request = self.client.request(method, url);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/fhir+json")
                .body(serde_json::to_vec(body).expect("json"));
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        Reply::from(request.send().await.expect("send request")).await
    }

    /// Sends raw bytes with the given headers.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            self.url(path)
        };
        let mut request = self.client.request(method, url).body(body);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        Reply::from(request.send().await.expect("send request")).await
    }
}

async fn axum_serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    hearth_api::serve(listener, app(state)).await
}

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Reply {
    async fn from(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("read body").to_vec();
        Reply {
            status,
            headers,
            bytes,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.bytes)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an OperationOutcome with `status`, and returns its first issue's code.
    pub fn outcome(&self, status: u16) -> String {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.bytes)
        );
        let body = self.json();
        assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/fhir+json"))
        );
        body["issue"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// A minimal valid Patient.
pub fn patient(family: &str) -> Value {
    serde_json::json!({
        "resourceType": "Patient",
        "name": [{ "family": family, "given": ["Ann"] }],
        "gender": "female",
        "birthDate": "1970-01-01"
    })
}
