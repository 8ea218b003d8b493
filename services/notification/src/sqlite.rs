//! SQLite adapter of the notification store.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, Row, params};
use tokio::sync::Notify;
use vwc_contracts::OrgId;
use vwc_store::mongo::parse_ts;
use vwc_store::sqlite::{claim_inbox, enqueue, optional};
use vwc_store::{Plumbed, SqliteDb, StoreResult, ts};

use crate::CONSUMER;
use crate::records::{
    AttemptRecord, DeliveryChange, DeliveryRecord, NotificationRecord, PreferencesRecord,
};
use crate::store::{
    ClaimedDelivery, Delivery, DeliveryAttempt, DeliveryStatus, Lease, NewNotification,
    Notification, NotificationStore, Preferences, SavedPreferences, SecretChange, Settlement,
    StoredPreferences, channel_rank,
};

const MIGRATIONS: &[&str] = &[r#"
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
"#];

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
            .query_row([org_id], |r| {
                Ok(PreferencesRecord {
                    org_id: r.get("org_id")?,
                    webhook_url: r.get("webhook_url")?,
                    email: r.get("email")?,
                    quiet_start: r.get("quiet_start")?,
                    quiet_end: r.get("quiet_end")?,
                    quiet_tz_offset_minutes: r.get("quiet_tz_offset_minutes")?,
                    webhook_secret: r.get("webhook_secret")?,
                    updated_at: r.get("updated_at")?,
                })
            }),
    )?
    .map(PreferencesRecord::into_stored)
    .transpose()
}

fn notification_record(r: &Row<'_>) -> rusqlite::Result<NotificationRecord> {
    Ok(NotificationRecord {
        id: r.get("id")?,
        org_id: r.get("org_id")?,
        reminder_id: r.get("reminder_id")?,
        vehicle_id: r.get("vehicle_id")?,
        title: r.get("title")?,
        body: r.get("body")?,
        severity: r.get("severity")?,
        reminder: r.get("reminder")?,
        traceparent: r.get("traceparent")?,
        created_at: r.get("created_at")?,
    })
}

fn delivery_record(r: &Row<'_>) -> rusqlite::Result<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: r.get("id")?,
        notification_id: r.get("notification_id")?,
        org_id: r.get("org_id")?,
        reminder_id: r.get("reminder_id")?,
        channel: r.get("channel")?,
        status: r.get("status")?,
        attempts: r.get("attempts")?,
        next_attempt_at: r.get("next_attempt_at")?,
        lease_token: r.get("lease_token")?,
        created_at: r.get("created_at")?,
        delivered_at: r.get("delivered_at")?,
        last_error: r.get("last_error")?,
    })
}

fn attempt_record(r: &Row<'_>) -> rusqlite::Result<AttemptRecord> {
    Ok(AttemptRecord {
        delivery_id: r.get("delivery_id")?,
        attempt: r.get("attempt")?,
        at: r.get("at")?,
        outcome: r.get("outcome")?,
        http_status: r.get("http_status")?,
        error: r.get("error")?,
    })
}

fn read_notification(conn: &Connection, id: &str) -> StoreResult<Notification> {
    conn.prepare_cached("SELECT * FROM notifications WHERE id = ?1")?
        .query_row([id], notification_record)?
        .into_notification()
}

fn insert_notification(conn: &Connection, n: &NotificationRecord) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO notifications (id, org_id, reminder_id, vehicle_id, title, body, severity,
             reminder, traceparent, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        n.id,
        n.org_id,
        n.reminder_id,
        n.vehicle_id,
        n.title,
        n.body,
        n.severity,
        n.reminder,
        n.traceparent,
        n.created_at,
    ])?;
    Ok(())
}

fn insert_delivery(conn: &Connection, d: &DeliveryRecord) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO deliveries (id, notification_id, org_id, reminder_id, channel, status, attempts,
             next_attempt_at, lease_token, created_at, delivered_at, last_error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        d.id,
        d.notification_id,
        d.org_id,
        d.reminder_id,
        d.channel,
        d.status,
        d.attempts,
        d.next_attempt_at,
        d.lease_token,
        d.created_at,
        d.delivered_at,
        d.last_error,
    ])?;
    Ok(())
}

fn insert_attempt(conn: &Connection, a: &AttemptRecord) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO delivery_attempts (delivery_id, attempt, at, outcome, http_status, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        a.delivery_id,
        a.attempt,
        a.at,
        a.outcome,
        a.http_status,
        a.error,
    ])?;
    Ok(())
}

#[async_trait]
impl NotificationStore for SqliteNotificationStore {
    async fn preferences(&self, org_id: &OrgId) -> StoreResult<Option<StoredPreferences>> {
        let org = org_id.clone();
        self.db.read(move |conn| read_preferences(conn, &org)).await
    }

