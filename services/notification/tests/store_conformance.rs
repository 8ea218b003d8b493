//! One conformance suite for every adapter of the notification store: SQLite always, MongoDB when
//! `VWC_TEST_MONGODB_URI` names a server (a replica set: the adapter uses transactions). Each MongoDB test
//! uses a database of its own and drops it afterwards.

use crate::common;

use std::sync::Arc;

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use common::{outcomes, reminder, reminder_envelope};
use vwc_contracts::maintenance::{Channel, MaintenanceStatus};
use vwc_contracts::{Envelope, OrgId, VehicleId};
use vwc_notification::compose::{delivered_event, plan_notification};
use vwc_notification::quiet_hours::QuietHours;
use vwc_notification::store::{
    AttemptOutcome, ClaimedDelivery, DeliveryAttempt, DeliveryStatus, DueClaim, ItemWord,
    NewNotification, NotificationStore, Preferences, PreferencesChange, SavedPreferences,
    SecretChange, Settlement, Word,
};
use vwc_webhook::WebhookSecret;

const LEASE: TimeDelta = TimeDelta::seconds(60);
/// The settle time the preferences are saved with.
const SETTLE: TimeDelta = TimeDelta::seconds(60);

fn t0() -> DateTime<Utc> {
    "2026-05-01T12:00:00Z".parse().unwrap()
}

fn all_channels() -> Preferences {
    Preferences {
        webhook_url: Some("https://hooks.example.com/vwc".into()),
        email: Some("fleet@example.com".into()),
        quiet_hours: None,
    }
}

fn plan(
    org: &str,
    reminder_id: &str,
    preferences: Option<&Preferences>,
) -> (Envelope, NewNotification) {
    let r = reminder(reminder_id);
    let envelope = reminder_envelope(org, &r);
    let new = plan_notification(&envelope, &r, preferences, t0(), TimeDelta::zero());
    (envelope, new)
}

/// Plans a reminder of `org` for every channel and records it; what was recorded.
async fn recorded(store: &dyn NotificationStore, org: &str, reminder_id: &str) -> NewNotification {
    let (envelope, new) = plan(org, reminder_id, Some(&all_channels()));
    let fresh = store
        .record_notification(&envelope.id.to_string(), &new)
        .await
        .unwrap();
    assert!(fresh, "{reminder_id} was recorded before");
    new
}

async fn save(
    store: &dyn NotificationStore,
    org_id: &OrgId,
    preferences: &Preferences,
    secret: SecretChange,
    now: DateTime<Utc>,
) -> SavedPreferences {
    let change = PreferencesChange {
        org_id,
        preferences,
        secret,
        now,
        settle: SETTLE,
    };
    store.save_preferences(change).await.unwrap()
}

async fn claim(store: &dyn NotificationStore, now: DateTime<Utc>) -> Vec<ClaimedDelivery> {
    store
        .claim_due_deliveries(DueClaim {
            now,
            limit: 10,
            lease: LEASE,
            skip_orgs: &[],
        })
        .await
        .unwrap()
}

fn attempt(
    c: &ClaimedDelivery,
    number: u32,
    outcome: AttemptOutcome,
    at: DateTime<Utc>,
) -> DeliveryAttempt {
    DeliveryAttempt {
        delivery_id: c.delivery.id.clone(),
        attempt: number,
        at,
        outcome,
        http_status: Some(if outcome == AttemptOutcome::Delivered {
            200
        } else {
            503
        }),
        error: (outcome != AttemptOutcome::Delivered).then(|| "the receiver answered 503".into()),
    }
}

