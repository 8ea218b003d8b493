//! Vehicles and the vehicle timeline (DESIGN §4.2): the shapes the API accepts, the shapes stored and
//! published, and the validation that stands between the two.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{EventId, OrgId, VehicleId};
use crate::validation::{FieldError, Validator};

pub const MAX_ODOMETER: u64 = 5_000_000;

/// The odometer rule every service reads records by: taken in time order, a reading below the highest one
/// before it is a rollback (a typo, a dealer's miles on a km vehicle, a wound-back odometer) and is left
/// out of every figure; an equal one is not. Holds the highest reading admitted so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HighestOdometer(Option<u64>);

impl HighestOdometer {
    /// The highest of `readings` (none admitted when there are none).
    pub fn of(readings: impl IntoIterator<Item = u64>) -> HighestOdometer {
        HighestOdometer(readings.into_iter().max())
    }

    /// Takes the next reading in time order: `true`, and it is now the highest, unless it is a rollback.
    pub fn admit(&mut self, reading: u64) -> bool {
        if self.0.is_some_and(|highest| reading < highest) {
            return false;
        }
        self.0 = Some(reading);
        true
    }
}
pub const MAX_MONEY_CENTS: u64 = 100_000_000_000; // 1 billion in major units
pub const MAX_TITLE: usize = 200;
pub const MAX_NOTES: usize = 4_000;
pub const MAX_SHORT_TEXT: usize = 120;
pub const MAX_TASKS: usize = 25;

crate::wire_enum! {
    #[derive(JsonSchema, ToSchema, Default)]
    pub enum OdometerUnit as "lowercase" {
        #[default]
        Mi,
        Km,
    }
}

/// Kilometres in a mile: the international mile is 1,609.344 m exactly (by the 1959 international yard
/// and pound agreement).
pub const KM_PER_MILE: f64 = 1.609_344;

/// A registered vehicle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Vehicle {
    #[schema(value_type = String)]
    pub id: VehicleId,
    #[schema(value_type = String)]
    pub org_id: OrgId,
    pub vin: String,
    pub year: u16,
    pub make: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    pub odometer_unit: OdometerUnit,
    pub registered_at: DateTime<Utc>,
    /// What the owner paid, given at registration (the valuation's base when no acquisition event has a
    /// price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_price_cents: Option<u64>,
    /// ISO 4217 code of `purchasePriceCents`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<CurrencyCode>)]
    pub purchase_currency: Option<String>,
    /// Registration plate, as the owner writes it (`PATCH /v1/vehicles/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plate: Option<String>,
    /// Exterior colour, free text (`PATCH /v1/vehicles/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    /// `active` until the vehicle is sold or archived; `active` when absent.
    #[serde(default)]
    pub status: crate::lifecycle::VehicleStatus,
    /// The sale, once `POST /v1/vehicles/{id}/sell` recorded it, with the realised total cost of ownership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale: Option<crate::lifecycle::Sale>,
    /// When `POST /v1/vehicles/{id}/archive` archived the vehicle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<DateTime<Utc>>,
}

impl Vehicle {
    /// Sold or archived: out of the fleet counts and reminders, its history kept.
    pub fn is_retired(&self) -> bool {
        self.status != crate::lifecycle::VehicleStatus::Active
    }
}

/// `POST /v1/vehicles` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"vin": "2T3P1RFV3MW123456", "year": 2021, "make": "Toyota", "model": "RAV4",
    "trim": "XLE", "nickname": "Blue", "odometerUnit": "mi"}))]
pub struct NewVehicle {
    /// 17 characters, letters and digits without I, O and Q. A North American VIN (position 1 is 1–5)
    /// must carry its check digit in position 9 unless `vinCheck` is `skip` (docs/vin.md).
    #[schema(pattern = "^[A-HJ-NPR-Za-hj-npr-z0-9]{17}$")]
    pub vin: String,
    /// Model year, from 1886 to two years after the current one. When absent, the VIN's position 10
    /// gives it (`GET /v1/vin/{vin}` shows what it decodes to).
    #[serde(default)]
    #[schema(minimum = 1886, maximum = 2100)]
    pub year: Option<u16>,
    /// When absent, the brand the VIN's WMI is assigned to.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 60, pattern = "\\S")]
    pub make: Option<String>,
    #[schema(min_length = 1, max_length = 60, pattern = "\\S")]
    pub model: String,
    #[serde(default)]
    #[schema(max_length = 60)]
    pub trim: Option<String>,
    #[serde(default)]
    #[schema(max_length = 60)]
    pub nickname: Option<String>,
    /// `mi` when absent.
    #[serde(default)]
    pub odometer_unit: Option<OdometerUnit>,
    /// `skip` accepts a North American VIN whose check digit does not match; `verify` when absent.
    #[serde(default)]
    pub vin_check: Option<crate::vin::VinCheck>,
    /// What the owner paid: the valuation's base until an acquisition event with a price is recorded.
    #[serde(default)]
    #[schema(maximum = 100_000_000_000_u64)]
    pub purchase_price_cents: Option<u64>,
    /// ISO 4217 code; required with `purchasePriceCents`.
    #[serde(default)]
    #[schema(value_type = Option<CurrencyCode>)]
    pub purchase_currency: Option<String>,
}

