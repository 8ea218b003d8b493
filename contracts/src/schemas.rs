//! JSON Schemas generated from the Rust types into `contracts/schemas/`. The committed files are checked
//! against the types by a test; `VWC_BLESS=1 cargo test -p vwc-contracts` rewrites them.

use schemars::{JsonSchema, schema_for};

use crate::corrections::{
    EventCorrection, EventHistory, VehicleEventCorrected, VehicleEventVoided,
};
use crate::lifecycle::{SellRequest, VehicleArchived, VehicleSold, VehicleUpdated};
use crate::maintenance::*;
use crate::valuation::*;
use crate::vehicle::*;
use crate::{Envelope, FieldError};

/// (file name, schema) for every published shape.
pub fn all() -> Vec<(&'static str, serde_json::Value)> {
    /// `file`'s entry: the schema of `T`.
    fn schema<T: JsonSchema>(file: &'static str) -> (&'static str, serde_json::Value) {
        let schema = serde_json::to_value(schema_for!(T)).expect("schema serialises");
        (file, schema)
    }
    vec![
        schema::<Envelope>("envelope.json"),
        schema::<Vehicle>("vehicle.json"),
        schema::<NewVehicle>("new-vehicle.json"),
        schema::<VehicleEvent>("vehicle-event.json"),
        schema::<NewVehicleEvent>("new-vehicle-event.json"),
        schema::<AcquisitionDetails>("details-acquisition.json"),
        schema::<MaintenanceDetails>("details-maintenance.json"),
        schema::<RepairDetails>("details-repair.json"),
        schema::<CollisionDetails>("details-collision.json"),
        schema::<UpgradeDetails>("details-upgrade.json"),
        schema::<ValuationDetails>("details-valuation.json"),
        schema::<OdometerReadingDetails>("details-odometer-reading.json"),
        schema::<FuelDetails>("details-fuel.json"),
        schema::<VehicleRegistered>("event-vehicle-registered.json"),
        schema::<VehicleEventRecorded>("event-vehicle-event-recorded.json"),
        schema::<FieldError>("field-error.json"),
        schema::<MaintenanceScheduleUpdated>("event-maintenance-schedule-updated.json"),
        schema::<MaintenanceStatusChanged>("event-maintenance-status-changed.json"),
        schema::<ReminderDue>("event-reminder-due.json"),
        schema::<NotificationDelivered>("event-notification-delivered.json"),
        schema::<ValuationUpdated>("event-valuation-updated.json"),
        schema::<Valuation>("valuation.json"),
        schema::<ValuationForecast>("valuation-forecast.json"),
        schema::<VehicleEventCorrected>("event-vehicle-event-corrected.json"),
        schema::<VehicleEventVoided>("event-vehicle-event-voided.json"),
        schema::<VehicleUpdated>("event-vehicle-updated.json"),
        schema::<VehicleSold>("event-vehicle-sold.json"),
        schema::<VehicleArchived>("event-vehicle-archived.json"),
        schema::<EventCorrection>("event-correction.json"),
        schema::<EventHistory>("event-history.json"),
        schema::<SellRequest>("sell-request.json"),
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
