//! The claims of the access tokens Hearth mints ([`AccessClaims`]) and the helpers that read
//! claims from any issuer's token (configurable claim paths, `aud` as string or array).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hearth_tenancy::TenantId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Seconds since the Unix epoch; times before it count as 0.
pub fn unix_seconds(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The inverse of [`unix_seconds`].
pub(crate) fn system_time(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

/// The claims of a token signed by the local key (`hearth token`, `POST /auth/token`).
///
/// The tenant always travels in `tenant` here; the configurable claim path applies to tokens
/// of other issuers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    /// Space-separated scopes; omitted when empty (admin tokens).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `true` only in admin tokens, which carry no tenant.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin: bool,
    /// The launch patient of `patient/` scopes, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
}

impl AccessClaims {
    /// Claims of a tenant token valid from `now` for `ttl_secs`, with a fresh `jti`.
    pub fn for_tenant(
        issuer: &str,
        audience: &str,
        subject: &str,
        tenant: &TenantId,
        scope: &str,
        now: SystemTime,
        ttl_secs: u64,
    ) -> Self {
        AccessClaims {
            scope: scope.to_owned(),
            tenant: Some(tenant.to_string()),
            ..AccessClaims::base(issuer, audience, subject, now, ttl_secs)
        }
    }

    /// The claims every token has: issuer, subject, audience, validity from `now` for
    /// `ttl_secs`, a fresh `jti`; no tenant, scope, client or admin right.
    fn base(issuer: &str, audience: &str, subject: &str, now: SystemTime, ttl_secs: u64) -> Self {
        let now = unix_seconds(now);
        AccessClaims {
            iss: issuer.to_owned(),
            sub: subject.to_owned(),
            aud: audience.to_owned(),
            exp: now.saturating_add(i64::try_from(ttl_secs).unwrap_or(i64::MAX)),
            iat: now,
            nbf: now,
            jti: uuid::Uuid::new_v4().to_string(),
            scope: String::new(),
            tenant: None,
            client_id: None,
            admin: false,
            patient: None,
        }
    }

    /// Claims of an admin token (`hearth token --admin`): `admin: true`, no tenant, no scope.
    pub fn admin(
        issuer: &str,
        audience: &str,
        subject: &str,
        now: SystemTime,
        ttl_secs: u64,
    ) -> Self {
        AccessClaims {
            admin: true,
            ..AccessClaims::base(issuer, audience, subject, now, ttl_secs)
        }
    }
}

/// Looks a claim up by `path`: the whole path as a top-level claim name first (so
/// `custom:tenantId` and `cognito:groups` work as they are), then as a dot-separated path
/// into nested objects (`ext.tenant`).
pub(crate) fn lookup<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    if !path.contains('.') {
        return None;
    }
    path.split('.')
        .try_fold(claims, |v, segment| v.get(segment))
}

/// A string claim at `path`, `None` when absent or null, an error when of another type.
pub(crate) fn string_at<'a>(claims: &'a Value, path: &str) -> Result<Option<&'a str>, String> {
    match lookup(claims, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err("not a string".to_owned()),
    }
}

/// A list of strings at `path`: a JSON array of strings, or a single string split on
/// spaces (how `scope` is written) — both forms occur in the wild for groups and scopes.
pub(crate) fn strings_at(claims: &Value, path: &str) -> Result<Vec<String>, String> {
    match lookup(claims, path) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s.split_whitespace().map(str::to_owned).collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "not a list of strings".to_owned())
            })
            .collect(),
        Some(_) => Err("not a string or a list of strings".to_owned()),
    }
}

/// A NumericDate claim (seconds), accepting integers and (truncated) decimals.
pub(crate) fn seconds_at(claims: &Value, name: &str) -> Result<Option<i64>, String> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| "not a number of seconds".to_owned()),
        Some(_) => Err("not a number of seconds".to_owned()),
    }
}

/// Whether the `aud` claim (a string or an array of strings) names one of `accepted`.
pub(crate) fn audience_matches(claims: &Value, accepted: &[String]) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => accepted.iter().any(|x| x == a),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .any(|a| accepted.iter().any(|x| x == a)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claim_paths() {
        let claims = json!({
            "tenant": "acme",
            "custom:tenantId": "cog",
            "ext": {"tenant": "nested"},
            "cognito:groups": ["practitioner", "auditor"],
            "scope": "a b  c",
            "n": 5,
        });
        let check = |path: &str, expected: Option<&str>| {
            assert_eq!(string_at(&claims, path).unwrap(), expected, "{path}");
        };
        check("tenant", Some("acme"));
        check("custom:tenantId", Some("cog"));
        check("ext.tenant", Some("nested"));
        check("missing", None);
        check("ext.missing", None);
        assert!(string_at(&claims, "n").is_err());
        assert_eq!(
            strings_at(&claims, "cognito:groups").unwrap(),
            ["practitioner", "auditor"]
        );
        assert_eq!(strings_at(&claims, "scope").unwrap(), ["a", "b", "c"]);
        assert!(strings_at(&claims, "missing").unwrap().is_empty());
        assert!(strings_at(&claims, "n").is_err());
    }

    #[test]
    fn audiences() {
        let accepted = vec!["hearth".to_owned()];
        assert!(audience_matches(&json!({"aud": "hearth"}), &accepted));
        assert!(audience_matches(
            &json!({"aud": ["x", "hearth"]}),
            &accepted
        ));
        assert!(!audience_matches(&json!({"aud": "other"}), &accepted));
        assert!(!audience_matches(&json!({}), &accepted));
    }

    #[test]
    fn admin_claims_have_no_tenant_or_scope() {
        let c = AccessClaims::admin("iss", "aud", "ops", UNIX_EPOCH, 60);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["admin"], json!(true));
        assert!(v.get("tenant").is_none());
        assert!(v.get("scope").is_none());
        assert_eq!(v["exp"], json!(60));
    }
}
