//! One plausible event of every type, for tests across the workspace (bus adapters, consumers, the routes
//! test). The match is exhaustive, so a new event type needs its example before anything compiles.

use chrono::{DateTime, NaiveDate, Utc};

use crate::maintenance::{
    Channel, MaintenanceItemView, MaintenanceScheduleUpdated, MaintenanceStatus,
    MaintenanceStatusChanged, NotificationDelivered, OdometerEstimateView, ReminderDue,
};
use crate::valuation::{Valuation, ValuationMethod, ValuationPointKind, ValuationUpdated};
use crate::{
    Envelope, Event, EventKind, EventSource, EventType, OdometerUnit, Vehicle, VehicleEvent,
    VehicleEventRecorded, VehicleRegistered,
};

fn at() -> DateTime<Utc> {
    "2026-05-01T10:00:00Z".parse().expect("a valid timestamp")
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 5, 1).expect("a valid date")
}

/// The schedule of `veh_1` (miles) with one item, an oil change due on 1 September 2026 or at 45,000 mi,
/// evaluated on 1 May 2026 at an estimated 41,000 mi: as the scheduler publishes it.
pub fn maintenance_schedule() -> MaintenanceScheduleUpdated {
    let mut oil = MaintenanceItemView {
        task: "oil_change".into(),
        title: "Oil and filter change".into(),
        interval_miles: Some(5_000),
        interval_km: Some(8_000),
        interval_months: Some(6),
        last_done_at: Some("2026-03-01T09:30:00Z".parse().expect("a valid timestamp")),
        last_done_odometer: Some(40_000),
        due_at: NaiveDate::from_ymd_opt(2026, 9, 1),
        due_odometer: Some(45_000),
        projected_due_at: NaiveDate::from_ymd_opt(2026, 8, 2),
        status: MaintenanceStatus::Ok,
        reason: String::new(),
        due_cycle: MaintenanceItemView::cycle_of(NaiveDate::from_ymd_opt(2026, 9, 1), Some(45_000)),
        enabled: true,
    };
    oil.reason = oil.reason_on(OdometerUnit::Mi, day(), Some(41_000));
    MaintenanceScheduleUpdated {
        vehicle_id: "veh_1".into(),
        items: vec![oil],
        odometer: Some(OdometerEstimateView {
            value: 41_000,
            unit: OdometerUnit::Mi,
            as_of: day(),
            estimated: true,
            reading_on: day().checked_sub_days(chrono::Days::new(30)),
        }),
        evaluated_at: at(),
        evaluated_on: None,
        unit: Some(OdometerUnit::Mi),
    }
}

/// The JSON of the scheduler's envelope of `event`, about `veh_1` of `org_1`, as published today.
fn scheduler_wire(event: impl Into<Event>) -> serde_json::Value {
    let envelope = Envelope::new(
        "vwc.maintenance-scheduler",
        "org_1",
        Some("veh_1"),
        None,
        event,
    );
    serde_json::to_value(envelope).expect("an envelope serialises")
}

/// [`maintenance_schedule`]'s envelope as a scheduler publishing `version` 2 or 3 of
/// `MaintenanceScheduleUpdated` wrote it (docs/events.md), for the readers' tests: both decode to the same
/// schedule.
pub fn maintenance_schedule_wire(version: u32) -> serde_json::Value {
    let mut wire = scheduler_wire(maintenance_schedule());
    if version == 2 {
        wire["version"] = serde_json::json!(2);
        wire["data"] = serde_json::json!({"vehicleId": "veh_1", "items": [{"task": "oil_change",
            "title": "Oil and filter change", "intervalMiles": 5000, "intervalKm": 8000,
            "intervalMonths": 6, "lastDoneAt": "2026-03-01T09:30:00Z", "lastDoneOdometer": 40000,
            "dueAt": "2026-09-01", "dueOdometer": 45000, "projectedDueAt": "2026-08-02",
            "status": "ok", "enabled": true}],
            "odometer": {"value": 41000, "unit": "mi", "asOf": "2026-05-01", "estimated": true},
            "evaluatedAt": "2026-05-01T10:00:00Z", "unit": "mi"});
    }
    wire
}