    async fn save_preferences(
        &self,
        org_id: &OrgId,
        preferences: &Preferences,
        secret: SecretChange,
        now: DateTime<Utc>,
    ) -> StoreResult<SavedPreferences> {
        let (org, p) = (org_id.clone(), preferences.clone());
        self.db
            .write(move |conn| {
                let existing = read_preferences(conn, &org)?.and_then(|s| s.webhook_secret);
                let (kept, issued) = secret.apply(existing);
                let r = PreferencesRecord::new(&org, &p, kept.as_ref(), now);
                conn.prepare_cached(
                    "INSERT INTO preferences (org_id, webhook_url, email, quiet_start, quiet_end,
                       quiet_tz_offset_minutes, webhook_secret, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (org_id) DO UPDATE SET webhook_url = excluded.webhook_url,
                       email = excluded.email, quiet_start = excluded.quiet_start,
                       quiet_end = excluded.quiet_end,
                       quiet_tz_offset_minutes = excluded.quiet_tz_offset_minutes,
                       webhook_secret = excluded.webhook_secret, updated_at = excluded.updated_at",
                )?
                .execute(params![
                    r.org_id,
                    r.webhook_url,
                    r.email,
                    r.quiet_start,
                    r.quiet_end,
                    r.quiet_tz_offset_minutes,
                    r.webhook_secret,
                    r.updated_at,
                ])?;
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
        let n = &new.notification;
        let notification = NotificationRecord::new(n)?;
        let deliveries: Vec<DeliveryRecord> = new
            .deliveries
            .iter()
            .map(|d| DeliveryRecord::new(&n.reminder_id, d))
            .collect();
        let attempts: Vec<AttemptRecord> = new.attempts.iter().map(AttemptRecord::new).collect();
        let events = new.events.clone();
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
                let seen: Option<String> = optional(
                    conn.prepare_cached(
                        "SELECT id FROM notifications WHERE org_id = ?1 AND reminder_id = ?2",
                    )?
                    .query_row(
                        params![notification.org_id, notification.reminder_id],
                        |r| r.get(0),
                    ),
                )?;
                if seen.is_some() {
                    // The same reminder under another envelope id: already told.
                    return Ok(false);
                }
                insert_notification(conn, &notification)?;
                for d in &deliveries {
                    insert_delivery(conn, d)?;
                }
                for a in &attempts {
                    insert_attempt(conn, a)?;
                }
                enqueue(conn, &events)?;
                Ok(true)
            })
            .await?;
        if recorded && has_pending {
            self.deliveries_wakeup.notify_one();
        }
        Ok(recorded)
    }

    async fn claim_due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: chrono::TimeDelta,
        skip_orgs: &[OrgId],
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let skip = serde_json::to_string(skip_orgs)?;
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
                        delivery_record,
                    )?
                    .collect::<Result<_, _>>()?;
                let until = now + lease;
                let mut claimed = Vec::with_capacity(due.len());
                for row in due {
                    let token = uuid::Uuid::new_v4().to_string();
                    conn.prepare_cached(
                        "UPDATE deliveries SET next_attempt_at = ?2, lease_token = ?3 WHERE id = ?1",
                    )?
                    .execute(params![row.id, ts(&until), token])?;
                    let mut delivery = row.into_delivery()?;
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
            } => (
                Some(AttemptRecord::new(attempt)),
                delivered_event.as_deref().cloned(),
            ),
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
                insert_attempt(conn, attempt)?;
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
        let (org, reminder) = (org_id.clone(), reminder_id.to_owned());
        self.db
            .read(move |conn| {
                optional(
                    conn.prepare_cached(
                        "SELECT * FROM notifications WHERE org_id = ?1 AND reminder_id = ?2",
                    )?
                    .query_row(params![org.as_str(), reminder], notification_record),
                )?
                .map(NotificationRecord::into_notification)
                .transpose()
            })
            .await
    }

    async fn deliveries(&self, notification_id: &str) -> StoreResult<Vec<Delivery>> {
        let id = notification_id.to_owned();
        let mut deliveries: Vec<Delivery> = self
            .db
            .read(move |conn| {
                let rows: Vec<DeliveryRecord> = conn
                    .prepare_cached("SELECT * FROM deliveries WHERE notification_id = ?1")?
                    .query_map([id], delivery_record)?
                    .collect::<Result<_, _>>()?;
                rows.into_iter()
                    .map(DeliveryRecord::into_delivery)
                    .collect()
            })
            .await?;
        deliveries.sort_by_key(|d: &Delivery| channel_rank(d.channel));
        Ok(deliveries)
    }

    async fn attempts(&self, delivery_id: &str) -> StoreResult<Vec<DeliveryAttempt>> {
        let id = delivery_id.to_owned();
        self.db
            .read(move |conn| {
                let rows: Vec<AttemptRecord> = conn
                    .prepare_cached(
                        "SELECT * FROM delivery_attempts WHERE delivery_id = ?1 ORDER BY attempt",
                    )?
                    .query_map([id], attempt_record)?
                    .collect::<Result<_, _>>()?;
                rows.into_iter().map(AttemptRecord::into_attempt).collect()
            })
            .await
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
