//! Storage plumbing every service shares: the SQLite database with its single writer, the MongoDB
//! database, and on both the transactional outbox, the idempotent inbox and the dead-letter table.

pub mod dead_letters;
pub mod mongo;
mod mongo_indexes;
mod mongo_transaction;
pub mod outbox;
pub mod plumbing;
pub mod sqlite;
pub mod vehicle_ledger;

pub use dead_letters::{DeadLetter, DeadLetterStore};
pub use outbox::{Outbox, OutboxId};
pub use plumbing::{Plumbed, Plumbing};
pub use sqlite::SqliteDb;

/// Errors of the storage layer. Conflicts and misses are answers, not faults; the rest are faults.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("mongodb: {0}")]
    Mongo(#[from] mongodb::error::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the store is closed")]
    Closed,
    #[error("{0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The one timestamp format stored as text: RFC 3339, UTC, fixed microsecond width, so text order is time
/// order.
pub fn ts(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
