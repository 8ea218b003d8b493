//! Reminders become notifications and deliveries exactly once, and the delivery worker sends them to
//! real local receivers: signed, retried with backoff (honouring `Retry-After`), dead-lettered, held by
//! quiet hours, refused when the address turns internal. A manual clock stands in for waiting.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use common::*;
use tokio::sync::watch;
use vwc_bus::{Consumer, HandleError};
use vwc_contracts::maintenance::{Channel, MaintenanceStatus, MaintenanceStatusChanged};
use vwc_contracts::{Envelope, EventType};
use vwc_notification::quiet_hours::QuietHours;
use vwc_notification::ssrf::Allowlist;
use vwc_notification::store::{AttemptOutcome, Delivery, DeliveryStatus, Preferences};
use vwc_notification::{
    Clock, DeliveryWorker, ManualClock, NotificationConsumer, NotificationStore,
    SqliteNotificationStore,
};
use vwc_store::Outbox;
use vwc_webhook::{WebhookHeaders, WebhookSecret, verify};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<SqliteNotificationStore>,
    clock: Arc<ManualClock>,
    consumer: NotificationConsumer,
}

fn setup(now: &str) -> Setup {
    let (dir, store) = sqlite_store();
    let clock = Arc::new(ManualClock::new(at(now)));
    let consumer = NotificationConsumer::new(store.clone()).with_clock(clock.clone());
    Setup {
        _dir: dir,
        store,
        clock,
        consumer,
    }
}

/// Quiet hours from 22:00 to 07:00 UTC.
fn nights() -> QuietHours {
    QuietHours {
        start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
        tz_offset_minutes: 0,
    }
}

/// Asserts that the delivery's last error says `what`.
fn assert_failed_because(delivery: &Delivery, what: &str) {
    let error = delivery.last_error.as_deref().unwrap_or("");
    assert!(error.contains(what), "{error:?} does not say {what:?}");
}

/// A setup at noon whose organisation's only channel is a webhook to a fresh receiver (answering `script`,
/// then `then`), reminded of `reminder_id`.
async fn reminded_by_webhook(
    script: &[Answer],
    then: Answer,
    reminder_id: &str,
) -> (Setup, Receiver) {
    let s = setup("2026-05-01T12:00:00Z");
    let receiver = Receiver::start(script, then).await;
    s.remind_by_webhook(receiver.url(), reminder_id).await;
    (s, receiver)
}

impl Setup {
    /// Tells the consumer the reminder `reminder_id` of `ORG`.
    async fn remind(&self, reminder_id: &str) {
        remind(&self.consumer, ORG, reminder_id).await;
    }

    /// Sends `ORG`'s webhooks to `url` (returning the secret issued), then tells the reminder.
    async fn remind_by_webhook(&self, url: String, reminder_id: &str) -> Option<WebhookSecret> {
        let secret = set_preferences(self.store.as_ref(), ORG, webhook_only(url)).await;
        self.remind(reminder_id).await;
        secret
    }

    /// Sets `ORG`'s channels: a webhook URL, an email address, quiet hours.
    async fn set_channels(
        &self,
        webhook_url: Option<String>,
        email: Option<&str>,
        quiet_hours: Option<QuietHours>,
    ) {
        let preferences = Preferences {
            webhook_url,
            email: email.map(str::to_string),
            quiet_hours,
        };
        set_preferences(self.store.as_ref(), ORG, preferences).await;
    }

    fn worker(&self, max_attempts: u32) -> DeliveryWorker {
        DeliveryWorker::new(self.store.clone(), loopback_allowlist())
            .with_clock(self.clock.clone())
            .with_retry_policy(fast_policy(max_attempts))
            .with_webhook_timeout(Duration::from_millis(300))
    }

    async fn deliveries_of(&self, reminder_id: &str) -> Vec<Delivery> {
        let notification = self
            .store
            .notification_for_reminder(&OrgId::from(ORG), reminder_id)
            .await
            .unwrap()
            .expect("a notification");
        self.store.deliveries(&notification.id).await.unwrap()
    }

    async fn delivery(&self, reminder_id: &str, channel: Channel) -> Delivery {
        self.deliveries_of(reminder_id)
            .await
            .into_iter()
            .find(|d| d.channel == channel)
            .expect("a delivery on the channel")
    }
}

