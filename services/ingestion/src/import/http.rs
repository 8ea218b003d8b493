//! `POST /v1/vehicles/{id}/imports`: a CSV file in, a per-row report out.

use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vwc_auth::Permission;
use vwc_contracts::{EventKind, VolumeUnit};
use vwc_http::gate::AfterLookup;
use vwc_http::route;
use vwc_http::{AllFields, ApiError, Json, Query, RawBody, VehiclePath};

use super::{CsvFormat, ImportOptions, RowError, read};
use crate::http::VehicleOf;
use crate::openapi::ResourceBody;

/// The import's query, kept as the strings sent: [`ImportQuery::read`] judges them, so a bad value is a
/// 422 naming its parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `true`: check every row and report, record nothing.
    #[param(value_type = Option<bool>)]
    dry_run: Option<String>,
    /// Kind of LubeLogger's service, repair or upgrade records (it exports one file per kind):
    /// `maintenance` (the default), `repair` or `upgrade`.
    kind: Option<String>,
    /// ISO 4217 code of the file's costs (LubeLogger and Fuelly files carry none); `USD` when absent.
    currency: Option<String>,
    /// Unit of LubeLogger's `FuelConsumed`: `gal` (US) or `l`; by default `gal` for a vehicle in miles
    /// and `l` for one in km.
    volume_unit: Option<String>,
}

/// What [`ImportQuery`] asks for: the options of the rows (the odometer unit is the vehicle's) and whether
/// to record them.
struct ImportParams {
    dry_run: bool,
    kind: EventKind,
    currency: String,
    volume_unit: Option<VolumeUnit>,
}

impl ImportQuery {
    /// Every parameter judged at once: one 422 names each bad one.
    fn read(&self) -> Result<ImportParams, ApiError> {
        let dry_run = match self.dry_run.as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ApiError::field("dryRun", "must be true or false")),
        };
        let kind = match self.kind.as_deref() {
            None => Ok(EventKind::Maintenance),
            Some(k) => EventKind::parse(k)
                .filter(|k| {
                    matches!(
                        k,
                        EventKind::Maintenance | EventKind::Repair | EventKind::Upgrade
                    )
                })
                .ok_or_else(|| ApiError::field("kind", "must be maintenance, repair or upgrade")),
        };
        // Judged once here, not on every row that has a cost.
        let currency = self
            .currency
            .as_deref()
            .map_or_else(|| "USD".to_string(), str::to_ascii_uppercase);
        let currency = if vwc_contracts::currency::is_iso4217(&currency) {
            Ok(currency)
        } else {
            Err(ApiError::field(
                "currency",
                format!(
                    "{:?} is not an ISO 4217 currency code (e.g. USD, EUR)",
                    self.currency.as_deref().unwrap_or_default()
                ),
            ))
        };
        let volume_unit = match self.volume_unit.as_deref() {
            None => Ok(None),
            Some(u) => VolumeUnit::parse(u)
                .map(Some)
                .ok_or_else(|| ApiError::field("volumeUnit", "must be gal or l")),
        };
        let (dry_run, kind, currency, volume_unit) =
            (dry_run, kind, currency, volume_unit).all_fields()?;
        Ok(ImportParams {
            dry_run,
            kind,
            currency,
            volume_unit,
        })
    }
}

/// `200` of `POST /v1/vehicles/{id}/imports`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// What the header row was recognised as.
    pub format: CsvFormat,
    pub dry_run: bool,
    /// Rows recorded now (with `dryRun`: rows that would be, duplicates included).
    pub imported: u64,
    /// Rows already imported before (the same row of the same file): nothing added.
    pub skipped: u64,
    /// Every row refused, with the column and why; none is dropped silently.
    pub errors: Vec<RowError>,
    /// Rows recorded (with `dryRun`: to be) as read whose odometer the vehicle's records or the file's
    /// other rows make doubtful: lower than an earlier reading (the schedule and the valuation leave it out
    /// as a rollback), higher than later ones, or further than a vehicle is driven since the previous one.
    pub warnings: Vec<RowError>,
}

/// Import records from CSV
///
/// Reads LubeLogger's export files (service, repair, upgrade and odometer records), Fuelly's, or this
/// API's own `GET …/export?format=csv`, recognised by the header row (docs/import.md). Each row becomes a
/// timeline event or an entry in `errors` (its line number, column and reason). Importing the same file
/// again adds nothing: each row carries a key derived from its content. Fuel rows become `fuel` events.
/// On a sold vehicle, a row dated after the sale is an entry in `errors` (`occurredAt`, naming the sale).
#[route(post "/v1/vehicles/{id}/imports", tag = "timeline", params(VehiclePath, ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "The CSV file (UTF-8, or UTF-16 with its byte-order mark), with a header row, its fields separated by commas, semicolons or tabs; at most 256 KiB."),
    ok(200, "The report.", ImportReport), errors(ResourceBody))]
pub(crate) async fn import_csv(
    caller: VehicleOf<AfterLookup>,
    query: Result<Query<ImportQuery>, ApiError>,
    headers: HeaderMap,
    body: Result<RawBody, ApiError>,
) -> Result<Json<ImportReport>, ApiError> {
    caller.require(Permission::RecordAnyEvent)?;
    let Query(query) = query?;
    let params = query.read()?;
    let vehicle = &caller.vehicle;
    let media = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if !matches!(media.as_deref(), Some("text/csv" | "application/csv")) {
        return Err(ApiError::UnsupportedMediaType(
            "send the file as text/csv".into(),
        ));
    }
    let RawBody(body) = body.map_err(|e| match e {
        ApiError::PayloadTooLarge => ApiError::PayloadTooLargeBecause(format!(
            "the file is larger than {} bytes (256 KiB, a few thousand rows): split it into smaller files — \
             a row imported twice is skipped, so they may overlap — or, with the server stopped, import it \
             whole on its machine with `vwc import --org {} --vehicle {} FILE`",
            vwc_http::MAX_BODY_BYTES,
            vehicle.org_id,
            vehicle.id
        )),
        other => other,
    })?;
    let text = super::text_of(&body).map_err(|e| ApiError::field("body", e))?;
    let volume_unit = params.volume_unit.unwrap_or(match vehicle.odometer_unit {
        vwc_contracts::OdometerUnit::Mi => VolumeUnit::Gal,
        vwc_contracts::OdometerUnit::Km => VolumeUnit::L,
    });
    let options = ImportOptions {
        kind: params.kind,
        currency: params.currency,
        volume_unit,
        odometer_unit: vehicle.odometer_unit,
        asked_by: super::AskedBy::Http,
    };
    let (format, rows, mut errors) = read(&text, &options).map_err(ApiError::Unprocessable)?;
    let dry_run = params.dry_run;
    let warnings = super::odometer_warnings(&caller.ingestion, vehicle, &rows)
        .await
        .map_err(ApiError::internal)?;
    let outcome = super::apply(
        &caller.ingestion,
        vehicle,
        rows,
        dry_run,
        caller.traceparent(),
        |_| {},
    )
    .await
    .map_err(ApiError::internal)?;
    let (imported, skipped) = (outcome.imported, outcome.skipped);
    errors.extend(outcome.errors);
    errors.sort_by_key(|e| e.row);
    let warnings = super::without_refused(warnings, &errors);
    tracing::info!(vehicle = %vehicle.id, ?format, imported, skipped, refused = errors.len(), dry_run, "CSV import");
    Ok(Json(ImportReport {
        format,
        dry_run,
        imported,
        skipped,
        errors,
        warnings,
    }))
}
