//! SQLite adapter of the edge projection.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, ToSql, params};
use vwc_contracts::lifecycle::VehicleStatus;
use vwc_contracts::maintenance::{MaintenanceScheduleUpdated, NotificationDelivered};
use vwc_contracts::valuation::{Valuation, ValuationPointKind, ValuationUpdated};
use vwc_contracts::{OrgId, Vehicle, VehicleEvent, VehicleId};
use vwc_store::sqlite::claim_inbox;
use vwc_store::{Plumbed, SqliteDb, StoreError, StoreResult, ts};

use crate::CONSUMER;
use crate::aggregates::{
    Change, CurrentValue, Fact, FleetMember, MonthRange, attention_counts, changes,
};
use crate::corrections::TimelineRevision;
use crate::store::{
    CostBucket, CostRow, CostScope, CostTotal, CostsOf, Delivery, EdgeStore, Feed, FleetCounts,
    FleetRow, FleetValue, LifetimeCost, MaintenanceView, NotificationRef, NotificationView, Page,
    Projected, ReminderItem, RowValue, TimelineQuery, VehicleRef, VehicleStats, VehicleTotals,
    VehicleView, settled_tasks, valuations_before,
};
use crate::timeline_page::{self, TimelinePage, TimelinePageBuilder};

/// Recomputes every aggregate from the projection; the same rules as `aggregates::changes`, in SQL.
macro_rules! rebuild_aggregates_sql {
    () => {
        r#"
DELETE FROM cost_months;
DELETE FROM fleet_cost_months;
DELETE FROM fleet_counts;
DELETE FROM fleet_values;
INSERT INTO cost_months (org_id, vehicle_id, month, kind, currency, total_cents, events)
  SELECT org_id, vehicle_id, substr(occurred_at, 1, 7), kind, coalesce(currency, 'USD'), sum(cost_cents), count(*)
  FROM timeline WHERE cost_cents IS NOT NULL AND voided = 0 GROUP BY 1, 2, 3, 4, 5;
INSERT INTO fleet_cost_months (org_id, month, kind, currency, total_cents, events)
  SELECT org_id, month, kind, currency, sum(total_cents), sum(events) FROM cost_months GROUP BY 1, 2, 3, 4;
INSERT INTO fleet_counts (org_id, vehicles, due_soon, overdue)
  SELECT v.org_id, count(*), coalesce(sum(m.due_soon), 0), coalesce(sum(m.overdue), 0)
  FROM vehicles v LEFT JOIN maintenance m ON m.vehicle_id = v.id
  WHERE coalesce(json_extract(v.body, '$.status'), 'active') = 'active' GROUP BY v.org_id;
INSERT INTO fleet_values (org_id, currency, total_cents, vehicles)
  SELECT org_id, currency, sum(amount), count(*) FROM current_valuations c
  WHERE NOT EXISTS (SELECT 1 FROM vehicles v WHERE v.id = c.vehicle_id
    AND coalesce(json_extract(v.body, '$.status'), 'active') <> 'active')
  GROUP BY 1, 2;
"#
    };
}

/// Recomputes each vehicle's lifetime costs (from `cost_months`, so after them) and its acquisition records
/// from the projection; the same rules as `aggregates::changes`, in SQL. Apart from
/// `rebuild_aggregates_sql`, which an earlier schema step runs as it was written.
macro_rules! rebuild_lifetime_sql {
    () => {
        r#"
DELETE FROM vehicle_costs;
INSERT INTO vehicle_costs (org_id, vehicle_id, currency, total_cents, events)
  SELECT org_id, vehicle_id, currency, sum(total_cents), sum(events) FROM cost_months
  GROUP BY 1, 2, 3 HAVING sum(events) > 0;
UPDATE vehicle_stats SET acquisitions = 0 WHERE acquisitions <> 0;
UPDATE vehicle_stats SET acquisitions = a.records
  FROM (SELECT vehicle_id, count(*) AS records FROM timeline
        WHERE kind = 'acquisition' AND voided = 0 AND cost_cents IS NOT NULL GROUP BY vehicle_id) AS a
  WHERE a.vehicle_id = vehicle_stats.vehicle_id;
"#
    };
}

/// Recounts each organisation's vehicles with an item overdue (after `rebuild_aggregates_sql`, which
/// writes the rows of `fleet_counts`); the rule of `FleetMember::overdue_vehicle`, in SQL. Like the other
/// two, a schema step runs it as it was written: a change is a new step.
macro_rules! rebuild_overdue_vehicles_sql {
    () => {
        r#"
UPDATE fleet_counts SET vehicles_overdue = (
  SELECT count(*) FROM vehicles v JOIN maintenance m ON m.vehicle_id = v.id
  WHERE v.org_id = fleet_counts.org_id AND m.overdue > 0
    AND coalesce(json_extract(v.body, '$.status'), 'active') = 'active');
"#
    };
}

/// This database's schema steps, run in order once each (`user_version` counts those run). Append only: a
/// step changed, moved or removed would be run twice, or never, on a database that ran the old list
/// (`shared/store/migrations.lock` pins them; `VWC_BLESS=1 cargo test -p vwc --lib migrations` records a new one).
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE vehicles (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX vehicles_by_org ON vehicles (org_id, id);
CREATE TABLE vehicle_stats (
    vehicle_id TEXT PRIMARY KEY,
    event_count INTEGER NOT NULL DEFAULT 0,
    last_event_at TEXT,
    odometer INTEGER,
    odometer_at TEXT
);
CREATE TABLE timeline (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    vehicle_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    cost_cents INTEGER,
    currency TEXT,
    body TEXT NOT NULL,
    traceparent TEXT
);
CREATE INDEX timeline_page ON timeline (org_id, vehicle_id, occurred_at DESC, id DESC);
"#,
    r#"
CREATE INDEX timeline_costs ON timeline (org_id, occurred_at) WHERE cost_cents IS NOT NULL;
CREATE TABLE maintenance (
    vehicle_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    body TEXT NOT NULL,
    due_soon INTEGER NOT NULL,
    overdue INTEGER NOT NULL,
    evaluated_at TEXT NOT NULL
);
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read_at TEXT
);
CREATE INDEX notifications_feed ON notifications (org_id, created_at DESC, id DESC);
"#,
    // When each event was committed to the projection (ack → visible lag; operations).
    "ALTER TABLE timeline ADD COLUMN projected_at TEXT;",
    // The valuation service's points: the history by (vehicle, asOf), and each vehicle's current value.
    r#"
CREATE TABLE valuations (
    vehicle_id TEXT NOT NULL,
    as_of TEXT NOT NULL,
    org_id TEXT NOT NULL,
    body TEXT NOT NULL,
    computed_at TEXT NOT NULL,
    PRIMARY KEY (vehicle_id, as_of)
) WITHOUT ROWID;
CREATE TABLE current_valuations (
    vehicle_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    as_of TEXT NOT NULL,
    amount INTEGER NOT NULL,
    currency TEXT NOT NULL,
    body TEXT NOT NULL,
    computed_at TEXT NOT NULL
);
CREATE INDEX current_valuations_by_org ON current_valuations (org_id, currency);
"#,
    // Corrections and voids (docs/corrections.md): the revision a row holds, and whether it is voided.
    r#"
ALTER TABLE timeline ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE timeline ADD COLUMN voided INTEGER NOT NULL DEFAULT 0;
"#,
    // The fleet aggregates (see `aggregates`), filled from what the projection already holds.
    concat!(
        r#"
CREATE TABLE cost_months (
    org_id TEXT NOT NULL,
    vehicle_id TEXT NOT NULL,
    month TEXT NOT NULL,
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (org_id, vehicle_id, month, kind, currency)
) WITHOUT ROWID;
CREATE INDEX cost_months_by_month ON cost_months (org_id, month);
CREATE TABLE fleet_cost_months (
    org_id TEXT NOT NULL,
    month TEXT NOT NULL,
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (org_id, month, kind, currency)
) WITHOUT ROWID;
CREATE TABLE fleet_counts (
    org_id TEXT PRIMARY KEY,
    vehicles INTEGER NOT NULL,
    due_soon INTEGER NOT NULL,
    overdue INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE fleet_values (
    org_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    vehicles INTEGER NOT NULL,
    PRIMARY KEY (org_id, currency)
) WITHOUT ROWID;
"#,
        rebuild_aggregates_sql!()
    ),
    // The fleet's fuel rows start from the vehicles that have fill-ups.
    "CREATE INDEX timeline_fuel ON timeline (org_id, vehicle_id) WHERE kind = 'fuel' AND voided = 0;",
    // A page of the fleet's cost by vehicle reads each vehicle's rows in (vehicle, currency) order and
    // stops after the page: covering, so the grouping streams from the index without a sort.
    "CREATE INDEX cost_months_by_vehicle ON cost_months (org_id, vehicle_id, currency, month, total_cents, events);",
    // The timeline clustered by its page order: a vehicle's rows sit together in the table itself, so a
    // page is one walk of adjacent cells instead of an index walk plus a table lookup per row — rows that,
    // in a fleet whose vehicles' events arrive interleaved, each lie on a page of their own (docs/bench.md,
    // "The timeline clustered by vehicle"). `id` stays unique through its own index.
    r#"
CREATE TABLE timeline_by_vehicle (
    org_id TEXT NOT NULL,
    vehicle_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    cost_cents INTEGER,
    currency TEXT,
    body TEXT NOT NULL,
    traceparent TEXT,
    projected_at TEXT,
    revision INTEGER NOT NULL DEFAULT 1,
    voided INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, vehicle_id, occurred_at, id)
) WITHOUT ROWID;
INSERT INTO timeline_by_vehicle (org_id, vehicle_id, occurred_at, id, kind, cost_cents, currency, body,
    traceparent, projected_at, revision, voided)
  SELECT org_id, vehicle_id, occurred_at, id, kind, cost_cents, currency, body, traceparent, projected_at,
    revision, voided FROM timeline;
DROP TABLE timeline;
ALTER TABLE timeline_by_vehicle RENAME TO timeline;
CREATE UNIQUE INDEX timeline_id ON timeline (id);
CREATE INDEX timeline_costs ON timeline (org_id, occurred_at) WHERE cost_cents IS NOT NULL;
CREATE INDEX timeline_fuel ON timeline (org_id, vehicle_id) WHERE kind = 'fuel' AND voided = 0;
"#,
    // The item a reminder is about and when it was made (`ReminderItem`): a newer reminder about the same
    // item, or an evaluation that settled it, marks it read (docs/events.md, "Reminders that no longer hold").
    r#"