#[tokio::test]
async fn the_same_reminder_delivered_twice_makes_one_notification_and_one_delivery_per_channel() {
    let s = setup("2026-05-01T12:00:00Z");
    let receiver = Receiver::start(&[], answer(200)).await;
    s.set_channels(Some(receiver.url()), Some("fleet@example.com"), None)
        .await;
    let r = reminder("rem_twice");
    let envelope = reminder_envelope(ORG, &r);
    s.consumer.handle(&envelope).await.unwrap();
    s.consumer.handle(&envelope).await.unwrap();
    // Re-published under another envelope id: the reminder id still says it was told.
    s.consumer
        .handle(&reminder_envelope(ORG, &r))
        .await
        .unwrap();

    let deliveries = s.deliveries_of("rem_twice").await;
    let channels: Vec<Channel> = deliveries.iter().map(|d| d.channel).collect();
    assert_eq!(channels, [Channel::InApp, Channel::Webhook, Channel::Email]);
    let in_app = delivered_events(s.store.as_ref()).await;
    assert_eq!(in_app.len(), 1, "one in-app NotificationDelivered");
    assert_eq!(in_app[0].channel, Channel::InApp);
    assert_eq!(in_app[0].title, "Oil change due soon — 2021 Toyota RAV4");
    assert_eq!(in_app[0].body, "Due in 12 days or 420 mi");

    let email = Arc::new(RecordingEmail::default());
    let worker = s.worker(3).with_email(email.clone());
    let round = worker.run_once().await.unwrap();
    assert_eq!((round.claimed, round.delivered), (2, 2));
    s.consumer.handle(&envelope).await.unwrap();
    let again = worker.run_once().await.unwrap();
    assert_eq!(again.claimed, 0);

    assert_eq!(receiver.received().len(), 1);
    let sent = email.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "fleet@example.com");
    assert_eq!(sent[0].1, "Oil change due soon — 2021 Toyota RAV4");
    let mut channels: Vec<Channel> = delivered_events(s.store.as_ref())
        .await
        .iter()
        .map(|e| e.channel)
        .collect();
    channels.sort_by_key(|c| c.as_str());
    assert_eq!(channels, [Channel::Email, Channel::InApp, Channel::Webhook]);
    for d in s.deliveries_of("rem_twice").await {
        assert_eq!(d.status, DeliveryStatus::Delivered, "{:?}", d.channel);
        assert_eq!(s.store.attempts(&d.id).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn concurrent_deliveries_of_one_reminder_have_one_effect() {
    let s = setup("2026-05-01T12:00:00Z");
    let r = reminder("rem_race");
    let envelopes: Vec<Envelope> = (0..8).map(|_| reminder_envelope(ORG, &r)).collect();
    let consumer = Arc::new(s.consumer);
    let handles: Vec<_> = envelopes
        .into_iter()
        .map(|e| {
            let consumer = consumer.clone();
            tokio::spawn(async move { consumer.handle(&e).await })
        })
        .collect();
    for h in handles {
        h.await.unwrap().unwrap();
    }
    assert_eq!(delivered_events(s.store.as_ref()).await.len(), 1);
}

#[tokio::test]
async fn the_webhook_is_signed_with_the_organisation_secret_under_the_delivery_id() {
    let s = setup("2026-05-01T12:00:00Z");
    let receiver = Receiver::start(&[], answer(204)).await;
    let secret = s
        .remind_by_webhook(receiver.url(), "rem_signed")
        .await
        .expect("a secret");
    s.worker(3).run_once().await.unwrap();

    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let request = &got[0];
    let headers = WebhookHeaders {
        id: request.header("webhook-id"),
        timestamp: request.header("webhook-timestamp"),
        signature: request.header("webhook-signature"),
    };
    verify(
        &[&secret],
        headers,
        &request.body,
        s.clock.now().timestamp(),
    )
    .expect("the signature verifies");
    let other = WebhookSecret::generate();
    assert!(verify(&[&other], headers, &request.body, s.clock.now().timestamp()).is_err());

    let webhook = s.delivery("rem_signed", Channel::Webhook).await;
    assert_eq!(request.header("webhook-id"), Some(webhook.id.as_str()));
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = request.json();
    assert_eq!(body["type"], "reminder.due");
    assert_eq!(body["notificationId"], webhook.notification_id.as_str());
    assert_eq!(body["reminder"]["reminderId"], "rem_signed");
    assert_eq!(body["reminder"]["task"], "oil_change");
    assert_eq!(body["title"], "Oil change due soon — 2021 Toyota RAV4");
    let attempts = s.store.attempts(&webhook.id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].http_status, Some(204));
}

#[tokio::test]
async fn a_receiver_answering_500_then_200_gets_it_once_after_one_retry() {
    let (s, receiver) = reminded_by_webhook(&[answer(500)], answer(200), "rem_retry").await;
    let worker = s.worker(5);

    let first = worker.run_once().await.unwrap();
    assert_eq!(first.retry_scheduled, 1);
    let pending = s.delivery("rem_retry", Channel::Webhook).await;
    assert_eq!(pending.status, DeliveryStatus::Pending);
    let next = pending.next_attempt_at.expect("a retry time");
    assert!(next > s.clock.now() - TimeDelta::milliseconds(1));
    assert!(next <= s.clock.now() + TimeDelta::milliseconds(20));
    assert_eq!(
        delivered_events(s.store.as_ref()).await.len(),
        1,
        "in-app only"
    );

    s.clock.advance(TimeDelta::milliseconds(100));
    let second = worker.run_once().await.unwrap();
    assert_eq!(second.delivered, 1);
    assert_eq!(worker.run_once().await.unwrap().claimed, 0);

    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_eq!(got[0].body, got[1].body, "a retry sends the same bytes");
    let delivered = s.delivery("rem_retry", Channel::Webhook).await;
    assert_eq!(delivered.status, DeliveryStatus::Delivered);
    assert_eq!(delivered.attempts, 2);
    let attempts = s.store.attempts(&delivered.id).await.unwrap();
    assert_eq!(
        outcomes(&attempts),
        [
            (1, AttemptOutcome::RetryScheduled, Some(500)),
            (2, AttemptOutcome::Delivered, Some(200)),
        ]
    );
    let webhook_events: Vec<_> = delivered_events(s.store.as_ref())
        .await
        .into_iter()
        .filter(|e| e.channel == Channel::Webhook)
        .collect();
    assert_eq!(webhook_events.len(), 1);
}

#[tokio::test]
async fn the_running_worker_retries_on_the_wall_clock_and_delivers_once() {
    let (_dir, store) = sqlite_store();
    let receiver = Receiver::start(&[answer(503), answer(500)], answer(200)).await;
    set_preferences(store.as_ref(), ORG, webhook_only(receiver.url())).await;
    let worker = Arc::new(
        DeliveryWorker::new(store.clone(), loopback_allowlist())
            .with_retry_policy(fast_policy(5))
            .with_webhook_timeout(Duration::from_secs(2)),
    );
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(worker.run(stopped));
    remind(&NotificationConsumer::new(store.clone()), ORG, "rem_live").await;

    let delivered =
        vwc_testkit::eventually("the webhook delivered", Duration::from_secs(10), || {
            let store = store.clone();
            async move {
                let n = store
                    .notification_for_reminder(&OrgId::from(ORG), "rem_live")
                    .await
                    .unwrap()?;
                store
                    .deliveries(&n.id)
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|d| {
                        d.channel == Channel::Webhook && d.status == DeliveryStatus::Delivered
                    })
            }
        })
        .await;
    stop.send(true).unwrap();
    running.await.unwrap();
    assert_eq!(receiver.received().len(), 3);
    assert_eq!(delivered.attempts, 3);
}

