//! SQLite adapter of the valuation store. Per-vehicle rows are clustered by vehicle id (`WITHOUT ROWID`),
//! so a page of vehicles is read with one lookup per table.

use crate::store::RevaluePage;
use async_trait::async_trait;
use rusqlite::params;
use vwc_store::sqlite::Statements;
use vwc_store::vehicle_ledger::sqlite::{Details, RowPage, SqliteLedger};
use vwc_store::vehicle_ledger::{LedgerStore, parse_day};
use vwc_store::{SqliteDb, StoreResult};

use crate::model::sort_facts;
use crate::store::{PublishedPoint, ValuationStore, VehicleCommit, VehicleState};

/// This database's schema steps, run in order once each (`user_version` counts those run). Append only: a
/// step changed, moved or removed would be run twice, or never, on a database that ran the old list
/// (`shared/store/migrations.lock` pins them; `VWC_BLESS=1 cargo test -p vwc --lib migrations` records a new one).
pub const MIGRATIONS: &[&str] = &[
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

/// The valuation's SQLite store.
pub type SqliteValuationStore = LedgerStore<SqliteDb, VehicleState>;

/// A page's facts.
const FACTS_OF_PAGE: &str = "SELECT vehicle_id, body FROM facts WHERE vehicle_id IN_PAGE";
/// A page's published points.
const POINTS_OF_PAGE: &str =
    "SELECT vehicle_id, as_of, fingerprint, amount FROM published WHERE vehicle_id IN_PAGE";
/// A page's newest published point of each vehicle (the daily job's starting point); SQLite returns the row
/// of the max.
const NEWEST_POINTS_OF_PAGE: &str =
    "SELECT vehicle_id, max(as_of), fingerprint, amount FROM published
     WHERE vehicle_id IN_PAGE GROUP BY vehicle_id";

impl SqliteLedger for VehicleState {
    /// Every published point (`true`), or the newest only.
    type Detail = bool;
    type Prepared = PreparedCommit;
    const MIGRATIONS: &'static [&'static str] = MIGRATIONS;
    const FIELDS: &'static str = "json_object('profile', profile, 'current_on', current_on,
        'current_fingerprint', current_fingerprint, 'current_amount', current_amount)";
    const FULL: bool = true;

    /// Reads the facts and published points (all, or only the newest).
    fn load_details(details: &mut Details<'_, VehicleState>, history: bool) -> StoreResult<()> {
        details.fill(FACTS_OF_PAGE, |s, r| {
            s.facts.push(serde_json::from_str(&r.get::<_, String>(1)?)?);
            Ok(())
        })?;
        let sql = if history {
            POINTS_OF_PAGE
        } else {
            NEWEST_POINTS_OF_PAGE
        };
        details.fill(sql, |s, r| {
            let point = PublishedPoint {
                fingerprint: r.get::<_, i64>(2)? as u64,
                amount_cents: r.get::<_, i64>(3)? as u64,
            };
            s.published
                .insert(parse_day(&r.get::<_, String>(1)?)?, point);
            Ok(())
        })?;
        for s in details.states.values_mut() {
            sort_facts(&mut s.facts);
        }
        Ok(())
    }

    fn prepare(commit: &VehicleCommit) -> StoreResult<PreparedCommit> {
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
        Ok(PreparedCommit { profile, facts })
    }

    fn apply(st: &mut Statements<'_>, c: &VehicleCommit, p: &PreparedCommit) -> StoreResult<()> {
        if let (Some(v), Some(profile)) = (&c.register, &p.profile) {
            st.conn()
                .prepare_cached("UPDATE vehicles SET org_id = ?2, profile = ?3 WHERE id = ?1")?
                .execute(params![c.ledger.vehicle_id, v.org_id, profile])?;
        }
        if let Some((on, point)) = &c.current {
            st.get(
                "UPDATE vehicles SET current_on = ?2, current_fingerprint = ?3, current_amount = ?4
                 WHERE id = ?1",
            )?
            .execute(params![
                c.ledger.vehicle_id,
                on.to_string(),
                point.fingerprint as i64,
                point.amount_cents as i64
            ])?;
        }
        let vehicle = c.ledger.vehicle_id.as_str();
        st.execute_each(
            "INSERT OR IGNORE INTO facts (vehicle_id, event_id, body) VALUES (?1, ?2, ?3)",
            p.facts
                .iter()
                .map(|(event_id, body)| (vehicle, event_id, body)),
        )?;
        st.execute_each(
            "INSERT INTO published (vehicle_id, as_of, fingerprint, amount) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (vehicle_id, as_of) DO UPDATE SET fingerprint = excluded.fingerprint,
               amount = excluded.amount",
            c.published.iter().map(|(on, point)| {
                (
                    vehicle,
                    on.to_string(),
                    point.fingerprint as i64,
                    point.amount_cents as i64,
                )
            }),
        )?;
        Ok(())
    }
}

/// The JSON of a commit prepared off the writer thread.
pub struct PreparedCommit {
    profile: Option<String>,
    /// (event id, fact JSON)
    facts: Vec<(String, String)>,
}

#[async_trait]
impl ValuationStore for SqliteValuationStore {
    async fn vehicle_page(&self, page: RevaluePage<'_>) -> StoreResult<Vec<VehicleState>> {
        self.page(RowPage::of(&page), page.query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vwc_store::vehicle_ledger::sqlite::check_page_query;

    /// A page's facts and points are read by walks of their keys (a range for a page that is one, a look-up
    /// per listed id otherwise), never by a scan.
    #[tokio::test]
    async fn a_pages_details_are_read_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteValuationStore::open(&dir.path().join("valuation.db")).unwrap();
        for sql in [FACTS_OF_PAGE, POINTS_OF_PAGE, NEWEST_POINTS_OF_PAGE] {
            let checked = store.db().read(|conn| check_page_query(conn, sql)).await;
            assert_eq!(checked.unwrap(), Ok(()));
        }
    }
}
