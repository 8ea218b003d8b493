//! MongoDB adapter of the ingestion store: the service's own database (e.g. `vwc_ingestion`), its indexes
//! created at start-up, and every state change in one multi-document transaction with its outbox rows.
//!
//! Transactions need a replica set or a sharded cluster (see `vwc_store::mongo`).

use async_trait::async_trait;
use bson::{Document, doc};
use mongodb::ClientSession;
use vwc_contracts::{Envelope, EventId, OrgId, Vehicle, VehicleEvent, VehicleId};
use vwc_store::mongo::{MongoDb, is_duplicate_key, required_text};
use vwc_store::{Outbox, Plumbed, StoreError, StoreResult, ts};

use crate::corrections::RevisionStore;
use crate::store::{IdempotencyKey, IngestionStore, InsertEventOutcome};
use vwc_contracts::corrections::EventRevision;

pub(crate) const VEHICLES: &str = "vehicles";
pub(crate) const VEHICLE_EVENTS: &str = "vehicle_events";
const IDEMPOTENCY_KEYS: &str = "idempotency_keys";
const EVENT_REVISIONS: &str = "event_revisions";

#[derive(Clone)]
pub struct MongoIngestionStore {
    db: MongoDb,
}

impl MongoIngestionStore {
    /// Uses `database` through the process's client and creates the indexes (idempotent), so the store
    /// is ready once this returns.
    pub async fn connect(
        client: mongodb::Client,
        database: &str,
    ) -> StoreResult<MongoIngestionStore> {
        MongoIngestionStore::with_db(MongoDb::new(client, database)).await
    }

    /// Like [`connect`](Self::connect), over an existing database handle.
    pub async fn with_db(db: MongoDb) -> StoreResult<MongoIngestionStore> {
        db.ensure_common_indexes().await?;
        db.create_index(VEHICLES, doc! { "org_id": 1, "vin": 1 }, true)
            .await?;
        db.create_index(
            VEHICLE_EVENTS,
            doc! { "org_id": 1, "vehicle_id": 1, "occurred_at": 1 },
            false,
        )
        .await?;
        db.create_index(IDEMPOTENCY_KEYS, doc! { "org_id": 1, "key": 1 }, true)
            .await?;
        crate::dealers::mongo::create_indexes(&db).await?;
        db.create_index(EVENT_REVISIONS, doc! { "event_id": 1, "revision": 1 }, true)
            .await?;
        db.create_index(
            EVENT_REVISIONS,
            doc! { "org_id": 1, "vehicle_id": 1, "event_id": 1, "revision": 1 },
            false,
        )
        .await?;
        Ok(MongoIngestionStore { db })
    }

    pub fn db(&self) -> &MongoDb {
        &self.db
    }

    async fn try_insert_vehicle(
        &self,
        session: &mut ClientSession,
        v: &Vehicle,
        body: &str,
        outbox: &[Envelope],
    ) -> StoreResult<()> {
        let vehicles = self.db.collection(VEHICLES);
        let taken = vehicles
            .find_one(doc! { "org_id": &v.org_id, "vin": &v.vin })
            .session(&mut *session)
            .await?;
        if taken.is_some() {
            return Err(vin_conflict(v));
        }
        let inserted = vehicles
            .insert_one(doc! {
                "_id": &v.id,
                "org_id": &v.org_id,
                "vin": &v.vin,
                "registered_at": ts(&v.registered_at),
                "body": body,
            })
            .session(&mut *session)
            .await;
        match inserted.map_err(StoreError::from) {
            // Another registration of the same VIN (or id) committed after our read: as in SQLite, any
            // uniqueness violation of the vehicle row is the VIN conflict.
            Err(e) if is_duplicate_key(&e) => return Err(vin_conflict(v)),
            other => other?,
        };
        self.db.enqueue(session, outbox).await
    }

