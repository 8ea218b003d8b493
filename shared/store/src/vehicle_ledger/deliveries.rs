//! What a per-vehicle ledger does with each envelope routed to it, decided once for both services: a
//! registration and every later reading of the whole vehicle (updated, sold, archived) replace its
//! registration, a recorded event adds a fact, a correction or a void revises one. The services' own
//! events and the other services' are not consumed.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use vwc_clock::SharedClock;
use vwc_contracts::{Event, EventType, Vehicle, VehicleEvent, VehicleId};

use super::{
    CommitOutcome, KeptStates, LedgerCommit, LedgerParts, LedgerState, MAX_ATTEMPTS, StateCache,
    UpdateError, VehicleLedger, VehicleLocks,
};
use crate::StoreError;

/// The event types a ledger consumes: exactly what `contracts/routes.json` routes to either service.
pub const LEDGER_EVENTS: &[EventType] = &[
    EventType::VehicleRegistered,
    EventType::VehicleEventRecorded,
    EventType::VehicleEventCorrected,
    EventType::VehicleEventVoided,
    EventType::VehicleUpdated,
    EventType::VehicleSold,
    EventType::VehicleArchived,
];

/// The envelope an update arrives in: claimed in the inbox with the update's commit, and the trace that
/// what the update publishes continues (`traceparent`, a child of the envelope's).
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub envelope_id: &'a str,
    pub traceparent: Option<&'a str>,
    /// The consumer's span of this envelope when it is applied in a chain with others
    /// ([`apply_steps`]): its own part (the change and the decision) runs in it. `None`: the caller's.
    pub span: Option<&'a tracing::Span>,
}

/// A timeline record's new version: corrected to revision `number`, or voided by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revision {
    pub number: u32,
    pub voided: bool,
}

impl Revision {
    /// Applies this revision of record `event_id` to a vehicle's ledger: `false`, changing nothing, when
    /// it or a later revision was applied already (the bus keeps no order); otherwise remembers it in
    /// `applied` and in the commit, which also removes the record's previous fact (the caller drops it
    /// from the facts it holds).
    pub fn take(
        self,
        applied: &mut BTreeMap<String, u32>,
        commit: &mut impl LedgerCommit,
        event_id: &str,
    ) -> bool {
        if applied
            .get(event_id)
            .is_some_and(|seen| *seen >= self.number)
        {
            return false;
        }
        applied.insert(event_id.to_string(), self.number);
        commit.ledger_mut().revise(event_id, self.number);
        true
    }
}

/// An event naming a vehicle registered to another organisation: the update is refused, changing nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForeignVehicle;

impl ForeignVehicle {
    /// Refuses `event` unless the vehicle is unregistered (`owner` is `None`) or of the event's organisation.
    pub fn unless_owned(owner: Option<&str>, event: &VehicleEvent) -> Result<(), ForeignVehicle> {
        match owner {
            Some(org) if org != event.org_id.as_str() => Err(ForeignVehicle),
            _ => Ok(()),
        }
    }
}

/// `updated`, or `None` (with a warning) when the event named a vehicle of another organisation.
pub fn unless_foreign<U>(updated: Result<U, ForeignVehicle>, event: &VehicleEvent) -> Option<U> {
    match updated {
        Ok(u) => Some(u),
        Err(ForeignVehicle) => {
            tracing::warn!(vehicle_id = %event.vehicle_id, event_org = %event.org_id, event_id = %event.id,
                "event names a vehicle of another organisation; ignored");
            None
        }
    }
}

/// What one of a ledger service's updates did: how its commit went and, when it applied, what the
/// service decided to publish.
pub trait Applied: Send {
    /// What the service decides for a changed vehicle (published schedule, valuation points).
    type Decision: Send;
    fn outcome(&self) -> CommitOutcome;
    /// An update that committed with `outcome`: `decision` is `None` for a duplicate delivery.
    fn of(outcome: CommitOutcome, decision: Option<Self::Decision>) -> Self;
}

/// A ledger state as the shared use cases change it: who owns the vehicle, its registration and facts.
pub trait VehicleFacts: LedgerState {
    /// What the service keeps of a timeline event.
    type Fact: Clone + Send + Sync;
    /// What the service keeps of the vehicle's registration.
    type Registration: Clone + Send + Sync;

