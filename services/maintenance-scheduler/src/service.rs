//! The scheduler's use cases over its store: apply a registration or a timeline event, change an item's
//! settings. Each one reads the vehicle's state, lets the pure evaluation and plan decide, and commits
//! against the version it read (retrying when another writer got there first).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use vwc_contracts::maintenance::MaintenanceItemView;
use vwc_contracts::{FieldError, Vehicle, VehicleEvent, VehicleId, is_task_code};
use vwc_store::StoreError;
use vwc_store::vehicle_ledger::{
    Applied, Delivery, ForeignVehicle, LedgerService, Revision, VehicleLocks, unless_foreign,
};

use crate::evaluation::{Evaluation, TimelineFact, VehicleRecord, evaluate_vehicle};
use crate::publishing::{Plan, SentReminder, next_reminder_repeat, plan};
use crate::settings::{ItemChange, ItemSettings, current_settings};
use crate::store::{CommitOutcome, SchedulerStore, VehicleCommit, VehicleState};

/// Attempts of one update before giving up on a vehicle that keeps changing under it.
const MAX_ATTEMPTS: u32 = 16;

/// Where "now" comes from: the wall clock in production, a fixed instant in tests.
pub type Clock = vwc_clock::SharedClock;

pub fn system_clock() -> Clock {
    vwc_clock::system()
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("vehicle {0} kept changing; gave up after {MAX_ATTEMPTS} attempts")]
    Contention(String),
}

/// What an update did.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    pub outcome: CommitOutcome,
    /// The vehicle's schedule after the update; `None` for a duplicate or an unregistered vehicle.
    pub evaluation: Option<Evaluation>,
    pub plan: Plan,
}

impl Applied for Updated {
    fn outcome(&self) -> CommitOutcome {
        self.outcome
    }
}

/// Evaluates `state` (already changed in memory), fills the commit's published schedule, reminders and
/// events, and returns the evaluation and the plan; `None` before the vehicle is registered.
pub fn decide(
    state: &VehicleState,
    commit: &mut VehicleCommit,
    today: NaiveDate,
    now: DateTime<Utc>,
    traceparent: Option<&str>,
) -> Option<(Evaluation, Plan)> {
    let vehicle = state.vehicle.as_ref()?;
    let evaluation = evaluate_vehicle(vehicle, &state.facts, &state.settings, today);
    let p = plan(
        vehicle,
        state.published.as_ref(),
        &state.reminders,
        &evaluation,
        today,
        now,
    );
    commit.published = p.published.clone();
    commit.reminders = p.reminders.clone();
    commit.outbox = p.envelopes(vehicle, traceparent);
    let sent: Vec<SentReminder> = state
        .reminders
        .iter()
        .chain(&p.reminders)
        .cloned()
        .collect();
    commit.wake_on = Some(wake_on(&evaluation, &sent, today));
    Some((evaluation, p))
}

/// However far off its next change, the sweep evaluates every vehicle at least this often: a safety net
/// that costs about 1 % of the fleet a day.
pub const MAX_DAYS_ASLEEP: u64 = 90;

/// The day the sweep must next evaluate a vehicle evaluated on `today`: the first day an item's status
/// may change by time alone or an overdue item is reminded again, at most [`MAX_DAYS_ASLEEP`] away.
/// Every fact that arrives re-evaluates the vehicle (and sets this again) anyway.
pub fn wake_on(evaluation: &Evaluation, sent: &[SentReminder], today: NaiveDate) -> NaiveDate {
    let latest = today + chrono::Days::new(MAX_DAYS_ASLEEP);
    [
        evaluation.status_may_change_on,
        next_reminder_repeat(&evaluation.items, sent, today),
    ]
    .into_iter()
    .flatten()
    .fold(latest, NaiveDate::min)
}

/// When an update happens: the day it evaluates for and the instant it stamps events with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsOf {
    pub today: NaiveDate,
    pub now: DateTime<Utc>,
}

impl AsOf {
    pub fn at(now: DateTime<Utc>) -> AsOf {
        AsOf {
            today: now.date_naive(),
            now,
        }
    }
}

