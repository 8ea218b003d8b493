//! The scheduler's use cases over its store: apply a registration or a timeline event, change an item's
//! settings. Each one reads the vehicle's state, lets the pure evaluation and plan decide, and commits
//! against the version it read (retrying when another writer got there first).

use chrono::{DateTime, NaiveDate, Utc};
use vwc_contracts::maintenance::MaintenanceItemView;
use vwc_contracts::{FieldError, VehicleId, is_task_code};
use vwc_store::StoreError;
use vwc_store::vehicle_ledger::{Applied, Decide, LedgerParts, LedgerService, update};
pub use vwc_store::vehicle_ledger::{AsOf, UpdateError};

use crate::evaluation::{Derived, Evaluation, TimelineFact, VehicleRecord, evaluate_vehicle_as};
use crate::publishing::{Published, SentReminder, next_reminder_repeat, plan};
use crate::settings::{ItemChange, ItemSettings, current_settings};
use crate::store::{CommitOutcome, SchedulerStore, VehicleCommit, VehicleState};

/// Where "now" comes from: the wall clock in production, a fixed instant in tests.
pub type Clock = vwc_clock::SharedClock;

pub fn system_clock() -> Clock {
    vwc_clock::system()
}

/// What an update did.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    pub outcome: CommitOutcome,
    /// The vehicle's schedule after the update; `None` for a duplicate or an unregistered vehicle.
    pub evaluation: Option<Evaluation>,
    /// What the update published.
    pub published: Published,
}

impl Applied for Updated {
    type Decision = Option<(Evaluation, Published)>;

    fn outcome(&self) -> CommitOutcome {
        self.outcome
    }

    fn of(outcome: CommitOutcome, decided: Option<Option<(Evaluation, Published)>>) -> Updated {
        let (evaluation, published) = match decided.flatten() {
            Some((evaluation, published)) => (Some(evaluation), published),
            None => (None, Published::default()),
        };
        Updated {
            outcome,
            evaluation,
            published,
        }
    }
}

/// What a caller of [`decide`] keeps of the evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The whole evaluation (its items cloned into the schedule event).
    Evaluation,
    /// Only the counts (the sweep): the evaluation's items, without their derived fields ([`Derived::Later`]), move into
    /// the schedule event, and the one returned may have none left.
    Counts,
}

/// What [`decide`] evaluated and planned.
pub struct Decided {
    pub evaluation: Evaluation,
    /// Items evaluated (whatever `evaluation` kept).
    pub items: u64,
    pub published: Published,
}

impl Decided {
    /// The evaluation and what was published, as an update reports them.
    pub fn into_parts(self) -> (Evaluation, Published) {
        (self.evaluation, self.published)
    }
}

/// Evaluates `state` (already changed in memory), moves the plan's published schedule, reminders and
/// events into the commit, and returns the evaluation (as `keep` says) and what the plan published; `None`
/// before the vehicle is registered.
pub fn decide(
    state: &VehicleState,
    commit: &mut VehicleCommit,
    when: AsOf,
    traceparent: Option<&str>,
    keep: Keep,
) -> Option<Decided> {
    let AsOf { today, now } = when;
    let vehicle = state.vehicle.as_ref()?;
    // The sweep keeps only counts: it derives no text of an item it does not publish (see `Derived`).
    let derived = match keep {
        Keep::Evaluation => Derived::Written,
        Keep::Counts => Derived::Later,
    };
    let mut evaluation =
        evaluate_vehicle_as(vehicle, &state.facts, &state.settings, today, derived);
    let mut p = plan(
        vehicle,
        state.published.as_ref(),
        &state.reminders,
        &evaluation,
        today,
        now,
    );
    let published = p.counts();
    let sent = state.reminders.iter().chain(&p.reminders);
    commit.wake_on = Some(wake_on(&evaluation, sent, today));
    let items = evaluation.items.len() as u64;
    if published.schedule {
        p.set_schedule_items(match keep {
            Keep::Evaluation => evaluation.items.clone(),
            Keep::Counts => std::mem::take(&mut evaluation.items),
        });
    }
    commit.published = p.published.take();
    commit.reminders = std::mem::take(&mut p.reminders);
    commit.ledger.outbox = p.into_envelopes(vehicle, traceparent);
    Some(Decided {
        evaluation,
        items,
        published,
    })
}

/// However far off its next change, the sweep evaluates every vehicle at least this often: a safety net
/// that costs about 1 % of the fleet a day.
pub const MAX_DAYS_ASLEEP: u64 = 90;

