//! Typed identifiers: resource types, logical ids and version ids, validated on parse.

use std::fmt;
use std::str::FromStr;

use crate::generated::resource_types::RESOURCE_TYPES;

/// An id or type that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("unknown resource type '{0}'")]
    UnknownResourceType(String),
    #[error("invalid resource id '{0}': 1-64 characters of A-Z, a-z, 0-9, '-' and '.'")]
    InvalidResourceId(String),
    #[error("invalid version id '{0}': a positive integer")]
    InvalidVersionId(String),
}

/// One of the 146 concrete R4 resource types. Cheap to copy; always valid.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceType(&'static str);

impl ResourceType {
    pub fn as_str(&self) -> &'static str {
        self.0
    }

    /// Every concrete resource type, sorted by name.
    pub fn all() -> impl Iterator<Item = ResourceType> {
        RESOURCE_TYPES.iter().map(|name| ResourceType(name))
    }
}

impl FromStr for ResourceType {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RESOURCE_TYPES
            .binary_search(&s)
            .map(|i| ResourceType(RESOURCE_TYPES[i]))
            .map_err(|_| IdError::UnknownResourceType(s.to_owned()))
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A logical resource id: `[A-Za-z0-9\-\.]{1,64}` (R4 `id` datatype).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(String);

impl ResourceId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A fresh server-assigned id (a UUID v4 fits the id rules).
    pub fn new_v4(uuid: impl fmt::Display) -> ResourceId {
        ResourceId(uuid.to_string())
    }

    pub fn is_valid(s: &str) -> bool {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    }
}

impl FromStr for ResourceId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if ResourceId::is_valid(s) {
            Ok(ResourceId(s.to_owned()))
        } else {
            Err(IdError::InvalidResourceId(s.to_owned()))
        }
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// A version id: the server numbers versions 1, 2, 3 … per resource.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct VersionId(u64);

impl VersionId {
    pub const FIRST: VersionId = VersionId(1);

    pub fn new(n: u64) -> Option<VersionId> {
        (n > 0).then_some(VersionId(n))
    }

    pub fn get(&self) -> u64 {
        self.0
    }

    pub fn next(&self) -> VersionId {
        VersionId(self.0 + 1)
    }
}

impl FromStr for VersionId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<u64>()
            .ok()
            .and_then(VersionId::new)
            .filter(|_| !s.starts_with('+') && !s.starts_with('0'))
            .ok_or_else(|| IdError::InvalidVersionId(s.to_owned()))
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_types_parse_exactly() {
        assert_eq!(ResourceType::all().count(), 146);
        for (input, ok) in [
            ("Patient", true),
            ("Observation", true),
            ("patient", false),
            ("Resource", false),
            ("DomainResource", false),
            ("", false),
        ] {
            assert_eq!(input.parse::<ResourceType>().is_ok(), ok, "{input}");
        }
    }

    #[test]
    fn resource_ids_follow_the_id_datatype() {
        let long = "a".repeat(65);
        for (input, ok) in [
            ("example", true),
            ("a.b-C9", true),
            (&"a".repeat(64)[..], true),
            (&long[..], false),
            ("", false),
            ("a_b", false),
            ("a/b", false),
            ("é", false),
        ] {
            assert_eq!(input.parse::<ResourceId>().is_ok(), ok, "{input}");
        }
    }

    #[test]
    fn version_ids_are_positive_integers() {
        for (input, ok) in [
            ("1", true),
            ("42", true),
            ("0", false),
            ("01", false),
            ("-1", false),
            ("x", false),
            ("+1", false),
        ] {
            assert_eq!(input.parse::<VersionId>().is_ok(), ok, "{input}");
        }
    }
}
