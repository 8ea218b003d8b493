//! SQLite adapter of the ingestion store.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{ErrorCode, params};
use vwc_contracts::{EventId, OrgId, Vehicle, VehicleEvent};
use vwc_store::sqlite::{enqueue, optional};
use vwc_store::{Plumbed, SqliteDb, StoreResult, VehicleRef, WithOutbox, ts};

use crate::corrections::RevisionsOf;
use crate::store::{FactsSeen, IdempotencyKey, IngestionStore, InsertEventOutcome, conflict};
use vwc_contracts::corrections::EventRevision;

/// This database's schema steps, run in order once each (`user_version` counts those run). Append only: a
/// step changed, moved or removed would be run twice, or never, on a database that ran the old list
/// (`shared/store/migrations.lock` pins them; `VWC_BLESS=1 cargo test -p vwc --lib migrations` records a new one).
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE vehicles (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    vin TEXT NOT NULL,
    body TEXT NOT NULL,
    registered_at TEXT NOT NULL,
    UNIQUE (org_id, vin)
);
CREATE TABLE vehicle_events (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    vehicle_id TEXT NOT NULL REFERENCES vehicles(id),
    occurred_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX vehicle_events_by_vehicle ON vehicle_events (org_id, vehicle_id, occurred_at);
CREATE TABLE idempotency_keys (
    org_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    event_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, key)
);
"#,
    crate::dealers::sqlite::MIGRATION,
    // Corrections and voids: revisions 2.. of a record (docs/corrections.md); the record stays as recorded.
    r#"
CREATE TABLE event_revisions (
    event_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    org_id TEXT NOT NULL,
    vehicle_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (event_id, revision)
);
CREATE INDEX event_revisions_by_vehicle ON event_revisions (org_id, vehicle_id, event_id, revision);
"#,
];

#[derive(Clone)]
pub struct SqliteIngestionStore {
    db: SqliteDb,
}

/// The tables that keep each row as one JSON `body` under the primary key `id`.
#[derive(Clone, Copy)]
enum Documents {
    Vehicles,
    Events,
}

impl Documents {
    fn by_id(self) -> &'static str {
        match self {
            Documents::Vehicles => "SELECT body FROM vehicles WHERE org_id = ?1 AND id = ?2",
            Documents::Events => "SELECT body FROM vehicle_events WHERE org_id = ?1 AND id = ?2",
        }
    }
}

