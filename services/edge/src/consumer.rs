//! Applies the events routed to the edge to its projection. What it consumes is declared once
//! ([`EdgeConsumer::CONSUMES`]); `contracts/routes.json` is checked against it.

use std::sync::Arc;

use async_trait::async_trait;
use vwc_bus::{Consumer, HandleError};
use vwc_contracts::{Envelope, Event, EventType};

use crate::corrections::TimelineRevision;
use crate::{CONSUMER, EdgeStore};

pub struct EdgeConsumer {
    store: Arc<dyn EdgeStore>,
}

impl EdgeConsumer {
    /// The events the read model is projected from.
    pub const CONSUMES: &'static [EventType] = &[
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

    pub fn new(store: Arc<dyn EdgeStore>) -> EdgeConsumer {
        EdgeConsumer { store }
    }
}

#[async_trait]
impl Consumer for EdgeConsumer {
    fn name(&self) -> &str {
        CONSUMER
    }

    fn consumes(&self) -> &'static [EventType] {
        Self::CONSUMES
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        vwc_bus::in_consumer_span(self.name(), envelope, |_| async {
            let id = envelope.id.to_string();
            let event = envelope.event().map_err(HandleError::malformed)?;
            let applied = match event {
                Event::VehicleRegistered(data) => self
                    .store
                    .apply_vehicle_registered(&id, &data.vehicle)
                    .await
                    .map_err(HandleError::failed)?,
                Event::VehicleEventRecorded(data) => self
                    .store
                    .apply_vehicle_event(&id, &data.event, envelope.traceparent.as_deref())
                    .await
                    .map_err(HandleError::failed)?,
                Event::MaintenanceScheduleUpdated(data) => self
                    .store
                    .apply_maintenance(&id, &envelope.org_id, data)
                    .await
                    .map_err(HandleError::failed)?,
                Event::NotificationDelivered(data) => self
                    .store
                    .apply_notification(&id, &envelope.org_id, data)
                    .await
                    .map_err(HandleError::failed)?,
                Event::ValuationUpdated(data) => self
                    .store
                    .apply_valuation(&id, &envelope.org_id, data)
                    .await
                    .map_err(HandleError::failed)?,
                Event::VehicleEventCorrected(data) => self
                    .store
                    .apply_event_revision(
                        &id,
                        &TimelineRevision::corrected(data).map_err(HandleError::malformed)?,
                    )
                    .await
                    .map_err(HandleError::failed)?,
                Event::VehicleEventVoided(data) => self
                    .store
                    .apply_event_revision(
                        &id,
                        &TimelineRevision::voided(data).map_err(HandleError::malformed)?,
                    )
                    .await
                    .map_err(HandleError::failed)?,
                // Each lifecycle event carries the whole vehicle as it now reads.
                Event::VehicleUpdated(vwc_contracts::lifecycle::VehicleUpdated {
                    vehicle, ..
                })
                | Event::VehicleSold(vwc_contracts::lifecycle::VehicleSold { vehicle })
                | Event::VehicleArchived(vwc_contracts::lifecycle::VehicleArchived { vehicle }) => {
                    self.store
                        .apply_vehicle_registered(&id, vehicle)
                        .await
                        .map_err(HandleError::failed)?
                }
                // The scheduler's status changes and reminders are told through the schedule and the
                // notifications; the read model has nothing of its own to take from them.
                Event::MaintenanceStatusChanged(_) | Event::ReminderDue(_) => {
                    return Err(HandleError::NotConsumed(event.event_type()));
                }
            };
            if !applied {
                tracing::debug!("duplicate delivery ignored");
            }
            Ok(())
        })
        .await
    }
}
