//! Turns the events routed to the notification service into notifications and their deliveries.
//!
//! `ReminderDue` is told on every channel; a `ValuationUpdated` that carries a drop of more than 10 % is
//! told in-app. `MaintenanceStatusChanged` tells nothing on its own: the scheduler publishes a
//! `ReminderDue` for every entry into `due_soon` or `overdue` (and weekly while overdue), so telling the
//! status change as well would say the same thing twice. It is kept as its item's newest word, like each
//! reminder, so that an outbound delivery of a reminder that no longer holds is not sent (docs/events.md,
//! "Reminders that no longer hold").

use std::sync::Arc;

use async_trait::async_trait;
use chrono::TimeDelta;
use vwc_bus::{Consumer, HandleError};
use vwc_contracts::maintenance::{MaintenanceStatusChanged, ReminderDue};
use vwc_contracts::valuation::ValuationUpdated;
use vwc_contracts::{Envelope, Event, EventType};

use crate::clock::{Clock, SystemClock};
use crate::compose::{plan_notification, plan_valuation_drop};
use crate::store::{ItemWord, Word};
use crate::{CONSUMER, NotificationStore};

/// How long a reminder's outbound deliveries wait before they are first due, unless configured
/// (`VWC_NOTIFICATION_SETTLE_SECONDS`): long enough for the rest of an import's or a dealer backlog's
/// deliveries to reach the scheduler and for its later word to arrive; short next to a reminder's days.
pub const DEFAULT_SETTLE: std::time::Duration = std::time::Duration::from_secs(60);

pub struct NotificationConsumer {
    store: Arc<dyn NotificationStore>,
    clock: Arc<dyn Clock>,
    settle: TimeDelta,
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
            settle: TimeDelta::zero(),
        }
    }

    /// Outbound deliveries first due `settle` after the reminder arrives (none by default here; the
    /// services pass [`DEFAULT_SETTLE`] or the configured time).
    pub fn with_settle(mut self, settle: std::time::Duration) -> NotificationConsumer {
        self.settle = TimeDelta::from_std(settle).unwrap_or(TimeDelta::MAX);
        self
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
            self.settle,
        );
        self.store
            .record_notification(&envelope.id.to_string(), &plan)
            .await
            .map_err(HandleError::failed)
    }
}

impl NotificationConsumer {
    /// Keeps the change as its item's newest word (idempotent: a redelivery or an older change arriving
    /// late changes nothing).
    async fn status_changed(
        &self,
        envelope: &Envelope,
        change: &MaintenanceStatusChanged,
    ) -> Result<bool, HandleError> {
        let Some(vehicle) = envelope
            .vehicle_id
            .clone()
            .or_else(|| (!change.vehicle_id.is_empty()).then(|| change.vehicle_id.as_str().into()))
        else {
            return Err(HandleError::Malformed(
                "MaintenanceStatusChanged without a vehicle".into(),
            ));
        };
        let word = ItemWord {
            org_id: envelope.org_id.clone(),
            vehicle_id: vehicle,
            task: change.task.clone(),
            word: Word::Status(change.status),
            at: envelope.occurred_at,
        };
        self.store
            .note_item_word(&word)
            .await
            .map_err(HandleError::failed)?;
        Ok(true)
    }

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
                // Told by the ReminderDue the scheduler publishes for the same change (see above).
                Event::MaintenanceStatusChanged(change) => {
                    self.status_changed(envelope, change).await?
                }
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
