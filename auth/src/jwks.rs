//! Keys of other parties: the [`JwksSource`] port through which the API fetches JWKS
//! documents (this crate does no network I/O), a cache in front of it that refreshes when a
//! token names an unknown `kid`, and the check that a JWK fits the algorithm a token claims.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};

/// Fetches a JWKS document (an identity provider's `jwks_uri`, a client's registered
/// `jwks_uri`).
///
/// Contract: return the parsed document or an error; no caching needed (callers cache, see
/// [`JwksCache`]). Implementations decide what URLs they are willing to fetch (HTTPS only,
/// no private addresses — a client's `jwks_uri` is chosen by a tenant admin), and bound the
/// time and size of a fetch.
#[async_trait]
pub trait JwksSource: Send + Sync {
    async fn fetch(&self, uri: &str) -> Result<JwkSet, JwksFetchError>;

    /// [`JwksSource::fetch`] with how long the document may be cached, as its server declared
    /// it (HTTP `Cache-Control: max-age`; `Some(0)` for `no-store`/`no-cache`). The default
    /// declares nothing, and [`JwksCache`] keeps the document for its default age.
    async fn fetch_with_max_age(&self, uri: &str) -> Result<FetchedJwks, JwksFetchError> {
        Ok(FetchedJwks {
            keys: self.fetch(uri).await?,
            max_age_secs: None,
        })
    }

    /// OpenID Connect discovery: the `jwks_uri` of `issuer`, read from
    /// `{issuer}/.well-known/openid-configuration` (whose `issuer` must be `issuer`). The
    /// default refuses: sources that do no network I/O cannot discover.
    async fn discover_jwks_uri(&self, issuer: &str) -> Result<String, JwksFetchError> {
        Err(JwksFetchError(format!(
            "OpenID Connect discovery is not configured ({issuer})"
        )))
    }
}

/// A fetched JWKS document and the freshness its server declared.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedJwks {
    pub keys: JwkSet,
    /// `Cache-Control: max-age` in seconds; `None` when the server said nothing.
    pub max_age_secs: Option<u64>,
}

/// Why a JWKS document could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JwksFetchError(pub String);

/// A JWKS source that fails every fetch: for deployments with inline keys only.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoJwksSource;

#[async_trait]
impl JwksSource for NoJwksSource {
    async fn fetch(&self, uri: &str) -> Result<JwkSet, JwksFetchError> {
        Err(JwksFetchError(format!(
            "fetching keys is not configured ({uri})"
        )))
    }
}

/// A cache of JWKS documents by URI in front of a [`JwksSource`].
///
/// A document is fetched on first use, again when older than the `max-age` its server declared
/// (capped at a day; an hour when it declared none; so removed keys stop working), and again when a token names a `kid` it lacks — but not more often than
/// every `min_refetch_secs`, so tokens with made-up `kid`s cannot make us hammer the
/// provider. When a refetch fails, the keys already held keep working.
pub struct JwksCache {
    source: Arc<dyn JwksSource>,
    entries: Mutex<HashMap<String, Entry>>,
    /// Age of a document whose server declared none.
    default_max_age_secs: i64,
    /// Longest age honoured from a server's `max-age`.
    max_max_age_secs: i64,
    min_refetch_secs: i64,
}

#[derive(Clone)]
struct Entry {
    /// The last document fetched, if any fetch succeeded.
    keys: Option<Arc<JwkSet>>,
    fetched_at: i64,
    /// How long `keys` stay fresh.
    max_age_secs: i64,
    /// Last fetch attempt, successful or not: no new attempt within `min_refetch_secs`.
    attempted_at: i64,
    last_error: Option<JwksFetchError>,
}

impl JwksCache {
    pub fn new(source: Arc<dyn JwksSource>) -> Self {
        JwksCache {
            source,
            entries: Mutex::new(HashMap::new()),
            default_max_age_secs: 3600,
            max_max_age_secs: 24 * 3600,
            min_refetch_secs: 30,
        }
    }

