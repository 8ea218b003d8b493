//! The edge's one-time fills on a database an older version wrote: the aggregates (`cost_months`,
//! `fleet_cost_months`, `fleet_counts`, `fleet_values`, marker `edge_meta/aggregates`), the lifetime
//! totals (`vehicle_costs`, `vehicle_stats.acquisitions`, marker `edge_meta/lifetime`) and the fleet's
//! vehicles with an item overdue (`fleet_counts.vehicles_overdue`, marker `edge_meta/overdue_vehicles`),
//! recomputed from the projection (timeline, vehicles, maintenance, current valuations).
//!
//! # Units
//!
//! A fill is a run of **units**, each its own transaction over at most [`FillPlan::unit`] vehicles (or
//! current valuations), so no transaction grows with the database (MongoDB aborts one older than
//! `transactionLifetimeLimitSeconds`, 60 s by default). The fill of the aggregates has three passes, the
//! lifetime fill and the overdue vehicles' one each:
//! - **costs**: the next vehicles of the timeline in (organisation, vehicle) order. Each vehicle's live
//!   costly records (not voided) are folded through [`changes`], the rules of the incremental path, and
//!   its own documents — `cost_months`, `vehicle_costs`, `vehicle_stats.acquisitions` — are **set** to
//!   the result: a stale document is deleted, one that differs is replaced, one that already holds the
//!   result is not written. The aggregates' pass also **adds** the vehicles' months to their
//!   organisation's `fleet_cost_months`.
//! - **members**: the next vehicles of `vehicles` by id; each active one adds itself and its attention
//!   counts to its organisation's `fleet_counts`.
//! - **values**: the next `current_valuations` by id; each whose vehicle is not sold or archived adds its
//!   value to its organisation's `fleet_values`.
//! - **overdue vehicles**: the members pass for `vehicles_overdue` alone (a database whose aggregates an
//!   older version filled, before the field was counted: it holds none, so adding the shares is right).
//!
//! # Exactly once, resumable
//!
//! Every unit reads the position `edge_meta/<marker>.progress` (pass, last key done, units so far) inside
//! its transaction, does the next vehicles after it and writes the advanced position in the same
//! transaction. A unit therefore commits whole or not at all: a process killed half-way leaves the units
//! before it committed and the next start (any process) continues after them. Two processes filling at
//! once both write the position document, so one of two units over the same vehicles meets a write
//! conflict; `mongo_transaction!` runs it again on a new snapshot, where it reads the advanced position
//! and takes the next vehicles — no vehicle is added to an organisation's total twice. The markers are
//! set in the transaction of the last unit (the fill of the aggregates sets `lifetime` too: its costs
//! pass has set the lifetime documents), so a process that finds a marker finds the whole work done.
//!
//! # Beside the consumer
//!
//! An organisation's totals sum its vehicles, so no bounded unit can set them; units add their vehicles'
//! share. That is right only while no incremental change reaches those totals before the fill ends:
//! a change projected before its vehicle's unit would be counted once by the consumer and again in the
//! unit's sum. This version's consumer starts after [`MongoEdgeStore::with_db`] returns, which is after
//! the markers are set — by this process, or by another one whose last unit it waited for. (A process of
//! an older version consuming during the fill would leave the totals without its later changes, as it did
//! with the single-transaction fill; stop those first.)
//!
//! A vehicle's own documents need no such order, as each is set from the unit's snapshot: a consumer's
//! transaction that changes one of them after that snapshot writes it too (an `$inc`), and the unit
//! writes it only when its stored value differs from the recomputed one — then the two transactions
//! conflict and the unit runs again on a snapshot that holds the change; when the unit does not write
//! it, the consumer's change lands on a value that was already right. A document the consumer creates
//! after the snapshot is not among those the unit read, so the unit does not delete it; if the unit
//! writes the same key, both inserted it: again a write conflict.

use std::collections::{BTreeMap, HashMap, HashSet};

