//! MongoDB adapter of the valuation store: the service's own database (e.g. `vwc_valuation`), indexes
//! created at start-up, and every commit (version check, inbox claim, state, outbox) in one transaction.
//!
//! Reads are not transactional: the vehicle document (with its version) is read first and its details
//! after, so a commit computed from details newer than that version is refused by the version check.

use crate::store::{REVALUES, RevaluePage};
use async_trait::async_trait;
use mongodb::ClientSession;
use mongodb::bson::doc;
use serde::Deserialize;
use vwc_contracts::VehicleId;
use vwc_store::mongo::MongoDb;
use vwc_store::vehicle_ledger::VehicleLedger;
use vwc_store::vehicle_ledger::mongo::{
    MongoCommits, apply_head, commit_in_transactions, of_vehicles, page_filter, revisions_of,
    vehicle_doc, vehicle_page,
};
use vwc_store::vehicle_ledger::{
    DayLedger, KeepsDays, StoredVehicle, fill_revisions, in_order, keyed_states, parse_day,
};
use vwc_store::{Plumbed, StoreResult};

use crate::CONSUMER;
use crate::model::sort_facts;
use crate::store::{
    CommitOutcome, PublishedPoint, ValuationStore, VehicleCommit, VehicleFields, VehicleState,
    state_of,
};

/// `{_id: vehicle_id, version, org_id, profile, current_on, current_fingerprint, current_amount}`.
const VEHICLES: &str = "vehicles";
/// `{_id: "<vehicle>/<event>", vehicle_id, body}`.
const FACTS: &str = "facts";
/// `{_id: "<vehicle>/<day>", vehicle_id, as_of, fingerprint, amount}`.
const PUBLISHED: &str = "published";
/// `{_id: "<vehicle>/<event>", vehicle_id, event_id, revision}`: the latest revision applied of each
/// corrected or voided record.
const FACT_REVISIONS: &str = "fact_revisions";
impl KeepsDays for MongoValuationStore {
    const DAYS: DayLedger = REVALUES;
}

#[derive(Clone)]
pub struct MongoValuationStore {
    db: MongoDb,
}

impl MongoValuationStore {
    /// Uses `database` through the process's client and creates the indexes (idempotent).
    pub async fn connect(
        client: mongodb::Client,
        database: &str,
    ) -> StoreResult<MongoValuationStore> {
        MongoValuationStore::with_db(MongoDb::new(client, database)).await
    }

    pub async fn with_db(db: MongoDb) -> StoreResult<MongoValuationStore> {
        db.ensure_common_indexes().await?;
        db.create_index(VEHICLES, doc! { "org_id": 1, "_id": 1 }, false)
            .await?;
        db.create_index(FACTS, doc! { "vehicle_id": 1 }, false)
            .await?;
        db.create_index(PUBLISHED, doc! { "vehicle_id": 1, "as_of": 1 }, false)
            .await?;
        // Also creates the collection, which a transaction may not do on every server.
        db.create_index(FACT_REVISIONS, doc! { "vehicle_id": 1 }, false)
            .await?;
        Ok(MongoValuationStore { db })
    }

    pub fn db(&self) -> &MongoDb {
        &self.db
    }

    async fn states_of(
        &self,
        vehicles: Vec<StoredVehicle<VehicleFields>>,
        history: bool,
    ) -> StoreResult<Vec<VehicleState>> {
        let (order, mut states) = keyed_states(vehicles, state_of)?;
        if !order.is_empty() {
            let facts: Vec<FactDoc> = of_vehicles(&self.db, FACTS, &order).await?;
            for d in facts {
                if let Some(s) = states.get_mut(&d.vehicle_id) {
                    s.facts.push(serde_json::from_str(&d.body)?);
                }
            }
            let revisions = revisions_of(&self.db, &order).await?;
            fill_revisions(&mut states, revisions, |s| &mut s.revisions);
            let published: Vec<PointDoc> = of_vehicles(&self.db, PUBLISHED, &order).await?;
            for d in published {
                if let Some(s) = states.get_mut(&d.vehicle_id) {
                    s.published.insert(parse_day(&d.as_of)?, d.point());
                }
            }
            for s in states.values_mut() {
                sort_facts(&mut s.facts);
                if !history && let Some(newest) = s.published.pop_last() {
                    s.published.clear();
                    s.published.insert(newest.0, newest.1);
                }
            }
        }
        Ok(in_order(order, states))
    }
}

#[async_trait]
impl MongoCommits for MongoValuationStore {
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
        if let Some(p) = &c.register {
            set.insert("org_id", &p.org_id);
            set.insert("profile", serde_json::to_string(p)?);
        }
        if let Some((on, point)) = &c.current {
            set.insert("current_on", on.to_string());
            set.insert("current_fingerprint", point.fingerprint as i64);
            set.insert("current_amount", point.amount_cents as i64);
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
                        "body": serde_json::to_string(f)?,
                    } },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
        }
        for (on, point) in &c.published {
            self.db
                .collection(PUBLISHED)
                .update_one(
                    doc! { "_id": format!("{}/{on}", c.vehicle_id) },
                    doc! { "$set": {
                        "vehicle_id": &c.vehicle_id,
                        "as_of": on.to_string(),
                        "fingerprint": point.fingerprint as i64,
                        "amount": point.amount_cents as i64,
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

/// A `facts` document: the fact as JSON.
#[derive(Deserialize)]
struct FactDoc {
    vehicle_id: String,
    body: String,
}

/// A `published` document: one history point.
#[derive(Deserialize)]
struct PointDoc {
    vehicle_id: String,
    as_of: String,
    fingerprint: i64,
    amount: i64,
}

impl PointDoc {
    fn point(&self) -> PublishedPoint {
        PublishedPoint {
            fingerprint: self.fingerprint as u64,
            amount_cents: self.amount as u64,
        }
    }
}

#[async_trait]
impl VehicleLedger for MongoValuationStore {
    type State = VehicleState;

    async fn vehicle_state(&self, vehicle_id: &VehicleId) -> StoreResult<VehicleState> {
        let found = vehicle_doc(&self.db, vehicle_id).await?;
        match found {
            Some(d) => Ok(self
                .states_of(vec![d], true)
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
impl ValuationStore for MongoValuationStore {
    async fn vehicle_page(&self, page: RevaluePage<'_>) -> StoreResult<Vec<VehicleState>> {
        let vehicles =
            vehicle_page(&self.db, page_filter(page.org, page.after), page.limit).await?;
        self.states_of(vehicles, page.query).await
    }
}

impl Plumbed for MongoValuationStore {
    type Db = MongoDb;
    fn plumbing(&self) -> &MongoDb {
        &self.db
    }
}
