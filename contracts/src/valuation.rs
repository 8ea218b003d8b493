//! Valuations: what a vehicle is worth on a date, with the factors that explain the amount
//! (docs/valuation.md), and the `ValuationUpdated` event the valuation service publishes.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

crate::wire_enum! {
    /// What a factor stands for.
    #[derive(JsonSchema, ToSchema)]
    pub enum FactorCode {
        /// Where the value starts: the acquisition price, or the documented fallback.
        Base,
        /// Value lost to age along the depreciation curve (every component depreciates with the vehicle).
        AgeDepreciation,
        /// More (or fewer) miles than expected since the last anchor, at the latest odometer value.
        MileageAdjustment,
        /// Georgia "17c" diminished value of one collision, as assessed on its date.
        CollisionDiminishedValue,
        /// Value an upgrade added on its date.
        Upgrade,
        /// A dealer appraisal re-anchored the value: the difference it made on its date.
        DealerAppraisal,
        /// The owner's estimate re-anchored the value: the difference it made on its date.
        UserEstimate,
    }
}

/// One line of a valuation's explanation. The factors of a valuation add up to its amount exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValuationFactor {
    pub code: FactorCode,
    pub label: String,
    /// Signed: a loss is negative.
    pub amount_cents: i64,
    /// How the amount was reached, in words and numbers.
    pub detail: String,
    /// The timeline event this factor comes from, when one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

crate::wire_enum! {
    /// Where the base of a valuation came from.
    #[derive(JsonSchema, ToSchema)]
    pub enum ValuationMethod {
        /// The price of the latest acquisition, depreciated and adjusted from there.
        AcquisitionPrice,
        /// No acquisition event has a price: the purchase price given at registration.
        RegistrationPurchasePrice,
        /// No acquisition price is known: the documented average new-vehicle price at the model year.
        FallbackAverageNewPrice,
        /// Re-anchored on a dealer appraisal.
        DealerAppraisal,
        /// Re-anchored on the owner's estimate.
        UserEstimate,
    }
}

crate::wire_enum! {
    /// Why a valuation point exists.
    #[derive(JsonSchema, ToSchema)]
    pub enum ValuationPointKind {
        /// The date of one or more timeline events that move the value.
        Event,
        /// The first day of a month.
        Monthly,
        /// Today: the vehicle's current value (re-valued daily). Not part of the history.
        Current,
        /// A future month of a forecast.
        Forecast,
    }
}

/// What a vehicle is worth on a date, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"amountCents": 2297415, "currency": "USD", "asOf": "2026-05-01",
    "method": "dealer_appraisal", "kind": "monthly", "odometer": 51020, "odometerUnit": "mi",
    "factors": [
        {"code": "base", "label": "Acquisition price", "amountCents": 2749000,
         "detail": "Bought 2024-05-01 for 27,490.00 USD", "eventId": "evt_0193…"},
        {"code": "age_depreciation", "label": "Age depreciation", "amountCents": -393385,
         "detail": "Depreciation along the age curve (20 % the first year, 15 %/year to year 5, 10 %/year after)"},
        {"code": "dealer_appraisal", "label": "Dealer appraisal", "amountCents": -58200,
         "detail": "Appraised 24,100.00 USD on 2026-01-01; the model said 24,682.00 USD", "eventId": "evt_0194…"},
        {"code": "mileage_adjustment", "label": "Mileage adjustment", "amountCents": 0,
         "detail": "No odometer reading since the last anchor"}]}))]
pub struct Valuation {
    /// Never negative; the sum of the factors' amounts.
    pub amount_cents: u64,
    pub currency: String,
    pub as_of: NaiveDate,
    pub method: ValuationMethod,
    pub kind: ValuationPointKind,
    /// The odometer value the valuation used (the latest reading on `asOf`, or a projection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub odometer: Option<u64>,
    pub odometer_unit: crate::OdometerUnit,
    pub factors: Vec<ValuationFactor>,
}

/// A drop of more than 10 % in one step, caused by an event (a collision, an appraisal): worth telling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValuationDrop {
    /// Stable per causing event: the notification service's dedup key.
    pub drop_id: String,
    pub from_cents: u64,
    pub to_cents: u64,
    /// The drop in basis points of `fromCents` (1,000 = 10 %).
    pub drop_basis_points: u32,
    pub cause_event_id: String,
    pub cause_title: String,
}

/// Payload of `ValuationUpdated`: one valuation point of a vehicle, new or changed. History points
/// (`event`, `monthly`) are keyed by (vehicle, `asOf`); a `current` point replaces the vehicle's current value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValuationUpdated {
    pub vehicle_id: String,
    /// e.g. "2021 Toyota RAV4 (Blue)".
    pub vehicle_name: String,
    pub valuation: Valuation,
    /// The amount of the point before this one in the history, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_amount_cents: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<ValuationDrop>,
    /// When the service computed the point: the newer computation of a point wins.
    pub computed_at: DateTime<Utc>,
}

/// `GET /v1/vehicles/{id}/valuations/forecast` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValuationForecast {
    pub vehicle_id: String,
    /// The usage the forecast assumes, in the vehicle's unit per year.
    pub usage_per_year: u64,
    /// `measured` (from the vehicle's odometer values) or `expected` (the documented average).
    pub usage_basis: String,
    /// One point per month, the first a month from today.
    pub points: Vec<Valuation>,
}
