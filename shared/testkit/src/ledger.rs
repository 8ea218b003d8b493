//! Conformance checks of the per-vehicle ledger parts every adapter that keeps one shares. Each takes
//! the suite's store (`Arc<dyn …Store>`), so a suite lists it in `conformance!` by name (imported).

use std::sync::Arc;

use chrono::NaiveDate;
use vwc_contracts::VehicleId;
use vwc_contracts::corrections::{VehicleEventCorrected, VehicleEventVoided};
use vwc_contracts::{
    Envelope, Event, EventKind, EventType, Vehicle, VehicleEvent, VehicleEventRecorded,
    VehicleRegistered, examples,
};
use vwc_store::vehicle_ledger::{
    CommitOutcome, DailyRuns, LedgerCommit, LedgerState, VehicleLedger,
};
use vwc_store::{DeadLetter, NewDeadLetter, Outbox, OutboxId, Plumbing};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, d).expect("a March day")
}

/// The last day the daily job ran is kept per organisation: an organisation never recorded has none, a
/// later run replaces the day of the organisations it names and leaves the others' alone.
pub async fn the_last_day_is_kept_per_organisation<S: DailyRuns + ?Sized>(store: Arc<S>) {
    assert_eq!(store.last_day(&"org_a".into()).await.unwrap(), None);
    store
        .record_day(&["org_a".into(), "org_b".into()], day(10))
        .await
        .unwrap();
    store.record_day(&["org_a".into()], day(11)).await.unwrap();
    assert_eq!(
        store.last_day(&"org_a".into()).await.unwrap(),
        Some(day(11))
    );
    assert_eq!(
        store.last_day(&"org_b".into()).await.unwrap(),
        Some(day(10))
    );
    assert_eq!(store.last_day(&"org_c".into()).await.unwrap(), None);
}

/// An envelope of vehicle `vehicle_id` (org_a), as a service's outbox or dead letters hold one.
fn envelope(vehicle_id: &str) -> Envelope {
    let event = examples::event(EventType::VehicleRegistered);
    Envelope::new("vwc.test", "org_a", Some(vehicle_id), None, event)
}

fn envelopes_of(rows: &[(OutboxId, Envelope)]) -> Vec<Envelope> {
    rows.iter().map(|(_, e)| e.clone()).collect()
}

/// The rows a commit wrote to the outbox (`written`, in order) are pending, oldest first, until marked
/// sent: marking the first leaves exactly the others.
pub async fn outbox_rows_are_pending_until_marked_sent(store: &dyn Outbox, written: &[Envelope]) {
    let rows = store.pending(1_000).await.unwrap();
    assert_eq!(envelopes_of(&rows), written);
    store.mark_sent(&[rows[0].0.clone()]).await.unwrap();
    let left = store.pending(1_000).await.unwrap();
    assert_eq!(envelopes_of(&left), &written[1..]);
}

/// What a test compares of a dead letter: consumer, envelope, error and attempts.
fn summary(letters: &[DeadLetter]) -> Vec<(&str, &Envelope, &str, u32)> {
    letters
        .iter()
        .map(|l| {
            (
                l.consumer.as_str(),
                &l.envelope,
                l.error.as_str(),
                l.attempts,
            )
        })
        .collect()
}

/// Dead letters are listed oldest first, as they were put, until replayed.
pub async fn dead_letters_are_listed_oldest_first_until_replayed<S: Plumbing + ?Sized>(
    store: Arc<S>,
) {
    let (first, second) = (envelope("veh_1"), envelope("veh_2"));
    let put = [
        ("a-consumer", &first, "boom", 5),
        ("b-consumer", &second, "bang", 3),
    ];
    for (consumer, envelope, error, attempts) in put {
        let letter = NewDeadLetter {
            consumer,
            envelope,
            error,
            attempts,
        };
        store.put_dead_letter(letter).await.unwrap();
    }
    let listed = store.list_dead_letters().await.unwrap();
    assert_eq!(summary(&listed), put);
    store.mark_replayed(listed[0].id).await.unwrap();
    let left = store.list_dead_letters().await.unwrap();
    assert_eq!(summary(&left), put[1..]);
}

/// The revision ledger keeps the highest revision applied of each record, whatever order the commits
/// bring them in (two in one commit, then each lower and higher again); `registration` registers `veh_1`.
pub async fn the_highest_revision_of_each_record_is_kept<S>(
    store: &S,
    registration: <S::State as LedgerState>::Commit,
) where
    S: VehicleLedger + ?Sized,
{
    let vehicle: VehicleId = "veh_1".into();
    store.commit(registration).await.unwrap();
    for revisions in [
        vec![("evt_1", 3), ("evt_2", 2)],
        vec![("evt_1", 2)],
        vec![("evt_2", 4)],
    ] {
        let mut commit = store.vehicle_state(&vehicle).await.unwrap().begin(None);
        commit.ledger_mut().revisions = revisions
            .into_iter()
            .map(|(event, revision)| (event.to_string(), revision))
            .collect();
        assert_eq!(store.commit(commit).await.unwrap(), CommitOutcome::Applied);
    }
    let mut state = store.vehicle_state(&vehicle).await.unwrap();
    let kept: Vec<_> = state.revisions().clone().into_iter().collect();
    assert_eq!(kept, [("evt_1".to_string(), 3), ("evt_2".to_string(), 4)]);
}

