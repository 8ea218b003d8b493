//! The scheduler consumer against a real SQLite file: schedules created on registration, timeline events
//! re-evaluated, every envelope applied exactly once, and the worked example end to end at the
//! store level.

mod common;

use common::*;
use serde_json::json;
use vwc_bus::Consumer;
use vwc_contracts::EventType;
use vwc_contracts::OdometerUnit;
use vwc_contracts::maintenance::{
    MaintenanceScheduleUpdated, MaintenanceStatus, MaintenanceStatusChanged,
};
use vwc_maintenance_scheduler::{
    ItemChange, PublishedSchedule, Scheduler, SchedulerConsumer, SchedulerStore,
};
use vwc_testkit::ledger::{corrections_newest_first, revised};

fn consumer(t: &TempStore, clock: &TestClock) -> (SchedulerConsumer, Scheduler) {
    let scheduler = Scheduler::new(t.shared()).with_clock(clock.clock());
    (SchedulerConsumer::new(scheduler.clone()), scheduler)
}

fn oil_view(
    envelopes: &[vwc_contracts::Envelope],
) -> vwc_contracts::maintenance::MaintenanceItemView {
    let updated: MaintenanceScheduleUpdated =
        of_type(envelopes, EventType::MaintenanceScheduleUpdated)
            .last()
            .expect("a MaintenanceScheduleUpdated")
            .payload()
            .cloned()
            .unwrap();
    updated
        .items
        .into_iter()
        .find(|i| i.task == "oil_change")
        .unwrap()
}

#[tokio::test]
async fn registration_creates_the_standard_schedule_in_the_vehicles_unit() {
    let t = TempStore::new();
    let clock = TestClock::at(at(2025, 1, 2));
    let (c, _) = consumer(&t, &clock);
    let v = vehicle("org_a", "veh_km", OdometerUnit::Km);
    c.handle(&registered(&v)).await.unwrap();

    let out = drain_outbox(t.store.as_ref()).await;
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
    let state = t.state("veh_km").await;
    assert_eq!(state.vehicle.unwrap().name, "2021 Toyota RAV4 (Blue)");
}

#[tokio::test]
async fn the_same_envelope_twice_has_one_effect_and_one_set_of_outbox_rows() {
    let t = TempStore::new();
    let clock = TestClock::at(at(2025, 6, 10));
    let (c, _) = consumer(&t, &clock);
    let v = vehicle("org_a", "veh_1", OdometerUnit::Mi);
    let registration = registered(&v);
    c.handle(&registration).await.unwrap();
    c.handle(&registration).await.unwrap();
    assert_eq!(
        of_type(
            &drain_outbox(t.store.as_ref()).await,
            EventType::MaintenanceScheduleUpdated
        )
        .len(),
        1
    );

    let event = recorded(&reading(&v, "evt_r", at(2025, 6, 10), 45_100));
    c.handle(&event).await.unwrap();
    let first = drain_outbox(t.store.as_ref()).await;
    assert!(!first.is_empty());
    let version = t.state("veh_1").await.version;
    c.handle(&event).await.unwrap();
    assert_eq!(
        drain_outbox(t.store.as_ref()).await,
        [],
        "a redelivery publishes nothing"
    );
    let state = t.state("veh_1").await;
    assert_eq!(state.version, version, "a redelivery writes nothing");
    assert_eq!(state.facts.len(), 1);

    // The same timeline event re-published under a new envelope id: the fact is kept once.
    record(&c, &reading(&v, "evt_r", at(2025, 6, 10), 45_100)).await;
    assert_eq!(drain_outbox(t.store.as_ref()).await, []);
    assert_eq!(t.state("veh_1").await.facts.len(), 1);
}

