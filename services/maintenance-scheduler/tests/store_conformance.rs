//! The scheduler store conformance suite: each check is written once and runs against a fresh SQLite
//! file, always, and against a fresh MongoDB database when `VWC_TEST_MONGODB_URI` is set.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use vwc_contracts::maintenance::MaintenanceScheduleUpdated;
use vwc_contracts::maintenance::MaintenanceStatus;
use vwc_contracts::{Envelope, OdometerUnit, Vehicle};
use vwc_maintenance_scheduler::evaluation::FactKind;
use vwc_maintenance_scheduler::{
    CommitOutcome, FINGERPRINT_HASH, ItemSettings, PublishedSchedule, SchedulerStore, SentReminder,
    SqliteSchedulerStore, TimelineFact, VehicleCommit, VehicleRecord, VehicleState,
};
use vwc_store::vehicle_ledger::{LedgerChange, LedgerCommit};
use vwc_testkit::ledger::{
    self, a_ready_store_answers_ping, dead_letters_are_listed_oldest_first_until_replayed, stored,
    the_last_day_is_kept_per_organisation,
};

type Store = Arc<dyn SchedulerStore>;

// ---------------------------------------------------------------------------------------------------
// Fixtures

/// A whole-second instant, so it survives the stores' microsecond timestamps unchanged.
fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, day, hour, 0, 0).unwrap()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, d).unwrap()
}

/// The contracts' example vehicle as vehicle `id` of `org`, in kilometres, registered on 1 June.
fn record(org: &str, id: &str) -> VehicleRecord {
    VehicleRecord::from_vehicle(&Vehicle {
        id: id.into(),
        org_id: org.into(),
        odometer_unit: OdometerUnit::Km,
        registered_at: at(1, 8),
        ..vwc_contracts::examples::vehicle()
    })
}

/// An odometer reading of record `event_id`.
fn reading(event_id: &str, when: DateTime<Utc>, odometer: Option<u64>) -> TimelineFact {
    TimelineFact::new(event_id, FactKind::Reading, when, odometer, &[])
}

fn reminder(task: &str, status: MaintenanceStatus, occurrence: u32) -> SentReminder {
    SentReminder {
        task: task.to_string(),
        status,
        due_cycle: "2025-09-01@45000".into(),
        occurrence,
        reminder_id: format!("rem_{task}_{}_{occurrence}", status.as_str()),
        sent_on: day(10),
        sent_at: at(10, 9),
    }
}

fn published(statuses: &[(&str, MaintenanceStatus)], fingerprint: u64) -> PublishedSchedule {
    PublishedSchedule {
        fingerprint,
        // Not the column's default (1, rows written before hashes were recorded): the store keeps it.
        hash: FINGERPRINT_HASH,
        statuses: statuses.iter().map(|(t, s)| (t.to_string(), *s)).collect(),
    }
}

fn envelope(vehicle_id: &str) -> Envelope {
    let update = MaintenanceScheduleUpdated {
        vehicle_id: vehicle_id.to_string(),
        items: Vec::new(),
        odometer: None,
        evaluated_at: vwc_clock::now(),
        evaluated_on: None,
        unit: None,
    };
    Envelope::new(
        "vwc.maintenance-scheduler",
        "org_a",
        Some(vehicle_id),
        None,
        update,
    )
}

/// The registration of a vehicle not stored yet.
fn registration(org: &str, id: &str) -> VehicleCommit {
    VehicleCommit {
        register: Some(record(org, id)),
        ..VehicleCommit::on(&VehicleState::new(id))
    }
}