    /// The key named `kid` (or, without a `kid`, the document's only key) at `uri`.
    /// `Ok(None)` when the document has no such key even after a refresh; `Err` when no
    /// document could be fetched (failures are not retried within `min_refetch_secs` either).
    pub async fn find(
        &self,
        uri: &str,
        kid: Option<&str>,
        now: i64,
    ) -> Result<Option<Jwk>, JwksFetchError> {
        let cached = self.entry(uri);
        if let Some(entry) = &cached {
            let found = entry.keys.as_ref().and_then(|keys| select(keys, kid));
            let fresh = entry.keys.is_some() && now - entry.fetched_at < entry.max_age_secs;
            if fresh && found.is_some() {
                return Ok(found);
            }
            if now - entry.attempted_at < self.min_refetch_secs {
                return match (found, &entry.keys, &entry.last_error) {
                    (Some(key), _, _) => Ok(Some(key)),
                    (None, None, Some(e)) => Err(e.clone()),
                    (None, _, _) => Ok(None),
                };
            }
        }
        let fetched = self.source.fetch_with_max_age(uri).await;
        let mut entries = self.lock();
        match fetched {
            Ok(FetchedJwks { keys, max_age_secs }) => {
                let found = select(&keys, kid);
                let max_age_secs = max_age_secs.map_or(self.default_max_age_secs, |age| {
                    i64::try_from(age)
                        .map_or(self.max_max_age_secs, |a| a.min(self.max_max_age_secs))
                });
                let entry = Entry {
                    keys: Some(Arc::new(keys)),
                    fetched_at: now,
                    max_age_secs,
                    attempted_at: now,
                    last_error: None,
                };
                entries.insert(uri.to_owned(), entry);
                Ok(found)
            }
            Err(e) => {
                let entry = entries.entry(uri.to_owned()).or_insert(Entry {
                    keys: None,
                    fetched_at: now,
                    max_age_secs: 0,
                    attempted_at: now,
                    last_error: None,
                });
                entry.attempted_at = now;
                entry.last_error = Some(e.clone());
                // keys already held keep working while the source is down
                match entry.keys.as_ref().and_then(|keys| select(keys, kid)) {
                    Some(stale) => Ok(Some(stale)),
                    None => Err(e),
                }
            }
        }
    }

