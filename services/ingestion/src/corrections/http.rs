//! HTTP routes of corrections, voids and the vehicle lifecycle (docs/corrections.md). Errors become HTTP
//! here; [`routes`] registers each handler with its OpenAPI documentation.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vwc_auth::Permission;
use vwc_contracts::corrections::{EventCorrection, EventHistory};
use vwc_contracts::lifecycle::{SellRequest, VehicleChanges};
use vwc_contracts::{EventId, EventKind, EventSource, Vehicle, VehicleId};
use vwc_http::openapi::NotFound;
use vwc_http::{ApiError, Auth, JsonBody, RequestTrace};

use super::ChangeError;
use crate::http::{IngestionState, caller_vehicle, permission_for, require_recording};
use crate::openapi::{BearerRoute, BodyChange, QueryParams, StateChange};

/// The correction, void, history and lifecycle routes.
pub fn routes() -> OpenApiRouter<IngestionState> {
    OpenApiRouter::with_openapi(vwc_http::openapi::components())
        .routes(routes!(correct_event, void_event))
        .routes(routes!(event_history))
        .routes(routes!(update_vehicle))
        .routes(routes!(sell_vehicle))
        .routes(routes!(archive_vehicle))
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> ApiError {
        match e {
            ChangeError::NotFound(what) => ApiError::NotFound(what),
            ChangeError::Invalid(errors) => ApiError::Validation(errors),
            ChangeError::Conflict(m) => ApiError::Conflict(m),
            ChangeError::Store(e) => ApiError::from(e),
        }
    }
}

/// 403 unless the caller may change a record of `kind` from `source`: the permission to record that kind,
/// and for a dealer's record also `correct_dealer_records` (docs/roles.md).
fn require_change(auth: &Auth, kind: EventKind, source: EventSource) -> Result<(), ApiError> {
    auth.require(permission_for(kind))?;
    if source == EventSource::Dealer {
        auth.require(Permission::CorrectDealerRecords)?;
    }
    Ok(())
}

fn object(body: &JsonBody) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
    match body.parse::<serde_json::Value>()? {
        serde_json::Value::Object(map) => Ok(map),
        _ => Err(ApiError::Unprocessable(
            "the body must be a JSON object".into(),
        )),
    }
}

/// Correct a timeline record
///
/// Records a correction as a new revision of the record (the original stays in its history) and publishes
/// `VehicleEventCorrected`; timeline, costs, maintenance, valuation and chat follow it. The body names the
/// fields to change, as in `POST …/events`; each replaces the whole value (`null` clears an optional
/// field) and the result is validated like a new record (422 changes nothing). Changing a record needs the
/// permission to record its kind (and the new kind); a dealer's record needs `correct_dealer_records`.
/// A voided record cannot be corrected (409).
#[utoipa::path(
    patch,
    path = "/v1/vehicles/{id}/events/{eventId}",
    tag = "timeline",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The vehicle's id (`veh_…`)."),
        ("eventId" = String, Path, description = "The record's id (`evt_…`)."),
    ),
    request_body(content = EventCorrection, content_type = "application/json"),
    responses(
        (status = 200, description = "Corrected: the record now and its revisions.", body = EventHistory),
        BodyChange,
    )
)]
async fn correct_event(
    State(state): State<IngestionState>,
    auth: Auth,
    trace: RequestTrace,
    Path((vehicle_id, event_id)): Path<(VehicleId, EventId)>,
    body: JsonBody,
) -> Result<axum::Json<EventHistory>, ApiError> {
    require_recording(&auth)?;
    let vehicle = caller_vehicle(&state.ingestion, &auth, &vehicle_id).await?;
    let history = state.ingestion.event_history(&vehicle, &event_id).await?;
    let patch = object(&body)?;
    require_change(&auth, history.current.kind, history.current.source)?;
    if let Some(kind) = patch
        .get("kind")
        .and_then(|k| k.as_str())
        .and_then(EventKind::parse)
    {
        auth.require(permission_for(kind))?;
    }
    let after = state
        .ingestion
        .correct_event(
            &vehicle,
            &history,
            patch,
            &auth.0.sub,
            Some(trace.0.to_string()),
        )
        .await?;
    Ok(axum::Json(after))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct VoidQuery {
    /// Why the record is voided (required, 1–500 characters).
    #[param(max_length = 500)]
    reason: Option<String>,
}

/// Void a timeline record
///
/// The record leaves the timeline (shown with `includeVoided=true`, marked), the costs, the maintenance
/// due state, the valuation and the chat; its history is kept. Publishes `VehicleEventVoided`. Needs a
/// `reason`; voiding twice is a 409. Permissions as for a correction.
#[utoipa::path(
    delete,
    path = "/v1/vehicles/{id}/events/{eventId}",
    tag = "timeline",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The vehicle's id (`veh_…`)."),
        ("eventId" = String, Path, description = "The record's id (`evt_…`)."),
        VoidQuery,
    ),
    responses(
        (status = 200, description = "Voided: the record and its revisions.", body = EventHistory),
        StateChange,
        QueryParams,
    )
)]
async fn void_event(
    State(state): State<IngestionState>,
    auth: Auth,
    trace: RequestTrace,
    Path((vehicle_id, event_id)): Path<(VehicleId, EventId)>,
    q: Result<Query<VoidQuery>, QueryRejection>,
) -> Result<axum::Json<EventHistory>, ApiError> {
    require_recording(&auth)?;
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let vehicle = caller_vehicle(&state.ingestion, &auth, &vehicle_id).await?;
    let history = state.ingestion.event_history(&vehicle, &event_id).await?;
    require_change(&auth, history.current.kind, history.current.source)?;
    let after = state
        .ingestion
        .void_event(
            &vehicle,
            &history,
            q.reason.as_deref(),
            &auth.0.sub,
            Some(trace.0.to_string()),
        )
        .await?;
    Ok(axum::Json(after))
}

