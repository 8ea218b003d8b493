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
        }
    }

    pub fn opt_text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(v) = value
            && v.chars().count() > max
        {
            self.fail(field, format!("must be at most {max} characters"));
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
