//! A vehicle's life after registration (docs/corrections.md): its details changed (`VehicleUpdated`), its
//! sale with the realised total cost of ownership (`VehicleSold`), its archiving (`VehicleArchived`). Each
//! event carries the whole vehicle as it now reads, so a consumer refreshes what it holds.

use chrono::{DateTime, Datelike, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, ObjectBuilder, OneOfBuilder, RefBuilder, Schema, SchemaType, Type,
};
use utoipa::{PartialSchema, ToSchema};

use crate::validation::{FieldError, Validator};
use crate::vehicle::{EventDetails, EventKind, MAX_ODOMETER, OdometerUnit, Vehicle, VehicleEvent};

crate::wire_enum! {
    /// Where a vehicle is in its life. Sold and archived vehicles keep their history, readable, but leave the
    /// fleet counts, the reminders and the calendar feeds.
    #[derive(JsonSchema, ToSchema, Default)]
    pub enum VehicleStatus as "lowercase" {
        #[default]
        Active,
        Sold,
        Archived,
    }
}

/// `POST /v1/vehicles/{id}/sell` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"soldAt": "2026-04-30T12:00:00Z", "priceCents": 1850000, "currency": "USD", "odometer": 52000}))]
pub struct SellRequest {
    /// Not more than a day in the future, not before the vehicle's last record, nor before the year
    /// before its model year.
    pub sold_at: DateTime<Utc>,
    #[schema(maximum = 100_000_000_000_u64)]
    pub price_cents: u64,
    /// ISO 4217 code: the currency the total cost of ownership is computed in.
    pub currency: String,
    /// In the vehicle's unit; not below its last recorded odometer.
    #[schema(maximum = 4_999_999)]
    pub odometer: u64,
}

crate::wire_enum! {
    /// Where the purchase price of the total cost of ownership came from.
    #[derive(JsonSchema, ToSchema)]
    pub enum PurchasePriceSource {
        /// `details.priceCents` (else `costCents`) of the latest acquisition record.
        AcquisitionEvent,
        /// `purchasePriceCents` given at registration.
        Registration,
        /// Neither is known (in the sale's currency): counted as 0.
        Unknown,
    }
}

/// The realised total cost of ownership: purchase price + costs − sale price, in the sale's currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TotalCostOfOwnership {
    pub currency: String,
    pub purchase_price_cents: u64,
    pub purchase_price_source: PurchasePriceSource,
    /// `costCents` of every record in the currency except acquisitions (their cost is the purchase).
    pub costs_cents: u64,
    pub sale_price_cents: u64,
    /// purchase + costs − sale; negative when the sale brought back more than everything cost.
    pub total_cents: i64,
    /// Records whose cost was counted.
    pub records_counted: u64,
    /// Records with a cost in another currency, left out of the sum.
    pub records_in_other_currencies: u64,
}

/// The sale of a vehicle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sale {
    pub sold_at: DateTime<Utc>,
    pub price_cents: u64,
    pub currency: String,
    pub odometer: u64,
    pub total_cost_of_ownership: TotalCostOfOwnership,
}

/// Payload of `VehicleUpdated`: the vehicle after `PATCH /v1/vehicles/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VehicleUpdated {
    pub vehicle: Vehicle,
    pub changed: Vec<String>,
    pub updated_at: DateTime<Utc>,
}

crate::vehicle::vehicle_payloads! {
    /// Payload of `VehicleSold`: the vehicle, now `sold`, with its sale.
    VehicleSold;
    /// Payload of `VehicleArchived`: the vehicle, now `archived`.
    VehicleArchived;
}

/// Where `PATCH /v1/vehicles/{id}` writes a free-text detail.
type DetailSlot = fn(&mut Vehicle) -> &mut Option<String>;

/// The free-text details `PATCH /v1/vehicles/{id}` changes, each with its longest length and where it
/// goes: [`update_vehicle`] checks and applies them, and [`VehicleChanges`] documents them, from this table.
const TEXT_DETAILS: [(&str, usize, DetailSlot); 4] = [
    ("nickname", 60, |v| &mut v.nickname),
    ("trim", 60, |v| &mut v.trim),
    ("plate", 20, |v| &mut v.plate),
    ("colour", 60, |v| &mut v.colour),
];