/// The day the sweep must next evaluate a vehicle evaluated on `today`: the first day an item's status
/// may change by time alone or an overdue item is reminded again, at most [`MAX_DAYS_ASLEEP`] away.
/// Every fact that arrives re-evaluates the vehicle (and sets this again) anyway.
pub fn wake_on<'a>(
    evaluation: &Evaluation,
    sent: impl Iterator<Item = &'a SentReminder> + Clone,
    today: NaiveDate,
) -> NaiveDate {
    let latest = today + chrono::Days::new(MAX_DAYS_ASLEEP);
    [
        evaluation.status_may_change_on,
        next_reminder_repeat(&evaluation.items, sent, today),
    ]
    .into_iter()
    .flatten()
    .fold(latest, NaiveDate::min)
}

/// Reads the vehicle, applies `change` to the state in memory (recording what to store in the commit),
/// re-evaluates as of `when()` — asked again by each attempt, so one retried after a conflict decides as
/// of its own instant and a schedule saved later never carries an earlier `evaluatedAt` — and commits;
/// again from the top on a conflict. `change` may refuse.
pub async fn update_vehicle<E>(
    store: &dyn SchedulerStore,
    vehicle_id: &VehicleId,
    claim: Option<&str>,
    when: impl Fn() -> AsOf,
    traceparent: Option<&str>,
    change: impl FnMut(&mut VehicleState, &mut VehicleCommit) -> Result<(), E>,
) -> Result<Result<Updated, E>, UpdateError> {
    update(store, vehicle_id, claim, change, |state, commit| {
        decide(state, commit, when(), traceparent, Keep::Evaluation).map(Decided::into_parts)
    })
    .await
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

/// The scheduler's write operations, for the consumer and the HTTP routes. Its store, clock, locks and
/// kept states, its constructor (`new`) and the builders over them (`with_clock`, `with_kept_states`), come
/// with [`LedgerService`].
#[derive(Clone)]
pub struct Scheduler(LedgerParts<dyn SchedulerStore, VehicleState>);

vwc_store::vehicle_facts!(VehicleState {
    registration: vehicle: VehicleRecord = VehicleRecord::from_vehicle,
    fact: TimelineFact = TimelineFact::from_event,
});

/// A registration creates (or refreshes) the vehicle's schedule; a timeline event that says something
/// about maintenance (or its correction or void) re-evaluates it. Every update evaluates the whole
/// schedule: the scheduler has one scope.
impl LedgerService for Scheduler {
    const CONSUMER: &'static str = crate::CONSUMER;

    type State = VehicleState;
    type Store = dyn SchedulerStore;
    type Scope = ();
    const EVERYTHING: () = ();
    type Updated = Updated;

    fn parts(&self) -> &LedgerParts<dyn SchedulerStore, VehicleState> {
        &self.0
    }

    fn scope_after(_: &TimelineFact) {}

    fn widen((): (), (): ()) {}

    fn decide(
        &self,
        state: &VehicleState,
        commit: &mut VehicleCommit,
        how: Decide<'_, ()>,
    ) -> Option<(Evaluation, Published)> {
        decide(
            state,
            commit,
            AsOf::at(self.now()),
            how.traceparent,
            Keep::Evaluation,
        )
        .map(Decided::into_parts)
    }

    /// The schedule published, the reminders sent and the wake day, as the stores keep them — and times
    /// to the microsecond, as they are stored (the next evaluation then reads what a fresh read would).
    fn settle(state: &mut VehicleState, commit: &VehicleCommit) {
        if let Some(published) = &commit.published {
            state.published = Some(published.clone());
        }
        for sent in &commit.reminders {
            if !state.reminders.iter().any(|r| same_reminder(r, sent)) {
                state.reminders.push(SentReminder {
                    sent_at: as_stored(sent.sent_at),
                    ..sent.clone()
                });
            }
        }
        if commit.wake_on.is_some() {
            state.wake_on = commit.wake_on;
        }
        if let Some(vehicle) = &mut state.vehicle {
            vehicle.registered_at = as_stored(vehicle.registered_at);
        }
        for fact in &mut state.facts {
            fact.at = as_stored(fact.at);
        }
    }
}

/// What [`LedgerService::new`] and the builders make the service of.
impl From<LedgerParts<dyn SchedulerStore, VehicleState>> for Scheduler {
    fn from(parts: LedgerParts<dyn SchedulerStore, VehicleState>) -> Scheduler {
        Scheduler(parts)
    }
}

/// Whether two reminders are one stored row (its key: task, status, due cycle, occurrence).
fn same_reminder(a: &SentReminder, b: &SentReminder) -> bool {
    (a.task == b.task && a.status == b.status)
        && (a.due_cycle == b.due_cycle && a.occurrence == b.occurrence)
}

/// `t` as the stores keep it: to the microsecond.
fn as_stored(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(6)
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
        // One change of a vehicle at a time in this process, deliveries included: concurrent PUTs queue
        // here instead of conflicting in the store (16 conflicts in a row gave up).
        let _vehicle = self.locks().lock(vehicle_id.as_str()).await;
        let updated = update_vehicle(
            self.ledger(),
            vehicle_id,
            None,
            || AsOf::at(self.now()),
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
