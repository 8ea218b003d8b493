//! The delivery worker: claims due webhook and e-mail deliveries, sends them, and records every attempt
//! with its outcome (delivered, retried later, failed, dead-lettered), publishing `NotificationDelivered`
//! in the same transaction as a success.
//!
//! Channels are read from the organisation's preferences at send time: a channel switched off meanwhile
//! cancels its pending deliveries, a changed URL or address is used from then on, and quiet hours hold a
//! delivery (retries included) until they end without counting an attempt.
//!
//! Fairness: the running worker keeps up to `batch` deliveries in flight and claims more as each one ends
//! (a slow endpoint never holds up a whole round), with at most `per_org` in flight for one organisation
//! and `per_host` for one destination host. An endpoint that accepts and never answers therefore ties up
//! only its own slots; everyone else's deliveries go on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::watch;
use vwc_contracts::OrgId;
use vwc_contracts::maintenance::Channel;
use vwc_store::StoreResult;

use crate::clock::{Clock, SystemClock};
use crate::compose::{delivered_event, email_content, webhook_payload};
use crate::email::{EmailSender, OutgoingEmail};
use crate::outcome::{SendResult, decide};
use crate::retry::RetryPolicy;
use crate::ssrf::Allowlist;
use crate::store::{
    AttemptOutcome, ClaimedDelivery, DeliveryAttempt, DueClaim, Notification, NotificationStore,
    Settlement, StoredPreferences, no_longer_holds,
};
use crate::webhook::{SignedWebhook, WebhookSender};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerOptions {
    /// Deliveries claimed (and sent concurrently) per round.
    pub batch: usize,
    /// How long a claimed delivery stays with this worker; longer than any attempt can take.
    pub lease: Duration,
    /// Longest sleep between rounds when nothing wakes the worker.
    pub poll_every: Duration,
    /// Deliveries of one organisation in flight at once.
    pub per_org: usize,
    /// Webhook deliveries to one host (`host:port`) in flight at once, whatever their organisation.
    pub per_host: usize,
    /// How long a delivery waits when its organisation or host is busy (no attempt is counted).
    pub busy_defer: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            batch: 32,
            lease: Duration::from_secs(120),
            poll_every: Duration::from_secs(1),
            per_org: 4,
            per_host: 8,
            busy_defer: Duration::from_secs(1),
        }
    }
}

/// In-flight counts by key (organisation, host); a [`Slot`] gives its place back when dropped.
#[derive(Default)]
struct InFlight(Arc<Mutex<HashMap<String, usize>>>);

struct Slot {
    counts: Arc<Mutex<HashMap<String, usize>>>,
    key: String,
}

impl InFlight {
    fn try_take(&self, key: &str, limit: usize) -> Option<Slot> {
        let mut counts = self.0.lock().unwrap();
        let n = counts.entry(key.to_string()).or_default();
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(Slot {
            counts: self.0.clone(),
            key: key.to_string(),
        })
    }

    fn at_limit(&self, limit: usize) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, n)| **n >= limit)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap();
        if let Some(n) = counts.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// `host:port` of a webhook URL (the whole text when it does not parse).
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?.to_ascii_lowercase();
            Some(format!("{host}:{}", u.port_or_known_default().unwrap_or(0)))
        })
        .unwrap_or_else(|| url.to_string())
}

/// What one round did (or, added up, several: the delivery Lambda reports its rounds' sum).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundSummary {
    pub claimed: usize,
    pub delivered: usize,
    pub retry_scheduled: usize,
    pub failed: usize,
    pub dead_lettered: usize,
    pub held: usize,
    pub cancelled: usize,
    /// Settlements refused because another worker had taken the delivery over.
    pub lease_lost: usize,
    /// Deliveries whose store access failed this round (they are retried when their lease ends).
    pub errors: usize,
}

impl std::ops::AddAssign<&RoundSummary> for RoundSummary {
    fn add_assign(&mut self, r: &RoundSummary) {
        self.claimed += r.claimed;
        self.delivered += r.delivered;
        self.retry_scheduled += r.retry_scheduled;
        self.failed += r.failed;
        self.dead_lettered += r.dead_lettered;
        self.held += r.held;
        self.cancelled += r.cancelled;
        self.lease_lost += r.lease_lost;
        self.errors += r.errors;
    }
}

pub struct DeliveryWorker {
    store: Arc<dyn NotificationStore>,
    webhook: WebhookSender,
    email: Option<Arc<dyn EmailSender>>,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    options: WorkerOptions,
    orgs: InFlight,
    hosts: InFlight,
    /// Deliveries put back because their organisation or host had its share in flight.
    held_for_share: AtomicU64,
    /// Times the running worker has asked the store for due deliveries.
    claim_passes: AtomicU64,
}

