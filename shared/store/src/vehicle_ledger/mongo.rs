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

use super::{
    CommitOf, CommitOutcome, DayLedger, DayLedgerDb, Ledger, LedgerCommit, LedgerStore, PageStates,
    RevisionRow, StoredVehicle, VehicleLedger, fill_revisions, keyed_states, parse_day,
};
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
    let ledger = commit.ledger();
    let vehicle_id = &ledger.vehicle_id;
    let current = db
        .database()
        .collection::<Versioned>(VEHICLES)
        .find_one(doc! { "_id": vehicle_id })
        .projection(doc! { "version": 1 })
        .session(&mut *session)
        .await?;
    let version = current.map_or(0, |v| v.version);
    if version as u64 != ledger.expected_version {
        return Ok(Err(CommitOutcome::Conflict));
    }
    if let Some(envelope_id) = ledger.claim.as_deref()
        && !db.claim_inbox(session, consumer, envelope_id).await?
    {
        return Ok(Err(CommitOutcome::Duplicate));
    }
    for (event_id, revision) in &ledger.revisions {
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
    for event_id in &ledger.remove_facts {
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
        let chunk_outcomes =
            crate::mongo_transaction!(store.plumbing(), |session| apply_all(store, session, chunk));
        published |= chunk
            .iter()
            .zip(&chunk_outcomes)
            .any(|(c, o)| *o == CommitOutcome::Applied && !c.ledger().outbox.is_empty());
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

/// What a service keeps in its MongoDB vehicle ledger beside the ledger's own fields: the scheduler and
/// the valuation each describe their collections once, and [`LedgerStore`] on a [`MongoDb`] does the rest
/// (indexes, reading a vehicle or a page of them, committing in transactions, the daily runs, the
/// plumbing).
#[async_trait]
pub trait MongoLedger: Ledger {
    /// The service's collections of per-vehicle documents: each is indexed by `vehicle_id` at start-up,
    /// which also creates it before a transaction writes to it (not every server can create one there).
    const COLLECTIONS: &'static [&'static str];

    /// Fills the details of the states from the service's collections (the revision ledger is filled by
    /// the caller).
    async fn load_details(details: &mut Details<'_, Self>) -> StoreResult<()>;

    /// What the commit sets in the vehicle document besides its version.
    fn vehicle_fields(commit: &CommitOf<Self>) -> StoreResult<Document>;

    /// The commit's other writes, in its transaction.
    async fn write_details(tx: &mut Writes<'_>, commit: &CommitOf<Self>) -> StoreResult<()>;
}

/// The states of a page of vehicles whose details are being read.
pub struct Details<'a, S> {
    db: &'a MongoDb,
    ids: &'a [String],
    /// By vehicle id.
    pub states: &'a mut PageStates<S>,
}

impl<S: Send> Details<'_, S> {
    /// Reads the documents of `collection` that belong to the vehicles into `T` and gives each to `apply`
    /// with its vehicle's state.
    pub async fn fill<T>(
        &mut self,
        collection: &str,
        mut apply: impl FnMut(&mut S, T) -> StoreResult<()> + Send,
    ) -> StoreResult<()>
    where
        T: DeserializeOwned + Send + Sync,
    {
        let docs: Vec<OfVehicle<T>> = of_vehicles(self.db, collection, self.ids).await?;
        for d in docs {
            if let Some(state) = self.states.get_mut(&d.vehicle_id) {
                apply(state, d.doc)?;
            }
        }
        Ok(())
    }
}

impl<S: Send> Details<'_, S> {
    /// [`Details::fill`] for details the state keeps in a collection (`into` says which): each document
    /// read into `T` and converted by `convert`.
    pub async fn fill_into<T, C, I>(
        &mut self,
        collection: &str,
        into: fn(&mut S) -> &mut C,
        convert: fn(T) -> StoreResult<I>,
    ) -> StoreResult<()>
    where
        T: DeserializeOwned + Send + Sync,
        C: Extend<I>,
    {
        self.fill(collection, |s, d| {
            into(s).extend([convert(d)?]);
            Ok(())
        })
        .await
    }
}

/// A per-vehicle document read with its vehicle's id beside the service's fields `T`.
#[derive(Deserialize)]
struct OfVehicle<T> {
    vehicle_id: String,
    #[serde(flatten)]
    doc: T,
}