impl SqliteIngestionStore {
    /// The JSON `body` column of the rows `sql` selects with two text parameters, decoded in order.
    async fn json_rows<T: serde::de::DeserializeOwned>(
        &self,
        sql: &'static str,
        first: String,
        second: String,
    ) -> StoreResult<Vec<T>> {
        let bodies: Vec<String> = self
            .db
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(sql)?;
                let rows = stmt.query_map(params![first, second], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        bodies
            .iter()
            .map(|b| Ok(serde_json::from_str(b)?))
            .collect()
    }

    /// The organisation's document `id` of `table` (its primary key: one row at most).
    async fn document<T: serde::de::DeserializeOwned>(
        &self,
        table: Documents,
        org_id: &OrgId,
        id: &str,
    ) -> StoreResult<Option<T>> {
        let found = self
            .json_rows(table.by_id(), org_id.to_string(), id.to_string())
            .await?;
        Ok(found.into_iter().next())
    }

    pub fn open(path: &Path) -> StoreResult<SqliteIngestionStore> {
        Ok(SqliteIngestionStore {
            db: SqliteDb::open(path, MIGRATIONS)?,
        })
    }

    pub fn db(&self) -> &SqliteDb {
        &self.db
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

#[async_trait]
impl IngestionStore for SqliteIngestionStore {
    async fn insert_vehicle(&self, vehicle: WithOutbox<'_, Vehicle>) -> StoreResult<()> {
        let body = serde_json::to_string(vehicle.write)?;
        let (v, outbox) = (vehicle.write.clone(), vehicle.outbox.to_vec());
        self.db
            .write_with_events(move |conn| {
                let inserted = conn.execute(
                    "INSERT INTO vehicles (id, org_id, vin, body, registered_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![v.id, v.org_id, v.vin, body, ts(&v.registered_at)],
                );
                match inserted {
                    Err(e) if is_unique_violation(&e) => {
                        return Err(conflict::vin_taken(&v.vin));
                    }
                    other => other?,
                };
                enqueue(conn, &outbox)
            })
            .await
    }

    async fn vehicle(&self, vehicle: &VehicleRef) -> StoreResult<Option<Vehicle>> {
        let id = vehicle.vehicle_id.as_str();
        self.document(Documents::Vehicles, &vehicle.org_id, id)
            .await
    }

    async fn insert_event(
        &self,
        event: WithOutbox<'_, VehicleEvent>,
        idempotency: Option<&IdempotencyKey>,
    ) -> StoreResult<InsertEventOutcome> {
        let (e, key, outbox) = (
            event.write.clone(),
            idempotency.cloned(),
            event.outbox.to_vec(),
        );
        let body = serde_json::to_string(&e)?;
        self.db
            .write_with_events(move |conn| {
                if let Some(k) = &key {
                    let seen: Option<(String, String)> = optional(conn.query_row(
                        "SELECT request_hash, event_id FROM idempotency_keys WHERE org_id = ?1 AND key = ?2",
                        params![e.org_id, k.key],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    ))?;
                    if let Some((hash, event_id)) = seen {
                        if hash != k.request_hash {
                            return Ok(InsertEventOutcome::KeyReused);
                        }
                        let body: String = conn.query_row(
                            "SELECT body FROM vehicle_events WHERE id = ?1",
                            [event_id],
                            |r| r.get(0),
                        )?;
                        return Ok(InsertEventOutcome::Replayed(Box::new(serde_json::from_str(&body)?)));
                    }
                    conn.execute(
                        "INSERT INTO idempotency_keys (org_id, key, request_hash, event_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![e.org_id, k.key, k.request_hash, e.id, ts(&e.recorded_at)],
                    )?;
                }
                refused_by_stored_sale(conn, &e, None)?;
                conn.execute(
                    "INSERT INTO vehicle_events (id, org_id, vehicle_id, occurred_at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![e.id, e.org_id, e.vehicle_id, ts(&e.occurred_at), body],
                )?;
                enqueue(conn, &outbox)?;
                Ok(InsertEventOutcome::Created)
            })
            .await
    }

    async fn event(&self, org_id: &OrgId, event_id: &EventId) -> StoreResult<Option<VehicleEvent>> {
        self.document(Documents::Events, org_id, event_id.as_str())
            .await
    }

    async fn count_events(&self, vehicle: &VehicleRef) -> StoreResult<u64> {
        let (org, id) = (vehicle.org_id.to_string(), vehicle.vehicle_id.to_string());
        self.db
            .read(move |conn| {
                Ok(conn.query_row(
                    "SELECT count(*) FROM vehicle_events WHERE org_id = ?1 AND vehicle_id = ?2",
                    params![org, id],
                    |r| r.get::<_, i64>(0),
                )? as u64)
            })
            .await
    }

    async fn revisions(&self, of: RevisionsOf<'_>) -> StoreResult<Vec<EventRevision>> {
        let (sql, org_id, id) = match of {
            RevisionsOf::Event(org_id, id) => (
                "SELECT body FROM event_revisions WHERE org_id = ?1 AND event_id = ?2
                 ORDER BY revision",
                org_id,
                id.as_str(),
            ),
            RevisionsOf::Vehicle(vehicle) => (
                "SELECT body FROM event_revisions WHERE org_id = ?1 AND vehicle_id = ?2
                 ORDER BY event_id, revision",
                &vehicle.org_id,
                vehicle.vehicle_id.as_str(),
            ),
        };
        self.json_rows(sql, org_id.to_string(), id.to_string())
            .await
    }

    async fn vehicle_events(&self, vehicle: &VehicleRef) -> StoreResult<Vec<VehicleEvent>> {
        self.json_rows(
            "SELECT body FROM vehicle_events WHERE org_id = ?1 AND vehicle_id = ?2
             ORDER BY occurred_at, id",
            vehicle.org_id.to_string(),
            vehicle.vehicle_id.to_string(),
        )
        .await
    }

    async fn append_revision(&self, revision: WithOutbox<'_, EventRevision>) -> StoreResult<()> {
        let (r, outbox) = (revision.write.clone(), revision.outbox.to_vec());
        let body = serde_json::to_string(&r)?;
        self.db
            .write_with_events(move |conn| {
                let e = &r.event;
                if let Some(kept) = stored_state(conn, e)? {
                    refused_by_stored_sale(conn, e, Some(kept))?;
                }
                let inserted = conn.execute(
                    "INSERT INTO event_revisions (event_id, revision, org_id, vehicle_id, body)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![e.id, r.revision, e.org_id, e.vehicle_id, body],
                );
                match inserted {
                    Err(err) if is_unique_violation(&err) => {
                        return Err(conflict::revision_taken(r.revision, &e.id));
                    }
                    other => other?,
                };
                enqueue(conn, &outbox)
            })
            .await
    }

    async fn replace_vehicle(
        &self,
        before: &Vehicle,
        after: WithOutbox<'_, Vehicle>,
        seen: Option<FactsSeen>,
    ) -> StoreResult<()> {
        let (old, new) = (
            serde_json::to_string(before)?,
            serde_json::to_string(after.write)?,
        );
        let (org, id, outbox) = (
            after.write.org_id.to_string(),
            after.write.id.to_string(),
            after.outbox.to_vec(),
        );
        self.db
            .write_with_events(move |conn| {
                let current: Option<String> = optional(conn.query_row(
                    "SELECT body FROM vehicles WHERE org_id = ?1 AND id = ?2",
                    params![org, id],
                    |r| r.get(0),
                ))?;
                // Compared as values: the stored text may predate fields added since.
                let unchanged = match &current {
                    Some(body) => {
                        serde_json::from_str::<Vehicle>(body)?
                            == serde_json::from_str::<Vehicle>(&old)?
                    }
                    None => false,
                };
                if !unchanged {
                    return Err(conflict::vehicle_changed(&id));
                }
                if let Some(seen) = seen
                    && facts(conn, &org, &id)? != seen
                {
                    return Err(conflict::vehicle_changed(&id));
                }
                conn.execute(
                    "UPDATE vehicles SET body = ?3 WHERE org_id = ?1 AND id = ?2",
                    params![org, id, new],
                )?;
                enqueue(conn, &outbox)
            })
            .await
    }
}

/// The vehicle's records and revisions, counted ([`FactsSeen`]).
fn facts(conn: &rusqlite::Connection, org: &str, vehicle: &str) -> rusqlite::Result<FactsSeen> {
    let count = |table: &str| -> rusqlite::Result<u64> {
        conn.prepare_cached(&format!(
            "SELECT count(*) FROM {table} WHERE org_id = ?1 AND vehicle_id = ?2"
        ))?
        .query_row(params![org, vehicle], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
    };
    Ok(FactsSeen {
        events: count("vehicle_events")?,
        revisions: count("event_revisions")?,
    })
}

/// The date and odometer the record `e` is a revision of reads as stored (its latest revision, else as
/// first recorded); `None` for a record not stored.
fn stored_state(
    conn: &rusqlite::Connection,
    e: &VehicleEvent,
) -> StoreResult<Option<(DateTime<Utc>, Option<u64>)>> {
    let revised: Option<String> = optional(conn.query_row(
        "SELECT body FROM event_revisions WHERE event_id = ?1 ORDER BY revision DESC LIMIT 1",
        [e.id.as_str()],
        |r| r.get(0),
    ))?;
    if let Some(body) = revised {
        let r: EventRevision = serde_json::from_str(&body)?;
        return Ok(Some((r.event.occurred_at, r.event.odometer)));
    }
    let first: Option<String> = optional(conn.query_row(
        "SELECT body FROM vehicle_events WHERE id = ?1",
        [e.id.as_str()],
        |r| r.get(0),
    ))?;
    Ok(first
        .map(|body| serde_json::from_str::<VehicleEvent>(&body))
        .transpose()?
        .map(|first| (first.occurred_at, first.odometer)))
}

/// Refuses `e` when its vehicle, as stored now, is sold and takes no such record
/// ([`vwc_contracts::refused_by_sale`]): the request was checked against the vehicle as it read before, and
/// a sale may have committed since (a 409 then, naming the rule).
fn refused_by_stored_sale(
    conn: &rusqlite::Connection,
    e: &VehicleEvent,
    kept: Option<(DateTime<Utc>, Option<u64>)>,
) -> StoreResult<()> {
    let sold: Option<String> = optional(conn.query_row(
        "SELECT body FROM vehicles WHERE org_id = ?1 AND id = ?2
           AND json_extract(body, '$.sale') IS NOT NULL",
        params![e.org_id, e.vehicle_id],
        |r| r.get(0),
    ))?;
    let Some(body) = sold else {
        return Ok(());
    };
    conflict::unless_sale_takes(&serde_json::from_str::<Vehicle>(&body)?, e, kept)
}

impl Plumbed for SqliteIngestionStore {
    type Db = SqliteDb;
    fn plumbing(&self) -> &SqliteDb {
        &self.db
    }
}
