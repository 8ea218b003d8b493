//! SQLite adapter of the notification store.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, Row, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use vwc_contracts::{OrgId, VehicleId};
use vwc_store::parse_ts;
use vwc_store::sqlite::{claim_inbox, enqueue, optional};
use vwc_store::{Plumbed, SqliteDb, StoreError, StoreResult, ts};

use crate::CONSUMER;
use crate::records::{self, DeliveryChange, DeliveryRecord, PreferencesRecord};
use crate::store::{
    ClaimedDelivery, Delivery, DeliveryAttempt, DeliveryDetail, DeliveryListing, DeliveryStatus,
    DueClaim, ItemWord, Lease, NewNotification, Notification, NotificationStore, PreferencesChange,
    Resend, SavedPreferences, Settlement, StoredPreferences, channel_rank, released_at,
};

/// This database's schema steps, run in order once each (`user_version` counts those run). Append only: a
/// step changed, moved or removed would be run twice, or never, on a database that ran the old list
/// (`shared/store/migrations.lock` pins them; `VWC_BLESS=1 cargo test -p vwc --lib migrations` records a new one).
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE preferences (
    org_id TEXT PRIMARY KEY,
    webhook_url TEXT,
    email TEXT,
    quiet_start TEXT,
    quiet_end TEXT,
    quiet_tz_offset_minutes INTEGER,
    webhook_secret TEXT,
    updated_at TEXT NOT NULL
);
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    reminder_id TEXT NOT NULL,
    vehicle_id TEXT,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    severity TEXT NOT NULL,
    reminder TEXT NOT NULL,
    traceparent TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (org_id, reminder_id)
);
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    notification_id TEXT NOT NULL REFERENCES notifications (id),
    org_id TEXT NOT NULL,
    reminder_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    lease_token TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    last_error TEXT,
    UNIQUE (org_id, reminder_id, channel)
);
CREATE INDEX deliveries_of_notification ON deliveries (notification_id);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE TABLE delivery_attempts (
    delivery_id TEXT NOT NULL REFERENCES deliveries (id),
    attempt INTEGER NOT NULL,
    at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    http_status INTEGER,
    error TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
"#,
    r#"
-- When the scheduler made a notification's reminder, and the newest word about each item (docs/events.md,
-- "Reminders that no longer hold"): a pending outbound delivery of an older reminder is not sent.
ALTER TABLE notifications ADD COLUMN reminded_at TEXT;
CREATE TABLE item_words (
    org_id TEXT NOT NULL,
    vehicle_id TEXT NOT NULL,
    task TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (org_id, vehicle_id, task, kind)
) WITHOUT ROWID;
"#,
    r#"
-- Resending a failed or dead-lettered delivery (POST /v1/notifications/deliveries/{id}/retry) gives it a
-- fresh attempt budget: the attempts made before it are kept here, the attempts go on being numbered.
ALTER TABLE deliveries ADD COLUMN earlier_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN resent_at TEXT;
-- GET /v1/notifications/deliveries: an organisation's deliveries newest first, of every status or one.
CREATE INDEX deliveries_of_org ON deliveries (org_id, created_at, id);
CREATE INDEX deliveries_of_org_by_status ON deliveries (org_id, status, created_at, id);
"#,
];

#[derive(Clone)]
pub struct SqliteNotificationStore {
    db: SqliteDb,
    deliveries_wakeup: Arc<Notify>,
}

impl SqliteNotificationStore {
    pub fn open(path: &Path) -> StoreResult<SqliteNotificationStore> {
        Ok(SqliteNotificationStore {
            db: SqliteDb::open(path, MIGRATIONS)?,
            deliveries_wakeup: Arc::new(Notify::new()),
        })
    }

    pub fn db(&self) -> &SqliteDb {
        &self.db
    }
}

/// The stored preferences of `org_id`.
fn read_preferences(conn: &Connection, org_id: &str) -> StoreResult<Option<StoredPreferences>> {
    optional(
        conn.prepare_cached("SELECT * FROM preferences WHERE org_id = ?1")?
            .query_row([org_id], record::<PreferencesRecord>),
    )?
    .map(PreferencesRecord::into_stored)
    .transpose()
}

