//! MongoDB adapter of the notification store. Same rules as `vwc_store::mongo`: expected outcomes are
//! never errors inside a transaction (duplicates are found by a read first, the unique indexes only
//! catch races), timestamps are fixed-width RFC 3339 text, and the reminder is kept as JSON text.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mongodb::ClientSession;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::ReturnDocument;
use tokio::sync::Notify;
use vwc_store::mongo::{MongoDb, collect, int, parse_ts, required_text, text};
use vwc_store::{Outbox, Plumbed, StoreError, StoreResult, ts};
use vwc_webhook::WebhookSecret;

use crate::CONSUMER;
use crate::preferences::{format_hhmm, parse_hhmm};
use crate::quiet_hours::QuietHours;
use crate::store::{
    AttemptOutcome, ClaimedDelivery, Delivery, DeliveryAttempt, DeliveryStatus, Lease,
    NewNotification, Notification, NotificationStore, Preferences, SavedPreferences, SecretChange,
    Settlement, StoredPreferences, channel_rank, parse_channel, parse_severity,
};

pub const PREFERENCES: &str = "preferences";
pub const NOTIFICATIONS: &str = "notifications";
pub const DELIVERIES: &str = "deliveries";
pub const ATTEMPTS: &str = "delivery_attempts";

#[derive(Clone)]
pub struct MongoNotificationStore {
    db: MongoDb,
    deliveries_wakeup: Arc<Notify>,
}

impl MongoNotificationStore {
    /// Uses `db`; call [`ensure_indexes`](Self::ensure_indexes) once at start-up.
    pub fn new(db: MongoDb) -> MongoNotificationStore {
        MongoNotificationStore {
            db,
            deliveries_wakeup: Arc::new(Notify::new()),
        }
    }

    /// Uses `database` through `client` and creates its indexes, like every other service's store.
    pub async fn connect(
        client: mongodb::Client,
        database: &str,
    ) -> StoreResult<MongoNotificationStore> {
        let store = MongoNotificationStore::new(MongoDb::new(client, database));
        store.ensure_indexes().await?;
        Ok(store)
    }

    pub fn db(&self) -> &MongoDb {
        &self.db
    }

    /// Creates the collections' indexes (and so the collections). Idempotent.
    pub async fn ensure_indexes(&self) -> StoreResult<()> {
        self.db.ensure_common_indexes().await?;
        let db = &self.db;
        db.create_index(NOTIFICATIONS, doc! { "org_id": 1, "reminder_id": 1 }, true)
            .await?;
        db.create_index(
            DELIVERIES,
            doc! { "org_id": 1, "reminder_id": 1, "channel": 1 },
            true,
        )
        .await?;
        db.create_index(DELIVERIES, doc! { "notification_id": 1 }, false)
            .await?;
        db.create_index(
            DELIVERIES,
            doc! { "status": 1, "next_attempt_at": 1, "_id": 1 },
            false,
        )
        .await?;
        db.create_index(ATTEMPTS, doc! { "delivery_id": 1, "attempt": 1 }, true)
            .await?;
        // Preferences are keyed by `_id` (the organisation); the collection must exist before a
        // transaction writes to it on servers that cannot create collections inside one.
        db.create_index(PREFERENCES, doc! { "updated_at": 1 }, false)
            .await?;
        Ok(())
    }
}

fn bson_text(value: Option<&str>) -> Bson {
    value.map_or(Bson::Null, |v| Bson::String(v.to_owned()))
}

