//! MongoDB adapter of the edge projection: the service's own database (e.g. `vwc_edge`), its indexes
//! created at start-up, and each applied envelope claimed in the inbox in the same transaction as its effect.
//!
//! Transactions need a replica set or a sharded cluster (see `vwc_store::mongo`).

use std::collections::HashMap;

use async_trait::async_trait;
use bson::{Bson, Document, doc};
use mongodb::ClientSession;
use vwc_bus::{BoxError, DeadLetter, DeadLetterStore};
use vwc_contracts::{Envelope, Vehicle, VehicleEvent};
use vwc_store::mongo::{MongoDb, collect, int, parse_ts, required_text, text};
use vwc_store::{StoreResult, ts};

use crate::CONSUMER;
use crate::store::{EdgeStore, EventFilter, OdometerView, TimelinePosition, VehicleView};

const VEHICLES: &str = "vehicles";
/// `{_id: vehicle_id, event_count, last_event_at, odometer, odometer_at}`; kept apart from `vehicles`
/// because events may arrive before the registration they follow.
const VEHICLE_STATS: &str = "vehicle_stats";
const TIMELINE: &str = "timeline";

#[derive(Clone)]
pub struct MongoEdgeStore {
    db: MongoDb,
}

impl MongoEdgeStore {
    /// Uses `database` through the process's client and creates the indexes (idempotent), so the store
    /// is ready once this returns.
    pub async fn connect(client: mongodb::Client, database: &str) -> StoreResult<MongoEdgeStore> {
        MongoEdgeStore::with_db(MongoDb::new(client, database)).await
    }

    /// Like [`connect`](Self::connect), over an existing database handle.
    pub async fn with_db(db: MongoDb) -> StoreResult<MongoEdgeStore> {
        db.ensure_common_indexes().await?;
        db.create_index(VEHICLES, doc! { "org_id": 1, "_id": 1 }, false)
            .await?;
        // `_id` is the event id: the timeline page order is (occurred_at, id) descending.
        db.create_index(
            TIMELINE,
            doc! { "org_id": 1, "vehicle_id": 1, "occurred_at": -1, "_id": -1 },
            false,
        )
        .await?;
        // Upserted inside transactions, so it must exist beforehand on servers that cannot create a
        // collection in a transaction; `_id` is its key, so this index only creates the collection.
        db.create_index(VEHICLE_STATS, doc! { "last_event_at": 1 }, false)
            .await?;
        Ok(MongoEdgeStore { db })
    }

    pub fn db(&self) -> &MongoDb {
        &self.db
    }

    async fn try_apply_vehicle_registered(
        &self,
        session: &mut ClientSession,
        envelope_id: &str,
        v: &Vehicle,
        body: &str,
    ) -> StoreResult<bool> {
        if !self.db.claim_inbox(session, CONSUMER, envelope_id).await? {
            return Ok(false);
        }
        // As in SQLite: a re-registration replaces the body but never moves the vehicle to another org.
        self.db
            .collection(VEHICLES)
            .update_one(
                doc! { "_id": &v.id },
                doc! { "$set": { "body": body }, "$setOnInsert": { "org_id": &v.org_id } },
            )
            .upsert(true)
            .session(&mut *session)
            .await?;
        Ok(true)
    }

