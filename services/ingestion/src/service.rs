//! The ingestion use cases, free of HTTP: register a vehicle (adopting the dealer records that waited
//! for its VIN), record a timeline event, and the start-up reconciliation of waiting dealer records.
//!
//! Every instant the service writes (a vehicle's `registeredAt`, an event's `recordedAt`, a revision's
//! `at`, an envelope's `occurredAt`, a dealer record's `receivedAt`) comes from the one clock the
//! composition root injects ([`Ingestion::new`]), so a test can fix it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use vwc_clock::SharedClock;

use vwc_contracts::{DealerId, EventId, VehicleId};
use vwc_contracts::{
    Envelope, Event, EventSource, FieldError, NewVehicle, NewVehicleEvent, Vehicle, VehicleEvent,
    VehicleEventRecorded, VehicleRegistered,
};
use vwc_store::{StoreError, StoreResult, WithOutbox};

use crate::dealers::{DealerStore, EventBuilder};
use crate::store::{IdempotencyKey, IngestionStore, InsertEventOutcome};
use crate::{IngestionDb, SOURCE};

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

/// The envelope this service publishes about `vehicle` (every event it writes is about one vehicle),
/// stamped `at`: the instant of the change it announces, read from the service's clock.
pub(crate) fn envelope(
    vehicle: &Vehicle,
    traceparent: Option<String>,
    at: DateTime<Utc>,
    event: impl Into<Event>,
) -> Envelope {
    Envelope {
        occurred_at: at,
        ..Envelope::new(
            SOURCE,
            &vehicle.org_id,
            Some(&vehicle.id),
            traceparent,
            event,
        )
    }
}

/// Builds a dealer record's event from its template, recorded at `clock`'s now; runs inside the store's
/// transaction (webhook delivery, adoption at registration and at start-up all use it).
pub fn dealer_event_builder(clock: SharedClock, traceparent: Option<String>) -> EventBuilder {
    Arc::new(
        move |vehicle: &Vehicle, template: NewVehicleEvent, _record_id: &str| {
            let now = clock.now();
            let event =
                template.validate(EventId::generate(), vehicle, EventSource::Dealer, now)?;
            let envelope = envelope(
                vehicle,
                traceparent.clone(),
                now,
                VehicleEventRecorded {
                    event: event.clone(),
                },
            );
            Ok((event, envelope))
        },
    )
}

/// Turns the dealer records waiting for `vehicle`'s VIN into its events; how many.
async fn adopt_dealer_records(
    dealers: &dyn DealerStore,
    clock: &SharedClock,
    vehicle: &Vehicle,
    traceparent: Option<String>,
) -> StoreResult<usize> {
    let adopted = dealers
        .adopt_unmatched(vehicle, dealer_event_builder(clock.clone(), traceparent))
        .await?;
    if adopted > 0 {
        tracing::info!(vehicle = %vehicle.id, adopted, "unmatched dealer records adopted");
    }
    Ok(adopted)
}

/// Start-up reconciliation: adopts the dealer records whose VIN was registered while adopting them at
/// registration failed. The same path as registration's adoption; the events are recorded at `clock`'s
/// now.
pub async fn adopt_waiting_dealer_records(
    dealers: &dyn DealerStore,
    clock: &SharedClock,
) -> StoreResult<usize> {
    let mut total = 0;
    for vehicle in dealers.vehicles_with_unmatched_records().await? {
        total += adopt_dealer_records(dealers, clock, &vehicle, None).await?;
    }
    Ok(total)
}

#[derive(Clone)]
pub struct Ingestion {
    db: Arc<dyn IngestionDb>,
    clock: SharedClock,
}

impl Ingestion {
    /// The service over its stores, reading "now" from `clock` (the composition root's one clock).
    pub fn new(db: Arc<dyn IngestionDb>, clock: SharedClock) -> Ingestion {
        Ingestion { db, clock }
    }

    /// The field error when `event`'s `vendor.dealerId` names no dealer of `vehicle`'s organisation
    /// (another organisation's, or none at all), unless it is the one `before` (the version a correction
    /// replaces) already named: the timeline would otherwise attribute a record to a dealer who never sent it.
    pub(crate) async fn unknown_dealer(
        &self,
        vehicle: &Vehicle,
        event: &VehicleEvent,
        before: Option<&VehicleEvent>,
    ) -> Result<Option<FieldError>, StoreError> {
        let dealer_of = |e: &VehicleEvent| e.vendor.as_ref().and_then(|v| v.dealer_id.clone());
        let Some(named) = dealer_of(event) else {
            return Ok(None);
        };
        if before.and_then(dealer_of).as_deref() == Some(named.as_str()) {
            return Ok(None);
        }
        let found = self.db.dealer(&DealerId::from(named.as_str())).await?;
        Ok(match found {
            Some(dealer) if dealer.org_id == vehicle.org_id.as_str() => None,
            _ => Some(FieldError {
                field: "vendor.dealerId".into(),
                message: format!("{named:?} is not a dealer of this organisation"),
            }),
        })
    }

    pub fn store(&self) -> &dyn IngestionStore {
        self.db.as_ref()
    }

    /// The service's clock: every instant it writes is read here.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// Now, by the service's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// See [`adopt_waiting_dealer_records`].
    pub async fn adopt_waiting_dealer_records(&self) -> StoreResult<usize> {
        adopt_waiting_dealer_records(self.db.as_ref(), &self.clock).await
    }

    /// Registers a vehicle; the dealer records that arrived earlier for its VIN become its events. A
    /// failure to adopt them leaves the registration standing: the next start-up adopts them
    /// ([`adopt_waiting_dealer_records`]).
    #[tracing::instrument(skip_all, fields(org = org_id))]
    pub async fn register_vehicle(
        &self,
        org_id: &str,
        new: NewVehicle,
        traceparent: Option<String>,
    ) -> Result<Vehicle, RegisterError> {
        let now = self.now();
        let vehicle = new
            .validate(VehicleId::generate(), org_id.into(), now)
            .map_err(RegisterError::Invalid)?;
        let registered = envelope(
            &vehicle,
            traceparent.clone(),
            now,
            VehicleRegistered {
                vehicle: vehicle.clone(),
            },
        );
        match self
            .db
            .insert_vehicle(WithOutbox::new(&vehicle, &[registered]))
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(m)) => return Err(RegisterError::VinTaken(m)),
            Err(e) => return Err(RegisterError::Store(e)),
        }
        if let Err(e) =
            adopt_dealer_records(self.db.as_ref(), &self.clock, &vehicle, traceparent).await
        {
            tracing::warn!(vehicle = %vehicle.id, error = %e, "adopting dealer records failed; will retry at start-up");
        }
        Ok(vehicle)
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
        let now = self.now();
        let event = new
            .validate(EventId::generate(), vehicle, source, now)
            .map_err(RecordError::Invalid)?;
        // A dealer record's `dealerId` is the webhook's own; a person's must name one of the organisation's.
        if source != EventSource::Dealer
            && let Some(error) = self.unknown_dealer(vehicle, &event, None).await?
        {
            return Err(RecordError::Invalid(vec![error]));
        }
        let envelope = envelope(
            vehicle,
            traceparent,
            now,
            VehicleEventRecorded {
                event: event.clone(),
            },
        );
        match self
            .db
            .insert_event(WithOutbox::new(&event, &[envelope]), idempotency.as_ref())
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
