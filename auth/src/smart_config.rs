//! The `.well-known/smart-configuration` document (SMART App Launch 2.x) for a server that
//! offers SMART Backend Services only.

use serde::Serialize;

use crate::backend::ASSERTION_ALGORITHMS;

/// The discovery document served at `{base_url}/.well-known/smart-configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmartConfiguration {
    pub token_endpoint: String,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub scopes_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub capabilities: Vec<String>,
    /// SMART 2.x requires the field with `S256`, though only authorization-code clients use
    /// it; Hearth has no authorization endpoint.
    pub code_challenge_methods_supported: Vec<String>,
}

/// The discovery document of the FHIR base `base_url` (`https://host/tenant/acme`).
///
/// `token_endpoint` is an absolute URL, or a path (`/auth/token`) taken relative to the
/// origin of `base_url` — the token endpoint is shared by all tenants, outside their bases.
/// The result is what clients must use as the `aud` of their assertions, so the API should
/// pass the same URL to [`crate::TokenService::exchange`].
pub fn smart_configuration(base_url: &str, token_endpoint: &str) -> SmartConfiguration {
    let token_endpoint = if token_endpoint.starts_with('/') {
        format!("{}{token_endpoint}", origin(base_url))
    } else {
        token_endpoint.to_owned()
    };
    let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
    SmartConfiguration {
        token_endpoint,
        token_endpoint_auth_methods_supported: strings(&["private_key_jwt"]),
        token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS
            .iter()
            .map(|a| format!("{a:?}"))
            .collect(),
        grant_types_supported: strings(&["client_credentials"]),
        scopes_supported: strings(&[
            "system/*.cruds",
            "system/*.rs",
            "system/*.read",
            "system/*.write",
        ]),
        response_types_supported: Vec::new(),
        capabilities: strings(&[
            "client-confidential-asymmetric",
            "permission-v1",
            "permission-v2",
        ]),
        code_challenge_methods_supported: strings(&["S256"]),
    }
}

/// `scheme://host[:port]` of a URL (the whole string when it has no path).
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url.trim_end_matches('/'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backend_services_discovery_document() {
        let doc = serde_json::to_value(smart_configuration(
            "https://fhir.example.org:8443/tenant/acme",
            "/auth/token",
        ))
        .unwrap();
        assert_eq!(
            doc,
            json!({
                "token_endpoint": "https://fhir.example.org:8443/auth/token",
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
                "grant_types_supported": ["client_credentials"],
                "scopes_supported": ["system/*.cruds", "system/*.rs", "system/*.read", "system/*.write"],
                "response_types_supported": [],
                "capabilities": ["client-confidential-asymmetric", "permission-v1", "permission-v2"],
                "code_challenge_methods_supported": ["S256"],
            })
        );
    }

    #[test]
    fn token_endpoint_resolution() {
        for (base, endpoint, expected) in [
            (
                "http://127.0.0.1:8080/tenant/default",
                "/auth/token",
                "http://127.0.0.1:8080/auth/token",
            ),
            (
                "http://127.0.0.1:8080",
                "/auth/token",
                "http://127.0.0.1:8080/auth/token",
            ),
            (
                "http://127.0.0.1:8080/",
                "/auth/token",
                "http://127.0.0.1:8080/auth/token",
            ),
            (
                "http://x/tenant/a",
                "https://auth.example.org/token",
                "https://auth.example.org/token",
            ),
        ] {
            assert_eq!(smart_configuration(base, endpoint).token_endpoint, expected);
        }
    }
}