impl NewVehicle {
    /// Checks every field and the VIN's check digit (North American VINs), and builds the vehicle to store,
    /// registered `now`: `year` and `make` from the VIN when the request left them out, the VIN upper case,
    /// make and model trimmed, `mi` when no unit is given.
    pub fn validate(
        self,
        id: VehicleId,
        org_id: OrgId,
        now: DateTime<Utc>,
    ) -> Result<Vehicle, Vec<FieldError>> {
        let mut v = Validator::default();
        let vin = self.vin.trim().to_ascii_uppercase();
        let current_year = now.format("%Y").to_string().parse::<u16>().unwrap_or(2098);
        let decoded = match crate::vin::decode(&vin, current_year) {
            Ok(d) => Some(d),
            Err(message) => {
                v.fail("vin", message);
                None
            }
        };
        if let Some(d) = &decoded
            && d.check_digit.required
            && !d.check_digit.valid
            && self.vin_check != Some(crate::vin::VinCheck::Skip)
        {
            v.fail(
                "vin",
                format!(
                    "check digit mismatch: position 9 is '{}' but the other positions give '{}' (49 CFR \
                     565.15); correct the VIN, or send \"vinCheck\": \"skip\" to register it as written",
                    d.check_digit.actual, d.check_digit.expected
                ),
            );
        }
        let max_year = current_year + 2;
        let year = match (self.year, &decoded) {
            // A year given is checked as given: 0 too (it is not the placeholder of a failed decode).
            (Some(year), _) => {
                if !(1886..=max_year).contains(&year) {
                    v.fail("year", format!("must be between 1886 and {max_year}"));
                }
                year
            }
            (None, Some(d)) => match d.model_year {
                Some(year) => year,
                None => {
                    v.fail(
                        "year",
                        "required: position 10 of this VIN gives no model year",
                    );
                    0
                }
            },
            (None, None) => {
                v.fail("year", "required when the VIN cannot be decoded");
                0
            }
        };
        if self.year.is_none() && year != 0 && !(1886..=max_year).contains(&year) {
            v.fail("year", format!("must be between 1886 and {max_year}"));
        }
        let make = match (self.make, &decoded) {
            (Some(make), _) => {
                v.line("make", &make, 1, 60);
                make
            }
            (None, Some(d)) => match &d.make {
                Some(make) => make.clone(),
                None => {
                    v.fail(
                        "make",
                        format!(
                            "required: the built-in table does not name one brand for WMI {}",
                            d.wmi
                        ),
                    );
                    String::new()
                }
            },
            (None, None) => {
                v.fail("make", "required when the VIN cannot be decoded");
                String::new()
            }
        };
        v.line("model", &self.model, 1, 60);
        v.opt_line("trim", self.trim.as_deref(), 60);
        v.opt_line("nickname", self.nickname.as_deref(), 60);
        v.money("purchasePriceCents", self.purchase_price_cents);
        match (&self.purchase_price_cents, &self.purchase_currency) {
            (Some(_), None) => v.fail("purchaseCurrency", "is required with purchasePriceCents"),
            (None, Some(_)) => v.fail("purchaseCurrency", "is given without purchasePriceCents"),
            (_, Some(c)) if !crate::currency::is_iso4217(c) => v.fail(
                "purchaseCurrency",
                format!("{c:?} is not an ISO 4217 currency code"),
            ),
            _ => {}
        }
        v.finish()?;
        Ok(Vehicle {
            id,
            org_id,
            vin,
            year,
            make: make.trim().to_string(),
            model: self.model.trim().to_string(),
            trim: self.trim,
            nickname: self.nickname,
            odometer_unit: self.odometer_unit.unwrap_or_default(),
            registered_at: now,
            purchase_price_cents: self.purchase_price_cents,
            purchase_currency: self.purchase_currency,
            plate: None,
            colour: None,
            status: Default::default(),
            sale: None,
            archived_at: None,
        })
    }
}

/// VIN rule: 17 characters from A–Z and 0–9, never I, O or Q (ISO 3779).
pub fn check_vin(vin: &str) -> Result<(), String> {
    if vin.chars().count() != 17 {
        return Err("must be exactly 17 characters".into());
    }
    if let Some(c) = vin
        .chars()
        .find(|c| !c.is_ascii_uppercase() && !c.is_ascii_digit())
    {
        return Err(format!(
            "contains {c:?}; only letters and digits are allowed"
        ));
    }
    if let Some(c) = vin.chars().find(|c| matches!(c, 'I' | 'O' | 'Q')) {
        return Err(format!("contains {c:?}; I, O and Q never appear in a VIN"));
    }
    Ok(())
}

crate::wire_enum! {
    #[derive(JsonSchema, ToSchema, PartialOrd, Ord)]
    pub enum EventKind {
        Acquisition,
        Maintenance,
        Repair,
        Collision,
        Upgrade,
        Valuation,
        OdometerReading,
        /// A fill-up: volume, full or partial, station; the price is the event's `costCents`.
        Fuel,
    }
}

impl EventKind {
    pub(crate) fn default_title(self) -> &'static str {
        match self {
            EventKind::Acquisition => "Vehicle acquired",
            EventKind::Maintenance => "Maintenance",
            EventKind::Repair => "Repair",
            EventKind::Collision => "Collision",
            EventKind::Upgrade => "Upgrade",
            EventKind::Valuation => "Valuation",
            EventKind::OdometerReading => "Odometer reading",
            EventKind::Fuel => "Fuel",
        }
    }
}

