//! HTTP routes of corrections, voids and the vehicle lifecycle (docs/corrections.md). Errors become HTTP
//! here; [`routes`] registers each handler with its OpenAPI documentation.

use axum::extract::Path;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use vwc_auth::Permission;
use vwc_contracts::corrections::{EventCorrection, EventHistory};
use vwc_contracts::lifecycle::{SellRequest, VehicleChanges};
use vwc_contracts::{EventId, EventKind, EventSource, Vehicle};
use vwc_http::gate::{ManageVehicles, ReadVehicles};
use vwc_http::route;
use vwc_http::{ApiError, Json, JsonBody, Query, VehicleEventPath, VehiclePath};

use super::ChangeError;
use crate::http::{IngestionState, Recording, VehicleOf, permission_for};
use crate::openapi::{BodyChange, QueryParams, ResourceRoute, StateChange};

/// The correction, void, history and lifecycle routes.
pub fn routes(docs: vwc_http::openapi::Docs) -> OpenApiRouter<IngestionState> {
    vwc_http::service_routes![docs;
        correct_event | void_event,
        event_history,
        update_vehicle,
        sell_vehicle,
        archive_vehicle,
    ]
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

/// The record `event_id` of the caller's vehicle with its history, once the caller may change it: the
/// permission to record its kind, and for a dealer's record also `correct_dealer_records` (403,
/// docs/roles.md). Another organisation's record is a 404, never a 403.
async fn changeable_record(
    caller: &VehicleOf<Recording>,
    event_id: &EventId,
) -> Result<EventHistory, ApiError> {
    let history = caller
        .ingestion
        .event_history(&caller.vehicle, event_id)
        .await?;
    caller.require(permission_for(history.current.kind))?;
    if history.current.source == EventSource::Dealer {
        caller.require(Permission::CorrectDealerRecords)?;
    }
    Ok(history)
}

/// `If-Match: "<revision>"` (the `revision` of the last entry of the record's `revisions`): the change is
/// made only to the record as the caller read it. Without the header the change applies to the record as it
/// now reads; two changes racing inside one moment still cannot both win (409).
fn check_if_match(headers: &axum::http::HeaderMap, history: &EventHistory) -> Result<(), ApiError> {
    let Some(value) = headers.get(axum::http::header::IF_MATCH) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(());
    }
    let expected: u32 = text
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map_err(|_| {
            ApiError::BadRequest(format!(
                "If-Match {text:?} is not a revision: send the `revision` of the last entry of the record's \
                 `revisions` (GET …/history), quoted"
            ))
        })?;
    let now = history.revisions.last().map_or(1, |r| r.revision);
    if expected != now {
        return Err(ApiError::Conflict(format!(
            "the record changed since revision {expected} (it is now at revision {now}): read it again \
             (GET …/history) and decide on its current version"
        )));
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
/// A voided record cannot be corrected (409). With `If-Match: "<revision>"` (the last entry of the record's
/// `revisions`) the correction is made only if the record is still at that revision, else 409 — so a form
/// opened on an older version cannot undo a change made since.
#[route(patch "/v1/vehicles/{id}/events/{eventId}", tag = "timeline", params(VehicleEventPath),
    body = EventCorrection, ok(200, "Corrected: the record now and its revisions.", CorrectedEvent),
    errors(BodyChange))]
async fn correct_event(
    caller: VehicleOf<Recording>,
    Path(path): Path<VehicleEventPath>,
    headers: axum::http::HeaderMap,
    body: JsonBody,
) -> Result<Json<CorrectedEvent>, ApiError> {
    let history = changeable_record(&caller, &path.event_id).await?;
    check_if_match(&headers, &history)?;
    let patch = object(&body)?;
    if let Some(kind) = patch
        .get("kind")
        .and_then(|k| k.as_str())
        .and_then(EventKind::parse)
    {
        caller.require(permission_for(kind))?;
    }
    let after = caller
        .ingestion
        .correct_event(
            &caller.vehicle,
            &history,
            patch,
            caller.actor(),
            caller.traceparent(),
        )
        .await?;
    // A correction of the odometer or the date is told what the other records make of it, as a new
    // record is (`POST …/events`'s `warnings`).
    let (before, now) = (&history.current, &after.current);
    let warnings = if (before.odometer, before.occurred_at) != (now.odometer, now.occurred_at) {
        // Advisory: the correction is stored already, so a failed read is no failed request.
        (caller.ingestion.odometer_warnings(&caller.vehicle, now).await).unwrap_or_else(|e| {
            tracing::warn!(vehicle = %caller.vehicle.id, error = %e, "odometer warnings not read");
            Vec::new()
        })
    } else {
        Vec::new()
    };
    Ok(Json(CorrectedEvent {
        history: after,
        warnings,
    }))
}

