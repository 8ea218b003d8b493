//! The MongoDB store's one-time fills on a database an older version wrote (`src/mongo/fill.rs`): a
//! projection built through the incremental path, then aged — its aggregates, lifetime totals and
//! markers removed, as a version before them left the database — must read back the same after the fill,
//! in units of the plan's size, when the fill is interrupted and resumed, and when two fills run at once.
//! Run when `VWC_TEST_MONGODB_URI` is set (skipped loudly otherwise).

use std::sync::Arc;

use bson::{Document, doc};
use futures::TryStreamExt;
use vwc_contracts::lifecycle::VehicleStatus;
use vwc_contracts::maintenance::MaintenanceStatus;
use vwc_contracts::valuation::ValuationPointKind;
use vwc_contracts::{EventKind, VehicleEvent, VehicleId};
use vwc_edge::MongoEdgeStore;
use vwc_edge::mongo::{FillPlan, FillReport};
use vwc_edge::store::Page;
use vwc_store::mongo::MongoDb;

use super::store_conformance::{
    Store, apply, at, buckets, corrected, costly, costs_by_vehicle_in_pages, envelope_id, maintain,
    oil, on, registered, revise, valuation_update, valued, vehicle, voided,
};

const ORGS: [&str; 3] = ["org_a", "org_b", "org_c"];
const PER_ORG: usize = 40;
/// The fills' unit in these tests: many units over the fleet above.
const UNIT: usize = 10;

/// What the fleet of [`old_fleet`] holds, to count the units a fill must take.
#[derive(Debug, Clone, Copy, Default)]
struct Fleet {
    /// Vehicles with timeline records (every vehicle here), registered or not.
    in_timeline: usize,
    registered: usize,
    valued: usize,
}

impl Fleet {
    /// Units of a whole fill of the aggregates with units of `unit`: each pass takes its keys `unit` at a
    /// time and ends with a unit that finds fewer (possibly none).
    fn units(&self, unit: usize) -> usize {
        [self.in_timeline, self.registered, self.valued]
            .iter()
            .map(|n| n / unit + 1)
            .sum()
    }
}

/// 120 vehicles in three organisations through the incremental path: some never registered (their
/// events came first), some sold or archived; costs in four months and three currencies, acquisition
/// records with and without a cost, voided and corrected records, maintenance evaluations and current
/// values in two currencies.
async fn old_fleet(store: &Store) -> Fleet {
    let mut fleet = Fleet::default();
    for org in ORGS {
        for i in 0..PER_ORG {
            let id = format!("veh_{org}_{i:03}");
            let mut v = vehicle(org, &id);
            v.status = match i {
                _ if i % 11 == 5 => VehicleStatus::Sold,
                _ if i % 17 == 3 => VehicleStatus::Archived,
                _ => VehicleStatus::Active,
            };
            if i % 13 != 0 {
                assert!(registered(store, &envelope_id(), &v).await);
                fleet.registered += 1;
            }
            fleet.in_timeline += 1;
            let currency = ["USD", "EUR", "GBP"][i % 3];
            let month = u32::try_from(i % 4).unwrap() + 3;
            let repair = costly(
                &v,
                &format!("{id}_r"),
                EventKind::Repair,
                on(month, 2),
                Some((1_000 + i as u64, currency)),
            );
            apply(store, &repair).await;
            if i % 2 == 0 {
                let service = costly(
                    &v,
                    &format!("{id}_m"),
                    EventKind::Maintenance,
                    on(month + 1, 9),
                    Some((250, "USD")),
                );
                apply(store, &service).await;
            }
            if i % 4 < 2 {
                // With a cost every other time: only those count as the recorded purchase.
                let cost = (i % 4 == 0).then_some((900_000, "USD"));
                let bought = costly(
                    &v,
                    &format!("{id}_a"),
                    EventKind::Acquisition,
                    on(2, 1),
                    cost,
                );
                apply(store, &bought).await;
                if i % 8 == 0 {
                    revise(store, &voided(&bought, 2)).await;
                }
            }
            if i % 7 == 0 {
                revise(store, &voided(&repair, 2)).await;
            } else if i % 9 == 0 {
                let fixed = VehicleEvent {
                    cost_cents: Some(77),
                    currency: Some("EUR".into()),
                    ..repair.clone()
                };
                revise(store, &corrected(&fixed, 2)).await;
            }
            if i % 3 == 1 {
                let status = [MaintenanceStatus::DueSoon, MaintenanceStatus::Overdue][i % 2];
                maintain(store, org, &oil(&id, 5, status)).await;
            }
            if i % 2 == 1 {
                let mut value =
                    valuation_update(&id, 6, ValuationPointKind::Current, 500_000, at(6, 0));
                value.valuation.amount_cents += i as u64;
                if i % 4 == 3 {
                    value.valuation.currency = "EUR".into();
                }
                assert!(valued(store, &envelope_id(), org, &value).await);
                fleet.valued += 1;
            }
        }
    }
    fleet
}