async fn preferences_round_trip_with_the_secret_issued_once(store: Arc<dyn NotificationStore>) {
    let (store, org) = (store.as_ref(), &OrgId::from("org_prefs"));
    assert!(store.preferences(org).await.unwrap().is_none());
    let prefs = Preferences {
        quiet_hours: Some(QuietHours {
            start: NaiveTime::from_hms_opt(22, 30, 0).unwrap(),
            end: NaiveTime::from_hms_opt(6, 45, 0).unwrap(),
            tz_offset_minutes: -300,
        }),
        ..all_channels()
    };
    let first = WebhookSecret::generate();
    let issue_first = SecretChange::IssueIfMissing(first.clone());
    let saved = save(store, org, &prefs, issue_first, t0()).await;
    assert_eq!(saved.issued_secret.unwrap().expose(), first.expose());
    let read = store.preferences(org).await.unwrap().unwrap();
    assert_eq!(read.preferences, prefs);
    assert_eq!(read.webhook_secret.unwrap().expose(), first.expose());
    assert_eq!(read.updated_at, t0());

    let issue_another = SecretChange::IssueIfMissing(WebhookSecret::generate());
    let saved = save(store, org, &prefs, issue_another, t0()).await;
    assert!(saved.issued_secret.is_none());
    assert_eq!(
        saved.stored.webhook_secret.unwrap().expose(),
        first.expose()
    );

    let later = t0() + TimeDelta::minutes(5);
    let defaults = Preferences::default();
    save(store, org, &defaults, SecretChange::Keep, later).await;
    let read = store.preferences(org).await.unwrap().unwrap();
    assert_eq!(read.preferences, defaults);
    assert_eq!(read.webhook_secret.unwrap().expose(), first.expose());
    assert_eq!(read.updated_at, later);

    let rotated = WebhookSecret::generate();
    let replace = SecretChange::Replace(rotated.clone());
    let saved = save(store, org, &prefs, replace, later).await;
    assert_eq!(saved.issued_secret.unwrap().expose(), rotated.expose());
    let read = store.preferences(org).await.unwrap().unwrap();
    assert_eq!(read.webhook_secret.unwrap().expose(), rotated.expose());
    let nobody = OrgId::from("org_nobody");
    assert!(store.preferences(&nobody).await.unwrap().is_none());
}

async fn a_notification_is_recorded_once_per_envelope_and_per_reminder(
    store: Arc<dyn NotificationStore>,
) {
    let prefs = all_channels();
    let (envelope, new) = plan("org_once", "rem_once", Some(&prefs));
    let id = envelope.id.to_string();
    assert!(store.record_notification(&id, &new).await.unwrap());
    assert!(!store.record_notification(&id, &new).await.unwrap());
    let (other_envelope, other) = plan("org_once", "rem_once", Some(&prefs));
    assert!(
        !store
            .record_notification(&other_envelope.id.to_string(), &other)
            .await
            .unwrap()
    );

    let stored = store
        .notification_for_reminder(&OrgId::from("org_once"), "rem_once")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, new.notification);
    assert!(
        store
            .notification_for_reminder(&OrgId::from("org_elsewhere"), "rem_once")
            .await
            .unwrap()
            .is_none()
    );
    let deliveries = store.deliveries(&stored.id).await.unwrap();
    assert_eq!(deliveries, new.deliveries);
    let in_app = &deliveries[0];
    assert_eq!(in_app.channel, Channel::InApp);
    assert_eq!(store.attempts(&in_app.id).await.unwrap(), new.attempts);
    let outbox = store.pending(100).await.unwrap();
    let ids: Vec<_> = outbox.iter().map(|(_, e)| e.id).collect();
    assert_eq!(ids, [new.events[0].id]);

    let (elsewhere, same_reminder) = plan("org_elsewhere", "rem_once", None);
    assert!(
        store
            .record_notification(&elsewhere.id.to_string(), &same_reminder)
            .await
            .unwrap()
    );
}