fn preferences_from(d: &Document) -> StoreResult<StoredPreferences> {
    let quiet_hours = match (text(d, "quiet_start")?, text(d, "quiet_end")?) {
        (Some(start), Some(end)) => Some(QuietHours {
            start: parse_hhmm(&start)
                .ok_or_else(|| StoreError::Other(format!("bad quiet_start {start:?}")))?,
            end: parse_hhmm(&end)
                .ok_or_else(|| StoreError::Other(format!("bad quiet_end {end:?}")))?,
            tz_offset_minutes: int(d, "quiet_tz_offset_minutes")?
                .and_then(|v| i32::try_from(v).ok())
                .unwrap_or(0),
        }),
        _ => None,
    };
    let webhook_secret = text(d, "webhook_secret")?
        .as_deref()
        .map(WebhookSecret::parse)
        .transpose()
        .map_err(|e| StoreError::Other(format!("stored webhook secret: {e}")))?;
    Ok(StoredPreferences {
        preferences: Preferences {
            webhook_url: text(d, "webhook_url")?,
            email: text(d, "email")?,
            quiet_hours,
        },
        webhook_secret,
        updated_at: parse_ts(&required_text(d, "updated_at")?)?,
    })
}

fn notification_doc(n: &Notification) -> StoreResult<Document> {
    Ok(doc! {
        "_id": &n.id,
        "org_id": &n.org_id,
        "reminder_id": &n.reminder_id,
        "vehicle_id": bson_text(n.vehicle_id.as_deref()),
        "title": &n.title,
        "body": &n.body,
        "severity": n.severity.as_str(),
        "reminder": serde_json::to_string(&n.reminder)?,
        "traceparent": bson_text(n.traceparent.as_deref()),
        "created_at": ts(&n.created_at),
    })
}

fn notification_from(d: &Document) -> StoreResult<Notification> {
    Ok(Notification {
        id: required_text(d, "_id")?,
        org_id: required_text(d, "org_id")?,
        reminder_id: required_text(d, "reminder_id")?,
        vehicle_id: text(d, "vehicle_id")?,
        title: required_text(d, "title")?,
        body: required_text(d, "body")?,
        severity: parse_severity(&required_text(d, "severity")?)?,
        reminder: serde_json::from_str(&required_text(d, "reminder")?)?,
        traceparent: text(d, "traceparent")?,
        created_at: parse_ts(&required_text(d, "created_at")?)?,
    })
}

fn delivery_doc(reminder_id: &str, d: &Delivery) -> Document {
    doc! {
        "_id": &d.id,
        "notification_id": &d.notification_id,
        "org_id": &d.org_id,
        "reminder_id": reminder_id,
        "channel": d.channel.as_str(),
        "status": d.status.as_str(),
        "attempts": i64::from(d.attempts),
        "next_attempt_at": bson_text(d.next_attempt_at.as_ref().map(ts).as_deref()),
        "lease_token": Bson::Null,
        "created_at": ts(&d.created_at),
        "delivered_at": bson_text(d.delivered_at.as_ref().map(ts).as_deref()),
        "last_error": bson_text(d.last_error.as_deref()),
    }
}

fn opt_ts(d: &Document, field: &str) -> StoreResult<Option<DateTime<Utc>>> {
    text(d, field)?.as_deref().map(parse_ts).transpose()
}

fn delivery_from(d: &Document) -> StoreResult<Delivery> {
    Ok(Delivery {
        id: required_text(d, "_id")?,
        notification_id: required_text(d, "notification_id")?,
        org_id: required_text(d, "org_id")?,
        channel: parse_channel(&required_text(d, "channel")?)?,
        status: DeliveryStatus::parse(&required_text(d, "status")?)?,
        attempts: int(d, "attempts")?
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0),
        next_attempt_at: opt_ts(d, "next_attempt_at")?,
        created_at: parse_ts(&required_text(d, "created_at")?)?,
        delivered_at: opt_ts(d, "delivered_at")?,
        last_error: text(d, "last_error")?,
    })
}

fn attempt_doc(a: &DeliveryAttempt) -> Document {
    doc! {
        "_id": format!("{}#{:010}", a.delivery_id, a.attempt),
        "delivery_id": &a.delivery_id,
        "attempt": i64::from(a.attempt),
        "at": ts(&a.at),
        "outcome": a.outcome.as_str(),
        "http_status": a.http_status.map_or(Bson::Null, |s| Bson::Int32(i32::from(s))),
        "error": bson_text(a.error.as_deref()),
    }
}

