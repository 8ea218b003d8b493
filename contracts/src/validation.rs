//! Field-level validation: every problem found in a request, not just the first.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::vehicle::MAX_MONEY_CENTS;

/// One invalid field, as reported in the `errors` member of a 422 problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// A character that ends a line: CR, LF, NEL, and the Unicode line and paragraph separators.
pub fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

#[derive(Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.to_string(),
            message: message.into(),
        });
    }

    /// Multi-line text (notes, a reason, a question): at least `min` characters besides spaces, at most
    /// `max`; line breaks and tabs are kept, other control characters refused ([`Self::printable`]).
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        if self.sized(field, Some(value), min, max) {
            self.printable(field, value);
        }
    }

    /// [`Self::text`] when given: at most `max` characters.
    pub fn opt_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(v) = value
            && self.sized(field, value, 0, max)
        {
            self.printable(field, v);
        }
    }

    /// Single-line text (a name, a title, a vendor, a part): as [`Self::text`], and one line — no line
    /// break, tab or other control character, which would break the lists, headers and CSV cells it is
    /// shown in.
    pub fn line(&mut self, field: &str, value: &str, min: usize, max: usize) {
        if self.sized(field, Some(value), min, max) {
            self.one_line(field, value);
        }
    }

    /// [`Self::line`] when given: at most `max` characters.
    pub fn opt_line(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(v) = value
            && self.sized(field, value, 0, max)
        {
            self.one_line(field, v);
        }
    }

    /// Whether `value` (when given) has `min` to `max` characters, `min` of them not spaces; else says so.
    fn sized(&mut self, field: &str, value: Option<&str>, min: usize, max: usize) -> bool {
        let Some(value) = value else {
            return true;
        };
        if value.trim().chars().count() < min {
            self.fail(field, "must not be blank");
            false
        } else if value.chars().count() > max {
            self.fail(field, format!("must be at most {max} characters"));
            false
        } else {
            true
        }
    }

    /// Text shown to people, exported and sent on: no control characters (a NUL, an escape, a bell), which
    /// no one types and which break terminals, CSV readers and logs; line breaks and tabs are text.
    fn printable(&mut self, field: &str, value: &str) {
        if let Some(c) = value
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            self.control(field, c);
        }
    }

    /// One line of text: [`Self::printable`] without line breaks (CR, LF, and the Unicode line and
    /// paragraph separators) or tabs.
    fn one_line(&mut self, field: &str, value: &str) {
        if value.contains(is_line_break) {
            self.fail(field, "must be a single line (no line breaks)");
        } else if let Some(c) = value.chars().find(|c| c.is_control()) {
            self.control(field, c);
        }
    }

    fn control(&mut self, field: &str, c: char) {
        self.fail(
            field,
            format!(
                "must not contain control characters (U+{:04X})",
                u32::from(c)
            ),
        );
    }

    pub fn money(&mut self, field: &str, cents: Option<u64>) {
        if let Some(c) = cents
            && c > MAX_MONEY_CENTS
        {
            self.fail(field, format!("must be at most {MAX_MONEY_CENTS} cents"));
        }
    }

    /// A point in time stored and shown to others: not a leap second. chrono reads `23:59:60` as the last
    /// second of the day plus a second of nanoseconds and writes it back as `:60`, which JavaScript's `Date`
    /// and most other readers refuse, while arithmetic on it lands on the next day.
    pub fn instant(&mut self, field: &str, at: &chrono::DateTime<chrono::Utc>) {
        use chrono::Timelike;
        if at.nanosecond() >= 1_000_000_000 {
            self.fail(field, "must not be a leap second (:60)");
        }
    }

    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_refuses_control_characters_but_not_line_breaks_or_tabs() {
        let mut v = Validator::default();
        v.text("title", "a\u{0}b", 1, 200);
        v.opt_text("notes", Some("bell\u{7}"), 200);
        v.opt_text("notes", Some("escape\u{1b}[31m"), 200);
        v.opt_text("notes", Some("line one\r\nline two\tand a tab"), 200);
        v.text("title", "Ölwechsel 🚗", 1, 200);
        let errors = v.finish().unwrap_err();
        let messages: Vec<_> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            [
                ("title", "must not contain control characters (U+0000)"),
                ("notes", "must not contain control characters (U+0007)"),
                ("notes", "must not contain control characters (U+001B)"),
            ]
        );
    }

    #[test]
    fn a_line_refuses_line_breaks_and_every_control_character() {
        let mut v = Validator::default();
        for (i, bad) in [
            "Oil\nchange",
            "Oil\r\nchange",
            "Oil\rchange",
            "Oil\u{85}change",
            "Oil\u{2028}change",
            "Oil\u{2029}change",
        ]
        .into_iter()
        .enumerate()
        {
            v.line(&format!("title{i}"), bad, 1, 200);
        }
        v.opt_line("nickname", Some("Blue\tcar"), 60);
        v.opt_line("vendor.name", Some("Main St\u{1b}[31m"), 60);
        v.opt_line("trim", Some("x".repeat(61).as_str()), 60);
        v.line("make", " \t", 1, 60);
        v.line("model", "Ölwechsel 🚗 – 2.0 TDI", 1, 60);
        v.opt_line("plate", None, 20);
        let errors = v.finish().unwrap_err();
        let messages: Vec<_> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        let single = "must be a single line (no line breaks)";
        assert_eq!(
            messages,
            [
                ("title0", single),
                ("title1", single),
                ("title2", single),
                ("title3", single),
                ("title4", single),
                ("title5", single),
                ("nickname", "must not contain control characters (U+0009)"),
                (
                    "vendor.name",
                    "must not contain control characters (U+001B)"
                ),
                ("trim", "must be at most 60 characters"),
                ("make", "must not be blank"),
            ]
        );
    }
}