    /// What the event says to the service; `None` when nothing.
    fn fact_of(event: &VehicleEvent) -> Option<Self::Fact>;
    fn registration_of(vehicle: &Vehicle) -> Self::Registration;
    /// The organisation the vehicle is registered to; `None` before its registration.
    fn owner(&self) -> Option<&str>;
    /// Replaces the registration, in the state and in the commit.
    fn register(&mut self, commit: &mut Self::Commit, registration: &Self::Registration);
    /// Adds `fact` to the state unless one of its record is held, and to the commit (the store keeps a
    /// record's fact once).
    fn record_fact(&mut self, commit: &mut Self::Commit, fact: &Self::Fact);
    /// Drops the fact of record `event_id` from the state (the commit removes it: [`Revision::take`]).
    fn forget_fact(&mut self, event_id: &str);
}

/// Implements [`VehicleFacts`] for a state struct by the ledger's field names: the state keeps its facts in
/// `facts: Vec<Fact>` and its registration in the named `Option` field; its commit (`Self::Commit`) has
/// `facts: Vec<Fact>` and `register: Option<Registration>`; a fact has `event_id: String`, a registration
/// `org_id: String`. `sorted_by` names the function that puts the facts back in order after one is added
/// (none: kept in arrival order).
///
/// ```ignore
/// vwc_store::vehicle_facts!(VehicleState {
///     registration: vehicle: VehicleRecord = VehicleRecord::from_vehicle,
///     fact: TimelineFact = TimelineFact::from_event,
/// });
/// ```
#[macro_export]
macro_rules! vehicle_facts {
    ($state:ty {
        registration: $field:ident: $registration:ty = $from_vehicle:path,
        fact: $fact:ty = $from_event:path,
        $(sorted_by: $sort:path,)?
    }) => {
        impl $crate::vehicle_ledger::VehicleFacts for $state {
            type Fact = $fact;
            type Registration = $registration;

            fn fact_of(event: &vwc_contracts::VehicleEvent) -> Option<$fact> {
                $from_event(event)
            }

            fn registration_of(vehicle: &vwc_contracts::Vehicle) -> $registration {
                $from_vehicle(vehicle)
            }

            fn owner(&self) -> Option<&str> {
                self.$field.as_ref().map(|r| r.org_id.as_str())
            }

            fn register(
                &mut self,
                commit: &mut $crate::vehicle_ledger::CommitOf<Self>,
                registration: &$registration,
            ) {
                self.$field = Some(registration.clone());
                commit.register = Some(registration.clone());
            }

            fn record_fact(&mut self, commit: &mut $crate::vehicle_ledger::CommitOf<Self>, fact: &$fact) {
                if !self.facts.iter().any(|f| f.event_id == fact.event_id) {
                    self.facts.push(fact.clone());
                    $($sort(&mut self.facts);)?
                }
                commit.facts = vec![fact.clone()];
            }

            fn forget_fact(&mut self, event_id: &str) {
                self.facts.retain(|f| f.event_id != event_id);
            }
        }
    };
}

/// The commit of the state `S`.
pub type CommitOf<S> = <S as LedgerState>::Commit;

/// How an update decides what the changed vehicle publishes: the trace it continues and how much of it.
#[derive(Debug, Clone, Copy)]
pub struct Decide<'a, Scope> {
    pub traceparent: Option<&'a str>,
    pub scope: Scope,
}

/// A service that keeps a per-vehicle ledger. Its use cases for the envelopes in [`LEDGER_EVENTS`] are
/// written here once ([`Step`], applied by [`apply_steps`]); the service says what it keeps
/// ([`VehicleFacts`]), what it decides, and what a commit leaves in the state ([`LedgerService::settle`]).
pub trait LedgerService: Send + Sync {
    /// The consumer name in `contracts/routes.json`.
    const CONSUMER: &'static str;

    type State: VehicleFacts;
    type Store: VehicleLedger<State = Self::State> + ?Sized;
    /// How much of what a vehicle publishes an update decides again; `()` where always all of it.
    type Scope: Copy + Send + Sync;
    /// The scope of a registration or a revision: all of it.
    const EVERYTHING: Self::Scope;
    type Updated: Applied;

