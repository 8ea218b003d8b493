//! SQLite adapter of the valuation store. Per-vehicle rows are clustered by vehicle id (`WITHOUT ROWID`),
//! so a page of vehicles is read with one lookup per table.

use std::path::Path;

use crate::store::{REVALUES, RevaluePage};
use async_trait::async_trait;
use rusqlite::{Connection, params};
use vwc_contracts::VehicleId;
use vwc_store::sqlite::optional;
use vwc_store::vehicle_ledger::VehicleLedger;
use vwc_store::vehicle_ledger::sqlite::{apply_head, commit_prepared, read_stored, revisions_of};
use vwc_store::vehicle_ledger::{
    DayLedger, KeepsDays, StoredVehicle, fill_revisions, in_order, keyed_states, parse_day,
};
use vwc_store::{Plumbed, SqliteDb, StoreResult};

use crate::CONSUMER;
use crate::model::{Fact, sort_facts};
use crate::store::{
    CommitOutcome, PublishedPoint, ValuationStore, VehicleCommit, VehicleFields, VehicleState,
    state_of,
};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE vehicles (
    id TEXT PRIMARY KEY,
    org_id TEXT,
    profile TEXT,
    version INTEGER NOT NULL,
    current_on TEXT,
    current_fingerprint INTEGER,
    current_amount INTEGER
);
CREATE INDEX vehicles_by_org ON vehicles (org_id, id);
CREATE TABLE facts (
    vehicle_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (vehicle_id, event_id)
) WITHOUT ROWID;
CREATE TABLE published (
    vehicle_id TEXT NOT NULL,
    as_of TEXT NOT NULL,
    fingerprint INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (vehicle_id, as_of)
) WITHOUT ROWID;
CREATE TABLE revalues (
    org_id TEXT PRIMARY KEY,
    day TEXT NOT NULL,
    revalued_at TEXT NOT NULL
);
"#,
    vwc_store::vehicle_ledger::sqlite::FACT_REVISIONS_MIGRATION,
];

#[derive(Clone)]
pub struct SqliteValuationStore {
    db: SqliteDb,
}

impl SqliteValuationStore {
    pub fn open(path: &Path) -> StoreResult<SqliteValuationStore> {
        Ok(SqliteValuationStore {
            db: SqliteDb::open(path, MIGRATIONS)?,
        })
    }

    pub fn db(&self) -> &SqliteDb {
        &self.db
    }
}

impl KeepsDays for SqliteValuationStore {
    const DAYS: DayLedger = REVALUES;
}

type VehicleRow = StoredVehicle<VehicleFields>;

/// The `SELECT` list of a vehicle row (see [`read_stored`]).
const VEHICLE_COLUMNS: &str =
    "id, version, json_object('profile', profile, 'current_on', current_on,
    'current_fingerprint', current_fingerprint, 'current_amount', current_amount)";

/// Reads the vehicles `rows` describe with their facts and published points (all, or only the newest).
fn load_states(
    conn: &Connection,
    rows: Vec<VehicleRow>,
    history: bool,
) -> StoreResult<Vec<VehicleState>> {
    let (order, mut states) = keyed_states(rows, state_of)?;
    if !order.is_empty() {
        let ids = serde_json::to_string(&order)?;
        let mut stmt = conn.prepare_cached(
            "SELECT vehicle_id, body FROM facts WHERE vehicle_id IN (SELECT value FROM json_each(?1))",
        )?;
        let mut rows = stmt.query([&ids])?;
        while let Some(r) = rows.next()? {
            let vehicle_id: String = r.get(0)?;
            let body: String = r.get(1)?;
            let fact: Fact = serde_json::from_str(&body)?;
            if let Some(s) = states.get_mut(&vehicle_id) {
                s.facts.push(fact);
            }
        }
        fill_revisions(&mut states, revisions_of(conn, &ids)?, |s| &mut s.revisions);
        let sql = if history {
            "SELECT vehicle_id, as_of, fingerprint, amount FROM published
             WHERE vehicle_id IN (SELECT value FROM json_each(?1))"
        } else {
            // The newest point only (the daily job's starting point); SQLite returns the row of the max.
            "SELECT vehicle_id, max(as_of), fingerprint, amount FROM published
             WHERE vehicle_id IN (SELECT value FROM json_each(?1)) GROUP BY vehicle_id"
        };
        let mut stmt = conn.prepare_cached(sql)?;
        let mut rows = stmt.query([&ids])?;
        while let Some(r) = rows.next()? {
            let vehicle_id: String = r.get(0)?;
            let as_of: String = r.get(1)?;
            let point = PublishedPoint {
                fingerprint: r.get::<_, i64>(2)? as u64,
                amount_cents: r.get::<_, i64>(3)? as u64,
            };
            if let Some(s) = states.get_mut(&vehicle_id) {
                s.published.insert(parse_day(&as_of)?, point);
            }
        }
        for s in states.values_mut() {
            sort_facts(&mut s.facts);
        }
    }
    Ok(in_order(order, states))
}

