//! The edge reads every version of `MaintenanceScheduleUpdated` still in flight (docs/events.md): a
//! schedule published at version 3 and the same schedule published at version 2 become the same
//! maintenance view, whole items included, through the stored body the view is read from.

use std::sync::Arc;

use vwc_contracts::examples::{maintenance_schedule, maintenance_schedule_wire};
use vwc_contracts::maintenance::MaintenanceScheduleUpdated;
use vwc_contracts::{Envelope, OrgId, VehicleId};
use vwc_edge::store::{Delivery, Projected};
use vwc_edge::{EdgeStore, SqliteEdgeStore};
use vwc_store::VehicleRef;

#[tokio::test]
async fn a_schedule_of_version_3_or_2_becomes_the_same_maintenance_view() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EdgeStore> =
        Arc::new(SqliteEdgeStore::open(&dir.path().join("edge.db")).unwrap());
    let (org, vehicle) = (OrgId::from("org_1"), VehicleId::from("veh_1"));
    for version in [2, 3] {
        let envelope: Envelope =
            serde_json::from_value(maintenance_schedule_wire(version)).unwrap();
        assert_eq!(envelope.version, version);
        let update = envelope.payload::<MaintenanceScheduleUpdated>().unwrap();
        let id = envelope.id.to_string();
        let delivery = Delivery::new(&id, &org);
        let change = Projected::Maintenance(update);
        assert!(store.apply(&delivery, change).await.unwrap());
        let vehicle_ref = VehicleRef::new(org.clone(), vehicle.clone());
        let view = store.maintenance(&vehicle_ref).await.unwrap().unwrap();
        assert_eq!(view.vehicle_id, "veh_1");
        assert_eq!(
            view.items,
            maintenance_schedule().items,
            "version {version}"
        );
        let oil = &view.items[0];
        assert_eq!(oil.title, "Oil and filter change");
        assert_eq!(oil.interval_miles, Some(5_000));
        assert!(oil.enabled && oil.reason.starts_with("Due on 2026-09-01"));
    }
}