use bson::{Bson, Document, doc};
use mongodb::ClientSession;
use vwc_contracts::VehicleEvent;
use vwc_store::StoreResult;
use vwc_store::mongo::{int, required_text, text};

use super::{
    AGGREGATES_FILLED, COST_MONTHS, CURRENT_VALUATIONS, FLEET_COST_MONTHS, LIFETIME_FILLED, META,
    MongoEdgeStore, OVERDUE_FILLED, TIMELINE, VEHICLE_COSTS, VEHICLE_STATS, VEHICLES,
    cost_documents, current_value_of, decode_body, is_active,
};
use crate::aggregates::{Change, Fact, FleetChange, FleetMember, ValueChange, changes};

/// Vehicles (or current valuations) per unit of a fill: one transaction reads their records and writes
/// their documents — about a thousand records at the bench's ten events per vehicle.
pub const FILL_UNIT: usize = 100;

/// A progress line every this many units (and at the end of each pass).
const LOG_EVERY: usize = 50;

/// How the one-time fills run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillPlan {
    /// Vehicles (or current valuations) per unit, each unit one transaction ([`FILL_UNIT`]).
    pub unit: usize,
    /// Stop after this many units, the fill unfinished (a test's interrupted start); `None`: to the end.
    pub units_at_most: Option<usize>,
}

impl Default for FillPlan {
    fn default() -> FillPlan {
        FillPlan {
            unit: FILL_UNIT,
            units_at_most: None,
        }
    }
}

/// What the fills of one start did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FillReport {
    /// Units this process committed (a unit another process did first is not counted).
    pub units: usize,
    /// Whether both fills are done (their markers set).
    pub finished: bool,
}

/// A pass of a fill: which documents a unit walks, and what it does with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// The timeline's vehicles: their own cost documents set, their months added to the organisation's.
    FleetCosts,
    /// The timeline's vehicles: their own cost documents set.
    VehicleCosts,
    /// `vehicles`: the organisation's vehicle and attention counts.
    Members,
    /// `current_valuations`: the organisation's value per currency.
    Values,
    /// `vehicles`: the organisation's vehicles with an item overdue, alone.
    OverdueVehicles,
}

impl Pass {
    fn name(self) -> &'static str {
        match self {
            Pass::FleetCosts => "fleet costs",
            Pass::VehicleCosts => "vehicle costs",
            Pass::Members => "fleet members",
            Pass::Values => "fleet values",
            Pass::OverdueVehicles => "overdue vehicles",
        }
    }

    /// The collection whose size tells how far a pass is (an estimate, for the progress lines).
    fn walks(self) -> &'static str {
        match self {
            Pass::FleetCosts | Pass::VehicleCosts => VEHICLE_STATS,
            Pass::Members | Pass::OverdueVehicles => VEHICLES,
            Pass::Values => CURRENT_VALUATIONS,
        }
    }
}

/// A one-time fill: its marker, its passes, and the markers its last unit sets.
struct Fill {
    marker: &'static str,
    passes: &'static [Pass],
    marks: &'static [&'static str],
}

const AGGREGATES: Fill = Fill {
    marker: AGGREGATES_FILLED,
    passes: &[Pass::FleetCosts, Pass::Members, Pass::Values],
    marks: &[AGGREGATES_FILLED, LIFETIME_FILLED, OVERDUE_FILLED],
};

const LIFETIME: Fill = Fill {
    marker: LIFETIME_FILLED,
    passes: &[Pass::VehicleCosts],
    marks: &[LIFETIME_FILLED],
};

const OVERDUE_VEHICLES: Fill = Fill {
    marker: OVERDUE_FILLED,
    passes: &[Pass::OverdueVehicles],
    marks: &[OVERDUE_FILLED],
};

/// Where a fill stands (`edge_meta/<marker>.progress`): the pass, the last key it did in that pass
/// (organisation and vehicle for the costs, a document id otherwise; empty before the first), the units
/// committed and the keys done in the pass.
#[derive(Debug, Clone, Default)]
struct Position {
    pass: usize,
    after_org: String,
    after: String,
    units: i64,
    items: i64,
}

