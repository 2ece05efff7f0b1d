//! `TenantId`: `[a-z0-9][a-z0-9-]{0,62}`, the key of every partition a tenant owns.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tenant id '{0}': 1-63 characters of a-z, 0-9 and '-', not starting with '-'")]
pub struct TenantIdError(pub String);

/// A tenant id, valid by construction, so it can name files, key prefixes and indexes as is.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TenantId {
    type Err = TenantIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        let ok = !bytes.is_empty()
            && bytes.len() <= 63
            && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-');
        if ok {
            Ok(TenantId(s.to_owned()))
        } else {
            Err(TenantIdError(s.to_owned()))
        }
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_validated() {
        let max = "a".repeat(63);
        let long = "a".repeat(64);
        for (input, ok) in [
            ("default", true),
            ("acme-health", true),
            ("0abc", true),
            (&max[..], true),
            (&long[..], false),
            ("", false),
            ("-abc", false),
            ("Acme", false),
            ("a_b", false),
            ("a/b", false),
            ("..", false),
        ] {
            assert_eq!(input.parse::<TenantId>().is_ok(), ok, "{input}");
        }
    }
}
