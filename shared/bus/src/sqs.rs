//! The SQS consumer side: one message → one envelope → the service's `Consumer`, shared by the long-poll
//! worker here and the Lambda handler (`crate::lambda`). Successes are deleted; failures stay on the queue
//! for its redrive policy (and a dead-letter queue after `maxReceiveCount` receives).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName,
};
use futures::FutureExt;
use tokio::sync::watch;
use tracing::{Instrument, debug, error, field, info, info_span, warn};
use vwc_contracts::Envelope;

use crate::inproc::RetryPolicy;
use crate::{Consumer, HandleError};

/// Reads the envelope out of an SQS message body. A body delivered by an EventBridge rule is the EventBridge
/// event, whose `detail` is the envelope (and whose `detail-type` must agree with it); a body sent straight to
/// the queue is the envelope itself.
pub fn envelope_from_sqs_body(body: &str) -> Result<Envelope, HandleError> {
    let mut value: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| HandleError::Malformed(format!("the message body is not JSON: {e}")))?;
    let Some(event) = value
        .as_object_mut()
        .filter(|o| o.contains_key("detail-type") && o.contains_key("detail"))
    else {
        return serde_json::from_value(value).map_err(|e| {
            HandleError::Malformed(format!("the message body is not an envelope: {e}"))
        });
    };
    let detail_type = event
        .get("detail-type")
        .and_then(|t| t.as_str())
        .map(str::to_string)
        .ok_or_else(|| HandleError::Malformed("`detail-type` is not a string".into()))?;
    let detail = match event.remove("detail") {
        // EventBridge always sends an object; a string holding the JSON is accepted for hand-made events.
        Some(serde_json::Value::String(json)) => serde_json::from_str(&json),
        Some(detail) => serde_json::from_value(detail),
        None => unreachable!("checked above"),
    };
    let envelope: Envelope = detail.map_err(|e| {
        HandleError::Malformed(format!("the EventBridge `detail` is not an envelope: {e}"))
    })?;
    if envelope.event_type().as_str() != detail_type {
        return Err(HandleError::Malformed(format!(
            "`detail-type` {detail_type:?} does not match the envelope's type {}",
            envelope.event_type()
        )));
    }
    Ok(envelope)
}

/// The one path every SQS message takes (worker or Lambda): decode, then hand to the consumer inside a span
/// that carries the envelope's `traceparent`. A panicking consumer fails only its own message.
pub(crate) async fn handle_message(
    consumer: &dyn Consumer,
    message_id: &str,
    body: Option<&str>,
) -> Result<(), HandleError> {
    let span = info_span!(
        "bus.handle",
        consumer = consumer.name(),
        message_id,
        event_id = field::Empty,
        event_type = field::Empty,
        traceparent = field::Empty,
    );
    // The bus hop, parented on the publisher's span (read from the body before the span is entered).
    let traceparent = body
        .and_then(|b| envelope_from_sqs_body(b).ok())
        .and_then(|e| e.traceparent);
    vwc_telemetry::continue_trace(&span, traceparent.as_deref());
    async {
        let envelope = body
            .ok_or_else(|| HandleError::Malformed("the message has no body".into()))
            .and_then(envelope_from_sqs_body);
        let outcome = match envelope {
            Err(e) => Err(e),
            Ok(envelope) => {
                let span = tracing::Span::current();
                span.record("event_id", field::display(envelope.id));
                span.record("event_type", envelope.event_type().as_str());
                if let Some(traceparent) = &envelope.traceparent {
                    span.record("traceparent", traceparent.as_str());
                }
                AssertUnwindSafe(consumer.handle(&envelope))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|panic| Err(HandleError::Failed(panic_message(panic).into())))
            }
        };
        match &outcome {
            Ok(()) => debug!("handled"),
            Err(e) => {
                warn!(error = %vwc_telemetry::error_chain(e), "handling failed; the message stays for a retry")
            }
        }
        outcome
    }
    .instrument(span)
    .await
}

/// One SQS message of a batch: its id and body, and — for a consumer that chains — the envelope read
/// from the body (`None` when it does not decode: [`handle_message`] then answers why).
struct Received<'m> {
    message_id: &'m str,
    body: Option<&'m str>,
    envelope: Option<Envelope>,
}

