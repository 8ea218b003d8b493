//! What one send attempt's result means for the delivery: delivered, tried again later (when and how
//! often, by the retry policy), or given up. Pure functions.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;

use crate::retry::RetryPolicy;
use crate::store::AttemptOutcome;

/// What a channel reports about one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    Delivered {
        http_status: Option<u16>,
    },
    /// Worth trying again: a timeout, a connection failure, 408, 429 or 5xx.
    Retryable {
        http_status: Option<u16>,
        error: String,
        /// What the receiver asked for (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// Trying again would not help: another 4xx, a redirect (never followed), a refused address.
    Permanent {
        http_status: Option<u16>,
        error: String,
    },
}

impl SendResult {
    pub fn http_status(&self) -> Option<u16> {
        match self {
            SendResult::Delivered { http_status }
            | SendResult::Retryable { http_status, .. }
            | SendResult::Permanent { http_status, .. } => *http_status,
        }
    }

    pub fn error(&self) -> Option<&str> {
        match self {
            SendResult::Delivered { .. } => None,
            SendResult::Retryable { error, .. } | SendResult::Permanent { error, .. } => {
                Some(error)
            }
        }
    }
}

/// Reads a webhook receiver's HTTP status.
pub fn classify_status(status: u16, retry_after: Option<Duration>) -> SendResult {
    let http_status = Some(status);
    match status {
        200..=299 => SendResult::Delivered { http_status },
        408 | 429 | 500..=599 => SendResult::Retryable {
            http_status,
            error: format!("the receiver answered {status}"),
            retry_after,
        },
        300..=399 => SendResult::Permanent {
            http_status,
            error: format!("the receiver answered {status}; redirects are not followed"),
        },
        _ => SendResult::Permanent {
            http_status,
            error: format!("the receiver answered {status}"),
        },
    }
}

/// The outcome of attempt number `attempt` (1 for the first) and, when another follows, when.
pub fn decide<R: Rng + ?Sized>(
    result: &SendResult,
    attempt: u32,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
    rng: &mut R,
) -> (AttemptOutcome, Option<DateTime<Utc>>) {
    match result {
        SendResult::Delivered { .. } => (AttemptOutcome::Delivered, None),
        SendResult::Permanent { .. } => (AttemptOutcome::Failed, None),
        SendResult::Retryable { retry_after, .. } => {
            if !policy.allows_another_attempt(attempt) {
                return (AttemptOutcome::DeadLettered, None);
            }
            let delay = policy.delay_with_rng(attempt.saturating_sub(1), *retry_after, rng);
            let delay = TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX);
            let at = now
                .checked_add_signed(delay)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            (AttemptOutcome::RetryScheduled, Some(at))
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::retry::tests::{now, policy_of};

    fn policy() -> RetryPolicy {
        policy_of(3, 10)
    }

    #[test]
    fn success_statuses_deliver_and_transient_ones_retry() {
        assert!(matches!(
            classify_status(200, None),
            SendResult::Delivered { .. }
        ));
        assert!(matches!(
            classify_status(204, None),
            SendResult::Delivered { .. }
        ));
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(classify_status(status, None), SendResult::Retryable { .. }),
                "{status}"
            );
        }
        for status in [301, 302, 400, 401, 403, 404, 410, 422] {
            assert!(
                matches!(classify_status(status, None), SendResult::Permanent { .. }),
                "{status}"
            );
        }
    }

    #[test]
    fn a_retryable_failure_is_retried_until_the_last_attempt_then_dead_lettered() {
        let mut rng = StdRng::seed_from_u64(1);
        let failure = classify_status(503, None);
        for attempt in 1..3 {
            let (outcome, at) = decide(&failure, attempt, &policy(), now(), &mut rng);
            assert_eq!(outcome, AttemptOutcome::RetryScheduled);
            let at = at.expect("a retry time");
            assert!(at >= now());
            let ceiling = policy().backoff_ceiling(attempt - 1);
            assert!(at - now() <= TimeDelta::from_std(ceiling).unwrap());
        }
        let (outcome, at) = decide(&failure, 3, &policy(), now(), &mut rng);
        assert_eq!((outcome, at), (AttemptOutcome::DeadLettered, None));
    }

    #[test]
    fn retry_after_decides_when_the_retry_happens() {
        let mut rng = StdRng::seed_from_u64(1);
        let busy = classify_status(429, Some(Duration::from_secs(120)));
        let (outcome, at) = decide(&busy, 1, &policy(), now(), &mut rng);
        assert_eq!(outcome, AttemptOutcome::RetryScheduled);
        assert_eq!(at, Some(now() + TimeDelta::seconds(120)));
    }

    #[test]
    fn permanent_failures_and_successes_are_final() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(
            decide(&classify_status(404, None), 1, &policy(), now(), &mut rng),
            (AttemptOutcome::Failed, None)
        );
        assert_eq!(
            decide(&classify_status(200, None), 3, &policy(), now(), &mut rng),
            (AttemptOutcome::Delivered, None)
        );
    }
}
