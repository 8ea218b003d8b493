//! The scheduler consumer against a real SQLite file: schedules created on registration, timeline events
//! re-evaluated, every envelope applied exactly once, and the worked example end to end at the
//! store level.

use crate::common;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use common::*;
use serde_json::json;
use vwc_bus::Consumer;
use vwc_contracts::maintenance::{
    MaintenanceItemView, MaintenanceScheduleUpdated, MaintenanceStatus, MaintenanceStatusChanged,
};
use vwc_contracts::{Envelope, EventType, OdometerUnit, Vehicle, VehicleEvent};
use vwc_maintenance_scheduler::{
    ItemChange, PublishedSchedule, Scheduler, SchedulerConsumer, VehicleState,
};
use vwc_store::vehicle_ledger::{KeptStates, LedgerService};
use vwc_testkit::ledger::{assert_same_answers, corrections_newest_first, revised, undecodable};

/// The consumer on a fresh store, its clock, and the vehicle the test delivers events of.
struct Fixture {
    t: TempStore,
    clock: TestClock,
    c: Arc<SchedulerConsumer>,
    scheduler: Scheduler,
    v: Vehicle,
}

impl Fixture {
    /// Nothing delivered yet about `v`; the clock reads `now`; vehicle states kept, as embedded mode
    /// runs it.
    fn of(v: Vehicle, now: DateTime<Utc>) -> Fixture {
        Fixture::keeping(KeptStates::Recent, v, now)
    }

    /// [`Fixture::of`], keeping vehicle states as `kept` says.
    fn keeping(kept: KeptStates, v: Vehicle, now: DateTime<Utc>) -> Fixture {
        let t = TempStore::new();
        let clock = TestClock::at(now);
        let scheduler = Scheduler::new(t.shared())
            .with_clock(clock.clock())
            .with_kept_states(kept);
        let c = Arc::new(SchedulerConsumer::new(scheduler.clone()));
        Fixture {
            t,
            clock,
            c,
            scheduler,
            v,
        }
    }

    /// `veh_1` of `org_a` (in miles) not registered yet; the clock reads `now`.
    fn unregistered(now: DateTime<Utc>) -> Fixture {
        Fixture::of(vehicle("org_a", "veh_1", OdometerUnit::Mi), now)
    }

    /// `veh_1` of `org_a` (in miles), its registration delivered; the clock reads `now`.
    async fn registered(now: DateTime<Utc>) -> Fixture {
        let f = Fixture::unregistered(now);
        f.register().await;
        f
    }

    async fn deliver(&self, envelope: &Envelope) {
        self.c.handle(envelope).await.unwrap();
    }

    async fn register(&self) {
        self.deliver(&registered(&self.v)).await;
    }

    async fn record(&self, e: &VehicleEvent) {
        record(&self.c, e).await;
    }

    /// Records an odometer reading of the vehicle.
    async fn read(&self, id: &str, occurred_at: DateTime<Utc>, odometer: u64) {
        self.record(&reading(&self.v, id, occurred_at, odometer))
            .await;
    }

    /// Records a maintenance visit doing `tasks`.
    async fn service(&self, id: &str, occurred_at: DateTime<Utc>, odometer: u64, tasks: &[&str]) {
        self.record(&maintenance(&self.v, id, occurred_at, odometer, tasks))
            .await;
    }

    /// What was published since the last call.
    async fn drain(&self) -> Vec<Envelope> {
        drain_outbox(self.t.store.as_ref()).await
    }

    async fn state(&self) -> VehicleState {
        self.t.state(&self.v.id).await
    }
}

/// The item `task` of the last `MaintenanceScheduleUpdated` among `envelopes`.
fn item_view(envelopes: &[Envelope], task: &str) -> MaintenanceItemView {
    let updated: MaintenanceScheduleUpdated =
        of_type(envelopes, EventType::MaintenanceScheduleUpdated)
            .last()
            .expect("a MaintenanceScheduleUpdated")
            .payload()
            .cloned()
            .unwrap();
    updated.items.into_iter().find(|i| i.task == task).unwrap()
}

fn oil_view(envelopes: &[Envelope]) -> MaintenanceItemView {
    item_view(envelopes, "oil_change")
}

/// The oil change's `ReminderDue`s among `envelopes`: (task, status, occurrence).
fn oil_reminders(envelopes: &[Envelope]) -> Vec<(String, MaintenanceStatus, u32)> {
    reminders(envelopes)
        .into_iter()
        .filter(|r| r.0 == "oil_change")
        .collect()
}

