//! SQLite adapter of the chat historian's store.

use std::path::Path;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde::de::DeserializeOwned;
use vwc_contracts::maintenance::MaintenanceScheduleUpdated;
use vwc_contracts::{OrgId, Vehicle, VehicleEvent};
use vwc_store::parse_ts;
use vwc_store::sqlite::claim_inbox;
use vwc_store::{Plumbed, SqliteDb, StoreResult, ts};

use crate::CONSUMER;
use crate::knowledge::{ValuationPoint, VehicleKnowledge};
use crate::store::{
    AuditQuery, ChatStore, ChatTurn, Conversation, Feedback, KnowledgeChange, MessageRef, Revision,
    VehicleRef,
};

/// This database's schema steps, run in order once each (`user_version` counts those run). Append only: a
/// step changed, moved or removed would be run twice, or never, on a database that ran the old list
/// (`shared/store/migrations.lock` pins them; `VWC_BLESS=1 cargo test -p vwc --lib migrations` records a new one).
pub const MIGRATIONS: &[&str] = &[
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

/// The JSON `body` column of the one row `sql` selects, decoded.
fn body<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> StoreResult<Option<T>> {
    let text: Option<String> = conn
        .prepare_cached(sql)?
        .query_row(args, |r| r.get(0))
        .optional()?;
    Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
}

/// The JSON `body` column of every row `sql` selects, decoded.
fn bodies<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let texts: Vec<String> = stmt
        .query_map(args, |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    texts.iter().map(|t| Ok(serde_json::from_str(t)?)).collect()
}

fn bump(conn: &Connection, vehicle_id: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO knowledge_versions (vehicle_id, version) VALUES (?1, 1)
         ON CONFLICT (vehicle_id) DO UPDATE SET version = version + 1",
    )?
    .execute([vehicle_id])?;
    Ok(())
}

/// Keeps the vehicle as it now reads; a re-registration never moves it to another organisation.
fn keep_vehicle(conn: &Connection, v: &Vehicle, body: &str) -> StoreResult<bool> {
    put_body(
        conn,
        "vehicles",
        "id",
        (v.id.as_str(), v.org_id.as_str()),
        body,
    )?;
    Ok(true)
}

/// Adds a record unless it is already held: `false` then.
fn add_record(conn: &Connection, e: &VehicleEvent, body: &str) -> StoreResult<bool> {
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO timeline (id, org_id, vehicle_id, occurred_at, body)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            e.id.as_str(),
            e.org_id.as_str(),
            e.vehicle_id.as_str(),
            ts(&e.occurred_at),
            body
        ])?;
    Ok(inserted > 0)
}

/// Replaces the record with a later revision of it (of the same organisation); `false` when not later.
fn revise_record(conn: &Connection, r: &Revision, body: &str) -> StoreResult<bool> {
    let e = &r.event;
    let changed = conn
        .prepare_cached(
            "INSERT INTO timeline (id, org_id, vehicle_id, occurred_at, body, revision, voided)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (id) DO UPDATE SET occurred_at = excluded.occurred_at,
               body = excluded.body, revision = excluded.revision, voided = excluded.voided
             WHERE excluded.revision > timeline.revision AND timeline.org_id = excluded.org_id",
        )?
        .execute(params![
            e.id.as_str(),
            e.org_id.as_str(),
            e.vehicle_id.as_str(),
            ts(&e.occurred_at),
            body,
            r.number,
            r.voided as i64
        ])?;
    Ok(changed > 0)
}

/// Keeps the point unless a later one is held: `false` then.
fn keep_valuation(
    conn: &Connection,
    v: &VehicleRef,
    point: &ValuationPoint,
    json: &str,
) -> StoreResult<bool> {
    let stored: Option<ValuationPoint> = body(
        conn,
        "SELECT body FROM valuations WHERE vehicle_id = ?1",
        [v.vehicle_id.as_str()],
    )?;
    if stored.is_some_and(|stored| !point.supersedes(&stored)) {
        return Ok(false);
    }
    let row = (v.vehicle_id.as_str(), v.org_id.as_str());
    put_body(conn, "valuations", "vehicle_id", row, json)?;
    Ok(true)
}

