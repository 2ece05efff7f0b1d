//! Signed, expiring download URLs (bulk export files with `requiresAccessToken: false`): an
//! HMAC-SHA256 over what the URL names and when it expires, with a key kept in the data dir
//! (`{data_dir}/keys/url-signing.key`, 0600) so every process on the data dir agrees, or given
//! by a deployment-wide key store (AWS) so every task of the deployment does.

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::KeyError;
use crate::key_file;

type HmacSha256 = Hmac<Sha256>;

/// Where the URL-signing key lives in a data dir.
pub fn url_signing_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("url-signing.key")
}

pub struct UrlSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner")
    }
}

impl UrlSigner {
    /// Loads the key file, creating it (32 random bytes) on first use.
    pub fn load_or_create(path: &Path) -> Result<UrlSigner, KeyError> {
        let key = key_file::load_or_create(path, || Ok(Self::generate_key()))?;
        Self::from_key(key)
    }

    /// 32 random bytes: a new key, for a caller that stores it elsewhere (a deployment-wide
    /// key) and loads it with [`UrlSigner::from_key`].
    pub fn generate_key() -> Vec<u8> {
        let mut key = vec![0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut key);
        key
    }

    /// A signer with `key` (at least 32 bytes).
    pub fn from_key(key: Vec<u8>) -> Result<UrlSigner, KeyError> {
        if key.len() < 32 {
            return Err(KeyError::Invalid(
                "the URL-signing key is shorter than 32 bytes".into(),
            ));
        }
        Ok(UrlSigner { key })
    }

    fn mac(&self, resource: &str, expires: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(resource.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// The hex signature of `resource` (what the URL names, e.g. `tenant/job/file`) valid
    /// until `expires` (seconds since the epoch).
    pub fn sign(&self, resource: &str, expires: i64) -> String {
        self.mac(resource, expires)
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `signature` is this key's signature of `resource` and `expires` is after `now`
    /// (compared in constant time).
    pub fn verify(&self, resource: &str, expires: i64, signature: &str, now: i64) -> bool {
        if expires <= now || signature.len() != 64 {
            return false;
        }
        let bytes: Option<Vec<u8>> = (0..32)
            .map(|i| u8::from_str_radix(signature.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        match bytes {
            Some(bytes) => self.mac(resource, expires).verify_slice(&bytes).is_ok(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_resource_and_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let path = url_signing_key_path(dir.path());
        let signer = UrlSigner::load_or_create(&path).unwrap();
        let again = UrlSigner::load_or_create(&path).unwrap();
        let sig = signer.sign("t/job/Patient-1.ndjson", 2_000);
        assert_eq!(
            again.sign("t/job/Patient-1.ndjson", 2_000),
            sig,
            "one key per data dir"
        );
        let cases = [
            ("t/job/Patient-1.ndjson", 2_000, sig.as_str(), 1_000, true),
            ("t/job/Patient-1.ndjson", 2_000, sig.as_str(), 2_000, false),
            ("u/job/Patient-1.ndjson", 2_000, sig.as_str(), 1_000, false),
            ("t/job/Patient-1.ndjson", 2_001, sig.as_str(), 1_000, false),
            ("t/job/Patient-1.ndjson", 2_000, "00", 1_000, false),
            (
                "t/job/Patient-1.ndjson",
                2_000,
                &"zz".repeat(32),
                1_000,
                false,
            ),
        ];
        for (resource, expires, signature, now, ok) in cases {
            assert_eq!(
                signer.verify(resource, expires, signature, now),
                ok,
                "{resource} {expires} {now}"
            );
        }
        let other =
            UrlSigner::load_or_create(&url_signing_key_path(tempfile::tempdir().unwrap().path()))
                .unwrap();
        assert!(
            !other.verify("t/job/Patient-1.ndjson", 2_000, &sig, 1_000),
            "another key"
        );
    }

    #[test]
    fn given_keys_sign_alike_and_short_ones_are_refused() {
        let key = UrlSigner::generate_key();
        let one = UrlSigner::from_key(key.clone()).unwrap();
        let two = UrlSigner::from_key(key).unwrap();
        assert!(two.verify("t/j/f", 2_000, &one.sign("t/j/f", 2_000), 1_000));
        assert!(UrlSigner::from_key(vec![1; 31]).is_err());
    }
}
