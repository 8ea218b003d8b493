//! The SQLite side of the per-vehicle ledger. The service's migrations create the tables: `vehicles`
//! (`id`, `version`, …), `facts` and `fact_revisions` keyed by (`vehicle_id`, `event_id`), and its
//! [`DayLedger`] table (`org_id` primary key, `day`, the stamp column).

use async_trait::async_trait;
use chrono::NaiveDate;
use rusqlite::{Connection, params};
use vwc_contracts::OrgId;

use serde::de::DeserializeOwned;

use super::{
    CommitOutcome, DayLedger, DayLedgerDb, LedgerCommit, RevisionRow, StoredVehicle, parse_day,
};
use crate::sqlite::{claim_inbox, optional};
use crate::{SqliteDb, StoreError, StoreResult, ts};

/// The migration that creates `fact_revisions`, the ledger's record of the latest revision applied of each
/// corrected or voided record; each service's migration list includes it once, at the place it was added.
pub const FACT_REVISIONS_MIGRATION: &str = r#"
-- The latest revision applied of each corrected or voided record (docs/corrections.md).
CREATE TABLE fact_revisions (
    vehicle_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (vehicle_id, event_id)
) WITHOUT ROWID;
"#;

/// The ledger's part of one commit, inside the caller's write transaction: refuses the commit when the
/// vehicle is no longer at its expected version (`Some(Conflict)`) or its envelope was applied before
/// (`Some(Duplicate)`), writing nothing; otherwise bumps the version (creating the vehicle row), records
/// the revisions (the highest per record wins), removes the revised records' facts and answers `None`.
/// The caller then writes its own state.
pub fn apply_head(
    conn: &Connection,
    consumer: &str,
    commit: &impl LedgerCommit,
) -> StoreResult<Option<CommitOutcome>> {
    let vehicle_id = commit.vehicle_id();
    let current: i64 = optional(
        conn.prepare_cached("SELECT version FROM vehicles WHERE id = ?1")?
            .query_row([vehicle_id], |r| r.get(0)),
    )?
    .unwrap_or(0);
    if current as u64 != commit.expected_version() {
        return Ok(Some(CommitOutcome::Conflict));
    }
    if let Some(envelope_id) = commit.claim()
        && !claim_inbox(conn, consumer, envelope_id)?
    {
        return Ok(Some(CommitOutcome::Duplicate));
    }
    conn.prepare_cached(
        "INSERT INTO vehicles (id, version) VALUES (?1, ?2)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version",
    )?
    .execute(params![vehicle_id, current + 1])?;
    let mut upsert = conn.prepare_cached(
        "INSERT INTO fact_revisions (vehicle_id, event_id, revision) VALUES (?1, ?2, ?3)
         ON CONFLICT (vehicle_id, event_id) DO UPDATE SET revision = max(revision, excluded.revision)",
    )?;
    for (event_id, revision) in commit.revisions() {
        upsert.execute(params![vehicle_id, event_id, i64::from(*revision)])?;
    }
    let mut removed =
        conn.prepare_cached("DELETE FROM facts WHERE vehicle_id = ?1 AND event_id = ?2")?;
    for event_id in commit.remove_facts() {
        removed.execute(params![vehicle_id, event_id])?;
    }
    Ok(None)
}

/// Reads a row of `SELECT id, version, json_object(…)`: the ledger's columns, then the service's own as
/// one JSON object, so its fields are read by the same serde code as the MongoDB document's.
pub fn read_stored<F: DeserializeOwned>(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<StoredVehicle<F>> {
    let fields: String = r.get(2)?;
    Ok(StoredVehicle {
        id: r.get(0)?,
        version: r.get(1)?,
        fields: serde_json::from_str(&fields).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
        })?,
    })
}

/// The revision ledger of the vehicles whose ids `ids` lists (a JSON array).
pub fn revisions_of(conn: &Connection, ids: &str) -> StoreResult<Vec<RevisionRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT vehicle_id, event_id, revision FROM fact_revisions
         WHERE vehicle_id IN (SELECT value FROM json_each(?1))",
    )?;
    let rows = stmt
        .query_map([ids], |r| {
            Ok(RevisionRow {
                vehicle_id: r.get(0)?,
                event_id: r.get(1)?,
                revision: r.get::<_, i64>(2)? as u32,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Applies `commits` on the writer thread in one transaction, each by `apply`, after `prepare` turned
/// each into what it writes off that thread (serialising a page's envelopes is most of a commit's cost,
/// and the writer is shared by every write of the service). One outcome per commit, in order.
pub async fn commit_prepared<C, P>(
    db: &SqliteDb,
    commits: Vec<C>,
    prepare: fn(C) -> StoreResult<P>,
    apply: fn(&Connection, &P) -> StoreResult<CommitOutcome>,
) -> StoreResult<Vec<CommitOutcome>>
where
    C: Send + 'static,
    P: Send + 'static,
{
    if commits.is_empty() {
        return Ok(Vec::new());
    }
    let prepared = tokio::task::spawn_blocking(move || {
        commits
            .into_iter()
            .map(prepare)
            .collect::<StoreResult<Vec<_>>>()
    })
    .await
    .map_err(|e| StoreError::Other(format!("preparing a commit failed: {e}")))??;
    db.write_with_events(move |conn| prepared.iter().map(|p| apply(conn, p)).collect())
        .await
}

#[async_trait]
impl DayLedgerDb for SqliteDb {
    /// Records that the organisations' daily job ran on `day`.
    async fn record_day(&self, days: &DayLedger, orgs: &[OrgId], on: NaiveDate) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO {table} (org_id, day, {stamped}) VALUES (?1, ?2, ?3)
             ON CONFLICT (org_id) DO UPDATE SET day = excluded.day, {stamped} = excluded.{stamped}",
            table = days.name,
            stamped = days.stamped,
        );
        let orgs = orgs.to_vec();
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let now = ts(&vwc_clock::now());
            for org in &orgs {
                stmt.execute(params![org, on.to_string(), now])?;
            }
            Ok(())
        })
        .await
    }

    /// The day the organisation's daily job last ran, if ever.
    async fn last_day(&self, days: &DayLedger, org: &OrgId) -> StoreResult<Option<NaiveDate>> {
        let sql = format!("SELECT day FROM {} WHERE org_id = ?1", days.name);
        let org = org.clone();
        let day: Option<String> = self
            .read(move |conn| optional(conn.query_row(&sql, [org], |r| r.get(0))))
            .await?;
        day.as_deref().map(parse_day).transpose()
    }
}