/// One row as the record type with the same field names (a column `id` fills an `_id` field): each
/// column becomes the JSON value of its SQLite type and the record is decoded from those.
fn record<T: DeserializeOwned>(r: &Row<'_>) -> rusqlite::Result<T> {
    let columns = r.as_ref().column_names();
    let mut fields = serde_json::Map::with_capacity(columns.len());
    for (i, name) in columns.into_iter().enumerate() {
        let value = match r.get_ref(i)? {
            ValueRef::Null => serde_json::Value::Null,
            ValueRef::Integer(n) => n.into(),
            ValueRef::Real(x) => x.into(),
            ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned().into(),
            ValueRef::Blob(_) => {
                return Err(rusqlite::Error::InvalidColumnType(
                    i,
                    name.to_owned(),
                    rusqlite::types::Type::Blob,
                ));
            }
        };
        fields.insert(name.to_owned(), value);
    }
    serde_json::from_value(fields.into()).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Writes `record` as one row of `table` (`verb` is `INSERT` or `INSERT OR REPLACE`): each field of its
/// stored form goes to the column of the same name, `_id` to `key_column`.
fn write_row<T: Serialize>(
    conn: &Connection,
    verb: &str,
    table: &str,
    key_column: &str,
    record: &T,
) -> StoreResult<()> {
    let serde_json::Value::Object(fields) = serde_json::to_value(record)? else {
        return Err(StoreError::Other(format!("a {table} row is not a record")));
    };
    let columns: Vec<&str> = fields
        .keys()
        .map(|k| if k == "_id" { key_column } else { k.as_str() })
        .collect();
    let values: Vec<SqlValue> = fields
        .values()
        .map(|v| match v {
            serde_json::Value::Null => SqlValue::Null,
            serde_json::Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => SqlValue::Integer(i),
                None => SqlValue::Real(n.as_f64().unwrap_or_default()),
            },
            serde_json::Value::String(s) => SqlValue::Text(s.clone()),
            other => SqlValue::Text(other.to_string()),
        })
        .collect();
    let placeholders = vec!["?"; columns.len()].join(", ");
    conn.prepare_cached(&format!(
        "{verb} INTO {table} ({}) VALUES ({placeholders})",
        columns.join(", ")
    ))?
    .execute(rusqlite::params_from_iter(values))?;
    Ok(())
}

/// Keeps `w` as its item's newest word of its kind unless one at least as recent is kept (timestamps are
/// fixed-width text, so they compare as times).
fn note_item_word(conn: &Connection, w: &ItemWord) -> StoreResult<()> {
    let (kind, value) = w.word.stored();
    conn.prepare_cached(
        "INSERT INTO item_words (org_id, vehicle_id, task, kind, value, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (org_id, vehicle_id, task, kind) DO UPDATE SET value = excluded.value, at = excluded.at
         WHERE excluded.at > item_words.at",
    )?
    .execute(params![
        w.org_id.as_str(),
        w.vehicle_id.as_str(),
        w.task,
        kind,
        value,
        ts(&w.at)
    ])?;
    Ok(())
}

fn read_notification(conn: &Connection, id: &str) -> StoreResult<Notification> {
    Ok(conn
        .prepare_cached("SELECT * FROM notifications WHERE id = ?1")?
        .query_row([id], record::<Notification>)?)
}

/// The outbound delivery `id` of `org_id` (in-app ones are not outbound).
fn read_outbound_delivery(
    conn: &Connection,
    org_id: &str,
    id: &str,
) -> StoreResult<Option<Delivery>> {
    optional(
        conn.prepare_cached(
            "SELECT * FROM deliveries WHERE id = ?1 AND org_id = ?2 AND channel <> 'in_app'",
        )?
        .query_row(params![id, org_id], record::<Delivery>),
    )
}

/// `deliveries` with their notifications and attempts, in the order given.
fn with_details(conn: &Connection, deliveries: Vec<Delivery>) -> StoreResult<Vec<DeliveryDetail>> {
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(&deliveries.iter().map(|d| &d.id).collect::<Vec<_>>())?;
    let notification_ids = serde_json::to_string(
        &deliveries
            .iter()
            .map(|d| &d.notification_id)
            .collect::<Vec<_>>(),
    )?;
    let notifications: std::collections::HashMap<String, Notification> = conn
        .prepare_cached(
            "SELECT * FROM notifications WHERE id IN (SELECT value FROM json_each(?1))",
        )?
        .query_map([notification_ids], record::<Notification>)?
        .map(|n| n.map(|n| (n.id.clone(), n)))
        .collect::<Result<_, _>>()?;
    let attempts = conn
        .prepare_cached(
            "SELECT * FROM delivery_attempts WHERE delivery_id IN (SELECT value FROM json_each(?1))
             ORDER BY delivery_id, attempt",
        )?
        .query_map([ids], record::<DeliveryAttempt>)?
        .collect::<Result<Vec<_>, _>>()?;
    DeliveryDetail::assemble(deliveries, notifications, attempts)
}

