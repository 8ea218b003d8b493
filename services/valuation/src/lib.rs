//! The valuation service: what each vehicle is worth over time and why. `model` is the pure domain (no
//! I/O); `store` is the port with its SQLite and MongoDB adapters; `valuer`, `consumer`, `http` and
//! `revalue` are the use cases.

pub mod consumer;
pub mod http;
pub mod model;
#[cfg(feature = "aws")]
pub mod mongo;
pub mod revalue;
pub mod sqlite;
pub mod store;
pub mod valuer;

pub use consumer::ValuationConsumer;
#[cfg(feature = "aws")]
pub use mongo::MongoValuationStore;
pub use revalue::{RevalueError, RevalueReport, revalue};
pub use sqlite::SqliteValuationStore;
pub use store::{
    CommitOutcome, PublishedPoint, ValuationStore, VehicleCommit, VehicleLedger, VehicleState,
};
pub use valuer::{Valuer, decide, fingerprint};

/// The consumer name in `contracts/routes.json`.
pub const CONSUMER: &str = "valuation";
/// `source` of every envelope this service publishes.
pub const SOURCE: &str = "vwc.valuation";
