//! The chat's maintenance knowledge reads every version of `MaintenanceScheduleUpdated` still in flight
//! (docs/events.md): a schedule published at version 3 and the same schedule published at version 2 are
//! the same knowledge, whole items included, through the stored body the knowledge is read from.

use vwc_chat_historian::SqliteChatStore;
use vwc_chat_historian::store::{ChatStore, KnowledgeChange, VehicleRef};
use vwc_contracts::Envelope;
use vwc_contracts::examples::{maintenance_schedule, maintenance_schedule_wire, vehicle};
use vwc_contracts::maintenance::MaintenanceScheduleUpdated;

#[tokio::test]
async fn a_schedule_of_version_3_or_2_is_the_same_maintenance_knowledge() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteChatStore::open(&dir.path().join("chat.db")).unwrap();
    let registered = KnowledgeChange::Vehicle(vehicle());
    assert!(store.apply_change("env_vehicle", registered).await.unwrap());
    for version in [2, 3] {
        let envelope: Envelope =
            serde_json::from_value(maintenance_schedule_wire(version)).unwrap();
        let update = envelope.payload::<MaintenanceScheduleUpdated>().unwrap();
        let change = KnowledgeChange::Maintenance(envelope.org_id.clone(), update.clone());
        let id = envelope.id.to_string();
        assert!(store.apply_change(&id, change).await.unwrap());
        let knowledge = store
            .knowledge(&VehicleRef::new("org_1", "veh_1"))
            .await
            .unwrap();
        let schedule = knowledge.unwrap().maintenance.unwrap();
        assert_eq!(schedule.vehicle_id, "veh_1");
        assert_eq!(
            schedule.items,
            maintenance_schedule().items,
            "version {version}"
        );
        assert_eq!(schedule.items[0].title, "Oil and filter change");
    }
}
