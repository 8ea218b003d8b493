//! Fixtures shared by this crate's black-box tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::json;
use vwc_bus::Consumer;
use vwc_contracts::maintenance::{MaintenanceStatus, ReminderDue};
use vwc_contracts::{
    Envelope, EventType, OdometerUnit, Vehicle, VehicleEvent, VehicleEventRecorded,
    VehicleRegistered,
};
use vwc_maintenance_scheduler::{
    Clock, SchedulerConsumer, SchedulerStore, SqliteSchedulerStore, VehicleLedger, VehicleState,
};
use vwc_store::Outbox;

pub const TRACE: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// A fresh SQLite store in its own temporary directory (kept alive with the store).
pub struct TempStore {
    pub store: Arc<SqliteSchedulerStore>,
    _dir: tempfile::TempDir,
}

impl TempStore {
    pub fn new() -> TempStore {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteSchedulerStore::open(&dir.path().join("maintenance.db")).unwrap();
        TempStore {
            store: Arc::new(store),
            _dir: dir,
        }
    }

    pub fn shared(&self) -> Arc<dyn SchedulerStore> {
        self.store.clone()
    }

    /// What the store holds of the vehicle now.
    pub async fn state(&self, vehicle_id: &str) -> VehicleState {
        self.store.vehicle_state(&vehicle_id.into()).await.unwrap()
    }
}

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A whole-second instant (stores keep microseconds), mid-morning UTC.
pub fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
}

/// A clock the test moves.
#[derive(Clone)]
pub struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    pub fn at(t: DateTime<Utc>) -> TestClock {
        TestClock(Arc::new(Mutex::new(t)))
    }

    pub fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap() = t;
    }

    pub fn clock(&self) -> Clock {
        let inner = self.0.clone();
        Arc::new(move || *inner.lock().unwrap())
    }
}

/// The contracts' example RAV4 ("Blue"), registered on 1 January 2025, as vehicle `id` of `org`.
pub fn vehicle(org: &str, id: &str, unit: OdometerUnit) -> Vehicle {
    Vehicle {
        id: id.into(),
        org_id: org.into(),
        nickname: Some("Blue".into()),
        odometer_unit: unit,
        registered_at: at(2025, 1, 1),
        ..vwc_contracts::examples::vehicle()
    }
}

pub fn timeline_event(
    v: &Vehicle,
    id: &str,
    kind: &str,
    occurred_at: DateTime<Utc>,
    odometer: Option<u64>,
    details: serde_json::Value,
) -> VehicleEvent {
    serde_json::from_value(json!({
        "id": id, "vehicleId": v.id, "orgId": v.org_id, "kind": kind,
        "occurredAt": occurred_at, "recordedAt": occurred_at, "odometer": odometer,
        "title": kind, "source": "user", "details": details
    }))
    .unwrap()
}

pub fn reading(v: &Vehicle, id: &str, occurred_at: DateTime<Utc>, odometer: u64) -> VehicleEvent {
    timeline_event(
        v,
        id,
        "odometer_reading",
        occurred_at,
        Some(odometer),
        json!({}),
    )
}

pub fn maintenance(
    v: &Vehicle,
    id: &str,
    occurred_at: DateTime<Utc>,
    odometer: u64,
    tasks: &[&str],
) -> VehicleEvent {
    timeline_event(
        v,
        id,
        "maintenance",
        occurred_at,
        Some(odometer),
        json!({ "tasks": tasks }),
    )
}

pub fn registered(v: &Vehicle) -> Envelope {
    from_ingestion(&v.org_id, &v.id, VehicleRegistered { vehicle: v.clone() })
}

/// `event` of the vehicle `vehicle_id` of `org`, as ingestion publishes it, in the trace [`TRACE`].
fn from_ingestion(org: &str, vehicle_id: &str, event: impl Into<vwc_contracts::Event>) -> Envelope {
    Envelope::new(
        "vwc.ingestion",
        org,
        Some(vehicle_id),
        Some(TRACE.into()),
        event,
    )
}

/// Delivers the timeline event `e` to `c` as recorded, as the bus would; it must be applied.
pub async fn record(c: &SchedulerConsumer, e: &VehicleEvent) {
    c.handle(&recorded(e)).await.unwrap();
}

pub fn recorded(e: &VehicleEvent) -> Envelope {
    from_ingestion(
        &e.org_id,
        &e.vehicle_id,
        VehicleEventRecorded { event: e.clone() },
    )
}

/// Every envelope in the outbox not yet marked sent, oldest first; marks them sent, so the next call
/// returns only what was published since.
pub async fn drain_outbox(store: &dyn Outbox) -> Vec<Envelope> {
    let pending = store.pending(1_000_000).await.unwrap();
    let ids: Vec<_> = pending.iter().map(|(id, _)| id.clone()).collect();
    store.mark_sent(&ids).await.unwrap();
    pending.into_iter().map(|(_, e)| e).collect()
}

pub fn of_type(envelopes: &[Envelope], t: EventType) -> Vec<&Envelope> {
    envelopes.iter().filter(|e| e.event_type() == t).collect()
}

/// (task, status, occurrence) of each `ReminderDue`.
pub fn reminders(envelopes: &[Envelope]) -> Vec<(String, MaintenanceStatus, u32)> {
    of_type(envelopes, EventType::ReminderDue)
        .into_iter()
        .map(|e| {
            let r: ReminderDue = e.payload().cloned().unwrap();
            (r.task, r.status, r.occurrence)
        })
        .collect()
}