    /// Its store, clock, locks and kept states.
    fn parts(&self) -> &LedgerParts<Self::Store, Self::State>;
    /// The service's store.
    fn ledger(&self) -> &Self::Store {
        self.parts().store()
    }
    /// Deliveries of one vehicle go one at a time through these.
    fn locks(&self) -> &VehicleLocks {
        self.parts().locks()
    }
    /// The states its deliveries last committed, so the next delivery of a vehicle need not read it.
    fn states(&self) -> &StateCache<Self::State> {
        self.parts().states()
    }
    /// Its store, shared.
    fn store(&self) -> &Arc<Self::Store> {
        self.parts().store()
    }
    /// Now, by its clock.
    fn now(&self) -> DateTime<Utc> {
        self.parts().now()
    }
    /// The most vehicle states it keeps between deliveries (0: none).
    fn kept_states(&self) -> usize {
        self.states().capacity()
    }
    /// The service over `store`, by the wall clock, keeping no states.
    fn new(store: Arc<Self::Store>) -> Self
    where
        Self: Sized + From<LedgerParts<Self::Store, Self::State>>,
    {
        LedgerParts::new(store).into()
    }
    /// Reads "now" from another clock (tests, demos).
    fn with_clock(self, clock: SharedClock) -> Self
    where
        Self: Sized + From<LedgerParts<Self::Store, Self::State>>,
    {
        self.parts().clone().with_clock(clock).into()
    }
    /// Keeps (or not) the vehicle states its deliveries committed, so the next delivery of a vehicle need
    /// not read it: worth it only where this process delivers all of the vehicle's events (embedded mode;
    /// [`super::cache`]). Off by default.
    fn with_kept_states(self, kept: KeptStates) -> Self
    where
        Self: Sized + From<LedgerParts<Self::Store, Self::State>>,
    {
        self.parts().clone().with_kept_states(kept).into()
    }
    /// The scope a new fact needs.
    fn scope_after(fact: &<Self::State as VehicleFacts>::Fact) -> Self::Scope;
    /// One scope that covers both `a` and `b`: the decision of a run of steps ([`apply_steps`]).
    fn widen(a: Self::Scope, b: Self::Scope) -> Self::Scope;
    /// Fills `commit` with what the changed `state` publishes, now.
    fn decide(
        &self,
        state: &Self::State,
        commit: &mut CommitOf<Self::State>,
        how: Decide<'_, Self::Scope>,
    ) -> <Self::Updated as Applied>::Decision;
    /// Makes `state` (already changed by a delivery, and decided on) read as the store would read it back
    /// once `commit` is applied, its version aside: what [`LedgerService::decide`] put in the commit (what was
    /// published, reminders sent, the wake day…).
    fn settle(state: &mut Self::State, commit: &CommitOf<Self::State>);
}

/// What one delivered event does to its vehicle, known before the vehicle is read.
pub struct Step<'e, L: LedgerService + ?Sized> {
    at: Delivery<'e>,
    vehicle_id: &'e VehicleId,
    change: Change<'e, L::State>,
}

enum Change<'e, S: VehicleFacts> {
    /// The whole vehicle as it now reads — registered, updated, sold or archived: its registration is
    /// replaced (created before the first).
    Register(S::Registration),
    /// A timeline event recorded: what it says to the service is kept, unless a correction or void of
    /// its record arrived first (that supersedes the original).
    Record {
        event: &'e VehicleEvent,
        fact: S::Fact,
    },
    /// A timeline event corrected to `revision.number`, or voided: its fact is replaced by the new
    /// version's (none when voided, or when the new version says nothing to the service), so a voided oil
    /// change no longer counts as done. Revisions apply in revision order whatever order they arrive in
    /// ([`Revision::take`], [`LedgerState::revisions`]).
    Revise {
        event: &'e VehicleEvent,
        revision: Revision,
        fact: Option<S::Fact>,
    },
}