/// `PATCH /v1/vehicles/{id}` body as the OpenAPI document shows it (the route reads the body as a JSON
/// object, so that an absent field and a `null` one differ: [`update_vehicle`]).
pub struct VehicleChanges;

impl PartialSchema for VehicleChanges {
    fn schema() -> RefOr<Schema> {
        let unit = OneOfBuilder::new()
            .item(
                RefBuilder::new()
                    .ref_location_from_schema_name(OdometerUnit::name())
                    .description(Some(
                        "Only while the vehicle has no odometer on record (else 409).",
                    )),
            )
            .item(ObjectBuilder::new().schema_type(Type::Null));
        let mut body = ObjectBuilder::new()
            .description(Some(
                "`PATCH /v1/vehicles/{id}` body as the OpenAPI document shows it; `null` clears a text field.",
            ))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .property("odometerUnit", unit);
        for (name, max, _) in TEXT_DETAILS {
            body = body.property(
                name,
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .max_length(Some(max)),
            );
        }
        // `example`, as every derived schema of the document writes it (OpenAPI 3.1 prefers `examples`).
        #[allow(deprecated)]
        let body = body.example(Some(serde_json::json!(
            {"nickname": "Blue", "plate": "7ABC123", "colour": "Blue Crush Metallic"}
        )));
        body.into()
    }
}

impl ToSchema for VehicleChanges {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((OdometerUnit::name().into_owned(), OdometerUnit::schema()));
        OdometerUnit::schemas(schemas);
    }
}

/// Why a vehicle update was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateRefused {
    Invalid(Vec<FieldError>),
    /// The odometer unit cannot change once a reading exists.
    UnitLocked(String),
}

/// Applies a `PATCH /v1/vehicles/{id}` body (a JSON object) to `vehicle`. `has_odometer`: whether any
/// current record of the vehicle carries an odometer. Answers the vehicle and the fields changed.
pub fn update_vehicle(
    vehicle: &Vehicle,
    patch: &serde_json::Map<String, serde_json::Value>,
    has_odometer: bool,
) -> Result<(Vehicle, Vec<String>), UpdateRefused> {
    let mut v = Validator::default();
    let mut next = vehicle.clone();
    if patch.is_empty() {
        v.fail("body", "name at least one field to change");
    }
    for (field, value) in patch {
        if field == "odometerUnit" {
            match serde_json::from_value::<OdometerUnit>(value.clone()) {
                Ok(unit) => next.odometer_unit = unit,
                Err(_) => v.fail(field, "must be mi or km"),
            }
            continue;
        }
        let Some(&(_, max, slot)) = TEXT_DETAILS.iter().find(|(name, ..)| name == field) else {
            v.fail(
                field,
                "is not a field that can change (nickname, trim, plate, colour, odometerUnit)",
            );
            continue;
        };
        let slot = slot(&mut next);
        // `null` or blank clears the detail.
        match value {
            serde_json::Value::Null => *slot = None,
            serde_json::Value::String(s) if s.trim().is_empty() => *slot = None,
            serde_json::Value::String(s) => {
                v.line(field, s, 1, max);
                *slot = Some(s.trim().to_string());
            }
            _ => v.fail(field, "must be a string or null"),
        }
    }
    v.finish().map_err(UpdateRefused::Invalid)?;
    if next.odometer_unit != vehicle.odometer_unit && has_odometer {
        return Err(UpdateRefused::UnitLocked(format!(
            "the odometer unit stays {}: the vehicle has odometer readings in it; correct or void \
             them first",
            vehicle.odometer_unit.as_str()
        )));
    }
    let before = serde_json::to_value(vehicle).expect("a vehicle serialises");
    let after = serde_json::to_value(&next).expect("a vehicle serialises");
    let mut changed: Vec<String> = TEXT_DETAILS
        .iter()
        .map(|(name, ..)| *name)
        .chain(["odometerUnit"])
        .filter(|k| before.get(k) != after.get(k))
        .map(str::to_string)
        .collect();
    changed.sort();
    Ok((next, changed))
}