crate::wire_enum! {
    #[derive(JsonSchema, ToSchema)]
    pub enum EventSource as "lowercase" {
        User,
        Dealer,
        System,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Vendor {
    #[schema(min_length = 1, max_length = 120, pattern = "\\S")]
    pub name: String,
    /// The dealer that sent the record (set by its webhook). A record a person writes or corrects may name
    /// only a dealer of the vehicle's organisation (422 otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dealer_id: Option<String>,
}

crate::wire_enum! {
    #[derive(JsonSchema, ToSchema)]
    pub enum Condition as "lowercase" {
        New,
        Used,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcquisitionDetails {
    /// The purchase price, in the record's `currency` (which it requires).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 100_000_000_000_u64)]
    pub price_cents: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 120)]
    pub seller: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MaintenanceDetails {
    /// Task codes such as `oil_change`, `tire_rotation` (snake_case).
    #[schema(min_items = 1, max_items = 25, value_type = Vec<TaskCode>)]
    pub tasks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepairDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 120)]
    pub system: Option<String>,
    #[serde(default)]
    #[schema(max_items = 100, value_type = Vec<PartName>)]
    pub parts: Vec<String>,
    #[serde(default)]
    pub warranty: bool,
}

crate::wire_enum! {
    #[derive(JsonSchema, ToSchema, PartialOrd, Ord)]
    pub enum Severity as "lowercase" {
        Minor,
        Moderate,
        Major,
        Severe,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CollisionDetails {
    pub severity: Severity,
    #[serde(default)]
    pub structural: bool,
    #[serde(default)]
    pub airbag_deployed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 120)]
    pub insurance_claim_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpgradeDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 120)]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 100_000_000_000_u64)]
    pub value_add_cents: Option<u64>,
}

crate::wire_enum! {
    #[derive(JsonSchema, ToSchema)]
    pub enum ValuationSource {
        DealerAppraisal,
        UserEstimate,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValuationDetails {
    #[schema(maximum = 100_000_000_000_u64)]
    pub amount_cents: u64,
    pub source: ValuationSource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct OdometerReadingDetails {}

/// Largest volume one fill-up may record (in either unit): a road tanker's compartment, well above any
/// vehicle's tank, so only typing errors are refused.
pub const MAX_FUEL_VOLUME: f64 = 2_000.0;

crate::wire_enum! {
    /// Unit of a fill-up's volume.
    #[derive(JsonSchema, ToSchema)]
    pub enum VolumeUnit as "lowercase" {
        /// US gallon (3.785411784 L).
        Gal,
        /// Litre.
        L,
    }
}

impl VolumeUnit {
    pub const LITRES_PER_US_GALLON: f64 = 3.785_411_784;

    pub fn to_litres(self, volume: f64) -> f64 {
        match self {
            VolumeUnit::Gal => volume * Self::LITRES_PER_US_GALLON,
            VolumeUnit::L => volume,
        }
    }
}

/// Details of a `fuel` event (docs/fuel.md). The odometer (or, without one, `tripDistance`) places the
/// fill-up for the economy computation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FuelDetails {
    /// Volume pumped, greater than 0 and at most 2000.
    #[schema(exclusive_minimum = 0.0, maximum = 2000.0)]
    pub volume: f64,
    pub volume_unit: VolumeUnit,
    /// `true` (the default): the tank was filled to full; `false`: a partial fill, whose volume counts
    /// toward the next full fill's interval.
    #[serde(default = "full_tank_default")]
    pub full_tank: bool,
    /// `true`: at least one fill-up before this one was not recorded, so the interval ending here is not
    /// measured (the next one starts here if this fill is full).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub missed_previous: bool,
    /// Distance driven since the previous fill-up in the vehicle's unit, as a trip meter shows it (used
    /// when the odometer is not recorded, e.g. Fuelly's `miles`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 100_000.0, minimum = 0.0)]
    pub trip_distance: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 120)]
    pub station: Option<String>,
}

fn full_tank_default() -> bool {
    true
}

/// The kind-specific part of an event, decoded from `details` according to `kind`.
#[derive(Debug, Clone, PartialEq)]
pub enum EventDetails {
    Acquisition(AcquisitionDetails),
    Maintenance(MaintenanceDetails),
    Repair(RepairDetails),
    Collision(CollisionDetails),
    Upgrade(UpgradeDetails),
    Valuation(ValuationDetails),
    OdometerReading(OdometerReadingDetails),
    Fuel(FuelDetails),
}

impl EventDetails {
    pub fn decode(kind: EventKind, details: &serde_json::Value) -> Result<EventDetails, String> {
        let empty = serde_json::Value::Object(Default::default());
        let value = if details.is_null() { &empty } else { details };
        // serde would read a struct from an array too (`[null, null]`); the API takes objects only.
        if !value.is_object() {
            return Err("must be an object".into());
        }
        fn de<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Result<T, String> {
            T::deserialize(v).map_err(|e| e.to_string())
        }
        Ok(match kind {
            EventKind::Acquisition => EventDetails::Acquisition(de(value)?),
            EventKind::Maintenance => EventDetails::Maintenance(de(value)?),
            EventKind::Repair => EventDetails::Repair(de(value)?),
            EventKind::Collision => EventDetails::Collision(de(value)?),
            EventKind::Upgrade => EventDetails::Upgrade(de(value)?),
            EventKind::Valuation => EventDetails::Valuation(de(value)?),
            EventKind::OdometerReading => EventDetails::OdometerReading(de(value)?),
            EventKind::Fuel => EventDetails::Fuel(de(value)?),
        })
    }

