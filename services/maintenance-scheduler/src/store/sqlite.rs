//! SQLite adapter of the scheduler store. Per-vehicle rows are clustered by vehicle id (`WITHOUT ROWID`),
//! so the sweep reads a page of vehicles with one range-free lookup per table.

use std::collections::HashMap;
use std::path::Path;

use crate::store::{SWEEPS, SweepPage};
use async_trait::async_trait;
use rusqlite::{Connection, params};
use vwc_contracts::VehicleId;
use vwc_store::parse_ts;
use vwc_store::sqlite::optional;
use vwc_store::vehicle_ledger::VehicleLedger;
use vwc_store::vehicle_ledger::sqlite::{apply_head, commit_prepared, read_stored, revisions_of};
use vwc_store::vehicle_ledger::{
    DayLedger, KeepsDays, StoredVehicle, fill_revisions, in_order, keyed_states, parse_day,
};
use vwc_store::{Plumbed, SqliteDb, StoreError, StoreResult, ts};

use crate::CONSUMER;
use crate::evaluation::TimelineFact;
use crate::publishing::{PublishedSchedule, SentReminder};
use crate::store::{
    CommitOutcome, SchedulerStore, VehicleCommit, VehicleFields, VehicleState, parse_wire, state_of,
};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE vehicles (
    id TEXT PRIMARY KEY,
    org_id TEXT,
    name TEXT,
    unit TEXT,
    registered_at TEXT,
    version INTEGER NOT NULL
);
CREATE INDEX vehicles_by_org ON vehicles (org_id, id);
CREATE TABLE facts (
    vehicle_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    odometer INTEGER,
    tasks TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (vehicle_id, event_id)
) WITHOUT ROWID;
CREATE TABLE item_settings (
    vehicle_id TEXT NOT NULL,
    task TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (vehicle_id, task)
) WITHOUT ROWID;
CREATE TABLE published (
    vehicle_id TEXT PRIMARY KEY,
    fingerprint INTEGER NOT NULL,
    statuses TEXT NOT NULL
);
CREATE TABLE reminders (
    vehicle_id TEXT NOT NULL,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    due_cycle TEXT NOT NULL,
    occurrence INTEGER NOT NULL,
    reminder_id TEXT NOT NULL,
    sent_on TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (vehicle_id, task, status, due_cycle, occurrence)
) WITHOUT ROWID;
CREATE TABLE sweeps (
    org_id TEXT PRIMARY KEY,
    day TEXT NOT NULL,
    swept_at TEXT NOT NULL
);
"#,
    // Sold or archived vehicles are reminded of nothing (docs/corrections.md).
    "ALTER TABLE vehicles ADD COLUMN retired INTEGER NOT NULL DEFAULT 0;",
    r#"
-- The day the sweep must next evaluate the vehicle (NULL: at the next sweep). The sweep walks the
-- vehicles in id order and skips those still asleep.
ALTER TABLE vehicles ADD COLUMN wake_on TEXT;
"#,
    vwc_store::vehicle_ledger::sqlite::FACT_REVISIONS_MIGRATION,
];

#[derive(Clone)]
pub struct SqliteSchedulerStore {
    db: SqliteDb,
}

impl SqliteSchedulerStore {
    pub fn open(path: &Path) -> StoreResult<SqliteSchedulerStore> {
        Ok(SqliteSchedulerStore {
            db: SqliteDb::open(path, MIGRATIONS)?,
        })
    }

    pub fn db(&self) -> &SqliteDb {
        &self.db
    }
}

fn other(message: String) -> StoreError {
    StoreError::Other(message)
}

impl KeepsDays for SqliteSchedulerStore {
    const DAYS: DayLedger = SWEEPS;
}

type VehicleRow = StoredVehicle<VehicleFields>;

