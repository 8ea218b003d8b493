//! MongoDB adapter of the chat historian's store: the service's own database (e.g. `vwc_chat_historian`),
//! its indexes created at start-up, each applied envelope claimed in the inbox in the same transaction as its
//! effect. Records are kept as JSON text beside the fields queries use (see `vwc_store::mongo`), read through
//! typed collections of the small structs below.

use async_trait::async_trait;
use bson::{Document, doc};
use futures::TryStreamExt;
use mongodb::ClientSession;
use mongodb::results::UpdateResult;
use serde::{Deserialize, Serialize};
use vwc_contracts::maintenance::MaintenanceScheduleUpdated;
use vwc_contracts::{OrgId, Vehicle, VehicleEvent};
use vwc_store::mongo::{Body, MongoDb, parse_ts};
use vwc_store::{Plumbed, StoreResult, ts};

use crate::CONSUMER;
use crate::knowledge::{ValuationPoint, VehicleKnowledge};
use crate::store::{
    AuditQuery, ChatStore, ChatTurn, Conversation, Feedback, KnowledgeChange, MessageRef, Revision,
    VehicleRef,
};

const VEHICLES: &str = "vehicles";
/// `{_id: vehicle_id, version}`: bumped by every applied change of a vehicle's knowledge.
const VERSIONS: &str = "knowledge_versions";
const TIMELINE: &str = "timeline";
const VALUATIONS: &str = "valuations";
const MAINTENANCE: &str = "maintenance";
const CONVERSATIONS: &str = "conversations";
const CHAT_MESSAGES: &str = "chat_messages";

#[derive(Clone)]
pub struct MongoChatStore {
    db: MongoDb,
}

impl MongoChatStore {
    /// Uses `database` through the process's client and creates the indexes (idempotent).
    pub async fn connect(client: mongodb::Client, database: &str) -> StoreResult<MongoChatStore> {
        let db = MongoDb::open(client, database).await?;
        db.create_indexes([
            (VEHICLES, doc! { "org_id": 1, "_id": 1 }),
            (
                TIMELINE,
                doc! { "org_id": 1, "vehicle_id": 1, "occurred_at": 1, "_id": 1 },
            ),
            // Written inside transactions: the collections must exist beforehand on servers that cannot create
            // one in a transaction. `_id` is their key; these indexes only create them.
            (VERSIONS, doc! { "version": 1 }),
            (VALUATIONS, doc! { "org_id": 1 }),
            (MAINTENANCE, doc! { "org_id": 1 }),
            (CONVERSATIONS, doc! { "org_id": 1, "vehicle_id": 1 }),
            (
                CHAT_MESSAGES,
                doc! { "conversation_id": 1, "asked_at": 1, "_id": 1 },
            ),
            (CHAT_MESSAGES, doc! { "org_id": 1, "asked_at": 1, "_id": 1 }),
        ])
        .await?;
        Ok(MongoChatStore { db })
    }

    async fn bump(&self, session: &mut ClientSession, vehicle_id: &str) -> StoreResult<()> {
        let bump = doc! { "$inc": { "version": 1_i64 } };
        self.upsert(session, VERSIONS, vehicle_id, bump).await?;
        Ok(())
    }

    /// Updates the document `id` of the collection `name` with `update`, inserting it when missing,
    /// inside the transaction.
    async fn upsert(
        &self,
        tx: &mut ClientSession,
        name: &str,
        id: &str,
        update: Document,
    ) -> StoreResult<UpdateResult> {
        Ok(self
            .db
            .collection(name)
            .update_one(doc! { "_id": id }, update)
            .upsert(true)
            .session(&mut *tx)
            .await?)
    }
}

/// Like `vwc_store::mongo_transaction!`, first claiming `$envelope_id` in the inbox: a duplicate delivery answers `false`.
macro_rules! apply {
    ($store:expr, $envelope_id:expr, |$session:ident| $body:block) => {
        vwc_store::mongo_transaction!($store.db, |$session| async {
            if !$store
                .db
                .claim_inbox(&mut *$session, CONSUMER, $envelope_id)
                .await?
            {
                return Ok(false);
            }
            $body
        })
    };
}

