//! Configuration: defaults, then a TOML file (`--config`/`HEARTH_CONFIG`), then `HEARTH_*`
//! environment variables, then command-line flags; each later source wins.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::Deserialize;

/// Options every command takes.
#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// Data directory of the embedded backend.
    #[arg(long, global = true, env = "HEARTH_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file.
    #[arg(long, global = true, env = "HEARTH_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The whole configuration, as in `hearth.example.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// Data directory of the embedded backend.
    pub data_dir: PathBuf,
    /// `embedded` (the default) or `aws`.
    pub backend: String,
    /// Tenant created on first start.
    pub default_tenant: String,
    /// Public base URL (scheme://host[:port]) used in links; default: from the Host header.
    pub public_url: Option<String>,
    /// `text` or `json` log lines.
    pub log_format: String,
    /// Log filter, e.g. `info` or `hearth_api=debug`.
    pub log_level: String,
    pub limits: LimitsConfig,
    pub auth: AuthConfig,
    pub export: ExportConfig,
    pub audit: AuditConfig,
    /// Create missing tables, bucket and queues at start (`HEARTH_PROVISION`; for emulators
    /// and first runs: in AWS the deployment template creates them).
    pub provision: bool,
    /// The AWS backend's resources (`backend = "aws"`).
    pub aws: hearth_aws::AwsConfig,
    /// The AWS backend's search index.
    pub search: SearchConfig,
}

/// The `[audit]` section. Every request and export job is logged as an audit record; with
/// `store_events` each tenant request's record is also stored as an AuditEvent in its tenant.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Store audit records as AuditEvent resources (`HEARTH_AUDIT_EVENTS`; default false).
    pub store_events: bool,
}

/// The `[search]` section: the OpenSearch cluster of the AWS backend.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Base URL of the cluster (`HEARTH_OPENSEARCH_URL`).
    pub url: String,
    /// Index names are `{index_prefix}{tenant}` (`HEARTH_OPENSEARCH_PREFIX`).
    pub index_prefix: String,
    /// Replicas of each tenant index; absent: the cluster default.
    pub replicas: Option<u32>,
    /// Sign requests with SigV4 for this service (`es` for a managed domain, `aoss` for
    /// OpenSearch Serverless; `HEARTH_OPENSEARCH_SIGV4`); absent: no signing.
    pub sigv4_service: Option<String>,
    /// Who indexes writes (`HEARTH_INDEXING`): `stream` (the stream indexer of `hearth
    /// worker`, from the table's stream; writes never wait for the index) or `inline` (each
    /// write updates the index before answering, so search reads its writes).
    pub indexing: String,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            url: "http://127.0.0.1:9200".into(),
            index_prefix: hearth_opensearch::DEFAULT_PREFIX.into(),
            replicas: None,
            sigv4_service: None,
            indexing: "stream".into(),
        }
    }
}

/// The `[auth]` section: which tokens are accepted and what groups may do. Authentication is
/// always on; there is no switch to turn it off.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `iss` of tokens signed with the local key (`HEARTH_AUTH_LOCAL_ISSUER`).
    pub local_issuer: String,
    /// `aud` of tokens signed with the local key (`HEARTH_AUTH_LOCAL_AUDIENCE`).
    pub local_audience: String,
    /// Default claim path of the tenant in OIDC issuers' tokens, for issuers that do not set
    /// their own (`HEARTH_AUTH_TENANT_CLAIM`, e.g. `custom:tenantId`).
    pub tenant_claim: Option<String>,
    /// Default claim path of RBAC groups in OIDC issuers' tokens (`HEARTH_AUTH_GROUPS_CLAIM`,
    /// e.g. `cognito:groups`).
    pub groups_claim: Option<String>,
    /// Clock skew allowed on `exp`/`nbf`, in seconds.
    pub leeway_secs: u64,
    /// Lifetime of tokens from `POST /auth/token` (at most 300).
    pub token_lifetime_secs: u64,
    /// PEM certificates trusted besides the platform's roots when fetching keys over https
    /// (`HEARTH_AUTH_CA_FILE`): a private PKI, or a test's self-signed JWKS server.
    pub ca_file: Option<PathBuf>,
    /// Shared secret that also signs admin tokens, HS256 (`HEARTH_ADMIN_SIGNING_KEY`; at
    /// least 32 bytes): `hearth token --admin` uses it, every server with it accepts them.
    pub admin_signing_key: Option<crate::auth_env::Secret>,
    /// External OpenID Connect issuers: `[[auth.oidc_issuers]]` tables with the keys of
    /// `hearth_auth::OidcIssuer`, plus one from `HEARTH_OIDC_ISSUER` (see `auth_env.rs`).
    pub oidc_issuers: Vec<toml::Table>,
    /// RBAC groups (`[auth.groups.NAME]` with `interactions` and `resource_types`); absent:
    /// the FHIR Works on AWS defaults of the auth crate.
    pub groups: Option<BTreeMap<String, hearth_auth::GroupRule>>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        let v = hearth_auth::ValidatorConfig::default();
        AuthConfig {
            local_issuer: v.local_issuer,
            local_audience: v.local_audience,
            tenant_claim: None,
            groups_claim: None,
            leeway_secs: v.leeway_secs,
            token_lifetime_secs: hearth_auth::TokenServiceConfig::default().token_lifetime_secs,
            ca_file: None,
            admin_signing_key: None,
            oidc_issuers: Vec::new(),
            groups: None,
        }
    }
}