/// Handles a received batch (worker or Lambda) as one delivery batch ([`crate::apply_chains`]): each
/// message by [`handle_message`], except that for a consumer that applies one vehicle at a time
/// ([`Consumer::one_vehicle_at_a_time`]: the scheduler, the valuation) the batch's messages of one vehicle
/// go to [`Consumer::handle_chain`] together, in the order received — one read of the vehicle, one commit
/// batch, one decision, as the in-process bus hands them over — inside the first message's span. A chain
/// that panics fails its messages; each failed message of a batch of several is tried once more alone.
/// `messages` are (message id, body) pairs.
pub(crate) async fn handle_messages(
    consumer: &dyn Consumer,
    messages: &[(&str, Option<&str>)],
) -> Vec<Result<(), HandleError>> {
    let chained = consumer.one_vehicle_at_a_time();
    let messages: Vec<Received<'_>> = (messages.iter())
        .map(|&(message_id, body)| Received {
            message_id,
            body,
            envelope: body
                .filter(|_| chained)
                .and_then(|b| envelope_from_sqs_body(b).ok()),
        })
        .collect();
    crate::apply_chains(
        &messages,
        |m| {
            (m.envelope.as_ref())
                .and_then(|e| e.vehicle_id.as_ref())
                .map(|v| v.as_str())
        },
        |chain: Vec<&Received<'_>>| async move {
            let envelopes: Vec<&Envelope> =
                chain.iter().filter_map(|m| m.envelope.as_ref()).collect();
            match (chain.as_slice(), envelopes.len() == chain.len()) {
                ([one], _) => vec![handle_message(consumer, one.message_id, one.body).await],
                ([first, ..], true) => {
                    let span = info_span!(
                        "bus.handle",
                        consumer = consumer.name(),
                        message_id = first.message_id,
                        messages = chain.len(),
                    );
                    vwc_telemetry::continue_trace(&span, envelopes[0].traceparent.as_deref());
                    AssertUnwindSafe(consumer.handle_chain(&envelopes))
                        .catch_unwind()
                        .instrument(span)
                        .await
                        .unwrap_or_else(|panic| {
                            let message = panic_message(panic);
                            (chain.iter())
                                .map(|_| Err(HandleError::Failed(message.clone().into())))
                                .collect()
                        })
                }
                _ => Vec::new(),
            }
        },
        |m| handle_message(consumer, m.message_id, m.body),
    )
    .await
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    format!("the consumer panicked: {text}")
}

/// How long a failed message stays hidden before its next receive: base · 2^(receives − 1), capped. Without
/// it a failed message reappears after the queue's visibility timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisibilityBackoff {
    pub base: Duration,
    pub max: Duration,
}

impl VisibilityBackoff {
    /// The visibility timeout (whole seconds, within SQS's 12-hour limit) after the `receive_count`-th
    /// failed receive (counting from 1).
    pub fn after(&self, receive_count: u32) -> Duration {
        const SQS_MAX: Duration = Duration::from_secs(12 * 60 * 60);
        let capped = vwc_clock::Backoff {
            base: self.base,
            cap: self.max.min(SQS_MAX),
        }
        .delay(receive_count.saturating_sub(1));
        Duration::from_secs(capped.as_secs() + u64::from(capped.subsec_nanos() > 0))
    }
}

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Long-poll wait (SQS allows 0–20 s).
    pub wait_time_secs: u32,
    /// Visibility timeout for the received messages; `None` keeps the queue's own.
    pub visibility_timeout: Option<Duration>,
    /// Messages per receive (SQS allows 1–10).
    pub max_messages: u32,
    /// Hide a failed message for a growing while; `None` leaves it to the visibility timeout.
    pub failure_backoff: Option<VisibilityBackoff>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            wait_time_secs: 20,
            visibility_timeout: None,
            max_messages: 10,
            failure_backoff: Some(VisibilityBackoff {
                base: Duration::from_secs(2),
                max: Duration::from_secs(300),
            }),
        }
    }
}

/// What one receive brought and how it went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollStats {
    pub received: usize,
    pub succeeded: usize,
    pub failed: usize,
}