/// Vehicle `id`'s state as `store` holds it now (version 0 and nothing else for an id never seen).
pub async fn stored<S: VehicleLedger + ?Sized>(store: &Arc<S>, id: &str) -> S::State {
    let vehicle: VehicleId = id.into();
    store
        .vehicle_state(&vehicle)
        .await
        .expect("the state reads")
}

/// A store that is up answers the readiness probe.
pub async fn a_ready_store_answers_ping<S: Plumbing + ?Sized>(store: Arc<S>) {
    store.ping().await.unwrap();
}

/// The envelope ingestion publishes when a timeline record is revised: `e` as revision `revision` of its
/// record, voided (`voided`) or corrected to `e` itself, stamped at `e`'s recording time.
pub fn revised(e: &VehicleEvent, revision: u32, voided: bool) -> Envelope {
    let at = e.recorded_at;
    let event: Event = if voided {
        VehicleEventVoided {
            event: e.clone(),
            revision,
            reason: "entered twice".into(),
            voided_at: at,
            voided_by: "user_1".into(),
        }
        .into()
    } else {
        VehicleEventCorrected {
            event: e.clone(),
            previous: e.clone(),
            revision,
            changed: vec!["odometer".into()],
            reason: None,
            corrected_at: at,
            corrected_by: "user_1".into(),
        }
        .into()
    };
    Envelope::new("vwc.ingestion", &e.org_id, Some(&e.vehicle_id), None, event)
}

/// What an unordered bus may deliver for `record` corrected twice: revision 3 (odometer `newest`) first,
/// then the older revision 2 (odometer `older`), then the original record. Applied in revision order,
/// the record ends at `newest` with revision 3.
pub fn corrections_newest_first(record: &VehicleEvent, newest: u64, older: u64) -> [Envelope; 3] {
    let revision = |odometer: u64| VehicleEvent {
        odometer: Some(odometer),
        ..record.clone()
    };
    let original = VehicleEventRecorded {
        event: record.clone(),
    };
    [
        revised(&revision(newest), 3, false),
        revised(&revision(older), 2, false),
        Envelope::new(
            "vwc.ingestion",
            &record.org_id,
            Some(&record.vehicle_id),
            None,
            original,
        ),
    ]
}

/// `envelope` with data that does not decode (its event's odometer a word): a poison event, refused
/// however often it is tried.
pub fn undecodable(envelope: &Envelope) -> Envelope {
    let mut json = serde_json::to_value(envelope).expect("an envelope serialises");
    json["data"] =
        serde_json::json!({ "event": { "id": "evt_poison", "odometer": "not a number" } });
    let poison: Envelope = serde_json::from_value(json).expect("an envelope's frame reads");
    assert!(poison.event().is_err(), "the poison must not decode");
    poison
}

/// One chain of envelopes for org_a's `veh_1` (the contracts' example vehicle, registered 400 days before
/// `now`): its registration, then `records` timeline records one day apart up to the day before `now`,
/// the odometer 40 a day from 20,000, each of the kind and details `record(i)` gives.
pub fn long_chain(
    now: chrono::DateTime<chrono::Utc>,
    records: usize,
    record: impl Fn(usize) -> (EventKind, serde_json::Value),
) -> Vec<Envelope> {
    let envelope =
        |event: Event| Envelope::new("vwc.ingestion", "org_a", Some("veh_1"), None, event);
    let vehicle = Vehicle {
        org_id: "org_a".into(),
        registered_at: now - chrono::Duration::days(400),
        ..examples::vehicle()
    };
    let mut chain = vec![envelope(VehicleRegistered { vehicle }.into())];
    for i in 0..records {
        let (kind, details) = record(i);
        let event = VehicleEvent {
            id: format!("evt_{i:03}").into(),
            org_id: "org_a".into(),
            kind,
            occurred_at: now - chrono::Duration::days((records - i) as i64),
            odometer: Some(20_000 + i as u64 * 40),
            details,
            ..examples::vehicle_event()
        };
        chain.push(envelope(VehicleEventRecorded { event }.into()));
    }
    chain
}

/// Asserts that a chain handled at once answered what its envelopes answered handled one at a time, and
/// that only the envelopes at `refused` were refused.
pub fn assert_same_answers(
    at_once: &[Result<(), String>],
    one_at_a_time: &[Result<(), String>],
    refused: &[usize],
) {
    assert_eq!(at_once, one_at_a_time);
    let failed: Vec<usize> = (one_at_a_time.iter().enumerate())
        .filter(|(_, o)| o.is_err())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(failed, refused, "refused: {one_at_a_time:?}");
}
