//! What a per-vehicle ledger does with each envelope routed to it, decided once for both services: a
//! registration and every later reading of the whole vehicle (updated, sold, archived) replace its
//! registration, a recorded event adds a fact, a correction or a void revises one. The services' own
//! events and the other services' are not consumed.

use std::collections::BTreeMap;

use async_trait::async_trait;
use vwc_contracts::{Event, EventType, Vehicle, VehicleEvent};

use super::{CommitOutcome, LedgerCommit};

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

/// What one of a ledger service's updates did: at least how its commit went.
pub trait Applied {
    fn outcome(&self) -> CommitOutcome;
}

/// A service that keeps a per-vehicle ledger: its use cases for the envelopes in [`LEDGER_EVENTS`]. Each
/// returns what the update did (`None` where the event meant nothing to the service).
#[async_trait]
pub trait LedgerService: Send + Sync {
    /// The consumer name in `contracts/routes.json`.
    const CONSUMER: &'static str;

    type Error: std::error::Error + Send + Sync + 'static;
    type Updated: Applied + Send;

    /// The whole vehicle as it now reads: a registration, or the vehicle updated, sold or archived.
    async fn vehicle_registered(
        &self,
        at: Delivery<'_>,
        vehicle: &Vehicle,
    ) -> Result<Self::Updated, Self::Error>;

    /// A timeline event recorded.
    async fn vehicle_event(
        &self,
        at: Delivery<'_>,
        event: &VehicleEvent,
    ) -> Result<Option<Self::Updated>, Self::Error>;

    /// A timeline event corrected to `revision`, or voided.
    async fn event_revised(
        &self,
        at: Delivery<'_>,
        event: &VehicleEvent,
        revision: Revision,
    ) -> Result<Option<Self::Updated>, Self::Error>;
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
) -> Result<Option<CommitOutcome>, DeliveryError<S::Error>> {
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
