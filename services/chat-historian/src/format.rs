//! How answers write numbers and dates: exactly as the records hold them, grouped for reading.

use chrono::{DateTime, Utc};
use vwc_contracts::OdometerUnit;

/// 1234567 → "1,234,567".
pub use vwc_contracts::grouped_thousands as grouped;

/// 123456, "USD" → "1,234.56 USD".
pub fn money(cents: u64, currency: &str) -> String {
    format!("{}.{:02} {currency}", grouped(cents / 100), cents % 100)
}

/// Signed amounts of valuation factors: "-3,933.85 USD", "+250.00 USD".
pub fn signed_money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "+" };
    format!("{sign}{}", money(cents.unsigned_abs(), currency))
}

/// 41250, mi → "41,250 mi".
pub fn odometer(value: u64, unit: OdometerUnit) -> String {
    unit.distance_text(value)
}

/// "2026-03-02".
pub fn date(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(money(8999, "USD"), "89.99 USD");
        assert_eq!(money(2749000, "USD"), "27,490.00 USD");
        assert_eq!(signed_money(-393385, "USD"), "-3,933.85 USD");
        assert_eq!(odometer(41250, OdometerUnit::Mi), "41,250 mi");
    }
}