    async fn try_insert_event(
        &self,
        session: &mut ClientSession,
        e: &VehicleEvent,
        body: &str,
        key: Option<&IdempotencyKey>,
        outbox: &[Envelope],
    ) -> StoreResult<InsertEventOutcome> {
        let events = self.db.collection(VEHICLE_EVENTS);
        if let Some(k) = key {
            let seen = self
                .db
                .collection(IDEMPOTENCY_KEYS)
                .find_one(doc! { "org_id": &e.org_id, "key": &k.key })
                .session(&mut *session)
                .await?;
            if let Some(seen) = seen {
                if required_text(&seen, "request_hash")? != k.request_hash {
                    return Ok(InsertEventOutcome::KeyReused);
                }
                let event_id = required_text(&seen, "event_id")?;
                let first = events
                    .find_one(doc! { "_id": &event_id })
                    .session(&mut *session)
                    .await?
                    .ok_or_else(|| {
                        StoreError::Other(format!(
                            "idempotency key {} names event {event_id}, which does not exist",
                            k.key
                        ))
                    })?;
                let event = serde_json::from_str(&required_text(&first, "body")?)?;
                return Ok(InsertEventOutcome::Replayed(Box::new(event)));
            }
            self.db
                .collection(IDEMPOTENCY_KEYS)
                .insert_one(doc! {
                    "org_id": &e.org_id,
                    "key": &k.key,
                    "request_hash": &k.request_hash,
                    "event_id": &e.id,
                    "created_at": ts(&e.recorded_at),
                })
                .session(&mut *session)
                .await?;
        }
        self.write_event(session, e, body, outbox).await?;
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
            .collection(VEHICLES)
            .find_one(doc! { "_id": &e.vehicle_id })
            .session(&mut *session)
            .await?;
        if vehicle.is_none() {
            return Err(StoreError::Other(format!(
                "event {} names vehicle {}, which does not exist",
                e.id, e.vehicle_id
            )));
        }
        self.db
            .collection(VEHICLE_EVENTS)
            .insert_one(doc! {
                "_id": &e.id,
                "org_id": &e.org_id,
                "vehicle_id": &e.vehicle_id,
                "occurred_at": ts(&e.occurred_at),
                "body": body,
            })
            .session(&mut *session)
            .await?;
        self.db.enqueue(session, outbox).await
    }

    async fn find_body(&self, collection: &str, filter: Document) -> StoreResult<Option<String>> {
        let found = self.db.collection(collection).find_one(filter).await?;
        found.map(|d| required_text(&d, "body")).transpose()
    }
}

impl MongoIngestionStore {
    async fn bodies(
        &self,
        collection: &str,
        filter: Document,
        sort: Document,
    ) -> StoreResult<Vec<String>> {
        let docs = vwc_store::mongo::collect(
            self.db
                .collection(collection)
                .find(filter)
                .sort(sort)
                .await?,
        )
        .await?;
        docs.iter().map(|d| required_text(d, "body")).collect()
    }

    async fn try_replace_vehicle(
        &self,
        session: &mut ClientSession,
        before: &Vehicle,
        after: &Vehicle,
        body: &str,
        outbox: &[Envelope],
    ) -> StoreResult<()> {
        let vehicles = self.db.collection(VEHICLES);
        let current = vehicles
            .find_one(doc! { "org_id": &after.org_id, "_id": &after.id })
            .session(&mut *session)
            .await?;
        // Compared as values: the stored text may predate fields added since.
        let unchanged = match &current {
            Some(d) => serde_json::from_str::<Vehicle>(&required_text(d, "body")?)? == *before,
            None => false,
        };
        if !unchanged {
            return Err(StoreError::Conflict(format!(
                "vehicle {} changed",
                after.id
            )));
        }
        vehicles
            .update_one(
                doc! { "org_id": &after.org_id, "_id": &after.id },
                doc! { "$set": { "body": body } },
            )
            .session(&mut *session)
            .await?;
        self.db.enqueue(session, outbox).await
    }

    async fn try_append_revision(
        &self,
        session: &mut ClientSession,
        r: &EventRevision,
        body: &str,
        outbox: &[Envelope],
    ) -> StoreResult<()> {
        let e = &r.event;
        let inserted = self
            .db
            .collection(EVENT_REVISIONS)
            .insert_one(doc! {
                "event_id": &e.id,
                "revision": r.revision as i64,
                "org_id": &e.org_id,
                "vehicle_id": &e.vehicle_id,
                "body": body,
            })
            .session(&mut *session)
            .await;
        match inserted.map_err(StoreError::from) {
            Err(err) if is_duplicate_key(&err) => {
                return Err(StoreError::Conflict(format!(
                    "revision {} of event {} exists already",
                    r.revision, e.id
                )));
            }
            other => other?,
        };
        self.db.enqueue(session, outbox).await
    }
}

#[async_trait]
impl RevisionStore for MongoIngestionStore {
    async fn event_revisions(
        &self,
        org_id: &OrgId,
        event_id: &EventId,
    ) -> StoreResult<Vec<EventRevision>> {
        let bodies = self
            .bodies(
                EVENT_REVISIONS,
                doc! { "org_id": org_id, "event_id": event_id },
                doc! { "revision": 1 },
            )
            .await?;
        bodies
            .iter()
            .map(|b| Ok(serde_json::from_str(b)?))
            .collect()
    }

    async fn vehicle_revisions(
        &self,
        org_id: &OrgId,
        vehicle_id: &VehicleId,
    ) -> StoreResult<Vec<EventRevision>> {
        let bodies = self
            .bodies(
                EVENT_REVISIONS,
                doc! { "org_id": org_id, "vehicle_id": vehicle_id },
                doc! { "event_id": 1, "revision": 1 },
            )
            .await?;
        bodies
            .iter()
            .map(|b| Ok(serde_json::from_str(b)?))
            .collect()
    }