#[async_trait]
impl NotificationStore for SqliteNotificationStore {
    async fn preferences(&self, org_id: &OrgId) -> StoreResult<Option<StoredPreferences>> {
        let org = org_id.clone();
        self.db.read(move |conn| read_preferences(conn, &org)).await
    }

    async fn save_preferences(
        &self,
        change: PreferencesChange<'_>,
    ) -> StoreResult<SavedPreferences> {
        let (org, p) = (change.org_id.clone(), change.preferences.clone());
        let (secret, now, settle) = (change.secret, change.now, change.settle);
        self.db
            .write(move |conn| {
                let existing = read_preferences(conn, &org)?.and_then(|s| s.webhook_secret);
                let (kept, issued) = secret.apply(existing);
                // The organisation's one row, replaced whole.
                write_row(
                    conn,
                    "INSERT OR REPLACE",
                    "preferences",
                    "org_id",
                    &PreferencesRecord::new(&org, &p, kept.as_ref(), now),
                )?;
                // What the old quiet hours held is due again (the worker holds it by the new ones).
                let held: Vec<Delivery> = conn
                    .prepare(
                        "SELECT * FROM deliveries
                         WHERE org_id = ?1 AND status = 'pending' AND attempts = earlier_attempts
                           AND next_attempt_at > ?2",
                    )?
                    .query_map(params![org.as_str(), ts(&now)], record::<Delivery>)?
                    .collect::<Result<_, _>>()?;
                for d in held {
                    if let Some(at) = released_at(&d, now, settle) {
                        conn.execute(
                            "UPDATE deliveries SET next_attempt_at = ?2 WHERE id = ?1",
                            params![d.id, ts(&at)],
                        )?;
                    }
                }
                Ok(SavedPreferences {
                    stored: StoredPreferences {
                        preferences: p,
                        webhook_secret: kept,
                        updated_at: now,
                    },
                    issued_secret: issued,
                })
            })
            .await
    }

    async fn record_notification(
        &self,
        envelope_id: &str,
        new: &NewNotification,
    ) -> StoreResult<bool> {
        let envelope_id = envelope_id.to_owned();
        let new = new.clone();
        let has_pending = new
            .deliveries
            .iter()
            .any(|d| d.status == DeliveryStatus::Pending);
        let recorded = self
            .db
            .write_with_events(move |conn| {
                if !claim_inbox(conn, CONSUMER, &envelope_id)? {
                    return Ok(false);
                }
                let n = &new.notification;
                let seen: Option<String> = optional(
                    conn.prepare_cached(
                        "SELECT id FROM notifications WHERE org_id = ?1 AND reminder_id = ?2",
                    )?
                    .query_row(params![n.org_id.as_str(), n.reminder_id], |r| r.get(0)),
                )?;
                if seen.is_some() {
                    // The same reminder under another envelope id: already told.
                    return Ok(false);
                }
                write_row(conn, "INSERT", "notifications", "id", n)?;
                if let Some(word) = ItemWord::of_reminder(n) {
                    note_item_word(conn, &word)?;
                }
                for d in &new.deliveries {
                    let d = DeliveryRecord::new(&n.reminder_id, d);
                    write_row(conn, "INSERT", "deliveries", "id", &d)?;
                }
                for a in &new.attempts {
                    write_row(conn, "INSERT", "delivery_attempts", "", a)?;
                }
                enqueue(conn, &new.events)?;
                Ok(true)
            })
            .await?;
        if recorded && has_pending {
            self.deliveries_wakeup.notify_one();
        }
        Ok(recorded)
    }