    pub fn to_json(&self) -> serde_json::Value {
        let r = match self {
            EventDetails::Acquisition(d) => serde_json::to_value(d),
            EventDetails::Maintenance(d) => serde_json::to_value(d),
            EventDetails::Repair(d) => serde_json::to_value(d),
            EventDetails::Collision(d) => serde_json::to_value(d),
            EventDetails::Upgrade(d) => serde_json::to_value(d),
            EventDetails::Valuation(d) => serde_json::to_value(d),
            EventDetails::OdometerReading(d) => serde_json::to_value(d),
            EventDetails::Fuel(d) => serde_json::to_value(d),
        };
        r.expect("details serialise")
    }
}

/// `POST /v1/vehicles/{id}/events` body; `details` depends on `kind`.
// The OpenAPI document shows one schema per kind (`schema_types::NewVehicleEventSchema`), built from the
// fields this derive describes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = NewVehicleEventFields, example = json!({"kind": "maintenance", "occurredAt": "2026-01-15T09:30:00Z", "odometer": 41250,
    "costCents": 8999, "currency": "USD", "title": "Oil change", "vendor": {"name": "Main St Auto"},
    "details": {"tasks": ["oil_change"]}}))]
pub struct NewVehicleEvent {
    pub kind: EventKind,
    /// Not before 1886 and at most a day in the future.
    pub occurred_at: DateTime<Utc>,
    /// In the vehicle's unit (`mi` or `km`); required for an `odometer_reading`.
    #[serde(default)]
    #[schema(maximum = 4_999_999)]
    pub odometer: Option<u64>,
    #[serde(default)]
    #[schema(maximum = 100_000_000_000_u64)]
    pub cost_cents: Option<u64>,
    /// ISO 4217 code; required with `costCents`, and with an acquisition's `details.priceCents`.
    #[serde(default)]
    #[schema(value_type = Option<CurrencyCode>)]
    pub currency: Option<String>,
    /// Defaults to a title for the kind.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub title: Option<String>,
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub notes: Option<String>,
    #[serde(default)]
    pub vendor: Option<Vendor>,
    /// Kind-specific details: the `*Details` schema of `kind` (`maintenance` needs `tasks`).
    #[serde(default)]
    #[schema(value_type = Option<EventDetailsSchema>)]
    pub details: serde_json::Value,
}

