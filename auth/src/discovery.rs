//! OpenID Connect discovery for OIDC issuers configured without keys: the `jwks_uri` of an
//! issuer, asked of the [`JwksSource`] once and remembered, with failed attempts not repeated
//! within 30 s so tokens naming a configured issuer cannot make us hammer it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::jwks::{JwksFetchError, JwksSource};

/// No new discovery attempt for an issuer within this many seconds of a failed one.
const RETRY_AFTER_SECS: i64 = 30;

/// The discovered `jwks_uri` of each issuer.
pub(crate) struct DiscoveryCache {
    source: Arc<dyn JwksSource>,
    entries: Mutex<HashMap<String, Discovered>>,
}

#[derive(Clone)]
enum Discovered {
    JwksUri(String),
    Failed { at: i64, error: JwksFetchError },
}

impl DiscoveryCache {
    pub(crate) fn new(source: Arc<dyn JwksSource>) -> Self {
        DiscoveryCache {
            source,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The `jwks_uri` of `issuer` at time `now` (Unix seconds).
    pub(crate) async fn jwks_uri(&self, issuer: &str, now: i64) -> Result<String, JwksFetchError> {
        match self.lock().get(issuer).cloned() {
            Some(Discovered::JwksUri(uri)) => return Ok(uri),
            Some(Discovered::Failed { at, error }) if now - at < RETRY_AFTER_SECS => {
                return Err(error);
            }
            _ => {}
        }
        let discovered = self.source.discover_jwks_uri(issuer).await;
        let entry = match &discovered {
            Ok(uri) => Discovered::JwksUri(uri.clone()),
            Err(error) => Discovered::Failed {
                at: now,
                error: error.clone(),
            },
        };
        self.lock().insert(issuer.to_owned(), entry);
        discovered
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Discovered>> {
        // A panic while holding this lock cannot leave the map inconsistent.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use jsonwebtoken::jwk::JwkSet;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    struct Discovering {
        calls: AtomicUsize,
        fail: AtomicBool,
    }

    #[async_trait]
    impl JwksSource for Discovering {
        async fn fetch(&self, uri: &str) -> Result<JwkSet, JwksFetchError> {
            Err(JwksFetchError(format!("not here: {uri}")))
        }
        async fn discover_jwks_uri(&self, issuer: &str) -> Result<String, JwksFetchError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.fail.load(Ordering::SeqCst) {
                return Err(JwksFetchError("down".into()));
            }
            Ok(format!("{issuer}/keys"))
        }
    }

    #[test]
    fn remembers_successes_and_backs_off_after_failures() {
        let source = Arc::new(Discovering {
            calls: AtomicUsize::new(0),
            fail: AtomicBool::new(true),
        });
        let cache = DiscoveryCache::new(source.clone());
        let find = |now| futures::executor::block_on(cache.jwks_uri("https://idp", now));
        let calls = || source.calls.load(Ordering::SeqCst);
        assert!(find(100).is_err());
        assert!(find(129).is_err());
        assert_eq!(calls(), 1, "no retry within 30 s");
        source.fail.store(false, Ordering::SeqCst);
        assert_eq!(find(130).unwrap(), "https://idp/keys");
        assert_eq!(find(10_000).unwrap(), "https://idp/keys");
        assert_eq!(calls(), 2, "a discovered jwks_uri is kept");
    }
}
