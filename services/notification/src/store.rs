//! The notification store port: per-organisation preferences (with the outbound webhook secret),
//! notifications, their deliveries per channel and every delivery attempt.
//!
//! Exactly once: a notification is unique per (organisation, reminder id) and a delivery per
//! (notification, channel); `record_notification` claims the envelope in the inbox in the same
//! transaction. A worker sends a delivery only under a lease it claimed, and `settle` applies its result
//! only while that lease is still the delivery's.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use vwc_contracts::maintenance::{Channel, MaintenanceStatus, ReminderDue};
use vwc_contracts::{Envelope, OrgId, VehicleId};
use vwc_store::{Plumbing, StoreError, StoreResult};
use vwc_webhook::WebhookSecret;

use crate::quiet_hours::QuietHours;
use crate::records;

/// An organisation's channels. In-app is always on and so has no switch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preferences {
    pub webhook_url: Option<String>,
    pub email: Option<String>,
    pub quiet_hours: Option<QuietHours>,
}

/// Preferences as stored, with the organisation's outbound webhook secret.
#[derive(Debug, Clone)]
pub struct StoredPreferences {
    pub preferences: Preferences,
    pub webhook_secret: Option<WebhookSecret>,
    pub updated_at: DateTime<Utc>,
}

/// What [`NotificationStore::save_preferences`] writes: the organisation's whole preferences, what
/// becomes of its webhook secret, and when.
#[derive(Debug, Clone)]
pub struct PreferencesChange<'a> {
    pub org_id: &'a OrgId,
    pub preferences: &'a Preferences,
    pub secret: SecretChange,
    pub now: DateTime<Utc>,
    /// The service's settle time: a pending delivery not tried since it was made (or resent) that the old
    /// quiet hours held past it is due again at `max(now, created + settle)` (a resent one: now) — the worker
    /// then holds it by the NEW quiet hours, if any ([`released_at`]).
    pub settle: TimeDelta,
}

/// When `d`, pending and not tried since it was made or resent, held past now under the old preferences, is
/// due once they change: the end of its settle time (a resent one has none: it was due when resent), or now
/// if that has passed — `None` when it is due by then already, is not pending, or was tried since (held
/// retries keep their backoff). The worker then holds it by the new quiet hours, if any.
pub fn released_at(d: &Delivery, now: DateTime<Utc>, settle: TimeDelta) -> Option<DateTime<Utc>> {
    if d.status != DeliveryStatus::Pending || d.attempts != d.earlier_attempts {
        return None;
    }
    let due = d.next_attempt_at?;
    let released = now.max(d.resent_at.unwrap_or(d.created_at + settle));
    (due > released).then_some(released)
}

/// What a delivery worker asks [`NotificationStore::claim_due_deliveries`] for: up to `limit` pending
/// deliveries due at `now`, none of an organisation in `skip_orgs` (those already have as many in flight
/// as they may), each leased for `lease`.
#[derive(Debug, Clone, Copy)]
pub struct DueClaim<'a> {
    pub now: DateTime<Utc>,
    pub limit: usize,
    pub lease: chrono::TimeDelta,
    pub skip_orgs: &'a [OrgId],
}

impl DueClaim<'_> {
    /// Until when a claimed delivery is leased.
    pub fn leased_until(&self) -> DateTime<Utc> {
        self.now + self.lease
    }
}

/// What `save_preferences` does with the webhook secret.
#[derive(Debug, Clone)]
pub enum SecretChange {
    Keep,
    /// Store this one unless the organisation already has a secret.
    IssueIfMissing(WebhookSecret),
    /// Replace whatever is stored (rotation).
    Replace(WebhookSecret),
}

