//! The scheduler's routes on a real server (port 0) over a real SQLite file, spoken to like a client.

use crate::common;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use chrono::{DateTime, Utc};
use common::*;
use serde_json::{Value, json};
use vwc_auth::{Hs256Keys, Role, Secret, TokenVerifier};
use vwc_bus::Consumer;
use vwc_contracts::maintenance::MaintenanceScheduleUpdated;
use vwc_contracts::{EventType, OdometerUnit};
use vwc_maintenance_scheduler::http::{SchedulerState, routes};
use vwc_maintenance_scheduler::{Scheduler, SchedulerConsumer};
use vwc_store::vehicle_ledger::{DailyRuns, KeptStates, LedgerService};
use vwc_testkit::json as body;

struct App {
    base: String,
    http: reqwest::Client,
    keys: Arc<Hs256Keys>,
    consumer: SchedulerConsumer,
    t: TempStore,
    clock: TestClock,
    server: tokio::task::JoinHandle<()>,
}

impl App {
    async fn spawn() -> App {
        let t = TempStore::new();
        let clock = TestClock::at(at(2025, 3, 1));
        // Kept states, as embedded mode runs it.
        let scheduler = Scheduler::new(t.shared())
            .with_clock(clock.clock())
            .with_kept_states(KeptStates::Recent);
        let keys = Arc::new(Hs256Keys::new(&Secret::from_bytes(vec![7u8; 32]).unwrap()));
        let verifier: Arc<dyn TokenVerifier> = keys.clone();
        let app = vwc_http::router(
            routes(vwc_http::openapi::Docs::Skipped),
            SchedulerState {
                scheduler: scheduler.clone(),
                verifier,
            },
        )
        .layer(axum::middleware::from_fn(vwc_http::trace_context))
        .layer(DefaultBodyLimit::max(vwc_http::MAX_BODY_BYTES));
        let (addr, server) = vwc_testkit::serve(app).await;
        App {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            keys,
            consumer: SchedulerConsumer::new(scheduler),
            t,
            clock,
            server,
        }
    }

    fn token(&self, org: &str, roles: &[Role]) -> String {
        self.keys
            .issue("user_1", org, roles, chrono::Duration::hours(1))
            .0
    }

    async fn vehicle(&self, org: &str, id: &str, unit: OdometerUnit) -> vwc_contracts::Vehicle {
        let v = vehicle(org, id, unit);
        self.consumer.handle(&registered(&v)).await.unwrap();
        v
    }

