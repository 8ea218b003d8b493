//! The sweep against a real SQLite file: idempotent per day, weekly overdue repeats, organisation scope,
//! only the vehicles whose wake day has come, the embedded loop, and a performance smoke run (timed, not
//! asserted).

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use vwc_bus::Consumer;
use vwc_contracts::maintenance::MaintenanceStatus;
use vwc_contracts::{EventType, OdometerUnit};
use vwc_maintenance_scheduler::service::{AsOf, Keep, decide};
use vwc_maintenance_scheduler::{
    Scheduler, SchedulerConsumer, SchedulerStore, SweepReport, VehicleCommit, VehicleState,
    seed_bulk, sweep,
};
use vwc_store::vehicle_ledger::{DailyRun, DailyRuns, LedgerService, run_daily};

/// A sweep of `day` for `org` (every organisation when `None`), stamped with the wall clock's "now" as the
/// seeded states are.
fn run(org: Option<&str>, day: chrono::NaiveDate) -> DailyRun {
    DailyRun::of_day(org, day, vwc_clock::now())
}

/// The sweep of `day` for `org` (every organisation when `None`) over `t`'s store ([`run`]); it must
/// succeed.
async fn swept(t: &TempStore, org: Option<&str>, day: chrono::NaiveDate) -> SweepReport {
    sweep(t.store.as_ref(), &run(org, day)).await.unwrap()
}

/// A fresh store holding each (organisation, vehicle) of `vehicles` as [`overdue_vehicle`] leaves it.
async fn overdue_vehicles(vehicles: &[(&str, &str)]) -> TempStore {
    let t = TempStore::new();
    for (org, id) in vehicles {
        overdue_vehicle(&t, org, id).await;
    }
    t
}

/// One vehicle whose oil change went overdue on 10 June 2025 (done at 40,000 on 1 March, read 45,100).
async fn overdue_vehicle(t: &TempStore, org: &str, id: &str) {
    let clock = TestClock::at(at(2025, 6, 10));
    let c = SchedulerConsumer::new(Scheduler::new(t.shared()).with_clock(clock.clock()));
    let v = vehicle(org, id, OdometerUnit::Mi);
    c.handle(&registered(&v)).await.unwrap();
    record(
        &c,
        &maintenance(
            &v,
            &format!("{id}_oil"),
            at(2025, 3, 1),
            40_000,
            &["oil_change"],
        ),
    )
    .await;
    record(
        &c,
        &reading(&v, &format!("{id}_r"), at(2025, 6, 10), 45_100),
    )
    .await;
}

fn oil(envelopes: &[vwc_contracts::Envelope]) -> Vec<(MaintenanceStatus, u32)> {
    reminders(envelopes)
        .into_iter()
        .filter(|r| r.0 == "oil_change")
        .map(|r| (r.1, r.2))
        .collect()
}

