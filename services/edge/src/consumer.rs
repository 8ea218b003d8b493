//! Applies the events routed to the edge to its projection: the store port is the [`Projection`], run
//! on the bus as [`EdgeConsumer`]. What it consumes is declared once (`EdgeConsumer::CONSUMES`);
//! `contracts/routes.json` is checked against it.

use async_trait::async_trait;
use vwc_bus::{Applied, HandleError, Projection, ProjectionConsumer};
use vwc_contracts::{Envelope, Event, EventType};

use crate::corrections::TimelineRevision;
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
        let org_id = &envelope.org_id;
        match event {
            Event::VehicleEventRecorded(data) => {
                let traceparent = envelope.traceparent.as_deref();
                self.apply_vehicle_event(id, &data.event, traceparent).await
            }
            Event::MaintenanceScheduleUpdated(data) => {
                self.apply_maintenance(id, org_id, data).await
            }
            Event::NotificationDelivered(data) => self.apply_notification(id, org_id, data).await,
            Event::ValuationUpdated(data) => self.apply_valuation(id, org_id, data).await,
            Event::VehicleEventCorrected(data) => {
                let revision = TimelineRevision::corrected(data).map_err(HandleError::malformed)?;
                self.apply_event_revision(id, &revision).await
            }
            Event::VehicleEventVoided(data) => {
                let revision = TimelineRevision::voided(data).map_err(HandleError::malformed)?;
                self.apply_event_revision(id, &revision).await
            }
            // Registration and each lifecycle event carry the whole vehicle as it now reads.
            Event::VehicleRegistered(vwc_contracts::VehicleRegistered { vehicle })
            | Event::VehicleUpdated(vwc_contracts::lifecycle::VehicleUpdated { vehicle, .. })
            | Event::VehicleSold(vwc_contracts::lifecycle::VehicleSold { vehicle })
            | Event::VehicleArchived(vwc_contracts::lifecycle::VehicleArchived { vehicle }) => {
                self.apply_vehicle_registered(id, vehicle).await
            }
            // The scheduler's status changes and reminders are told through the schedule and the
            // notifications; the read model has nothing of its own to take from them.
            Event::MaintenanceStatusChanged(_) | Event::ReminderDue(_) => {
                return Err(HandleError::NotConsumed(event.event_type()));
            }
        }
        .map_err(HandleError::failed)
    }
}
