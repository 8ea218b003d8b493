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
