//! MongoDB adapter of the scheduler store: the service's own database (e.g. `vwc_maintenance`), indexes
//! created at start-up, and every commit (version check, inbox claim, state, outbox) in one transaction.
//!
//! Reads are not transactional: the vehicle document (with its version) is read first and its details
//! after, so a commit computed from details newer than that version is refused by the version check.

use std::collections::BTreeMap;

use crate::store::SweepPage;
use async_trait::async_trait;
use mongodb::bson::{Document, doc};
use serde::Deserialize;
use vwc_contracts::maintenance::MaintenanceStatus;
use vwc_store::mongo::{MongoDb, parse_ts};
use vwc_store::vehicle_ledger::mongo::{Details, MongoLedger, Writes, page_filter};
use vwc_store::vehicle_ledger::{LedgerStore, parse_day};
use vwc_store::{StoreError, StoreResult, ts};

use crate::evaluation::{TimelineFact, VehicleRecord};
use crate::publishing::{PublishedSchedule, SentReminder};
use crate::store::{SchedulerStore, VehicleCommit, VehicleState, parse_wire};

// `vehicles`: `{_id: vehicle_id, version, org_id, name, unit, registered_at, retired, wake_on}`;
// registration fields absent until `VehicleRegistered` (facts may come first); `wake_on` (`YYYY-MM-DD`,
// which compares as a date) absent until an evaluation was stored. `fact_revisions`: see
// `vwc_store::vehicle_ledger::mongo`.

/// `{_id: "<vehicle>/<event>", vehicle_id, event_id, kind, occurred_at, odometer, tasks}`.
const FACTS: &str = "facts";
/// `{_id: "<vehicle>/<task>", vehicle_id, task, body}`.
const ITEM_SETTINGS: &str = "item_settings";
/// `{_id: vehicle_id, vehicle_id, fingerprint, hash, statuses}`: what was last published (`hash` absent:
/// hash 1).
const PUBLISHED: &str = "published";
/// `{_id: "<vehicle>/<task>/<status>/<cycle>/<occurrence>", vehicle_id, …}`.
const REMINDERS: &str = "reminders";

/// The scheduler's MongoDB store.
pub type MongoSchedulerStore = LedgerStore<MongoDb, VehicleState>;

#[async_trait]
impl MongoLedger for VehicleState {
    // `published` is keyed by vehicle id; its index only creates the collection.
    const COLLECTIONS: &'static [&'static str] = &[FACTS, ITEM_SETTINGS, REMINDERS, PUBLISHED];

    async fn load_details(details: &mut Details<'_, VehicleState>) -> StoreResult<()> {
        let settings = |d: BodyDoc| Ok(serde_json::from_str(&d.body)?);
        details
            .fill_into(FACTS, |s| &mut s.facts, FactDoc::into_fact)
            .await?;
        details
            .fill_into(ITEM_SETTINGS, |s| &mut s.settings, settings)
            .await?;
        details
            .fill_into(REMINDERS, |s| &mut s.reminders, ReminderDoc::into_reminder)
            .await?;
        details
            .fill(PUBLISHED, |s, d: PublishedDoc| {
                s.published = Some(d.into_schedule()?);
                Ok(())
            })
            .await
    }

    fn vehicle_fields(c: &VehicleCommit) -> StoreResult<Document> {
        let mut set = c.register.as_ref().map(registration).unwrap_or_default();
        if let Some(day) = c.wake_on {
            set.insert("wake_on", day.to_string());
        }
        Ok(set)
    }

    async fn write_details(tx: &mut Writes<'_>, c: &VehicleCommit) -> StoreResult<()> {
        let vehicle = &c.ledger.vehicle_id;
        for f in &c.facts {
            let fact = doc! {
                "vehicle_id": vehicle,
                "event_id": &f.event_id,
                "kind": f.kind.as_str(),
                "occurred_at": ts(&f.at),
                "odometer": f.odometer.map(|o| o as i64),
                "tasks": f.tasks.clone(),
            };
            let id = format!("{vehicle}/{}", f.event_id);
            tx.upsert(FACTS, id, doc! { "$setOnInsert": fact }).await?;
        }
        for s in &c.settings {
            let body = serde_json::to_string(s)?;
            let settings = doc! { "vehicle_id": vehicle, "task": &s.task, "body": body };
            let id = format!("{vehicle}/{}", s.task);
            tx.upsert(ITEM_SETTINGS, id, doc! { "$set": settings })
                .await?;
        }
        if let Some(published) = &c.published {
            let statuses = mongodb::bson::to_document(&published.statuses)
                .map_err(|e| other(format!("statuses: {e}")))?;
            let (fingerprint, hash) = (published.fingerprint as i64, i64::from(published.hash));
            let schedule = doc! { "vehicle_id": vehicle, "fingerprint": fingerprint, "hash": hash,
            "statuses": statuses };
            tx.upsert(PUBLISHED, vehicle.as_str(), doc! { "$set": schedule })
                .await?;
        }
        for r in &c.reminders {
            let (task, status, cycle) = (&r.task, r.status.as_str(), &r.due_cycle);
            let id = format!("{vehicle}/{task}/{status}/{cycle}/{}", r.occurrence);
            let reminder = doc! {
                "vehicle_id": vehicle,
                "task": task,
                "status": status,
                "due_cycle": cycle,
                "occurrence": i64::from(r.occurrence),
                "reminder_id": &r.reminder_id,
                "sent_on": r.sent_on.to_string(),
                "sent_at": ts(&r.sent_at),
            };
            tx.upsert(REMINDERS, id, doc! { "$setOnInsert": reminder })
                .await?;
        }
        Ok(())
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
struct BodyDoc {
    body: String,
}

/// A `reminders` document.
#[derive(Deserialize)]
struct ReminderDoc {
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
    fingerprint: i64,
    #[serde(default = "first_hash")]
    hash: u32,
    statuses: PublishedStatuses,
}

/// Documents written before the hash was recorded.
fn first_hash() -> u32 {
    1
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
        let (fingerprint, hash) = (self.fingerprint as u64, self.hash);
        match self.statuses {
            PublishedStatuses::Structured(statuses) => Ok(PublishedSchedule {
                fingerprint,
                hash,
                statuses,
            }),
            PublishedStatuses::Legacy(legacy) => {
                PublishedSchedule::decode(fingerprint, hash, &legacy)
                    .ok_or_else(|| other(format!("bad published statuses {legacy:?}")))
            }
        }
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
        self.page(filter, page.limit).await
    }
}
