//! The flat form both adapters keep preferences, notifications, deliveries and attempts in: the SQLite
//! columns and the MongoDB documents have the same fields (timestamps as the fixed-width RFC 3339 text of
//! `vwc_store::ts`, enums by their derived names, the reminder as JSON text), so the conversion to and
//! from the domain types is written once, here, and each adapter only moves records in and out.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vwc_store::mongo::parse_ts;
use vwc_store::{StoreError, StoreResult, ts};
use vwc_webhook::WebhookSecret;

use crate::preferences::{format_hhmm, parse_hhmm};
use crate::quiet_hours::QuietHours;
use crate::store::{
    AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus, Notification, Preferences,
    Settlement, StoredPreferences,
};

/// An enum stored by its derived snake_case name (`Channel`, `DeliveryStatus`, …).
pub(crate) fn parse_name<T: FromStr>(what: &str, text: &str) -> StoreResult<T> {
    text.parse()
        .map_err(|_| StoreError::Other(format!("unknown {what} {text:?}")))
}

fn parse_opt_ts(text: Option<&str>) -> StoreResult<Option<DateTime<Utc>>> {
    text.map(parse_ts).transpose()
}

fn parse_time(what: &str, text: &str) -> StoreResult<chrono::NaiveTime> {
    parse_hhmm(text).ok_or_else(|| StoreError::Other(format!("bad {what} {text:?}")))
}

/// An organisation's preferences with its outbound webhook secret (`preferences`, keyed by the org).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PreferencesRecord {
    #[serde(rename = "_id")]
    pub org_id: String,
    pub webhook_url: Option<String>,
    pub email: Option<String>,
    pub quiet_start: Option<String>,
    pub quiet_end: Option<String>,
    pub quiet_tz_offset_minutes: Option<i32>,
    pub webhook_secret: Option<String>,
    pub updated_at: String,
}

impl PreferencesRecord {
    pub fn new(
        org_id: &str,
        p: &Preferences,
        secret: Option<&WebhookSecret>,
        now: DateTime<Utc>,
    ) -> PreferencesRecord {
        let q = p.quiet_hours;
        PreferencesRecord {
            org_id: org_id.to_owned(),
            webhook_url: p.webhook_url.clone(),
            email: p.email.clone(),
            quiet_start: q.map(|q| format_hhmm(q.start)),
            quiet_end: q.map(|q| format_hhmm(q.end)),
            quiet_tz_offset_minutes: q.map(|q| q.tz_offset_minutes),
            webhook_secret: secret.map(|s| s.expose().to_owned()),
            updated_at: ts(&now),
        }
    }

    pub fn into_stored(self) -> StoreResult<StoredPreferences> {
        let quiet_hours = match (self.quiet_start, self.quiet_end) {
            (Some(start), Some(end)) => Some(QuietHours {
                start: parse_time("quiet_start", &start)?,
                end: parse_time("quiet_end", &end)?,
                tz_offset_minutes: self.quiet_tz_offset_minutes.unwrap_or(0),
            }),
            _ => None,
        };
        let webhook_secret = self
            .webhook_secret
            .as_deref()
            .map(WebhookSecret::parse)
            .transpose()
            .map_err(|e| StoreError::Other(format!("stored webhook secret: {e}")))?;
        Ok(StoredPreferences {
            preferences: Preferences {
                webhook_url: self.webhook_url,
                email: self.email,
                quiet_hours,
            },
            webhook_secret,
            updated_at: parse_ts(&self.updated_at)?,
        })
    }
}

/// A notification (`notifications`), unique per (org_id, reminder_id).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NotificationRecord {
    #[serde(rename = "_id")]
    pub id: String,
    pub org_id: String,
    pub reminder_id: String,
    pub vehicle_id: Option<String>,
    pub title: String,
    pub body: String,
    pub severity: String,
    /// The `ReminderDue` as JSON text.
    pub reminder: String,
    pub traceparent: Option<String>,
    pub created_at: String,
}

impl NotificationRecord {
    pub fn new(n: &Notification) -> StoreResult<NotificationRecord> {
        Ok(NotificationRecord {
            id: n.id.clone(),
            org_id: n.org_id.to_string(),
            reminder_id: n.reminder_id.clone(),
            vehicle_id: n.vehicle_id.as_ref().map(|v| v.to_string()),
            title: n.title.clone(),
            body: n.body.clone(),
            severity: n.severity.as_str().to_owned(),
            reminder: serde_json::to_string(&n.reminder)?,
            traceparent: n.traceparent.clone(),
            created_at: ts(&n.created_at),
        })
    }