/// Reads the vehicle, applies `change` to the state in memory (recording what to store in the commit),
/// re-evaluates as of `when`, and commits; again from the top on a conflict. `change` may refuse.
pub async fn update_vehicle<E>(
    store: &dyn SchedulerStore,
    vehicle_id: &VehicleId,
    claim: Option<&str>,
    when: AsOf,
    traceparent: Option<&str>,
    mut change: impl FnMut(&mut VehicleState, &mut VehicleCommit) -> Result<(), E>,
) -> Result<Result<Updated, E>, UpdateError> {
    let AsOf { today, now } = when;
    for _ in 0..MAX_ATTEMPTS {
        let mut state = store.vehicle_state(vehicle_id).await?;
        let mut commit = VehicleCommit::on(&state);
        commit.claim = claim.map(str::to_string);
        if let Err(refused) = change(&mut state, &mut commit) {
            return Ok(Err(refused));
        }
        let decided = decide(&state, &mut commit, today, now, traceparent);
        match store.commit(commit).await? {
            CommitOutcome::Conflict => continue,
            CommitOutcome::Duplicate => {
                return Ok(Ok(Updated {
                    outcome: CommitOutcome::Duplicate,
                    evaluation: None,
                    plan: Plan::default(),
                }));
            }
            CommitOutcome::Applied => {
                let (evaluation, plan) =
                    decided.map_or((None, Plan::default()), |(e, p)| (Some(e), p));
                return Ok(Ok(Updated {
                    outcome: CommitOutcome::Applied,
                    evaluation,
                    plan,
                }));
            }
        }
    }
    Err(UpdateError::Contention(vehicle_id.to_string()))
}

/// Custom (non-catalogue) tasks one vehicle may have. Every item travels in the vehicle's
/// `MaintenanceScheduleUpdated` event; this keeps that event far below the bus's size limit.
pub const MAX_CUSTOM_TASKS: usize = 50;

/// Why `PUT /v1/vehicles/{id}/maintenance/{task}` was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigureError {
    /// Unknown here, or of another organisation: the same answer.
    #[error("vehicle not found")]
    VehicleNotFound,
    /// Neither a catalogue task, a task already configured, nor a new custom task with a title.
    #[error("maintenance task not found")]
    TaskNotFound,
    #[error("invalid settings")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Update(#[from] UpdateError),
}

/// The scheduler's write operations, for the consumer and the HTTP routes.
#[derive(Clone)]
pub struct Scheduler {
    store: Arc<dyn SchedulerStore>,
    clock: Clock,
    /// Concurrent deliveries for one vehicle queue here instead of conflicting in the store.
    locks: Arc<VehicleLocks>,
}

impl Scheduler {
    pub fn new(store: Arc<dyn SchedulerStore>) -> Scheduler {
        Scheduler {
            store,
            clock: system_clock(),
            locks: Arc::default(),
        }
    }

    /// Evaluates "today" by another clock (tests, demos).
    pub fn with_clock(mut self, clock: Clock) -> Scheduler {
        self.clock = clock;
        self
    }