/// `200` of `PATCH …/events/{eventId}`: the record's history, and what the vehicle's other records make
/// doubtful about its corrected odometer or date.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectedEvent {
    #[serde(flatten)]
    pub history: EventHistory,
    /// As `POST …/events` gives them (an odometer below an earlier reading, above later ones, further than
    /// a vehicle is driven), when the correction changed the odometer or the date; left out when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<vwc_contracts::FieldError>,
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
/// `reason`; voiding twice is a 409. Permissions as for a correction; `If-Match` as for a correction.
#[route(delete "/v1/vehicles/{id}/events/{eventId}", tag = "timeline",
    params(VehicleEventPath, VoidQuery),
    ok(200, "Voided: the record and its revisions.", EventHistory),
    errors(StateChange, QueryParams))]
async fn void_event(
    caller: VehicleOf<Recording>,
    Path(path): Path<VehicleEventPath>,
    Query(q): Query<VoidQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Json<EventHistory>, ApiError> {
    let history = changeable_record(&caller, &path.event_id).await?;
    check_if_match(&headers, &history)?;
    let after = caller
        .ingestion
        .void_event(
            &caller.vehicle,
            &history,
            q.reason.as_deref(),
            caller.actor(),
            caller.traceparent(),
        )
        .await?;
    Ok(Json(after))
}

/// Get a record's history
///
/// The record as it now reads, whether it is voided, and every revision oldest first: as recorded, each
/// correction (with the fields it changed, who and why) and the void.
#[route(get "/v1/vehicles/{id}/events/{eventId}/history", tag = "timeline",
    params(VehicleEventPath), ok(200, "The record's history.", EventHistory),
    errors(ResourceRoute))]
async fn event_history(
    caller: VehicleOf<ReadVehicles>,
    Path(path): Path<VehicleEventPath>,
) -> Result<Json<EventHistory>, ApiError> {
    Ok(Json(
        caller
            .ingestion
            .event_history(&caller.vehicle, &path.event_id)
            .await?,
    ))
}

/// Change a vehicle's details
///
/// Nickname, trim, plate and colour (`null` or an empty string clears one); the odometer unit only while
/// no record carries an odometer (else 409). Publishes `VehicleUpdated`.
#[route(patch "/v1/vehicles/{id}", tag = "vehicles", params(VehiclePath), body = VehicleChanges,
    ok(200, "The vehicle as it now reads.", Vehicle), errors(BodyChange))]
async fn update_vehicle(
    caller: VehicleOf<ManageVehicles>,
    body: JsonBody,
) -> Result<Json<Vehicle>, ApiError> {
    let patch = object(&body)?;
    Ok(Json(
        caller
            .ingestion
            .update_vehicle(&caller.vehicle, &patch, caller.traceparent())
            .await?,
    ))
}

/// Sell a vehicle
///
/// Records the sale and the realised total cost of ownership (purchase price + costs − sale price, in the
/// sale's currency; `sale.totalCostOfOwnership`). The vehicle leaves the fleet counts, reminders and
/// calendar feeds; its history stays readable. Publishes `VehicleSold`. Only an active vehicle can be sold.
#[route(post "/v1/vehicles/{id}/sell", tag = "vehicles", params(VehiclePath), body = SellRequest,
    ok(200, "Sold: the vehicle with its sale.", Vehicle), errors(BodyChange))]
async fn sell_vehicle(
    caller: VehicleOf<ManageVehicles>,
    Json(sale): Json<SellRequest>,
) -> Result<Json<Vehicle>, ApiError> {
    Ok(Json(
        caller
            .ingestion
            .sell_vehicle(&caller.vehicle, sale, caller.traceparent())
            .await?,
    ))
}

/// Archive a vehicle
///
/// The vehicle (active or sold) leaves the fleet counts, reminders and calendar feeds; its history stays
/// readable. Publishes `VehicleArchived`. Archiving twice is a 409.
#[route(post "/v1/vehicles/{id}/archive", tag = "vehicles", params(VehiclePath),
    ok(200, "Archived.", Vehicle), errors(StateChange))]
async fn archive_vehicle(caller: VehicleOf<ManageVehicles>) -> Result<Json<Vehicle>, ApiError> {
    Ok(Json(
        caller
            .ingestion
            .archive_vehicle(&caller.vehicle, caller.traceparent())
            .await?,
    ))
}
