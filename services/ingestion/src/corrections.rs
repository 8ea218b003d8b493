//! Corrections and voids of timeline records, and the vehicle's lifecycle (details, sale, archive). A
//! record as first recorded is never rewritten: each correction or void is appended as a revision, and
//! the record's current version is the last revision's. Every change publishes its event through the
//! outbox in the same transaction (docs/corrections.md).

pub mod http;

use chrono::{DateTime, Utc};
use vwc_contracts::corrections::{
    self, EventHistory, EventRevision, RevisionChange, VehicleEventCorrected, VehicleEventVoided,
};
use vwc_contracts::lifecycle::{
    self, Sale, SellRequest, UpdateRefused, VehicleArchived, VehicleSold, VehicleStatus,
    VehicleUpdated,
};
use vwc_contracts::{Envelope, Event, EventId, FieldError, OrgId, Vehicle, VehicleEvent};
use vwc_store::{StoreError, StoreResult, VehicleRef, WithOutbox};

use crate::service::{Ingestion, envelope};
use crate::store::FactsSeen;

/// Whose corrections and voids to read (revision 2 onwards): one event's, oldest first, or those of
/// every event of one vehicle, by event and oldest first.
#[derive(Debug, Clone, Copy)]
pub enum RevisionsOf<'a> {
    Event(&'a OrgId, &'a EventId),
    Vehicle(&'a VehicleRef),
}

/// Why a correction, a void or a lifecycle change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("invalid change")]
    Invalid(Vec<FieldError>),
    /// The change contradicts the record's or the vehicle's state (voided, sold, archived, unit locked,
    /// changed concurrently).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The history of one record from its original and its revisions.
pub fn history(original: VehicleEvent, revisions: Vec<EventRevision>) -> EventHistory {
    let first = EventRevision {
        revision: 1,
        change: RevisionChange::Recorded,
        at: original.recorded_at,
        by: None,
        reason: None,
        changed: Vec::new(),
        event: original.clone(),
    };
    let current = revisions
        .last()
        .map(|r| r.event.clone())
        .unwrap_or(original);
    let voided = revisions
        .last()
        .is_some_and(|r| r.change == RevisionChange::Voided);
    let mut all = vec![first];
    all.extend(revisions);
    EventHistory {
        current,
        voided,
        revisions: all,
    }
}

/// The vehicle's records as they now read, voided ones left out, oldest first.
pub fn current_events(
    originals: Vec<VehicleEvent>,
    revisions: &[EventRevision],
) -> Vec<VehicleEvent> {
    let mut last: std::collections::HashMap<&str, &EventRevision> = Default::default();
    for r in revisions {
        let slot = last.entry(r.event.id.as_str()).or_insert(r);
        if r.revision > slot.revision {
            *slot = r;
        }
    }
    originals
        .into_iter()
        .filter_map(|e| match last.get(e.id.as_str()) {
            Some(r) if r.change == RevisionChange::Voided => None,
            Some(r) => Some(r.event.clone()),
            None => Some(e),
        })
        .collect()
}

fn conflict(e: StoreError, what: &str) -> ChangeError {
    match e {
        StoreError::Conflict(_) => ChangeError::Conflict(format!(
            "{what} changed while this request was handled; read it again and retry"
        )),
        other => ChangeError::Store(other),
    }
}

impl Ingestion {
    /// Stores `next` in place of `vehicle` and publishes the event `published` makes of it, stamped `at`;
    /// a concurrent change of the vehicle is a conflict.
    async fn replace_vehicle<E: Into<Event>>(
        &self,
        vehicle: &Vehicle,
        next: Vehicle,
        at: DateTime<Utc>,
        traceparent: Option<String>,
        published: impl FnOnce(Vehicle) -> E,
    ) -> Result<Vehicle, ChangeError> {
        self.try_replace_vehicle(vehicle, next, at, traceparent, published, None)
            .await
            .map_err(|e| conflict(e, "the vehicle"))
    }

    /// [`Self::replace_vehicle`] that stores only if the vehicle still has the records and revisions
    /// `seen` counted, answering the store's own conflict.
    async fn try_replace_vehicle<E: Into<Event>>(
        &self,
        vehicle: &Vehicle,
        next: Vehicle,
        at: DateTime<Utc>,
        traceparent: Option<String>,
        published: impl FnOnce(Vehicle) -> E,
        seen: Option<FactsSeen>,
    ) -> StoreResult<Vehicle> {
        let envelope = envelope(vehicle, traceparent, at, published(next.clone()));
        self.store()
            .replace_vehicle(vehicle, WithOutbox::new(&next, &[envelope]), seen)
            .await?;
        Ok(next)
    }

