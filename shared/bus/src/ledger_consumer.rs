//! The consumer of a service that keeps a per-vehicle ledger (the maintenance scheduler, the valuation):
//! each envelope is applied by [`vwc_store::vehicle_ledger::deliver`] inside the consumer's span, and
//! claimed in the inbox in the same transaction as its effect and what it publishes.

use async_trait::async_trait;
use vwc_contracts::{Envelope, EventType};
use vwc_store::vehicle_ledger::{
    CommitOutcome, Delivery, DeliveryError, LEDGER_EVENTS, LedgerService, deliver,
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
            };
            match deliver(&self.service, at, event).await {
                Ok(Some(CommitOutcome::Duplicate)) => {
                    tracing::debug!("duplicate delivery ignored");
                    Ok(())
                }
                Ok(_) => Ok(()),
                Err(DeliveryError::NotConsumed(event_type)) => {
                    Err(HandleError::NotConsumed(event_type))
                }
                Err(DeliveryError::Failed(e)) => Err(HandleError::failed(e)),
            }
        })
        .await
    }
}