#[tokio::test]
async fn the_worked_example_oil_change_goes_due_soon_then_overdue_with_one_reminder_each() {
    let t = TempStore::new();
    let clock = TestClock::at(at(2025, 3, 1));
    let (c, scheduler) = consumer(&t, &clock);
    let v = vehicle("org_a", "veh_1", OdometerUnit::Mi);
    c.handle(&registered(&v)).await.unwrap();
    record(
        &c,
        &maintenance(&v, "evt_oil", at(2025, 3, 1), 40_000, &["oil_change"]),
    )
    .await;
    let change: ItemChange =
        serde_json::from_value(json!({"intervalMiles": 5_000, "intervalMonths": 6})).unwrap();
    let view = scheduler
        .configure_item("org_a", &"veh_1".into(), "oil_change", &change, None)
        .await
        .unwrap();
    assert_eq!(
        (view.due_odometer, view.due_at),
        (Some(45_000), Some(day(2025, 9, 1)))
    );
    assert_eq!(view.status, MaintenanceStatus::Ok);
    drain_outbox(t.store.as_ref()).await;

    clock.set(at(2025, 6, 1));
    record(&c, &reading(&v, "evt_r1", at(2025, 6, 1), 44_600)).await;
    let out = drain_outbox(t.store.as_ref()).await;
    assert_eq!(oil_view(&out).status, MaintenanceStatus::DueSoon);
    let oil_reminders: Vec<_> = reminders(&out)
        .into_iter()
        .filter(|r| r.0 == "oil_change")
        .collect();
    assert_eq!(
        oil_reminders,
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

    clock.set(at(2025, 6, 10));
    record(&c, &reading(&v, "evt_r2", at(2025, 6, 10), 45_100)).await;
    let out = drain_outbox(t.store.as_ref()).await;
    let oil = oil_view(&out);
    assert_eq!(oil.status, MaintenanceStatus::Overdue);
    assert_eq!(oil.reason, "Overdue: was due at 45,000 mi");
    let oil_reminders: Vec<_> = reminders(&out)
        .into_iter()
        .filter(|r| r.0 == "oil_change")
        .collect();
    assert_eq!(
        oil_reminders,
        [("oil_change".to_string(), MaintenanceStatus::Overdue, 0)]
    );
}

#[tokio::test]
async fn a_back_dated_maintenance_record_does_not_undo_a_later_one() {
    let t = TempStore::new();
    let clock = TestClock::at(at(2025, 6, 1));
    let (c, _) = consumer(&t, &clock);
    let v = vehicle("org_a", "veh_1", OdometerUnit::Mi);
    c.handle(&registered(&v)).await.unwrap();
    record(
        &c,
        &maintenance(&v, "evt_new", at(2025, 5, 1), 44_000, &["oil_change"]),
    )
    .await;
    record(
        &c,
        &maintenance(
            &v,
            "evt_old",
            at(2024, 11, 1),
            39_000,
            &["oil_change", "tire_rotation"],
        ),
    )
    .await;
    let out = drain_outbox(t.store.as_ref()).await;
    let oil = oil_view(&out);
    assert_eq!(
        (oil.last_done_odometer, oil.due_odometer),
        (Some(44_000), Some(49_000))
    );
    let latest: MaintenanceScheduleUpdated = of_type(&out, EventType::MaintenanceScheduleUpdated)
        .last()
        .unwrap()
        .payload()
        .cloned()
        .unwrap();
    let tires = latest
        .items
        .iter()
        .find(|i| i.task == "tire_rotation")
        .unwrap();
    assert_eq!(tires.last_done_odometer, Some(39_000));
}

#[tokio::test]
async fn events_before_the_registration_are_kept_and_count_once_it_arrives() {
    let t = TempStore::new();
    let clock = TestClock::at(at(2025, 6, 10));
    let (c, _) = consumer(&t, &clock);
    let v = vehicle("org_a", "veh_1", OdometerUnit::Mi);
    record(
        &c,
        &maintenance(&v, "evt_oil", at(2025, 3, 1), 40_000, &["oil_change"]),
    )
    .await;
    record(&c, &reading(&v, "evt_r", at(2025, 6, 10), 45_100)).await;
    assert_eq!(
        drain_outbox(t.store.as_ref()).await,
        [],
        "nothing to publish for an unknown vehicle"
    );
    c.handle(&registered(&v)).await.unwrap();
    let out = drain_outbox(t.store.as_ref()).await;
    assert_eq!(oil_view(&out).status, MaintenanceStatus::Overdue);
    assert!(reminders(&out).contains(&("oil_change".to_string(), MaintenanceStatus::Overdue, 0)));
}

#[tokio::test]
async fn an_event_that_says_nothing_about_maintenance_changes_nothing() {
    let t = TempStore::new();
    let clock = TestClock::at(at(2025, 6, 10));
    let (c, _) = consumer(&t, &clock);
    let v = vehicle("org_a", "veh_1", OdometerUnit::Mi);
    c.handle(&registered(&v)).await.unwrap();
    drain_outbox(t.store.as_ref()).await;
    let version = t.state("veh_1").await.version;
    let valuation = timeline_event(
        &v,
        "evt_val",
        "valuation",
        at(2025, 6, 1),
        None,
        json!({"amountCents": 1_500_000, "source": "user_estimate"}),
    );
    record(&c, &valuation).await;
    assert_eq!(t.state("veh_1").await.version, version);
    assert_eq!(drain_outbox(t.store.as_ref()).await, []);
}

#[tokio::test]
async fn a_rolled_back_reading_is_not_trusted() {
    let t = TempStore::new();
    let clock = TestClock::at(at(2025, 6, 2));
    let (c, _) = consumer(&t, &clock);
    let v = vehicle("org_a", "veh_1", OdometerUnit::Mi);
    c.handle(&registered(&v)).await.unwrap();
    record(
        &c,
        &maintenance(&v, "evt_oil", at(2025, 3, 1), 40_000, &["oil_change"]),
    )
    .await;
    record(&c, &reading(&v, "evt_r1", at(2025, 6, 1), 44_600)).await;
    assert_eq!(
        oil_view(&drain_outbox(t.store.as_ref()).await).status,
        MaintenanceStatus::DueSoon
    );
    let before = t.state("veh_1").await.published;
    // A typo a day later: lower than the reading before it, so kept but flagged and not used.
    record(&c, &reading(&v, "evt_typo", at(2025, 6, 2), 4_460)).await;
    let state = t.state("veh_1").await;
    assert_eq!(state.facts.len(), 3);
    assert_eq!(state.published, before);
    assert_eq!(drain_outbox(t.store.as_ref()).await, []);
}

#[tokio::test]
async fn concurrent_events_of_one_vehicle_all_land() {
    let t = TempStore::new();
    let clock = TestClock::at(at(2025, 6, 10));
    let (c, _) = consumer(&t, &clock);
    let c = std::sync::Arc::new(c);
    let v = vehicle("org_a", "veh_1", OdometerUnit::Mi);
    c.handle(&registered(&v)).await.unwrap();
    let mut handles = Vec::new();
    for i in 0..20u64 {
        let (c, e) = (
            c.clone(),
            recorded(&reading(
                &v,
                &format!("evt_{i}"),
                at(2025, 5, 1 + i as u32),
                40_000 + 50 * i,
            )),
        );
        handles.push(tokio::spawn(async move { c.handle(&e).await.unwrap() }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let state = t.state("veh_1").await;
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
    let t = TempStore::new();
    let clock = TestClock::at(at(2025, 6, 10));
    let (c, _) = consumer(&t, &clock);
    let v = vehicle("org_a", "veh_1", OdometerUnit::Mi);
    c.handle(&registered(&v)).await.unwrap();
    let oil = maintenance(&v, "evt_oil", at(2025, 6, 1), 40_000, &["oil_change"]);
    let done = |t: &TempStore| {
        let store = t.store.clone();
        async move {
            let state = store.vehicle_state(&"veh_1".into()).await.unwrap();
            state.facts.iter().any(|f| f.event_id == "evt_oil")
        }
    };

    // The void first, then the original: the oil change never counts as done.
    c.handle(&revised(&oil, 2, true)).await.unwrap();
    record(&c, &oil).await;
    assert!(!done(&t).await, "a voided record came back");
    assert_eq!(t.state("veh_1").await.revisions.get("evt_oil"), Some(&2));

    // Two corrections of another record, the newer first, then the original: the newest stays.
    let tires = maintenance(&v, "evt_tires", at(2025, 6, 2), 40_100, &["tire_rotation"]);
    for delivery in corrections_newest_first(&tires, 40_150, 40_900) {
        c.handle(&delivery).await.unwrap();
    }
    let state = t.state("veh_1").await;
    let fact = state
        .facts
        .iter()
        .find(|f| f.event_id == "evt_tires")
        .unwrap();
    assert_eq!(fact.odometer, Some(40_150));
    assert_eq!(state.revisions.get("evt_tires"), Some(&3));
}