#[tokio::test]
async fn registration_creates_the_standard_schedule_in_the_vehicles_unit() {
    let f = Fixture::of(vehicle("org_a", "veh_km", OdometerUnit::Km), at(2025, 1, 2));
    f.register().await;

    let out = f.drain().await;
    let updates = of_type(&out, EventType::MaintenanceScheduleUpdated);
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].source, "vwc.maintenance-scheduler");
    assert_eq!(updates[0].vehicle_id.as_deref(), Some("veh_km"));
    assert_eq!(
        updates[0].traceparent.as_deref().map(|t| &t[3..35]),
        Some(&TRACE[3..35]),
        "the published event continues the incoming trace"
    );
    let schedule: MaintenanceScheduleUpdated = updates[0].payload().cloned().unwrap();
    assert_eq!(schedule.items.len(), 12);
    let oil = &schedule.items[0];
    assert_eq!(
        (oil.task.as_str(), oil.interval_km, oil.interval_miles),
        ("oil_change", Some(8_000), None)
    );
    assert_eq!(oil.due_at, Some(day(2025, 7, 1)));
    assert_eq!(reminders(&out), []);
    assert_eq!(
        f.state().await.vehicle.unwrap().name,
        "2021 Toyota RAV4 (Blue)"
    );
}

#[tokio::test]
async fn the_same_envelope_twice_has_one_effect_and_one_set_of_outbox_rows() {
    let f = Fixture::unregistered(at(2025, 6, 10));
    let registration = registered(&f.v);
    f.deliver(&registration).await;
    f.deliver(&registration).await;
    let updates = f.drain().await;
    assert_eq!(
        of_type(&updates, EventType::MaintenanceScheduleUpdated).len(),
        1
    );

    let event = recorded(&reading(&f.v, "evt_r", at(2025, 6, 10), 45_100));
    f.deliver(&event).await;
    assert!(!f.drain().await.is_empty());
    let version = f.state().await.version;
    f.deliver(&event).await;
    assert_eq!(f.drain().await, [], "a redelivery publishes nothing");
    let state = f.state().await;
    assert_eq!(state.version, version, "a redelivery writes nothing");
    assert_eq!(state.facts.len(), 1);

    // The same timeline event re-published under a new envelope id: the fact is kept once.
    f.read("evt_r", at(2025, 6, 10), 45_100).await;
    assert_eq!(f.drain().await, []);
    assert_eq!(f.state().await.facts.len(), 1);
}

#[tokio::test]
async fn the_worked_example_oil_change_goes_due_soon_then_overdue_with_one_reminder_each() {
    let f = Fixture::registered(at(2025, 3, 1)).await;
    f.service("evt_oil", at(2025, 3, 1), 40_000, &["oil_change"])
        .await;
    let change: ItemChange =
        serde_json::from_value(json!({"intervalMiles": 5_000, "intervalMonths": 6})).unwrap();
    let view = f
        .scheduler
        .configure_item("org_a", &"veh_1".into(), "oil_change", &change, None)
        .await
        .unwrap();
    assert_eq!(
        (view.due_odometer, view.due_at),
        (Some(45_000), Some(day(2025, 9, 1)))
    );
    assert_eq!(view.status, MaintenanceStatus::Ok);
    f.drain().await;

    f.clock.set(at(2025, 6, 1));
    f.read("evt_r1", at(2025, 6, 1), 44_600).await;
    let out = f.drain().await;
    assert_eq!(oil_view(&out).status, MaintenanceStatus::DueSoon);
    assert_eq!(
        oil_reminders(&out),
        [("oil_change".to_string(), MaintenanceStatus::DueSoon, 0)]
    );
    let changes: Vec<MaintenanceStatusChanged> = of_type(&out, EventType::MaintenanceStatusChanged)
        .iter()
        .map(|e| e.payload().cloned().unwrap())
        .filter(|c: &MaintenanceStatusChanged| c.task == "oil_change")
        .collect();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (changes[0].previous_status, changes[0].status),
        (Some(MaintenanceStatus::Ok), MaintenanceStatus::DueSoon)
    );

    f.clock.set(at(2025, 6, 10));
    f.read("evt_r2", at(2025, 6, 10), 45_100).await;
    let out = f.drain().await;
    let oil = oil_view(&out);
    assert_eq!(oil.status, MaintenanceStatus::Overdue);
    assert_eq!(oil.reason, "Overdue: was due at 45,000 mi");
    assert_eq!(
        oil_reminders(&out),
        [("oil_change".to_string(), MaintenanceStatus::Overdue, 0)]
    );
}

