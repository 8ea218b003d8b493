//! The outbox relay against a real SQLite outbox: an event the bus refuses for good moves to the dead
//! letters and the rows behind it go out; a bus that fails for a while only delays them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use vwc_bus::OutboxRelay;
use vwc_bus::{Bus, BusError, DeadLetterStore};
use vwc_contracts::Envelope;
use vwc_contracts::maintenance::MaintenanceScheduleUpdated;
use vwc_store::{Outbox, SqliteDb};

/// Records what it accepts; refuses whole calls while `failures_left` > 0.
#[derive(Default)]
struct RecordingBus {
    published: Mutex<Vec<Envelope>>,
    failures_left: AtomicUsize,
}

#[async_trait]
impl Bus for RecordingBus {
    async fn publish(&self, envelopes: &[Envelope]) -> Result<(), BusError> {
        if self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(BusError::Unavailable("down for a moment".into()));
        }
        // A real bus fails the whole call on an oversized entry: so must this one, to prove the relay
        // never sends it.
        if envelopes
            .iter()
            .any(|e| vwc_bus::envelope_too_large(e).is_some())
        {
            return Err(BusError::Rejected {
                failed: 1,
                total: envelopes.len(),
                reason: "entry too large".into(),
            });
        }
        self.published.lock().unwrap().extend_from_slice(envelopes);
        Ok(())
    }
}

/// A schedule update whose data is padded to about `data_bytes`.
fn envelope(org: &str, data_bytes: usize) -> Envelope {
    Envelope::new(
        "vwc.test",
        org,
        Some("veh_1"),
        None,
        MaintenanceScheduleUpdated {
            vehicle_id: "x".repeat(data_bytes),
            items: Vec::new(),
            odometer: None,
            evaluated_at: vwc_clock::now(),
            evaluated_on: None,
            unit: None,
        },
    )
}

async fn outbox_with(dir: &std::path::Path, rows: &[Envelope]) -> SqliteDb {
    let db = SqliteDb::open(&dir.join("relay.db"), &[]).unwrap();
    for e in rows {
        let e = e.clone();
        db.write(move |c| vwc_store::sqlite::enqueue(c, &[e]))
            .await
            .unwrap();
    }
    db
}

/// The limit is on the envelope's JSON as serde_json writes it: an envelope of exactly the limit goes out, one
/// byte more is refused.
#[test]
fn the_limit_is_the_length_of_the_envelopes_json() {
    let limit = vwc_contracts::MAX_ENVELOPE_BYTES;
    let mut e = envelope("org_a", 1000);
    let len = serde_json::to_string(&e).unwrap().len();
    let Some(vwc_contracts::Event::MaintenanceScheduleUpdated(schedule)) = e.event().ok() else {
        panic!("a schedule");
    };
    let mut schedule = schedule.clone();
    schedule.vehicle_id = "x".repeat(1000 + limit - len);
    e.payload = vwc_contracts::Payload::Event(schedule.clone().into());
    assert_eq!(serde_json::to_string(&e).unwrap().len(), limit);
    assert_eq!(vwc_bus::envelope_too_large(&e), None);
    schedule.vehicle_id.push('\t'); // written as two bytes
    e.payload = vwc_contracts::Payload::Event(schedule.into());
    let refused = vwc_bus::envelope_too_large(&e).expect("over the limit");
    assert!(
        refused.contains(&format!("{} bytes", limit + 2)),
        "{refused}"
    );
}

#[tokio::test]
async fn an_event_the_bus_refuses_for_good_is_dead_lettered_and_the_rest_go_out() {
    let dir = tempfile::tempdir().unwrap();
    let before = envelope("org_a", 10);
    let huge = envelope("org_a", vwc_contracts::MAX_ENVELOPE_BYTES + 1);
    let after = envelope("org_b", 10);
    let db = outbox_with(dir.path(), &[before.clone(), huge.clone(), after.clone()]).await;
    let bus = Arc::new(RecordingBus::default());
    let relay = OutboxRelay::new("scheduler", Arc::new(db.clone()), bus.clone());

    assert_eq!(relay.flush().await.unwrap(), 2);
    let ids: Vec<_> = bus.published.lock().unwrap().iter().map(|e| e.id).collect();
    assert_eq!(ids, [before.id, after.id]);
    assert!(db.pending(10).await.unwrap().is_empty());
    assert_eq!(relay.dead_lettered(), 1);
    let letters = db.list_dead_letters().await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].envelope.id, huge.id);
    assert_eq!(letters[0].consumer, "scheduler-outbox");
    assert!(vwc_bus::relay::is_relay_dead_letter(&letters[0].consumer));
    assert!(letters[0].error.contains("bytes"), "{}", letters[0].error);
}

