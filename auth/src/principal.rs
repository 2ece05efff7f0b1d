//! `Principal`: who a valid token speaks for, and [`Authorizer`], which decides whether that
//! principal may perform an interaction on a resource type of a tenant (scopes AND groups).

use hearth_tenancy::TenantId;

use crate::error::AuthError;
use crate::rbac::RbacConfig;
use crate::scope::{ContextKind, Decision, Interaction, ScopeSet};

/// The identity and permissions carried by a validated token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The `iss` claim.
    pub issuer: String,
    /// The `sub` claim.
    pub subject: String,
    /// `client_id` (or `azp`) when present.
    pub client_id: Option<String>,
    /// The tenant the token is for; `None` for admin tokens.
    pub tenant: Option<TenantId>,
    pub scopes: ScopeSet,
    /// Groups from the issuer's configured groups claim; empty when not configured.
    pub groups: Vec<String>,
    /// May use the admin API (`admin: true` from the local issuer, or membership of an OIDC
    /// issuer's configured admin group).
    pub is_admin: bool,
    /// The launch patient (`patient` claim) that `patient/` scopes are confined to.
    pub patient: Option<String>,
    /// Whether SMART scopes decide access. False only for an issuer configured with
    /// `require_scopes = false` whose token carries no resource scope: groups alone decide.
    pub scopes_enforced: bool,
    /// `exp`, seconds since the epoch.
    pub expires_at: i64,
    /// `jti`, for audit logs.
    pub token_id: Option<String>,
}

impl Principal {
    /// Ok when the token is for `tenant`.
    pub fn check_tenant(&self, tenant: &TenantId) -> Result<(), AuthError> {
        if self.tenant.as_ref() == Some(tenant) {
            Ok(())
        } else {
            Err(AuthError::WrongTenant {
                token: self.tenant.clone(),
                requested: tenant.clone(),
            })
        }
    }

    /// Ok for admin tokens (the `/admin` API).
    pub fn require_admin(&self) -> Result<(), AuthError> {
        if self.is_admin {
            Ok(())
        } else {
            Err(AuthError::NotAdmin)
        }
    }
}

/// How far an allowed interaction reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Every resource of the type in the tenant.
    Full,
    /// Only resources that satisfy at least one restriction (OR); a search ANDs this
    /// disjunction into its criteria, a read/update/delete checks the target against it.
    Restricted(Vec<Restriction>),
}

/// One alternative of [`Access::Restricted`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    /// Confine to this patient's compartment (from a `patient/` scope).
    pub patient: Option<String>,
    /// Granular-scope search parameters that must all match.
    pub filters: Vec<(String, String)>,
}

/// Decides requests from a [`Principal`]: the token's tenant must be the URL's, its SMART
/// scopes must allow the interaction (unless not enforced, see
/// [`Principal::scopes_enforced`]), and when it has groups, one of them must allow it too.
#[derive(Debug, Clone, Default)]
pub struct Authorizer {
    rbac: RbacConfig,
}

impl Authorizer {
    pub fn new(rbac: RbacConfig) -> Self {
        Authorizer { rbac }
    }