#[tokio::test]
async fn days_passing_without_events_publish_nothing_and_a_second_sweep_the_same_day_neither() {
    let t = overdue_vehicles(&[("org_a", "veh_1"), ("org_a", "veh_2")]).await;
    drain_outbox(t.store.as_ref()).await;

    // Two days on, no event: no due point, status or setting moved, so no outbox row at all — the
    // vehicles' wake day (their weekly overdue repeat, the 17th) has not come, so none is even read.
    let first = swept(&t, None, day(2025, 6, 12)).await;
    assert_eq!((first.vehicles, first.items), (0, 0));
    let asleep = t.state("veh_1").await;
    assert_eq!(asleep.wake_on, Some(day(2025, 6, 17)));
    assert_eq!(
        (first.changed, first.status_changes, first.reminders),
        (0, 0, 0)
    );
    assert_eq!(drain_outbox(t.store.as_ref()).await, []);

    // The same day again: already swept, so not a vehicle is read.
    let second = swept(&t, None, day(2025, 6, 12)).await;
    assert!(second.already_swept);
    assert_eq!((second.vehicles, second.items, second.changed), (0, 0, 0));
    let org_only = swept(&t, Some("org_a"), day(2025, 6, 12)).await;
    assert!(
        org_only.already_swept,
        "every organisation's sweep covers each"
    );
    assert_eq!(drain_outbox(t.store.as_ref()).await, []);
    // Forced (after an upgrade, say): every vehicle is evaluated again, asleep or not, and what was
    // published already is not published again.
    let forced = sweep(t.store.as_ref(), &run(None, day(2025, 6, 12)).forced(true))
        .await
        .unwrap();
    assert!(!forced.already_swept);
    assert_eq!(forced.vehicles, 2, "{forced:?}");
    assert!(forced.items >= 2 * 10, "{forced:?}");
    assert_eq!(
        (forced.changed, forced.status_changes, forced.reminders),
        (0, 0, 0)
    );
    assert_eq!(drain_outbox(t.store.as_ref()).await, []);
    assert_eq!(t.state("veh_1").await.wake_on, Some(day(2025, 6, 17)));
    // A sweep of every organisation records the day for all of them at once.
    assert_eq!(
        t.store
            .last_day(&vwc_maintenance_scheduler::sweep::EVERY_ORGANISATION.into())
            .await
            .unwrap(),
        Some(day(2025, 6, 12))
    );

    // A week after the first overdue reminder: the repeat of each, and no schedule republished.
    swept(&t, None, day(2025, 6, 17)).await;
    let published = drain_outbox(t.store.as_ref()).await;
    assert_eq!(
        of_type(&published, EventType::MaintenanceScheduleUpdated).len(),
        0
    );
    let repeats = reminders(&published);
    assert!(repeats.len() >= 2, "{repeats:?}");
    assert!(
        repeats
            .iter()
            .all(|r| (r.1, r.2) == (MaintenanceStatus::Overdue, 1)),
        "only weekly repeats of overdue items: {repeats:?}"
    );
    assert_eq!(repeats.len(), published.len(), "nothing but the repeats");
}

#[tokio::test]
async fn an_item_still_overdue_a_week_later_is_reminded_again_once() {
    let t = overdue_vehicles(&[("org_a", "veh_1")]).await;
    // Registered on the 10th with nothing done yet, the oil change first counted from the registration
    // (due 1 July: due soon); then the completion and the reading made it overdue.
    assert_eq!(
        oil(&drain_outbox(t.store.as_ref()).await),
        [
            (MaintenanceStatus::DueSoon, 0),
            (MaintenanceStatus::Overdue, 0)
        ]
    );

    swept(&t, None, day(2025, 6, 16)).await;
    assert_eq!(oil(&drain_outbox(t.store.as_ref()).await), []);
    let week = swept(&t, None, day(2025, 6, 17)).await;
    let published = drain_outbox(t.store.as_ref()).await;
    assert_eq!(oil(&published), [(MaintenanceStatus::Overdue, 1)]);
    assert!(week.reminders >= 1);
    swept(&t, None, day(2025, 6, 17)).await;
    assert_eq!(drain_outbox(t.store.as_ref()).await, []);
}

#[tokio::test]
async fn an_organisations_sweep_touches_only_its_vehicles() {
    let t = overdue_vehicles(&[("org_a", "veh_a"), ("org_b", "veh_b")]).await;
    drain_outbox(t.store.as_ref()).await;
    // The 17th: a week after the overdue reminder, so org_b's sweep has a repeat to send.
    let report = swept(&t, Some("org_b"), day(2025, 6, 17)).await;
    assert_eq!(
        (report.vehicles, report.org_id.as_deref()),
        (1, Some("org_b"))
    );
    let published = drain_outbox(t.store.as_ref()).await;
    assert!(!published.is_empty());
    assert!(published.iter().all(|e| e.org_id == "org_b"));
    assert_eq!(t.store.last_day(&"org_a".into()).await.unwrap(), None);
    assert_eq!(
        t.store.last_day(&"org_b".into()).await.unwrap(),
        Some(day(2025, 6, 17))
    );
    // One organisation's sweep does not cover the others: sweeping them all the same day still runs.
    let all = swept(&t, None, day(2025, 6, 17)).await;
    assert!(!all.already_swept);
    // veh_b was evaluated for the day by its organisation's sweep: only veh_a is due.
    assert_eq!(all.vehicles, 1);
    assert!(
        drain_outbox(t.store.as_ref())
            .await
            .iter()
            .all(|e| e.org_id == "org_a"),
        "org_b's repeat went out already"
    );
}

