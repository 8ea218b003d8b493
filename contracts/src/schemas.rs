//! JSON Schemas generated from the Rust types into `contracts/schemas/`. The committed files are checked
//! against the types by a test; `VWC_BLESS=1 cargo test -p vwc-contracts` rewrites them.

use schemars::{JsonSchema, schema_for};

use crate::maintenance::*;
use crate::valuation::*;
use crate::vehicle::*;
use crate::{Envelope, FieldError};

/// (file name, schema) for every published shape.
pub fn all() -> Vec<(&'static str, serde_json::Value)> {
    fn s<T: JsonSchema>() -> serde_json::Value {
        serde_json::to_value(schema_for!(T)).expect("schema serialises")
    }
    vec![
        ("envelope.json", s::<Envelope>()),
        ("vehicle.json", s::<Vehicle>()),
        ("new-vehicle.json", s::<NewVehicle>()),
        ("vehicle-event.json", s::<VehicleEvent>()),
        ("new-vehicle-event.json", s::<NewVehicleEvent>()),
        ("details-acquisition.json", s::<AcquisitionDetails>()),
        ("details-maintenance.json", s::<MaintenanceDetails>()),
        ("details-repair.json", s::<RepairDetails>()),
        ("details-collision.json", s::<CollisionDetails>()),
        ("details-upgrade.json", s::<UpgradeDetails>()),
        ("details-valuation.json", s::<ValuationDetails>()),
        (
            "details-odometer-reading.json",
            s::<OdometerReadingDetails>(),
        ),
        ("details-fuel.json", s::<FuelDetails>()),
        ("event-vehicle-registered.json", s::<VehicleRegistered>()),
        (
            "event-vehicle-event-recorded.json",
            s::<VehicleEventRecorded>(),
        ),
        ("field-error.json", s::<FieldError>()),
        (
            "event-maintenance-schedule-updated.json",
            s::<MaintenanceScheduleUpdated>(),
        ),
        (
            "event-maintenance-status-changed.json",
            s::<MaintenanceStatusChanged>(),
        ),
        ("event-reminder-due.json", s::<ReminderDue>()),
        (
            "event-notification-delivered.json",
            s::<NotificationDelivered>(),
        ),
        ("event-valuation-updated.json", s::<ValuationUpdated>()),
        ("valuation.json", s::<Valuation>()),
        ("valuation-forecast.json", s::<ValuationForecast>()),
        (
            "event-vehicle-event-corrected.json",
            s::<crate::corrections::VehicleEventCorrected>(),
        ),
        (
            "event-vehicle-event-voided.json",
            s::<crate::corrections::VehicleEventVoided>(),
        ),
        (
            "event-vehicle-updated.json",
            s::<crate::lifecycle::VehicleUpdated>(),
        ),
        (
            "event-vehicle-sold.json",
            s::<crate::lifecycle::VehicleSold>(),
        ),
        (
            "event-vehicle-archived.json",
            s::<crate::lifecycle::VehicleArchived>(),
        ),
        (
            "event-correction.json",
            s::<crate::corrections::EventCorrection>(),
        ),
        (
            "event-history.json",
            s::<crate::corrections::EventHistory>(),
        ),
        ("sell-request.json", s::<crate::lifecycle::SellRequest>()),
    ]
}

/// Pretty JSON with every object's keys sorted, and a final newline. Committed artefacts are rendered this
/// way so they do not depend on whether some crate in the build enabled `serde_json/preserve_order`
/// (feature unification makes `cargo test -p x` and `cargo test --workspace` differ otherwise).
pub fn render(value: &serde_json::Value) -> String {
    fn sorted(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                serde_json::Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(sorted).collect())
            }
            other => other.clone(),
        }
    }
    let mut s = serde_json::to_string_pretty(&sorted(value)).expect("JSON renders");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    #[test]
    fn committed_schemas_match_the_types() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas");
        let bless = std::env::var_os("VWC_BLESS").is_some();
        let mut drifted = Vec::new();
        for (name, schema) in super::all() {
            let path = dir.join(name);
            let want = super::render(&schema);
            if bless {
                std::fs::write(&path, &want).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(want.as_str()) {
                drifted.push(name);
            }
        }
        assert!(
            drifted.is_empty(),
            "schemas drifted from the Rust types: {drifted:?}; run `VWC_BLESS=1 cargo test -p vwc-contracts` and commit"
        );
    }
}
