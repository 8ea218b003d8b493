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
    AttemptOutcome, ClaimedDelivery, DeliveryAttempt, DeliveryDetail, DeliveryListing,
    DeliveryStatus, DueClaim, ItemWord, NewNotification, NotificationStore, Preferences,
    PreferencesChange, Resend, SavedPreferences, SecretChange, Settlement, Word,
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

/// Records a reminder of `org` for every channel as made at `at`.
async fn recorded_at(
    store: &dyn NotificationStore,
    org: &str,
    reminder_id: &str,
    at: DateTime<Utc>,
) -> NewNotification {
    let r = reminder(reminder_id);
    let envelope = reminder_envelope(org, &r);
    let new = plan_notification(&envelope, &r, Some(&all_channels()), at, TimeDelta::zero());
    assert!(
        store
            .record_notification(&envelope.id.to_string(), &new)
            .await
            .unwrap()
    );
    new
}

async fn list(
    store: &dyn NotificationStore,
    org: &OrgId,
    status: Option<DeliveryStatus>,
    after: Option<&DeliveryDetail>,
    limit: usize,
) -> Vec<DeliveryDetail> {
    store
        .list_deliveries(DeliveryListing {
            org_id: org,
            status,
            after: after.map(|d| (d.delivery.created_at, d.delivery.id.clone())),
            limit,
        })
        .await
        .unwrap()
}

/// An organisation's outbound deliveries (never in-app ones, never another organisation's) are listed
/// newest first, page after page without a gap or a repeat, of one status when asked, each with its
/// notification and its attempts.
async fn outbound_deliveries_are_listed_newest_first_within_the_organisation(
    store: Arc<dyn NotificationStore>,
) {
    let (store, org) = (store.as_ref(), OrgId::from("org_list"));
    for (i, rem) in ["rem_l1", "rem_l2", "rem_l3"].into_iter().enumerate() {
        recorded_at(store, "org_list", rem, t0() + TimeDelta::minutes(i as i64)).await;
    }
    recorded_at(store, "org_list_other", "rem_other", t0()).await;

    let all = list(store, &org, None, None, 100).await;
    assert_eq!(all.len(), 6, "webhook and e-mail of three reminders");
    assert!(all.iter().all(|d| d.delivery.org_id == org));
    assert!(all.iter().all(|d| d.delivery.channel != Channel::InApp));
    let order: Vec<_> = all
        .iter()
        .map(|d| (d.delivery.created_at, d.delivery.id.clone()))
        .collect();
    let mut newest_first = order.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(order, newest_first);
    assert_eq!(all[0].notification.reminder_id, "rem_l3");
    assert_eq!(all[5].notification.reminder_id, "rem_l1");

    let first = list(store, &org, None, None, 4).await;
    let rest = list(store, &org, None, first.last(), 4).await;
    assert_eq!((first.len(), rest.len()), (4, 2));
    let paged: Vec<_> = first.iter().chain(&rest).map(|d| &d.delivery.id).collect();
    let whole: Vec<_> = all.iter().map(|d| &d.delivery.id).collect();
    assert_eq!(paged, whole);

    // The oldest reminder's webhook runs out of attempts; its e-mail is refused for good.
    let claimed = claim(store, t0() + TimeDelta::minutes(5)).await;
    for c in claimed
        .iter()
        .filter(|c| c.notification.reminder_id == "rem_l1")
    {
        let outcome = match c.delivery.channel {
            Channel::Webhook => AttemptOutcome::DeadLettered,
            _ => AttemptOutcome::Failed,
        };
        let settlement = Settlement::Attempted {
            attempt: attempt(c, 1, outcome, t0() + TimeDelta::minutes(5)),
            retry_at: None,
            delivered_event: None,
        };
        assert!(store.settle(&c.lease, &settlement).await.unwrap());
    }
    let dead = list(store, &org, Some(DeliveryStatus::DeadLettered), None, 100).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].delivery.channel, Channel::Webhook);
    assert_eq!(dead[0].notification.reminder_id, "rem_l1");
    assert_eq!(
        outcomes(&dead[0].attempts),
        [(1, AttemptOutcome::DeadLettered, Some(503))]
    );
    let failed = list(store, &org, Some(DeliveryStatus::Failed), None, 100).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].delivery.channel, Channel::Email);
    let other = OrgId::from("org_list_other");
    assert!(
        list(store, &other, Some(DeliveryStatus::DeadLettered), None, 100)
            .await
            .is_empty()
    );
    assert_eq!(list(store, &other, None, None, 100).await.len(), 2);
}