impl Position {
    fn of(d: &Document) -> StoreResult<Position> {
        Ok(Position {
            pass: usize::try_from(int(d, "pass")?.unwrap_or(0)).unwrap_or(0),
            after_org: text(d, "after_org")?.unwrap_or_default(),
            after: text(d, "after")?.unwrap_or_default(),
            units: int(d, "units")?.unwrap_or(0),
            items: int(d, "items")?.unwrap_or(0),
        })
    }
}

/// What a unit did.
enum Step {
    /// The fill was already done (its marker set, by this process or another).
    Done,
    /// One more unit: its pass, the keys done in that pass and the units so far, whether the pass ended
    /// and whether the whole fill did.
    Unit {
        pass: Pass,
        items: i64,
        units: i64,
        pass_done: bool,
        finished: bool,
    },
}

/// The keys a unit took: how many, and the last one (organisation, id).
struct Taken {
    count: usize,
    last: Option<(String, String)>,
}

fn progress_id(marker: &str) -> String {
    format!("{marker}.progress")
}

/// A vehicle's aggregate documents as a unit recomputes them: key → (fields of the document, cents,
/// events).
type Totals = BTreeMap<String, (Document, i64, i64)>;

fn add_to(totals: &mut Totals, key: String, fields: Document, cents: i64, events: i64) {
    let entry = totals.entry(key).or_insert((fields, 0, 0));
    entry.1 += cents;
    entry.2 += events;
}

impl MongoEdgeStore {
    /// Both one-time fills, each to its end (or to `plan`'s last unit).
    pub(super) async fn fill(&self, plan: FillPlan) -> StoreResult<FillReport> {
        let aggregates = self.run_fill(&AGGREGATES, plan).await?;
        if !aggregates.finished {
            return Ok(aggregates);
        }
        let rest = plan
            .units_at_most
            .map(|most| most.saturating_sub(aggregates.units));
        let plan = FillPlan {
            units_at_most: rest,
            ..plan
        };
        let lifetime = self.run_fill(&LIFETIME, plan).await?;
        if !lifetime.finished {
            return Ok(FillReport {
                units: aggregates.units + lifetime.units,
                finished: false,
            });
        }
        let plan = FillPlan {
            units_at_most: plan
                .units_at_most
                .map(|most| most.saturating_sub(lifetime.units)),
            ..plan
        };
        let overdue = self.run_fill(&OVERDUE_VEHICLES, plan).await?;
        Ok(FillReport {
            units: aggregates.units + lifetime.units + overdue.units,
            finished: overdue.finished,
        })
    }

    /// Whether the one-time fill `marker` has run on this database.
    async fn filled(&self, marker: &str) -> StoreResult<bool> {
        Ok((self.db.collection(META))
            .find_one(doc! { "_id": marker })
            .await?
            .is_some())
    }

    /// Runs `fill`'s units until it is done (or `plan` stops it), with a progress line now and then.
    async fn run_fill(&self, fill: &Fill, plan: FillPlan) -> StoreResult<FillReport> {
        let mut report = FillReport::default();
        if self.filled(fill.marker).await? {
            report.finished = true;
            return Ok(report);
        }
        let unit = plan.unit.max(1);
        tracing::info!(
            fill = fill.marker,
            unit,
            "one-time fill of the edge's MongoDB aggregates: starting (or resuming)"
        );
        let mut estimates: HashMap<&'static str, Option<u64>> = HashMap::new();
        loop {
            if plan.units_at_most.is_some_and(|most| report.units >= most) {
                return Ok(report);
            }
            let step = vwc_store::mongo_transaction!(self.db, |session| self
                .try_unit(session, fill, unit));
            let Step::Unit {
                pass,
                items,
                units,
                pass_done,
                finished,
            } = step
            else {
                report.finished = true;
                return Ok(report);
            };
            report.units += 1;
            if pass_done || usize::try_from(units).unwrap_or(0) % LOG_EVERY == 0 {
                let collection = pass.walks();
                // An estimate from the collection's metadata (no count), only for the log line.
                let of_about = match estimates.get(collection) {
                    Some(n) => *n,
                    None => {
                        let n = (self.db.collection(collection))
                            .estimated_document_count()
                            .await
                            .ok();
                        estimates.insert(collection, n);
                        n
                    }
                };
                tracing::info!(
                    fill = fill.marker,
                    pass = pass.name(),
                    done = items,
                    of_about = ?of_about,
                    units,
                    pass_done,
                    "one-time fill of the edge's MongoDB aggregates: progress"
                );
            }
            if finished {
                report.finished = true;
                tracing::info!(
                    fill = fill.marker,
                    units,
                    "one-time fill of the edge's MongoDB aggregates: done"
                );
                return Ok(report);
            }
        }
    }

