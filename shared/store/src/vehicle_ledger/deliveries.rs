//! What a per-vehicle ledger does with each envelope routed to it, decided once for both services: a
//! registration and every later reading of the whole vehicle (updated, sold, archived) replace its
//! registration, a recorded event adds a fact, a correction or a void revises one. The services' own
//! events and the other services' are not consumed.

use std::collections::BTreeMap;

use async_trait::async_trait;
use vwc_contracts::{Event, EventType, Vehicle, VehicleEvent, VehicleId};

use super::{
    CommitOutcome, LedgerCommit, LedgerState, UpdateError, VehicleLedger, VehicleLocks, update,
};

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
        commit.revise(event_id, self.number);
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
/// written here once; the service says what it keeps ([`VehicleFacts`]) and what it decides. Each use case
/// returns what the update did (`None` where the event meant nothing to the service).
#[async_trait]
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

    /// The service's store.
    fn ledger(&self) -> &Self::Store;
    /// Deliveries of one vehicle go one at a time through these.
    fn locks(&self) -> &VehicleLocks;
    /// The scope a new fact needs.
    fn scope_after(fact: &<Self::State as VehicleFacts>::Fact) -> Self::Scope;
    /// Fills `commit` with what the changed `state` publishes, now.
    fn decide(
        &self,
        state: &Self::State,
        commit: &mut CommitOf<Self::State>,
        how: Decide<'_, Self::Scope>,
    ) -> <Self::Updated as Applied>::Decision;

    /// The whole vehicle as it now reads: a registration, or the vehicle updated, sold or archived.
    /// Creates (or refreshes) what the service keeps of it and publishes what follows.
    async fn vehicle_registered(
        &self,
        at: Delivery<'_>,
        vehicle: &Vehicle,
    ) -> Result<Self::Updated, UpdateError> {
        let registration = <Self::State as VehicleFacts>::registration_of(vehicle);
        let updated = apply(self, at, &vehicle.id, Self::EVERYTHING, |state, commit| {
            state.register(commit, &registration);
            Ok::<(), std::convert::Infallible>(())
        })
        .await?;
        Ok(updated.unwrap_or_else(|never| match never {}))
    }

    /// A timeline event recorded: what it says to the service is kept and the vehicle decided again. An
    /// event that says nothing to the service changes nothing (`None`).
    async fn vehicle_event(
        &self,
        at: Delivery<'_>,
        event: &VehicleEvent,
    ) -> Result<Option<Self::Updated>, UpdateError> {
        let Some(fact) = <Self::State as VehicleFacts>::fact_of(event) else {
            return Ok(None);
        };
        apply_event(
            self,
            at,
            event,
            Self::scope_after(&fact),
            |state, commit| {
                // A correction or void of this record arrived first: it supersedes the original.
                if !state.revisions().contains_key(event.id.as_str()) {
                    state.record_fact(commit, &fact);
                }
            },
        )
        .await
    }

    /// A timeline event corrected to `revision`, or voided: its fact is replaced by the new version's
    /// (none when voided, or when the new version says nothing to the service) and every point decided
    /// again, so a voided oil change no longer counts as done.
    ///
    /// Revisions apply in revision order whatever order they arrive in: one older than a revision already
    /// applied changes nothing, and an original record arriving after any revision of it is ignored
    /// ([`LedgerState::revisions`]).
    async fn event_revised(
        &self,
        at: Delivery<'_>,
        event: &VehicleEvent,
        revision: Revision,
    ) -> Result<Option<Self::Updated>, UpdateError> {
        let fact = match revision.voided {
            true => None,
            false => <Self::State as VehicleFacts>::fact_of(event),
        };
        apply_event(self, at, event, Self::EVERYTHING, |state, commit| {
            let event_id = event.id.as_str();
            if revision.take(state.revisions(), commit, event_id) {
                state.forget_fact(event_id);
                if let Some(fact) = &fact {
                    state.record_fact(commit, fact);
                }
            }
        })
        .await
    }
}

/// Applies `change` to the vehicle under its lock, as delivered `at` (the envelope claimed with it),
/// deciding what `scope` covers.
async fn apply<S: LedgerService + ?Sized, E>(
    service: &S,
    at: Delivery<'_>,
    vehicle_id: &VehicleId,
    scope: S::Scope,
    change: impl FnMut(&mut S::State, &mut CommitOf<S::State>) -> Result<(), E> + Send,
) -> Result<Result<S::Updated, E>, UpdateError> {
    let _vehicle = service.locks().lock(vehicle_id).await;
    let how = Decide {
        traceparent: at.traceparent,
        scope,
    };
    update(
        service.ledger(),
        vehicle_id,
        Some(at.envelope_id),
        change,
        |state, commit| service.decide(state, commit, how),
    )
    .await
}

/// [`apply`] of a timeline event's `change`: refused, changing nothing (`None`), when the event names a
/// vehicle registered to another organisation.
async fn apply_event<S: LedgerService + ?Sized>(
    service: &S,
    at: Delivery<'_>,
    event: &VehicleEvent,
    scope: S::Scope,
    mut change: impl FnMut(&mut S::State, &mut CommitOf<S::State>) + Send,
) -> Result<Option<S::Updated>, UpdateError> {
    let updated = apply(service, at, &event.vehicle_id, scope, |state, commit| {
        ForeignVehicle::unless_owned(state.owner(), event)?;
        change(state, commit);
        Ok(())
    })
    .await?;
    Ok(unless_foreign(updated, event))
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
    let outcome = match event {
        Event::VehicleRegistered(vwc_contracts::vehicle::VehicleRegistered { vehicle })
        | Event::VehicleUpdated(vwc_contracts::lifecycle::VehicleUpdated { vehicle, .. })
        | Event::VehicleSold(vwc_contracts::lifecycle::VehicleSold { vehicle })
        | Event::VehicleArchived(vwc_contracts::lifecycle::VehicleArchived { vehicle }) => {
            service.vehicle_registered(at, vehicle).await.map(Some)
        }
        Event::VehicleEventRecorded(data) => service.vehicle_event(at, &data.event).await,
        Event::VehicleEventCorrected(data) => {
            let revision = Revision {
                number: data.revision,
                voided: false,
            };
            service.event_revised(at, &data.event, revision).await
        }
        Event::VehicleEventVoided(data) => {
            let revision = Revision {
                number: data.revision,
                voided: true,
            };
            service.event_revised(at, &data.event, revision).await
        }
        // The services' own events, and what other services make of a vehicle, move no ledger.
        Event::ValuationUpdated(_)
        | Event::MaintenanceStatusChanged(_)
        | Event::ReminderDue(_)
        | Event::NotificationDelivered(_)
        | Event::MaintenanceScheduleUpdated(_) => {
            return Err(DeliveryError::NotConsumed(event.event_type()));
        }
    };
    Ok(outcome.map_err(DeliveryError::Failed)?.map(|u| u.outcome()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Commit {
        vehicle_id: String,
        expected_version: u64,
        claim: Option<String>,
        revisions: Vec<(String, u32)>,
        remove_facts: Vec<String>,
        outbox: Vec<vwc_contracts::Envelope>,
    }
    crate::ledger_commit!(Commit);

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
        assert_eq!(commit.revisions, [("evt_1".to_string(), 3)]);
        assert_eq!(commit.remove_facts, ["evt_1"]);
        for older_or_same in [2, 3] {
            let mut again = Commit::default();
            assert!(!revision(older_or_same).take(&mut applied, &mut again, "evt_1"));
            assert!(again.revisions.is_empty() && again.remove_facts.is_empty());
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
