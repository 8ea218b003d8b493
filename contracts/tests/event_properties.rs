//! Event validation on stable (the invariants `fuzz/` checks with libFuzzer): any event body either
//! fails to parse, fails validation with field errors, or becomes an event of the vehicle it names —
//! never a panic.

use proptest::prelude::*;
use serde_json::json;
use vwc_contracts::{EventSource, NewVehicleEvent, Vehicle};

fn vehicle() -> Vehicle {
    vwc_contracts::examples::accord_registered_now()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_event_body_is_refused_with_field_errors_or_accepted_for_its_vehicle(
        kind in prop::sample::select(vec!["acquisition", "maintenance", "repair", "collision", "upgrade",
            "valuation", "odometer_reading", "fuel", "teleport"]),
        odometer in proptest::option::of(any::<i64>()),
        cost in proptest::option::of(any::<i64>()),
        currency in proptest::option::of("[A-Z]{0,4}"),
        title in proptest::option::of(".{0,250}"),
        days_ago in -400i64..40000,
        details in proptest::option::of(prop::sample::select(vec![
            json!({"tasks": ["oil_change"]}), json!({"tasks": []}), json!({"severity": "major", "structural": true}),
            json!({"priceCents": 100, "condition": "used"}), json!({"amountCents": -1, "source": "user_estimate"}),
            json!({"volume": 12.5, "volumeUnit": "gal", "fullTank": true}), json!("x"), json!(null),
        ])),
    ) {
        let occurred = vwc_clock::now() - chrono::Duration::days(days_ago);
        let mut body = json!({"kind": kind, "occurredAt": occurred});
        for (key, value) in [("odometer", json!(odometer)), ("costCents", json!(cost)),
            ("currency", json!(currency)), ("title", json!(title)), ("details", json!(details))] {
            if !value.is_null() {
                body[key] = value;
            }
        }
        let Ok(new) = serde_json::from_value::<NewVehicleEvent>(body) else { return Ok(()) };
        match new.validate("evt_1".into(), &vehicle(), EventSource::User, vwc_clock::now()) {
            Ok(event) => {
                prop_assert_eq!(event.vehicle_id, "veh_1");
                prop_assert_eq!(event.org_id, "org_1");
            }
            Err(errors) => prop_assert!(!errors.is_empty()),
        }
    }
}
