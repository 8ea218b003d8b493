//! How answers write numbers and dates: exactly as the records hold them, grouped for reading.

use chrono::{DateTime, Utc};
pub use vwc_contracts::text::{distance as odometer, grouped, money, signed_money};

/// "2026-03-02".
pub fn date(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}
