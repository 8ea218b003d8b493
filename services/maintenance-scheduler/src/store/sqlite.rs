//! SQLite adapter of the scheduler store. Per-vehicle rows are clustered by vehicle id (`WITHOUT ROWID`),
//! so the sweep reads a page of vehicles with one range-free lookup per table.

use crate::store::SweepPage;
use async_trait::async_trait;
use rusqlite::params;
use vwc_contracts::time_text::day_string;
use vwc_store::parse_ts;
use vwc_store::sqlite::Statements;
use vwc_store::vehicle_ledger::sqlite::{Details, RowPage, SqliteLedger};
use vwc_store::vehicle_ledger::{LedgerStore, parse_day};
use vwc_store::{SqliteDb, StoreError, StoreResult, ts};

use crate::evaluation::TimelineFact;
use crate::publishing::{PublishedSchedule, SentReminder};
use crate::store::{SchedulerStore, VehicleCommit, VehicleState, parse_wire};

/// This database's schema steps, run in order once each (`user_version` counts those run). Append only: a
/// step changed, moved or removed would be run twice, or never, on a database that ran the old list
/// (`shared/store/migrations.lock` pins them; `VWC_BLESS=1 cargo test -p vwc --lib migrations` records a new one).
pub const MIGRATIONS: &[&str] = &[
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
    // How the fingerprint was computed (`publishing::FINGERPRINT_HASH`); rows before it are hash 1.
    "ALTER TABLE published ADD COLUMN hash INTEGER NOT NULL DEFAULT 1;",
    r#"
-- The vehicle and its remembered schedule clustered by vehicle id (`WITHOUT ROWID`) like the rest: each
-- evaluation reads and sets the version and sets the schedule, and a rowid table keyed by text did each
-- in two B-trees (the key's index, then the table). docs/bench.md, stop 49.
CREATE TABLE vehicles_by_id (
    id TEXT PRIMARY KEY,
    org_id TEXT,
    name TEXT,
    unit TEXT,
    registered_at TEXT,
    version INTEGER NOT NULL,
    retired INTEGER NOT NULL DEFAULT 0,
    wake_on TEXT
) WITHOUT ROWID;
INSERT INTO vehicles_by_id (id, org_id, name, unit, registered_at, version, retired, wake_on)
    SELECT id, org_id, name, unit, registered_at, version, retired, wake_on FROM vehicles;
DROP TABLE vehicles;
ALTER TABLE vehicles_by_id RENAME TO vehicles;
CREATE INDEX vehicles_by_org ON vehicles (org_id, id);
CREATE TABLE published_by_vehicle (
    vehicle_id TEXT PRIMARY KEY,
    fingerprint INTEGER NOT NULL,
    statuses TEXT NOT NULL,
    hash INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
INSERT INTO published_by_vehicle (vehicle_id, fingerprint, statuses, hash)
    SELECT vehicle_id, fingerprint, statuses, hash FROM published;
DROP TABLE published;
ALTER TABLE published_by_vehicle RENAME TO published;
"#,
];

/// The scheduler's SQLite store.
pub type SqliteSchedulerStore = LedgerStore<SqliteDb, VehicleState>;

fn other(message: String) -> StoreError {
    StoreError::Other(message)
}

/// A text column read in place (no copy), for what is parsed rather than kept.
fn text<'r>(row: &'r rusqlite::Row<'_>, column: usize) -> StoreResult<&'r str> {
    Ok(row
        .get_ref(column)?
        .as_str()
        .map_err(rusqlite::Error::from)?)
}

/// A page's facts.
const FACTS_OF_PAGE: &str =
    "SELECT vehicle_id, event_id, kind, occurred_at, odometer, tasks FROM facts
     WHERE vehicle_id IN_PAGE";
/// A page's item settings.
const SETTINGS_OF_PAGE: &str =
    "SELECT vehicle_id, body FROM item_settings WHERE vehicle_id IN_PAGE";
/// A page's published schedules.
const PUBLISHED_OF_PAGE: &str =
    "SELECT vehicle_id, fingerprint, statuses, hash FROM published WHERE vehicle_id IN_PAGE";
/// A page's sent reminders.
const REMINDERS_OF_PAGE: &str =
    "SELECT vehicle_id, task, status, due_cycle, occurrence, reminder_id, sent_on, sent_at
     FROM reminders WHERE vehicle_id IN_PAGE";

/// Whether a read keeps its facts' event ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactIds {
    Kept,
    /// For the sweep: an evaluation never reads them and a sweep's commit writes no fact, and a first
    /// sweep reads ≈ 1.5 million facts — a string each that was only copied and freed (docs/bench.md,
    /// stop 48). A vehicle that changed meanwhile is read again whole ([`crate::sweep`]).
    Dropped,
}

impl SqliteLedger for VehicleState {
    type Detail = FactIds;
    type Prepared = PreparedCommit;
    const MIGRATIONS: &'static [&'static str] = MIGRATIONS;
    /// 16 KiB pages: the first sweep of 100,000 vehicles writes ≈ 300 MB of schedules and reminders in
    /// bulk, and took 12–14 % less CPU than on 4 KiB pages (docs/bench.md, "Pages of 16 KiB for the
    /// scheduler").
    const PAGE_BYTES: u32 = 16 * 1024;
    // `retired` is an integer column.
    const FIELDS: &'static str = "json_object('org_id', org_id, 'name', name, 'unit', unit,
        'registered_at', registered_at, 'retired', json(iif(retired, 'true', 'false')), 'wake_on', wake_on)";
    const FULL: FactIds = FactIds::Kept;

    /// Fills facts, settings, the published schedule and reminders.
    fn load_details(details: &mut Details<'_, VehicleState>, ids: FactIds) -> StoreResult<()> {
        details.fill(FACTS_OF_PAGE, |s, r| {
            // The text columns are read in place; only what the fact keeps is copied.
            s.facts.push(TimelineFact {
                event_id: match ids {
                    FactIds::Kept => r.get(1)?,
                    FactIds::Dropped => String::new(),
                },
                kind: parse_wire("fact kind", text(r, 2)?)?,
                at: parse_ts(text(r, 3)?)?,
                odometer: r.get::<_, Option<i64>>(4)?.map(|o| o as u64),
                tasks: text(r, 5)?
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect(),
            });
            Ok(())
        })?;
        details.fill(SETTINGS_OF_PAGE, |s, r| {
            s.settings.push(serde_json::from_str(text(r, 1)?)?);
            Ok(())
        })?;
        details.fill(PUBLISHED_OF_PAGE, |s, r| {
            let (statuses, hash) = (text(r, 2)?, r.get::<_, u32>(3)?);
            let fingerprint = r.get::<_, i64>(1)? as u64;
            let published = PublishedSchedule::decode(fingerprint, hash, statuses)
                .ok_or_else(|| other(format!("bad published statuses {statuses:?}")))?;
            s.published = Some(published);
            Ok(())
        })?;
        details.fill(REMINDERS_OF_PAGE, |s, r| {
            s.reminders.push(SentReminder {
                task: r.get(1)?,
                status: parse_wire("status", text(r, 2)?)?,
                due_cycle: r.get(3)?,
                occurrence: r.get::<_, i64>(4)? as u32,
                reminder_id: r.get(5)?,
                sent_on: parse_day(text(r, 6)?)?,
                sent_at: parse_ts(text(r, 7)?)?,
            });
            Ok(())
        })
    }

    fn prepare(commit: &VehicleCommit) -> StoreResult<PreparedCommit> {
        let settings = commit
            .settings
            .iter()
            .map(|s| Ok((s.task.clone(), serde_json::to_string(s)?)))
            .collect::<StoreResult<_>>()?;
        let statuses = commit
            .published
            .as_ref()
            .map(PublishedSchedule::statuses_json);
        Ok(PreparedCommit { settings, statuses })
    }

    fn apply(st: &mut Statements<'_>, c: &VehicleCommit, p: &PreparedCommit) -> StoreResult<()> {
        apply(st, c, p)
    }

    fn set_version(st: &mut Statements<'_>, c: &VehicleCommit, version: i64) -> StoreResult<()> {
        st.get(SET_VERSION_AND_WAKE_ON)?.execute(params![
            c.ledger.vehicle_id,
            version,
            c.wake_on.map(day_string)
        ])?;
        Ok(())
    }
}