    async fn try_apply_vehicle_event(
        &self,
        session: &mut ClientSession,
        envelope_id: &str,
        e: &VehicleEvent,
        body: &str,
        traceparent: Option<&str>,
    ) -> StoreResult<bool> {
        if !self.db.claim_inbox(session, CONSUMER, envelope_id).await? {
            return Ok(false);
        }
        let at = ts(&e.occurred_at);
        let cost = e.cost_cents.map(|c| c as i64);
        let inserted = self
            .db
            .collection(TIMELINE)
            .update_one(
                doc! { "_id": &e.id },
                doc! { "$setOnInsert": {
                    "org_id": &e.org_id,
                    "vehicle_id": &e.vehicle_id,
                    "kind": e.kind.as_str(),
                    "occurred_at": &at,
                    "cost_cents": cost,
                    "currency": e.currency.as_deref(),
                    "body": body,
                    "traceparent": traceparent,
                } },
            )
            .upsert(true)
            .session(&mut *session)
            .await?;
        if inserted.upserted_id.is_none() {
            // The same timeline event under another envelope id (a re-publish): no second effect.
            return Ok(false);
        }
        let stats = self.db.collection(VEHICLE_STATS);
        stats
            .update_one(
                doc! { "_id": &e.vehicle_id },
                doc! { "$inc": { "event_count": 1_i64 }, "$max": { "last_event_at": &at } },
            )
            .upsert(true)
            .session(&mut *session)
            .await?;
        if let Some(odometer) = e.odometer {
            // The latest reading by occurredAt wins, whatever order the events arrive in.
            stats
                .update_one(
                    doc! {
                        "_id": &e.vehicle_id,
                        "$or": [ { "odometer_at": Bson::Null }, { "odometer_at": { "$lte": &at } } ],
                    },
                    doc! { "$set": { "odometer": odometer as i64, "odometer_at": &at } },
                )
                .session(&mut *session)
                .await?;
        }
        Ok(true)
    }

    /// Stats of the given vehicles, by vehicle id.
    async fn stats(&self, vehicle_ids: Vec<String>) -> StoreResult<HashMap<String, Document>> {
        if vehicle_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let cursor = self
            .db
            .collection(VEHICLE_STATS)
            .find(doc! { "_id": { "$in": vehicle_ids } })
            .await?;
        collect(cursor)
            .await?
            .into_iter()
            .map(|d| Ok((required_text(&d, "_id")?, d)))
            .collect()
    }

    async fn views(&self, vehicles: Vec<Document>) -> StoreResult<Vec<VehicleView>> {
        let ids = vehicles
            .iter()
            .map(|d| required_text(d, "_id"))
            .collect::<StoreResult<Vec<String>>>()?;
        let stats = self.stats(ids).await?;
        vehicles
            .iter()
            .map(|d| {
                let vehicle: Vehicle = serde_json::from_str(&required_text(d, "body")?)?;
                vehicle_view(vehicle, stats.get(&required_text(d, "_id")?))
            })
            .collect()
    }
}

fn vehicle_view(vehicle: Vehicle, stats: Option<&Document>) -> StoreResult<VehicleView> {
    let Some(stats) = stats else {
        return Ok(VehicleView {
            vehicle,
            odometer: None,
            event_count: 0,
            last_event_at: None,
        });
    };
    let odometer = match (int(stats, "odometer")?, text(stats, "odometer_at")?) {
        (Some(value), Some(at)) => Some(OdometerView {
            value: value as u64,
            unit: vehicle.odometer_unit,
            as_of: parse_ts(&at)?,
            estimated: false,
        }),
        _ => None,
    };
    Ok(VehicleView {
        odometer,
        event_count: int(stats, "event_count")?.unwrap_or(0) as u64,
        last_event_at: text(stats, "last_event_at")?
            .as_deref()
            .map(parse_ts)
            .transpose()?,
        vehicle,
    })
}

/// The timeline query: the filter and, strictly after `after`, newest first.
fn timeline_filter(
    org_id: &str,
    vehicle_id: &str,
    filter: &EventFilter,
    after: Option<&TimelinePosition>,
) -> Document {
    let mut query = doc! { "org_id": org_id, "vehicle_id": vehicle_id };
    if !filter.kinds.is_empty() {
        let kinds: Vec<&str> = filter.kinds.iter().map(|k| k.as_str()).collect();
        query.insert("kind", doc! { "$in": kinds });
    }
    let mut range = Document::new();
    if let Some(from) = filter.from {
        range.insert("$gte", ts(&from));
    }
    if let Some(to) = filter.to {
        range.insert("$lte", ts(&to));
    }
    if !range.is_empty() {
        query.insert("occurred_at", range);
    }
    if let Some(p) = after {
        let at = ts(&p.occurred_at);
        query.insert(
            "$or",
            vec![
                doc! { "occurred_at": { "$lt": &at } },
                doc! { "occurred_at": &at, "_id": { "$lt": &p.id } },
            ],
        );
    }
    query
}