async fn pending(store: &Store) -> Vec<Envelope> {
    store
        .pending(1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .collect()
}

// ---------------------------------------------------------------------------------------------------
// Checks

async fn an_unknown_vehicle_has_an_empty_state_at_version_zero(store: Store) {
    let state = stored(&store, "veh_nope").await;
    assert_eq!(state.vehicle_id, "veh_nope");
    assert_eq!(state.version, 0);
    assert_eq!(state.vehicle, None);
    assert!(state.facts.is_empty() && state.settings.is_empty() && state.reminders.is_empty());
    assert_eq!(state.published, None);
}

async fn a_commit_reads_back_exactly(store: Store) {
    let mut oil = ItemSettings::default_for("oil_change", OdometerUnit::Km).unwrap();
    oil.intervals.km = Some(10_000);
    oil.title = Some("Oil & filter".into());
    let facts = vec![
        TimelineFact::new("evt_1", FactKind::Acquisition, at(1, 9), Some(30_000), &[]),
        TimelineFact::new(
            "evt_2",
            FactKind::Maintenance,
            at(2, 9),
            Some(30_100),
            &["oil_change", "tire_rotation"],
        ),
        reading("evt_3", at(3, 9), None),
    ];
    let schedule = published(
        &[
            ("oil_change", MaintenanceStatus::Ok),
            ("coolant", MaintenanceStatus::Overdue),
        ],
        u64::MAX - 7,
    );
    let reminders = vec![reminder("coolant", MaintenanceStatus::Overdue, 0)];
    let commit = VehicleCommit {
        facts: facts.clone(),
        settings: vec![oil.clone()],
        published: Some(schedule.clone()),
        reminders: reminders.clone(),
        ..registration("org_a", "veh_1")
    }
    .enqueuing(vec![envelope("veh_1")]);
    assert_eq!(store.commit(commit).await.unwrap(), CommitOutcome::Applied);
    let state = stored(&store, "veh_1").await;
    assert_eq!(state.version, 1);
    assert_eq!(state.vehicle, Some(record("org_a", "veh_1")));
    let mut stored = state.facts.clone();
    stored.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    assert_eq!(stored, facts);
    assert_eq!(state.settings, [oil]);
    assert_eq!(state.published, Some(schedule));
    assert_eq!(state.reminders, reminders);
    // The sweep's page holds the same state, but that its facts may come without their event ids.
    let mut listed = store.vehicle_states(None, None, None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    let mut whole = state;
    for fact in whole.facts.iter_mut().chain(&mut listed[0].facts) {
        fact.event_id.clear();
    }
    whole.facts.sort_by_key(|f| f.at);
    listed[0].facts.sort_by_key(|f| f.at);
    assert_eq!(listed[0], whole);
}

async fn a_commit_from_a_stale_version_conflicts_and_writes_nothing(store: Store) {
    store.commit(registration("org_a", "veh_1")).await.unwrap();
    let stale = VehicleCommit {
        ledger: LedgerChange::on("veh_1", 0),
        facts: vec![reading("evt_1", at(2, 9), Some(100))],
        ..VehicleCommit::default()
    }
    .claiming("env_1")
    .enqueuing(vec![envelope("veh_1")]);
    assert_eq!(store.commit(stale).await.unwrap(), CommitOutcome::Conflict);
    let state = stored(&store, "veh_1").await;
    assert_eq!((state.version, state.facts.len()), (1, 0));
    assert!(pending(&store).await.is_empty());
    // The claim was not taken either: the same envelope applies once the version is right.
    let fresh = VehicleCommit::on(&state).claiming("env_1");
    assert_eq!(store.commit(fresh).await.unwrap(), CommitOutcome::Applied);
}

async fn a_claimed_envelope_is_a_duplicate_and_writes_nothing(store: Store) {
    let first = registration("org_a", "veh_1")
        .claiming("env_1")
        .enqueuing(vec![envelope("veh_1")]);
    assert_eq!(store.commit(first).await.unwrap(), CommitOutcome::Applied);
    let state = stored(&store, "veh_1").await;
    let again = VehicleCommit {
        facts: vec![reading("evt_1", at(2, 9), Some(100))],
        ..VehicleCommit::on(&state)
    }
    .claiming("env_1")
    .enqueuing(vec![envelope("veh_1")]);
    assert_eq!(store.commit(again).await.unwrap(), CommitOutcome::Duplicate);
    let after = stored(&store, "veh_1").await;
    assert_eq!((after.version, after.facts.len()), (1, 0));
    assert_eq!(pending(&store).await.len(), 1);
}

async fn the_same_fact_twice_is_kept_once(store: Store) {
    let reading = reading("evt_1", at(2, 9), Some(100));
    let first = VehicleCommit {
        facts: vec![reading.clone()],
        ..registration("org_a", "veh_1")
    };
    store.commit(first).await.unwrap();
    let state = stored(&store, "veh_1").await;
    let again = VehicleCommit {
        facts: vec![reading.clone()],
        ..VehicleCommit::on(&state)
    };
    assert_eq!(store.commit(again).await.unwrap(), CommitOutcome::Applied);
    assert_eq!(stored(&store, "veh_1").await.facts, [reading]);
}

async fn a_removed_fact_is_gone_and_its_replacement_kept(store: Store) {
    let oil = TimelineFact::new(
        "evt_1",
        FactKind::Maintenance,
        at(2, 9),
        Some(100),
        &["oil_change"],
    );
    let other = reading("evt_2", at(3, 9), Some(200));
    let first = VehicleCommit {
        facts: vec![oil.clone(), other.clone()],
        ..registration("org_a", "veh_1")
    };
    store.commit(first).await.unwrap();
    // A correction: the record's fact replaced in one commit.
    let corrected = TimelineFact::new(
        "evt_1",
        FactKind::Maintenance,
        at(2, 9),
        Some(150),
        &["oil_change"],
    );
    let state = stored(&store, "veh_1").await;
    let mut correction = VehicleCommit {
        facts: vec![corrected.clone()],
        ..VehicleCommit::on(&state)
    };
    correction.ledger.remove_facts = vec!["evt_1".into()];
    assert_eq!(
        store.commit(correction).await.unwrap(),
        CommitOutcome::Applied
    );
    let mut facts = stored(&store, "veh_1").await.facts;
    facts.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    assert_eq!(facts, [corrected, other.clone()]);
    // A void: the fact removed.
    let state = stored(&store, "veh_1").await;
    let mut void = VehicleCommit::on(&state);
    void.ledger.remove_facts = vec!["evt_1".into()];
    store.commit(void).await.unwrap();
    assert_eq!(stored(&store, "veh_1").await.facts, [other]);
}

async fn a_retired_vehicle_reads_back_retired(store: Store) {
    store.commit(registration("org_a", "veh_1")).await.unwrap();
    let state = stored(&store, "veh_1").await;
    assert!(!state.vehicle.as_ref().unwrap().retired);
    let retire = VehicleCommit {
        register: Some(VehicleRecord {
            retired: true,
            ..record("org_a", "veh_1")
        }),
        ..VehicleCommit::on(&state)
    };
    store.commit(retire).await.unwrap();
    let state = stored(&store, "veh_1").await;
    assert!(state.vehicle.unwrap().retired);
    let listed = store
        .vehicle_states(Some(&"org_a".into()), None, None, 10)
        .await
        .unwrap();
    assert!(listed[0].vehicle.as_ref().unwrap().retired);
}

async fn settings_replace_those_of_the_same_task(store: Store) {
    let mut oil = ItemSettings::default_for("oil_change", OdometerUnit::Km).unwrap();
    let coolant = ItemSettings::default_for("coolant", OdometerUnit::Km).unwrap();
    store
        .commit(VehicleCommit {
            settings: vec![oil.clone(), coolant.clone()],
            ..registration("org_a", "veh_1")
        })
        .await
        .unwrap();
    oil.enabled = false;
    let state = stored(&store, "veh_1").await;
    store
        .commit(VehicleCommit {
            settings: vec![oil.clone()],
            ..VehicleCommit::on(&state)
        })
        .await
        .unwrap();
    let mut settings = stored(&store, "veh_1").await.settings;
    settings.sort_by(|a, b| a.task.cmp(&b.task));
    assert_eq!(settings, [coolant, oil]);
}

async fn a_reminder_is_recorded_once_per_key(store: Store) {
    let first = reminder("oil_change", MaintenanceStatus::Overdue, 0);
    store
        .commit(VehicleCommit {
            reminders: vec![first.clone()],
            ..registration("org_a", "veh_1")
        })
        .await
        .unwrap();
    let state = stored(&store, "veh_1").await;
    let repeat = reminder("oil_change", MaintenanceStatus::Overdue, 1);
    let soon = reminder("oil_change", MaintenanceStatus::DueSoon, 0);
    let mut same_key = first.clone();
    same_key.sent_on = day(20);
    store
        .commit(VehicleCommit {
            reminders: vec![same_key, repeat.clone(), soon.clone()],
            ..VehicleCommit::on(&state)
        })
        .await
        .unwrap();
    let mut reminders = stored(&store, "veh_1").await.reminders;
    reminders.sort_by_key(|r| (r.status.as_str(), r.occurrence));
    assert_eq!(reminders, [soon, first, repeat]);
}

async fn facts_before_the_registration_are_kept_and_the_vehicle_is_not_listed(store: Store) {
    let early = VehicleCommit {
        facts: vec![reading("evt_1", at(2, 9), Some(100))],
        ..VehicleCommit::on(&VehicleState::new("veh_1"))
    }
    .claiming("env_1");
    assert_eq!(store.commit(early).await.unwrap(), CommitOutcome::Applied);
    let state = stored(&store, "veh_1").await;
    assert_eq!(
        (state.version, state.vehicle.as_ref(), state.facts.len()),
        (1, None, 1)
    );
    assert!(
        store
            .vehicle_states(None, None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .commit(VehicleCommit {
            register: Some(record("org_a", "veh_1")),
            ..VehicleCommit::on(&state)
        })
        .await
        .unwrap();
    let listed = store.vehicle_states(None, None, None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].version, listed[0].facts.len()), (2, 1));
}

async fn vehicle_states_page_in_id_order_by_organisation(store: Store) {
    // One odometer per vehicle: "veh_3" reads 3.
    let odometer_of = |id: &str| id["veh_".len()..].parse::<u64>().unwrap();
    let mut batch = Vec::new();
    for (org, id) in [
        ("org_a", "veh_3"),
        ("org_b", "veh_2"),
        ("org_a", "veh_1"),
        ("org_a", "veh_5"),
        ("org_b", "veh_4"),
    ] {
        batch.push(VehicleCommit {
            facts: vec![reading(
                &format!("evt_{id}"),
                at(2, 9),
                Some(odometer_of(id)),
            )],
            reminders: vec![reminder("oil_change", MaintenanceStatus::DueSoon, 0)],
            ..registration(org, id)
        });
    }
    let outcomes = store.commit_batch(batch).await.unwrap();
    assert!(outcomes.iter().all(|o| *o == CommitOutcome::Applied));
    let ids = |states: Vec<vwc_maintenance_scheduler::VehicleState>| {
        states
            .into_iter()
            .map(|s| {
                assert_eq!(
                    (s.facts.len(), s.reminders.len()),
                    (1, 1),
                    "{}",
                    s.vehicle_id
                );
                // The vehicle's own fact (a page's facts need not carry their event ids).
                assert_eq!(s.facts[0].odometer, Some(odometer_of(&s.vehicle_id)));
                s.vehicle_id
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.vehicle_states(None, None, None, 10).await.unwrap()),
        ["veh_1", "veh_2", "veh_3", "veh_4", "veh_5"]
    );
    assert_eq!(
        ids(store.vehicle_states(None, None, None, 2).await.unwrap()),
        ["veh_1", "veh_2"]
    );
    assert_eq!(
        ids(store
            .vehicle_states(None, Some(&"veh_2".into()), None, 2)
            .await
            .unwrap()),
        ["veh_3", "veh_4"]
    );
    assert_eq!(
        ids(store
            .vehicle_states(Some(&"org_a".into()), None, None, 10)
            .await
            .unwrap()),
        ["veh_1", "veh_3", "veh_5"]
    );
    assert_eq!(
        ids(store
            .vehicle_states(Some(&"org_a".into()), Some(&"veh_1".into()), None, 1)
            .await
            .unwrap()),
        ["veh_3"]
    );
    assert!(
        store
            .vehicle_states(Some(&"org_c".into()), None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn only_vehicles_whose_wake_day_has_come_are_listed_for_a_day(store: Store) {
    let june = |d: u32| NaiveDate::from_ymd_opt(2025, 6, d).unwrap();
    // veh_1 never evaluated (no wake day: due at once), veh_2 wakes on 10 June, veh_3 on 20 June.
    for (id, wake) in [
        ("veh_1", None),
        ("veh_2", Some(june(10))),
        ("veh_3", Some(june(20))),
    ] {
        let outcome = store
            .commit(VehicleCommit {
                wake_on: wake,
                ..registration("org_a", id)
            })
            .await
            .unwrap();
        assert_eq!(outcome, CommitOutcome::Applied);
    }
    let ids = |states: Vec<vwc_maintenance_scheduler::VehicleState>| {
        states.into_iter().map(|s| s.vehicle_id).collect::<Vec<_>>()
    };
    let due = |day| {
        let store = store.clone();
        async move {
            ids(store
                .vehicle_states(None, None, Some(day), 10)
                .await
                .unwrap())
        }
    };
    assert_eq!(due(june(9)).await, ["veh_1"]);
    assert_eq!(due(june(10)).await, ["veh_1", "veh_2"]);
    assert_eq!(due(june(30)).await, ["veh_1", "veh_2", "veh_3"]);
    assert_eq!(
        ids(store
            .vehicle_states(
                Some(&"org_a".into()),
                Some(&"veh_1".into()),
                Some(june(19)),
                10
            )
            .await
            .unwrap()),
        ["veh_2"]
    );
    // Read back, and a commit without a wake day leaves it as it was.
    let state = stored(&store, "veh_2").await;
    assert_eq!(state.wake_on, Some(june(10)));
    let outcome = store.commit(VehicleCommit::on(&state)).await.unwrap();
    assert_eq!(outcome, CommitOutcome::Applied);
    assert_eq!(stored(&store, "veh_2").await.wake_on, Some(june(10)));
    assert_eq!(stored(&store, "veh_1").await.wake_on, None);
}

async fn the_highest_revision_of_each_record_is_kept(store: Store) {
    let registration = registration("org_a", "veh_1");
    ledger::the_highest_revision_of_each_record_is_kept(store.as_ref(), registration).await;
    // The sweep's bulk read carries them too.
    let listed = store.vehicle_states(None, None, None, 10).await.unwrap();
    assert_eq!(listed[0].revisions.len(), 2);
}

async fn a_batch_applies_each_commit_on_its_own(store: Store) {
    store
        .commit(registration("org_a", "veh_1").claiming("env_seen"))
        .await
        .unwrap();
    let batch = vec![
        registration("org_a", "veh_2").enqueuing(vec![envelope("veh_2")]),
        // Stale: veh_1 is at version 1.
        registration("org_a", "veh_1").enqueuing(vec![envelope("veh_1")]),
        VehicleCommit::on(&VehicleState::new("veh_3"))
            .claiming("env_seen")
            .enqueuing(vec![envelope("veh_3")]),
        registration("org_b", "veh_4").enqueuing(vec![envelope("veh_4")]),
    ];
    let outcomes = store.commit_batch(batch).await.unwrap();
    assert_eq!(
        outcomes,
        [
            CommitOutcome::Applied,
            CommitOutcome::Conflict,
            CommitOutcome::Duplicate,
            CommitOutcome::Applied
        ]
    );
    let published: Vec<Option<vwc_contracts::VehicleId>> = pending(&store)
        .await
        .into_iter()
        .map(|e| e.vehicle_id)
        .collect();
    assert_eq!(published, [Some("veh_2".into()), Some("veh_4".into())]);
    assert_eq!(stored(&store, "veh_3").await.version, 0);
    assert!(store.commit_batch(Vec::new()).await.unwrap().is_empty());
}

async fn outbox_rows_are_pending_until_marked_sent(store: Store) {
    let written = vec![envelope("veh_1"), envelope("veh_1")];
    store
        .commit(registration("org_a", "veh_1").enqueuing(written.clone()))
        .await
        .unwrap();
    ledger::outbox_rows_are_pending_until_marked_sent(store.as_ref(), &written).await;
}

// ---------------------------------------------------------------------------------------------------
// Running every check against every adapter

fn chain_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap()
}

/// A chain of one vehicle's envelopes longer than one transaction holds (MongoDB: 100 commits) is decided
/// in the last commit of each transaction: the schedule the stored state implies was published as the
/// chain left it (a decision on it publishes nothing), at most once per transaction.
async fn a_chain_longer_than_a_transaction_leaves_nothing_unpublished(store: Store) {
    use vwc_bus::Consumer;
    use vwc_contracts::{EventKind, EventType};
    use vwc_maintenance_scheduler::service::{Keep, decide};
    use vwc_store::vehicle_ledger::{AsOf, LedgerService};
    const RECORDS: usize = 250;
    // Readings, and every 25th day an oil change and a tire rotation.
    let chain = ledger::long_chain(chain_now(), RECORDS, |i| match i % 25 {
        0 => (
            EventKind::Maintenance,
            serde_json::json!({"tasks": ["oil_change", "tire_rotation"]}),
        ),
        _ => (EventKind::OdometerReading, serde_json::json!({})),
    });
    let consumer = vwc_maintenance_scheduler::SchedulerConsumer::new(
        vwc_maintenance_scheduler::Scheduler::new(store.clone()).with_clock(Arc::new(chain_now)),
    );
    let refs: Vec<&Envelope> = chain.iter().collect();
    let outcomes = consumer.handle_chain(&refs).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");

    let state = stored(&store, "veh_1").await;
    assert_eq!(state.version, RECORDS as u64 + 1);
    let mut commit = VehicleCommit::on(&state);
    let decided = decide(
        &state,
        &mut commit,
        AsOf::at(chain_now()),
        None,
        Keep::Counts,
    )
    .expect("a registered vehicle");
    assert_eq!(
        decided.published,
        Default::default(),
        "published as the chain left it"
    );
    let transactions = chain.len().div_ceil(store.commits_per_transaction());
    let schedules = (store.pending(100_000).await.unwrap().iter())
        .filter(|(_, e)| e.event_type() == EventType::MaintenanceScheduleUpdated)
        .count();
    assert!(
        (1..=transactions).contains(&schedules),
        "{schedules} schedules published in {transactions} transaction(s)"
    );
}

vwc_testkit::conformance!(
    "maintenance-scheduler", Store;
    sqlite("maintenance.db"): SqliteSchedulerStore::open,
    mongodb("maintenance"): vwc_maintenance_scheduler::MongoSchedulerStore::connect;
    an_unknown_vehicle_has_an_empty_state_at_version_zero,
    a_commit_reads_back_exactly,
    a_commit_from_a_stale_version_conflicts_and_writes_nothing,
    a_claimed_envelope_is_a_duplicate_and_writes_nothing,
    the_same_fact_twice_is_kept_once,
    a_removed_fact_is_gone_and_its_replacement_kept,
    a_retired_vehicle_reads_back_retired,
    settings_replace_those_of_the_same_task,
    a_reminder_is_recorded_once_per_key,
    facts_before_the_registration_are_kept_and_the_vehicle_is_not_listed,
    vehicle_states_page_in_id_order_by_organisation,
    only_vehicles_whose_wake_day_has_come_are_listed_for_a_day,
    the_highest_revision_of_each_record_is_kept,
    a_batch_applies_each_commit_on_its_own,
    outbox_rows_are_pending_until_marked_sent,
    the_last_day_is_kept_per_organisation,
    dead_letters_are_listed_oldest_first_until_replayed,
    a_ready_store_answers_ping,
    a_chain_longer_than_a_transaction_leaves_nothing_unpublished,
);
