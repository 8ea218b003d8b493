//! Helpers the integration tests share: requests the `TestApp` has no method for, the demo seed, the
//! `vwc` binary, and the checks many tests make of a problem or of the ingestion store. Each test crate
//! uses a part of them.
#![allow(dead_code)]

use std::ffi::OsStr;

use reqwest::Method;
use serde_json::{Value, json};
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::json as body;

/// The instant `n` days before now, on the shared clock.
pub fn days_ago(n: i64) -> chrono::DateTime<chrono::Utc> {
    vwc_clock::now() - chrono::Duration::days(n)
}

/// Records `event` on `vehicle`, asserting 201; the new event's id.
pub async fn record(app: &TestApp, token: &str, vehicle: &str, event: Value) -> String {
    let (status, _, created) = body(
        app.post(token, &format!("/v1/vehicles/{vehicle}/events"), &event)
            .await,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    created["event"]["id"].as_str().unwrap().to_string()
}

/// A bearer-authenticated request with an optional JSON body; status, content type and JSON body.
pub async fn send(
    app: &TestApp,
    method: Method,
    token: &str,
    path: &str,
    json: Option<&Value>,
) -> (u16, String, Value) {
    let mut request = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(json) = json {
        request = request.json(json);
    }
    body(request.send().await.expect("request")).await
}

pub async fn post(app: &TestApp, token: &str, path: &str, json: &Value) -> (u16, String, Value) {
    send(app, Method::POST, token, path, Some(json)).await
}

pub async fn patch(app: &TestApp, token: &str, path: &str, json: &Value) -> (u16, String, Value) {
    send(app, Method::PATCH, token, path, Some(json)).await
}

pub async fn put(app: &TestApp, token: &str, path: &str, json: &Value) -> (u16, String, Value) {
    send(app, Method::PUT, token, path, Some(json)).await
}

pub async fn delete(app: &TestApp, token: &str, path: &str) -> (u16, String, Value) {
    send(app, Method::DELETE, token, path, None).await
}

/// A bearer-authenticated request whose body is sent as it is, under `content_type` (for bodies that
/// are not JSON, or not the JSON they claim to be).
pub async fn send_raw(
    app: &TestApp,
    method: Method,
    token: &str,
    path: &str,
    content_type: &str,
    raw: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.http
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(raw)
        .send()
        .await
        .expect("request")
}

/// Whether a validation problem names `field` among its errors.
pub fn names_field(problem: &Value, field: &str) -> bool {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["field"] == field)
}

/// How many events the ingestion store holds for `vehicle` of `org` (what a refused write must not
/// have changed).
pub async fn stored_events(app: &TestApp, org: &str, vehicle: &str) -> u64 {
    app.system()
        .stores
        .ingestion
        .count_events(&vwc_store::VehicleRef::new(org, vehicle))
        .await
        .unwrap()
}

/// Loads the demo seed into the app's system; its report.
pub async fn load_demo(app: &TestApp) -> vwc::seed::SeedReport {
    let system = app.system();
    vwc::seed::load(&system.router, &system.keys, &vwc::seed::demo())
        .await
        .expect("the demo seed loads")
}

/// Loads the demo seed; a token of `org_demo` with `roles` and the demo RAV4's id.
pub async fn demo_rav4(app: &TestApp, roles: &[Role]) -> (String, String) {
    load_demo(app).await;
    let token = app.token("org_demo", roles);
    let rav4 = demo_rav4_id(app, &token).await;
    (token, rav4)
}

