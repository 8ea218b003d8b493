//! The in-process bus delivers each consumer its share of a published batch as one delivery batch: on a
//! SQLite store its effects are one writer transaction; a poison event is retried and dead-lettered alone,
//! the rest of its batch applied; a batch delivered again applies nothing twice.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::params;
use vwc_bus::inproc::{InProcessBus, RetryPolicy};
use vwc_bus::{Bus, Consumer, DeadLetterStore, HandleError};
use vwc_contracts::maintenance::MaintenanceScheduleUpdated;
use vwc_contracts::{Envelope, EventType, Routes};
use vwc_store::sqlite::claim_inbox;
use vwc_store::{SqliteDb, StoreError};

const CONSUMER: &str = "recorder";
const TABLE: &str = "CREATE TABLE applied (event_id TEXT PRIMARY KEY, vehicle_id TEXT NOT NULL);";

/// Claims each envelope in its inbox and records it, in one write; fails every time on the poison ids.
struct Recorder {
    db: SqliteDb,
    poison: HashSet<String>,
    handled: Mutex<usize>,
}

#[async_trait]
impl Consumer for Recorder {
    fn name(&self) -> &str {
        CONSUMER
    }

    fn consumes(&self) -> &'static [EventType] {
        &[EventType::MaintenanceScheduleUpdated]
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        *self.handled.lock().unwrap() += 1;
        let id = envelope.id.to_string();
        let poison = self.poison.contains(&id);
        let vehicle = envelope.vehicle_id.as_ref().map(|v| v.to_string());
        self.db
            .write(move |conn| {
                if !claim_inbox(conn, CONSUMER, &id)? {
                    return Ok(());
                }
                conn.execute(
                    "INSERT INTO applied (event_id, vehicle_id) VALUES (?1, ?2)",
                    params![id, vehicle],
                )?;
                if poison {
                    return Err(StoreError::Other("this event is poison".into()));
                }
                Ok(())
            })
            .await
            .map_err(HandleError::failed)
    }
}

fn envelope(n: usize) -> Envelope {
    Envelope::new(
        "vwc.test",
        "org_1",
        Some(&format!("veh_{}", n % 7)),
        None,
        MaintenanceScheduleUpdated {
            vehicle_id: format!("veh_{}", n % 7),
            items: Vec::new(),
            odometer: None,
            evaluated_at: vwc_clock::now(),
            evaluated_on: None,
            unit: None,
        },
    )
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    db: SqliteDb,
    bus: InProcessBus,
    recorder: Arc<Recorder>,
}

fn fixture(poison: &[&Envelope]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recorder.db");
    let db = SqliteDb::open(&path, &[TABLE]).unwrap();
    let routes = Routes {
        consumers: BTreeMap::from([(
            CONSUMER.to_string(),
            vec![EventType::MaintenanceScheduleUpdated],
        )]),
    };
    let policy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    };
    let bus = InProcessBus::new(routes, policy);
    let recorder = Arc::new(Recorder {
        db: db.clone(),
        poison: poison.iter().map(|e| e.id.to_string()).collect(),
        handled: Mutex::new(0),
    });
    bus.register(recorder.clone(), Arc::new(db.clone()));
    Fixture {
        _dir: dir,
        path,
        db,
        bus,
        recorder,
    }
}

impl Fixture {
    /// The event ids recorded and claimed, read by a connection of its own.
    fn applied(&self) -> (Vec<String>, usize) {
        let conn = rusqlite::Connection::open(&self.path).unwrap();
        let mut stmt = conn
            .prepare("SELECT event_id FROM applied ORDER BY event_id")
            .unwrap();
        let ids = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<Vec<String>, _>>()
            .unwrap();
        let claimed: i64 = conn
            .query_row("SELECT count(*) FROM inbox", [], |r| r.get(0))
            .unwrap();
        (ids, claimed as usize)
    }
}

