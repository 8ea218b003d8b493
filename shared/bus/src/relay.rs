//! The outbox relay: publishes pending outbox rows to the bus and marks them sent. A bus outage leaves them
//! pending; they go out when the bus is back. At worst a row is published twice (the inbox absorbs that).
//! A row the bus would refuse however often it is sent (over the size limit) moves to the dead letters, so
//! it never holds back the rows behind it. Relays of several processes sharing one store (Lambda instances,
//! `vwc up --store mongodb` beside each other) claim the rows they publish (`Outbox::claim`), so each row goes
//! out through one of them.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, error, warn};
use vwc_contracts::Envelope;
use vwc_store::{NewDeadLetter, Outbox, OutboxId};

use crate::Bus;

const BATCH: usize = 200;
/// Rows a budgeted flush publishes and marks at a time ([`OutboxRelay::flush_until`]): one EventBridge call
/// (`PutEvents` takes 10 entries). With five calls a batch, a bus slow enough for the budget to cut the
/// batch's flush (EventBridge throttled: its retries wait 200 + 400 + 800 ms) marked nothing however many
/// calls had gone out, and every invocation published the same rows again.
pub const FLUSH_CHUNK: usize = 10;
/// Batches published at once by a running relay.
pub const MAX_IN_FLIGHT: usize = 4;
/// How long a relay's claim on the rows it publishes keeps other processes' relays off them
/// ([`Outbox::claim`]): well past a batch's publish (a Lambda's flush is cut within seconds), short enough
/// that the rows of a relay that died go out soon after.
pub const LEASE: Duration = Duration::from_secs(30);

pub struct OutboxRelay {
    name: String,
    outbox: Arc<dyn Outbox>,
    bus: Arc<dyn Bus>,
    poll_every: Duration,
    /// Rows moved to the dead letters because the bus refuses them for good.
    dead_lettered: AtomicU64,
    /// Rows of a budgeted flush cut while the bus call publishing them was under way (the bus may well have
    /// taken them), with when their claim ends: the next flushes of this relay pass over them until then,
    /// instead of publishing them again at once — its claims do not keep this relay off its own rows, so a
    /// bus slower than the cut had a warm Lambda instance publish the same rows on every invocation (a probe:
    /// one event six times in 36 s). When the claim ends, whoever flushes next sends them (once more at most
    /// a claim's length: at least once, never lost).
    in_doubt: std::sync::Mutex<std::collections::HashMap<String, Instant>>,
}

/// The `consumer` of a dead letter the relay wrote: `<service>-outbox`.
const DEAD_LETTER_SUFFIX: &str = "-outbox";

/// Whether a dead letter is one the relay wrote (an event the bus refused for good): those are not
/// delivered to a consumer on replay.
pub fn is_relay_dead_letter(consumer: &str) -> bool {
    consumer.ends_with(DEAD_LETTER_SUFFIX)
}

/// Sent rows are kept this long (audit, replays), then pruned.
const KEEP_SENT: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// How often the relay prunes sent rows.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

