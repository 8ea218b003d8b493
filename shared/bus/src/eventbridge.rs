//! The EventBridge publisher: envelopes go to the bus with `PutEvents` (Source = `vwc.<service>`, DetailType =
//! the event type, Detail = the envelope JSON), at most 10 a call; entries the bus refuses are retried, never
//! dropped silently.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, PutEventsResultEntry};
use tracing::{debug, warn};
use vwc_contracts::Envelope;

use crate::inproc::RetryPolicy;
use crate::{Bus, BusError};

/// EventBridge accepts at most this many entries in one `PutEvents` call.
pub const MAX_ENTRIES_PER_CALL: usize = 10;
/// …and at most this many bytes (as EventBridge counts them, see [`entry_size`]) in one call.
pub const MAX_BYTES_PER_CALL: usize = 256 * 1024;

/// Publishes envelopes to one EventBridge bus.
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
    retry: RetryPolicy,
}

impl EventBridgeBus {
    /// Refused entries are tried up to 4 times in all, 200 ms · 2ⁿ apart (capped at 5 s). Whole-call failures
    /// (network, throttling of the call) are retried by the SDK's own retry policy.
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: String) -> EventBridgeBus {
        EventBridgeBus {
            client,
            bus_name,
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(200),
                max_delay: Duration::from_secs(5),
            },
        }
    }

    /// How often (in all) and how patiently refused entries are retried.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> EventBridgeBus {
        self.retry = retry;
        self
    }

    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }

    fn entry(&self, envelope: &Envelope) -> Result<PutEventsRequestEntry, BusError> {
        let detail = serde_json::to_string(envelope).map_err(|e| BusError::Rejected {
            failed: 1,
            total: 1,
            reason: format!("envelope {} does not serialise: {e}", envelope.id),
        })?;
        Ok(PutEventsRequestEntry::builder()
            .source(&envelope.source)
            .detail_type(envelope.event_type().as_str())
            .detail(detail)
            .event_bus_name(&self.bus_name)
            .build())
    }

    /// Sends one call's worth of entries, retrying the refused ones. Returns the entries (indices into
    /// `entries`) still refused after the last attempt, with the bus's reason for each.
    async fn put_with_retries(
        &self,
        entries: &[PutEventsRequestEntry],
    ) -> Result<Vec<(usize, String)>, BusError> {
        let mut pending: Vec<usize> = (0..entries.len()).collect();
        let mut attempt = 1;
        loop {
            let batch: Vec<PutEventsRequestEntry> =
                pending.iter().map(|&i| entries[i].clone()).collect();
            let output = self
                .client
                .put_events()
                .set_entries(Some(batch))
                .send()
                .await
                .map_err(|e| {
                    BusError::Unavailable(format!(
                        "PutEvents to bus {:?}: {}",
                        self.bus_name,
                        DisplayErrorContext(&e)
                    ))
                })?;
            let results = output.entries();
            let refused = failed_entries(pending.len(), results);
            if refused.len() != usize::try_from(output.failed_entry_count()).unwrap_or(0) {
                warn!(
                    failed_entry_count = output.failed_entry_count(),
                    refused = refused.len(),
                    "PutEvents reported a FailedEntryCount that does not match its entries"
                );
            }
            if refused.is_empty() {
                return Ok(Vec::new());
            }
            let reasons: Vec<(usize, String)> = refused
                .iter()
                .map(|&k| (pending[k], refusal_reason(results.get(k))))
                .collect();
            if attempt >= self.retry.max_attempts {
                return Ok(reasons);
            }
            let delay = self.retry.backoff(attempt);
            warn!(
                bus = %self.bus_name,
                refused = reasons.len(),
                sent = pending.len(),
                attempt,
                retry_in_ms = delay.as_millis() as u64,
                first_reason = %reasons[0].1,
                "EventBridge refused some entries; retrying only those"
            );
            tokio::time::sleep(delay).await;
            pending = reasons.into_iter().map(|(i, _)| i).collect();
            attempt += 1;
        }
    }
}

