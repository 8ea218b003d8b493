//! The edge owns the dashboard read model: projections built only from events (vehicles, timeline). It
//! serves the read side of the API.

pub mod aggregates;
pub mod calendar;
pub mod consumer;
pub mod corrections;
pub mod cursor;
pub mod export;
pub mod fuel;
pub mod http;
#[cfg(feature = "aws")]
pub mod mongo;
pub mod page_cache;
pub mod query;
pub mod read_model;
pub mod search;
pub mod sqlite;
pub mod store;
pub mod timeline_page;
pub mod zip;

pub use consumer::EdgeConsumer;
#[cfg(feature = "aws")]
pub use mongo::MongoEdgeStore;
pub use sqlite::SqliteEdgeStore;
pub use store::EdgeStore;

/// The consumer name in `contracts/routes.json`.
pub const CONSUMER: &str = "edge";