impl OutboxRelay {
    pub fn new(name: &str, outbox: Arc<dyn Outbox>, bus: Arc<dyn Bus>) -> OutboxRelay {
        OutboxRelay {
            name: name.to_string(),
            outbox,
            bus,
            poll_every: Duration::from_millis(500),
            dead_lettered: AtomicU64::new(0),
            in_doubt: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// The rows in doubt whose claim has not ended yet (those that have are forgotten).
    fn still_in_doubt(&self) -> HashSet<String> {
        let mut in_doubt = self.in_doubt.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        in_doubt.retain(|_, until| *until > now);
        in_doubt.keys().cloned().collect()
    }

    /// How many rows this relay has moved to the dead letters since it started.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }

    /// Moves the rows the bus refuses for good to the dead letters and returns the others, in order.
    /// Fails when a refused row could not be moved (it stays pending, and is not published).
    async fn screen(
        &self,
        rows: Vec<(OutboxId, Envelope)>,
    ) -> Result<Vec<(OutboxId, Envelope)>, String> {
        let mut publishable = Vec::with_capacity(rows.len());
        for (id, envelope) in rows {
            let Some(reason) = self.bus.refuses_for_good(&envelope) else {
                publishable.push((id, envelope));
                continue;
            };
            let consumer = format!("{}{DEAD_LETTER_SUFFIX}", self.name);
            let letter = NewDeadLetter {
                consumer: &consumer,
                envelope: &envelope,
                error: &reason,
                attempts: 1,
            };
            self.outbox
                .dead_letter(&id, letter)
                .await
                .map_err(|e| format!("dead-lettering event {}: {e}", envelope.id))?;
            let total = self.dead_lettered.fetch_add(1, Ordering::Relaxed) + 1;
            error!(
                relay = %self.name,
                event_id = %envelope.id,
                event_type = envelope.event_type().as_str(),
                org = %envelope.org_id,
                %reason,
                dead_lettered_total = total,
                "the bus refuses this event for good; moved to the dead letters (vwc dlq list)"
            );
        }
        Ok(publishable)
    }

    pub fn poll_every(mut self, every: Duration) -> OutboxRelay {
        self.poll_every = every;
        self
    }

    /// Deletes rows sent longer ago than the retention.
    pub async fn prune(&self) -> Result<u64, String> {
        let before = vwc_clock::now() - KEEP_SENT;
        self.outbox
            .prune_sent(before)
            .await
            .map_err(|e| e.to_string())
    }

    /// Gives back the claim on rows the bus refused, so another process's relay need not wait out the
    /// lease (this one tries again after its pause either way).
    async fn release(&self, ids: &[OutboxId]) {
        if let Err(e) = self.outbox.release(ids).await {
            debug!(relay = %self.name, error = %e, "releasing the claim on unsent rows failed; it ends with its lease");
        }
    }

    /// The outbox this relay publishes (its service's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Publishes until the outbox is empty or the bus refuses. Returns how many rows were sent.
    pub async fn flush(&self) -> Result<usize, String> {
        self.flush_in(BATCH, None).await
    }

    /// [`flush`](Self::flush) that stops starting batches at `deadline`, with batches of [`FLUSH_CHUNK`] rows
    /// marked sent as soon as the bus accepts each: a function flushing within a time budget (a Lambda)
    /// makes progress on a backlog however slow the bus. Cut in the middle of one 200-row batch, a flush
    /// marked nothing, and every later invocation published the same rows again.
    pub async fn flush_until(&self, deadline: tokio::time::Instant) -> Result<usize, String> {
        self.flush_in(FLUSH_CHUNK, Some(deadline)).await
    }

    async fn flush_in(
        &self,
        rows: usize,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<usize, String> {
        let mut sent = 0;
        loop {
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                return Ok(sent);
            }
            let batch = self
                .outbox
                .claim(rows, &self.still_in_doubt(), LEASE)
                .await
                .map_err(|e| e.to_string())?;
            if batch.is_empty() {
                return Ok(sent);
            }
            let batch = self.screen(batch).await?;
            if batch.is_empty() {
                continue;
            }
            let (ids, envelopes): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            // In doubt from here until the bus has answered: a flush cut inside the call leaves them so.
            let until = Instant::now() + LEASE;
            (self.in_doubt.lock().unwrap_or_else(|e| e.into_inner()))
                .extend(ids.iter().map(|id| (id.0.clone(), until)));
            let published = self.bus.publish_owned(envelopes).await;
            if published.is_err() {
                self.release(&ids).await;
            }
            let marked = match published {
                Ok(()) => self.outbox.mark_sent(&ids).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            let mut in_doubt = self.in_doubt.lock().unwrap_or_else(|e| e.into_inner());
            for id in &ids {
                in_doubt.remove(&id.0);
            }
            drop(in_doubt);
            marked?;
            sent += ids.len();
        }
    }

    /// Runs until `shutdown` turns true, then flushes once more. Up to [`MAX_IN_FLIGHT`] batches are
    /// published at once, so one slow consumer (whose handling the in-process bus waits for before a batch
    /// counts as accepted) does not hold back the next batch for everyone else; rows are marked sent as
    /// their batch is accepted.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let wakeup = self.outbox.wakeup();
        let mut last_prune: Option<Instant> = None;
        let mut in_flight: JoinSet<(Vec<OutboxId>, Result<(), String>)> = JoinSet::new();
        let mut in_flight_ids: HashSet<String> = HashSet::new();
        let mut paused_until: Option<Instant> = None;
        loop {
            if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                last_prune = Some(Instant::now());
                match self.prune().await {
                    Ok(0) => {}
                    Ok(n) => debug!(relay = %self.name, pruned = n, "sent outbox rows pruned"),
                    Err(e) => warn!(relay = %self.name, error = %e, "pruning the outbox failed"),
                }
            }
            if paused_until.is_none_or(|t| Instant::now() >= t) {
                paused_until = None;
                while in_flight.len() < MAX_IN_FLIGHT {
                    let fresh = match self.outbox.claim(BATCH, &in_flight_ids, LEASE).await {
                        Ok(rows) => rows,
                        Err(e) => {
                            warn!(relay = %self.name, error = %e, "reading the outbox failed");
                            break;
                        }
                    };
                    if fresh.is_empty() {
                        break;
                    }
                    let read = fresh.len();
                    let fresh = match self.screen(fresh).await {
                        Ok(fresh) => fresh,
                        Err(e) => {
                            warn!(relay = %self.name, error = %e, "moving a refused row to the dead letters failed; will retry");
                            paused_until = Some(Instant::now() + self.poll_every);
                            break;
                        }
                    };
                    if fresh.is_empty() {
                        // Every row read was dead-lettered: read on.
                        debug_assert!(read > 0);
                        continue;
                    }
                    in_flight_ids.extend(fresh.iter().map(|(id, _)| id.0.clone()));
                    let (ids, envelopes): (Vec<_>, Vec<_>) = fresh.into_iter().unzip();
                    let bus = self.bus.clone();
                    in_flight.spawn(async move {
                        let accepted = bus
                            .publish_owned(envelopes)
                            .await
                            .map_err(|e| e.to_string());
                        (ids, accepted)
                    });
                }
            }
            tokio::select! {
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    match done {
                        Ok((ids, Ok(()))) => {
                            if let Err(e) = self.outbox.mark_sent(&ids).await {
                                warn!(relay = %self.name, error = %e, "marking rows sent failed; they will be sent again");
                                // The database cannot write (a full disk): wait a poll before publishing
                                // the same rows again, instead of re-sending them in a tight loop.
                                paused_until = Some(Instant::now() + self.poll_every);
                            }
                            for id in &ids {
                                in_flight_ids.remove(&id.0);
                            }
                        }
                        Ok((ids, Err(e))) => {
                            warn!(relay = %self.name, error = %e, "the bus refused a batch; will retry");
                            self.release(&ids).await;
                            for id in &ids {
                                in_flight_ids.remove(&id.0);
                            }
                            paused_until = Some(Instant::now() + self.poll_every);
                        }
                        Err(join) => {
                            warn!(relay = %self.name, error = %join, "a publishing task failed");
                            if in_flight.is_empty() {
                                in_flight_ids.clear();
                            }
                            paused_until = Some(Instant::now() + self.poll_every);
                        }
                    }
                }
                _ = wakeup.notified() => {}
                _ = tokio::time::sleep(self.poll_every) => {}
                _ = shutdown.changed() => {
                    while let Some(done) = in_flight.join_next().await {
                        if let Ok((ids, Ok(()))) = done
                            && let Err(e) = self.outbox.mark_sent(&ids).await
                        {
                            warn!(relay = %self.name, error = %e, "marking rows sent failed");
                        }
                    }
                    if let Err(e) = self.flush().await {
                        warn!(relay = %self.name, error = %e, "final outbox flush failed; rows stay pending");
                    }
                    return;
                }
            }
        }
    }
}
