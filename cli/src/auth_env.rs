//! The `[auth]` settings that come from environment variables: `HEARTH_AUTH_*`, the OIDC issuer
//! of a deployment (`HEARTH_OIDC_*`, what the CloudFormation templates set) and the shared
//! admin signing key (`HEARTH_ADMIN_SIGNING_KEY`, a Secrets Manager secret on AWS).

use anyhow::Context;
use serde::Deserialize;

use crate::config::AuthConfig;

/// A secret setting: its `Debug` never shows the value.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl AuthConfig {
    /// The shared admin signing key, when configured; fails when it is too short.
    pub fn admin_key(&self) -> anyhow::Result<Option<hearth_auth::AdminKey>> {
        self.admin_signing_key
            .as_ref()
            .map(|secret| hearth_auth::AdminKey::new(secret.expose()))
            .transpose()
            .context("read HEARTH_ADMIN_SIGNING_KEY / auth.admin_signing_key")
    }
}

/// Whether `issuer` is an Amazon Cognito user pool
/// (`https://cognito-idp.{region}.amazonaws.com/{userPoolId}`).
fn is_cognito(issuer: &str) -> bool {
    issuer
        .strip_prefix("https://cognito-idp.")
        .and_then(|rest| rest.split_once(".amazonaws.com/"))
        .is_some_and(|(region, pool)| !region.is_empty() && !pool.is_empty() && !pool.contains('/'))
}