    async fn claim_due_deliveries(&self, claim: DueClaim<'_>) -> StoreResult<Vec<ClaimedDelivery>> {
        let skip = serde_json::to_string(claim.skip_orgs)?;
        let (now, limit, until) = (claim.now, claim.limit, claim.leased_until());
        self.db
            .write(move |conn| {
                let due: Vec<DeliveryRecord> = conn
                    .prepare_cached(
                        "SELECT * FROM deliveries
                         WHERE status = 'pending' AND next_attempt_at <= ?1
                           AND org_id NOT IN (SELECT value FROM json_each(?3))
                         ORDER BY next_attempt_at, id LIMIT ?2",
                    )?
                    .query_map(
                        params![ts(&now), i64::try_from(limit).unwrap_or(i64::MAX), skip],
                        record::<DeliveryRecord>,
                    )?
                    .collect::<Result<_, _>>()?;
                let mut claimed = Vec::with_capacity(due.len());
                for row in due {
                    let token = uuid::Uuid::new_v4().to_string();
                    conn.prepare_cached(
                        "UPDATE deliveries SET next_attempt_at = ?2, lease_token = ?3 WHERE id = ?1",
                    )?
                    .execute(params![row.delivery.id, ts(&until), token])?;
                    let mut delivery = row.delivery;
                    delivery.next_attempt_at = Some(until);
                    let notification = read_notification(conn, &delivery.notification_id)?;
                    claimed.push(ClaimedDelivery {
                        lease: Lease {
                            delivery_id: delivery.id.clone(),
                            token,
                        },
                        delivery,
                        notification,
                    });
                }
                Ok(claimed)
            })
            .await
    }

    async fn settle(&self, lease: &Lease, settlement: &Settlement) -> StoreResult<bool> {
        let lease = lease.clone();
        let change = DeliveryChange::of(settlement);
        let (attempt, event) = match settlement {
            Settlement::Attempted {
                attempt,
                delivered_event,
                ..
            } => (Some(attempt.clone()), delivered_event.as_deref().cloned()),
            Settlement::Held { .. } | Settlement::Cancelled { .. } => (None, None),
        };
        let has_event = event.is_some();
        let apply = move |conn: &Connection| -> StoreResult<bool> {
            // Only the lease holder settles, and only while the delivery is pending.
            let changed = conn
                .prepare_cached(
                    "UPDATE deliveries SET status = ?3, attempts = coalesce(?4, attempts),
                       next_attempt_at = ?5, lease_token = NULL, delivered_at = ?6,
                       last_error = iif(?7, ?8, last_error)
                     WHERE id = ?1 AND lease_token = ?2 AND status = 'pending'",
                )?
                .execute(params![
                    lease.delivery_id,
                    lease.token,
                    change.status,
                    change.attempts,
                    change.next_attempt_at,
                    change.delivered_at,
                    change.last_error.is_some(),
                    change.last_error.flatten(),
                ])?;
            if changed == 0 {
                return Ok(false);
            }
            if let Some(attempt) = &attempt {
                write_row(conn, "INSERT", "delivery_attempts", "", attempt)?;
            }
            if let Some(event) = &event {
                enqueue(conn, std::slice::from_ref(event))?;
            }
            Ok(true)
        };
        if has_event {
            self.db.write_with_events(apply).await
        } else {
            self.db.write(apply).await
        }
    }

    async fn note_item_word(&self, word: &ItemWord) -> StoreResult<()> {
        let word = word.clone();
        self.db.write(move |conn| note_item_word(conn, &word)).await
    }

