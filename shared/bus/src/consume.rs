//! The span a consumer applies an envelope in, set up once for every consumer: it continues the trace
//! the envelope carries, and hands the consumer the `traceparent` of what it publishes in turn.

use std::future::Future;

use tracing::Instrument;
use vwc_contracts::Envelope;
use vwc_telemetry::TraceParent;

use crate::HandleError;

/// Runs `apply` in the span `<consumer>.apply` (`-` read as `_`: `maintenance_scheduler.apply`), a child
/// of the envelope's `traceparent` when it has one. `apply` gets the `traceparent` for the envelopes this
/// hop publishes: a child of the incoming one, so the trace goes on through the next consumer.
pub async fn in_consumer_span<F, Fut>(
    consumer: &str,
    envelope: &Envelope,
    apply: F,
) -> Result<(), HandleError>
where
    F: FnOnce(Option<String>) -> Fut,
    Fut: Future<Output = Result<(), HandleError>>,
{
    let (span, outgoing) = consumer_span(consumer, envelope);
    apply(outgoing).instrument(span).await
}

/// The span `<consumer>.apply` of `envelope` (see [`in_consumer_span`]), not entered, and the
/// `traceparent` for what the consumer publishes in answer.
pub fn consumer_span(consumer: &str, envelope: &Envelope) -> (tracing::Span, Option<String>) {
    let trace = envelope.traceparent.as_deref().and_then(TraceParent::parse);
    // A span's name is fixed where it is declared; `otel.name` names the exported span per consumer.
    let span = tracing::info_span!("apply",
        otel.name = %format_args!("{}.apply", Underscored(consumer)),
        consumer,
        event_id = %envelope.id,
        event_type = %envelope.event_type(),
        trace_id = trace.as_ref().map(|t| t.trace_id.as_str()).unwrap_or(""));
    if let Some(t) = &trace {
        vwc_telemetry::set_remote_parent(&span, t);
    }
    (span, trace.map(|t| t.child().to_string()))
}

/// A service name with `-` written as `_`, formatted in place (a span per envelope need not allocate it).
struct Underscored<'a>(&'a str);

impl std::fmt::Display for Underscored<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = self.0.split('-');
        f.write_str(parts.next().unwrap_or_default())?;
        for part in parts {
            f.write_str("_")?;
            f.write_str(part)?;
        }
        Ok(())
    }
}

