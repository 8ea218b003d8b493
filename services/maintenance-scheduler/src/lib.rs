//! The maintenance scheduler: per-vehicle schedules, due/overdue status by date and odometer, reminders.
//! `catalogue`, `due` and `usage` are the pure domain (no I/O); stores and handlers build on them.

pub mod catalogue;
pub mod due;
pub mod usage;

pub use catalogue::{Catalogue, CatalogueEntry, CatalogueError};
pub use due::{
    Anchor, Done, DueMode, DueStatus, ItemSettings, ItemStatus, MaintenanceItem, NextDue, evaluate,
    next_due,
};
pub use usage::{OdometerEstimate, OdometerReading, Usage};