#[tokio::test]
async fn a_back_dated_maintenance_record_does_not_undo_a_later_one() {
    let f = Fixture::registered(at(2025, 6, 1)).await;
    f.service("evt_new", at(2025, 5, 1), 44_000, &["oil_change"])
        .await;
    let both = ["oil_change", "tire_rotation"];
    f.service("evt_old", at(2024, 11, 1), 39_000, &both).await;
    let out = f.drain().await;
    let oil = oil_view(&out);
    assert_eq!(
        (oil.last_done_odometer, oil.due_odometer),
        (Some(44_000), Some(49_000))
    );
    let tires = item_view(&out, "tire_rotation");
    assert_eq!(tires.last_done_odometer, Some(39_000));
}

#[tokio::test]
async fn events_before_the_registration_are_kept_and_count_once_it_arrives() {
    let f = Fixture::unregistered(at(2025, 6, 10));
    f.service("evt_oil", at(2025, 3, 1), 40_000, &["oil_change"])
        .await;
    f.read("evt_r", at(2025, 6, 10), 45_100).await;
    assert_eq!(
        f.drain().await,
        [],
        "nothing to publish for an unknown vehicle"
    );
    f.register().await;
    let out = f.drain().await;
    assert_eq!(oil_view(&out).status, MaintenanceStatus::Overdue);
    assert!(reminders(&out).contains(&("oil_change".to_string(), MaintenanceStatus::Overdue, 0)));
}

#[tokio::test]
async fn an_event_that_says_nothing_about_maintenance_changes_nothing() {
    let f = Fixture::registered(at(2025, 6, 10)).await;
    f.drain().await;
    let version = f.state().await.version;
    let details = json!({"amountCents": 1_500_000, "source": "user_estimate"});
    let valuation = timeline_event(&f.v, "evt_val", "valuation", at(2025, 6, 1), None, details);
    f.record(&valuation).await;
    assert_eq!(f.state().await.version, version);
    assert_eq!(f.drain().await, []);
}

#[tokio::test]
async fn a_rolled_back_reading_is_not_trusted() {
    let f = Fixture::registered(at(2025, 6, 2)).await;
    f.service("evt_oil", at(2025, 3, 1), 40_000, &["oil_change"])
        .await;
    f.read("evt_r1", at(2025, 6, 1), 44_600).await;
    assert_eq!(
        oil_view(&f.drain().await).status,
        MaintenanceStatus::DueSoon
    );
    let before = f.state().await.published;
    // A typo a day later: lower than the reading before it, so kept but flagged and not used.
    f.read("evt_typo", at(2025, 6, 2), 4_460).await;
    let state = f.state().await;
    assert_eq!(state.facts.len(), 3);
    assert_eq!(state.published, before);
    assert_eq!(f.drain().await, []);
}