fn attempt_from(d: &Document) -> StoreResult<DeliveryAttempt> {
    Ok(DeliveryAttempt {
        delivery_id: required_text(d, "delivery_id")?,
        attempt: int(d, "attempt")?
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| StoreError::Other("attempt without a number".into()))?,
        at: parse_ts(&required_text(d, "at")?)?,
        outcome: AttemptOutcome::parse(&required_text(d, "outcome")?)?,
        http_status: int(d, "http_status")?.and_then(|v| u16::try_from(v).ok()),
        error: text(d, "error")?,
    })
}

impl MongoNotificationStore {
    async fn save_preferences_in(
        &self,
        session: &mut ClientSession,
        org_id: &str,
        p: &Preferences,
        secret: &SecretChange,
        now: DateTime<Utc>,
    ) -> StoreResult<SavedPreferences> {
        let prefs = self.db.collection(PREFERENCES);
        let existing = prefs
            .find_one(doc! { "_id": org_id })
            .session(&mut *session)
            .await?
            .map(|d| preferences_from(&d))
            .transpose()?
            .and_then(|s| s.webhook_secret);
        let (kept, issued) = match (existing, secret) {
            (existing, SecretChange::Keep) => (existing, None),
            (Some(existing), SecretChange::IssueIfMissing(_)) => (Some(existing), None),
            (None, SecretChange::IssueIfMissing(new)) | (_, SecretChange::Replace(new)) => {
                (Some(new.clone()), Some(new.clone()))
            }
        };
        let q = p.quiet_hours;
        let replacement = doc! {
            "_id": org_id,
            "webhook_url": bson_text(p.webhook_url.as_deref()),
            "email": bson_text(p.email.as_deref()),
            "quiet_start": bson_text(q.map(|q| format_hhmm(q.start)).as_deref()),
            "quiet_end": bson_text(q.map(|q| format_hhmm(q.end)).as_deref()),
            "quiet_tz_offset_minutes": q.map_or(Bson::Null, |q| Bson::Int32(q.tz_offset_minutes)),
            "webhook_secret": bson_text(kept.as_ref().map(|s| s.expose())),
            "updated_at": ts(&now),
        };
        prefs
            .replace_one(doc! { "_id": org_id }, replacement)
            .upsert(true)
            .session(&mut *session)
            .await?;
        Ok(SavedPreferences {
            stored: StoredPreferences {
                preferences: p.clone(),
                webhook_secret: kept,
                updated_at: now,
            },
            issued_secret: issued,
        })
    }

    async fn record_in(
        &self,
        session: &mut ClientSession,
        envelope_id: &str,
        new: &NewNotification,
    ) -> StoreResult<bool> {
        if !self
            .db
            .claim_inbox(&mut *session, CONSUMER, envelope_id)
            .await?
        {
            return Ok(false);
        }
        let n = &new.notification;
        let seen = self
            .db
            .collection(NOTIFICATIONS)
            .find_one(doc! { "org_id": &n.org_id, "reminder_id": &n.reminder_id })
            .session(&mut *session)
            .await?;
        if seen.is_some() {
            return Ok(false);
        }
        self.db
            .collection(NOTIFICATIONS)
            .insert_one(notification_doc(n)?)
            .session(&mut *session)
            .await?;
        let deliveries: Vec<Document> = new
            .deliveries
            .iter()
            .map(|d| delivery_doc(&n.reminder_id, d))
            .collect();
        if !deliveries.is_empty() {
            self.db
                .collection(DELIVERIES)
                .insert_many(deliveries)
                .session(&mut *session)
                .await?;
        }
        let attempts: Vec<Document> = new.attempts.iter().map(attempt_doc).collect();
        if !attempts.is_empty() {
            self.db
                .collection(ATTEMPTS)
                .insert_many(attempts)
                .session(&mut *session)
                .await?;
        }
        self.db.enqueue(&mut *session, &new.events).await?;
        Ok(true)
    }