impl<'e, L: LedgerService + ?Sized> Step<'e, L> {
    /// What `event`, delivered `at`, does; `Ok(None)` when it says nothing to the service.
    pub fn of(
        at: Delivery<'e>,
        event: &'e Event,
    ) -> Result<Option<Step<'e, L>>, DeliveryError<UpdateError>> {
        let fact_of = <L::State as VehicleFacts>::fact_of;
        let revised = |event: &'e VehicleEvent, number: u32, voided: bool| Change::Revise {
            event,
            revision: Revision { number, voided },
            fact: if voided { None } else { fact_of(event) },
        };
        let registered = |vehicle: &'e vwc_contracts::Vehicle| {
            (
                &vehicle.id,
                Change::Register(<L::State as VehicleFacts>::registration_of(vehicle)),
            )
        };
        let (vehicle_id, change) = match event {
            // Registration and each lifecycle event carry the whole vehicle as it now reads.
            Event::VehicleRegistered(e) => registered(&e.vehicle),
            Event::VehicleUpdated(e) => registered(&e.vehicle),
            Event::VehicleSold(e) => registered(&e.vehicle),
            Event::VehicleArchived(e) => registered(&e.vehicle),
            Event::VehicleEventRecorded(data) => match fact_of(&data.event) {
                Some(fact) => (
                    &data.event.vehicle_id,
                    Change::Record {
                        event: &data.event,
                        fact,
                    },
                ),
                None => return Ok(None),
            },
            Event::VehicleEventCorrected(data) => (
                &data.event.vehicle_id,
                revised(&data.event, data.revision, false),
            ),
            Event::VehicleEventVoided(data) => (
                &data.event.vehicle_id,
                revised(&data.event, data.revision, true),
            ),
            // The services' own events, and what other services make of a vehicle, move no ledger.
            Event::ValuationUpdated(_)
            | Event::MaintenanceStatusChanged(_)
            | Event::ReminderDue(_)
            | Event::NotificationDelivered(_)
            | Event::MaintenanceScheduleUpdated(_) => {
                return Err(DeliveryError::NotConsumed(event.event_type()));
            }
        };
        Ok(Some(Step {
            at,
            vehicle_id,
            change,
        }))
    }

    /// How much the service decides again after this step.
    fn scope(&self) -> L::Scope {
        match &self.change {
            Change::Record { fact, .. } => L::scope_after(fact),
            Change::Register(_) | Change::Revise { .. } => L::EVERYTHING,
        }
    }

    /// Applies the step to `state` and records what to store in `commit`. A timeline event naming a
    /// vehicle registered to another organisation is refused (`false`, with a warning), changing nothing.
    fn change(&self, state: &mut L::State, commit: &mut CommitOf<L::State>) -> bool {
        let (event, owned) = match &self.change {
            Change::Register(registration) => {
                state.register(commit, registration);
                return true;
            }
            Change::Record { event, .. } | Change::Revise { event, .. } => {
                (*event, ForeignVehicle::unless_owned(state.owner(), event))
            }
        };
        if unless_foreign(owned, event).is_none() {
            return false;
        }
        match &self.change {
            Change::Register(_) => {}
            Change::Record { event, fact } => {
                if !state.revisions().contains_key(event.id.as_str()) {
                    state.record_fact(commit, fact);
                }
            }
            Change::Revise {
                event,
                revision,
                fact,
            } => {
                let event_id = event.id.as_str();
                if revision.take(state.revisions(), commit, event_id) {
                    state.forget_fact(event_id);
                    if let Some(fact) = fact {
                        state.record_fact(commit, fact);
                    }
                }
            }
        }
        true
    }
}

