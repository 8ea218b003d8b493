//! MongoDB adapter of the edge projection: the service's own database (e.g. `vwc_edge`), its indexes
//! created at start-up, and each applied envelope claimed in the inbox in the same transaction as its effect.
//!
//! Transactions need a replica set or a sharded cluster (see `vwc_store::mongo`).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use bson::{Bson, Document, doc};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::ClientSession;
use mongodb::results::UpdateResult;
use serde::de::DeserializeOwned;
use vwc_contracts::lifecycle::VehicleStatus;
use vwc_contracts::maintenance::{MaintenanceScheduleUpdated, NotificationDelivered};
use vwc_contracts::valuation::{Valuation, ValuationPointKind, ValuationUpdated};
use vwc_contracts::{EventKind, OrgId, Vehicle, VehicleEvent, VehicleId};
use vwc_store::mongo::{MongoDb, collect, int, parse_ts, required_text, text};
use vwc_store::{Plumbed, StoreResult, ts};

use crate::CONSUMER;
use crate::aggregates::{
    Change, CostChange, CurrentValue, Fact, FleetMember, MonthRange, attention_counts, changes,
};
use crate::corrections::TimelineRevision;
use crate::read_model::VehicleTotalsPage;
use crate::store::{
    CostBucket, CostRow, CostScope, CostTotal, CostsOf, Delivery, EdgeStore, Feed, FleetCounts,
    FleetRow, FleetValue, LifetimeCost, MaintenanceView, NotificationRef, NotificationView, Page,
    Projected, ReminderItem, RowValue, TimelineQuery, VehicleRef, VehicleStats, VehicleTotals,
    VehicleView, settled_tasks, valuations_before,
};
use crate::timeline_page::{self, TimelinePage, TimelinePageBuilder};

const VEHICLES: &str = "vehicles";
/// `{_id: vehicle_id, event_count, last_event_at, odometer, odometer_at, acquisitions}`; kept apart from
/// `vehicles` because events may arrive before the registration they follow.
const VEHICLE_STATS: &str = "vehicle_stats";
const TIMELINE: &str = "timeline";
/// `{_id: vehicle_id, org_id, body, due_soon, overdue, evaluated_at}`: the scheduler's newest evaluation,
/// with the counts the fleet view needs so it never parses the body.
const MAINTENANCE: &str = "maintenance";
/// `{_id: notification_id, org_id, body, created_at, read_at}`: the in-app feed.
const NOTIFICATIONS: &str = "notifications";
/// `{_id: "<vehicle>/<asOf>", vehicle_id, org_id, as_of, body, computed_at}`: the valuation history.
const VALUATIONS: &str = "valuations";
/// `{_id: vehicle_id, org_id, as_of, amount, currency, body, computed_at}`: each vehicle's current value.
const CURRENT_VALUATIONS: &str = "current_valuations";
/// `{_id: "<org>|<vehicle>|<month>|<kind>|<currency>", org_id, vehicle_id, month, kind, currency,
/// total_cents, events}`: each vehicle's costs by calendar month (see `aggregates`).
const COST_MONTHS: &str = "cost_months";
/// `{_id: "<org>|<vehicle>|<currency>", org_id, vehicle_id, currency, total_cents, events}`: each
/// vehicle's lifetime costs (the fleet row's `lifetimeCost`).
const VEHICLE_COSTS: &str = "vehicle_costs";
/// `{_id: "<org>|<month>|<kind>|<currency>", org_id, month, kind, currency, total_cents, events}`.
const FLEET_COST_MONTHS: &str = "fleet_cost_months";
/// `{_id: org_id, vehicles, due_soon, overdue, vehicles_overdue}`.
const FLEET_COUNTS: &str = "fleet_counts";
/// `{_id: "<org>|<currency>", org_id, currency, total_cents, vehicles}`.
const FLEET_VALUES: &str = "fleet_values";
/// `{_id: "aggregates"}` once the aggregates were filled from what the projection held before them, and
/// `{_id: "aggregates.progress", pass, after_org, after, units, items}` while that fill runs (see `fill`).
const META: &str = "edge_meta";
const AGGREGATES_FILLED: &str = "aggregates";
/// `{_id: "lifetime"}` once `vehicle_costs` and the stats' `acquisitions` were filled from what the
/// projection held before them.
const LIFETIME_FILLED: &str = "lifetime";
/// `{_id: "overdue_vehicles"}` once `fleet_counts.vehicles_overdue` was filled from the maintenance views
/// the projection held before it was counted.
const OVERDUE_FILLED: &str = "overdue_vehicles";

mod fill;
pub use fill::{FILL_UNIT, FillPlan, FillReport};

/// Narrows an aggregate's `filter` to the months of `months` (either end open).
fn filter_months(filter: &mut Document, months: &MonthRange) {
    let mut range = Document::new();
    if let Some(first) = &months.first {
        range.insert("$gte", first);
    }
    if let Some(last) = &months.last {
        range.insert("$lte", last);
    }
    if !range.is_empty() {
        filter.insert("month", range);
    }
}

