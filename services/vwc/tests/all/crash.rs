//! An acknowledged write survives `kill -9` of `vwc up`, is stored once, and reaches the projection.

use std::time::Duration;

use serde_json::json;
use vwc_testkit::process::{Api, start_vwc_up, vwc_token};
use vwc_testkit::vin;

#[tokio::test]
async fn a_write_acknowledged_before_kill_9_is_stored_once_and_projected_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = start_vwc_up(env!("CARGO_BIN_EXE_vwc"), dir.path());
    let token = vwc_token(env!("CARGO_BIN_EXE_vwc"), dir.path(), "org_a", &["owner"]);
    let api = Api::new(&base, &token);
    let mazda = json!({"vin": vin(1), "year": 2019, "make": "Mazda", "model": "3"});
    let vehicle = api.post("/v1/vehicles", &mazda).await;
    let vehicle = vehicle["id"].as_str().unwrap().to_string();
    let events = format!("/v1/vehicles/{vehicle}/events");
    let reading =
        json!({"kind": "odometer_reading", "occurredAt": "2026-01-01T00:00:00Z", "odometer": 777});
    let created = api.post(&events, &reading).await;
    child.kill().unwrap(); // SIGKILL: no shutdown hooks, no flush.
    child.wait().unwrap();

    let (mut child, base) = start_vwc_up(env!("CARGO_BIN_EXE_vwc"), dir.path());
    let what = "the event in the projection after restart";
    let items = api
        .at(&base)
        .poll(&events, what, Duration::from_secs(15), |v| {
            let items = v["items"].as_array()?.clone();
            (!items.is_empty()).then_some(items)
        })
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