/// A commit's transaction, for the service's writes.
pub struct Writes<'a> {
    db: &'a MongoDb,
    session: &'a mut ClientSession,
}

impl Writes<'_> {
    /// Creates or updates the document `id` of `collection` by `update` (`$set`, `$setOnInsert`, …).
    pub async fn upsert(
        &mut self,
        collection: &str,
        id: impl Into<Bson>,
        update: Document,
    ) -> StoreResult<()> {
        self.db
            .collection(collection)
            .update_one(doc! { "_id": id.into() }, update)
            .upsert(true)
            .session(&mut *self.session)
            .await?;
        Ok(())
    }
}

impl<L: MongoLedger> LedgerStore<MongoDb, L> {
    /// Uses `database` through the process's client and creates the indexes (idempotent).
    pub async fn connect(client: mongodb::Client, database: &str) -> StoreResult<Self> {
        Self::with_db(MongoDb::new(client, database)).await
    }

    pub async fn with_db(db: MongoDb) -> StoreResult<Self> {
        db.ensure_common_indexes().await?;
        let by_vehicle = (L::COLLECTIONS.iter().chain([&FACT_REVISIONS]))
            .map(|collection| (*collection, doc! { "vehicle_id": 1 }));
        db.create_indexes(
            [(VEHICLES, doc! { "org_id": 1, "_id": 1 })]
                .into_iter()
                .chain(by_vehicle),
        )
        .await?;
        Ok(LedgerStore::new(db))
    }

    /// The states of stored vehicles, with their details, in the order given.
    pub async fn states_of(&self, vehicles: Vec<StoredVehicle<L::Fields>>) -> StoreResult<Vec<L>> {
        let (order, mut states) = keyed_states(vehicles, L::state_of)?;
        if !order.is_empty() {
            let db = self.db();
            L::load_details(&mut Details {
                db,
                ids: &order,
                states: &mut states,
            })
            .await?;
            let revisions = revisions_of(db, &order).await?;
            fill_revisions(&mut states, revisions, L::revisions);
        }
        Ok(states.into_vec())
    }

    /// A page of registered vehicles: those `filter` matches (see [`page_filter`]), in id order, at most
    /// `limit`, with their details.
    pub async fn page(&self, filter: Document, limit: usize) -> StoreResult<Vec<L>> {
        let vehicles = vehicle_page(self.db(), filter, limit).await?;
        self.states_of(vehicles).await
    }
}

#[async_trait]
impl<L: MongoLedger> MongoCommits for LedgerStore<MongoDb, L> {
    type Commit = CommitOf<L>;

    async fn try_commit_one(
        &self,
        session: &mut ClientSession,
        c: &CommitOf<L>,
    ) -> StoreResult<CommitOutcome> {
        let db = self.db();
        let version = match apply_head(db, session, L::CONSUMER, c).await? {
            Ok(version) => version,
            Err(refused) => return Ok(refused),
        };
        let mut set = L::vehicle_fields(c)?;
        set.insert("version", version);
        let mut tx = Writes {
            db,
            session: &mut *session,
        };
        tx.upsert(VEHICLES, &c.ledger().vehicle_id, doc! { "$set": set })
            .await?;
        L::write_details(&mut tx, c).await?;
        db.enqueue(session, &c.ledger().outbox).await?;
        Ok(CommitOutcome::Applied)
    }
}

#[async_trait]
impl<L: MongoLedger> VehicleLedger for LedgerStore<MongoDb, L> {
    type State = L;

    async fn vehicle_state(&self, vehicle_id: &VehicleId) -> StoreResult<L> {
        let state = match vehicle_doc(self.db(), vehicle_id).await? {
            Some(d) => self.states_of(vec![d]).await?.pop(),
            None => None,
        };
        Ok(state.unwrap_or_else(|| L::unstored(vehicle_id.as_str())))
    }

    async fn commit_batch(&self, commits: Vec<CommitOf<L>>) -> StoreResult<Vec<CommitOutcome>> {
        commit_in_transactions(self, &commits).await
    }

    fn commits_per_transaction(&self) -> usize {
        COMMITS_PER_TRANSACTION
    }
}
