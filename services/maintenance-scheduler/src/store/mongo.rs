//! MongoDB adapter of the scheduler store: the service's own database (e.g. `vwc_maintenance`), indexes
//! created at start-up, and every commit (version check, inbox claim, state, outbox) in one transaction.
//!
//! Reads are not transactional: the vehicle document (with its version) is read first and its details
//! after, so a commit computed from details newer than that version is refused by the version check.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use mongodb::ClientSession;
use mongodb::bson::{Bson, Document, doc};
use vwc_contracts::maintenance::MaintenanceStatus;
use vwc_contracts::{OrgId, VehicleId};
use vwc_store::mongo::{MongoDb, collect, int, parse_ts, required_text, text};
use vwc_store::vehicle_ledger::mongo::{
    MongoCommits, apply_head, commit_in_transactions, revisions_of,
};
use vwc_store::vehicle_ledger::{DayLedger, KeepsDays, fill_revisions, in_order};
use vwc_store::{Plumbed, StoreError, StoreResult, ts};

use crate::CONSUMER;
use crate::evaluation::{TimelineFact, VehicleRecord};
use crate::publishing::{PublishedSchedule, SentReminder};
use crate::store::{CommitOutcome, SchedulerStore, VehicleCommit, VehicleState, parse_wire};

/// `{_id: vehicle_id, version, org_id, name, unit, registered_at, wake_on}`; registration fields absent
/// until `VehicleRegistered` (facts may come first); `wake_on` (`YYYY-MM-DD`, which compares as a date)
/// absent until an evaluation was stored.
const VEHICLES: &str = "vehicles";
/// `{_id: "<vehicle>/<event>", vehicle_id, event_id, kind, occurred_at, odometer, tasks}`.
const FACTS: &str = "facts";
/// `{_id: "<vehicle>/<task>", vehicle_id, task, body}`.
const ITEM_SETTINGS: &str = "item_settings";
/// `{_id: "<vehicle>/<event>", vehicle_id, event_id, revision}`: the latest revision applied of each
/// corrected or voided record.
const FACT_REVISIONS: &str = "fact_revisions";
/// `{_id: vehicle_id, vehicle_id, fingerprint, statuses}`: what was last published.
const PUBLISHED: &str = "published";
/// `{_id: "<vehicle>/<task>/<status>/<cycle>/<occurrence>", vehicle_id, …}`.
const REMINDERS: &str = "reminders";
/// `{_id: org_id, day, swept_at}`.
const SWEEPS: DayLedger = DayLedger {
    name: "sweeps",
    stamped: "swept_at",
};

#[derive(Clone)]
pub struct MongoSchedulerStore {
    db: MongoDb,
}

impl MongoSchedulerStore {
    /// Uses `database` through the process's client and creates the indexes (idempotent).
    pub async fn connect(
        client: mongodb::Client,
        database: &str,
    ) -> StoreResult<MongoSchedulerStore> {
        MongoSchedulerStore::with_db(MongoDb::new(client, database)).await
    }

    pub async fn with_db(db: MongoDb) -> StoreResult<MongoSchedulerStore> {
        db.ensure_common_indexes().await?;
        db.create_index(VEHICLES, doc! { "org_id": 1, "_id": 1 }, false)
            .await?;
        for collection in [FACTS, ITEM_SETTINGS, REMINDERS, FACT_REVISIONS] {
            db.create_index(collection, doc! { "vehicle_id": 1 }, false)
                .await?;
        }
        // Upserted inside transactions: the collection must exist beforehand on servers that cannot
        // create one in a transaction. `_id` is its key; this index only creates the collection.
        db.create_index(PUBLISHED, doc! { "vehicle_id": 1 }, false)
            .await?;
        Ok(MongoSchedulerStore { db })
    }

    pub fn db(&self) -> &MongoDb {
        &self.db
    }

