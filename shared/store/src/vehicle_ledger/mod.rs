//! The optimistic per-vehicle state the maintenance scheduler and the valuation both keep, written once:
//! a version per vehicle, the inbox claim, the ledger of applied revisions (`fact_revisions`), removal of
//! a revised record's fact, the day the daily job last ran per organisation, and striped per-vehicle locks.
//!
//! What each service stores beside it (registration, facts, what it published) stays in its adapter; the
//! adapters call these pieces inside their own commit transaction. The table and collection names are the
//! ones both services already used, so existing data directories and databases open unchanged.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use async_trait::async_trait;
use chrono::NaiveDate;
use vwc_contracts::{Envelope, OrgId, VehicleId};

use crate::{Plumbed, Plumbing, StoreError, StoreResult};

pub mod bench;
pub mod cache;
pub mod deliveries;
#[cfg(feature = "aws")]
pub mod mongo;
pub mod parts;
pub mod sqlite;
pub mod update;

pub use cache::{KEPT_STATES, KeptStates, StateCache};
pub use deliveries::{
    Applied, CommitOf, Decide, Delivery, DeliveryError, ForeignVehicle, LEDGER_EVENTS,
    LedgerService, Revision, Step, VehicleFacts, apply_steps, deliver, deliver_chain,
    unless_foreign,
};
pub use parts::{AsOf, LedgerParts};
pub use update::{LedgerState, MAX_ATTEMPTS, UpdateError, VehicleLedger, update};

/// How a commit of one vehicle ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Applied,
    /// The claimed envelope had been applied before; nothing was written.
    Duplicate,
    /// The vehicle changed since the state was read; nothing was written. Read again and retry.
    Conflict,
}

impl CommitOutcome {
    /// How many of a batch's commits were applied (the benchmarks' seeding counts what it added).
    pub fn applied(outcomes: &[CommitOutcome]) -> usize {
        outcomes
            .iter()
            .filter(|o| **o == CommitOutcome::Applied)
            .count()
    }
}

/// The ledger's part of one atomic change of a vehicle, whatever else the service's commit carries: each
/// service's commit holds one as its `ledger` field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LedgerChange {
    pub vehicle_id: String,
    /// The version the change was computed from; the commit is refused when the stored one differs.
    pub expected_version: u64,
    /// Envelope id to claim in the consumer's inbox: a duplicate changes nothing.
    pub claim: Option<String>,
    /// Event ids whose facts are removed before the commit's own facts are added (a corrected or voided
    /// record).
    pub remove_facts: Vec<String>,
    /// Envelopes enqueued in the same transaction.
    pub outbox: Vec<Envelope>,
    /// Revisions applied: (event id, revision); the store keeps the highest per event.
    pub revisions: Vec<(String, u32)>,
}

impl LedgerChange {
    /// A change of vehicle `vehicle_id` computed from its version `expected_version`, claiming nothing yet.
    pub fn on(vehicle_id: &str, expected_version: u64) -> LedgerChange {
        LedgerChange {
            vehicle_id: vehicle_id.to_string(),
            expected_version,
            ..LedgerChange::default()
        }
    }

    /// Records revision `revision` of record `event_id` as applied, and its previous fact as removed.
    pub fn revise(&mut self, event_id: &str, revision: u32) {
        self.revisions = vec![(event_id.to_string(), revision)];
        self.remove_facts = vec![event_id.to_string()];
    }
}

/// A service's commit, through its [`LedgerChange`]. Implemented with [`ledger_commit!`](crate::ledger_commit)
/// on a struct with the field `ledger: LedgerChange`.
pub trait LedgerCommit: Send + Sync + 'static {
    fn ledger(&self) -> &LedgerChange;
    fn ledger_mut(&mut self) -> &mut LedgerChange;

    /// The commit, claiming envelope `envelope_id` in the consumer's inbox.
    fn claiming(mut self, envelope_id: &str) -> Self
    where
        Self: Sized,
    {
        self.ledger_mut().claim = Some(envelope_id.to_string());
        self
    }
    /// The commit, enqueuing `envelopes` in its transaction.
    fn enqueuing(mut self, envelopes: Vec<Envelope>) -> Self
    where
        Self: Sized,
    {
        self.ledger_mut().outbox = envelopes;
        self
    }
}

