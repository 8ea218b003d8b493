//! The sweep: every vehicle (of an organisation, or all) re-evaluated against a day. It reads pages of
//! vehicle state in bulk, evaluates them off the async threads while the next page is read, and writes
//! only what changed, a page per transaction. Idempotent per day: a second run of a day that was swept
//! already returns at once (and would find nothing changed and every reminder already sent: reminders are
//! keyed by cycle and weekly occurrence). A forced run (`DailyRun::force`) evaluates every vehicle again,
//! and publishes only what its evaluation now says differently.

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::{DateTime, Months, NaiveDate, Utc};
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use vwc_contracts::{OdometerUnit, OrgId, VehicleId};
use vwc_store::vehicle_ledger::{DailyRun, ran_already, record_run};
use vwc_store::{StoreError, StoreResult};
use vwc_telemetry::TraceParent;

use crate::evaluation::{FactKind, TimelineFact, VehicleRecord};
use crate::publishing::Published;
use crate::service::{AsOf, Decided, Keep, UpdateError, decide, update_vehicle};
use crate::settings::ItemSettings;
use crate::store::{CommitOutcome, LedgerChange, SchedulerStore, VehicleCommit, VehicleState};

/// Vehicles read, evaluated and written together. A page's states, plans and envelopes in flight in each
/// stage stay within the caches at 500: 2,000 read the first sweep of 100,000 vehicles 7–10 % slower, with
/// more CPU; 1,000 sat between, 250 as 500 (docs/bench.md, stop 48).
pub const SWEEP_PAGE: usize = 500;

/// Pages being committed at once (see [`sweep`]).
const COMMITS_IN_FLIGHT: usize = 2;

/// The key under which a sweep of every organisation records its day.
pub use vwc_store::vehicle_ledger::EVERY_ORGANISATION;

/// What a sweep did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"day": "2026-01-10", "orgId": "org_a", "vehicles": 120, "items": 1440,
    "changed": 7, "statusChanges": 9, "reminders": 4, "retried": 0, "elapsedMs": 85}))]
pub struct SweepReport {
    /// The day evaluated.
    pub day: NaiveDate,
    /// The organisation swept; absent when every organisation was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// Registered vehicles evaluated: those whose wake day had come (see `service::wake_on`); the
    /// others cannot have changed since their last evaluation.
    pub vehicles: u64,
    /// Items evaluated.
    pub items: u64,
    /// Vehicles whose schedule changed (each published one `MaintenanceScheduleUpdated`).
    pub changed: u64,
    /// `MaintenanceStatusChanged` events published.
    pub status_changes: u64,
    /// `ReminderDue` events published.
    pub reminders: u64,
    /// Vehicles that changed while the sweep ran and were evaluated again on their own.
    pub retried: u64,
    /// How long the sweep took.
    pub elapsed_ms: u64,
    /// The day was already swept (for this organisation, or for every one): nothing was evaluated, since
    /// everything that happened since was evaluated as it arrived.
    #[serde(default)]
    pub already_swept: bool,
}