/// Schema-only types: string shapes the API documents but the Rust model keeps as plain `String`s.
pub mod schema_types {
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, SchemaType, Type};
    use utoipa::openapi::{Ref, RefOr};
    use utoipa::{PartialSchema, ToSchema};

    /// Declares a string type for the OpenAPI document alone: `$name`'s schema is a string refined by
    /// the builder calls after `=>` (each of these types is validated where it is read, not by serde).
    macro_rules! string_schema {
        ($(#[$doc:meta])* $name:ident => $($refine:tt)+) => {
            $(#[$doc])*
            pub struct $name;

            impl PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    ObjectBuilder::new()
                        .schema_type(SchemaType::Type(Type::String))
                        $($refine)+
                        .into()
                }
            }

            impl ToSchema for $name {}
        };
    }

    string_schema! {
        /// A maintenance task code: lower snake_case, up to 50 characters (e.g. `oil_change`).
        TaskCode => .description(Some(
                "A maintenance task code: lower snake_case, up to 50 characters.",
            ))
            .pattern(Some("^[a-z][a-z0-9_]{0,49}$"))
            .examples([serde_json::json!("oil_change")])
    }

    string_schema! {
        /// A part named on a repair: 1–120 characters, not blank.
        PartName => .min_length(Some(1))
            .max_length(Some(120))
            .pattern(Some("\\S"))
            .examples([serde_json::json!("front brake pads")])
    }

    string_schema! {
        /// An active ISO 4217 currency code.
        CurrencyCode => .description(Some("An active ISO 4217 currency code."))
            .enum_values(Some(crate::currency::codes().iter().copied()))
            .examples([serde_json::json!("USD")])
    }

    /// `details` of a timeline event: one of the `*Details` schemas, chosen by the event's `kind`.
    pub struct EventDetailsSchema;

    impl PartialSchema for EventDetailsSchema {
        fn schema() -> RefOr<Schema> {
            let mut any_of = AnyOfBuilder::new().description(Some(
                "Kind-specific details: `AcquisitionDetails`, `MaintenanceDetails`, `RepairDetails`, \
                 `CollisionDetails`, `UpgradeDetails`, `ValuationDetails`, `OdometerReadingDetails` or \
                 `FuelDetails`, as `kind` says.",
            ));
            for name in DETAIL_SCHEMAS {
                any_of = any_of.item(Ref::from_schema_name(name));
            }
            any_of.into()
        }
    }

    impl ToSchema for EventDetailsSchema {
        fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            use crate::vehicle::*;
            fn add<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                schemas.push((T::name().into_owned(), T::schema()));
                T::schemas(schemas);
            }
            add::<AcquisitionDetails>(schemas);
            add::<MaintenanceDetails>(schemas);
            add::<RepairDetails>(schemas);
            add::<CollisionDetails>(schemas);
            add::<UpgradeDetails>(schemas);
            add::<ValuationDetails>(schemas);
            add::<OdometerReadingDetails>(schemas);
            add::<FuelDetails>(schemas);
        }
    }

    /// `POST /v1/vehicles/{id}/events` body as the OpenAPI document shows it: one schema per `kind`, each
    /// with that kind's `details` (required where the kind has required details) and, for an
    /// `odometer_reading`, a required `odometer`.
    pub struct NewVehicleEventSchema;

    impl PartialSchema for NewVehicleEventSchema {
        fn schema() -> RefOr<Schema> {
            use utoipa::openapi::schema::{AllOfBuilder, OneOfBuilder};

            use crate::vehicle::{EventKind, NewVehicleEvent};
            let RefOr::T(Schema::Object(fields)) = <NewVehicleEvent as PartialSchema>::schema()
            else {
                unreachable!("NewVehicleEvent derives an object schema")
            };
            let mut one_of = OneOfBuilder::new()
                .description(Some(
                    "`POST /v1/vehicles/{id}/events` body: the shared fields, with `details` as `kind` says.",
                ))
                .examples([serde_json::json!({"kind": "maintenance", "occurredAt": "2026-01-15T09:30:00Z",
                    "odometer": 41250, "costCents": 8999, "currency": "USD", "title": "Oil change",
                    "vendor": {"name": "Main St Auto"}, "details": {"tasks": ["oil_change"]}})]);
            for (&kind, details) in EventKind::ALL.iter().zip(DETAIL_SCHEMAS) {
                let mut variant = fields.clone();
                variant.title = Some(format!("kind: {}", kind.as_str()));
                variant.description = None;
                variant.example = None;
                variant.properties.insert(
                    "kind".into(),
                    ObjectBuilder::new()
                        .schema_type(SchemaType::Type(Type::String))
                        .enum_values(Some([kind.as_str()]))
                        .into(),
                );
                let details_required = matches!(
                    kind,
                    EventKind::Maintenance
                        | EventKind::Collision
                        | EventKind::Valuation
                        | EventKind::Fuel
                );
                let details_schema: RefOr<Schema> = if details_required {
                    variant.required.push("details".into());
                    Ref::from_schema_name(details).into()
                } else {
                    OneOfBuilder::new()
                        .item(ObjectBuilder::new().schema_type(SchemaType::Type(Type::Null)))
                        .item(Ref::from_schema_name(details))
                        .into()
                };
                variant.properties.insert("details".into(), details_schema);
                if kind == EventKind::OdometerReading {
                    variant.required.push("odometer".into());
                    if let Some(RefOr::T(Schema::Object(odometer))) =
                        variant.properties.get_mut("odometer")
                    {
                        odometer.schema_type = SchemaType::Type(Type::Integer);
                    }
                }
                // `currency` is required with a `costCents` (absent or null needs none).
                let cost_needs_currency = AnyOfBuilder::new()
                    .item(ObjectBuilder::new().property(
                        "costCents",
                        ObjectBuilder::new().schema_type(SchemaType::Type(Type::Null)),
                    ))
                    .item(
                        ObjectBuilder::new()
                            .property(
                                "currency",
                                ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)),
                            )
                            .required("currency"),
                    );
                one_of = one_of.item(
                    AllOfBuilder::new()
                        .title(Some(format!("kind: {}", kind.as_str())))
                        .item(Schema::Object(variant))
                        .item(cost_needs_currency),
                );
            }
            one_of.into()
        }
    }

    impl ToSchema for NewVehicleEventSchema {
        fn name() -> std::borrow::Cow<'static, str> {
            "NewVehicleEvent".into()
        }

        fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            <crate::vehicle::NewVehicleEvent as ToSchema>::schemas(schemas);
            EventDetailsSchema::schemas(schemas);
        }
    }

    /// In `EventKind::ALL` order.
    const DETAIL_SCHEMAS: [&str; 8] = [
        "AcquisitionDetails",
        "MaintenanceDetails",
        "RepairDetails",
        "CollisionDetails",
        "UpgradeDetails",
        "ValuationDetails",
        "OdometerReadingDetails",
        "FuelDetails",
    ];
}

use schema_types::{CurrencyCode, EventDetailsSchema, PartName, TaskCode};

/// A timeline entry as stored and published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VehicleEvent {
    #[schema(value_type = String)]
    pub id: EventId,
    #[schema(value_type = String)]
    pub vehicle_id: VehicleId,
    #[schema(value_type = String)]
    pub org_id: OrgId,
    pub kind: EventKind,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub odometer: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_cents: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<Vendor>,
    pub source: EventSource,
    pub details: serde_json::Value,
}

impl VehicleEvent {
    pub fn typed_details(&self) -> Option<EventDetails> {
        EventDetails::decode(self.kind, &self.details).ok()
    }

    /// Details of a fuel event; `None` for every other kind.
    pub fn fuel_details(&self) -> Option<FuelDetails> {
        match self.typed_details() {
            Some(EventDetails::Fuel(f)) => Some(f),
            _ => None,
        }
    }

    /// Task codes of a maintenance event; empty for every other kind.
    pub fn maintenance_tasks(&self) -> Vec<String> {
        match self.typed_details() {
            Some(EventDetails::Maintenance(m)) => m.tasks,
            _ => Vec::new(),
        }
    }
}

/// The error of a record dated after `vehicle`'s sale, naming `occurredAt` and the sale's instant; `None`
/// when the vehicle is not sold or the record is dated up to the sale.
pub fn after_sale(vehicle: &Vehicle, occurred_at: DateTime<Utc>) -> Option<FieldError> {
    let sale = vehicle.sale.as_ref()?;
    (occurred_at > sale.sold_at).then(|| FieldError {
        field: "occurredAt".into(),
        message: format!(
            "must not be after the vehicle's sale ({}): a sold vehicle takes records dated up to its \
             sale only",
            sale.sold_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        ),
    })
}