impl SellRequest {
    /// Checks the sale against the vehicle's model year and current records (voided ones left out).
    pub fn validate(
        &self,
        model_year: u16,
        events: &[VehicleEvent],
        now: DateTime<Utc>,
    ) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::default();
        if self.sold_at > now + Duration::days(1) {
            v.fail("soldAt", "must not be more than a day in the future");
        }
        // A model year's vehicles go on sale in the year before it at the earliest.
        let first_year = i32::from(model_year) - 1;
        if model_year != 0 && self.sold_at.year() < first_year {
            v.fail(
                "soldAt",
                format!(
                    "must not be before {first_year} (a model year {model_year} vehicle cannot have \
                     been sold earlier)"
                ),
            );
        }
        v.instant("soldAt", &self.sold_at);
        if let Some(last) = events.iter().map(|e| e.occurred_at).max()
            && self.sold_at < last
        {
            v.fail(
                "soldAt",
                format!(
                    "must not be before the vehicle's last record ({})",
                    last.to_rfc3339()
                ),
            );
        }
        v.money("priceCents", Some(self.price_cents));
        if !crate::currency::is_iso4217(&self.currency) {
            v.fail(
                "currency",
                format!("{:?} is not an ISO 4217 currency code", self.currency),
            );
        }
        if self.odometer >= MAX_ODOMETER {
            v.fail("odometer", format!("must be below {MAX_ODOMETER}"));
        }
        if let Some(max) = events.iter().filter_map(|e| e.odometer).max()
            && self.odometer < max
        {
            v.fail(
                "odometer",
                format!("must not be below the last recorded odometer ({max})"),
            );
        }
        v.finish()
    }
}

