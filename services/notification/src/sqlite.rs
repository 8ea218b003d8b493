//! SQLite adapter of the notification store.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, Row, params};
use tokio::sync::Notify;
use vwc_store::sqlite::{claim_inbox, enqueue, optional};
use vwc_store::{Plumbed, SqliteDb, StoreError, StoreResult, ts};
use vwc_webhook::WebhookSecret;

use crate::CONSUMER;
use crate::preferences::{format_hhmm, parse_hhmm};
use crate::quiet_hours::QuietHours;
use crate::store::{
    AttemptOutcome, ClaimedDelivery, Delivery, DeliveryAttempt, DeliveryStatus, Lease,
    NewNotification, Notification, NotificationStore, Preferences, SavedPreferences, SecretChange,
    Settlement, StoredPreferences, channel_rank, parse_channel, parse_severity,
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

fn parse_ts(s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Other(format!("bad timestamp {s:?}: {e}")))
}

fn opt_ts(s: Option<String>) -> StoreResult<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_ts).transpose()
}

const PREFERENCE_COLUMNS: &str = "webhook_url, email, quiet_start, quiet_end, quiet_tz_offset_minutes, webhook_secret, updated_at";

/// webhook_url, email, quiet_start, quiet_end, quiet_tz_offset_minutes, webhook_secret, updated_at
type PreferenceRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i32>,
    Option<String>,
    String,
);

fn read_preferences(conn: &Connection, org_id: &str) -> StoreResult<Option<StoredPreferences>> {
    let row: Option<PreferenceRow> = optional(
        conn.prepare_cached(&format!(
            "SELECT {PREFERENCE_COLUMNS} FROM preferences WHERE org_id = ?1"
        ))?
        .query_row([org_id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        }),
    )?;
    let Some((webhook_url, email, start, end, tz, secret, updated_at)) = row else {
        return Ok(None);
    };
    let quiet_hours = match (start, end) {
        (Some(start), Some(end)) => Some(QuietHours {
            start: parse_hhmm(&start)
                .ok_or_else(|| StoreError::Other(format!("bad quiet_start {start:?}")))?,
            end: parse_hhmm(&end)
                .ok_or_else(|| StoreError::Other(format!("bad quiet_end {end:?}")))?,
            tz_offset_minutes: tz.unwrap_or(0),
        }),
        _ => None,
    };
    let webhook_secret = secret
        .as_deref()
        .map(WebhookSecret::parse)
        .transpose()
        .map_err(|e| StoreError::Other(format!("stored webhook secret: {e}")))?;
    Ok(Some(StoredPreferences {
        preferences: Preferences {
            webhook_url,
            email,
            quiet_hours,
        },
        webhook_secret,
        updated_at: parse_ts(&updated_at)?,
    }))
}

const NOTIFICATION_COLUMNS: &str =
    "id, org_id, reminder_id, vehicle_id, title, body, severity, reminder, traceparent, created_at";

fn notification_from_row(r: &Row<'_>) -> rusqlite::Result<[Option<String>; 10]> {
    let mut out: [Option<String>; 10] = Default::default();
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = r.get(i)?;
    }
    Ok(out)
}

fn notification_from_columns(c: [Option<String>; 10]) -> StoreResult<Notification> {
    let [
        id,
        org_id,
        reminder_id,
        vehicle_id,
        title,
        body,
        severity,
        reminder,
        trace,
        created,
    ] = c;
    let need = |v: Option<String>, name: &str| {
        v.ok_or_else(|| StoreError::Other(format!("notification column {name} is null")))
    };
    Ok(Notification {
        id: need(id, "id")?,
        org_id: need(org_id, "org_id")?,
        reminder_id: need(reminder_id, "reminder_id")?,
        vehicle_id,
        title: need(title, "title")?,
        body: need(body, "body")?,
        severity: parse_severity(&need(severity, "severity")?)?,
        reminder: serde_json::from_str(&need(reminder, "reminder")?)?,
        traceparent: trace,
        created_at: parse_ts(&need(created, "created_at")?)?,
    })
}

fn read_notification(conn: &Connection, id: &str) -> StoreResult<Notification> {
    let cols = conn
        .prepare_cached(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?1"
        ))?
        .query_row([id], notification_from_row)?;
    notification_from_columns(cols)
}

const DELIVERY_COLUMNS: &str = "id, notification_id, org_id, channel, status, attempts, \
     next_attempt_at, created_at, delivered_at, last_error";

/// The columns of `DELIVERY_COLUMNS`, as read.
struct DeliveryRow {
    id: String,
    notification_id: String,
    org_id: String,
    channel: String,
    status: String,
    attempts: i64,
    next_attempt_at: Option<String>,
    created_at: String,
    delivered_at: Option<String>,
    last_error: Option<String>,
}