/// The error of a record whose `odometer` is above the odometer at `vehicle`'s sale: the sale's reading
/// is the vehicle's last (the sale itself refused a reading below a recorded one), so a record up to the
/// sale reading more is a typo the figures would follow (the vehicle's odometer above its sale's).
pub fn above_sale(vehicle: &Vehicle, odometer: Option<u64>) -> Option<FieldError> {
    let sale = vehicle.sale.as_ref()?;
    odometer
        .filter(|read| *read > sale.odometer)
        .map(|_| FieldError {
            field: "odometer".into(),
            message: format!(
                "must not be above the odometer at the vehicle's sale ({}): the sale's reading is its last",
                sale.odometer
            ),
        })
}

/// What a sold `vehicle` refuses of a record dated `occurred_at` reading `odometer` ([`after_sale`],
/// [`above_sale`]); a correction that `kept` the record's date, or its odometer, as they were is not
/// refused for it (a record entered before the sale was stays correctable). Empty for a vehicle not sold.
pub fn refused_by_sale(
    vehicle: &Vehicle,
    occurred_at: DateTime<Utc>,
    odometer: Option<u64>,
    kept: Option<(DateTime<Utc>, Option<u64>)>,
) -> Vec<FieldError> {
    let date = (kept.map(|k| k.0) != Some(occurred_at))
        .then(|| after_sale(vehicle, occurred_at))
        .flatten();
    let reading = (kept.map(|k| k.1) != Some(odometer))
        .then(|| above_sale(vehicle, odometer))
        .flatten();
    date.into_iter().chain(reading).collect()
}

impl NewVehicleEvent {
    /// Validates the request and builds the event to store. `now` bounds `occurredAt`, and so does the
    /// vehicle's sale: a sold vehicle takes records dated up to its sale (late paperwork), none after it,
    /// and none reading more than the sale's odometer.
    pub fn validate(
        self,
        id: EventId,
        vehicle: &Vehicle,
        source: EventSource,
        now: DateTime<Utc>,
    ) -> Result<VehicleEvent, Vec<FieldError>> {
        self.validate_keeping(id, vehicle, source, now, None)
    }

    /// [`NewVehicleEvent::validate`] for a correction of a record whose `occurredAt` and `odometer` were
    /// `kept`: a record already dated after the sale, or reading more than it (recorded before the sale
    /// was), can still be corrected without moving it, but no correction moves a record past the sale or
    /// above its odometer.
    pub(crate) fn validate_keeping(
        self,
        id: EventId,
        vehicle: &Vehicle,
        source: EventSource,
        now: DateTime<Utc>,
        kept: Option<(DateTime<Utc>, Option<u64>)>,
    ) -> Result<VehicleEvent, Vec<FieldError>> {
        let mut details = self.check(now);
        let refused = refused_by_sale(vehicle, self.occurred_at, self.odometer, kept);
        if !refused.is_empty() {
            match &mut details {
                Ok(_) => details = Err(refused),
                Err(errors) => errors.extend(refused),
            }
        }
        let details = details?;
        Ok(VehicleEvent {
            id,
            vehicle_id: vehicle.id.clone(),
            org_id: vehicle.org_id.clone(),
            kind: self.kind,
            occurred_at: self.occurred_at,
            recorded_at: now,
            odometer: self.odometer,
            cost_cents: self.cost_cents,
            currency: self.currency,
            title: self
                .title
                .map(|t| t.trim().to_string())
                .unwrap_or_else(|| self.kind.default_title().to_string()),
            notes: self.notes,
            vendor: self.vendor,
            source,
            details: details.to_json(),
        })
    }

    /// Validates the request on its own — nothing here depends on the vehicle it will belong to (a dealer
    /// record is checked before any vehicle matches it). `now` bounds `occurredAt`. Answers the typed details.
    pub fn check(&self, now: DateTime<Utc>) -> Result<EventDetails, Vec<FieldError>> {
        let mut v = Validator::default();
        if self.occurred_at > now + Duration::days(1) {
            v.fail("occurredAt", "must not be more than a day in the future");
        }
        v.instant("occurredAt", &self.occurred_at);
        if self
            .occurred_at
            .format("%Y")
            .to_string()
            .parse::<i32>()
            .unwrap_or(0)
            < 1886
        {
            v.fail("occurredAt", "must not be before 1886");
        }
        if let Some(o) = self.odometer
            && o >= MAX_ODOMETER
        {
            v.fail("odometer", format!("must be below {MAX_ODOMETER}"));
        }
        if self.kind == EventKind::OdometerReading && self.odometer.is_none() {
            v.fail("odometer", "is required for an odometer_reading");
        }
        v.money("costCents", self.cost_cents);
        match (&self.cost_cents, &self.currency) {
            (Some(_), None) => v.fail("currency", "is required with costCents"),
            (_, Some(c)) if !crate::currency::is_iso4217(c) => v.fail(
                "currency",
                format!("{c:?} is not an ISO 4217 currency code"),
            ),
            _ => {}
        }
        v.opt_line("title", self.title.as_deref(), MAX_TITLE);
        if let Some(t) = &self.title
            && t.trim().is_empty()
        {
            v.fail("title", "must not be blank");
        }
        v.opt_text("notes", self.notes.as_deref(), MAX_NOTES);
        if let Some(vendor) = &self.vendor {
            v.line("vendor.name", &vendor.name, 1, MAX_SHORT_TEXT);
        }
        let details = match EventDetails::decode(self.kind, &self.details) {
            Ok(d) => {
                validate_details(&mut v, &d);
                // A price says nothing of its currency: the record's is it, so it must be given.
                if let EventDetails::Acquisition(a) = &d
                    && a.price_cents.is_some()
                    && self.currency.is_none()
                {
                    v.fail("currency", "is required with details.priceCents");
                }
                Some(d)
            }
            Err(e) => {
                v.fail("details", e);
                None
            }
        };
        v.finish()?;
        Ok(details.expect("checked above"))
    }
}

