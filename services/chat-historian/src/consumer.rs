//! Applies the events routed to the chat historian (routes.json) to its knowledge projection: each envelope
//! is claimed in the inbox in the same transaction as its effect.

use std::sync::Arc;

use async_trait::async_trait;
use vwc_bus::{Consumer, HandleError};
use vwc_contracts::{Envelope, Event, EventType};

use crate::knowledge::{ValuationPoint, ValuationView};
use crate::store::{Revision, VehicleRef};
use crate::{CONSUMER, ChatStore};

pub struct ChatConsumer {
    store: Arc<dyn ChatStore>,
}

impl ChatConsumer {
    /// What the knowledge projection answers questions from.
    pub const CONSUMES: &'static [EventType] = &[
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

    pub fn new(store: Arc<dyn ChatStore>) -> ChatConsumer {
        ChatConsumer { store }
    }
}

#[async_trait]
impl Consumer for ChatConsumer {
    fn name(&self) -> &str {
        CONSUMER
    }

    fn consumes(&self) -> &'static [EventType] {
        Self::CONSUMES
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        vwc_bus::project(self.name(), envelope, |id, event| async move {
            let id = id.as_str();
            match event {
                Event::VehicleRegistered(data) => {
                    self.store.apply_vehicle_registered(id, &data.vehicle).await
                }
                Event::VehicleEventRecorded(data) => {
                    self.store.apply_vehicle_event(id, &data.event).await
                }
                Event::ValuationUpdated(data) => {
                    let point = ValuationPoint {
                        envelope_id: id.to_string(),
                        valuation: ValuationView::from(&data.valuation),
                        computed_at: data.computed_at,
                    };
                    let vehicle = VehicleRef::new(&envelope.org_id, &data.vehicle_id);
                    self.store.apply_valuation(id, &vehicle, &point).await
                }
                Event::MaintenanceScheduleUpdated(data) => {
                    self.store
                        .apply_maintenance(id, &envelope.org_id, data)
                        .await
                }
                Event::VehicleEventCorrected(data) => {
                    let revision = Revision::corrected(&data.event, data.revision);
                    self.store.apply_event_revision(id, revision).await
                }
                Event::VehicleEventVoided(data) => {
                    let revision = Revision::voided(&data.event, data.revision);
                    self.store.apply_event_revision(id, revision).await
                }
                // The whole vehicle as it now reads.
                Event::VehicleUpdated(vwc_contracts::lifecycle::VehicleUpdated {
                    vehicle, ..
                })
                | Event::VehicleSold(vwc_contracts::lifecycle::VehicleSold { vehicle })
                | Event::VehicleArchived(vwc_contracts::lifecycle::VehicleArchived { vehicle }) => {
                    self.store.apply_vehicle_registered(id, vehicle).await
                }
                // Status changes are in the schedule it holds; reminders and deliveries answer no question.
                Event::MaintenanceStatusChanged(_)
                | Event::ReminderDue(_)
                | Event::NotificationDelivered(_) => {
                    return Err(HandleError::NotConsumed(event.event_type()));
                }
            }
            .map_err(HandleError::failed)
        })
        .await
    }
}
