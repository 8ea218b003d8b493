//! SQLite adapter of the chat historian's store.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use vwc_contracts::maintenance::MaintenanceScheduleUpdated;
use vwc_contracts::{Vehicle, VehicleEvent};
use vwc_store::sqlite::claim_inbox;
use vwc_store::{Plumbed, SqliteDb, StoreError, StoreResult, ts};

use crate::CONSUMER;
use crate::knowledge::{ValuationPoint, VehicleKnowledge};
use crate::store::{ChatStore, ChatTurn, Conversation, Feedback};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE vehicles (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    body TEXT NOT NULL
);
-- Bumped by every applied change of a vehicle's knowledge (events may come before the registration).
CREATE TABLE knowledge_versions (
    vehicle_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);
CREATE TABLE timeline (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    vehicle_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX timeline_by_vehicle ON timeline (org_id, vehicle_id, occurred_at, id);
CREATE TABLE valuations (
    vehicle_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE maintenance (
    vehicle_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    evaluated_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    vehicle_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    started_by TEXT NOT NULL
);
CREATE TABLE chat_messages (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    vehicle_id TEXT NOT NULL,
    asked_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX chat_messages_by_conversation ON chat_messages (conversation_id, asked_at, id);
CREATE INDEX chat_messages_audit ON chat_messages (org_id, asked_at, id);
"#,
    // Corrections and voids: the revision a row holds, and whether it is voided (never read then).
    r#"
ALTER TABLE timeline ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE timeline ADD COLUMN voided INTEGER NOT NULL DEFAULT 0;
"#,
];

#[derive(Clone)]
pub struct SqliteChatStore {
    db: SqliteDb,
}

impl SqliteChatStore {
    pub fn open(path: &Path) -> StoreResult<SqliteChatStore> {
        Ok(SqliteChatStore {
            db: SqliteDb::open(path, MIGRATIONS)?,
        })
    }
}

#[async_trait]
impl crate::store::RevisionKnowledge for SqliteChatStore {
    async fn apply_event_revision(
        &self,
        envelope_id: &str,
        event: &VehicleEvent,
        revision: u32,
        voided: bool,
    ) -> StoreResult<bool> {
        let (id, e, body) = (
            envelope_id.to_string(),
            event.clone(),
            serde_json::to_string(event)?,
        );
        self.db
            .write(move |conn| {
                if !claim_inbox(conn, CONSUMER, &id)? {
                    return Ok(false);
                }
                let changed = conn
                    .prepare_cached(
                        "INSERT INTO timeline (id, org_id, vehicle_id, occurred_at, body, revision, voided)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                         ON CONFLICT (id) DO UPDATE SET occurred_at = excluded.occurred_at,
                           body = excluded.body, revision = excluded.revision, voided = excluded.voided
                         WHERE excluded.revision > timeline.revision AND timeline.org_id = excluded.org_id",
                    )?
                    .execute(params![
                        e.id,
                        e.org_id,
                        e.vehicle_id,
                        ts(&e.occurred_at),
                        body,
                        revision,
                        voided as i64
                    ])?;
                if changed > 0 {
                    bump(conn, &e.vehicle_id)?;
                }
                Ok(true)
            })
            .await
    }
}

fn bump(conn: &Connection, vehicle_id: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO knowledge_versions (vehicle_id, version) VALUES (?1, 1)
         ON CONFLICT (vehicle_id) DO UPDATE SET version = version + 1",
    )?
    .execute([vehicle_id])?;
    Ok(())
}

fn parse_ts(s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Other(format!("bad timestamp {s:?}: {e}")))
}