fn validate_details(v: &mut Validator, details: &EventDetails) {
    match details {
        EventDetails::Acquisition(d) => {
            v.money("details.priceCents", d.price_cents);
            v.opt_line("details.seller", d.seller.as_deref(), MAX_SHORT_TEXT);
        }
        EventDetails::Maintenance(d) => {
            if d.tasks.is_empty() {
                v.fail("details.tasks", "must name at least one task");
            }
            if d.tasks.len() > MAX_TASKS {
                v.fail(
                    "details.tasks",
                    format!("must name at most {MAX_TASKS} tasks"),
                );
            }
            for t in &d.tasks {
                if !is_task_code(t) {
                    v.fail(
                        "details.tasks",
                        format!("{t:?} is not a task code (lower snake_case, up to 50 characters)"),
                    );
                }
            }
        }
        EventDetails::Repair(d) => {
            v.opt_line("details.system", d.system.as_deref(), MAX_SHORT_TEXT);
            if d.parts.len() > 100 {
                v.fail("details.parts", "must list at most 100 parts");
            }
            for p in &d.parts {
                v.line("details.parts", p, 1, MAX_SHORT_TEXT);
            }
        }
        EventDetails::Collision(d) => {
            v.opt_line(
                "details.insuranceClaimId",
                d.insurance_claim_id.as_deref(),
                MAX_SHORT_TEXT,
            );
        }
        EventDetails::Upgrade(d) => {
            v.opt_line("details.category", d.category.as_deref(), MAX_SHORT_TEXT);
            v.money("details.valueAddCents", d.value_add_cents);
        }
        EventDetails::Valuation(d) => v.money("details.amountCents", Some(d.amount_cents)),
        EventDetails::OdometerReading(_) => {}
        EventDetails::Fuel(d) => {
            if !d.volume.is_finite() || d.volume <= 0.0 || d.volume > MAX_FUEL_VOLUME {
                v.fail(
                    "details.volume",
                    format!("must be greater than 0 and at most {MAX_FUEL_VOLUME}"),
                );
            }
            if let Some(t) = d.trip_distance
                && (!t.is_finite() || !(0.0..=100_000.0).contains(&t))
            {
                v.fail("details.tripDistance", "must be from 0 to 100000");
            }
            v.opt_line("details.station", d.station.as_deref(), MAX_SHORT_TEXT);
        }
    }
}

/// Task codes are lower snake_case identifiers.
pub fn is_task_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 50
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Declares event payloads that carry the vehicle as it now reads and nothing else (`{"vehicle": {…}}`): a
/// consumer refreshes what it holds of the vehicle from any of them.
macro_rules! vehicle_payloads {
    ($($(#[$doc:meta])* $name:ident;)+) => {$(
        $(#[$doc])*
        #[derive(
            Debug,
            Clone,
            PartialEq,
            ::serde::Serialize,
            ::serde::Deserialize,
            ::schemars::JsonSchema,
            ::utoipa::ToSchema,
        )]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub vehicle: $crate::vehicle::Vehicle,
        }
    )+};
}
pub(crate) use vehicle_payloads;

vehicle_payloads! {
    /// Payload of `VehicleRegistered`.
    VehicleRegistered;
}

