//! Per-tenant rate limiting: a token bucket per tenant id, refilled continuously; an empty
//! bucket answers 429 with `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{OriginalUri, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;
use crate::state::AppState;

/// Most tenants tracked at once; beyond it the buckets start again full.
const MAX_BUCKETS: usize = 100_000;

/// Token buckets keyed by tenant id.
#[derive(Debug)]
pub struct RateLimiter {
    /// Tokens added per second; 0 turns limiting off.
    rate: f64,
    /// Bucket size: the burst a tenant may send at once.
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(rate: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            rate,
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `tenant` at `now`; when none is left, the seconds until one is.
    pub fn take(&self, tenant: &str, now: Instant) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(tenant) {
            buckets.clear();
        }
        let (tokens, last) = buckets
            .entry(tenant.to_owned())
            .or_insert((self.burst, now));
        let refilled = (*tokens + now.saturating_duration_since(*last).as_secs_f64() * self.rate)
            .min(self.burst);
        *last = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(((1.0 - refilled) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

/// Middleware on `/tenant/{tenant}/…`: one token per request of that tenant.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // Inside the nested tenant router the URI has lost its `/tenant/{id}` prefix.
    let uri = request
        .extensions()
        .get::<OriginalUri>()
        .map_or(request.uri(), |o| &o.0);
    let tenant = uri
        .path()
        .strip_prefix("/tenant/")
        .and_then(|p| p.split('/').next())
        .unwrap_or("")
        .to_owned();
    match state.rate_limiter.take(&tenant, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(retry_after) => ApiError::throttled(
            format!("too many requests for this tenant; retry in {retry_after} s"),
            retry_after,
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn buckets_refill_per_tenant() {
        let limiter = RateLimiter::new(2.0, 3.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take("a", t0), Ok(()));
        }
        assert_eq!(limiter.take("a", t0), Err(1));
        assert_eq!(
            limiter.take("b", t0),
            Ok(()),
            "tenants have their own buckets"
        );
        assert_eq!(
            limiter.take("a", t0 + Duration::from_millis(500)),
            Ok(()),
            "refilled at 2/s"
        );
        assert_eq!(limiter.take("a", t0 + Duration::from_millis(500)), Err(1));
        let off = RateLimiter::new(0.0, 1.0);
        for _ in 0..1000 {
            assert_eq!(off.take("a", t0), Ok(()));
        }
    }
}