impl AuthConfig {
    /// The validator's configuration: the OIDC issuers with the default claim paths filled in
    /// where an issuer sets none.
    pub fn validator(&self) -> anyhow::Result<hearth_auth::ValidatorConfig> {
        let mut oidc_issuers = Vec::with_capacity(self.oidc_issuers.len());
        for table in &self.oidc_issuers {
            let mut table = table.clone();
            for (key, default) in [
                ("tenant_claim", &self.tenant_claim),
                ("groups_claim", &self.groups_claim),
            ] {
                if let Some(value) = default
                    && !table.contains_key(key)
                {
                    table.insert(key.to_owned(), toml::Value::String(value.clone()));
                }
            }
            let issuer: hearth_auth::OidcIssuer = table
                .try_into()
                .context("parse an [[auth.oidc_issuers]] entry")?;
            oidc_issuers.push(issuer);
        }
        Ok(hearth_auth::ValidatorConfig {
            local_issuer: self.local_issuer.clone(),
            local_audience: self.local_audience.clone(),
            oidc_issuers,
            leeway_secs: self.leeway_secs,
        })
    }

    /// The RBAC rules: the configured groups, or the auth crate's defaults.
    pub fn rbac(&self) -> hearth_auth::RbacConfig {
        match &self.groups {
            Some(groups) => hearth_auth::RbacConfig {
                groups: groups.clone(),
            },
            None => hearth_auth::RbacConfig::default(),
        }
    }
}

/// Request limits; see the README's table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_body_bytes: usize,
    pub max_binary_bytes: u64,
    pub max_bundle_entries: usize,
    pub max_json_depth: usize,
    pub default_page_size: usize,
    pub max_page_size: usize,
    /// Requests per second per tenant (0: no limit).
    pub tenant_requests_per_second: f64,
    /// Burst per tenant before the rate applies.
    pub tenant_burst: f64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let l = hearth_api::Limits::default();
        LimitsConfig {
            max_body_bytes: l.max_body_bytes,
            max_binary_bytes: l.max_binary_bytes,
            max_bundle_entries: l.max_bundle_entries,
            max_json_depth: l.max_json_depth,
            default_page_size: l.default_page_size,
            max_page_size: l.max_page_size,
            tenant_requests_per_second: l.tenant_requests_per_second,
            tenant_burst: l.tenant_burst,
        }
    }
}

impl From<&LimitsConfig> for hearth_api::Limits {
    fn from(c: &LimitsConfig) -> Self {
        hearth_api::Limits {
            max_body_bytes: c.max_body_bytes,
            max_binary_bytes: c.max_binary_bytes,
            max_bundle_entries: c.max_bundle_entries,
            max_json_depth: c.max_json_depth,
            default_page_size: c.default_page_size,
            max_page_size: c.max_page_size.max(1),
            tenant_requests_per_second: c.tenant_requests_per_second.max(0.0),
            tenant_burst: c.tenant_burst.max(1.0),
        }
    }
}

