//! At-least-once delivery with exactly-once effects: duplicates, poison messages, dead letters and
//! replay, and a bus outage while writing.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_bus::{Bus, Consumer, HandleError};
use vwc_contracts::{Envelope, EventType, VehicleEventRecorded};
use vwc_edge::EdgeConsumer;
use vwc_testkit::eventually;

use super::common;
use common::spawn_with_vehicle;

/// The real edge consumer, except that it fails the envelopes named poisonous until they are cured.
struct PoisonedEdge {
    inner: EdgeConsumer,
    poisoned: Mutex<HashSet<Uuid>>,
    attempts: Mutex<Vec<Uuid>>,
}

#[async_trait]
impl Consumer for PoisonedEdge {
    fn name(&self) -> &str {
        vwc_edge::CONSUMER
    }
    fn consumes(&self) -> &'static [EventType] {
        EdgeConsumer::CONSUMES
    }
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        self.attempts.lock().unwrap().push(envelope.id);
        if self.poisoned.lock().unwrap().contains(&envelope.id) {
            return Err(HandleError::Malformed("poisoned for the test".into()));
        }
        self.inner.handle(envelope).await
    }
}

async fn first_event_envelope(app: &TestApp, token: &str, vehicle: &str) -> Envelope {
    let event_id = app.record_odometer(token, vehicle, 3, 1234).await;
    app.timeline_of_len(token, vehicle, 1).await;
    let event: serde_json::Value = app
        .get_ok(token, &format!("/v1/vehicles/{vehicle}/events"))
        .await["items"][0]
        .clone();
    assert_eq!(event["id"], event_id.as_str());
    let event = serde_json::from_value(event).unwrap();
    Envelope::new(
        "vwc.ingestion",
        "org_a",
        Some(vehicle),
        None,
        VehicleEventRecorded { event },
    )
}

#[tokio::test]
async fn a_duplicate_delivery_has_one_effect() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 1).await;
    let envelope = first_event_envelope(&app, &token, &vehicle).await;
    // The same envelope three times, and the same timeline event under a new envelope id (a re-publish).
    let bus = &app.system().bus;
    bus.publish(&[envelope.clone(), envelope.clone()])
        .await
        .unwrap();
    bus.publish(std::slice::from_ref(&envelope)).await.unwrap();
    let mut republished = envelope.clone();
    republished.id = Uuid::now_v7();
    bus.publish(&[republished]).await.unwrap();
    bus.drain().await;
    let v = app.get_ok(&token, &format!("/v1/vehicles/{vehicle}")).await;
    assert_eq!(v["eventCount"], 1);
    app.timeline_of_len(&token, &vehicle, 1).await;
    app.stop().await;
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_while_the_others_go_through_and_replay_delivers_it() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 2).await;
    app.timeline_of_len(&token, &vehicle, 0).await;

    let edge = Arc::new(PoisonedEdge {
        inner: EdgeConsumer::new(app.system().stores.edge.clone()),
        poisoned: Mutex::new(HashSet::new()),
        attempts: Mutex::new(Vec::new()),
    });
    app.system()
        .bus
        .register(edge.clone(), app.system().stores.edge.clone());

    // Pause the bus so the three writes are published together, and poison the second one.
    app.system().bus.set_available(false);
    for (i, odo) in [100, 200, 300].into_iter().enumerate() {
        app.record_odometer(&token, &vehicle, 10 - i as i64, odo)
            .await;
    }
    let pending = app.system().stores.ingestion.pending(10).await.unwrap();
    assert_eq!(pending.len(), 3);
    let poison = pending[1].1.id;
    edge.poisoned.lock().unwrap().insert(poison);
    app.system().bus.set_available(true);

    let items = app.timeline_of_len(&token, &vehicle, 2).await;
    let odometers: Vec<_> = items
        .iter()
        .map(|e| e["odometer"].as_u64().unwrap())
        .collect();
    assert_eq!(odometers, vec![300, 100]);

    let dead = eventually(
        "the poison message in the dead-letter table",
        Duration::from_secs(10),
        || async {
            let list = app.system().stores.edge.list_dead_letters().await.unwrap();
            (!list.is_empty()).then_some(list)
        },
    )
    .await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].envelope.id, poison);
    assert_eq!(dead[0].attempts, 3, "max_attempts in the test policy");
    assert_eq!(
        edge.attempts
            .lock()
            .unwrap()
            .iter()
            .filter(|id| **id == poison)
            .count(),
        3
    );

    // While still poisoned, replay fails and leaves it dead-lettered.
    let (replayed, failed) = vwc::cli::replay(app.system(), None).await.unwrap();
    assert_eq!((replayed, failed), (0, 1));
    // An id that names no dead letter is an error, not "replayed 0".
    let none = vwc::cli::replay(app.system(), Some("edge:999999")).await;
    let err = none.expect_err("no such dead letter").to_string();
    assert!(err.contains("no dead letter edge:999999"), "{err}");
    // Fixed: replay delivers it once and marks it replayed.
    edge.poisoned.lock().unwrap().clear();
    let (replayed, failed) = vwc::cli::replay(app.system(), None).await.unwrap();
    assert_eq!((replayed, failed), (1, 0));
    app.timeline_of_len(&token, &vehicle, 3).await;
    assert!(
        app.system()
            .stores
            .edge
            .list_dead_letters()
            .await
            .unwrap()
            .is_empty()
    );
    let (replayed, _) = vwc::cli::replay(app.system(), None).await.unwrap();
    assert_eq!(replayed, 0, "nothing left to replay");
    app.stop().await;
}