/// The fields of a `cost_months` document a page of per-vehicle totals reads.
#[derive(Debug, serde::Deserialize)]
struct CostMonthRow {
    vehicle_id: String,
    currency: String,
    total_cents: i64,
    events: i64,
}

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

    /// [`connect`](Self::connect) for a process that neither serves the edge's reads nor runs its consumer
    /// (a Lambda function of another service): its indexes, but not the one-time filling of the
    /// aggregates, which reads the edge's collections — a function's database user may read and write its
    /// own service's database only (infra/modules/atlas). The edge's own processes fill them.
    pub async fn connect_unfilled(
        client: mongodb::Client,
        database: &str,
    ) -> StoreResult<MongoEdgeStore> {
        MongoEdgeStore::indexed(MongoDb::new(client, database)).await
    }

    /// Like [`connect`](Self::connect), over an existing database handle: the one-time fills of a
    /// database an older version wrote (`mongo/fill.rs`) run before this returns, so this process's consumer
    /// never changes an aggregate a fill is still adding up.
    pub async fn with_db(db: MongoDb) -> StoreResult<MongoEdgeStore> {
        let (store, _) = MongoEdgeStore::with_fill_plan(db, FillPlan::default()).await?;
        Ok(store)
    }

    /// [`with_db`](Self::with_db) with the fills' units of `plan` (a test's smaller units, or a fill
    /// stopped after some units), and what the fills did.
    pub async fn with_fill_plan(
        db: MongoDb,
        plan: FillPlan,
    ) -> StoreResult<(MongoEdgeStore, FillReport)> {
        let store = MongoEdgeStore::indexed(db).await?;
        let report = store.fill(plan).await?;
        Ok((store, report))
    }

    /// The store over `db` with its indexes asked for, the aggregates not filled.
    async fn indexed(db: MongoDb) -> StoreResult<MongoEdgeStore> {
        db.ensure_common_indexes().await?;
        db.create_indexes([
            (VEHICLES, doc! { "org_id": 1, "_id": 1 }),
            // `_id` is the event id: the timeline page order is (occurred_at, id) descending.
            (
                TIMELINE,
                doc! { "org_id": 1, "vehicle_id": 1, "occurred_at": -1, "_id": -1 },
            ),
            // Upserted inside transactions, so it must exist beforehand on servers that cannot create a
            // collection in a transaction; `_id` is its key, so this index only creates the collection.
            (VEHICLE_STATS, doc! { "last_event_at": 1 }),
            (MAINTENANCE, doc! { "org_id": 1, "_id": 1 }),
            // `_id` is the notification id: the feed page order is (created_at, id) descending.
            (
                NOTIFICATIONS,
                doc! { "org_id": 1, "created_at": -1, "_id": -1 },
            ),
            // The reminders about one item (`ReminderItem`), in the order they were made.
            (
                NOTIFICATIONS,
                doc! { "org_id": 1, "vehicle_id": 1, "task": 1, "reminded_at": 1 },
            ),
            (
                VALUATIONS,
                doc! { "org_id": 1, "vehicle_id": 1, "as_of": -1 },
            ),
            (CURRENT_VALUATIONS, doc! { "org_id": 1, "currency": 1 }),
            // The pieces of a month at the ends of a cost range are read from the timeline by org and time.
            (TIMELINE, doc! { "org_id": 1, "kind": 1, "vehicle_id": 1 }),
            (TIMELINE, doc! { "org_id": 1, "occurred_at": 1 }),
            (
                COST_MONTHS,
                doc! { "org_id": 1, "vehicle_id": 1, "month": 1 },
            ),
            (COST_MONTHS, doc! { "org_id": 1, "month": 1 }),
            // A page of the fleet's cost by vehicle.
            (
                COST_MONTHS,
                doc! { "org_id": 1, "vehicle_id": 1, "currency": 1, "month": 1 },
            ),
            (FLEET_COST_MONTHS, doc! { "org_id": 1, "month": 1 }),
            // A page of fleet rows reads its vehicles' lifetime costs.
            (VEHICLE_COSTS, doc! { "org_id": 1, "vehicle_id": 1 }),
            // `_id` is the org: this index only creates the collection before any transaction writes to it.
            (FLEET_COUNTS, doc! { "vehicles": 1 }),
            (FLEET_VALUES, doc! { "org_id": 1, "currency": 1 }),
            (META, doc! { "filled_at": 1 }),
        ])
        .await?;
        Ok(MongoEdgeStore { db })
    }

    /// Calls `visit` with each document of `collection` matching `filter` (fields of `projection`), read
    /// inside the caller's transaction.
    async fn scan<T: DeserializeOwned + Send + Sync>(
        &self,
        session: &mut ClientSession,
        collection: &str,
        filter: Document,
        projection: Document,
        mut visit: impl FnMut(T) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let mut cursor = (self.db.collection(collection).clone_with_type::<T>())
            .find(filter)
            .projection(projection)
            .session(&mut *session)
            .await?;
        while let Some(d) = cursor.next(&mut *session).await.transpose()? {
            visit(d)?;
        }
        Ok(())
    }

    /// The fields `projection` names of document `id` of `collection` (as a `T`), read inside the
    /// caller's transaction.
    async fn find_in<T: DeserializeOwned + Send + Sync>(
        &self,
        session: &mut ClientSession,
        collection: &str,
        id: &str,
        projection: Document,
    ) -> StoreResult<Option<T>> {
        let typed = self.db.collection(collection).clone_with_type::<T>();
        Ok(typed
            .find_one(doc! { "_id": id })
            .projection(projection)
            .session(&mut *session)
            .await?)
    }

    /// Up to `limit` documents of `collection` matching `filter`, in `sort` order.
    async fn page(
        &self,
        collection: &str,
        filter: Document,
        sort: Document,
        limit: usize,
    ) -> StoreResult<Vec<Document>> {
        let Some(limit) = page_limit(limit) else {
            return Ok(Vec::new());
        };
        let cursor = (self.db.collection(collection))
            .find(filter)
            .sort(sort)
            .limit(limit)
            .await?;
        collect(cursor).await
    }

    /// Updates document `id` of `collection`, inserting it when there is none, inside the caller's
    /// transaction.
    async fn upsert_in(
        &self,
        session: &mut ClientSession,
        collection: &str,
        id: &str,
        update: Document,
    ) -> StoreResult<UpdateResult> {
        Ok((self.db.collection(collection))
            .update_one(doc! { "_id": id }, update)
            .upsert(true)
            .session(&mut *session)
            .await?)
    }

    /// Adds `update` (an `$inc`, and the fields of a new document) to aggregate document `key` of
    /// `collection`; a change that `lowered` its count field (events or vehicles) removes the document
    /// once that count reaches zero.
    async fn add_up(
        &self,
        session: &mut ClientSession,
        collection: &str,
        key: &str,
        update: Document,
        lowered: Option<&str>,
    ) -> StoreResult<()> {
        self.upsert_in(session, collection, key, update).await?;
        if let Some(count) = lowered {
            (self.db.collection(collection))
                .delete_one(doc! { "_id": key, count: { "$lte": 0_i64 } })
                .session(&mut *session)
                .await?;
        }
        Ok(())
    }

    /// Adds the changes up in the aggregate collections (inside the caller's transaction).
    async fn apply_changes(
        &self,
        session: &mut ClientSession,
        changes: &[Change],
    ) -> StoreResult<()> {
        for change in changes {
            match change {
                Change::Cost(c) => {
                    let inc = doc! { "total_cents": c.cents, "events": c.events };
                    for (collection, key, on_insert) in cost_documents(c) {
                        let update = doc! { "$inc": inc.clone(), "$setOnInsert": on_insert };
                        let lowered = (c.events < 0).then_some("events");
                        self.add_up(session, collection, &key, update, lowered)
                            .await?;
                    }
                }
                Change::Acquisitions(a) => {
                    let update = doc! { "$inc": { "acquisitions": a.records } };
                    self.upsert_in(session, VEHICLE_STATS, &a.vehicle_id, update)
                        .await?;
                }
                Change::Fleet(f) => {
                    let update = doc! { "$inc": {
                        "vehicles": f.vehicles, "due_soon": f.due_soon, "overdue": f.overdue,
                        "vehicles_overdue": f.vehicles_overdue,
                    } };
                    self.add_up(session, FLEET_COUNTS, &f.org_id, update, None)
                        .await?;
                }
                Change::Value(v) => {
                    let key = format!("{}|{}", v.org_id, v.currency);
                    let update = doc! {
                        "$inc": { "total_cents": v.cents, "vehicles": v.vehicles },
                        "$setOnInsert": { "org_id": &v.org_id, "currency": &v.currency },
                    };
                    let lowered = (v.vehicles < 0).then_some("vehicles");
                    self.add_up(session, FLEET_VALUES, &key, update, lowered)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// The vehicle's org (when it is in the read model) and what it adds to the fleet totals now.
    async fn fleet_member(
        &self,
        session: &mut ClientSession,
        vehicle_id: &str,
    ) -> StoreResult<(Option<String>, FleetMember)> {
        let membership = doc! { "org_id": 1, "status": 1 };
        let vehicle = self
            .find_in(session, VEHICLES, vehicle_id, membership)
            .await?;
        // Sold and archived vehicles leave the fleet (docs/corrections.md).
        let active = vehicle.as_ref().is_some_and(is_active);
        let org = vehicle.map(|d| required_text(&d, "org_id")).transpose()?;
        let counts = doc! { "due_soon": 1, "overdue": 1 };
        let maintenance: Option<AttentionDoc> = self
            .find_in(session, MAINTENANCE, vehicle_id, counts)
            .await?;
        let attention = maintenance.map(|a| (a.due_soon, a.overdue));
        Ok((org, FleetMember::of(active, attention)))
    }

    /// The vehicle's current value as the fleet value counts it, with its organisation: none once the
    /// vehicle is sold or archived.
    async fn counted_value(
        &self,
        session: &mut ClientSession,
        vehicle_id: &str,
    ) -> StoreResult<Option<(String, CurrentValue)>> {
        let vehicle = self
            .find_in(session, VEHICLES, vehicle_id, doc! { "status": 1 })
            .await?;
        if vehicle.as_ref().is_some_and(|d| !is_active(d)) {
            return Ok(None);
        }
        let value = doc! { "org_id": 1, "currency": 1, "amount": 1 };
        self.find_in(session, CURRENT_VALUATIONS, vehicle_id, value)
            .await?
            .map(|d| current_value_of(&d))
            .transpose()
    }

    /// Moves the fleet value from what `before` counted to what the vehicle counts now.
    async fn value_moved(
        &self,
        session: &mut ClientSession,
        vehicle_id: &str,
        before: Option<(String, CurrentValue)>,
    ) -> StoreResult<()> {
        let after = self.counted_value(session, vehicle_id).await?;
        let Some(org) = after.as_ref().or(before.as_ref()).map(|(o, _)| o.clone()) else {
            return Ok(());
        };
        let found = changes(Fact::CurrentValue {
            org_id: &org,
            before: before.as_ref().map(|(_, v)| v),
            after: after.as_ref().map(|(_, v)| v),
        });
        self.apply_changes(session, &found).await
    }

    /// After a write that may have moved `vehicle_id` in its fleet: the difference goes to the aggregates.
    async fn fleet_member_moved(
        &self,
        session: &mut ClientSession,
        vehicle_id: &str,
        before: FleetMember,
    ) -> StoreResult<()> {
        let (org, after) = self.fleet_member(session, vehicle_id).await?;
        if let Some(org) = org {
            let found = changes(Fact::FleetMember {
                org_id: &org,
                before,
                after,
            });
            self.apply_changes(session, &found).await?;
        }
        Ok(())
    }

    pub fn db(&self) -> &MongoDb {
        &self.db
    }

    /// Stats of the given vehicles, by vehicle id.
    async fn stats(&self, vehicle_ids: Vec<String>) -> StoreResult<HashMap<String, VehicleStats>> {
        if vehicle_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let found: Vec<StatsDoc> = (self.db.collection(VEHICLE_STATS).clone_with_type())
            .find(doc! { "_id": { "$in": vehicle_ids } })
            .await?
            .try_collect()
            .await?;
        Ok(found.into_iter().map(|d| (d.vehicle_id, d.stats)).collect())
    }

    async fn views(&self, vehicles: Vec<Document>) -> StoreResult<Vec<VehicleView>> {
        let counted = self.views_and_acquisitions(vehicles).await?;
        Ok(counted.into_iter().map(|(view, _)| view).collect())
    }

    /// The vehicles' views, each with how many acquisition records of it count.
    async fn views_and_acquisitions(
        &self,
        vehicles: Vec<Document>,
    ) -> StoreResult<Vec<(VehicleView, i64)>> {
        let ids = vehicles
            .iter()
            .map(|d| required_text(d, "_id"))
            .collect::<StoreResult<Vec<String>>>()?;
        let mut stats = self.stats(ids).await?;
        vehicles
            .iter()
            .map(|d| {
                let vehicle: Vehicle = decode_body(d)?;
                let stats = stats.remove(vehicle.id.as_str()).unwrap_or_default();
                let acquisitions = stats.acquisitions;
                Ok((stats.view(vehicle)?, acquisitions))
            })
            .collect()
    }
}

/// A `vehicle_stats` document: the vehicle's id and its stats.
#[derive(Debug, serde::Deserialize)]
struct StatsDoc {
    #[serde(rename = "_id")]
    vehicle_id: String,
    #[serde(flatten)]
    stats: VehicleStats,
}

/// A document's JSON `body`, decoded.
fn decode_body<T: DeserializeOwned>(d: &Document) -> StoreResult<T> {
    Ok(serde_json::from_str(&required_text(d, "body")?)?)
}

/// The documents' JSON bodies, decoded.
fn decode_bodies<T: DeserializeOwned>(docs: &[Document]) -> StoreResult<Vec<T>> {
    docs.iter().map(decode_body).collect()
}

/// The attention counts of a `maintenance` document: what the fleet totals add up.
#[derive(Debug, serde::Deserialize)]
struct AttentionDoc {
    #[serde(rename = "_id")]
    vehicle_id: String,
    #[serde(default)]
    due_soon: i64,
    #[serde(default)]
    overdue: i64,
}

/// The fields of a `current_valuations` document a fleet row shows.
#[derive(Debug, serde::Deserialize)]
struct RowValueDoc {
    #[serde(rename = "_id")]
    vehicle_id: String,
    amount: i64,
    currency: String,
    as_of: String,
}

/// The fields of a `vehicle_costs` document a fleet row reads.
#[derive(Debug, serde::Deserialize)]
struct LifetimeDoc {
    vehicle_id: String,
    currency: String,
    #[serde(default)]
    total_cents: i64,
    #[serde(default)]
    events: i64,
}

/// An organisation's `fleet_counts` document.
#[derive(Debug, Default, serde::Deserialize)]
struct FleetCountsDoc {
    #[serde(default)]
    vehicles: i64,
    #[serde(default)]
    due_soon: i64,
    #[serde(default)]
    overdue: i64,
    #[serde(default)]
    vehicles_overdue: i64,
}

/// A `fleet_values` document: an organisation's current values in one currency.
#[derive(Debug, serde::Deserialize)]
struct FleetValueDoc {
    currency: String,
    #[serde(default)]
    total_cents: i64,
    #[serde(default)]
    vehicles: i64,
}

/// The organisation and the counted value of a `current_valuations` document.
fn current_value_of(d: &Document) -> StoreResult<(String, CurrentValue)> {
    Ok((
        required_text(d, "org_id")?,
        CurrentValue {
            currency: required_text(d, "currency")?,
            cents: int(d, "amount")?.unwrap_or(0),
        },
    ))
}

/// The three aggregate documents a cost change moves, as (collection, key, the fields of a new document):
/// the vehicle's month, its organisation's month and the vehicle's lifetime total in the currency.
fn cost_documents(c: &CostChange) -> [(&'static str, String, Document); 3] {
    let kind = c.kind.as_str();
    [
        (
            COST_MONTHS,
            format!(
                "{}|{}|{}|{kind}|{}",
                c.org_id, c.vehicle_id, c.month, c.currency
            ),
            doc! { "org_id": &c.org_id, "vehicle_id": &c.vehicle_id, "month": &c.month,
            "kind": kind, "currency": &c.currency },
        ),
        (
            FLEET_COST_MONTHS,
            format!("{}|{}|{kind}|{}", c.org_id, c.month, c.currency),
            doc! { "org_id": &c.org_id, "month": &c.month, "kind": kind, "currency": &c.currency },
        ),
        (
            VEHICLE_COSTS,
            format!("{}|{}|{}", c.org_id, c.vehicle_id, c.currency),
            doc! { "org_id": &c.org_id, "vehicle_id": &c.vehicle_id, "currency": &c.currency },
        ),
    ]
}

/// A timeline record's stored fields: the JSON `body` beside the fields the pages and cost queries read.
fn timeline_record(e: &VehicleEvent, body: &str) -> Document {
    doc! {
        "org_id": &e.org_id,
        "vehicle_id": &e.vehicle_id,
        "kind": e.kind.as_str(),
        "occurred_at": ts(&e.occurred_at),
        "cost_cents": e.cost_cents.map(|c| c as i64),
        "currency": e.currency.as_deref(),
        "body": body,
    }
}

/// A document keyed by its vehicle, in the vehicle's organisation.
fn in_org(vehicle: &VehicleRef) -> Document {
    doc! { "org_id": &vehicle.org_id, "_id": &vehicle.vehicle_id }
}

/// The timeline page order: occurred_at, then id, descending.
fn newest_first() -> Document {
    doc! { "occurred_at": -1, "_id": -1 }
}

fn timeline_filter(timeline: &TimelineQuery<'_>) -> Document {
    let (vehicle, filter) = (timeline.vehicle, timeline.filter);
    let mut query = doc! { "org_id": &vehicle.org_id, "vehicle_id": &vehicle.vehicle_id };
    if !filter.kinds.is_empty() {
        let kinds: Vec<&str> = filter.kinds.iter().map(|k| k.as_str()).collect();
        query.insert("kind", doc! { "$in": kinds });
    }
    if !filter.include_voided {
        query.insert("voided", doc! { "$ne": true });
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
    if let Some(p) = timeline.page.after {
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

/// The feed query: the organisation's notifications (only unread ones if asked), strictly after `after`.
fn notification_filter(feed: Feed<'_>) -> Document {
    let mut query = doc! { "org_id": feed.org_id };
    if feed.unread_only {
        // Matches a missing field too, as SQLite's `read_at IS NULL` matches a row never marked read.
        query.insert("read_at", Bson::Null);
    }
    if let Some((created_at, id)) = feed.page.after {
        let at = ts(created_at);
        query.insert(
            "$or",
            vec![
                doc! { "created_at": { "$lt": &at } },
                doc! { "created_at": &at, "_id": { "$lt": id } },
            ],
        );
    }
    query
}

/// The query of the timeline events that carry a cost, in the organisation (or one vehicle), with
/// `occurred_at` in [from, to].
fn cost_filter(
    org_id: &str,
    vehicle_id: Option<&str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Document {
    let mut query =
        doc! { "org_id": org_id, "cost_cents": { "$ne": Bson::Null }, "voided": { "$ne": true } };
    if let Some(vehicle_id) = vehicle_id {
        query.insert("vehicle_id", vehicle_id);
    }
    let mut range = Document::new();
    if let Some(from) = from {
        range.insert("$gte", ts(&from));
    }
    if let Some(to) = to {
        range.insert("$lte", ts(&to));
    }
    if !range.is_empty() {
        query.insert("occurred_at", range);
    }
    query
}

/// Sums timeline rows into buckets by (vehicle, kind, `YYYY-MM` of occurred_at, currency), ordered by
/// month, vehicle, kind, as SQLite's `GROUP BY` does. Rows of an unknown kind are left out; a missing
/// currency is counted as USD (merged with an explicit one by `merge_buckets`, as the aggregates do).
fn cost_buckets_of(rows: &[Document]) -> StoreResult<Vec<CostBucket>> {
    type Key = (String, String, String, Option<String>);
    let mut sums: BTreeMap<Key, (i64, u64)> = BTreeMap::new();
    for row in rows {
        let Some(cents) = int(row, "cost_cents")? else {
            continue;
        };
        let occurred_at = required_text(row, "occurred_at")?;
        let month = occurred_at.get(..7).unwrap_or(&occurred_at).to_string();
        let key = (
            month,
            required_text(row, "vehicle_id")?,
            required_text(row, "kind")?,
            text(row, "currency")?,
        );
        let (total, events) = sums.entry(key).or_default();
        *total = total.saturating_add(cents);
        *events += 1;
    }
    Ok(sums
        .into_iter()
        .filter_map(|((month, vehicle_id, kind, currency), (total, events))| {
            Some(CostBucket {
                vehicle_id,
                kind: EventKind::parse(&kind)?,
                month,
                currency: currency.unwrap_or_else(|| "USD".into()),
                total_cents: total as u64,
                events,
            })
        })
        .collect())
}

/// A page size for the driver, `None` for an empty page: the driver reads a limit of 0 as "no limit".
fn page_limit(limit: usize) -> Option<i64> {
    (limit > 0).then(|| i64::try_from(limit).unwrap_or(i64::MAX))
}

/// The projected changes' effects, each inside the transaction that claims its envelope.
impl MongoEdgeStore {
    /// A registration's (or lifecycle change's) effect, inside the transaction that claims it.
    async fn register(&self, session: &mut ClientSession, vehicle: &Vehicle) -> StoreResult<()> {
        let v = vehicle;
        let body = serde_json::to_string(v)?;
        let (_, before) = self.fleet_member(session, &v.id).await?;
        let value_before = self.counted_value(session, &v.id).await?;
        // As in SQLite: a re-registration replaces the body but never moves the vehicle to another org.
        let update = doc! {
            "$set": { "body": body, "status": v.status.as_str() },
            "$setOnInsert": { "org_id": &v.org_id },
        };
        self.upsert_in(session, VEHICLES, &v.id, update).await?;
        self.value_moved(session, &v.id, value_before).await?;
        self.fleet_member_moved(session, &v.id, before).await?;
        if v.status != VehicleStatus::Active {
            // As in SQLite: a sold or archived vehicle's reminders no longer hold.
            let reminders = doc! {
                "org_id": &v.org_id, "vehicle_id": &v.id, "reminded_at": { "$ne": Bson::Null },
            };
            self.read_reminders(session, reminders).await?;
        }
        Ok(())
    }

    /// A timeline event's effect (see [`Projected::Event`]).
    async fn record(
        &self,
        session: &mut ClientSession,
        event: &VehicleEvent,
        traceparent: Option<&str>,
    ) -> StoreResult<bool> {
        let e = event;
        let at = ts(&e.occurred_at);
        let mut record = timeline_record(e, &serde_json::to_string(e)?);
        record.insert("traceparent", traceparent);
        let insert = doc! { "$setOnInsert": record };
        let inserted = self.upsert_in(session, TIMELINE, &e.id, insert).await?;
        if inserted.upserted_id.is_none() {
            // The same timeline event under another envelope id (a re-publish): no second effect.
            return Ok(false);
        }
        let counted = doc! { "$inc": { "event_count": 1_i64 }, "$max": { "last_event_at": &at } };
        self.upsert_in(session, VEHICLE_STATS, &e.vehicle_id, counted)
            .await?;
        if let Some(odometer) = e.odometer {
            // The highest reading (the latest of equal ones) wins, whatever order the events arrive in:
            // a lower one is a rollback, as the scheduler reads it (SQLite's `UPDATE vehicle_stats`).
            let odometer_i64 = odometer as i64;
            (self.db.collection(VEHICLE_STATS))
                .update_one(
                    doc! {
                        "_id": &e.vehicle_id,
                        "$or": [
                            { "odometer": Bson::Null },
                            { "odometer": { "$lt": odometer_i64 } },
                            { "odometer": odometer_i64, "odometer_at": { "$lte": &at } },
                        ],
                    },
                    doc! { "$set": { "odometer": odometer as i64, "odometer_at": &at } },
                )
                .session(&mut *session)
                .await?;
        }
        self.apply_changes(session, &changes(Fact::EventRecorded(e)))
            .await?;
        Ok(true)
    }

    /// An evaluation's effect (see [`Projected::Maintenance`]).
    async fn evaluate(
        &self,
        session: &mut ClientSession,
        org_id: &OrgId,
        update: &MaintenanceScheduleUpdated,
    ) -> StoreResult<()> {
        let evaluated_at = ts(&update.evaluated_at);
        // Read before writing: an upsert filtered on the evaluation time would hit the existing `_id` when
        // a newer evaluation is stored, and a duplicate key aborts the transaction. A concurrent writer
        // makes this transaction meet a write conflict, which is retried.
        let stored = self
            .find_in(
                session,
                MAINTENANCE,
                &update.vehicle_id,
                doc! { "evaluated_at": 1 },
            )
            .await?;
        if let Some(stored) = stored
            && text(&stored, "evaluated_at")?.is_some_and(|newer| newer > evaluated_at)
        {
            // Evaluations may arrive out of order: the newest one wins, an older one is only claimed.
            return Ok(());
        }
        let (due_soon, overdue) = attention_counts(&update.items);
        let (org, before) = self.fleet_member(session, &update.vehicle_id).await?;
        let evaluation = doc! {
            "$set": {
                "body": serde_json::to_string(update)?,
                "due_soon": due_soon,
                "overdue": overdue,
                "evaluated_at": &evaluated_at,
            },
            // As in SQLite: a later evaluation never moves the view to another org.
            "$setOnInsert": { "org_id": org_id },
        };
        self.upsert_in(session, MAINTENANCE, &update.vehicle_id, evaluation)
            .await?;
        // An evaluation moves only the attention counts, to its own: the membership read before stands (as
        // in SQLite's `attention_member`).
        if let Some(org) = org {
            let after = FleetMember::of(before.counted, Some((due_soon, overdue)));
            let found = changes(Fact::FleetMember {
                org_id: &org,
                before,
                after,
            });
            self.apply_changes(session, &found).await?;
        }
        // The reminders this newest evaluation settled (as in SQLite's `read_settled_reminders`).
        let settled: Vec<&str> = settled_tasks(update).collect();
        if !settled.is_empty() {
            let reminders = doc! {
                "org_id": org_id, "vehicle_id": &update.vehicle_id, "task": { "$in": settled },
                "reminded_at": { "$lt": &evaluated_at },
            };
            self.read_reminders(session, reminders).await?;
        }
        Ok(())
    }

    /// Marks the unread reminders `filter` selects read, now.
    async fn read_reminders(
        &self,
        session: &mut ClientSession,
        mut filter: Document,
    ) -> StoreResult<()> {
        filter.insert("read_at", Bson::Null);
        (self.db.collection(NOTIFICATIONS))
            .update_many(
                filter,
                doc! { "$set": { "read_at": ts(&vwc_clock::now()) } },
            )
            .session(&mut *session)
            .await?;
        Ok(())
    }

    /// Whether a reminder arriving now no longer holds (as in SQLite's `reminder_done`): a newer reminder
    /// about its item is in the feed, or the vehicle's stored evaluation ran after it and settled the item.
    async fn reminder_done(
        &self,
        session: &mut ClientSession,
        org_id: &OrgId,
        item: &ReminderItem,
    ) -> StoreResult<bool> {
        let newer = (self.db.collection(NOTIFICATIONS))
            .find_one(doc! {
                "org_id": org_id, "vehicle_id": &item.vehicle_id, "task": &item.task,
                "reminded_at": { "$gt": ts(&item.reminded_at) },
            })
            .projection(doc! { "_id": 1 })
            .session(&mut *session)
            .await?;
        if newer.is_some() {
            return Ok(true);
        }
        // As in SQLite: a reminder about a sold or archived vehicle no longer holds.
        let retired: Option<Document> = (self.db.collection(VEHICLES))
            .find_one(doc! {
                "_id": &item.vehicle_id, "org_id": org_id, "status": { "$in": &RETIRED[..] },
            })
            .projection(doc! { "_id": 1 })
            .session(&mut *session)
            .await?;
        if retired.is_some() {
            return Ok(true);
        }
        let stored: Option<Document> = self
            .find_in(
                session,
                MAINTENANCE,
                &item.vehicle_id,
                doc! { "org_id": 1, "body": 1 },
            )
            .await?;
        let Some(stored) =
            stored.filter(|d| text(d, "org_id").ok().flatten().as_deref() == Some(org_id.as_str()))
        else {
            return Ok(false);
        };
        let evaluation: MaintenanceScheduleUpdated = decode_body(&stored)?;
        Ok(item.settled_by(&evaluation))
    }

    /// A delivery's effect (see [`Projected::Notification`]).
    async fn notify(
        &self,
        session: &mut ClientSession,
        org_id: &OrgId,
        delivered: &NotificationDelivered,
    ) -> StoreResult<()> {
        let Some(view) = NotificationView::in_app(delivered) else {
            return Ok(());
        };
        let item = ReminderItem::of(delivered);
        let done = match &item {
            Some(item) => self.reminder_done(session, org_id, item).await?,
            None => false,
        };
        let now = ts(&vwc_clock::now());
        // Insert-or-ignore by notification id: a re-delivery under another envelope keeps the first
        // record, and so its read state.
        let mut fields = doc! {
            "org_id": org_id,
            "body": serde_json::to_string(&view)?,
            "created_at": ts(&view.created_at),
            "read_at": if done { Bson::String(now) } else { Bson::Null },
        };
        if let Some(item) = &item {
            fields.insert("vehicle_id", &item.vehicle_id);
            fields.insert("task", &item.task);
            fields.insert("reminded_at", ts(&item.reminded_at));
        }
        let inserted = self
            .upsert_in(
                session,
                NOTIFICATIONS,
                &view.id,
                doc! { "$setOnInsert": fields },
            )
            .await?
            .upserted_id
            .is_some();
        if let (true, false, Some(item)) = (inserted, done, &item) {
            let older = doc! {
                "org_id": org_id, "vehicle_id": &item.vehicle_id, "task": &item.task,
                "reminded_at": { "$lt": ts(&item.reminded_at) },
            };
            self.read_reminders(session, older).await?;
        }
        Ok(())
    }

    /// A valuation point's effect (see [`Projected::Valuation`]).
    async fn value(
        &self,
        session: &mut ClientSession,
        org_id: &OrgId,
        update: &ValuationUpdated,
    ) -> StoreResult<()> {
        let v = &update.valuation;
        let body = serde_json::to_string(v)?;
        let computed_at = ts(&update.computed_at);
        let as_of = v.as_of.to_string();
        let (collection, key) = if v.kind == ValuationPointKind::Current {
            (CURRENT_VALUATIONS, update.vehicle_id.clone())
        } else {
            (VALUATIONS, format!("{}/{as_of}", update.vehicle_id))
        };
        // Read before writing (see `evaluate`): an older computation is only claimed.
        let fields = doc! { "as_of": 1, "computed_at": 1, "org_id": 1, "currency": 1, "amount": 1 };
        let stored = self.find_in(session, collection, &key, fields).await?;
        if let Some(stored) = &stored {
            let stored_key = (
                text(stored, "as_of")?.unwrap_or_default(),
                text(stored, "computed_at")?.unwrap_or_default(),
            );
            if stored_key > (as_of.clone(), computed_at.clone()) {
                return Ok(());
            }
        }
        // Whether the fleet counts the vehicle's value (active, or not in the read model yet) and the value
        // it counted: read once, before the write, which then moves it to this value (as in SQLite's
        // `value_held`).
        let counted = collection == CURRENT_VALUATIONS
            && self
                .find_in(session, VEHICLES, &update.vehicle_id, doc! { "status": 1 })
                .await?
                .is_none_or(|d| is_active(&d));
        let held = match &stored {
            Some(stored) if counted => Some(current_value_of(stored)?),
            _ => None,
        };
        let point = doc! {
            "$set": {
                "vehicle_id": &update.vehicle_id,
                "as_of": &as_of,
                "amount": v.amount_cents as i64,
                "currency": &v.currency,
                "body": body,
                "computed_at": &computed_at,
            },
            "$setOnInsert": { "org_id": org_id },
        };
        self.upsert_in(session, collection, &key, point).await?;
        if counted {
            let org = held.as_ref().map_or(org_id.as_str(), |(o, _)| o.as_str());
            let after = CurrentValue {
                currency: v.currency.clone(),
                cents: v.amount_cents as i64,
            };
            let found = changes(Fact::CurrentValue {
                org_id: org,
                before: held.as_ref().map(|(_, v)| v),
                after: Some(&after),
            });
            self.apply_changes(session, &found).await?;
        }
        Ok(())
    }

    /// A revision's effect (see [`Projected::Revision`]).
    async fn revise(
        &self,
        session: &mut ClientSession,
        revision: &TimelineRevision,
    ) -> StoreResult<()> {
        let r = revision;
        let e = &r.event;
        let held_fields = doc! { "revision": 1, "org_id": 1, "voided": 1, "body": 1 };
        let held = self.find_in(session, TIMELINE, &e.id, held_fields).await?;
        let newer = match &held {
            None => true,
            Some(d) => {
                required_text(d, "org_id")? == e.org_id.as_str()
                    && int(d, "revision")?.unwrap_or(1) < i64::from(r.revision)
            }
        };
        if newer {
            // What the record counted in the cost aggregates before (nothing when voided or absent).
            let before: Option<VehicleEvent> = held
                .filter(|d| !matches!(d.get("voided"), Some(Bson::Boolean(true))))
                .map(|d| decode_body(&d))
                .transpose()?;
            let found = changes(Fact::EventRevised {
                before: before.as_ref(),
                after: (!r.voided).then_some(e),
            });
            self.apply_changes(session, &found).await?;
            let mut revised = timeline_record(e, &r.json);
            revised.insert("revision", i64::from(r.revision));
            revised.insert("voided", r.voided);
            self.upsert_in(session, TIMELINE, &e.id, doc! { "$set": revised })
                .await?;
        }
        self.recount(session, e.org_id.as_str(), &e.vehicle_id)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl EdgeStore for MongoEdgeStore {
    async fn apply(&self, delivery: &Delivery<'_>, change: Projected<'_>) -> StoreResult<bool> {
        let org_id = delivery.org_id;
        Ok(vwc_store::mongo_transaction!(self.db, |session| async {
            // The envelope id is claimed in the inbox first: a duplicate delivery answers `false`
            // without the effect.
            if !(self.db)
                .claim_inbox(session, CONSUMER, delivery.envelope_id)
                .await?
            {
                return Ok(false);
            }
            // Every change but a re-published event is applied (an outdated one only claimed).
            match change {
                Projected::Event(event) => {
                    return self.record(session, event, delivery.traceparent).await;
                }
                Projected::Vehicle(vehicle) => self.register(session, vehicle).await?,
                Projected::Maintenance(update) => self.evaluate(session, org_id, update).await?,
                Projected::Notification(delivered) => {
                    self.notify(session, org_id, delivered).await?
                }
                Projected::Valuation(update) => self.value(session, org_id, update).await?,
                Projected::Revision(revision) => self.revise(session, revision).await?,
            }
            Ok(true)
        }))
    }

    async fn vehicles(
        &self,
        org_id: &OrgId,
        page: Page<'_, VehicleId>,
    ) -> StoreResult<Vec<VehicleView>> {
        let after = page.after.map_or("", VehicleId::as_str);
        let filter = doc! { "org_id": org_id, "_id": { "$gt": after } };
        let vehicles = self
            .page(VEHICLES, filter, doc! { "_id": 1 }, page.limit)
            .await?;
        self.views(vehicles).await
    }

    async fn vehicle(&self, vehicle: &VehicleRef) -> StoreResult<Option<VehicleView>> {
        let found = self
            .db
            .collection(VEHICLES)
            .find_one(in_org(vehicle))
            .await?;
        match found {
            Some(d) => Ok(self.views(vec![d]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn events(&self, query: &TimelineQuery<'_>) -> StoreResult<Vec<VehicleEvent>> {
        let (filter, limit) = (timeline_filter(query), query.page.limit);
        let page = self.page(TIMELINE, filter, newest_first(), limit).await?;
        decode_bodies(&page)
    }

    /// The stored JSON as it is: a corrected or voided record's body carries its marks.
    async fn timeline_page(&self, query: &TimelineQuery<'_>) -> StoreResult<Option<TimelinePage>> {
        if self.vehicle(query.vehicle).await?.is_none() {
            return Ok(None);
        }
        let mut page = TimelinePageBuilder::new(query.page.limit);
        let Some(rows) = page_limit(page.rows()) else {
            return Ok(Some(page.finish()));
        };
        let cursor = self
            .db
            .collection(TIMELINE)
            .find(timeline_filter(query))
            .sort(doc! { "occurred_at": -1, "_id": -1 })
            .limit(rows)
            .await?;
        for d in collect(cursor).await? {
            let json = required_text(&d, "body")?;
            let position = || {
                timeline_page::position(
                    &required_text(&d, "occurred_at")?,
                    &required_text(&d, "_id")?,
                )
            };
            if !page.push(json.as_bytes(), position)? {
                break;
            }
        }
        Ok(Some(page.finish()))
    }

    async fn maintenance(&self, vehicle: &VehicleRef) -> StoreResult<Option<MaintenanceView>> {
        let update = self.db.find_body(MAINTENANCE, in_org(vehicle)).await?;
        Ok(update.map(MaintenanceView::of))
    }

    async fn notifications(&self, feed: Feed<'_>) -> StoreResult<Vec<NotificationView>> {
        let filter = notification_filter(feed);
        let newest_first = doc! { "created_at": -1, "_id": -1 };
        let page = self
            .page(NOTIFICATIONS, filter, newest_first, feed.page.limit)
            .await?;
        page.iter()
            .map(|d| {
                let mut view: NotificationView = decode_body(d)?;
                view.read_at = text(d, "read_at")?.as_deref().map(parse_ts).transpose()?;
                Ok(view)
            })
            .collect()
    }

    async fn mark_notification_read(
        &self,
        notification: NotificationRef<'_>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // An update pipeline, so keeping the first read time is one atomic write (SQLite's `coalesce`);
        // `matched_count` counts a notification already read, so marking again still answers `true`.
        let result = self
            .db
            .collection(NOTIFICATIONS)
            .update_one(
                doc! { "org_id": notification.org_id, "_id": notification.id },
                vec![doc! { "$set": {
                    "read_at": { "$ifNull": [ "$read_at", { "$literal": ts(&at) } ] },
                } }],
            )
            .await?;
        Ok(result.matched_count == 1)
    }

    async fn mark_notifications_read(
        &self,
        org_id: &OrgId,
        through: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<u64>> {
        let notifications = self.db.collection(NOTIFICATIONS);
        // Matches a missing field too, as SQLite's `read_at IS NULL` matches a row never marked read.
        let mut filter = doc! { "org_id": org_id.as_str(), "read_at": Bson::Null };
        if let Some(id) = through {
            let found = notifications
                .find_one(doc! { "org_id": org_id.as_str(), "_id": id })
                .projection(doc! { "created_at": 1 })
                .await?;
            let Some(found) = found else {
                return Ok(None);
            };
            let created_at = text(&found, "created_at")?.unwrap_or_default();
            filter.insert(
                "$or",
                vec![
                    doc! { "created_at": { "$lt": &created_at } },
                    doc! { "created_at": &created_at, "_id": { "$lte": id } },
                ],
            );
        }
        let result = notifications
            .update_many(filter, doc! { "$set": { "read_at": ts(&at) } })
            .await?;
        Ok(Some(result.modified_count))
    }

    async fn cost_months(
        &self,
        CostsOf { org_id, scope }: CostsOf<'_>,
        months: &MonthRange,
    ) -> StoreResult<Vec<CostBucket>> {
        let mut filter = doc! { "org_id": org_id };
        let collection = match scope {
            CostScope::Fleet => FLEET_COST_MONTHS,
            CostScope::Vehicle(vehicle_id) => {
                filter.insert("vehicle_id", vehicle_id);
                COST_MONTHS
            }
            CostScope::EachVehicle => COST_MONTHS,
        };
        filter_months(&mut filter, months);
        let rows: Vec<CostRow> = (self.db.collection(collection).clone_with_type())
            .find(filter)
            .projection(doc! {
                "_id": 0, "vehicle_id": 1, "kind": 1, "month": 1, "currency": 1, "total_cents": 1, "events": 1,
            })
            .await?
            .try_collect()
            .await?;
        Ok(rows.into_iter().filter_map(CostRow::bucket).collect())
    }

    async fn costs_between(
        &self,
        of: CostsOf<'_>,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
    ) -> StoreResult<Vec<CostBucket>> {
        let vehicle_id = of.scope.vehicle_id().map(VehicleId::as_str);
        // Folded here rather than in a `$group` stage: the rows are at most a month's costly events of
        // the org, and the grouping then matches the SQLite adapter's by construction.
        let cursor = self
            .db
            .collection(TIMELINE)
            .find(cost_filter(of.org_id, vehicle_id, Some(from), Some(to)))
            .projection(doc! {
                "_id": 0, "vehicle_id": 1, "kind": 1, "occurred_at": 1, "cost_cents": 1, "currency": 1,
            })
            .await?;
        cost_buckets_of(&collect(cursor).await?)
    }

    async fn vehicle_cost_totals(&self, totals: VehicleTotals<'_>) -> StoreResult<Vec<CostTotal>> {
        let (after, limit) = (totals.page.after, totals.page.limit);
        let mut filter = doc! { "org_id": totals.org_id };
        if let Some(after) = after {
            filter.insert("vehicle_id", doc! { "$gte": &after.vehicle_id });
        }
        filter_months(&mut filter, totals.months);
        // Read in (vehicle, currency) order through `{org_id, vehicle_id, currency, month}` and stop at
        // the first row past the page.
        let mut rows = self
            .db
            .collection(COST_MONTHS)
            .clone_with_type::<CostMonthRow>()
            .find(filter)
            .sort(doc! { "vehicle_id": 1, "currency": 1 })
            .projection(
                doc! { "_id": 0, "vehicle_id": 1, "currency": 1, "total_cents": 1, "events": 1 },
            )
            .batch_size(u32::try_from(limit.clamp(16, 1_000)).unwrap_or(1_000))
            .await?;
        let mut page = VehicleTotalsPage::new(after, limit);
        while let Some(row) = rows.try_next().await? {
            let (cents, events) = (row.total_cents.max(0) as u64, row.events.max(0) as u64);
            if !page.push(&row.vehicle_id, &row.currency, cents, events) {
                break;
            }
        }
        Ok(page.finish())
    }

    async fn fleet_counts(&self, org_id: &OrgId) -> StoreResult<FleetCounts> {
        let found: Option<FleetCountsDoc> = (self.db.collection(FLEET_COUNTS).clone_with_type())
            .find_one(doc! { "_id": org_id })
            .await?;
        let d = found.unwrap_or_default();
        let count = |n: i64| n.max(0) as u64;
        Ok(FleetCounts {
            vehicles: count(d.vehicles),
            due_soon: count(d.due_soon),
            overdue: count(d.overdue),
            vehicles_overdue: count(d.vehicles_overdue),
        })
    }

    async fn fleet(&self, org_id: &OrgId, page: Page<'_, VehicleId>) -> StoreResult<Vec<FleetRow>> {
        // Sold and archived vehicles leave the fleet (a missing status is an active vehicle).
        let filter = doc! {
            "org_id": org_id,
            "_id": { "$gt": page.after.map_or("", VehicleId::as_str) },
            "status": { "$nin": &RETIRED[..] },
        };
        let active = self
            .page(VEHICLES, filter, doc! { "_id": 1 }, page.limit)
            .await?;
        let vehicles = self.views_and_acquisitions(active).await?;
        if vehicles.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = vehicles
            .iter()
            .map(|(v, _)| v.vehicle.id.as_str())
            .collect();
        // The page's lifetime costs, one query.
        let lifetime: Vec<LifetimeDoc> = (self.db.collection(VEHICLE_COSTS).clone_with_type())
            .find(doc! { "org_id": org_id, "vehicle_id": { "$in": ids.clone() } })
            .projection(
                doc! { "_id": 0, "vehicle_id": 1, "currency": 1, "total_cents": 1, "events": 1 },
            )
            .await?
            .try_collect()
            .await?;
        let mut recorded: HashMap<String, Vec<(String, i64, i64)>> = HashMap::new();
        for d in lifetime {
            let costs = recorded.entry(d.vehicle_id).or_default();
            costs.push((d.currency, d.total_cents, d.events));
        }
        let evaluated: Vec<AttentionDoc> = (self.db.collection(MAINTENANCE).clone_with_type())
            .find(doc! { "org_id": org_id, "_id": { "$in": ids.clone() } })
            .projection(doc! { "due_soon": 1, "overdue": 1 })
            .await?
            .try_collect()
            .await?;
        let count = |n: i64| u32::try_from(n).unwrap_or(0);
        let counts: HashMap<String, (u32, u32)> = (evaluated.into_iter())
            .map(|a| (a.vehicle_id, (count(a.due_soon), count(a.overdue))))
            .collect();
        // The current values `current_valuation` reads (and the fleet value sums), one query for the page.
        let valued: Vec<RowValueDoc> = (self.db.collection(CURRENT_VALUATIONS).clone_with_type())
            .find(doc! { "org_id": org_id, "_id": { "$in": ids } })
            .projection(doc! { "amount": 1, "currency": 1, "as_of": 1 })
            .await?
            .try_collect()
            .await?;
        let mut values: HashMap<String, RowValue> = HashMap::new();
        for v in valued {
            values.insert(
                v.vehicle_id,
                RowValue::stored(v.amount, v.currency, &v.as_of)?,
            );
        }
        Ok(vehicles
            .into_iter()
            .map(|(vehicle, acquisitions)| {
                let id = vehicle.vehicle.id.as_str();
                let (due_soon, overdue) = counts.get(id).copied().unwrap_or((0, 0));
                let current_value = values.remove(id);
                let purchase_recorded = acquisitions > 0;
                let costs = recorded.remove(id).unwrap_or_default();
                FleetRow {
                    lifetime_cost: LifetimeCost::of(&vehicle.vehicle, purchase_recorded, costs),
                    purchase_recorded,
                    vehicle,
                    due_soon,
                    overdue,
                    current_value,
                }
            })
            .collect())
    }

    async fn valuations(
        &self,
        vehicle: &VehicleRef,
        page: Page<'_, chrono::NaiveDate>,
    ) -> StoreResult<Vec<Valuation>> {
        let before = valuations_before(page.after.copied());
        let (org_id, vehicle_id) = (&vehicle.org_id, &vehicle.vehicle_id);
        let filter =
            doc! { "org_id": org_id, "vehicle_id": vehicle_id, "as_of": { "$lt": before } };
        let points = self
            .page(VALUATIONS, filter, doc! { "as_of": -1 }, page.limit)
            .await?;
        decode_bodies(&points)
    }

    async fn current_valuation(&self, vehicle: &VehicleRef) -> StoreResult<Option<Valuation>> {
        self.db.find_body(CURRENT_VALUATIONS, in_org(vehicle)).await
    }

    async fn fuel_vehicles(&self, org_id: &OrgId) -> StoreResult<Vec<VehicleId>> {
        let ids = self
            .db
            .collection(TIMELINE)
            .distinct(
                "vehicle_id",
                doc! { "org_id": org_id, "kind": "fuel", "voided": { "$ne": true } },
            )
            .await?;
        let mut ids: Vec<String> = ids
            .into_iter()
            .filter_map(|b| b.as_str().map(str::to_string))
            .collect();
        ids.sort();
        Ok(ids.into_iter().map(VehicleId::from).collect())
    }

    async fn fleet_value(&self, org_id: &OrgId) -> StoreResult<Vec<FleetValue>> {
        let values: Vec<FleetValueDoc> = (self.db.collection(FLEET_VALUES).clone_with_type())
            .find(doc! { "org_id": org_id, "vehicles": { "$gt": 0_i64 } })
            .sort(doc! { "org_id": 1, "currency": 1 })
            .await?
            .try_collect()
            .await?;
        Ok(values
            .into_iter()
            .map(|v| FleetValue {
                currency: v.currency,
                total_cents: v.total_cents.max(0) as u64,
                vehicles: v.vehicles.max(0) as u64,
            })
            .collect())
    }
}

/// Statuses of vehicles that left the fleet.
const RETIRED: [&str; 2] = ["sold", "archived"];

impl MongoEdgeStore {
    /// Recomputes a vehicle's event count, last event and odometer over its records that are not voided:
    /// a walk of the timeline's page index (naming the organisation; by the vehicle alone the find would
    /// scan every organisation's timeline).
    async fn recount(
        &self,
        session: &mut ClientSession,
        org_id: &str,
        vehicle_id: &str,
    ) -> StoreResult<()> {
        let mut cursor = self
            .db
            .collection(TIMELINE)
            .find(doc! { "org_id": org_id, "vehicle_id": vehicle_id, "voided": { "$ne": true } })
            .sort(doc! { "occurred_at": -1, "_id": -1 })
            .projection(doc! { "occurred_at": 1, "body": 1 })
            .session(&mut *session)
            .await?;
        let (mut count, mut last, mut odometer) = (0_i64, None::<String>, None::<(i64, String)>);
        while let Some(d) = cursor.next(&mut *session).await.transpose()? {
            count += 1;
            let at = required_text(&d, "occurred_at")?;
            if last.is_none() {
                last = Some(at.clone());
            }
            // Newest first: the first of the highest readings is the latest of them.
            let event: VehicleEvent = serde_json::from_str(&required_text(&d, "body")?)?;
            if let Some(value) = event.odometer.map(|o| o as i64)
                && odometer
                    .as_ref()
                    .is_none_or(|(highest, _)| value > *highest)
            {
                odometer = Some((value, at));
            }
        }
        let (odo, odo_at) = match odometer {
            Some((v, at)) => (Bson::Int64(v), Bson::String(at)),
            None => (Bson::Null, Bson::Null),
        };
        let stats = doc! { "$set": {
            "event_count": count,
            "last_event_at": last.map_or(Bson::Null, Bson::String),
            "odometer": odo,
            "odometer_at": odo_at,
        } };
        self.upsert_in(session, VEHICLE_STATS, vehicle_id, stats)
            .await?;
        Ok(())
    }
}

impl Plumbed for MongoEdgeStore {
    type Db = MongoDb;
    fn plumbing(&self) -> &MongoDb {
        &self.db
    }
}

/// Whether a `vehicles` document (with its `status`) counts in the fleet: active, or written before
/// vehicles had a status.
fn is_active(d: &Document) -> bool {
    d.get_str("status").map_or(true, |s| s == "active")
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use vwc_contracts::EventKind;

    use super::*;
    use crate::store::{EventFilter, TimelinePosition};

    #[test]
    fn the_page_position_is_strictly_after_by_time_then_id() {
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        let filter = EventFilter {
            kinds: vec![EventKind::Repair, EventKind::Maintenance],
            from: Some(at),
            to: None,
            include_voided: false,
        };
        let position = TimelinePosition {
            occurred_at: at,
            id: "evt_9".into(),
        };
        let vehicle = VehicleRef::new("org_a", "veh_1");
        let q = timeline_filter(&TimelineQuery {
            vehicle: &vehicle,
            filter: &filter,
            page: Page::after(Some(&position), 10),
        });
        let t = ts(&at);
        assert_eq!(
            q,
            doc! {
                "org_id": "org_a",
                "vehicle_id": "veh_1",
                "kind": { "$in": ["repair", "maintenance"] },
                "voided": { "$ne": true },
                "occurred_at": { "$gte": &t },
                "$or": [
                    { "occurred_at": { "$lt": &t } },
                    { "occurred_at": &t, "_id": { "$lt": "evt_9" } },
                ],
            }
        );
    }

    #[test]
    fn the_feed_position_is_strictly_after_by_time_then_id_among_unread_ones() {
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        let (t, org_a, after) = (ts(&at), OrgId::from("org_a"), (at, "ntf_9".to_string()));
        let unread_after = Feed {
            org_id: &org_a,
            unread_only: true,
            page: Page::after(Some(&after), 10),
        };
        assert_eq!(
            notification_filter(unread_after),
            doc! {
                "org_id": "org_a",
                "read_at": Bson::Null,
                "$or": [
                    { "created_at": { "$lt": &t } },
                    { "created_at": &t, "_id": { "$lt": "ntf_9" } },
                ],
            }
        );
        assert_eq!(
            notification_filter(Feed {
                org_id: &org_a,
                unread_only: false,
                page: Page::first(10)
            }),
            doc! { "org_id": "org_a" }
        );
    }

    #[test]
    fn the_cost_query_keeps_only_costly_events_in_an_inclusive_range() {
        let from = Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap();
        assert_eq!(
            cost_filter("org_a", Some("veh_1"), Some(from), Some(to)),
            doc! {
                "org_id": "org_a",
                "cost_cents": { "$ne": Bson::Null },
                "voided": { "$ne": true },
                "vehicle_id": "veh_1",
                "occurred_at": { "$gte": ts(&from), "$lte": ts(&to) },
            }
        );
        assert_eq!(
            cost_filter("org_a", None, None, None),
            doc! { "org_id": "org_a", "cost_cents": { "$ne": Bson::Null }, "voided": { "$ne": true } }
        );
    }

    #[test]
    fn costs_are_summed_by_vehicle_kind_month_and_currency_in_month_order() {
        let row = |vehicle: &str, kind: &str, at: &str, cents: Bson, currency: Bson| {
            doc! { "vehicle_id": vehicle, "kind": kind, "occurred_at": at, "cost_cents": cents, "currency": currency }
        };
        let rows = [
            row(
                "veh_2",
                "repair",
                "2024-07-02T08:00:00.000000Z",
                Bson::Int64(300),
                "USD".into(),
            ),
            row(
                "veh_1",
                "repair",
                "2024-06-03T08:00:00.000000Z",
                Bson::Int64(100),
                "USD".into(),
            ),
            row(
                "veh_1",
                "repair",
                "2024-06-20T08:00:00.000000Z",
                Bson::Int32(50),
                "USD".into(),
            ),
            row(
                "veh_1",
                "repair",
                "2024-06-21T08:00:00.000000Z",
                Bson::Int64(70),
                "EUR".into(),
            ),
            row(
                "veh_1",
                "maintenance",
                "2024-06-04T08:00:00.000000Z",
                Bson::Int64(40),
                Bson::Null,
            ),
            row(
                "veh_1",
                "repair",
                "2024-06-05T08:00:00.000000Z",
                Bson::Null,
                "USD".into(),
            ),
            row(
                "veh_1",
                "teleport",
                "2024-06-05T08:00:00.000000Z",
                Bson::Int64(1),
                "USD".into(),
            ),
        ];
        let bucket = |vehicle: &str, kind, month: &str, currency: &str, total, events| CostBucket {
            vehicle_id: vehicle.into(),
            kind,
            month: month.into(),
            currency: currency.into(),
            total_cents: total,
            events,
        };
        assert_eq!(
            cost_buckets_of(&rows).unwrap(),
            vec![
                bucket("veh_1", EventKind::Maintenance, "2024-06", "USD", 40, 1),
                bucket("veh_1", EventKind::Repair, "2024-06", "EUR", 70, 1),
                bucket("veh_1", EventKind::Repair, "2024-06", "USD", 150, 2),
                bucket("veh_2", EventKind::Repair, "2024-07", "USD", 300, 1),
            ]
        );
    }

    #[test]
    fn an_empty_page_is_never_an_unlimited_query() {
        assert_eq!(page_limit(0), None);
        assert_eq!(page_limit(25), Some(25));
    }
}