/// Stores `body` in the row `(id, org_id)` of a `(key, org_id, body)` table, replacing the body held under
/// the same id: a row never moves to another organisation.
fn put_body(
    conn: &Connection,
    table: &str,
    key: &str,
    (id, org_id): (&str, &str),
    body: &str,
) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO {table} ({key}, org_id, body) VALUES (?1, ?2, ?3)
         ON CONFLICT ({key}) DO UPDATE SET body = excluded.body"
    ))?
    .execute(params![id, org_id, body])?;
    Ok(())
}

/// Replaces the schedule unless a newer evaluation is held: `false` then.
fn keep_schedule(
    conn: &Connection,
    org: &OrgId,
    u: &MaintenanceScheduleUpdated,
    body: &str,
) -> StoreResult<bool> {
    let changed = conn.execute(
        "INSERT INTO maintenance (vehicle_id, org_id, evaluated_at, body) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (vehicle_id) DO UPDATE SET evaluated_at = excluded.evaluated_at, body = excluded.body
         WHERE excluded.evaluated_at >= maintenance.evaluated_at",
        params![u.vehicle_id, org.as_str(), ts(&u.evaluated_at), body],
    )?;
    Ok(changed > 0)
}

#[async_trait]
impl ChatStore for SqliteChatStore {
    async fn apply_change(&self, envelope_id: &str, change: KnowledgeChange) -> StoreResult<bool> {
        let (id, body) = (envelope_id.to_string(), change.body()?);
        self.db
            .write(move |conn| {
                if !claim_inbox(conn, CONSUMER, &id)? {
                    return Ok(false);
                }
                let (vehicle_id, changed) = match &change {
                    KnowledgeChange::Vehicle(v) => (v.id.as_str(), keep_vehicle(conn, v, &body)?),
                    KnowledgeChange::Record(e) => {
                        if !add_record(conn, e, &body)? {
                            // The same record under another envelope id.
                            return Ok(false);
                        }
                        (e.vehicle_id.as_str(), true)
                    }
                    KnowledgeChange::Revision(r) => {
                        (r.event.vehicle_id.as_str(), revise_record(conn, r, &body)?)
                    }
                    KnowledgeChange::Valuation(v, point) => (
                        v.vehicle_id.as_str(),
                        keep_valuation(conn, v, point, &body)?,
                    ),
                    KnowledgeChange::Maintenance(org, u) => {
                        (u.vehicle_id.as_str(), keep_schedule(conn, org, u, &body)?)
                    }
                };
                if changed {
                    bump(conn, vehicle_id)?;
                }
                Ok(true)
            })
            .await
    }

    async fn knowledge_version(&self, vehicle: &VehicleRef) -> StoreResult<Option<u64>> {
        let v = vehicle.clone();
        self.db
            .read(move |conn| {
                let version: Option<i64> = conn
                    .prepare_cached(
                        "SELECT coalesce(k.version, 0) FROM vehicles v
                         LEFT JOIN knowledge_versions k ON k.vehicle_id = v.id
                         WHERE v.id = ?1 AND v.org_id = ?2",
                    )?
                    .query_row(params![v.vehicle_id.as_str(), v.org_id.as_str()], |r| {
                        r.get(0)
                    })
                    .optional()?;
                Ok(version.map(|v| v as u64))
            })
            .await
    }