    /// Appends `revision` and publishes `envelope` with it; a concurrent change of the record is a
    /// conflict.
    async fn append_revision(
        &self,
        revision: &EventRevision,
        envelope: Envelope,
    ) -> Result<(), ChangeError> {
        self.store()
            .append_revision(WithOutbox::new(revision, &[envelope]))
            .await
            .map_err(|e| conflict(e, "the record"))
    }

    /// The history of a record of `vehicle` (404 when the record is of another vehicle or organisation).
    pub async fn event_history(
        &self,
        vehicle: &Vehicle,
        event_id: &EventId,
    ) -> Result<EventHistory, ChangeError> {
        let original = self
            .store()
            .event(&vehicle.org_id, event_id)
            .await?
            .filter(|e| e.vehicle_id == vehicle.id)
            .ok_or(ChangeError::NotFound("event"))?;
        let revisions = self
            .store()
            .revisions(RevisionsOf::Event(&vehicle.org_id, event_id))
            .await?;
        Ok(history(original, revisions))
    }

    /// The vehicle's records as they now read (voided ones left out).
    pub async fn current_events(&self, vehicle: &Vehicle) -> StoreResult<Vec<VehicleEvent>> {
        Ok(self.current_events_seen(vehicle).await?.0)
    }

    /// What `vehicle`'s records as they now read make doubtful about `event`'s odometer
    /// ([`crate::odometer::warnings`]); reads them only when it has one.
    pub async fn odometer_warnings(
        &self,
        vehicle: &Vehicle,
        event: &VehicleEvent,
    ) -> StoreResult<Vec<vwc_contracts::FieldError>> {
        if event.odometer.is_none() {
            return Ok(Vec::new());
        }
        let others = self.current_events(vehicle).await?;
        Ok(crate::odometer::warnings(
            event,
            &others,
            vehicle.odometer_unit,
        ))
    }

    /// [`Self::current_events`] with how many records and revisions they were read from.
    async fn current_events_seen(
        &self,
        vehicle: &Vehicle,
    ) -> StoreResult<(Vec<VehicleEvent>, FactsSeen)> {
        let (store, of) = (self.store(), VehicleRef::of(vehicle));
        let (originals, revisions) = tokio::try_join!(
            store.vehicle_events(&of),
            store.revisions(RevisionsOf::Vehicle(&of)),
        )?;
        let seen = FactsSeen {
            events: originals.len() as u64,
            revisions: revisions.len() as u64,
        };
        Ok((current_events(originals, &revisions), seen))
    }

    /// Records a correction of the record `history` describes: `patch` is the `PATCH` body.
    pub async fn correct_event(
        &self,
        vehicle: &Vehicle,
        history: &EventHistory,
        patch: serde_json::Map<String, serde_json::Value>,
        by: &str,
        traceparent: Option<String>,
    ) -> Result<EventHistory, ChangeError> {
        refuse_voided(history, "corrected")?;
        let now = self.now();
        let valid = corrections::correct(&history.current, patch, vehicle, now)
            .map_err(ChangeError::Invalid)?;
        if let Some(error) = self
            .unknown_dealer(vehicle, &valid.event, Some(&history.current))
            .await?
        {
            return Err(ChangeError::Invalid(vec![error]));
        }
        let revision = EventRevision {
            revision: history.revisions.len() as u32 + 1,
            change: RevisionChange::Corrected,
            at: now,
            by: Some(by.to_string()),
            reason: valid.reason.clone(),
            changed: valid.changed.clone(),
            event: valid.event.clone(),
        };
        let envelope = envelope(
            vehicle,
            traceparent,
            now,
            VehicleEventCorrected {
                event: valid.event,
                previous: history.current.clone(),
                revision: revision.revision,
                changed: valid.changed,
                reason: valid.reason,
                corrected_at: now,
                corrected_by: by.to_string(),
            },
        );
        self.append_revision(&revision, envelope).await?;
        let mut after = history.clone();
        after.current = revision.event.clone();
        after.revisions.push(revision);
        Ok(after)
    }

    /// Voids the record `history` describes.
    pub async fn void_event(
        &self,
        vehicle: &Vehicle,
        history: &EventHistory,
        reason: Option<&str>,
        by: &str,
        traceparent: Option<String>,
    ) -> Result<EventHistory, ChangeError> {
        refuse_voided(history, "voided again")?;
        let reason = corrections::void_reason(reason).map_err(ChangeError::Invalid)?;
        let now = self.now();
        let revision = EventRevision {
            revision: history.revisions.len() as u32 + 1,
            change: RevisionChange::Voided,
            at: now,
            by: Some(by.to_string()),
            reason: Some(reason.clone()),
            changed: Vec::new(),
            event: history.current.clone(),
        };
        let envelope = envelope(
            vehicle,
            traceparent,
            now,
            VehicleEventVoided {
                event: history.current.clone(),
                revision: revision.revision,
                reason,
                voided_at: now,
                voided_by: by.to_string(),
            },
        );
        self.append_revision(&revision, envelope).await?;
        let mut after = history.clone();
        after.voided = true;
        after.revisions.push(revision);
        Ok(after)
    }

