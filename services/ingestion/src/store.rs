//! The ingestion store port. Every method that changes state takes the envelopes to publish and writes
//! them to the outbox in the same transaction.

use async_trait::async_trait;
use vwc_contracts::corrections::EventRevision;
use vwc_contracts::{EventId, OrgId, Vehicle, VehicleEvent};
use vwc_store::{Plumbing, StoreResult, VehicleRef, WithOutbox};

use crate::corrections::RevisionsOf;

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
pub trait IngestionStore: Plumbing {
    /// `StoreError::Conflict` when the VIN is already registered in the organisation.
    async fn insert_vehicle(&self, vehicle: WithOutbox<'_, Vehicle>) -> StoreResult<()>;
    async fn vehicle(&self, vehicle: &VehicleRef) -> StoreResult<Option<Vehicle>>;
    /// Writes the event and its outbox unless `idempotency` was used before (then nothing is written).
    async fn insert_event(
        &self,
        event: WithOutbox<'_, VehicleEvent>,
        idempotency: Option<&IdempotencyKey>,
    ) -> StoreResult<InsertEventOutcome>;
    async fn event(&self, org_id: &OrgId, event_id: &EventId) -> StoreResult<Option<VehicleEvent>>;
    async fn count_events(&self, vehicle: &VehicleRef) -> StoreResult<u64>;

    // What corrections and the lifecycle need.

    /// The revisions `of` one event or one vehicle of the organisation.
    async fn revisions(&self, of: RevisionsOf<'_>) -> StoreResult<Vec<EventRevision>>;
    /// The vehicle's events as first recorded, oldest first.
    async fn vehicle_events(&self, vehicle: &VehicleRef) -> StoreResult<Vec<VehicleEvent>>;
    /// Appends a revision of `revision.event.id`; `StoreError::Conflict` when that revision of the
    /// event is already stored (a concurrent change won).
    async fn append_revision(&self, revision: WithOutbox<'_, EventRevision>) -> StoreResult<()>;
    /// Replaces the stored vehicle when it still reads `before` — and, when `seen` is given, still has
    /// exactly the records and revisions the change was decided from —; `StoreError::Conflict` otherwise.
    async fn replace_vehicle(
        &self,
        before: &Vehicle,
        after: WithOutbox<'_, Vehicle>,
        seen: Option<FactsSeen>,
    ) -> StoreResult<()>;
}

/// How many records and revisions a vehicle had when a change was decided from them (a sale, checked
/// against its records). Both only grow — a correction or a void is one more revision —, so the same
/// counts in the write's transaction mean nothing was recorded or revised since: a record posted while the
/// sale was being decided cannot slip in after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactsSeen {
    pub events: u64,
    pub revisions: u64,
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

    /// `e` checked again, in its write's transaction, against `vehicle` as stored now: a conflict when a sale
    /// committed since the request was checked refuses it ([`vwc_contracts::refused_by_sale`]; `kept` is
    /// what a corrected record read as stored).
    pub fn unless_sale_takes(
        vehicle: &vwc_contracts::Vehicle,
        e: &vwc_contracts::VehicleEvent,
        kept: Option<(chrono::DateTime<chrono::Utc>, Option<u64>)>,
    ) -> Result<(), StoreError> {
        match vwc_contracts::refused_by_sale(vehicle, e.occurred_at, e.odometer, kept).first() {
            Some(refused) => Err(StoreError::Conflict(format!(
                "the vehicle was sold while this record was being written: {} {}",
                refused.field, refused.message
            ))),
            None => Ok(()),
        }
    }
}