/// Bulk export; see the README's export section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportConfig {
    /// Export workers run in-process by `hearth serve` (0: none; run `hearth worker`).
    pub workers: usize,
    /// A file is closed once it holds this many bytes (`HEARTH_EXPORT_FILE_BYTES`).
    pub file_bytes: u64,
    /// Resources read per store call (`HEARTH_EXPORT_PAGE`).
    pub page: usize,
    /// Hours a finished export and its files are kept (`HEARTH_EXPORT_TTL_HOURS`).
    pub ttl_hours: u64,
    /// Active exports per tenant (`HEARTH_EXPORT_MAX_ACTIVE`).
    pub max_active: usize,
    /// `Retry-After` of the status endpoint, in seconds (`HEARTH_EXPORT_POLL_SECONDS`).
    pub poll_seconds: u64,
    /// Offer files as signed URLs valid until the export expires (`requiresAccessToken: false`)
    /// instead of requiring the bearer token (`HEARTH_EXPORT_SIGNED_URLS`).
    pub signed_urls: bool,
    /// On the AWS backend, link files by S3 presigned GET URLs instead (`requiresAccessToken:
    /// false`; `HEARTH_EXPORT_PRESIGNED_URLS`).
    pub presigned_urls: bool,
    /// Lifetime of a presigned URL from the status request that hands it out, in seconds
    /// (never beyond the export's expiry; at most 7 days; `HEARTH_EXPORT_PRESIGNED_URL_SECONDS`).
    pub presigned_url_seconds: u64,
    /// How long a job stays with a worker that stopped answering before another resumes it,
    /// in seconds (`HEARTH_EXPORT_VISIBILITY_SECONDS`).
    pub visibility_seconds: u64,
    /// How often export workers read the export queue's dead letters and fail the jobs still
    /// running whose task is there, in seconds (`HEARTH_EXPORT_DEAD_LETTER_CHECK_SECONDS`).
    pub dead_letter_check_seconds: u64,
}

impl Default for ExportConfig {
    fn default() -> Self {
        let o = hearth_workers::export::ExportOptions::default();
        ExportConfig {
            workers: 1,
            file_bytes: o.file_bytes,
            page: o.page,
            ttl_hours: o.ttl.as_secs() / 3600,
            max_active: o.max_active,
            poll_seconds: o.poll_interval.as_secs(),
            visibility_seconds: o.visibility.as_secs(),
            dead_letter_check_seconds: o.dead_letter_check.as_secs(),
            signed_urls: false,
            presigned_urls: false,
            presigned_url_seconds: 3600,
        }
    }
}

