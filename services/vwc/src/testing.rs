//! Test support: the whole embedded system on a free port with a fresh data dir, spoken to over HTTP.

use std::net::SocketAddr;
use std::time::Duration;

use vwc_auth::Role;
use vwc_bus::inproc::RetryPolicy;

use crate::embedded::{EmbeddedOptions, System};

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub http: reqwest::Client,
    pub system: Option<System>,
    pub data_dir: tempfile::TempDir,
    keys: std::sync::Arc<vwc_auth::Hs256Keys>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// Fast retries so dead-letter tests don't wait.
pub fn test_options(dir: &std::path::Path) -> EmbeddedOptions {
    let mut opts = EmbeddedOptions::new(dir);
    opts.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    opts.relay_poll = Duration::from_millis(50);
    opts
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        TestApp::spawn_with(dir, |_| {}).await
    }

    pub async fn spawn_with(
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut EmbeddedOptions),
    ) -> TestApp {
        let mut opts = test_options(dir.path());
        tweak(&mut opts);
        let system = System::start(opts).await.expect("system starts");
        let router = system.router.clone();
        let keys = system.keys.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            crate::server::serve(listener, router, async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        TestApp {
            addr,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            system: Some(system),
            data_dir: dir,
            keys,
            stop: Some(stop),
            server: Some(server),
        }
    }

    pub fn system(&self) -> &System {
        self.system.as_ref().expect("running")
    }

    pub fn token(&self, org: &str, roles: &[Role]) -> String {
        self.token_of("test-user", org, roles)
    }

    /// A token of the user `sub` (another person than [`TestApp::token`]'s `test-user`).
    pub fn token_of(&self, sub: &str, org: &str, roles: &[Role]) -> String {
        self.keys
            .issue(sub, org, roles, chrono::Duration::hours(1))
            .0
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The barrier for "nothing (more) happened" checks: publishes whatever any outbox still holds, and
    /// waits for the deliveries in flight, until nothing is pending — every consumer has then applied every
    /// event written so far, reactions to reactions included.
    pub async fn settle(&self) {
        self.system().settle().await.expect("settling the system");
    }

    /// Stops the server and the system (relays flush; bus drains).
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = s.await;
        }
        if let Some(system) = self.system.take() {
            system.shutdown().await;
        }
        self.data_dir
    }
}

impl TestApp {
    pub async fn post(
        &self,
        token: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// GET returning the JSON body; panics unless 200.
    pub async fn get_ok(&self, token: &str, path: &str) -> serde_json::Value {
        let (status, _, body) = vwc_testkit::json(self.get(token, path).await).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Registers a vehicle and returns its id.
    pub async fn register(&self, token: &str, vin: &str) -> String {
        let (status, _, body) = vwc_testkit::json(
            self.post(
                token,
                "/v1/vehicles",
                &serde_json::json!({"vin": vin, "year": 2020, "make": "Honda", "model": "Accord"}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 201, "register: {body}");
        body["id"].as_str().expect("id").to_string()
    }

    /// Records an odometer reading and returns the event id.
    pub async fn record_odometer(
        &self,
        token: &str,
        vehicle: &str,
        days_ago: i64,
        odometer: u64,
    ) -> String {
        let at = vwc_clock::now() - chrono::Duration::days(days_ago);
        let (status, _, body) = vwc_testkit::json(
            self.post(
                token,
                &format!("/v1/vehicles/{vehicle}/events"),
                &serde_json::json!({"kind": "odometer_reading", "occurredAt": at, "odometer": odometer}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 201, "record: {body}");
        body["event"]["id"].as_str().expect("id").to_string()
    }

    /// How many events the timeline of `vehicle` (first page, up to 200) has now, asserting at most `max`.
    pub async fn timeline_of_len_at_most(&self, token: &str, vehicle: &str, max: usize) -> usize {
        let body = self
            .get_ok(token, &format!("/v1/vehicles/{vehicle}/events?limit=200"))
            .await;
        let n = body["items"].as_array().map_or(0, Vec::len);
        assert!(n <= max, "{n} events, more than {max}");
        n
    }

    /// Waits until the timeline of `vehicle` (first page, up to 200) has `n` events; returns them.
    pub async fn timeline_of_len(
        &self,
        token: &str,
        vehicle: &str,
        n: usize,
    ) -> Vec<serde_json::Value> {
        let path = format!("/v1/vehicles/{vehicle}/events?limit=200");
        vwc_testkit::eventually(
            &format!("{n} events in the timeline"),
            Duration::from_secs(30), // generous: on a loaded 2-core machine a 10 s wait has timed out
            || async {
                let r = self.get(token, &path).await;
                if r.status() != 200 {
                    return None;
                }
                let body: serde_json::Value = r.json().await.ok()?;
                let items = body["items"].as_array()?.clone();
                (items.len() == n).then_some(items)
            },
        )
        .await
    }
}