/// A commit with its JSON prepared off the writer thread.
struct PreparedCommit {
    commit: VehicleCommit,
    profile: Option<String>,
    facts: Vec<(String, String)>,
    outbox: Vec<(String, String)>,
}

fn prepare(commit: VehicleCommit) -> StoreResult<PreparedCommit> {
    let profile = commit
        .register
        .as_ref()
        .map(serde_json::to_string)
        .transpose()?;
    let facts = commit
        .facts
        .iter()
        .map(|f| Ok((f.event_id.clone(), serde_json::to_string(f)?)))
        .collect::<StoreResult<_>>()?;
    let outbox = commit
        .outbox
        .iter()
        .map(|e| Ok((e.id.to_string(), serde_json::to_string(e)?)))
        .collect::<StoreResult<_>>()?;
    Ok(PreparedCommit {
        commit,
        profile,
        facts,
        outbox,
    })
}

fn apply(conn: &Connection, p: &PreparedCommit) -> StoreResult<CommitOutcome> {
    let c = &p.commit;
    if let Some(refused) = apply_head(conn, CONSUMER, c)? {
        return Ok(refused);
    }
    if let (Some(v), Some(profile)) = (&c.register, &p.profile) {
        conn.prepare_cached("UPDATE vehicles SET org_id = ?2, profile = ?3 WHERE id = ?1")?
            .execute(params![c.vehicle_id, v.org_id, profile])?;
    }
    if let Some((on, point)) = &c.current {
        conn.prepare_cached(
            "UPDATE vehicles SET current_on = ?2, current_fingerprint = ?3, current_amount = ?4
             WHERE id = ?1",
        )?
        .execute(params![
            c.vehicle_id,
            on.to_string(),
            point.fingerprint as i64,
            point.amount_cents as i64
        ])?;
    }
    let mut facts = conn.prepare_cached(
        "INSERT OR IGNORE INTO facts (vehicle_id, event_id, body) VALUES (?1, ?2, ?3)",
    )?;
    for (event_id, body) in &p.facts {
        facts.execute(params![c.vehicle_id, event_id, body])?;
    }
    let mut published = conn.prepare_cached(
        "INSERT INTO published (vehicle_id, as_of, fingerprint, amount) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (vehicle_id, as_of) DO UPDATE SET fingerprint = excluded.fingerprint,
           amount = excluded.amount",
    )?;
    for (on, point) in &c.published {
        published.execute(params![
            c.vehicle_id,
            on.to_string(),
            point.fingerprint as i64,
            point.amount_cents as i64
        ])?;
    }
    vwc_store::sqlite::enqueue_serialized(conn, &p.outbox)?;
    Ok(CommitOutcome::Applied)
}

#[async_trait]
impl VehicleLedger for SqliteValuationStore {
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
                    Some(row) => load_states(&tx, vec![row], true)?.pop(),
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
impl ValuationStore for SqliteValuationStore {
    async fn vehicle_page(&self, page: RevaluePage<'_>) -> StoreResult<Vec<VehicleState>> {
        let history = page.query;
        let (org, after) = (
            page.org.cloned(),
            page.after.map_or("", VehicleId::as_str).to_string(),
        );
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        self.db
            .read(move |conn| {
                let tx = conn.unchecked_transaction()?;
                let rows: Vec<VehicleRow> = match &org {
                    Some(org) => tx
                        .prepare_cached(&format!(
                            "SELECT {VEHICLE_COLUMNS} FROM vehicles
                             WHERE org_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
                        ))?
                        .query_map(params![org, after, limit], read_stored)?
                        .collect::<Result<_, _>>()?,
                    None => tx
                        .prepare_cached(&format!(
                            "SELECT {VEHICLE_COLUMNS} FROM vehicles
                             WHERE id > ?1 AND org_id IS NOT NULL ORDER BY id LIMIT ?2"
                        ))?
                        .query_map(params![after, limit], read_stored)?
                        .collect::<Result<_, _>>()?,
                };
                load_states(&tx, rows, history)
            })
            .await
    }
}

impl Plumbed for SqliteValuationStore {
    type Db = SqliteDb;
    fn plumbing(&self) -> &SqliteDb {
        &self.db
    }
}
