//! MongoDB adapter of the notification store. Same rules as `vwc_store::mongo`: expected outcomes are
//! never errors inside a transaction (duplicates are found by a read first, the unique indexes only
//! catch races), timestamps are fixed-width RFC 3339 text, and the reminder is kept as JSON text.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::{Bson, doc};
use mongodb::options::ReturnDocument;
use mongodb::{ClientSession, Collection};
use tokio::sync::Notify;
use vwc_contracts::{OrgId, VehicleId};
use vwc_store::mongo::MongoDb;
use vwc_store::{Outbox, Plumbed, StoreError, StoreResult, ts};

use crate::CONSUMER;
use crate::records::{self, DeliveryChange, DeliveryRecord, PreferencesRecord};
use crate::store::{
    ClaimedDelivery, Delivery, DeliveryAttempt, DeliveryDetail, DeliveryListing, DeliveryStatus,
    DueClaim, ItemWord, Lease, NewNotification, Notification, NotificationStore, PreferencesChange,
    Resend, SavedPreferences, Settlement, StoredPreferences, Word, channel_rank, released_at,
};

pub const PREFERENCES: &str = "preferences";
pub const NOTIFICATIONS: &str = "notifications";
pub const DELIVERIES: &str = "deliveries";
pub const ATTEMPTS: &str = "delivery_attempts";
/// The newest word of each kind about each item: `_id` {org_id, vehicle_id, task, kind}, `value`, `at`.
pub const ITEM_WORDS: &str = "item_words";

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
        // (collection, keys, unique). Preferences are keyed by `_id` (the organisation); their index makes
        // the collection exist before a transaction writes to it, on servers that cannot create
        // collections inside one.
        let indexes = [
            (NOTIFICATIONS, doc! { "org_id": 1, "reminder_id": 1 }, true),
            (
                DELIVERIES,
                doc! { "org_id": 1, "reminder_id": 1, "channel": 1 },
                true,
            ),
            (DELIVERIES, doc! { "notification_id": 1 }, false),
            (
                DELIVERIES,
                doc! { "status": 1, "next_attempt_at": 1, "_id": 1 },
                false,
            ),
            // GET /v1/notifications/deliveries: newest first, of every status or one.
            (
                DELIVERIES,
                doc! { "org_id": 1, "created_at": -1, "_id": -1 },
                false,
            ),
            (
                DELIVERIES,
                doc! { "org_id": 1, "status": 1, "created_at": -1, "_id": -1 },
                false,
            ),
            (ATTEMPTS, doc! { "delivery_id": 1, "attempt": 1 }, true),
            (PREFERENCES, doc! { "updated_at": 1 }, false),
            // Read by `_id` only; this index makes the collection exist before a transaction writes.
            (ITEM_WORDS, doc! { "at": 1 }, false),
        ];
        self.db.create_indexes_by_collection(indexes).await
    }
}

/// A record stored under a key of its own (an attempt's `_id` is its delivery and number).
#[derive(serde::Serialize)]
struct Keyed<T> {
    #[serde(rename = "_id")]
    id: String,
    #[serde(flatten)]
    record: T,
}

fn keyed_attempt(a: DeliveryAttempt) -> Keyed<DeliveryAttempt> {
    Keyed {
        id: format!("{}#{:010}", a.delivery_id, a.attempt),
        record: a,
    }
}

/// A word's key in `item_words`.
fn item_key(
    org_id: &OrgId,
    vehicle_id: &VehicleId,
    task: &str,
    kind: &str,
) -> mongodb::bson::Document {
    doc! { "org_id": org_id.as_str(), "vehicle_id": vehicle_id.as_str(), "task": task, "kind": kind }
}

/// The filter of an organisation's outbound delivery `id` (in-app ones are not outbound).
fn outbound(org_id: &OrgId, id: &str) -> mongodb::bson::Document {
    doc! { "_id": id, "org_id": org_id.as_str(), "channel": { "$ne": "in_app" } }
}

impl MongoNotificationStore {
    /// `deliveries` with their notifications and attempts, in the order given.
    async fn with_details(&self, deliveries: Vec<Delivery>) -> StoreResult<Vec<DeliveryDetail>> {
        if deliveries.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
        let notification_ids: Vec<&str> = deliveries
            .iter()
            .map(|d| d.notification_id.as_str())
            .collect();
        let notifications: std::collections::HashMap<String, Notification> = self
            .notifications()
            .find(doc! { "_id": { "$in": notification_ids } })
            .await?
            .map_ok(|n| (n.id.clone(), n))
            .try_collect()
            .await?;
        let attempts: Vec<DeliveryAttempt> = self
            .attempts_collection()
            .find(doc! { "delivery_id": { "$in": ids } })
            .sort(doc! { "delivery_id": 1, "attempt": 1 })
            .await?
            .try_collect()
            .await?;
        DeliveryDetail::assemble(deliveries, notifications, attempts)
    }