    /// One unit of `fill`, inside its transaction: the position read, the next keys done, the position
    /// advanced (and the markers set after the last unit).
    async fn try_unit(
        &self,
        session: &mut ClientSession,
        fill: &Fill,
        unit: usize,
    ) -> StoreResult<Step> {
        let marker: Option<Document> = self
            .find_in(session, META, fill.marker, doc! { "_id": 1 })
            .await?;
        if marker.is_some() {
            return Ok(Step::Done);
        }
        let progress = progress_id(fill.marker);
        let mut at = match self.find_in(session, META, &progress, doc! {}).await? {
            Some(d) => Position::of(&d)?,
            None => Position::default(),
        };
        let Some(&pass) = fill.passes.get(at.pass) else {
            // Every pass done but no marker: set it.
            self.mark(session, fill).await?;
            return Ok(Step::Done);
        };
        let taken = match pass {
            Pass::FleetCosts => self.costs_unit(session, &at, unit, true).await?,
            Pass::VehicleCosts => self.costs_unit(session, &at, unit, false).await?,
            Pass::Members => self.members_unit(session, &at.after, unit, false).await?,
            Pass::OverdueVehicles => self.members_unit(session, &at.after, unit, true).await?,
            Pass::Values => self.values_unit(session, &at.after, unit).await?,
        };
        at.units += 1;
        at.items += i64::try_from(taken.count).unwrap_or(i64::MAX);
        let (units, items) = (at.units, at.items);
        let pass_done = taken.count < unit;
        if pass_done {
            at = Position {
                pass: at.pass + 1,
                units: at.units,
                ..Position::default()
            };
        } else if let Some((org, id)) = taken.last {
            (at.after_org, at.after) = (org, id);
        }
        let finished = at.pass >= fill.passes.len();
        let position = doc! { "$set": {
            "pass": i64::try_from(at.pass).unwrap_or(i64::MAX),
            "after_org": &at.after_org,
            "after": &at.after,
            "units": at.units,
            "items": at.items,
            "updated_at": vwc_store::ts(&vwc_clock::now()),
        } };
        self.upsert_in(session, META, &progress, position).await?;
        if finished {
            self.mark(session, fill).await?;
        }
        Ok(Step::Unit {
            pass,
            items,
            units,
            pass_done,
            finished,
        })
    }

    /// Sets `fill`'s markers, in the transaction of its last unit.
    async fn mark(&self, session: &mut ClientSession, fill: &Fill) -> StoreResult<()> {
        for marker in fill.marks {
            let filled = doc! { "$setOnInsert": { "filled_at": vwc_store::ts(&vwc_clock::now()) } };
            self.upsert_in(session, META, marker, filled).await?;
        }
        Ok(())
    }

