//! HTTP routes of the scheduler: customise one item of a vehicle's schedule, and run the sweep of the
//! caller's organisation now. Errors become HTTP only here.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{post, put};
use vwc_auth::{Permission, TokenVerifier};
use vwc_contracts::maintenance::MaintenanceItemView;
use vwc_http::{ApiError, Auth, HasVerifier, Json, RawBody, RequestTrace, parse_json};

use crate::schedule::ItemChange;
use crate::scheduler::{ConfigureError, Scheduler};
use crate::sweep::{SweepReport, sweep_traced};

#[derive(Clone)]
pub struct SchedulerState {
    pub scheduler: Scheduler,
    pub verifier: Arc<dyn TokenVerifier>,
}

impl HasVerifier for SchedulerState {
    fn verifier(&self) -> &Arc<dyn TokenVerifier> {
        &self.verifier
    }
}

pub fn router(state: SchedulerState) -> Router {
    Router::new()
        .route("/v1/vehicles/{id}/maintenance/{task}", put(configure_item))
        .route("/v1/maintenance/sweep", post(run_sweep))
        .with_state(state)
}

impl From<ConfigureError> for ApiError {
    fn from(e: ConfigureError) -> ApiError {
        match e {
            ConfigureError::VehicleNotFound => ApiError::NotFound("vehicle"),
            ConfigureError::TaskNotFound => ApiError::NotFound("maintenance task"),
            ConfigureError::Invalid(errors) => ApiError::Validation(errors),
            ConfigureError::Update(e) => ApiError::internal(e),
        }
    }
}

/// The body as an [`ItemChange`]: not JSON → 415, bad syntax → 400, not an object, a wrong type or an
/// unknown field → 422 naming the field.
fn parse_change(headers: &HeaderMap, body: &[u8]) -> Result<ItemChange, ApiError> {
    let value: serde_json::Value = parse_json(headers, body)?;
    // serde would read a struct from an array by position: `[1, 2]` must not set two intervals.
    if !value.is_object() {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
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

async fn configure_item(
    State(state): State<SchedulerState>,
    auth: Auth,
    trace: RequestTrace,
    Path((vehicle_id, task)): Path<(String, String)>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<MaintenanceItemView>, ApiError> {
    auth.require(Permission::ConfigureMaintenance)?;
    let change = parse_change(&headers, &body)?;
    let view = state
        .scheduler
        .configure_item(
            auth.org(),
            &vehicle_id,
            &task,
            &change,
            Some(&trace.0.to_string()),
        )
        .await?;
    Ok(Json(view))
}

async fn run_sweep(
    State(state): State<SchedulerState>,
    auth: Auth,
    trace: RequestTrace,
) -> Result<Json<SweepReport>, ApiError> {
    auth.require(Permission::RunSweep)?;
    let today = state.scheduler.now().date_naive();
    let report = sweep_traced(
        state.scheduler.store().as_ref(),
        Some(auth.org()),
        today,
        Some(&trace.0.to_string()),
    )
    .await
    .map_err(ApiError::internal)?;
    Ok(Json(report))
}
