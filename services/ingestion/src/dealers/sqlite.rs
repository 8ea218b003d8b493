//! SQLite adapter of the dealer store (the ingestion database).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use vwc_contracts::ids::new_id;
use vwc_contracts::{DealerId, Envelope, OrgId, Vehicle, VehicleEvent};
use vwc_store::sqlite::enqueue;
use vwc_store::{StoreError, StoreResult, ts};
use vwc_webhook::WebhookSecret;

use super::store::{
    DealerRow, DealerStore, EventBuilder, IncomingWebhook, SecretRotation, StoredSecret,
    WebhookOutcome, template_from_text, waiting_template,
};
use crate::SqliteIngestionStore;

pub const MIGRATION: &str = r#"
CREATE TABLE dealers (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE dealer_secrets (
    dealer_id TEXT NOT NULL REFERENCES dealers(id),
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT
);
CREATE INDEX dealer_secrets_by_dealer ON dealer_secrets (dealer_id);
CREATE TABLE dealer_records (
    id TEXT PRIMARY KEY,
    dealer_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    vin TEXT NOT NULL,
    payload_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    template TEXT NOT NULL,
    status TEXT NOT NULL,
    event_id TEXT,
    received_at TEXT NOT NULL,
    UNIQUE (dealer_id, webhook_id)
);
CREATE INDEX dealer_records_unmatched ON dealer_records (org_id, vin) WHERE status = 'unmatched';
"#;

fn parse_ts(s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Other(format!("bad timestamp {s:?}: {e}")))
}

fn vehicle_by_vin(conn: &Connection, org_id: &str, vin: &str) -> StoreResult<Option<Vehicle>> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM vehicles WHERE org_id = ?1 AND vin = ?2")?
        .query_row(params![org_id, vin], |r| r.get(0))
        .optional()?;
    Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
}

fn insert_event(conn: &Connection, event: &VehicleEvent, envelope: &Envelope) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO vehicle_events (id, org_id, vehicle_id, occurred_at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        event.id,
        event.org_id,
        event.vehicle_id,
        ts(&event.occurred_at),
        serde_json::to_string(event)?
    ])?;
    enqueue(conn, std::slice::from_ref(envelope))
}

/// Inserts the event a dealer record was built into, if it was: the record's status then (`recorded`,
/// else `otherwise`) and the event's id.
fn record_built(
    conn: &Connection,
    built: Option<(VehicleEvent, Envelope)>,
    otherwise: &'static str,
) -> StoreResult<(&'static str, Option<String>)> {
    Ok(match built {
        Some((event, envelope)) => {
            insert_event(conn, &event, &envelope)?;
            ("recorded", Some(event.id.to_string()))
        }
        None => (otherwise, None),
    })
}