/// Applies one consumer's delivery batch — the envelopes of one outbox batch routed to it, or one batch of
/// SQS messages — and answers one outcome per item, in order. The items are applied concurrently inside
/// [`vwc_store::sqlite::batched`], so the SQLite writes they make go to the writer as one transaction (per
/// database and round) instead of one each. Items `chain_of` gives the same key (the same vehicle, for a
/// consumer that applies one vehicle at a time: [`crate::Consumer::one_vehicle_at_a_time`]) form one
/// chain, handed in batch order to `apply_chain` (which answers one outcome per item of it, in order):
/// concurrently they would only queue on the consumer's per-vehicle lock, and a future waiting on a lock
/// holds a round open until the batch's flush timer fires — a 2,000-row import into one vehicle took
/// twice as long that way (docs/bench.md); the ledger consumers apply a chain with one read of the
/// vehicle and one commit batch. Items without a key are each a chain of one. That transaction is all or
/// nothing; so every item that failed in a batch of several is applied **once more on its own** by
/// `apply`: an item that failed only because another of its batch did is applied now, and one that fails
/// again answers its own error (the bus retries it or dead-letters it alone; SQS reports it as the
/// batch's failure). The outcome of an item is always that of its own last try; a failed item of a batch
/// of several was tried twice.
pub async fn apply_chains<'a, T, K, C, CFut, F, Fut>(
    items: &'a [T],
    chain_of: K,
    apply_chain: C,
    apply: F,
) -> Vec<Result<(), HandleError>>
where
    K: Fn(&'a T) -> Option<&'a str>,
    C: Fn(Vec<&'a T>) -> CFut,
    CFut: Future<Output = Vec<Result<(), HandleError>>>,
    F: Fn(&'a T) -> Fut,
    Fut: Future<Output = Result<(), HandleError>>,
{
    let mut chains: Vec<Vec<usize>> = Vec::new();
    let mut by_key: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, item) in items.iter().enumerate() {
        match chain_of(item) {
            Some(key) => {
                let chain = *by_key.entry(key).or_insert_with(|| {
                    chains.push(Vec::new());
                    chains.len() - 1
                });
                chains[chain].push(i);
            }
            None => chains.push(vec![i]),
        }
    }
    let apply_chain = &apply_chain;
    let applied = vwc_store::sqlite::batched(chains.iter().map(|chain| async move {
        let mut outcomes = apply_chain(chain.iter().map(|&i| &items[i]).collect()).await;
        outcomes.resize_with(chain.len(), || {
            Err(HandleError::malformed(
                "the consumer answered no outcome for it",
            ))
        });
        chain.iter().copied().zip(outcomes).collect::<Vec<_>>()
    }))
    .await;
    let mut applied: Vec<(usize, Result<(), HandleError>)> =
        applied.into_iter().flatten().collect();
    applied.sort_unstable_by_key(|(i, _)| *i);
    let mut outcomes: Vec<Result<(), HandleError>> = applied.into_iter().map(|(_, o)| o).collect();
    if items.len() > 1 {
        let failed: Vec<usize> = (outcomes.iter().enumerate())
            .filter(|(_, o)| o.is_err())
            .map(|(i, _)| i)
            .collect();
        if !failed.is_empty() {
            tracing::debug!(
                failed = failed.len(),
                of = items.len(),
                "a delivery batch failed in part; applying its failed items one by one"
            );
            let again = futures::future::join_all(failed.iter().map(|&i| apply(&items[i]))).await;
            for (i, outcome) in failed.into_iter().zip(again) {
                outcomes[i] = outcome;
            }
        }
    }
    outcomes
}

/// [`apply_chains`] where a chain's items are applied by `apply` one after another.
pub async fn apply_batch<'a, T, K, F, Fut>(
    items: &'a [T],
    chain_of: K,
    apply: F,
) -> Vec<Result<(), HandleError>>
where
    K: Fn(&'a T) -> Option<&'a str>,
    F: Fn(&'a T) -> Fut,
    Fut: Future<Output = Result<(), HandleError>>,
{
    let apply = &apply;
    let one_by_one = |chain: Vec<&'a T>| async move {
        let mut outcomes = Vec::with_capacity(chain.len());
        for item in chain {
            outcomes.push(apply(item).await);
        }
        outcomes
    };
    apply_chains(items, chain_of, one_by_one, apply).await
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use vwc_contracts::EventType;

    /// A recorded-event envelope of `org_1`, for the crate's tests.
    pub(crate) fn envelope(traceparent: Option<&str>) -> Envelope {
        Envelope::new(
            "vwc.ingestion",
            "org_1",
            Some("veh_1"),
            traceparent.map(str::to_string),
            vwc_contracts::examples::event(EventType::VehicleEventRecorded),
        )
    }

    /// What `apply` was handed as the outgoing traceparent.
    async fn outgoing_of(envelope: &Envelope) -> Option<String> {
        let mut seen = None;
        in_consumer_span("maintenance-scheduler", envelope, |outgoing| {
            seen = outgoing;
            async { Ok(()) }
        })
        .await
        .unwrap();
        seen
    }

    #[tokio::test]
    async fn what_a_hop_publishes_continues_the_incoming_trace_under_a_new_parent() {
        let incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let outgoing = outgoing_of(&envelope(Some(incoming))).await.unwrap();
        let (theirs, ours) = (
            TraceParent::parse(incoming).unwrap(),
            TraceParent::parse(&outgoing).unwrap(),
        );
        assert_eq!(ours.trace_id, theirs.trace_id);
        assert_ne!(ours.parent_id, theirs.parent_id);
        assert_eq!(ours.flags, theirs.flags);
    }

    #[tokio::test]
    async fn an_envelope_without_a_valid_trace_hands_on_none() {
        assert_eq!(outgoing_of(&envelope(None)).await, None);
        assert_eq!(
            outgoing_of(&envelope(Some("not-a-traceparent"))).await,
            None
        );
    }

    #[test]
    fn a_service_name_is_written_with_underscores_for_its_span() {
        for (name, written) in [
            ("maintenance-scheduler", "maintenance_scheduler"),
            ("edge", "edge"),
            ("chat-historian", "chat_historian"),
            ("-a--b-", "_a__b_"),
            ("", ""),
        ] {
            assert_eq!(Underscored(name).to_string(), written);
            assert_eq!(Underscored(name).to_string(), name.replace('-', "_"));
        }
    }

    #[tokio::test]
    async fn the_consumers_failure_is_what_the_span_returns() {
        let failed = in_consumer_span("edge", &envelope(None), |_| async {
            Err(HandleError::malformed("bad"))
        })
        .await;
        assert!(matches!(failed, Err(HandleError::Malformed(m)) if m == "bad"));
    }

    /// Items of one key are applied one after another in batch order; items of other keys (and items
    /// without one) run beside them. Each apply yields to the others half-way, so overlapping ones show.
    #[tokio::test]
    async fn items_of_one_vehicle_are_applied_in_order_and_others_beside_them() {
        use std::sync::Mutex;
        let items = [("a", 1), ("b", 1), ("a", 2), ("", 1), ("a", 3), ("b", 2)];
        let running: Mutex<Vec<(&str, i32)>> = Mutex::new(Vec::new());
        let log: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let most_at_once = Mutex::new(0usize);
        let outcomes = apply_batch(
            &items,
            |(key, _)| (!key.is_empty()).then_some(*key),
            |&(key, n)| {
                let (running, log, most_at_once) = (&running, &log, &most_at_once);
                async move {
                    {
                        let mut now = running.lock().unwrap();
                        assert!(
                            key.is_empty() || !now.iter().any(|(k, _)| *k == key),
                            "{key}{n} overlapped another item of {key}: {now:?}"
                        );
                        now.push((key, n));
                        let mut most = most_at_once.lock().unwrap();
                        *most = (*most).max(now.len());
                    }
                    tokio::task::yield_now().await;
                    running.lock().unwrap().retain(|item| *item != (key, n));
                    log.lock().unwrap().push(format!("{key}{n}"));
                    Ok(())
                }
            },
        )
        .await;
        assert!(outcomes.iter().all(Result::is_ok));
        let log = log.into_inner().unwrap();
        let of = |k: &str| -> Vec<&String> { log.iter().filter(|e| e.starts_with(k)).collect() };
        assert_eq!(of("a"), ["a1", "a2", "a3"]);
        assert_eq!(of("b"), ["b1", "b2"]);
        assert_eq!(log.len(), items.len());
        assert_eq!(
            *most_at_once.lock().unwrap(),
            3,
            "a, b and the keyless item at once"
        );
    }
}
