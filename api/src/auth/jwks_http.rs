//! `HttpJwksSource`: fetches JWKS documents (OIDC issuers' and clients' `jwks_uri`) and OIDC
//! discovery documents over HTTP, bounded in time and size, from `https` URLs only — plain
//! `http` only on loopback (tests, a local identity provider) — with the `max-age` the server
//! declares. TLS is rustls with the platform's roots plus an optional extra CA file.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::{HeaderMap, header};
use hearth_auth::{ConfigError, FetchedJwks, JwkSet, JwksFetchError, JwksSource};
use serde::Deserialize;

/// Largest JWKS or discovery document accepted.
const MAX_JWKS_BYTES: usize = 256 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Fetches JWKS documents with `reqwest` (rustls; roots: the platform's, plus `ca_file`).
pub struct HttpJwksSource {
    client: reqwest::Client,
}

impl HttpJwksSource {
    /// `ca_file`: PEM certificates trusted in addition to the platform's roots (a private PKI,
    /// or a test's self-signed server).
    pub fn new(ca_file: Option<&Path>) -> Result<HttpJwksSource, ConfigError> {
        let mut builder = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| ConfigError(format!("read the CA file {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| ConfigError(format!("parse the CA file {}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(ConfigError(format!(
                    "the CA file {} holds no PEM certificate",
                    path.display()
                )));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let client = builder
            .build()
            .map_err(|e| ConfigError(format!("build the JWKS HTTP client: {e}")))?;
        Ok(HttpJwksSource { client })
    }

    /// GETs `uri` (checked with [`check_jwks_url`]): its headers and at most
    /// `MAX_JWKS_BYTES` of body.
    async fn get(&self, uri: &str) -> Result<(HeaderMap, Vec<u8>), JwksFetchError> {
        let url = check_jwks_url(uri).map_err(JwksFetchError)?;
        let fail = |e: reqwest::Error| JwksFetchError(format!("fetch {uri}: {e}"));
        let mut response = self.client.get(url).send().await.map_err(fail)?;
        if !response.status().is_success() {
            return Err(JwksFetchError(format!(
                "fetch {uri}: status {}",
                response.status()
            )));
        }
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fail)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_JWKS_BYTES {
                return Err(JwksFetchError(format!(
                    "{uri} is larger than {MAX_JWKS_BYTES} bytes"
                )));
            }
        }
        Ok((headers, body))
    }
}

/// The freshness a response declares: `max-age` of `Cache-Control`, `0` for `no-store` or
/// `no-cache`, `None` without either.
fn max_age(headers: &HeaderMap) -> Option<u64> {
    let mut age = None;
    for value in headers.get_all(header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',').map(str::trim) {
            let (name, arg) = directive.split_once('=').unwrap_or((directive, ""));
            let name = name.trim().to_ascii_lowercase();
            match name.as_str() {
                "no-store" | "no-cache" => return Some(0),
                "max-age" => {
                    if let Ok(secs) = arg.trim().trim_matches('"').parse::<u64>() {
                        age = Some(age.map_or(secs, |a: u64| a.min(secs)));
                    }
                }
                _ => {}
            }
        }
    }
    age
}

/// The part of an OpenID Provider Configuration document this server reads.
#[derive(Deserialize)]
struct ProviderConfiguration {
    issuer: String,
    jwks_uri: String,
}

/// Where `issuer` publishes its configuration (OpenID Connect Discovery 1.0 §4).
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Checks that `uri` may be fetched: an absolute `https` URL, or `http` on a loopback host.
pub fn check_jwks_url(uri: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(uri).map_err(|e| format!("'{uri}' is not a URL: {e}"))?;
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "https" if !host.is_empty() => Ok(url),
        "http" if is_loopback(host) => Ok(url),
        _ => Err(format!(
            "'{uri}' must be an https URL (http only on loopback)"
        )),
    }
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[async_trait]
impl JwksSource for HttpJwksSource {
    async fn fetch(&self, uri: &str) -> Result<JwkSet, JwksFetchError> {
        self.fetch_with_max_age(uri)
            .await
            .map(|fetched| fetched.keys)
    }

    async fn fetch_with_max_age(&self, uri: &str) -> Result<FetchedJwks, JwksFetchError> {
        let (headers, body) = self.get(uri).await?;
        let keys = serde_json::from_slice(&body)
            .map_err(|e| JwksFetchError(format!("{uri} is not a JWKS document: {e}")))?;
        Ok(FetchedJwks {
            keys,
            max_age_secs: max_age(&headers),
        })
    }

    async fn discover_jwks_uri(&self, issuer: &str) -> Result<String, JwksFetchError> {
        let uri = discovery_url(issuer);
        let (_, body) = self.get(&uri).await?;
        let config: ProviderConfiguration = serde_json::from_slice(&body).map_err(|e| {
            JwksFetchError(format!(
                "{uri} is not an OpenID Provider Configuration: {e}"
            ))
        })?;
        if config.issuer != issuer {
            return Err(JwksFetchError(format!(
                "{uri} names the issuer '{}', not '{issuer}'",
                config.issuer
            )));
        }
        check_jwks_url(&config.jwks_uri).map_err(JwksFetchError)?;
        Ok(config.jwks_uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        for (uri, ok) in [
            ("https://idp.example.org/jwks", true),
            ("http://127.0.0.1:8080/jwks", true),
            ("http://localhost/jwks", true),
            ("http://[::1]:9/jwks", true),
            ("http://idp.example.org/jwks", false),
            ("http://10.0.0.1/jwks", false),
            ("file:///etc/passwd", false),
            ("ftp://x/jwks", false),
            ("jwks.json", false),
        ] {
            assert_eq!(check_jwks_url(uri).is_ok(), ok, "{uri}");
        }
    }

    #[test]
    fn declared_max_age() {
        for (values, expected) in [
            (&[][..], None),
            (&["max-age=600"][..], Some(600)),
            (&["public, max-age=\"60\", must-revalidate"][..], Some(60)),
            (&["Max-Age=5", "max-age=7"][..], Some(5)),
            (&["max-age=600, no-cache"][..], Some(0)),
            (&["no-store"][..], Some(0)),
            (&["max-age=soon"][..], None),
            (&["private"][..], None),
        ] {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(header::CACHE_CONTROL, v.parse().unwrap());
            }
            assert_eq!(max_age(&headers), expected, "{values:?}");
        }
    }

    #[test]
    fn discovery_urls() {
        assert_eq!(
            discovery_url("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc"),
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://idp.example.org/"),
            "https://idp.example.org/.well-known/openid-configuration"
        );
    }

    #[test]
    fn ca_file_must_hold_certificates() {
        let path = std::env::temp_dir().join(format!("hearth-ca-{}.pem", uuid::Uuid::new_v4()));
        assert!(HttpJwksSource::new(Some(&path)).is_err(), "missing file");
        std::fs::write(&path, "not a certificate").unwrap();
        let refused = HttpJwksSource::new(Some(&path)).is_err();
        let _ = std::fs::remove_file(&path);
        assert!(refused, "no certificate");
        assert!(HttpJwksSource::new(None).is_ok());
    }
}
