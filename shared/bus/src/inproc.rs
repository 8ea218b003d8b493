//! The in-process bus (embedded mode): routes by `contracts/routes.json`, delivers asynchronously — each
//! consumer's share of a published batch as one delivery batch ([`apply_chains`]) —, retries a failing
//! envelope alone with exponential backoff and then moves it to that consumer's dead-letter table.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, Semaphore};
use tracing::{Instrument, info_span, warn};
use vwc_contracts::{Envelope, Routes};

use crate::{Bus, BusError, Consumer, DeadLetterStore, HandleError, apply_chains};
use vwc_store::NewDeadLetter;

/// How often and how patiently a delivery is retried before it is dead-lettered.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// Delay before attempt `attempt + 1` (attempt counts from 1): base · 2^(attempt-1), capped, with up to
    /// 25 % jitter so retries of many messages spread out.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let capped = vwc_clock::Backoff {
            base: self.base_delay,
            cap: self.max_delay,
        }
        .delay(attempt.saturating_sub(1));
        let jitter = capped.as_micros() as u64 / 4;
        let jitter = if jitter == 0 {
            0
        } else {
            (uuid::Uuid::new_v4().as_u128() as u64) % jitter
        };
        capped + Duration::from_micros(jitter)
    }
}

struct Slot {
    consumer: Arc<dyn Consumer>,
    dead_letters: Arc<dyn DeadLetterStore>,
    permits: Arc<Semaphore>,
}

struct Inner {
    routes: Routes,
    slots: RwLock<HashMap<String, Arc<Slot>>>,
    available: AtomicBool,
    policy: RetryPolicy,
    in_flight: AtomicUsize,
    idle: Notify,
    /// Consumers named in routes.json but not registered here, warned about once each.
    warned: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// Cheap to clone; every clone is the same bus.
#[derive(Clone)]
pub struct InProcessBus {
    inner: Arc<Inner>,
}

/// Delivery batches (one outbox batch's share each) applied at once per consumer.
const CONCURRENCY_PER_CONSUMER: usize = 32;

impl InProcessBus {
    pub fn new(routes: Routes, policy: RetryPolicy) -> InProcessBus {
        InProcessBus {
            inner: Arc::new(Inner {
                routes,
                slots: RwLock::new(HashMap::new()),
                available: AtomicBool::new(true),
                policy,
                in_flight: AtomicUsize::new(0),
                idle: Notify::new(),
                warned: Default::default(),
            }),
        }
    }

    /// Registers the consumer for the service named `consumer.name()` in the routing table.
    pub fn register(&self, consumer: Arc<dyn Consumer>, dead_letters: Arc<dyn DeadLetterStore>) {
        let name = consumer.name().to_string();
        let unhandled: Vec<_> = (self.inner.routes.consumers.get(&name))
            .into_iter()
            .flatten()
            .filter(|t| !consumer.consumes().contains(t))
            .collect();
        if !unhandled.is_empty() {
            warn!(consumer = %name, ?unhandled,
                "routes.json routes event types this consumer does not handle; they will be dead-lettered");
        }
        let slot = Arc::new(Slot {
            consumer,
            dead_letters,
            permits: Arc::new(Semaphore::new(CONCURRENCY_PER_CONSUMER)),
        });
        self.inner.slots.write().unwrap().insert(name, slot);
    }

    /// Simulates (or ends) an outage: while unavailable, `publish` fails and outbox rows stay pending.
    pub fn set_available(&self, available: bool) {
        self.inner.available.store(available, Ordering::SeqCst);
    }

    pub fn is_available(&self) -> bool {
        self.inner.available.load(Ordering::SeqCst)
    }