ALTER TABLE notifications ADD COLUMN vehicle_id TEXT;
ALTER TABLE notifications ADD COLUMN task TEXT;
ALTER TABLE notifications ADD COLUMN reminded_at TEXT;
CREATE INDEX notifications_by_item ON notifications (org_id, vehicle_id, task, reminded_at);
CREATE INDEX notifications_unread_by_item ON notifications (org_id, vehicle_id, task, reminded_at)
  WHERE read_at IS NULL;
"#,
    // Each vehicle's lifetime costs per currency and its acquisition records (the fleet row's
    // `lifetimeCost` and `purchaseRecorded`), filled from what the projection already holds.
    concat!(
        r#"
CREATE TABLE vehicle_costs (
    org_id TEXT NOT NULL,
    vehicle_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (org_id, vehicle_id, currency)
) WITHOUT ROWID;
ALTER TABLE vehicle_stats ADD COLUMN acquisitions INTEGER NOT NULL DEFAULT 0;
"#,
        rebuild_lifetime_sql!()
    ),
    // Each vehicle's timeline version: how many times its rows have changed, counted by the table itself
    // so that no writer (this process's projection, an import, a daily job in another process) can miss
    // it. A kept timeline page is served while its version stays (`page_cache`); a vehicle without a row
    // here has not changed since the count began (version 0).
    r#"
CREATE TABLE timeline_versions (
    org_id TEXT NOT NULL,
    vehicle_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (org_id, vehicle_id)
) WITHOUT ROWID;
CREATE TRIGGER timeline_versions_on_insert AFTER INSERT ON timeline BEGIN
  INSERT INTO timeline_versions (org_id, vehicle_id, version) VALUES (NEW.org_id, NEW.vehicle_id, 1)
    ON CONFLICT (org_id, vehicle_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER timeline_versions_on_update AFTER UPDATE ON timeline BEGIN
  INSERT INTO timeline_versions (org_id, vehicle_id, version) VALUES (NEW.org_id, NEW.vehicle_id, 1)
    ON CONFLICT (org_id, vehicle_id) DO UPDATE SET version = version + 1;
  INSERT INTO timeline_versions (org_id, vehicle_id, version)
    SELECT OLD.org_id, OLD.vehicle_id, 1 WHERE OLD.org_id <> NEW.org_id OR OLD.vehicle_id <> NEW.vehicle_id
    ON CONFLICT (org_id, vehicle_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER timeline_versions_on_delete AFTER DELETE ON timeline BEGIN
  INSERT INTO timeline_versions (org_id, vehicle_id, version) VALUES (OLD.org_id, OLD.vehicle_id, 1)
    ON CONFLICT (org_id, vehicle_id) DO UPDATE SET version = version + 1;
END;
"#,
    // The fleet's vehicles with an item overdue (`fleet_counts.overdue` counts items; probe p44 L5),
    // counted from what the projection already holds.
    concat!(
        "ALTER TABLE fleet_counts ADD COLUMN vehicles_overdue INTEGER NOT NULL DEFAULT 0;",
        rebuild_overdue_vehicles_sql!()
    ),
];

/// Active vehicles only (sold and archived ones leave the fleet); `v` is the `vehicles` row.
const ACTIVE: &str = "coalesce(json_extract(v.body, '$.status'), 'active') = 'active'";

#[derive(Clone)]
pub struct SqliteEdgeStore {
    db: SqliteDb,
}

impl SqliteEdgeStore {
    pub fn open(path: &Path) -> StoreResult<SqliteEdgeStore> {
        Ok(SqliteEdgeStore {
            db: SqliteDb::open(path, MIGRATIONS)?,
        })
    }

    pub fn db(&self) -> &SqliteDb {
        &self.db
    }

    /// The JSON body of one vehicle's row of `table` (keyed by `org_id` and `vehicle_id`), decoded: a
    /// vehicle of another organisation has none.
    async fn vehicle_body<T: serde::de::DeserializeOwned>(
        &self,
        table: &'static str,
        vehicle: &VehicleRef,
    ) -> StoreResult<Option<T>> {
        let (org, id) = (vehicle.org_id.to_string(), vehicle.vehicle_id.to_string());
        let body: Option<String> = self
            .db
            .read(move |conn| {
                Ok(conn
                    .prepare_cached(&format!(
                        "SELECT body FROM {table} WHERE org_id = ?1 AND vehicle_id = ?2"
                    ))?
                    .query_row(params![org, id], |r| r.get(0))
                    .optional()?)
            })
            .await?;
        Ok(body.map(|b| serde_json::from_str(&b)).transpose()?)
    }

    /// The cost buckets `sql` selects as (vehicle, kind, month, currency, total, events); unknown kinds are
    /// left out.
    /// Every row of `sql`, whose one parameter (`?1`) is the organisation, mapped by `row`.
    async fn org_rows<T: Send + 'static>(
        &self,
        org_id: &OrgId,
        sql: &'static str,
        row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> StoreResult<Vec<T>> {
        let org = org_id.to_string();
        self.db.read(move |conn| rows(conn, sql, [org], row)).await
    }

    async fn cost_rows(&self, sql: String, args: SqlArgs) -> StoreResult<Vec<CostBucket>> {
        self.db
            .read(move |conn| {
                let refs: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref() as &dyn ToSql).collect();
                let found = rows(conn, &sql, refs.as_slice(), cost_row)?;
                Ok(found.into_iter().filter_map(CostRow::bucket).collect())
            })
            .await
    }
}

/// The first and last `YYYY-MM` of `months` as the queries bind them (open ends: before and after every
/// month).
fn month_bounds(months: &MonthRange) -> (String, String) {
    let first = months.first.clone().unwrap_or_default();
    (first, months.last.clone().unwrap_or_else(|| "9999".into()))
}

/// An organisation's page of a listing by vehicle id, as the queries bind it (no position: `''` sorts
/// before every id).
fn org_page(org_id: &OrgId, page: Page<'_, VehicleId>) -> (String, String, i64) {
    let after = page.after.map_or("", VehicleId::as_str);
    (org_id.to_string(), after.to_string(), page.limit as i64)
}

/// Every row `sql` selects with `params`, mapped by `row`.
fn rows<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: impl rusqlite::Params,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_map(params, row)?
        .collect::<Result<_, _>>()?)
}

fn parse_ts(s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Other(format!("bad timestamp {s:?}: {e}")))
}

fn vehicle_view(conn: &rusqlite::Connection, body: &str) -> StoreResult<VehicleView> {
    let vehicle: Vehicle = serde_json::from_str(body)?;
    stats_of(conn, vehicle.id.as_str())?.view(vehicle)
}

/// The vehicle's running stats (none yet: the defaults).
fn stats_of(conn: &rusqlite::Connection, vehicle_id: &str) -> StoreResult<VehicleStats> {
    let stats = conn
        .prepare_cached(
            "SELECT event_count, last_event_at, odometer, odometer_at, acquisitions
             FROM vehicle_stats WHERE vehicle_id = ?1",
        )?
        .query_row([vehicle_id], |r| {
            Ok(VehicleStats {
                event_count: r.get(0)?,
                last_event_at: r.get(1)?,
                odometer: r.get(2)?,
                odometer_at: r.get(3)?,
                acquisitions: r.get(4)?,
            })
        })
        .optional()?;
    Ok(stats.unwrap_or_default())
}

/// Adds the changes up in the aggregate tables (inside the caller's transaction).
fn apply_changes(conn: &rusqlite::Connection, changes: &[Change]) -> StoreResult<()> {
    for change in changes {
        match change {
            Change::Cost(c) => {
                conn.prepare_cached(
                    "INSERT INTO cost_months (org_id, vehicle_id, month, kind, currency, total_cents, events)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT DO UPDATE SET total_cents = total_cents + excluded.total_cents,
                       events = events + excluded.events",
                )?
                .execute(params![c.org_id, c.vehicle_id, c.month, c.kind.as_str(), c.currency, c.cents, c.events])?;
                conn.prepare_cached(
                    "INSERT INTO fleet_cost_months (org_id, month, kind, currency, total_cents, events)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT DO UPDATE SET total_cents = total_cents + excluded.total_cents,
                       events = events + excluded.events",
                )?
                .execute(params![c.org_id, c.month, c.kind.as_str(), c.currency, c.cents, c.events])?;
                conn.prepare_cached(
                    "INSERT INTO vehicle_costs (org_id, vehicle_id, currency, total_cents, events)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT DO UPDATE SET total_cents = total_cents + excluded.total_cents,
                       events = events + excluded.events",
                )?
                .execute(params![
                    c.org_id,
                    c.vehicle_id,
                    c.currency,
                    c.cents,
                    c.events
                ])?;
                if c.events < 0 {
                    conn.prepare_cached("DELETE FROM cost_months WHERE org_id = ?1 AND vehicle_id = ?2 AND month = ?3 AND events <= 0")?
                        .execute(params![c.org_id, c.vehicle_id, c.month])?;
                    conn.prepare_cached("DELETE FROM fleet_cost_months WHERE org_id = ?1 AND month = ?2 AND events <= 0")?
                        .execute(params![c.org_id, c.month])?;
                    conn.prepare_cached("DELETE FROM vehicle_costs WHERE org_id = ?1 AND vehicle_id = ?2 AND currency = ?3 AND events <= 0")?
                        .execute(params![c.org_id, c.vehicle_id, c.currency])?;
                }
            }
            Change::Acquisitions(a) => {
                // The stats row may not be there yet (a revision held before its original).
                conn.prepare_cached(
                    "INSERT INTO vehicle_stats (vehicle_id, event_count, acquisitions) VALUES (?1, 0, ?2)
                     ON CONFLICT (vehicle_id) DO UPDATE SET acquisitions = acquisitions + excluded.acquisitions",
                )?
                .execute(params![a.vehicle_id, a.records])?;
            }
            Change::Fleet(f) => {
                conn.prepare_cached(
                    "INSERT INTO fleet_counts (org_id, vehicles, due_soon, overdue, vehicles_overdue)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT DO UPDATE SET vehicles = vehicles + excluded.vehicles,
                       due_soon = due_soon + excluded.due_soon, overdue = overdue + excluded.overdue,
                       vehicles_overdue = vehicles_overdue + excluded.vehicles_overdue",
                )?
                .execute(params![f.org_id, f.vehicles, f.due_soon, f.overdue, f.vehicles_overdue])?;
            }
            Change::Value(v) => {
                conn.prepare_cached(
                    "INSERT INTO fleet_values (org_id, currency, total_cents, vehicles) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT DO UPDATE SET total_cents = total_cents + excluded.total_cents,
                       vehicles = vehicles + excluded.vehicles",
                )?
                .execute(params![v.org_id, v.currency, v.cents, v.vehicles])?;
                if v.vehicles < 0 {
                    conn.prepare_cached(
                        "DELETE FROM fleet_values WHERE org_id = ?1 AND currency = ?2 AND vehicles <= 0",
                    )?
                    .execute(params![v.org_id, v.currency])?;
                }
            }
        }
    }
    Ok(())
}