/// A `timeline` document: which organisation holds the record, and which revision of it.
#[derive(Deserialize)]
struct TimelineHead {
    org_id: String,
    #[serde(default)]
    revision: Option<i64>,
}

/// A `maintenance` document's evaluation time.
#[derive(Deserialize)]
struct MaintenanceHead {
    #[serde(default)]
    evaluated_at: Option<String>,
}

#[derive(Deserialize)]
struct VersionDoc {
    version: i64,
}

#[derive(Deserialize)]
struct ConversationHead {
    started_at: String,
    started_by: String,
}

/// A `chat_messages` document: the turn as JSON text beside the fields its queries use.
#[derive(Serialize)]
struct MessageDoc<'a> {
    #[serde(rename = "_id")]
    id: &'a str,
    conversation_id: &'a str,
    org_id: &'a str,
    vehicle_id: &'a str,
    asked_at: &'a str,
    body: &'a str,
}

fn vehicle_filter(v: &VehicleRef) -> Document {
    doc! { "_id": v.vehicle_id.as_str(), "org_id": v.org_id.as_str() }
}

/// The changes of the knowledge projection, each inside the transaction that claimed its envelope:
/// `false` when it changed nothing.
impl MongoChatStore {
    /// Keeps the vehicle as it now reads; a re-registration never moves it to another organisation.
    async fn keep_vehicle(
        &self,
        tx: &mut ClientSession,
        v: &Vehicle,
        body: &str,
    ) -> StoreResult<bool> {
        let update =
            doc! { "$set": { "body": body }, "$setOnInsert": { "org_id": v.org_id.as_str() } };
        self.upsert(tx, VEHICLES, &v.id, update).await?;
        Ok(true)
    }

    /// Adds a record unless it is already held.
    async fn add_record(
        &self,
        tx: &mut ClientSession,
        e: &VehicleEvent,
        body: &str,
    ) -> StoreResult<bool> {
        let update = doc! { "$setOnInsert": record_fields(e, body) };
        let inserted = self.upsert(tx, TIMELINE, &e.id, update).await?;
        Ok(inserted.upserted_id.is_some())
    }

    /// Document `id` of `collection`, read inside the transaction.
    async fn held<T: serde::de::DeserializeOwned + Send + Sync>(
        &self,
        tx: &mut ClientSession,
        collection: &str,
        id: &str,
    ) -> StoreResult<Option<T>> {
        let documents = self.db.typed::<T>(collection);
        let found = documents.find_one(doc! { "_id": id }).session(&mut *tx);
        Ok(found.await?)
    }

    /// Replaces the record with a later revision of it (of the same organisation).
    async fn revise_record(
        &self,
        tx: &mut ClientSession,
        r: &Revision,
        body: &str,
    ) -> StoreResult<bool> {
        let (event, number) = (&r.event, i64::from(r.number));
        let held: Option<TimelineHead> = self.held(tx, TIMELINE, event.id.as_str()).await?;
        if held.is_some_and(|held| {
            held.org_id != event.org_id.as_str() || held.revision.unwrap_or(1) >= number
        }) {
            return Ok(false);
        }
        let mut fields = record_fields(event, body);
        fields.insert("revision", number);
        fields.insert("voided", r.voided);
        self.upsert(tx, TIMELINE, &event.id, doc! { "$set": fields })
            .await?;
        Ok(true)
    }

    /// Keeps the point unless a later one is held.
    async fn keep_valuation(
        &self,
        tx: &mut ClientSession,
        v: &VehicleRef,
        point: &ValuationPoint,
        body: &str,
    ) -> StoreResult<bool> {
        let stored: Option<Body> = self.held(tx, VALUATIONS, v.vehicle_id.as_str()).await?;
        if let Some(stored) = stored
            && !point.supersedes(&stored.decode()?)
        {
            return Ok(false);
        }
        let update = doc! { "$set": { "org_id": v.org_id.as_str(), "body": body } };
        self.upsert(tx, VALUATIONS, &v.vehicle_id, update).await?;
        Ok(true)
    }

