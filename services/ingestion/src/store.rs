//! The ingestion store port. Every method that changes state takes the envelopes to publish and writes
//! them to the outbox in the same transaction.

use async_trait::async_trait;
use vwc_contracts::{Envelope, EventId, OrgId, Vehicle, VehicleEvent, VehicleId};
use vwc_store::{Plumbing, StoreResult};

/// An `Idempotency-Key` with a fingerprint of the request it was first used for.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_hash: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InsertEventOutcome {
    Created,
    /// The key was used before for the same request: this is the event it created.
    Replayed(Box<VehicleEvent>),
    /// The key was used before for a different request.
    KeyReused,
}

#[async_trait]
pub trait IngestionStore: Plumbing + crate::corrections::RevisionStore {
    /// `StoreError::Conflict` when the VIN is already registered in the organisation.
    async fn insert_vehicle(&self, vehicle: &Vehicle, outbox: &[Envelope]) -> StoreResult<()>;
    async fn vehicle(&self, org_id: &OrgId, vehicle_id: &VehicleId)
    -> StoreResult<Option<Vehicle>>;
    async fn insert_event(
        &self,
        event: &VehicleEvent,
        idempotency: Option<&IdempotencyKey>,
        outbox: &[Envelope],
    ) -> StoreResult<InsertEventOutcome>;
    async fn event(&self, org_id: &OrgId, event_id: &EventId) -> StoreResult<Option<VehicleEvent>>;
    async fn count_events(&self, org_id: &OrgId, vehicle_id: &VehicleId) -> StoreResult<u64>;
}

/// The conflicts both adapters answer, worded once (the API shows them in its 409 problem).
pub(crate) mod conflict {
    use std::fmt::Display;

    use vwc_store::StoreError;

    /// The VIN is registered in the organisation already.
    pub fn vin_taken(vin: impl Display) -> StoreError {
        StoreError::Conflict(format!(
            "a vehicle with VIN {vin} is already registered in this organisation"
        ))
    }

    /// The event has this revision already.
    pub fn revision_taken(revision: impl Display, event_id: impl Display) -> StoreError {
        StoreError::Conflict(format!(
            "revision {revision} of event {event_id} exists already"
        ))
    }

    /// The vehicle changed since it was read.
    pub fn vehicle_changed(vehicle_id: impl Display) -> StoreError {
        StoreError::Conflict(format!("vehicle {vehicle_id} changed"))
    }
}
