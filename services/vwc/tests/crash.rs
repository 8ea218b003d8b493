//! An acknowledged write survives `kill -9` of `vwc up`, is stored once, and reaches the projection.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use vwc_testkit::{eventually, json as body, vin};

fn start(data_dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vwc"))
        .args(["up", "--no-seed", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("vwc starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("vwc printed its URL").unwrap();
        if let Some(rest) = line.strip_prefix("Dashboard: ") {
            break rest.trim_end_matches('/').to_string();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

fn token(data_dir: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vwc"))
        .args([
            "token",
            "--org",
            "org_a",
            "--sub",
            "u1",
            "--role",
            "owner",
            "--data-dir",
        ])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn a_write_acknowledged_before_kill_9_is_stored_once_and_projected_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (mut child, base) = start(dir.path());
    let token = token(dir.path());
    let (status, _, vehicle) = body(
        http.post(format!("{base}/v1/vehicles"))
            .bearer_auth(&token)
            .json(&json!({"vin": vin(1), "year": 2019, "make": "Mazda", "model": "3"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    let vehicle = vehicle["id"].as_str().unwrap().to_string();
    let (status, _, created) = body(
        http.post(format!("{base}/v1/vehicles/{vehicle}/events"))
            .bearer_auth(&token)
            .json(&json!({"kind": "odometer_reading", "occurredAt": "2026-01-01T00:00:00Z", "odometer": 777}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    child.kill().unwrap(); // SIGKILL: no shutdown hooks, no flush.
    child.wait().unwrap();

    let (mut child, base) = start(dir.path());
    let items = eventually(
        "the event in the projection after restart",
        Duration::from_secs(15),
        || {
            let (http, base, token, vehicle) = (&http, &base, &token, &vehicle);
            async move {
                let r = http
                    .get(format!("{base}/v1/vehicles/{vehicle}/events"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .ok()?;
                if r.status() != 200 {
                    return None;
                }
                let v: serde_json::Value = r.json().await.ok()?;
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
