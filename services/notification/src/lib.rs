//! Notification service: turns `ReminderDue` into an in-app feed entry, a signed outbound webhook and an
//! e-mail, once each per reminder and channel, with retries, quiet hours and a record of every attempt.
//! It owns `preferences`, `notifications`, `deliveries` and `delivery_attempts`.

pub mod clock;
pub mod compose;
pub mod consumer;
pub mod deliveries;
pub mod email;
pub mod http;
#[cfg(feature = "aws")]
pub mod mongo;
pub mod outcome;
pub mod preferences;
pub mod quiet_hours;
mod records;
pub mod retry;
pub mod sqlite;
pub mod ssrf;
pub mod store;
pub mod webhook;
pub mod worker;

pub use clock::{Clock, ManualClock, SystemClock};
pub use consumer::NotificationConsumer;
pub use email::EmailSender;
#[cfg(feature = "aws")]
pub use email::SesEmailSender;
#[cfg(feature = "aws")]
pub use mongo::MongoNotificationStore;
pub use sqlite::SqliteNotificationStore;
pub use store::NotificationStore;
pub use worker::{DeliveryWorker, RoundSummary, WorkerOptions};

/// The consumer name in `contracts/routes.json` (and the inbox).
pub const CONSUMER: &str = "notification";
/// `source` of every envelope this service publishes.
pub const SOURCE: &str = "vwc.notification";