impl SecretChange {
    /// The secret to keep given the one `existing`, and the one this change issues (shown once).
    pub fn apply(
        self,
        existing: Option<WebhookSecret>,
    ) -> (Option<WebhookSecret>, Option<WebhookSecret>) {
        match (existing, self) {
            (existing, SecretChange::Keep) => (existing, None),
            (Some(existing), SecretChange::IssueIfMissing(_)) => (Some(existing), None),
            (None, SecretChange::IssueIfMissing(new)) | (_, SecretChange::Replace(new)) => {
                (Some(new.clone()), Some(new))
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct SavedPreferences {
    pub stored: StoredPreferences,
    /// The secret this call stored, when it stored one: shown to the caller once, never again.
    pub issued_secret: Option<WebhookSecret>,
}

/// One thing worth telling an organisation, keyed by the reminder that caused it. Serialised as both
/// adapters store it (`crate::records`): timestamps as `vwc_store::ts` text, the reminder as JSON text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    #[serde(rename = "_id", alias = "id")]
    pub id: String,
    pub org_id: OrgId,
    pub reminder_id: String,
    pub vehicle_id: Option<VehicleId>,
    pub title: String,
    pub body: String,
    pub severity: MaintenanceStatus,
    #[serde(with = "records::json_text")]
    pub reminder: ReminderDue,
    /// Trace context of the event that caused it, carried into `NotificationDelivered`.
    pub traceparent: Option<String>,
    #[serde(with = "records::stored_ts")]
    pub created_at: DateTime<Utc>,
    /// When the scheduler made the reminder (its `ReminderDue` envelope's `occurredAt`): a later word
    /// about the same item ([`ItemWord`]) may mean it no longer holds. Absent on a valuation drop, and on
    /// notifications stored before it was kept.
    #[serde(default, with = "records::stored_opt_ts")]
    pub reminded_at: Option<DateTime<Utc>>,
}

/// The newest word of one kind about one maintenance item of a vehicle, and when the scheduler said it
/// (its envelope's `occurredAt`). Two are kept per item: the latest reminder and the latest status change.
/// A reminder whose outbound deliveries are still waiting is not sent when a later word says it no
/// longer holds ([`no_longer_holds`]; docs/events.md, "Reminders that no longer hold").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemWord {
    pub org_id: OrgId,
    pub vehicle_id: VehicleId,
    pub task: String,
    pub word: Word,
    pub at: DateTime<Utc>,
}

/// What was said about an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Word {
    /// A reminder (`ReminderDue`), by its id.
    Reminded(String),
    /// A status change (`MaintenanceStatusChanged`), by the status it changed to.
    Status(MaintenanceStatus),
}

impl Word {
    /// The kinds kept, one word of each per item.
    pub const KINDS: [&'static str; 2] = ["reminder", "status"];

    /// The kind under which it is kept and its value, as both adapters store them.
    pub fn stored(&self) -> (&'static str, &str) {
        match self {
            Word::Reminded(id) => (Self::KINDS[0], id),
            Word::Status(status) => (Self::KINDS[1], status.as_str()),
        }
    }
}

impl ItemWord {
    /// The word a reminder notification says about its item, when it is one.
    pub fn of_reminder(n: &Notification) -> Option<ItemWord> {
        Some(ItemWord {
            org_id: n.org_id.clone(),
            vehicle_id: n.vehicle_id.clone()?,
            task: n.reminder.task.clone(),
            word: Word::Reminded(n.reminder_id.clone()),
            at: n.reminded_at?,
        })
    }
}

/// Why `notification`'s reminder no longer holds, given the words kept about its item: a later reminder
/// about the same item (which is told itself), or a later status change to a status that needs no
/// attention (the item was serviced, its schedule turned off…). A status change to `due_soon` or
/// `overdue` does not count: the decision that makes it publishes its reminder too, a moment apart.
pub fn no_longer_holds(notification: &Notification, words: &[ItemWord]) -> Option<String> {
    let reminded_at = notification.reminded_at?;
    let later = words.iter().filter(|w| w.at > reminded_at);
    for w in later {
        match &w.word {
            Word::Reminded(id) if *id != notification.reminder_id => {
                return Some(format!(
                    "a later reminder about {} ({id}) replaces it",
                    notification.reminder.task
                ));
            }
            Word::Status(status)
                if !matches!(
                    status,
                    MaintenanceStatus::DueSoon | MaintenanceStatus::Overdue
                ) =>
            {
                return Some(format!(
                    "{} is {status} since {}",
                    notification.reminder.task,
                    vwc_store::ts(&w.at)
                ));
            }
            _ => {}
        }
    }
    None
}

vwc_contracts::wire_enum! {
    #[derive(utoipa::ToSchema)]
    pub enum DeliveryStatus {
        /// Waiting for its next attempt (`next_attempt_at`).
        Pending,
        Delivered,
        /// Refused for good by the receiver (a 4xx other than 408/429) or unusable.
        Failed,
        /// Every attempt the retry policy allows failed.
        DeadLettered,
        /// Not sent and never will be: the channel was switched off before the delivery could go out,
        /// or the reminder no longer held when it came due (`last_error` says which).
        Cancelled,
    }
}

/// One notification on one channel (stored as [`Notification`] is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Also the outbound `webhook-id`, so a receiver can drop a retry it already applied.
    #[serde(rename = "_id", alias = "id")]
    pub id: String,
    pub notification_id: String,
    pub org_id: OrgId,
    pub channel: Channel,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// When a pending delivery is next due (or, while claimed, when its lease runs out).
    #[serde(default, with = "records::stored_opt_ts")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(with = "records::stored_ts")]
    pub created_at: DateTime<Utc>,
    #[serde(default, with = "records::stored_opt_ts")]
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Attempts made before the delivery was last resent ([`NotificationStore::resend_delivery`]): a
    /// resend gives it a fresh attempt budget while its attempts go on being numbered from `attempts`.
    #[serde(default)]
    pub earlier_attempts: u32,
    /// When it was last resent, if ever.
    #[serde(default, with = "records::stored_opt_ts")]
    pub resent_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// Whether a person may resend it: it failed for good or was dead-lettered.
    pub fn resendable(&self) -> bool {
        matches!(
            self.status,
            DeliveryStatus::Failed | DeliveryStatus::DeadLettered
        )
    }