    /// Fills the details of `states` from the other collections.
    async fn load_details(&self, states: &mut HashMap<String, VehicleState>) -> StoreResult<()> {
        if states.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = states.keys().map(String::as_str).collect();
        let by_vehicle = doc! { "vehicle_id": { "$in": &ids } };
        let facts = collect(self.db.collection(FACTS).find(by_vehicle.clone()).await?).await?;
        let settings = collect(
            self.db
                .collection(ITEM_SETTINGS)
                .find(by_vehicle.clone())
                .await?,
        )
        .await?;
        let owned: Vec<String> = states.keys().cloned().collect();
        let revisions = revisions_of(&self.db, &owned).await?;
        let reminders = collect(self.db.collection(REMINDERS).find(by_vehicle).await?).await?;
        let published = collect(
            self.db
                .collection(PUBLISHED)
                .find(doc! { "_id": { "$in": &ids } })
                .await?,
        )
        .await?;
        for d in facts {
            let fact = fact_from(&d)?;
            if let Some(s) = states.get_mut(&required_text(&d, "vehicle_id")?) {
                s.facts.push(fact);
            }
        }
        for d in settings {
            if let Some(s) = states.get_mut(&required_text(&d, "vehicle_id")?) {
                s.settings
                    .push(serde_json::from_str(&required_text(&d, "body")?)?);
            }
        }
        fill_revisions(states, revisions, |s| &mut s.revisions);
        for d in reminders {
            let reminder = reminder_from(&d)?;
            if let Some(s) = states.get_mut(&required_text(&d, "vehicle_id")?) {
                s.reminders.push(reminder);
            }
        }
        for d in published {
            let fingerprint = int(&d, "fingerprint")?.unwrap_or(0) as u64;
            let schedule = match d.get("statuses") {
                Some(Bson::Document(statuses)) => PublishedSchedule {
                    fingerprint,
                    statuses: mongodb::bson::from_document(statuses.clone())
                        .map_err(|e| other(format!("bad published statuses: {e}")))?,
                },
                // Written before the statuses were structured: `task=status,…`.
                _ => {
                    let legacy = required_text(&d, "statuses")?;
                    PublishedSchedule::decode(fingerprint, &legacy)
                        .ok_or_else(|| other(format!("bad published statuses {legacy:?}")))?
                }
            };
            if let Some(s) = states.get_mut(&required_text(&d, "_id")?) {
                s.published = Some(schedule);
            }
        }
        Ok(())
    }

    async fn states_of(&self, vehicles: Vec<Document>) -> StoreResult<Vec<VehicleState>> {
        let order = vehicles
            .iter()
            .map(|d| required_text(d, "_id"))
            .collect::<StoreResult<Vec<String>>>()?;
        let mut states: HashMap<String, VehicleState> = vehicles
            .iter()
            .map(|d| state_from(d).map(|s| (s.vehicle_id.clone(), s)))
            .collect::<StoreResult<_>>()?;
        self.load_details(&mut states).await?;
        Ok(in_order(order, states))
    }
}

#[async_trait]
impl MongoCommits for MongoSchedulerStore {
    type Commit = VehicleCommit;