/// Fills facts, settings, the published schedule and reminders of `states` (keyed by vehicle id) from the other tables.
/// `ids` is the JSON array of the vehicle ids.
fn load_details(
    conn: &Connection,
    ids: &str,
    states: &mut HashMap<String, VehicleState>,
) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT vehicle_id, event_id, kind, occurred_at, odometer, tasks FROM facts
         WHERE vehicle_id IN (SELECT value FROM json_each(?1))",
    )?;
    let mut rows = stmt.query([ids])?;
    while let Some(r) = rows.next()? {
        let vehicle_id: String = r.get(0)?;
        let kind: String = r.get(2)?;
        let at: String = r.get(3)?;
        let tasks: String = r.get(5)?;
        let fact = TimelineFact {
            event_id: r.get(1)?,
            kind: parse_wire("fact kind", &kind)?,
            at: parse_ts(&at)?,
            odometer: r.get::<_, Option<i64>>(4)?.map(|o| o as u64),
            tasks: tasks
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
        };
        if let Some(s) = states.get_mut(&vehicle_id) {
            s.facts.push(fact);
        }
    }

    fill_revisions(states, revisions_of(conn, ids)?, |s| &mut s.revisions);

    let mut stmt = conn.prepare_cached(
        "SELECT vehicle_id, body FROM item_settings WHERE vehicle_id IN (SELECT value FROM json_each(?1))",
    )?;
    let mut rows = stmt.query([ids])?;
    while let Some(r) = rows.next()? {
        let vehicle_id: String = r.get(0)?;
        let body: String = r.get(1)?;
        if let Some(s) = states.get_mut(&vehicle_id) {
            s.settings.push(serde_json::from_str(&body)?);
        }
    }

    let mut stmt = conn.prepare_cached(
        "SELECT vehicle_id, fingerprint, statuses FROM published
         WHERE vehicle_id IN (SELECT value FROM json_each(?1))",
    )?;
    let mut rows = stmt.query([ids])?;
    while let Some(r) = rows.next()? {
        let vehicle_id: String = r.get(0)?;
        let fingerprint: i64 = r.get(1)?;
        let statuses: String = r.get(2)?;
        let published = PublishedSchedule::decode(fingerprint as u64, &statuses)
            .ok_or_else(|| other(format!("bad published statuses {statuses:?}")))?;
        if let Some(s) = states.get_mut(&vehicle_id) {
            s.published = Some(published);
        }
    }

    let mut stmt = conn.prepare_cached(
        "SELECT vehicle_id, task, status, due_cycle, occurrence, reminder_id, sent_on, sent_at FROM reminders
         WHERE vehicle_id IN (SELECT value FROM json_each(?1))",
    )?;
    let mut rows = stmt.query([ids])?;
    while let Some(r) = rows.next()? {
        let vehicle_id: String = r.get(0)?;
        let status: String = r.get(2)?;
        let sent_on: String = r.get(6)?;
        let sent_at: String = r.get(7)?;
        let reminder = SentReminder {
            task: r.get(1)?,
            status: parse_wire("status", &status)?,
            due_cycle: r.get(3)?,
            occurrence: r.get::<_, i64>(4)? as u32,
            reminder_id: r.get(5)?,
            sent_on: parse_day(&sent_on)?,
            sent_at: parse_ts(&sent_at)?,
        };
        if let Some(s) = states.get_mut(&vehicle_id) {
            s.reminders.push(reminder);
        }
    }
    Ok(())
}

/// Reads the vehicles `rows` describe and their details, in one snapshot opened by the caller.
fn load_states(conn: &Connection, rows: Vec<VehicleRow>) -> StoreResult<Vec<VehicleState>> {
    let (order, mut states) = keyed_states(rows, state_of)?;
    if !order.is_empty() {
        load_details(conn, &serde_json::to_string(&order)?, &mut states)?;
    }
    Ok(in_order(order, states))
}

/// The `SELECT` list of a vehicle row (see [`read_stored`]); `retired` is an integer column.
const VEHICLE_COLUMNS: &str = "id, version, json_object('org_id', org_id, 'name', name, 'unit', unit,
    'registered_at', registered_at, 'retired', json(iif(retired, 'true', 'false')), 'wake_on', wake_on)";

/// A commit with its JSON prepared off the writer thread: serialising a sweep page's envelopes is
/// most of its cost, and the writer is shared by every write of the service.
struct PreparedCommit {
    commit: VehicleCommit,
    settings: Vec<(String, String)>,
    statuses: Option<String>,
    /// (event id, envelope JSON)
    outbox: Vec<(String, String)>,
}

fn prepare(commit: VehicleCommit) -> StoreResult<PreparedCommit> {
    let settings = commit
        .settings
        .iter()
        .map(|s| Ok((s.task.clone(), serde_json::to_string(s)?)))
        .collect::<StoreResult<_>>()?;
    let statuses = commit
        .published
        .as_ref()
        .map(PublishedSchedule::statuses_json);
    let outbox = commit
        .outbox
        .iter()
        .map(|e| Ok((e.id.to_string(), serde_json::to_string(e)?)))
        .collect::<StoreResult<_>>()?;
    Ok(PreparedCommit {
        commit,
        settings,
        statuses,
        outbox,
    })
}

