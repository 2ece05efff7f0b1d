//! `LocalSigner`: the deployment's own ES256 (P-256) signing key, kept as PKCS#8 PEM at
//! `{data_dir}/keys/signing-key.pem` (mode 0600) on the embedded backend, or given as PKCS#8
//! DER by a deployment-wide key store (AWS), with an RFC 7638 thumbprint as `kid`.

use std::path::{Path, PathBuf};

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};

use crate::claims::AccessClaims;
use crate::error::KeyError;
use crate::key_file;

/// Where the signing key lives inside a data dir.
pub fn signing_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("signing-key.pem")
}

/// The local signing key: mints tokens and publishes its public half as a JWKS.
pub struct LocalSigner {
    kid: String,
    encoding: EncodingKey,
    public: Jwk,
}

impl std::fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl LocalSigner {
    /// Loads the key at `path`, or creates it (parent folders 0700, file 0600) when absent.
    ///
    /// Safe when several processes start at once (`hearth serve` and `hearth token` on a new
    /// data dir): the key is written to a temporary file and hard-linked into place, so the
    /// loser of a race loads the winner's key instead of overwriting it.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let pem = key_file::load_or_create(path, || {
            let secret = p256::SecretKey::random(&mut rand_core::OsRng);
            let pem = secret
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| KeyError::Invalid(e.to_string()))?;
            Ok(pem.as_bytes().to_vec())
        })?;
        let pem = std::str::from_utf8(&pem)
            .map_err(|_| KeyError::Invalid("the signing key file is not PEM text".into()))?;
        Self::from_pkcs8_pem(pem)
    }

    /// A fresh key that lives only in memory (tests, ephemeral setups).
    pub fn generate() -> Result<Self, KeyError> {
        Self::from_pkcs8_der(&Self::generate_pkcs8_der()?)
    }

    /// A fresh P-256 private key as PKCS#8 DER, for a caller that stores it elsewhere (a
    /// deployment-wide key) and loads it with [`LocalSigner::from_pkcs8_der`].
    pub fn generate_pkcs8_der() -> Result<Vec<u8>, KeyError> {
        let secret = p256::SecretKey::random(&mut rand_core::OsRng);
        let der = secret
            .to_pkcs8_der()
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        Ok(der.as_bytes().to_vec())
    }

    /// A P-256 private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let secret = p256::SecretKey::from_pkcs8_pem(pem)
            .map_err(|e| KeyError::Invalid(format!("not a P-256 PKCS#8 key: {e}")))?;
        let der = secret
            .to_pkcs8_der()
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        Self::from_pkcs8_der(der.as_bytes())
    }

    /// A P-256 private key in PKCS#8 DER.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let encoding = EncodingKey::from_ec_der(der);
        let mut public = Jwk::from_encoding_key(&encoding, Algorithm::ES256)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        let kid = public
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        public.common.key_id = Some(kid.clone());
        public.common.public_key_use = Some(PublicKeyUse::Signature);
        public.common.key_algorithm = Some(KeyAlgorithm::ES256);
        Ok(LocalSigner {
            kid,
            encoding,
            public,
        })
    }

    /// The key id: the base64url SHA-256 JWK thumbprint (RFC 7638), stable for a key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `claims` with ES256 and this key's `kid`.
    pub fn mint(&self, claims: &AccessClaims) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| KeyError::Sign(e.to_string()))
    }

    /// The public key as a JWK (`kty: EC`, `crv: P-256`, `alg: ES256`, `use: sig`, `kid`).
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// The JWKS document publishing the public key; also what [`crate::Validator::new`]
    /// takes as the local issuer's keys.
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.public.clone()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::time::UNIX_EPOCH;

    #[test]
    fn key_is_created_once_with_private_mode_and_stable_kid() {
        let dir = tempfile::tempdir().unwrap();
        let path = signing_key_path(dir.path());
        let first = LocalSigner::load_or_create(&path).unwrap();
        let again = LocalSigner::load_or_create(&path).unwrap();
        assert_eq!(first.kid(), again.kid());
        assert_eq!(first.kid().len(), 43, "base64url of 32 bytes");
        let pem = fs::read_to_string(&path).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dir_mode = fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(dir_mode, 0o700);
        }
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }

    #[test]
    fn a_stored_der_key_loads_with_the_same_kid() {
        let der = LocalSigner::generate_pkcs8_der().unwrap();
        let one = LocalSigner::from_pkcs8_der(&der).unwrap();
        let two = LocalSigner::from_pkcs8_der(&der).unwrap();
        assert_eq!(one.kid(), two.kid());
        assert_eq!(one.jwks(), two.jwks());
        assert!(LocalSigner::from_pkcs8_der(&der[1..]).is_err());
    }

    #[test]
    fn garbage_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing-key.pem");
        fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            LocalSigner::load_or_create(&path),
            Err(KeyError::Invalid(_))
        ));
    }

    #[test]
    fn jwks_publishes_the_public_key_only() {
        let signer = LocalSigner::generate().unwrap();
        let jwks = serde_json::to_value(signer.jwks()).unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["crv"], "P-256");
        assert_eq!(key["alg"], "ES256");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kid"], signer.kid());
        assert!(key.get("d").is_none());
    }

    #[test]
    fn minted_token_carries_kid_and_verifies() {
        let signer = LocalSigner::generate().unwrap();
        let claims = AccessClaims::admin("iss", "aud", "ops", UNIX_EPOCH, 60);
        let token = signer.mint(&claims).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.as_deref(), Some(signer.kid()));
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<AccessClaims>(
            &token,
            &jsonwebtoken::DecodingKey::from_jwk(signer.public_jwk()).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(data.claims, claims);
    }
}
