//! Dates and timestamps as text, exactly as chrono writes and reads them (its serde forms, `Display`, and
//! RFC 3339 with microseconds), but written into a fixed buffer in one go and read back by position.
//!
//! chrono's formatter writes a date a character or two at a time, and serde_json escapes each of those
//! writes on its own: a first maintenance sweep of 100,000 vehicles writes ≈ 3 million dates into its events
//! and reasons, and that was ≈ 5 % of its CPU (docs/bench.md, stop 48). Anything outside the common case — a
//! year outside 0–9999, a leap second, text of another shape — is left to chrono, so the output and what is
//! accepted are chrono's in every case (the property tests below compare the two).

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};
use serde::{Serialize, Serializer};

/// Up to "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" (30 bytes).
#[derive(Clone, Copy)]
pub struct TimeText {
    buf: [u8; 30],
    len: usize,
}

impl TimeText {
    fn new() -> TimeText {
        TimeText {
            buf: [0; 30],
            len: 0,
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation are ever written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }

    fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// `value` as `width` decimal digits (it has at most that many).
    fn digits(&mut self, mut value: u32, width: usize) {
        for i in (0..width).rev() {
            self.buf[self.len + i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
        self.len += width;
    }

    fn day(&mut self, d: NaiveDate) {
        self.digits(d.year() as u32, 4);
        self.byte(b'-');
        self.digits(d.month(), 2);
        self.byte(b'-');
        self.digits(d.day(), 2);
    }
}

/// How many digits of the second's fraction a timestamp gets.
#[derive(Clone, Copy)]
enum Fraction {
    /// None, 3, 6 or 9, as few as show it exactly (chrono's serde form, `SecondsFormat::AutoSi`).
    Auto,
    /// Always 6 (`SecondsFormat::Micros`).
    Micros,
}

/// `d` as "YYYY-MM-DD"; `None` for a year outside 0–9999 (chrono signs those).
pub fn day(d: NaiveDate) -> Option<TimeText> {
    if !(0..=9999).contains(&d.year()) {
        return None;
    }
    let mut text = TimeText::new();
    text.day(d);
    Some(text)
}

fn instant(t: &DateTime<Utc>, fraction: Fraction) -> Option<TimeText> {
    let nano = t.nanosecond();
    // A leap second is written as second 60 by chrono: left to it.
    if nano >= 1_000_000_000 {
        return None;
    }
    let mut text = day(t.date_naive())?;
    text.byte(b'T');
    text.digits(t.hour(), 2);
    text.byte(b':');
    text.digits(t.minute(), 2);
    text.byte(b':');
    text.digits(t.second(), 2);
    let digits = match fraction {
        Fraction::Micros => 6,
        Fraction::Auto if nano == 0 => 0,
        Fraction::Auto if nano.is_multiple_of(1_000_000) => 3,
        Fraction::Auto if nano.is_multiple_of(1_000) => 6,
        Fraction::Auto => 9,
    };
    if digits > 0 {
        text.byte(b'.');
        text.digits(nano / 10u32.pow(9 - digits as u32), digits);
    }
    text.byte(b'Z');
    Some(text)
}

/// Appends `d` as its `Display` writes it ("2026-12-04").
pub fn push_day(out: &mut String, d: NaiveDate) {
    match day(d) {
        Some(text) => out.push_str(text.as_str()),
        None => {
            use std::fmt::Write;
            let _ = write!(out, "{d}");
        }
    }
}

/// `d` as its `Display` writes it, in a string of its own.
pub fn day_string(d: NaiveDate) -> String {
    let mut out = String::with_capacity(10);
    push_day(&mut out, d);
    out
}

/// `t` as RFC 3339 in UTC with microseconds ("2026-12-04T03:56:10.424264Z"), as chrono's
/// `to_rfc3339_opts(SecondsFormat::Micros, true)` writes it.
pub fn rfc3339_micros(t: &DateTime<Utc>) -> String {
    match instant(t, Fraction::Micros) {
        Some(text) => text.as_str().to_string(),
        None => t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    }
}

/// A date serialised as chrono's serde form ("YYYY-MM-DD"), for `#[serde(serialize_with)]`.
pub fn serialize_day<S: Serializer>(d: &NaiveDate, serializer: S) -> Result<S::Ok, S::Error> {
    match day(*d) {
        Some(text) => serializer.serialize_str(text.as_str()),
        None => d.serialize(serializer),
    }
}

/// An optional date as [`serialize_day`] writes it (`null` when absent).
pub fn serialize_opt_day<S: Serializer>(
    d: &Option<NaiveDate>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => serialize_day(d, serializer),
        None => serializer.serialize_none(),
    }
}

/// A timestamp serialised as chrono's serde form (RFC 3339 in UTC, `Z`, with as many fraction digits —
/// none, 3, 6 or 9 — as show it exactly), for `#[serde(serialize_with)]`.
pub fn serialize_instant<S: Serializer>(
    t: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match instant(t, Fraction::Auto) {
        Some(text) => serializer.serialize_str(text.as_str()),
        None => t.serialize(serializer),
    }
}

/// A date that serialises as [`serialize_day`] writes it.
pub struct Day<'a>(pub &'a NaiveDate);

impl Serialize for Day<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_day(self.0, serializer)
    }
}

