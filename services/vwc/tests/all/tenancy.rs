//! Another organisation's vehicle is a 404, exactly like one that does not exist.

use serde_json::json;
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::vin;

use super::common;
use common::{get, post, spawn_as};

#[tokio::test]
async fn a_token_of_organisation_b_gets_404_for_organisation_a_vehicle_and_events() {
    let (app, a) = spawn_as(&[Role::FleetManager]).await;
    let b = app.token("org_b", &[Role::FleetManager]);
    let vehicle = app.register(&a, &vin(7)).await;
    app.record_odometer(&a, &vehicle, 1, 100).await;
    app.timeline_of_len(&a, &vehicle, 1).await;

    for path in [
        format!("/v1/vehicles/{vehicle}"),
        format!("/v1/vehicles/{vehicle}/events"),
    ] {
        let (status, ct, problem) = get(&app, &b, &path).await;
        assert_eq!(status, 404, "{path}: {problem}");
        assert_eq!(ct, "application/problem+json");
    }
    let events = format!("/v1/vehicles/{vehicle}/events");
    let reading =
        json!({"kind": "odometer_reading", "occurredAt": "2026-01-01T00:00:00Z", "odometer": 5});
    assert_eq!(post(&app, &b, &events, &reading).await.0, 404);
    let list = app.get_ok(&b, "/v1/vehicles").await;
    assert_eq!(list["items"], json!([]));
    // B's write did not land on A's vehicle.
    app.timeline_of_len(&a, &vehicle, 1).await;
    // The same VIN may be registered in another organisation.
    app.register(&b, &vin(7)).await;
    app.stop().await;
}

#[tokio::test]
async fn a_vin_registered_twice_in_one_organisation_is_a_conflict() {
    let (app, a) = spawn_as(&[Role::Owner]).await;
    app.register(&a, &vin(8)).await;
    let same_vin =
        json!({"vin": vin(8).to_lowercase(), "year": 2020, "make": "Honda", "model": "Accord"});
    let (status, ct, problem) = post(&app, &a, "/v1/vehicles", &same_vin).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(ct, "application/problem+json");
    app.stop().await;
}

#[tokio::test]
async fn missing_or_forged_tokens_are_401_and_insufficient_roles_403() {
    let app = TestApp::spawn().await;
    let r = app.http.get(app.url("/v1/vehicles")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let forged = format!("{}x", app.token("org_a", &[Role::Owner]));
    assert_eq!(app.get(&forged, "/v1/vehicles").await.status(), 401);
    let viewer = app.token("org_a", &[Role::Viewer]);
    let (status, _, _) = post(
        &app,
        &viewer,
        "/v1/vehicles",
        &json!({"vin": vin(9), "year": 2020, "make": "Honda", "model": "Accord"}),
    )
    .await;
    assert_eq!(status, 403);
    app.stop().await;
}
