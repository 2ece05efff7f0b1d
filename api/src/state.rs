//! Shared state of the service: the ports it talks to and the limits it enforces.

use crate::rate_limit::RateLimiter;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use bytes::Bytes;
use hearth_store::{BlobStore, Partitions, ResourceStore, TenantPartitions};
use hearth_tenancy::{TenantDirectory, TenantId};
use hearth_workers::export::ExportService;

use crate::audit::AuditEvents;
use crate::auth::Auth;

/// Explicit limits on what a request may ask; each is documented in the README.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest FHIR JSON request body, in bytes (default 16 MiB); larger → 413.
    pub max_body_bytes: usize,
    /// Largest Binary content, in bytes (default 1 GiB); larger → 413.
    pub max_binary_bytes: u64,
    /// Most entries in one batch or transaction Bundle (default 20,000); more → 413.
    pub max_bundle_entries: usize,
    /// Deepest JSON nesting accepted (default 64); deeper → 400.
    pub max_json_depth: usize,
    /// Page size when `_count` is absent (default 20).
    pub default_page_size: usize,
    /// Largest `_count` honoured (default 1,000); larger values are clamped.
    pub max_page_size: usize,
    /// Requests per second per tenant, refilled continuously (default 0: no limit); beyond it
    /// → 429 with `Retry-After`.
    pub tenant_requests_per_second: f64,
    /// Requests a tenant may send at once before the rate applies (default 100).
    pub tenant_burst: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_binary_bytes: 1024 * 1024 * 1024,
            max_bundle_entries: 20_000,
            max_json_depth: 64,
            default_page_size: 20,
            max_page_size: 1_000,
            tenant_requests_per_second: 0.0,
            tenant_burst: 100.0,
        }
    }
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn ResourceStore>,
    pub blobs: Arc<dyn BlobStore>,
    /// The tenant directory: the data dir's folders, or DynamoDB shared by every API task.
    pub tenants: Arc<dyn TenantDirectory>,
    pub limits: Arc<Limits>,
    /// Token validation, authorization, the token endpoint and registered clients.
    pub auth: Arc<Auth>,
    /// Public base URL (scheme://host[:port]) when configured; otherwise taken from `Host`.
    pub public_url: Option<Arc<str>>,
    /// The CapabilityStatement without its base URL, generated once.
    pub(crate) capability: Arc<Bytes>,
    /// Tenants recently found active, with when they were checked.
    /// Per-tenant token buckets.
    pub(crate) rate_limiter: Arc<RateLimiter>,
    pub(crate) known_tenants: Arc<RwLock<HashMap<TenantId, Instant>>>,
    /// Bulk export; without it the `$export` endpoints answer 500 (not configured).
    pub export: Option<Arc<ExportService>>,
    /// Set when export files are offered as signed, expiring URLs
    /// (`requiresAccessToken: false`) instead of token-guarded ones.
    pub url_signer: Option<Arc<hearth_auth::UrlSigner>>,
    /// What a tenant owns beyond its registry folder (its key, its items in external
    /// stores): provisioned when the admin API creates a tenant, destroyed before it deletes
    /// one. By default nothing: the registry folder holds every embedded partition.
    pub partitions: Arc<dyn TenantPartitions>,
    /// Stores every tenant request's audit record as an AuditEvent too (`[audit]
    /// store_events`); without it the records are only logged.
    pub audit_events: Option<Arc<AuditEvents>>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn ResourceStore>,
        blobs: Arc<dyn BlobStore>,
        tenants: Arc<dyn TenantDirectory>,
        limits: Limits,
        public_url: Option<String>,
        auth: Auth,
    ) -> AppState {
        AppState {
            store,
            blobs,
            tenants,
            rate_limiter: Arc::new(RateLimiter::new(
                limits.tenant_requests_per_second,
                limits.tenant_burst,
            )),
            limits: Arc::new(limits),
            auth: Arc::new(auth),
            public_url: public_url.map(|u| Arc::from(u.trim_end_matches('/'))),
            capability: Arc::new(crate::capability::capability_statement()),
            known_tenants: Arc::default(),
            export: None,
            url_signer: None,
            partitions: Arc::new(Partitions::default()),
            audit_events: None,
        }
    }
}

impl AppState {
    /// Serves `$export` with `service`.
    pub fn with_export(mut self, service: Arc<ExportService>) -> AppState {
        self.export = Some(service);
        self
    }

    /// Offers export files as signed URLs, valid until their export expires.
    pub fn with_signed_export_urls(mut self, signer: Arc<hearth_auth::UrlSigner>) -> AppState {
        self.url_signer = Some(signer);
        self
    }

    /// Also stores audit records as AuditEvents in their tenants with `events`.
    pub fn with_audit_events(mut self, events: Arc<AuditEvents>) -> AppState {
        self.audit_events = Some(events);
        self
    }

    /// Provisions and destroys each tenant's partitions with `partitions`.
    pub fn with_partitions(mut self, partitions: Arc<dyn TenantPartitions>) -> AppState {
        self.partitions = partitions;
        self
    }

    /// Drops `tenant` from the tenant cache, so its next request asks the registry (after a
    /// delete or a status change through the admin API).
    pub fn forget_tenant(&self, tenant: &TenantId) {
        if let Ok(mut cache) = self.known_tenants.write() {
            cache.remove(tenant);
        }
    }
}
