//! The one source of "now" for every service: the [`Clock`] port, injected where a test must control time
//! (due dates, quiet hours, retry schedules, secret expiry), and the wall clock behind it. Nothing outside
//! this crate reads the system time.
//!
//! [`Backoff`] is the one growth rule of every retry (bus redelivery, SQS visibility, outbound deliveries,
//! MongoDB transaction retries); each caller adds its own jitter.
//!
//! Implementations: [`SystemClock`] (the wall clock), [`OffsetClock`] (the wall clock plus an offset tests
//! move forward), [`ManualClock`] (moves only when told), and any `Fn() -> DateTime<Utc>` closure.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The clock a service holds.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock, for timestamps no test needs to control (outbox, inbox and dead-letter bookkeeping,
/// log-like `received_at` fields). Services that reason about time take a [`SharedClock`] instead.
pub fn now() -> DateTime<Utc> {
    SystemClock.now()
}

/// The wall clock as a [`SharedClock`].
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The wall clock plus an offset that tests can move forward (e.g. to check that a rotated-out webhook
/// secret stops verifying after 24 hours). Production never moves it. Clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct OffsetClock {
    offset_secs: Arc<AtomicI64>,
}

impl OffsetClock {
    pub fn now(&self) -> DateTime<Utc> {
        SystemClock.now() + TimeDelta::seconds(self.offset_secs.load(Ordering::SeqCst))
    }

    pub fn advance(&self, by: TimeDelta) {
        self.offset_secs
            .fetch_add(by.num_seconds(), Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        OffsetClock::now(self)
    }
}

/// A clock that moves only when told to (tests, simulations).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }

    pub fn advance(&self, by: TimeDelta) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A closure is a clock: `Arc::new(move || instant)` in tests.
impl<F> Clock for F
where
    F: Fn() -> DateTime<Utc> + Send + Sync,
{
    fn now(&self) -> DateTime<Utc> {
        self()
    }
}

/// Exponential backoff: `base · 2^retry`, capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first retry.
    pub base: Duration,
    /// The longest delay.
    pub cap: Duration,
}

impl Backoff {
    /// The delay before retry number `retry` (0 for the first retry): `min(cap, base · 2^retry)`, without
    /// overflow for any retry number.
    pub fn delay(&self, retry: u32) -> Duration {
        self.base
            .saturating_mul(2u32.saturating_pow(retry))
            .min(self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap_and_never_overflows() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        let delays: Vec<_> = (0..6).map(|r| b.delay(r).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn an_offset_clock_moves_forward_for_every_clone() {
        let clock = OffsetClock::default();
        let other = clock.clone();
        let before = other.now();
        clock.advance(TimeDelta::hours(25));
        assert!(other.now() - before >= TimeDelta::hours(25));
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(TimeDelta::seconds(90));
        assert_eq!(clock.now(), start + TimeDelta::seconds(90));
    }

    #[test]
    fn a_closure_is_a_clock() {
        let start = DateTime::<Utc>::MIN_UTC;
        let clock: SharedClock = Arc::new(move || start);
        assert_eq!(clock.now(), start);
    }
}
