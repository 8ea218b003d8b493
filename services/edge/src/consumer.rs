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
        vwc_bus::project(self.name(), envelope, |id, event| async move {
            let (id, org_id) = (id.as_str(), &envelope.org_id);
            match event {
                Event::VehicleRegistered(data) => {
                    self.store.apply_vehicle_registered(id, &data.vehicle).await
                }
                Event::VehicleEventRecorded(data) => {
                    let traceparent = envelope.traceparent.as_deref();
                    self.store
                        .apply_vehicle_event(id, &data.event, traceparent)
                        .await
                }
                Event::MaintenanceScheduleUpdated(data) => {
                    self.store.apply_maintenance(id, org_id, data).await
                }
                Event::NotificationDelivered(data) => {
                    self.store.apply_notification(id, org_id, data).await
                }
                Event::ValuationUpdated(data) => self.store.apply_valuation(id, org_id, data).await,
                Event::VehicleEventCorrected(data) => {
                    let revision =
                        TimelineRevision::corrected(data).map_err(HandleError::malformed)?;
                    self.store.apply_event_revision(id, &revision).await
                }
                Event::VehicleEventVoided(data) => {
                    let revision =
                        TimelineRevision::voided(data).map_err(HandleError::malformed)?;
                    self.store.apply_event_revision(id, &revision).await
                }
                // Each lifecycle event carries the whole vehicle as it now reads.
                Event::VehicleUpdated(vwc_contracts::lifecycle::VehicleUpdated {
                    vehicle, ..
                })
                | Event::VehicleSold(vwc_contracts::lifecycle::VehicleSold { vehicle })
                | Event::VehicleArchived(vwc_contracts::lifecycle::VehicleArchived { vehicle }) => {
                    self.store.apply_vehicle_registered(id, vehicle).await
                }
                // The scheduler's status changes and reminders are told through the schedule and the
                // notifications; the read model has nothing of its own to take from them.
                Event::MaintenanceStatusChanged(_) | Event::ReminderDue(_) => {
                    return Err(HandleError::NotConsumed(event.event_type()));
                }
            }
            .map_err(HandleError::failed)
        })
        .await
    }
}
