//! The delivery worker: claims due webhook and e-mail deliveries, sends them, and records every attempt
//! with its outcome (delivered, retried later, failed, dead-lettered), publishing `NotificationDelivered`
//! in the same transaction as a success.
//!
//! Channels are read from the organisation's preferences at send time: a channel switched off meanwhile
//! cancels its pending deliveries, a changed URL or address is used from then on, and quiet hours hold a
//! delivery (retries included) until they end without counting an attempt.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use tokio::sync::watch;
use vwc_contracts::maintenance::Channel;
use vwc_store::StoreResult;

use crate::clock::{Clock, SystemClock};
use crate::compose::{delivered_event, email_content, webhook_payload};
use crate::email::{EmailSender, OutgoingEmail};
use crate::outcome::{SendResult, decide};
use crate::retry::RetryPolicy;
use crate::ssrf::Allowlist;
use crate::store::{
    AttemptOutcome, ClaimedDelivery, DeliveryAttempt, NotificationStore, Settlement,
    StoredPreferences,
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
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            batch: 32,
            lease: Duration::from_secs(120),
            poll_every: Duration::from_secs(1),
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

pub struct DeliveryWorker {
    store: Arc<dyn NotificationStore>,
    webhook: WebhookSender,
    email: Option<Arc<dyn EmailSender>>,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    options: WorkerOptions,
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
        }
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
            .claim_due_deliveries(self.clock.now(), self.options.batch, lease)
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

    /// Runs rounds until `shutdown` turns true: at once when woken by new deliveries, else when the
    /// next delivery is due, at least every `poll_every`.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let wakeup = self.store.deliveries_wakeup();
        loop {
            if *shutdown.borrow() {
                return;
            }
            match self.run_once().await {
                // A full batch: more may be due already.
                Ok(s) if s.claimed == self.options.batch && s.errors == 0 => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "delivery worker: claiming due deliveries failed")
                }
            }
            let wait = self.until_next_due().await;
            tokio::select! {
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

    async fn until_next_due(&self) -> Duration {
        const MIN_WAIT: Duration = Duration::from_millis(5);
        let poll = self.options.poll_every;
        match self.store.next_due_at().await {
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
        let preferences = self.store.preferences(&claimed.delivery.org_id).await?;
        let settlement = self.attempt(&claimed, preferences.as_ref()).await;
        tracing::info_span!("notification.deliver",
            delivery_id = %claimed.delivery.id, channel = claimed.delivery.channel.as_str())
        .in_scope(|| log_settlement(&settlement));
        let applied = self.store.settle(&claimed.lease, &settlement).await?;
        Ok(applied.then_some(settlement))
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
        let (outcome, retry_at) = decide(
            &result,
            number,
            &self.policy,
            self.clock.now(),
            &mut rand::thread_rng(),
        );
        let delivered_event = (outcome == AttemptOutcome::Delivered).then(|| {
            Box::new(delivered_event(
                notification,
                delivery.channel,
                self.clock.now(),
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
