//! `HttpJwksSource`: fetches JWKS documents (OIDC issuers' and clients' `jwks_uri`) over HTTP,
//! bounded in time and size, from `https` URLs only — plain `http` only on loopback (tests,
//! a local identity provider).

use std::time::Duration;

use async_trait::async_trait;
use hearth_auth::{ConfigError, JwkSet, JwksFetchError, JwksSource};

/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 256 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Fetches JWKS documents with `reqwest`.
///
/// Note: this build enables no TLS backend in `reqwest`, so `https` URLs fail to fetch (the
/// failure is a 503 / `temporarily_unavailable`, never an acceptance). Loopback `http` works.
pub struct HttpJwksSource {
    client: reqwest::Client,
}

impl HttpJwksSource {
    pub fn new() -> Result<HttpJwksSource, ConfigError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConfigError(format!("build the JWKS HTTP client: {e}")))?;
        Ok(HttpJwksSource { client })
    }
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
        let url = check_jwks_url(uri).map_err(JwksFetchError)?;
        let fail = |e: reqwest::Error| JwksFetchError(format!("fetch {uri}: {e}"));
        let mut response = self.client.get(url).send().await.map_err(fail)?;
        if !response.status().is_success() {
            return Err(JwksFetchError(format!(
                "fetch {uri}: status {}",
                response.status()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fail)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_JWKS_BYTES {
                return Err(JwksFetchError(format!(
                    "{uri} is larger than {MAX_JWKS_BYTES} bytes"
                )));
            }
        }
        serde_json::from_slice(&body)
            .map_err(|e| JwksFetchError(format!("{uri} is not a JWKS document: {e}")))
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
}