    /// May `principal` perform `interaction` on `resource_type` (`"*"`: every type, for
    /// system-level history and search) in `tenant`, and how far does it reach?
    ///
    /// Errors are all [`crate::ErrorKind::Forbidden`].
    pub fn authorize(
        &self,
        principal: &Principal,
        tenant: &TenantId,
        interaction: Interaction,
        resource_type: &str,
    ) -> Result<Access, AuthError> {
        principal.check_tenant(tenant)?;
        let denied = || {
            AuthError::Forbidden(format!(
                "{} {resource_type}",
                format!("{interaction:?}").to_lowercase()
            ))
        };
        if !principal.groups.is_empty()
            && !self
                .rbac
                .allows(&principal.groups, interaction, resource_type)
        {
            return Err(denied());
        }
        if !principal.scopes_enforced {
            return if principal.groups.is_empty() {
                Err(denied())
            } else {
                Ok(Access::Full)
            };
        }
        match principal.scopes.allows(interaction, resource_type) {
            Decision::Unrestricted => Ok(Access::Full),
            Decision::Deny => Err(denied()),
            Decision::Restricted(grants) => {
                let restrictions: Vec<Restriction> = grants
                    .into_iter()
                    .filter_map(|g| {
                        let patient = match g.context {
                            // a patient scope without a launch patient reaches nothing
                            ContextKind::Patient => Some(principal.patient.clone()?),
                            ContextKind::User | ContextKind::System => None,
                        };
                        Some(Restriction {
                            patient,
                            filters: g.filters,
                        })
                    })
                    .collect();
                if restrictions.is_empty() {
                    Err(AuthError::Forbidden(
                        "patient scopes without a patient in context".to_owned(),
                    ))
                } else {
                    Ok(Access::Restricted(restrictions))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use Interaction::*;

    fn tenant(s: &str) -> TenantId {
        s.parse().unwrap()
    }

    fn principal(scopes: &str, groups: &[&str]) -> Principal {
        Principal {
            issuer: "iss".into(),
            subject: "sub".into(),
            client_id: None,
            tenant: Some(tenant("acme")),
            scopes: ScopeSet::parse(scopes).unwrap(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            is_admin: false,
            patient: None,
            scopes_enforced: true,
            expires_at: 0,
            token_id: None,
        }
    }

    fn full() -> Result<Access, ErrorKind> {
        Ok(Access::Full)
    }

    fn check(
        p: &Principal,
        interaction: Interaction,
        ty: &str,
        expected: Result<Access, ErrorKind>,
    ) {
        let got = Authorizer::default()
            .authorize(p, &tenant("acme"), interaction, ty)
            .map_err(|e| e.kind());
        assert_eq!(got, expected, "{p:?} {interaction:?} {ty}");
    }

    #[test]
    fn scopes_and_groups_combine() {
        let forbidden = Err(ErrorKind::Forbidden);
        // scopes only
        check(&principal("system/*.rs", &[]), Read, "Observation", full());
        check(
            &principal("system/*.rs", &[]),
            Create,
            "Observation",
            forbidden.clone(),
        );
        // scopes AND groups
        check(
            &principal("user/*.cruds", &["auditor"]),
            Read,
            "Patient",
            full(),
        );
        check(
            &principal("user/*.cruds", &["auditor"]),
            Update,
            "Patient",
            forbidden.clone(),
        );
        check(
            &principal("user/*.cruds", &["auditor"]),
            Read,
            "Observation",
            forbidden.clone(),
        );
        check(
            &principal("user/Patient.r", &["practitioner"]),
            Delete,
            "Patient",
            forbidden.clone(),
        );
        check(
            &principal("user/*.cruds", &["somebody-else"]),
            Read,
            "Patient",
            forbidden.clone(),
        );
        // groups only, for issuers that do not require scopes
        let mut rbac_only = principal("openid profile", &["practitioner"]);
        rbac_only.scopes_enforced = false;
        check(&rbac_only, Delete, "Observation", full());
        rbac_only.groups = vec!["auditor".into()];
        check(&rbac_only, Delete, "Patient", forbidden.clone());
        rbac_only.groups.clear();
        check(&rbac_only, Read, "Patient", forbidden);
    }

    #[test]
    fn patient_scopes_confine_to_the_launch_patient() {
        let mut p = principal(
            "patient/Observation.rs?category=laboratory patient/Patient.r",
            &[],
        );
        check(&p, Read, "Patient", Err(ErrorKind::Forbidden));
        p.patient = Some("123".into());
        check(
            &p,
            Read,
            "Patient",
            Ok(Access::Restricted(vec![Restriction {
                patient: Some("123".into()),
                filters: vec![],
            }])),
        );
        check(
            &p,
            Search,
            "Observation",
            Ok(Access::Restricted(vec![Restriction {
                patient: Some("123".into()),
                filters: vec![("category".into(), "laboratory".into())],
            }])),
        );
    }

    #[test]
    fn tenant_must_match_and_admin_is_separate() {
        let p = principal("system/*.*", &[]);
        let other = Authorizer::default().authorize(&p, &tenant("other"), Read, "Patient");
        assert!(matches!(other, Err(AuthError::WrongTenant { .. })));
        assert_eq!(other.unwrap_err().kind(), ErrorKind::Forbidden);
        assert_eq!(p.require_admin().unwrap_err().kind(), ErrorKind::Forbidden);
        let mut admin = p.clone();
        admin.tenant = None;
        admin.is_admin = true;
        assert!(admin.require_admin().is_ok());
        assert!(admin.check_tenant(&tenant("acme")).is_err());
    }
}
