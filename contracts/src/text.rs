//! How numbers read in the text people are shown (chat answers, valuation factors, notifications,
//! maintenance reasons): thousands grouped with commas, money as `1,234.56 USD`. One definition, so a
//! figure reads the same wherever it appears.

use crate::OdometerUnit;

/// 1234567 → "1,234,567".
pub fn grouped(n: u64) -> String {
    Grouped(n).to_string()
}

/// A number with its thousands grouped, written where it is formatted: `Grouped(1234567)` shows
/// "1,234,567" (as [`grouped`], without a string of its own).
#[derive(Debug, Clone, Copy)]
pub struct Grouped(pub u64);

impl std::fmt::Display for Grouped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // u64::MAX has 20 digits, so 6 commas.
        let mut buf = [0u8; 26];
        let (mut at, mut n, mut digits) = (buf.len(), self.0, 0);
        loop {
            if digits > 0 && digits % 3 == 0 {
                at -= 1;
                buf[at] = b',';
            }
            at -= 1;
            buf[at] = b'0' + (n % 10) as u8;
            n /= 10;
            digits += 1;
            if n == 0 {
                break;
            }
        }
        f.write_str(std::str::from_utf8(&buf[at..]).map_err(|_| std::fmt::Error)?)
    }
}

/// A distance as [`distance`] writes it, where it is formatted: `Distance(41250, mi)` shows "41,250 mi".
#[derive(Debug, Clone, Copy)]
pub struct Distance(pub u64, pub OdometerUnit);

impl std::fmt::Display for Distance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", Grouped(self.0), self.1.as_str())
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
    Distance(value, unit).to_string()
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