impl SweepReport {
    fn new(day: NaiveDate, org: Option<&str>) -> SweepReport {
        SweepReport {
            day,
            org_id: org.map(str::to_string),
            vehicles: 0,
            items: 0,
            changed: 0,
            status_changes: 0,
            reminders: 0,
            retried: 0,
            elapsed_ms: 0,
            already_swept: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Update(#[from] UpdateError),
    #[error("evaluating a page of vehicles failed: {0}")]
    Evaluation(String),
}

/// Re-evaluates every vehicle of the run's organisation (or of every organisation) against its day.
///
/// Three stages run at once, a page apart: reading (the store's read pool), evaluating (a blocking
/// thread) and writing (the store's writer, with [`COMMITS_IN_FLIGHT`] pages being prepared or written).
/// Each hands its page to the next over a one-slot channel, so at most a handful of pages are in memory
/// whatever the fleet size.
pub async fn sweep(store: &dyn SchedulerStore, run: &DailyRun) -> Result<SweepReport, SweepError> {
    let started = Instant::now();
    let (org, today) = (run.org.as_deref(), run.day);
    let when = AsOf {
        today,
        now: run.now,
    };
    let trace = run
        .traceparent
        .clone()
        .unwrap_or_else(|| TraceParent::new_root().to_string());
    let mut report = SweepReport::new(today, org);
    if ran_already(store, run).await? {
        report.already_swept = true;
        report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(day = %today, org = org.unwrap_or(EVERY_ORGANISATION), "maintenance sweep: day already swept");
        return Ok(report);
    }
    let mut orgs: BTreeSet<String> = org.map(str::to_string).into_iter().collect();
    let org_id = org.map(OrgId::from);
    // A forced run reads every vehicle, not only those whose wake day has come.
    let due_on = (!run.force).then_some(today);

    let (pages, mut to_evaluate) = mpsc::channel::<Vec<VehicleState>>(1);
    let (plans, mut to_write) = mpsc::channel::<PagePlan>(1);
    let read = async move {
        let mut after: Option<VehicleId> = None;
        loop {
            let page = store
                .vehicle_states(org_id.as_ref(), after.as_ref(), due_on, SWEEP_PAGE)
                .await?;
            let last_page = page.len() < SWEEP_PAGE;
            after = page.last().map(|s| VehicleId::from(&s.vehicle_id));
            // A closed channel means a later stage failed; its error is the one reported.
            if page.is_empty() || pages.send(page).await.is_err() || last_page {
                return Ok::<(), SweepError>(());
            }
        }
    };
    let evaluate = {
        let trace = trace.clone();
        async move {
            while let Some(page) = to_evaluate.recv().await {
                let trace = trace.clone();
                let planned = tokio::task::spawn_blocking(move || plan_page(page, when, &trace))
                    .await
                    .map_err(|e| SweepError::Evaluation(e.to_string()))?;
                if plans.send(planned).await.is_err() {
                    break;
                }
            }
            Ok::<(), SweepError>(())
        }
    };
    let write = async {
        // Two pages' commits in flight: the store prepares one (its JSON, on a blocking thread) while its
        // writer writes the other.
        let mut committing = FuturesOrdered::new();
        let mut pages_done = false;
        loop {
            tokio::select! {
                page = to_write.recv(), if !pages_done && committing.len() < COMMITS_IN_FLIGHT => {
                    match page {
                        Some(page) => committing.push_back(commit_page(store, page)),
                        None => pages_done = true,
                    }
                }
                written = committing.next(), if !committing.is_empty() => {
                    let written = written.expect("a commit was in flight")?;
                    settle_page(store, written, when, &trace, &mut report, &mut orgs).await?;
                }
                else => break,
            }
        }
        Ok::<(), SweepError>(())
    };
    let (read, evaluate, write) = tokio::join!(read, evaluate, write);
    write?;
    evaluate?;
    read?;

    record_run(store, org, orgs, today).await?;
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(day = %today, org = org.unwrap_or(EVERY_ORGANISATION), vehicles = report.vehicles,
        changed = report.changed, reminders = report.reminders, elapsed_ms = report.elapsed_ms,
        "maintenance sweep done");
    Ok(report)
}

/// Counts of one vehicle's plan.
#[derive(Debug, Clone, Copy, Default)]
struct Planned {
    items: u64,
    changed: bool,
    status_changes: u64,
    reminders: u64,
}

impl Planned {
    fn of(items: u64, published: Published) -> Planned {
        Planned {
            items,
            changed: published.schedule,
            status_changes: published.status_changes as u64,
            reminders: published.reminders as u64,
        }
    }

    fn add_to(self, report: &mut SweepReport) {
        report.items += self.items;
        report.changed += u64::from(self.changed);
        report.status_changes += self.status_changes;
        report.reminders += self.reminders;
    }
}

/// A page evaluated: what it counted, and the commits of the vehicles with something to write.
#[derive(Default)]
struct PagePlan {
    vehicles: u64,
    unchanged_items: u64,
    orgs: BTreeSet<String>,
    commits: Vec<(VehicleCommit, Planned)>,
}

/// Evaluates a page: pure CPU work, run on a blocking thread.
fn plan_page(states: Vec<VehicleState>, when: AsOf, trace: &str) -> PagePlan {
    let mut out = PagePlan::default();
    for state in &states {
        let mut commit = VehicleCommit::on(state);
        let Some(Decided {
            items, published, ..
        }) = decide(state, &mut commit, when, Some(trace), Keep::Counts)
        else {
            continue;
        };
        out.vehicles += 1;
        if let Some(v) = &state.vehicle
            && !out.orgs.contains(&v.org_id)
        {
            out.orgs.insert(v.org_id.clone());
        }
        let nothing_to_write = commit.published.is_none()
            && commit.reminders.is_empty()
            && commit.ledger.outbox.is_empty();
        if nothing_to_write && commit.wake_on == state.wake_on {
            out.unchanged_items += items;
        } else {
            // Nothing to publish still moves the vehicle's wake day past today.
            out.commits.push((commit, Planned::of(items, published)));
        }
    }
    out
}

/// A page's commits written in one batch, with what they counted.
struct WrittenPage {
    vehicles: u64,
    unchanged_items: u64,
    orgs: BTreeSet<String>,
    outcomes: Vec<CommitOutcome>,
    counts: Vec<Planned>,
    ids: Vec<VehicleId>,
}

/// Writes a page's commits in one batch.
async fn commit_page(
    store: &dyn SchedulerStore,
    page: PagePlan,
) -> Result<WrittenPage, SweepError> {
    let (commits, counts): (Vec<VehicleCommit>, Vec<Planned>) = page.commits.into_iter().unzip();
    let ids: Vec<VehicleId> = commits
        .iter()
        .map(|c| VehicleId::from(&c.ledger.vehicle_id))
        .collect();
    let outcomes = store.commit_batch(commits).await?;
    Ok(WrittenPage {
        vehicles: page.vehicles,
        unchanged_items: page.unchanged_items,
        orgs: page.orgs,
        outcomes,
        counts,
        ids,
    })
}

/// Counts a written page; a vehicle that changed since it was read is evaluated again.
async fn settle_page(
    store: &dyn SchedulerStore,
    page: WrittenPage,
    when: AsOf,
    trace: &str,
    report: &mut SweepReport,
    orgs: &mut BTreeSet<String>,
) -> Result<(), SweepError> {
    report.vehicles += page.vehicles;
    report.items += page.unchanged_items;
    orgs.extend(page.orgs);
    let (outcomes, counts, ids) = (page.outcomes, page.counts, page.ids);
    for ((outcome, planned), vehicle_id) in outcomes.into_iter().zip(counts).zip(ids) {
        match outcome {
            CommitOutcome::Applied | CommitOutcome::Duplicate => planned.add_to(report),
            CommitOutcome::Conflict => {
                // The vehicle changed since the page was read (an event arrived): evaluate it afresh.
                report.retried += 1;
                let updated = update_vehicle(
                    store,
                    &vehicle_id,
                    None,
                    || when,
                    Some(trace),
                    |_, _| Ok::<(), std::convert::Infallible>(()),
                )
                .await?
                .unwrap_or_else(|never| match never {});
                if let Some(evaluation) = &updated.evaluation {
                    Planned::of(evaluation.items.len() as u64, updated.published).add_to(report);
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Bulk seeding for the benchmark

/// Organisations [`seed_bulk`] spreads its vehicles over.
pub use vwc_store::vehicle_ledger::bench::BENCH_ORGS;

/// A small deterministic generator, so every run seeds the same fleet.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

/// One benchmark vehicle: acquired two to six years before `today`, a few completions of catalogue
/// tasks, a reading every few months, and now and then an owner's setting. No events are published.
fn bench_vehicle(i: usize, today: DateTime<Utc>) -> VehicleCommit {
    let mut rng = Lcg(i as u64 ^ 0x9e37_79b9_7f4a_7c15);
    let id = format!("veh_bench_{i:07}");
    let unit = if i.is_multiple_of(5) {
        OdometerUnit::Km
    } else {
        OdometerUnit::Mi
    };
    let days = |n: u64| chrono::Duration::days(n as i64);
    let acquired = today - days(730 + rng.below(1_460));
    let per_day = 10 + rng.below(60);
    let odometer_on =
        |at: DateTime<Utc>| 5_000 + per_day * (at - acquired).num_days().max(0) as u64;
    let mut facts = vec![TimelineFact {
        event_id: format!("evt_{id}_acq"),
        kind: FactKind::Acquisition,
        at: acquired,
        odometer: Some(5_000),
        tasks: Vec::new(),
    }];
    for k in 0..4 {
        let at = today - days(15 + 90 * k + rng.below(60));
        facts.push(TimelineFact {
            event_id: format!("evt_{id}_r{k}"),
            kind: FactKind::Reading,
            at,
            odometer: Some(odometer_on(at)),
            tasks: Vec::new(),
        });
    }
    // Most tasks were done somewhere within their interval, a few a little beyond it: a fleet in its
    // steady state, where most items are ok and some are due soon or overdue.
    let tasks = ItemSettings::standard_schedule(unit);
    for (k, item) in tasks.iter().enumerate() {
        if rng.below(10) == 0 {
            continue;
        }
        let by_date = item.intervals.months.map(|m| u64::from(m) * 30);
        let by_distance = item.distance_interval(unit).map(|d| u64::from(d) / per_day);
        let period = by_date.into_iter().chain(by_distance).min().unwrap_or(365);
        let at = today - days(period * (1 + rng.below(104)) / 100);
        if at < acquired {
            continue;
        }
        facts.push(TimelineFact {
            event_id: format!("evt_{id}_m{k}"),
            kind: FactKind::Maintenance,
            at,
            odometer: Some(odometer_on(at)),
            tasks: vec![item.task.clone()],
        });
    }
    let mut settings = Vec::new();
    if rng.below(10) == 0 {
        let mut oil = tasks[0].clone();
        oil.intervals.months = Some(12);
        settings.push(oil);
    }
    VehicleCommit {
        ledger: LedgerChange::on(&id, 0),
        register: Some(VehicleRecord {
            id,
            org_id: BENCH_ORGS[i % BENCH_ORGS.len()].to_string(),
            name: format!("20{:02} Bench Car {i}", 10 + i % 15),
            unit,
            registered_at: acquired
                .checked_add_months(Months::new(1))
                .unwrap_or(acquired),
            retired: false,
        }),
        facts,
        settings,
        ..VehicleCommit::default()
    }
}

/// Seeds `n_vehicles` registered vehicles with realistic timelines as of `today` straight into the store
/// (no events), printing progress to stderr, for `scripts/bench` and the sweep performance test. Vehicles
/// already there are left alone. Returns how many were added.
pub async fn seed_bulk(
    store: &dyn SchedulerStore,
    n_vehicles: usize,
    today: DateTime<Utc>,
) -> StoreResult<usize> {
    let started = Instant::now();
    let mut added = 0;
    let step = (n_vehicles / 10).max(1);
    let mut next_report = step;
    for start in (0..n_vehicles).step_by(SWEEP_PAGE) {
        let end = (start + SWEEP_PAGE).min(n_vehicles);
        let commits: Vec<VehicleCommit> = (start..end).map(|i| bench_vehicle(i, today)).collect();
        added += CommitOutcome::applied(&store.commit_batch(commits).await?);
        if end >= next_report || end == n_vehicles {
            eprintln!(
                "seed_bulk: {end}/{n_vehicles} vehicles ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
            next_report = end + step;
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{Keep, decide};
    use chrono::SubsecRound;
    use vwc_contracts::maintenance::MaintenanceScheduleUpdated;
    use vwc_contracts::{Envelope, EventType};

    /// The sweep's evaluation leaves each item's reason and due cycle for the plan to derive
    /// (`Keep::Counts`): it must publish, remember and wake exactly as the consumer's (`Keep::Evaluation`)
    /// on a first evaluation and on later days, when statuses change and reminders repeat.
    #[test]
    fn a_sweep_publishes_what_a_whole_evaluation_publishes() {
        let now: DateTime<Utc> = "2026-11-29T10:00:00.123456Z".parse().unwrap();
        let what = |commit: &VehicleCommit| {
            let events: Vec<(EventType, String)> = (commit.ledger.outbox.iter())
                .map(|e| {
                    let json: serde_json::Value = serde_json::to_value(e).unwrap();
                    (e.event_type(), json["data"].to_string())
                })
                .collect();
            (
                events,
                format!("{:?}", commit.published),
                format!("{:?}", commit.reminders),
                commit.wake_on,
            )
        };
        let (mut reminders, mut status_changes) = (0, 0);
        for i in 0..300 {
            let seeded = bench_vehicle(i, now);
            let mut state = VehicleState {
                vehicle: seeded.register,
                facts: seeded.facts,
                settings: seeded.settings,
                ..VehicleState::new(&seeded.ledger.vehicle_id)
            };
            for days in [0, 20, 45, 52, 120, 400] {
                let when = AsOf::at(now + chrono::Duration::days(days));
                let (mut whole, mut counts) =
                    (VehicleCommit::on(&state), VehicleCommit::on(&state));
                decide(&state, &mut whole, when, None, Keep::Evaluation).unwrap();
                decide(&state, &mut counts, when, None, Keep::Counts).unwrap();
                assert_eq!(what(&counts), what(&whole), "vehicle {i}, day +{days}");
                reminders += whole.reminders.len();
                status_changes += (whole.ledger.outbox.iter())
                    .filter(|e| e.event_type() == EventType::MaintenanceStatusChanged)
                    .count();
                if whole.published.is_some() {
                    state.published = whole.published;
                }
                state.reminders.extend(whole.reminders);
            }
        }
        assert!(
            reminders > 300 && status_changes > 100,
            "{reminders} reminders, {status_changes} status changes"
        );
    }

    /// A first sweep of the benchmark's fleet publishes each vehicle's schedule at version 3: no item
    /// carries the `reason` or `dueCycle` its readers derive, nor the catalogue's title and intervals nor
    /// `enabled: true`, and the payload leaves the vehicle to the envelope — the event fits twice in a
    /// 4 KiB page — and decoding it gives back exactly the items the scheduler evaluated.
    #[test]
    fn a_schedule_event_carries_facts_only_and_decodes_to_the_items_evaluated() {
        let now: DateTime<Utc> = "2026-11-29T10:00:00.123456789Z".parse().unwrap();
        let (mut bytes, mut events) = (0, 0);
        for i in 0..200 {
            let seeded = bench_vehicle(i, now);
            // Facts as the store reads them back: to the microsecond.
            let facts = seeded.facts.into_iter().map(|f| TimelineFact {
                at: f.at.trunc_subsecs(6),
                ..f
            });
            let state = VehicleState {
                vehicle: seeded.register,
                facts: facts.collect(),
                settings: seeded.settings,
                ..VehicleState::new(&seeded.ledger.vehicle_id)
            };
            let mut commit = VehicleCommit::on(&state);
            let trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
            let decided = decide(
                &state,
                &mut commit,
                AsOf::at(now),
                Some(trace),
                Keep::Evaluation,
            );
            let evaluation = decided.unwrap().evaluation;
            let envelope = commit
                .ledger
                .outbox
                .iter()
                .find(|e| e.event_type() == EventType::MaintenanceScheduleUpdated)
                .expect("a first evaluation publishes the schedule");
            assert_eq!(envelope.version, 3);
            let json = serde_json::to_string(envelope).unwrap();
            let wire: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(wire["data"].get("vehicleId"), None);
            let items = wire["data"]["items"].as_array().unwrap();
            assert_eq!(items.len(), 12);
            for item in items {
                for derived in ["reason", "dueCycle", "enabled"] {
                    assert_eq!(item.get(derived), None, "{item}");
                }
            }
            let decoded: Envelope = serde_json::from_str(&json).unwrap();
            let schedule = decoded.payload::<MaintenanceScheduleUpdated>().unwrap();
            assert_eq!(schedule.items, evaluation.items);
            assert!(schedule.items.iter().all(|i| !i.reason.is_empty()));
            bytes += json.len();
            events += 1;
        }
        let average = bytes / events;
        eprintln!("{average} bytes a schedule event on average");
        assert!(
            average < 1_960,
            "{average} bytes a schedule event on average"
        );
    }
}