    /// Waits until no delivery is in flight (used on shutdown and by tests).
    pub async fn drain(&self) {
        loop {
            let notified = self.inner.idle.notified();
            if self.inner.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Delivers one envelope to one named consumer once, without retries; used by `vwc dlq replay`.
    pub async fn deliver_now(&self, consumer: &str, envelope: &Envelope) -> Result<(), String> {
        let slot = self
            .inner
            .slots
            .read()
            .unwrap()
            .get(consumer)
            .cloned()
            .ok_or_else(|| format!("no consumer named {consumer:?} is registered"))?;
        slot.consumer
            .handle(envelope)
            .await
            .map_err(|e| e.to_string())
    }

    /// Delivers the envelopes of `published` at `share` (one outbox batch's share routed to this consumer)
    /// as one delivery batch: applied together ([`apply_chains`]: one writer transaction on SQLite), then
    /// each one that failed is retried alone with backoff and dead-lettered alone. Resolves once each is
    /// applied or dead-lettered. Every consumer's task reads the same published envelopes: none is copied.
    fn spawn_batch(
        &self,
        slot: Arc<Slot>,
        published: Arc<[Envelope]>,
        share: Vec<usize>,
    ) -> tokio::task::JoinHandle<Vec<Result<(), String>>> {
        let inner = self.inner.clone();
        inner.in_flight.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let _permit = slot.permits.clone().acquire_owned().await;
            let envelopes: Vec<&Envelope> = share.iter().map(|&i| &published[i]).collect();
            let chain_of: for<'x, 'y> fn(&'x &'y Envelope) -> Option<&'x str> =
                if slot.consumer.one_vehicle_at_a_time() {
                    |envelope| vehicle_of(envelope)
                } else {
                    |_| None
                };
            let handle_chain = |chain| handle_chain(&slot, chain);
            let first = apply_chains(&envelopes, chain_of, handle_chain, |envelope| {
                let envelope: &Envelope = envelope;
                slot.consumer
                    .handle(envelope)
                    .instrument(delivery_span(&slot, envelope))
            })
            .await;
            // Each handling counts as an attempt: an event that failed in a batch of several was tried twice.
            let tried = if envelopes.len() > 1 { 2 } else { 1 };
            let outcomes = futures::future::join_all(envelopes.iter().zip(first).map(
                |(envelope, outcome)| async {
                    match outcome {
                        Ok(()) => Ok(()),
                        Err(e) => {
                            retry_then_dead_letter(&slot, envelope, inner.policy, tried, e)
                                .instrument(delivery_span(&slot, envelope))
                                .await
                        }
                    }
                },
            ))
            .await;
            if inner.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
                inner.idle.notify_waiters();
            }
            outcomes
        })
    }
}

/// Hands a chain of one vehicle's envelopes to the consumer: one alone to `handle`, in its delivery
/// span; more to `handle_chain`, in the first one's.
async fn handle_chain(slot: &Slot, chain: Vec<&&Envelope>) -> Vec<Result<(), HandleError>> {
    let chain: Vec<&Envelope> = chain.into_iter().copied().collect();
    match chain.as_slice() {
        [one] => {
            let span = delivery_span(slot, one);
            vec![slot.consumer.handle(one).instrument(span).await]
        }
        [first, ..] => {
            let span = delivery_span(slot, first);
            slot.consumer.handle_chain(&chain).instrument(span).await
        }
        [] => Vec::new(),
    }
}

/// The span one envelope's delivery runs in: a child of the span that published it (the bus hop); the
/// consumer's span is its child.
fn delivery_span(slot: &Slot, envelope: &Envelope) -> tracing::Span {
    let span = info_span!(
        "deliver",
        consumer = slot.consumer.name(),
        event_id = %envelope.id,
        event_type = %envelope.event_type(),
    );
    vwc_telemetry::continue_trace(&span, envelope.traceparent.as_deref());
    span
}