    async fn settle_in(
        &self,
        session: &mut ClientSession,
        lease: &Lease,
        settlement: &Settlement,
    ) -> StoreResult<bool> {
        let filter = doc! {
            "_id": &lease.delivery_id,
            "status": DeliveryStatus::Pending.as_str(),
            "lease_token": &lease.token,
        };
        let update = match settlement {
            Settlement::Attempted {
                attempt, retry_at, ..
            } => {
                let next = match attempt.outcome {
                    AttemptOutcome::RetryScheduled => retry_at.as_ref().map(ts),
                    _ => None,
                };
                let delivered_at =
                    (attempt.outcome == AttemptOutcome::Delivered).then(|| ts(&attempt.at));
                doc! { "$set": {
                    "status": attempt.outcome.status_after().as_str(),
                    "attempts": i64::from(attempt.attempt),
                    "next_attempt_at": bson_text(next.as_deref()),
                    "lease_token": Bson::Null,
                    "delivered_at": bson_text(delivered_at.as_deref()),
                    "last_error": bson_text(attempt.error.as_deref()),
                }}
            }
            Settlement::Held { until } => doc! { "$set": {
                "next_attempt_at": ts(until),
                "lease_token": Bson::Null,
            }},
            Settlement::Cancelled { reason } => doc! { "$set": {
                "status": DeliveryStatus::Cancelled.as_str(),
                "next_attempt_at": Bson::Null,
                "lease_token": Bson::Null,
                "last_error": reason.as_str(),
            }},
        };
        let updated = self
            .db
            .collection(DELIVERIES)
            .update_one(filter, update)
            .session(&mut *session)
            .await?;
        if updated.matched_count == 0 {
            return Ok(false);
        }
        if let Settlement::Attempted {
            attempt,
            delivered_event,
            ..
        } = settlement
        {
            self.db
                .collection(ATTEMPTS)
                .insert_one(attempt_doc(attempt))
                .session(&mut *session)
                .await?;
            if let Some(event) = delivered_event {
                self.db
                    .enqueue(&mut *session, std::slice::from_ref(event.as_ref()))
                    .await?;
            }
        }
        Ok(true)
    }
}

#[async_trait]
impl NotificationStore for MongoNotificationStore {
    async fn preferences(&self, org_id: &str) -> StoreResult<Option<StoredPreferences>> {
        self.db
            .collection(PREFERENCES)
            .find_one(doc! { "_id": org_id })
            .await?
            .map(|d| preferences_from(&d))
            .transpose()
    }

    async fn save_preferences(
        &self,
        org_id: &str,
        preferences: &Preferences,
        secret: SecretChange,
        now: DateTime<Utc>,
    ) -> StoreResult<SavedPreferences> {
        let mut tx = self.db.transaction().await?;
        loop {
            tx.begin().await?;
            let outcome = self
                .save_preferences_in(tx.session(), org_id, preferences, &secret, now)
                .await;
            if let Some(saved) = tx.settle(outcome).await? {
                return Ok(saved);
            }
        }
    }

    async fn record_notification(
        &self,
        envelope_id: &str,
        new: &NewNotification,
    ) -> StoreResult<bool> {
        let mut tx = self.db.transaction().await?;
        let recorded = loop {
            tx.begin().await?;
            let outcome = self.record_in(tx.session(), envelope_id, new).await;
            if let Some(recorded) = tx.settle(outcome).await? {
                break recorded;
            }
        };
        if recorded {
            self.db.wakeup().notify_one();
            if new
                .deliveries
                .iter()
                .any(|d| d.status == DeliveryStatus::Pending)
            {
                self.deliveries_wakeup.notify_one();
            }
        }
        Ok(recorded)
    }

