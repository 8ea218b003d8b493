//! What a reminder becomes: the notification's words, the deliveries an organisation's channels call
//! for, the outbound webhook payload and the e-mail. Pure functions.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde_json::json;
use vwc_contracts::ids::new_id;
use vwc_contracts::maintenance::{Channel, MaintenanceStatus, NotificationDelivered, ReminderDue};
use vwc_contracts::text::money;
use vwc_contracts::valuation::{ValuationDrop, ValuationUpdated};
use vwc_contracts::{Envelope, VehicleId};

use crate::SOURCE;
use crate::store::{
    AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus, NewNotification, Notification,
    Preferences,
};

/// `type` of the outbound webhook for a reminder.
pub const WEBHOOK_EVENT_REMINDER_DUE: &str = "reminder.due";

/// "Oil change due soon — 2021 Toyota RAV4 (Blue)".
pub fn title(reminder: &ReminderDue) -> String {
    let state = match (reminder.status, reminder.occurrence) {
        (MaintenanceStatus::DueSoon, _) => "due soon",
        (MaintenanceStatus::Overdue, 0) => "overdue",
        (MaintenanceStatus::Overdue, _) => "still overdue",
        (MaintenanceStatus::Ok | MaintenanceStatus::Unknown, _) => "needs attention",
    };
    format!("{} {state} — {}", reminder.title, reminder.vehicle_name)
}

/// The scheduler's human reason ("Due on 2026-06-01 or at 45,000 mi, whichever comes first"), or a plain fallback.
pub fn body(reminder: &ReminderDue) -> String {
    let reason = reminder.reason.trim();
    if reason.is_empty() {
        format!("{} for {}.", reminder.title, reminder.vehicle_name)
    } else {
        reason.to_owned()
    }
}

/// The notification for `reminder` and the deliveries `preferences` call for: in-app delivered at once
/// (with its `NotificationDelivered`), webhook and e-mail pending until `settle` after `now`, or until
/// quiet hours end if that is later. The settle time lets a later word about the same item arrive first
/// (a vehicle's history imported in several deliveries): the worker then drops the older reminder's
/// outbound deliveries instead of sending every intermediate one (docs/events.md).
pub fn plan_notification(
    envelope: &Envelope,
    reminder: &ReminderDue,
    preferences: Option<&Preferences>,
    now: DateTime<Utc>,
    settle: TimeDelta,
) -> NewNotification {
    let notification = Notification {
        id: new_id("ntf"),
        org_id: envelope.org_id.clone(),
        reminder_id: reminder.reminder_id.clone(),
        vehicle_id: Some(VehicleId::from(&reminder.vehicle_id)),
        title: title(reminder),
        body: body(reminder),
        severity: reminder.status,
        reminder: reminder.clone(),
        traceparent: envelope.traceparent.clone(),
        created_at: now,
        // As the stores keep times: to the microsecond.
        reminded_at: Some(envelope.occurred_at.trunc_subsecs(6)),
    };
    let delivery = |channel: Channel, status: DeliveryStatus| Delivery {
        id: new_id("dlv"),
        notification_id: notification.id.clone(),
        org_id: notification.org_id.clone(),
        channel,
        status,
        attempts: 0,
        next_attempt_at: None,
        created_at: now,
        delivered_at: None,
        last_error: None,
        earlier_attempts: 0,
        resent_at: None,
    };

    let in_app = Delivery {
        attempts: 1,
        delivered_at: Some(now),
        ..delivery(Channel::InApp, DeliveryStatus::Delivered)
    };
    let attempts = vec![DeliveryAttempt {
        delivery_id: in_app.id.clone(),
        attempt: 1,
        at: now,
        outcome: AttemptOutcome::Delivered,
        http_status: None,
        error: None,
    }];
    let events = vec![delivered_event(
        &notification,
        Channel::InApp,
        now,
        Some(envelope.occurred_at),
    )];
    let mut deliveries = vec![in_app];

    if let Some(p) = preferences {
        // Quiet hours hold outbound channels only; the in-app feed is read when the reader chooses.
        let settled = now + settle.max(TimeDelta::zero());
        let due_at = p
            .quiet_hours
            .and_then(|q| q.release_at(now))
            .map_or(settled, |released| released.max(settled));
        let outbound = [
            (Channel::Webhook, p.webhook_url.is_some()),
            (Channel::Email, p.email.is_some()),
        ];
        for (channel, wanted) in outbound {
            if wanted {
                deliveries.push(Delivery {
                    next_attempt_at: Some(due_at),
                    ..delivery(channel, DeliveryStatus::Pending)
                });
            }
        }
    }

    NewNotification {
        notification,
        deliveries,
        attempts,
        events,
    }
}

