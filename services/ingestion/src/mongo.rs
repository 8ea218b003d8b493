//! MongoDB adapter of the ingestion store: the service's own database (e.g. `vwc_ingestion`), its indexes
//! created at start-up, and every state change in one multi-document transaction with its outbox rows.
//!
//! Each collection is read and written as a typed collection of its document struct (`VehicleDoc`,
//! `EventDoc`, …): the indexed fields beside the value's JSON in `body`, so a missing or mistyped field
//! is a decode error rather than a hand-written check. Transactions need a replica set or a sharded
//! cluster (see `vwc_store::mongo`).

use async_trait::async_trait;
use bson::{Document, doc};
use mongodb::ClientSession;
use serde::{Deserialize, Serialize};
use vwc_contracts::{Envelope, EventId, OrgId, Vehicle, VehicleEvent};
use vwc_store::mongo::{Body, MongoDb, is_duplicate_key};
use vwc_store::{Outbox, Plumbed, StoreError, StoreResult, VehicleRef, WithOutbox, ts};

use crate::corrections::RevisionsOf;
use crate::dealers;
use crate::store::{FactsSeen, IdempotencyKey, IngestionStore, InsertEventOutcome, conflict};
use vwc_contracts::corrections::EventRevision;

pub(crate) const VEHICLES: &str = "vehicles";
pub(crate) const VEHICLE_EVENTS: &str = "vehicle_events";
const IDEMPOTENCY_KEYS: &str = "idempotency_keys";
const EVENT_REVISIONS: &str = "event_revisions";

/// A document of `vehicles`: the fields its indexes and filters need, and the vehicle's JSON.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct VehicleDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub org_id: String,
    pub vin: String,
    pub registered_at: String,
    pub body: String,
}

/// A document of `vehicle_events`.
#[derive(Debug, Serialize, Deserialize)]
struct EventDoc {
    #[serde(rename = "_id")]
    id: String,
    org_id: String,
    vehicle_id: String,
    occurred_at: String,
    body: String,
}

/// A document of `idempotency_keys`: the key, its request's fingerprint and the event it created.
#[derive(Debug, Serialize, Deserialize)]
struct IdempotencyDoc {
    org_id: String,
    key: String,
    request_hash: String,
    event_id: String,
    created_at: String,
}

/// A document of `event_revisions`.
#[derive(Debug, Serialize, Deserialize)]
struct RevisionDoc {
    event_id: String,
    revision: i64,
    org_id: String,
    vehicle_id: String,
    body: String,
}

/// Runs `$attempt` (a future using the transaction's `$session`) in one transaction of `$db` through the one
/// retry loop, `vwc_store::mongo_transaction!`, and evaluates to its outcome as a `StoreResult` instead of
/// returning early on a failure: a caller looks at the failure (a duplicate key means a concurrent request
/// won, and one more run reads its row) and wakes the relay only after a commit.
macro_rules! in_transaction {
    ($db:expr, |$session:ident| $attempt:expr) => {
        async { StoreResult::Ok(vwc_store::mongo_transaction!($db, |$session| $attempt)) }.await
    };
}
pub(crate) use in_transaction;

/// Runs `$attempt` and then enqueues `$outbox` in one transaction (through `in_transaction!`), and wakes
/// the relay once the transaction committed envelopes.
macro_rules! publish {
    ($store:expr, $outbox:expr, |$session:ident| $attempt:expr) => {{
        let committed = in_transaction!($store.db, |$session| async {
            $attempt.await?;
            $store.db.enqueue($session, $outbox).await
        });
        $store.published(committed, $outbox)
    }};
}

/// The documents of one vehicle of the organisation.
fn of_vehicle(vehicle: &VehicleRef) -> Document {
    doc! { "org_id": &vehicle.org_id, "vehicle_id": &vehicle.vehicle_id }
}

