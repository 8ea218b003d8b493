//! Any JSON a client posts as a timeline event is either refused with field errors or becomes a valid
//! event: parsing and validation never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vwc_contracts::{NewVehicleEvent, OdometerUnit, Vehicle};

fuzz_target!(|data: &[u8]| {
    let Ok(new) = serde_json::from_slice::<NewVehicleEvent>(data) else {
        return;
    };
    let now = chrono::DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap().to_utc();
    let vehicle = Vehicle {
        id: "veh_1".into(),
        org_id: "org_1".into(),
        vin: "1HGCM82633A004352".into(),
        year: 2020,
        make: "Honda".into(),
        model: "Accord".into(),
        trim: None,
        nickname: None,
        odometer_unit: OdometerUnit::Mi,
        registered_at: now,
    };
    let _ = new.validate("evt_1".into(), &vehicle, vwc_contracts::EventSource::User, now);
});