    async fn item_words(
        &self,
        org_id: &OrgId,
        vehicle_id: &VehicleId,
        task: &str,
    ) -> StoreResult<Vec<ItemWord>> {
        let key = (org_id.clone(), vehicle_id.clone(), task.to_owned());
        self.db
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT kind, value, at FROM item_words
                     WHERE org_id = ?1 AND vehicle_id = ?2 AND task = ?3",
                )?;
                let mut rows = stmt.query(params![key.0.as_str(), key.1.as_str(), key.2])?;
                let mut words = Vec::new();
                while let Some(r) = rows.next()? {
                    let text = |i| -> StoreResult<String> { Ok(r.get(i)?) };
                    words.push(records::item_word(
                        key.clone(),
                        &text(0)?,
                        &text(1)?,
                        &text(2)?,
                    )?);
                }
                Ok(words)
            })
            .await
    }

    async fn next_due_at(&self) -> StoreResult<Option<DateTime<Utc>>> {
        let next: Option<String> = self
            .db
            .read(|conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending'",
                    )?
                    .query_row([], |r| r.get(0))?)
            })
            .await?;
        next.as_deref().map(parse_ts).transpose()
    }

    async fn notification_for_reminder(
        &self,
        org_id: &OrgId,
        reminder_id: &str,
    ) -> StoreResult<Option<Notification>> {
        self.db
            .query_optional(
                "SELECT * FROM notifications WHERE org_id = ?1 AND reminder_id = ?2",
                (org_id.as_str().to_owned(), reminder_id.to_owned()),
                record::<Notification>,
            )
            .await
    }

    async fn deliveries(&self, notification_id: &str) -> StoreResult<Vec<Delivery>> {
        let id = notification_id.to_owned();
        let mut deliveries: Vec<Delivery> = self
            .db
            .read(move |conn| {
                Ok(conn
                    .prepare_cached("SELECT * FROM deliveries WHERE notification_id = ?1")?
                    .query_map([id], record::<Delivery>)?
                    .collect::<Result<_, _>>()?)
            })
            .await?;
        deliveries.sort_by_key(|d: &Delivery| channel_rank(d.channel));
        Ok(deliveries)
    }

    async fn attempts(&self, delivery_id: &str) -> StoreResult<Vec<DeliveryAttempt>> {
        let id = delivery_id.to_owned();
        self.db
            .read(move |conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT * FROM delivery_attempts WHERE delivery_id = ?1 ORDER BY attempt",
                    )?
                    .query_map([id], record::<DeliveryAttempt>)?
                    .collect::<Result<_, _>>()?)
            })
            .await
    }

    async fn list_deliveries(
        &self,
        listing: DeliveryListing<'_>,
    ) -> StoreResult<Vec<DeliveryDetail>> {
        let org = listing.org_id.as_str().to_owned();
        let status = listing.status.map(|s| s.as_str());
        let after = listing.after.map(|(at, id)| (ts(&at), id));
        let limit = i64::try_from(listing.limit).unwrap_or(i64::MAX);
        self.db
            .read(move |conn| {
                // One statement per shape, so each uses its index (deliveries_of_org[_by_status]).
                let mut sql = String::from(
                    "SELECT * FROM deliveries WHERE org_id = :org AND channel <> 'in_app'",
                );
                if status.is_some() {
                    sql.push_str(" AND status = :status");
                }
                if after.is_some() {
                    sql.push_str(" AND (created_at, id) < (:at, :id)");
                }
                sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT :limit");
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut named: Vec<(&str, &dyn rusqlite::ToSql)> =
                    vec![(":org", &org), (":limit", &limit)];
                if let Some(status) = &status {
                    named.push((":status", status));
                }
                if let Some((at, id)) = &after {
                    named.push((":at", at));
                    named.push((":id", id));
                }
                let deliveries = stmt
                    .query_map(named.as_slice(), record::<Delivery>)?
                    .collect::<Result<Vec<_>, _>>()?;
                with_details(conn, deliveries)
            })
            .await
    }

    async fn outbound_delivery(
        &self,
        org_id: &OrgId,
        id: &str,
    ) -> StoreResult<Option<DeliveryDetail>> {
        let (org, id) = (org_id.as_str().to_owned(), id.to_owned());
        self.db
            .read(move |conn| {
                let Some(d) = read_outbound_delivery(conn, &org, &id)? else {
                    return Ok(None);
                };
                Ok(with_details(conn, vec![d])?.pop())
            })
            .await
    }

    async fn resend_delivery(
        &self,
        org_id: &OrgId,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Resend> {
        let (org, id) = (org_id.as_str().to_owned(), id.to_owned());
        // One write transaction: the read and the change cannot interleave with another resend's.
        let resend = self
            .db
            .write(move |conn| {
                let Some(mut d) = read_outbound_delivery(conn, &org, &id)? else {
                    return Ok(Resend::NotFound);
                };
                if !d.resendable() {
                    return Ok(Resend::NotResendable(d.status));
                }
                conn.prepare_cached(
                    "UPDATE deliveries SET status = 'pending', next_attempt_at = ?2,
                       lease_token = NULL, earlier_attempts = attempts, resent_at = ?2
                     WHERE id = ?1",
                )?
                .execute(params![id, ts(&now)])?;
                d.status = DeliveryStatus::Pending;
                d.next_attempt_at = Some(now);
                d.earlier_attempts = d.attempts;
                d.resent_at = Some(now);
                Ok(Resend::Resent(d))
            })
            .await?;
        if matches!(resend, Resend::Resent(_)) {
            self.deliveries_wakeup.notify_one();
        }
        Ok(resend)
    }

    fn deliveries_wakeup(&self) -> Arc<Notify> {
        self.deliveries_wakeup.clone()
    }
}

impl Plumbed for SqliteNotificationStore {
    type Db = SqliteDb;
    fn plumbing(&self) -> &SqliteDb {
        &self.db
    }
}