/// Payload of `VehicleEventRecorded`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VehicleEventRecorded {
    pub event: VehicleEvent,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vehicle() -> Vehicle {
        Vehicle {
            org_id: "org_a".into(),
            ..crate::examples::accord_registered_now()
        }
    }

    fn event(v: serde_json::Value) -> Result<VehicleEvent, Vec<FieldError>> {
        let e: NewVehicleEvent = serde_json::from_value(v).unwrap();
        e.validate(
            "evt_1".into(),
            &vehicle(),
            EventSource::User,
            vwc_clock::now(),
        )
    }

    #[test]
    fn vin_rules() {
        assert!(check_vin("1HGCM82633A004352").is_ok());
        // Sixteen characters; then I, O, Q and a character outside A–Z and 0–9 in position 17.
        for bad in ["", "I", "O", "Q", "-"].map(|last| format!("1HGCM82633A00435{last}")) {
            assert!(check_vin(&bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn lowercase_vin_is_normalised() {
        let v: NewVehicle = serde_json::from_value(
            serde_json::json!({"vin": "1hgcm82633a004352", "year": 2020, "make": "Honda", "model": "Accord"}),
        )
        .unwrap();
        let v = v
            .validate("veh_1".into(), "org_a".into(), vwc_clock::now())
            .unwrap();
        assert_eq!(v.vin, "1HGCM82633A004352");
        assert_eq!(v.odometer_unit, OdometerUnit::Mi);
    }

    #[test]
    fn a_model_year_given_is_checked_as_given_zero_included() {
        let year = |y: i64| {
            let v: NewVehicle = serde_json::from_value(
                json!({"vin": "1HGCM82633A004352", "year": y, "make": "Honda", "model": "Accord"}),
            )
            .unwrap();
            v.validate("veh_1".into(), "org_a".into(), vwc_clock::now())
                .map(|v| v.year)
                .map_err(|e| e[0].field.clone())
        };
        for refused in [0, 1, 1885] {
            assert_eq!(year(refused), Err("year".to_string()), "{refused}");
        }
        assert_eq!(year(1886), Ok(1886));
        assert_eq!(year(2020), Ok(2020));
    }

    #[test]
    fn maintenance_needs_tasks() {
        let err =
            event(json!({"kind":"maintenance","occurredAt":"2025-01-01T00:00:00Z","details":{}}))
                .unwrap_err();
        assert_eq!(err[0].field, "details");
        let ok = event(
            json!({"kind":"maintenance","occurredAt":"2025-01-01T00:00:00Z","odometer":100,
            "costCents":8999,"currency":"USD","details":{"tasks":["oil_change"]}}),
        )
        .unwrap();
        assert_eq!(ok.title, "Maintenance");
        assert_eq!(ok.maintenance_tasks(), vec!["oil_change"]);
    }

    #[test]
    fn future_events_and_bad_currency_are_refused() {
        let future = (vwc_clock::now() + Duration::days(3)).to_rfc3339();
        let err = event(
            json!({"kind":"odometer_reading","occurredAt":future,"odometer":5,
            "costCents":1,"currency":"XYZ"}),
        )
        .unwrap_err();
        let fields: Vec<_> = err.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"occurredAt"));
        assert!(fields.contains(&"currency"));
    }

    #[test]
    fn a_purchase_price_needs_the_records_currency() {
        let err = event(
            json!({"kind":"acquisition","occurredAt":"2025-01-01T00:00:00Z",
            "details":{"priceCents":2_400_000}}),
        )
        .unwrap_err();
        assert_eq!(err.len(), 1, "{err:?}");
        assert_eq!(err[0].field, "currency");
        assert!(err[0].message.contains("details.priceCents"), "{err:?}");
        assert!(
            event(
                json!({"kind":"acquisition","occurredAt":"2025-01-01T00:00:00Z",
                "currency":"EUR","details":{"priceCents":2_400_000}})
            )
            .is_ok()
        );
        // No price, no currency needed.
        assert!(
            event(
                json!({"kind":"acquisition","occurredAt":"2025-01-01T00:00:00Z",
                "details":{"seller":"A dealer"}})
            )
            .is_ok()
        );
    }

    #[test]
    fn a_leap_second_is_refused_and_the_second_before_it_is_not() {
        let err = event(json!({"kind":"repair","occurredAt":"2025-06-30T23:59:60Z"})).unwrap_err();
        assert_eq!(err[0].field, "occurredAt");
        assert!(err[0].message.contains("leap second"), "{err:?}");
        assert!(event(json!({"kind":"repair","occurredAt":"2025-06-30T23:59:59.999Z"})).is_ok());
    }

    #[test]
    fn details_must_be_an_object() {
        let err = event(
            json!({"kind":"upgrade","occurredAt":"2025-01-01T00:00:00Z","details":[null, null]}),
        )
        .unwrap_err();
        assert_eq!(err[0].field, "details");
        assert!(
            event(json!({"kind":"upgrade","occurredAt":"2025-01-01T00:00:00Z","details":null}))
                .is_ok()
        );
    }

    #[test]
    fn odometer_reading_requires_a_bounded_odometer() {
        assert!(
            event(json!({"kind":"odometer_reading","occurredAt":"2025-01-01T00:00:00Z"})).is_err()
        );
        assert!(
            event(json!({"kind":"odometer_reading","occurredAt":"2025-01-01T00:00:00Z","odometer":MAX_ODOMETER}))
                .is_err()
        );
        assert!(
            event(
                json!({"kind":"odometer_reading","occurredAt":"2025-01-01T00:00:00Z","odometer":12})
            )
            .is_ok()
        );
    }

    #[test]
    fn fuel_needs_a_positive_volume_and_a_unit() {
        let ok = event(
            json!({"kind":"fuel","occurredAt":"2025-01-01T00:00:00Z","odometer":1000,
            "costCents":4210,"currency":"USD","details":{"volume":11.25,"volumeUnit":"gal",
            "station":"Shell, Main St"}}),
        )
        .unwrap();
        let f = ok.fuel_details().unwrap();
        assert!(f.full_tank && !f.missed_previous);
        assert_eq!(ok.title, "Fuel");
        for bad in [
            json!({"volume":0,"volumeUnit":"l"}),
            json!({"volume":-3,"volumeUnit":"l"}),
            json!({"volume":2001,"volumeUnit":"l"}),
        ] {
            let err =
                event(json!({"kind":"fuel","occurredAt":"2025-01-01T00:00:00Z","details":bad}))
                    .unwrap_err();
            assert_eq!(err[0].field, "details.volume");
        }
        for bad in [
            json!({}),
            json!({"volume":10}),
            json!({"volume":10,"volumeUnit":"pint"}),
        ] {
            let err =
                event(json!({"kind":"fuel","occurredAt":"2025-01-01T00:00:00Z","details":bad}))
                    .unwrap_err();
            assert_eq!(err[0].field, "details");
        }
    }

    #[test]
    fn negative_odometer_and_unknown_kind_do_not_parse() {
        assert!(
            serde_json::from_value::<NewVehicleEvent>(
                json!({"kind":"odometer_reading","occurredAt":"2025-01-01T00:00:00Z","odometer":-1})
            )
            .is_err()
        );
        assert!(
            serde_json::from_value::<NewVehicleEvent>(
                json!({"kind":"teleport","occurredAt":"2025-01-01T00:00:00Z"})
            )
            .is_err()
        );
    }
}