#[async_trait]
impl Bus for EventBridgeBus {
    /// The bus exists and answers (`DescribeEventBus`: one small call, no event sent). The SDK's own
    /// retries are bounded by the caller's timeout (`/readyz` waits 2 s for each check).
    async fn ready(&self) -> Result<(), String> {
        self.client
            .describe_event_bus()
            .name(&self.bus_name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "EventBridge bus {:?}: {}",
                    self.bus_name,
                    DisplayErrorContext(&e)
                )
            })
    }

    #[tracing::instrument(name = "eventbridge.publish", skip_all, fields(bus = %self.bus_name, count = envelopes.len()))]
    async fn publish(&self, envelopes: &[Envelope]) -> Result<(), BusError> {
        let total = envelopes.len();
        let entries = envelopes
            .iter()
            .map(|e| self.entry(e))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| match e {
                BusError::Rejected { reason, .. } => BusError::Rejected {
                    failed: 1,
                    total,
                    reason,
                },
                other => other,
            })?;
        let sizes: Vec<usize> = entries.iter().map(request_entry_size).collect();

        let mut refused: Vec<(usize, String)> = Vec::new();
        let mut accepted = 0;
        for call in plan_calls(&sizes) {
            if call.len() == 1 && sizes[call.start] > MAX_BYTES_PER_CALL {
                refused.push((
                    call.start,
                    format!(
                        "entry is {} bytes, over EventBridge's {MAX_BYTES_PER_CALL}-byte limit",
                        sizes[call.start]
                    ),
                ));
                continue;
            }
            let still_refused = self
                .put_with_retries(&entries[call.clone()])
                .await
                .map_err(|e| match e {
                    BusError::Unavailable(reason) => BusError::Unavailable(format!(
                        "{reason} ({accepted} of {total} entries were accepted before the failure)"
                    )),
                    other => other,
                })?;
            accepted += call.len() - still_refused.len();
            refused.extend(still_refused.into_iter().map(|(i, r)| (call.start + i, r)));
        }

        if refused.is_empty() {
            debug!(count = total, "published to EventBridge");
            return Ok(());
        }
        let reason = summarise_refusals(
            refused
                .iter()
                .map(|(i, r)| (envelopes[*i].id.to_string(), r.as_str())),
            self.retry.max_attempts,
        );
        warn!(failed = refused.len(), total, %reason, "EventBridge did not accept every entry");
        Err(BusError::Rejected {
            failed: refused.len(),
            total,
            reason,
        })
    }
}

/// An entry's size as EventBridge counts it against the request limit: the UTF-8 bytes of Source, DetailType
/// and Detail (and 14 for a Time, which this adapter never sets).
pub fn entry_size(source: &str, detail_type: &str, detail: &str) -> usize {
    source.len() + detail_type.len() + detail.len()
}

fn request_entry_size(entry: &PutEventsRequestEntry) -> usize {
    entry_size(
        entry.source().unwrap_or_default(),
        entry.detail_type().unwrap_or_default(),
        entry.detail().unwrap_or_default(),
    ) + entry.resources().iter().map(String::len).sum::<usize>()
}

