//! Applies `VehicleRegistered` and `VehicleEventRecorded` to the valuation service: each envelope is
//! claimed in the inbox in the same transaction as its effect and the valuations it publishes.

use async_trait::async_trait;
use vwc_bus::{Consumer, HandleError};
use vwc_contracts::{Envelope, Event, EventType};

use crate::CONSUMER;
use crate::store::CommitOutcome;
use crate::valuer::Valuer;

pub struct ValuationConsumer {
    valuer: Valuer,
}

impl ValuationConsumer {
    /// The vehicles and the timeline events that move their value.
    pub const CONSUMES: &'static [EventType] = &[
        EventType::VehicleRegistered,
        EventType::VehicleEventRecorded,
        EventType::VehicleEventCorrected,
        EventType::VehicleEventVoided,
        EventType::VehicleUpdated,
        EventType::VehicleSold,
        EventType::VehicleArchived,
    ];

    pub fn new(valuer: Valuer) -> ValuationConsumer {
        ValuationConsumer { valuer }
    }
}

#[async_trait]
impl Consumer for ValuationConsumer {
    fn name(&self) -> &str {
        CONSUMER
    }

    fn consumes(&self) -> &'static [EventType] {
        Self::CONSUMES
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        vwc_bus::in_consumer_span(self.name(), envelope, |outgoing| async move {
            let id = envelope.id.to_string();
            let event = envelope.event().map_err(HandleError::malformed)?;
            let outcome = match event {
                Event::VehicleRegistered(data) => Some(
                    self.valuer
                        .vehicle_registered(&id, &data.vehicle, outgoing.as_deref())
                        .await
                        .map_err(HandleError::failed)?
                        .outcome,
                ),
                Event::VehicleEventRecorded(data) => self
                    .valuer
                    .vehicle_event(&id, &data.event, outgoing.as_deref())
                    .await
                    .map_err(HandleError::failed)?
                    .map(|u| u.outcome),
                // Its own points, and maintenance and notifications, do not move a value.
                Event::VehicleEventCorrected(data) => self
                    .valuer
                    .event_revised(&id, &data.event, data.revision, false, outgoing.as_deref())
                    .await
                    .map_err(HandleError::failed)?
                    .map(|u| u.outcome),
                Event::VehicleEventVoided(data) => self
                    .valuer
                    .event_revised(&id, &data.event, data.revision, true, outgoing.as_deref())
                    .await
                    .map_err(HandleError::failed)?
                    .map(|u| u.outcome),
                // The whole vehicle as it now reads (its profile refreshed).
                Event::VehicleUpdated(vwc_contracts::lifecycle::VehicleUpdated {
                    vehicle, ..
                })
                | Event::VehicleSold(vwc_contracts::lifecycle::VehicleSold { vehicle })
                | Event::VehicleArchived(vwc_contracts::lifecycle::VehicleArchived { vehicle }) => {
                    Some(
                        self.valuer
                            .vehicle_registered(&id, vehicle, outgoing.as_deref())
                            .await
                            .map_err(HandleError::failed)?
                            .outcome,
                    )
                }
                Event::ValuationUpdated(_)
                | Event::MaintenanceStatusChanged(_)
                | Event::ReminderDue(_)
                | Event::NotificationDelivered(_)
                | Event::MaintenanceScheduleUpdated(_) => {
                    return Err(HandleError::NotConsumed(event.event_type()));
                }
            };
            if outcome == Some(CommitOutcome::Duplicate) {
                tracing::debug!("duplicate delivery ignored");
            }
            Ok(())
        })
        .await
    }
}
