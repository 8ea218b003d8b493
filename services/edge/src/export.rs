//! `GET /v1/vehicles/{id}/export?format=csv|json`: a vehicle's whole history out of the read model, oldest
//! first, in columns `POST /v1/vehicles/{id}/imports` reads back (the round trip).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use vwc_http::openapi::ResourceQuery;
use vwc_http::route;
use vwc_http::{ApiError, FindVehicle, VehiclePath, VehicleScope};

use crate::EdgeStore;
use crate::http::EdgeState;
use crate::http::gate::ReadVehicles;
use crate::query::ApiQuery;
use crate::store::{EventFilter, Page, TimelinePosition, TimelineQuery, VehicleRef};

/// The CSV columns, in order. `odometerUnit` (the vehicle's, on every row) lets an import into a vehicle
/// of the other unit refuse the rows instead of reading miles as kilometres.
pub const COLUMNS: [&str; 13] = [
    "id",
    "occurredAt",
    "kind",
    "title",
    "odometer",
    "costCents",
    "currency",
    "vendor",
    "notes",
    "details",
    "source",
    "recordedAt",
    "odometerUnit",
];

pub fn routes() -> OpenApiRouter<EdgeState> {
    vwc_http::service_routes![export]
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (the default) or `json`.
    format: Option<String>,
}

/// The vehicle's events, oldest first, as their JSON (`vwc export` uses it too).
pub async fn history(
    store: &dyn EdgeStore,
    vehicle: &VehicleRef,
) -> Result<Vec<serde_json::Value>, vwc_store::StoreError> {
    let mut events = Vec::new();
    let mut after: Option<TimelinePosition> = None;
    loop {
        let query = TimelineQuery {
            vehicle,
            filter: &EventFilter::default(),
            page: Page::after(after.as_ref(), 200),
        };
        let page = store.events(&query).await?;
        let full = page.len() == 200;
        after = page.last().map(|e| TimelinePosition {
            occurred_at: e.occurred_at,
            id: e.id.to_string(),
        });
        for e in page {
            events.push(serde_json::to_value(&e)?);
        }
        if !full {
            break;
        }
    }
    events.reverse();
    Ok(events)
}

/// One CSV cell of an event field: strings as they are — behind a `'` when a spreadsheet would read them
/// as a formula ([`vwc_contracts::spreadsheet`]; the import takes it off) —, numbers as digits, objects as
/// JSON.
fn cell(event: &serde_json::Value, column: &str) -> String {
    let v = match column {
        "vendor" => &event["vendor"]["name"],
        c => &event[c],
    };
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => vwc_contracts::spreadsheet::guarded(s).into_owned(),
        serde_json::Value::Object(o) if o.is_empty() => String::new(),
        other => other.to_string(),
    }
}

/// The history as CSV in [`COLUMNS`]; `unit` is the vehicle's odometer unit, written on every row.
pub fn to_csv(
    events: &[serde_json::Value],
    unit: vwc_contracts::OdometerUnit,
) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(COLUMNS)?;
    for e in events {
        writer.write_record(COLUMNS.iter().map(|c| match *c {
            "odometerUnit" => unit.as_str().to_string(),
            c => cell(e, c),
        }))?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    Ok(String::from_utf8(bytes).expect("CSV of UTF-8 cells is UTF-8"))
}

/// Export a vehicle's history
///
/// Every timeline event of the vehicle, oldest first: `csv` in the columns `id, occurredAt, kind, title,
/// odometer, costCents, currency, vendor, notes, details (JSON), source, recordedAt, odometerUnit`, which
/// `POST /v1/vehicles/{id}/imports` reads back into another vehicle of the same unit, or `json`
/// (`{vehicleId, odometerUnit, events}`).
#[route(get "/v1/vehicles/{id}/export", tag = "timeline", params(VehiclePath, ExportQuery),
    ok(200, "The history.", content((String = "text/csv"), (Object = "application/json"))),
    errors(ResourceQuery))]
async fn export(
    State(state): State<EdgeState>,
    VehicleScope { vehicle, .. }: VehicleScope<ReadVehicles>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let csv = match query.format.as_deref() {
        None | Some("csv") => true,
        Some("json") => false,
        Some(_) => return Err(ApiError::field("format", "must be csv or json")),
    };
    let unit = state
        .vehicle_of(&vehicle.org_id, &vehicle.vehicle_id)
        .await?
        .vehicle
        .odometer_unit;
    let id = &vehicle.vehicle_id;
    let events = history(state.store.as_ref(), &vehicle)
        .await
        .map_err(ApiError::internal)?;
    let mut response = if csv {
        let body = to_csv(&events, unit).map_err(ApiError::internal)?;
        let mut r = body.into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        r
    } else {
        axum::Json(serde_json::json!({"vehicleId": id, "odometerUnit": unit, "events": events}))
            .into_response()
    };
    let name = format!(
        "attachment; filename=\"{id}-history.{}\"",
        if csv { "csv" } else { "json" }
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