/// A dead-lettered delivery resent is pending again at once under the same id with a fresh attempt budget
/// (its attempts numbered on); two resends at once make one; a delivered or pending one, an in-app one and
/// another organisation's are not resent.
async fn a_resend_makes_a_dead_lettered_delivery_pending_once_with_a_fresh_budget(
    store: Arc<dyn NotificationStore>,
) {
    let (store, org) = (store.as_ref(), OrgId::from("org_resend"));
    let new = recorded(store, "org_resend", "rem_resend").await;
    let claimed = claim(store, t0()).await;
    let webhook = claimed
        .iter()
        .find(|c| c.delivery.channel == Channel::Webhook)
        .unwrap();
    let dead = Settlement::Attempted {
        attempt: attempt(webhook, 2, AttemptOutcome::DeadLettered, t0()),
        retry_at: None,
        delivered_event: None,
    };
    assert!(store.settle(&webhook.lease, &dead).await.unwrap());
    let email = claimed
        .iter()
        .find(|c| c.delivery.channel == Channel::Email)
        .unwrap();
    let held = Settlement::Held {
        until: t0() + TimeDelta::days(1),
    };
    assert!(store.settle(&email.lease, &held).await.unwrap());
    let id = webhook.delivery.id.clone();
    let in_app = &new.deliveries[0].id;

    let elsewhere = OrgId::from("org_resend_other");
    assert_eq!(
        store.outbound_delivery(&elsewhere, &id).await.unwrap(),
        None
    );
    assert_eq!(store.outbound_delivery(&org, in_app).await.unwrap(), None);
    let later = t0() + TimeDelta::hours(1);
    for (o, d) in [
        (&elsewhere, &id),
        (&org, in_app),
        (&org, &"dlv_none".to_owned()),
    ] {
        assert_eq!(
            store.resend_delivery(o, d, later).await.unwrap(),
            Resend::NotFound
        );
    }
    let seen = store.outbound_delivery(&org, &id).await.unwrap().unwrap();
    assert_eq!(seen.delivery.status, DeliveryStatus::DeadLettered);
    assert_eq!(seen.notification.id, new.notification.id);

    let (a, b) = tokio::join!(
        store.resend_delivery(&org, &id, later),
        store.resend_delivery(&org, &id, later)
    );
    let both = [a.unwrap(), b.unwrap()];
    let resent: Vec<_> = both
        .iter()
        .filter_map(|r| match r {
            Resend::Resent(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(resent.len(), 1, "{both:?}");
    assert!(
        both.contains(&Resend::NotResendable(DeliveryStatus::Pending)),
        "{both:?}"
    );
    let d = &resent[0];
    assert_eq!(
        (
            d.status,
            d.next_attempt_at,
            d.resent_at,
            d.attempts,
            d.earlier_attempts
        ),
        (DeliveryStatus::Pending, Some(later), Some(later), 2, 2)
    );
    assert_eq!(
        d.attempt_in_budget(3),
        1,
        "the next attempt is the first of its budget"
    );
    assert_eq!(store.next_due_at().await.unwrap(), Some(later));

    let again = claim(store, later).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].delivery.id, id);
    assert_eq!(again[0].delivery.earlier_attempts, 2);
    let delivered = Settlement::Attempted {
        attempt: attempt(&again[0], 3, AttemptOutcome::Delivered, later),
        retry_at: None,
        delivered_event: None,
    };
    assert!(store.settle(&again[0].lease, &delivered).await.unwrap());
    let seen = store.outbound_delivery(&org, &id).await.unwrap().unwrap();
    assert_eq!(seen.delivery.status, DeliveryStatus::Delivered);
    assert_eq!(
        outcomes(&seen.attempts),
        [
            (2, AttemptOutcome::DeadLettered, Some(503)),
            (3, AttemptOutcome::Delivered, Some(200))
        ]
    );
    assert_eq!(
        store.resend_delivery(&org, &id, later).await.unwrap(),
        Resend::NotResendable(DeliveryStatus::Delivered)
    );
    // The e-mail is still pending (held): not resendable either.
    let email = &new.deliveries[2].id;
    assert_eq!(
        store.resend_delivery(&org, email, later).await.unwrap(),
        Resend::NotResendable(DeliveryStatus::Pending)
    );
}

/// A resent delivery that quiet hours held is due again when the preferences change, as a new one is
/// (probe api42: turning quiet hours off left a resent delivery held until they would have ended, and a
/// second resend was refused as pending).
async fn a_resent_delivery_held_by_quiet_hours_is_due_again_when_the_preferences_change(
    store: Arc<dyn NotificationStore>,
) {
    let (store, org) = (store.as_ref(), OrgId::from("org_resent_q"));
    recorded(store, "org_resent_q", "rem_resent_q").await;
    let webhook = claim(store, t0())
        .await
        .into_iter()
        .find(|c| c.delivery.channel == Channel::Webhook)
        .unwrap();
    let dead = Settlement::Attempted {
        attempt: attempt(&webhook, 1, AttemptOutcome::DeadLettered, t0()),
        retry_at: None,
        delivered_event: None,
    };
    assert!(store.settle(&webhook.lease, &dead).await.unwrap());
    let id = webhook.delivery.id.clone();
    let resent_at = t0() + TimeDelta::hours(1);
    assert!(matches!(
        store.resend_delivery(&org, &id, resent_at).await.unwrap(),
        Resend::Resent(_)
    ));
    // (The e-mail delivery, leased at t0 and never settled, is claimed again as its lease runs out: only
    // the webhook's is looked at.)
    let webhook_of =
        |claimed: Vec<ClaimedDelivery>| claimed.into_iter().find(|c| c.delivery.id == id);
    let again = webhook_of(claim(store, resent_at).await).expect("the resent delivery is due");
    let held = Settlement::Held {
        until: resent_at + TimeDelta::hours(10),
    };
    assert!(store.settle(&again.lease, &held).await.unwrap());
    let off = resent_at + TimeDelta::minutes(1);
    assert!(
        webhook_of(claim(store, off).await).is_none(),
        "held by quiet hours"
    );
    save(store, &org, &all_channels(), SecretChange::Keep, off).await;
    assert!(
        webhook_of(claim(store, off).await).is_some(),
        "due at once: a resend has no settle time"
    );
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
    outbound_deliveries_are_listed_newest_first_within_the_organisation,
    a_resend_makes_a_dead_lettered_delivery_pending_once_with_a_fresh_budget,
    a_resent_delivery_held_by_quiet_hours_is_due_again_when_the_preferences_change,
);
