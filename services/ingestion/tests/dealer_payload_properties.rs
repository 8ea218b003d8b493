//! Dealer payload mapping on stable (the invariants `fuzz/` checks with libFuzzer): any body a dealer
//! sends maps to an event or to field errors, never a panic; a mapped event passes event validation
//! or says which field it fails.

use proptest::prelude::*;
use serde_json::json;
use vwc_contracts::{EventSource, OdometerUnit, Vehicle};
use vwc_ingestion::dealers::DealerPayload;

fn vehicle() -> Vehicle {
    Vehicle {
        id: "veh_1".into(),
        org_id: "org_1".into(),
        vin: "1HGCM82633A004352".into(),
        year: 2020,
        make: "Honda".into(),
        model: "Accord".into(),
        trim: None,
        nickname: None,
        odometer_unit: OdometerUnit::Mi,
        registered_at: vwc_clock::now(),
        purchase_price_cents: None,
        purchase_currency: None,
        plate: None,
        colour: None,
        status: Default::default(),
        sale: None,
        archived_at: None,
    }
}

fn line() -> impl Strategy<Value = serde_json::Value> {
    (
        ".{0,40}",
        proptest::option::of("[a-z_]{0,20}"),
        any::<i64>(),
    )
        .prop_map(|(d, t, a)| json!({"description": d, "task": t, "amountCents": a}))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_dealer_payload_maps_to_an_event_or_field_errors(
        kind in prop::sample::select(vec!["service_record", "repair_order", "appraisal", "sale", "collision_report", "other"]),
        odometer in proptest::option::of(any::<i64>()),
        total in proptest::option::of(any::<i64>()),
        currency in proptest::option::of("[A-Z]{0,4}"),
        days_ago in -5i64..5000,
        lines in proptest::collection::vec(line(), 0..5),
        extra in proptest::option::of(".{0,20}"),
    ) {
        let occurred = vwc_clock::now() - chrono::Duration::days(days_ago);
        let mut body = json!({"type": kind, "vin": "1HGCM82633A004352", "occurredAt": occurred,
            "odometer": odometer, "totalCents": total, "currency": currency, "lines": lines});
        if let Some(extra) = extra {
            body["notes"] = json!(extra);
        }
        let Ok(payload) = serde_json::from_value::<DealerPayload>(body) else { return Ok(()) };
        if let Ok(new) = payload.to_new_event("dlr_1", "Main St Auto") {
            let _ = new.validate("evt_1".into(), &vehicle(), EventSource::Dealer, vwc_clock::now());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_mapping(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(payload) = serde_json::from_slice::<DealerPayload>(&data) {
            let _ = payload.to_new_event("dlr_1", "Main St Auto");
        }
    }
}