impl std::ops::AddAssign for PollStats {
    fn add_assign(&mut self, other: PollStats) {
        self.received += other.received;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("receiving messages from {queue_url}: {message}")]
    Receive { queue_url: String, message: String },
}

/// Long-polls one queue and hands every message to one consumer.
pub struct SqsWorker {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    consumer: Arc<dyn Consumer>,
    options: WorkerOptions,
}

impl SqsWorker {
    pub fn new(
        client: aws_sdk_sqs::Client,
        queue_url: String,
        consumer: Arc<dyn Consumer>,
        options: WorkerOptions,
    ) -> SqsWorker {
        SqsWorker {
            client,
            queue_url,
            consumer,
            options,
        }
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Polls until `shutdown` turns `true` (or its sender is dropped). Shutdown interrupts a long poll but
    /// never a batch being handled: received messages are finished and deleted first. Returns the totals.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> PollStats {
        let errors = RetryPolicy {
            max_attempts: u32::MAX,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        };
        let mut totals = PollStats::default();
        let mut consecutive_errors = 0u32;
        info!(queue = %self.queue_url, consumer = self.consumer.name(), "SQS worker started");
        loop {
            if *shutdown.borrow_and_update() {
                break;
            }
            let received = tokio::select! {
                biased;
                changed = shutdown.changed() => {
                    if changed.is_err() { break; }
                    continue;
                }
                received = self.receive() => received,
            };
            match received {
                Ok(messages) => {
                    consecutive_errors = 0;
                    totals += self.process(messages).await;
                }
                Err(e) => {
                    consecutive_errors = consecutive_errors.saturating_add(1);
                    let delay = errors.backoff(consecutive_errors);
                    error!(error = %vwc_telemetry::error_chain(&e), retry_in_ms = delay.as_millis() as u64, "SQS receive failed");
                    tokio::select! {
                        changed = shutdown.changed() => if changed.is_err() { break },
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        info!(queue = %self.queue_url, ?totals, "SQS worker stopped");
        totals
    }

    /// One long poll, then every received message handled concurrently, each on its own: successes are
    /// deleted in one batch, failures are left on the queue (hidden for the failure backoff, if any).
    pub async fn poll_once(&self) -> Result<PollStats, WorkerError> {
        let messages = self.receive().await?;
        Ok(self.process(messages).await)
    }

    async fn receive(&self) -> Result<Vec<Message>, WorkerError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.options.max_messages.clamp(1, 10) as i32)
            .wait_time_seconds(self.options.wait_time_secs.min(20) as i32)
            .set_visibility_timeout(
                self.options
                    .visibility_timeout
                    .map(|t| t.as_secs().min(43_200) as i32),
            )
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| WorkerError::Receive {
                queue_url: self.queue_url.clone(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
        Ok(output.messages.unwrap_or_default())
    }

    async fn process(&self, messages: Vec<Message>) -> PollStats {
        if messages.is_empty() {
            return PollStats::default();
        }
        let received: Vec<(&str, Option<&str>)> = (messages.iter())
            .map(|m| (m.message_id().unwrap_or_default(), m.body()))
            .collect();
        let outcomes = handle_messages(self.consumer.as_ref(), &received).await;
        let mut stats = PollStats {
            received: messages.len(),
            ..PollStats::default()
        };
        let mut done = Vec::new();
        let mut failed = Vec::new();
        for (message, outcome) in messages.iter().zip(outcomes) {
            if outcome.is_ok() {
                stats.succeeded += 1;
                done.push(message);
            } else {
                stats.failed += 1;
                failed.push(message);
            }
        }
        self.delete(&done).await;
        if let Some(backoff) = self.options.failure_backoff {
            self.hide_for_backoff(&failed, backoff).await;
        }
        debug!(queue = %self.queue_url, ?stats, "polled");
        stats
    }

    /// Deletes handled messages. A message whose delete fails comes back later; the idempotent consumer
    /// makes the second delivery harmless.
    async fn delete(&self, messages: &[&Message]) {
        let entries = |id, handle, _: &Message| {
            DeleteMessageBatchRequestEntry::builder()
                .id(id)
                .receipt_handle(handle)
                .build()
                .ok()
        };
        for (chunk, entries) in in_batches(messages, entries) {
            match self
                .client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(output) => {
                    for failure in output.failed() {
                        let message_id = failure
                            .id()
                            .parse::<usize>()
                            .ok()
                            .and_then(|i| chunk.get(i))
                            .and_then(|m| m.message_id());
                        warn!(
                            message_id,
                            code = failure.code(),
                            reason = failure.message(),
                            "a handled message was not deleted; it will be delivered again"
                        );
                    }
                }
                Err(e) => warn!(
                    queue = %self.queue_url,
                    count = chunk.len(),
                    error = %DisplayErrorContext(&e),
                    "handled messages were not deleted; they will be delivered again"
                ),
            }
        }
    }

    async fn hide_for_backoff(&self, messages: &[&Message], backoff: VisibilityBackoff) {
        let entries = |id, handle, message: &Message| {
            let timeout = backoff.after(receive_count(message));
            ChangeMessageVisibilityBatchRequestEntry::builder()
                .id(id)
                .receipt_handle(handle)
                .visibility_timeout(timeout.as_secs() as i32)
                .build()
                .ok()
        };
        for (_, entries) in in_batches(messages, entries) {
            // Best effort: if this fails, the message reappears after the ordinary visibility timeout.
            match self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(output) if !output.failed().is_empty() => warn!(
                    failed = output.failed().len(),
                    "could not set the retry backoff of some failed messages"
                ),
                Ok(_) => {}
                Err(e) => {
                    warn!(error = %DisplayErrorContext(&e), "could not set the retry backoff of failed messages")
                }
            }
        }
    }
}

/// SQS acts on at most ten messages a batch call: `messages` in chunks of ten, each with the entries `entry`
/// builds from a message's index in its chunk (the entry's id) and its receipt handle. A message without a
/// receipt handle cannot be deleted or hidden: it is left out, with a warning.
fn in_batches<'m, E>(
    messages: &'m [&'m Message],
    entry: impl Fn(String, String, &Message) -> Option<E> + 'm,
) -> impl Iterator<Item = (&'m [&'m Message], Vec<E>)> + 'm {
    messages.chunks(10).filter_map(move |chunk| {
        let entries: Vec<E> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, message)| {
                let Some(handle) = message.receipt_handle() else {
                    warn!(
                        message_id = message.message_id(),
                        "a message without a receipt handle cannot be deleted or hidden"
                    );
                    return None;
                };
                entry(i.to_string(), handle.to_string(), message)
            })
            .collect();
        (!entries.is_empty()).then_some((chunk, entries))
    })
}

