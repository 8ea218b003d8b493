//! The maintenance scheduler: per-vehicle schedules, due/overdue status by date and odometer, reminders.
//!
//! The pure domain (no I/O):
//! - `settings`: an item's settings (defaults, the owner's changes, validation) and the items a vehicle tracks;
//! - `usage_estimate`: odometer readings → a usage rate → the odometer estimated for a day;
//! - `due`: due computation of one item (next due point, status and its reason);
//! - `evaluation`: a vehicle's whole schedule evaluated for a day, from the timeline facts it keeps;
//! - `publishing`: what an evaluation publishes (schedule changes, status changes, reminders).
//!
//! The port and its adapters: `store` (`store::sqlite`, `store::mongo`). The use cases: `service` (the
//! scheduler's writes: registrations, timeline events, setting changes), `consumer` (bus events),
//! `http` (routes) and `sweep` (every vehicle against a day); `write_floor` writes a sweep's rows again,
//! alone, for the benchmark's floor of the sweep.

pub mod consumer;
pub mod due;
pub mod evaluation;
pub mod http;
pub mod publishing;
pub mod service;
pub mod settings;
pub mod store;
pub mod sweep;
#[cfg(test)]
mod test_support;
pub mod usage_estimate;
pub mod write_floor;

pub use consumer::SchedulerConsumer;
pub use due::{Anchor, Done, MaintenanceItem, NextDue, evaluate, next_due, worse};
pub use evaluation::{Evaluation, TimelineFact, VehicleRecord, evaluate_vehicle};
pub use publishing::{
    FINGERPRINT_HASH, Outgoing, Plan, Published, PublishedSchedule, SentReminder, plan,
};
pub use service::{Clock, ConfigureError, Scheduler, UpdateError};
pub use settings::{DueMode, ItemChange, ItemSettings};
#[cfg(feature = "aws")]
pub use store::mongo::MongoSchedulerStore;
pub use store::sqlite::SqliteSchedulerStore;
pub use store::{CommitOutcome, SchedulerStore, VehicleCommit, VehicleLedger, VehicleState};
pub use sweep::{SweepError, SweepReport, seed_bulk, sweep};
pub use usage_estimate::{OdometerEstimate, OdometerReading, Usage};
pub use vwc_contracts::catalogue::{Catalogue, CatalogueEntry, CatalogueError};

/// The consumer name in `contracts/routes.json`.
pub const CONSUMER: &str = "maintenance-scheduler";
/// `source` of every envelope this service publishes.
pub const SOURCE: &str = "vwc.maintenance-scheduler";