    fn entry(&self, uri: &str) -> Option<Entry> {
        self.lock().get(uri).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The key named `kid`, or without a `kid` the set's only key.
pub(crate) fn select(set: &JwkSet, kid: Option<&str>) -> Option<Jwk> {
    match kid {
        Some(kid) => set.find(kid).cloned(),
        None if set.keys.len() == 1 => set.keys.first().cloned(),
        None => None,
    }
}

/// The verification key for a token signed with `alg`, when `jwk` is a signing key of the
/// matching type (and curve), and its own `alg`, if any, is `alg`. Symmetric (`oct`) keys are
/// never accepted: a public JWKS must not be usable as an HMAC secret.
pub(crate) fn decoding_key(jwk: &Jwk, alg: Algorithm) -> Result<DecodingKey, String> {
    if let Some(key_alg) = jwk.common.key_algorithm
        && key_alg != KeyAlgorithm::from(alg)
    {
        return Err(format!("key is for {key_alg}, token uses {alg:?}"));
    }
    if let Some(key_use) = &jwk.common.public_key_use
        && *key_use != PublicKeyUse::Signature
    {
        return Err("key is not a signing key".to_owned());
    }
    let fits = match (&jwk.algorithm, alg) {
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => p.curve == EllipticCurve::P256,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384) => p.curve == EllipticCurve::P384,
        (AlgorithmParameters::OctetKeyPair(p), Algorithm::EdDSA) => {
            p.curve == EllipticCurve::Ed25519
        }
        _ => false,
    };
    if !fits {
        return Err(format!("key type does not fit {alg:?}"));
    }
    DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable key: {e}"))
}

/// Checks the signature of `token` made with `alg` (already checked against an allow-list)
/// and returns its claims. Time, issuer and audience are left to the caller, which knows
/// `now` and the rules of the issuer.
pub(crate) fn verify_signature(
    token: &str,
    alg: Algorithm,
    key: &DecodingKey,
) -> Result<serde_json::Value, jsonwebtoken::errors::Error> {
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(token, key, &validation).map(|data| data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LocalSigner;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting {
        keys: Mutex<JwkSet>,
        calls: AtomicUsize,
        fail: std::sync::atomic::AtomicBool,
    }

    #[async_trait]
    impl JwksSource for Counting {
        async fn fetch(&self, _uri: &str) -> Result<JwkSet, JwksFetchError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.fail.load(Ordering::SeqCst) {
                return Err(JwksFetchError("down".to_owned()));
            }
            Ok(self.keys.lock().unwrap().clone())
        }
    }

    #[test]
    fn refreshes_on_unknown_kid_at_most_every_30_seconds() {
        let a = LocalSigner::generate().unwrap();
        let b = LocalSigner::generate().unwrap();
        let source = Arc::new(Counting {
            keys: Mutex::new(a.jwks()),
            calls: AtomicUsize::new(0),
            fail: Default::default(),
        });
        let cache = JwksCache::new(source.clone());
        let find = |kid: &str, now| futures::executor::block_on(cache.find("u", Some(kid), now));
        let calls = || source.calls.load(Ordering::SeqCst);

        assert!(find(a.kid(), 1000).unwrap().is_some());
        assert!(find(a.kid(), 1001).unwrap().is_some());
        assert_eq!(calls(), 1, "cached");

        // rotation: b appears at the provider; first miss within 30 s is not refetched
        *source.keys.lock().unwrap() = b.jwks();
        assert!(find(b.kid(), 1010).unwrap().is_none());
        assert_eq!(calls(), 1);
        assert!(find(b.kid(), 1031).unwrap().is_some());
        assert_eq!(calls(), 2);

        // unknown kid: one refetch, then none for 30 s
        assert!(find("nope", 1100).unwrap().is_none());
        assert!(find("nope", 1101).unwrap().is_none());
        assert_eq!(calls(), 3);

        // stale after an hour: refetched; when the fetch fails, held keys still work
        source.fail.store(true, Ordering::SeqCst);
        assert!(find(b.kid(), 1100 + 3600).unwrap().is_some());
        assert_eq!(calls(), 4);
        assert!(find("nope", 1100 + 3700).is_err());
        assert_eq!(calls(), 5);
        // a failed fetch is not retried for 30 s either
        assert!(find("nope", 1100 + 3710).unwrap().is_none());
        let down = |now| futures::executor::block_on(cache.find("other", None, now));
        assert!(down(5000).is_err());
        assert!(down(5010).is_err());
        assert_eq!(calls(), 6);
        assert!(down(5030).is_err());
        assert_eq!(calls(), 7);
    }

    /// Serves one key set with a declared `max-age`.
    struct Declaring {
        keys: JwkSet,
        max_age: Option<u64>,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl JwksSource for Declaring {
        async fn fetch(&self, _uri: &str) -> Result<JwkSet, JwksFetchError> {
            unreachable!("the cache asks for the max-age too")
        }
        async fn fetch_with_max_age(&self, _uri: &str) -> Result<FetchedJwks, JwksFetchError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(FetchedJwks {
                keys: self.keys.clone(),
                max_age_secs: self.max_age,
            })
        }
    }

    #[test]
    fn honours_the_declared_max_age() {
        let signer = LocalSigner::generate().unwrap();
        // (declared max-age, last second still cached, first second refetched)
        for (max_age, cached_until, refetched_at) in [
            (Some(120), 119, 120),
            (Some(0), 29, 30), // no-store: refetched, but not more than every 30 s
            (None, 3599, 3600),
            (Some(10 * 24 * 3600), 24 * 3600 - 1, 24 * 3600),
        ] {
            let source = Arc::new(Declaring {
                keys: signer.jwks(),
                max_age,
                calls: AtomicUsize::new(0),
            });
            let cache = JwksCache::new(source.clone());
            let find = |now| futures::executor::block_on(cache.find("u", Some(signer.kid()), now));
            assert!(find(0).unwrap().is_some());
            assert!(find(cached_until).unwrap().is_some());
            assert_eq!(source.calls.load(Ordering::SeqCst), 1, "{max_age:?}");
            assert!(find(refetched_at).unwrap().is_some());
            assert_eq!(source.calls.load(Ordering::SeqCst), 2, "{max_age:?}");
        }
    }

    #[test]
    fn keys_must_fit_the_algorithm() {
        let signer = LocalSigner::generate().unwrap();
        let jwk = signer.public_jwk();
        assert!(decoding_key(jwk, Algorithm::ES256).is_ok());
        assert!(decoding_key(jwk, Algorithm::ES384).is_err());
        assert!(decoding_key(jwk, Algorithm::RS256).is_err());
        assert!(decoding_key(jwk, Algorithm::HS256).is_err());
        let mut no_alg = jwk.clone();
        no_alg.common.key_algorithm = None;
        assert!(decoding_key(&no_alg, Algorithm::ES256).is_ok());
        assert!(
            decoding_key(&no_alg, Algorithm::ES384).is_err(),
            "P-256 key, ES384 token"
        );
        let oct: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "oct", "k": "c2VjcmV0", "kid": "h"
        }))
        .unwrap();
        assert!(decoding_key(&oct, Algorithm::HS256).is_err());
    }
}