fn ids(envelopes: &[Envelope]) -> Vec<String> {
    let mut ids: Vec<String> = envelopes.iter().map(|e| e.id.to_string()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_published_batch_is_applied_in_one_writer_transaction() {
    let envelopes: Vec<Envelope> = (0..60).map(envelope).collect();
    let f = fixture(&[]);
    let before = f.db.writer_jobs();
    f.bus.publish(&envelopes).await.unwrap();
    assert_eq!(
        f.db.writer_jobs() - before,
        1,
        "60 events, one writer job: one transaction"
    );
    assert_eq!(f.applied(), (ids(&envelopes), 60));
    assert_eq!(*f.recorder.handled.lock().unwrap(), 60);
}

#[tokio::test]
async fn a_poison_event_is_retried_and_dead_lettered_alone_and_the_rest_of_its_batch_applied() {
    let envelopes: Vec<Envelope> = (0..20).map(envelope).collect();
    let poison = &envelopes[7];
    let f = fixture(&[poison]);
    // Dead-lettered counts as handled: the publish is accepted.
    f.bus.publish(&envelopes).await.unwrap();
    let mut others = envelopes.clone();
    others.remove(7);
    assert_eq!(f.applied(), (ids(&others), 19), "nothing of the poison");
    let dead = f.db.list_dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].envelope.id, poison.id);
    assert_eq!(dead[0].consumer, CONSUMER);
    assert_eq!(dead[0].attempts, 3, "its own attempts, as without batches");
    // Handled 19 + 19 times (its batch, rolled back by the poison, then each alone) and the poison 3 times:
    // the batch's try counts as one of the poison's attempts.
    assert_eq!(*f.recorder.handled.lock().unwrap(), 19 * 2 + 3);
    assert!(dead[0].error.contains("poison"), "{}", dead[0].error);
}

#[tokio::test]
async fn a_batch_delivered_again_applies_nothing_twice() {
    let envelopes: Vec<Envelope> = (0..30).map(envelope).collect();
    let f = fixture(&[]);
    f.bus.publish(&envelopes).await.unwrap();
    // At least once: the relay resends after a crash, and the resent rows may come with new ones.
    let mut again = envelopes.clone();
    again.extend((30..35).map(envelope));
    f.bus.publish(&again).await.unwrap();
    assert_eq!(f.applied(), (ids(&again), 35));
}

/// A consumer's own error around the store's, as the services wrap it.
#[derive(Debug, thiserror::Error)]
enum ProjectionError {
    #[error("projecting failed")]
    Store(#[source] StoreError),
}

/// Fails with the error SQLite gives on a full disk while `full` is set.
struct FullDisk {
    full: std::sync::atomic::AtomicBool,
    applied: Mutex<Vec<String>>,
}

#[async_trait]
impl Consumer for FullDisk {
    fn name(&self) -> &str {
        CONSUMER
    }

    fn consumes(&self) -> &'static [EventType] {
        &[EventType::MaintenanceScheduleUpdated]
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        if self.full.load(std::sync::atomic::Ordering::SeqCst) {
            let full = rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                Some("database or disk is full".into()),
            );
            return Err(HandleError::failed(ProjectionError::Store(full.into())));
        }
        self.applied.lock().unwrap().push(envelope.id.to_string());
        Ok(())
    }
}

/// A consumer whose store cannot take writes (a full disk) is not handed a dead letter it would need
/// replaying by hand once the disk has room: the delivery fails, so the outbox sends the event again, and
/// then it applies. A poison event is still dead-lettered (the test above).
#[tokio::test]
async fn an_event_a_full_disk_refuses_is_not_dead_lettered_and_applies_when_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    let dead_letters = SqliteDb::open(&dir.path().join("dead.db"), &[]).unwrap();
    let policy = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    };
    let routes = Routes {
        consumers: BTreeMap::from([(
            CONSUMER.to_string(),
            vec![EventType::MaintenanceScheduleUpdated],
        )]),
    };
    let bus = InProcessBus::new(routes, policy);
    let consumer = Arc::new(FullDisk {
        full: true.into(),
        applied: Mutex::new(Vec::new()),
    });
    bus.register(consumer.clone(), Arc::new(dead_letters.clone()));
    let event = envelope(1);
    let refused = bus.publish(std::slice::from_ref(&event)).await;
    assert!(
        refused.is_err(),
        "a delivery the store refused is not acknowledged"
    );
    assert!(dead_letters.list_dead_letters().await.unwrap().is_empty());
    consumer
        .full
        .store(false, std::sync::atomic::Ordering::SeqCst);
    bus.publish(std::slice::from_ref(&event)).await.unwrap();
    assert_eq!(*consumer.applied.lock().unwrap(), [event.id.to_string()]);
}