    pub fn into_notification(self) -> StoreResult<Notification> {
        Ok(Notification {
            id: self.id,
            org_id: self.org_id.into(),
            reminder_id: self.reminder_id,
            vehicle_id: self.vehicle_id.map(Into::into),
            title: self.title,
            body: self.body,
            severity: parse_name("severity", &self.severity)?,
            reminder: serde_json::from_str(&self.reminder)?,
            traceparent: self.traceparent,
            created_at: parse_ts(&self.created_at)?,
        })
    }
}

/// A notification on one channel (`deliveries`), unique per (org_id, reminder_id, channel). `lease_token`
/// is set only while a worker holds the delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeliveryRecord {
    #[serde(rename = "_id")]
    pub id: String,
    pub notification_id: String,
    pub org_id: String,
    pub reminder_id: String,
    pub channel: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    #[serde(default)]
    pub lease_token: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
}

impl DeliveryRecord {
    pub fn new(reminder_id: &str, d: &Delivery) -> DeliveryRecord {
        DeliveryRecord {
            id: d.id.clone(),
            notification_id: d.notification_id.clone(),
            org_id: d.org_id.to_string(),
            reminder_id: reminder_id.to_owned(),
            channel: d.channel.as_str().to_owned(),
            status: d.status.as_str().to_owned(),
            attempts: i64::from(d.attempts),
            next_attempt_at: d.next_attempt_at.as_ref().map(ts),
            lease_token: None,
            created_at: ts(&d.created_at),
            delivered_at: d.delivered_at.as_ref().map(ts),
            last_error: d.last_error.clone(),
        }
    }

    pub fn into_delivery(self) -> StoreResult<Delivery> {
        Ok(Delivery {
            id: self.id,
            notification_id: self.notification_id,
            org_id: self.org_id.into(),
            channel: parse_name("channel", &self.channel)?,
            status: parse_name("delivery status", &self.status)?,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            next_attempt_at: parse_opt_ts(self.next_attempt_at.as_deref())?,
            created_at: parse_ts(&self.created_at)?,
            delivered_at: parse_opt_ts(self.delivered_at.as_deref())?,
            last_error: self.last_error,
        })
    }
}

/// One attempt of a delivery (`delivery_attempts`), unique per (delivery_id, attempt).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AttemptRecord {
    pub delivery_id: String,
    pub attempt: i64,
    pub at: String,
    pub outcome: String,
    pub http_status: Option<i32>,
    pub error: Option<String>,
}

impl AttemptRecord {
    pub fn new(a: &DeliveryAttempt) -> AttemptRecord {
        AttemptRecord {
            delivery_id: a.delivery_id.clone(),
            attempt: i64::from(a.attempt),
            at: ts(&a.at),
            outcome: a.outcome.as_str().to_owned(),
            http_status: a.http_status.map(i32::from),
            error: a.error.clone(),
        }
    }

    pub fn into_attempt(self) -> StoreResult<DeliveryAttempt> {
        Ok(DeliveryAttempt {
            attempt: u32::try_from(self.attempt)
                .map_err(|_| StoreError::Other(format!("bad attempt number {}", self.attempt)))?,
            delivery_id: self.delivery_id,
            at: parse_ts(&self.at)?,
            outcome: parse_name("attempt outcome", &self.outcome)?,
            http_status: self.http_status.and_then(|s| u16::try_from(s).ok()),
            error: self.error,
        })
    }
}

/// What settling a claimed delivery writes to its row, beside giving the lease back. Only a pending
/// delivery is settled, so a hold "sets" it pending and without a delivery time as it already is;
/// `attempts` and `last_error` are kept where they are `None` (a hold counts no attempt and keeps the
/// last attempt's error).
pub(crate) struct DeliveryChange {
    pub status: &'static str,
    pub attempts: Option<i64>,
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    pub last_error: Option<Option<String>>,
}

impl DeliveryChange {
    pub fn of(settlement: &Settlement) -> DeliveryChange {
        match settlement {
            Settlement::Attempted {
                attempt, retry_at, ..
            } => DeliveryChange {
                status: attempt.outcome.status_after().as_str(),
                attempts: Some(i64::from(attempt.attempt)),
                next_attempt_at: match attempt.outcome {
                    AttemptOutcome::RetryScheduled => retry_at.as_ref().map(ts),
                    _ => None,
                },
                delivered_at: (attempt.outcome == AttemptOutcome::Delivered)
                    .then(|| ts(&attempt.at)),
                last_error: Some(attempt.error.clone()),
            },
            Settlement::Held { until } => DeliveryChange {
                status: DeliveryStatus::Pending.as_str(),
                attempts: None,
                next_attempt_at: Some(ts(until)),
                delivered_at: None,
                last_error: None,
            },
            Settlement::Cancelled { reason } => DeliveryChange {
                status: DeliveryStatus::Cancelled.as_str(),
                attempts: None,
                next_attempt_at: None,
                delivered_at: None,
                last_error: Some(Some(reason.clone())),
            },
        }
    }
}
