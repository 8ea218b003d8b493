//! Fault injection (issue 12, "keep them closed"): `kill -9` in the middle of a concurrent signed-webhook
//! burst, a bus that stops accepting mid-run, and a store that cannot write. After each, every
//! acknowledged write is stored exactly once and every event is projected exactly once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use vwc_auth::Role;
use vwc_testkit::process::{Api, start_vwc_up, vwc_token};
use vwc_testkit::{eventually, vin};
use vwc_webhook::{WebhookSecret, sign};

use super::common;
use common::{post, spawn_with_vehicle, stored_events};

fn record(vin: &str, i: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({"type": "service_record", "vin": vin,
        "occurredAt": "2026-02-01T09:00:00Z", "odometer": 1000 + i, "totalCents": 100, "currency": "USD",
        "reference": format!("RO-{i}"),
        "lines": [{"description": "Oil change", "task": "oil_change", "amountCents": 100}]}))
    .unwrap()
}

/// Sends webhook `i` signed now; `None` when no answer came back (the server died under it).
async fn send_webhook(
    http: &reqwest::Client,
    base: &str,
    dealer: &str,
    secret: &WebhookSecret,
    vin: &str,
    i: usize,
) -> Option<(u16, Value)> {
    let id = format!("msg_burst_{i}");
    let raw = record(vin, i);
    let now = vwc_clock::now().timestamp();
    let r = http
        .post(format!("{base}/webhooks/dealers/{dealer}"))
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", sign(secret, &id, now, &raw))
        .body(raw)
        .send()
        .await
        .ok()?;
    let status = r.status().as_u16();
    Some((status, r.json().await.ok()?))
}

async fn timeline(http: &reqwest::Client, base: &str, token: &str, vehicle: &str) -> Vec<Value> {
    let r = http
        .get(format!("{base}/v1/vehicles/{vehicle}/events?limit=200"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let page: Value = r.json().await.unwrap();
    page["items"].as_array().cloned().unwrap_or_default()
}

const BURST: usize = 120;

#[tokio::test]
async fn kill_9_during_a_webhook_burst_then_resending_everything_stores_and_projects_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (mut child, base) = start_vwc_up(env!("CARGO_BIN_EXE_vwc"), dir.path());
    let token = vwc_token(
        env!("CARGO_BIN_EXE_vwc"),
        dir.path(),
        "org_a",
        &["owner", "fleet_manager"],
    );
    let api = Api::new(&base, &token);
    let car = vin(7);
    let mazda = json!({"vin": car, "year": 2019, "make": "Mazda", "model": "3"});
    let vehicle = api.post("/v1/vehicles", &mazda).await;
    let vehicle = vehicle["id"].as_str().unwrap().to_string();
    let dealer = json!({"name": "Main St Auto"});
    let dealer = api.post("/v1/dealers", &dealer).await;
    let dealer_id = dealer["dealerId"].as_str().unwrap().to_string();
    let secret = WebhookSecret::parse(dealer["webhookSecret"].as_str().unwrap()).unwrap();

    // Eight senders; the process is killed once a third of the burst has been acknowledged.
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let acks = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    for worker in 0..8 {
        let (http, base, dealer_id, secret, car) = (
            http.clone(),
            base.clone(),
            dealer_id.clone(),
            secret.clone(),
            car.clone(),
        );
        let (acknowledged, acks) = (acknowledged.clone(), acks.clone());
        senders.push(tokio::spawn(async move {
            for i in (worker..BURST).step_by(8) {
                match send_webhook(&http, &base, &dealer_id, &secret, &car, i).await {
                    Some((200, _)) => {
                        acknowledged.lock().unwrap().insert(i);
                        acks.fetch_add(1, Ordering::SeqCst);
                    }
                    Some((status, answer)) => panic!("webhook {i}: {status} {answer}"),
                    None => return,
                }
            }
        }));
    }
    eventually("a third acknowledged", Duration::from_secs(30), || {
        let n = acks.load(Ordering::SeqCst);
        async move { (n >= BURST / 3).then_some(()) }
    })
    .await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for s in senders {
        s.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= BURST / 3);
    eprintln!(
        "kill -9 with {} of {BURST} webhooks acknowledged",
        acknowledged.len()
    );

    // After the restart, every webhook is sent again: the acknowledged ones are duplicates.
    let (mut child, base) = start_vwc_up(env!("CARGO_BIN_EXE_vwc"), dir.path());
    for i in 0..BURST {
        let (status, answer) = send_webhook(&http, &base, &dealer_id, &secret, &car, i)
            .await
            .expect("an answer");
        assert_eq!(status, 200, "{i}: {answer}");
        if acknowledged.contains(&i) {
            assert_eq!(
                answer["status"], "duplicate",
                "{i} was acknowledged before the kill"
            );
        } else {
            assert!(
                answer["status"] == "recorded" || answer["status"] == "duplicate",
                "{i}: {answer}"
            );
        }
    }
    let items = eventually(
        "every webhook projected",
        Duration::from_secs(30),
        || async {
            let items = timeline(&http, &base, &token, &vehicle).await;
            (items.len() >= BURST).then_some(items)
        },
    )
    .await;
    // Settle, then check nothing was projected twice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let items = {
        let again = timeline(&http, &base, &token, &vehicle).await;
        assert_eq!(again.len(), items.len());
        again
    };
    assert_eq!(items.len(), BURST, "one timeline event per webhook");
    let ids: HashSet<_> = items.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), BURST);
    child.kill().unwrap();
    child.wait().unwrap();
    let stored: i64 = rusqlite::Connection::open(dir.path().join("ingestion.db"))
        .unwrap()
        .query_row(
            "SELECT count(*) FROM vehicle_events WHERE vehicle_id = ?1",
            [&vehicle],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, BURST as i64, "each webhook stored once");
}

