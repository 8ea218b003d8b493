//! The handling every projecting consumer shares: decode, apply once, acknowledge a duplicate. A service
//! whose consumer only projects events into its own read model (the edge, the chat historian) writes its
//! [`Projection`] — what it consumes and one exhaustive match — and runs it as a [`ProjectionConsumer`].

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use vwc_contracts::{Envelope, Event, EventType};

use crate::{Consumer, HandleError, in_consumer_span};

/// Applies one envelope to a projection in the consumer's span (see [`in_consumer_span`]): decodes its
/// event (an undecodable one is malformed) and hands it to `apply` with the envelope id, the key the
/// projection claims in its inbox in the same transaction as the change. `apply` answers whether it
/// changed anything; `false` is a duplicate delivery, logged and acknowledged.
pub async fn project<'e, F, Fut>(
    consumer: &str,
    envelope: &'e Envelope,
    apply: F,
) -> Result<(), HandleError>
where
    F: FnOnce(String, &'e Event) -> Fut,
    Fut: Future<Output = Applied>,
{
    in_consumer_span(consumer, envelope, |_| async {
        let event = envelope.event().map_err(HandleError::malformed)?;
        if !apply(envelope.id.to_string(), event).await? {
            tracing::debug!("duplicate delivery ignored");
        }
        Ok(())
    })
    .await
}

/// A read model kept from events, usually implemented by the service's store port (`dyn EdgeStore`).
#[async_trait]
pub trait Projection: Send + Sync {
    /// The consumer's name in `contracts/routes.json`.
    const CONSUMER: &'static str;
    /// The event types routed to it; any other is answered [`HandleError::NotConsumed`] by `apply`.
    const CONSUMES: &'static [EventType];

    /// Applies `event` of `envelope`, claiming `envelope_id` in the inbox in the same transaction as the
    /// change: `false` for a duplicate delivery.
    async fn apply(&self, envelope_id: &str, envelope: &Envelope, event: &Event) -> Applied;
}

/// What applying an event to a projection answers: whether it changed anything (`false`: a duplicate).
pub type Applied = Result<bool, HandleError>;

/// The bus consumer of the projection `P`: each envelope goes through [`project`].
pub struct ProjectionConsumer<P: ?Sized> {
    projection: Arc<P>,
}

impl<P: Projection + ?Sized> ProjectionConsumer<P> {
    /// What `contracts/routes.json` routes to the consumer.
    pub const CONSUMES: &'static [EventType] = P::CONSUMES;

    pub fn new(projection: Arc<P>) -> ProjectionConsumer<P> {
        ProjectionConsumer { projection }
    }
}

#[async_trait]
impl<P: Projection + ?Sized> Consumer for ProjectionConsumer<P> {
    fn name(&self) -> &str {
        P::CONSUMER
    }

    fn consumes(&self) -> &'static [EventType] {
        P::CONSUMES
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        project(P::CONSUMER, envelope, |id, event| async move {
            self.projection.apply(&id, envelope, event).await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vwc_contracts::{EventType, Payload, Undecodable};

    use crate::consume::tests::envelope;

    #[tokio::test]
    async fn apply_is_handed_the_envelope_id_and_its_event() {
        let envelope = envelope(None);
        let mut seen = None;
        project("edge", &envelope, |id, event| {
            seen = Some((id, event.event_type()));
            async { Ok(true) }
        })
        .await
        .unwrap();
        assert_eq!(
            seen,
            Some((envelope.id.to_string(), EventType::VehicleEventRecorded))
        );
    }

    #[tokio::test]
    async fn a_duplicate_delivery_is_acknowledged() {
        let answered = project("edge", &envelope(None), |_, _| async { Ok(false) }).await;
        assert!(answered.is_ok());
    }

    #[tokio::test]
    async fn an_undecodable_envelope_is_malformed_and_never_applied() {
        let mut envelope = envelope(None);
        envelope.payload = Payload::Undecodable(Undecodable {
            event_type: EventType::VehicleEventRecorded,
            data: serde_json::json!({ "event": 1 }),
            error: "expected a struct".into(),
        });
        let mut applied = false;
        let answered = project("edge", &envelope, |_, _| {
            applied = true;
            async { Ok(true) }
        })
        .await;
        assert!(matches!(answered, Err(HandleError::Malformed(_))));
        assert!(!applied);
    }

    #[tokio::test]
    async fn the_projections_failure_is_what_the_consumer_returns() {
        let answered = project("edge", &envelope(None), |_, _| async {
            Err(HandleError::NotConsumed(EventType::ReminderDue))
        })
        .await;
        assert!(matches!(
            answered,
            Err(HandleError::NotConsumed(EventType::ReminderDue))
        ));
    }
}
