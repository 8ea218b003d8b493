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

    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let n = value.trim().chars().count();
        if n < min {
            self.fail(field, "must not be blank");
        } else if value.chars().count() > max {
            self.fail(field, format!("must be at most {max} characters"));
        } else {
            self.printable(field, value);
        }
    }

    pub fn opt_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(v) = value {
            if v.chars().count() > max {
                self.fail(field, format!("must be at most {max} characters"));
            } else {
                self.printable(field, v);
            }
        }
    }

    /// Text shown to people, exported and sent on: no control characters (a NUL, an escape, a bell), which
    /// no one types and which break terminals, CSV readers and logs; line breaks and tabs are text.
    fn printable(&mut self, field: &str, value: &str) {
        if let Some(c) = value
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            self.fail(
                field,
                format!(
                    "must not contain control characters (U+{:04X})",
                    u32::from(c)
                ),
            );
        }
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
}