/// An index: its collection, its keys and whether they are unique.
pub(crate) type Index = (&'static str, Document, bool);

/// The indexes of vehicles, events, idempotency keys and revisions (the dealers' are in
/// `dealers::mongo`).
fn indexes() -> Vec<Index> {
    vec![
        (VEHICLES, doc! { "org_id": 1, "vin": 1 }, true),
        (
            VEHICLE_EVENTS,
            doc! { "org_id": 1, "vehicle_id": 1, "occurred_at": 1 },
            false,
        ),
        (IDEMPOTENCY_KEYS, doc! { "org_id": 1, "key": 1 }, true),
        (EVENT_REVISIONS, doc! { "event_id": 1, "revision": 1 }, true),
        (
            EVENT_REVISIONS,
            doc! { "org_id": 1, "vehicle_id": 1, "event_id": 1, "revision": 1 },
            false,
        ),
    ]
}

#[derive(Clone)]
pub struct MongoIngestionStore {
    db: MongoDb,
}

impl MongoIngestionStore {
    /// Uses `database` through the process's client and creates the indexes (idempotent), so the store
    /// is ready once this returns.
    pub async fn connect(client: mongodb::Client, database: &str) -> StoreResult<Self> {
        let db = MongoDb::open(client, database).await?;
        let indexes = indexes().into_iter().chain(dealers::mongo::indexes());
        db.create_indexes_by_collection(indexes).await?;
        Ok(MongoIngestionStore { db })
    }

    pub fn db(&self) -> &MongoDb {
        &self.db
    }

    /// `committed` as it is, the outbox relay woken when it committed envelopes.
    fn published<T>(&self, committed: StoreResult<T>, outbox: &[Envelope]) -> StoreResult<T> {
        if committed.is_ok() && !outbox.is_empty() {
            self.db.wakeup().notify_one();
        }
        committed
    }

    async fn try_insert_vehicle(
        &self,
        session: &mut ClientSession,
        v: &Vehicle,
    ) -> StoreResult<()> {
        let vehicles = self.db.typed::<VehicleDoc>(VEHICLES);
        let taken = vehicles
            .find_one(doc! { "org_id": &v.org_id, "vin": &v.vin })
            .session(&mut *session)
            .await?;
        if taken.is_some() {
            return Err(conflict::vin_taken(&v.vin));
        }
        let inserted = vehicles
            .insert_one(VehicleDoc {
                id: v.id.to_string(),
                org_id: v.org_id.to_string(),
                vin: v.vin.clone(),
                registered_at: ts(&v.registered_at),
                body: serde_json::to_string(v)?,
            })
            .session(&mut *session)
            .await;
        match inserted.map_err(StoreError::from) {
            // Another registration of the same VIN (or id) committed after our read: as in SQLite, any
            // uniqueness violation of the vehicle row is the VIN conflict.
            Err(e) if is_duplicate_key(&e) => Err(conflict::vin_taken(&v.vin)),
            other => other.map(drop),
        }
    }

    async fn try_insert_event(
        &self,
        session: &mut ClientSession,
        event: WithOutbox<'_, VehicleEvent>,
        key: Option<&IdempotencyKey>,
    ) -> StoreResult<InsertEventOutcome> {
        let e = event.write;
        if let Some(k) = key {
            let keys = self.db.typed::<IdempotencyDoc>(IDEMPOTENCY_KEYS);
            let seen = keys
                .find_one(doc! { "org_id": &e.org_id, "key": &k.key })
                .session(&mut *session)
                .await?;
            if let Some(seen) = seen {
                if seen.request_hash != k.request_hash {
                    return Ok(InsertEventOutcome::KeyReused);
                }
                let first = self
                    .db
                    .typed::<Body>(VEHICLE_EVENTS)
                    .find_one(doc! { "_id": &seen.event_id })
                    .session(&mut *session)
                    .await?
                    .ok_or_else(|| {
                        StoreError::Other(format!(
                            "idempotency key {} names event {}, which does not exist",
                            k.key, seen.event_id
                        ))
                    })?;
                return Ok(InsertEventOutcome::Replayed(Box::new(first.decode()?)));
            }
            keys.insert_one(IdempotencyDoc {
                org_id: e.org_id.to_string(),
                key: k.key.clone(),
                request_hash: k.request_hash.clone(),
                event_id: e.id.to_string(),
                created_at: ts(&e.recorded_at),
            })
            .session(&mut *session)
            .await?;
        }
        let body = serde_json::to_string(e)?;
        self.write_event(session, e, &body, event.outbox).await?;
        Ok(InsertEventOutcome::Created)
    }

    /// Writes `e` (its JSON is `body`) and `outbox` inside the caller's transaction. Shared with the
    /// dealer adapter, so every event of the service is stored the same way.
    pub(crate) async fn write_event(
        &self,
        session: &mut ClientSession,
        e: &VehicleEvent,
        body: &str,
        outbox: &[Envelope],
    ) -> StoreResult<()> {
        // The SQLite schema has a foreign key from events to vehicles; the same rule here.
        let vehicle = self
            .db
            .typed::<Body>(VEHICLES)
            .find_one(doc! { "_id": &e.vehicle_id })
            .session(&mut *session)
            .await?;
        let Some(vehicle) = vehicle else {
            return Err(StoreError::Other(format!(
                "event {} names vehicle {}, which does not exist",
                e.id, e.vehicle_id
            )));
        };
        // As in SQLite: a sale committed since the request was checked refuses what it now would.
        conflict::unless_sale_takes(&vehicle.decode::<Vehicle>()?, e, None)?;
        self.db
            .typed::<EventDoc>(VEHICLE_EVENTS)
            .insert_one(EventDoc {
                id: e.id.to_string(),
                org_id: e.org_id.to_string(),
                vehicle_id: e.vehicle_id.to_string(),
                occurred_at: ts(&e.occurred_at),
                body: body.to_string(),
            })
            .session(&mut *session)
            .await?;
        self.db.enqueue(session, outbox).await
    }

    async fn try_append_revision(
        &self,
        session: &mut ClientSession,
        r: &EventRevision,
    ) -> StoreResult<()> {
        let e = &r.event;
        // As in SQLite: against the vehicle as stored now, keeping what the record reads as stored.
        let vehicle = self
            .db
            .typed::<Body>(VEHICLES)
            .find_one(doc! { "org_id": &e.org_id, "_id": &e.vehicle_id })
            .session(&mut *session)
            .await?;
        if let Some(vehicle) = vehicle.map(|v| v.decode::<Vehicle>()).transpose()?
            && vehicle.sale.is_some()
        {
            let latest: Option<EventRevision> = self
                .db
                .typed::<Body>(EVENT_REVISIONS)
                .find_one(doc! { "event_id": &e.id })
                .sort(doc! { "revision": -1 })
                .session(&mut *session)
                .await?
                .map(|b| b.decode())
                .transpose()?;
            let kept = match latest {
                Some(latest) => Some((latest.event.occurred_at, latest.event.odometer)),
                None => self
                    .db
                    .typed::<Body>(VEHICLE_EVENTS)
                    .find_one(doc! { "_id": &e.id })
                    .session(&mut *session)
                    .await?
                    .map(|b| b.decode::<VehicleEvent>())
                    .transpose()?
                    .map(|first| (first.occurred_at, first.odometer)),
            };
            if kept.is_some() {
                conflict::unless_sale_takes(&vehicle, e, kept)?;
            }
        }
        let inserted = self
            .db
            .typed::<RevisionDoc>(EVENT_REVISIONS)
            .insert_one(RevisionDoc {
                event_id: e.id.to_string(),
                revision: i64::from(r.revision),
                org_id: e.org_id.to_string(),
                vehicle_id: e.vehicle_id.to_string(),
                body: serde_json::to_string(r)?,
            })
            .session(&mut *session)
            .await;
        match inserted.map_err(StoreError::from) {
            Err(err) if is_duplicate_key(&err) => Err(conflict::revision_taken(r.revision, &e.id)),
            other => other.map(drop),
        }
    }

    async fn try_replace_vehicle(
        &self,
        session: &mut ClientSession,
        before: &Vehicle,
        after: &Vehicle,
        seen: Option<FactsSeen>,
    ) -> StoreResult<()> {
        let current = self
            .db
            .typed::<Body>(VEHICLES)
            .find_one(doc! { "org_id": &after.org_id, "_id": &after.id })
            .session(&mut *session)
            .await?;
        // Compared as values: the stored text may predate fields added since.
        let unchanged = match &current {
            Some(d) => d.decode::<Vehicle>()? == *before,
            None => false,
        };
        if !unchanged {
            return Err(conflict::vehicle_changed(&after.id));
        }
        if let Some(seen) = seen {
            // As in SQLite: nothing recorded or revised since the change was decided.
            let of = of_vehicle(&VehicleRef::of(after));
            let events = (self.db.collection(VEHICLE_EVENTS))
                .count_documents(of.clone())
                .session(&mut *session)
                .await?;
            let revisions = (self.db.collection(EVENT_REVISIONS))
                .count_documents(of)
                .session(&mut *session)
                .await?;
            if (FactsSeen { events, revisions }) != seen {
                return Err(conflict::vehicle_changed(&after.id));
            }
        }
        self.db
            .collection(VEHICLES)
            .update_one(
                doc! { "org_id": &after.org_id, "_id": &after.id },
                doc! { "$set": { "body": serde_json::to_string(after)? } },
            )
            .session(&mut *session)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl IngestionStore for MongoIngestionStore {
    async fn revisions(&self, of: RevisionsOf<'_>) -> StoreResult<Vec<EventRevision>> {
        let (filter, order) = match of {
            RevisionsOf::Event(org_id, id) => (
                doc! { "org_id": org_id, "event_id": id },
                doc! { "revision": 1 },
            ),
            RevisionsOf::Vehicle(vehicle) => {
                (of_vehicle(vehicle), doc! { "event_id": 1, "revision": 1 })
            }
        };
        self.db.find_bodies(EVENT_REVISIONS, filter, order).await
    }

    async fn vehicle_events(&self, vehicle: &VehicleRef) -> StoreResult<Vec<VehicleEvent>> {
        let oldest_first = doc! { "occurred_at": 1, "_id": 1 };
        (self
            .db
            .find_bodies(VEHICLE_EVENTS, of_vehicle(vehicle), oldest_first))
        .await
    }

    async fn append_revision(&self, revision: WithOutbox<'_, EventRevision>) -> StoreResult<()> {
        publish!(self, revision.outbox, |session| self
            .try_append_revision(session, revision.write))
    }

    async fn replace_vehicle(
        &self,
        before: &Vehicle,
        after: WithOutbox<'_, Vehicle>,
        seen: Option<FactsSeen>,
    ) -> StoreResult<()> {
        publish!(self, after.outbox, |session| self.try_replace_vehicle(
            session,
            before,
            after.write,
            seen
        ))
    }

    async fn insert_vehicle(&self, vehicle: WithOutbox<'_, Vehicle>) -> StoreResult<()> {
        publish!(self, vehicle.outbox, |session| self
            .try_insert_vehicle(session, vehicle.write))
    }

    async fn vehicle(&self, vehicle: &VehicleRef) -> StoreResult<Option<Vehicle>> {
        let in_org = doc! { "org_id": &vehicle.org_id, "_id": &vehicle.vehicle_id };
        self.db.find_body(VEHICLES, in_org).await
    }

    async fn insert_event(
        &self,
        event: WithOutbox<'_, VehicleEvent>,
        idempotency: Option<&IdempotencyKey>,
    ) -> StoreResult<InsertEventOutcome> {
        // A concurrent request with the same idempotency key may commit between our read of the key and
        // our insert of it: the unique index rejects ours, and one more run reads theirs.
        let mut runs_left = if idempotency.is_some() { 2 } else { 1 };
        let outcome = loop {
            runs_left -= 1;
            let settled = in_transaction!(self.db, |session| self.try_insert_event(
                session,
                event,
                idempotency
            ));
            match settled {
                Err(e) if runs_left > 0 && is_duplicate_key(&e) => continue,
                other => break other?,
            }
        };
        // Only a new event wrote its outbox (a replayed key wrote nothing).
        if outcome == InsertEventOutcome::Created && !event.outbox.is_empty() {
            self.db.wakeup().notify_one();
        }
        Ok(outcome)
    }

    async fn event(&self, org_id: &OrgId, event_id: &EventId) -> StoreResult<Option<VehicleEvent>> {
        self.db
            .find_body(VEHICLE_EVENTS, doc! { "org_id": org_id, "_id": event_id })
            .await
    }

    async fn count_events(&self, vehicle: &VehicleRef) -> StoreResult<u64> {
        let events = self.db.collection(VEHICLE_EVENTS);
        Ok(events.count_documents(of_vehicle(vehicle)).await?)
    }
}

impl Plumbed for MongoIngestionStore {
    type Db = MongoDb;
    fn plumbing(&self) -> &MongoDb {
        &self.db
    }
}
