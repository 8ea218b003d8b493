//! How answers write numbers, dates and record text: numbers and dates exactly as the records hold them,
//! grouped for reading; record text isolated from the answer around it when it could reorder it.

use chrono::{DateTime, Utc};
pub use vwc_contracts::text::{distance as odometer, grouped, money, signed_money};

/// A measured figure kept to a tenth (a distance summed from fill-ups), grouped as every other number is:
/// 2900.0 → "2,900", 12345.5 → "12,345.5".
pub fn grouped_tenths(value: f64) -> String {
    let tenths = (value.max(0.0) * 10.0).round() as u64;
    match tenths % 10 {
        0 => grouped(tenths / 10),
        t => format!("{}.{t}", grouped(tenths / 10)),
    }
}

/// "2026-03-02".
pub fn date(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// Record text (a vendor, a title, a note…) as an answer embeds it. Text holding a bidirectional control or
/// a right-to-left letter is wrapped in FIRST STRONG ISOLATE … POP DIRECTIONAL ISOLATE (UAX #9), so it
/// cannot reorder the answer around it: the closing PDI ends any embedding or override opened inside. Its
/// own isolates are balanced first (a stray PDI would close ours early). Other text is returned as it is.
pub fn isolated(text: &str) -> String {
    if !text
        .chars()
        .any(|c| is_bidi_control(c) || is_right_to_left(c))
    {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    out.push('\u{2068}');
    let mut open = 0usize;
    for c in text.chars() {
        match c {
            '\u{2066}' | '\u{2067}' | '\u{2068}' => {
                open += 1;
                out.push(c);
            }
            '\u{2069}' if open == 0 => {}
            '\u{2069}' => {
                open -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out.extend(std::iter::repeat_n('\u{2069}', open + 1));
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Letters of the right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko, … and their presentation
/// forms, and the historic right-to-left blocks).
fn is_right_to_left(c: char) -> bool {
    matches!(c,
        '\u{0590}'..='\u{08FF}'
        | '\u{FB1D}'..='\u{FDFF}'
        | '\u{FE70}'..='\u{FEFF}'
        | '\u{10800}'..='\u{10FFF}'
        | '\u{1E800}'..='\u{1EFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenths_are_grouped_and_shown_only_when_there_are_some() {
        assert_eq!(grouped_tenths(2900.0), "2,900");
        assert_eq!(grouped_tenths(12_345.5), "12,345.5");
        assert_eq!(grouped_tenths(540.04), "540");
        assert_eq!(grouped_tenths(0.0), "0");
    }

    #[test]
    fn only_text_that_could_reorder_the_answer_is_isolated() {
        assert_eq!(isolated("Main St Auto"), "Main St Auto");
        assert_eq!(isolated("Café Müller"), "Café Müller");
        assert_eq!(
            isolated("Tire Pros \u{202e}"),
            "\u{2068}Tire Pros \u{202e}\u{2069}"
        );
        assert_eq!(isolated("מוסך"), "\u{2068}מוסך\u{2069}");
        // A stray PDI would close the isolate early; an unclosed isolate inside is closed before ours.
        assert_eq!(isolated("a\u{2069}\u{202e}b"), "\u{2068}a\u{202e}b\u{2069}");
        assert_eq!(isolated("a\u{2067}b"), "\u{2068}a\u{2067}b\u{2069}\u{2069}");
    }
}