    async fn knowledge(&self, vehicle: &VehicleRef) -> StoreResult<Option<VehicleKnowledge>> {
        let v = vehicle.clone();
        self.db
            .read(move |conn| {
                let ids = params![v.vehicle_id.as_str(), v.org_id.as_str()];
                // One snapshot: a consumer committing meanwhile is seen entirely or not at all.
                let tx = conn.unchecked_transaction()?;
                let Some(vehicle) = body::<Vehicle>(
                    &tx,
                    "SELECT body FROM vehicles WHERE id = ?1 AND org_id = ?2",
                    ids,
                )?
                else {
                    return Ok(None);
                };
                let version: i64 = tx
                    .prepare_cached("SELECT version FROM knowledge_versions WHERE vehicle_id = ?1")?
                    .query_row([v.vehicle_id.as_str()], |r| r.get(0))
                    .optional()?
                    .unwrap_or(0);
                let events = bodies(
                    &tx,
                    "SELECT body FROM timeline WHERE vehicle_id = ?1 AND org_id = ?2 AND voided = 0
                     ORDER BY occurred_at, id",
                    ids,
                )?;
                let valuation = body(
                    &tx,
                    "SELECT body FROM valuations WHERE vehicle_id = ?1 AND org_id = ?2",
                    ids,
                )?;
                let maintenance = body(
                    &tx,
                    "SELECT body FROM maintenance WHERE vehicle_id = ?1 AND org_id = ?2",
                    ids,
                )?;
                tx.commit()?;
                let mut knowledge = VehicleKnowledge {
                    vehicle_id: v.vehicle_id.into_string(),
                    org_id: v.org_id.into_string(),
                    vehicle: Some(vehicle),
                    events,
                    valuation,
                    maintenance,
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
                .execute(params![t.conversation_id, t.org_id.as_str(), t.vehicle_id.as_str(), ts(&t.asked_at), t.asked_by])?;
                conn.prepare_cached(
                    "INSERT INTO chat_messages (id, conversation_id, org_id, vehicle_id, asked_at, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![t.message_id, t.conversation_id, t.org_id.as_str(), t.vehicle_id.as_str(), ts(&t.asked_at), body])?;
                Ok(())
            })
            .await
    }

    async fn conversation(
        &self,
        vehicle: &VehicleRef,
        conversation_id: &str,
    ) -> StoreResult<Option<Conversation>> {
        let (v, id) = (vehicle.clone(), conversation_id.to_string());
        self.db
            .read(move |conn| {
                let head: Option<(String, String)> = conn
                    .prepare_cached(
                        "SELECT started_at, started_by FROM conversations
                         WHERE id = ?1 AND org_id = ?2 AND vehicle_id = ?3",
                    )?
                    .query_row(params![id, v.org_id.as_str(), v.vehicle_id.as_str()], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                let Some((started_at, started_by)) = head else {
                    return Ok(None);
                };
                let messages = bodies(
                    conn,
                    "SELECT body FROM chat_messages WHERE conversation_id = ?1 AND org_id = ?2
                     ORDER BY asked_at, id",
                    params![id, v.org_id.as_str()],
                )?;
                Ok(Some(Conversation {
                    conversation_id: id,
                    vehicle_id: v.vehicle_id,
                    started_at: parse_ts(&started_at)?,
                    started_by,
                    messages,
                }))
            })
            .await
    }

    async fn set_feedback(&self, message: &MessageRef, feedback: &Feedback) -> StoreResult<bool> {
        let (m, feedback) = (message.clone(), feedback.clone());
        self.db
            .write(move |conn| {
                let turn: Option<ChatTurn> = body(
                    conn,
                    "SELECT body FROM chat_messages
                     WHERE id = ?1 AND conversation_id = ?2 AND org_id = ?3 AND vehicle_id = ?4",
                    params![
                        m.message_id,
                        m.conversation_id,
                        m.vehicle.org_id.as_str(),
                        m.vehicle.vehicle_id.as_str()
                    ],
                )?;
                let Some(mut turn) = turn else {
                    return Ok(false);
                };
                turn.feedback = Some(feedback);
                conn.prepare_cached("UPDATE chat_messages SET body = ?2 WHERE id = ?1")?
                    .execute(params![m.message_id, serde_json::to_string(&turn)?])?;
                Ok(true)
            })
            .await
    }

    async fn audit(&self, query: AuditQuery<'_>) -> StoreResult<Vec<ChatTurn>> {
        let (org, limit) = (query.org_id.clone(), query.limit);
        let since = query.since.map(|s| ts(&s)).unwrap_or_default();
        self.db
            .read(move |conn| {
                bodies(
                    conn,
                    "SELECT body FROM chat_messages WHERE org_id = ?1 AND asked_at >= ?2
                     ORDER BY asked_at, id LIMIT ?3",
                    params![org.as_str(), since, limit as i64],
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