    /// The number of an attempt within the current budget (1 for the first since creation or the last
    /// resend), given its overall number.
    pub fn attempt_in_budget(&self, number: u32) -> u32 {
        number.saturating_sub(self.earlier_attempts)
    }
}

/// What [`NotificationStore::list_deliveries`] reads: an organisation's outbound (webhook and e-mail)
/// deliveries, newest first (by creation time, then id), of one status or all, strictly after `after`
/// in that order, `limit` of them.
#[derive(Debug, Clone)]
pub struct DeliveryListing<'a> {
    pub org_id: &'a OrgId,
    pub status: Option<DeliveryStatus>,
    /// The (creation time, id) of the last delivery of the previous page.
    pub after: Option<(DateTime<Utc>, String)>,
    pub limit: usize,
}

/// An outbound delivery with the notification it carries and every attempt, first first.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryDetail {
    pub delivery: Delivery,
    pub notification: Notification,
    pub attempts: Vec<DeliveryAttempt>,
}

impl DeliveryDetail {
    /// `deliveries` (in their order) each with its notification (one of `notifications`, read for them) and
    /// its attempts (any order of `attempts` read for them; each delivery's kept in the order read).
    pub fn assemble(
        deliveries: Vec<Delivery>,
        notifications: std::collections::HashMap<String, Notification>,
        attempts: Vec<DeliveryAttempt>,
    ) -> StoreResult<Vec<DeliveryDetail>> {
        let mut by_delivery: std::collections::HashMap<String, Vec<DeliveryAttempt>> =
            std::collections::HashMap::new();
        for a in attempts {
            by_delivery
                .entry(a.delivery_id.clone())
                .or_default()
                .push(a);
        }
        deliveries
            .into_iter()
            .map(|delivery| {
                let notification = notifications
                    .get(&delivery.notification_id)
                    .cloned()
                    .ok_or_else(|| {
                        StoreError::Other(format!(
                            "delivery {} has no notification {}",
                            delivery.id, delivery.notification_id
                        ))
                    })?;
                Ok(DeliveryDetail {
                    attempts: by_delivery.remove(&delivery.id).unwrap_or_default(),
                    notification,
                    delivery,
                })
            })
            .collect()
    }
}

/// What became of a request to resend a delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Resend {
    /// Pending again, due now, with a fresh attempt budget (the delivery as it now is).
    Resent(Delivery),
    /// No outbound delivery of that id in the organisation.
    NotFound,
    /// Not failed nor dead-lettered: it is in this status (so nothing changed).
    NotResendable(DeliveryStatus),
}

vwc_contracts::wire_enum! {
    #[derive(utoipa::ToSchema)]
    pub enum AttemptOutcome {
        Delivered,
        /// Failed; another attempt is scheduled.
        RetryScheduled,
        /// Failed for good.
        Failed,
        /// Failed, and it was the last attempt allowed.
        DeadLettered,
    }
}

impl AttemptOutcome {
    /// The delivery status an attempt with this outcome leaves behind.
    pub fn status_after(self) -> DeliveryStatus {
        match self {
            AttemptOutcome::Delivered => DeliveryStatus::Delivered,
            AttemptOutcome::RetryScheduled => DeliveryStatus::Pending,
            AttemptOutcome::Failed => DeliveryStatus::Failed,
            AttemptOutcome::DeadLettered => DeliveryStatus::DeadLettered,
        }
    }
}

/// The record of one attempt (stored as [`Notification`] is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub delivery_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    #[serde(with = "records::stored_ts")]
    pub at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    /// The receiver's HTTP status, when it answered.
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

/// Everything one `ReminderDue` produces, written in one transaction.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub notification: Notification,
    pub deliveries: Vec<Delivery>,
    /// Attempts already made (the in-app delivery is delivered on creation).
    pub attempts: Vec<DeliveryAttempt>,
    /// Events to publish through the outbox (`NotificationDelivered` for in-app).
    pub events: Vec<Envelope>,
}

/// The right to attempt one delivery, until `next_attempt_at` of the claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub delivery_id: String,
    pub token: String,
}

