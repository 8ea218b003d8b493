//! Notification reads every version of `ReminderDue` still in flight (docs/events.md): a reminder published
//! at version 2 (vehicle, due cycle and a first occurrence left to the envelope) and the same reminder at
//! version 1 become the same notification — its words, the e-mail, and the whole reminder the outbound
//! webhook carries.

use vwc_contracts::Envelope;
use vwc_contracts::examples::{oil_change_reminder, oil_change_reminder_wire};
use vwc_contracts::maintenance::ReminderDue;
use vwc_notification::compose::{email_content, plan_notification, webhook_payload};

#[test]
fn a_reminder_of_version_2_or_1_becomes_the_same_notification() {
    let now = "2026-05-01T10:00:00Z".parse().unwrap();
    for version in [1, 2] {
        let envelope: Envelope = serde_json::from_value(oil_change_reminder_wire(version)).unwrap();
        assert_eq!(envelope.version, version);
        let reminder: &ReminderDue = envelope.payload().unwrap();
        assert_eq!(reminder, &oil_change_reminder(), "version {version}");
        let planned = plan_notification(&envelope, reminder, None, now, chrono::TimeDelta::zero())
            .notification;
        assert_eq!(
            planned.title,
            "Oil and filter change due soon — 2021 Toyota RAV4 (Blue)"
        );
        assert_eq!(
            planned.body,
            "Due on 2026-09-01 or at 45,000 mi, whichever comes first"
        );
        assert_eq!(planned.vehicle_id.as_deref(), Some("veh_1"));
        let (_, text) = email_content(&planned);
        assert!(text.contains("Due date: 2026-09-01") && text.contains("Due at odometer: 45000"));
        let payload: serde_json::Value =
            serde_json::from_slice(&webhook_payload(&planned)).unwrap();
        assert_eq!(
            payload["reminder"],
            serde_json::to_value(oil_change_reminder()).unwrap(),
            "the webhook's reminder is whole"
        );
        assert_eq!(payload["reminder"]["dueCycle"], "2026-09-01@45000");
    }
}