/// Implements [`LedgerCommit`] for a commit struct with the field `ledger: LedgerChange`.
///
/// `ledger_commit!(Commit on State)` also makes `State` (a `Default` struct with the fields
/// `vehicle_id: String`, `version: u64` and `revisions: BTreeMap<String, u32>`) a [`LedgerState`]
/// committed by `Commit` (also `Default`), and adds `State::new(vehicle_id)` (nothing stored yet) and
/// `Commit::on(&state)` (a commit computed from the state's version).
#[macro_export]
macro_rules! ledger_commit {
    ($commit:ty) => {
        impl $crate::vehicle_ledger::LedgerCommit for $commit {
            fn ledger(&self) -> &$crate::vehicle_ledger::LedgerChange {
                &self.ledger
            }
            fn ledger_mut(&mut self) -> &mut $crate::vehicle_ledger::LedgerChange {
                &mut self.ledger
            }
        }
    };
    ($commit:ident on $state:ident) => {
        $crate::ledger_commit!($commit);

        impl $crate::vehicle_ledger::LedgerState for $state {
            type Commit = $commit;
            fn vehicle_id(&self) -> &str {
                &self.vehicle_id
            }
            fn version(&self) -> u64 {
                self.version
            }
            fn revisions(&mut self) -> &mut std::collections::BTreeMap<String, u32> {
                &mut self.revisions
            }
            fn begin(&self, envelope_id: Option<&str>) -> $commit {
                let mut commit = $commit::on(self);
                commit.ledger.claim = envelope_id.map(str::to_string);
                commit
            }
            fn advance(&mut self) {
                self.version += 1;
            }
            fn unstored(vehicle_id: &str) -> $state {
                $state::new(vehicle_id)
            }
        }

        impl $state {
            /// A vehicle of which nothing is stored yet: version 0.
            pub fn new(vehicle_id: &str) -> $state {
                $state {
                    vehicle_id: vehicle_id.to_string(),
                    ..$state::default()
                }
            }
        }

        impl $commit {
            /// A commit computed from `state` (its version), claiming nothing yet.
            // A commit holding nothing but its `ledger` has no other field to default.
            #[allow(clippy::needless_update)]
            pub fn on(state: &$state) -> $commit {
                $commit {
                    ledger: $crate::vehicle_ledger::LedgerChange::on(
                        &state.vehicle_id,
                        state.version,
                    ),
                    ..$commit::default()
                }
            }
        }
    };
}

/// A service's vehicle ledger, whatever the database, as its state type says it: the consumer whose inbox
/// its commits claim envelopes in, where its daily runs are kept, and what it stores of a vehicle beside
/// the ledger's id and version. Each backend adds how the service's own data is laid out ([`sqlite::SqliteLedger`],
/// `mongo::MongoLedger`), and [`LedgerStore`] is the store.
pub trait Ledger: LedgerState + Sized {
    /// The service's fields of a stored vehicle.
    type Fields: serde::de::DeserializeOwned + Send + Sync;
    const CONSUMER: &'static str;
    const DAYS: DayLedger;

    /// The state of a stored vehicle before its details are read.
    fn state_of(stored: StoredVehicle<Self::Fields>) -> StoreResult<Self>;
}

/// A service's vehicle ledger in its own database `D` (a [`crate::SqliteDb`] or a `MongoDb`) of the
/// states `L`. The outbox, dead letters, ping and daily runs come with it.
pub struct LedgerStore<D, L> {
    db: D,
    ledger: std::marker::PhantomData<fn() -> L>,
}

impl<D: Clone, L> Clone for LedgerStore<D, L> {
    fn clone(&self) -> Self {
        LedgerStore::new(self.db.clone())
    }
}

impl<D, L> LedgerStore<D, L> {
    fn new(db: D) -> Self {
        LedgerStore {
            db,
            ledger: std::marker::PhantomData,
        }
    }

    pub fn db(&self) -> &D {
        &self.db
    }
}

impl<D: Plumbing + Send + Sync, L: Ledger> Plumbed for LedgerStore<D, L> {
    type Db = D;
    fn plumbing(&self) -> &D {
        &self.db
    }
}

impl<D: Plumbing + Send + Sync, L: Ledger> KeepsDays for LedgerStore<D, L> {
    const DAYS: DayLedger = L::DAYS;
}

