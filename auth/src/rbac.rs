//! Role-based access by group membership (the `cognito:groups` style of FHIR Works on AWS):
//! [`RbacConfig`] maps a group to the interactions it may perform on which resource types.
//!
//! The defaults mirror FWoA's `RBACRules.ts`: `practitioner` may do everything on every type,
//! `non-practitioner` may read and search the financial resource types, `auditor` may read and
//! search `Patient`. FWoA's `read`/`vread`/`search-type` become Hearth's `read` + `search`
//! (so those groups also see instance and type history, which FWoA did not route at all);
//! FWoA's `transaction` permission has no counterpart because every entry of a
//! batch/transaction is authorized on its own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::scope::Interaction;

/// The resource types FWoA's `non-practitioner` group may read.
pub const FWOA_FINANCIAL_RESOURCES: [&str; 16] = [
    "Coverage",
    "CoverageEligibilityRequest",
    "CoverageEligibilityResponse",
    "EnrollmentRequest",
    "EnrollmentResponse",
    "Claim",
    "ClaimResponse",
    "Invoice",
    "PaymentNotice",
    "PaymentReconciliation",
    "Account",
    "ChargeItem",
    "ChargeItemDefinition",
    "Contract",
    "ExplanationOfBenefit",
    "InsurancePlan",
];

/// What one group may do.
///
/// ```toml
/// [groups.non-practitioner]
/// interactions = ["read", "search"]
/// resource_types = ["Coverage", "Claim"]   # or ["*"] for every type
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRule {
    pub interactions: Vec<Interaction>,
    /// FHIR type names; `"*"` stands for every type.
    pub resource_types: Vec<String>,
}

impl GroupRule {
    fn allows(&self, interaction: Interaction, resource_type: &str) -> bool {
        self.interactions.contains(&interaction)
            && self
                .resource_types
                .iter()
                .any(|t| t == "*" || (resource_type != "*" && t == resource_type))
    }
}

/// Groups and their rules. Deserializes from TOML; a missing `groups` table means the
/// FWoA defaults, an empty one means no group grants anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RbacConfig {
    #[serde(default = "default_groups")]
    pub groups: BTreeMap<String, GroupRule>,
}

impl Default for RbacConfig {
    fn default() -> Self {
        RbacConfig {
            groups: default_groups(),
        }
    }
}

fn default_groups() -> BTreeMap<String, GroupRule> {
    use Interaction::*;
    BTreeMap::from([
        (
            "practitioner".to_owned(),
            GroupRule {
                interactions: Interaction::ALL.to_vec(),
                resource_types: vec!["*".to_owned()],
            },
        ),
        (
            "non-practitioner".to_owned(),
            GroupRule {
                interactions: vec![Read, Search],
                resource_types: FWOA_FINANCIAL_RESOURCES.map(str::to_owned).to_vec(),
            },
        ),
        (
            "auditor".to_owned(),
            GroupRule {
                interactions: vec![Read, Search],
                resource_types: vec!["Patient".to_owned()],
            },
        ),
    ])
}

impl RbacConfig {
    /// Whether any of `groups` may perform `interaction` on `resource_type` (`"*"`: every
    /// type at once, which only a `"*"` rule allows). Groups without a rule grant nothing.
    pub fn allows<S: AsRef<str>>(
        &self,
        groups: &[S],
        interaction: Interaction,
        resource_type: &str,
    ) -> bool {
        groups.iter().any(|g| {
            self.groups
                .get(g.as_ref())
                .is_some_and(|rule| rule.allows(interaction, resource_type))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Interaction::*;

    fn check(groups: &[&str], interaction: Interaction, ty: &str, expected: bool) {
        let rbac = RbacConfig::default();
        assert_eq!(
            rbac.allows(groups, interaction, ty),
            expected,
            "{groups:?} {interaction:?} {ty}"
        );
    }

    #[test]
    fn fwoa_default_groups() {
        for i in Interaction::ALL {
            check(&["practitioner"], i, "Observation", true);
            check(&["practitioner"], i, "*", true);
        }
        for (i, ok) in [
            (Read, true),
            (Search, true),
            (Create, false),
            (Update, false),
            (Delete, false),
        ] {
            check(&["non-practitioner"], i, "Claim", ok);
            check(&["non-practitioner"], i, "ExplanationOfBenefit", ok);
            check(&["auditor"], i, "Patient", ok);
        }
        check(&["non-practitioner"], Read, "Patient", false);
        check(&["non-practitioner"], Search, "*", false);
        check(&["auditor"], Read, "Observation", false);
        check(&["auditor", "non-practitioner"], Read, "Claim", true);
        check(&["auditor", "non-practitioner"], Read, "Patient", true);
        check(&["unknown"], Read, "Patient", false);
        check(&[], Read, "Patient", false);
    }

    #[test]
    fn config_from_toml() {
        let rbac: RbacConfig = toml::from_str(
            r#"
            [groups.nurse]
            interactions = ["read", "search", "update"]
            resource_types = ["Patient", "Observation"]
            "#,
        )
        .unwrap();
        assert!(rbac.allows(&["nurse"], Update, "Observation"));
        assert!(!rbac.allows(&["nurse"], Delete, "Observation"));
        assert!(
            !rbac.allows(&["practitioner"], Read, "Patient"),
            "replaced defaults"
        );

        let defaults: RbacConfig = toml::from_str("").unwrap();
        assert_eq!(defaults, RbacConfig::default());

        let bad = toml::from_str::<RbacConfig>(
            "[groups.x]\ninteractions = [\"vread\"]\nresource_types = [\"*\"]",
        );
        assert!(bad.is_err());
    }
}