    async fn put(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .put(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `PUT` `body` to `path` continuing the trace [`TRACE`].
    async fn put_traced(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .put(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("traceparent", TRACE)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// [`App::put`], answered: status, content type and body.
    async fn put_json(&self, token: &str, path: &str, json: &Value) -> (u16, String, Value) {
        body(self.put(token, path, json).await).await
    }

    /// Records an oil change (`evt_oil`) of `v`.
    async fn oil_change(&self, v: &vwc_contracts::Vehicle, at: DateTime<Utc>, odometer: u64) {
        let e = maintenance(v, "evt_oil", at, odometer, &["oil_change"]);
        record(&self.consumer, &e).await;
    }

    /// A server on which an owner of `org_a` had the oil of their vehicle `id` (odometer in `unit`) changed
    /// at `odometer` on `on`: the app, the owner's token and the path of that vehicle's oil-change item.
    async fn after_an_oil_change(
        id: &str,
        unit: OdometerUnit,
        on: DateTime<Utc>,
        odometer: u64,
    ) -> (App, String, String) {
        let app = App::spawn().await;
        let owner = app.token("org_a", &[Role::Owner]);
        let v = app.vehicle("org_a", id, unit).await;
        app.oil_change(&v, on, odometer).await;
        let path = format!("/v1/vehicles/{id}/maintenance/oil_change");
        (app, owner, path)
    }

    async fn sweep(&self, token: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/maintenance/sweep", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn version(&self, id: &str) -> u64 {
        self.t.state(id).await.version
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[tokio::test]
async fn put_sets_the_interval_and_answers_with_the_item_re_evaluated() {
    let (app, owner, path) =
        App::after_an_oil_change("veh_1", OdometerUnit::Mi, at(2025, 3, 1), 40_000).await;
    let path = path.as_str();
    drain_outbox(app.t.store.as_ref()).await;

    let response = app
        .put_traced(
            &owner,
            path,
            &json!({"intervalMiles": 5_000, "intervalMonths": 6, "dueSoonMiles": 400}),
        )
        .await;
    let (status, content_type, item) = body(response).await;
    assert_eq!(status, 200, "{item}");
    assert!(content_type.starts_with("application/json"));
    assert_eq!(item["task"], "oil_change");
    assert_eq!(item["intervalMiles"], 5_000);
    assert_eq!(item["intervalMonths"], 6);
    assert_eq!(item["dueOdometer"], 45_000);
    assert_eq!(item["dueAt"], "2025-09-01");
    assert_eq!(item["status"], "ok");
    assert_eq!(item["enabled"], true);

    // The catalogue's oil change already is 5,000 mi / 6 months: no item's view changed.
    assert_eq!(drain_outbox(app.t.store.as_ref()).await, []);

    // A real change is published, continuing the request's trace.
    let response = app
        .put_traced(&owner, path, &json!({"intervalMonths": 3}))
        .await;
    let (status, _, item) = body(response).await;
    assert_eq!(status, 200, "{item}");
    assert_eq!(
        (item["dueAt"].as_str(), item["dueOdometer"].as_u64()),
        (Some("2025-06-01"), Some(45_000))
    );
    let out = drain_outbox(app.t.store.as_ref()).await;
    let updates = of_type(&out, EventType::MaintenanceScheduleUpdated);
    assert_eq!(updates.len(), 1);
    assert_eq!(
        &updates[0].traceparent.as_deref().unwrap()[3..35],
        &TRACE[3..35]
    );
    let schedule: MaintenanceScheduleUpdated = updates[0].payload().cloned().unwrap();
    assert_eq!(serde_json::to_value(&schedule.items[0]).unwrap(), item);

    // The same settings again change nothing and publish nothing.
    let same = json!({"intervalMiles": 5_000, "intervalMonths": 3});
    let (status, _, again) = app.put_json(&owner, path, &same).await;
    assert_eq!((status, &again), (200, &item));
    assert_eq!(drain_outbox(app.t.store.as_ref()).await, []);

    // Turned off: unknown, and said so.
    let (status, _, off) = app.put_json(&owner, path, &json!({"enabled": false})).await;
    assert_eq!(status, 200);
    assert_eq!(
        (off["status"].as_str(), off["enabled"].as_bool()),
        (Some("unknown"), Some(false))
    );
}

#[tokio::test]
async fn another_organisations_vehicle_is_a_404_like_one_that_does_not_exist() {
    let app = App::spawn().await;
    app.vehicle("org_a", "veh_a", OdometerUnit::Mi).await;
    let version = app.version("veh_a").await;
    let intruder = app.token("org_b", &[Role::FleetManager]);
    for path in [
        "/v1/vehicles/veh_a/maintenance/oil_change",
        "/v1/vehicles/veh_nope/maintenance/oil_change",
    ] {
        let (status, content_type, problem) = app
            .put_json(&intruder, path, &json!({"intervalMiles": 1}))
            .await;
        assert_eq!(status, 404, "{path}: {problem}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["detail"], "vehicle not found");
    }
    assert_eq!(app.version("veh_a").await, version);
    assert_eq!(
        drain_outbox(app.t.store.as_ref()).await.len(),
        1,
        "only the registration's schedule"
    );
}

#[tokio::test]
async fn an_unknown_task_is_a_404_unless_it_is_created_with_a_title() {
    let app = App::spawn().await;
    let owner = app.token("org_a", &[Role::Owner]);
    app.vehicle("org_a", "veh_1", OdometerUnit::Mi).await;
    for task in ["timing_belt", "Timing-Belt"] {
        let (status, _, problem) = app
            .put_json(
                &owner,
                &format!("/v1/vehicles/veh_1/maintenance/{task}"),
                &json!({"intervalMonths": 60}),
            )
            .await;
        assert_eq!(status, 404, "{task}: {problem}");
        assert_eq!(problem["detail"], "maintenance task not found");
    }
    let belt = "/v1/vehicles/veh_1/maintenance/timing_belt";
    let (status, _, item) = app.put_json(&owner, belt,
            &json!({"title": "Timing belt and water pump", "intervalMiles": 90_000, "intervalMonths": 84})).await;
    assert_eq!(status, 200, "{item}");
    assert_eq!(item["title"], "Timing belt and water pump");
    assert_eq!(item["dueAt"], "2032-01-01");
    // Once created it is part of the schedule: later changes need no title.
    let (status, _, item) = app
        .put_json(&owner, belt, &json!({"intervalMonths": 96}))
        .await;
    assert_eq!(
        (status, item["title"].as_str()),
        (200, Some("Timing belt and water pump"))
    );
    let state = app.t.state("veh_1").await;
    assert_eq!(state.published.unwrap().statuses.len(), 13);
}

#[tokio::test]
async fn bad_settings_are_refused_with_field_errors_and_change_nothing() {
    let app = App::spawn().await;
    let owner = app.token("org_a", &[Role::Owner]);
    app.vehicle("org_a", "veh_1", OdometerUnit::Mi).await;
    let version = app.version("veh_1").await;
    let path = "/v1/vehicles/veh_1/maintenance/oil_change";

    let (status, content_type, problem) = app
        .put_json(
            &owner,
            path,
            &json!({"intervalMiles": 0, "dueSoonDays": 400}),
        )
        .await;
    assert_eq!(
        (status, content_type.as_str()),
        (422, "application/problem+json")
    );
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["intervalMiles", "dueSoonDays"]);

    for (bad, field) in [
        (json!({"intervalMiles": "lots"}), "intervalMiles"),
        (json!({"intervalMonths": -1}), "intervalMonths"),
        (json!({"mode": "sometimes"}), "mode"),
        (json!({"intervalFurlongs": 3}), "intervalFurlongs"),
        (json!([1, 2]), "body"),
    ] {
        let (status, _, problem) = app.put_json(&owner, path, &bad).await;
        assert_eq!(status, 422, "{bad}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{bad}: {problem}");
    }
    let (status, _, problem) = app
        .put_json(
            &owner,
            path,
            &json!({"intervalMiles": null, "intervalMonths": null}),
        )
        .await;
    assert_eq!(status, 422, "an enabled item needs an interval: {problem}");

    let raw = |body: &'static str, content_type: &'static str| {
        app.http
            .put(format!("{}{path}", app.base))
            .bearer_auth(&owner)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    assert_eq!(
        raw("{\"intervalMiles\": ", "application/json")
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        raw("intervalMiles=5", "text/plain").await.unwrap().status(),
        415
    );
    assert_eq!(app.version("veh_1").await, version, "nothing was written");
}

#[tokio::test]
async fn roles_decide_who_may_configure_and_who_may_sweep() {
    let app = App::spawn().await;
    app.vehicle("org_a", "veh_1", OdometerUnit::Mi).await;
    let path = "/v1/vehicles/veh_1/maintenance/oil_change";
    for role in [Role::Viewer, Role::Technician] {
        let (status, _, _) = app
            .put_json(
                &app.token("org_a", &[role]),
                path,
                &json!({"intervalMiles": 4_000}),
            )
            .await;
        assert_eq!(status, 403, "{role}");
    }
    for role in [Role::Owner, Role::Viewer] {
        assert_eq!(
            app.sweep(&app.token("org_a", &[role])).await.status(),
            403,
            "{role}"
        );
    }
    let no_token = app
        .http
        .post(format!("{}/v1/maintenance/sweep", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    let forged = format!("{}x", app.token("org_a", &[Role::FleetManager]));
    assert_eq!(app.sweep(&forged).await.status(), 401);
}

#[tokio::test]
async fn miles_sent_for_a_km_vehicle_take_effect() {
    let (app, owner, path) =
        App::after_an_oil_change("veh_km", OdometerUnit::Km, at(2025, 2, 1), 60_000).await;
    let (status, _, item) = app
        .put_json(&owner, &path, &json!({"intervalMiles": 3_000}))
        .await;
    assert_eq!(status, 200, "{item}");
    assert_eq!(item["intervalMiles"], 3_000);
    assert_eq!(item.get("intervalKm"), None);
    assert_eq!(item["dueOdometer"], 60_000 + 4_828);
}

#[tokio::test]
async fn a_fleet_manager_sweeps_their_organisation_and_a_second_sweep_sends_nothing() {
    let app = App::spawn().await;
    let manager = app.token("org_a", &[Role::FleetManager]);
    app.vehicle("org_a", "veh_1", OdometerUnit::Mi).await;
    app.vehicle("org_a", "veh_2", OdometerUnit::Km).await;
    app.vehicle("org_b", "veh_3", OdometerUnit::Mi).await;
    drain_outbox(app.t.store.as_ref()).await;

    // Registered (and evaluated) on 1 March with nothing due for months: the sweep skips them until
    // their wake day, at the latest 90 days on (`MAX_DAYS_ASLEEP`), so on 1 June it evaluates both.
    let (status, _, early) = body(app.sweep(&manager).await).await;
    assert_eq!(status, 200, "{early}");
    assert_eq!(
        (early["day"].as_str(), early["vehicles"].as_u64()),
        (Some("2025-03-01"), Some(0))
    );
    app.clock.set(at(2025, 6, 1));
    let (status, _, report) = body(app.sweep(&manager).await).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["orgId"], "org_a");
    assert_eq!(report["day"], "2025-06-01");
    assert_eq!(
        (report["vehicles"].as_u64(), report["items"].as_u64()),
        (Some(2), Some(24))
    );
    let (status, _, again) = body(app.sweep(&manager).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        (again["changed"].as_u64(), again["reminders"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(
        drain_outbox(app.t.store.as_ref())
            .await
            .iter()
            .all(|e| e.org_id == "org_a")
    );
    assert_eq!(
        app.t.store.last_day(&"org_a".into()).await.unwrap(),
        Some(day(2025, 6, 1))
    );
    assert_eq!(app.t.store.last_day(&"org_b".into()).await.unwrap(), None);
}
