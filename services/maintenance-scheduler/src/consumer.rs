//! Applies `VehicleRegistered` and `VehicleEventRecorded` to the scheduler: each envelope is claimed in
//! the inbox in the same transaction as its effect and the events it publishes.

use async_trait::async_trait;
use vwc_bus::{Consumer, HandleError};
use vwc_contracts::{Envelope, Event, EventType};

use crate::CONSUMER;
use crate::service::Scheduler;
use crate::store::CommitOutcome;

pub struct SchedulerConsumer {
    scheduler: Scheduler,
}

impl SchedulerConsumer {
    /// The vehicles and their timelines, which the schedules are computed from.
    pub const CONSUMES: &'static [EventType] = &[
        EventType::VehicleRegistered,
        EventType::VehicleEventRecorded,
        EventType::VehicleEventCorrected,
        EventType::VehicleEventVoided,
        EventType::VehicleUpdated,
        EventType::VehicleSold,
        EventType::VehicleArchived,
    ];

    pub fn new(scheduler: Scheduler) -> SchedulerConsumer {
        SchedulerConsumer { scheduler }
    }
}

#[async_trait]
impl Consumer for SchedulerConsumer {
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
                    self.scheduler
                        .vehicle_registered(&id, &data.vehicle, outgoing.as_deref())
                        .await
                        .map_err(HandleError::failed)?
                        .outcome,
                ),
                Event::VehicleEventRecorded(data) => self
                    .scheduler
                    .vehicle_event(&id, &data.event, outgoing.as_deref())
                    .await
                    .map_err(HandleError::failed)?
                    .map(|u| u.outcome),
                Event::VehicleEventCorrected(data) => self
                    .scheduler
                    .event_revised(&id, &data.event, data.revision, false, outgoing.as_deref())
                    .await
                    .map_err(HandleError::failed)?
                    .map(|u| u.outcome),
                Event::VehicleEventVoided(data) => self
                    .scheduler
                    .event_revised(&id, &data.event, data.revision, true, outgoing.as_deref())
                    .await
                    .map_err(HandleError::failed)?
                    .map(|u| u.outcome),
                // The whole vehicle as it now reads: a sold or archived one is reminded of nothing.
                Event::VehicleUpdated(vwc_contracts::lifecycle::VehicleUpdated {
                    vehicle, ..
                })
                | Event::VehicleSold(vwc_contracts::lifecycle::VehicleSold { vehicle })
                | Event::VehicleArchived(vwc_contracts::lifecycle::VehicleArchived { vehicle }) => {
                    Some(
                        self.scheduler
                            .vehicle_registered(&id, vehicle, outgoing.as_deref())
                            .await
                            .map_err(HandleError::failed)?
                            .outcome,
                    )
                }
                // Its own events, and what other services make of the vehicle, do not move a schedule.
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
