//! The ingestion use cases, free of HTTP: register a vehicle, record a timeline event.

use std::sync::Arc;

use vwc_contracts::{
    Envelope, EventSource, FieldError, NewVehicle, NewVehicleEvent, Vehicle, VehicleEvent,
    VehicleEventRecorded, VehicleRegistered,
};
use vwc_contracts::{EventId, VehicleId};
use vwc_store::StoreError;

use crate::SOURCE;
use crate::store::{IdempotencyKey, IngestionStore, InsertEventOutcome};

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("invalid vehicle")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    VinTaken(String),
    #[error(transparent)]
    Store(StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("invalid event")]
    Invalid(Vec<FieldError>),
    #[error("the Idempotency-Key was already used for a different request")]
    KeyReused,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The outcome of recording an event: the event and whether it was created now or replayed.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub event: VehicleEvent,
    pub replayed: bool,
}

#[derive(Clone)]
pub struct Ingestion {
    store: Arc<dyn IngestionStore>,
}

impl Ingestion {
    pub fn new(store: Arc<dyn IngestionStore>) -> Ingestion {
        Ingestion { store }
    }

    pub fn store(&self) -> &Arc<dyn IngestionStore> {
        &self.store
    }

    #[tracing::instrument(skip_all, fields(org = org_id))]
    pub async fn register_vehicle(
        &self,
        org_id: &str,
        new: NewVehicle,
        traceparent: Option<String>,
    ) -> Result<Vehicle, RegisterError> {
        let now = vwc_clock::now();
        let new = new.validate(now).map_err(RegisterError::Invalid)?;
        let vehicle = Vehicle {
            id: VehicleId::generate(),
            org_id: org_id.into(),
            vin: new.vin,
            year: new.year,
            make: new.make.trim().to_string(),
            model: new.model.trim().to_string(),
            trim: new.trim,
            nickname: new.nickname,
            odometer_unit: new.odometer_unit.unwrap_or_default(),
            registered_at: now,
            purchase_price_cents: new.purchase_price_cents,
            purchase_currency: new.purchase_currency,
            plate: None,
            colour: None,
            status: Default::default(),
            sale: None,
            archived_at: None,
        };
        let envelope = Envelope::new(
            SOURCE,
            org_id,
            Some(&vehicle.id),
            traceparent,
            VehicleRegistered {
                vehicle: vehicle.clone(),
            },
        );
        match self.store.insert_vehicle(&vehicle, &[envelope]).await {
            Ok(()) => Ok(vehicle),
            Err(StoreError::Conflict(m)) => Err(RegisterError::VinTaken(m)),
            Err(e) => Err(RegisterError::Store(e)),
        }
    }

    /// Records an event on a vehicle the caller has already looked up in its own organisation.
    #[tracing::instrument(skip_all, fields(vehicle = %vehicle.id))]
    pub async fn record_event(
        &self,
        vehicle: &Vehicle,
        new: NewVehicleEvent,
        source: EventSource,
        idempotency: Option<IdempotencyKey>,
        traceparent: Option<String>,
    ) -> Result<Recorded, RecordError> {
        let event = new
            .validate(EventId::generate(), vehicle, source, vwc_clock::now())
            .map_err(RecordError::Invalid)?;
        let envelope = Envelope::new(
            SOURCE,
            &vehicle.org_id,
            Some(&vehicle.id),
            traceparent,
            VehicleEventRecorded {
                event: event.clone(),
            },
        );
        match self
            .store
            .insert_event(&event, idempotency.as_ref(), &[envelope])
            .await?
        {
            InsertEventOutcome::Created => Ok(Recorded {
                event,
                replayed: false,
            }),
            InsertEventOutcome::Replayed(event) => Ok(Recorded {
                event: *event,
                replayed: true,
            }),
            InsertEventOutcome::KeyReused => Err(RecordError::KeyReused),
        }
    }
}