    async fn find_outbound(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<Delivery>> {
        Ok(self
            .deliveries_collection()
            .find_one(outbound(org_id, id))
            .await?
            .map(|r| r.delivery))
    }

    fn preferences_collection(&self) -> Collection<PreferencesRecord> {
        self.db.database().collection(PREFERENCES)
    }

    fn notifications(&self) -> Collection<Notification> {
        self.db.database().collection(NOTIFICATIONS)
    }

    fn deliveries_collection(&self) -> Collection<DeliveryRecord> {
        self.db.database().collection(DELIVERIES)
    }

    fn attempts_collection(&self) -> Collection<DeliveryAttempt> {
        self.db.database().collection(ATTEMPTS)
    }

    fn item_words_collection(&self) -> Collection<mongodb::bson::Document> {
        self.db.database().collection(ITEM_WORDS)
    }

    /// Keeps `w` as its item's newest word of its kind unless one at least as recent is kept (read first,
    /// so a transaction never meets a duplicate key).
    async fn note_in(&self, session: &mut ClientSession, w: &ItemWord) -> StoreResult<()> {
        let (kind, value) = w.word.stored();
        let key = item_key(&w.org_id, &w.vehicle_id, &w.task, kind);
        let at = ts(&w.at);
        let kept = self
            .item_words_collection()
            .find_one(doc! { "_id": key.clone() })
            .session(&mut *session)
            .await?;
        let word = doc! { "value": value, "at": &at };
        match kept {
            None => {
                let mut new = word;
                new.insert("_id", key);
                self.item_words_collection()
                    .insert_one(new)
                    .session(&mut *session)
                    .await?;
            }
            Some(kept) if kept.get_str("at").unwrap_or_default() < at.as_str() => {
                self.item_words_collection()
                    .update_one(doc! { "_id": key }, doc! { "$set": word })
                    .session(&mut *session)
                    .await?;
            }
            Some(_) => {}
        }
        Ok(())
    }

    async fn insert_attempt(
        &self,
        session: &mut ClientSession,
        attempt: DeliveryAttempt,
    ) -> StoreResult<()> {
        self.attempts_collection()
            .clone_with_type::<Keyed<DeliveryAttempt>>()
            .insert_one(keyed_attempt(attempt))
            .session(&mut *session)
            .await?;
        Ok(())
    }

    async fn save_preferences_in(
        &self,
        session: &mut ClientSession,
        change: &PreferencesChange<'_>,
    ) -> StoreResult<SavedPreferences> {
        let (org_id, p, secret, now) = (
            change.org_id,
            change.preferences,
            &change.secret,
            change.now,
        );
        let prefs = self.preferences_collection();
        let existing = prefs
            .find_one(doc! { "_id": org_id.as_str() })
            .session(&mut *session)
            .await?
            .map(PreferencesRecord::into_stored)
            .transpose()?
            .and_then(|s| s.webhook_secret);
        let (kept, issued) = secret.clone().apply(existing);
        prefs
            .replace_one(
                doc! { "_id": org_id.as_str() },
                PreferencesRecord::new(org_id, p, kept.as_ref(), now),
            )
            .upsert(true)
            .session(&mut *session)
            .await?;
        // What the old quiet hours held is due again (the worker holds it by the new ones).
        let deliveries = self.deliveries_collection();
        let held: Vec<DeliveryRecord> = deliveries
            .find(doc! {
                "org_id": org_id.as_str(), "status": "pending",
                "next_attempt_at": { "$gt": ts(&now) },
            })
            .session(&mut *session)
            .await?
            .stream(&mut *session)
            .try_collect()
            .await?;
        // Those not tried since made or resent (`released_at` says which).
        for d in held {
            if let Some(at) = released_at(&d.delivery, now, change.settle) {
                deliveries
                    .update_one(
                        doc! { "_id": &d.delivery.id },
                        doc! { "$set": { "next_attempt_at": ts(&at) } },
                    )
                    .session(&mut *session)
                    .await?;
            }
        }
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
            .notifications()
            .find_one(doc! { "org_id": n.org_id.as_str(), "reminder_id": &n.reminder_id })
            .session(&mut *session)
            .await?;
        if seen.is_some() {
            return Ok(false);
        }
        self.notifications()
            .insert_one(n)
            .session(&mut *session)
            .await?;
        if let Some(word) = ItemWord::of_reminder(n) {
            self.note_in(session, &word).await?;
        }
        let deliveries: Vec<DeliveryRecord> = new
            .deliveries
            .iter()
            .map(|d| DeliveryRecord::new(&n.reminder_id, d))
            .collect();
        if !deliveries.is_empty() {
            self.deliveries_collection()
                .insert_many(deliveries)
                .session(&mut *session)
                .await?;
        }
        for attempt in &new.attempts {
            self.insert_attempt(session, attempt.clone()).await?;
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
        let change = DeliveryChange::of(settlement);
        let mut set = doc! {
            "status": change.status,
            "next_attempt_at": change.next_attempt_at,
            "lease_token": Bson::Null,
            "delivered_at": change.delivered_at,
        };
        if let Some(attempts) = change.attempts {
            set.insert("attempts", attempts);
        }
        if let Some(last_error) = change.last_error {
            set.insert("last_error", last_error);
        }
        let updated = self
            .deliveries_collection()
            .update_one(filter, doc! { "$set": set })
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
            self.insert_attempt(session, attempt.clone()).await?;
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
    async fn preferences(&self, org_id: &OrgId) -> StoreResult<Option<StoredPreferences>> {
        self.preferences_collection()
            .find_one(doc! { "_id": org_id.as_str() })
            .await?
            .map(PreferencesRecord::into_stored)
            .transpose()
    }

    async fn save_preferences(
        &self,
        change: PreferencesChange<'_>,
    ) -> StoreResult<SavedPreferences> {
        Ok(vwc_store::mongo_transaction!(self.db, |session| self
            .save_preferences_in(session, &change)))
    }

    async fn record_notification(
        &self,
        envelope_id: &str,
        new: &NewNotification,
    ) -> StoreResult<bool> {
        let recorded = vwc_store::mongo_transaction!(self.db, |session| self.record_in(
            session,
            envelope_id,
            new
        ));
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

    async fn claim_due_deliveries(&self, claim: DueClaim<'_>) -> StoreResult<Vec<ClaimedDelivery>> {
        let (now, limit, until) = (claim.now, claim.limit, ts(&claim.leased_until()));
        let skip: Vec<&str> = claim.skip_orgs.iter().map(OrgId::as_str).collect();
        let mut claimed = Vec::new();
        // One atomic find-and-modify per delivery: two workers never lease the same one.
        while claimed.len() < limit {
            let token = uuid::Uuid::new_v4().to_string();
            let Some(d) = self
                .deliveries_collection()
                .find_one_and_update(
                    doc! { "status": DeliveryStatus::Pending.as_str(),
                    "next_attempt_at": { "$lte": ts(&now) },
                    "org_id": { "$nin": &skip } },
                    doc! { "$set": { "next_attempt_at": &until, "lease_token": &token } },
                )
                .sort(doc! { "next_attempt_at": 1, "_id": 1 })
                .return_document(ReturnDocument::After)
                .await?
            else {
                break;
            };
            let delivery = d.delivery;
            let notification = self
                .notifications()
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
                notification,
                delivery,
            });
        }
        Ok(claimed)
    }

    async fn settle(&self, lease: &Lease, settlement: &Settlement) -> StoreResult<bool> {
        let applied = vwc_store::mongo_transaction!(self.db, |session| self
            .settle_in(session, lease, settlement));
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

    async fn note_item_word(&self, word: &ItemWord) -> StoreResult<()> {
        vwc_store::mongo_transaction!(self.db, |session| self.note_in(session, word));
        Ok(())
    }

    async fn item_words(
        &self,
        org_id: &OrgId,
        vehicle_id: &VehicleId,
        task: &str,
    ) -> StoreResult<Vec<ItemWord>> {
        let keys: Vec<_> = Word::KINDS
            .into_iter()
            .map(|kind| item_key(org_id, vehicle_id, task, kind))
            .collect();
        let found: Vec<mongodb::bson::Document> = self
            .item_words_collection()
            .find(doc! { "_id": { "$in": keys } })
            .await?
            .try_collect()
            .await?;
        found
            .iter()
            .map(|d| {
                let text = |field: &str| -> StoreResult<&str> {
                    d.get_str(field)
                        .or_else(|_| d.get_document("_id").and_then(|id| id.get_str(field)))
                        .map_err(|e| {
                            StoreError::Other(format!("item word without its {field}: {e}"))
                        })
                };
                records::item_word(
                    (org_id.clone(), vehicle_id.clone(), task.to_owned()),
                    text("kind")?,
                    text("value")?,
                    text("at")?,
                )
            })
            .collect()
    }

    async fn next_due_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let first = self
            .deliveries_collection()
            .find_one(doc! { "status": DeliveryStatus::Pending.as_str() })
            .sort(doc! { "next_attempt_at": 1 })
            .await?;
        Ok(first.and_then(|d| d.delivery.next_attempt_at))
    }

    async fn notification_for_reminder(
        &self,
        org_id: &OrgId,
        reminder_id: &str,
    ) -> StoreResult<Option<Notification>> {
        Ok(self
            .notifications()
            .find_one(doc! { "org_id": org_id.as_str(), "reminder_id": reminder_id })
            .await?)
    }

    async fn deliveries(&self, notification_id: &str) -> StoreResult<Vec<Delivery>> {
        let records: Vec<DeliveryRecord> = self
            .deliveries_collection()
            .find(doc! { "notification_id": notification_id })
            .await?
            .try_collect()
            .await?;
        let mut deliveries = records
            .into_iter()
            .map(|r| r.delivery)
            .collect::<Vec<Delivery>>();
        deliveries.sort_by_key(|d| channel_rank(d.channel));
        Ok(deliveries)
    }

    async fn attempts(&self, delivery_id: &str) -> StoreResult<Vec<DeliveryAttempt>> {
        Ok(self
            .attempts_collection()
            .find(doc! { "delivery_id": delivery_id })
            .sort(doc! { "attempt": 1 })
            .await?
            .try_collect()
            .await?)
    }

    async fn list_deliveries(
        &self,
        listing: DeliveryListing<'_>,
    ) -> StoreResult<Vec<DeliveryDetail>> {
        let mut filter = doc! {
            "org_id": listing.org_id.as_str(), "channel": { "$ne": "in_app" },
        };
        if let Some(status) = listing.status {
            filter.insert("status", status.as_str());
        }
        if let Some((at, id)) = &listing.after {
            let at = ts(at);
            filter.insert(
                "$or",
                vec![
                    doc! { "created_at": { "$lt": &at } },
                    doc! { "created_at": &at, "_id": { "$lt": id } },
                ],
            );
        }
        let records: Vec<DeliveryRecord> = self
            .deliveries_collection()
            .find(filter)
            .sort(doc! { "created_at": -1, "_id": -1 })
            .limit(i64::try_from(listing.limit).unwrap_or(i64::MAX))
            .await?
            .try_collect()
            .await?;
        self.with_details(records.into_iter().map(|r| r.delivery).collect())
            .await
    }

    async fn outbound_delivery(
        &self,
        org_id: &OrgId,
        id: &str,
    ) -> StoreResult<Option<DeliveryDetail>> {
        let Some(d) = self.find_outbound(org_id, id).await? else {
            return Ok(None);
        };
        Ok(self.with_details(vec![d]).await?.pop())
    }

    async fn resend_delivery(
        &self,
        org_id: &OrgId,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Resend> {
        let Some(mut d) = self.find_outbound(org_id, id).await? else {
            return Ok(Resend::NotFound);
        };
        if !d.resendable() {
            return Ok(Resend::NotResendable(d.status));
        }
        // Compare and set: only while it is still as read, so of two resends at once one changes it.
        let mut filter = outbound(org_id, id);
        filter.insert("status", d.status.as_str());
        filter.insert("attempts", i64::from(d.attempts));
        let updated = self
            .deliveries_collection()
            .update_one(
                filter,
                doc! { "$set": {
                    "status": DeliveryStatus::Pending.as_str(),
                    "next_attempt_at": ts(&now),
                    "lease_token": Bson::Null,
                    "earlier_attempts": i64::from(d.attempts),
                    "resent_at": ts(&now),
                } },
            )
            .await?;
        if updated.matched_count == 0 {
            // Changed meanwhile (another resend): say what it is now.
            return Ok(match self.find_outbound(org_id, id).await? {
                Some(current) => Resend::NotResendable(current.status),
                None => Resend::NotFound,
            });
        }
        d.status = DeliveryStatus::Pending;
        d.next_attempt_at = Some(now);
        d.earlier_attempts = d.attempts;
        d.resent_at = Some(now);
        self.deliveries_wakeup.notify_one();
        Ok(Resend::Resent(d))
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