    pub fn store(&self) -> &Arc<dyn SchedulerStore> {
        &self.store
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

impl Scheduler {
    /// Applies `change` to the vehicle under its lock, as delivered `at` (the envelope claimed with it).
    async fn apply<E>(
        &self,
        at: Delivery<'_>,
        vehicle_id: &VehicleId,
        change: impl FnMut(&mut VehicleState, &mut VehicleCommit) -> Result<(), E>,
    ) -> Result<Result<Updated, E>, UpdateError> {
        let _vehicle = self.locks.lock(vehicle_id).await;
        let as_of = AsOf::at(self.now());
        update_vehicle(
            self.store.as_ref(),
            vehicle_id,
            Some(at.envelope_id),
            as_of,
            at.traceparent,
            change,
        )
        .await
    }

    /// [`Scheduler::apply`] of a timeline event's `change`: refused, changing nothing (`None`), when the
    /// event names a vehicle registered to another organisation.
    async fn apply_event(
        &self,
        at: Delivery<'_>,
        event: &VehicleEvent,
        mut change: impl FnMut(&mut VehicleState, &mut VehicleCommit),
    ) -> Result<Option<Updated>, UpdateError> {
        let updated = self
            .apply(at, &event.vehicle_id, |state, commit| {
                let owner = state.vehicle.as_ref().map(|v| v.org_id.as_str());
                ForeignVehicle::unless_owned(owner, event)?;
                change(state, commit);
                Ok(())
            })
            .await?;
        Ok(unless_foreign(updated, event))
    }
}

#[async_trait]
impl LedgerService for Scheduler {
    const CONSUMER: &'static str = crate::CONSUMER;

    type Error = UpdateError;
    type Updated = Updated;

    /// Creates (or refreshes) the vehicle's schedule and publishes it.
    async fn vehicle_registered(
        &self,
        at: Delivery<'_>,
        vehicle: &Vehicle,
    ) -> Result<Updated, UpdateError> {
        let record = VehicleRecord::from_vehicle(vehicle);
        let updated = self
            .apply(at, &vehicle.id, |state, commit| {
                state.vehicle = Some(record.clone());
                commit.register = Some(record.clone());
                Ok::<(), std::convert::Infallible>(())
            })
            .await?;
        Ok(updated.unwrap_or_else(|never| match never {}))
    }

    /// A corrected or voided record: its fact is replaced by the new version's (none when `voided`, or
    /// when the new version says nothing about maintenance) and the vehicle re-evaluated, so a voided oil
    /// change no longer counts as done.
    ///
    /// Revisions are applied in revision order whatever order they arrive in: one older than a revision
    /// already applied changes nothing, and an original record arriving after any revision of it is
    /// ignored (see [`VehicleState::revisions`]).
    async fn event_revised(
        &self,
        at: Delivery<'_>,
        event: &VehicleEvent,
        revision: Revision,
    ) -> Result<Option<Updated>, UpdateError> {
        let fact = if revision.voided {
            None
        } else {
            TimelineFact::from_event(event)
        };
        self.apply_event(at, event, |state, commit| {
            if !revision.take(&mut state.revisions, commit, event.id.as_str()) {
                return;
            }
            state.facts.retain(|f| f.event_id != event.id.as_str());
            if let Some(fact) = &fact {
                state.facts.push(fact.clone());
                commit.facts = vec![fact.clone()];
            }
        })
        .await
    }

    /// Records what the event says about maintenance and re-evaluates the vehicle. An event that says
    /// nothing about maintenance changes nothing (`None`).
    async fn vehicle_event(
        &self,
        at: Delivery<'_>,
        event: &VehicleEvent,
    ) -> Result<Option<Updated>, UpdateError> {
        let Some(fact) = TimelineFact::from_event(event) else {
            return Ok(None);
        };
        self.apply_event(at, event, |state, commit| {
            // A correction or void of this record arrived first: it supersedes the original.
            if state.revisions.contains_key(&fact.event_id) {
                return;
            }
            if !state.facts.iter().any(|f| f.event_id == fact.event_id) {
                state.facts.push(fact.clone());
            }
            commit.facts = vec![fact.clone()];
        })
        .await
    }
}

impl Scheduler {
    /// Changes one item of a vehicle of `org` and returns its view after re-evaluation.
    pub async fn configure_item(
        &self,
        org: &str,
        vehicle_id: &VehicleId,
        task: &str,
        change: &ItemChange,
        traceparent: Option<&str>,
    ) -> Result<MaintenanceItemView, ConfigureError> {
        if !is_task_code(task) {
            return Err(ConfigureError::TaskNotFound);
        }
        let updated = update_vehicle(
            self.store.as_ref(),
            vehicle_id,
            None,
            AsOf::at(self.now()),
            traceparent,
            |state, commit| {
                let vehicle = state
                    .vehicle
                    .as_ref()
                    .filter(|v| v.org_id == org)
                    .ok_or(ConfigureError::VehicleNotFound)?;
                let current = match current_settings(vehicle.unit, &state.settings, task) {
                    Some(current) => current,
                    // A task outside the catalogue is created by naming it.
                    None if matches!(change.title, Some(Some(_))) => {
                        let custom = state
                            .settings
                            .iter()
                            .filter(|s| ItemSettings::default_for(&s.task, vehicle.unit).is_none())
                            .count();
                        if custom >= MAX_CUSTOM_TASKS {
                            return Err(ConfigureError::Invalid(vec![FieldError {
                                field: "task".into(),
                                message: format!(
                                    "a vehicle has at most {MAX_CUSTOM_TASKS} custom maintenance tasks"
                                ),
                            }]));
                        }
                        ItemChange::blank(task)
                    }
                    None => return Err(ConfigureError::TaskNotFound),
                };
                let next = change.apply_to(&current);
                next.validate().map_err(ConfigureError::Invalid)?;
                state.settings.retain(|s| s.task != task);
                state.settings.push(next.clone());
                commit.settings = vec![next];
                Ok(())
            },
        )
        .await?;
        let updated = updated?;
        updated
            .evaluation
            .and_then(|e| e.item(task).cloned())
            .ok_or_else(|| {
                ConfigureError::Update(UpdateError::Store(StoreError::Other(format!(
                    "vehicle {vehicle_id} has no item {task} after configuring it"
                ))))
            })
    }
}
