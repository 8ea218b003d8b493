//! The time the notification service acts on: the one clock of every service (`vwc-clock`), injected so
//! quiet hours and retry schedules can be tested without waiting for the wall clock.

pub use vwc_clock::{Clock, ManualClock, SystemClock};