fn turns(
    conn: &Connection,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> StoreResult<Vec<ChatTurn>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let bodies: Vec<String> = stmt
        .query_map(args, |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    bodies
        .iter()
        .map(|b| Ok(serde_json::from_str(b)?))
        .collect()
}

#[async_trait]
impl ChatStore for SqliteChatStore {
    async fn apply_vehicle_registered(
        &self,
        envelope_id: &str,
        vehicle: &Vehicle,
    ) -> StoreResult<bool> {
        let (id, v, body) = (
            envelope_id.to_string(),
            vehicle.clone(),
            serde_json::to_string(vehicle)?,
        );
        self.db
            .write(move |conn| {
                if !claim_inbox(conn, CONSUMER, &id)? {
                    return Ok(false);
                }
                // A re-registration refreshes the details but never moves a vehicle to another organisation.
                conn.execute(
                    "INSERT INTO vehicles (id, org_id, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                    params![v.id, v.org_id, body],
                )?;
                bump(conn, &v.id)?;
                Ok(true)
            })
            .await
    }

    async fn apply_vehicle_event(
        &self,
        envelope_id: &str,
        event: &VehicleEvent,
    ) -> StoreResult<bool> {
        let (id, e, body) = (
            envelope_id.to_string(),
            event.clone(),
            serde_json::to_string(event)?,
        );
        self.db
            .write(move |conn| {
                if !claim_inbox(conn, CONSUMER, &id)? {
                    return Ok(false);
                }
                let inserted = conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO timeline (id, org_id, vehicle_id, occurred_at, body)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![
                        e.id,
                        e.org_id,
                        e.vehicle_id,
                        ts(&e.occurred_at),
                        body
                    ])?;
                if inserted == 0 {
                    return Ok(false);
                }
                bump(conn, &e.vehicle_id)?;
                Ok(true)
            })
            .await
    }

    async fn apply_valuation(
        &self,
        envelope_id: &str,
        org_id: &str,
        vehicle_id: &str,
        point: &ValuationPoint,
    ) -> StoreResult<bool> {
        let (id, org, vehicle, point) = (
            envelope_id.to_string(),
            org_id.to_string(),
            vehicle_id.to_string(),
            point.clone(),
        );
        self.db
            .write(move |conn| {
                if !claim_inbox(conn, CONSUMER, &id)? {
                    return Ok(false);
                }
                let stored: Option<String> = conn
                    .prepare_cached("SELECT body FROM valuations WHERE vehicle_id = ?1")?
                    .query_row([&vehicle], |r| r.get(0))
                    .optional()?;
                if let Some(stored) = stored {
                    let stored: ValuationPoint = serde_json::from_str(&stored)?;
                    if !point.supersedes(&stored) {
                        return Ok(true);
                    }
                }
                conn.execute(
                    "INSERT INTO valuations (vehicle_id, org_id, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT (vehicle_id) DO UPDATE SET body = excluded.body",
                    params![vehicle, org, serde_json::to_string(&point)?],
                )?;
                bump(conn, &vehicle)?;
                Ok(true)
            })
            .await
    }

    async fn apply_maintenance(
        &self,
        envelope_id: &str,
        org_id: &str,
        update: &MaintenanceScheduleUpdated,
    ) -> StoreResult<bool> {
        let (id, org, u, body) = (
            envelope_id.to_string(),
            org_id.to_string(),
            update.clone(),
            serde_json::to_string(update)?,
        );
        self.db
            .write(move |conn| {
                if !claim_inbox(conn, CONSUMER, &id)? {
                    return Ok(false);
                }
                let changed = conn.execute(
                    "INSERT INTO maintenance (vehicle_id, org_id, evaluated_at, body) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (vehicle_id) DO UPDATE SET evaluated_at = excluded.evaluated_at, body = excluded.body
                     WHERE excluded.evaluated_at >= maintenance.evaluated_at",
                    params![u.vehicle_id, org, ts(&u.evaluated_at), body],
                )?;
                if changed > 0 {
                    bump(conn, &u.vehicle_id)?;
                }
                Ok(true)
            })
            .await
    }

    async fn knowledge_version(&self, org_id: &str, vehicle_id: &str) -> StoreResult<Option<u64>> {
        let (org, id) = (org_id.to_string(), vehicle_id.to_string());
        self.db
            .read(move |conn| {
                let v: Option<i64> = conn
                    .prepare_cached(
                        "SELECT coalesce(k.version, 0) FROM vehicles v
                         LEFT JOIN knowledge_versions k ON k.vehicle_id = v.id
                         WHERE v.id = ?1 AND v.org_id = ?2",
                    )?
                    .query_row(params![id, org], |r| r.get(0))
                    .optional()?;
                Ok(v.map(|v| v as u64))
            })
            .await
    }

    async fn knowledge(
        &self,
        org_id: &str,
        vehicle_id: &str,
    ) -> StoreResult<Option<VehicleKnowledge>> {
        let (org, id) = (org_id.to_string(), vehicle_id.to_string());
        self.db
            .read(move |conn| {
                // One snapshot: a consumer committing meanwhile is seen entirely or not at all.
                let tx = conn.unchecked_transaction()?;
                let vehicle: Option<String> = tx
                    .prepare_cached("SELECT body FROM vehicles WHERE id = ?1 AND org_id = ?2")?
                    .query_row(params![id, org], |r| r.get(0))
                    .optional()?;
                let Some(vehicle) = vehicle else {
                    return Ok(None);
                };
                let vehicle: Vehicle = serde_json::from_str(&vehicle)?;
                let version: i64 = tx
                    .prepare_cached("SELECT version FROM knowledge_versions WHERE vehicle_id = ?1")?
                    .query_row([&id], |r| r.get(0))
                    .optional()?
                    .unwrap_or(0);
                let mut stmt = tx.prepare_cached(
                    "SELECT body FROM timeline WHERE org_id = ?1 AND vehicle_id = ?2 AND voided = 0
                     ORDER BY occurred_at, id",
                )?;
                let events = stmt
                    .query_map(params![org, id], |r| r.get::<_, String>(0))?
                    .map(|b| Ok(serde_json::from_str::<VehicleEvent>(&b?)?))
                    .collect::<StoreResult<Vec<_>>>()?;
                drop(stmt);
                let valuation: Option<String> = tx
                    .prepare_cached(
                        "SELECT body FROM valuations WHERE vehicle_id = ?1 AND org_id = ?2",
                    )?
                    .query_row(params![id, org], |r| r.get(0))
                    .optional()?;
                let maintenance: Option<String> = tx
                    .prepare_cached(
                        "SELECT body FROM maintenance WHERE vehicle_id = ?1 AND org_id = ?2",
                    )?
                    .query_row(params![id, org], |r| r.get(0))
                    .optional()?;
                tx.commit()?;
                let mut knowledge = VehicleKnowledge {
                    vehicle_id: id,
                    org_id: org,
                    vehicle: Some(vehicle),
                    events,
                    valuation: valuation.map(|b| serde_json::from_str(&b)).transpose()?,
                    maintenance: maintenance.map(|b| serde_json::from_str(&b)).transpose()?,
                    version: version as u64,
                };
                knowledge.sort_events();
                Ok(Some(knowledge))
            })
            .await
    }

    async fn save_turn(&self, turn: &ChatTurn) -> StoreResult<()> {
        let (t, body) = (turn.clone(), serde_json::to_string(turn)?);
        self.db
            .write(move |conn| {
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO conversations (id, org_id, vehicle_id, started_at, started_by)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![t.conversation_id, t.org_id, t.vehicle_id, ts(&t.asked_at), t.asked_by])?;
                conn.prepare_cached(
                    "INSERT INTO chat_messages (id, conversation_id, org_id, vehicle_id, asked_at, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![t.message_id, t.conversation_id, t.org_id, t.vehicle_id, ts(&t.asked_at), body])?;
                Ok(())
            })
            .await
    }

    async fn conversation(
        &self,
        org_id: &str,
        vehicle_id: &str,
        conversation_id: &str,
    ) -> StoreResult<Option<Conversation>> {
        let (org, vehicle, id) = (
            org_id.to_string(),
            vehicle_id.to_string(),
            conversation_id.to_string(),
        );
        self.db
            .read(move |conn| {
                let head: Option<(String, String)> = conn
                    .prepare_cached(
                        "SELECT started_at, started_by FROM conversations
                         WHERE id = ?1 AND org_id = ?2 AND vehicle_id = ?3",
                    )?
                    .query_row(params![id, org, vehicle], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let Some((started_at, started_by)) = head else {
                    return Ok(None);
                };
                let messages = turns(
                    conn,
                    "SELECT body FROM chat_messages WHERE conversation_id = ?1 AND org_id = ?2
                     ORDER BY asked_at, id",
                    &[&id, &org],
                )?;
                Ok(Some(Conversation {
                    conversation_id: id,
                    vehicle_id: vehicle,
                    started_at: parse_ts(&started_at)?,
                    started_by,
                    messages,
                }))
            })
            .await
    }

    async fn set_feedback(
        &self,
        org_id: &str,
        vehicle_id: &str,
        conversation_id: &str,
        message_id: &str,
        feedback: &Feedback,
    ) -> StoreResult<bool> {
        let (org, vehicle, conversation, message, feedback) = (
            org_id.to_string(),
            vehicle_id.to_string(),
            conversation_id.to_string(),
            message_id.to_string(),
            feedback.clone(),
        );
        self.db
            .write(move |conn| {
                let body: Option<String> = conn
                    .prepare_cached(
                        "SELECT body FROM chat_messages
                         WHERE id = ?1 AND conversation_id = ?2 AND org_id = ?3 AND vehicle_id = ?4",
                    )?
                    .query_row(params![message, conversation, org, vehicle], |r| r.get(0))
                    .optional()?;
                let Some(body) = body else {
                    return Ok(false);
                };
                let mut turn: ChatTurn = serde_json::from_str(&body)?;
                turn.feedback = Some(feedback);
                conn.prepare_cached("UPDATE chat_messages SET body = ?2 WHERE id = ?1")?
                    .execute(params![message, serde_json::to_string(&turn)?])?;
                Ok(true)
            })
            .await
    }

    async fn audit(
        &self,
        org_id: &str,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> StoreResult<Vec<ChatTurn>> {
        let org = org_id.to_string();
        let since = since.map(|s| ts(&s)).unwrap_or_default();
        self.db
            .read(move |conn| {
                turns(
                    conn,
                    "SELECT body FROM chat_messages WHERE org_id = ?1 AND asked_at >= ?2
                     ORDER BY asked_at, id LIMIT ?3",
                    &[&org, &since, &(limit as i64)],
                )
            })
            .await
    }
}

impl Plumbed for SqliteChatStore {
    type Db = SqliteDb;
    fn plumbing(&self) -> &SqliteDb {
        &self.db
    }
}