#[tokio::test]
async fn a_sweep_of_every_organisation_covers_each_and_one_organisations_sweep_only_its_own() {
    // The Lambda's scheduled rule passes the day it fired for and, optionally, one organisation
    // (`ScheduledRun` in services/vwc); this is what it then asks of the sweep.
    let t = overdue_vehicles(&[("org_a", "veh_a"), ("org_b", "veh_b")]).await;
    let report = swept(&t, None, day(2025, 6, 17)).await;
    assert_eq!(
        (report.day, report.vehicles, report.org_id),
        (day(2025, 6, 17), 2, None)
    );
    let again = swept(&t, None, day(2025, 6, 17)).await;
    assert_eq!((again.changed, again.reminders), (0, 0));

    // A week on, both are due for their repeat; one organisation's sweep evaluates only its own.
    let report = swept(&t, Some("org_a"), day(2025, 6, 24)).await;
    assert_eq!(
        (report.vehicles, report.org_id.as_deref()),
        (1, Some("org_a"))
    );
}

#[tokio::test]
async fn the_embedded_loop_sweeps_at_once_for_the_systems_today_and_stops_on_shutdown() {
    let t = overdue_vehicles(&[("org_a", "veh_1")]).await;
    drain_outbox(t.store.as_ref()).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // "Today" is the system's clock's, not the wall clock's.
    let clock = TestClock::at(at(2025, 6, 17));
    let store = t.shared();
    let task = tokio::spawn(run_daily(
        "maintenance sweep",
        Duration::from_secs(3600),
        clock.clock(),
        stopped,
        move |run| {
            let store = store.clone();
            async move { sweep(store.as_ref(), &run).await }
        },
    ));
    let swept = vwc_testkit::eventually("the first sweep", Duration::from_secs(10), || async {
        t.store.last_day(&"org_a".into()).await.unwrap()
    })
    .await;
    assert_eq!(swept, day(2025, 6, 17));
    // That day's weekly repeat of the overdue oil change, and nothing later.
    assert_eq!(
        oil(&drain_outbox(t.store.as_ref()).await),
        [(MaintenanceStatus::Overdue, 1)]
    );
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the loop stops on shutdown")
        .unwrap();
}

#[tokio::test]
async fn sweep_performance_smoke() {
    let t = TempStore::new();
    let n = 2_000;
    let started = Instant::now();
    assert_eq!(
        seed_bulk(t.store.as_ref(), n, vwc_clock::now())
            .await
            .unwrap(),
        n
    );
    let seeded = started.elapsed();
    let today = vwc_clock::now().date_naive();
    let started = Instant::now();
    let first = swept(&t, None, today).await;
    let first_took = started.elapsed();
    let started = Instant::now();
    let second = swept(&t, None, today).await;
    let second_took = started.elapsed();
    assert_eq!(
        (first.vehicles, first.items, first.changed),
        (n as u64, 12 * n as u64, n as u64)
    );
    assert_eq!((second.changed, second.reminders), (0, 0));
    eprintln!(
        "sweep performance: {n} vehicles seeded in {seeded:?}; first sweep {first_took:?} \
         ({} changed, {} reminders, {} status changes); same-day sweep {second_took:?}",
        first.changed, first.reminders, first.status_changes
    );
}

/// `cargo test -p vwc-maintenance-scheduler --release --test sweep -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: 100,000 vehicles"]
async fn sweep_of_100_000_vehicles() {
    let t = TempStore::new();
    let n = 100_000;
    seed_bulk(t.store.as_ref(), n, vwc_clock::now())
        .await
        .unwrap();
    let today = vwc_clock::now().date_naive();
    for label in [
        "first sweep (everything published)",
        "same-day sweep",
        "next-day sweep",
    ] {
        let day = if label.starts_with("next") {
            today.succ_opt().unwrap()
        } else {
            today
        };
        let started = Instant::now();
        let report = swept(&t, None, day).await;
        eprintln!(
            "{label}: {:?} for {} vehicles / {} items ({} changed, {} reminders)",
            started.elapsed(),
            report.vehicles,
            report.items,
            report.changed,
            report.reminders
        );
    }
}