/// The id of the demo seed's RAV4, as the vehicle list shows it to `token` — once every event written so far
/// is projected (the list is the edge's read model: read at once after the seed, it could still miss the RAV4).
pub async fn demo_rav4_id(app: &TestApp, token: &str) -> String {
    app.settle().await;
    let vehicles = app.get_ok(token, "/v1/vehicles").await;
    vehicles["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["model"] == "RAV4")
        .expect("the demo RAV4")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Runs the `vwc` binary (without a `VWC_DATA_DIR` from the environment); what it wrote and how it ended.
pub fn vwc_output<I, S>(args: I) -> std::process::Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    std::process::Command::new(env!("CARGO_BIN_EXE_vwc"))
        .args(args)
        .env_remove("VWC_DATA_DIR")
        .output()
        .expect("vwc runs")
}

/// [`vwc_output`], asserting the command succeeds; its standard output.
pub fn vwc<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let out = vwc_output(&args);
    assert!(
        out.status.success(),
        "vwc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// [`vwc`] for the commands that report in JSON.
pub fn vwc_json<I, S>(args: I) -> Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = vwc(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// A bus name no other test uses.
pub fn unique_bus() -> String {
    format!("vwc-t{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// `vwc aws bootstrap` through the CLI, as an operator runs it; its JSON report.
pub fn bootstrap(endpoint: &str, bus_name: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "aws",
        "bootstrap",
        "--endpoint",
        endpoint,
        "--bus-name",
        bus_name,
    ];
    args.extend_from_slice(extra);
    vwc_json(args)
}

/// Asks the vehicle's chat for a JSON answer (in `conversation`, when given), asserting 200; the answer.
pub async fn ask(
    app: &TestApp,
    token: &str,
    vehicle: &str,
    question: &str,
    conversation: Option<&str>,
) -> Value {
    let mut request = json!({"question": question});
    if let Some(c) = conversation {
        request["conversationId"] = json!(c);
    }
    let (status, _, answer) =
        body(chat(app, token, vehicle, Some("application/json"), &request).await).await;
    assert_eq!(status, 200, "{question}: {answer}");
    answer
}

/// POSTs `request` to the vehicle's chat, with an `Accept` header when given (without one the answer
/// streams as server-sent events); the response as it came.
pub async fn chat(
    app: &TestApp,
    token: &str,
    vehicle: &str,
    accept: Option<&str>,
    request: &Value,
) -> reqwest::Response {
    let mut post = app
        .http
        .post(app.url(&format!("/v1/vehicles/{vehicle}/chat")))
        .bearer_auth(token)
        .json(request);
    if let Some(accept) = accept {
        post = post.header("accept", accept);
    }
    post.send().await.expect("request")
}

/// A fresh app and a token of `org_a` with `roles` (the start of most tests).
pub async fn spawn_as(roles: &[Role]) -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let token = app.token("org_a", roles);
    (app, token)
}

/// Posts a whole registration to `/v1/vehicles`; the status and the vehicle (or the problem).
pub async fn register(app: &TestApp, token: &str, registration: &Value) -> (u16, Value) {
    let (status, _, answer) = post(app, token, "/v1/vehicles", registration).await;
    (status, answer)
}

/// [`register`], asserting 201; the vehicle as registered.
pub async fn registered(app: &TestApp, token: &str, registration: &Value) -> Value {
    let (status, vehicle) = register(app, token, registration).await;
    assert_eq!(status, 201, "{vehicle}");
    vehicle
}

/// [`spawn_as`] with a vehicle registered (VIN [`vwc_testkit::vin`]`(n)`); the app, the token and the
/// vehicle's id.
pub async fn spawn_with_vehicle(roles: &[Role], n: u32) -> (TestApp, String, String) {
    let (app, token) = spawn_as(roles).await;
    let vehicle = app.register(&token, &vwc_testkit::vin(n)).await;
    (app, token, vehicle)
}

/// A bearer-authenticated GET; status, content type and JSON body (whatever the status).
pub async fn get(app: &TestApp, token: &str, path: &str) -> (u16, String, Value) {
    body(app.get(token, path).await).await
}

/// The string `field` of each item of a JSON array, in order.
pub fn pluck(items: &Value, field: &str) -> Vec<String> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("an array: {items}"))
        .iter()
        .map(|item| item[field].as_str().unwrap().to_string())
        .collect()
}

/// GETs `path` until it answers 200 with a body `pick` takes something from (for at most 30 s: what
/// consumers project arrives a little after the write); that thing. `what` names it in the timeout panic.
pub async fn poll_get<T>(
    app: &TestApp,
    token: &str,
    path: &str,
    what: &str,
    pick: impl Fn(Value) -> Option<T>,
) -> T {
    poll_get_within(
        app,
        token,
        path,
        what,
        std::time::Duration::from_secs(30),
        pick,
    )
    .await
}

/// [`poll_get`] for at most `timeout` (a catch-up after an outage takes longer than a projection).
pub async fn poll_get_within<T>(
    app: &TestApp,
    token: &str,
    path: &str,
    what: &str,
    timeout: std::time::Duration,
    pick: impl Fn(Value) -> Option<T>,
) -> T {
    vwc_testkit::eventually(what, timeout, || async {
        let (status, _, answer) = get(app, token, path).await;
        if status != 200 {
            return None; // the read model has not seen the write yet
        }
        pick(answer)
    })
    .await
}

/// [`record`]s each event on `vehicle` in order; their ids.
pub async fn record_each<const N: usize>(
    app: &TestApp,
    token: &str,
    vehicle: &str,
    events: [Value; N],
) -> [String; N] {
    let mut ids = Vec::with_capacity(N);
    for event in events {
        ids.push(record(app, token, vehicle, event).await);
    }
    ids.try_into().expect("one id per event")
}

/// Whether a problem's `detail` mentions `text`.
pub fn detail_mentions(problem: &Value, text: &str) -> bool {
    problem["detail"]
        .as_str()
        .is_some_and(|detail| detail.contains(text))
}

/// A fresh bus bootstrapped on the AWS emulator through the CLI with `extra` flags: the endpoint, the bus
/// name and the bootstrap report. `None` without an emulator (the caller skips; `what` says what the
/// skipped tests cover).
pub fn bootstrapped(what: &str, extra: &[&str]) -> Option<(String, String, Value)> {
    let endpoint = vwc_testkit::aws::aws_endpoint(what)?;
    let bus_name = unique_bus();
    let report = bootstrap(&endpoint, &bus_name, extra);
    Some((endpoint, bus_name, report))
}

/// The item of the JSON array `items` whose `id` is `id` (panics, showing the array, when none is).
pub fn item_with_id<'a>(items: &'a Value, id: &str) -> &'a Value {
    items
        .as_array()
        .unwrap_or_else(|| panic!("an array: {items}"))
        .iter()
        .find(|item| item["id"] == id)
        .unwrap_or_else(|| panic!("no item {id} in {items}"))
}
