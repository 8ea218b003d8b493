//! An acknowledged write survives `kill -9` of `vwc up`, is stored once, and reaches the projection.

use std::time::Duration;

use serde_json::json;
use vwc_testkit::process::{get_json, post_json, start_vwc_up, vwc_token};
use vwc_testkit::{eventually, vin};

#[tokio::test]
async fn a_write_acknowledged_before_kill_9_is_stored_once_and_projected_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (mut child, base) = start_vwc_up(env!("CARGO_BIN_EXE_vwc"), dir.path());
    let token = vwc_token(env!("CARGO_BIN_EXE_vwc"), dir.path(), "org_a", &["owner"]);
    let vehicle = post_json(
        &http,
        &base,
        &token,
        "/v1/vehicles",
        &json!({"vin": vin(1), "year": 2019, "make": "Mazda", "model": "3"}),
    )
    .await;
    let vehicle = vehicle["id"].as_str().unwrap().to_string();
    let created = post_json(
        &http,
        &base,
        &token,
        &format!("/v1/vehicles/{vehicle}/events"),
        &json!({"kind": "odometer_reading", "occurredAt": "2026-01-01T00:00:00Z", "odometer": 777}),
    )
    .await;
    child.kill().unwrap(); // SIGKILL: no shutdown hooks, no flush.
    child.wait().unwrap();

    let (mut child, base) = start_vwc_up(env!("CARGO_BIN_EXE_vwc"), dir.path());
    let items = eventually(
        "the event in the projection after restart",
        Duration::from_secs(15),
        || {
            let (http, base, token, vehicle) = (&http, &base, &token, &vehicle);
            async move {
                let path = format!("/v1/vehicles/{vehicle}/events");
                let v = get_json(http, base, token, &path).await?;
                let items = v["items"].as_array()?.clone();
                (!items.is_empty()).then_some(items)
            }
        },
    )
    .await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], created["event"]["id"]);
    child.kill().unwrap();
    child.wait().unwrap();
    // Stored once in ingestion's own database.
    let conn = rusqlite::Connection::open(dir.path().join("ingestion.db")).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM vehicle_events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}