/// Where a service keeps "the daily job last ran for this organisation on this day": a table (SQLite) or
/// collection (MongoDB) keyed by organisation with a `day` and a time stamp field.
#[derive(Debug, Clone, Copy)]
pub struct DayLedger {
    /// Table or collection name (`sweeps`, `revalues`).
    pub name: &'static str,
    /// The column or field holding when the day was recorded (`swept_at`, `revalued_at`).
    pub stamped: &'static str,
}

/// The days a service's daily job ran, per organisation (the scheduler's sweep, the valuation's
/// re-valuation): a job that ran today for an organisation need not run again.
#[async_trait]
pub trait DailyRuns: Send + Sync {
    /// Records that the organisations' daily job ran on `day`.
    async fn record_day(&self, orgs: &[OrgId], day: NaiveDate) -> StoreResult<()>;
    /// The day the organisation's daily job last ran, if ever.
    async fn last_day(&self, org: &OrgId) -> StoreResult<Option<NaiveDate>>;
}

/// The key under which a daily job run for every organisation records its day (no organisation id has
/// this form).
pub const EVERY_ORGANISATION: &str = "*";

/// Whether the daily job already ran on `run`'s day for its organisation, or for every organisation (which
/// covers each) — never for a forced run ([`DailyRun::forced`]). Every event, setting and registration since
/// was handled when it arrived, and a second run against the same day finds nothing new, so the second run
/// of a day need not read a single vehicle.
pub async fn ran_already<R: DailyRuns + ?Sized>(runs: &R, run: &DailyRun) -> StoreResult<bool> {
    if run.force {
        return Ok(false);
    }
    if runs.last_day(&EVERY_ORGANISATION.into()).await? == Some(run.day) {
        return Ok(true);
    }
    Ok(match run.org.as_deref() {
        Some(org) => runs.last_day(&org.into()).await? == Some(run.day),
        None => false,
    })
}

/// Records that the daily job ran on `day` for `org`, or — a run of every organisation — for each
/// organisation in `seen` and for [`EVERY_ORGANISATION`], the key [`ran_already`] reads.
pub async fn record_run<R: DailyRuns + ?Sized>(
    runs: &R,
    org: Option<&str>,
    seen: impl IntoIterator<Item = String>,
    day: NaiveDate,
) -> StoreResult<()> {
    let orgs: Vec<OrgId> = match org {
        Some(org) => vec![org.into()],
        None => seen
            .into_iter()
            .chain([EVERY_ORGANISATION.to_string()])
            .map(OrgId::from)
            .collect(),
    };
    runs.record_day(&orgs, day).await
}

/// A database that can keep a [`DayLedger`] (SQLite and MongoDB).
#[async_trait]
pub trait DayLedgerDb: Send + Sync {
    async fn record_day(&self, days: &DayLedger, orgs: &[OrgId], on: NaiveDate) -> StoreResult<()>;
    async fn last_day(&self, days: &DayLedger, org: &OrgId) -> StoreResult<Option<NaiveDate>>;
}

/// A store whose daily runs are kept in [`KeepsDays::DAYS`] of its database: it is [`DailyRuns`].
pub trait KeepsDays: Plumbed {
    const DAYS: DayLedger;
}

#[async_trait]
impl<T> DailyRuns for T
where
    T: KeepsDays,
    T::Db: DayLedgerDb,
{
    async fn record_day(&self, orgs: &[OrgId], day: NaiveDate) -> StoreResult<()> {
        self.plumbing().record_day(&T::DAYS, orgs, day).await
    }

    async fn last_day(&self, org: &OrgId) -> StoreResult<Option<NaiveDate>> {
        self.plumbing().last_day(&T::DAYS, org).await
    }
}

/// One page of a ledger's registered vehicles for its daily job: those of `org` (or of every
/// organisation), by id, strictly after `after`, at most `limit`; `query` is what else the service asks of
/// the page (the scheduler: only vehicles whose wake day has come; the valuation: how much history).
#[derive(Debug, Clone, Copy)]
pub struct VehiclePage<'a, Q> {
    pub org: Option<&'a OrgId>,
    pub after: Option<&'a VehicleId>,
    pub limit: usize,
    pub query: Q,
}

impl<'a, Q> VehiclePage<'a, Q> {
    pub fn new(
        org: Option<&'a OrgId>,
        after: Option<&'a VehicleId>,
        limit: usize,
        query: Q,
    ) -> VehiclePage<'a, Q> {
        VehiclePage {
            org,
            after,
            limit,
            query,
        }
    }
}