/// The vehicle's org (when it is in the read model) and what it adds to the fleet totals now.
fn fleet_member(
    conn: &rusqlite::Connection,
    vehicle_id: &str,
) -> StoreResult<(Option<String>, FleetMember)> {
    let vehicle: Option<(String, bool)> = conn
        .prepare_cached(&format!(
            "SELECT v.org_id, {ACTIVE} FROM vehicles v WHERE v.id = ?1"
        ))?
        .query_row([vehicle_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let attention: Option<(i64, i64)> = conn
        .prepare_cached("SELECT due_soon, overdue FROM maintenance WHERE vehicle_id = ?1")?
        .query_row([vehicle_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    // Sold and archived vehicles leave the fleet (docs/corrections.md).
    let counted = vehicle.as_ref().is_some_and(|(_, active)| *active);
    let member = FleetMember::of(counted, attention);
    Ok((vehicle.map(|(org, _)| org), member))
}

/// The vehicle's current value as the fleet value counts it, with its organisation: none once the
/// vehicle is sold or archived.
fn counted_value(
    conn: &rusqlite::Connection,
    vehicle_id: &str,
) -> StoreResult<Option<(String, CurrentValue)>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT c.org_id, c.currency, c.amount FROM current_valuations c
             WHERE c.vehicle_id = ?1
               AND NOT EXISTS (SELECT 1 FROM vehicles v WHERE v.id = c.vehicle_id AND NOT ({ACTIVE}))"
        ))?
        .query_row([vehicle_id], |r| {
            Ok((r.get(0)?, CurrentValue { currency: r.get(1)?, cents: r.get(2)? }))
        })
        .optional()?)
}

/// Whether the fleet counts the vehicle's value (it is active, or not in the read model yet), and the
/// current value held for it with the row's organisation: one read where [`counted_value`] before and after a
/// valuation was two. A value that is stored then moves the fleet's value from the held one to itself.
fn value_held(
    conn: &rusqlite::Connection,
    vehicle_id: &str,
) -> StoreResult<(bool, Option<(String, CurrentValue)>)> {
    Ok(conn
        .prepare_cached(&value_held_query())?
        .query_row([vehicle_id], |r| {
            let held = match r.get::<_, Option<String>>(1)? {
                Some(org) => Some((
                    org,
                    CurrentValue {
                        currency: r.get(2)?,
                        cents: r.get(3)?,
                    },
                )),
                None => None,
            };
            Ok((r.get(0)?, held))
        })?)
}

/// Moves the fleet value from what `before` counted to what the vehicle counts now.
fn value_moved(
    conn: &rusqlite::Connection,
    vehicle_id: &str,
    before: Option<(String, CurrentValue)>,
) -> StoreResult<()> {
    let after = counted_value(conn, vehicle_id)?;
    let Some(org) = after.as_ref().or(before.as_ref()).map(|(o, _)| o.clone()) else {
        return Ok(());
    };
    apply_changes(
        conn,
        &changes(Fact::CurrentValue {
            org_id: &org,
            before: before.as_ref().map(|(_, v)| v),
            after: after.as_ref().map(|(_, v)| v),
        }),
    )
}

/// Projects one fleet-membership change of `vehicle_id`: `write` changes the projection; the difference it
/// made to the vehicle's place in the fleet goes to the aggregates.
fn with_fleet_member<R>(
    conn: &rusqlite::Connection,
    vehicle_id: &str,
    write: impl FnOnce() -> StoreResult<R>,
) -> StoreResult<R> {
    let (_, before) = fleet_member(conn, vehicle_id)?;
    let value_before = counted_value(conn, vehicle_id)?;
    let out = write()?;
    value_moved(conn, vehicle_id, value_before)?;
    let (org, after) = fleet_member(conn, vehicle_id)?;
    if let Some(org) = org {
        apply_changes(
            conn,
            &changes(Fact::FleetMember {
                org_id: &org,
                before,
                after,
            }),
        )?;
    }
    Ok(out)
}

/// A row of (vehicle, kind, month, currency, total, events).
fn cost_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CostRow> {
    Ok(CostRow {
        vehicle_id: r.get(0)?,
        kind: r.get(1)?,
        month: r.get(2)?,
        currency: r.get(3)?,
        total_cents: r.get(4)?,
        events: r.get(5)?,
    })
}

type SqlArgs = Vec<Box<dyn ToSql + Send>>;

/// The timeline query (newest first, filters, strictly after a position), selecting `columns`; `guard`
/// is added to its `WHERE` (it may name the organisation and the vehicle as `?1` and `?2`).
fn timeline_query(
    columns: &str,
    guard: &str,
    query: &TimelineQuery<'_>,
    limit: usize,
) -> (String, SqlArgs) {
    let (filter, after) = (query.filter, query.page.after);
    let mut sql =
        format!("SELECT {columns} FROM timeline WHERE org_id = ? AND vehicle_id = ?{guard}");
    let mut args: SqlArgs = vec![
        Box::new(query.vehicle.org_id.to_string()),
        Box::new(query.vehicle.vehicle_id.to_string()),
    ];
    if !filter.include_voided {
        sql.push_str(" AND voided = 0");
    }
    if !filter.kinds.is_empty() {
        sql.push_str(" AND kind IN (");
        sql.push_str(&vec!["?"; filter.kinds.len()].join(", "));
        sql.push(')');
        for k in &filter.kinds {
            args.push(Box::new(k.as_str()));
        }
    }
    if let Some(from) = filter.from {
        sql.push_str(" AND occurred_at >= ?");
        args.push(Box::new(ts(&from)));
    }
    if let Some(to) = filter.to {
        sql.push_str(" AND occurred_at <= ?");
        args.push(Box::new(ts(&to)));
    }
    if let Some(p) = after {
        sql.push_str(" AND (occurred_at, id) < (?, ?)");
        args.push(Box::new(ts(&p.occurred_at)));
        args.push(Box::new(p.id.clone()));
    }
    sql.push_str(" ORDER BY occurred_at DESC, id DESC LIMIT ?");
    args.push(Box::new(limit as i64));
    (sql, args)
}

/// The timeline page's guard: the vehicle's presence in the organisation, a constant term that SQLite
/// evaluates once before it walks the timeline's key (its rows clustered by vehicle and time), so the page is one statement and one read
/// transaction (only an empty page asks again whether the vehicle is there at all). A scalar subquery,
/// not `EXISTS`: SQLite 3.5x turns an `EXISTS` into a join that reads the vehicle first and then sorts
/// the whole timeline in a temporary B-tree (test `the_timeline_page_query_walks_its_index_in_order`).
const KNOWN_VEHICLE: &str = " AND (SELECT 1 FROM vehicles WHERE org_id = ?1 AND id = ?2) = 1";
/// A vehicle's timeline version (`timeline_versions`, 0 before its first counted change): no row when
/// the vehicle is not in the organisation.
const TIMELINE_VERSION: &str = "SELECT coalesce((SELECT version FROM timeline_versions
    WHERE org_id = ?1 AND vehicle_id = ?2), 0) FROM vehicles WHERE org_id = ?1 AND id = ?2";
/// What the timeline page reads of each row: its position and its JSON.
const PAGE_COLUMNS: &str = "occurred_at, id, body";

/// What one projected change does inside the write transaction that claims its envelope (`false`: a
/// change with nothing to do, such as a re-published event).
type Effect = Box<dyn FnOnce(&rusqlite::Connection) -> StoreResult<bool> + Send>;

/// A registration's (or lifecycle change's) effect: the vehicle's body replaced, its fleet membership moved.
fn registration(vehicle: &Vehicle) -> StoreResult<Effect> {
    let (v, body) = (vehicle.clone(), serde_json::to_string(vehicle)?);
    Ok(Box::new(move |conn| {
        with_fleet_member(conn, &v.id, || {
            conn.execute(
                "INSERT INTO vehicles (id, org_id, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                params![v.id, v.org_id, body],
            )?;
            Ok(())
        })?;
        if v.status != VehicleStatus::Active {
            // A sold or archived vehicle is no longer maintained: its reminders no longer hold.
            conn.prepare_cached(
                "UPDATE notifications SET read_at = ?3
                 WHERE org_id = ?1 AND vehicle_id = ?2 AND reminded_at IS NOT NULL AND read_at IS NULL",
            )?
            .execute(params![v.org_id, v.id, ts(&vwc_clock::now())])?;
        }
        Ok(true)
    }))
}

/// A timeline event's effect: its row, the vehicle's stats and the aggregates; a re-published event
/// (another envelope id) has none and answers `false`.
fn recording(event: &VehicleEvent, traceparent: Option<&str>) -> StoreResult<Effect> {
    let (e, body) = (event.clone(), serde_json::to_string(event)?);
    let trace = traceparent.map(str::to_string);
    Ok(Box::new(move |conn| {
        let at = ts(&e.occurred_at);
        let inserted = conn.prepare_cached(
            "INSERT OR IGNORE INTO timeline (id, org_id, vehicle_id, kind, occurred_at, cost_cents, currency, body, traceparent, projected_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![e.id, e.org_id, e.vehicle_id, e.kind.as_str(), at,
            e.cost_cents.map(|c| c as i64), e.currency, body, trace, ts(&vwc_clock::now())])?;
        if inserted == 0 {
            // The same timeline event under another envelope id (a re-publish): no second effect.
            return Ok(false);
        }
        // The odometer is the highest reading (the latest of equal ones), whatever order the events arrive
        // in: one lower than an earlier reading is a rollback the scheduler leaves out too (docs/maintenance-
        // intervals.md), so the vehicle's odometer and its maintenance never disagree. An event without a
        // reading leaves it alone. (Every `SET` expression reads the row as it was.)
        conn.prepare_cached(&format!(
            "INSERT INTO vehicle_stats (vehicle_id, event_count, last_event_at, odometer, odometer_at)
             VALUES (?1, 1, ?2, ?3, CASE WHEN ?3 IS NULL THEN NULL ELSE ?2 END)
             ON CONFLICT (vehicle_id) DO UPDATE SET event_count = event_count + 1,
               last_event_at = max(coalesce(last_event_at, ''), excluded.last_event_at),
               odometer = CASE WHEN {NEWER_READING} THEN excluded.odometer ELSE odometer END,
               odometer_at = CASE WHEN {NEWER_READING} THEN excluded.odometer_at ELSE odometer_at END"
        ))?
        .execute(params![e.vehicle_id, at, e.odometer.map(|o| o as i64)])?;
        apply_changes(conn, &changes(Fact::EventRecorded(&e)))?;
        Ok(true)
    }))
}

