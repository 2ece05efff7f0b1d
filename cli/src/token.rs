//! `hearth token`: mints a bearer token with the local signing key of the data dir (on AWS,
//! the deployment's key in DynamoDB), for operators and tests. A server on the same data dir
//! or AWS deployment (and `[auth]` issuer and audience) accepts it. With a shared admin
//! signing key configured (`HEARTH_ADMIN_SIGNING_KEY`), `--admin` tokens are signed with it
//! instead, and every server holding the key accepts them.

use std::time::SystemTime;

use anyhow::Context;
use clap::Args;
use hearth_auth::{AccessClaims, LocalSigner, ScopeSet, signing_key_path};
use hearth_tenancy::TenantId;

use crate::config::Config;
use crate::signing::SigningKeys;

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// Tenant the token is for (required unless --admin).
    #[arg(long, required_unless_present = "admin", conflicts_with = "admin")]
    tenant: Option<String>,
    /// Space-separated SMART scopes, e.g. "system/*.cruds" or "patient/Observation.rs".
    #[arg(long, required_unless_present = "admin", conflicts_with = "admin")]
    scope: Option<String>,
    /// Mint a token for the admin API (/admin/tenants); it carries no tenant and no scope.
    #[arg(long)]
    admin: bool,
    /// Subject (`sub`) of the token.
    #[arg(long, default_value = "hearth-cli")]
    sub: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
    /// Launch patient (`patient` claim) that `patient/` scopes are confined to.
    #[arg(long, conflicts_with = "admin")]
    patient: Option<String>,
}

/// Prints the token alone on one line of stdout.
#[allow(clippy::print_stdout)]
pub fn run(config: &Config, args: TokenArgs) -> anyhow::Result<()> {
    let token = mint(config, args, SystemTime::now())?;
    println!("{token}");
    Ok(())
}

fn mint(config: &Config, args: TokenArgs, now: SystemTime) -> anyhow::Result<String> {
    anyhow::ensure!(args.ttl > 0, "--ttl must be at least 1 second");
    anyhow::ensure!(!args.sub.is_empty(), "--sub must not be empty");
    let (issuer, audience) = (&config.auth.local_issuer, &config.auth.local_audience);
    if args.admin
        && let Some(key) = config.auth.admin_key()?
    {
        let claims = AccessClaims::admin(issuer, audience, &args.sub, now, args.ttl);
        return key.mint(&claims).context("sign the admin token");
    }
    let signer = if config.backend == "aws" {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("start the runtime")?
            .block_on(async { SigningKeys::connect(config).await.token_signer().await })?
    } else {
        LocalSigner::load_or_create(&signing_key_path(&config.data_dir))
            .context("load the signing key")?
    };
    let claims = if args.admin {
        AccessClaims::admin(issuer, audience, &args.sub, now, args.ttl)
    } else {
        let tenant: TenantId = args
            .tenant
            .as_deref()
            .unwrap_or_default()
            .parse()
            .context("parse --tenant")?;
        let scope =
            ScopeSet::parse(args.scope.as_deref().unwrap_or_default()).context("parse --scope")?;
        let mut claims = AccessClaims::for_tenant(
            issuer,
            audience,
            &args.sub,
            &tenant,
            &scope.to_string(),
            now,
            args.ttl,
        );
        claims.patient = args.patient;
        claims
    };
    signer.mint(&claims).context("sign the token")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use hearth_auth::{NoJwksSource, Validator};

    fn args(tenant: Option<&str>, scope: Option<&str>, admin: bool) -> TokenArgs {
        TokenArgs {
            tenant: tenant.map(str::to_owned),
            scope: scope.map(str::to_owned),
            admin,
            sub: "ops".into(),
            ttl: 60,
            patient: None,
        }
    }

    #[tokio::test]
    async fn minted_tokens_validate_with_the_same_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let now = SystemTime::now();
        let token = mint(&config, args(Some("acme"), Some("system/*.rs"), false), now).unwrap();
        let admin = mint(&config, args(None, None, true), now).unwrap();
        let signer = LocalSigner::load_or_create(&signing_key_path(dir.path())).unwrap();
        let validator = Validator::new(
            config.auth.validator().unwrap(),
            signer.jwks(),
            Arc::new(NoJwksSource),
        )
        .unwrap();
        let p = validator.validate(&token, now).await.unwrap();
        assert_eq!(p.tenant.unwrap().as_str(), "acme");
        assert_eq!(p.subject, "ops");
        assert_eq!(p.scopes.to_string(), "system/*.rs");
        let p = validator.validate(&admin, now).await.unwrap();
        assert!(p.is_admin && p.tenant.is_none());

        assert!(mint(&config, args(Some("Bad!"), Some("system/*.rs"), false), now).is_err());

        // with a shared admin key, admin tokens are signed with it and accepted by any
        // validator holding the key, whatever its local signing key
        let mut shared = config.clone();
        shared.auth.admin_signing_key =
            toml::from_str::<toml::Table>(&format!("k = \"{}\"", "s".repeat(40))).unwrap()["k"]
                .clone()
                .try_into()
                .ok();
        let admin = mint(&shared, args(None, None, true), now).unwrap();
        let elsewhere = Validator::new(
            config.auth.validator().unwrap(),
            LocalSigner::generate().unwrap().jwks(),
            Arc::new(NoJwksSource),
        )
        .unwrap()
        .with_admin_key(shared.auth.admin_key().unwrap().unwrap());
        assert!(elsewhere.validate(&admin, now).await.unwrap().is_admin);
        assert!(
            mint(
                &config,
                args(Some("acme"), Some("system/*.xyz"), false),
                now
            )
            .is_err()
        );
    }
}
