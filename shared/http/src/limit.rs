use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::{ApiError, Authentication};

/// Token buckets per organisation: `rate` requests per second sustained, `burst` at once.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(rate_per_sec: f64, burst: u32) -> RateLimiter {
        RateLimiter {
            rate: rate_per_sec,
            burst: burst.max(1) as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Parses `RATE[/s][,BURST]`, e.g. `50` or `50/s,100`. `0` disables limiting.
    pub fn parse(spec: &str) -> Result<Option<RateLimiter>, String> {
        let mut parts = spec.split(',');
        let rate = parts
            .next()
            .unwrap_or("")
            .trim()
            .trim_end_matches("/s")
            .parse::<f64>()
            .map_err(|_| format!("{spec:?} is not RATE[/s][,BURST]"))?;
        if rate <= 0.0 {
            return Ok(None);
        }
        let burst = match parts.next() {
            Some(b) => b
                .trim()
                .parse::<u32>()
                .map_err(|_| format!("{spec:?}: bad burst"))?,
            None => (rate * 2.0).ceil() as u32,
        };
        Ok(Some(RateLimiter::new(rate, burst)))
    }

    /// Whether `key` has a token now, without taking it (or how long until it will).
    pub fn peek(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let buckets = self.buckets.lock().unwrap();
        let Some((tokens, last)) = buckets.get(key) else {
            return Ok(());
        };
        self.one_token_in(self.refilled(*tokens, *last, now))
    }

    /// A bucket's tokens at `now`: `tokens` at `last`, refilled at the rate since, up to the burst.
    fn refilled(&self, tokens: f64, last: Instant, now: Instant) -> f64 {
        (tokens + now.duration_since(last).as_secs_f64() * self.rate).min(self.burst)
    }

    /// `Ok` when a bucket of `tokens` holds a whole one, else how long until it will.
    fn one_token_in(&self, tokens: f64) -> Result<(), Duration> {
        if tokens >= 1.0 {
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - tokens) / self.rate))
        }
    }

    /// Forgets buckets that are full again, so keys seen once (source addresses) do not pile up.
    pub fn forget_idle(&self, now: Instant) {
        let full_after = self.burst / self.rate;
        self.buckets
            .lock()
            .unwrap()
            .retain(|_, (_, last)| now.duration_since(*last).as_secs_f64() < full_after);
    }

    /// Keys with a bucket.
    pub fn len(&self) -> usize {
        self.buckets.lock().unwrap().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes one token for `org`, or says how long until one is available.
    pub fn check(&self, org: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap();
        let (tokens, last) = buckets.entry(org.to_string()).or_insert((self.burst, now));
        let refilled = self.refilled(*tokens, *last, now);
        let taken = self.one_token_in(refilled);
        *last = now;
        *tokens = if taken.is_ok() {
            refilled - 1.0
        } else {
            refilled
        };
        taken
    }
}

/// Middleware (inside [`crate::authenticate`]): requests of a verified caller count against their
/// organisation's bucket; over the limit they get 429 with `Retry-After`. Requests without a verified caller
/// pass through (the route answers 401, or is public).
pub async fn rate_limit(
    State(limiter): State<Arc<RateLimiter>>,
    req: Request,
    next: Next,
) -> Response {
    let org = req
        .extensions()
        .get::<Authentication>()
        .and_then(Authentication::caller)
        .map(|c| c.org.clone());
    if let Some(org) = org
        && let Err(wait) = limiter.check(&org, Instant::now())
    {
        return ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        }
        .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_the_rate() {
        let l = RateLimiter::new(10.0, 3);
        let t0 = Instant::now();
        assert!(l.check("a", t0).is_ok());
        assert!(l.check("a", t0).is_ok());
        assert!(l.check("a", t0).is_ok());
        let wait = l.check("a", t0).unwrap_err();
        assert!(wait <= Duration::from_millis(100));
        assert!(
            l.check("b", t0).is_ok(),
            "organisations have their own buckets"
        );
        assert!(l.check("a", t0 + Duration::from_millis(150)).is_ok());
    }

    #[test]
    fn specs_parse() {
        assert!(RateLimiter::parse("0").unwrap().is_none());
        assert!(RateLimiter::parse("50/s,100").unwrap().is_some());
        assert!(RateLimiter::parse("fast").is_err());
    }
}
