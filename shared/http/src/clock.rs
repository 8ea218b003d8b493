//! The clock handlers see is the one clock of every service (`vwc-clock`): the wall clock plus an offset
//! tests move forward. Production never moves it.

pub use vwc_clock::OffsetClock as Clock;