/// The JSON of a commit prepared off the writer thread: serialising a sweep page's settings and
/// statuses (and, in the ledger, its envelopes) is most of its cost, and the writer is shared by every
/// write of the service.
pub struct PreparedCommit {
    settings: Vec<(String, String)>,
    statuses: Option<String>,
}

/// Sets a vehicle's version and wake day (id, version, day; a `NULL` day keeps the one it has), adding its
/// row when it has none: the ledger's version and the scheduler's wake day in one statement.
pub(crate) const SET_VERSION_AND_WAKE_ON: &str =
    "INSERT INTO vehicles (id, version, wake_on) VALUES (?1, ?2, ?3)
     ON CONFLICT (id) DO UPDATE SET version = excluded.version,
       wake_on = coalesce(excluded.wake_on, wake_on)";

/// Sets what a vehicle's schedule published (vehicle, fingerprint, statuses, hash).
pub(crate) const SET_PUBLISHED: &str =
    "INSERT INTO published (vehicle_id, fingerprint, statuses, hash) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (vehicle_id) DO UPDATE SET fingerprint = excluded.fingerprint,
       statuses = excluded.statuses, hash = excluded.hash";

/// Records a reminder sent (its eight columns); one sent already stays as it was.
pub(crate) const INSERT_REMINDER: &str = "INSERT OR IGNORE INTO reminders
     (vehicle_id, task, status, due_cycle, occurrence, reminder_id, sent_on, sent_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// The service's writes of a commit, after the ledger's.
fn apply(st: &mut Statements<'_>, c: &VehicleCommit, p: &PreparedCommit) -> StoreResult<()> {
    if let Some(v) = &c.register {
        st.conn().prepare_cached(
            "UPDATE vehicles SET org_id = ?2, name = ?3, unit = ?4, registered_at = ?5, retired = ?6 WHERE id = ?1",
        )?
        .execute(params![v.id, v.org_id, v.name, v.unit.as_str(), ts(&v.registered_at), v.retired])?;
    }
    let vehicle = c.ledger.vehicle_id.as_str();
    // The wake day was set with the version (`set_version`).
    st.execute_each(
        "INSERT OR IGNORE INTO facts (vehicle_id, event_id, kind, occurred_at, odometer, tasks)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        c.facts.iter().map(|f| {
            (
                vehicle,
                &f.event_id,
                f.kind.as_str(),
                ts(&f.at),
                f.odometer.map(|o| o as i64),
                f.tasks.join(","),
            )
        }),
    )?;
    st.execute_each(
        "INSERT INTO item_settings (vehicle_id, task, body) VALUES (?1, ?2, ?3)
         ON CONFLICT (vehicle_id, task) DO UPDATE SET body = excluded.body",
        p.settings.iter().map(|(task, body)| (vehicle, task, body)),
    )?;
    if let (Some(published), Some(statuses)) = (&c.published, &p.statuses) {
        st.get(SET_PUBLISHED)?.execute(params![
            vehicle,
            published.fingerprint as i64,
            statuses,
            published.hash
        ])?;
    }
    st.execute_each(
        INSERT_REMINDER,
        c.reminders.iter().map(|r| {
            (
                vehicle,
                &r.task,
                r.status.as_str(),
                &r.due_cycle,
                i64::from(r.occurrence),
                &r.reminder_id,
                day_string(r.sent_on),
                ts(&r.sent_at),
            )
        }),
    )?;
    Ok(())
}

