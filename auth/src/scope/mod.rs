//! SMART on FHIR scopes (App Launch 2.x, "Scopes and Launch Context"): parsing of v1
//! (`patient/Observation.read`) and v2 (`patient/Observation.rs?category=laboratory`) resource
//! scopes into one model, v1 mapped to v2 letters (`read` → `rs`, `write` → `cud`,
//! `*` → `cruds`), and [`ScopeSet`], which decides what a token's scopes allow.
//!
//! Which letter an interaction needs ([`Interaction::from_restful`]) follows the SMART v2 table:
//! `r` covers read, vread and *instance* history; `s` covers type and system search and
//! *type/system* history; `u` covers update and patch; `c` create; `d` delete.

mod parse;
mod set;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use parse::ScopeError;
pub use set::{Decision, Grant, ScopeSet};

/// The context part of a resource scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContextKind {
    /// `patient/`: only data in the compartment of the launch patient (the `patient` claim).
    Patient,
    /// `user/`: what the user may see. Hearth has no per-user access lists, so this is the
    /// whole tenant (further limited by RBAC groups when the token has groups).
    User,
    /// `system/`: backend services, the whole tenant.
    System,
}

impl ContextKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContextKind::Patient => "patient",
            ContextKind::User => "user",
            ContextKind::System => "system",
        }
    }
}

/// One of the five SMART v2 permissions; every FHIR interaction needs exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interaction {
    Create,
    Read,
    Update,
    Delete,
    Search,
}

impl Interaction {
    pub const ALL: [Interaction; 5] = [
        Interaction::Create,
        Interaction::Read,
        Interaction::Update,
        Interaction::Delete,
        Interaction::Search,
    ];

    /// The scope letter: `c`, `r`, `u`, `d` or `s`.
    pub fn letter(self) -> char {
        match self {
            Interaction::Create => 'c',
            Interaction::Read => 'r',
            Interaction::Update => 'u',
            Interaction::Delete => 'd',
            Interaction::Search => 's',
        }
    }

    /// Maps a FHIR `restful-interaction` code to the permission it needs, per SMART v2:
    /// `read`, `vread`, `history-instance` → read; `search`, `search-type`,
    /// `search-system`, `history-type`, `history-system` → search; `update`, `patch` →
    /// update; `create`, `delete` as named. `None` for codes that need no resource
    /// permission of their own (`capabilities`, `batch`, `transaction`: each entry is
    /// checked on its own) or that the caller must decide (`operation`).
    pub fn from_restful(code: &str) -> Option<Interaction> {
        Some(match code {
            "create" => Interaction::Create,
            "read" | "vread" | "history-instance" => Interaction::Read,
            "update" | "patch" => Interaction::Update,
            "delete" => Interaction::Delete,
            "search" | "search-type" | "search-system" | "search-compartment" | "history-type"
            | "history-system" => Interaction::Search,
            _ => return None,
        })
    }
}

/// A set of the five permissions, written in the canonical order `cruds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Permissions(u8);

impl Permissions {
    pub const NONE: Permissions = Permissions(0);
    pub const ALL: Permissions = Permissions(0b11111);
    /// v1 `read`.
    pub const READ_V1: Permissions = Permissions(0b10010);
    /// v1 `write`.
    pub const WRITE_V1: Permissions = Permissions(0b01101);

    fn bit(i: Interaction) -> u8 {
        match i {
            Interaction::Create => 0b00001,
            Interaction::Read => 0b00010,
            Interaction::Update => 0b00100,
            Interaction::Delete => 0b01000,
            Interaction::Search => 0b10000,
        }
    }

    pub fn contains(self, i: Interaction) -> bool {
        self.0 & Self::bit(i) != 0
    }

    pub fn with(self, i: Interaction) -> Permissions {
        Permissions(self.0 | Self::bit(i))
    }

    pub fn is_superset_of(self, other: Permissions) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Interaction> {
        Interaction::ALL
            .into_iter()
            .filter(move |i| self.contains(*i))
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in self.iter() {
            write!(f, "{}", i.letter())?;
        }
        Ok(())
    }
}

/// Which resource types a scope names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceSel {
    /// `*`
    Any,
    /// One resource type, syntactically checked (`[A-Z][A-Za-z]*`); the scope simply grants
    /// nothing when the type does not exist.
    Type(String),
}

impl ResourceSel {
    /// Whether this selection covers `resource_type` (`"*"` means every type at once, which
    /// only a wildcard covers).
    pub fn covers(&self, resource_type: &str) -> bool {
        match self {
            ResourceSel::Any => true,
            ResourceSel::Type(t) => t == resource_type,
        }
    }
}

impl fmt::Display for ResourceSel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourceSel::Any => f.write_str("*"),
            ResourceSel::Type(t) => f.write_str(t),
        }
    }
}

/// Which syntax a resource scope was written in; kept so a granted scope is echoed as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeVersion {
    V1,
    V2,
}

/// A `patient|user|system / Type|* . permissions [? filters]` scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceScope {
    pub context: ContextKind,
    pub resource: ResourceSel,
    pub permissions: Permissions,
    /// Granular filters (`?category=laboratory&status=final`), percent-decoded, in the order
    /// written; all must match (AND). Empty when unfiltered. v2 only.
    pub filters: Vec<(String, String)>,
    pub version: ScopeVersion,
    /// The filter query as written (for `Display`).
    raw_query: Option<String>,
}

impl ResourceScope {
    /// The canonical v2 spelling (`patient/Observation.rs?category=laboratory`).
    pub fn to_v2_string(&self) -> String {
        let mut s = format!(
            "{}/{}.{}",
            self.context.as_str(),
            self.resource,
            self.permissions
        );
        if let Some(q) = &self.raw_query {
            s.push('?');
            s.push_str(q);
        }
        s
    }
}

impl fmt::Display for ResourceScope {
    /// As written: v1 scopes stay v1 (`read`, `write`, `*`), v2 scopes in canonical order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            ScopeVersion::V2 => f.write_str(&self.to_v2_string()),
            ScopeVersion::V1 => {
                let p = match self.permissions {
                    Permissions::READ_V1 => "read",
                    Permissions::WRITE_V1 => "write",
                    _ => "*",
                };
                write!(f, "{}/{}.{}", self.context.as_str(), self.resource, p)
            }
        }
    }
}

/// One scope of a token or request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Resource(ResourceScope),
    /// Any other scope (`openid`, `fhirUser`, `launch/patient`, `offline_access`, custom
    /// scopes of an identity provider): kept, grants no resource access.
    Other(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Resource(r) => r.fmt(f),
            Scope::Other(s) => f.write_str(s),
        }
    }
}