impl From<&ExportConfig> for hearth_workers::export::ExportOptions {
    fn from(c: &ExportConfig) -> Self {
        use std::time::Duration;
        hearth_workers::export::ExportOptions {
            file_bytes: c.file_bytes.max(1),
            page: c.page.clamp(1, 10_000),
            ttl: Duration::from_secs(c.ttl_hours.max(1) * 3600),
            max_active: c.max_active.max(1),
            poll_interval: Duration::from_secs(c.poll_seconds.max(1)),
            visibility: Duration::from_secs(c.visibility_seconds.max(3)),
            dead_letter_check: Duration::from_secs(c.dead_letter_check_seconds.max(1)),
            ..hearth_workers::export::ExportOptions::default()
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./hearth-data"),
            backend: "embedded".into(),
            default_tenant: "default".into(),
            public_url: None,
            log_format: "text".into(),
            log_level: "info".into(),
            limits: LimitsConfig::default(),
            auth: AuthConfig::default(),
            export: ExportConfig::default(),
            audit: AuditConfig::default(),
            provision: false,
            aws: hearth_aws::AwsConfig::default(),
            search: SearchConfig::default(),
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_parse<T: std::str::FromStr>(name: &str, slot: &mut T) -> anyhow::Result<()>
where
    T::Err: std::fmt::Display,
{
    if let Some(v) = env(name) {
        *slot = v
            .parse()
            .map_err(|e| anyhow::anyhow!("parse {name}='{v}': {e}"))?;
    }
    Ok(())
}

/// Loads the configuration from every source.
pub fn load(global: &GlobalArgs) -> anyhow::Result<Config> {
    let mut config = match &global.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("read config file {}", path.display()))?;
            toml::from_str(&text)
                .with_context(|| format!("parse config file {}", path.display()))?
        }
        None => Config::default(),
    };
    env_parse("HEARTH_LISTEN", &mut config.listen)?;
    env_parse("HEARTH_BACKEND", &mut config.backend)?;
    env_parse("HEARTH_DEFAULT_TENANT", &mut config.default_tenant)?;
    env_parse("HEARTH_LOG_FORMAT", &mut config.log_format)?;
    env_parse("HEARTH_LOG_LEVEL", &mut config.log_level)?;
    if let Some(url) = env("HEARTH_PUBLIC_URL") {
        config.public_url = Some(url);
    }
    crate::auth_env::apply(&mut config.auth, env)?;
    let limits = &mut config.limits;
    env_parse("HEARTH_MAX_BODY_BYTES", &mut limits.max_body_bytes)?;
    env_parse("HEARTH_MAX_BINARY_BYTES", &mut limits.max_binary_bytes)?;
    env_parse("HEARTH_MAX_BUNDLE_ENTRIES", &mut limits.max_bundle_entries)?;
    env_parse("HEARTH_MAX_JSON_DEPTH", &mut limits.max_json_depth)?;
    env_parse("HEARTH_DEFAULT_PAGE_SIZE", &mut limits.default_page_size)?;
    env_parse("HEARTH_MAX_PAGE_SIZE", &mut limits.max_page_size)?;
    env_parse("HEARTH_TENANT_RATE", &mut limits.tenant_requests_per_second)?;
    env_parse("HEARTH_TENANT_BURST", &mut limits.tenant_burst)?;
    let export = &mut config.export;
    env_parse("HEARTH_EXPORT_WORKERS", &mut export.workers)?;
    env_parse("HEARTH_EXPORT_FILE_BYTES", &mut export.file_bytes)?;
    env_parse("HEARTH_EXPORT_PAGE", &mut export.page)?;
    env_parse("HEARTH_EXPORT_TTL_HOURS", &mut export.ttl_hours)?;
    env_parse("HEARTH_EXPORT_MAX_ACTIVE", &mut export.max_active)?;
    env_parse("HEARTH_EXPORT_POLL_SECONDS", &mut export.poll_seconds)?;
    env_parse(
        "HEARTH_EXPORT_VISIBILITY_SECONDS",
        &mut export.visibility_seconds,
    )?;
    env_parse(
        "HEARTH_EXPORT_DEAD_LETTER_CHECK_SECONDS",
        &mut export.dead_letter_check_seconds,
    )?;
    env_parse("HEARTH_EXPORT_SIGNED_URLS", &mut export.signed_urls)?;
    env_parse("HEARTH_EXPORT_PRESIGNED_URLS", &mut export.presigned_urls)?;
    env_parse(
        "HEARTH_EXPORT_PRESIGNED_URL_SECONDS",
        &mut export.presigned_url_seconds,
    )?;
    env_parse("HEARTH_AUDIT_EVENTS", &mut config.audit.store_events)?;
    env_parse("HEARTH_PROVISION", &mut config.provision)?;
    let aws = &mut config.aws;
    env_parse("HEARTH_AWS_REGION", &mut aws.region)?;
    if let Some(url) = env("HEARTH_AWS_ENDPOINT_URL") {
        aws.endpoint_url = Some(url);
    }
    env_parse("HEARTH_AWS_PREFIX", &mut aws.prefix)?;
    if let Some(bucket) = env("HEARTH_AWS_BUCKET") {
        aws.bucket = Some(bucket);
    }
    env_parse("HEARTH_AWS_SSE_KMS", &mut aws.sse_kms)?;
    env_parse("HEARTH_SQS_WAIT_SECONDS", &mut aws.sqs_wait_seconds)?;
    let search = &mut config.search;
    env_parse("HEARTH_OPENSEARCH_URL", &mut search.url)?;
    env_parse("HEARTH_OPENSEARCH_PREFIX", &mut search.index_prefix)?;
    env_parse("HEARTH_INDEXING", &mut search.indexing)?;
    if let Some(service) = env("HEARTH_OPENSEARCH_SIGV4") {
        search.sigv4_service = Some(service);
    }
    if let Some(dir) = &global.data_dir {
        config.data_dir = dir.clone();
    }
    match config.backend.as_str() {
        "embedded" | "aws" => {}
        other => anyhow::bail!("unknown backend '{other}': use embedded or aws"),
    }
    match config.search.indexing.as_str() {
        "stream" | "inline" => {}
        other => anyhow::bail!("unknown indexing '{other}': use stream or inline"),
    }
    match config.log_format.as_str() {
        "text" | "json" => {}
        other => anyhow::bail!("unknown log format '{other}': use text or json"),
    }
    check_links(&config)?;
    Ok(config)
}