/// Whether a recorded event's reading (`excluded`) replaces the vehicle's odometer in `vehicle_stats`: it
/// has one, and it is higher, or equal and as late or later.
const NEWER_READING: &str = "(excluded.odometer IS NOT NULL AND (odometer IS NULL
    OR excluded.odometer > odometer
    OR (excluded.odometer = odometer AND excluded.odometer_at >= odometer_at)))";

/// An evaluation's effect: the maintenance view, unless a newer evaluation is stored.
fn evaluation(org_id: &OrgId, update: &MaintenanceScheduleUpdated) -> StoreResult<Effect> {
    let (org, u) = (org_id.to_string(), update.clone());
    let (due_soon, overdue) = attention_counts(&u.items);
    let body = serde_json::to_string(update)?;
    Ok(Box::new(move |conn| {
        let member = attention_member(conn, &u.vehicle_id)?;
        let stored = conn
            .prepare_cached(
                "INSERT INTO maintenance (vehicle_id, org_id, body, due_soon, overdue, evaluated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (vehicle_id) DO UPDATE SET body = excluded.body, due_soon = excluded.due_soon,
                   overdue = excluded.overdue, evaluated_at = excluded.evaluated_at
                 WHERE excluded.evaluated_at >= maintenance.evaluated_at",
            )?
            .execute(params![u.vehicle_id, org, body, due_soon, overdue, ts(&u.evaluated_at)])?;
        if stored == 1 {
            read_settled_reminders(conn, &org, &u)?;
            if let Some(AttentionMember {
                org_id,
                counted,
                attention,
            }) = member
            {
                let (before, after) = (
                    FleetMember::of(counted, attention),
                    FleetMember::of(counted, Some((due_soon, overdue))),
                );
                apply_changes(
                    conn,
                    &changes(Fact::FleetMember {
                        org_id: &org_id,
                        before,
                        after,
                    }),
                )?;
            }
        }
        Ok(true)
    }))
}

/// [`attention_member`]'s read (`?1` the vehicle).
fn attention_member_query() -> String {
    format!(
        "SELECT v.org_id, {ACTIVE}, m.due_soon, m.overdue FROM vehicles v
         LEFT JOIN maintenance m ON m.vehicle_id = v.id
         WHERE v.id = ?1"
    )
}

/// [`value_held`]'s read (`?1` the vehicle): always one row.
fn value_held_query() -> String {
    format!(
        "SELECT NOT EXISTS (SELECT 1 FROM vehicles v WHERE v.id = ?1 AND NOT ({ACTIVE})),
                c.org_id, c.currency, c.amount
         FROM (SELECT 1) LEFT JOIN current_valuations c ON c.vehicle_id = ?1"
    )
}

/// What an evaluation changes of the fleet's aggregates, read once before it is stored: the vehicle's
/// organisation, whether it counts (active) and the attention counts of its stored evaluation — `None` when
/// the vehicle is not in the read model (its maintenance then counts nowhere). An evaluation changes neither
/// the vehicle's membership nor its value, so only the attention counts move, to the ones it stores:
/// [`with_fleet_member`]'s six reads (membership and value, before and after; four of them parsing the
/// vehicle's JSON for its status) come down to one.
fn attention_member(
    conn: &rusqlite::Connection,
    vehicle_id: &str,
) -> StoreResult<Option<AttentionMember>> {
    Ok(conn
        .prepare_cached(&attention_member_query())?
        .query_row([vehicle_id], |r| {
            let attention = match (r.get(2)?, r.get(3)?) {
                (Some(due_soon), Some(overdue)) => Some((due_soon, overdue)),
                _ => None,
            };
            Ok(AttentionMember {
                org_id: r.get(0)?,
                counted: r.get(1)?,
                attention,
            })
        })
        .optional()?)
}

/// A vehicle of the read model as an evaluation finds it ([`attention_member`]).
struct AttentionMember {
    org_id: String,
    /// Active: counted in the fleet.
    counted: bool,
    /// (due soon, overdue) of the evaluation stored; `None` before the first.
    attention: Option<(i64, i64)>,
}

/// The tasks of a vehicle's unread reminders (`?1` organisation, `?2` vehicle): every evaluation asks, so
/// it reads the partial index of unread reminders only.
const UNREAD_TASKS: &str = "SELECT DISTINCT task FROM notifications
    WHERE org_id = ?1 AND vehicle_id = ?2 AND task IS NOT NULL AND read_at IS NULL";

