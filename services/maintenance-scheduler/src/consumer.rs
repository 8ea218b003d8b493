//! Applies `VehicleRegistered`, the timeline's events and the vehicle's later readings to the scheduler
//! (the use cases of [`Scheduler`]'s `LedgerService`): each envelope is claimed in the inbox in the same
//! transaction as its effect and the events it publishes. A sold or archived vehicle is reminded of
//! nothing; the scheduler's own events, and what other services make of a vehicle, move no schedule.

use crate::service::Scheduler;

/// The scheduler's bus consumer.
pub type SchedulerConsumer = vwc_bus::LedgerConsumer<Scheduler>;