async fn due_deliveries_are_leased_to_one_worker_at_a_time(store: Arc<dyn NotificationStore>) {
    let new = recorded(store.as_ref(), "org_lease", "rem_lease").await;
    assert_eq!(store.next_due_at().await.unwrap(), Some(t0()));
    assert!(
        claim(store.as_ref(), t0() - TimeDelta::seconds(1))
            .await
            .is_empty()
    );

    let first = claim(store.as_ref(), t0()).await;
    let channels: Vec<Channel> = first.iter().map(|c| c.delivery.channel).collect();
    assert_eq!(channels.len(), 2);
    assert!(channels.contains(&Channel::Webhook) && channels.contains(&Channel::Email));
    assert_eq!(first[0].notification, new.notification);
    assert!(claim(store.as_ref(), t0()).await.is_empty(), "leased");
    assert_eq!(store.next_due_at().await.unwrap(), Some(t0() + LEASE));

    // The lease ran out (the worker died): another worker takes over, the first one's word is void.
    let later = t0() + LEASE + TimeDelta::seconds(1);
    let second = claim(store.as_ref(), later).await;
    assert_eq!(second.len(), 2);
    let stale = first
        .iter()
        .find(|c| c.delivery.id == second[0].delivery.id)
        .unwrap();
    assert_ne!(stale.lease, second[0].lease);
    let held = Settlement::Held {
        until: later + TimeDelta::hours(1),
    };
    assert!(!store.settle(&stale.lease, &held).await.unwrap());
    assert!(store.settle(&second[0].lease, &held).await.unwrap());
    assert!(
        !store.settle(&second[0].lease, &held).await.unwrap(),
        "a lease settles once"
    );
}

async fn settling_applies_each_outcome_with_its_attempt_and_event(
    store: Arc<dyn NotificationStore>,
) {
    let new = recorded(store.as_ref(), "org_settle", "rem_settle").await;
    let claimed = claim(store.as_ref(), t0()).await;
    let webhook = claimed
        .iter()
        .find(|c| c.delivery.channel == Channel::Webhook)
        .unwrap();
    let email = claimed
        .iter()
        .find(|c| c.delivery.channel == Channel::Email)
        .unwrap();

    let retry_at = t0() + TimeDelta::seconds(30);
    let failed_once = Settlement::Attempted {
        attempt: attempt(webhook, 1, AttemptOutcome::RetryScheduled, t0()),
        retry_at: Some(retry_at),
        delivered_event: None,
    };
    assert!(store.settle(&webhook.lease, &failed_once).await.unwrap());
    let until = t0() + TimeDelta::hours(8);
    assert!(
        store
            .settle(&email.lease, &Settlement::Held { until })
            .await
            .unwrap()
    );
    let deliveries = store.deliveries(&new.notification.id).await.unwrap();
    let (w, e) = (&deliveries[1], &deliveries[2]);
    assert_eq!(
        (w.status, w.attempts, w.next_attempt_at),
        (DeliveryStatus::Pending, 1, Some(retry_at))
    );
    assert_eq!(w.last_error.as_deref(), Some("the receiver answered 503"));
    assert_eq!(
        (e.status, e.attempts, e.next_attempt_at),
        (DeliveryStatus::Pending, 0, Some(until))
    );
    assert_eq!(store.next_due_at().await.unwrap(), Some(retry_at));

    let retried = claim(store.as_ref(), retry_at).await;
    assert_eq!(retried.len(), 1);
    let webhook = &retried[0];
    assert_eq!(webhook.delivery.attempts, 1);
    let event = delivered_event(&webhook.notification, Channel::Webhook, retry_at, None);
    let delivered = Settlement::Attempted {
        attempt: attempt(webhook, 2, AttemptOutcome::Delivered, retry_at),
        retry_at: None,
        delivered_event: Some(Box::new(event.clone())),
    };
    assert!(store.settle(&webhook.lease, &delivered).await.unwrap());
    let w = &store.deliveries(&new.notification.id).await.unwrap()[1];
    assert_eq!(w.status, DeliveryStatus::Delivered);
    assert_eq!(w.attempts, 2);
    assert_eq!(w.delivered_at, Some(retry_at));
    assert_eq!(w.next_attempt_at, None);
    let attempts = store.attempts(&w.id).await.unwrap();
    assert_eq!(
        outcomes(&attempts),
        [
            (1, AttemptOutcome::RetryScheduled, Some(503)),
            (2, AttemptOutcome::Delivered, Some(200))
        ]
    );
    assert_eq!(attempts[1].at, retry_at);
    let outbox: Vec<_> = store
        .pending(100)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.id)
        .collect();
    assert!(outbox.contains(&event.id));

    let email = claim(store.as_ref(), until).await;
    assert_eq!(email.len(), 1);
    let cancelled = Settlement::Cancelled {
        reason: "the email channel is switched off".into(),
    };
    assert!(store.settle(&email[0].lease, &cancelled).await.unwrap());
    let e = &store.deliveries(&new.notification.id).await.unwrap()[2];
    assert_eq!(e.status, DeliveryStatus::Cancelled);
    assert!(store.attempts(&e.id).await.unwrap().is_empty());
    assert_eq!(store.next_due_at().await.unwrap(), None);
}