/// The reminder of [`maintenance_schedule`]'s oil change turning due soon, as the scheduler publishes it.
pub fn oil_change_reminder() -> ReminderDue {
    let (due_at, due_odometer) = (NaiveDate::from_ymd_opt(2026, 9, 1), Some(45_000));
    ReminderDue {
        reminder_id: "rem_5f0c2a9e41b7d3c8e6a1f09b2d".into(),
        vehicle_id: "veh_1".into(),
        vehicle_name: "2021 Toyota RAV4 (Blue)".into(),
        task: "oil_change".into(),
        title: "Oil and filter change".into(),
        status: MaintenanceStatus::DueSoon,
        reason: "Due on 2026-09-01 or at 45,000 mi, whichever comes first".into(),
        due_cycle: MaintenanceItemView::cycle_of(due_at, due_odometer),
        due_at,
        due_odometer,
        occurrence: 0,
    }
}

/// [`oil_change_reminder`]'s envelope as a scheduler publishing `version` 1 or 2 of `ReminderDue` wrote it
/// (docs/events.md), for the readers' tests: both decode to the same reminder.
pub fn oil_change_reminder_wire(version: u32) -> serde_json::Value {
    let mut wire = scheduler_wire(oil_change_reminder());
    if version == 1 {
        // Version 1 carried the whole payload, as it is written outside an envelope.
        wire["version"] = serde_json::json!(1);
        wire["data"] = serde_json::to_value(oil_change_reminder()).expect("a reminder serialises");
    }
    wire
}

/// A 2021 Toyota RAV4 of `org_1`, id `veh_1`.
pub fn vehicle() -> Vehicle {
    Vehicle {
        id: "veh_1".into(),
        org_id: "org_1".into(),
        vin: "1HGCM82633A004352".into(),
        year: 2021,
        make: "Toyota".into(),
        model: "RAV4".into(),
        trim: None,
        nickname: None,
        odometer_unit: OdometerUnit::Mi,
        registered_at: at(),
        purchase_price_cents: None,
        purchase_currency: None,
        plate: None,
        colour: None,
        status: Default::default(),
        sale: None,
        archived_at: None,
    }
}

/// A 2020 Honda Accord of `org_1`, id `veh_1`, registered now: for checks that date records relative to
/// the clock.
pub fn accord_registered_now() -> Vehicle {
    Vehicle {
        year: 2020,
        make: "Honda".into(),
        model: "Accord".into(),
        registered_at: vwc_clock::now(),
        ..vehicle()
    }
}

/// An odometer reading of [`vehicle`].
pub fn vehicle_event() -> VehicleEvent {
    VehicleEvent {
        id: "evt_1".into(),
        vehicle_id: "veh_1".into(),
        org_id: "org_1".into(),
        kind: EventKind::OdometerReading,
        occurred_at: at(),
        recorded_at: at(),
        odometer: Some(12_000),
        cost_cents: None,
        currency: None,
        title: "Odometer reading".into(),
        notes: None,
        vendor: None,
        source: EventSource::User,
        details: serde_json::json!({}),
    }
}