    async fn claim_due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: chrono::TimeDelta,
        skip_orgs: &[String],
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let until = ts(&(now + lease));
        let mut claimed = Vec::new();
        // One atomic find-and-modify per delivery: two workers never lease the same one.
        while claimed.len() < limit {
            let token = uuid::Uuid::new_v4().to_string();
            let Some(d) = self
                .db
                .collection(DELIVERIES)
                .find_one_and_update(
                    doc! { "status": DeliveryStatus::Pending.as_str(),
                    "next_attempt_at": { "$lte": ts(&now) },
                    "org_id": { "$nin": skip_orgs } },
                    doc! { "$set": { "next_attempt_at": &until, "lease_token": &token } },
                )
                .sort(doc! { "next_attempt_at": 1, "_id": 1 })
                .return_document(ReturnDocument::After)
                .await?
            else {
                break;
            };
            let delivery = delivery_from(&d)?;
            let notification = self
                .db
                .collection(NOTIFICATIONS)
                .find_one(doc! { "_id": &delivery.notification_id })
                .await?
                .ok_or_else(|| {
                    StoreError::Other(format!(
                        "delivery {} has no notification {}",
                        delivery.id, delivery.notification_id
                    ))
                })?;
            claimed.push(ClaimedDelivery {
                lease: Lease {
                    delivery_id: delivery.id.clone(),
                    token,
                },
                notification: notification_from(&notification)?,
                delivery,
            });
        }
        Ok(claimed)
    }

    async fn settle(&self, lease: &Lease, settlement: &Settlement) -> StoreResult<bool> {
        let mut tx = self.db.transaction().await?;
        let applied = loop {
            tx.begin().await?;
            let outcome = self.settle_in(tx.session(), lease, settlement).await;
            if let Some(applied) = tx.settle(outcome).await? {
                break applied;
            }
        };
        if applied
            && matches!(
                settlement,
                Settlement::Attempted {
                    delivered_event: Some(_),
                    ..
                }
            )
        {
            self.db.wakeup().notify_one();
        }
        Ok(applied)
    }

    async fn next_due_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let first = self
            .db
            .collection(DELIVERIES)
            .find_one(doc! { "status": DeliveryStatus::Pending.as_str() })
            .sort(doc! { "next_attempt_at": 1 })
            .await?;
        match first {
            Some(d) => opt_ts(&d, "next_attempt_at"),
            None => Ok(None),
        }
    }

    async fn notification_for_reminder(
        &self,
        org_id: &str,
        reminder_id: &str,
    ) -> StoreResult<Option<Notification>> {
        self.db
            .collection(NOTIFICATIONS)
            .find_one(doc! { "org_id": org_id, "reminder_id": reminder_id })
            .await?
            .map(|d| notification_from(&d))
            .transpose()
    }

    async fn deliveries(&self, notification_id: &str) -> StoreResult<Vec<Delivery>> {
        let cursor = self
            .db
            .collection(DELIVERIES)
            .find(doc! { "notification_id": notification_id })
            .await?;
        let mut deliveries = collect(cursor)
            .await?
            .iter()
            .map(delivery_from)
            .collect::<StoreResult<Vec<Delivery>>>()?;
        deliveries.sort_by_key(|d| channel_rank(d.channel));
        Ok(deliveries)
    }

    async fn attempts(&self, delivery_id: &str) -> StoreResult<Vec<DeliveryAttempt>> {
        let cursor = self
            .db
            .collection(ATTEMPTS)
            .find(doc! { "delivery_id": delivery_id })
            .sort(doc! { "attempt": 1 })
            .await?;
        collect(cursor).await?.iter().map(attempt_from).collect()
    }

    fn deliveries_wakeup(&self) -> Arc<Notify> {
        self.deliveries_wakeup.clone()
    }
}

impl Plumbed for MongoNotificationStore {
    type Db = MongoDb;
    fn plumbing(&self) -> &MongoDb {
        &self.db
    }
}