#[tokio::test]
async fn a_receiver_that_never_answers_is_dead_lettered_after_the_last_attempt() {
    let s = setup("2026-05-01T12:00:00Z");
    let silent = SilentReceiver::start().await;
    s.remind_by_webhook(silent.url(), "rem_silent").await;
    let worker = s.worker(3);
    let mut dead_lettered = 0;
    for _ in 0..5 {
        dead_lettered += worker.run_once().await.unwrap().dead_lettered;
        s.clock.advance(TimeDelta::seconds(1));
    }
    assert_eq!(dead_lettered, 1);
    assert_eq!(silent.connections(), 3);

    let delivery = s.delivery("rem_silent", Channel::Webhook).await;
    assert_eq!(delivery.status, DeliveryStatus::DeadLettered);
    assert_eq!(delivery.attempts, 3);
    assert_eq!(delivery.next_attempt_at, None);
    let attempts = s.store.attempts(&delivery.id).await.unwrap();
    let outcomes: Vec<AttemptOutcome> = attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [
            AttemptOutcome::RetryScheduled,
            AttemptOutcome::RetryScheduled,
            AttemptOutcome::DeadLettered
        ]
    );
    for a in &attempts {
        assert_eq!(a.http_status, None);
        assert!(
            a.error.as_deref().unwrap_or("").contains("no answer"),
            "{a:?}"
        );
    }
    let webhook_events = delivered_events(s.store.as_ref())
        .await
        .into_iter()
        .filter(|e| e.channel == Channel::Webhook)
        .count();
    assert_eq!(webhook_events, 0);
}