#[tokio::test]
async fn writes_acknowledged_while_the_bus_refuses_are_projected_once_when_it_is_back() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 8).await;
    app.timeline_of_len(&token, &vehicle, 0).await;
    let mut recorded = Vec::new();
    for i in 0..30u64 {
        if i == 10 {
            app.system().bus.set_available(false);
        }
        recorded.push(
            app.record_odometer(&token, &vehicle, 30 - i as i64, 1000 + i)
                .await,
        );
    }
    // Some were published before the outage; the rest wait in the outbox.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = app.timeline_of_len_at_most(&token, &vehicle, 30).await;
    assert!(during < 30, "the outage held events back ({during})");
    app.system().bus.set_available(true);
    let items = app.timeline_of_len(&token, &vehicle, 30).await;
    let ids: HashSet<_> = items
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, recorded.into_iter().collect::<HashSet<_>>());
    app.stop().await;
}

#[tokio::test]
async fn a_write_the_store_cannot_make_is_an_error_that_changes_nothing() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 9).await;
    app.timeline_of_len(&token, &vehicle, 0).await;
    let lock = rusqlite::Connection::open(app.data_dir.path().join("ingestion.db")).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let path = format!("/v1/vehicles/{vehicle}/events");
    let event =
        json!({"kind": "odometer_reading", "occurredAt": "2026-01-01T00:00:00Z", "odometer": 5});
    let (status, content_type, problem) = post(&app, &token, &path, &event).await;
    assert!(status >= 500, "{status} {problem}");
    assert_eq!(content_type, "application/problem+json");
    lock.execute_batch("ROLLBACK").unwrap();
    assert_eq!(stored_events(&app, "org_a", &vehicle).await, 0);
    let (status, _, _) = post(&app, &token, &path, &event).await;
    assert_eq!(status, 201);
    app.timeline_of_len(&token, &vehicle, 1).await;
    app.stop().await;
}

/// A slow consumer: the edge's store is held by another writer for a few seconds (inside SQLite's busy
/// timeout), so its consumer stalls. Ingest does not wait for it, the timeline serves what it had, and once
/// the store is free again every acknowledged write is projected exactly once.
#[tokio::test]
async fn a_stalled_consumer_delays_nothing_else_and_catches_up_exactly_once() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 10).await;
    let mut recorded = vec![app.record_odometer(&token, &vehicle, 40, 100).await];
    app.timeline_of_len(&token, &vehicle, 1).await;

    let edge = rusqlite::Connection::open(app.data_dir.path().join("edge.db")).unwrap();
    edge.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let started = std::time::Instant::now();
    for i in 1..20u64 {
        recorded.push(
            app.record_odometer(&token, &vehicle, 40 - i as i64, 100 + i)
                .await,
        );
    }
    let ingest = started.elapsed();
    assert!(
        ingest < Duration::from_secs(3),
        "ingest waited for the stalled consumer: 19 writes took {ingest:?}"
    );
    assert_eq!(
        app.timeline_of_len_at_most(&token, &vehicle, 20).await,
        1,
        "the stalled consumer projected nothing, and the timeline still answers"
    );
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(started.elapsed())).await;
    edge.execute_batch("ROLLBACK").unwrap();

    let items = app.timeline_of_len(&token, &vehicle, 20).await;
    let mut ids: Vec<String> = items
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    recorded.sort();
    assert_eq!(ids, recorded, "each acknowledged write once, nothing else");
    let v = app.get_ok(&token, &format!("/v1/vehicles/{vehicle}")).await;
    assert_eq!(v["eventCount"], 20, "{v}");
    app.stop().await;
}
