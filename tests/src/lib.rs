//! Test harness: a Hearth server on a real loopback socket with a fresh data dir, and small
//! helpers for black-box HTTP tests.
//!
//! Every request carries a bearer token unless a test says otherwise ([`TestServer::send_as`]):
//! by default a full-access token (`system/*.cruds`) for the tenant the URL names (`default`
//! for relative paths), signed with the server's own key ([`TestServer::token`] mints others).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use hearth_api::{AppState, Auth, AuthSetup, Limits, app};
use hearth_auth::{AccessClaims, LocalSigner, signing_key_path};
use hearth_tenancy::{TenantDirectory, TenantId, TenantRegistry};
use hearth_workers::export::ExportOptions;
use serde_json::Value;

pub mod backend;
mod export;

pub use export::KICKOFF;

/// A running server; dropped at the end of the test with its data dir.
pub struct TestServer {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT/tenant/default`.
    pub base: String,
    pub client: reqwest::Client,
    pub registry: TenantRegistry,
    /// The server's tenant directory (the data dir's folders, or DynamoDB on AWS), for states
    /// the admin API cannot make, such as a deletion that stopped part-way.
    pub tenants: Arc<dyn TenantDirectory>,
    /// The server's local signing key (as `hearth token` would load it from the data dir).
    pub signer: Arc<LocalSigner>,
    /// The in-process export workers; stopped with the server.
    workers: Vec<tokio::task::JoinHandle<()>>,
    /// What the export workers work with (to read a job's document in tests).
    pub export: Arc<hearth_workers::export::ExportContext>,
    /// The export queue (to play a worker in tests).
    pub queue: Arc<dyn hearth_store::JobQueue>,
    /// How long a write takes to enter export snapshots (0 on the embedded backend).
    settle: std::time::Duration,

    _dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        for worker in &self.workers {
            worker.abort();
        }
    }
}

/// Export settings of test servers: quick polling and resumption, small pages.
pub fn test_export_options() -> ExportOptions {
    ExportOptions {
        poll_interval: std::time::Duration::from_secs(1),
        visibility: std::time::Duration::from_secs(5),
        page: 50,
        ..ExportOptions::default()
    }
}

/// Optional features of a test server.
#[derive(Debug, Default, Clone, Copy)]
struct Extras {
    /// Export files by HMAC-signed server URLs.
    signed_urls: bool,
    /// Audit records also stored as AuditEvents.
    audit_events: bool,
    /// Export files by the blob store's presigned URLs (AWS).
    presigned_urls: bool,
}

/// The full-access scope of the default tokens.
pub const FULL_ACCESS: &str = "system/*.cruds";

impl TestServer {
    /// Starts a server with default limits and the tenants `default` and `other`.
    pub async fn start() -> TestServer {
        TestServer::with_limits(Limits::default()).await
    }

    pub async fn with_limits(limits: Limits) -> TestServer {
        TestServer::build(limits, test_export_options(), 1, Extras::default()).await
    }

    /// A server offering export files as signed URLs (`requiresAccessToken: false`).
    pub async fn with_signed_export_urls() -> TestServer {
        TestServer::build(
            Limits::default(),
            test_export_options(),
            1,
            Extras {
                signed_urls: true,
                ..Extras::default()
            },
        )
        .await
    }

    /// A server whose export manifests link files by presigned URLs of the blob store
    /// (`requiresAccessToken: false`); `None` on a backend without them (embedded).
    pub async fn with_presigned_export_urls() -> Option<TestServer> {
        if !backend::aws_selected() {
            return None;
        }
        let options = Extras {
            presigned_urls: true,
            ..Extras::default()
        };
        Some(TestServer::build(Limits::default(), test_export_options(), 1, options).await)
    }

    /// A server with default limits, these export settings and `workers` export workers.
    pub async fn with_export(export: ExportOptions, workers: usize) -> TestServer {
        TestServer::build(Limits::default(), export, workers, Extras::default()).await
    }

    /// A server that also stores audit records as AuditEvents (`[audit] store_events`).
    pub async fn with_audit_events() -> TestServer {
        TestServer::build(
            Limits::default(),
            test_export_options(),
            1,
            Extras {
                audit_events: true,
                ..Extras::default()
            },
        )
        .await
    }

    async fn build(
        limits: Limits,
        export: ExportOptions,
        workers: usize,
        extras: Extras,
    ) -> TestServer {
        let Extras {
            signed_urls,
            audit_events,
            presigned_urls,
        } = extras;
        let dir = tempfile::tempdir().expect("create temp dir");
        let registry = TenantRegistry::new(dir.path());
        let backend = backend::open(&registry, dir.path()).await;
        for tenant in ["default", "other"] {
            let id = tenant.parse::<TenantId>().expect("tenant id");
            backend
                .tenants
                .create(&id, tenant)
                .await
                .expect("create tenant");
            backend.provision(&id).await;
        }
        let (store, blobs) = (backend.store.clone(), backend.blobs.clone());
        let signer = Arc::new(
            LocalSigner::load_or_create(&signing_key_path(dir.path())).expect("signing key"),
        );
        let auth = Auth::new(AuthSetup {
            signer: signer.clone(),
            validator: hearth_auth::ValidatorConfig::default(),
            rbac: hearth_auth::RbacConfig::default(),
            token_lifetime_secs: 300,
            clients: backend.clients.clone(),
            replay: backend.replay.clone(),
            ca_file: None,
            admin_key: None,
        })
        .expect("auth config");
        let export_ctx = Arc::new(hearth_workers::export::ExportContext {
            resources: store.clone(),
            blobs: blobs.clone(),
            jobs: backend.jobs.clone(),
            options: export,
        });
        let export_queue = backend.queue.clone();
        let service = match (&backend.urls, presigned_urls) {
            (Some(urls), true) => Arc::new(
                hearth_workers::export::ExportService::new(
                    export_ctx.clone(),
                    export_queue.clone(),
                )
                .with_presigned_links(hearth_workers::export::PresignedLinks {
                    urls: urls.clone(),
                    ttl: std::time::Duration::from_secs(600),
                }),
            ),
            _ => hearth_workers::export_service(&export_ctx, &export_queue),
        };
        let workers = match workers {
            0 => Vec::new(),
            n => hearth_workers::spawn_workers(&export_ctx, &export_queue, n),
        };
        let mut state = AppState::new(store, blobs, backend.tenants.clone(), limits, None, auth)
            .with_export(service);
        if let Some(partitions) = backend.partitions.clone() {
            state = state.with_partitions(partitions);
        }
        if signed_urls {
            let path = hearth_auth::url_signing_key_path(dir.path());
            let signer = hearth_auth::UrlSigner::load_or_create(&path).expect("URL-signing key");
            state = state.with_signed_export_urls(Arc::new(signer));
        }
        if audit_events {
            let events = hearth_api::AuditEvents::start(
                state.store.clone(),
                hearth_api::AuditEventsConfig::default(),
            );
            state = state.with_audit_events(Arc::new(events));
        }
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
            // The raw bytes, as a client without gzip support sees them (reqwest's gzip
            // feature is on in this build for the OpenSearch client).
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(8)
                .no_gzip()
                .build()
                .expect("client"),
            registry,
            tenants: backend.tenants.clone(),
            signer,
            workers,
            export: export_ctx,
            queue: export_queue,
            settle: backend.settle,
            _dir: dir,
        }
    }

    /// Waits until every write so far is part of export snapshots (at once on the embedded
    /// backend; the settle window on AWS).
    pub async fn settle(&self) {
        if !self.settle.is_zero() {
            tokio::time::sleep(self.settle + std::time::Duration::from_millis(100)).await;
        }
    }

    /// `http://127.0.0.1:PORT{path}` (for `/health`, `/auth/token`, `/admin/...`).
    pub fn root(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A token of the local issuer for `tenant` with `scope`, valid for an hour.
    pub fn token(&self, tenant: &str, scope: &str) -> String {
        self.token_with(tenant, scope, |_| {})
    }

    /// Like [`TestServer::token`], with the claims adjusted by `f` (e.g. a `patient`).
    pub fn token_with(
        &self,
        tenant: &str,
        scope: &str,
        f: impl FnOnce(&mut AccessClaims),
    ) -> String {
        let mut claims = AccessClaims::for_tenant(
            hearth_auth::DEFAULT_LOCAL_ISSUER,
            hearth_auth::DEFAULT_AUDIENCE,
            "test",
            &tenant.parse().expect("tenant id"),
            scope,
            SystemTime::now(),
            3600,
        );
        f(&mut claims);
        self.signer.mint(&claims).expect("mint token")
    }

    /// A token for the admin API.
    pub fn admin_token(&self) -> String {
        let claims = AccessClaims::admin(
            hearth_auth::DEFAULT_LOCAL_ISSUER,
            hearth_auth::DEFAULT_AUDIENCE,
            "test-admin",
            SystemTime::now(),
            3600,
        );
        self.signer.mint(&claims).expect("mint token")
    }

    /// The default token of a request to `url`: full access to the tenant it names, or to
    /// `default` when it names none (or an invalid one).
    fn default_token(&self, url: &str) -> String {
        let tenant = url
            .split("/tenant/")
            .nth(1)
            .and_then(|rest| rest.split(['/', '?']).next())
            .filter(|t| t.parse::<TenantId>().is_ok())
            .unwrap_or("default");
        self.token(tenant, FULL_ACCESS)
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

    /// Sends a request with a FHIR JSON body (if any) and the default token, and returns
    /// status, headers and body.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let url = self.absolute(path);
        let token = self.default_token(&url);
        self.send_as(Some(&token), method, &url, body, headers)
            .await
    }

    /// [`TestServer::send`] with `token` as the bearer token, or none at all.
    pub async fn send_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, self.absolute(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
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

    /// Sends raw bytes with the given headers and the default token.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let url = self.absolute(path);
        let token = self.default_token(&url);
        let mut request = self
            .client
            .request(method, url)
            .bearer_auth(token)
            .body(body);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        Reply::from(request.send().await.expect("send request")).await
    }
}

impl TestServer {
    /// `path` as an absolute URL: as is when it starts with `http`, else under the base.
    fn absolute(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            self.url(path)
        }
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