#[tokio::test]
async fn the_running_relay_goes_past_a_refused_event_and_retries_transient_failures() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = vec![envelope("org_a", vwc_contracts::MAX_ENVELOPE_BYTES + 10)];
    rows.extend((0..5).map(|i| envelope(&format!("org_{i}"), 10)));
    let db = outbox_with(dir.path(), &rows).await;
    let bus = Arc::new(RecordingBus::default());
    bus.failures_left.store(3, Ordering::SeqCst);
    let relay = Arc::new(
        OutboxRelay::new("ingestion", Arc::new(db.clone()), bus.clone())
            .poll_every(Duration::from_millis(20)),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(relay.clone().run(stopped));
    vwc_testkit::eventually(
        "the five small events published",
        Duration::from_secs(10),
        || {
            let n = bus.published.lock().unwrap().len();
            async move { (n == 5).then_some(()) }
        },
    )
    .await;
    stop.send(true).unwrap();
    running.await.unwrap();
    assert_eq!(
        bus.failures_left.load(Ordering::SeqCst),
        0,
        "transient failures were retried"
    );
    assert_eq!(relay.dead_lettered(), 1);
    assert_eq!(db.list_dead_letters().await.unwrap().len(), 1);
    assert!(db.pending(10).await.unwrap().is_empty());
}

/// The outbox of `db`, except that marking rows sent fails (a full disk).
struct CannotMarkSent(SqliteDb);

#[async_trait]
impl Outbox for CannotMarkSent {
    async fn pending(
        &self,
        limit: usize,
    ) -> vwc_store::StoreResult<Vec<(vwc_store::OutboxId, Envelope)>> {
        self.0.pending(limit).await
    }
    async fn mark_sent(&self, _: &[vwc_store::OutboxId]) -> vwc_store::StoreResult<()> {
        Err(vwc_store::StoreError::Other(
            "database or disk is full".into(),
        ))
    }
    async fn dead_letter(
        &self,
        id: &vwc_store::OutboxId,
        letter: vwc_store::NewDeadLetter<'_>,
    ) -> vwc_store::StoreResult<()> {
        self.0.dead_letter(id, letter).await
    }
    async fn prune_sent(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> vwc_store::StoreResult<u64> {
        self.0.prune_sent(before).await
    }
    fn wakeup(&self) -> Arc<tokio::sync::Notify> {
        self.0.wakeup()
    }
}

#[tokio::test]
async fn rows_that_cannot_be_marked_sent_are_published_again_a_poll_later_not_in_a_tight_loop() {
    let dir = tempfile::tempdir().unwrap();
    let db = outbox_with(dir.path(), &[envelope("org_a", 10)]).await;
    let bus = Arc::new(RecordingBus::default());
    let poll = Duration::from_millis(100);
    let relay = Arc::new(
        OutboxRelay::new("full", Arc::new(CannotMarkSent(db)), bus.clone()).poll_every(poll),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(relay.clone().run(stopped));
    tokio::time::sleep(poll * 10).await;
    stop.send(true).unwrap();
    running.await.unwrap();
    // Sent again after each pause (at least once), but about once a poll: not thousands of times.
    let sent = bus.published.lock().unwrap().len();
    assert!(
        (2..=20).contains(&sent),
        "published {sent} times in 10 polls"
    );
}

/// Relays of two processes on one MongoDB outbox (each `MongoDb` claims as a process of its own), flushing
/// at once over a bus slow enough for their batches to overlap: each row is published once. Before the
/// claims, both read the same pending rows and published them twice (a Lambda probe: 37 messages for 20
/// events with two warm API instances).
#[cfg(feature = "aws")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_of_two_processes_on_one_mongodb_outbox_publish_each_row_once() {
    const ROWS: usize = 500;
    let open = |client: mongodb::Client, name: String| async move {
        let first = vwc_store::mongo::MongoDb::open(client.clone(), &name)
            .await
            .unwrap();
        let rows: Vec<Envelope> = (0..ROWS).map(|_| envelope("org_a", 10)).collect();
        let mut session = client.start_session().await.unwrap();
        first.enqueue(&mut session, &rows).await.unwrap();
        let second = vwc_store::mongo::MongoDb::new(client, &name);
        (first, second)
    };
    vwc_testkit::mongo::on_fresh_database("relay_claims", open, |(a, b)| async move {
        let bus = Arc::new(SlowBus::default());
        let relay = |db: vwc_store::mongo::MongoDb| {
            OutboxRelay::new("edge", Arc::new(db) as Arc<dyn Outbox>, bus.clone())
        };
        let (ra, rb) = (relay(a.clone()), relay(b));
        // How the rows split between the two depends on the machine's moment (one may take them all); what
        // must hold is that none goes out twice.
        let (sa, sb) = tokio::join!(ra.flush(), rb.flush());
        assert_eq!(
            sa.unwrap() + sb.unwrap(),
            ROWS,
            "every row published by one of them"
        );
        let published = bus.published.lock().unwrap().clone();
        let ids: std::collections::HashSet<_> = published.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), ROWS, "every row published");
        assert_eq!(published.len(), ROWS, "each once");
        assert!(a.pending(10).await.unwrap().is_empty());
    })
    .await;
}

/// Accepts every call after a pause, as a bus across the network does.
#[cfg(feature = "aws")]
#[derive(Default)]
struct SlowBus {
    published: Mutex<Vec<Envelope>>,
}

#[cfg(feature = "aws")]
#[async_trait]
impl Bus for SlowBus {
    async fn publish(&self, envelopes: &[Envelope]) -> Result<(), BusError> {
        // Long enough that the other relay reads the outbox while a batch is in flight: without claims it
        // took the same rows then.
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.published.lock().unwrap().extend_from_slice(envelopes);
        Ok(())
    }
}
