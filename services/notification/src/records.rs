//! How both adapters store preferences, notifications, deliveries and attempts: the SQLite columns and
//! the MongoDB documents have the same fields (timestamps as the fixed-width RFC 3339 text of
//! `vwc_store::ts`, enums by their derived names, the reminder as JSON text). Notifications, deliveries
//! and attempts serialise to that form themselves (the serde helpers below); preferences, stored flat,
//! and a delivery's storage-only fields have records here. The conversion is written once; each adapter
//! only moves records in and out.

use chrono::{DateTime, Utc};
use serde::de::{DeserializeOwned, Error as _};
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use vwc_store::parse_ts;
use vwc_store::{StoreError, StoreResult, ts};
use vwc_webhook::WebhookSecret;

use crate::preferences::{format_hhmm, parse_hhmm};
use crate::quiet_hours::QuietHours;
use crate::store::{
    AttemptOutcome, Delivery, DeliveryStatus, ItemWord, Preferences, Settlement, StoredPreferences,
    Word,
};
use vwc_contracts::maintenance::MaintenanceStatus;

/// An item's word as both adapters store it: its kind and value ([`Word::stored`]), the time as text.
pub(crate) fn item_word(
    (org_id, vehicle_id, task): (vwc_contracts::OrgId, vwc_contracts::VehicleId, String),
    kind: &str,
    value: &str,
    at: &str,
) -> StoreResult<ItemWord> {
    let word = match kind {
        k if k == Word::KINDS[0] => Word::Reminded(value.to_owned()),
        k if k == Word::KINDS[1] => Word::Status(
            MaintenanceStatus::parse(value)
                .ok_or_else(|| StoreError::Other(format!("bad item status {value:?}")))?,
        ),
        other => return Err(StoreError::Other(format!("bad item word kind {other:?}"))),
    };
    Ok(ItemWord {
        org_id,
        vehicle_id,
        task,
        word,
        at: parse_ts(at)?,
    })
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
    #[serde(rename = "_id", alias = "org_id")]
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

/// A delivery as stored (`deliveries`), unique per (org_id, reminder_id, channel): the delivery with its
/// notification's reminder id and, while a worker holds it, the lease token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeliveryRecord {
    #[serde(flatten)]
    pub delivery: Delivery,
    pub reminder_id: String,
    #[serde(default)]
    pub lease_token: Option<String>,
}

impl DeliveryRecord {
    pub fn new(reminder_id: &str, delivery: &Delivery) -> DeliveryRecord {
        DeliveryRecord {
            delivery: delivery.clone(),
            reminder_id: reminder_id.to_owned(),
            lease_token: None,
        }
    }
}

/// Timestamps as the fixed-width RFC 3339 text of `vwc_store::ts` (string order is time order).
pub(crate) mod stored_ts {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&ts(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        parse_ts(&String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// An optional timestamp as [`stored_ts`] text, or null.
pub(crate) mod stored_opt_ts {
    use super::*;

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        t.as_ref().map(ts).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        parse_opt_ts(Option::<String>::deserialize(d)?.as_deref()).map_err(D::Error::custom)
    }
}

/// A value kept as its JSON text, so it round-trips exactly whatever the store's own types.
pub(crate) mod json_text {
    use super::*;

    pub fn serialize<T: Serialize, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        serde_json::to_string(value)
            .map_err(S::Error::custom)?
            .serialize(s)
    }

    pub fn deserialize<'de, T: DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        serde_json::from_str(&String::deserialize(d)?).map_err(D::Error::custom)
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
