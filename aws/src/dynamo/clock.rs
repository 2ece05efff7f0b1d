//! `last_updated` stamps and the sequence that orders versions within a millisecond.
//!
//! One process hands out, per tenant, `last_updated` values that never decrease in the order
//! it stamps them (a floor per tenant), are strictly increasing per resource (the previous
//! version + 1 ms at least) and follow the wall clock otherwise. Writers in different
//! processes are ordered by their clocks only: their versions may interleave by a few
//! milliseconds in history.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Utc;
use hearth_tenancy::TenantId;

#[derive(Default)]
pub(crate) struct Clock {
    floors: Mutex<HashMap<TenantId, i64>>,
    seq: AtomicU64,
}

/// The stamp of one new version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) ms: i64,
    pub(crate) seq: u64,
}

impl Clock {
    /// Stamps the versions of one write, in op order; `previous` holds each resource's
    /// previous `last_updated` (ms), if any.
    pub(crate) fn stamp(&self, tenant: &TenantId, previous: &[Option<i64>]) -> Vec<Stamp> {
        let mut floors = self
            .floors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let floor = floors.entry(tenant.clone()).or_insert(i64::MIN);
        let mut at = (*floor).max(Utc::now().timestamp_millis());
        let stamps = previous
            .iter()
            .map(|previous| {
                if let Some(previous) = previous {
                    at = at.max(previous.saturating_add(1));
                }
                Stamp {
                    ms: at,
                    seq: self.next_seq(),
                }
            })
            .collect();
        *floor = at;
        stamps
    }

    /// The latest `last_updated` this process handed out for `tenant`, if any.
    pub(crate) fn floor(&self, tenant: &TenantId) -> Option<i64> {
        self.floors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(tenant)
            .copied()
    }

    pub(crate) fn forget(&self, tenant: &TenantId) {
        self.floors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(tenant);
    }

    /// Nanoseconds since the epoch, or one more than the last value when the clock has not
    /// moved (or stepped back): unique and increasing within the process.
    fn next_seq(&self) -> u64 {
        let now = u64::try_from(Utc::now().timestamp_nanos_opt().unwrap_or(0)).unwrap_or(0);
        let mut last = self.seq.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self
                .seq
                .compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_follow_resources_and_the_tenant() {
        let clock = Clock::default();
        let t: TenantId = "t".parse().unwrap();
        let now = Utc::now().timestamp_millis();
        let ahead = now + 50;
        let stamps = clock.stamp(&t, &[None, Some(ahead), None]);
        assert!(stamps[0].ms >= now && stamps[0].ms < ahead);
        assert_eq!(
            stamps[1].ms,
            ahead + 1,
            "after the resource's previous version"
        );
        assert_eq!(
            stamps[2].ms,
            ahead + 1,
            "never decreasing within the tenant"
        );
        assert!(stamps.windows(2).all(|w| w[0].seq < w[1].seq));
        let later = clock.stamp(&t, &[None]);
        assert!(later[0].ms > ahead && later[0].seq > stamps[2].seq);
        assert_eq!(clock.floor(&t), Some(later[0].ms));
        let other: TenantId = "u".parse().unwrap();
        assert!(
            clock.stamp(&other, &[None])[0].ms < ahead,
            "tenants are apart"
        );
        clock.forget(&t);
        assert_eq!(clock.floor(&t), None);
    }
}