/// A timestamp that serialises as [`serialize_instant`] writes it.
pub struct Instant<'a>(pub &'a DateTime<Utc>);

impl Serialize for Instant<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_instant(self.0, serializer)
    }
}

/// Reads "YYYY-MM-DDTHH:MM:SS[.f…]Z" (1 to 9 fraction digits) by position, as chrono's
/// `DateTime::parse_from_rfc3339` reads it; `None` for text of any other shape, which the caller gives to
/// chrono (so an offset, a leap second or a lower-case `t` is still read as chrono reads it).
pub fn parse_utc(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() < 20 || b.len() > 30 || b[b.len() - 1] != b'Z' {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let punctuation = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if punctuation.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(number(0, 4)? as i32, number(5, 7)?, number(8, 10)?)?;
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    let nano = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            number(20, 20 + fraction.len())? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    // Second 60 (a leap second) is chrono's to read.
    if second > 59 {
        return None;
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nano)?;
    Some(date.and_time(time).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chrono_instant(t: &DateTime<Utc>) -> String {
        serde_json::to_string(t).unwrap()
    }

    fn ours(t: &DateTime<Utc>) -> String {
        serde_json::to_string(&Instant(t)).unwrap()
    }

    /// A timestamp whose fraction is whole seconds, milliseconds, microseconds or nanoseconds.
    fn any_instant() -> impl Strategy<Value = DateTime<Utc>> {
        (
            -70_000_000_000i64..300_000_000_000,
            0u32..1_000_000_000,
            0usize..4,
        )
            .prop_map(|(secs, nano, keep)| {
                let nano = match keep {
                    0 => 0,
                    1 => nano / 1_000_000 * 1_000_000,
                    2 => nano / 1_000 * 1_000,
                    _ => nano,
                };
                DateTime::from_timestamp(secs, nano).unwrap()
            })
    }

    proptest! {
        #[test]
        fn dates_are_written_as_chrono_writes_them(days in -1_000_000i32..4_000_000) {
            let d = NaiveDate::from_num_days_from_ce_opt(days).unwrap();
            prop_assert_eq!(serde_json::to_string(&Day(&d)).unwrap(), serde_json::to_string(&d).unwrap());
            prop_assert_eq!(day_string(d), d.to_string());
            let mut pushed = String::from("on ");
            push_day(&mut pushed, d);
            prop_assert_eq!(pushed, format!("on {d}"));
        }

        #[test]
        fn timestamps_are_written_and_read_as_chrono_writes_and_reads_them(t in any_instant()) {
            prop_assert_eq!(ours(&t), chrono_instant(&t));
            prop_assert_eq!(rfc3339_micros(&t), t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
            for text in [
                t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ] {
                let chrono = DateTime::parse_from_rfc3339(&text).ok().map(|p| p.with_timezone(&Utc));
                // Ours reads what it can, and reads it as chrono does.
                if let Some(parsed) = parse_utc(&text) {
                    prop_assert_eq!(Some(parsed), chrono, "{}", text);
                } else {
                    prop_assert!(!(0..=9999).contains(&t.year()), "{} left to chrono", text);
                }
            }
        }

        #[test]
        fn text_of_any_other_shape_is_left_to_chrono(s in "[0-9TZ:.+-]{18,31}") {
            if let Some(parsed) = parse_utc(&s) {
                let chrono = DateTime::parse_from_rfc3339(&s).map(|p| p.with_timezone(&Utc));
                prop_assert_eq!(Ok(parsed), chrono.map_err(|_| ()), "{}", s);
            }
        }

        #[test]
        fn what_chrono_reads_in_the_shape_is_read_alike(
            s in "[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{1,9})?Z"
        ) {
            let chrono = DateTime::parse_from_rfc3339(&s).ok().map(|p| p.with_timezone(&Utc));
            let leap = &s[17..19] == "60";
            prop_assert_eq!(parse_utc(&s), chrono.filter(|_| !leap), "{}", s);
        }
    }

    #[test]
    fn leap_seconds_and_far_years_are_chrono_s() {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        assert_eq!(ours(&leap), chrono_instant(&leap));
        assert!(ours(&leap).contains(":60.5"));
        let far = NaiveDate::from_ymd_opt(12_345, 1, 2).unwrap();
        assert_eq!(
            serde_json::to_string(&Day(&far)).unwrap(),
            "\"+12345-01-02\""
        );
        assert_eq!(parse_utc("2016-12-31T23:59:60.5Z"), None);
        assert_eq!(
            parse_utc("2026-12-04T03:56:10.424264Z"),
            Some(
                NaiveDate::from_ymd_opt(2026, 12, 4)
                    .unwrap()
                    .and_hms_micro_opt(3, 56, 10, 424_264)
                    .unwrap()
                    .and_utc()
            )
        );
        for not_ours in [
            "2026-12-04T03:56:10+00:00",
            "2026-12-04t03:56:10Z",
            "2026-02-30T03:56:10Z",
            "2026-12-04T24:00:00Z",
            "2026-12-04T03:56:10.Z",
            "2026-12-04T03:56:10.1234567891Z",
        ] {
            assert_eq!(parse_utc(not_ours), None, "{not_ours}");
        }
    }
}