async fn final_failures_leave_nothing_pending(store: Arc<dyn NotificationStore>) {
    let new = recorded(store.as_ref(), "org_final", "rem_final").await;
    let claimed = claim(store.as_ref(), t0()).await;
    for (c, outcome) in claimed
        .iter()
        .zip([AttemptOutcome::Failed, AttemptOutcome::DeadLettered])
    {
        let settlement = Settlement::Attempted {
            attempt: attempt(c, 1, outcome, t0()),
            retry_at: None,
            delivered_event: None,
        };
        assert!(store.settle(&c.lease, &settlement).await.unwrap());
    }
    let statuses: Vec<DeliveryStatus> = store
        .deliveries(&new.notification.id)
        .await
        .unwrap()
        .iter()
        .map(|d| d.status)
        .collect();
    assert_eq!(statuses.len(), 3);
    assert!(statuses.contains(&DeliveryStatus::Failed));
    assert!(statuses.contains(&DeliveryStatus::DeadLettered));
    assert!(
        claim(store.as_ref(), t0() + TimeDelta::days(1))
            .await
            .is_empty()
    );
    assert_eq!(store.next_due_at().await.unwrap(), None);
    store.ping().await.unwrap();
}

/// Each item keeps its newest reminder and its newest status change: an older or repeated word changes
/// nothing, a reminder's own word is noted when it is recorded, and items are told apart by organisation,
/// vehicle and task.
async fn an_item_keeps_its_newest_word_of_each_kind(store: Arc<dyn NotificationStore>) {
    let (org, vehicle) = (OrgId::from("org_words"), VehicleId::from("veh_rav4"));
    let word = |w: Word, at: DateTime<Utc>| ItemWord {
        org_id: org.clone(),
        vehicle_id: vehicle.clone(),
        task: "oil_change".into(),
        word: w,
        at,
    };
    let words = || store.item_words(&org, &vehicle, "oil_change");
    assert!(words().await.unwrap().is_empty());
    let serviced = word(Word::Status(MaintenanceStatus::Ok), t0());
    store.note_item_word(&serviced).await.unwrap();
    store.note_item_word(&serviced).await.unwrap();
    let older = word(
        Word::Status(MaintenanceStatus::Overdue),
        t0() - TimeDelta::seconds(1),
    );
    store.note_item_word(&older).await.unwrap();
    assert_eq!(words().await.unwrap(), std::slice::from_ref(&serviced));
    let later = word(
        Word::Status(MaintenanceStatus::DueSoon),
        t0() + TimeDelta::microseconds(1),
    );
    store.note_item_word(&later).await.unwrap();
    assert_eq!(words().await.unwrap(), std::slice::from_ref(&later));

    let (envelope, mut new) = plan("org_words", "rem_words", Some(&all_channels()));
    new.notification.reminded_at = Some(t0() + TimeDelta::seconds(5));
    assert!(
        store
            .record_notification(&envelope.id.to_string(), &new)
            .await
            .unwrap()
    );
    let mut kept = words().await.unwrap();
    kept.sort_by_key(|w| w.at);
    let reminded = word(
        Word::Reminded("rem_words".into()),
        t0() + TimeDelta::seconds(5),
    );
    assert_eq!(kept, [later, reminded]);
    let stored = store
        .notification_for_reminder(&org, "rem_words")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.reminded_at, new.notification.reminded_at);

    let elsewhere = [
        (OrgId::from("org_other"), vehicle.clone(), "oil_change"),
        (org.clone(), VehicleId::from("veh_other"), "oil_change"),
        (org.clone(), vehicle.clone(), "tire_rotation"),
    ];
    for (o, v, task) in elsewhere {
        assert!(store.item_words(&o, &v, task).await.unwrap().is_empty());
    }
}

