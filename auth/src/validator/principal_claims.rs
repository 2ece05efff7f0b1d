//! The [`Principal`] of a token whose signature, time and audience were checked: subject,
//! client, tenant and groups from the issuer's claim paths, scopes, patient and admin right.

use hearth_tenancy::TenantId;
use serde_json::Value;

use super::Issuer;
use crate::claims::{string_at, strings_at};
use crate::error::AuthError;
use crate::principal::Principal;
use crate::scope::ScopeSet;

pub(super) fn principal(
    claims: &Value,
    iss: &str,
    issuer: &Issuer<'_>,
    exp: i64,
) -> Result<Principal, AuthError> {
    let subject = string_at(claims, "sub")
        .map_err(|e| AuthError::invalid_claim("sub", e))?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AuthError::MissingClaim("sub".into()))?
        .to_owned();
    let client_id = match string_at(claims, "client_id") {
        Ok(Some(c)) => Some(c.to_owned()),
        _ => string_at(claims, "azp").ok().flatten().map(str::to_owned),
    };
    let (tenant_claim, groups_claim) = match issuer {
        Issuer::Local => ("tenant", None),
        Issuer::Oidc(o) => (o.tenant_claim.as_str(), o.groups_claim.as_deref()),
    };
    let tenant = string_at(claims, tenant_claim)
        .map_err(|e| AuthError::invalid_claim(tenant_claim, e))?
        .map(|t| {
            t.parse::<TenantId>()
                .map_err(|e| AuthError::invalid_claim(tenant_claim, e.to_string()))
        })
        .transpose()?;
    let groups = match groups_claim {
        Some(path) => strings_at(claims, path).map_err(|e| AuthError::invalid_claim(path, e))?,
        None => Vec::new(),
    };
    let mut words =
        strings_at(claims, "scope").map_err(|e| AuthError::invalid_claim("scope", e))?;
    words.extend(strings_at(claims, "scp").map_err(|e| AuthError::invalid_claim("scp", e))?);
    let (scopes, _invalid) = ScopeSet::parse_lenient(words.iter().map(String::as_str));
    let patient = string_at(claims, "patient")
        .map_err(|e| AuthError::invalid_claim("patient", e))?
        .map(|p| {
            if is_fhir_id(p) {
                Ok(p.to_owned())
            } else {
                Err(AuthError::invalid_claim("patient", "not a FHIR id"))
            }
        })
        .transpose()?;
    let (is_admin, require_scopes) = match issuer {
        Issuer::Local => (claims.get("admin") == Some(&Value::Bool(true)), true),
        Issuer::Oidc(o) => (
            o.admin_group
                .as_ref()
                .is_some_and(|admin| groups.contains(admin)),
            o.require_scopes,
        ),
    };
    Ok(Principal {
        issuer: iss.to_owned(),
        subject,
        client_id,
        tenant,
        scopes_enforced: require_scopes || scopes.has_resource_scopes(),
        scopes,
        groups,
        is_admin,
        patient,
        expires_at: exp,
        token_id: string_at(claims, "jti").ok().flatten().map(str::to_owned),
    })
}

/// FHIR `id`: `[A-Za-z0-9\-\.]{1,64}`.
fn is_fhir_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}
