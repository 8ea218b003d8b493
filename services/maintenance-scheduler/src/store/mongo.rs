//! MongoDB adapter of the scheduler store: the service's own database (e.g. `vwc_maintenance`), indexes
//! created at start-up, and every commit (version check, inbox claim, state, outbox) in one transaction.
//!
//! Reads are not transactional: the vehicle document (with its version) is read first and its details
//! after, so a commit computed from details newer than that version is refused by the version check.

use std::collections::{BTreeMap, HashMap};

use crate::store::{SWEEPS, SweepPage};
use async_trait::async_trait;
use mongodb::ClientSession;
use mongodb::bson::{Document, doc};
use serde::Deserialize;
use vwc_contracts::VehicleId;
use vwc_contracts::maintenance::MaintenanceStatus;
use vwc_store::mongo::{MongoDb, parse_ts};
use vwc_store::vehicle_ledger::VehicleLedger;
use vwc_store::vehicle_ledger::mongo::{
    MongoCommits, apply_head, commit_in_transactions, of_vehicles, page_filter, revisions_of,
    vehicle_doc, vehicle_page,
};
use vwc_store::vehicle_ledger::{
    DayLedger, KeepsDays, StoredVehicle, fill_revisions, in_order, keyed_states, parse_day,
};
use vwc_store::{Plumbed, StoreError, StoreResult, ts};

use crate::CONSUMER;
use crate::evaluation::{TimelineFact, VehicleRecord};
use crate::publishing::{PublishedSchedule, SentReminder};
use crate::store::{
    CommitOutcome, SchedulerStore, VehicleCommit, VehicleFields, VehicleState, parse_wire, state_of,
};

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
impl KeepsDays for MongoSchedulerStore {
    const DAYS: DayLedger = SWEEPS;
}

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
        let ids: Vec<String> = states.keys().cloned().collect();
        let facts: Vec<FactDoc> = of_vehicles(&self.db, FACTS, &ids).await?;
        let settings: Vec<SettingsDoc> = of_vehicles(&self.db, ITEM_SETTINGS, &ids).await?;
        let revisions = revisions_of(&self.db, &ids).await?;
        let reminders: Vec<ReminderDoc> = of_vehicles(&self.db, REMINDERS, &ids).await?;
        let published: Vec<PublishedDoc> = of_vehicles(&self.db, PUBLISHED, &ids).await?;
        for d in facts {
            if let Some(s) = states.get_mut(&d.vehicle_id) {
                s.facts.push(d.into_fact()?);
            }
        }
        for d in settings {
            if let Some(s) = states.get_mut(&d.vehicle_id) {
                s.settings.push(serde_json::from_str(&d.body)?);
            }
        }
        fill_revisions(states, revisions, |s| &mut s.revisions);
        for d in reminders {
            if let Some(s) = states.get_mut(&d.vehicle_id) {
                s.reminders.push(d.into_reminder()?);
            }
        }
        for d in published {
            if let Some(s) = states.get_mut(&d.vehicle_id) {
                s.published = Some(d.into_schedule()?);
            }
        }
        Ok(())
    }

    async fn states_of(
        &self,
        vehicles: Vec<StoredVehicle<VehicleFields>>,
    ) -> StoreResult<Vec<VehicleState>> {
        let (order, mut states) = keyed_states(vehicles, state_of)?;
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

/// A `facts` document.
#[derive(Deserialize)]
struct FactDoc {
    vehicle_id: String,
    event_id: String,
    kind: String,
    occurred_at: String,
    odometer: Option<i64>,
    #[serde(default)]
    tasks: Vec<String>,
}

impl FactDoc {
    fn into_fact(self) -> StoreResult<TimelineFact> {
        Ok(TimelineFact {
            event_id: self.event_id,
            kind: parse_wire("fact kind", &self.kind)?,
            at: parse_ts(&self.occurred_at)?,
            odometer: self.odometer.map(|o| o as u64),
            tasks: self.tasks,
        })
    }
}

/// An `item_settings` document: the settings as JSON.
#[derive(Deserialize)]
struct SettingsDoc {
    vehicle_id: String,
    body: String,
}

/// A `reminders` document.
#[derive(Deserialize)]
struct ReminderDoc {
    vehicle_id: String,
    task: String,
    status: String,
    due_cycle: String,
    occurrence: i64,
    reminder_id: String,
    sent_on: String,
    sent_at: String,
}

impl ReminderDoc {
    fn into_reminder(self) -> StoreResult<SentReminder> {
        Ok(SentReminder {
            task: self.task,
            status: parse_wire("status", &self.status)?,
            due_cycle: self.due_cycle,
            occurrence: self.occurrence as u32,
            reminder_id: self.reminder_id,
            sent_on: parse_day(&self.sent_on)?,
            sent_at: parse_ts(&self.sent_at)?,
        })
    }
}

/// A `published` document: what was last published of one vehicle.
#[derive(Deserialize)]
struct PublishedDoc {
    vehicle_id: String,
    fingerprint: i64,
    statuses: PublishedStatuses,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum PublishedStatuses {
    Structured(BTreeMap<String, MaintenanceStatus>),
    /// Written before the statuses were structured: `task=status,…`.
    Legacy(String),
}

impl PublishedDoc {
    fn into_schedule(self) -> StoreResult<PublishedSchedule> {
        let fingerprint = self.fingerprint as u64;
        match self.statuses {
            PublishedStatuses::Structured(statuses) => Ok(PublishedSchedule {
                fingerprint,
                statuses,
            }),
            PublishedStatuses::Legacy(legacy) => PublishedSchedule::decode(fingerprint, &legacy)
                .ok_or_else(|| other(format!("bad published statuses {legacy:?}"))),
        }
    }
}

#[async_trait]
impl VehicleLedger for MongoSchedulerStore {
    type State = VehicleState;

    async fn vehicle_state(&self, vehicle_id: &VehicleId) -> StoreResult<VehicleState> {
        let found = vehicle_doc(&self.db, vehicle_id).await?;
        match found {
            Some(d) => Ok(self
                .states_of(vec![d])
                .await?
                .pop()
                .unwrap_or_else(|| VehicleState::new(vehicle_id.as_str()))),
            None => Ok(VehicleState::new(vehicle_id.as_str())),
        }
    }

    async fn commit_batch(&self, commits: Vec<VehicleCommit>) -> StoreResult<Vec<CommitOutcome>> {
        commit_in_transactions(self, &commits).await
    }
}

#[async_trait]
impl SchedulerStore for MongoSchedulerStore {
    async fn vehicle_page(&self, page: SweepPage<'_>) -> StoreResult<Vec<VehicleState>> {
        let mut filter = page_filter(page.org, page.after);
        if let Some(day) = page.query {
            // A missing field matches `null` too: never evaluated, so due.
            filter.insert(
                "$or",
                vec![
                    doc! { "wake_on": null },
                    doc! { "wake_on": { "$lte": day.to_string() } },
                ],
            );
        }
        let vehicles = vehicle_page(&self.db, filter, page.limit).await?;
        self.states_of(vehicles).await
    }
}

impl Plumbed for MongoSchedulerStore {
    type Db = MongoDb;
    fn plumbing(&self) -> &MongoDb {
        &self.db
    }
}