/// `task` of the reminder-shaped record a valuation drop is stored as.
pub const VALUATION_DROP_TASK: &str = "valuation_drop";

/// The in-app notification for a valuation drop of more than 10 % (issue 8). It is stored like a
/// reminder (keyed by the drop id, so a re-published drop is told once) and told in-app only: the
/// outbound webhook and e-mail carry reminders.
pub fn plan_valuation_drop(
    envelope: &Envelope,
    update: &ValuationUpdated,
    drop: &ValuationDrop,
    now: DateTime<Utc>,
) -> NewNotification {
    let percent = f64::from(drop.drop_basis_points) / 100.0;
    let currency = &update.valuation.currency;
    let title = format!(
        "Estimated value down {percent:.1} % — {}",
        update.vehicle_name
    );
    let body = format!(
        "{} on {}: {} → {}.",
        drop.cause_title,
        update.valuation.as_of,
        money(drop.from_cents, currency),
        money(drop.to_cents, currency)
    );
    let carrier = ReminderDue {
        reminder_id: drop.drop_id.clone(),
        vehicle_id: update.vehicle_id.clone(),
        vehicle_name: update.vehicle_name.clone(),
        task: VALUATION_DROP_TASK.into(),
        title: title.clone(),
        status: MaintenanceStatus::Unknown,
        reason: body.clone(),
        due_cycle: update.valuation.as_of.to_string(),
        due_at: Some(update.valuation.as_of),
        due_odometer: None,
        occurrence: 0,
    };
    let mut plan = plan_notification(envelope, &carrier, None, now, TimeDelta::zero());
    // Not a reminder: no item's word (told in-app only, so never pending anyway).
    plan.notification.reminded_at = None;
    plan.notification.title = title;
    plan.notification.body = body;
    plan.events = vec![delivered_event(
        &plan.notification,
        Channel::InApp,
        now,
        Some(envelope.occurred_at),
    )];
    plan
}

/// `NotificationDelivered` for one channel, traced to the event that caused the notification. `reminded_at`
/// (the in-app delivery's: the caused event's `occurredAt`) lets the feed order reminders about one item.
pub fn delivered_event(
    notification: &Notification,
    channel: Channel,
    at: DateTime<Utc>,
    reminded_at: Option<DateTime<Utc>>,
) -> Envelope {
    Envelope::new(
        SOURCE,
        &notification.org_id,
        notification.vehicle_id.as_deref(),
        notification.traceparent.clone(),
        NotificationDelivered {
            notification_id: notification.id.clone(),
            reminder_id: Some(notification.reminder_id.clone()),
            vehicle_id: notification.vehicle_id.as_ref().map(|v| v.to_string()),
            channel,
            title: notification.title.clone(),
            body: notification.body.clone(),
            severity: Some(notification.severity),
            delivered_at: at,
            task: Some(notification.reminder.task.clone()),
            reminded_at,
        },
    )
}

/// The outbound webhook body. Built only from the stored notification, so every retry sends the same
/// bytes under the same `webhook-id`.
pub fn webhook_payload(notification: &Notification) -> Vec<u8> {
    let payload = json!({
        "type": WEBHOOK_EVENT_REMINDER_DUE,
        "timestamp": notification.created_at,
        "notificationId": notification.id,
        "title": notification.title,
        "body": notification.body,
        "reminder": notification.reminder,
    });
    serde_json::to_vec(&payload).expect("a JSON value serialises")
}