/// Everything the aggregates answer, through the store's reads: per organisation its fleet counts and
/// value, its costs by month (fleet and by vehicle), its costs by vehicle in pages and every fleet row's
/// lifetime cost, purchase, attention counts and value.
async fn reads(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    for org in ORGS {
        let org_id = org.into();
        out.push(format!("{:?}", store.fleet_counts(&org_id).await.unwrap()));
        out.push(format!("{:?}", store.fleet_value(&org_id).await.unwrap()));
        let fleet_months = store.fleet_cost_buckets(&org_id, None, None).await.unwrap();
        out.push(format!("{fleet_months:?}"));
        out.push(format!("{:?}", buckets(store, org, None, None, None).await));
        let by_vehicle = costs_by_vehicle_in_pages(store, org, None, None, 7).await;
        out.push(format!("{by_vehicle:?}"));
        let mut after: Option<VehicleId> = None;
        loop {
            let page = Page::after(after.as_ref(), 9);
            let rows = store.fleet(&org_id, page).await.unwrap();
            for r in &rows {
                out.push(format!(
                    "{:?} {} {:?} {} {} {:?}",
                    r.vehicle.vehicle.id,
                    r.purchase_recorded,
                    r.lifetime_cost,
                    r.due_soon,
                    r.overdue,
                    r.current_value
                ));
            }
            match rows.last() {
                Some(last) if rows.len() == 9 => after = Some(last.vehicle.vehicle.id.clone()),
                _ => break,
            }
        }
    }
    out
}

