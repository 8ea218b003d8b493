//! Helpers of the notification tests: a fresh SQLite store per test, local webhook receivers (one that
//! answers from a script, one that accepts and never answers), reminders and their envelopes, a recording
//! e-mail sender, and the preferences router on a real port.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tempfile::TempDir;
use vwc_auth::{Hs256Keys, Role, Secret, TokenVerifier};
use vwc_bus::Consumer;
#[allow(unused_imports)]
pub use vwc_contracts::OrgId;
use vwc_contracts::maintenance::{MaintenanceStatus, NotificationDelivered, ReminderDue};
use vwc_contracts::{Envelope, EventType};
use vwc_notification::email::{EmailSender, OutgoingEmail};
use vwc_notification::http::{NotificationState, routes};
use vwc_notification::outcome::SendResult;
use vwc_notification::retry::RetryPolicy;
use vwc_notification::ssrf::Allowlist;
use vwc_notification::store::{Preferences, PreferencesChange, SecretChange, StoredPreferences};
use vwc_notification::{
    Clock, NotificationConsumer, NotificationStore, SqliteNotificationStore, SystemClock,
};
use vwc_store::Outbox;
use vwc_webhook::WebhookSecret;

#[allow(unused_imports)]
pub use vwc_testkit::webhook::{Answer, Received, Receiver, SilentReceiver, answer};

pub const ORG: &str = "org_notify";

/// Writes `message` to the real stderr, once per test binary: the test harness captures `eprintln!`
/// of passing tests, and a skip must be seen.
pub fn say_loudly(message: &str) {
    use std::io::Write;
    static SAID: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    SAID.get_or_init(|| {
        let _ = writeln!(std::io::stderr(), "{message}");
    });
}

/// A store in its own temporary directory (kept alive by the returned guard).
pub fn sqlite_store() -> (TempDir, Arc<SqliteNotificationStore>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteNotificationStore::open(&dir.path().join("notification.db")).expect("open");
    (dir, Arc::new(store))
}

pub fn loopback_allowlist() -> Allowlist {
    Allowlist::parse("127.0.0.1").expect("allow-list")
}

/// Retries within milliseconds, so tests that use the wall clock barely wait.
pub fn fast_policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base: Duration::from_millis(20),
        cap: Duration::from_millis(100),
    }
}

pub fn reminder(reminder_id: &str) -> ReminderDue {
    ReminderDue {
        reminder_id: reminder_id.to_owned(),
        vehicle_id: "veh_rav4".into(),
        vehicle_name: "2021 Toyota RAV4".into(),
        task: "oil_change".into(),
        title: "Oil change".into(),
        status: MaintenanceStatus::DueSoon,
        reason: "Due in 12 days or 420 mi".into(),
        due_cycle: "cycle_1".into(),
        due_at: None,
        due_odometer: Some(45_000),
        occurrence: 0,
    }
}

pub fn reminder_envelope(org: &str, reminder: &ReminderDue) -> Envelope {
    Envelope::new(
        "vwc.maintenance-scheduler",
        org,
        Some(&reminder.vehicle_id),
        None,
        reminder.clone(),
    )
}

/// Webhooks to `url`, nothing else.
pub fn webhook_only(url: String) -> Preferences {
    Preferences {
        webhook_url: Some(url),
        ..Preferences::default()
    }
}

/// Tells `consumer` the reminder `reminder_id` of `org`, about a vehicle of its own
/// ([`own_vehicle`]): reminders about one item replace each other (the older's outbound deliveries are
/// cancelled), and these stand for unrelated ones.
pub async fn remind(consumer: &NotificationConsumer, org: &str, reminder_id: &str) {
    let mut r = reminder(reminder_id);
    r.vehicle_id = own_vehicle(reminder_id);
    consumer
        .handle(&reminder_envelope(org, &r))
        .await
        .expect("the reminder is applied");
}

/// The vehicle [`remind`] tells `reminder_id` about.
pub fn own_vehicle(reminder_id: &str) -> String {
    format!("veh_{reminder_id}")
}

