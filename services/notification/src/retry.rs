//! When to try an outbound delivery again: exponential backoff with equal jitter (half of each step fixed,
//! half random), unless the receiver said when (`Retry-After`), in which case that wins, within reason.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use rand::Rng;

/// The longest `Retry-After` honoured; a receiver asking for more is retried after this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first one included.
    pub max_attempts: u32,
    /// Backoff ceiling for the first retry; doubles with each further one.
    pub base: Duration,
    /// Largest backoff ceiling.
    pub cap: Duration,
}

/// The default: 12 attempts, retries from 30 s doubling up to 4 h — with equal jitter, 6 to 12 hours from
/// the first attempt to the last. A receiver down for a deploy gets the reminder minutes later; one down
/// for an afternoon still gets it. (It was 8 attempts from 2 s with full jitter: a receiver down for three
/// minutes lost the reminder for good — a probe dead-lettered one after 2 min 17 s.)
impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 12,
            base: Duration::from_secs(30),
            cap: Duration::from_secs(4 * 60 * 60),
        }
    }
}

impl RetryPolicy {
    /// Whether another attempt may follow `attempts_made` failed ones.
    pub fn allows_another_attempt(&self, attempts_made: u32) -> bool {
        attempts_made < self.max_attempts
    }

    /// Delay before retry number `attempt` (0 for the first retry): the receiver's `Retry-After`
    /// (capped at `MAX_RETRY_AFTER`) when given, else a uniform random delay in `[c/2, c]` for
    /// `c = min(cap, base·2^attempt)` — half of it fixed, so the retries span at least half the schedule
    /// however the dice fall, half random, so receivers coming back are not met by every sender at once.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        self.delay_with_rng(attempt, retry_after, &mut rand::thread_rng())
    }

    /// `delay` with the randomness supplied, for deterministic tests.
    pub fn delay_with_rng<R: Rng + ?Sized>(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        rng: &mut R,
    ) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(MAX_RETRY_AFTER);
        }
        let ceiling = self.backoff_ceiling(attempt);
        let ceiling_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.gen_range(ceiling_nanos / 2..=ceiling_nanos))
    }

    /// `min(cap, base·2^attempt)`, without overflow for any attempt number.
    pub fn backoff_ceiling(&self, attempt: u32) -> Duration {
        vwc_clock::Backoff {
            base: self.base,
            cap: self.cap,
        }
        .delay(attempt)
    }
}

/// Reads a `Retry-After` value: delay-seconds (`120`) or an HTTP-date in any of the three forms
/// RFC 9110 asks recipients to accept (IMF-fixdate, RFC 850, asctime). A date in the past means "now".
pub fn parse_retry_after(header: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = header.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than u64 holds is still "a very long time"; the caller caps it.
        return Some(value.parse().map_or(Duration::MAX, Duration::from_secs));
    }
    let at = parse_http_date(value)?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