/// After `tried` attempts, the last of which failed with `error`: retries with backoff until the policy's
/// attempts are used up, then stores the envelope as a dead letter. `Err` only when even the dead letter
/// could not be stored: then the envelope must be published again.
async fn retry_then_dead_letter(
    slot: &Slot,
    envelope: &Envelope,
    policy: RetryPolicy,
    tried: u32,
    error: HandleError,
) -> Result<(), String> {
    let mut attempt = tried;
    let mut error = error;
    loop {
        if attempt >= policy.max_attempts {
            // The consumer's store cannot take writes (a full disk): the event is sound, and a dead letter
            // would keep it from the projection after the disk has room again, until someone replays it.
            // Not delivered instead: the outbox sends it again.
            if let HandleError::Failed(cause) = &error
                && let Some(why) =
                    vwc_store::unavailable_in(&**cause as &(dyn std::error::Error + 'static))
            {
                tracing::error!(attempt, error = %error, "delivery failed: {why}; not dead-lettered, the outbox will resend");
                return Err(format!("the consumer's store cannot take writes: {why}"));
            }
            tracing::error!(attempt, error = %error, "delivery failed for good; dead-lettering");
            let error = error.to_string();
            let letter = NewDeadLetter {
                consumer: slot.consumer.name(),
                envelope,
                error: &error,
                attempts: attempt,
            };
            let stored = slot.dead_letters.put_dead_letter(letter).await;
            return stored.map_err(|store_err| {
                tracing::error!(error = %store_err, "could not store a dead letter; the outbox will resend");
                format!("dead letter not stored: {store_err}")
            });
        }
        let delay = policy.backoff(attempt);
        warn!(attempt, error = %error, ?delay, "delivery failed; retrying");
        tokio::time::sleep(delay).await;
        attempt += 1;
        match slot.consumer.handle(envelope).await {
            Ok(()) => return Ok(()),
            Err(e) => error = e,
        }
    }
}

#[async_trait]
impl Bus for InProcessBus {
    async fn ready(&self) -> Result<(), String> {
        if self.is_available() {
            Ok(())
        } else {
            Err("the in-process bus is paused".into())
        }
    }

    async fn publish(&self, envelopes: &[Envelope]) -> Result<(), BusError> {
        self.publish_owned(envelopes.to_vec()).await
    }

    async fn publish_owned(&self, envelopes: Vec<Envelope>) -> Result<(), BusError> {
        if !self.inner.available.load(Ordering::SeqCst) {
            return Err(BusError::Unavailable("in-process bus is paused".into()));
        }
        // Accepted means handled: applied or durably dead-lettered by every consumer. Only then may the
        // relay mark the outbox rows sent, so a crash mid-delivery republishes instead of losing events.
        // Each consumer gets its share of the batch as one delivery batch, in the order published: the
        // positions of its envelopes in the batch, which every consumer's task shares.
        let published: Arc<[Envelope]> = envelopes.into();
        let mut batches: Vec<(Arc<Slot>, Vec<usize>)> = Vec::new();
        for (i, envelope) in published.iter().enumerate() {
            for name in self.inner.routes.consumers_of(envelope.event_type()) {
                let slot = self.inner.slots.read().unwrap().get(name).cloned();
                match slot {
                    Some(slot) => match batches.iter_mut().find(|(s, _)| Arc::ptr_eq(s, &slot)) {
                        Some((_, batch)) => batch.push(i),
                        None => batches.push((slot, vec![i])),
                    },
                    None => {
                        if self.inner.warned.lock().unwrap().insert(name.to_string()) {
                            warn!(
                                consumer = name,
                                "routes.json names a consumer that is not running here"
                            );
                        }
                    }
                }
            }
        }
        let deliveries: Vec<_> = batches
            .into_iter()
            .map(|(slot, share)| self.spawn_batch(slot, published.clone(), share))
            .collect();
        let mut total = 0;
        let mut failures = Vec::new();
        for d in deliveries {
            match d.await {
                Ok(outcomes) => {
                    total += outcomes.len();
                    failures.extend(outcomes.into_iter().filter_map(Result::err));
                }
                Err(join) => {
                    total += 1;
                    failures.push(join.to_string());
                }
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(BusError::Rejected {
                failed: failures.len(),
                total,
                reason: failures.join("; "),
            })
        }
    }
}

/// The key of an envelope's chain in a delivery batch: events of one vehicle are applied in order.
fn vehicle_of(envelope: &Envelope) -> Option<&str> {
    envelope.vehicle_id.as_ref().map(|v| v.as_str())
}
