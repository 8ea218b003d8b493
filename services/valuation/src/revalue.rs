//! Time passing re-values: the daily job. For every registered vehicle (of one organisation, or all) it
//! computes the current value and any monthly point that came due, and publishes what changed. Running it
//! twice the same day publishes nothing the second time, and reads nothing either: a day already re-valued
//! for the organisation (or for every organisation) returns at once, since every event and registration
//! since was valued when it arrived.

use chrono::NaiveDate;
use serde::Serialize;
use vwc_contracts::{OrgId, VehicleId};
use vwc_store::StoreError;
use vwc_store::vehicle_ledger::{AsOf, DailyRun, EVERY_ORGANISATION, ran_already, record_run};

use crate::store::{CommitOutcome, LedgerChange, ValuationStore, VehicleCommit};
use crate::valuer::{Scope, decide};

/// Vehicles read and committed together.
const PAGE: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum RevalueError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a re-valuation did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevalueReport {
    pub day: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// Registered vehicles re-valued.
    pub vehicles: u64,
    /// Vehicles with at least one new or changed point.
    pub changed: u64,
    /// `ValuationUpdated` events published.
    pub published: u64,
    /// The day was already re-valued (for this organisation, or for every one): no vehicle was read.
    #[serde(default)]
    pub already_revalued: bool,
}

/// Re-values every registered vehicle of the run's organisation (or of all organisations) as of its day;
/// the published points carry the run's time and trace.
pub async fn revalue(
    store: &dyn ValuationStore,
    run: &DailyRun,
) -> Result<RevalueReport, RevalueError> {
    let (org, today, now, traceparent) = (
        run.org.as_deref(),
        run.day,
        run.now,
        run.traceparent.as_deref(),
    );
    let when = AsOf { today, now };
    let mut report = RevalueReport {
        day: today,
        org_id: org.map(str::to_string),
        ..RevalueReport::default()
    };
    if ran_already(store, run).await? {
        report.already_revalued = true;
        tracing::info!(day = %today, org = org.unwrap_or(EVERY_ORGANISATION), "re-valuation: day already re-valued");
        return Ok(report);
    }
    let mut orgs = std::collections::BTreeSet::new();
    let org_id = org.map(OrgId::from);
    let mut after: Option<VehicleId> = None;
    loop {
        let states = store
            .vehicle_states(org_id.as_ref(), after.as_ref(), PAGE, false)
            .await?;
        let Some(last) = states.last() else { break };
        after = Some(VehicleId::from(&last.vehicle_id));
        let mut commits = Vec::new();
        for state in &states {
            report.vehicles += 1;
            if let Some(p) = &state.profile {
                orgs.insert(p.org_id.clone());
            }
            let mut commit = VehicleCommit::on(state);
            let decision = decide(state, &mut commit, when, traceparent, Scope::Recent);
            if !decision.points.is_empty() {
                report.changed += 1;
                report.published += decision.points.len() as u64;
                commits.push(commit);
            }
        }
        let ids: Vec<VehicleId> = commits
            .iter()
            .map(|c| VehicleId::from(&c.ledger.vehicle_id))
            .collect();
        let outcomes = store.commit_batch(commits).await?;
        for (id, outcome) in ids.iter().zip(outcomes) {
            if outcome == CommitOutcome::Conflict {
                // The vehicle changed under the job (an event arrived): its own update re-valued it
                // in full; one more pass on the fresh state picks up anything still missing.
                let state = store.vehicle_state(id).await?;
                let mut commit = VehicleCommit::on(&state);
                decide(&state, &mut commit, when, traceparent, Scope::Full);
                if commit.changes_state() {
                    store.commit(commit).await?;
                }
            }
        }
        if states.len() < PAGE {
            break;
        }
    }
    record_run(store, org, orgs, today).await?;
    Ok(report)
}

// ---------------------------------------------------------------------------------------------------
// Bulk seeding for the benchmark

/// Organisations [`seed_bulk`] spreads its vehicles over.
pub use vwc_store::vehicle_ledger::bench::BENCH_ORGS;

/// One benchmark vehicle as the daily job finds it: registered two years ago, bought then, three odometer
/// readings, an upgrade on some, valued up to yesterday (its history published through this month).
fn bench_vehicle(i: usize, today: NaiveDate) -> VehicleCommit {
    use crate::model::{Fact, FactDetail, VehicleProfile};
    use crate::store::PublishedPoint;
    use chrono::Datelike;
    let id = format!("veh_bench_{i:08}");
    let registered = today - chrono::Duration::days(730 + (i % 365) as i64);
    let at = |d: NaiveDate| d.and_hms_opt(10, 0, 0).expect("10:00 exists").and_utc();
    let mut facts = vec![Fact {
        event_id: format!("evt_{i}_acq"),
        at: at(registered),
        odometer: Some(10_000 + (i % 50_000) as u64),
        title: "Acquired".into(),
        detail: FactDetail::Acquisition {
            price_cents: Some(1_500_000 + (i % 3_000_000) as u64),
            currency: Some("USD".into()),
            new: false,
        },
    }];
    for r in 1..=3u64 {
        facts.push(Fact {
            event_id: format!("evt_{i}_odo{r}"),
            at: at(registered + chrono::Duration::days(200 * r as i64)),
            odometer: Some(10_000 + (i % 50_000) as u64 + r * (6_000 + (i % 9_000) as u64)),
            title: "Odometer reading".into(),
            detail: FactDetail::Odometer,
        });
    }
    if i.is_multiple_of(3) {
        facts.push(Fact {
            event_id: format!("evt_{i}_up"),
            at: at(registered + chrono::Duration::days(30)),
            odometer: None,
            title: "Tow hitch".into(),
            detail: FactDetail::Upgrade {
                category: Some("towing".into()),
                value_add_cents: None,
                cost_cents: Some(60_000),
                currency: None,
            },
        });
    }
    let first_of_month = today.with_day(1).unwrap_or(today);
    let point = PublishedPoint {
        fingerprint: 1,
        amount_cents: 1,
    };
    VehicleCommit {
        ledger: LedgerChange::on(&id, 0),
        register: Some(VehicleProfile {
            id,
            org_id: BENCH_ORGS[i % BENCH_ORGS.len()].to_string(),
            name: "2021 Bench Car".into(),
            year: 2021,
            unit: vwc_contracts::OdometerUnit::Mi,
            registered_on: registered,
            purchase_price_cents: None,
            purchase_currency: None,
            sold_on: None,
        }),
        facts,
        published: vec![(first_of_month.min(today - chrono::Duration::days(1)), point)],
        current: Some((today - chrono::Duration::days(1), point)),
    }
}

/// Seeds `n` vehicles as the daily job finds them on `today` (valued up to yesterday); returns how many.
pub async fn seed_bulk(
    store: &dyn ValuationStore,
    n: usize,
    today: NaiveDate,
) -> Result<usize, StoreError> {
    let mut added = 0;
    for start in (0..n).step_by(PAGE) {
        let end = (start + PAGE).min(n);
        let commits = (start..end).map(|i| bench_vehicle(i, today)).collect();
        added += CommitOutcome::applied(&store.commit_batch(commits).await?);
    }
    Ok(added)
}