/// Get a record's history
///
/// The record as it now reads, whether it is voided, and every revision oldest first: as recorded, each
/// correction (with the fields it changed, who and why) and the void.
#[utoipa::path(
    get,
    path = "/v1/vehicles/{id}/events/{eventId}/history",
    tag = "timeline",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "The vehicle's id (`veh_…`)."),
        ("eventId" = String, Path, description = "The record's id (`evt_…`)."),
    ),
    responses(
        (status = 200, description = "The record's history.", body = EventHistory),
        (status = 404, response = NotFound),
        BearerRoute,
    )
)]
async fn event_history(
    State(state): State<IngestionState>,
    auth: Auth,
    Path((vehicle_id, event_id)): Path<(VehicleId, EventId)>,
) -> Result<axum::Json<EventHistory>, ApiError> {
    auth.require(Permission::ReadVehicles)?;
    let vehicle = caller_vehicle(&state.ingestion, &auth, &vehicle_id).await?;
    Ok(axum::Json(
        state.ingestion.event_history(&vehicle, &event_id).await?,
    ))
}

/// Change a vehicle's details
///
/// Nickname, trim, plate and colour (`null` or an empty string clears one); the odometer unit only while
/// no record carries an odometer (else 409). Publishes `VehicleUpdated`.
#[utoipa::path(
    patch,
    path = "/v1/vehicles/{id}",
    tag = "vehicles",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The vehicle's id (`veh_…`).")),
    request_body(content = VehicleChanges, content_type = "application/json"),
    responses(
        (status = 200, description = "The vehicle as it now reads.", body = Vehicle),
        BodyChange,
    )
)]
async fn update_vehicle(
    State(state): State<IngestionState>,
    auth: Auth,
    trace: RequestTrace,
    Path(vehicle_id): Path<VehicleId>,
    body: JsonBody,
) -> Result<axum::Json<Vehicle>, ApiError> {
    auth.require(Permission::ManageVehicles)?;
    let vehicle = caller_vehicle(&state.ingestion, &auth, &vehicle_id).await?;
    let patch = object(&body)?;
    Ok(axum::Json(
        state
            .ingestion
            .update_vehicle(&vehicle, &patch, Some(trace.0.to_string()))
            .await?,
    ))
}

/// Sell a vehicle
///
/// Records the sale and the realised total cost of ownership (purchase price + costs − sale price, in the
/// sale's currency; `sale.totalCostOfOwnership`). The vehicle leaves the fleet counts, reminders and
/// calendar feeds; its history stays readable. Publishes `VehicleSold`. Only an active vehicle can be sold.
#[utoipa::path(
    post,
    path = "/v1/vehicles/{id}/sell",
    tag = "vehicles",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The vehicle's id (`veh_…`).")),
    request_body(content = SellRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Sold: the vehicle with its sale.", body = Vehicle),
        BodyChange,
    )
)]
async fn sell_vehicle(
    State(state): State<IngestionState>,
    auth: Auth,
    trace: RequestTrace,
    Path(vehicle_id): Path<VehicleId>,
    body: JsonBody,
) -> Result<axum::Json<Vehicle>, ApiError> {
    auth.require(Permission::ManageVehicles)?;
    let vehicle = caller_vehicle(&state.ingestion, &auth, &vehicle_id).await?;
    let request: SellRequest = body.parse()?;
    Ok(axum::Json(
        state
            .ingestion
            .sell_vehicle(&vehicle, request, Some(trace.0.to_string()))
            .await?,
    ))
}

/// Archive a vehicle
///
/// The vehicle (active or sold) leaves the fleet counts, reminders and calendar feeds; its history stays
/// readable. Publishes `VehicleArchived`. Archiving twice is a 409.
#[utoipa::path(
    post,
    path = "/v1/vehicles/{id}/archive",
    tag = "vehicles",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The vehicle's id (`veh_…`).")),
    responses(
        (status = 200, description = "Archived.", body = Vehicle),
        StateChange,
    )
)]
async fn archive_vehicle(
    State(state): State<IngestionState>,
    auth: Auth,
    trace: RequestTrace,
    Path(vehicle_id): Path<VehicleId>,
) -> Result<axum::Json<Vehicle>, ApiError> {
    auth.require(Permission::ManageVehicles)?;
    let vehicle = caller_vehicle(&state.ingestion, &auth, &vehicle_id).await?;
    Ok(axum::Json(
        state
            .ingestion
            .archive_vehicle(&vehicle, Some(trace.0.to_string()))
            .await?,
    ))
}