fn apply(conn: &Connection, p: &PreparedCommit) -> StoreResult<CommitOutcome> {
    let c = &p.commit;
    if let Some(refused) = apply_head(conn, CONSUMER, c)? {
        return Ok(refused);
    }
    if let Some(v) = &c.register {
        conn.prepare_cached(
            "UPDATE vehicles SET org_id = ?2, name = ?3, unit = ?4, registered_at = ?5, retired = ?6 WHERE id = ?1",
        )?
        .execute(params![v.id, v.org_id, v.name, v.unit.as_str(), ts(&v.registered_at), v.retired])?;
    }
    if let Some(day) = c.wake_on {
        conn.prepare_cached("UPDATE vehicles SET wake_on = ?2 WHERE id = ?1")?
            .execute(params![c.vehicle_id, day.to_string()])?;
    }
    let mut facts = conn.prepare_cached(
        "INSERT OR IGNORE INTO facts (vehicle_id, event_id, kind, occurred_at, odometer, tasks)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for f in &c.facts {
        facts.execute(params![
            c.vehicle_id,
            f.event_id,
            f.kind.as_str(),
            ts(&f.at),
            f.odometer.map(|o| o as i64),
            f.tasks.join(","),
        ])?;
    }
    let mut settings = conn.prepare_cached(
        "INSERT INTO item_settings (vehicle_id, task, body) VALUES (?1, ?2, ?3)
         ON CONFLICT (vehicle_id, task) DO UPDATE SET body = excluded.body",
    )?;
    for (task, body) in &p.settings {
        settings.execute(params![c.vehicle_id, task, body])?;
    }
    if let (Some(published), Some(statuses)) = (&c.published, &p.statuses) {
        conn.prepare_cached(
            "INSERT INTO published (vehicle_id, fingerprint, statuses) VALUES (?1, ?2, ?3)
             ON CONFLICT (vehicle_id) DO UPDATE SET fingerprint = excluded.fingerprint,
               statuses = excluded.statuses",
        )?
        .execute(params![
            c.vehicle_id,
            published.fingerprint as i64,
            statuses
        ])?;
    }
    let mut reminders = conn.prepare_cached(
        "INSERT OR IGNORE INTO reminders
         (vehicle_id, task, status, due_cycle, occurrence, reminder_id, sent_on, sent_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for r in &c.reminders {
        reminders.execute(params![
            c.vehicle_id,
            r.task,
            r.status.as_str(),
            r.due_cycle,
            i64::from(r.occurrence),
            r.reminder_id,
            r.sent_on.to_string(),
            ts(&r.sent_at),
        ])?;
    }
    vwc_store::sqlite::enqueue_serialized(conn, &p.outbox)?;
    Ok(CommitOutcome::Applied)
}

#[async_trait]
impl VehicleLedger for SqliteSchedulerStore {
    type State = VehicleState;

    async fn vehicle_state(&self, vehicle_id: &VehicleId) -> StoreResult<VehicleState> {
        let id = vehicle_id.as_str().to_string();
        self.db
            .read(move |conn| {
                let tx = conn.unchecked_transaction()?;
                let row = optional(
                    tx.prepare_cached(&format!(
                        "SELECT {VEHICLE_COLUMNS} FROM vehicles WHERE id = ?1"
                    ))?
                    .query_row([&id], read_stored),
                )?;
                let state = match row {
                    Some(row) => load_states(&tx, vec![row])?.pop(),
                    None => None,
                };
                Ok(state.unwrap_or_else(|| VehicleState::new(&id)))
            })
            .await
    }

    async fn commit_batch(&self, commits: Vec<VehicleCommit>) -> StoreResult<Vec<CommitOutcome>> {
        commit_prepared(&self.db, commits, prepare, apply).await
    }
}

#[async_trait]
impl SchedulerStore for SqliteSchedulerStore {
    async fn vehicle_page(&self, page: SweepPage<'_>) -> StoreResult<Vec<VehicleState>> {
        let (org, after) = (
            page.org.cloned(),
            page.after.map_or("", VehicleId::as_str).to_string(),
        );
        // Dates as text compare as dates; every stored one is before this.
        let due_on = page
            .query
            .map_or_else(|| "9999-12-31".to_string(), |d| d.to_string());
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        self.db
            .read(move |conn| {
                let tx = conn.unchecked_transaction()?;
                let rows: Vec<VehicleRow> = match &org {
                    Some(org) => tx
                        .prepare_cached(
                            &format!("SELECT {VEHICLE_COLUMNS} FROM vehicles
                             WHERE org_id = ?1 AND id > ?2 AND (wake_on IS NULL OR wake_on <= ?4)
                             ORDER BY id LIMIT ?3"
                        ))?
                        .query_map(params![org, after, limit, due_on], read_stored)?
                        .collect::<Result<_, _>>()?,
                    None => tx
                        .prepare_cached(
                            &format!("SELECT {VEHICLE_COLUMNS} FROM vehicles
                             WHERE id > ?1 AND org_id IS NOT NULL AND (wake_on IS NULL OR wake_on <= ?3)
                             ORDER BY id LIMIT ?2"
                        ))?
                        .query_map(params![after, limit, due_on], read_stored)?
                        .collect::<Result<_, _>>()?,
                };
                load_states(&tx, rows)
            })
            .await
    }
}

impl Plumbed for SqliteSchedulerStore {
    type Db = SqliteDb;
    fn plumbing(&self) -> &SqliteDb {
        &self.db
    }
}