/// Splits entries (given by their sizes, in order) into consecutive `PutEvents` calls of at most
/// [`MAX_ENTRIES_PER_CALL`] entries and [`MAX_BYTES_PER_CALL`] bytes. An entry too big on its own gets a call
/// to itself (the caller refuses it without sending). Every index appears in exactly one range, in order.
pub fn plan_calls(entry_sizes: &[usize]) -> Vec<Range<usize>> {
    let mut calls = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, &size) in entry_sizes.iter().enumerate() {
        let full = i - start == MAX_ENTRIES_PER_CALL || bytes + size > MAX_BYTES_PER_CALL;
        if i > start && full {
            calls.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < entry_sizes.len() {
        calls.push(start..entry_sizes.len());
    }
    calls
}

/// The positions (0-based, into the `sent` entries of one call) the bus did not accept. PutEvents answers
/// with one result per entry in request order: a result with an error code (or without an event id) is a
/// refusal, and so is a missing result.
pub fn failed_entries(sent: usize, results: &[PutEventsResultEntry]) -> Vec<usize> {
    (0..sent)
        .filter(|&i| match results.get(i) {
            Some(r) => r.error_code().is_some() || r.event_id().is_none(),
            None => true,
        })
        .collect()
}

fn refusal_reason(result: Option<&PutEventsResultEntry>) -> String {
    match result {
        None => "no result for this entry in the PutEvents response".to_string(),
        Some(r) => match (r.error_code(), r.error_message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_string(),
            (None, _) => "no event id in the PutEvents response".to_string(),
        },
    }
}

/// One line naming each distinct reason, how many entries it hit and the first envelope id it hit.
fn summarise_refusals<'a>(
    refusals: impl Iterator<Item = (String, &'a str)>,
    attempts: u32,
) -> String {
    let mut by_reason: BTreeMap<&str, (usize, String)> = BTreeMap::new();
    for (id, reason) in refusals {
        by_reason.entry(reason).or_insert((0, id)).0 += 1;
    }
    let parts: Vec<String> = by_reason
        .into_iter()
        .map(|(reason, (n, first))| format!("{reason} (×{n}, e.g. envelope {first})"))
        .collect();
    format!("after up to {attempts} attempts: {}", parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(id: &str) -> PutEventsResultEntry {
        PutEventsResultEntry::builder().event_id(id).build()
    }

    fn refused(code: &str) -> PutEventsResultEntry {
        PutEventsResultEntry::builder()
            .error_code(code)
            .error_message("try again")
            .build()
    }

    #[test]
    fn twenty_five_small_entries_go_in_calls_of_ten_ten_and_five() {
        assert_eq!(plan_calls(&[100; 25]), vec![0..10, 10..20, 20..25]);
    }

    #[test]
    fn no_entries_need_no_calls() {
        assert!(plan_calls(&[]).is_empty());
    }

    #[test]
    fn exactly_ten_entries_fit_one_call() {
        assert_eq!(plan_calls(&[1; 10]), vec![0..10]);
        assert_eq!(plan_calls(&[1; 11]), vec![0..10, 10..11]);
    }

    #[test]
    fn a_call_is_closed_before_it_would_pass_the_byte_limit() {
        let big = MAX_BYTES_PER_CALL / 2;
        // two halves fill a call exactly; the third starts a new one
        assert_eq!(plan_calls(&[big, big, big]), vec![0..2, 2..3]);
        assert_eq!(plan_calls(&[big, big + 1, 10]), vec![0..1, 1..3]);
    }

    #[test]
    fn an_oversized_entry_gets_a_call_of_its_own() {
        let calls = plan_calls(&[10, MAX_BYTES_PER_CALL + 1, 10]);
        assert_eq!(calls, vec![0..1, 1..2, 2..3]);
    }

    #[test]
    fn every_entry_is_planned_exactly_once_in_order() {
        for n in 0..40 {
            let sizes: Vec<usize> = (0..n).map(|i| (i * 7919) % 90_000).collect();
            let calls = plan_calls(&sizes);
            let flat: Vec<usize> = calls.iter().flat_map(|r| r.clone()).collect();
            assert_eq!(flat, (0..n).collect::<Vec<_>>());
            for call in calls {
                assert!(call.len() <= MAX_ENTRIES_PER_CALL);
                assert!(call.len() == 1 || sizes[call].iter().sum::<usize>() <= MAX_BYTES_PER_CALL);
            }
        }
    }

    #[test]
    fn only_entries_with_an_error_code_are_failed() {
        let results = [
            ok("a"),
            refused("InternalFailure"),
            ok("c"),
            refused("ThrottlingException"),
        ];
        assert_eq!(failed_entries(4, &results), vec![1, 3]);
    }

    #[test]
    fn all_accepted_means_nothing_to_retry() {
        assert!(failed_entries(3, &[ok("a"), ok("b"), ok("c")]).is_empty());
    }

    #[test]
    fn entries_missing_from_the_response_count_as_failed() {
        assert_eq!(failed_entries(3, &[ok("a")]), vec![1, 2]);
    }

    #[test]
    fn a_result_without_event_id_or_error_counts_as_failed() {
        let results = [ok("a"), PutEventsResultEntry::builder().build()];
        assert_eq!(failed_entries(2, &results), vec![1]);
    }

    #[test]
    fn refusals_are_summarised_by_reason() {
        let summary = summarise_refusals(
            [
                ("e1".to_string(), "ThrottlingException: slow down"),
                ("e2".to_string(), "ThrottlingException: slow down"),
                ("e3".to_string(), "MalformedDetail"),
            ]
            .into_iter(),
            4,
        );
        assert_eq!(
            summary,
            "after up to 4 attempts: MalformedDetail (×1, e.g. envelope e3); \
             ThrottlingException: slow down (×2, e.g. envelope e1)"
        );
    }

    #[test]
    fn an_entry_carries_source_type_envelope_and_bus() {
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .build();
        let bus = EventBridgeBus::new(aws_sdk_eventbridge::Client::from_conf(config), "b".into());
        let envelope = Envelope::new(
            "vwc.ingestion",
            "org_1",
            Some("veh_1"),
            None,
            vwc_contracts::examples::event(vwc_contracts::EventType::VehicleRegistered),
        );
        let entry = bus.entry(&envelope).unwrap();
        assert_eq!(entry.source(), Some("vwc.ingestion"));
        assert_eq!(entry.detail_type(), Some("VehicleRegistered"));
        assert_eq!(entry.event_bus_name(), Some("b"));
        let detail: Envelope = serde_json::from_str(entry.detail().unwrap()).unwrap();
        assert_eq!(detail, envelope);
    }
}
