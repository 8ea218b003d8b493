//! Turns the events routed to the notification service into notifications and their deliveries.
//!
//! `ReminderDue` is told on every channel; a `ValuationUpdated` that carries a drop of more than 10 % is
//! told in-app. `MaintenanceStatusChanged` is routed here too but tells nothing
//! on its own: the scheduler publishes a `ReminderDue` for every entry into `due_soon` or `overdue` (and
//! weekly while overdue), so telling the status change as well would say the same thing twice.

use std::sync::Arc;

use async_trait::async_trait;
use vwc_bus::{Consumer, HandleError};
use vwc_contracts::maintenance::ReminderDue;
use vwc_contracts::valuation::ValuationUpdated;
use vwc_contracts::{Envelope, Event, EventType};

use crate::clock::{Clock, SystemClock};
use crate::compose::{plan_notification, plan_valuation_drop};
use crate::{CONSUMER, NotificationStore};

pub struct NotificationConsumer {
    store: Arc<dyn NotificationStore>,
    clock: Arc<dyn Clock>,
}

impl NotificationConsumer {
    /// What can be worth telling someone.
    pub const CONSUMES: &'static [EventType] = &[
        EventType::ReminderDue,
        EventType::MaintenanceStatusChanged,
        EventType::ValuationUpdated,
    ];

    pub fn new(store: Arc<dyn NotificationStore>) -> NotificationConsumer {
        NotificationConsumer {
            store,
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses `clock` for "now" (quiet hours, timestamps).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> NotificationConsumer {
        self.clock = clock;
        self
    }

    async fn reminder_due(
        &self,
        envelope: &Envelope,
        reminder: &ReminderDue,
    ) -> Result<bool, HandleError> {
        if reminder.reminder_id.trim().is_empty() {
            return Err(HandleError::Malformed(
                "ReminderDue without a reminderId".into(),
            ));
        }
        let preferences = self
            .store
            .preferences(&envelope.org_id)
            .await
            .map_err(HandleError::failed)?;
        let plan = plan_notification(
            envelope,
            reminder,
            preferences.as_ref().map(|p| &p.preferences),
            self.clock.now(),
        );
        self.store
            .record_notification(&envelope.id.to_string(), &plan)
            .await
            .map_err(HandleError::failed)
    }
}

impl NotificationConsumer {
    async fn valuation_updated(
        &self,
        envelope: &Envelope,
        update: &ValuationUpdated,
    ) -> Result<bool, HandleError> {
        let Some(drop) = &update.drop else {
            return Ok(true);
        };
        if drop.drop_id.trim().is_empty() {
            return Err(HandleError::Malformed(
                "ValuationUpdated with a drop without a dropId".into(),
            ));
        }
        let plan = plan_valuation_drop(envelope, update, drop, self.clock.now());
        self.store
            .record_notification(&envelope.id.to_string(), &plan)
            .await
            .map_err(HandleError::failed)
    }
}

#[async_trait]
impl Consumer for NotificationConsumer {
    fn name(&self) -> &str {
        CONSUMER
    }

    fn consumes(&self) -> &'static [EventType] {
        Self::CONSUMES
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        vwc_bus::in_consumer_span(self.name(), envelope, |_| async {
            let event = envelope.event().map_err(HandleError::malformed)?;
            let applied = match event {
                Event::ReminderDue(reminder) => self.reminder_due(envelope, reminder).await?,
                Event::ValuationUpdated(update) => self.valuation_updated(envelope, update).await?,
                // Covered by the ReminderDue the scheduler publishes for the same change (see above).
                Event::MaintenanceStatusChanged(_) => true,
                Event::VehicleRegistered(_)
                | Event::VehicleEventRecorded(_)
                | Event::NotificationDelivered(_)
                | Event::MaintenanceScheduleUpdated(_)
                | Event::VehicleEventCorrected(_)
                | Event::VehicleEventVoided(_)
                | Event::VehicleUpdated(_)
                | Event::VehicleSold(_)
                | Event::VehicleArchived(_) => {
                    return Err(HandleError::NotConsumed(event.event_type()));
                }
            };
            if !applied {
                tracing::debug!("duplicate reminder ignored");
            }
            Ok(())
        })
        .await
    }
}
