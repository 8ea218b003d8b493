//! The bus port: services publish envelopes and consume them without knowing which transport carries them.
//! Adapters: the in-process bus (embedded default), EventBridge (publish) and SQS (consume, as a long-poll
//! worker or a Lambda handler).

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "aws")]
pub mod bootstrap;
pub mod consume;
#[cfg(feature = "aws")]
pub mod eventbridge;
pub mod inproc;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod ledger_consumer;
pub mod naming;
mod projection;
pub mod relay;
#[cfg(feature = "aws")]
pub mod sqs;
#[cfg(all(test, feature = "aws"))]
mod testing;

use async_trait::async_trait;
use vwc_contracts::{Envelope, EventType};

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

    /// [`Bus::publish`] for a caller done with the envelopes (the outbox relay): a bus that hands them to
    /// consumers in this process shares them instead of copying each once per consumer.
    async fn publish_owned(&self, envelopes: Vec<Envelope>) -> Result<(), BusError> {
        self.publish(&envelopes).await
    }

    /// Why this bus would refuse `envelope` however often it is sent (`None`: it may be sent). The outbox
    /// relay dead-letters such an envelope instead of retrying it forever ahead of everything after it.
    /// Every bus refuses envelopes over [`vwc_contracts::MAX_ENVELOPE_BYTES`], so all modes behave alike.
    fn refuses_for_good(&self, envelope: &Envelope) -> Option<String> {
        envelope_too_large(envelope)
    }

    /// Whether this bus would take a publish now (`/readyz`): `Err` says why not. A bus that cannot tell
    /// answers `Ok`.
    async fn ready(&self) -> Result<(), String> {
        Ok(())
    }
}

/// `Some(reason)` when `envelope` serialises to more than [`vwc_contracts::MAX_ENVELOPE_BYTES`].
pub fn envelope_too_large(envelope: &Envelope) -> Option<String> {
    // The relay screens every row it publishes: the JSON is written (as the outbox writes it) into a buffer
    // the thread keeps, and measured.
    let written = vwc_contracts::json::with_written(envelope, <[u8]>::len);
    match written {
        Ok(len) if len > vwc_contracts::MAX_ENVELOPE_BYTES => Some(format!(
            "the envelope is {len} bytes, over the {}-byte limit every bus is held to",
            vwc_contracts::MAX_ENVELOPE_BYTES
        )),
        Ok(_) => None,
        Err(e) => Some(format!("the envelope does not serialise: {e}")),
    }
}

/// Why a consumer could not apply an envelope. Every failure is retried; the bus dead-letters the envelope
/// once its attempts are used up.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error("malformed event: {0}")]
    Malformed(String),
    /// Routed to a consumer that does not handle its type: `contracts/routes.json` disagrees with the
    /// consumer's `consumes()` (a test in `vwc` keeps them equal). Never acknowledged silently.
    #[error(
        "{0} is not an event type this consumer handles; contracts/routes.json should not route it here"
    )]
    NotConsumed(EventType),
    #[error(transparent)]
    Failed(#[from] BoxError),
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl HandleError {
    pub fn failed(e: impl std::error::Error + Send + Sync + 'static) -> HandleError {
        HandleError::Failed(Box::new(e))
    }

    pub fn malformed(e: impl std::fmt::Display) -> HandleError {
        HandleError::Malformed(e.to_string())
    }
}

/// A service's handler for the envelopes routed to it. Must be idempotent (the inbox makes it so).
#[async_trait]
pub trait Consumer: Send + Sync {
    /// The service name as used in `contracts/routes.json`.
    fn name(&self) -> &str;
    /// The event types this consumer handles: exactly what `contracts/routes.json` routes to it (a test in
    /// `vwc` checks both ways). Any other type is refused with [`HandleError::NotConsumed`].
    fn consumes(&self) -> &'static [EventType];
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError>;
    /// Handles a chain of envelopes — one vehicle's, in the order delivered (see
    /// [`Consumer::one_vehicle_at_a_time`]) — and answers one outcome per envelope, in order, each as
    /// [`Consumer::handle`] would have answered it alone. By default each is handled in turn; the ledger
    /// consumers read the vehicle once for the whole chain and commit it in one batch.
    async fn handle_chain(&self, envelopes: &[&Envelope]) -> Vec<Result<(), HandleError>> {
        let mut outcomes = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            outcomes.push(self.handle(envelope).await);
        }
        outcomes
    }
    /// Whether this consumer applies one vehicle's events one at a time (behind a per-vehicle lock). The
    /// in-process bus then hands a delivery batch's events of one vehicle to [`Consumer::handle_chain`] as
    /// one chain ([`apply_chains`]): concurrently they would only queue on the lock, each holding the
    /// batch's round open until its flush timer. Consumers without such a lock apply a whole batch at
    /// once, in one transaction.
    fn one_vehicle_at_a_time(&self) -> bool {
        false
    }
}

pub use consume::{apply_batch, apply_chains, consumer_span, in_consumer_span};
pub use ledger_consumer::LedgerConsumer;
pub use projection::{Applied, Projection, ProjectionConsumer, project};
pub use relay::OutboxRelay;
/// Dead letters are kept in the consumer's own store; the port and its record live with the stores.
pub use vwc_store::{DeadLetter, DeadLetterStore};
