//! Storage plumbing every service shares: the SQLite database with its single writer, the MongoDB
//! database, and on both the transactional outbox, the idempotent inbox and the dead-letter table.

pub mod dead_letters;
mod kept_envelopes;
#[cfg(feature = "aws")]
pub mod mongo;
#[cfg(feature = "aws")]
mod mongo_bodies;
#[cfg(feature = "aws")]
mod mongo_indexes;
#[cfg(feature = "aws")]
mod mongo_transaction;
pub mod outbox;
pub mod plumbing;
pub mod request_writes;
pub mod scope;
pub mod sqlite;
pub mod vehicle_ledger;
mod write_batch;

pub use dead_letters::{DeadLetter, DeadLetterStore, NewDeadLetter};
pub use outbox::{Outbox, OutboxId, WithOutbox};
pub use plumbing::{KEEP_CLAIMS, Plumbed, Plumbing};
pub use scope::{Page, VehicleRef};
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
    #[cfg(feature = "aws")]
    #[error("mongodb: {0}")]
    Mongo(#[from] mongodb::error::Error),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the store is closed")]
    Closed,
    /// The database cannot take writes now (a full disk, a read-only or failing file): nothing was
    /// written, and the same write may succeed later.
    #[error("{0}")]
    Unavailable(String),
    /// Other transactions kept holding the records a request's write needs for longer than the request
    /// waits ([`request_writes`]): nothing was written, and the same write may succeed later.
    #[error("another write holds these records: {0}")]
    Contended(String),
    #[error("{0}")]
    Other(String),
}

impl StoreError {
    /// A COMMIT that failed with `cause`: every write of the transaction hears it.
    pub fn did_not_commit(cause: &rusqlite::Error) -> StoreError {
        match unavailable_cause(cause) {
            Some(why) => StoreError::Unavailable(format!("{why}; the transaction did not commit")),
            None => StoreError::Other(format!("the transaction did not commit: {cause}")),
        }
    }

    /// Why the store cannot take writes now, when that is what this error says (a 503 at the edge, not a
    /// 500): the database's disk is full, its file is read-only, or reading or writing it failed.
    pub fn unavailable(&self) -> Option<String> {
        match self {
            StoreError::Unavailable(why) => Some(why.clone()),
            StoreError::Contended(why) => Some(format!("another write holds these records: {why}")),
            StoreError::Sqlite(e) => unavailable_cause(e).map(str::to_string),
            #[cfg(feature = "aws")]
            StoreError::Mongo(e) => mongo_unavailable(e).map(str::to_string),
            _ => None,
        }
    }
}

/// [`StoreError::unavailable`] of `error` or of any error in its chain of sources (a consumer's own error
/// wrapping the store's, or the SQLite error under it).
pub fn unavailable_in(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(why) = e
            .downcast_ref::<StoreError>()
            .and_then(StoreError::unavailable)
        {
            return Some(why);
        }
        if let Some(why) = e
            .downcast_ref::<rusqlite::Error>()
            .and_then(unavailable_cause)
        {
            return Some(why.to_string());
        }
        #[cfg(feature = "aws")]
        if let Some(why) = e
            .downcast_ref::<mongodb::error::Error>()
            .and_then(mongo_unavailable)
        {
            return Some(why.to_string());
        }
        next = e.source();
    }
    None
}

/// A MongoDB deployment that cannot be reached (no server to select, the connection lost) is unavailable,
/// not a fault: the same write may succeed once it is back.
#[cfg(feature = "aws")]
pub(crate) fn mongo_unavailable(e: &mongodb::error::Error) -> Option<&'static str> {
    use mongodb::error::ErrorKind;
    match e.kind.as_ref() {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. } => Some("the database cannot be reached"),
        _ => None,
    }
}

fn unavailable_cause(e: &rusqlite::Error) -> Option<&'static str> {
    let rusqlite::Error::SqliteFailure(failure, _) = e else {
        return None;
    };
    match failure.code {
        rusqlite::ErrorCode::DiskFull => Some("the database's disk is full"),
        rusqlite::ErrorCode::ReadOnly => Some("the database is read-only"),
        rusqlite::ErrorCode::SystemIoFailure => {
            Some("the database's file could not be read or written")
        }
        _ => None,
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The one timestamp format stored as text: RFC 3339, UTC, fixed microsecond width, so text order is time
/// order.
pub fn ts(t: &chrono::DateTime<chrono::Utc>) -> String {
    vwc_contracts::time_text::rfc3339_micros(t)
}

/// Parses a timestamp written by [`ts`].
pub fn parse_ts(s: &str) -> StoreResult<chrono::DateTime<chrono::Utc>> {
    // What `ts` wrote is read by position; anything else (an offset, text written by hand) by chrono.
    if let Some(t) = vwc_contracts::time_text::parse_utc(s) {
        return Ok(t);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| StoreError::Other(format!("bad timestamp {s:?}: {e}")))
}

/// Runs `tick` at each of `ticker`'s ticks (a tick missed while one runs is delayed, not bunched) until
/// `shutdown` turns true or its sender is gone; a tick never starts once shutdown began. The loop of every
/// periodic job of a running system (the daily jobs, the pruning of old inbox claims).
pub async fn run_every<F, Fut>(
    mut ticker: tokio::time::Interval,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    mut tick: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            _ = ticker.tick() => tick().await,
            changed = shutdown.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}
