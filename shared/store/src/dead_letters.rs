//! The dead-letter port: envelopes a consumer failed to apply after every attempt (and those the outbox
//! relay moved aside because the bus refuses them for good), kept in the consumer's own store.

use async_trait::async_trait;
use vwc_contracts::Envelope;

use crate::StoreResult;

/// A dead letter: an envelope a consumer failed to apply after every attempt.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub id: i64,
    pub consumer: String,
    pub envelope: Envelope,
    pub error: String,
    pub attempts: u32,
    pub failed_at: chrono::DateTime<chrono::Utc>,
    pub replayed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a failure writes as a dead letter: which consumer gave up on which envelope, why, after how many
/// attempts (the store adds the id and the time).
#[derive(Debug, Clone, Copy)]
pub struct NewDeadLetter<'a> {
    pub consumer: &'a str,
    pub envelope: &'a Envelope,
    pub error: &'a str,
    pub attempts: u32,
}

/// Where a consumer's dead letters are kept (its own store).
#[async_trait]
pub trait DeadLetterStore: Send + Sync {
    async fn put_dead_letter(&self, letter: NewDeadLetter<'_>) -> StoreResult<()>;
    /// Dead letters not yet replayed, oldest first.
    async fn list_dead_letters(&self) -> StoreResult<Vec<DeadLetter>>;
    async fn mark_replayed(&self, id: i64) -> StoreResult<()>;
}