/// purchase price + costs − sale price over the vehicle's current records, in the sale's currency. The
/// ownership is the seller's: from the latest acquisition record on (a previous owner's purchase and costs,
/// recorded before it, are theirs), or the whole history without one.
pub fn total_cost_of_ownership(
    vehicle: &Vehicle,
    events: &[VehicleEvent],
    sale_price_cents: u64,
    currency: &str,
) -> TotalCostOfOwnership {
    let latest = events
        .iter()
        .filter(|e| e.kind == EventKind::Acquisition)
        .max_by_key(|e| e.occurred_at);
    let acquisition = latest.and_then(|e| {
        let price = match e.typed_details() {
            Some(EventDetails::Acquisition(d)) => d.price_cents,
            _ => None,
        };
        // `details.priceCents` carries no currency of its own: the record's, else the registration's.
        let price_currency = e
            .currency
            .as_deref()
            .or(vehicle.purchase_currency.as_deref());
        let amount = price.or(e.cost_cents)?;
        (price_currency == Some(currency)).then_some(amount)
    });
    let owned_from = latest.map(|e| e.occurred_at);
    let registration = vehicle
        .purchase_price_cents
        .filter(|_| vehicle.purchase_currency.as_deref() == Some(currency));
    let (purchase, source) = match (acquisition, registration) {
        (Some(p), _) => (p, PurchasePriceSource::AcquisitionEvent),
        (None, Some(p)) => (p, PurchasePriceSource::Registration),
        (None, None) => (0, PurchasePriceSource::Unknown),
    };
    let (mut costs, mut counted, mut other) = (0u64, 0u64, 0u64);
    let owned = |e: &&VehicleEvent| owned_from.is_none_or(|from| e.occurred_at >= from);
    for e in events
        .iter()
        .filter(|e| e.kind != EventKind::Acquisition)
        .filter(owned)
    {
        let Some(cost) = e.cost_cents else { continue };
        if e.currency.as_deref() == Some(currency) {
            costs += cost;
            counted += 1;
        } else {
            other += 1;
        }
    }
    TotalCostOfOwnership {
        currency: currency.to_string(),
        purchase_price_cents: purchase,
        purchase_price_source: source,
        costs_cents: costs,
        sale_price_cents,
        total_cents: purchase as i64 + costs as i64 - sale_price_cents as i64,
        records_counted: counted,
        records_in_other_currencies: other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::examples;

    #[test]
    fn a_sale_before_the_year_before_the_model_year_is_refused() {
        let now: DateTime<Utc> = "2026-12-02T12:00:00Z".parse().unwrap();
        let sale = |at: &str| SellRequest {
            sold_at: at.parse().unwrap(),
            price_cents: 100,
            currency: "USD".into(),
            odometer: 10,
        };
        let refused = sale("1901-05-05T00:00:00Z")
            .validate(2026, &[], now)
            .unwrap_err();
        assert_eq!(refused[0].field, "soldAt");
        assert!(
            refused[0].message.starts_with("must not be before 2025"),
            "{refused:?}"
        );
        assert!(
            sale("2024-12-31T23:59:59Z")
                .validate(2026, &[], now)
                .is_err()
        );
        assert!(
            sale("2025-01-01T00:00:00Z")
                .validate(2026, &[], now)
                .is_ok()
        );
    }

    fn event(
        kind: EventKind,
        cost: Option<u64>,
        currency: &str,
        details: serde_json::Value,
    ) -> VehicleEvent {
        VehicleEvent {
            kind,
            cost_cents: cost,
            currency: cost.map(|_| currency.to_string()),
            details,
            ..examples::vehicle_event()
        }
    }

    #[test]
    fn tco_is_the_sellers_own_from_the_latest_acquisition_on() {
        let on = |e: VehicleEvent, at: &str| VehicleEvent {
            occurred_at: at.parse().unwrap(),
            ..e
        };
        let events = [
            on(
                event(
                    EventKind::Acquisition,
                    Some(3_000_000),
                    "USD",
                    json!({"priceCents": 3_000_000}),
                ),
                "2019-05-01T00:00:00Z",
            ),
            on(
                event(EventKind::Repair, Some(5_000), "USD", json!({})),
                "2020-01-01T00:00:00Z",
            ),
            on(
                event(
                    EventKind::Acquisition,
                    Some(1_500_000),
                    "USD",
                    json!({"priceCents": 1_500_000}),
                ),
                "2024-01-01T00:00:00Z",
            ),
            on(
                event(EventKind::Repair, Some(7_000), "USD", json!({})),
                "2025-01-01T00:00:00Z",
            ),
        ];
        let tco = total_cost_of_ownership(&examples::vehicle(), &events, 1_000_000, "USD");
        assert_eq!(tco.purchase_price_cents, 1_500_000);
        assert_eq!((tco.costs_cents, tco.records_counted), (7_000, 1));
        assert_eq!(tco.total_cents, 1_500_000 + 7_000 - 1_000_000);
    }

    #[test]
    fn tco_is_purchase_plus_costs_minus_sale_in_the_sale_currency() {
        let events = [
            event(
                EventKind::Acquisition,
                None,
                "USD",
                json!({"priceCents": 2_500_000}),
            ),
            event(
                EventKind::Maintenance,
                Some(8_999),
                "USD",
                json!({"tasks": ["oil_change"]}),
            ),
            event(EventKind::Repair, Some(45_000), "USD", json!({})),
            event(EventKind::Repair, Some(10_000), "EUR", json!({})),
        ];
        let mut vehicle = examples::vehicle();
        vehicle.purchase_currency = Some("USD".into());
        vehicle.purchase_price_cents = Some(1);
        let tco = total_cost_of_ownership(&vehicle, &events, 1_800_000, "USD");
        assert_eq!(tco.purchase_price_cents, 2_500_000);
        assert_eq!(
            tco.purchase_price_source,
            PurchasePriceSource::AcquisitionEvent
        );
        assert_eq!(tco.costs_cents, 53_999);
        assert_eq!(tco.total_cents, 2_500_000 + 53_999 - 1_800_000);
        assert_eq!(
            (tco.records_counted, tco.records_in_other_currencies),
            (2, 1)
        );
        let none = total_cost_of_ownership(&vehicle, &events[1..], 1_800_000, "USD");
        assert_eq!(
            none.purchase_price_source,
            PurchasePriceSource::Registration
        );
    }

    #[test]
    fn the_unit_is_locked_once_an_odometer_exists() {
        let vehicle = examples::vehicle();
        let patch = json!({"odometerUnit": "km", "plate": "ABC 123"});
        let patch = patch.as_object().unwrap();
        assert!(matches!(
            update_vehicle(&vehicle, patch, true),
            Err(UpdateRefused::UnitLocked(_))
        ));
        let (next, changed) = update_vehicle(&vehicle, patch, false).unwrap();
        assert_eq!(next.odometer_unit, OdometerUnit::Km);
        assert_eq!(changed, ["odometerUnit", "plate"]);
        let bad = json!({"vin": "X", "nickname": 3});
        assert!(matches!(
            update_vehicle(&vehicle, bad.as_object().unwrap(), false),
            Err(UpdateRefused::Invalid(e)) if e.len() == 2
        ));
    }
}
