//! What a per-vehicle ledger does with each envelope routed to it, decided once for both services: a
//! registration and every later reading of the whole vehicle (updated, sold, archived) replace its
//! registration, a recorded event adds a fact, a correction or a void revises one. The services' own
//! events and the other services' are not consumed.

use async_trait::async_trait;
use vwc_contracts::{Event, EventType, Vehicle, VehicleEvent};

use super::CommitOutcome;

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