    /// Up to `limit` documents of `collection` with an id after `after`, in id order, read inside the
    /// caller's transaction.
    async fn ids_after(
        &self,
        session: &mut ClientSession,
        collection: &str,
        after: &str,
        limit: usize,
        projection: Document,
    ) -> StoreResult<Vec<Document>> {
        let mut cursor = (self.db.collection(collection))
            .find(doc! { "_id": { "$gt": after } })
            .sort(doc! { "_id": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .projection(projection)
            .session(&mut *session)
            .await?;
        let mut found = Vec::new();
        while let Some(d) = cursor.next(&mut *session).await.transpose()? {
            found.push(d);
        }
        Ok(found)
    }

    /// The first (organisation, vehicle) of the timeline matching `filter` in that order.
    async fn first_timeline_vehicle(
        &self,
        session: &mut ClientSession,
        filter: Document,
    ) -> StoreResult<Option<(String, String)>> {
        let found = (self.db.collection(TIMELINE))
            .find_one(filter)
            .sort(doc! { "org_id": 1, "vehicle_id": 1 })
            .projection(doc! { "_id": 0, "org_id": 1, "vehicle_id": 1 })
            .session(&mut *session)
            .await?;
        found
            .map(|d| {
                Ok((
                    required_text(&d, "org_id")?,
                    required_text(&d, "vehicle_id")?,
                ))
            })
            .transpose()
    }

    /// Up to `limit` vehicles of the timeline after (`org`, `vehicle`), in that order: one seek of the
    /// timeline's (org, vehicle, …) index per vehicle (a `distinct` would answer every vehicle at once).
    async fn timeline_vehicles_after(
        &self,
        session: &mut ClientSession,
        org: &str,
        vehicle: &str,
        limit: usize,
    ) -> StoreResult<Vec<(String, String)>> {
        let mut found: Vec<(String, String)> = Vec::new();
        let (mut org, mut vehicle) = (org.to_string(), vehicle.to_string());
        while found.len() < limit {
            let in_org = doc! { "org_id": &org, "vehicle_id": { "$gt": &vehicle } };
            let mut next = None;
            if !org.is_empty() {
                next = self.first_timeline_vehicle(session, in_org).await?;
            }
            if next.is_none() {
                let later = doc! { "org_id": { "$gt": &org } };
                next = self.first_timeline_vehicle(session, later).await?;
            }
            let Some(next) = next else {
                break;
            };
            (org, vehicle) = next.clone();
            found.push(next);
        }
        Ok(found)
    }

    /// A costs unit: the next vehicles of the timeline after `at`, their cost documents set from their
    /// live records (and, with `fleet`, their months added to their organisation's).
    async fn costs_unit(
        &self,
        session: &mut ClientSession,
        at: &Position,
        unit: usize,
        fleet: bool,
    ) -> StoreResult<Taken> {
        let vehicles = self
            .timeline_vehicles_after(session, &at.after_org, &at.after, unit)
            .await?;
        let mut by_org: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (org, vehicle) in &vehicles {
            by_org.entry(org).or_default().push(vehicle);
        }
        let mut fleet_months = Totals::new();
        for (org, ids) in by_org {
            self.set_vehicle_costs(session, org, &ids, &mut fleet_months)
                .await?;
        }
        if fleet {
            for (key, (fields, cents, events)) in fleet_months {
                let update = doc! {
                    "$inc": { "total_cents": cents, "events": events },
                    "$setOnInsert": fields,
                };
                self.upsert_in(session, FLEET_COST_MONTHS, &key, update)
                    .await?;
            }
        }
        Ok(Taken {
            count: vehicles.len(),
            last: vehicles.last().cloned(),
        })
    }

    /// Sets the cost documents of vehicles `ids` of organisation `org` to what their live costly records
    /// add up to (the incremental path's rules), and adds their months to `fleet_months`.
    async fn set_vehicle_costs(
        &self,
        session: &mut ClientSession,
        org: &str,
        ids: &[&str],
        fleet_months: &mut Totals,
    ) -> StoreResult<()> {
        let (mut months, mut lifetime) = (Totals::new(), Totals::new());
        let mut acquisitions: HashMap<String, i64> =
            ids.iter().map(|id| (id.to_string(), 0)).collect();
        let live = doc! {
            "org_id": org, "vehicle_id": { "$in": ids },
            "cost_cents": { "$ne": Bson::Null }, "voided": { "$ne": true },
        };
        self.scan(
            session,
            TIMELINE,
            live,
            doc! { "body": 1 },
            |d: Document| {
                let event: VehicleEvent = decode_body(&d)?;
                for change in changes(Fact::EventRecorded(&event)) {
                    match change {
                        Change::Cost(c) => {
                            for (collection, key, fields) in cost_documents(&c) {
                                let totals = match collection {
                                    COST_MONTHS => &mut months,
                                    VEHICLE_COSTS => &mut lifetime,
                                    _ => &mut *fleet_months,
                                };
                                add_to(totals, key, fields, c.cents, c.events);
                            }
                        }
                        Change::Acquisitions(a) => {
                            *acquisitions.entry(a.vehicle_id).or_default() += a.records;
                        }
                        Change::Fleet(_) | Change::Value(_) => {}
                    }
                }
                Ok(())
            },
        )
        .await?;
        self.set_totals(session, COST_MONTHS, org, ids, months)
            .await?;
        self.set_totals(session, VEHICLE_COSTS, org, ids, lifetime)
            .await?;
        let mut stored: HashMap<String, i64> = HashMap::new();
        let of_ids = doc! { "_id": { "$in": ids } };
        let fields = doc! { "acquisitions": 1 };
        self.scan(session, VEHICLE_STATS, of_ids, fields, |d: Document| {
            stored.insert(
                required_text(&d, "_id")?,
                int(&d, "acquisitions")?.unwrap_or(0),
            );
            Ok(())
        })
        .await?;
        for (vehicle_id, records) in acquisitions {
            if stored.get(&vehicle_id).copied().unwrap_or(0) != records {
                let set = doc! { "$set": { "acquisitions": records } };
                self.upsert_in(session, VEHICLE_STATS, &vehicle_id, set)
                    .await?;
            }
        }
        Ok(())
    }

    /// Makes the documents of `collection` of vehicles `ids` of `org` exactly `wanted`: a stored one not
    /// wanted is deleted, a wanted one that differs from the stored one (or is missing) is written.
    async fn set_totals(
        &self,
        session: &mut ClientSession,
        collection: &str,
        org: &str,
        ids: &[&str],
        wanted: Totals,
    ) -> StoreResult<()> {
        let mut stored: HashMap<String, (i64, i64)> = HashMap::new();
        let theirs = doc! { "org_id": org, "vehicle_id": { "$in": ids } };
        let fields = doc! { "total_cents": 1, "events": 1 };
        self.scan(session, collection, theirs, fields, |d: Document| {
            let totals = (
                int(&d, "total_cents")?.unwrap_or(0),
                int(&d, "events")?.unwrap_or(0),
            );
            stored.insert(required_text(&d, "_id")?, totals);
            Ok(())
        })
        .await?;
        let stale: Vec<&String> = (stored.keys())
            .filter(|key| !wanted.contains_key(*key))
            .collect();
        if !stale.is_empty() {
            (self.db.collection(collection))
                .delete_many(doc! { "_id": { "$in": stale } })
                .session(&mut *session)
                .await?;
        }
        for (key, (mut fields, cents, events)) in wanted {
            if stored.get(&key) == Some(&(cents, events)) {
                continue;
            }
            fields.insert("total_cents", cents);
            fields.insert("events", events);
            self.upsert_in(session, collection, &key, doc! { "$set": fields })
                .await?;
        }
        Ok(())
    }

    /// A members unit: the next vehicles by id after `after`; each active one adds itself and its
    /// attention counts to its organisation's `fleet_counts` — with `overdue_only`, only whether it has an
    /// item overdue (`vehicles_overdue`).
    async fn members_unit(
        &self,
        session: &mut ClientSession,
        after: &str,
        unit: usize,
        overdue_only: bool,
    ) -> StoreResult<Taken> {
        let membership = doc! { "org_id": 1, "status": 1 };
        let vehicles = self
            .ids_after(session, VEHICLES, after, unit, membership)
            .await?;
        let active: Vec<&Document> = vehicles.iter().filter(|d| is_active(d)).collect();
        let ids = (active.iter())
            .map(|d| required_text(d, "_id"))
            .collect::<StoreResult<Vec<String>>>()?;
        let mut attention: HashMap<String, (i64, i64)> = HashMap::new();
        let counts = doc! { "due_soon": 1, "overdue": 1 };
        let evaluated = doc! { "_id": { "$in": &ids } };
        self.scan(
            session,
            super::MAINTENANCE,
            evaluated,
            counts,
            |a: super::AttentionDoc| {
                attention.insert(a.vehicle_id, (a.due_soon, a.overdue));
                Ok(())
            },
        )
        .await?;
        let mut by_org: BTreeMap<String, FleetChange> = BTreeMap::new();
        for (d, id) in active.iter().zip(&ids) {
            let org_id = required_text(d, "org_id")?;
            for change in changes(Fact::FleetMember {
                org_id: &org_id,
                before: FleetMember::default(),
                after: FleetMember::of(true, attention.get(id).copied()),
            }) {
                if let Change::Fleet(f) = change {
                    let sum = by_org.entry(f.org_id.clone()).or_insert(FleetChange {
                        vehicles: 0,
                        due_soon: 0,
                        overdue: 0,
                        vehicles_overdue: 0,
                        ..f.clone()
                    });
                    if !overdue_only {
                        sum.vehicles += f.vehicles;
                        sum.due_soon += f.due_soon;
                        sum.overdue += f.overdue;
                    }
                    sum.vehicles_overdue += f.vehicles_overdue;
                }
            }
        }
        let sums: Vec<Change> = by_org.into_values().map(Change::Fleet).collect();
        self.apply_changes(session, &sums).await?;
        Ok(taken_ids(&vehicles))
    }

    /// A values unit: the next current valuations by id after `after`; each whose vehicle is not sold or
    /// archived adds its value to its organisation's `fleet_values`.
    async fn values_unit(
        &self,
        session: &mut ClientSession,
        after: &str,
        unit: usize,
    ) -> StoreResult<Taken> {
        let fields = doc! { "org_id": 1, "currency": 1, "amount": 1 };
        let values = self
            .ids_after(session, CURRENT_VALUATIONS, after, unit, fields)
            .await?;
        let ids = (values.iter())
            .map(|d| required_text(d, "_id"))
            .collect::<StoreResult<Vec<String>>>()?;
        let mut retired: HashSet<String> = HashSet::new();
        let theirs = doc! { "_id": { "$in": &ids } };
        self.scan(
            session,
            VEHICLES,
            theirs,
            doc! { "status": 1 },
            |d: Document| {
                if !is_active(&d) {
                    retired.insert(required_text(&d, "_id")?);
                }
                Ok(())
            },
        )
        .await?;
        let mut by_currency: BTreeMap<(String, String), ValueChange> = BTreeMap::new();
        for (d, id) in values.iter().zip(&ids) {
            if retired.contains(id) {
                continue;
            }
            let (org_id, value) = current_value_of(d)?;
            for change in changes(Fact::CurrentValue {
                org_id: &org_id,
                before: None,
                after: Some(&value),
            }) {
                if let Change::Value(v) = change {
                    let key = (v.org_id.clone(), v.currency.clone());
                    let sum = by_currency.entry(key).or_insert(ValueChange {
                        cents: 0,
                        vehicles: 0,
                        ..v.clone()
                    });
                    sum.cents += v.cents;
                    sum.vehicles += v.vehicles;
                }
            }
        }
        let sums: Vec<Change> = by_currency.into_values().map(Change::Value).collect();
        self.apply_changes(session, &sums).await?;
        Ok(taken_ids(&values))
    }
}

/// The keys a unit over documents in id order took.
fn taken_ids(documents: &[Document]) -> Taken {
    Taken {
        count: documents.len(),
        last: (documents.last())
            .and_then(|d| d.get_str("_id").ok())
            .map(|id| (String::new(), id.to_string())),
    }
}
