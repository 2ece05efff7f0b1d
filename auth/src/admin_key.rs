//! `AdminKey`: a shared secret (`HEARTH_ADMIN_SIGNING_KEY`, a Secrets Manager secret in the AWS
//! deployment) that signs admin tokens with HS256, so an admin token minted in one API task is
//! accepted by every task, whatever local signing key each holds. It signs nothing else: the
//! validator accepts an HS256 token of the local issuer only when it is an admin token.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};

use crate::claims::AccessClaims;
use crate::error::{ConfigError, KeyError};

/// Shortest secret accepted (HS256 wants at least 256 bits).
const MIN_SECRET_BYTES: usize = 32;
/// `kid` of admin tokens signed with the shared secret.
pub(crate) const ADMIN_KEY_ID: &str = "admin-hs256";

/// The shared secret that signs admin tokens.
#[derive(Clone)]
pub struct AdminKey {
    secret: Vec<u8>,
}

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminKey(..)")
    }
}

impl AdminKey {
    /// The key made of `secret`'s bytes (surrounding whitespace dropped); at least 32 bytes.
    pub fn new(secret: &str) -> Result<AdminKey, ConfigError> {
        let secret = secret.trim();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError(format!(
                "the admin signing key must be at least {MIN_SECRET_BYTES} bytes"
            )));
        }
        Ok(AdminKey {
            secret: secret.as_bytes().to_vec(),
        })
    }

    /// Signs admin `claims` (HS256, `kid` `admin-hs256`); refuses claims that are not an
    /// admin token's.
    pub fn mint(&self, claims: &AccessClaims) -> Result<String, KeyError> {
        if !claims.admin || claims.tenant.is_some() || !claims.scope.is_empty() {
            return Err(KeyError::Sign(
                "the admin signing key signs admin tokens only".into(),
            ));
        }
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(ADMIN_KEY_ID.to_owned());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(&self.secret))
            .map_err(|e| KeyError::Sign(e.to_string()))
    }

    pub(crate) fn decoding_key(&self) -> DecodingKey {
        DecodingKey::from_secret(&self.secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_and_non_admin_claims_are_refused() {
        assert!(AdminKey::new("short").is_err());
        assert!(AdminKey::new(&format!("  {}  ", "a".repeat(31))).is_err());
        let key = AdminKey::new(&"k".repeat(64)).unwrap();
        let now = std::time::SystemTime::now();
        assert!(
            key.mint(&AccessClaims::admin("hearth", "hearth", "ops", now, 60))
                .is_ok()
        );
        let tenant: hearth_tenancy::TenantId = "acme".parse().unwrap();
        let claims =
            AccessClaims::for_tenant("hearth", "hearth", "ops", &tenant, "system/*.rs", now, 60);
        assert!(key.mint(&claims).is_err());
        assert_eq!(format!("{key:?}"), "AdminKey(..)");
    }
}
