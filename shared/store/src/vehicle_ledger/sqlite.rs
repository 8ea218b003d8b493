//! The SQLite side of the per-vehicle ledger. The service's migrations create the tables: `vehicles`
//! (`id`, `version`, …), `facts` and `fact_revisions` keyed by (`vehicle_id`, `event_id`), and its
//! [`DayLedger`] table (`org_id` primary key, `day`, the stamp column).

use std::path::Path;

use async_trait::async_trait;
use chrono::NaiveDate;
use rusqlite::types::Value;
use rusqlite::{Connection, params};
use serde::de::DeserializeOwned;
use vwc_contracts::{OrgId, VehicleId};

use super::{
    CommitOf, CommitOutcome, DayLedger, DayLedgerDb, Ledger, LedgerCommit, LedgerStore, PageStates,
    RevisionRow, StoredVehicle, VehicleLedger, VehiclePage, fill_revisions, keyed_states,
    parse_day,
};
use crate::sqlite::{Statements, claim_inbox, optional};
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

/// The statement that sets a vehicle's version (id, version), adding its row when it has none.
pub const SET_VERSION: &str = "INSERT INTO vehicles (id, version) VALUES (?1, ?2)
     ON CONFLICT (id) DO UPDATE SET version = excluded.version";

/// The ledger's part of one commit, inside the caller's write transaction: refuses the commit when the
/// vehicle is no longer at its expected version (`Some(Conflict)`) or its envelope was applied before
/// (`Some(Duplicate)`), writing nothing; otherwise bumps the version by `set_version` (which creates the
/// vehicle row), records the revisions (the highest per record wins), removes the revised records' facts
/// and answers `None`. The caller then writes its own state.
pub fn apply_head<C: LedgerCommit>(
    st: &mut Statements<'_>,
    consumer: &str,
    commit: &C,
    set_version: fn(&mut Statements<'_>, &C, i64) -> StoreResult<()>,
) -> StoreResult<Option<CommitOutcome>> {
    let ledger = commit.ledger();
    let vehicle_id = &ledger.vehicle_id;
    let current: i64 = optional(
        st.get("SELECT version FROM vehicles WHERE id = ?1")?
            .query_row([vehicle_id], |r| r.get(0)),
    )?
    .unwrap_or(0);
    if current as u64 != ledger.expected_version {
        return Ok(Some(CommitOutcome::Conflict));
    }
    if let Some(envelope_id) = ledger.claim.as_deref()
        && !claim_inbox(st.conn(), consumer, envelope_id)?
    {
        return Ok(Some(CommitOutcome::Duplicate));
    }
    set_version(st, commit, current + 1)?;
    st.execute_each(
        "INSERT INTO fact_revisions (vehicle_id, event_id, revision) VALUES (?1, ?2, ?3)
         ON CONFLICT (vehicle_id, event_id) DO UPDATE SET revision = max(revision, excluded.revision)",
        (ledger.revisions.iter())
            .map(|(event_id, revision)| (vehicle_id, event_id, i64::from(*revision))),
    )?;
    st.execute_each(
        "DELETE FROM facts WHERE vehicle_id = ?1 AND event_id = ?2",
        (ledger.remove_facts.iter()).map(|event_id| (vehicle_id, event_id)),
    )?;
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

/// The revision ledger of the vehicles of `page`.
fn revisions_of(conn: &Connection, page: &PageIds<'_>) -> StoreResult<Vec<RevisionRow>> {
    let mut rows = Vec::new();
    page.query(
        conn,
        "SELECT vehicle_id, event_id, revision FROM fact_revisions WHERE vehicle_id IN_PAGE",
        |r| {
            rows.push(RevisionRow {
                vehicle_id: r.get(0)?,
                event_id: r.get(1)?,
                revision: r.get::<_, i64>(2)? as u32,
            });
            Ok(())
        },
    )?;
    Ok(rows)
}

/// What a page's detail queries write for "the vehicle id is one of the page's" (`vehicle_id IN_PAGE`).
pub const IN_PAGE: &str = "IN_PAGE";

/// `sql` with [`IN_PAGE`] written out: `BETWEEN ?1 AND ?2` (the first and last id) for a `range`, else a
/// look-up of each id of the JSON array `?1`.
pub fn page_sql(sql: &str, range: bool) -> String {
    let names = if range {
        "BETWEEN ?1 AND ?2"
    } else {
        "IN (SELECT value FROM json_each(?1))"
    };
    sql.replace(IN_PAGE, names)
}

/// Checks that a page's detail query (`sql`, naming the page with [`IN_PAGE`]) walks its table's key in both
/// forms — by a range of ids, and by each listed id — and scans no table; `Err` says which form did not, with
/// its `EXPLAIN QUERY PLAN`. For the services' tests of their detail queries, on their real schema.
pub fn check_page_query(conn: &Connection, sql: &str) -> StoreResult<Result<(), String>> {
    for (range, walk, args) in [
        (
            true,
            "(vehicle_id>? AND vehicle_id<?)",
            vec!["veh_a", "veh_b"],
        ),
        (false, "(vehicle_id=?)", vec![r#"["veh_a","veh_b"]"#]),
    ] {
        let query = page_sql(sql, range);
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {query}"))?;
        let plan = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))?
            .collect::<Result<Vec<_>, _>>()?;
        let walks = plan
            .iter()
            .any(|l| l.starts_with("SEARCH") && l.contains(walk));
        let scans = plan
            .iter()
            .any(|l| l.starts_with("SCAN") && !l.contains("json_each"));
        if !walks || scans {
            return Ok(Err(format!("{query}: {plan:?}")));
        }
    }
    Ok(Ok(()))
}

/// How a page's detail queries find its vehicles' rows.
pub enum PageIds<'a> {
    /// The first and last id, when every vehicle row between them is one of the page's: each table's rows
    /// of the page are then one range of its key (a first sweep's pages are), instead of one look-up per
    /// id — 2–3 % of a first sweep's CPU (docs/bench.md, stop 48).
    Range(&'a str, &'a str),
    /// The ids, as a JSON array: one look-up each.
    Listed(String),
}

impl<'a> PageIds<'a> {
    /// The page of `order`'s vehicles.
    fn of(conn: &Connection, order: &'a [String]) -> StoreResult<PageIds<'a>> {
        if let (Some(first), Some(last)) = (order.iter().min(), order.iter().max()) {
            let between: i64 = match order.len() {
                1 => 1,
                _ => conn
                    .prepare_cached("SELECT count(*) FROM vehicles WHERE id BETWEEN ?1 AND ?2")?
                    .query_row([first, last], |r| r.get(0))?,
            };
            if usize::try_from(between).ok() == Some(order.len()) {
                return Ok(PageIds::Range(first, last));
            }
        }
        Ok(PageIds::Listed(serde_json::to_string(order)?))
    }

    /// Runs `sql` (which names the page with [`IN_PAGE`]) and gives `each` its rows.
    fn query(
        &self,
        conn: &Connection,
        sql: &str,
        mut each: impl FnMut(&rusqlite::Row<'_>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let range = matches!(self, PageIds::Range(..));
        let mut stmt = conn.prepare_cached(&page_sql(sql, range))?;
        let mut rows = match self {
            PageIds::Range(first, last) => stmt.query([first, last])?,
            PageIds::Listed(ids) => stmt.query([ids])?,
        };
        while let Some(r) = rows.next()? {
            each(r)?;
        }
        Ok(())
    }
}

/// Applies `commits` on the writer thread in one transaction, each by `apply`, after `prepare` turned
/// each into what it writes off that thread (serialising a page's envelopes is most of a commit's cost,
/// and the writer is shared by every write of the service); they are freed off that thread too. One
/// outcome per commit, in order.
///
/// Preparing a delivery's few commits on the calling task instead (no hop to the blocking pool) was
/// measured and left: it cut the server's CPU per webhook by ≈ 8 % but put the work on the runtime's
/// worker threads, in front of the HTTP requests, and the ingest rate fell (docs/bench.md, "Ledger
/// chains").
pub async fn commit_prepared<C, P>(
    db: &SqliteDb,
    commits: Vec<C>,
    prepare: fn(C) -> StoreResult<P>,
    apply: fn(&mut Statements<'_>, &P) -> StoreResult<CommitOutcome>,
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
    let (outcomes, applied) = db
        .write_with_events(move |conn| {
            // The batch's statements are taken from the cache once, not once per commit.
            let mut st = Statements::new(conn);
            let outcomes = prepared
                .iter()
                .map(|p| apply(&mut st, p))
                .collect::<StoreResult<Vec<_>>>()?;
            Ok((outcomes, prepared))
        })
        .await?;
    // The commits come back to be freed here: freeing a sweep page's commits (their events, schedules
    // and JSON) on the writer thread was ≈ 9 % of its time, and every write of the service waits for it.
    drop(applied);
    Ok(outcomes)
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

/// What a service keeps in its SQLite vehicle ledger beside the ledger's own columns: the scheduler and
/// the valuation each describe their tables once, and [`LedgerStore`] on a [`SqliteDb`] does the rest
/// (opening, reading a vehicle or a page of them, committing on the writer, the daily runs, the
/// plumbing).
pub trait SqliteLedger: Ledger {
    /// What a read asks of the details besides the vehicles (the valuation: every history point or
    /// the newest only); [`SqliteLedger::FULL`] when one vehicle is read.
    type Detail: Copy + Send + 'static;
    /// What a commit writes, serialised off the writer thread.
    type Prepared: Send + 'static;
    const MIGRATIONS: &'static [&'static str];
    /// The page size a new database of the service is made with ([`SqliteDb::open_with_pages`]).
    const PAGE_BYTES: u32 = crate::sqlite::DEFAULT_PAGE_BYTES;
    /// The `json_object(…)` of the service's columns of `vehicles` (read as [`Ledger::Fields`]).
    const FIELDS: &'static str;
    const FULL: Self::Detail;

    /// Fills the details of the states from the service's tables (the revision ledger is filled by the
    /// caller).
    fn load_details(details: &mut Details<'_, Self>, detail: Self::Detail) -> StoreResult<()>;

    /// Serialises what `commit` writes (off the writer thread).
    fn prepare(commit: &CommitOf<Self>) -> StoreResult<Self::Prepared>;

    /// Writes the service's part of `c` after the ledger's (inside the writer's transaction).
    fn apply(st: &mut Statements<'_>, c: &CommitOf<Self>, p: &Self::Prepared) -> StoreResult<()>;

    /// Sets the vehicle's new `version`, adding its row when it has none ([`SET_VERSION`]). A service
    /// whose commits nearly all set a column of its own on the row may set it in the same statement: one
    /// statement fewer per commit (the scheduler's wake day: ≈ 2 % of a first sweep, docs/bench.md).
    fn set_version(st: &mut Statements<'_>, c: &CommitOf<Self>, version: i64) -> StoreResult<()> {
        st.get(SET_VERSION)?
            .execute(params![c.ledger().vehicle_id, version])?;
        Ok(())
    }
}

/// The states of a page of vehicles whose details are being read, in the reader's snapshot.
pub struct Details<'a, S> {
    conn: &'a Connection,
    ids: &'a PageIds<'a>,
    /// By vehicle id.
    pub states: &'a mut PageStates<S>,
}

impl<S> Details<'_, S> {
    /// Runs `sql` (its first column the vehicle id; it names the page's vehicles with `vehicle_id
    /// IN_PAGE`, see [`IN_PAGE`]) and gives each row to `apply` with its vehicle's state. A row of a vehicle
    /// outside the page is passed over.
    pub fn fill(
        &mut self,
        sql: &str,
        mut apply: impl FnMut(&mut S, &rusqlite::Row<'_>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let states = &mut *self.states;
        self.ids.query(self.conn, sql, |r| {
            // Borrowed from the row: a sweep page reads ≈ 15 facts per vehicle, and a string allocated
            // per row only to look its vehicle up was a measurable share of reading it.
            let vehicle_id = r.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?;
            match states.get_mut(vehicle_id) {
                Some(state) => apply(state, r),
                None => Ok(()),
            }
        })
    }
}

/// A commit ready for the writer: the service's part and the outbox rows serialised (the commit's
/// envelopes themselves went to the relay).
struct ReadyCommit<L: SqliteLedger> {
    commit: CommitOf<L>,
    own: L::Prepared,
    /// (event id, envelope JSON)
    outbox: Vec<(String, std::sync::Arc<str>)>,
}

fn ready<L: SqliteLedger>(mut commit: CommitOf<L>) -> StoreResult<ReadyCommit<L>> {
    let own = L::prepare(&commit)?;
    // The envelopes are taken out of the commit: their JSON is written and the envelopes themselves are
    // handed on to the relay (`outbox_row`) instead of copied.
    let outbox = (std::mem::take(&mut commit.ledger_mut().outbox).into_iter())
        .map(crate::sqlite::outbox_row)
        .collect::<StoreResult<_>>()?;
    Ok(ReadyCommit {
        commit,
        own,
        outbox,
    })
}

fn apply_ready<L: SqliteLedger>(
    st: &mut Statements<'_>,
    c: &ReadyCommit<L>,
) -> StoreResult<CommitOutcome> {
    if let Some(refused) = apply_head(st, L::CONSUMER, &c.commit, L::set_version)? {
        return Ok(refused);
    }
    L::apply(st, &c.commit, &c.own)?;
    st.enqueue_serialized(&c.outbox)?;
    Ok(CommitOutcome::Applied)
}

/// Reads the vehicles `rows` describe and their details, in one snapshot opened by the caller.
fn load_states<L: SqliteLedger>(
    conn: &Connection,
    rows: Vec<StoredVehicle<L::Fields>>,
    detail: L::Detail,
) -> StoreResult<Vec<L>> {
    let (order, mut states) = keyed_states(rows, L::state_of)?;
    if !order.is_empty() {
        let ids = PageIds::of(conn, &order)?;
        let mut details = Details {
            conn,
            ids: &ids,
            states: &mut states,
        };
        L::load_details(&mut details, detail)?;
        fill_revisions(&mut states, revisions_of(conn, &ids)?, L::revisions);
    }
    Ok(states.into_vec())
}

/// A page of registered vehicles (of `org`, or of every organisation), by id after `after`, at most
/// `limit`; `also` is a further condition on `vehicles` with its one parameter (written `?4`).
#[derive(Debug, Clone)]
pub struct RowPage {
    pub org: Option<OrgId>,
    pub after: String,
    pub limit: usize,
    pub also: Option<(&'static str, String)>,
}

impl RowPage {
    /// The page `page` asks for, without a further condition.
    pub fn of<Q>(page: &VehiclePage<'_, Q>) -> RowPage {
        RowPage {
            org: page.org.cloned(),
            after: page.after.map_or("", VehicleId::as_str).to_string(),
            limit: page.limit,
            also: None,
        }
    }

    /// The same page, only of the vehicles `condition` (on `?4`) holds for.
    pub fn only(self, condition: &'static str, param: String) -> RowPage {
        RowPage {
            also: Some((condition, param)),
            ..self
        }
    }
}

impl<L: SqliteLedger> LedgerStore<SqliteDb, L> {
    pub fn open(path: &Path) -> StoreResult<Self> {
        Ok(LedgerStore::new(SqliteDb::open_with_pages(
            path,
            L::MIGRATIONS,
            L::PAGE_BYTES,
        )?))
    }

    /// The vehicles of `page` with their details (as `detail` asks), read in one snapshot.
    pub async fn page(&self, page: RowPage, detail: L::Detail) -> StoreResult<Vec<L>> {
        let owner = match page.org {
            Some(_) => "org_id = ?1",
            None => "org_id IS NOT NULL",
        };
        let (also, param) = page.also.unzip();
        let sql = format!(
            "SELECT id, version, {fields} FROM vehicles WHERE {owner} AND id > ?2 {also}
             ORDER BY id LIMIT ?3",
            fields = L::FIELDS,
            also = also.map_or(String::new(), |c| format!("AND ({c})")),
        );
        let mut params = vec![
            Value::from(page.org.map(|o| o.as_str().to_string())),
            Value::from(page.after),
            Value::from(i64::try_from(page.limit).unwrap_or(i64::MAX)),
        ];
        params.extend(param.map(Value::from));
        self.db()
            .read(move |conn| {
                let tx = conn.unchecked_transaction()?;
                let rows = tx
                    .prepare_cached(&sql)?
                    .query_map(rusqlite::params_from_iter(params), read_stored)?
                    .collect::<Result<_, _>>()?;
                load_states::<L>(&tx, rows, detail)
            })
            .await
    }
}

#[async_trait]
impl<L: SqliteLedger> VehicleLedger for LedgerStore<SqliteDb, L> {
    type State = L;

    async fn vehicle_state(&self, vehicle_id: &VehicleId) -> StoreResult<L> {
        let id = vehicle_id.as_str().to_string();
        let sql = format!(
            "SELECT id, version, {} FROM vehicles WHERE id = ?1",
            L::FIELDS
        );
        self.db()
            .read(move |conn| {
                let tx = conn.unchecked_transaction()?;
                let row = optional(tx.prepare_cached(&sql)?.query_row([&id], read_stored))?;
                let state = match row {
                    Some(row) => load_states::<L>(&tx, vec![row], L::FULL)?.pop(),
                    None => None,
                };
                Ok(state.unwrap_or_else(|| L::unstored(&id)))
            })
            .await
    }

    async fn commit_batch(&self, commits: Vec<CommitOf<L>>) -> StoreResult<Vec<CommitOutcome>> {
        commit_prepared(self.db(), commits, ready::<L>, apply_ready::<L>).await
    }
}