    /// Replaces the schedule unless a newer evaluation is held.
    async fn keep_schedule(
        &self,
        tx: &mut ClientSession,
        org: &OrgId,
        u: &MaintenanceScheduleUpdated,
        body: &str,
    ) -> StoreResult<bool> {
        let evaluated_at = ts(&u.evaluated_at);
        let stored = self
            .db
            .typed::<MaintenanceHead>(MAINTENANCE)
            .find_one(doc! { "_id": &u.vehicle_id })
            .session(&mut *tx)
            .await?;
        if stored
            .and_then(|s| s.evaluated_at)
            .is_some_and(|at| at > evaluated_at)
        {
            return Ok(false);
        }
        let update = doc! { "$set": { "org_id": org.as_str(), "evaluated_at": &evaluated_at, "body": body } };
        self.upsert(tx, MAINTENANCE, &u.vehicle_id, update).await?;
        Ok(true)
    }
}

/// The fields of a `timeline` document the projection's queries use, beside the record's JSON text.
fn record_fields(e: &VehicleEvent, body: &str) -> Document {
    doc! {
        "org_id": e.org_id.as_str(),
        "vehicle_id": e.vehicle_id.as_str(),
        "occurred_at": ts(&e.occurred_at),
        "body": body,
    }
}

#[async_trait]
impl ChatStore for MongoChatStore {
    async fn apply_change(&self, envelope_id: &str, change: KnowledgeChange) -> StoreResult<bool> {
        let body = change.body()?;
        Ok(apply!(self, envelope_id, |session| {
            let (vehicle_id, changed) = match &change {
                KnowledgeChange::Vehicle(v) => {
                    (v.id.as_str(), self.keep_vehicle(session, v, &body).await?)
                }
                KnowledgeChange::Record(e) => {
                    if !self.add_record(session, e, &body).await? {
                        // The same record under another envelope id.
                        return Ok(false);
                    }
                    (e.vehicle_id.as_str(), true)
                }
                KnowledgeChange::Revision(r) => (
                    r.event.vehicle_id.as_str(),
                    self.revise_record(session, r, &body).await?,
                ),
                KnowledgeChange::Valuation(v, point) => (
                    v.vehicle_id.as_str(),
                    self.keep_valuation(session, v, point, &body).await?,
                ),
                KnowledgeChange::Maintenance(org, u) => (
                    u.vehicle_id.as_str(),
                    self.keep_schedule(session, org, u, &body).await?,
                ),
            };
            if changed {
                self.bump(session, vehicle_id).await?;
            }
            Ok(true)
        }))
    }

    async fn knowledge_version(&self, vehicle: &VehicleRef) -> StoreResult<Option<u64>> {
        let known = self
            .db
            .collection(VEHICLES)
            .find_one(vehicle_filter(vehicle))
            .projection(doc! { "_id": 1 })
            .await?;
        if known.is_none() {
            return Ok(None);
        }
        let version = self
            .db
            .typed::<VersionDoc>(VERSIONS)
            .find_one(doc! { "_id": vehicle.vehicle_id.as_str() })
            .await?;
        Ok(Some(version.map_or(0, |v| v.version as u64)))
    }

    async fn knowledge(&self, vehicle: &VehicleRef) -> StoreResult<Option<VehicleKnowledge>> {
        // The version is read first: contents newer than their version only cost a cache refresh later.
        let Some(version) = self.knowledge_version(vehicle).await? else {
            return Ok(None);
        };
        let Some(registered) = self.db.find_body(VEHICLES, vehicle_filter(vehicle)).await? else {
            return Ok(None);
        };
        let (org_id, vehicle_id) = (vehicle.org_id.as_str(), vehicle.vehicle_id.as_str());
        let events = self
            .db
            .find_bodies(
                TIMELINE,
                doc! { "org_id": org_id, "vehicle_id": vehicle_id, "voided": { "$ne": true } },
                doc! { "occurred_at": 1, "_id": 1 },
            )
            .await?;
        let mut knowledge = VehicleKnowledge {
            vehicle_id: vehicle_id.to_string(),
            org_id: org_id.to_string(),
            vehicle: Some(registered),
            events,
            valuation: self
                .db
                .find_body(VALUATIONS, vehicle_filter(vehicle))
                .await?,
            maintenance: self
                .db
                .find_body(MAINTENANCE, vehicle_filter(vehicle))
                .await?,
            version,
        };
        knowledge.sort_events();
        Ok(Some(knowledge))
    }

