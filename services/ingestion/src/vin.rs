//! `GET /v1/vin/{vin}`: offline VIN decoding (check digit, model year, manufacturer and country), the same
//! decoding registration uses to verify a VIN and fill in `year` and `make`.

use axum::extract::{Path, State};
use chrono::Datelike;
use vwc_contracts::vin::{VinDecoding, decode};
use vwc_http::gate::ReadVehicles;
use vwc_http::openapi::UnprocessableEntity;
use vwc_http::route;
use vwc_http::{Admitted, ApiError};

use crate::http::IngestionState;
use crate::openapi::BearerRoute;

/// Decode a VIN
///
/// Works offline from the VIN alone: its structure (WMI, VDS, VIS), the check digit (mandatory for North
/// American VINs), the model year from position 10 (disambiguated by position 7 for North American VINs)
/// and the manufacturer and country from the WMI. A check-digit mismatch is reported, not refused; a VIN
/// that is not 17 letters and digits without I, O and Q is a 422.
#[route(get "/v1/vin/{vin}", tag = "vehicles",
    params(("vin" = String, Path, description = "The VIN, 17 characters (case does not matter).")),
    ok(200, "The decoding.", VinDecoding), errors(422 => UnprocessableEntity, BearerRoute))]
pub(crate) async fn decode_vin(
    State(state): State<IngestionState>,
    _: Admitted<ReadVehicles>,
    Path(vin): Path<String>,
) -> Result<axum::Json<VinDecoding>, ApiError> {
    let year = u16::try_from(state.ingestion.now().year()).unwrap_or(u16::MAX - 2);
    decode(&vin, year)
        .map(axum::Json)
        .map_err(|message| ApiError::field("vin", message))
}