#[async_trait]
impl EdgeStore for MongoEdgeStore {
    async fn apply_vehicle_registered(
        &self,
        envelope_id: &str,
        vehicle: &Vehicle,
    ) -> StoreResult<bool> {
        let body = serde_json::to_string(vehicle)?;
        let mut tx = self.db.transaction().await?;
        loop {
            tx.begin().await?;
            let outcome = self
                .try_apply_vehicle_registered(tx.session(), envelope_id, vehicle, &body)
                .await;
            if let Some(applied) = tx.settle(outcome).await? {
                return Ok(applied);
            }
        }
    }

    async fn apply_vehicle_event(
        &self,
        envelope_id: &str,
        event: &VehicleEvent,
        traceparent: Option<&str>,
    ) -> StoreResult<bool> {
        let body = serde_json::to_string(event)?;
        let mut tx = self.db.transaction().await?;
        loop {
            tx.begin().await?;
            let outcome = self
                .try_apply_vehicle_event(tx.session(), envelope_id, event, &body, traceparent)
                .await;
            if let Some(applied) = tx.settle(outcome).await? {
                return Ok(applied);
            }
        }
    }

    async fn vehicles(
        &self,
        org_id: &str,
        after_id: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<VehicleView>> {
        let cursor = self
            .db
            .collection(VEHICLES)
            .find(doc! { "org_id": org_id, "_id": { "$gt": after_id.unwrap_or("") } })
            .sort(doc! { "_id": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await?;
        let vehicles = collect(cursor).await?;
        self.views(vehicles).await
    }

    async fn vehicle(&self, org_id: &str, vehicle_id: &str) -> StoreResult<Option<VehicleView>> {
        let found = self
            .db
            .collection(VEHICLES)
            .find_one(doc! { "org_id": org_id, "_id": vehicle_id })
            .await?;
        match found {
            Some(d) => Ok(self.views(vec![d]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn events(
        &self,
        org_id: &str,
        vehicle_id: &str,
        filter: &EventFilter,
        after: Option<&TimelinePosition>,
        limit: usize,
    ) -> StoreResult<Vec<VehicleEvent>> {
        let cursor = self
            .db
            .collection(TIMELINE)
            .find(timeline_filter(org_id, vehicle_id, filter, after))
            .sort(doc! { "occurred_at": -1, "_id": -1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await?;
        collect(cursor)
            .await?
            .iter()
            .map(|d| Ok(serde_json::from_str(&required_text(d, "body")?)?))
            .collect()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.db.database().run_command(doc! { "ping": 1 }).await?;
        Ok(())
    }
}

#[async_trait]
impl DeadLetterStore for MongoEdgeStore {
    async fn put_dead_letter(
        &self,
        consumer: &str,
        envelope: &Envelope,
        error: &str,
        attempts: u32,
    ) -> Result<(), BoxError> {
        self.db
            .put_dead_letter(consumer, envelope, error, attempts)
            .await
    }
    async fn list_dead_letters(&self) -> Result<Vec<DeadLetter>, BoxError> {
        self.db.list_dead_letters().await
    }
    async fn mark_replayed(&self, id: i64) -> Result<(), BoxError> {
        self.db.mark_replayed(id).await
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use vwc_contracts::EventKind;

    use super::*;

    #[test]
    fn the_page_position_is_strictly_after_by_time_then_id() {
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        let filter = EventFilter {
            kinds: vec![EventKind::Repair, EventKind::Maintenance],
            from: Some(at),
            to: None,
        };
        let position = TimelinePosition {
            occurred_at: at,
            id: "evt_9".into(),
        };
        let q = timeline_filter("org_a", "veh_1", &filter, Some(&position));
        let t = ts(&at);
        assert_eq!(
            q,
            doc! {
                "org_id": "org_a",
                "vehicle_id": "veh_1",
                "kind": { "$in": ["repair", "maintenance"] },
                "occurred_at": { "$gte": &t },
                "$or": [
                    { "occurred_at": { "$lt": &t } },
                    { "occurred_at": &t, "_id": { "$lt": "evt_9" } },
                ],
            }
        );
    }
}