/// The SQS wait and the export link settings that only make sense together.
fn check_links(config: &Config) -> anyhow::Result<()> {
    if config.aws.sqs_wait_seconds > 20 {
        anyhow::bail!(
            "aws.sqs_wait_seconds is {}: SQS waits at most 20 seconds",
            config.aws.sqs_wait_seconds
        );
    }
    let export = &config.export;
    if export.presigned_urls {
        if config.backend != "aws" {
            anyhow::bail!("export.presigned_urls needs the AWS backend (S3 presigned URLs)");
        }
        if export.signed_urls {
            anyhow::bail!("export.presigned_urls and export.signed_urls exclude each other");
        }
        let max = hearth_workers::export::MAX_LINK_TTL.as_secs();
        if !(1..=max).contains(&export.presigned_url_seconds) {
            anyhow::bail!("export.presigned_url_seconds must be 1..={max}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_apply_and_unknown_keys_are_refused() {
        let config: Config =
            toml::from_str("listen = \"127.0.0.1:9999\"\n[limits]\nmax_body_bytes = 10\n").unwrap();
        assert_eq!(config.listen, "127.0.0.1:9999");
        assert_eq!(config.limits.max_body_bytes, 10);
        assert_eq!(config.limits.max_page_size, 1000);
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
        assert!(toml::from_str::<Config>("[auth]\nenabled = false").is_err());
    }

    #[test]
    fn sqs_wait_and_presigned_links_are_checked() {
        let check = |text: &str, ok: bool| {
            let config: Config = toml::from_str(text).unwrap();
            assert_eq!(check_links(&config).is_ok(), ok, "{text}");
        };
        check("", true);
        check("[aws]\nsqs_wait_seconds = 0", true);
        check("[aws]\nsqs_wait_seconds = 20", true);
        check("[aws]\nsqs_wait_seconds = 21", false);
        check("backend = \"aws\"\n[export]\npresigned_urls = true", true);
        check("[export]\npresigned_urls = true", false);
        check(
            "backend = \"aws\"\n[export]\npresigned_urls = true\nsigned_urls = true",
            false,
        );
        check(
            "backend = \"aws\"\n[export]\npresigned_urls = true\npresigned_url_seconds = 0",
            false,
        );
        assert_eq!(Config::default().aws.sqs_wait_seconds, 20);
        assert!(!Config::default().export.presigned_urls);
    }

    #[test]
    fn example_file_parses() {
        let config: Config = toml::from_str(include_str!("../../hearth.example.toml")).unwrap();
        assert!(config.auth.validator().is_ok());
        assert_eq!(config.auth.rbac(), hearth_auth::RbacConfig::default());
    }

    #[test]
    fn auth_section() {
        let config: Config = toml::from_str(
            r#"
            [auth]
            local_issuer = "https://fhir.example.org"
            tenant_claim = "custom:tenantId"
            groups_claim = "cognito:groups"

            [[auth.oidc_issuers]]
            issuer = "https://idp.example.org"
            jwks_uri = "https://idp.example.org/jwks"

            [[auth.oidc_issuers]]
            issuer = "https://other.example.org"
            jwks_uri = "https://other.example.org/jwks"
            tenant_claim = "org"

            [auth.groups.nurse]
            interactions = ["read", "search"]
            resource_types = ["Patient"]
            "#,
        )
        .unwrap();
        let validator = config.auth.validator().unwrap();
        assert_eq!(validator.local_issuer, "https://fhir.example.org");
        assert_eq!(validator.local_audience, "hearth");
        assert_eq!(validator.oidc_issuers[0].tenant_claim, "custom:tenantId");
        assert_eq!(
            validator.oidc_issuers[0].groups_claim.as_deref(),
            Some("cognito:groups")
        );
        assert_eq!(validator.oidc_issuers[1].tenant_claim, "org");
        let rbac = config.auth.rbac();
        assert_eq!(rbac.groups.len(), 1);
        assert_eq!(
            Config::default().auth.rbac(),
            hearth_auth::RbacConfig::default()
        );

        let bad: Config =
            toml::from_str("[[auth.oidc_issuers]]\nissuer = \"x\"\nunknown = 1").unwrap();
        assert!(bad.auth.validator().is_err());
    }
}
