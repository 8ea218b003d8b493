//! The edge projection store port. `apply_*` methods claim the envelope id in the inbox in the same
//! transaction as their effect and return `false` for a duplicate delivery.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use vwc_bus::DeadLetterStore;
use vwc_contracts::{EventKind, OdometerUnit, Vehicle, VehicleEvent};
use vwc_store::StoreResult;

/// A vehicle as the read model shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VehicleView {
    #[serde(flatten)]
    pub vehicle: Vehicle,
    pub odometer: Option<OdometerView>,
    pub event_count: u64,
    pub last_event_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OdometerView {
    pub value: u64,
    pub unit: OdometerUnit,
    pub as_of: DateTime<Utc>,
    pub estimated: bool,
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub kinds: Vec<EventKind>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Position after which the next timeline page starts (newest first).
#[derive(Debug, Clone, PartialEq)]
pub struct TimelinePosition {
    pub occurred_at: DateTime<Utc>,
    pub id: String,
}

#[async_trait]
pub trait EdgeStore: DeadLetterStore {
    async fn apply_vehicle_registered(
        &self,
        envelope_id: &str,
        vehicle: &Vehicle,
    ) -> StoreResult<bool>;
    async fn apply_vehicle_event(
        &self,
        envelope_id: &str,
        event: &VehicleEvent,
        traceparent: Option<&str>,
    ) -> StoreResult<bool>;
    /// Vehicles of the organisation ordered by id (registration order), after `after_id`.
    async fn vehicles(
        &self,
        org_id: &str,
        after_id: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<VehicleView>>;
    async fn vehicle(&self, org_id: &str, vehicle_id: &str) -> StoreResult<Option<VehicleView>>;
    /// Timeline newest first (occurredAt, then id, descending), strictly after `after`.
    async fn events(
        &self,
        org_id: &str,
        vehicle_id: &str,
        filter: &EventFilter,
        after: Option<&TimelinePosition>,
        limit: usize,
    ) -> StoreResult<Vec<VehicleEvent>>;
    async fn ping(&self) -> StoreResult<()>;
}
