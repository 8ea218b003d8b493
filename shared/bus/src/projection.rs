//! The handling every projecting consumer shares: decode, apply once, acknowledge a duplicate.

use std::future::Future;

use vwc_contracts::{Envelope, Event};

use crate::{HandleError, in_consumer_span};

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
    Fut: Future<Output = Result<bool, HandleError>>,
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