    async fn save_turn(&self, turn: &ChatTurn) -> StoreResult<()> {
        let body = serde_json::to_string(turn)?;
        let asked_at = ts(&turn.asked_at);
        vwc_store::mongo_transaction!(self.db, |session| async {
            self.db
                .collection(CONVERSATIONS)
                .update_one(
                    doc! { "_id": &turn.conversation_id },
                    doc! { "$setOnInsert": {
                        "org_id": turn.org_id.as_str(),
                        "vehicle_id": turn.vehicle_id.as_str(),
                        "started_at": &asked_at,
                        "started_by": &turn.asked_by,
                    } },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
            self.db
                .typed::<MessageDoc>(CHAT_MESSAGES)
                .insert_one(MessageDoc {
                    id: &turn.message_id,
                    conversation_id: &turn.conversation_id,
                    org_id: &turn.org_id,
                    vehicle_id: &turn.vehicle_id,
                    asked_at: &asked_at,
                    body: &body,
                })
                .session(&mut *session)
                .await?;
            Ok(())
        });
        Ok(())
    }

    async fn conversation(
        &self,
        vehicle: &VehicleRef,
        conversation_id: &str,
    ) -> StoreResult<Option<Conversation>> {
        let (org_id, vehicle_id) = (vehicle.org_id.as_str(), vehicle.vehicle_id.as_str());
        let Some(head) = self
            .db
            .typed::<ConversationHead>(CONVERSATIONS)
            .find_one(doc! { "_id": conversation_id, "org_id": org_id, "vehicle_id": vehicle_id })
            .await?
        else {
            return Ok(None);
        };
        let messages = self
            .db
            .find_bodies(
                CHAT_MESSAGES,
                doc! { "conversation_id": conversation_id, "org_id": org_id },
                doc! { "asked_at": 1, "_id": 1 },
            )
            .await?;
        Ok(Some(Conversation {
            conversation_id: conversation_id.to_string(),
            vehicle_id: vehicle.vehicle_id.clone(),
            started_at: parse_ts(&head.started_at)?,
            started_by: head.started_by,
            messages,
        }))
    }

    async fn set_feedback(&self, message: &MessageRef, feedback: &Feedback) -> StoreResult<bool> {
        let filter = doc! {
            "_id": &message.message_id,
            "conversation_id": &message.conversation_id,
            "org_id": message.vehicle.org_id.as_str(),
            "vehicle_id": message.vehicle.vehicle_id.as_str(),
        };
        Ok(vwc_store::mongo_transaction!(self.db, |session| async {
            let Some(stored) = self
                .db
                .typed::<Body>(CHAT_MESSAGES)
                .find_one(filter.clone())
                .session(&mut *session)
                .await?
            else {
                return Ok(false);
            };
            let mut turn: ChatTurn = stored.decode()?;
            turn.feedback = Some(feedback.clone());
            self.db
                .collection(CHAT_MESSAGES)
                .update_one(
                    filter.clone(),
                    doc! { "$set": { "body": serde_json::to_string(&turn)? } },
                )
                .session(&mut *session)
                .await?;
            Ok(true)
        }))
    }

    async fn audit(&self, query: AuditQuery<'_>) -> StoreResult<Vec<ChatTurn>> {
        let (org_id, limit) = (query.org_id, query.limit);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let since = query.since.map(|s| ts(&s)).unwrap_or_default();
        let found: Vec<Body> = self
            .db
            .typed::<Body>(CHAT_MESSAGES)
            .find(doc! { "org_id": org_id.as_str(), "asked_at": { "$gte": since } })
            .sort(doc! { "asked_at": 1, "_id": 1 })
            .limit(limit.min(i64::MAX as usize) as i64)
            .await?
            .try_collect()
            .await?;
        found.iter().map(Body::decode).collect()
    }
}

impl Plumbed for MongoChatStore {
    type Db = MongoDb;
    fn plumbing(&self) -> &MongoDb {
        &self.db
    }
}
