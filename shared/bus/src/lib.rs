//! The bus port: services publish envelopes and consume them without knowing which transport carries them.
//! Adapters: the in-process bus (embedded default), EventBridge (publish) and SQS (consume, as a long-poll
//! worker or a Lambda handler).

pub mod aws;
pub mod bootstrap;
pub mod eventbridge;
pub mod inproc;
pub mod lambda;
pub mod sqs;

use async_trait::async_trait;
use vwc_contracts::Envelope;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("the bus is unavailable: {0}")]
    Unavailable(String),
    #[error("{failed} of {total} entries were not accepted by the bus: {reason}")]
    Rejected {
        failed: usize,
        total: usize,
        reason: String,
    },
}

/// Publishes envelopes. `Ok` means the bus has accepted every one of them.
#[async_trait]
pub trait Bus: Send + Sync {
    async fn publish(&self, envelopes: &[Envelope]) -> Result<(), BusError>;
}

/// Why a consumer could not apply an envelope. Every failure is retried; the bus dead-letters the envelope
/// once its attempts are used up.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error("malformed event: {0}")]
    Malformed(String),
    #[error(transparent)]
    Failed(#[from] BoxError),
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl HandleError {
    pub fn failed(e: impl std::error::Error + Send + Sync + 'static) -> HandleError {
        HandleError::Failed(Box::new(e))
    }
}

/// A service's handler for the envelopes routed to it. Must be idempotent (the inbox makes it so).
#[async_trait]
pub trait Consumer: Send + Sync {
    /// The service name as used in `contracts/routes.json`.
    fn name(&self) -> &str;
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError>;
}

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

/// Where a consumer's dead letters are kept (its own store).
#[async_trait]
pub trait DeadLetterStore: Send + Sync {
    async fn put_dead_letter(
        &self,
        consumer: &str,
        envelope: &Envelope,
        error: &str,
        attempts: u32,
    ) -> Result<(), BoxError>;
    /// Dead letters not yet replayed, oldest first.
    async fn list_dead_letters(&self) -> Result<Vec<DeadLetter>, BoxError>;
    async fn mark_replayed(&self, id: i64) -> Result<(), BoxError>;
}
