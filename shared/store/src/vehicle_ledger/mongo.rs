//! The MongoDB side of the per-vehicle ledger, over typed collections. The collections: `vehicles`
//! (`_id` = vehicle id, `version`, …), `facts` and `fact_revisions` keyed `"<vehicle>/<event>"`, and the
//! service's [`DayLedger`] collection (`_id` = organisation, `day`, the stamp field).

use async_trait::async_trait;
use chrono::NaiveDate;
use futures::TryStreamExt;
use mongodb::ClientSession;
use mongodb::bson::doc;
use serde::Deserialize;

use super::{CommitOutcome, DayLedger, RevisionRow, parse_day};
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

/// The head of one commit inside the caller's transaction: refuses it when the vehicle is no longer at
/// `expected_version` (`Err(Conflict)`) or `claim` was applied before (`Err(Duplicate)`). `Ok` carries the
/// version the caller must write in the vehicle document with its own fields: writing the version on
/// every commit makes concurrent commits of one vehicle conflict on the server, so a retried transaction
/// sees the other's effect.
pub async fn admit(
    db: &MongoDb,
    session: &mut ClientSession,
    consumer: &str,
    vehicle_id: &str,
    expected_version: u64,
    claim: Option<&str>,
) -> StoreResult<Result<i64, CommitOutcome>> {
    let current = db
        .database()
        .collection::<Versioned>(VEHICLES)
        .find_one(doc! { "_id": vehicle_id })
        .projection(doc! { "version": 1 })
        .session(&mut *session)
        .await?;
    let version = current.map_or(0, |v| v.version);
    if version as u64 != expected_version {
        return Ok(Err(CommitOutcome::Conflict));
    }
    if let Some(envelope_id) = claim
        && !db.claim_inbox(session, consumer, envelope_id).await?
    {
        return Ok(Err(CommitOutcome::Duplicate));
    }
    Ok(Ok(version + 1))
}

/// Records applied revisions (the highest per record wins) and removes the revised records' facts.
pub async fn revise(
    db: &MongoDb,
    session: &mut ClientSession,
    vehicle_id: &str,
    revisions: &[(String, u32)],
    remove_facts: &[String],
) -> StoreResult<()> {
    for (event_id, revision) in revisions {
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
    for event_id in remove_facts {
        db.collection(FACTS)
            .delete_one(doc! { "_id": format!("{vehicle_id}/{event_id}") })
            .session(&mut *session)
            .await?;
    }
    Ok(())
}

/// The revision ledger of the vehicles `ids`.
pub async fn revisions_of(db: &MongoDb, ids: &[String]) -> StoreResult<Vec<RevisionRow>> {
    let cursor = db
        .database()
        .collection::<RevisionRow>(FACT_REVISIONS)
        .find(doc! { "vehicle_id": { "$in": ids } })
        .await?;
    Ok(cursor.try_collect().await?)
}

/// A service's way of applying one of its commits inside a transaction.
#[async_trait]
pub trait MongoCommits: Sync {
    type Commit: Sync;
    fn db(&self) -> &MongoDb;
    /// Applies `commit` in the session's transaction (starting with [`admit`]).
    async fn apply(
        &self,
        session: &mut ClientSession,
        commit: &Self::Commit,
    ) -> StoreResult<CommitOutcome>;
    /// Whether the commit enqueues envelopes (so the outbox relay is woken once it applied).
    fn publishes(commit: &Self::Commit) -> bool;
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
        let mut tx = store.db().transaction().await?;
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
            .any(|(c, o)| *o == CommitOutcome::Applied && M::publishes(c));
        outcomes.extend(chunk_outcomes);
    }
    if published {
        store.db().wakeup().notify_one();
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
        outcomes.push(store.apply(session, c).await?);
    }
    Ok(outcomes)
}

/// Records that the organisations' daily job ran on `day`.
pub async fn record_day(
    db: &MongoDb,
    ledger: &DayLedger,
    orgs: &[String],
    day: NaiveDate,
) -> StoreResult<()> {
    let now = ts(&vwc_clock::now());
    for org in orgs {
        db.collection(ledger.name)
            .update_one(
                doc! { "_id": org },
                doc! { "$set": { "day": day.to_string(), ledger.stamped: &now } },
            )
            .upsert(true)
            .await?;
    }
    Ok(())
}

/// The day the organisation's daily job last ran, if ever.
pub async fn last_day(
    db: &MongoDb,
    ledger: &DayLedger,
    org: &str,
) -> StoreResult<Option<NaiveDate>> {
    let found = db
        .database()
        .collection::<RecordedDay>(ledger.name)
        .find_one(doc! { "_id": org })
        .await?;
    found.map(|d| parse_day(&d.day)).transpose()
}
