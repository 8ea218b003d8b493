//! What `GET /v1/notifications/deliveries` reads and answers: its query (status filter and paging, read
//! into a [`DeliveryListing`] with a 422 naming the field) and the views of a delivery, its attempts and
//! what it carried.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vwc_contracts::OrgId;
use vwc_contracts::maintenance::{Channel, MaintenanceStatus};
use vwc_http::ApiError;

use crate::compose::WEBHOOK_EVENT_REMINDER_DUE;
use crate::store::{AttemptOutcome, DeliveryDetail, DeliveryListing, DeliveryStatus};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

/// `status`, `limit` and `cursor` of `GET /v1/notifications/deliveries`, kept as the raw strings so a bad
/// value is a 422 naming its field.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Only deliveries in this status (the store's names): `pending`, `delivered`, `failed` (refused for
    /// good by the receiver), `dead_lettered` (every attempt failed) or `cancelled`.
    #[param(value_type = Option<DeliveryStatus>)]
    status: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// The `nextCursor` of the previous page, as it was (empty: the first page).
    #[param(pattern = "^[A-Za-z0-9_-]*$")]
    cursor: Option<String>,
}

/// Where a page ends: the creation time and id of its last delivery.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    c: DateTime<Utc>,
    i: String,
}

impl DeliveriesQuery {
    /// The listing of `org_id` this query asks for; the store is asked for one more than the page holds
    /// (see [`DeliveryPage::cut`]).
    pub fn read<'a>(&self, org_id: &'a OrgId) -> Result<(DeliveryListing<'a>, usize), ApiError> {
        let mut errors = Vec::new();
        let status = match self.status.as_deref() {
            None => None,
            Some(s) => DeliveryStatus::parse(s).or_else(|| {
                let names: Vec<&str> = DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect();
                errors.push(field(
                    "status",
                    format!("must be one of {}", names.join(", ")),
                ));
                None
            }),
        };
        let limit = vwc_http::count_param(self.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)
            .unwrap_or_else(|m| {
                errors.push(field("limit", m));
                DEFAULT_LIMIT
            });
        let after = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => decode(c).map(|c| (c.c, c.i)).or_else(|| {
                errors.push(field("cursor", "is not a cursor this API issued"));
                None
            }),
        };
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let listing = DeliveryListing {
            org_id,
            status,
            after,
            limit: limit + 1,
        };
        Ok((listing, limit))
    }
}

fn field(name: &str, message: impl Into<String>) -> vwc_contracts::FieldError {
    vwc_contracts::FieldError {
        field: name.into(),
        message: message.into(),
    }
}

fn decode(cursor: &str) -> Option<Cursor> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn encode(cursor: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).expect("a cursor serialises"))
}

/// A page of deliveries, newest first, and the cursor of the next page.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryPage {
    pub items: Vec<DeliveryView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl DeliveryPage {
    /// The page of `limit` out of `details`, read with one more: when it came, the next page starts
    /// after the last one kept.
    pub fn cut(mut details: Vec<DeliveryDetail>, limit: usize) -> DeliveryPage {
        let next_cursor = (details.len() > limit).then(|| {
            details.truncate(limit);
            let last = &details[limit - 1].delivery;
            encode(&Cursor {
                c: last.created_at,
                i: last.id.clone(),
            })
        });
        DeliveryPage {
            items: details.into_iter().map(DeliveryView::of).collect(),
            next_cursor,
        }
    }
}

/// One outbound delivery of a notification (a webhook request or an e-mail) and every attempt at it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    /// The delivery's id: also the `webhook-id` of each of its requests, resends included, so a receiver
    /// drops one it has already handled.
    #[schema(example = "dlv_0192f0c4e5a87d3b9c1e2f3a4b5c6d7e")]
    pub id: String,
    pub channel: Channel,
    pub status: DeliveryStatus,
    pub created_at: DateTime<Utc>,
    /// When a pending delivery is next attempted (`null` once it is settled).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The last attempt's error (or why it was cancelled).
    pub last_error: Option<String>,
    /// When it was last resent (`POST …/deliveries/{id}/retry`), if ever.
    pub resent_at: Option<DateTime<Utc>>,
    /// What it carries.
    pub carries: CarriedReminder,
    /// Every attempt, first first; numbering goes on across resends.
    pub attempts: Vec<AttemptView>,
}

/// The reminder a delivery carries, as its webhook body names it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CarriedReminder {
    /// The webhook body's `type`.
    #[serde(rename = "type")]
    #[schema(example = "reminder.due")]
    pub kind: &'static str,
    pub notification_id: String,
    pub reminder_id: String,
    pub vehicle_id: String,
    pub vehicle_name: String,
    /// The maintenance task (`oil_change`, …).
    pub task: String,
    pub title: String,
    pub status: MaintenanceStatus,
}

/// One attempt at a delivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    /// 1 for the first attempt ever made; a resend's attempts go on from the last one.
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    /// The receiver's HTTP status, when it answered.
    pub http_status: Option<u16>,
    /// What went wrong (a status other than 2xx, a timeout, a refused connection…).
    pub error: Option<String>,
}

impl DeliveryView {
    pub fn of(detail: DeliveryDetail) -> DeliveryView {
        let DeliveryDetail {
            delivery: d,
            notification: n,
            attempts,
        } = detail;
        DeliveryView {
            id: d.id,
            channel: d.channel,
            status: d.status,
            created_at: d.created_at,
            next_attempt_at: d.next_attempt_at,
            delivered_at: d.delivered_at,
            last_error: d.last_error,
            resent_at: d.resent_at,
            carries: CarriedReminder {
                kind: WEBHOOK_EVENT_REMINDER_DUE,
                notification_id: n.id,
                reminder_id: n.reminder_id,
                vehicle_id: n.reminder.vehicle_id,
                vehicle_name: n.reminder.vehicle_name,
                task: n.reminder.task,
                title: n.title,
                status: n.reminder.status,
            },
            attempts: attempts
                .into_iter()
                .map(|a| AttemptView {
                    attempt: a.attempt,
                    at: a.at,
                    outcome: a.outcome,
                    http_status: a.http_status,
                    error: a.error,
                })
                .collect(),
        }
    }
}