impl DeliveryWorker {
    /// A worker with the wall clock, the default retry policy, and no e-mail sender (e-mail deliveries
    /// then fail for good, saying so).
    pub fn new(store: Arc<dyn NotificationStore>, allow: Allowlist) -> DeliveryWorker {
        DeliveryWorker {
            store,
            webhook: WebhookSender::new(allow),
            email: None,
            clock: Arc::new(SystemClock),
            policy: RetryPolicy::default(),
            options: WorkerOptions::default(),
            orgs: InFlight::default(),
            hosts: InFlight::default(),
            held_for_share: AtomicU64::new(0),
            claim_passes: AtomicU64::new(0),
        }
    }

    /// How many deliveries this worker has put back because their organisation or host already had its
    /// share in flight: the moments the fairness limits did their work.
    pub fn held_for_share(&self) -> u64 {
        self.held_for_share.load(Ordering::Relaxed)
    }

    /// How many times the running worker has claimed due deliveries (a pass can claim none).
    pub fn claim_passes(&self) -> u64 {
        self.claim_passes.load(Ordering::Relaxed)
    }

    pub fn with_email(mut self, sender: Arc<dyn EmailSender>) -> DeliveryWorker {
        self.email = Some(sender);
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> DeliveryWorker {
        self.clock = clock;
        self
    }

    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> DeliveryWorker {
        self.policy = policy;
        self
    }

    /// How long one webhook attempt may take (default 10 s).
    pub fn with_webhook_timeout(mut self, timeout: Duration) -> DeliveryWorker {
        self.webhook = self.webhook.timeout(timeout);
        self
    }

    pub fn with_options(mut self, options: WorkerOptions) -> DeliveryWorker {
        self.options = options;
        self
    }

    /// Sends every delivery due now (up to one batch) and waits for all of them.
    pub async fn run_once(&self) -> StoreResult<RoundSummary> {
        let lease = TimeDelta::from_std(self.options.lease).unwrap_or(TimeDelta::MAX);
        let claimed = self
            .store
            .claim_due_deliveries(DueClaim {
                now: self.clock.now(),
                limit: self.options.batch,
                lease,
                skip_orgs: &[],
            })
            .await?;
        let mut summary = RoundSummary {
            claimed: claimed.len(),
            ..RoundSummary::default()
        };
        let rounds = futures::future::join_all(claimed.into_iter().map(|c| self.deliver(c))).await;
        for result in rounds {
            match result {
                Ok(None) => summary.lease_lost += 1,
                Ok(Some(Settlement::Held { .. })) => summary.held += 1,
                Ok(Some(Settlement::Cancelled { .. })) => summary.cancelled += 1,
                Ok(Some(Settlement::Attempted { attempt, .. })) => match attempt.outcome {
                    AttemptOutcome::Delivered => summary.delivered += 1,
                    AttemptOutcome::RetryScheduled => summary.retry_scheduled += 1,
                    AttemptOutcome::Failed => summary.failed += 1,
                    AttemptOutcome::DeadLettered => summary.dead_lettered += 1,
                },
                Err(e) => {
                    summary.errors += 1;
                    tracing::warn!(error = %e, "delivery round: store access failed");
                }
            }
        }
        Ok(summary)
    }

    /// Runs until `shutdown` turns true, keeping up to `batch` deliveries in flight: claims more at once
    /// when one ends or new deliveries wake it, else when the next one is due, at least every
    /// `poll_every`. Organisations at their `per_org` limit are not claimed for.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let wakeup = self.store.deliveries_wakeup();
        let lease = TimeDelta::from_std(self.options.lease).unwrap_or(TimeDelta::MAX);
        let mut in_flight = tokio::task::JoinSet::new();
        loop {
            if *shutdown.borrow() {
                return;
            }
            let free = self.options.batch.saturating_sub(in_flight.len());
            let mut more_due = false;
            // Read, not claimed, when nothing is due (see `is_due`); a claim changes what is due next.
            let mut next_due = self.store.next_due_at().await;
            if free > 0 && self.is_due(&next_due) {
                let busy: Vec<OrgId> = self
                    .orgs
                    .at_limit(self.options.per_org)
                    .into_iter()
                    .map(OrgId::from)
                    .collect();
                let now = self.clock.now();
                let claimed = self
                    .store
                    .claim_due_deliveries(DueClaim {
                        now,
                        limit: free,
                        lease,
                        skip_orgs: &busy,
                    })
                    .await;
                self.claim_passes.fetch_add(1, Ordering::Relaxed);
                match claimed {
                    Ok(claimed) => {
                        more_due = claimed.len() == free;
                        for c in claimed {
                            let Some(slot) =
                                self.orgs.try_take(&c.delivery.org_id, self.options.per_org)
                            else {
                                // One claim brought more of an organisation than it may have in flight.
                                self.defer(&c).await;
                                continue;
                            };
                            let worker = self.clone();
                            in_flight.spawn(async move {
                                let _slot = slot;
                                if let Err(e) = worker.deliver(c).await {
                                    tracing::warn!(error = %e, "delivery: store access failed");
                                }
                            });
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "delivery worker: claiming due deliveries failed")
                    }
                }
                next_due = self.store.next_due_at().await;
            }
            if more_due && in_flight.len() < self.options.batch {
                continue;
            }
            let wait = self.wait_for(next_due);
            tokio::select! {
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Err(e) = done {
                        tracing::error!(error = %e, "a delivery task failed");
                    }
                }
                _ = tokio::time::sleep(wait) => {}
                _ = wakeup.notified() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Puts a claimed delivery back for `busy_defer`, without counting an attempt.
    async fn defer(&self, claimed: &ClaimedDelivery) {
        self.held_for_share.fetch_add(1, Ordering::Relaxed);
        let until = self.clock.now()
            + TimeDelta::from_std(self.options.busy_defer).unwrap_or(TimeDelta::seconds(1));
        if let Err(e) = self
            .store
            .settle(&claimed.lease, &Settlement::Held { until })
            .await
        {
            tracing::warn!(error = %e, "deferring a delivery failed; it is retried when its lease ends");
        }
    }

    /// Whether a pending delivery is due now, by `next_due` (the store's `next_due_at`): a read, so a
    /// worker with nothing to do asks it every `poll_every` without a write transaction. Claiming is one
    /// (it leases what it takes); run every second whatever the answer, it kept the database's writer
    /// from ever being idle — so its page cache was never handed back nor its WAL emptied
    /// (`vwc_store::sqlite`). A failed read claims anyway, and the claim reports the store's error.
    fn is_due(&self, next_due: &StoreResult<Option<DateTime<Utc>>>) -> bool {
        match next_due {
            Ok(Some(at)) => *at <= self.clock.now(),
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// How long to sleep when nothing wakes the worker: until `next_due`, at most `poll_every`.
    fn wait_for(&self, next_due: StoreResult<Option<DateTime<Utc>>>) -> Duration {
        const MIN_WAIT: Duration = Duration::from_millis(5);
        let poll = self.options.poll_every;
        match next_due {
            Ok(Some(at)) => (at - self.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .clamp(MIN_WAIT, poll.max(MIN_WAIT)),
            Ok(None) => poll,
            Err(e) => {
                tracing::warn!(error = %e, "delivery worker: reading the next due time failed");
                poll
            }
        }
    }

    /// Sends one claimed delivery and settles it. `Ok(None)` when the lease was lost meanwhile.
    async fn deliver(&self, claimed: ClaimedDelivery) -> StoreResult<Option<Settlement>> {
        let settlement = match self.no_longer_holds(&claimed.notification).await? {
            Some(reason) => Settlement::Cancelled { reason },
            None => {
                let preferences = self.store.preferences(&claimed.delivery.org_id).await?;
                self.attempt(&claimed, preferences.as_ref()).await
            }
        };
        tracing::info_span!("notification.deliver",
            delivery_id = %claimed.delivery.id, channel = claimed.delivery.channel.as_str())
        .in_scope(|| log_settlement(&settlement));
        let applied = self.store.settle(&claimed.lease, &settlement).await?;
        Ok(applied.then_some(settlement))
    }

    /// Why the reminder behind `notification` no longer holds, if a later word about its item says so
    /// (see [`no_longer_holds`]); a store error leaves the delivery to its lease's end and a later try.
    async fn no_longer_holds(&self, notification: &Notification) -> StoreResult<Option<String>> {
        let (Some(vehicle), Some(_)) = (&notification.vehicle_id, notification.reminded_at) else {
            return Ok(None);
        };
        let words = self
            .store
            .item_words(&notification.org_id, vehicle, &notification.reminder.task)
            .await?;
        Ok(no_longer_holds(notification, &words))
    }

    async fn attempt(
        &self,
        claimed: &ClaimedDelivery,
        preferences: Option<&StoredPreferences>,
    ) -> Settlement {
        let delivery = &claimed.delivery;
        let notification = &claimed.notification;
        let p = preferences.map(|s| &s.preferences);
        let target = match delivery.channel {
            Channel::Webhook => p.and_then(|p| p.webhook_url.clone()),
            Channel::Email => p.and_then(|p| p.email.clone()),
            // Delivered when the notification is created; never pending.
            Channel::InApp => None,
        };
        let Some(target) = target else {
            return Settlement::Cancelled {
                reason: format!("the {} channel is switched off", delivery.channel.as_str()),
            };
        };
        let now = self.clock.now();
        if let Some(until) = p
            .and_then(|p| p.quiet_hours)
            .and_then(|q| q.release_at(now))
        {
            return Settlement::Held { until };
        }

        let result = match delivery.channel {
            Channel::Webhook => match preferences.and_then(|s| s.webhook_secret.as_ref()) {
                Some(secret) => {
                    // A host with its share in flight already: try again shortly, counting no attempt.
                    let Some(_host_slot) = self
                        .hosts
                        .try_take(&host_of(&target), self.options.per_host)
                    else {
                        self.held_for_share.fetch_add(1, Ordering::Relaxed);
                        let defer = TimeDelta::from_std(self.options.busy_defer)
                            .unwrap_or(TimeDelta::seconds(1));
                        return Settlement::Held { until: now + defer };
                    };
                    let body = webhook_payload(notification);
                    let hook = SignedWebhook {
                        url: &target,
                        id: &delivery.id,
                        body: &body,
                        secret,
                    };
                    self.webhook.send(hook, now).await
                }
                None => SendResult::Permanent {
                    http_status: None,
                    error: "the organisation has no webhook secret".into(),
                },
            },
            Channel::Email => match &self.email {
                Some(sender) => {
                    let (subject, text) = email_content(notification);
                    let email = OutgoingEmail {
                        to: &target,
                        subject: &subject,
                        text: &text,
                    };
                    // The SDK sets no overall deadline; the lease must outlive the attempt.
                    match tokio::time::timeout(self.options.lease / 2, sender.send(email)).await {
                        Ok(result) => result,
                        Err(_) => SendResult::Retryable {
                            http_status: None,
                            error: "the e-mail service did not answer in time".into(),
                            retry_after: None,
                        },
                    }
                }
                None => SendResult::Permanent {
                    http_status: None,
                    error: "e-mail is not configured on this server".into(),
                },
            },
            Channel::InApp => SendResult::Permanent {
                http_status: None,
                error: "in-app deliveries are not sent by the worker".into(),
            },
        };

        let number = delivery.attempts + 1;
        // The budget counts from the last resend, if any; the attempt keeps its overall number.
        let (outcome, retry_at) = decide(
            &result,
            delivery.attempt_in_budget(number),
            &self.policy,
            self.clock.now(),
            &mut rand::thread_rng(),
        );
        let delivered_event = (outcome == AttemptOutcome::Delivered).then(|| {
            Box::new(delivered_event(
                notification,
                delivery.channel,
                self.clock.now(),
                None,
            ))
        });
        Settlement::Attempted {
            attempt: DeliveryAttempt {
                delivery_id: delivery.id.clone(),
                attempt: number,
                at: now,
                outcome,
                http_status: result.http_status(),
                error: result.error().map(str::to_owned),
            },
            retry_at,
            delivered_event,
        }
    }
}

fn log_settlement(settlement: &Settlement) {
    match settlement {
        Settlement::Attempted { attempt, .. } => match attempt.outcome {
            AttemptOutcome::Delivered => tracing::info!(attempt = attempt.attempt, "delivered"),
            AttemptOutcome::RetryScheduled => tracing::info!(
                attempt = attempt.attempt,
                error = attempt.error.as_deref().unwrap_or(""),
                "attempt failed; retry scheduled"
            ),
            AttemptOutcome::Failed => tracing::warn!(
                attempt = attempt.attempt,
                error = attempt.error.as_deref().unwrap_or(""),
                "delivery failed for good"
            ),
            AttemptOutcome::DeadLettered => tracing::warn!(
                attempt = attempt.attempt,
                error = attempt.error.as_deref().unwrap_or(""),
                "delivery dead-lettered"
            ),
        },
        Settlement::Held { until } => tracing::debug!(%until, "held by quiet hours"),
        Settlement::Cancelled { reason } => tracing::info!(%reason, "delivery cancelled"),
    }
}