fn parse_http_date(value: &str) -> Option<DateTime<Utc>> {
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (an RFC 2822 date, so chrono's parser applies).
    if value.ends_with(" GMT")
        && let Ok(date) = DateTime::parse_from_rfc2822(value)
    {
        return Some(date.with_timezone(&Utc));
    }
    const OBSOLETE_FORMATS: [&str; 2] = [
        "%A, %d-%b-%y %H:%M:%S GMT", // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
        "%a %b %e %H:%M:%S %Y",      // asctime: "Sun Nov  6 08:49:37 1994"
    ];
    OBSOLETE_FORMATS
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .map(|naive| naive.and_utc())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// A policy of `max_attempts` whose backoff starts at `base_secs` and is capped at a minute (also
    /// the outcome tests' policy).
    pub(crate) fn policy_of(max_attempts: u32, base_secs: u64) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base: Duration::from_secs(base_secs),
            cap: Duration::from_secs(60),
        }
    }

    fn policy() -> RetryPolicy {
        policy_of(5, 1)
    }

    /// The tests' "now": a few seconds before the `Retry-After` dates they parse.
    pub(crate) fn now() -> DateTime<Utc> {
        "1994-11-06T08:49:00Z".parse().unwrap()
    }

    #[test]
    fn backoff_ceiling_doubles_until_the_cap() {
        let p = policy();
        let ceilings: Vec<u64> = (0..8).map(|a| p.backoff_ceiling(a).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn backoff_ceiling_does_not_overflow_for_huge_attempt_numbers() {
        assert_eq!(policy().backoff_ceiling(u32::MAX), Duration::from_secs(60));
        let uncapped = RetryPolicy {
            cap: Duration::MAX,
            ..policy()
        };
        assert!(uncapped.backoff_ceiling(200) > Duration::from_secs(1 << 31));
    }

    #[test]
    fn jittered_delay_stays_within_half_the_ceiling_and_the_ceiling() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 0..10 {
            let ceiling = p.backoff_ceiling(attempt);
            for _ in 0..200 {
                let delay = p.delay_with_rng(attempt, None, &mut rng);
                assert!(
                    delay <= ceiling && delay >= ceiling / 2,
                    "{delay:?} of {ceiling:?}"
                );
            }
        }
    }

    #[test]
    fn jittered_delay_spreads_over_the_upper_half() {
        let p = policy();
        let mut rng = StdRng::seed_from_u64(42);
        let delays: Vec<Duration> = (0..1000)
            .map(|_| p.delay_with_rng(6, None, &mut rng))
            .collect();
        assert!(delays.iter().any(|d| *d < Duration::from_secs(35)));
        assert!(delays.iter().any(|d| *d > Duration::from_secs(55)));
    }

    /// The default keeps trying for hours, however the dice fall, and its first retries come within
    /// minutes.
    #[test]
    fn the_default_policy_retries_for_six_hours_at_least_starting_within_a_minute() {
        let p = RetryPolicy::default();
        let retries = p.max_attempts - 1;
        let shortest: Duration = (0..retries).map(|a| p.backoff_ceiling(a) / 2).sum();
        let longest: Duration = (0..retries).map(|a| p.backoff_ceiling(a)).sum();
        assert!(shortest >= Duration::from_secs(6 * 3600), "{shortest:?}");
        assert!(longest <= Duration::from_secs(13 * 3600), "{longest:?}");
        assert!(p.backoff_ceiling(0) <= Duration::from_secs(60));
        let first_four: Duration = (0..4).map(|a| p.backoff_ceiling(a)).sum();
        assert!(first_four <= Duration::from_secs(10 * 60), "{first_four:?}");
    }

    #[test]
    fn zero_base_means_immediate_retries() {
        let p = RetryPolicy {
            base: Duration::ZERO,
            ..policy()
        };
        assert_eq!(p.delay(3, None), Duration::ZERO);
    }

    #[test]
    fn retry_after_is_honoured_instead_of_backoff() {
        let p = policy();
        assert_eq!(
            p.delay(0, Some(Duration::from_secs(120))),
            Duration::from_secs(120)
        );
        assert_eq!(p.delay(9, Some(Duration::ZERO)), Duration::ZERO);
    }

    #[test]
    fn retry_after_longer_than_an_hour_is_capped() {
        assert_eq!(
            policy().delay(0, Some(Duration::from_secs(86_400))),
            MAX_RETRY_AFTER
        );
        assert_eq!(policy().delay(0, Some(Duration::MAX)), MAX_RETRY_AFTER);
    }

    #[test]
    fn attempts_stop_at_the_maximum() {
        let p = policy();
        assert!(p.allows_another_attempt(4));
        assert!(!p.allows_another_attempt(5));
    }

    /// Asserts what `parse_retry_after` reads of each header value, at [`now`].
    fn assert_retry_after(cases: &[(&str, Duration)]) {
        for (value, expected) in cases {
            assert_eq!(
                parse_retry_after(value, now()),
                Some(*expected),
                "{value:?}"
            );
        }
    }

    #[test]
    fn retry_after_in_seconds_is_parsed() {
        assert_retry_after(&[
            ("120", Duration::from_secs(120)),
            (" 0 ", Duration::ZERO),
            ("99999999999999999999999", Duration::MAX),
        ]);
    }

    #[test]
    fn retry_after_as_a_date_is_parsed_in_every_http_date_format() {
        // IMF-fixdate, then the two obsolete formats RFC 9110 still asks recipients to accept.
        assert_retry_after(&[
            ("Sun, 06 Nov 1994 08:49:37 GMT", Duration::from_secs(37)),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Duration::from_secs(37)),
            ("Sun Nov  6 08:49:37 1994", Duration::from_secs(37)),
        ]);
    }

    #[test]
    fn retry_after_date_in_the_past_means_now() {
        assert_retry_after(&[("Sun, 06 Nov 1994 08:00:00 GMT", Duration::ZERO)]);
    }

    #[test]
    fn malformed_retry_after_is_ignored() {
        for value in [
            "",
            "soon",
            "-5",
            "1.5",
            "+30",
            "Sun, 06 Nov 1994 08:49:37 +0100",
            "Mon, 06 Nov 1994 08:49:37 GMT", // wrong weekday
            "06 Nov 1994",
        ] {
            assert_eq!(parse_retry_after(value, now()), None, "{value:?}");
        }
    }
}
