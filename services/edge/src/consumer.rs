//! Applies the events routed to the edge to its projection: the store port is the [`Projection`], run
//! on the bus as [`EdgeConsumer`]. What it consumes is declared once (`EdgeConsumer::CONSUMES`);
//! `contracts/routes.json` is checked against it.

use async_trait::async_trait;
use vwc_bus::{Applied, HandleError, Projection, ProjectionConsumer};
use vwc_contracts::{Envelope, Event, EventType};

use crate::corrections::TimelineRevision;
use crate::store::{Delivery, Projected};
use crate::{CONSUMER, EdgeStore};

/// The edge's bus consumer.
pub type EdgeConsumer = ProjectionConsumer<dyn EdgeStore>;

#[async_trait]
impl Projection for dyn EdgeStore {
    const CONSUMER: &'static str = CONSUMER;
    /// The events the read model is projected from.
    const CONSUMES: &'static [EventType] = &[
        EventType::VehicleRegistered,
        EventType::VehicleEventRecorded,
        EventType::MaintenanceScheduleUpdated,
        EventType::NotificationDelivered,
        EventType::ValuationUpdated,
        EventType::VehicleEventCorrected,
        EventType::VehicleEventVoided,
        EventType::VehicleUpdated,
        EventType::VehicleSold,
        EventType::VehicleArchived,
    ];

    async fn apply(&self, id: &str, envelope: &Envelope, event: &Event) -> Applied {
        // A revision is built from its event, and projected by reference like every other change.
        let revision;
        let change = match event {
            Event::VehicleEventRecorded(data) => Projected::Event(&data.event),
            Event::MaintenanceScheduleUpdated(data) => Projected::Maintenance(data),
            Event::NotificationDelivered(data) => Projected::Notification(data),
            Event::ValuationUpdated(data) => Projected::Valuation(data),
            Event::VehicleEventCorrected(data) => {
                revision = TimelineRevision::corrected(data).map_err(HandleError::malformed)?;
                Projected::Revision(&revision)
            }
            Event::VehicleEventVoided(data) => {
                revision = TimelineRevision::voided(data).map_err(HandleError::malformed)?;
                Projected::Revision(&revision)
            }
            // Registration and each lifecycle event carry the whole vehicle as it now reads.
            Event::VehicleRegistered(e) => Projected::Vehicle(&e.vehicle),
            Event::VehicleUpdated(e) => Projected::Vehicle(&e.vehicle),
            Event::VehicleSold(e) => Projected::Vehicle(&e.vehicle),
            Event::VehicleArchived(e) => Projected::Vehicle(&e.vehicle),
            // The scheduler's status changes and reminders are told through the schedule and the
            // notifications; the read model has nothing of its own to take from them.
            Event::MaintenanceStatusChanged(_) | Event::ReminderDue(_) => {
                return Err(HandleError::NotConsumed(event.event_type()));
            }
        };
        let delivery = Delivery::of(id, envelope);
        EdgeStore::apply(self, &delivery, change)
            .await
            .map_err(HandleError::failed)
    }
}
