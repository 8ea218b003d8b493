//! The jobs that run once a day over every vehicle (of one organisation, or of all): the maintenance
//! sweep and the re-valuation. One table for the embedded loops, `vwc sweep|revalue` and the scheduled Lambdas.

use serde::Serialize;
use vwc_store::vehicle_ledger::DailyRun;

use crate::stores::Stores;

/// A daily job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyJob {
    MaintenanceSweep,
    Revaluation,
}

/// What a daily job did: its service's own report (the JSON is that report's, untagged).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum DailyReport {
    Sweep(vwc_maintenance_scheduler::SweepReport),
    Revalue(vwc_valuation::RevalueReport),
}

/// Why a daily job failed.
pub type DailyError = Box<dyn std::error::Error + Send + Sync>;

impl DailyJob {
    /// Its name in logs.
    pub fn name(self) -> &'static str {
        match self {
            DailyJob::MaintenanceSweep => "maintenance sweep",
            DailyJob::Revaluation => "re-valuation",
        }
    }

    /// The service whose store it writes, so whose outbox carries the events it publishes.
    pub fn service(self) -> &'static str {
        match self {
            DailyJob::MaintenanceSweep => vwc_maintenance_scheduler::CONSUMER,
            DailyJob::Revaluation => vwc_valuation::CONSUMER,
        }
    }

    /// Runs it once on `stores` for `run`.
    pub async fn run(self, stores: &Stores, run: &DailyRun) -> Result<DailyReport, DailyError> {
        Ok(match self {
            DailyJob::MaintenanceSweep => DailyReport::Sweep(
                vwc_maintenance_scheduler::sweep(stores.scheduler.as_ref(), run).await?,
            ),
            DailyJob::Revaluation => {
                DailyReport::Revalue(vwc_valuation::revalue(stores.valuation.as_ref(), run).await?)
            }
        })
    }
}