#[tokio::test]
async fn concurrent_events_of_one_vehicle_all_land() {
    let f = Fixture::registered(at(2025, 6, 10)).await;
    let handles: Vec<_> = (0..20u64)
        .map(|i| {
            let e = reading(
                &f.v,
                &format!("evt_{i}"),
                at(2025, 5, 1 + i as u32),
                40_000 + 50 * i,
            );
            let c = f.c.clone();
            tokio::spawn(async move { c.handle(&recorded(&e)).await.unwrap() })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let state = f.state().await;
    assert_eq!(state.facts.len(), 20);
    let fresh = vwc_maintenance_scheduler::evaluate_vehicle(
        state.vehicle.as_ref().unwrap(),
        &state.facts,
        &state.settings,
        day(2025, 6, 10),
    );
    assert_eq!(
        state.published,
        Some(PublishedSchedule::of(&fresh.items)),
        "the last published schedule saw every event"
    );
}

/// The bus keeps no order (SQS does not): a void delivered before the record it voids, or a correction
/// older than one already applied, must not bring the record back.
#[tokio::test]
async fn revisions_apply_in_revision_order_whatever_order_they_arrive_in() {
    let f = Fixture::registered(at(2025, 6, 10)).await;
    let oil = maintenance(&f.v, "evt_oil", at(2025, 6, 1), 40_000, &["oil_change"]);
    let done = || async {
        let state = f.state().await;
        state.facts.iter().any(|fact| fact.event_id == "evt_oil")
    };

    // The void first, then the original: the oil change never counts as done.
    f.deliver(&revised(&oil, 2, true)).await;
    f.record(&oil).await;
    assert!(!done().await, "a voided record came back");
    assert_eq!(f.state().await.revisions.get("evt_oil"), Some(&2));

    // Two corrections of another record, the newer first, then the original: the newest stays.
    let tires = maintenance(
        &f.v,
        "evt_tires",
        at(2025, 6, 2),
        40_100,
        &["tire_rotation"],
    );
    for delivery in corrections_newest_first(&tires, 40_150, 40_900) {
        f.deliver(&delivery).await;
    }
    let state = f.state().await;
    let fact = state
        .facts
        .iter()
        .find(|fact| fact.event_id == "evt_tires")
        .unwrap();
    assert_eq!(fact.odometer, Some(40_150));
    assert_eq!(state.revisions.get("evt_tires"), Some(&3));
}

/// What a published envelope says, without what differs between two runs (its id, its own time, the
/// span part of its trace).
fn published(envelopes: &[Envelope]) -> Vec<serde_json::Value> {
    envelopes
        .iter()
        .map(|e| {
            let mut json = serde_json::to_value(e).unwrap();
            let object = json.as_object_mut().unwrap();
            object.remove("id");
            object.remove("occurredAt");
            let trace =
                (object.get("traceparent").and_then(|t| t.as_str())).map(|t| t[..35].to_string());
            object.insert("traceparent".into(), json!(trace));
            json
        })
        .collect()
}

/// A vehicle's chain of envelopes — with a poison in the middle, a redelivery, an event naming the
/// vehicle from another organisation, a correction and a void, times finer than the store keeps —
/// delivered one envelope at a time, each read from the store (a new consumer per envelope: nothing
/// kept in memory), and applied as one chain (one read, one commit batch, one decision).
fn chain_of_one_vehicle(v: &Vehicle) -> Vec<Envelope> {
    let fine = chrono::Duration::nanoseconds(123_456_789);
    let oil = maintenance(
        v,
        "evt_oil",
        at(2025, 1, 10) + fine,
        10_000,
        &["oil_change"],
    );
    let first_reading = recorded(&reading(v, "evt_r1", at(2025, 1, 2), 9_000));
    let mut foreign = reading(v, "evt_foreign", at(2025, 3, 1), 90_000);
    foreign.org_id = "org_b".into();
    vec![
        registered(v),
        first_reading.clone(),
        recorded(&oil),
        undecodable(&recorded(&reading(v, "evt_bad", at(2025, 2, 1), 11_000))),
        recorded(&reading(v, "evt_r2", at(2025, 5, 20) + fine, 16_500)),
        first_reading,
        recorded(&foreign),
        revised(&oil, 2, false),
        recorded(&maintenance(
            v,
            "evt_oil2",
            at(2025, 5, 25),
            16_600,
            &["oil_change", "tire_rotation"],
        )),
        revised(&oil, 3, true),
        recorded(&reading(v, "evt_r3", at(2025, 5, 30), 17_100)),
    ]
}

#[tokio::test]
async fn a_chain_applied_at_once_answers_and_stores_what_one_at_a_time_does_and_publishes_where_it_ends()
 {
    let now = at(2025, 6, 1);
    let v = vehicle("org_a", "veh_1", OdometerUnit::Mi);
    let chain = chain_of_one_vehicle(&v);

    let alone = Fixture::of(v.clone(), now);
    let mut one_at_a_time = Vec::new();
    for envelope in &chain {
        let fresh = Scheduler::new(alone.t.shared()).with_clock(alone.clock.clock());
        let outcome = SchedulerConsumer::new(fresh).handle(envelope).await;
        one_at_a_time.push(outcome.map_err(|e| e.to_string()));
    }

    let together = Fixture::of(v.clone(), now);
    let refs: Vec<&Envelope> = chain.iter().collect();
    let at_once: Vec<_> = (together.c.handle_chain(&refs).await.into_iter())
        .map(|o| o.map_err(|e| e.to_string()))
        .collect();

    assert_same_answers(&at_once, &one_at_a_time, &[3]);
    let (alone_out, together_out) = (alone.drain().await, together.drain().await);
    assert!(
        !reminders(&alone_out).is_empty()
            && of_type(&alone_out, EventType::MaintenanceScheduleUpdated).len() > 3,
        "the chain publishes schedules and reminders: {:?}",
        alone_out
            .iter()
            .map(Envelope::event_type)
            .collect::<Vec<_>>()
    );
    // Decided once for the run, on its last state: the schedule the one-at-a-time deliveries end with,
    // published once, and none of the reminders and status changes of the states in between (every item
    // ends `ok`, so nothing is due). Its projections are the last state's: the one-at-a-time deliveries
    // last published before the last reading, which moved only projections (not published alone).
    let schedules = |out: &[Envelope]| -> Vec<serde_json::Value> {
        (published(out).into_iter())
            .filter(|e| e["type"] == "MaintenanceScheduleUpdated")
            .collect()
    };
    let facts_of = |schedule: Option<&serde_json::Value>| {
        let mut schedule = schedule.expect("a schedule").clone();
        let data = schedule["data"].as_object_mut().unwrap();
        let estimated = data.remove("odometer").unwrap();
        for item in data["items"].as_array_mut().unwrap() {
            item.as_object_mut().unwrap().remove("projectedDueAt");
        }
        (schedule, estimated["value"].as_u64().unwrap())
    };
    let (alone_schedules, together_schedules) = (schedules(&alone_out), schedules(&together_out));
    assert_eq!(published(&together_out), together_schedules);
    assert_eq!(together_schedules.len(), 1);
    let (alone_last, alone_odometer) = facts_of(alone_schedules.last());
    let (together_last, together_odometer) = facts_of(together_schedules.last());
    assert_eq!(together_last, alone_last);
    assert!(together_odometer > alone_odometer && together_odometer > 17_100);
    let (mut stored_alone, stored_together) = (alone.state().await, together.state().await);
    assert!(!stored_alone.reminders.is_empty() && stored_together.reminders.is_empty());
    stored_alone.reminders.clear();
    assert_eq!(stored_together, stored_alone);
    let kept = together.state().await;
    assert_eq!(
        kept.version, 8,
        "every applied envelope committed once: {kept:?}"
    );

    // Delivered again, one at a time or at once, the chain changes and publishes nothing more.
    let again: Vec<_> = (together.c.handle_chain(&refs).await.into_iter())
        .map(|o| o.map_err(|e| e.to_string()))
        .collect();
    assert_eq!(again, one_at_a_time);
    assert_eq!(together.drain().await, []);
    assert_eq!(together.state().await, kept);
}

/// The state a delivery committed is kept for the vehicle's next delivery only when the composition root
/// asks (embedded mode); otherwise nothing stays in memory and every delivery reads its vehicle.
#[tokio::test]
async fn a_delivered_state_is_kept_only_when_the_scheduler_is_asked_to_keep_states() {
    for (kept, held) in [(KeptStates::None, 0), (KeptStates::Recent, 1)] {
        let v = vehicle("org_a", "veh_1", OdometerUnit::Mi);
        let f = Fixture::keeping(kept, v, at(2025, 6, 1));
        f.register().await;
        f.service("evt_oil", at(2025, 5, 1), 15_000, &["oil_change"])
            .await;
        f.read("evt_r1", at(2025, 5, 20), 15_400).await;
        assert_eq!(LedgerService::states(&f.scheduler).len(), held, "{kept:?}");
        let state = f.state().await;
        assert_eq!((state.version, state.facts.len()), (3, 2), "{kept:?}");
        assert_eq!(oil_view(&f.drain().await).due_odometer, Some(20_000));
    }
}

#[tokio::test]
async fn a_chain_without_surprises_is_one_writer_job_and_the_next_delivery_reads_nothing() {
    let f = Fixture::unregistered(at(2025, 6, 1));
    let mut chain = vec![registered(&f.v)];
    for i in 0..20u64 {
        let e = reading(
            &f.v,
            &format!("evt_r{i}"),
            at(2025, 2, 1) + chrono::Duration::days(i as i64),
            9_000 + i * 300,
        );
        chain.push(recorded(&e));
    }
    let jobs = f.t.store.db().writer_jobs();
    let refs: Vec<&Envelope> = chain.iter().collect();
    let outcomes = f.c.handle_chain(&refs).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(
        f.t.store.db().writer_jobs() - jobs,
        1,
        "21 envelopes, one commit batch"
    );
    assert_eq!(f.state().await.version, 21);
    assert_eq!(f.state().await.facts.len(), 20);

    // Another writer moves the vehicle on (the owner changes an interval): the state the consumer kept
    // is now behind; its next delivery is refused by the version, reads the vehicle and applies on it.
    let change: ItemChange =
        serde_json::from_value(json!({"intervalMiles": 4_000, "intervalMonths": 6})).unwrap();
    f.scheduler
        .configure_item("org_a", &"veh_1".into(), "oil_change", &change, None)
        .await
        .unwrap();
    f.drain().await;
    f.service("evt_oil", at(2025, 5, 1), 15_000, &["oil_change"])
        .await;
    let out = f.drain().await;
    assert_eq!(
        oil_view(&out).due_odometer,
        Some(19_000),
        "the owner's 4,000 mi kept"
    );
    let state = f.state().await;
    assert_eq!((state.version, state.facts.len()), (23, 21));
}
