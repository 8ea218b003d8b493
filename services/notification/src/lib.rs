//! Notification service: turns `ReminderDue` and other events into an in-app feed, signed outbound
//! webhooks and email, once each, with retries.

pub mod quiet_hours;
pub mod retry;
pub mod ssrf;
