//! HTTP route of the valuation service: the forecast (the history and the current value are the edge's,
//! projected from `ValuationUpdated`). Errors become HTTP only here.

use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use vwc_auth::TokenVerifier;
use vwc_contracts::valuation::ValuationForecast;
use vwc_http::gate::ReadVehicles;
use vwc_http::openapi::{Conflict, ResourceQuery};
use vwc_http::route;
use vwc_http::{ApiError, Json, Query, VehiclePath, VehicleScope};

use crate::valuer::{ForecastError, MAX_FORECAST_MONTHS, Valuer};

/// Months forecast when `months` is absent.
pub const DEFAULT_FORECAST_MONTHS: u32 = 12;

#[derive(Clone)]
pub struct ValuationState {
    pub valuer: Valuer,
    pub verifier: Arc<dyn TokenVerifier>,
}

vwc_http::has_verifier!(ValuationState);

/// The service's routes (with their OpenAPI documentation as `docs` says); the composition merges them and
/// adds the state.
pub fn routes(docs: vwc_http::openapi::Docs) -> OpenApiRouter<ValuationState> {
    vwc_http::service_routes![docs; forecast]
}

impl From<ForecastError> for ApiError {
    fn from(e: ForecastError) -> ApiError {
        match e {
            ForecastError::VehicleNotFound => ApiError::NotFound("vehicle"),
            sold @ ForecastError::Sold(_) => ApiError::Conflict(sold.to_string()),
            ForecastError::Store(e) => ApiError::from(e),
        }
    }
}

/// `months`, kept as sent: [`Months`] reads it, so a bad value is a 422 naming the field.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ForecastQuery {
    /// Months to forecast, 1–60 (default 12).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 60)]
    months: Option<String>,
}

/// `months` read and checked: 1–60, [`DEFAULT_FORECAST_MONTHS`] when absent; any other value is a 422
/// naming the field.
struct Months(u32);

impl<S: Send + Sync> FromRequestParts<S> for Months {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(q) = Query::<ForecastQuery>::from_request_parts(parts, state).await?;
        vwc_http::count_param(
            q.months.as_deref(),
            DEFAULT_FORECAST_MONTHS,
            MAX_FORECAST_MONTHS,
        )
        .map(Months)
        .map_err(|m| ApiError::field("months", m))
    }
}

/// Forecast a vehicle's value
///
/// The value month by month for `months` months from today, driving on at the vehicle's measured usage
/// rate (from its odometer values; the FHWA average when they are too few), with the same factors as the
/// history. A sold vehicle is not valued after its sale, so it has none (409).
#[route(get "/v1/vehicles/{id}/valuations/forecast", tag = "vehicles",
    params(VehiclePath, ForecastQuery), ok(200, "The forecast, month by month.", ValuationForecast),
    errors(ResourceQuery, 409 => Conflict))]
async fn forecast(
    State(state): State<ValuationState>,
    caller: VehicleScope<ReadVehicles>,
    Months(months): Months,
) -> Result<Json<ValuationForecast>, ApiError> {
    Ok(Json(
        state
            .valuer
            .forecast(caller.auth.org(), &caller.vehicle.vehicle_id, months)
            .await?,
    ))
}