/// Applies `steps`, all of one vehicle, in order, under the vehicle's lock, to the same stored state as
/// applying them one delivery at a time, for less: each step changes the state in memory and its commit
/// claims its envelope, but the vehicle is read **once** (not at all when the service kept the state its
/// last delivery committed: [`StateCache`]), the steps' commits go to the store in **one**
/// [`VehicleLedger::commit_batch`], and the service **decides once** for the run — on the state after
/// its last step, over every step's scope ([`LedgerService::widen`]), in the last commit — instead of once
/// per step. What a step alone would have published and the next step changed again within the run
/// (a history point recomputed by each of 2,000 imported readings, a schedule re-published per event) is
/// never published: what the run publishes is what a decision after the last step publishes, the same
/// final points and schedule the one-at-a-time deliveries leave behind. Where one transaction holds
/// fewer commits than the run ([`VehicleLedger::commits_per_transaction`]), the service decides in the
/// last commit of each transaction, so an acknowledged commit never leaves its decision to a later one.
///
/// A commit refused as a duplicate or a conflict leaves the steps after it (which were computed on a
/// state the store does not hold) to be computed again from a fresh read, as one-at-a-time deliveries
/// would have read it, and the scopes of the steps that did apply without their decision to be decided
/// with them (or, when no step is left to carry it, in a commit of its own, claiming nothing); a
/// conflict is tried again up to [`MAX_ATTEMPTS`] times. A read or commit that fails with a store error
/// fails the steps not done, after the owed decision is made in a commit of its own. One result per
/// step, in order: `None` for a timeline event naming another organisation's vehicle (ignored, nothing
/// claimed); an applied step whose decision went into a later step's commit answers no decision of its
/// own.
pub async fn apply_steps<L: LedgerService + ?Sized>(
    service: &L,
    steps: &[Step<'_, L>],
) -> Vec<Result<Option<L::Updated>, UpdateError>> {
    let mut done: Vec<Result<Option<L::Updated>, UpdateError>> = Vec::with_capacity(steps.len());
    let Some(first) = steps.first() else {
        return done;
    };
    let vehicle_id = first.vehicle_id;
    let _vehicle = service.locks().lock(vehicle_id).await;
    let per_transaction = service.ledger().commits_per_transaction().max(1);
    let mut known = service.states().take(vehicle_id.as_str());
    let mut conflicts = 0;
    // The scope of the applied steps whose decision is still owed (their deciding commit was refused).
    let mut owed: Option<L::Scope> = None;
    // A read or a commit the store refused with an error: the steps not done fail with it.
    let mut failure = None;
    while done.len() < steps.len() {
        let mut state = match known.take() {
            Some(state) => state,
            None => match service.ledger().vehicle_state(vehicle_id).await {
                Ok(state) => state,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            },
        };
        let rest = &steps[done.len()..];
        // Per step of `rest`: the index of its commit, `None` when it changed nothing.
        let mut commit_of = Vec::with_capacity(rest.len());
        let mut round = Round::<L>::owing(owed, rest.len());
        let mut last_changed = None;
        for step in rest {
            let _in_its_span = step.at.span.map(tracing::Span::enter);
            let mut commit = state.begin(Some(step.at.envelope_id));
            if !step.change(&mut state, &mut commit) {
                commit_of.push(None);
                continue;
            }
            commit_of.push(Some(round.commits.len()));
            round.push(commit, step.scope());
            state.advance();
            last_changed = Some(step);
            if round.commits.len().is_multiple_of(per_transaction) {
                round.decide_in_last(service, &mut state, step);
            }
        }
        if let Some(step) = last_changed {
            let _in_its_span = step.at.span.map(tracing::Span::enter);
            round.decide_in_last(service, &mut state, step);
        }
        let Round {
            commits,
            scopes,
            mut decisions,
            ..
        } = round;
        let mut outcomes = match service.ledger().commit_batch(commits).await {
            Ok(outcomes) => outcomes.into_iter(),
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        let mut stored = true;
        for at in commit_of {
            let Some(at) = at else {
                done.push(Ok(None));
                continue;
            };
            let decision = decisions[at].take();
            match outcomes.next().unwrap_or(CommitOutcome::Conflict) {
                outcome @ CommitOutcome::Applied => {
                    conflicts = 0;
                    owed = match decision {
                        Some(_) => None,
                        None => Some(widened::<L>(owed, scopes[at])),
                    };
                    done.push(Ok(Some(L::Updated::of(outcome, decision))));
                }
                outcome @ CommitOutcome::Duplicate => {
                    conflicts = 0;
                    done.push(Ok(Some(L::Updated::of(outcome, None))));
                    stored = false;
                    break;
                }
                CommitOutcome::Conflict => {
                    conflicts += 1;
                    if conflicts >= MAX_ATTEMPTS {
                        conflicts = 0;
                        done.push(Err(UpdateError::Contention(vehicle_id.to_string())));
                    }
                    stored = false;
                    break;
                }
            }
        }
        if stored {
            known = Some(state);
        }
    }
    // Made even when the store failed the steps after them: the steps that did apply are acknowledged and
    // will not be delivered again, so their decision cannot wait for the failed ones' redelivery (which
    // decides only over their own scope).
    if let Some(scope) = owed {
        known = decide_owed(service, vehicle_id, known, scope).await;
    }
    if let Some(state) = known {
        service.states().keep(state);
    }
    match failure {
        Some(e) => failed(done, steps.len(), e),
        None => done,
    }
}

/// `scope` widened by what an earlier step owed, if anything.
fn widened<L: LedgerService + ?Sized>(owed: Option<L::Scope>, scope: L::Scope) -> L::Scope {
    match owed {
        Some(owed) => L::widen(owed, scope),
        None => scope,
    }
}

/// The commits of one round of [`apply_steps`] (the steps computed on one read), the scope of each, what
/// each decided (only the deciding ones), and the scope the next decision must cover.
struct Round<L: LedgerService + ?Sized> {
    commits: Vec<CommitOf<L::State>>,
    scopes: Vec<L::Scope>,
    decisions: Vec<Option<<L::Updated as Applied>::Decision>>,
    deciding: Option<L::Scope>,
}

impl<L: LedgerService + ?Sized> Round<L> {
    /// A round that still owes the decision of `owed` (steps applied in an earlier round without theirs).
    fn owing(owed: Option<L::Scope>, steps: usize) -> Round<L> {
        Round {
            commits: Vec::with_capacity(steps),
            scopes: Vec::with_capacity(steps),
            decisions: Vec::with_capacity(steps),
            deciding: owed,
        }
    }

    /// A step's commit, its decision to come.
    fn push(&mut self, commit: CommitOf<L::State>, scope: L::Scope) {
        self.deciding = Some(widened::<L>(self.deciding, scope));
        self.commits.push(commit);
        self.scopes.push(scope);
        self.decisions.push(None);
    }

    /// Lets the service decide over the scope owed so far on `state`, in the last commit, by `step`'s
    /// trace, and settles the state; nothing when nothing is owed.
    fn decide_in_last(&mut self, service: &L, state: &mut L::State, step: &Step<'_, L>) {
        let (Some(commit), Some(decision), Some(scope)) = (
            self.commits.last_mut(),
            self.decisions.last_mut(),
            self.deciding.take(),
        ) else {
            return;
        };
        let how = Decide {
            traceparent: step.at.traceparent,
            scope,
        };
        *decision = Some(service.decide(state, commit, how));
        L::settle(state, commit);
    }
}

/// The decision the applied steps of a run still owe when no step was left to carry it (the step that
/// was to carry it turned out a duplicate): made in a commit of its own that claims no envelope, on a
/// fresh read after a conflict. The state it leaves, to keep; `None` (logged) when it could not be
/// stored — what it would have published then waits for the vehicle's next change.
async fn decide_owed<L: LedgerService + ?Sized>(
    service: &L,
    vehicle_id: &VehicleId,
    mut known: Option<L::State>,
    scope: L::Scope,
) -> Option<L::State> {
    for _ in 0..MAX_ATTEMPTS {
        let mut state = match known.take() {
            Some(state) => state,
            None => match service.ledger().vehicle_state(vehicle_id).await {
                Ok(state) => state,
                Err(e) => {
                    tracing::error!(%vehicle_id, error = %e, "a chain's decision could not be made");
                    return None;
                }
            },
        };
        let mut commit = state.begin(None);
        service.decide(
            &state,
            &mut commit,
            Decide {
                traceparent: None,
                scope,
            },
        );
        L::settle(&mut state, &commit);
        state.advance();
        match service.ledger().commit(commit).await {
            Ok(CommitOutcome::Conflict) => continue,
            Ok(_) => return Some(state),
            Err(e) => {
                tracing::error!(%vehicle_id, error = %e, "a chain's decision could not be stored");
                return None;
            }
        }
    }
    tracing::error!(%vehicle_id, "a chain's decision met a conflict every time");
    None
}

/// `done`, and the steps not done (of `total`) failed with `e` — the first with `e` itself.
fn failed<U>(
    mut done: Vec<Result<U, UpdateError>>,
    total: usize,
    e: StoreError,
) -> Vec<Result<U, UpdateError>> {
    let message = e.to_string();
    done.push(Err(UpdateError::Store(e)));
    while done.len() < total {
        done.push(Err(UpdateError::Store(StoreError::Other(format!(
            "not applied: an earlier delivery of the vehicle failed: {message}"
        )))));
    }
    done
}

/// Why a delivery was not applied.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError<E: std::error::Error + 'static> {
    /// Not one of [`LEDGER_EVENTS`]: routing disagrees with the consumer.
    #[error("{0} is not an event type a vehicle ledger consumes")]
    NotConsumed(EventType),
    #[error(transparent)]
    Failed(E),
}

/// Applies `event`, delivered `at`, to `service`.
pub async fn deliver<S: LedgerService + ?Sized>(
    service: &S,
    at: Delivery<'_>,
    event: &Event,
) -> Result<Option<CommitOutcome>, DeliveryError<UpdateError>> {
    let mut outcomes = deliver_chain(service, &[(at, event)]).await;
    outcomes.pop().unwrap_or(Ok(None))
}

/// Applies a chain of events — one vehicle's, in the order they were delivered — to `service`: each
/// run of consecutive events of one vehicle by [`apply_steps`] (one read, one commit batch). One outcome
/// per event, in order: `None` where the event meant nothing to the service.
pub async fn deliver_chain<S: LedgerService + ?Sized>(
    service: &S,
    chain: &[(Delivery<'_>, &Event)],
) -> Vec<Result<Option<CommitOutcome>, DeliveryError<UpdateError>>> {
    let mut outcomes: Vec<Result<Option<CommitOutcome>, DeliveryError<UpdateError>>> =
        Vec::with_capacity(chain.len());
    let mut steps: Vec<(usize, Step<'_, S>)> = Vec::with_capacity(chain.len());
    for (i, (at, event)) in chain.iter().enumerate() {
        match Step::of(*at, event) {
            Ok(Some(step)) => {
                steps.push((i, step));
                outcomes.push(Ok(None));
            }
            other => outcomes.push(other.map(|_| None)),
        }
    }
    let mut steps = steps.into_iter().peekable();
    while let Some((i, step)) = steps.next() {
        let vehicle_id = step.vehicle_id;
        let mut run = vec![step];
        let mut at = vec![i];
        while let Some((i, step)) = steps.next_if(|(_, s)| s.vehicle_id == vehicle_id) {
            run.push(step);
            at.push(i);
        }
        for (i, result) in at.into_iter().zip(apply_steps(service, &run).await) {
            outcomes[i] = result
                .map(|updated| updated.map(|u| u.outcome()))
                .map_err(DeliveryError::Failed);
        }
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::super::cache::tests::Commit;
    use super::*;

    fn revision(number: u32) -> Revision {
        Revision {
            number,
            voided: false,
        }
    }

    #[test]
    fn a_revision_is_taken_once_and_never_behind_a_later_one() {
        let mut applied = BTreeMap::new();
        let mut commit = Commit::default();
        assert!(revision(3).take(&mut applied, &mut commit, "evt_1"));
        assert_eq!(applied.get("evt_1"), Some(&3));
        assert_eq!(commit.ledger.revisions, [("evt_1".to_string(), 3)]);
        assert_eq!(commit.ledger.remove_facts, ["evt_1"]);
        for older_or_same in [2, 3] {
            let mut again = Commit::default();
            assert!(!revision(older_or_same).take(&mut applied, &mut again, "evt_1"));
            assert!(again.ledger.revisions.is_empty() && again.ledger.remove_facts.is_empty());
        }
        assert!(revision(4).take(&mut applied, &mut Commit::default(), "evt_1"));
        assert_eq!(applied.get("evt_1"), Some(&4));
    }

    #[test]
    fn an_event_of_another_organisation_is_refused() {
        let event = vwc_contracts::examples::vehicle_event();
        let own = event.org_id.to_string();
        assert_eq!(ForeignVehicle::unless_owned(Some(&own), &event), Ok(()));
        assert_eq!(ForeignVehicle::unless_owned(None, &event), Ok(()));
        assert_eq!(
            ForeignVehicle::unless_owned(Some("org_other"), &event),
            Err(ForeignVehicle)
        );
        assert_eq!(unless_foreign(Err::<(), _>(ForeignVehicle), &event), None);
        assert_eq!(unless_foreign(Ok::<_, ForeignVehicle>(7), &event), Some(7));
    }
}