/// Marks read the unread reminders the vehicle's newest evaluation settled: those about an item it says
/// needs no attention, made before it ran. One read of the vehicle's unread reminders first (a partial
/// index), so an evaluation of a vehicle without any costs a single probe.
fn read_settled_reminders(
    conn: &rusqlite::Connection,
    org: &str,
    evaluation: &MaintenanceScheduleUpdated,
) -> StoreResult<()> {
    let unread: Vec<String> = conn
        .prepare_cached(UNREAD_TASKS)?
        .query_map(params![org, evaluation.vehicle_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if unread.is_empty() {
        return Ok(());
    }
    let (now, evaluated_at) = (ts(&vwc_clock::now()), ts(&evaluation.evaluated_at));
    let mut read = conn.prepare_cached(READ_OLDER_REMINDERS)?;
    for task in settled_tasks(evaluation).filter(|t| unread.iter().any(|u| u == t)) {
        read.execute(params![org, evaluation.vehicle_id, task, evaluated_at, now])?;
    }
    Ok(())
}

/// A delivery's effect: an in-app notification joins the feed (once per notification id). A reminder that
/// no longer holds when it arrives — a newer one about its item is there, or the vehicle's evaluation
/// settled the item since — joins it read; otherwise it marks the older unread reminders about its item
/// read.
fn notification(org_id: &OrgId, delivered: &NotificationDelivered) -> StoreResult<Effect> {
    let (org, view) = (org_id.to_string(), NotificationView::in_app(delivered));
    let item = ReminderItem::of(delivered);
    Ok(Box::new(move |conn| {
        let Some(view) = view else {
            return Ok(true);
        };
        let now = ts(&vwc_clock::now());
        let done = match &item {
            Some(item) => reminder_done(conn, &org, item)?,
            None => false,
        };
        let (vehicle, task, reminded_at) = match &item {
            Some(i) => (Some(&i.vehicle_id), Some(&i.task), Some(ts(&i.reminded_at))),
            None => (None, None, None),
        };
        let inserted = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO notifications
                   (id, org_id, body, created_at, vehicle_id, task, reminded_at, read_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                view.id,
                org,
                serde_json::to_string(&view)?,
                ts(&view.created_at),
                vehicle,
                task,
                reminded_at,
                done.then_some(&now)
            ])?;
        if let (1, false, Some(_)) = (inserted, done, &item) {
            conn.prepare_cached(READ_OLDER_REMINDERS)?.execute(params![
                org,
                vehicle,
                task,
                reminded_at,
                now
            ])?;
        }
        Ok(true)
    }))
}

/// Marks read the unread reminders about one item (`?1` organisation, `?2` vehicle, `?3` task) made before
/// `?4`, at `?5`.
const READ_OLDER_REMINDERS: &str = "UPDATE notifications SET read_at = ?5
    WHERE org_id = ?1 AND vehicle_id = ?2 AND task = ?3 AND reminded_at < ?4 AND read_at IS NULL";

/// Whether a reminder arriving now no longer holds: a newer reminder about its item is in the feed (read
/// or not), or the vehicle's stored evaluation ran after it and settled the item.
fn reminder_done(conn: &rusqlite::Connection, org: &str, item: &ReminderItem) -> StoreResult<bool> {
    let newer = conn
        .prepare_cached(
            "SELECT 1 FROM notifications
             WHERE org_id = ?1 AND vehicle_id = ?2 AND task = ?3 AND reminded_at > ?4 LIMIT 1",
        )?
        .query_row(
            params![org, item.vehicle_id, item.task, ts(&item.reminded_at)],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if newer {
        return Ok(true);
    }
    let retired = conn
        .prepare_cached(
            "SELECT 1 FROM vehicles v WHERE v.id = ?1 AND v.org_id = ?2
               AND coalesce(json_extract(v.body, '$.status'), 'active') != 'active'",
        )?
        .query_row(params![item.vehicle_id, org], |_| Ok(()))
        .optional()?
        .is_some();
    if retired {
        return Ok(true);
    }
    let evaluation: Option<String> = conn
        .prepare_cached("SELECT body FROM maintenance WHERE vehicle_id = ?1 AND org_id = ?2")?
        .query_row(params![item.vehicle_id, org], |r| r.get(0))
        .optional()?;
    Ok(match evaluation {
        Some(body) => item.settled_by(&serde_json::from_str(&body)?),
        None => false,
    })
}

/// A valuation point's effect: the history point or the current value, unless a newer computation
/// is stored.
fn valuation(org_id: &OrgId, update: &ValuationUpdated) -> StoreResult<Effect> {
    let org = org_id.to_string();
    let v = &update.valuation;
    let (vehicle, as_of, amount, currency) = (
        update.vehicle_id.clone(),
        v.as_of.to_string(),
        v.amount_cents as i64,
        v.currency.clone(),
    );
    let current = v.kind == ValuationPointKind::Current;
    let body = serde_json::to_string(v)?;
    let computed_at = ts(&update.computed_at);
    Ok(Box::new(move |conn| {
        if current {
            let (counted, held) = value_held(conn, &vehicle)?;
            // A later day wins; the same day, the later computation.
            let stored = conn
                .prepare_cached(
                    "INSERT INTO current_valuations
                   (vehicle_id, org_id, as_of, amount, currency, body, computed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (vehicle_id) DO UPDATE SET as_of = excluded.as_of,
                   amount = excluded.amount, currency = excluded.currency, body = excluded.body,
                   computed_at = excluded.computed_at
                 WHERE excluded.as_of > current_valuations.as_of
                   OR (excluded.as_of = current_valuations.as_of
                       AND excluded.computed_at >= current_valuations.computed_at)",
                )?
                .execute(params![
                    vehicle,
                    org,
                    as_of,
                    amount,
                    currency,
                    body,
                    computed_at
                ])?;
            // A stored value replaces the one the fleet counted (the row keeps its organisation).
            if counted && stored == 1 {
                let org_id = held.as_ref().map_or(org.as_str(), |(o, _)| o.as_str());
                let after = CurrentValue {
                    currency: currency.clone(),
                    cents: amount,
                };
                apply_changes(
                    conn,
                    &changes(Fact::CurrentValue {
                        org_id,
                        before: held.as_ref().map(|(_, v)| v),
                        after: Some(&after),
                    }),
                )?;
            }
        } else {
            conn.prepare_cached(
                "INSERT INTO valuations (vehicle_id, as_of, org_id, body, computed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (vehicle_id, as_of) DO UPDATE SET body = excluded.body,
                   computed_at = excluded.computed_at
                 WHERE excluded.computed_at >= valuations.computed_at",
            )?
            .execute(params![vehicle, as_of, org, body, computed_at])?;
        }
        Ok(true)
    }))
}

/// A revision's effect: see [`Projected::Revision`].
fn correction(revision: &TimelineRevision) -> StoreResult<Effect> {
    let r = revision.clone();
    Ok(Box::new(move |conn| {
        let e = &r.event;
        // What the row counted in the cost aggregates before (nothing when voided or absent).
        let before: Option<VehicleEvent> = conn
            .prepare_cached("SELECT body FROM timeline WHERE id = ?1 AND voided = 0")?
            .query_row([e.id.as_str()], |row| row.get::<_, String>(0))
            .optional()?
            .map(|body| serde_json::from_str(&body))
            .transpose()?;
        let replaced = conn.prepare_cached(
            "INSERT INTO timeline (id, org_id, vehicle_id, kind, occurred_at, cost_cents, currency, body,
               projected_at, revision, voided)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, occurred_at = excluded.occurred_at,
               cost_cents = excluded.cost_cents, currency = excluded.currency, body = excluded.body,
               projected_at = excluded.projected_at, revision = excluded.revision,
               voided = excluded.voided
             WHERE excluded.revision > timeline.revision AND timeline.org_id = excluded.org_id",
        )?
        .execute(params![e.id, e.org_id, e.vehicle_id, e.kind.as_str(), ts(&e.occurred_at),
            e.cost_cents.map(|c| c as i64), e.currency, r.json, ts(&vwc_clock::now()),
            r.revision, r.voided as i64])?;
        if replaced == 1 {
            let after = (!r.voided).then_some(e);
            apply_changes(
                conn,
                &changes(Fact::EventRevised {
                    before: before.as_ref(),
                    after,
                }),
            )?;
        }
        recount(conn, e.org_id.as_str(), &e.vehicle_id)?;
        Ok(true)
    }))
}

#[async_trait]
impl EdgeStore for SqliteEdgeStore {
    async fn apply(&self, delivery: &Delivery<'_>, change: Projected<'_>) -> StoreResult<bool> {
        let effect = match change {
            Projected::Vehicle(vehicle) => registration(vehicle)?,
            Projected::Event(event) => recording(event, delivery.traceparent)?,
            Projected::Maintenance(update) => evaluation(delivery.org_id, update)?,
            Projected::Notification(delivered) => notification(delivery.org_id, delivered)?,
            Projected::Valuation(update) => valuation(delivery.org_id, update)?,
            Projected::Revision(revision) => correction(revision)?,
        };
        // The envelope id is claimed in the inbox first: a duplicate delivery answers `false` without
        // the effect.
        let id = delivery.envelope_id.to_string();
        self.db
            .write(move |conn| Ok(claim_inbox(conn, CONSUMER, &id)? && effect(conn)?))
            .await
    }

    async fn vehicles(
        &self,
        org_id: &OrgId,
        page: Page<'_, VehicleId>,
    ) -> StoreResult<Vec<VehicleView>> {
        let (org, after, limit) = org_page(org_id, page);
        self.db
            .read(move |conn| {
                let bodies: Vec<String> = rows(
                    conn,
                    "SELECT body FROM vehicles WHERE org_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
                    params![org, after, limit],
                    |r| r.get(0),
                )?;
                bodies.iter().map(|b| vehicle_view(conn, b)).collect()
            })
            .await
    }

    async fn vehicle(&self, vehicle: &VehicleRef) -> StoreResult<Option<VehicleView>> {
        let (org, id) = (vehicle.org_id.to_string(), vehicle.vehicle_id.to_string());
        self.db
            .read(move |conn| {
                let body: Option<String> = conn
                    .prepare_cached("SELECT body FROM vehicles WHERE org_id = ?1 AND id = ?2")?
                    .query_row(params![org, id], |r| r.get(0))
                    .optional()?;
                body.map(|b| vehicle_view(conn, &b)).transpose()
            })
            .await
    }

    async fn events(&self, query: &TimelineQuery<'_>) -> StoreResult<Vec<VehicleEvent>> {
        let (sql, args) = timeline_query("body", "", query, query.page.limit);
        self.db
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&sql)?;
                let refs: Vec<&dyn ToSql> = args.iter().map(|a| a.as_ref() as &dyn ToSql).collect();
                let bodies: Vec<String> = stmt
                    .query_map(refs.as_slice(), |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                bodies
                    .iter()
                    .map(|b| Ok(serde_json::from_str(b)?))
                    .collect()
            })
            .await
    }

    async fn timeline_page(&self, query: &TimelineQuery<'_>) -> StoreResult<Option<TimelinePage>> {
        let mut page = TimelinePageBuilder::new(query.page.limit);
        let (sql, args) = timeline_query(PAGE_COLUMNS, KNOWN_VEHICLE, query, page.rows());
        // A page is at most 201 adjacent rows of the timeline's key: short enough to run on this
        // task's thread rather than hand it to the blocking pool and back (docs/bench.md). Each row's JSON
        // is copied from SQLite's buffer into the page as it is (it was written from a Rust `String`).
        let (org, vehicle) = (
            query.vehicle.org_id.as_str(),
            query.vehicle.vehicle_id.as_str(),
        );
        self.db
            .read_inline(move |conn| {
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
                while let Some(row) = rows.next()? {
                    let json = row
                        .get_ref(2)?
                        .as_bytes()
                        .map_err(|e| StoreError::Other(e.to_string()))?;
                    let more = page.push(json, || {
                        let text = |i| {
                            row.get_ref(i)?
                                .as_str()
                                .map_err(|e| StoreError::Other(e.to_string()))
                        };
                        timeline_page::position(text(0)?, text(1)?)
                    })?;
                    if !more {
                        break;
                    }
                }
                let page = page.finish();
                if page.is_empty() {
                    let known = conn
                        .prepare_cached("SELECT 1 FROM vehicles WHERE org_id = ?1 AND id = ?2")?
                        .query_row(params![org, vehicle], |_| Ok(()))
                        .optional()?;
                    if known.is_none() {
                        return Ok(None);
                    }
                }
                Ok(Some(page))
            })
            .await
    }

    async fn timeline_version(&self, vehicle: &VehicleRef) -> StoreResult<Option<u64>> {
        let (org, id) = (vehicle.org_id.as_str(), vehicle.vehicle_id.as_str());
        // Two key lookups: short enough for this task's thread, as the page itself (above).
        self.db
            .read_inline(move |conn| {
                let version: Option<i64> = conn
                    .prepare_cached(TIMELINE_VERSION)?
                    .query_row(params![org, id], |r| r.get(0))
                    .optional()?;
                Ok(version.map(|v| v.max(0) as u64))
            })
            .await
    }

    async fn maintenance(&self, vehicle: &VehicleRef) -> StoreResult<Option<MaintenanceView>> {
        let update = self.vehicle_body("maintenance", vehicle).await?;
        Ok(update.map(MaintenanceView::of))
    }

    async fn notifications(&self, feed: Feed<'_>) -> StoreResult<Vec<NotificationView>> {
        let (org, unread_only, limit) =
            (feed.org_id.to_string(), feed.unread_only, feed.page.limit);
        let (after_t, after_id) = match feed.page.after {
            Some((t, id)) => (ts(t), id.clone()),
            None => ("9999".to_string(), String::new()),
        };
        self.db
            .read(move |conn| {
                let found: Vec<(String, Option<String>)> = rows(
                    conn,
                    "SELECT body, read_at FROM notifications WHERE org_id = ?1
                       AND (?2 = 0 OR read_at IS NULL)
                       AND (created_at < ?3 OR (created_at = ?3 AND id < ?4))
                     ORDER BY created_at DESC, id DESC LIMIT ?5",
                    params![org, unread_only as i64, after_t, after_id, limit as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                found
                    .into_iter()
                    .map(|(body, read_at)| {
                        let mut v: NotificationView = serde_json::from_str(&body)?;
                        v.read_at = read_at.as_deref().map(parse_ts).transpose()?;
                        Ok(v)
                    })
                    .collect()
            })
            .await
    }

    async fn mark_notification_read(
        &self,
        notification: NotificationRef<'_>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (org, id) = (notification.org_id.to_string(), notification.id.to_string());
        self.db
            .write(move |conn| {
                let n = conn.execute(
                    "UPDATE notifications SET read_at = coalesce(read_at, ?3) WHERE org_id = ?1 AND id = ?2",
                    params![org, id, ts(&at)],
                )?;
                Ok(n == 1)
            })
            .await
    }

    async fn mark_notifications_read(
        &self,
        org_id: &OrgId,
        through: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<u64>> {
        let (org, through) = (org_id.to_string(), through.map(str::to_string));
        self.db
            .write(move |conn| {
                // The feed's position of `through` (newest first), or past the newest of all.
                let (until_t, until_id) = match through {
                    Some(id) => match conn
                        .query_row(
                            "SELECT created_at FROM notifications WHERE org_id = ?1 AND id = ?2",
                            params![org, id],
                            |r| r.get::<_, String>(0),
                        )
                        .optional()?
                    {
                        Some(t) => (t, id),
                        None => return Ok(None),
                    },
                    None => ("9999".to_string(), String::new()),
                };
                let n = conn.execute(
                    "UPDATE notifications SET read_at = ?4 WHERE org_id = ?1 AND read_at IS NULL
                       AND (created_at < ?2 OR (created_at = ?2 AND id <= ?3))",
                    params![org, until_t, until_id, ts(&at)],
                )?;
                Ok(Some(n as u64))
            })
            .await
    }

    async fn cost_months(
        &self,
        CostsOf { org_id, scope }: CostsOf<'_>,
        months: &MonthRange,
    ) -> StoreResult<Vec<CostBucket>> {
        let (org, (first, last)) = (org_id.to_string(), month_bounds(months));
        // The organisation's totals are their own aggregate, without a vehicle.
        let (vehicle_column, table) = match scope {
            CostScope::Fleet => ("''", "fleet_cost_months"),
            CostScope::Vehicle(_) | CostScope::EachVehicle => ("vehicle_id", "cost_months"),
        };
        let mut sql = format!(
            "SELECT {vehicle_column}, kind, month, currency, total_cents, events FROM {table}
             WHERE org_id = ?1 AND month >= ?2 AND month <= ?3"
        );
        let mut args: SqlArgs = vec![Box::new(org), Box::new(first), Box::new(last)];
        if let CostScope::Vehicle(vehicle_id) = scope {
            sql.push_str(" AND vehicle_id = ?4");
            args.push(Box::new(vehicle_id.to_string()));
        }
        self.cost_rows(sql, args).await
    }

    async fn costs_between(
        &self,
        of: CostsOf<'_>,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
    ) -> StoreResult<Vec<CostBucket>> {
        let mut sql = String::from(
            "SELECT vehicle_id, kind, substr(occurred_at, 1, 7), coalesce(currency, 'USD'),
               sum(cost_cents), count(*)
             FROM timeline
             WHERE org_id = ?1 AND occurred_at >= ?2 AND occurred_at <= ?3
               AND cost_cents IS NOT NULL AND voided = 0",
        );
        let mut args: SqlArgs = vec![
            Box::new(of.org_id.to_string()),
            Box::new(ts(&from)),
            Box::new(ts(&to)),
        ];
        if let Some(vehicle_id) = of.scope.vehicle_id() {
            sql.push_str(" AND vehicle_id = ?4");
            args.push(Box::new(vehicle_id.to_string()));
        }
        sql.push_str(" GROUP BY 1, 2, 3, 4");
        self.cost_rows(sql, args).await
    }

    async fn vehicle_cost_totals(&self, totals: VehicleTotals<'_>) -> StoreResult<Vec<CostTotal>> {
        let (org, (first, last)) = (totals.org_id.to_string(), month_bounds(totals.months));
        // No cursor: ('', '') sorts before every key.
        let (after_vehicle, after_currency) = (totals.page.after)
            .map(|k| (k.vehicle_id.clone(), k.currency.clone()))
            .unwrap_or_default();
        let limit = i64::try_from(totals.page.limit).unwrap_or(i64::MAX);
        self.db
            .read(move |conn| {
                rows(
                    conn,
                    "SELECT vehicle_id, currency, sum(total_cents), sum(events)
                     FROM cost_months INDEXED BY cost_months_by_vehicle
                     WHERE org_id = ?1 AND (vehicle_id, currency) > (?2, ?3)
                       AND month >= ?4 AND month <= ?5
                     GROUP BY vehicle_id, currency HAVING sum(events) > 0
                     ORDER BY vehicle_id, currency LIMIT ?6",
                    params![org, after_vehicle, after_currency, first, last, limit],
                    |r| {
                        Ok(CostTotal {
                            vehicle_id: r.get(0)?,
                            currency: r.get(1)?,
                            total_cents: r.get::<_, i64>(2)?.max(0) as u64,
                            events: r.get::<_, i64>(3)?.max(0) as u64,
                        })
                    },
                )
            })
            .await
    }

    async fn fleet_counts(&self, org_id: &OrgId) -> StoreResult<FleetCounts> {
        // One row per organisation, none before its first vehicle.
        let sql = "SELECT vehicles, due_soon, overdue, vehicles_overdue FROM fleet_counts WHERE org_id = ?1";
        let counts = self.org_rows(org_id, sql, |r| {
            Ok(FleetCounts {
                vehicles: r.get::<_, i64>(0)?.max(0) as u64,
                due_soon: r.get::<_, i64>(1)?.max(0) as u64,
                overdue: r.get::<_, i64>(2)?.max(0) as u64,
                vehicles_overdue: r.get::<_, i64>(3)?.max(0) as u64,
            })
        });
        Ok(counts.await?.pop().unwrap_or_default())
    }

    async fn fleet(&self, org_id: &OrgId, page: Page<'_, VehicleId>) -> StoreResult<Vec<FleetRow>> {
        let (org, after, limit) = org_page(org_id, page);
        self.db
            .read(move |conn| {
                // One statement for the page: the vehicle, its stats, its maintenance counts, its current
                // value (the row `current_valuation` reads, which the fleet value sums) and its lifetime
                // costs as a JSON array of [currency, cents, events] — no statement per row.
                struct Found {
                    body: String,
                    stats: VehicleStats,
                    due_soon: i64,
                    overdue: i64,
                    value: Option<(i64, String, String)>,
                    costs: String,
                }
                let found: Vec<Found> = rows(
                    conn,
                    &format!(
                        "SELECT v.body, coalesce(m.due_soon, 0), coalesce(m.overdue, 0),
                           c.amount, c.currency, c.as_of,
                           coalesce(s.event_count, 0), s.last_event_at, s.odometer, s.odometer_at,
                           coalesce(s.acquisitions, 0),
                           (SELECT json_group_array(json_array(vc.currency, vc.total_cents, vc.events))
                              FROM vehicle_costs vc WHERE vc.org_id = v.org_id AND vc.vehicle_id = v.id)
                         FROM vehicles v LEFT JOIN maintenance m ON m.vehicle_id = v.id
                           LEFT JOIN current_valuations c ON c.vehicle_id = v.id AND c.org_id = v.org_id
                           LEFT JOIN vehicle_stats s ON s.vehicle_id = v.id
                         WHERE v.org_id = ?1 AND v.id > ?2 AND {ACTIVE} ORDER BY v.id LIMIT ?3"
                    ),
                    params![org, after, limit],
                    |r| {
                        let value = match (r.get(3)?, r.get(4)?, r.get(5)?) {
                            (Some(amount), Some(currency), Some(as_of)) => {
                                Some((amount, currency, as_of))
                            }
                            _ => None,
                        };
                        Ok(Found {
                            body: r.get(0)?,
                            due_soon: r.get(1)?,
                            overdue: r.get(2)?,
                            value,
                            stats: VehicleStats {
                                event_count: r.get(6)?,
                                last_event_at: r.get(7)?,
                                odometer: r.get(8)?,
                                odometer_at: r.get(9)?,
                                acquisitions: r.get(10)?,
                            },
                            costs: r.get(11)?,
                        })
                    },
                )?;
                found
                    .into_iter()
                    .map(|f| {
                        let vehicle: Vehicle = serde_json::from_str(&f.body)?;
                        let purchase_recorded = f.stats.acquisitions > 0;
                        let recorded: Vec<(String, i64, i64)> = serde_json::from_str(&f.costs)?;
                        Ok(FleetRow {
                            lifetime_cost: LifetimeCost::of(&vehicle, purchase_recorded, recorded),
                            purchase_recorded,
                            vehicle: f.stats.view(vehicle)?,
                            due_soon: f.due_soon as u32,
                            overdue: f.overdue as u32,
                            current_value: f
                                .value
                                .map(|(amount, currency, as_of)| RowValue::stored(amount, currency, &as_of))
                                .transpose()?,
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn valuations(
        &self,
        vehicle: &VehicleRef,
        page: Page<'_, chrono::NaiveDate>,
    ) -> StoreResult<Vec<Valuation>> {
        let (org, id) = (vehicle.org_id.to_string(), vehicle.vehicle_id.to_string());
        let (before, limit) = (valuations_before(page.after.copied()), page.limit);
        let bodies: Vec<String> = self
            .db
            .read(move |conn| {
                rows(
                    conn,
                    "SELECT body FROM valuations
                     WHERE vehicle_id = ?1 AND org_id = ?2 AND as_of < ?3
                     ORDER BY as_of DESC LIMIT ?4",
                    params![id, org, before, limit as i64],
                    |r| r.get(0),
                )
            })
            .await?;
        bodies
            .iter()
            .map(|b| Ok(serde_json::from_str(b)?))
            .collect()
    }

    async fn current_valuation(&self, vehicle: &VehicleRef) -> StoreResult<Option<Valuation>> {
        self.vehicle_body("current_valuations", vehicle).await
    }

    async fn fuel_vehicles(&self, org_id: &OrgId) -> StoreResult<Vec<VehicleId>> {
        self.org_rows(org_id, FUEL_VEHICLES, |r| r.get(0)).await
    }

    async fn fleet_value(&self, org_id: &OrgId) -> StoreResult<Vec<FleetValue>> {
        let sql = "SELECT currency, total_cents, vehicles FROM fleet_values
                   WHERE org_id = ?1 AND vehicles > 0 ORDER BY currency";
        self.org_rows(org_id, sql, |r| {
            Ok(FleetValue {
                currency: r.get(0)?,
                total_cents: r.get::<_, i64>(1)? as u64,
                vehicles: r.get::<_, i64>(2)? as u64,
            })
        })
        .await
    }
}

/// The vehicles of an organisation with fill-ups, through the partial index of fuel rows. Named: with the
/// timeline clustered by (organisation, vehicle), whose key is in vehicle order too, SQLite 3.40 plans a
/// walk of the organisation's whole timeline instead (the bundled SQLite picks the index by itself; test
/// `the_fuel_vehicles_come_from_the_fuel_index`).
const FUEL_VEHICLES: &str = "SELECT DISTINCT vehicle_id FROM timeline INDEXED BY timeline_fuel
    WHERE org_id = ?1 AND kind = 'fuel' AND voided = 0 ORDER BY vehicle_id";

/// [`recount`]'s update: `?1` the vehicle, `?2` its organisation.
const RECOUNT: &str = "UPDATE vehicle_stats SET
           event_count = (SELECT count(*) FROM timeline WHERE org_id = ?2 AND vehicle_id = ?1 AND voided = 0),
           last_event_at = (SELECT max(occurred_at) FROM timeline WHERE org_id = ?2 AND vehicle_id = ?1 AND voided = 0),
           odometer = (SELECT json_extract(body, '$.odometer') FROM timeline
                       WHERE org_id = ?2 AND vehicle_id = ?1 AND voided = 0 AND json_extract(body, '$.odometer') IS NOT NULL
                       ORDER BY json_extract(body, '$.odometer') DESC, occurred_at DESC LIMIT 1),
           odometer_at = (SELECT occurred_at FROM timeline
                       WHERE org_id = ?2 AND vehicle_id = ?1 AND voided = 0 AND json_extract(body, '$.odometer') IS NOT NULL
                       ORDER BY json_extract(body, '$.odometer') DESC, occurred_at DESC LIMIT 1)
         WHERE vehicle_id = ?1";

/// Recomputes a vehicle's event count, last event and odometer over its records that are not voided: a
/// walk of the vehicle's own rows of the timeline's key (naming the organisation too; by the vehicle alone
/// each of the four would scan the whole timeline).
fn recount(conn: &rusqlite::Connection, org_id: &str, vehicle_id: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO vehicle_stats (vehicle_id, event_count) VALUES (?1, 0)",
    )?
    .execute([vehicle_id])?;
    conn.prepare_cached(RECOUNT)?
        .execute([vehicle_id, org_id])?;
    Ok(())
}

impl SqliteEdgeStore {
    /// Bench and bulk-import support: writes timeline rows directly in large transactions (no inbox, no
    /// bus), keeping `vehicle_stats` right. `progress` is called after each batch with the running count.
    pub fn bulk_load_timeline(
        path: &Path,
        events: impl Iterator<Item = VehicleEvent>,
        batch: usize,
        mut progress: impl FnMut(usize),
    ) -> StoreResult<usize> {
        // Opening through SqliteDb applies the migrations; the writes then go through one plain connection.
        drop(SqliteDb::open(path, MIGRATIONS)?);
        let mut conn = rusqlite::Connection::open(path)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
        let mut events = events.peekable();
        let mut total = 0;
        while events.peek().is_some() {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO timeline (id, org_id, vehicle_id, kind, occurred_at, cost_cents, currency, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                let mut stats = tx.prepare_cached(
                    "INSERT INTO vehicle_stats (vehicle_id, event_count, last_event_at, odometer, odometer_at)
                     VALUES (?1, 1, ?2, ?3, ?2)
                     ON CONFLICT (vehicle_id) DO UPDATE SET event_count = event_count + 1,
                       last_event_at = max(coalesce(last_event_at, ''), excluded.last_event_at),
                       odometer = CASE WHEN excluded.odometer IS NOT NULL AND (odometer IS NULL OR excluded.odometer > odometer
                                            OR (excluded.odometer = odometer AND excluded.last_event_at >= odometer_at))
                                       THEN excluded.odometer ELSE odometer END,
                       odometer_at = CASE WHEN excluded.odometer IS NOT NULL AND (odometer IS NULL OR excluded.odometer > odometer
                                            OR (excluded.odometer = odometer AND excluded.last_event_at >= odometer_at))
                                       THEN excluded.last_event_at ELSE odometer_at END",
                )?;
                for e in events.by_ref().take(batch) {
                    let at = ts(&e.occurred_at);
                    insert.execute(params![
                        e.id,
                        e.org_id,
                        e.vehicle_id,
                        e.kind.as_str(),
                        at,
                        e.cost_cents.map(|c| c as i64),
                        e.currency,
                        serde_json::to_string(&e)?
                    ])?;
                    stats.execute(params![e.vehicle_id, at, e.odometer.map(|o| o as i64)])?;
                    total += 1;
                }
            }
            tx.commit()?;
            progress(total);
        }
        rebuild_aggregates(&mut conn)?;
        Ok(total)
    }

    /// Recomputes the fleet aggregates from the projection (after a bulk load, or to repair them).
    pub fn rebuild_aggregates(path: &Path) -> StoreResult<()> {
        drop(SqliteDb::open(path, MIGRATIONS)?);
        let mut conn = rusqlite::Connection::open(path)?;
        rebuild_aggregates(&mut conn)
    }
}

fn rebuild_aggregates(conn: &mut rusqlite::Connection) -> StoreResult<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(rebuild_aggregates_sql!())?;
    tx.execute_batch(rebuild_lifetime_sql!())?;
    tx.execute_batch(rebuild_overdue_vehicles_sql!())?;
    tx.commit()?;
    Ok(())
}

impl Plumbed for SqliteEdgeStore {
    type Db = SqliteDb;
    fn plumbing(&self) -> &SqliteDb {
        &self.db
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventFilter, TimelinePosition};
    use vwc_contracts::EventKind;

    /// `EXPLAIN QUERY PLAN` of `sql` with `args` on the real schema (a new edge database): one line per step.
    async fn query_plan(sql: String, args: SqlArgs) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteEdgeStore::open(&dir.path().join("edge.db")).unwrap();
        store
            .db()
            .read(move |conn| {
                let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let lines = stmt
                    .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                        r.get::<_, String>(3)
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(lines)
            })
            .await
            .unwrap()
    }

    /// Asserts that `plan` has a step naming `uses` and none naming any of `never`.
    fn assert_plan(plan: &[String], uses: &str, never: &[&str]) {
        assert!(plan.iter().any(|l| l.contains(uses)), "{uses}: {plan:?}");
        assert!(
            !plan.iter().any(|l| never.iter().any(|n| l.contains(n))),
            "{never:?}: {plan:?}"
        );
    }

    /// A timeline version is two key lookups: the vehicle by its key, its version by the primary key of
    /// `timeline_versions`; nothing is scanned.
    #[tokio::test]
    async fn the_timeline_version_is_read_by_key() {
        let args: SqlArgs = vec![Box::new("org_a"), Box::new("veh_1")];
        let plan = query_plan(TIMELINE_VERSION.to_string(), args).await;
        assert_plan(
            &plan,
            "SEARCH timeline_versions USING PRIMARY KEY",
            &["SCAN"],
        );
        assert_plan(&plan, "SEARCH vehicles USING", &["SCAN"]);
    }

    /// The schema steps before the one that writes `marker`: a data dir as an older build left it.
    fn migrations_before(marker: &str) -> &'static [&'static str] {
        let step = MIGRATIONS
            .iter()
            .position(|m| m.contains(marker))
            .unwrap_or_else(|| panic!("no schema step writes {marker:?}"));
        &MIGRATIONS[..step]
    }

    /// Every change of a vehicle's timeline rows counts in its version — an insert, an update, a delete,
    /// a row moved to another vehicle (both count) — whoever writes them; another vehicle's or a row
    /// ignored as a duplicate does not; a vehicle not in the organisation has no version.
    #[tokio::test]
    async fn the_timeline_version_counts_every_change_of_a_vehicles_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("edge.db");
        let store = SqliteEdgeStore::open(&path).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        for (id, org) in [("veh_1", "org_a"), ("veh_2", "org_a"), ("veh_3", "org_b")] {
            conn.execute(
                "INSERT INTO vehicles (id, org_id, body) VALUES (?1, ?2, '{}')",
                params![id, org],
            )
            .unwrap();
        }
        let version = |org: &'static str, id: &'static str| {
            let store = &store;
            async move {
                store
                    .timeline_version(&VehicleRef::new(org, id))
                    .await
                    .unwrap()
            }
        };
        assert_eq!(version("org_a", "veh_1").await, Some(0), "no change yet");
        assert_eq!(
            version("org_b", "veh_1").await,
            None,
            "another organisation's"
        );
        assert_eq!(
            version("org_a", "veh_9").await,
            None,
            "not in the read model"
        );
        let insert =
            "INSERT OR IGNORE INTO timeline (id, org_id, vehicle_id, kind, occurred_at, body)
                      VALUES (?1, 'org_a', ?2, 'repair', '2024-01-01T00:00:00.000000000Z', '{}')";
        conn.execute(insert, params!["evt_1", "veh_1"]).unwrap();
        assert_eq!(version("org_a", "veh_1").await, Some(1));
        conn.execute(insert, params!["evt_1", "veh_1"]).unwrap();
        assert_eq!(
            version("org_a", "veh_1").await,
            Some(1),
            "a duplicate ignored"
        );
        conn.execute(insert, params!["evt_2", "veh_2"]).unwrap();
        assert_eq!(
            version("org_a", "veh_1").await,
            Some(1),
            "another vehicle's row"
        );
        conn.execute("UPDATE timeline SET voided = 1 WHERE id = 'evt_1'", [])
            .unwrap();
        assert_eq!(version("org_a", "veh_1").await, Some(2));
        conn.execute(
            "UPDATE timeline SET vehicle_id = 'veh_2' WHERE id = 'evt_1'",
            [],
        )
        .unwrap();
        assert_eq!(version("org_a", "veh_1").await, Some(3), "a row moved away");
        assert_eq!(version("org_a", "veh_2").await, Some(2), "and moved in");
        conn.execute("DELETE FROM timeline WHERE id = 'evt_2'", [])
            .unwrap();
        assert_eq!(version("org_a", "veh_2").await, Some(3));
        assert_eq!(version("org_a", "veh_1").await, Some(3));
    }

    /// A correction's recount of the vehicle's stats reads only that vehicle's rows: four walks of the
    /// timeline's key, never a scan of every organisation's timeline.
    #[tokio::test]
    async fn a_recount_walks_the_vehicles_own_rows() {
        let args: SqlArgs = vec![Box::new("veh_1"), Box::new("org_a")];
        let plan = query_plan(RECOUNT.to_string(), args).await;
        let walks = plan
            .iter()
            .filter(|l| l.contains("SEARCH timeline USING PRIMARY KEY (org_id=? AND vehicle_id=?"))
            .count();
        assert_eq!(walks, 4, "{plan:?}");
        assert!(!plan.iter().any(|l| l.contains("SCAN")), "{plan:?}");
    }

    /// The fleet's fuel rows start from the vehicles with fill-ups, read from the partial index of fuel
    /// rows alone: not a walk of every row of the organisation.
    #[tokio::test]
    async fn the_fuel_vehicles_come_from_the_fuel_index() {
        let plan = query_plan(FUEL_VEHICLES.to_string(), vec![Box::new("org_a")]).await;
        assert_plan(
            &plan,
            "COVERING INDEX timeline_fuel (org_id=?)",
            &["SCAN", "PRIMARY KEY"],
        );
    }

    /// Every evaluation asks for the vehicle's unread reminders: a search of the partial index of unread
    /// reminders, whatever the vehicle's read ones.
    #[tokio::test]
    async fn an_evaluation_reads_only_the_index_of_unread_reminders() {
        let args: SqlArgs = vec![Box::new("org_a"), Box::new("veh_1")];
        let plan = query_plan(UNREAD_TASKS.to_string(), args).await;
        assert_plan(
            &plan,
            "INDEX notifications_unread_by_item (org_id=? AND vehicle_id=?",
            &["SCAN"],
        );
    }

    /// A data dir from before the timeline was clustered by vehicle keeps every row, voided and revised
    /// ones included, pages them in the same order, and still refuses a second row with an `id` it holds.
    #[tokio::test]
    async fn a_timeline_from_before_the_clustering_keeps_its_rows_and_their_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("edge.db");
        drop(SqliteDb::open(&path, migrations_before("CREATE TABLE timeline_by_vehicle")).unwrap());
        let old = rusqlite::Connection::open(&path).unwrap();
        old.execute(
            "INSERT INTO vehicles (id, org_id, body) VALUES ('veh_1', 'org_a', '{}')",
            [],
        )
        .unwrap();
        // Three rows of one vehicle, written out of time order, and another vehicle's between them.
        for (id, vehicle, at, revision, voided) in [
            ("evt_b", "veh_1", "2024-02-01T00:00:00.000000000Z", 2, 0),
            ("evt_x", "veh_2", "2024-01-15T00:00:00.000000000Z", 1, 0),
            ("evt_a", "veh_1", "2024-01-01T00:00:00.000000000Z", 1, 1),
            ("evt_c", "veh_1", "2024-03-01T00:00:00.000000000Z", 1, 0),
        ] {
            old.execute(
                "INSERT INTO timeline (id, org_id, vehicle_id, kind, occurred_at, cost_cents, currency, body,
                   traceparent, projected_at, revision, voided)
                 VALUES (?1, 'org_a', ?2, 'repair', ?3, 100, 'USD', ?4, 'tp', ?3, ?5, ?6)",
                params![id, vehicle, at, format!("{{\"id\":\"{id}\"}}"), revision, voided],
            )
            .unwrap();
        }
        drop(old);

        let store = SqliteEdgeStore::open(&path).unwrap();
        let vehicle = VehicleRef::new("org_a", "veh_1");
        let page = |include_voided| {
            let filter = EventFilter {
                include_voided,
                ..EventFilter::default()
            };
            let (store, vehicle) = (&store, &vehicle);
            async move {
                let query = TimelineQuery {
                    vehicle,
                    filter: &filter,
                    page: Page::after(None, 10),
                };
                let page = store.timeline_page(&query).await.unwrap().unwrap();
                String::from_utf8(page.items_json().to_vec()).unwrap()
            }
        };
        assert_eq!(page(false).await, r#"{"id":"evt_c"},{"id":"evt_b"}"#);
        assert_eq!(
            page(true).await,
            r#"{"id":"evt_c"},{"id":"evt_b"},{"id":"evt_a"}"#
        );
        let kept = store
            .db()
            .read(|conn| {
                let revised: i64 = conn.query_row(
                    "SELECT revision FROM timeline WHERE id = 'evt_b'",
                    [],
                    |r| r.get(0),
                )?;
                // The same id at another time is the same event: ignored, as before.
                let again = conn.execute(
                    "INSERT OR IGNORE INTO timeline (id, org_id, vehicle_id, kind, occurred_at, body)
                     VALUES ('evt_b', 'org_a', 'veh_1', 'repair', '2025-01-01T00:00:00.000000000Z', '{}')",
                    [],
                )?;
                let rows: i64 = conn.query_row("SELECT count(*) FROM timeline", [], |r| r.get(0))?;
                Ok((revised, again, rows))
            })
            .await
            .unwrap();
        assert_eq!(kept, (2, 0, 4));
    }

    /// A data dir written before the fleet rows carried lifetime costs: the migration fills each vehicle's
    /// lifetime costs and acquisition records from what it holds (a voided acquisition counts for nothing),
    /// and later records keep counting from there.
    #[tokio::test]
    async fn lifetime_costs_and_acquisitions_are_filled_for_data_written_before_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("edge.db");
        drop(SqliteDb::open(&path, migrations_before("CREATE TABLE vehicle_costs")).unwrap());
        let old = rusqlite::Connection::open(&path).unwrap();
        let priced = |id: &str| {
            let v = Vehicle {
                id: id.into(),
                org_id: "org_a".into(),
                purchase_price_cents: Some(2_000_000),
                purchase_currency: Some("EUR".into()),
                ..vwc_contracts::examples::vehicle()
            };
            serde_json::to_string(&v).unwrap()
        };
        for id in ["veh_1", "veh_2", "veh_3"] {
            old.execute(
                "INSERT INTO vehicles (id, org_id, body) VALUES (?1, 'org_a', ?2)",
                params![id, priced(id)],
            )
            .unwrap();
        }
        // veh_1: an acquisition and a repair; veh_2: its only acquisition voided; veh_3: no records.
        for (id, vehicle, kind, cents, voided) in [
            ("evt_1", "veh_1", "acquisition", 1_900_000, 0),
            ("evt_2", "veh_1", "repair", 12_000, 0),
            ("evt_3", "veh_2", "acquisition", 1_800_000, 1),
            ("evt_4", "veh_2", "repair", 5_000, 0),
        ] {
            old.execute(
                "INSERT INTO timeline (id, org_id, vehicle_id, kind, occurred_at, cost_cents, currency, body,
                   revision, voided)
                 VALUES (?1, 'org_a', ?2, ?3, '2024-06-01T00:00:00.000000000Z', ?4, 'USD', '{}', 1 + ?5, ?5)",
                params![id, vehicle, kind, cents, voided],
            )
            .unwrap();
            old.execute(
                "INSERT INTO vehicle_stats (vehicle_id, event_count) VALUES (?1, 1)
                 ON CONFLICT DO UPDATE SET event_count = event_count + 1",
                [vehicle],
            )
            .unwrap();
        }
        old.execute_batch(rebuild_aggregates_sql!()).unwrap();
        drop(old);

        let store = SqliteEdgeStore::open(&path).unwrap();
        let rows = |store: SqliteEdgeStore| async move {
            let fleet = store.fleet(&"org_a".into(), Page::first(10)).await.unwrap();
            fleet
                .into_iter()
                .map(|r| {
                    let costs = r.lifetime_cost.into_iter();
                    let costs: Vec<(String, u64)> =
                        costs.map(|c| (c.currency, c.total_cents)).collect();
                    (r.vehicle.vehicle.id.to_string(), r.purchase_recorded, costs)
                })
                .collect::<Vec<_>>()
        };
        let amounts = |list: &[(&str, u64)]| -> Vec<(String, u64)> {
            list.iter().map(|(c, n)| (c.to_string(), *n)).collect()
        };
        assert_eq!(
            rows(store.clone()).await,
            [
                ("veh_1".into(), true, amounts(&[("USD", 1_912_000)])),
                (
                    "veh_2".into(),
                    false,
                    amounts(&[("EUR", 2_000_000), ("USD", 5_000)])
                ),
                ("veh_3".into(), false, amounts(&[("EUR", 2_000_000)])),
            ]
        );
        // Counting goes on from the filled totals.
        let bought = VehicleEvent {
            id: "evt_5".into(),
            vehicle_id: "veh_2".into(),
            org_id: "org_a".into(),
            kind: EventKind::Acquisition,
            cost_cents: Some(1_000),
            currency: Some("USD".into()),
            ..vwc_contracts::examples::vehicle_event()
        };
        let org = OrgId::from("org_a");
        let delivery = crate::store::Delivery::new("env_5", &org);
        assert!(
            store
                .apply(&delivery, Projected::Event(&bought))
                .await
                .unwrap()
        );
        assert_eq!(
            rows(store).await[1],
            ("veh_2".into(), true, amounts(&[("USD", 6_000)]))
        );
    }

    /// The one read before an evaluation or a current value is stored looks each table up by its key:
    /// nothing is scanned (`EXPLAIN QUERY PLAN` on the real schema).
    #[tokio::test]
    async fn the_reads_before_an_evaluation_and_a_value_look_up_keys() {
        for (sql, other) in [
            (attention_member_query(), "SEARCH m "),
            (value_held_query(), "SEARCH c "),
        ] {
            let plan = query_plan(sql, vec![Box::new("veh_1".to_string())]).await;
            for uses in ["SEARCH v ", other] {
                assert!(plan.iter().any(|l| l.starts_with(uses)), "{uses}: {plan:?}");
            }
            assert!(
                !plan.iter().any(|l| ["SCAN v", "SCAN m", "SCAN c"]
                    .iter()
                    .any(|scan| l.starts_with(scan))),
                "{plan:?}"
            );
        }
    }

    /// The timeline page is one walk of the timeline's own key (the table is clustered by vehicle and
    /// time) in its order, whatever the filters: no temporary B-tree to sort, no scan, no second index
    /// (`EXPLAIN QUERY PLAN` on the real schema).
    #[tokio::test]
    async fn the_timeline_page_query_walks_its_index_in_order() {
        let at = DateTime::from_timestamp(1_717_228_800, 0).unwrap();
        let filters = [
            (EventFilter::default(), None),
            (
                EventFilter {
                    kinds: vec![EventKind::Repair, EventKind::Fuel],
                    from: Some(at),
                    to: Some(at),
                    include_voided: true,
                },
                Some(TimelinePosition {
                    occurred_at: at,
                    id: "evt_1".into(),
                }),
            ),
        ];
        for (filter, after) in filters {
            let vehicle = VehicleRef::new("org_a", "veh_1");
            let query = TimelineQuery {
                vehicle: &vehicle,
                filter: &filter,
                page: Page::after(after.as_ref(), 50),
            };
            let (sql, args) = timeline_query(PAGE_COLUMNS, KNOWN_VEHICLE, &query, 51);
            let plan = query_plan(sql, args).await;
            assert_plan(
                &plan,
                "SEARCH timeline USING PRIMARY KEY (org_id=? AND vehicle_id=?",
                &["TEMP B-TREE", "SCAN"],
            );
        }
    }
}