/// Applies the environment (`var` looks a non-empty variable up) to `auth`:
///
/// - `HEARTH_AUTH_LOCAL_ISSUER`, `HEARTH_AUTH_LOCAL_AUDIENCE`, `HEARTH_AUTH_TENANT_CLAIM`,
///   `HEARTH_AUTH_GROUPS_CLAIM`, `HEARTH_AUTH_CA_FILE`: the `[auth]` keys of the same name.
/// - `HEARTH_ADMIN_SIGNING_KEY`: `auth.admin_signing_key`.
/// - `HEARTH_OIDC_ISSUER`: one more `[[auth.oidc_issuers]]` entry (replacing a TOML entry for
///   the same issuer), with `HEARTH_OIDC_JWKS_URI` (default: discovery),
///   `HEARTH_OIDC_AUDIENCE` (comma-separated `audiences`) and `HEARTH_OIDC_REQUIRE_SCOPES`.
///   For a Cognito issuer, claims and scopes default to what Cognito tokens carry:
///   `custom:tenantId`, `cognito:groups` (unless `tenant_claim`/`groups_claim` are set for
///   every issuer) and `require_scopes = false` (users' groups decide, FWoA-style).
pub fn apply(auth: &mut AuthConfig, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
    if let Some(v) = var("HEARTH_AUTH_LOCAL_ISSUER") {
        auth.local_issuer = v;
    }
    if let Some(v) = var("HEARTH_AUTH_LOCAL_AUDIENCE") {
        auth.local_audience = v;
    }
    if let Some(v) = var("HEARTH_AUTH_TENANT_CLAIM") {
        auth.tenant_claim = Some(v);
    }
    if let Some(v) = var("HEARTH_AUTH_GROUPS_CLAIM") {
        auth.groups_claim = Some(v);
    }
    if let Some(v) = var("HEARTH_AUTH_CA_FILE") {
        auth.ca_file = Some(v.into());
    }
    if let Some(v) = var("HEARTH_ADMIN_SIGNING_KEY") {
        auth.admin_signing_key = Some(Secret(v));
    }
    let Some(issuer) = var("HEARTH_OIDC_ISSUER") else {
        for name in [
            "HEARTH_OIDC_JWKS_URI",
            "HEARTH_OIDC_AUDIENCE",
            "HEARTH_OIDC_REQUIRE_SCOPES",
        ] {
            anyhow::ensure!(var(name).is_none(), "{name} needs HEARTH_OIDC_ISSUER");
        }
        return Ok(());
    };
    let mut table = toml::Table::new();
    let mut set = |key: &str, value: toml::Value| {
        table.insert(key.to_owned(), value);
    };
    set("issuer", issuer.clone().into());
    if let Some(uri) = var("HEARTH_OIDC_JWKS_URI") {
        set("jwks_uri", uri.into());
    }
    if let Some(audiences) = var("HEARTH_OIDC_AUDIENCE") {
        let list: Vec<toml::Value> = audiences
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| a.to_owned().into())
            .collect();
        set("audiences", toml::Value::Array(list));
    }
    let cognito = is_cognito(&issuer);
    let require_scopes = match var("HEARTH_OIDC_REQUIRE_SCOPES") {
        Some(v) => v
            .parse::<bool>()
            .with_context(|| format!("parse HEARTH_OIDC_REQUIRE_SCOPES='{v}'"))?,
        None => !cognito,
    };
    set("require_scopes", require_scopes.into());
    if cognito && auth.tenant_claim.is_none() {
        set("tenant_claim", "custom:tenantId".into());
    }
    if cognito && auth.groups_claim.is_none() {
        set("groups_claim", "cognito:groups".into());
    }
    auth.oidc_issuers
        .retain(|t| t.get("issuer").and_then(toml::Value::as_str) != Some(issuer.as_str()));
    auth.oidc_issuers.push(table);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const POOL: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC";

    /// The auth config after applying `vars` to the config of `toml_text`.
    fn applied(toml_text: &str, vars: &[(&str, &str)]) -> anyhow::Result<AuthConfig> {
        let mut config: crate::config::Config = toml::from_str(toml_text)?;
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        apply(&mut config.auth, |name| vars.get(name).cloned())?;
        Ok(config.auth)
    }

    #[test]
    fn cognito_issuer_from_the_environment() {
        let auth = applied(
            "",
            &[
                ("HEARTH_OIDC_ISSUER", POOL),
                ("HEARTH_OIDC_AUDIENCE", "app-1, app-2"),
            ],
        )
        .unwrap();
        let v = auth.validator().unwrap();
        let oidc = &v.oidc_issuers[0];
        assert_eq!(oidc.issuer, POOL);
        assert_eq!(oidc.jwks_uri, None, "discovered");
        assert_eq!(oidc.audiences, ["app-1", "app-2"]);
        assert_eq!(oidc.tenant_claim, "custom:tenantId");
        assert_eq!(oidc.groups_claim.as_deref(), Some("cognito:groups"));
        assert!(!oidc.require_scopes);
    }

    #[test]
    fn other_issuers_and_overrides() {
        let auth = applied(
            "[auth]\ngroups_claim = \"roles\"\n",
            &[
                ("HEARTH_OIDC_ISSUER", "https://idp.example.org"),
                ("HEARTH_OIDC_JWKS_URI", "https://idp.example.org/keys"),
                ("HEARTH_AUTH_TENANT_CLAIM", "org"),
            ],
        )
        .unwrap();
        let oidc = &auth.validator().unwrap().oidc_issuers[0];
        assert_eq!(
            oidc.jwks_uri.as_deref(),
            Some("https://idp.example.org/keys")
        );
        assert!(oidc.audiences.is_empty());
        assert_eq!(oidc.tenant_claim, "org");
        assert_eq!(oidc.groups_claim.as_deref(), Some("roles"));
        assert!(oidc.require_scopes, "scopes required unless Cognito");

        // a Cognito issuer keeps the claims configured for every issuer, and scopes on demand
        let auth = applied(
            "",
            &[
                ("HEARTH_OIDC_ISSUER", POOL),
                ("HEARTH_AUTH_GROUPS_CLAIM", "groups"),
                ("HEARTH_OIDC_REQUIRE_SCOPES", "true"),
            ],
        )
        .unwrap();
        let oidc = &auth.validator().unwrap().oidc_issuers[0];
        assert_eq!(oidc.tenant_claim, "custom:tenantId");
        assert_eq!(oidc.groups_claim.as_deref(), Some("groups"));
        assert!(oidc.require_scopes);

        // the environment's entry replaces the file's entry for the same issuer
        let file = format!(
            "[[auth.oidc_issuers]]\nissuer = \"{POOL}\"\njwks_uri = \"https://x/keys\"\n\
             [[auth.oidc_issuers]]\nissuer = \"https://other\"\n"
        );
        let auth = applied(&file, &[("HEARTH_OIDC_ISSUER", POOL)]).unwrap();
        let v = auth.validator().unwrap();
        assert_eq!(v.oidc_issuers.len(), 2);
        assert_eq!(v.oidc_issuers[1].issuer, POOL);
        assert_eq!(v.oidc_issuers[1].jwks_uri, None);

        assert!(applied("", &[("HEARTH_OIDC_AUDIENCE", "a")]).is_err());
        assert!(
            applied(
                "",
                &[
                    ("HEARTH_OIDC_ISSUER", POOL),
                    ("HEARTH_OIDC_REQUIRE_SCOPES", "maybe")
                ]
            )
            .is_err()
        );
    }

    #[test]
    fn local_settings_ca_file_and_admin_key() {
        let key = "k".repeat(64);
        let auth = applied(
            "",
            &[
                ("HEARTH_AUTH_LOCAL_ISSUER", "https://fhir.example.org"),
                ("HEARTH_AUTH_LOCAL_AUDIENCE", "https://fhir.example.org/aud"),
                ("HEARTH_AUTH_CA_FILE", "/etc/hearth/ca.pem"),
                ("HEARTH_ADMIN_SIGNING_KEY", &key),
            ],
        )
        .unwrap();
        assert_eq!(auth.local_issuer, "https://fhir.example.org");
        assert_eq!(auth.local_audience, "https://fhir.example.org/aud");
        assert_eq!(
            auth.ca_file.as_deref(),
            Some(std::path::Path::new("/etc/hearth/ca.pem"))
        );
        assert!(auth.admin_key().unwrap().is_some());
        assert!(
            !format!("{auth:?}").contains(&key),
            "the secret is not shown"
        );

        let auth = applied("", &[("HEARTH_ADMIN_SIGNING_KEY", "short")]).unwrap();
        assert!(auth.admin_key().is_err());
        let auth = applied(
            "[auth]\nca_file = \"ca.pem\"\nadmin_signing_key = \"from-the-file-but-long-enough-0123456789\"\n",
            &[],
        )
        .unwrap();
        assert!(auth.ca_file.is_some() && auth.admin_key().unwrap().is_some());
        assert!(applied("", &[]).unwrap().admin_key().unwrap().is_none());
    }

    #[test]
    fn cognito_issuers_are_recognized() {
        for (issuer, cognito) in [
            (POOL, true),
            (
                "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x",
                true,
            ),
            ("https://cognito-idp.us-east-1.amazonaws.com/", false),
            ("https://cognito-idp.us-east-1.amazonaws.com/a/b", false),
            ("http://cognito-idp.us-east-1.amazonaws.com/p", false),
            (
                "https://idp.example.org/cognito-idp.x.amazonaws.com/p",
                false,
            ),
        ] {
            assert_eq!(is_cognito(issuer), cognito, "{issuer}");
        }
    }
}