    async fn try_commit_one(
        &self,
        session: &mut ClientSession,
        c: &VehicleCommit,
    ) -> StoreResult<CommitOutcome> {
        let version = match apply_head(&self.db, session, CONSUMER, c).await? {
            Ok(version) => version,
            Err(refused) => return Ok(refused),
        };
        let mut set = doc! { "version": version };
        if let Some(v) = &c.register {
            set.extend(registration(v));
        }
        if let Some(day) = c.wake_on {
            set.insert("wake_on", day.to_string());
        }
        self.db
            .collection(VEHICLES)
            .update_one(doc! { "_id": &c.vehicle_id }, doc! { "$set": set })
            .upsert(true)
            .session(&mut *session)
            .await?;
        for f in &c.facts {
            self.db
                .collection(FACTS)
                .update_one(
                    doc! { "_id": format!("{}/{}", c.vehicle_id, f.event_id) },
                    doc! { "$setOnInsert": {
                        "vehicle_id": &c.vehicle_id,
                        "event_id": &f.event_id,
                        "kind": f.kind.as_str(),
                        "occurred_at": ts(&f.at),
                        "odometer": f.odometer.map(|o| o as i64),
                        "tasks": f.tasks.clone(),
                    } },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
        }
        for s in &c.settings {
            self.db
                .collection(ITEM_SETTINGS)
                .update_one(
                    doc! { "_id": format!("{}/{}", c.vehicle_id, s.task) },
                    doc! { "$set": {
                        "vehicle_id": &c.vehicle_id,
                        "task": &s.task,
                        "body": serde_json::to_string(s)?,
                    } },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
        }
        if let Some(published) = &c.published {
            self.db
                .collection(PUBLISHED)
                .update_one(
                    doc! { "_id": &c.vehicle_id },
                    doc! { "$set": {
                        "vehicle_id": &c.vehicle_id,
                        "fingerprint": published.fingerprint as i64,
                        "statuses": mongodb::bson::to_document(&published.statuses)
                            .map_err(|e| other(format!("statuses: {e}")))?,
                    } },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
        }
        for r in &c.reminders {
            let key = format!(
                "{}/{}/{}/{}/{}",
                c.vehicle_id,
                r.task,
                r.status.as_str(),
                r.due_cycle,
                r.occurrence
            );
            self.db
                .collection(REMINDERS)
                .update_one(
                    doc! { "_id": key },
                    doc! { "$setOnInsert": {
                        "vehicle_id": &c.vehicle_id,
                        "task": &r.task,
                        "status": r.status.as_str(),
                        "due_cycle": &r.due_cycle,
                        "occurrence": i64::from(r.occurrence),
                        "reminder_id": &r.reminder_id,
                        "sent_on": r.sent_on.to_string(),
                        "sent_at": ts(&r.sent_at),
                    } },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
        }
        self.db.enqueue(session, &c.outbox).await?;
        Ok(CommitOutcome::Applied)
    }
}

fn registration(v: &VehicleRecord) -> Document {
    doc! {
        "org_id": &v.org_id,
        "name": &v.name,
        "unit": v.unit.as_str(),
        "registered_at": ts(&v.registered_at),
        "retired": v.retired,
    }
}

fn other(message: String) -> StoreError {
    StoreError::Other(message)
}

fn state_from(d: &Document) -> StoreResult<VehicleState> {
    let id = required_text(d, "_id")?;
    let vehicle = match (
        text(d, "org_id")?,
        text(d, "name")?,
        text(d, "unit")?,
        text(d, "registered_at")?,
    ) {
        (Some(org_id), Some(name), Some(unit), Some(registered_at)) => Some(VehicleRecord {
            id: id.clone(),
            org_id,
            name,
            unit: parse_wire("unit", &unit)?,
            registered_at: parse_ts(&registered_at)?,
            retired: d.get_bool("retired").unwrap_or(false),
        }),
        _ => None,
    };
    Ok(VehicleState {
        vehicle_id: id,
        vehicle,
        version: int(d, "version")?.unwrap_or(0) as u64,
        wake_on: text(d, "wake_on")?
            .map(|day| parse_wire::<NaiveDate>("wake day", &day))
            .transpose()?,
        ..VehicleState::default()
    })
}

fn fact_from(d: &Document) -> StoreResult<TimelineFact> {
    let kind = required_text(d, "kind")?;
    let tasks = match d.get("tasks") {
        Some(Bson::Array(items)) => items
            .iter()
            .map(|t| {
                t.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| other(format!("a task code is not text: {t}")))
            })
            .collect::<StoreResult<Vec<String>>>()?,
        _ => Vec::new(),
    };
    Ok(TimelineFact {
        event_id: required_text(d, "event_id")?,
        kind: parse_wire("fact kind", &kind)?,
        at: parse_ts(&required_text(d, "occurred_at")?)?,
        odometer: int(d, "odometer")?.map(|o| o as u64),
        tasks,
    })
}

fn reminder_from(d: &Document) -> StoreResult<SentReminder> {
    let status: MaintenanceStatus = parse_wire("status", &required_text(d, "status")?)?;
    let sent_on = required_text(d, "sent_on")?;
    Ok(SentReminder {
        task: required_text(d, "task")?,
        status,
        due_cycle: required_text(d, "due_cycle")?,
        occurrence: int(d, "occurrence")?.unwrap_or(0) as u32,
        reminder_id: required_text(d, "reminder_id")?,
        sent_on: sent_on
            .parse::<NaiveDate>()
            .map_err(|e| other(format!("bad date {sent_on:?}: {e}")))?,
        sent_at: parse_ts(&required_text(d, "sent_at")?)?,
    })
}

#[async_trait]
impl SchedulerStore for MongoSchedulerStore {
    async fn vehicle_state(&self, vehicle_id: &VehicleId) -> StoreResult<VehicleState> {
        let found = self
            .db
            .collection(VEHICLES)
            .find_one(doc! { "_id": vehicle_id.as_str() })
            .await?;
        match found {
            Some(d) => Ok(self
                .states_of(vec![d])
                .await?
                .pop()
                .unwrap_or_else(|| VehicleState::new(vehicle_id.as_str()))),
            None => Ok(VehicleState::new(vehicle_id.as_str())),
        }
    }

    async fn vehicle_states(
        &self,
        org: Option<&OrgId>,
        after: Option<&VehicleId>,
        due_on: Option<NaiveDate>,
        limit: usize,
    ) -> StoreResult<Vec<VehicleState>> {
        let mut filter = doc! { "_id": { "$gt": after.map_or("", VehicleId::as_str) } };
        if let Some(day) = due_on {
            // A missing field matches `null` too: never evaluated, so due.
            filter.insert(
                "$or",
                vec![
                    doc! { "wake_on": null },
                    doc! { "wake_on": { "$lte": day.to_string() } },
                ],
            );
        }
        match org {
            Some(org) => filter.insert("org_id", org.as_str()),
            None => filter.insert("org_id", doc! { "$type": "string" }),
        };
        let cursor = self
            .db
            .collection(VEHICLES)
            .find(filter)
            .sort(doc! { "_id": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await?;
        let vehicles = collect(cursor).await?;
        self.states_of(vehicles).await
    }

    async fn commit_batch(&self, commits: Vec<VehicleCommit>) -> StoreResult<Vec<CommitOutcome>> {
        commit_in_transactions(self, &commits).await
    }
}

impl KeepsDays for MongoSchedulerStore {
    const DAYS: DayLedger = SWEEPS;
}

impl Plumbed for MongoSchedulerStore {
    type Db = MongoDb;
    fn plumbing(&self) -> &MongoDb {
        &self.db
    }
}