/// Subject and plain-text body of the e-mail.
pub fn email_content(notification: &Notification) -> (String, String) {
    let r = &notification.reminder;
    let mut text = format!("{}\n\n{}\n", notification.title, notification.body);
    if let Some(due_at) = r.due_at {
        text.push_str(&format!("\nDue date: {due_at}"));
    }
    if let Some(due_odometer) = r.due_odometer {
        text.push_str(&format!("\nDue at odometer: {due_odometer}"));
    }
    text.push_str("\n\n— Vehicle Wellness Center\n");
    // A subject is one line: line breaks and other control characters from a vehicle's nickname become
    // spaces (a nickname "Blue\r\nBcc: …" went into the SES subject as written).
    let subject = notification
        .title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    (subject, text)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveTime;

    use super::*;
    use crate::quiet_hours::QuietHours;

    fn reminder(status: MaintenanceStatus, occurrence: u32) -> ReminderDue {
        ReminderDue {
            reminder_id: "rem_1".into(),
            vehicle_id: "veh_1".into(),
            vehicle_name: "2021 Toyota RAV4".into(),
            task: "oil_change".into(),
            title: "Oil change".into(),
            status,
            reason: "Due in 12 days or 420 mi".into(),
            due_cycle: "c1".into(),
            due_at: None,
            due_odometer: Some(45_000),
            occurrence,
        }
    }

    fn envelope(r: &ReminderDue) -> Envelope {
        Envelope::new(
            "vwc.maintenance-scheduler",
            "org_a",
            Some(&r.vehicle_id),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
            r.clone(),
        )
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    /// The plan with outbound deliveries due at once (no settle time).
    fn plan_at(
        envelope: &Envelope,
        r: &ReminderDue,
        preferences: Option<&Preferences>,
        now: DateTime<Utc>,
    ) -> NewNotification {
        plan_notification(envelope, r, preferences, now, TimeDelta::zero())
    }

    #[test]
    fn title_names_the_task_its_state_and_the_vehicle() {
        for (status, occurrence, expected) in [
            (
                MaintenanceStatus::DueSoon,
                0,
                "Oil change due soon — 2021 Toyota RAV4",
            ),
            (
                MaintenanceStatus::Overdue,
                0,
                "Oil change overdue — 2021 Toyota RAV4",
            ),
            (
                MaintenanceStatus::Overdue,
                2,
                "Oil change still overdue — 2021 Toyota RAV4",
            ),
        ] {
            assert_eq!(title(&reminder(status, occurrence)), expected);
        }
        assert_eq!(
            body(&reminder(MaintenanceStatus::DueSoon, 0)),
            "Due in 12 days or 420 mi"
        );
    }

    #[test]
    fn without_preferences_only_in_app_is_planned_and_it_is_delivered_at_once() {
        let r = reminder(MaintenanceStatus::DueSoon, 0);
        let now = at("2026-05-01T12:00:00Z");
        let caused = envelope(&r);
        let plan = plan_at(&caused, &r, None, now);
        assert_eq!(plan.deliveries.len(), 1);
        let in_app = &plan.deliveries[0];
        assert_eq!(in_app.channel, Channel::InApp);
        assert_eq!(in_app.status, DeliveryStatus::Delivered);
        assert_eq!(plan.attempts.len(), 1);
        assert_eq!(plan.events.len(), 1);
        let event: NotificationDelivered = plan.events[0].payload().cloned().unwrap();
        assert_eq!(event.channel, Channel::InApp);
        assert_eq!(event.notification_id, plan.notification.id);
        // What the feed orders reminders about one item by: the item, and when the reminder was made.
        assert_eq!(
            (event.task.as_deref(), event.reminded_at),
            (Some(r.task.as_str()), Some(caused.occurred_at))
        );
        assert_eq!(plan.events[0].source, SOURCE);
        assert_eq!(plan.events[0].traceparent, envelope(&r).traceparent);
    }

    #[test]
    fn outbound_channels_are_pending_and_held_by_quiet_hours_but_in_app_is_not() {
        let r = reminder(MaintenanceStatus::Overdue, 0);
        let prefs = Preferences {
            webhook_url: Some("https://hooks.example.com/vwc".into()),
            email: Some("fleet@example.com".into()),
            quiet_hours: Some(QuietHours {
                start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
                end: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
                tz_offset_minutes: 0,
            }),
        };
        let night = at("2026-05-01T23:00:00Z");
        let plan = plan_at(&envelope(&r), &r, Some(&prefs), night);
        let channels: Vec<Channel> = plan.deliveries.iter().map(|d| d.channel).collect();
        assert_eq!(channels, [Channel::InApp, Channel::Webhook, Channel::Email]);
        assert_eq!(plan.deliveries[0].status, DeliveryStatus::Delivered);
        for d in &plan.deliveries[1..] {
            assert_eq!(d.status, DeliveryStatus::Pending);
            assert_eq!(d.next_attempt_at, Some(at("2026-05-02T07:00:00Z")));
        }
        let noon = at("2026-05-02T12:00:00Z");
        let plan = plan_at(&envelope(&r), &r, Some(&prefs), noon);
        assert_eq!(plan.deliveries[1].next_attempt_at, Some(noon));
    }

    /// Outbound channels wait the settle time (in-app never does); quiet hours that end later win.
    #[test]
    fn outbound_channels_wait_the_settle_time_or_quiet_hours_whichever_ends_later() {
        let r = reminder(MaintenanceStatus::Overdue, 0);
        let mut prefs = Preferences {
            webhook_url: Some("https://hooks.example.com/vwc".into()),
            email: Some("fleet@example.com".into()),
            quiet_hours: None,
        };
        let settle = TimeDelta::seconds(60);
        let noon = at("2026-05-02T12:00:00Z");
        let caused = envelope(&r);
        let plan = plan_notification(&caused, &r, Some(&prefs), noon, settle);
        assert_eq!(
            plan.notification.reminded_at,
            Some(caused.occurred_at.trunc_subsecs(6))
        );
        assert_eq!(plan.deliveries[0].status, DeliveryStatus::Delivered);
        assert_eq!(plan.deliveries[0].delivered_at, Some(noon));
        for d in &plan.deliveries[1..] {
            assert_eq!(d.next_attempt_at, Some(at("2026-05-02T12:01:00Z")));
        }
        prefs.quiet_hours = Some(QuietHours {
            start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            tz_offset_minutes: 0,
        });
        let night = at("2026-05-01T23:00:00Z");
        let plan = plan_notification(&envelope(&r), &r, Some(&prefs), night, settle);
        assert_eq!(
            plan.deliveries[1].next_attempt_at,
            Some(at("2026-05-02T07:00:00Z"))
        );
        let almost_morning = at("2026-05-02T06:59:30Z");
        let plan = plan_notification(&envelope(&r), &r, Some(&prefs), almost_morning, settle);
        assert_eq!(
            plan.deliveries[1].next_attempt_at,
            Some(at("2026-05-02T07:00:30Z"))
        );
    }

    #[test]
    fn webhook_payload_carries_the_type_the_notification_and_the_reminder() {
        let r = reminder(MaintenanceStatus::DueSoon, 0);
        let plan = plan_at(&envelope(&r), &r, None, at("2026-05-01T12:00:00Z"));
        let bytes = webhook_payload(&plan.notification);
        assert_eq!(bytes, webhook_payload(&plan.notification), "stable bytes");
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["type"], "reminder.due");
        assert_eq!(v["notificationId"], plan.notification.id.as_str());
        assert_eq!(v["reminder"]["reminderId"], "rem_1");
        assert_eq!(v["reminder"]["dueOdometer"], 45_000);
    }

    #[test]
    fn an_email_subject_is_one_line_whatever_the_nickname() {
        let mut r = reminder(MaintenanceStatus::DueSoon, 0);
        r.vehicle_name = "Blue\r\nBcc: evil@example.com\tx".into();
        let plan = plan_at(&envelope(&r), &r, None, at("2026-05-01T12:00:00Z"));
        let (subject, _) = email_content(&plan.notification);
        assert!(!subject.chars().any(char::is_control), "{subject:?}");
        assert!(
            subject.contains("Blue  Bcc: evil@example.com x"),
            "{subject:?}"
        );
    }

    #[test]
    fn email_subject_is_the_title_and_the_text_says_what_is_due() {
        let r = reminder(MaintenanceStatus::DueSoon, 0);
        let plan = plan_at(&envelope(&r), &r, None, at("2026-05-01T12:00:00Z"));
        let (subject, text) = email_content(&plan.notification);
        assert_eq!(subject, "Oil change due soon — 2021 Toyota RAV4");
        assert!(text.contains("Due in 12 days or 420 mi"));
        assert!(text.contains("45000"));
    }

    #[test]
    fn a_valuation_drop_is_told_in_app_only_keyed_by_its_drop_id() {
        use vwc_contracts::valuation::*;
        let update = ValuationUpdated {
            vehicle_id: "veh_1".into(),
            vehicle_name: "2021 Toyota RAV4 (Blue)".into(),
            valuation: Valuation {
                amount_cents: 1_770_000,
                currency: "USD".into(),
                as_of: "2026-03-10".parse().unwrap(),
                method: ValuationMethod::DealerAppraisal,
                kind: ValuationPointKind::Event,
                odometer: None,
                odometer_unit: vwc_contracts::OdometerUnit::Mi,
                factors: Vec::new(),
            },
            previous_amount_cents: Some(2_700_000),
            drop: Some(ValuationDrop {
                drop_id: "valdrop_evt_9".into(),
                from_cents: 2_700_000,
                to_cents: 1_770_000,
                drop_basis_points: 3_444,
                cause_event_id: "evt_9".into(),
                cause_title: "Trade-in appraisal".into(),
            }),
            computed_at: at("2026-03-10T10:00:00Z"),
        };
        let envelope = Envelope::new(
            "vwc.valuation",
            "org_a",
            Some("veh_1"),
            None,
            update.clone(),
        );
        let plan = plan_valuation_drop(
            &envelope,
            &update,
            update.drop.as_ref().unwrap(),
            at("2026-03-10T10:00:01Z"),
        );
        assert_eq!(plan.notification.reminder_id, "valdrop_evt_9");
        assert_eq!(
            plan.notification.title,
            "Estimated value down 34.4 % — 2021 Toyota RAV4 (Blue)"
        );
        assert_eq!(
            plan.notification.body,
            "Trade-in appraisal on 2026-03-10: 27,000.00 USD → 17,700.00 USD."
        );
        // In-app only, whatever channels the organisation configured (reminders use those).
        let channels: Vec<Channel> = plan.deliveries.iter().map(|d| d.channel).collect();
        assert_eq!(channels, [Channel::InApp]);
        assert_eq!(plan.events.len(), 1);
    }
}