fn delivery_row(r: &Row<'_>) -> rusqlite::Result<DeliveryRow> {
    Ok(DeliveryRow {
        id: r.get(0)?,
        notification_id: r.get(1)?,
        org_id: r.get(2)?,
        channel: r.get(3)?,
        status: r.get(4)?,
        attempts: r.get(5)?,
        next_attempt_at: r.get(6)?,
        created_at: r.get(7)?,
        delivered_at: r.get(8)?,
        last_error: r.get(9)?,
    })
}

impl DeliveryRow {
    fn into_delivery(self) -> StoreResult<Delivery> {
        Ok(Delivery {
            id: self.id,
            notification_id: self.notification_id,
            org_id: self.org_id,
            channel: parse_channel(&self.channel)?,
            status: DeliveryStatus::parse(&self.status)?,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            next_attempt_at: opt_ts(self.next_attempt_at)?,
            created_at: parse_ts(&self.created_at)?,
            delivered_at: opt_ts(self.delivered_at)?,
            last_error: self.last_error,
        })
    }
}

fn insert_delivery(conn: &Connection, reminder_id: &str, d: &Delivery) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO deliveries (id, notification_id, org_id, reminder_id, channel, status, attempts,
             next_attempt_at, created_at, delivered_at, last_error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        d.id,
        d.notification_id,
        d.org_id,
        reminder_id,
        d.channel.as_str(),
        d.status.as_str(),
        d.attempts,
        d.next_attempt_at.as_ref().map(ts),
        ts(&d.created_at),
        d.delivered_at.as_ref().map(ts),
        d.last_error,
    ])?;
    Ok(())
}

fn insert_attempt(conn: &Connection, a: &DeliveryAttempt) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO delivery_attempts (delivery_id, attempt, at, outcome, http_status, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        a.delivery_id,
        a.attempt,
        ts(&a.at),
        a.outcome.as_str(),
        a.http_status,
        a.error,
    ])?;
    Ok(())
}

#[async_trait]
impl NotificationStore for SqliteNotificationStore {
    async fn preferences(&self, org_id: &str) -> StoreResult<Option<StoredPreferences>> {
        let org = org_id.to_owned();
        self.db.read(move |conn| read_preferences(conn, &org)).await
    }

