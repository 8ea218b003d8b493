//! Ingestion owns vehicles, their timeline events, dealers and dealer records. It serves the write side of
//! the API and publishes `VehicleRegistered` and `VehicleEventRecorded` through its outbox.

pub mod attachments;
pub mod corrections;
pub mod dealers;
pub mod http;
pub mod import;
#[cfg(feature = "aws")]
pub mod mongo;
pub mod odometer;
pub mod openapi;
pub mod service;
pub mod sqlite;
pub mod store;
pub mod vin;

#[cfg(feature = "aws")]
pub use mongo::MongoIngestionStore;
pub use service::Ingestion;
pub use sqlite::SqliteIngestionStore;
pub use store::{IngestionStore, InsertEventOutcome};

/// `source` of every envelope this service publishes.
pub const SOURCE: &str = "vwc.ingestion";

/// Everything the ingestion service stores, behind one object: vehicles and events, and dealers.
pub trait IngestionDb: IngestionStore + dealers::DealerStore {}

impl<T: IngestionStore + dealers::DealerStore> IngestionDb for T {}