/// Reads a stored `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> StoreResult<NaiveDate> {
    text.parse()
        .map_err(|e| StoreError::Other(format!("bad date {text:?}: {e}")))
}

/// A page's vehicle states, in the page's order, looked up by id. Each detail row read for a page (≈ 15 a
/// vehicle in a sweep) looks its vehicle up here, and the rows come a vehicle at a time: the id looked up
/// last is compared first, and only another is hashed (foldhash, seeded per process: `std`'s SipHash took
/// ≈ 20 ns a short id).
pub struct PageStates<S> {
    states: Vec<S>,
    index: HashMap<String, usize, foldhash::fast::RandomState>,
    /// The id looked up last and its state's place.
    last: Option<(String, usize)>,
}

impl<S> PageStates<S> {
    /// The state of vehicle `id`, if it is on the page.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut S> {
        let at = match &mut self.last {
            Some((last, at)) if last == id => *at,
            last => {
                let at = *self.index.get(id)?;
                match last {
                    Some((last, place)) => {
                        last.clear();
                        last.push_str(id);
                        *place = at;
                    }
                    None => *last = Some((id.to_string(), at)),
                }
                at
            }
        };
        self.states.get_mut(at)
    }

    /// Every state of the page, in its order.
    pub fn values_mut(&mut self) -> std::slice::IterMut<'_, S> {
        self.states.iter_mut()
    }

    /// The states, in the page's order.
    pub fn into_vec(self) -> Vec<S> {
        self.states
    }
}

/// The revisions read for a page of vehicles, given to the states they belong to. `revisions` says where a
/// state keeps them.
pub fn fill_revisions<S>(
    states: &mut PageStates<S>,
    rows: Vec<RevisionRow>,
    revisions: fn(&mut S) -> &mut BTreeMap<String, u32>,
) {
    for row in rows {
        if let Some(state) = states.get_mut(&row.vehicle_id) {
            revisions(state).insert(row.event_id, row.revision);
        }
    }
}

/// One stored entry of the revision ledger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RevisionRow {
    pub vehicle_id: String,
    pub event_id: String,
    #[serde(with = "revision_number")]
    pub revision: u32,
}

/// Revisions are stored as 64-bit integers (BSON has no unsigned type).
mod revision_number {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(revision: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(i64::from(*revision))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let n = i64::deserialize(d)?;
        u32::try_from(n).map_err(serde::de::Error::custom)
    }
}

/// A stored vehicle: the ledger's id and version, and the service's own fields `F` beside them. Both
/// adapters read this shape: a SQLite row (built column by column) and a MongoDB `vehicles` document
/// (deserialised, `F`'s fields flattened into it).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct StoredVehicle<F> {
    #[serde(rename = "_id")]
    pub id: String,
    /// 0 when the document has none yet.
    #[serde(default)]
    pub version: i64,
    #[serde(flatten)]
    pub fields: F,
}

