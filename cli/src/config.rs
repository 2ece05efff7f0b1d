//! Configuration: defaults, then a TOML file (`--config`/`HEARTH_CONFIG`), then `HEARTH_*`
//! environment variables, then command-line flags; each later source wins.

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
    let limits = &mut config.limits;
    env_parse("HEARTH_MAX_BODY_BYTES", &mut limits.max_body_bytes)?;
    env_parse("HEARTH_MAX_BINARY_BYTES", &mut limits.max_binary_bytes)?;
    env_parse("HEARTH_MAX_BUNDLE_ENTRIES", &mut limits.max_bundle_entries)?;
    env_parse("HEARTH_MAX_JSON_DEPTH", &mut limits.max_json_depth)?;
    env_parse("HEARTH_DEFAULT_PAGE_SIZE", &mut limits.default_page_size)?;
    env_parse("HEARTH_MAX_PAGE_SIZE", &mut limits.max_page_size)?;
    if let Some(dir) = &global.data_dir {
        config.data_dir = dir.clone();
    }
    match config.backend.as_str() {
        "embedded" => {}
        "aws" => {
            anyhow::bail!("HEARTH_BACKEND=aws is not available in this build yet; use embedded")
        }
        other => anyhow::bail!("unknown backend '{other}': use embedded or aws"),
    }
    match config.log_format.as_str() {
        "text" | "json" => {}
        other => anyhow::bail!("unknown log format '{other}': use text or json"),
    }
    Ok(config)
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
    }
}
