//! The consumer of a service that keeps a per-vehicle ledger (the maintenance scheduler, the valuation):
//! each envelope is applied by [`vwc_store::vehicle_ledger::deliver`] inside the consumer's span, and
//! claimed in the inbox in the same transaction as its effect and what it publishes. A chain of one
//! vehicle's envelopes ([`Consumer::handle_chain`]) is applied by
//! [`vwc_store::vehicle_ledger::deliver_chain`]: one read of the vehicle, one commit batch.

use async_trait::async_trait;
use tracing::Instrument;
use vwc_contracts::{Envelope, EventType};
use vwc_store::vehicle_ledger::{
    CommitOutcome, Delivery, DeliveryError, LEDGER_EVENTS, LedgerService, UpdateError, deliver,
    deliver_chain,
};

use crate::{Consumer, HandleError};

/// The bus consumer of the ledger service `S`.
pub struct LedgerConsumer<S> {
    service: S,
}

impl<S: LedgerService> LedgerConsumer<S> {
    /// What `contracts/routes.json` routes to the consumer.
    pub const CONSUMES: &'static [EventType] = LEDGER_EVENTS;

    pub fn new(service: S) -> LedgerConsumer<S> {
        LedgerConsumer { service }
    }
}

#[async_trait]
impl<S: LedgerService> Consumer for LedgerConsumer<S> {
    fn name(&self) -> &str {
        S::CONSUMER
    }

    fn consumes(&self) -> &'static [EventType] {
        Self::CONSUMES
    }

    /// The ledger services update a vehicle under its lock (`vwc_store::vehicle_ledger::VehicleLocks`).
    fn one_vehicle_at_a_time(&self) -> bool {
        true
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        crate::in_consumer_span(self.name(), envelope, |outgoing| async move {
            let event = envelope.event().map_err(HandleError::malformed)?;
            let at = Delivery {
                envelope_id: &envelope.id.to_string(),
                traceparent: outgoing.as_deref(),
                span: None,
            };
            handled(deliver(&self.service, at, event).await)
        })
        .await
    }

    /// The chain's envelopes are applied in order with one read of the vehicle and one commit batch
    /// (the same effects and published events as one at a time); one that does not decode fails alone.
    /// Each envelope keeps its own span (its change and decision run in it, in its own trace); the read
    /// and the commit run in the first one's.
    async fn handle_chain(&self, envelopes: &[&Envelope]) -> Vec<Result<(), HandleError>> {
        let ids: Vec<String> = envelopes.iter().map(|e| e.id.to_string()).collect();
        let spans: Vec<(tracing::Span, Option<String>)> = envelopes
            .iter()
            .map(|e| crate::consumer_span(self.name(), e))
            .collect();
        let mut outcomes: Vec<Result<(), HandleError>> = Vec::with_capacity(envelopes.len());
        let mut chain = Vec::with_capacity(envelopes.len());
        let mut at = Vec::with_capacity(envelopes.len());
        for (i, envelope) in envelopes.iter().enumerate() {
            match envelope.event() {
                Ok(event) => {
                    let delivery = Delivery {
                        envelope_id: &ids[i],
                        traceparent: spans[i].1.as_deref(),
                        span: (i > 0).then_some(&spans[i].0),
                    };
                    chain.push((delivery, event));
                    at.push(i);
                    outcomes.push(Ok(()));
                }
                Err(undecodable) => outcomes.push(Err(HandleError::malformed(undecodable))),
            }
        }
        let Some((first, _)) = spans.first() else {
            return outcomes;
        };
        let applied = deliver_chain(&self.service, &chain)
            .instrument(first.clone())
            .await;
        for (i, result) in at.into_iter().zip(applied) {
            outcomes[i] = handled(result);
        }
        outcomes
    }
}

/// What the bus hears of one delivery's outcome.
fn handled(
    outcome: Result<Option<CommitOutcome>, DeliveryError<UpdateError>>,
) -> Result<(), HandleError> {
    match outcome {
        Ok(Some(CommitOutcome::Duplicate)) => {
            tracing::debug!("duplicate delivery ignored");
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(DeliveryError::NotConsumed(event_type)) => Err(HandleError::NotConsumed(event_type)),
        Err(DeliveryError::Failed(e)) => Err(HandleError::failed(e)),
    }
}
