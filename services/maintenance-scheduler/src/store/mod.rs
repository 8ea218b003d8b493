//! The scheduler's store port. It owns per-vehicle state (the vehicle, its timeline facts, item settings,
//! what was last published, reminders sent) and the last sweep day per organisation.
//!
//! Writes are optimistic: a [`VehicleCommit`] names the version of the state it was computed from, and the
//! store applies it (inbox claim, state, outbox envelopes: one transaction) only if the vehicle is still at
//! that version. Evaluation stays out of the store, and two writers of one vehicle never lose an update.

use async_trait::async_trait;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use vwc_contracts::{OrgId, VehicleId};
use vwc_store::parse_ts;
pub use vwc_store::vehicle_ledger::{CommitOutcome, LedgerChange, VehicleLedger};
use vwc_store::vehicle_ledger::{
    DailyRuns, DayLedger, Ledger, StoredVehicle, VehiclePage, parse_day,
};
use vwc_store::{Plumbing, StoreError, StoreResult};

use crate::evaluation::{TimelineFact, VehicleRecord};
use crate::publishing::{PublishedSchedule, SentReminder};
use crate::settings::ItemSettings;

/// Everything the scheduler keeps about one vehicle. A vehicle id never seen gives version 0 and nothing
/// else; facts may arrive before the vehicle's registration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VehicleState {
    pub vehicle_id: String,
    /// `None` until `VehicleRegistered` was applied.
    pub vehicle: Option<VehicleRecord>,
    /// Bumped by every commit; 0 when nothing is stored.
    pub version: u64,
    pub facts: Vec<TimelineFact>,
    /// The owner's settings of the items they changed (and custom tasks).
    pub settings: Vec<ItemSettings>,
    /// What was last published in `MaintenanceScheduleUpdated`.
    pub published: Option<PublishedSchedule>,
    pub reminders: Vec<SentReminder>,
    /// The day the sweep must next evaluate the vehicle; `None` until an evaluation was stored.
    pub wake_on: Option<NaiveDate>,
    /// See [`LedgerState::revisions`](vwc_store::vehicle_ledger::LedgerState::revisions).
    pub revisions: BTreeMap<String, u32>,
}

/// What both adapters store of a vehicle beside its id and version: the registration (all absent until
/// `VehicleRegistered`) and the wake day.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct VehicleFields {
    pub org_id: Option<String>,
    pub name: Option<String>,
    pub unit: Option<String>,
    pub registered_at: Option<String>,
    #[serde(default)]
    pub retired: bool,
    pub wake_on: Option<String>,
}

/// The scheduler's vehicle ledger keeps these states; its tables (`sqlite`) and collections (`mongo`) say the
/// rest.
impl Ledger for VehicleState {
    type Fields = VehicleFields;
    const CONSUMER: &'static str = crate::CONSUMER;
    const DAYS: DayLedger = SWEEPS;

    /// The state of a stored vehicle, before its facts, settings and what it published are read.
    fn state_of(stored: StoredVehicle<VehicleFields>) -> StoreResult<VehicleState> {
        let f = stored.fields;
        let vehicle = match (f.org_id, f.name, f.unit, f.registered_at) {
            (Some(org_id), Some(name), Some(unit), Some(registered_at)) => Some(VehicleRecord {
                id: stored.id.clone(),
                org_id,
                name,
                unit: parse_wire("unit", &unit)?,
                registered_at: parse_ts(&registered_at)?,
                retired: f.retired,
            }),
            _ => None,
        };
        Ok(VehicleState {
            vehicle_id: stored.id,
            vehicle,
            version: stored.version as u64,
            wake_on: f.wake_on.as_deref().map(parse_day).transpose()?,
            ..VehicleState::default()
        })
    }
}

/// When each organisation was last swept (`sweeps`: organisation, day, `swept_at`).
const SWEEPS: DayLedger = DayLedger {
    name: "sweeps",
    stamped: "swept_at",
};

/// One atomic change of a vehicle's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VehicleCommit {
    /// Which vehicle, from which version, the envelope claimed in the inbox (consumer
    /// `maintenance-scheduler`), the revisions applied with the facts they remove, and the events published.
    pub ledger: LedgerChange,
    /// Sets (or refreshes) the vehicle's registration.
    pub register: Option<VehicleRecord>,
    /// Facts to add; one already stored (same event id) is ignored.
    pub facts: Vec<TimelineFact>,
    /// Item settings to store, replacing the vehicle's settings of the same task.
    pub settings: Vec<ItemSettings>,
    /// The schedule this commit publishes.
    pub published: Option<PublishedSchedule>,
    pub reminders: Vec<SentReminder>,
    /// When set, the day the sweep must next evaluate the vehicle (see `service::wake_on`).
    pub wake_on: Option<NaiveDate>,
}

vwc_store::ledger_commit!(VehicleCommit on VehicleState);

/// The scheduler's store: a vehicle's state read and committed through [`VehicleLedger`], pages of
/// vehicles for the sweep, and the days it ran.
#[async_trait]
pub trait SchedulerStore: Plumbing + DailyRuns + VehicleLedger<State = VehicleState> {
    /// Registered vehicles of `org` (or of every organisation), ordered by id, strictly after `after`, at
    /// most `limit`: the sweep's bulk read (a handful of queries per page). With `due_on`, only those
    /// whose wake day has come by then (or that have none yet). The facts may come without their event
    /// ids (the SQLite store leaves them out): the states are for evaluating, not for applying events to.
    async fn vehicle_states(
        &self,
        org: Option<&OrgId>,
        after: Option<&VehicleId>,
        due_on: Option<NaiveDate>,
        limit: usize,
    ) -> StoreResult<Vec<VehicleState>> {
        self.vehicle_page(VehiclePage::new(org, after, limit, due_on))
            .await
    }

    /// [`SchedulerStore::vehicle_states`] of one page.
    async fn vehicle_page(&self, page: SweepPage<'_>) -> StoreResult<Vec<VehicleState>>;
}

/// A page of the sweep's read; its query is the day whose due vehicles it lists (`None`: all of them).
pub type SweepPage<'a> = VehiclePage<'a, Option<NaiveDate>>;

/// A stored enum by its wire name (`due_soon`, `km`, `acquisition`): the adapters' one way to read them.
pub(crate) fn parse_wire<T: std::str::FromStr>(what: &str, text: &str) -> StoreResult<T> {
    text.parse()
        .map_err(|_| StoreError::Other(format!("bad {what} {text:?}")))
}

#[cfg(feature = "aws")]
pub mod mongo;
pub mod sqlite;
