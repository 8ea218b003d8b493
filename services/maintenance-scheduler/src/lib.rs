//! The maintenance scheduler: per-vehicle schedules, due/overdue status by date and odometer, reminders.
//! `catalogue`, `due`, `usage`, `schedule` and `plan` are the pure domain (no I/O); `store` is the port
//! with its SQLite and MongoDB adapters; `scheduler`, `consumer`, `http` and `sweep` are the use cases.

pub mod catalogue;
pub mod consumer;
pub mod due;
pub mod http;
pub mod mongo;
pub mod plan;
pub mod schedule;
pub mod scheduler;
pub mod sqlite;
pub mod store;
pub mod sweep;
pub mod usage;

pub use catalogue::{Catalogue, CatalogueEntry, CatalogueError};
pub use consumer::SchedulerConsumer;
pub use due::{
    Anchor, Done, DueMode, ItemSettings, MaintenanceItem, NextDue, evaluate, next_due, worse,
};
pub use mongo::MongoSchedulerStore;
pub use plan::{Outgoing, Plan, PublishedSchedule, SentReminder, plan};
pub use schedule::{Evaluation, ItemChange, TimelineFact, VehicleRecord, evaluate_vehicle};
pub use scheduler::{Clock, ConfigureError, Scheduler, UpdateError};
pub use sqlite::SqliteSchedulerStore;
pub use store::{CommitOutcome, SchedulerStore, VehicleCommit, VehicleState};
pub use sweep::{SweepError, SweepReport, run_sweep_every, seed_bulk, sweep, sweep_traced};
pub use usage::{OdometerEstimate, OdometerReading, Usage};

/// The consumer name in `contracts/routes.json`.
pub const CONSUMER: &str = "maintenance-scheduler";
/// `source` of every envelope this service publishes.
pub const SOURCE: &str = "vwc.maintenance-scheduler";