    /// `PATCH /v1/vehicles/{id}`: nickname, trim, plate, colour; the odometer unit only while no record
    /// carries an odometer.
    pub async fn update_vehicle(
        &self,
        vehicle: &Vehicle,
        patch: &serde_json::Map<String, serde_json::Value>,
        traceparent: Option<String>,
    ) -> Result<Vehicle, ChangeError> {
        let has_odometer = if patch.contains_key("odometerUnit") {
            self.current_events(vehicle)
                .await?
                .iter()
                .any(|e| e.odometer.is_some())
        } else {
            false
        };
        let (next, changed) = lifecycle::update_vehicle(vehicle, patch, has_odometer).map_err(
            |refused| match refused {
                UpdateRefused::Invalid(errors) => ChangeError::Invalid(errors),
                UpdateRefused::UnitLocked(m) => ChangeError::Conflict(m),
            },
        )?;
        if changed.is_empty() {
            return Ok(next);
        }
        let updated_at = self.now();
        self.replace_vehicle(vehicle, next, updated_at, traceparent, |vehicle| {
            VehicleUpdated {
                vehicle,
                changed,
                updated_at,
            }
        })
        .await
    }

    /// `POST /v1/vehicles/{id}/sell`: records the sale with the realised total cost of ownership.
    ///
    /// The sale is checked against the vehicle's records (none dated after it, none reading more) and
    /// stored only if none was recorded or revised meanwhile ([`FactsSeen`]); when one was — a record posted
    /// at the same moment — it is decided again from the records as they now read (a few times), so the
    /// record and the sale can never both be taken against each other's rule.
    pub async fn sell_vehicle(
        &self,
        vehicle: &Vehicle,
        request: SellRequest,
        traceparent: Option<String>,
    ) -> Result<Vehicle, ChangeError> {
        const TRIES: usize = 4;
        let mut vehicle = vehicle.clone();
        let mut tried = 1;
        loop {
            if vehicle.status != VehicleStatus::Active {
                return Err(ChangeError::Conflict(format!(
                    "the vehicle is {}; only an active vehicle can be sold",
                    vehicle.status.as_str()
                )));
            }
            let (events, seen) = self.current_events_seen(&vehicle).await?;
            let now = self.now();
            request
                .validate(vehicle.year, &events, now)
                .map_err(ChangeError::Invalid)?;
            let tco = lifecycle::total_cost_of_ownership(
                &vehicle,
                &events,
                request.price_cents,
                &request.currency,
            );
            let next = Vehicle {
                status: VehicleStatus::Sold,
                sale: Some(Sale {
                    sold_at: request.sold_at,
                    price_cents: request.price_cents,
                    currency: request.currency.clone(),
                    odometer: request.odometer,
                    total_cost_of_ownership: tco,
                }),
                ..vehicle.clone()
            };
            let stored = self
                .try_replace_vehicle(
                    &vehicle,
                    next,
                    now,
                    traceparent.clone(),
                    |vehicle| VehicleSold { vehicle },
                    Some(seen),
                )
                .await;
            match stored {
                Err(changed @ StoreError::Conflict(_)) if tried < TRIES => {
                    // Read the vehicle again (it may have changed too) and decide again.
                    tried += 1;
                    vehicle = (self.store().vehicle(&VehicleRef::of(&vehicle)).await?)
                        .ok_or_else(|| conflict(changed, "the vehicle"))?;
                }
                other => return other.map_err(|e| conflict(e, "the vehicle")),
            }
        }
    }

    /// `POST /v1/vehicles/{id}/archive`: an active or sold vehicle leaves the fleet, its history kept.
    pub async fn archive_vehicle(
        &self,
        vehicle: &Vehicle,
        traceparent: Option<String>,
    ) -> Result<Vehicle, ChangeError> {
        if vehicle.status == VehicleStatus::Archived {
            return Err(ChangeError::Conflict(
                "the vehicle is already archived".into(),
            ));
        }
        let now = self.now();
        let next = Vehicle {
            status: VehicleStatus::Archived,
            archived_at: Some(now),
            ..vehicle.clone()
        };
        self.replace_vehicle(vehicle, next, now, traceparent, |vehicle| VehicleArchived {
            vehicle,
        })
        .await
    }
}

fn refuse_voided(history: &EventHistory, what: &str) -> Result<(), ChangeError> {
    match history.revisions.last() {
        Some(last) if history.voided => Err(ChangeError::Conflict(format!(
            "event {} was voided at {} ({}); a voided record cannot be {what}",
            history.current.id,
            last.at.to_rfc3339(),
            last.reason.as_deref().unwrap_or("no reason given"),
        ))),
        _ => Ok(()),
    }
}