    async fn save_preferences(
        &self,
        org_id: &str,
        preferences: &Preferences,
        secret: SecretChange,
        now: DateTime<Utc>,
    ) -> StoreResult<SavedPreferences> {
        let (org, p) = (org_id.to_owned(), preferences.clone());
        self.db
            .write(move |conn| {
                let existing = read_preferences(conn, &org)?.and_then(|s| s.webhook_secret);
                let (kept, issued) = match (existing, secret) {
                    (existing, SecretChange::Keep) => (existing, None),
                    (Some(existing), SecretChange::IssueIfMissing(_)) => (Some(existing), None),
                    (None, SecretChange::IssueIfMissing(new)) | (_, SecretChange::Replace(new)) => {
                        (Some(new.clone()), Some(new))
                    }
                };
                let q = p.quiet_hours;
                conn.prepare_cached(&format!(
                    "INSERT INTO preferences (org_id, {PREFERENCE_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (org_id) DO UPDATE SET webhook_url = excluded.webhook_url,
                       email = excluded.email, quiet_start = excluded.quiet_start,
                       quiet_end = excluded.quiet_end,
                       quiet_tz_offset_minutes = excluded.quiet_tz_offset_minutes,
                       webhook_secret = excluded.webhook_secret, updated_at = excluded.updated_at"
                ))?
                .execute(params![
                    org,
                    p.webhook_url,
                    p.email,
                    q.map(|q| format_hhmm(q.start)),
                    q.map(|q| format_hhmm(q.end)),
                    q.map(|q| q.tz_offset_minutes),
                    kept.as_ref().map(|s| s.expose().to_owned()),
                    ts(&now),
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
        let (envelope_id, new) = (envelope_id.to_owned(), new.clone());
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
                    .query_row(params![n.org_id, n.reminder_id], |r| r.get(0)),
                )?;
                if seen.is_some() {
                    // The same reminder under another envelope id: already told.
                    return Ok(false);
                }
                conn.prepare_cached(&format!(
                    "INSERT INTO notifications ({NOTIFICATION_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                ))?
                .execute(params![
                    n.id,
                    n.org_id,
                    n.reminder_id,
                    n.vehicle_id,
                    n.title,
                    n.body,
                    n.severity.as_str(),
                    serde_json::to_string(&n.reminder)?,
                    n.traceparent,
                    ts(&n.created_at),
                ])?;
                for d in &new.deliveries {
                    insert_delivery(conn, &n.reminder_id, d)?;
                }
                for a in &new.attempts {
                    insert_attempt(conn, a)?;
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

    async fn claim_due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: chrono::TimeDelta,
        skip_orgs: &[String],
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let skip = serde_json::to_string(skip_orgs)?;
        self.db
            .write(move |conn| {
                let due: Vec<DeliveryRow> = conn
                    .prepare_cached(&format!(
                        "SELECT {DELIVERY_COLUMNS} FROM deliveries
                         WHERE status = 'pending' AND next_attempt_at <= ?1
                           AND org_id NOT IN (SELECT value FROM json_each(?3))
                         ORDER BY next_attempt_at, id LIMIT ?2"
                    ))?
                    .query_map(
                        params![ts(&now), i64::try_from(limit).unwrap_or(i64::MAX), skip],
                        delivery_row,
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
        let (lease, settlement) = (lease.clone(), settlement.clone());
        let has_event = matches!(
            &settlement,
            Settlement::Attempted {
                delivered_event: Some(_),
                ..
            }
        );
        let apply = move |conn: &Connection| -> StoreResult<bool> {
            let current: Option<(String, Option<String>)> = optional(
                conn.prepare_cached("SELECT status, lease_token FROM deliveries WHERE id = ?1")?
                    .query_row([&lease.delivery_id], |r| Ok((r.get(0)?, r.get(1)?))),
            )?;
            match current {
                Some((status, Some(token)))
                    if status == DeliveryStatus::Pending.as_str() && token == lease.token => {}
                _ => return Ok(false),
            }
            match &settlement {
                Settlement::Attempted {
                    attempt,
                    retry_at,
                    delivered_event,
                } => {
                    insert_attempt(conn, attempt)?;
                    let delivered_at =
                        (attempt.outcome == AttemptOutcome::Delivered).then(|| ts(&attempt.at));
                    let next = match attempt.outcome {
                        AttemptOutcome::RetryScheduled => retry_at.as_ref().map(ts),
                        _ => None,
                    };
                    conn.prepare_cached(
                        "UPDATE deliveries SET status = ?2, attempts = ?3, next_attempt_at = ?4,
                           lease_token = NULL, delivered_at = ?5, last_error = ?6
                         WHERE id = ?1",
                    )?
                    .execute(params![
                        lease.delivery_id,
                        attempt.outcome.status_after().as_str(),
                        attempt.attempt,
                        next,
                        delivered_at,
                        attempt.error,
                    ])?;
                    if let Some(event) = delivered_event {
                        enqueue(conn, std::slice::from_ref(event.as_ref()))?;
                    }
                }
                Settlement::Held { until } => {
                    conn.prepare_cached(
                        "UPDATE deliveries SET next_attempt_at = ?2, lease_token = NULL WHERE id = ?1",
                    )?
                    .execute(params![lease.delivery_id, ts(until)])?;
                }
                Settlement::Cancelled { reason } => {
                    conn.prepare_cached(
                        "UPDATE deliveries SET status = ?2, next_attempt_at = NULL,
                           lease_token = NULL, last_error = ?3
                         WHERE id = ?1",
                    )?
                    .execute(params![
                        lease.delivery_id,
                        DeliveryStatus::Cancelled.as_str(),
                        reason
                    ])?;
                }
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
        opt_ts(next)
    }

    async fn notification_for_reminder(
        &self,
        org_id: &str,
        reminder_id: &str,
    ) -> StoreResult<Option<Notification>> {
        let (org, reminder) = (org_id.to_owned(), reminder_id.to_owned());
        self.db
            .read(move |conn| {
                optional(
                    conn.prepare_cached(&format!(
                        "SELECT {NOTIFICATION_COLUMNS} FROM notifications
                         WHERE org_id = ?1 AND reminder_id = ?2"
                    ))?
                    .query_row(params![org, reminder], notification_from_row),
                )?
                .map(notification_from_columns)
                .transpose()
            })
            .await
    }

    async fn deliveries(&self, notification_id: &str) -> StoreResult<Vec<Delivery>> {
        let id = notification_id.to_owned();
        let mut deliveries: Vec<Delivery> = self
            .db
            .read(move |conn| {
                let rows: Vec<DeliveryRow> = conn
                    .prepare_cached(&format!(
                        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE notification_id = ?1"
                    ))?
                    .query_map([id], delivery_row)?
                    .collect::<Result<_, _>>()?;
                rows.into_iter().map(DeliveryRow::into_delivery).collect()
            })
            .await?;
        deliveries.sort_by_key(|d: &Delivery| channel_rank(d.channel));
        Ok(deliveries)
    }

    async fn attempts(&self, delivery_id: &str) -> StoreResult<Vec<DeliveryAttempt>> {
        let id = delivery_id.to_owned();
        self.db
            .read(move |conn| {
                type AttemptRow = (String, u32, String, String, Option<u16>, Option<String>);
                let rows: Vec<AttemptRow> = conn
                    .prepare_cached(
                        "SELECT delivery_id, attempt, at, outcome, http_status, error
                         FROM delivery_attempts WHERE delivery_id = ?1 ORDER BY attempt",
                    )?
                    .query_map([id], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                        ))
                    })?
                    .collect::<Result<_, _>>()?;
                rows.into_iter()
                    .map(|(delivery_id, attempt, at, outcome, http_status, error)| {
                        Ok(DeliveryAttempt {
                            delivery_id,
                            attempt,
                            at: parse_ts(&at)?,
                            outcome: AttemptOutcome::parse(&outcome)?,
                            http_status,
                            error,
                        })
                    })
                    .collect()
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