#[tokio::test]
async fn the_dlq_commands_list_and_replay_from_the_data_dir() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 3).await;
    app.timeline_of_len(&token, &vehicle, 0).await;
    // A real poison: an envelope whose data does not match its type.
    let mut bad = vwc_contracts::examples::undecodable(
        EventType::VehicleEventRecorded,
        "vwc.ingestion",
        "org_a",
        Some(&vehicle),
        serde_json::json!({"event": {"nope": 1}}),
    );
    bad.id = Uuid::now_v7();
    let _ = app.system().bus.publish(std::slice::from_ref(&bad)).await;
    eventually("dead letter stored", Duration::from_secs(10), || async {
        (!app
            .system()
            .stores
            .edge
            .list_dead_letters()
            .await
            .unwrap()
            .is_empty())
        .then_some(())
    })
    .await;
    let dir = app.stop().await;
    let vwc = env!("CARGO_BIN_EXE_vwc");
    let out = std::process::Command::new(vwc)
        .args(["dlq", "list", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains(&bad.id.to_string()), "{listing}");
    // Whose it is: the organisation and the vehicle, for the operator deciding what to do with it.
    assert!(
        listing.contains(&format!("\torg=org_a\tvehicle={vehicle}\t")),
        "{listing}"
    );
    // Every consumer of VehicleEventRecorded dead-lettered it, each in its own store.
    for consumer in [
        "edge:",
        "maintenance-scheduler:",
        "valuation:",
        "chat-historian:",
    ] {
        assert!(
            listing.lines().any(|l| l.starts_with(consumer)),
            "{consumer} {listing}"
        );
    }
    // Still malformed: replay reports the failure and exits non-zero; the dead letter stays.
    let out = std::process::Command::new(vwc)
        .args(["dlq", "replay", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("replayed 0, still failing 4"));
}

#[tokio::test]
async fn events_written_while_the_bus_is_down_reach_the_projection_when_it_is_back() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 4).await;
    app.timeline_of_len(&token, &vehicle, 0).await;
    app.system().bus.set_available(false);
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    for i in 0..5 {
        app.record_odometer(&token, &vehicle, 20 - i, 1000 + i as u64)
            .await;
    }
    // The relay keeps trying; nothing reaches the projection while the bus is down.
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.timeline_of_len(&token, &vehicle, 0).await;
    app.system().bus.set_available(true);
    app.timeline_of_len(&token, &vehicle, 5).await;
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

/// The commands that work on data already there refuse a data dir that does not exist (or holds no
/// databases) instead of making an empty one and reporting nothing found.
#[test]
fn commands_on_existing_data_refuse_a_missing_data_dir_and_make_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let missing = parent.path().join("mistyped");
    let empty = parent.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for dir in [&missing, &empty] {
        let dir = dir.to_str().unwrap();
        for args in [
            vec!["dlq", "list", "--data-dir", dir],
            vec!["dlq", "replay", "--data-dir", dir],
            vec!["sweep", "--data-dir", dir],
            vec!["revalue", "--data-dir", dir],
            vec!["chat", "audit", "--org", "org_a", "--data-dir", dir],
            vec![
                "export",
                "--org",
                "org_a",
                "--vehicle",
                "veh_x",
                "--data-dir",
                dir,
            ],
        ] {
            let out = common::vwc_output(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} succeeded");
            assert!(
                stderr.contains(&format!("the data dir {dir} "))
                    && stderr.contains("`vwc up` or `vwc seed` makes one"),
                "{args:?}: {stderr}"
            );
        }
    }
    assert!(!missing.exists(), "a mistyped data dir was created");
    assert_eq!(
        std::fs::read_dir(&empty).unwrap().count(),
        0,
        "files made in an empty dir"
    );
}

/// `vwc seed` returns with everything it caused delivered through every hop: no outbox of the data dir
/// holds an unsent event (the valuation and notification services' own events were left for the next
/// start, so the first command after it — even `vwc import --dry-run` — projected them).
#[test]
fn vwc_seed_leaves_no_event_undelivered() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    common::vwc(["seed", "--data-dir", data]);
    let mut databases = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "db") {
            continue;
        }
        databases += 1;
        let conn = rusqlite::Connection::open(&path).unwrap();
        let unsent: i64 = conn
            .query_row("SELECT count(*) FROM outbox_unsent", [], |r| r.get(0))
            .unwrap();
        assert_eq!(unsent, 0, "{}", path.display());
    }
    assert!(databases >= 6, "{databases} databases");
}
