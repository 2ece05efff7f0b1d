//! Replay protection for client assertions: the [`ReplayGuard`] port (a deployment with
//! several API instances needs a shared one: the `aws` crate's conditional put in DynamoDB)
//! and a bounded in-memory implementation for a single process.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

/// The guard could not record an assertion: the token endpoint fails closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("replay cache full")]
    Full,
    #[error("replay cache unavailable: {0}")]
    Unavailable(String),
}

/// Remembers the `jti` of each accepted client assertion until it expires.
#[async_trait]
pub trait ReplayGuard: Send + Sync {
    /// Records `(client_id, jti)` until `expires_at` (seconds since the epoch). Returns
    /// `Ok(true)` the first time, `Ok(false)` when it was already recorded and has not expired
    /// at `now`. Atomic: of two concurrent calls with the same pair, one gets `true`.
    async fn first_use(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, ReplayError>;
}

/// An in-process [`ReplayGuard`] holding at most `capacity` live entries; expired entries are
/// dropped as new ones arrive. Assertions live at most five minutes, so the default of
/// 100,000 allows over 300 token requests a second before it refuses (fails closed).
#[derive(Debug)]
pub struct MemoryReplayCache {
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    seen: HashMap<(String, String), i64>,
    by_expiry: BTreeSet<(i64, String, String)>,
}

impl MemoryReplayCache {
    pub fn new(capacity: usize) -> Self {
        MemoryReplayCache {
            capacity,
            state: Mutex::new(State::default()),
        }
    }

    pub fn len(&self) -> usize {
        self.lock().seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for MemoryReplayCache {
    fn default() -> Self {
        Self::new(100_000)
    }
}

#[async_trait]
impl ReplayGuard for MemoryReplayCache {
    async fn first_use(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, ReplayError> {
        let mut state = self.lock();
        let State { seen, by_expiry } = &mut *state;
        while let Some(first) = by_expiry.first() {
            if first.0 >= now {
                break;
            }
            if let Some((_, client, jti)) = by_expiry.pop_first() {
                seen.remove(&(client, jti));
            }
        }
        let key = (client_id.to_owned(), jti.to_owned());
        if seen.contains_key(&key) {
            return Ok(false);
        }
        if seen.len() >= self.capacity {
            return Err(ReplayError::Full);
        }
        seen.insert(key, expires_at);
        by_expiry.insert((expires_at, client_id.to_owned(), jti.to_owned()));
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn remembers_until_expiry_and_is_bounded() {
        let cache = MemoryReplayCache::new(2);
        let use_ =
            |client: &str, jti: &str, exp, now| block_on(cache.first_use(client, jti, exp, now));
        assert_eq!(use_("a", "1", 100, 0), Ok(true));
        assert_eq!(use_("a", "1", 100, 50), Ok(false), "replay");
        assert_eq!(use_("b", "1", 100, 50), Ok(true), "per client");
        assert_eq!(use_("a", "2", 100, 50), Err(ReplayError::Full));
        assert_eq!(use_("a", "1", 100, 100), Ok(false), "still live at exp");
        assert_eq!(
            use_("a", "2", 200, 101),
            Ok(true),
            "expired entries make room"
        );
        assert_eq!(cache.len(), 1);
    }
}
