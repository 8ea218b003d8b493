//! The scheduler's store port. It owns per-vehicle state (the vehicle, its timeline facts, item settings,
//! what was last published, reminders sent) and the last sweep day per organisation.
//!
//! Writes are optimistic: a [`VehicleCommit`] names the version of the state it was computed from, and the
//! store applies it (inbox claim, state, outbox envelopes: one transaction) only if the vehicle is still at
//! that version. Evaluation stays out of the store, and two writers of one vehicle never lose an update.

use async_trait::async_trait;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use vwc_contracts::{Envelope, OrgId, VehicleId};
use vwc_store::parse_ts;
pub use vwc_store::vehicle_ledger::CommitOutcome;
use vwc_store::vehicle_ledger::{DailyRuns, DayLedger, StoredVehicle, parse_day};
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
    /// The latest revision applied of each record that was corrected or voided (revision 2 onwards; an
    /// original record is revision 1). The bus does not keep order, so a revision may arrive before the
    /// record it revises, or before an older revision: those lose to what is recorded here.
    pub revisions: BTreeMap<String, u32>,
}

impl VehicleState {
    pub fn new(vehicle_id: &str) -> VehicleState {
        VehicleState {
            vehicle_id: vehicle_id.to_string(),
            ..VehicleState::default()
        }
    }
}

/// What both adapters store of a vehicle beside its id and version: the registration (all absent until
/// `VehicleRegistered`) and the wake day.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct VehicleFields {
    pub org_id: Option<String>,
    pub name: Option<String>,
    pub unit: Option<String>,
    pub registered_at: Option<String>,
    #[serde(default)]
    pub retired: bool,
    pub wake_on: Option<String>,
}

/// The state of a stored vehicle, before its facts, settings and what it published are read.
pub(crate) fn state_of(stored: StoredVehicle<VehicleFields>) -> StoreResult<VehicleState> {
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

/// When each organisation was last swept (`sweeps`: organisation, day, `swept_at`).
pub(crate) const SWEEPS: DayLedger = DayLedger {
    name: "sweeps",
    stamped: "swept_at",
};

/// One atomic change of a vehicle's state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VehicleCommit {
    pub vehicle_id: String,
    /// The version the change was computed from; the commit is refused when the stored one differs.
    pub expected_version: u64,
    /// Envelope id to claim in the inbox (consumer `maintenance-scheduler`): a duplicate changes nothing.
    pub claim: Option<String>,
    /// Sets (or refreshes) the vehicle's registration.
    pub register: Option<VehicleRecord>,
    /// Event ids whose facts are removed before `facts` are added (a corrected or voided record).
    pub remove_facts: Vec<String>,
    /// Facts to add; one already stored (same event id) is ignored.
    pub facts: Vec<TimelineFact>,
    /// Item settings to store, replacing the vehicle's settings of the same task.
    pub settings: Vec<ItemSettings>,
    /// The schedule this commit publishes.
    pub published: Option<PublishedSchedule>,
    pub reminders: Vec<SentReminder>,
    pub outbox: Vec<Envelope>,
    /// When set, the day the sweep must next evaluate the vehicle (see `service::wake_on`).
    pub wake_on: Option<NaiveDate>,
    /// Revisions applied: (event id, revision); the store keeps the highest per event.
    pub revisions: Vec<(String, u32)>,
}

vwc_store::ledger_commit!(VehicleCommit);

impl VehicleCommit {
    pub fn on(state: &VehicleState) -> VehicleCommit {
        VehicleCommit {
            vehicle_id: state.vehicle_id.clone(),
            expected_version: state.version,
            ..VehicleCommit::default()
        }
    }
}

#[async_trait]
pub trait SchedulerStore: Plumbing + DailyRuns {
    /// The state of one vehicle, read consistently (one snapshot).
    async fn vehicle_state(&self, vehicle_id: &VehicleId) -> StoreResult<VehicleState>;

    /// Registered vehicles of `org` (or of every organisation), ordered by id, strictly after `after`, at
    /// most `limit`: the sweep's bulk read (a handful of queries per page). With `due_on`, only those
    /// whose wake day has come by then (or that have none yet).
    async fn vehicle_states(
        &self,
        org: Option<&OrgId>,
        after: Option<&VehicleId>,
        due_on: Option<NaiveDate>,
        limit: usize,
    ) -> StoreResult<Vec<VehicleState>>;

    async fn commit(&self, commit: VehicleCommit) -> StoreResult<CommitOutcome> {
        let mut outcomes = self.commit_batch(vec![commit]).await?;
        Ok(outcomes.pop().unwrap_or(CommitOutcome::Conflict))
    }

    /// Applies many commits in as few transactions as the backend allows; one outcome per commit, in order.
    /// A commit that conflicts is skipped; the others still apply.
    async fn commit_batch(&self, commits: Vec<VehicleCommit>) -> StoreResult<Vec<CommitOutcome>>;
}

/// A stored enum by its wire name (`due_soon`, `km`, `acquisition`): the adapters' one way to read them.
pub(crate) fn parse_wire<T: std::str::FromStr>(what: &str, text: &str) -> StoreResult<T> {
    text.parse()
        .map_err(|_| StoreError::Other(format!("bad {what} {text:?}")))
}

#[cfg(feature = "aws")]
pub mod mongo;
pub mod sqlite;