/// The aggregate documents themselves, in key order, without the empty ones the incremental path may
/// leave (an organisation's counts at zero, a vehicle's acquisitions at zero).
async fn documents(db: &MongoDb) -> Vec<String> {
    let mut out = Vec::new();
    for collection in [
        "cost_months",
        "vehicle_costs",
        "fleet_cost_months",
        "fleet_counts",
        "fleet_values",
    ] {
        let found: Vec<Document> = (db.collection(collection).find(doc! {}))
            .sort(doc! { "_id": 1 })
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        for d in found {
            let zero = |field: &str| d.get_i64(field).is_ok_and(|n| n == 0);
            if collection == "fleet_counts"
                && zero("vehicles")
                && zero("due_soon")
                && zero("overdue")
                && zero("vehicles_overdue")
            {
                continue;
            }
            out.push(format!("{collection} {}", fields(&d)));
        }
    }
    let acquisitions: Vec<Document> = (db.collection("vehicle_stats"))
        .find(doc! { "acquisitions": { "$gt": 0_i64 } })
        .projection(doc! { "acquisitions": 1 })
        .sort(doc! { "_id": 1 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    out.extend(
        acquisitions
            .iter()
            .map(|d| format!("vehicle_stats {}", fields(d))),
    );
    out
}

/// A document's fields in name order, integers of either width alike (the order in which a document's
/// fields were first written differs between an upsert's `$setOnInsert` and a `$set`).
fn fields(d: &Document) -> String {
    let sorted: std::collections::BTreeMap<&String, String> = d
        .iter()
        .map(|(name, value)| {
            let value = match value {
                bson::Bson::Int32(n) => i64::from(*n).to_string(),
                bson::Bson::Int64(n) => n.to_string(),
                other => other.to_string(),
            };
            (name, value)
        })
        .collect();
    format!("{sorted:?}")
}

/// Removes what a version before the aggregates (and before the lifetime totals) did not write: the
/// organisations' aggregates, the lifetime totals and acquisitions, the fills' markers — and, unless
/// `keep_cost_months`, the vehicles' months too.
async fn age(db: &MongoDb, keep_cost_months: bool) {
    let mut gone = vec![
        "fleet_cost_months",
        "fleet_counts",
        "fleet_values",
        "vehicle_costs",
        "edge_meta",
    ];
    if !keep_cost_months {
        gone.push("cost_months");
    }
    for collection in gone {
        db.collection(collection)
            .delete_many(doc! {})
            .await
            .unwrap();
    }
    (db.collection("vehicle_stats"))
        .update_many(doc! {}, doc! { "$unset": { "acquisitions": "" } })
        .await
        .unwrap();
}

/// The store over database `name` after the fills of `plan`, with what they did.
async fn open(client: &mongodb::Client, name: &str, plan: FillPlan) -> (Store, FillReport) {
    let db = MongoDb::new(client.clone(), name);
    let (store, report) = MongoEdgeStore::with_fill_plan(db, plan).await.unwrap();
    (Arc::new(store) as Store, report)
}

/// Opens the database once more and asserts that the fills have nothing left to do (their marks are set).
async fn nothing_left_to_fill(client: &mongodb::Client, name: &str) {
    let (_, again) = open(client, name, plan(None)).await;
    assert_eq!(
        again,
        FillReport {
            units: 0,
            finished: true
        }
    );
}

fn plan(units_at_most: Option<usize>) -> FillPlan {
    FillPlan {
        unit: UNIT,
        units_at_most,
    }
}

/// Runs `check` with a client and the name of a fresh database (dropped afterwards).
async fn on_fresh_database<F, Fut>(check: F)
where
    F: FnOnce(mongodb::Client, String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    vwc_testkit::mongo::on_fresh_database(
        "edge_fill",
        |client, name| async move { (client, name) },
        |(client, name)| check(client, name),
    )
    .await;
}

/// The old fleet written through the incremental path (its reads and documents are what the fills
/// must reproduce), then aged.
async fn written_then_aged(
    client: &mongodb::Client,
    name: &str,
    keep_cost_months: bool,
) -> (Fleet, Vec<String>, Vec<String>) {
    let (store, _) = open(client, name, plan(None)).await;
    let fleet = old_fleet(&store).await;
    let db = MongoDb::new(client.clone(), name);
    let (expected_reads, expected_documents) = (reads(&store).await, documents(&db).await);
    drop(store);
    age(&db, keep_cost_months).await;
    let unfilled = MongoEdgeStore::connect_unfilled(client.clone(), name)
        .await
        .unwrap();
    assert_ne!(
        reads(&(Arc::new(unfilled) as Store)).await,
        expected_reads,
        "the aged database must miss its aggregates"
    );
    (fleet, expected_reads, expected_documents)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_database_is_filled_in_units_to_the_incremental_figures() {
    on_fresh_database(|client, name| async move {
        let (fleet, expected_reads, expected_documents) =
            written_then_aged(&client, &name, true).await;
        let (store, report) = open(&client, &name, plan(None)).await;
        assert_eq!(
            report,
            FillReport {
                units: fleet.units(UNIT),
                finished: true
            },
            "{fleet:?}: every pass in units of {UNIT}"
        );
        assert_eq!(reads(&store).await, expected_reads);
        let db = MongoDb::new(client.clone(), &name);
        assert_eq!(documents(&db).await, expected_documents);
        // Marked: the next start does nothing.
        nothing_left_to_fill(&client, &name).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_fill_resumes_where_it_stopped_and_ends_the_same() {
    on_fresh_database(|client, name| async move {
        // A database from before the aggregates: no `cost_months` either.
        let (fleet, expected_reads, expected_documents) =
            written_then_aged(&client, &name, false).await;
        let (_, first) = open(&client, &name, plan(Some(5))).await;
        assert_eq!(
            first,
            FillReport {
                units: 5,
                finished: false
            }
        );
        // Stopped again past the end of the first pass.
        let (_, second) = open(&client, &name, plan(Some(12))).await;
        assert_eq!(
            second,
            FillReport {
                units: 12,
                finished: false
            }
        );
        let (store, rest) = open(&client, &name, plan(None)).await;
        assert!(rest.finished);
        assert_eq!(
            first.units + second.units + rest.units,
            fleet.units(UNIT),
            "no unit done twice"
        );
        assert_eq!(reads(&store).await, expected_reads);
        let db = MongoDb::new(client.clone(), &name);
        assert_eq!(documents(&db).await, expected_documents);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fills_at_once_count_every_vehicle_once() {
    on_fresh_database(|client, name| async move {
        let (fleet, expected_reads, expected_documents) =
            written_then_aged(&client, &name, true).await;
        // Rounds of two starts at once, each stopped after a few units, until the fill is done: every
        // round's two starts race for the same next units.
        let (mut units, mut finished) = (0, false);
        while !finished {
            let starts = [0, 1].map(|_| {
                let (client, name) = (client.clone(), name.clone());
                tokio::spawn(async move { open(&client, &name, plan(Some(4))).await.1 })
            });
            for start in starts {
                let report = start.await.unwrap();
                finished |= report.finished;
                units += report.units;
            }
        }
        assert_eq!(units, fleet.units(UNIT), "each unit committed once");
        let (store, _) = open(&client, &name, plan(None)).await;
        assert_eq!(reads(&store).await, expected_reads);
        let db = MongoDb::new(client.clone(), &name);
        assert_eq!(documents(&db).await, expected_documents);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_with_aggregates_but_no_lifetime_totals_gets_them_in_units() {
    on_fresh_database(|client, name| async move {
        let (store, _) = open(&client, &name, plan(None)).await;
        let fleet = old_fleet(&store).await;
        let db = MongoDb::new(client.clone(), &name);
        let (expected_reads, expected_documents) = (reads(&store).await, documents(&db).await);
        drop(store);
        // As the version before the lifetime totals left it: aggregates filled and marked.
        db.collection("vehicle_costs")
            .delete_many(doc! {})
            .await
            .unwrap();
        (db.collection("vehicle_stats"))
            .update_many(doc! {}, doc! { "$unset": { "acquisitions": "" } })
            .await
            .unwrap();
        // Nor did it count the vehicles with an item overdue.
        (db.collection("fleet_counts"))
            .update_many(doc! {}, doc! { "$unset": { "vehicles_overdue": "" } })
            .await
            .unwrap();
        (db.collection("edge_meta"))
            .delete_many(doc! { "_id": { "$ne": "aggregates" } })
            .await
            .unwrap();
        let (store, report) = open(&client, &name, plan(None)).await;
        assert_eq!(
            report,
            FillReport {
                units: fleet.in_timeline / UNIT + 1 + fleet.registered / UNIT + 1,
                finished: true
            }
        );
        assert_eq!(reads(&store).await, expected_reads);
        assert_eq!(documents(&db).await, expected_documents);
    })
    .await;
}

/// Probe p44 L5: a database whose aggregates and lifetime totals an older version filled counts no
/// vehicles with an item overdue (`fleet_counts.overdue` counts items); they are counted in units from the
/// maintenance views, to what the incremental path counts, sold and archived vehicles left out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_filled_before_overdue_vehicles_were_counted_gets_them_in_units() {
    on_fresh_database(|client, name| async move {
        let (store, _) = open(&client, &name, plan(None)).await;
        let fleet = old_fleet(&store).await;
        let db = MongoDb::new(client.clone(), &name);
        let (expected_reads, expected_documents) = (reads(&store).await, documents(&db).await);
        assert!(
            expected_reads
                .iter()
                .any(|r| r.starts_with("FleetCounts") && !r.contains("vehicles_overdue: 0 ")),
            "the old fleet has vehicles overdue: {expected_reads:?}"
        );
        drop(store);
        (db.collection("fleet_counts"))
            .update_many(doc! {}, doc! { "$unset": { "vehicles_overdue": "" } })
            .await
            .unwrap();
        (db.collection("edge_meta"))
            .delete_many(doc! { "_id": "overdue_vehicles" })
            .await
            .unwrap();
        let (store, report) = open(&client, &name, plan(None)).await;
        assert_eq!(
            report,
            FillReport {
                units: fleet.registered / UNIT + 1,
                finished: true
            }
        );
        assert_eq!(reads(&store).await, expected_reads);
        assert_eq!(documents(&db).await, expected_documents);
        // Opened again: nothing more to fill.
        drop(store);
        nothing_left_to_fill(&client, &name).await;
    })
    .await;
}
