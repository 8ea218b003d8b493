//! The MongoDB side of the per-vehicle ledger, over typed collections. The collections: `vehicles`
//! (`_id` = vehicle id, `version`, …), `facts` and `fact_revisions` keyed `"<vehicle>/<event>"`, and the
//! service's [`DayLedger`] collection (`_id` = organisation, `day`, the stamp field).

use async_trait::async_trait;
use chrono::NaiveDate;
use futures::TryStreamExt;
use mongodb::ClientSession;
use mongodb::bson::{Bson, Document, doc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use vwc_contracts::{OrgId, VehicleId};

use super::{CommitOutcome, DayLedger, DayLedgerDb, LedgerCommit, RevisionRow, parse_day};
use crate::Plumbed;
use crate::mongo::MongoDb;
use crate::{Outbox, StoreResult, ts};

const VEHICLES: &str = "vehicles";
const FACTS: &str = "facts";
const FACT_REVISIONS: &str = "fact_revisions";

/// Commits per transaction in [`commit_in_transactions`]: large enough to amortise the round trips,
/// small enough to stay far from the transaction time limit.
const COMMITS_PER_TRANSACTION: usize = 100;

/// The version of a vehicle document (absent before the first commit).
#[derive(Deserialize)]
struct Versioned {
    #[serde(default)]
    version: i64,
}

#[derive(Deserialize)]
struct RecordedDay {
    day: String,
}

/// The ledger's part of one commit, inside the caller's transaction: refuses the commit when the vehicle
/// is no longer at its expected version (`Err(Conflict)`) or its envelope was applied before
/// (`Err(Duplicate)`); otherwise records the revisions (the highest per record wins) and removes the
/// revised records' facts. `Ok` carries the version the caller writes in the vehicle document with its own
/// fields: writing the version on every commit makes concurrent commits of one vehicle conflict on the
/// server, so a retried transaction sees the other's effect.
pub async fn apply_head(
    db: &MongoDb,
    session: &mut ClientSession,
    consumer: &str,
    commit: &impl LedgerCommit,
) -> StoreResult<Result<i64, CommitOutcome>> {
    let vehicle_id = commit.vehicle_id();
    let current = db
        .database()
        .collection::<Versioned>(VEHICLES)
        .find_one(doc! { "_id": vehicle_id })
        .projection(doc! { "version": 1 })
        .session(&mut *session)
        .await?;
    let version = current.map_or(0, |v| v.version);
    if version as u64 != commit.expected_version() {
        return Ok(Err(CommitOutcome::Conflict));
    }
    if let Some(envelope_id) = commit.claim()
        && !db.claim_inbox(session, consumer, envelope_id).await?
    {
        return Ok(Err(CommitOutcome::Duplicate));
    }
    for (event_id, revision) in commit.revisions() {
        db.collection(FACT_REVISIONS)
            .update_one(
                doc! { "_id": format!("{vehicle_id}/{event_id}") },
                doc! {
                    "$set": { "vehicle_id": vehicle_id, "event_id": event_id },
                    "$max": { "revision": i64::from(*revision) },
                },
            )
            .upsert(true)
            .session(&mut *session)
            .await?;
    }
    for event_id in commit.remove_facts() {
        db.collection(FACTS)
            .delete_one(doc! { "_id": format!("{vehicle_id}/{event_id}") })
            .session(&mut *session)
            .await?;
    }
    Ok(Ok(version + 1))
}

/// The filter of a page of registered vehicles: of `org` (or of every organisation: those registered),
/// with ids strictly after `after`.
pub fn page_filter(org: Option<&OrgId>, after: Option<&VehicleId>) -> Document {
    let org = match org {
        Some(org) => Bson::from(org.as_str()),
        None => Bson::from(doc! { "$type": "string" }),
    };
    doc! { "_id": { "$gt": after.map_or("", VehicleId::as_str) }, "org_id": org }
}

/// The vehicle documents `filter` matches, in id order, at most `limit`, read into `T`.
pub async fn vehicle_page<T>(db: &MongoDb, filter: Document, limit: usize) -> StoreResult<Vec<T>>
where
    T: DeserializeOwned + Send + Sync,
{
    let cursor = db
        .database()
        .collection::<T>(VEHICLES)
        .find(filter)
        .sort(doc! { "_id": 1 })
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .await?;
    Ok(cursor.try_collect().await?)
}

/// One vehicle document read into `T`, if stored.
pub async fn vehicle_doc<T>(db: &MongoDb, id: &VehicleId) -> StoreResult<Option<T>>
where
    T: DeserializeOwned + Send + Sync,
{
    let collection = db.database().collection::<T>(VEHICLES);
    Ok(collection.find_one(doc! { "_id": id.as_str() }).await?)
}

/// The documents of `collection` that belong to the vehicles `ids` (by their `vehicle_id`), read into `T`.
pub async fn of_vehicles<T>(db: &MongoDb, collection: &str, ids: &[String]) -> StoreResult<Vec<T>>
where
    T: DeserializeOwned + Send + Sync,
{
    let cursor = db
        .database()
        .collection::<T>(collection)
        .find(doc! { "vehicle_id": { "$in": ids } })
        .await?;
    Ok(cursor.try_collect().await?)
}

/// The revision ledger of the vehicles `ids`.
pub async fn revisions_of(db: &MongoDb, ids: &[String]) -> StoreResult<Vec<RevisionRow>> {
    of_vehicles(db, FACT_REVISIONS, ids).await
}

/// A service's way of applying one of its commits inside a transaction.
#[async_trait]
pub trait MongoCommits: Plumbed<Db = MongoDb> + Sync {
    type Commit: LedgerCommit;
    /// Applies `c` in the session's transaction, starting with [`apply_head`].
    async fn try_commit_one(
        &self,
        session: &mut ClientSession,
        c: &Self::Commit,
    ) -> StoreResult<CommitOutcome>;
}

/// Applies `commits` a hundred per transaction, each transaction retried while the server calls its
/// failure transient; one outcome per commit, in order. A commit that conflicts is skipped; the others
/// still apply.
pub async fn commit_in_transactions<M: MongoCommits>(
    store: &M,
    commits: &[M::Commit],
) -> StoreResult<Vec<CommitOutcome>> {
    let mut outcomes = Vec::with_capacity(commits.len());
    let mut published = false;
    for chunk in commits.chunks(COMMITS_PER_TRANSACTION) {
        let mut tx = store.plumbing().transaction().await?;
        let chunk_outcomes = loop {
            tx.begin().await?;
            let outcome = apply_all(store, tx.session(), chunk).await;
            if let Some(done) = tx.settle(outcome).await? {
                break done;
            }
        };
        published |= chunk
            .iter()
            .zip(&chunk_outcomes)
            .any(|(c, o)| *o == CommitOutcome::Applied && !c.outbox().is_empty());
        outcomes.extend(chunk_outcomes);
    }
    if published {
        store.plumbing().wakeup().notify_one();
    }
    Ok(outcomes)
}

async fn apply_all<M: MongoCommits>(
    store: &M,
    session: &mut ClientSession,
    commits: &[M::Commit],
) -> StoreResult<Vec<CommitOutcome>> {
    let mut outcomes = Vec::with_capacity(commits.len());
    for c in commits {
        outcomes.push(store.try_commit_one(session, c).await?);
    }
    Ok(outcomes)
}

#[async_trait]
impl DayLedgerDb for MongoDb {
    /// Records that the organisations' daily job ran on `day`.
    async fn record_day(&self, days: &DayLedger, orgs: &[OrgId], on: NaiveDate) -> StoreResult<()> {
        let now = ts(&vwc_clock::now());
        for org in orgs {
            self.collection(days.name)
                .update_one(
                    doc! { "_id": org.as_str() },
                    doc! { "$set": { "day": on.to_string(), days.stamped: &now } },
                )
                .upsert(true)
                .await?;
        }
        Ok(())
    }

    /// The day the organisation's daily job last ran, if ever.
    async fn last_day(&self, days: &DayLedger, org: &OrgId) -> StoreResult<Option<NaiveDate>> {
        let found = self
            .database()
            .collection::<RecordedDay>(days.name)
            .find_one(doc! { "_id": org.as_str() })
            .await?;
        found.map(|d| parse_day(&d.day)).transpose()
    }
}