/// What a published envelope says, without when it was stamped: its type and its data minus
/// `evaluatedAt`.
fn said(e: &vwc_contracts::Envelope) -> (Option<String>, String) {
    let mut v = serde_json::to_value(e).unwrap();
    let mut data = v["data"].take();
    if let Some(d) = data.as_object_mut() {
        d.remove("evaluatedAt");
    }
    (
        e.vehicle_id.as_ref().map(|v| v.to_string()),
        format!("{} {data}", v["type"]),
    )
}

/// The sweep reads only the vehicles whose wake day has come (`wake_on`). Over a hundred days, a fleet
/// swept that way publishes exactly what evaluating every vehicle every day publishes — every schedule
/// change, status change and reminder, on the same day — while reading a fraction of the vehicles.
#[tokio::test]
async fn sweeping_only_awake_vehicles_publishes_what_evaluating_every_vehicle_daily_does() {
    const VEHICLES: usize = 250;
    const DAYS: u64 = 100;
    let t = TempStore::new();
    seed_bulk(t.store.as_ref(), VEHICLES, vwc_clock::now())
        .await
        .unwrap();
    // The reference: the same seeded states, every vehicle evaluated every day, in memory.
    let mut reference: Vec<VehicleState> = t
        .store
        .vehicle_states(None, None, None, VEHICLES + 1)
        .await
        .unwrap();
    assert_eq!(reference.len(), VEHICLES);
    let start = vwc_clock::now().date_naive();
    let (mut read, mut published) = (0, 0);
    for d in 0..DAYS {
        let today = start + chrono::Days::new(d);
        let report = swept(&t, None, today).await;
        read += report.vehicles;
        let mut swept: Vec<_> = drain_outbox(t.store.as_ref())
            .await
            .iter()
            .map(said)
            .collect();
        let mut expected = Vec::new();
        for state in &mut reference {
            let mut commit = VehicleCommit::on(state);
            if decide(
                state,
                &mut commit,
                AsOf {
                    today,
                    now: vwc_clock::now(),
                },
                None,
                Keep::Counts,
            )
            .is_none()
            {
                continue;
            }
            expected.extend(commit.ledger.outbox.iter().map(said));
            if commit.published.is_some() {
                state.published = commit.published;
            }
            state.reminders.extend(commit.reminders);
        }
        swept.sort();
        expected.sort();
        if swept != expected {
            let short = |v: &Vec<(Option<String>, String)>, w: &Vec<(Option<String>, String)>| {
                v.iter()
                    .filter(|x| !w.contains(x))
                    .take(4)
                    .map(|(id, s)| format!("{id:?} {}", &s[..s.len().min(400)]))
                    .collect::<Vec<_>>()
            };
            panic!(
                "day {today} (day {d} of the run): {} published, {} expected\nonly published: {:#?}\nonly expected: {:#?}",
                swept.len(),
                expected.len(),
                short(&swept, &expected),
                short(&expected, &swept)
            );
        }
        published += expected.len();
    }
    println!(
        "{DAYS} days of {VEHICLES} vehicles: {read} vehicle evaluations instead of {}, {published} events",
        VEHICLES as u64 * DAYS
    );
    assert!(
        published > VEHICLES,
        "the run must publish something to compare"
    );
    assert!(
        read < VEHICLES as u64 * DAYS / 2,
        "{read} vehicles read: the wake days do not spare the sweep much"
    );
}

/// The scheduler's database is made with pages of 16 KiB (the sweep writes in bulk; docs/bench.md), and the
/// sweep runs on it as on any other.
#[tokio::test]
async fn the_schedulers_database_is_made_with_pages_of_16_kib() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maintenance-scheduler.db");
    let store = vwc_maintenance_scheduler::SqliteSchedulerStore::open(&path).unwrap();
    let page: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "page_size", |r| r.get(0))
        .unwrap();
    assert_eq!(page, 16 * 1024);
    let now = chrono::Utc::now();
    seed_bulk(&store, 50, now).await.unwrap();
    let report = sweep(&store, &DailyRun::of_day(None, now.date_naive(), now))
        .await
        .unwrap();
    assert_eq!((report.vehicles, report.changed), (50, 50));
}
