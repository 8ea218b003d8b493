//! Time passing re-values: the daily job. For every registered vehicle (of one organisation, or all) it
//! computes the current value and any monthly point that came due, and publishes what changed. Running it
//! twice the same day publishes nothing the second time.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{NaiveDate, Utc};
use serde::Serialize;
use tokio::sync::watch;
use vwc_store::StoreError;

use crate::store::{CommitOutcome, ValuationStore, VehicleCommit};
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
}

/// Re-values every registered vehicle of `org` (or of all organisations) as of `today`.
pub async fn revalue(
    store: &dyn ValuationStore,
    org: Option<&str>,
    today: NaiveDate,
) -> Result<RevalueReport, RevalueError> {
    revalue_traced(store, org, today, None).await
}

pub async fn revalue_traced(
    store: &dyn ValuationStore,
    org: Option<&str>,
    today: NaiveDate,
    traceparent: Option<&str>,
) -> Result<RevalueReport, RevalueError> {
    let now = Utc::now();
    let mut report = RevalueReport {
        day: today,
        org_id: org.map(str::to_string),
        ..RevalueReport::default()
    };
    let mut orgs = std::collections::BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let states = store
            .vehicle_states(org, after.as_deref(), PAGE, false)
            .await?;
        let Some(last) = states.last() else { break };
        after = Some(last.vehicle_id.clone());
        let mut commits = Vec::new();
        for state in &states {
            report.vehicles += 1;
            if let Some(p) = &state.profile {
                orgs.insert(p.org_id.clone());
            }
            let mut commit = VehicleCommit::on(state);
            let decision = decide(state, &mut commit, today, now, traceparent, Scope::Recent);
            if !decision.points.is_empty() {
                report.changed += 1;
                report.published += decision.points.len() as u64;
                commits.push(commit);
            }
        }
        let ids: Vec<String> = commits.iter().map(|c| c.vehicle_id.clone()).collect();
        let outcomes = store.commit_batch(commits).await?;
        for (id, outcome) in ids.iter().zip(outcomes) {
            if outcome == CommitOutcome::Conflict {
                // The vehicle changed under the job (an event arrived): its own update re-valued it
                // in full; one more pass on the fresh state picks up anything still missing.
                let state = store.vehicle_state(id).await?;
                let mut commit = VehicleCommit::on(&state);
                decide(&state, &mut commit, today, now, traceparent, Scope::Full);
                if commit.changes_state() {
                    store.commit(commit).await?;
                }
            }
        }
        if states.len() < PAGE {
            break;
        }
    }
    let orgs: Vec<String> = match org {
        Some(o) => vec![o.to_string()],
        None => orgs.into_iter().collect(),
    };
    store.record_revalue(&orgs, today).await?;
    Ok(report)
}

/// Re-values on a timer in the embedded system (the first tick at start-up).
pub async fn run_revalue_every(
    store: Arc<dyn ValuationStore>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *shutdown.borrow() {
            return;
        }
        tokio::select! {
            _ = ticker.tick() => {
                if let Err(e) = revalue(store.as_ref(), None, Utc::now().date_naive()).await {
                    tracing::error!(error = %e, "re-valuation failed; retrying at the next tick");
                }
            }
            changed = shutdown.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// The Lambda handler of the EventBridge scheduled rule: the day is the rule's firing time (a retried
/// invocation re-values the same day); `detail.orgId` limits it to one organisation.
pub async fn handle_scheduled_event(
    store: &dyn ValuationStore,
    event: EventBridgeEvent<serde_json::Value>,
) -> Result<RevalueReport, RevalueError> {
    let today = event.time.unwrap_or_else(Utc::now).date_naive();
    let org = event
        .detail
        .get("orgId")
        .and_then(serde_json::Value::as_str);
    revalue(store, org, today).await
}
