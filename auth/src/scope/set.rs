//! `ScopeSet`: the scopes of one token, and the decisions drawn from them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ContextKind, Interaction, ResourceScope, ResourceSel, Scope, ScopeError};

/// One way a [`Decision::Restricted`] lets an interaction through. Several grants are
/// alternatives (OR); the filters inside one grant all apply (AND).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    /// `Patient`: only resources in the launch patient's compartment.
    pub context: ContextKind,
    /// Search parameters the resource must match (granular scopes), percent-decoded.
    pub filters: Vec<(String, String)>,
}

impl Grant {
    /// Neither a patient compartment nor filters: the whole tenant.
    pub fn is_unrestricted(&self) -> bool {
        self.context != ContextKind::Patient && self.filters.is_empty()
    }
}

/// What a [`ScopeSet`] says about one interaction on one resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Some `user/` or `system/` scope grants it without filters.
    Unrestricted,
    /// Only within these grants (at least one): a resource qualifies when it satisfies any
    /// grant. Searches AND the grants into their criteria; reads check the resource matches.
    Restricted(Vec<Grant>),
    /// No scope grants it.
    Deny,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        !matches!(self, Decision::Deny)
    }
}

/// The scopes of a token or of a client registration, in the order written, without
/// duplicates. `Display` writes them space-separated, as the `scope` claim.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet {
    scopes: Vec<Scope>,
}

impl ScopeSet {
    /// Parses a space-separated scope string; any invalid resource scope is an error.
    /// Use for scopes a client asks for and for configuration.
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        s.split_whitespace()
            .map(Scope::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(ScopeSet::from_scopes)
    }

    /// Parses scopes of a token someone else issued: invalid resource scopes are dropped
    /// (they grant nothing) and returned so the caller can log them.
    pub fn parse_lenient<'a>(words: impl IntoIterator<Item = &'a str>) -> (Self, Vec<ScopeError>) {
        let mut ok = Vec::new();
        let mut errors = Vec::new();
        for word in words {
            match Scope::from_str(word) {
                Ok(scope) => ok.push(scope),
                Err(e) => errors.push(e),
            }
        }
        (ScopeSet::from_scopes(ok), errors)
    }

    pub fn from_scopes(scopes: impl IntoIterator<Item = Scope>) -> Self {
        let mut set = ScopeSet::default();
        for scope in scopes {
            if !set.scopes.contains(&scope) {
                set.scopes.push(scope);
            }
        }
        set
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.scopes.iter()
    }

    pub fn resource_scopes(&self) -> impl Iterator<Item = &ResourceScope> {
        self.scopes.iter().filter_map(|s| match s {
            Scope::Resource(r) => Some(r),
            Scope::Other(_) => None,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// Whether any `patient/`, `user/` or `system/` scope is present.
    pub fn has_resource_scopes(&self) -> bool {
        self.resource_scopes().next().is_some()
    }

    /// Whether some resource scope has this context (`patient/` scopes need a launch patient).
    pub fn has_context(&self, context: ContextKind) -> bool {
        self.resource_scopes().any(|r| r.context == context)
    }

    /// What these scopes allow for `interaction` on `resource_type`.
    ///
    /// `resource_type` is a FHIR type name (`"Observation"`); pass `"*"` for a system-level
    /// interaction over every type (system history or search without `_type`), which only
    /// wildcard scopes grant.
    pub fn allows(&self, interaction: Interaction, resource_type: &str) -> Decision {
        let mut grants: Vec<Grant> = Vec::new();
        for scope in self.resource_scopes() {
            if !scope.permissions.contains(interaction) || !scope.resource.covers(resource_type) {
                continue;
            }
            let grant = Grant {
                context: scope.context,
                filters: scope.filters.clone(),
            };
            if grant.is_unrestricted() {
                return Decision::Unrestricted;
            }
            if !grants.contains(&grant) {
                grants.push(grant);
            }
        }
        if grants.is_empty() {
            Decision::Deny
        } else {
            Decision::Restricted(grants)
        }
    }

    /// The granular filters to AND into a search: a list of alternatives (OR), each a list
    /// of `(param, value)` that all apply. Empty when no filter applies — the interaction is
    /// unrestricted, allowed only through unfiltered scopes, *or denied*: call
    /// [`ScopeSet::allows`] first. Patient compartments are not included (see [`Grant`]).
    pub fn granular_filters(
        &self,
        resource_type: &str,
        interaction: Interaction,
    ) -> Vec<Vec<(String, String)>> {
        match self.allows(interaction, resource_type) {
            Decision::Restricted(grants) if grants.iter().all(|g| !g.filters.is_empty()) => {
                grants.into_iter().map(|g| g.filters).collect()
            }
            _ => Vec::new(),
        }
    }

    /// The scopes of `self` that `authorized` does not cover; empty when `self ⊆ authorized`.
    ///
    /// A requested resource scope is covered when each of its letters is granted, in the same
    /// context, by an authorized scope naming the same type or `*` whose filters (if any)
    /// are all among the requested scope's filters — so `system/*.read` covers
    /// `system/Patient.rs` and `system/Observation.rs?category=laboratory`, but
    /// `system/Observation.rs?category=laboratory` does not cover `system/Observation.rs`.
    /// Other scopes are covered only by the same word.
    pub fn not_covered_by(&self, authorized: &ScopeSet) -> Vec<Scope> {
        self.scopes
            .iter()
            .filter(|requested| !is_covered(requested, authorized))
            .cloned()
            .collect()
    }
}

fn is_covered(requested: &Scope, authorized: &ScopeSet) -> bool {
    let requested = match requested {
        Scope::Other(_) => return authorized.scopes.contains(requested),
        Scope::Resource(r) => r,
    };
    requested.permissions.iter().all(|letter| {
        authorized.resource_scopes().any(|a| {
            a.context == requested.context
                && a.permissions.contains(letter)
                && match (&a.resource, &requested.resource) {
                    (ResourceSel::Any, _) => true,
                    (ResourceSel::Type(a), ResourceSel::Type(r)) => a == r,
                    (ResourceSel::Type(_), ResourceSel::Any) => false,
                }
                && a.filters.iter().all(|f| requested.filters.contains(f))
        })
    })
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, scope) in self.scopes.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            scope.fmt(f)?;
        }
        Ok(())
    }
}

impl FromStr for ScopeSet {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScopeSet::parse(s)
    }
}

/// Serialized as the space-separated string (how scopes appear in claims and configuration).
impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        ScopeSet::parse(&s).map_err(serde::de::Error::custom)
    }
}