#[async_trait]
impl SchedulerStore for SqliteSchedulerStore {
    async fn vehicle_page(&self, page: SweepPage<'_>) -> StoreResult<Vec<VehicleState>> {
        let mut rows = RowPage::of(&page);
        if let Some(day) = page.query {
            // Dates as text compare as dates.
            rows = rows.only("wake_on IS NULL OR wake_on <= ?4", day.to_string());
        }
        self.page(rows, FactIds::Dropped).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vwc_store::vehicle_ledger::sqlite::check_page_query;

    /// A database of the steps before the vehicles and their schedules were clustered by id keeps every row
    /// and column through the step (the vehicle's version, wake day and retirement; the schedule's
    /// fingerprint, hash and statuses), and the vehicle reads back whole.
    #[tokio::test]
    async fn vehicles_and_schedules_stored_before_they_were_clustered_are_kept() {
        use vwc_store::vehicle_ledger::VehicleLedger;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maintenance.db");
        let before = MIGRATIONS.len() - 1;
        {
            let db =
                SqliteDb::open_with_pages(&path, &MIGRATIONS[..before], VehicleState::PAGE_BYTES)
                    .unwrap();
            db.write(|conn| {
                conn.execute_batch(
                    "INSERT INTO vehicles (id, org_id, name, unit, registered_at, version, retired, wake_on)
                     VALUES ('veh_1', 'org_a', '2021 Toyota RAV4', 'mi', '2024-01-01T00:00:00.000000Z', 7, 1,
                             '2026-12-10'),
                            ('veh_2', 'org_b', 'Van', 'km', '2024-02-01T00:00:00.000000Z', 2, 0, NULL);
                     INSERT INTO published (vehicle_id, fingerprint, statuses, hash)
                     VALUES ('veh_1', -42, '{\"oil_change\":\"overdue\"}', 2);",
                )?;
                Ok(())
            })
            .await
            .unwrap();
        }
        let store = SqliteSchedulerStore::open(&path).unwrap();
        let rows = store
            .db()
            .read(|conn| {
                let mut stmt = conn.prepare(
                    "SELECT id || org_id || name || unit || registered_at || version || retired
                       || coalesce(wake_on, '-') FROM vehicles ORDER BY id",
                )?;
                let vehicles = stmt
                    .query_map([], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                let sql = conn.query_row(
                    "SELECT sql FROM sqlite_master WHERE name = 'published'",
                    [],
                    |r| r.get::<_, String>(0),
                )?;
                Ok((vehicles, sql))
            })
            .await
            .unwrap();
        assert_eq!(
            rows.0,
            [
                "veh_1org_a2021 Toyota RAV4mi2024-01-01T00:00:00.000000Z712026-12-10",
                "veh_2org_bVankm2024-02-01T00:00:00.000000Z20-",
            ]
        );
        assert!(rows.1.contains("WITHOUT ROWID"), "{}", rows.1);
        let state = store.vehicle_state(&"veh_1".into()).await.unwrap();
        assert_eq!(state.version, 7);
        assert_eq!(state.wake_on, chrono::NaiveDate::from_ymd_opt(2026, 12, 10));
        assert!(state.vehicle.as_ref().is_some_and(|v| v.retired));
        let published = state.published.unwrap();
        assert_eq!((published.fingerprint, published.hash), (-42_i64 as u64, 2));
        assert_eq!(
            published.status_of("oil_change"),
            Some(vwc_contracts::maintenance::MaintenanceStatus::Overdue)
        );
    }

    /// Each table's rows of a page are one walk of its key: a range of the page's ids for a page that is one
    /// (the first sweep's), else a look-up per listed id — never a scan.
    #[tokio::test]
    async fn a_pages_details_are_read_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteSchedulerStore::open(&dir.path().join("maintenance.db")).unwrap();
        for sql in [
            FACTS_OF_PAGE,
            SETTINGS_OF_PAGE,
            PUBLISHED_OF_PAGE,
            REMINDERS_OF_PAGE,
        ] {
            let checked = store.db().read(|conn| check_page_query(conn, sql)).await;
            assert_eq!(checked.unwrap(), Ok(()));
        }
    }
}