/// Stores preferences directly (the HTTP route is tested on its own), with a fresh webhook secret.
pub async fn set_preferences(
    store: &dyn NotificationStore,
    org: &str,
    preferences: Preferences,
) -> Option<WebhookSecret> {
    let secret = if preferences.webhook_url.is_some() {
        SecretChange::IssueIfMissing(WebhookSecret::generate())
    } else {
        SecretChange::Keep
    };
    store
        .save_preferences(PreferencesChange {
            org_id: &OrgId::from(org),
            preferences: &preferences,
            secret,
            now: vwc_clock::now(),
            settle: chrono::TimeDelta::zero(),
        })
        .await
        .expect("save preferences")
        .stored
        .webhook_secret
}

pub async fn stored_preferences(store: &dyn NotificationStore, org: &str) -> StoredPreferences {
    store
        .preferences(&OrgId::from(org))
        .await
        .expect("read preferences")
        .expect("preferences exist")
}

/// `NotificationDelivered` events waiting in the outbox.
pub async fn delivered_events(store: &dyn Outbox) -> Vec<NotificationDelivered> {
    store
        .pending(1000)
        .await
        .expect("outbox")
        .into_iter()
        .filter(|(_, e)| e.event_type() == EventType::NotificationDelivered)
        .map(|(_, e)| e.payload().cloned().expect("NotificationDelivered data"))
        .collect()
}

/// An e-mail port double that records what it was asked to send (SES itself is tested against moto).
#[derive(Default)]
pub struct RecordingEmail {
    pub sent: Mutex<Vec<(String, String, String)>>,
}

#[async_trait]
impl EmailSender for RecordingEmail {
    async fn send(&self, email: OutgoingEmail<'_>) -> SendResult {
        self.sent.lock().unwrap().push((
            email.to.to_owned(),
            email.subject.to_owned(),
            email.text.to_owned(),
        ));
        SendResult::Delivered { http_status: None }
    }
}

/// The preferences router on 127.0.0.1:0 and a way to make tokens for it.
pub struct Api {
    pub base: String,
    pub keys: Arc<Hs256Keys>,
    pub client: reqwest::Client,
    _server: tokio::task::JoinHandle<()>,
}

impl Api {
    pub async fn start(store: Arc<dyn NotificationStore>, allowlist: Allowlist) -> Api {
        let keys = Arc::new(Hs256Keys::new(
            &Secret::from_bytes(vec![42u8; 32]).expect("secret"),
        ));
        let verifier: Arc<dyn TokenVerifier> = keys.clone();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let app = vwc_http::router(
            routes(vwc_http::openapi::Docs::Skipped),
            NotificationState {
                store,
                verifier,
                allowlist: Arc::new(allowlist),
                clock,
                settle: chrono::TimeDelta::zero(),
                email: true,
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("api");
        });
        Api {
            base,
            keys,
            client: reqwest::Client::new(),
            _server: server,
        }
    }

    pub fn token(&self, org: &str, roles: &[Role]) -> String {
        self.keys
            .issue("user_test", org, roles, chrono::Duration::minutes(5))
            .0
    }

    /// [`Api::put_preferences`] setting only the webhook URL.
    pub async fn put_webhook_url(
        &self,
        token: &str,
        url: &str,
    ) -> (u16, String, serde_json::Value) {
        let body = serde_json::json!({ "webhookUrl": url });
        self.put_preferences(token, &body).await
    }

    pub async fn put_preferences(
        &self,
        token: &str,
        body: &serde_json::Value,
    ) -> (u16, String, serde_json::Value) {
        let response = self
            .client
            .put(format!("{}/v1/notifications/preferences", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("PUT preferences");
        vwc_testkit::json(response).await
    }

    pub async fn get_preferences(&self, token: &str) -> (u16, String, serde_json::Value) {
        let response = self
            .client
            .get(format!("{}/v1/notifications/preferences", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET preferences");
        vwc_testkit::json(response).await
    }
}

/// Each attempt's number, outcome and HTTP status, in order: what most assertions on attempts compare.
pub fn outcomes(
    attempts: &[vwc_notification::store::DeliveryAttempt],
) -> Vec<(u32, vwc_notification::store::AttemptOutcome, Option<u16>)> {
    attempts
        .iter()
        .map(|a| (a.attempt, a.outcome, a.http_status))
        .collect()
}