fn receive_count(message: &Message) -> u32 {
    message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vwc_contracts::EventType;

    use crate::testing::Picky;

    fn envelope() -> Envelope {
        Envelope::new(
            "vwc.ingestion",
            "org_1",
            Some("veh_1"),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            vwc_contracts::examples::event(EventType::VehicleEventRecorded),
        )
    }

    fn eventbridge_body(detail_type: &str, detail: serde_json::Value) -> String {
        serde_json::json!({
            "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": detail_type, "source": "vwc.ingestion", "account": "123456789012",
            "time": "2026-05-01T10:00:00Z", "region": "us-east-1", "resources": [],
            "detail": detail,
        })
        .to_string()
    }

    #[test]
    fn an_eventbridge_event_body_yields_its_detail() {
        let e = envelope();
        let body = eventbridge_body("VehicleEventRecorded", serde_json::to_value(&e).unwrap());
        assert_eq!(envelope_from_sqs_body(&body).unwrap(), e);
    }

    #[test]
    fn a_raw_envelope_body_is_the_envelope() {
        let e = envelope();
        let body = serde_json::to_string(&e).unwrap();
        assert_eq!(envelope_from_sqs_body(&body).unwrap(), e);
    }

    #[test]
    fn a_detail_given_as_a_json_string_is_accepted() {
        let e = envelope();
        let detail = serde_json::Value::String(serde_json::to_string(&e).unwrap());
        let body = eventbridge_body("VehicleEventRecorded", detail);
        assert_eq!(envelope_from_sqs_body(&body).unwrap(), e);
    }

    #[test]
    fn a_detail_type_that_disagrees_with_the_envelope_is_malformed() {
        let body = eventbridge_body("ReminderDue", serde_json::to_value(envelope()).unwrap());
        assert!(matches!(
            envelope_from_sqs_body(&body),
            Err(HandleError::Malformed(m)) if m.contains("ReminderDue")
        ));
    }

    #[test]
    fn bodies_that_are_not_envelopes_are_malformed() {
        for body in [
            "",
            "not json",
            "[]",
            r#"{"id": 1}"#,
            &eventbridge_body("VehicleEventRecorded", serde_json::json!({"id": "x"})),
            // A type no service publishes: refused here, before any consumer could acknowledge it.
            &serde_json::to_string(&{
                let mut v = serde_json::to_value(envelope()).unwrap();
                v["type"] = "VehicleTeleported".into();
                v
            })
            .unwrap(),
        ] {
            assert!(
                matches!(envelope_from_sqs_body(body), Err(HandleError::Malformed(_))),
                "{body:?} should be malformed"
            );
        }
    }

    #[test]
    fn data_that_does_not_match_its_type_reaches_the_consumer_as_undecodable() {
        let mut v = serde_json::to_value(envelope()).unwrap();
        v["data"] = serde_json::json!({"event": {"nope": 1}});
        let e = envelope_from_sqs_body(&v.to_string()).unwrap();
        assert_eq!(e.event_type(), EventType::VehicleEventRecorded);
        assert!(e.event().is_err());
    }

    #[test]
    fn failure_backoff_doubles_per_receive_and_is_capped() {
        let backoff = VisibilityBackoff {
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
        };
        let secs: Vec<u64> = (1..=7).map(|n| backoff.after(n).as_secs()).collect();
        assert_eq!(secs, vec![2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff.after(0), Duration::from_secs(2));
        assert_eq!(backoff.after(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn failure_backoff_rounds_up_to_whole_seconds_and_stays_under_twelve_hours() {
        let sub_second = VisibilityBackoff {
            base: Duration::from_millis(300),
            max: Duration::from_secs(60),
        };
        assert_eq!(sub_second.after(1), Duration::from_secs(1));
        let huge = VisibilityBackoff {
            base: Duration::from_secs(3600),
            max: Duration::from_secs(86_400),
        };
        assert_eq!(huge.after(10), Duration::from_secs(43_200));
    }

    /// Collects the values recorded into the `traceparent` field of `bus.handle` spans.
    #[derive(Clone, Default)]
    struct TraceparentCapture(Arc<std::sync::Mutex<Vec<String>>>);

    impl<S> tracing_subscriber::Layer<S> for TraceparentCapture
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        fn on_record(
            &self,
            id: &tracing::span::Id,
            values: &tracing::span::Record<'_>,
            ctx: tracing_subscriber::layer::Context<'_, S>,
        ) {
            if ctx.span(id).is_some_and(|s| s.name() == "bus.handle") {
                values.record(&mut self.clone());
            }
        }
    }

    impl tracing::field::Visit for TraceparentCapture {
        fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
            if field.name() == "traceparent" {
                self.0.lock().unwrap().push(value.to_string());
            }
        }
        fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
    }

    #[tokio::test]
    async fn the_handling_span_carries_the_envelopes_traceparent() {
        use tracing_subscriber::layer::SubscriberExt;
        let capture = TraceparentCapture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        let _guard = tracing::subscriber::set_default(subscriber);

        let e = envelope();
        let body = eventbridge_body("VehicleEventRecorded", serde_json::to_value(&e).unwrap());
        handle_message(&Picky::default(), "m1", Some(&body))
            .await
            .unwrap();

        assert_eq!(*capture.0.lock().unwrap(), vec![e.traceparent.unwrap()]);
    }

    #[tokio::test]
    async fn a_panicking_consumer_fails_only_its_message() {
        let body = serde_json::to_string(&envelope()).unwrap();
        let outcome = handle_message(&Picky::panicking(), "m1", Some(&body)).await;
        assert!(matches!(outcome, Err(HandleError::Failed(e)) if e.to_string().contains("boom")));
    }
}
