//! HTTP routes of the scheduler: customise one item of a vehicle's schedule, and run the sweep of the
//! caller's organisation now. Errors become HTTP only here; each route's `#[route]` documents it,
//! and [`routes`] registers handler and documentation together.

use std::sync::Arc;

use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use vwc_auth::TokenVerifier;
use vwc_contracts::maintenance::MaintenanceItemView;
use vwc_http::openapi::{BearerRoute, Conflict, ResourceBody};
use vwc_http::route;
use vwc_http::{Admitted, ApiError, Json, JsonBody, RequestTrace, VehiclePath};

use crate::service::{ConfigureError, Scheduler};
use crate::settings::ItemChange;
use crate::sweep::{SweepReport, sweep};
use vwc_store::vehicle_ledger::{DailyRun, LedgerService, UpdateError};

#[derive(Clone)]
pub struct SchedulerState {
    pub scheduler: Scheduler,
    pub verifier: Arc<dyn TokenVerifier>,
}

vwc_http::has_verifier!(SchedulerState);

// Fleet managers' permission to sweep now, and owners' and fleet managers' to customise an item
// (docs/roles.md).
vwc_http::permission_gate!(RunSweep);
vwc_http::permission_gate!(ConfigureMaintenance);

/// The scheduler's routes (with their OpenAPI documentation as `docs` says); the composition merges them
/// and adds the state.
pub fn routes(docs: vwc_http::openapi::Docs) -> OpenApiRouter<SchedulerState> {
    vwc_http::service_routes![docs; configure_item, run_sweep]
}

impl From<ConfigureError> for ApiError {
    fn from(e: ConfigureError) -> ApiError {
        match e {
            ConfigureError::VehicleNotFound => ApiError::NotFound("vehicle"),
            ConfigureError::TaskNotFound => ApiError::NotFound("maintenance task"),
            ConfigureError::Invalid(errors) => ApiError::Validation(errors),
            // Changed by others on every attempt (other processes: this one queues): try again.
            ConfigureError::Update(UpdateError::Contention(_)) => ApiError::Conflict(
                "the vehicle's maintenance changed while this request was handled; read it again and retry"
                    .into(),
            ),
            ConfigureError::Update(e) => ApiError::internal(e),
        }
    }
}

/// The body as an [`ItemChange`]: not JSON → 415, bad syntax → 400, not an object, a wrong type or an
/// unknown field → 422 naming the field.
fn parse_change(body: &JsonBody) -> Result<ItemChange, ApiError> {
    // `parse` refuses anything but an object (serde would read `[1, 2]` into two intervals).
    let value: serde_json::Value = body.parse()?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path.is_empty() || path == "." {
            "body".to_string()
        } else {
            path
        };
        ApiError::field(&field, e.into_inner().to_string())
    })
}

/// `{task}` of the route on one maintenance item (with the vehicle's [`VehiclePath`]).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct TaskPath {
    /// A catalogue task, one configured before, or a new one (then `title` is required).
    #[param(value_type = vwc_contracts::schema_types::TaskCode)]
    task: String,
}

/// Customise a vehicle's maintenance item
///
/// Changes the item's intervals, due-soon thresholds, due mode, title or tracking; only the fields sent
/// change, and an interval sent as `null` is cleared. A task outside the catalogue is created by sending a
/// `title`. Answers the item re-evaluated with its new settings.
#[route(put "/v1/vehicles/{id}/maintenance/{task}", tag = "maintenance",
    params(VehiclePath, TaskPath), body = ItemChange,
    ok(200, "The item after the change.", MaintenanceItemView,
        example = json!({"task": "oil_change", "title": "Oil change", "intervalMiles": 5000,
            "intervalMonths": 6, "lastDoneAt": "2025-12-11T09:30:00Z", "lastDoneOdometer": 40000,
            "dueAt": "2026-06-11", "dueOdometer": 45000, "projectedDueAt": "2026-05-02", "status": "ok",
            "reason": "Due on 2026-06-11 or at 45,000 mi (about 2026-05-02 at current usage), whichever comes first",
            "dueCycle": "2026-06-11@45000", "enabled": true})),
    errors(ResourceBody, 409 => Conflict))]
async fn configure_item(
    State(state): State<SchedulerState>,
    Admitted { auth, .. }: Admitted<ConfigureMaintenance>,
    trace: RequestTrace,
    Path(VehiclePath { id }): Path<VehiclePath>,
    Path(TaskPath { task }): Path<TaskPath>,
    body: JsonBody,
) -> Result<Json<MaintenanceItemView>, ApiError> {
    let change = parse_change(&body)?;
    let view = state
        .scheduler
        .configure_item(auth.org(), &id, &task, &change, Some(&trace.0.to_string()))
        .await?;
    Ok(Json(view))
}

/// Run the maintenance sweep now
///
/// Fleet managers only. Re-evaluates every vehicle of the caller's organisation for today (UTC) and
/// publishes what changed. Idempotent per day: a second sweep the same day changes nothing and sends no
/// reminder again.
#[route(post "/v1/maintenance/sweep", tag = "maintenance",
    ok(200, "What the sweep did.", SweepReport), errors(BearerRoute))]
async fn run_sweep(
    State(state): State<SchedulerState>,
    Admitted { auth, .. }: Admitted<RunSweep>,
    trace: RequestTrace,
) -> Result<Json<SweepReport>, ApiError> {
    let now = state.scheduler.now();
    let run = DailyRun::of_day(Some(auth.org()), now.date_naive(), now)
        .traced(Some(&trace.0.to_string()));
    let report = sweep(state.scheduler.store().as_ref(), &run)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(report))
}
