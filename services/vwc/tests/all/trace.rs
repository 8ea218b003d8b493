//! One trace id from the POST through ingestion and the bus to the edge projection.

use serde_json::json;
use vwc::testing::TestApp;
use vwc_auth::Role;

use super::common;
use common::spawn_with_vehicle;

#[tokio::test]
async fn the_trace_id_of_the_post_reaches_the_edge_projection() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 1).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let r = app
        .http
        .post(app.url(&format!("/v1/vehicles/{vehicle}/events")))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&json!({"kind": "odometer_reading", "occurredAt": "2026-01-01T00:00:00Z", "odometer": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let echoed = r.headers()["traceparent"].to_str().unwrap().to_string();
    assert!(echoed.starts_with(&format!("00-{trace_id}-")), "{echoed}");
    assert!(
        !echoed.contains("00f067aa0ba902b7"),
        "this hop has its own span id"
    );
    app.timeline_of_len(&token, &vehicle, 1).await;

    // The envelope in ingestion's outbox and the row the edge consumer wrote carry the same trace.
    let dir = app.stop().await;
    let outbox: String = rusqlite::Connection::open(dir.path().join("ingestion.db"))
        .unwrap()
        .query_row(
            "SELECT envelope FROM outbox WHERE envelope LIKE '%VehicleEventRecorded%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let envelope: serde_json::Value = serde_json::from_str(&outbox).unwrap();
    assert!(envelope["traceparent"].as_str().unwrap().contains(trace_id));
    let projected: String = rusqlite::Connection::open(dir.path().join("edge.db"))
        .unwrap()
        .query_row("SELECT traceparent FROM timeline", [], |r| r.get(0))
        .unwrap();
    assert!(projected.contains(trace_id), "{projected}");
}

#[tokio::test]
async fn a_request_without_traceparent_starts_a_new_trace() {
    let app = TestApp::spawn().await;
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    let tp = r.headers()["traceparent"].to_str().unwrap();
    assert!(vwc_telemetry::TraceParent::parse(tp).is_some(), "{tp}");
    app.stop().await;
}