type Store = Arc<dyn NotificationStore>;

/// Records a reminder of `org` whose outbound deliveries quiet hours held until `until`.
async fn held(store: &dyn NotificationStore, org: &str, reminder_id: &str, until: DateTime<Utc>) {
    let (envelope, mut new) = plan(org, reminder_id, Some(&all_channels()));
    for d in &mut new.deliveries {
        if d.status == DeliveryStatus::Pending {
            d.next_attempt_at = Some(until);
        }
    }
    let fresh = store
        .record_notification(&envelope.id.to_string(), &new)
        .await
        .unwrap();
    assert!(fresh);
}

async fn deliveries_held_by_the_old_quiet_hours_are_due_again_when_the_preferences_change(
    store: Arc<dyn NotificationStore>,
) {
    let night = t0() + TimeDelta::hours(8);
    for (org, reminder) in [
        ("org_q", "rem_q"),
        ("org_late", "rem_late"),
        ("org_other", "rem_o"),
    ] {
        held(store.as_ref(), org, reminder, night).await;
    }
    let orgs = |claimed: &[ClaimedDelivery]| -> Vec<String> {
        let mut orgs: Vec<String> = claimed
            .iter()
            .map(|c| c.delivery.org_id.to_string())
            .collect();
        orgs.sort();
        orgs
    };
    // Saved 30 s after the reminder: due when its settle time ends, not before.
    let soon = t0() + TimeDelta::seconds(30);
    save(
        store.as_ref(),
        &OrgId::from("org_q"),
        &all_channels(),
        SecretChange::Keep,
        soon,
    )
    .await;
    assert_eq!(store.next_due_at().await.unwrap(), Some(t0() + SETTLE));
    assert!(
        claim(store.as_ref(), t0() + SETTLE - TimeDelta::seconds(1))
            .await
            .is_empty()
    );
    assert_eq!(
        orgs(&claim(store.as_ref(), t0() + SETTLE).await),
        ["org_q", "org_q"]
    );
    // Saved after the settle time: due at once (org_q's leases have run out meanwhile: claimed again).
    // Another organisation's stay held until the night ends.
    let later = t0() + TimeDelta::minutes(5);
    let count = |claimed: &[ClaimedDelivery], org: &str| {
        claimed
            .iter()
            .filter(|c| c.delivery.org_id.as_str() == org)
            .count()
    };
    assert_eq!(count(&claim(store.as_ref(), later).await, "org_late"), 0);
    save(
        store.as_ref(),
        &OrgId::from("org_late"),
        &all_channels(),
        SecretChange::Keep,
        later,
    )
    .await;
    assert_eq!(count(&claim(store.as_ref(), later).await, "org_late"), 2);
    let before_night = night - TimeDelta::seconds(1);
    assert_eq!(
        count(&claim(store.as_ref(), before_night).await, "org_other"),
        0
    );
    assert_eq!(count(&claim(store.as_ref(), night).await, "org_other"), 2);
}

vwc_testkit::conformance!(
    "notification", Store;
    sqlite("notification.db"): vwc_notification::SqliteNotificationStore::open,
    mongodb("notification"): vwc_notification::MongoNotificationStore::connect;
    preferences_round_trip_with_the_secret_issued_once,
    a_notification_is_recorded_once_per_envelope_and_per_reminder,
    due_deliveries_are_leased_to_one_worker_at_a_time,
    settling_applies_each_outcome_with_its_attempt_and_event,
    final_failures_leave_nothing_pending,
    an_item_keeps_its_newest_word_of_each_kind,
    deliveries_held_by_the_old_quiet_hours_are_due_again_when_the_preferences_change,
);
