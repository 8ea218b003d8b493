//! Applies the events routed to the chat historian (routes.json) to its knowledge projection: the store
//! port is the [`Projection`], run on the bus as [`ChatConsumer`]; each envelope is claimed in the inbox
//! in the same transaction as its effect.

use async_trait::async_trait;
use vwc_bus::{Applied, HandleError, Projection, ProjectionConsumer};
use vwc_contracts::{Envelope, Event, EventType};

use crate::knowledge::{ValuationPoint, ValuationView};
use crate::store::{KnowledgeChange, Revision, VehicleRef};
use crate::{CONSUMER, ChatStore};

/// The chat historian's bus consumer.
pub type ChatConsumer = ProjectionConsumer<dyn ChatStore>;

#[async_trait]
impl Projection for dyn ChatStore {
    const CONSUMER: &'static str = CONSUMER;
    /// What the knowledge projection answers questions from.
    const CONSUMES: &'static [EventType] = &[
        EventType::VehicleRegistered,
        EventType::VehicleEventRecorded,
        EventType::ValuationUpdated,
        EventType::MaintenanceScheduleUpdated,
        EventType::VehicleEventCorrected,
        EventType::VehicleEventVoided,
        EventType::VehicleUpdated,
        EventType::VehicleSold,
        EventType::VehicleArchived,
    ];

    async fn apply(&self, id: &str, envelope: &Envelope, event: &Event) -> Applied {
        let change = match event {
            Event::VehicleEventRecorded(data) => KnowledgeChange::Record(data.event.clone()),
            Event::ValuationUpdated(data) => {
                let point = ValuationPoint {
                    envelope_id: id.to_string(),
                    valuation: ValuationView::from(&data.valuation),
                    computed_at: data.computed_at,
                };
                let vehicle = VehicleRef::new(&envelope.org_id, &data.vehicle_id);
                KnowledgeChange::Valuation(vehicle, point)
            }
            Event::MaintenanceScheduleUpdated(data) => {
                KnowledgeChange::Maintenance(envelope.org_id.clone(), data.clone())
            }
            Event::VehicleEventCorrected(data) => {
                KnowledgeChange::Revision(Revision::corrected(data.event.clone(), data.revision))
            }
            Event::VehicleEventVoided(data) => {
                KnowledgeChange::Revision(Revision::voided(data.event.clone(), data.revision))
            }
            // Registration and each lifecycle event carry the whole vehicle as it now reads.
            Event::VehicleRegistered(e) => KnowledgeChange::Vehicle(e.vehicle.clone()),
            Event::VehicleUpdated(e) => KnowledgeChange::Vehicle(e.vehicle.clone()),
            Event::VehicleSold(e) => KnowledgeChange::Vehicle(e.vehicle.clone()),
            Event::VehicleArchived(e) => KnowledgeChange::Vehicle(e.vehicle.clone()),
            // Status changes are in the schedule it holds; reminders and deliveries answer no question.
            Event::MaintenanceStatusChanged(_)
            | Event::ReminderDue(_)
            | Event::NotificationDelivered(_) => {
                return Err(HandleError::NotConsumed(event.event_type()));
            }
        };
        self.apply_change(id, change)
            .await
            .map_err(HandleError::failed)
    }
}
