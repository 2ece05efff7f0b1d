//! Test helpers: throwaway signing keys (ES256, ES384, RS256/RS384) that sign arbitrary claims,
//! standing in for identity providers and SMART backend-services clients.

use std::sync::OnceLock;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use serde_json::Value;

pub struct TestKey {
    pub alg: Algorithm,
    pub kid: String,
    encoding: EncodingKey,
    pub jwk: Jwk,
}

/// One RSA key for the whole test run: generating 2048-bit keys is slow in debug builds.
fn rsa_der() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
        key.to_pkcs1_der().unwrap().as_bytes().to_vec()
    })
}

impl TestKey {
    pub fn es256(kid: &str) -> TestKey {
        let der = p256::SecretKey::random(&mut rand_core::OsRng)
            .to_pkcs8_der()
            .unwrap();
        Self::new(
            Algorithm::ES256,
            kid,
            EncodingKey::from_ec_der(der.as_bytes()),
        )
    }

    pub fn es384(kid: &str) -> TestKey {
        let der = p384::SecretKey::random(&mut rand_core::OsRng)
            .to_pkcs8_der()
            .unwrap();
        Self::new(
            Algorithm::ES384,
            kid,
            EncodingKey::from_ec_der(der.as_bytes()),
        )
    }

    /// The shared RSA key, published for `alg` (RS256, RS384, ...).
    pub fn rsa(alg: Algorithm, kid: &str) -> TestKey {
        Self::new(alg, kid, EncodingKey::from_rsa_der(rsa_der()))
    }

    fn new(alg: Algorithm, kid: &str, encoding: EncodingKey) -> TestKey {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        TestKey {
            alg,
            kid: kid.to_owned(),
            encoding,
            jwk,
        }
    }

    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.jwk.clone()],
        }
    }

    /// Signs with this key's algorithm and `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        self.sign_with(header, claims)
    }

    /// Signs with this key under any header (to test mismatched `alg` or `kid`).
    pub fn sign_with(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// A token signed with HMAC-SHA256 (never accepted), naming `kid`.
pub fn hs256(kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(b"secret")).unwrap()
}