    async fn vehicle_events(
        &self,
        org_id: &OrgId,
        vehicle_id: &VehicleId,
    ) -> StoreResult<Vec<VehicleEvent>> {
        let bodies = self
            .bodies(
                VEHICLE_EVENTS,
                doc! { "org_id": org_id, "vehicle_id": vehicle_id },
                doc! { "occurred_at": 1, "_id": 1 },
            )
            .await?;
        bodies
            .iter()
            .map(|b| Ok(serde_json::from_str(b)?))
            .collect()
    }

    async fn append_revision(
        &self,
        revision: &EventRevision,
        outbox: &[Envelope],
    ) -> StoreResult<()> {
        let body = serde_json::to_string(revision)?;
        let mut tx = self.db.transaction().await?;
        let committed = loop {
            tx.begin().await?;
            let outcome = self
                .try_append_revision(tx.session(), revision, &body, outbox)
                .await;
            if let Some(answer) = tx.settle(outcome).await.transpose() {
                break answer;
            }
        };
        if committed.is_ok() && !outbox.is_empty() {
            self.db.wakeup().notify_one();
        }
        committed
    }

    async fn replace_vehicle(
        &self,
        before: &Vehicle,
        after: &Vehicle,
        outbox: &[Envelope],
    ) -> StoreResult<()> {
        let body = serde_json::to_string(after)?;
        let mut tx = self.db.transaction().await?;
        let committed = loop {
            tx.begin().await?;
            let outcome = self
                .try_replace_vehicle(tx.session(), before, after, &body, outbox)
                .await;
            if let Some(answer) = tx.settle(outcome).await.transpose() {
                break answer;
            }
        };
        if committed.is_ok() && !outbox.is_empty() {
            self.db.wakeup().notify_one();
        }
        committed
    }
}

fn vin_conflict(v: &Vehicle) -> StoreError {
    StoreError::Conflict(format!(
        "a vehicle with VIN {} is already registered in this organisation",
        v.vin
    ))
}

#[async_trait]
impl IngestionStore for MongoIngestionStore {
    async fn insert_vehicle(&self, vehicle: &Vehicle, outbox: &[Envelope]) -> StoreResult<()> {
        let body = serde_json::to_string(vehicle)?;
        let mut tx = self.db.transaction().await?;
        let committed = loop {
            tx.begin().await?;
            let outcome = self
                .try_insert_vehicle(tx.session(), vehicle, &body, outbox)
                .await;
            if let Some(answer) = tx.settle(outcome).await.transpose() {
                break answer;
            }
        };
        if committed.is_ok() && !outbox.is_empty() {
            self.db.wakeup().notify_one();
        }
        committed
    }

    async fn vehicle(
        &self,
        org_id: &OrgId,
        vehicle_id: &VehicleId,
    ) -> StoreResult<Option<Vehicle>> {
        let body = self
            .find_body(VEHICLES, doc! { "org_id": org_id, "_id": vehicle_id })
            .await?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    async fn insert_event(
        &self,
        event: &VehicleEvent,
        idempotency: Option<&IdempotencyKey>,
        outbox: &[Envelope],
    ) -> StoreResult<InsertEventOutcome> {
        let body = serde_json::to_string(event)?;
        // A concurrent request with the same idempotency key may commit between our read of the key and
        // our insert of it: the unique index rejects ours, and one more run reads theirs.
        let mut runs_left = if idempotency.is_some() { 2 } else { 1 };
        let outcome = loop {
            runs_left -= 1;
            let mut tx = self.db.transaction().await?;
            let settled = loop {
                tx.begin().await?;
                let outcome = self
                    .try_insert_event(tx.session(), event, &body, idempotency, outbox)
                    .await;
                if let Some(answer) = tx.settle(outcome).await.transpose() {
                    break answer;
                }
            };
            match settled {
                Err(e) if runs_left > 0 && is_duplicate_key(&e) => continue,
                other => break other?,
            }
        };
        if outcome == InsertEventOutcome::Created && !outbox.is_empty() {
            self.db.wakeup().notify_one();
        }
        Ok(outcome)
    }

    async fn event(&self, org_id: &OrgId, event_id: &EventId) -> StoreResult<Option<VehicleEvent>> {
        let body = self
            .find_body(VEHICLE_EVENTS, doc! { "org_id": org_id, "_id": event_id })
            .await?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    async fn count_events(&self, org_id: &OrgId, vehicle_id: &VehicleId) -> StoreResult<u64> {
        Ok(self
            .db
            .collection(VEHICLE_EVENTS)
            .count_documents(doc! { "org_id": org_id, "vehicle_id": vehicle_id })
            .await?)
    }
}

impl Plumbed for MongoIngestionStore {
    type Db = MongoDb;
    fn plumbing(&self) -> &MongoDb {
        &self.db
    }
}