#[tokio::test]
async fn a_receiver_always_answering_503_is_dead_lettered_after_max_attempts() {
    let (s, receiver) = reminded_by_webhook(&[], answer(503), "rem_503").await;
    let worker = s.worker(4);
    for _ in 0..6 {
        worker.run_once().await.unwrap();
        s.clock.advance(TimeDelta::seconds(1));
    }
    assert_eq!(receiver.received().len(), 4);
    let delivery = s.delivery("rem_503", Channel::Webhook).await;
    assert_eq!(delivery.status, DeliveryStatus::DeadLettered);
    assert_eq!(s.store.attempts(&delivery.id).await.unwrap().len(), 4);
}

#[tokio::test]
async fn retry_after_from_the_receiver_decides_the_next_attempt() {
    let s = setup("2026-05-01T12:00:00Z");
    let busy = Answer {
        status: 429,
        retry_after: Some("120"),
    };
    let receiver = Receiver::start(&[busy], answer(200)).await;
    s.remind_by_webhook(receiver.url(), "rem_busy").await;
    let worker = s.worker(5);
    let started = s.clock.now();
    worker.run_once().await.unwrap();
    let pending = s.delivery("rem_busy", Channel::Webhook).await;
    assert_eq!(
        pending.next_attempt_at,
        Some(started + TimeDelta::seconds(120))
    );

    s.clock.advance(TimeDelta::seconds(119));
    assert_eq!(worker.run_once().await.unwrap().claimed, 0);
    s.clock.advance(TimeDelta::seconds(1));
    assert_eq!(worker.run_once().await.unwrap().delivered, 1);
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn a_client_error_fails_the_delivery_for_good() {
    let (s, receiver) = reminded_by_webhook(&[], answer(410), "rem_gone").await;
    let worker = s.worker(5);
    assert_eq!(worker.run_once().await.unwrap().failed, 1);
    s.clock.advance(TimeDelta::hours(2));
    assert_eq!(worker.run_once().await.unwrap().claimed, 0);
    let delivery = s.delivery("rem_gone", Channel::Webhook).await;
    assert_eq!(delivery.status, DeliveryStatus::Failed);
    assert_eq!(receiver.received().len(), 1);
    let attempts = s.store.attempts(&delivery.id).await.unwrap();
    assert_eq!(attempts[0].http_status, Some(410));
}

#[tokio::test]
async fn quiet_hours_hold_outbound_deliveries_until_they_end_but_not_in_app() {
    let s = setup("2026-05-01T23:00:00Z");
    let receiver = Receiver::start(&[], answer(200)).await;
    let email = Arc::new(RecordingEmail::default());
    s.set_channels(
        Some(receiver.url()),
        Some("night@example.com"),
        Some(nights()),
    )
    .await;
    s.remind("rem_night").await;
    let in_app = delivered_events(s.store.as_ref()).await;
    assert_eq!(in_app.len(), 1, "in-app is not held");

    let webhook = s.delivery("rem_night", Channel::Webhook).await;
    assert_eq!(webhook.next_attempt_at, Some(at("2026-05-02T07:00:00Z")));
    let worker = s.worker(3).with_email(email.clone());
    assert_eq!(worker.run_once().await.unwrap().claimed, 0);
    s.clock.set(at("2026-05-02T06:59:59Z"));
    assert_eq!(worker.run_once().await.unwrap().claimed, 0);
    assert!(receiver.received().is_empty());
    assert!(email.sent.lock().unwrap().is_empty());

    s.clock.set(at("2026-05-02T07:00:00Z"));
    assert_eq!(worker.run_once().await.unwrap().delivered, 2);
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(email.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_retry_that_falls_into_quiet_hours_is_held_without_counting_an_attempt() {
    let s = setup("2026-05-01T21:59:59Z");
    let receiver = Receiver::start(&[answer(503)], answer(200)).await;
    s.set_channels(Some(receiver.url()), None, Some(nights()))
        .await;
    s.remind("rem_evening").await;
    let worker = s.worker(3);
    assert_eq!(worker.run_once().await.unwrap().retry_scheduled, 1);
    s.clock.set(at("2026-05-01T22:00:01Z"));
    assert_eq!(worker.run_once().await.unwrap().held, 1);
    let held = s.delivery("rem_evening", Channel::Webhook).await;
    assert_eq!(held.attempts, 1);
    assert_eq!(held.next_attempt_at, Some(at("2026-05-02T07:00:00Z")));
    s.clock.set(at("2026-05-02T07:00:00Z"));
    assert_eq!(worker.run_once().await.unwrap().delivered, 1);
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn switching_a_channel_off_cancels_its_pending_deliveries() {
    let (s, receiver) = reminded_by_webhook(&[answer(500)], answer(200), "rem_off").await;
    let worker = s.worker(5);
    assert_eq!(worker.run_once().await.unwrap().retry_scheduled, 1);
    set_preferences(s.store.as_ref(), ORG, Preferences::default()).await;
    s.clock.advance(TimeDelta::seconds(1));
    assert_eq!(worker.run_once().await.unwrap().cancelled, 1);
    let delivery = s.delivery("rem_off", Channel::Webhook).await;
    assert_eq!(delivery.status, DeliveryStatus::Cancelled);
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn an_address_refused_at_delivery_time_is_never_called() {
    // Accepted when set (allow-listed then), refused by a worker whose allow-list no longer has it.
    let (s, receiver) = reminded_by_webhook(&[], answer(200), "rem_internal").await;
    let worker = DeliveryWorker::new(s.store.clone(), Allowlist::default())
        .with_clock(s.clock.clone())
        .with_retry_policy(fast_policy(3));
    assert_eq!(worker.run_once().await.unwrap().failed, 1);
    assert!(receiver.received().is_empty());
    let delivery = s.delivery("rem_internal", Channel::Webhook).await;
    assert_eq!(delivery.status, DeliveryStatus::Failed);
    assert_failed_because(&delivery, "not allowed");
}

#[tokio::test]
async fn email_without_a_configured_sender_fails_and_says_so() {
    let s = setup("2026-05-01T12:00:00Z");
    s.set_channels(None, Some("fleet@example.com"), None).await;
    s.remind("rem_nomail").await;
    assert_eq!(s.worker(3).run_once().await.unwrap().failed, 1);
    let delivery = s.delivery("rem_nomail", Channel::Email).await;
    assert_failed_because(&delivery, "not configured");
}

#[tokio::test]
async fn a_reminder_without_preferences_is_told_in_app_only() {
    let s = setup("2026-05-01T12:00:00Z");
    s.remind("rem_plain").await;
    let deliveries = s.deliveries_of("rem_plain").await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].channel, Channel::InApp);
    assert_eq!(deliveries[0].status, DeliveryStatus::Delivered);
    let events = s.store.pending(10).await.unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0].1;
    assert_eq!(e.source, "vwc.notification");
    assert_eq!(e.org_id, ORG);
    assert_eq!(
        e.vehicle_id.as_ref().map(|v| v.as_str()),
        Some(own_vehicle("rem_plain").as_str())
    );
}

#[tokio::test]
async fn the_same_reminder_id_in_two_organisations_is_told_to_each() {
    let s = setup("2026-05-01T12:00:00Z");
    let r = reminder("rem_shared");
    s.consumer
        .handle(&reminder_envelope(ORG, &r))
        .await
        .unwrap();
    s.consumer
        .handle(&reminder_envelope("org_other", &r))
        .await
        .unwrap();
    let events = delivered_events(s.store.as_ref()).await;
    assert_eq!(events.len(), 2);
    assert_ne!(events[0].notification_id, events[1].notification_id);
}

#[tokio::test]
async fn a_malformed_reminder_is_refused_as_malformed() {
    let s = setup("2026-05-01T12:00:00Z");
    let bad = vwc_contracts::examples::undecodable(
        EventType::ReminderDue,
        "vwc.maintenance-scheduler",
        ORG,
        None,
        serde_json::json!({ "reminderId": 7 }),
    );
    let err = s.consumer.handle(&bad).await.unwrap_err();
    assert!(matches!(err, HandleError::Malformed(_)), "{err:?}");
    assert!(s.store.pending(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_status_change_alone_tells_nothing() {
    let s = setup("2026-05-01T12:00:00Z");
    let changed = Envelope::new(
        "vwc.maintenance-scheduler",
        ORG,
        Some("veh_rav4"),
        None,
        MaintenanceStatusChanged {
            vehicle_id: "veh_rav4".into(),
            task: "oil_change".into(),
            title: "Oil change".into(),
            previous_status: Some(MaintenanceStatus::DueSoon),
            status: MaintenanceStatus::Overdue,
            reason: "Overdue by 100 mi".into(),
            due_cycle: "cycle_1".into(),
            due_at: None,
            due_odometer: Some(45_000),
        },
    );
    s.consumer.handle(&changed).await.unwrap();
    assert!(s.store.pending(10).await.unwrap().is_empty());
}

/// A reminder about the RAV4's oil change (`status`) made by the scheduler at `made_at`.
fn oil_change_reminder(reminder_id: &str, status: MaintenanceStatus, made_at: &str) -> Envelope {
    let mut r = reminder(reminder_id);
    r.status = status;
    let mut envelope = reminder_envelope(ORG, &r);
    envelope.occurred_at = at(made_at);
    envelope
}

/// The oil change's status changing to `status`, decided at `made_at`.
fn oil_change_status(status: MaintenanceStatus, made_at: &str) -> Envelope {
    status_change("oil_change", status, made_at)
}

/// The RAV4's `task` changing to `status`, decided at `made_at`.
fn status_change(task: &str, status: MaintenanceStatus, made_at: &str) -> Envelope {
    let mut envelope = Envelope::new(
        "vwc.maintenance-scheduler",
        ORG,
        Some("veh_rav4"),
        None,
        MaintenanceStatusChanged {
            vehicle_id: "veh_rav4".into(),
            task: task.into(),
            title: "Oil change".into(),
            previous_status: Some(MaintenanceStatus::Overdue),
            status,
            reason: "Serviced".into(),
            due_cycle: "cycle_2".into(),
            due_at: None,
            due_odometer: Some(50_000),
        },
    );
    envelope.occurred_at = at(made_at);
    envelope
}

/// Hands `envelopes` to `consumer` one after the other, each accepted.
async fn handle_in_order(
    consumer: &NotificationConsumer,
    envelopes: impl IntoIterator<Item = Envelope>,
) {
    for envelope in envelopes {
        consumer.handle(&envelope).await.unwrap();
    }
}

/// A consumer whose reminders' outbound deliveries wait 60 s, on `s`'s store and clock.
fn settling(s: &Setup) -> NotificationConsumer {
    NotificationConsumer::new(s.store.clone())
        .with_clock(s.clock.clone())
        .with_settle(Duration::from_secs(60))
}

/// What an import does: the scheduler's intermediate reminders about one item arrive within the settle
/// time, the newest last or first. Only the newest is sent outbound; the others are cancelled with a
/// reason, and every one stays in the in-app feed (where the edge marks the older ones read).
#[tokio::test]
async fn a_later_reminder_about_the_same_item_replaces_the_older_ones_outbound() {
    let s = setup("2026-05-01T12:00:00Z");
    let receiver = Receiver::start(&[], answer(200)).await;
    s.set_channels(Some(receiver.url()), None, None).await;
    let consumer = settling(&s);
    let reminders = [
        ("rem_a", MaintenanceStatus::DueSoon, "2026-05-01T11:59:50Z"),
        // Arrives before the one the scheduler made earlier (SQS keeps no order).
        ("rem_c", MaintenanceStatus::Overdue, "2026-05-01T11:59:58Z"),
        ("rem_b", MaintenanceStatus::Overdue, "2026-05-01T11:59:54Z"),
    ];
    handle_in_order(
        &consumer,
        reminders.map(|(id, status, made_at)| oil_change_reminder(id, status, made_at)),
    )
    .await;
    // Nothing is due before the settle time has passed.
    assert_eq!(s.worker(3).run_once().await.unwrap().claimed, 0);
    s.clock.advance(TimeDelta::seconds(60));
    let round = s.worker(3).run_once().await.unwrap();
    assert_eq!((round.delivered, round.cancelled), (1, 2), "{round:?}");
    assert_eq!(receiver.count(), 1);
    assert_eq!(
        receiver.received()[0].json()["reminder"]["reminderId"],
        "rem_c"
    );
    for older in ["rem_a", "rem_b"] {
        let d = s.delivery(older, Channel::Webhook).await;
        assert_eq!(d.status, DeliveryStatus::Cancelled);
        assert_eq!(d.attempts, 0);
        let reason = d.last_error.unwrap_or_default();
        assert!(
            reason.contains("later reminder about oil_change (rem_c)"),
            "{reason}"
        );
        let in_app = s.delivery(older, Channel::InApp).await;
        assert_eq!(in_app.status, DeliveryStatus::Delivered);
    }
    assert_eq!(
        s.delivery("rem_c", Channel::Webhook).await.status,
        DeliveryStatus::Delivered
    );
}

/// A later status change to a status that needs no attention (the item was serviced) cancels a pending
/// reminder; one to `overdue` (made with its own reminder, a moment apart) does not, nor does one made
/// before the reminder, nor one about another item.
#[tokio::test]
async fn a_later_status_that_needs_no_attention_cancels_a_pending_reminder() {
    let s = setup("2026-05-01T12:00:00Z");
    let receiver = Receiver::start(&[], answer(200)).await;
    s.set_channels(Some(receiver.url()), None, None).await;
    let consumer = settling(&s);
    handle_in_order(
        &consumer,
        [
            oil_change_reminder(
                "rem_kept",
                MaintenanceStatus::Overdue,
                "2026-05-01T11:59:50Z",
            ),
            oil_change_status(MaintenanceStatus::Overdue, "2026-05-01T11:59:50.000001Z"),
            oil_change_status(MaintenanceStatus::Ok, "2026-05-01T11:59:40Z"),
            status_change(
                "tire_rotation",
                MaintenanceStatus::Ok,
                "2026-05-01T11:59:55Z",
            ),
        ],
    )
    .await;
    s.clock.advance(TimeDelta::seconds(60));
    assert_eq!(s.worker(3).run_once().await.unwrap().delivered, 1);

    s.clock.advance(TimeDelta::days(7));
    // The reminder; the change, then the same change again and an older one arriving late: the newest
    // word stays.
    handle_in_order(
        &consumer,
        [
            oil_change_reminder(
                "rem_serviced",
                MaintenanceStatus::Overdue,
                "2026-05-08T12:00:00Z",
            ),
            oil_change_status(MaintenanceStatus::Ok, "2026-05-08T12:00:05Z"),
            oil_change_status(MaintenanceStatus::Ok, "2026-05-08T12:00:05Z"),
            oil_change_status(MaintenanceStatus::Overdue, "2026-05-08T12:00:01Z"),
        ],
    )
    .await;
    s.clock.advance(TimeDelta::seconds(60));
    assert_eq!(s.worker(3).run_once().await.unwrap().cancelled, 1);
    let d = s.delivery("rem_serviced", Channel::Webhook).await;
    assert_eq!(d.status, DeliveryStatus::Cancelled);
    let reason = d.last_error.unwrap_or_default();
    assert!(
        reason.contains("oil_change is ok since 2026-05-08T12:00:05"),
        "{reason}"
    );
    assert_eq!(receiver.count(), 1);
}