#[async_trait]
impl DealerStore for SqliteIngestionStore {
    async fn insert_dealer(&self, dealer: &DealerRow) -> StoreResult<()> {
        let d = dealer.clone();
        let secrets: Vec<(String, String)> = d
            .secrets
            .iter()
            .map(|s| (s.secret.expose().to_string(), ts(&s.created_at)))
            .collect();
        self.db()
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO dealers (id, org_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![d.id, d.org_id, d.name, ts(&d.created_at)],
                )?;
                for (secret, created) in &secrets {
                    conn.execute(
                        "INSERT INTO dealer_secrets (dealer_id, secret, created_at) VALUES (?1, ?2, ?3)",
                        params![d.id, secret, created],
                    )?;
                }
                Ok(())
            })
            .await
    }

    async fn dealer(&self, dealer_id: &DealerId) -> StoreResult<Option<DealerRow>> {
        let id = dealer_id.to_string();
        self.db()
            .read(move |conn| {
                let row: Option<(String, String, String)> = conn
                    .prepare_cached("SELECT org_id, name, created_at FROM dealers WHERE id = ?1")?
                    .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                let Some((org_id, name, created_at)) = row else {
                    return Ok(None);
                };
                let mut stmt = conn.prepare_cached(
                    "SELECT secret, created_at, expires_at FROM dealer_secrets WHERE dealer_id = ?1 ORDER BY created_at DESC",
                )?;
                let rows = stmt.query_map([&id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?))
                })?;
                let mut secrets = Vec::new();
                for row in rows {
                    let (secret, created, expires) = row?;
                    secrets.push(StoredSecret {
                        secret: WebhookSecret::parse(&secret)
                            .map_err(|e| StoreError::Other(format!("stored dealer secret unreadable: {e}")))?,
                        created_at: parse_ts(&created)?,
                        expires_at: expires.as_deref().map(parse_ts).transpose()?,
                    });
                }
                Ok(Some(DealerRow {
                    id,
                    org_id,
                    name,
                    created_at: parse_ts(&created_at)?,
                    secrets,
                }))
            })
            .await
    }

    async fn rotate_secret(&self, org_id: &OrgId, rotation: &SecretRotation) -> StoreResult<bool> {
        let (org, id, secret) = (
            org_id.to_string(),
            rotation.dealer_id.to_string(),
            rotation.secret.expose().to_string(),
        );
        let (now, old_expires_at) = (rotation.at, rotation.old_expires_at);
        self.db()
            .write(move |conn| {
                let exists: Option<i64> = conn
                    .query_row(
                        "SELECT 1 FROM dealers WHERE id = ?1 AND org_id = ?2",
                        params![id, org],
                        |r| r.get(0),
                    )
                    .optional()?;
                if exists.is_none() {
                    return Ok(false);
                }
                let now = ts(&now);
                // Only the secret being replaced keeps its grace period: one still verifying from an
                // earlier rotation ends now, so rotating twice revokes a leaked secret at once.
                conn.execute(
                    "UPDATE dealer_secrets SET expires_at = ?2
                     WHERE dealer_id = ?1 AND expires_at IS NOT NULL AND expires_at > ?2",
                    params![id, now],
                )?;
                conn.execute(
                    "UPDATE dealer_secrets SET expires_at = ?2 WHERE dealer_id = ?1 AND expires_at IS NULL",
                    params![id, ts(&old_expires_at)],
                )?;
                conn.execute(
                    "INSERT INTO dealer_secrets (dealer_id, secret, created_at) VALUES (?1, ?2, ?3)",
                    params![id, secret, now],
                )?;
                Ok(true)
            })
            .await
    }

    async fn receive_webhook(
        &self,
        incoming: &IncomingWebhook,
        build: EventBuilder,
    ) -> StoreResult<WebhookOutcome> {
        let IncomingWebhook {
            dealer_id,
            org_id,
            webhook_id,
            vin,
            payload_type,
            raw_payload: raw,
            template,
            received_at,
        } = incoming.clone();
        self.db()
            .write_with_events(move |conn| {
                let seen: Option<(String, Option<String>)> = conn
                    .prepare_cached(
                        "SELECT id, event_id FROM dealer_records WHERE dealer_id = ?1 AND webhook_id = ?2",
                    )?
                    .query_row(params![dealer_id, webhook_id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                if let Some((record_id, event_id)) = seen {
                    return Ok(WebhookOutcome::Duplicate { record_id, event_id });
                }
                let record_id = new_id("dlrec");
                // The template is kept only while the record waits for its vehicle (`waiting_template`).
                let (built, template) = match vehicle_by_vin(conn, &org_id, &vin)? {
                    Some(vehicle) => match build(&vehicle, template, &record_id) {
                        Ok(built) => (Some(built), String::new()),
                        Err(errors) => return Ok(WebhookOutcome::Refused(errors)),
                    },
                    None => (None, waiting_template(&template)?),
                };
                let (status, event_id) = record_built(conn, built, "unmatched")?;
                conn.prepare_cached(
                    "INSERT INTO dealer_records (id, dealer_id, org_id, webhook_id, vin, payload_type, payload, template, status, event_id, received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?
                .execute(params![record_id, dealer_id, org_id, webhook_id, vin, payload_type, raw, template, status, event_id,
                    ts(&received_at)])?;
                Ok(match event_id {
                    Some(event_id) => WebhookOutcome::Recorded { record_id, event_id },
                    None => WebhookOutcome::Unmatched { record_id },
                })
            })
            .await
    }

    async fn adopt_unmatched(&self, vehicle: &Vehicle, build: EventBuilder) -> StoreResult<usize> {
        let v = vehicle.clone();
        self.db()
            .write_with_events(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT id, template FROM dealer_records WHERE org_id = ?1 AND vin = ?2 AND status = 'unmatched' ORDER BY received_at",
                )?;
                let records: Vec<(String, String)> = stmt
                    .query_map(params![v.org_id, v.vin], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                let mut adopted = 0;
                for (record_id, template) in records {
                    let built = template_from_text(&template)
                        .and_then(|template| build(&v, template, &record_id).ok());
                    // Valid when received, but not for this vehicle: kept for audit, rejected.
                    let (status, event_id) = record_built(conn, built, "rejected")?;
                    adopted += usize::from(event_id.is_some());
                    // Once per record: the statement is prepared once.
                    conn.prepare_cached(
                        "UPDATE dealer_records SET status = ?2, event_id = ?3 WHERE id = ?1",
                    )?
                    .execute(params![record_id, status, event_id])?;
                }
                Ok(adopted)
            })
            .await
    }

    async fn vehicles_with_unmatched_records(&self) -> StoreResult<Vec<Vehicle>> {
        self.db()
            .read(|conn| {
                let mut stmt = conn.prepare(
                    "SELECT DISTINCT v.body FROM dealer_records r JOIN vehicles v ON v.org_id = r.org_id AND v.vin = r.vin
                     WHERE r.status = 'unmatched'",
                )?;
                let bodies: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                bodies.iter().map(|b| Ok(serde_json::from_str(b)?)).collect()
            })
            .await
    }
}