/// An event of type `event_type` about [`vehicle`].
pub fn event(event_type: EventType) -> Event {
    match event_type {
        EventType::VehicleRegistered => VehicleRegistered { vehicle: vehicle() }.into(),
        EventType::VehicleEventRecorded => VehicleEventRecorded {
            event: vehicle_event(),
        }
        .into(),
        EventType::ValuationUpdated => ValuationUpdated {
            vehicle_id: "veh_1".into(),
            vehicle_name: "2021 Toyota RAV4".into(),
            valuation: Valuation {
                amount_cents: 2_000_000,
                currency: "USD".into(),
                as_of: day(),
                method: ValuationMethod::FallbackAverageNewPrice,
                kind: ValuationPointKind::Current,
                odometer: None,
                odometer_unit: OdometerUnit::Mi,
                factors: Vec::new(),
            },
            previous_amount_cents: None,
            drop: None,
            computed_at: at(),
        }
        .into(),
        EventType::MaintenanceStatusChanged => MaintenanceStatusChanged {
            vehicle_id: "veh_1".into(),
            task: "oil_change".into(),
            title: "Oil change".into(),
            previous_status: Some(MaintenanceStatus::Ok),
            status: MaintenanceStatus::DueSoon,
            reason: "due in 300 mi".into(),
            due_cycle: "c1".into(),
            due_at: None,
            due_odometer: Some(12_300),
        }
        .into(),
        EventType::ReminderDue => ReminderDue {
            reminder_id: "rem_1".into(),
            vehicle_id: "veh_1".into(),
            vehicle_name: "2021 Toyota RAV4".into(),
            task: "oil_change".into(),
            title: "Oil change".into(),
            status: MaintenanceStatus::DueSoon,
            reason: "due in 300 mi".into(),
            due_cycle: "c1".into(),
            due_at: None,
            due_odometer: Some(12_300),
            occurrence: 0,
        }
        .into(),
        EventType::NotificationDelivered => NotificationDelivered {
            notification_id: "ntf_1".into(),
            reminder_id: Some("rem_1".into()),
            vehicle_id: Some("veh_1".into()),
            channel: Channel::InApp,
            title: "Oil change due soon".into(),
            body: "Due in 300 mi".into(),
            severity: Some(MaintenanceStatus::DueSoon),
            delivered_at: at(),
            task: Some("oil_change".into()),
            reminded_at: Some(at()),
        }
        .into(),
        EventType::MaintenanceScheduleUpdated => maintenance_schedule().into(),
        EventType::VehicleEventCorrected => {
            let previous = vehicle_event();
            let event = VehicleEvent {
                odometer: Some(12_100),
                ..previous.clone()
            };
            crate::corrections::VehicleEventCorrected {
                event,
                previous,
                revision: 2,
                changed: vec!["odometer".into()],
                reason: Some("misread the dial".into()),
                corrected_at: at(),
                corrected_by: "usr_1".into(),
            }
            .into()
        }
        EventType::VehicleEventVoided => crate::corrections::VehicleEventVoided {
            event: vehicle_event(),
            revision: 2,
            reason: "recorded twice".into(),
            voided_at: at(),
            voided_by: "usr_1".into(),
        }
        .into(),
        EventType::VehicleUpdated => crate::lifecycle::VehicleUpdated {
            vehicle: Vehicle {
                plate: Some("7ABC123".into()),
                ..vehicle()
            },
            changed: vec!["plate".into()],
            updated_at: at(),
        }
        .into(),
        EventType::VehicleSold => {
            let vehicle = vehicle();
            let tco = crate::lifecycle::total_cost_of_ownership(
                &vehicle,
                &[vehicle_event()],
                1_800_000,
                "USD",
            );
            crate::lifecycle::VehicleSold {
                vehicle: Vehicle {
                    status: crate::lifecycle::VehicleStatus::Sold,
                    sale: Some(crate::lifecycle::Sale {
                        sold_at: at(),
                        price_cents: 1_800_000,
                        currency: "USD".into(),
                        odometer: 12_000,
                        total_cost_of_ownership: tco,
                    }),
                    ..vehicle
                },
            }
            .into()
        }
        EventType::VehicleArchived => crate::lifecycle::VehicleArchived {
            vehicle: Vehicle {
                status: crate::lifecycle::VehicleStatus::Archived,
                archived_at: Some(at()),
                ..vehicle()
            },
        }
        .into(),
    }
}

/// An envelope of type `event_type` whose `data` is not that type's payload, as a message made by hand or by
/// a producer of another version arrives: consumers must refuse it as malformed.
pub fn undecodable(
    event_type: EventType,
    source: &str,
    org_id: &str,
    vehicle_id: Option<&str>,
    data: serde_json::Value,
) -> Envelope {
    let envelope = Envelope::new(source, org_id, vehicle_id, None, event(event_type));
    let mut json = serde_json::to_value(envelope).expect("an envelope serialises");
    json["data"] = data;
    let envelope: Envelope = serde_json::from_value(json).expect("a known type is an envelope");
    assert!(
        envelope.event().is_err(),
        "the data given is a valid {event_type} payload"
    );
    envelope
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_example_has_the_type_it_was_asked_for() {
        for t in crate::EventType::ALL {
            assert_eq!(super::event(*t).event_type(), *t);
        }
    }
}