#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub delivery: Delivery,
    pub notification: Notification,
    pub lease: Lease,
}

/// What became of a claimed delivery.
#[derive(Debug, Clone)]
pub enum Settlement {
    /// An attempt was made; `retry_at` is set when the outcome is `RetryScheduled`, `delivered_event`
    /// when it is `Delivered`.
    Attempted {
        attempt: DeliveryAttempt,
        retry_at: Option<DateTime<Utc>>,
        delivered_event: Option<Box<Envelope>>,
    },
    /// Not attempted now (quiet hours): due again at `until`, no attempt counted.
    Held { until: DateTime<Utc> },
    /// Not attempted and never will be (the channel was switched off, or the reminder no longer holds).
    Cancelled { reason: String },
}

#[async_trait]
pub trait NotificationStore: Plumbing {
    async fn preferences(&self, org_id: &OrgId) -> StoreResult<Option<StoredPreferences>>;

    /// Replaces the organisation's preferences and applies the change's secret in the same transaction.
    async fn save_preferences(
        &self,
        change: PreferencesChange<'_>,
    ) -> StoreResult<SavedPreferences>;

    /// Claims `envelope_id` for the notification consumer and, unless the envelope or another one with the
    /// same (organisation, reminder id) was applied before, stores the notification, its deliveries and
    /// attempts and enqueues its events. Returns `false` (and changes nothing else) for a duplicate.
    async fn record_notification(
        &self,
        envelope_id: &str,
        new: &NewNotification,
    ) -> StoreResult<bool>;

    /// Leases the deliveries `claim` asks for, earliest due first: each is pushed to
    /// [`DueClaim::leased_until`] so no other worker takes it meanwhile.
    async fn claim_due_deliveries(&self, claim: DueClaim<'_>) -> StoreResult<Vec<ClaimedDelivery>>;

    /// Applies what became of a claimed delivery (with its attempt record and event) in one
    /// transaction. `false` when the lease was lost (another worker took over): nothing changed.
    async fn settle(&self, lease: &Lease, settlement: &Settlement) -> StoreResult<bool>;

    /// Keeps `word` as its item's newest of its kind unless one at least as recent is kept already (so
    /// applying the same one twice, or an older one late, changes nothing). `record_notification` notes
    /// a reminder's own word in its transaction.
    async fn note_item_word(&self, word: &ItemWord) -> StoreResult<()>;

    /// The newest words kept about one item of a vehicle (at most one of each kind).
    async fn item_words(
        &self,
        org_id: &OrgId,
        vehicle_id: &VehicleId,
        task: &str,
    ) -> StoreResult<Vec<ItemWord>>;

    /// When the earliest pending delivery is due, if any.
    async fn next_due_at(&self) -> StoreResult<Option<DateTime<Utc>>>;

    async fn notification_for_reminder(
        &self,
        org_id: &OrgId,
        reminder_id: &str,
    ) -> StoreResult<Option<Notification>>;

    /// Deliveries of a notification, in channel order (in-app, webhook, email).
    async fn deliveries(&self, notification_id: &str) -> StoreResult<Vec<Delivery>>;

    /// Attempts of a delivery, first first.
    async fn attempts(&self, delivery_id: &str) -> StoreResult<Vec<DeliveryAttempt>>;

    /// A page of an organisation's outbound deliveries, each with its notification and attempts.
    async fn list_deliveries(
        &self,
        listing: DeliveryListing<'_>,
    ) -> StoreResult<Vec<DeliveryDetail>>;

    /// One outbound delivery of the organisation (`None` for an in-app one, or another organisation's).
    async fn outbound_delivery(
        &self,
        org_id: &OrgId,
        id: &str,
    ) -> StoreResult<Option<DeliveryDetail>>;

    /// Puts a failed or dead-lettered outbound delivery of the organisation back to pending, due `now`,
    /// with a fresh attempt budget (`earlier_attempts` = its attempts so far) and the same id, in one
    /// atomic step: of two resends at once, one resends and the other finds it pending. Wakes the worker.
    async fn resend_delivery(
        &self,
        org_id: &OrgId,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Resend>;

    /// Notified after a write that created pending deliveries, so the worker need not wait for its poll.
    fn deliveries_wakeup(&self) -> Arc<Notify>;
}

pub(crate) fn channel_rank(channel: Channel) -> u8 {
    match channel {
        Channel::InApp => 0,
        Channel::Webhook => 1,
        Channel::Email => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_outcomes_are_stored_by_their_derived_names() {
        vwc_contracts::wire::check_names::<DeliveryStatus>();
        vwc_contracts::wire::check_names::<AttemptOutcome>();
    }
}