/// A field stored as JSON text (absent or null: `None`): `#[serde(default, deserialize_with =
/// "vwc_store::vehicle_ledger::json_text")]`.
pub fn json_text<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::Deserialize;
    match Option::<String>::deserialize(d)? {
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

/// The states of a page of stored vehicles, in the order read (`PageStates::into_vec` once the details
/// are filled in), with their ids in that order.
pub fn keyed_states<F, S>(
    vehicles: Vec<StoredVehicle<F>>,
    into_state: fn(StoredVehicle<F>) -> StoreResult<S>,
) -> StoreResult<(Vec<String>, PageStates<S>)> {
    let order: Vec<String> = vehicles.iter().map(|v| v.id.clone()).collect();
    let mut index = HashMap::with_capacity_and_hasher(order.len(), Default::default());
    let mut states = Vec::with_capacity(order.len());
    for (at, v) in vehicles.into_iter().enumerate() {
        index.insert(v.id.clone(), at);
        states.push(into_state(v)?);
    }
    let states = PageStates {
        states,
        index,
        last: None,
    };
    Ok((order, states))
}

/// Striped per-vehicle locks: concurrent deliveries for one vehicle (a burst of dealer webhooks) queue
/// here instead of conflicting in the store and exhausting their optimistic retries.
pub struct VehicleLocks {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

const STRIPES: usize = 64;

impl Default for VehicleLocks {
    fn default() -> VehicleLocks {
        VehicleLocks {
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }
}

impl VehicleLocks {
    /// Waits for the stripe of `vehicle_id`; its writes go one at a time while the guard lives.
    pub async fn lock(&self, vehicle_id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        vehicle_id.hash(&mut h);
        self.stripes[(h.finish() as usize) % self.stripes.len()]
            .lock()
            .await
    }
}

/// One run of a daily job over the vehicles (the maintenance sweep, the re-valuation): the organisation
/// (every one when `None`), the day it evaluates, "now" by the service's clock (what the published events
/// and records are stamped with), and the trace those events carry (a new one when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyRun {
    pub org: Option<String>,
    pub day: NaiveDate,
    pub now: chrono::DateTime<chrono::Utc>,
    pub traceparent: Option<String>,
    /// Run even when the day already ran, over every vehicle (not only those a daily job would read): for
    /// after a change of the job's own rules, such as an upgrade of `vwc`. What was published already is not
    /// published again; only what the new rules decide differently is.
    pub force: bool,
}

impl DailyRun {
    /// A run of `day` for `org` (every organisation when `None`), at `now`.
    pub fn of_day(
        org: Option<&str>,
        day: NaiveDate,
        now: chrono::DateTime<chrono::Utc>,
    ) -> DailyRun {
        DailyRun {
            org: org.map(str::to_string),
            day,
            now,
            traceparent: None,
            force: false,
        }
    }

    /// A run of today by `clock`.
    pub fn today(org: Option<&str>, clock: &dyn vwc_clock::Clock) -> DailyRun {
        let now = clock.now();
        DailyRun::of_day(org, now.date_naive(), now)
    }

    /// The same run, its events carrying `traceparent`.
    pub fn traced(self, traceparent: Option<&str>) -> DailyRun {
        DailyRun {
            traceparent: traceparent.map(str::to_string),
            ..self
        }
    }

    /// The same run, forced when `force` ([`DailyRun::force`]).
    pub fn forced(self, force: bool) -> DailyRun {
        DailyRun { force, ..self }
    }
}

/// Runs a service's daily job for today by `clock` every `interval` (the first right away) until
/// `shutdown` turns true, in embedded mode. A failed run is logged (`job` names it) and tried again at the
/// next tick.
pub async fn run_daily<F, Fut, R, E>(
    job: &'static str,
    interval: std::time::Duration,
    clock: vwc_clock::SharedClock,
    shutdown: tokio::sync::watch::Receiver<bool>,
    mut run: F,
) where
    F: FnMut(DailyRun) -> Fut,
    Fut: std::future::Future<Output = Result<R, E>>,
    E: std::fmt::Display,
{
    let ticker = tokio::time::interval(interval);
    crate::run_every(ticker, shutdown, || {
        let run = run(DailyRun::today(None, clock.as_ref()));
        async move {
            if let Err(e) = run.await {
                tracing::error!(error = %e, job, "a daily job failed; retrying at the next tick");
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows a vehicle at a time, then back to one seen before, an id off the page and the page's order: the
    /// id looked up last never stands in for another.
    #[test]
    fn a_pages_states_are_found_by_id_whichever_came_last() {
        let vehicles = ["veh_b", "veh_a", "veh_c"].map(|id| StoredVehicle {
            id: id.to_string(),
            version: 1,
            fields: (),
        });
        let (order, mut states) =
            keyed_states(vehicles.to_vec(), |v| Ok((v.id, Vec::<u32>::new()))).unwrap();
        assert_eq!(order, ["veh_b", "veh_a", "veh_c"]);
        for (row, id) in [
            "veh_a", "veh_a", "veh_c", "veh_a", "veh_x", "veh_a", "veh_b",
        ]
        .into_iter()
        .enumerate()
        {
            match states.get_mut(id) {
                Some((found, rows)) => {
                    assert_eq!(found, id);
                    rows.push(row as u32);
                }
                None => assert_eq!(id, "veh_x"),
            }
        }
        assert_eq!(
            states.into_vec(),
            [
                ("veh_b".to_string(), vec![6]),
                ("veh_a".to_string(), vec![0, 1, 3, 5]),
                ("veh_c".to_string(), vec![2]),
            ]
        );
    }
}
