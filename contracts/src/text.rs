//! How numbers read in the text people are shown (chat answers, valuation factors, notifications,
//! maintenance reasons): thousands grouped with commas, money as `1,234.56 USD`. One definition, so a
//! figure reads the same wherever it appears.

use crate::OdometerUnit;

/// 1234567 → "1,234,567".
pub fn grouped(n: u64) -> String {
    if n < 1000 {
        n.to_string()
    } else {
        format!("{},{:03}", grouped(n / 1000), n % 1000)
    }
}

/// 123456, "USD" → "1,234.56 USD".
pub fn money(cents: u64, currency: &str) -> String {
    format!("{}.{:02} {currency}", grouped(cents / 100), cents % 100)
}

/// A signed amount, as valuation factors show it: "-3,933.85 USD", "+250.00 USD".
pub fn signed_money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "+" };
    format!("{sign}{}", money(cents.unsigned_abs(), currency))
}

/// 41250, mi → "41,250 mi".
pub fn distance(value: u64, unit: OdometerUnit) -> String {
    format!("{} {}", grouped(value), unit.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1005, "1,005"),
            (1234567, "1,234,567"),
            (u64::MAX, "18,446,744,073,709,551,615"),
        ] {
            assert_eq!(grouped(n), text);
        }
        assert_eq!(money(8999, "USD"), "89.99 USD");
        assert_eq!(money(5, "EUR"), "0.05 EUR");
        assert_eq!(money(2749000, "USD"), "27,490.00 USD");
        assert_eq!(signed_money(-393385, "USD"), "-3,933.85 USD");
        assert_eq!(signed_money(25000, "USD"), "+250.00 USD");
        assert_eq!(distance(41250, OdometerUnit::Mi), "41,250 mi");
    }
}
