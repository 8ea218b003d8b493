//! MongoDB adapter of the chat historian's store: the service's own database (e.g. `vwc_chat_historian`),
//! its indexes created at start-up, each applied envelope claimed in the inbox in the same transaction as its
//! effect. Records are kept as JSON text beside the fields queries use (see `vwc_store::mongo`).

use async_trait::async_trait;
use bson::{Document, doc};
use chrono::{DateTime, Utc};
use mongodb::ClientSession;
use vwc_contracts::maintenance::MaintenanceScheduleUpdated;
use vwc_contracts::{Vehicle, VehicleEvent};
use vwc_store::mongo::{MongoDb, collect, int, parse_ts, required_text, text};
use vwc_store::{Plumbed, StoreResult, ts};

use crate::CONSUMER;
use crate::knowledge::{ValuationPoint, VehicleKnowledge};
use crate::store::{ChatStore, ChatTurn, Conversation, Feedback};

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
        let db = MongoDb::new(client, database);
        db.ensure_common_indexes().await?;
        db.create_index(VEHICLES, doc! { "org_id": 1, "_id": 1 }, false)
            .await?;
        db.create_index(
            TIMELINE,
            doc! { "org_id": 1, "vehicle_id": 1, "occurred_at": 1, "_id": 1 },
            false,
        )
        .await?;
        // Written inside transactions: the collections must exist beforehand on servers that cannot create
        // one in a transaction. `_id` is their key; these indexes only create them.
        db.create_index(VERSIONS, doc! { "version": 1 }, false)
            .await?;
        db.create_index(VALUATIONS, doc! { "org_id": 1 }, false)
            .await?;
        db.create_index(MAINTENANCE, doc! { "org_id": 1 }, false)
            .await?;
        db.create_index(CONVERSATIONS, doc! { "org_id": 1, "vehicle_id": 1 }, false)
            .await?;
        db.create_index(
            CHAT_MESSAGES,
            doc! { "conversation_id": 1, "asked_at": 1, "_id": 1 },
            false,
        )
        .await?;
        db.create_index(
            CHAT_MESSAGES,
            doc! { "org_id": 1, "asked_at": 1, "_id": 1 },
            false,
        )
        .await?;
        Ok(MongoChatStore { db })
    }

    async fn bump(&self, session: &mut ClientSession, vehicle_id: &str) -> StoreResult<()> {
        self.db
            .collection(VERSIONS)
            .update_one(
                doc! { "_id": vehicle_id },
                doc! { "$inc": { "version": 1_i64 } },
            )
            .upsert(true)
            .session(&mut *session)
            .await?;
        Ok(())
    }
}

/// Runs `$body` (which uses `$session` and may `return` early with its answer) as one transaction, retried
/// while the server calls the failure transient.
macro_rules! transaction {
    ($db:expr, |$session:ident| $body:block) => {{
        let mut tx = $db.transaction().await?;
        loop {
            tx.begin().await?;
            let outcome: StoreResult<_> = {
                let $session: &mut ClientSession = tx.session();
                async { $body }.await
            };
            if let Some(answer) = tx.settle(outcome).await? {
                break answer;
            }
        }
    }};
}

#[async_trait]
impl crate::store::RevisionKnowledge for MongoChatStore {
    async fn apply_event_revision(
        &self,
        envelope_id: &str,
        event: &VehicleEvent,
        revision: u32,
        voided: bool,
    ) -> StoreResult<bool> {
        let body = serde_json::to_string(event)?;
        Ok(transaction!(self.db, |session| {
            if !self.db.claim_inbox(session, CONSUMER, envelope_id).await? {
                return Ok(false);
            }
            let timeline = self.db.collection(TIMELINE);
            let held = timeline
                .find_one(doc! { "_id": &event.id })
                .session(&mut *session)
                .await?;
            let newer = match &held {
                None => true,
                Some(d) => {
                    required_text(d, "org_id")? == event.org_id.as_str()
                        && int(d, "revision")?.unwrap_or(1) < i64::from(revision)
                }
            };
            if newer {
                timeline
                    .update_one(
                        doc! { "_id": &event.id },
                        doc! { "$set": {
                            "org_id": &event.org_id,
                            "vehicle_id": &event.vehicle_id,
                            "occurred_at": ts(&event.occurred_at),
                            "body": &body,
                            "revision": i64::from(revision),
                            "voided": voided,
                        } },
                    )
                    .upsert(true)
                    .session(&mut *session)
                    .await?;
                self.bump(session, &event.vehicle_id).await?;
            }
            Ok(true)
        }))
    }
}

fn body_of<T: serde::de::DeserializeOwned>(doc: &Document) -> StoreResult<T> {
    Ok(serde_json::from_str(&required_text(doc, "body")?)?)
}

#[async_trait]
impl ChatStore for MongoChatStore {
    async fn apply_vehicle_registered(
        &self,
        envelope_id: &str,
        vehicle: &Vehicle,
    ) -> StoreResult<bool> {
        let body = serde_json::to_string(vehicle)?;
        Ok(transaction!(self.db, |session| {
            if !self.db.claim_inbox(session, CONSUMER, envelope_id).await? {
                return Ok(false);
            }
            self.db.collection(VEHICLES)
                .update_one(
                    doc! { "_id": &vehicle.id },
                    doc! { "$set": { "body": &body }, "$setOnInsert": { "org_id": &vehicle.org_id } },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
            self.bump(session, &vehicle.id).await?;
            Ok(true)
        }))
    }

    async fn apply_vehicle_event(
        &self,
        envelope_id: &str,
        event: &VehicleEvent,
    ) -> StoreResult<bool> {
        let body = serde_json::to_string(event)?;
        Ok(transaction!(self.db, |session| {
            if !self.db.claim_inbox(session, CONSUMER, envelope_id).await? {
                return Ok(false);
            }
            let inserted = self
                .db
                .collection(TIMELINE)
                .update_one(
                    doc! { "_id": &event.id },
                    doc! { "$setOnInsert": {
                        "org_id": &event.org_id,
                        "vehicle_id": &event.vehicle_id,
                        "occurred_at": ts(&event.occurred_at),
                        "body": &body,
                    } },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
            if inserted.upserted_id.is_none() {
                return Ok(false);
            }
            self.bump(session, &event.vehicle_id).await?;
            Ok(true)
        }))
    }

    async fn apply_valuation(
        &self,
        envelope_id: &str,
        org_id: &str,
        vehicle_id: &str,
        point: &ValuationPoint,
    ) -> StoreResult<bool> {
        let body = serde_json::to_string(point)?;
        Ok(transaction!(self.db, |session| {
            if !self.db.claim_inbox(session, CONSUMER, envelope_id).await? {
                return Ok(false);
            }
            let stored = self
                .db
                .collection(VALUATIONS)
                .find_one(doc! { "_id": vehicle_id })
                .session(&mut *session)
                .await?;
            if let Some(stored) = stored {
                let stored: ValuationPoint = body_of(&stored)?;
                if !point.supersedes(&stored) {
                    return Ok(true);
                }
            }
            self.db
                .collection(VALUATIONS)
                .update_one(
                    doc! { "_id": vehicle_id },
                    doc! { "$set": { "org_id": org_id, "body": &body } },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
            self.bump(session, vehicle_id).await?;
            Ok(true)
        }))
    }

    async fn apply_maintenance(
        &self,
        envelope_id: &str,
        org_id: &str,
        update: &MaintenanceScheduleUpdated,
    ) -> StoreResult<bool> {
        let body = serde_json::to_string(update)?;
        let evaluated_at = ts(&update.evaluated_at);
        Ok(transaction!(self.db, |session| {
            if !self.db.claim_inbox(session, CONSUMER, envelope_id).await? {
                return Ok(false);
            }
            let stored = self
                .db
                .collection(MAINTENANCE)
                .find_one(doc! { "_id": &update.vehicle_id })
                .session(&mut *session)
                .await?;
            if let Some(stored) = stored
                && text(&stored, "evaluated_at")?.is_some_and(|at| at > evaluated_at)
            {
                return Ok(true);
            }
            self.db.collection(MAINTENANCE)
                .update_one(
                    doc! { "_id": &update.vehicle_id },
                    doc! { "$set": { "org_id": org_id, "evaluated_at": &evaluated_at, "body": &body } },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
            self.bump(session, &update.vehicle_id).await?;
            Ok(true)
        }))
    }

    async fn knowledge_version(&self, org_id: &str, vehicle_id: &str) -> StoreResult<Option<u64>> {
        let known = self
            .db
            .collection(VEHICLES)
            .find_one(doc! { "_id": vehicle_id, "org_id": org_id })
            .projection(doc! { "_id": 1 })
            .await?;
        if known.is_none() {
            return Ok(None);
        }
        let version = self
            .db
            .collection(VERSIONS)
            .find_one(doc! { "_id": vehicle_id })
            .await?;
        Ok(Some(match version {
            Some(d) => int(&d, "version")?.unwrap_or(0) as u64,
            None => 0,
        }))
    }

    async fn knowledge(
        &self,
        org_id: &str,
        vehicle_id: &str,
    ) -> StoreResult<Option<VehicleKnowledge>> {
        // The version is read first: contents newer than their version only cost a cache refresh later.
        let Some(version) = self.knowledge_version(org_id, vehicle_id).await? else {
            return Ok(None);
        };
        let Some(vehicle) = self
            .db
            .collection(VEHICLES)
            .find_one(doc! { "_id": vehicle_id, "org_id": org_id })
            .await?
        else {
            return Ok(None);
        };
        let cursor = self
            .db
            .collection(TIMELINE)
            .find(doc! { "org_id": org_id, "vehicle_id": vehicle_id, "voided": { "$ne": true } })
            .sort(doc! { "occurred_at": 1, "_id": 1 })
            .await?;
        let events = collect(cursor)
            .await?
            .iter()
            .map(body_of::<VehicleEvent>)
            .collect::<StoreResult<Vec<_>>>()?;
        let valuation = self
            .db
            .collection(VALUATIONS)
            .find_one(doc! { "_id": vehicle_id, "org_id": org_id })
            .await?;
        let maintenance = self
            .db
            .collection(MAINTENANCE)
            .find_one(doc! { "_id": vehicle_id, "org_id": org_id })
            .await?;
        let mut knowledge = VehicleKnowledge {
            vehicle_id: vehicle_id.to_string(),
            org_id: org_id.to_string(),
            vehicle: Some(body_of(&vehicle)?),
            events,
            valuation: valuation.as_ref().map(body_of).transpose()?,
            maintenance: maintenance.as_ref().map(body_of).transpose()?,
            version,
        };
        knowledge.sort_events();
        Ok(Some(knowledge))
    }

    async fn save_turn(&self, turn: &ChatTurn) -> StoreResult<()> {
        let body = serde_json::to_string(turn)?;
        let asked_at = ts(&turn.asked_at);
        transaction!(self.db, |session| {
            self.db
                .collection(CONVERSATIONS)
                .update_one(
                    doc! { "_id": &turn.conversation_id },
                    doc! { "$setOnInsert": {
                        "org_id": &turn.org_id,
                        "vehicle_id": &turn.vehicle_id,
                        "started_at": &asked_at,
                        "started_by": &turn.asked_by,
                    } },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
            self.db
                .collection(CHAT_MESSAGES)
                .insert_one(doc! {
                    "_id": &turn.message_id,
                    "conversation_id": &turn.conversation_id,
                    "org_id": &turn.org_id,
                    "vehicle_id": &turn.vehicle_id,
                    "asked_at": &asked_at,
                    "body": &body,
                })
                .session(&mut *session)
                .await?;
            Ok(())
        });
        Ok(())
    }

    async fn conversation(
        &self,
        org_id: &str,
        vehicle_id: &str,
        conversation_id: &str,
    ) -> StoreResult<Option<Conversation>> {
        let Some(head) = self
            .db
            .collection(CONVERSATIONS)
            .find_one(doc! { "_id": conversation_id, "org_id": org_id, "vehicle_id": vehicle_id })
            .await?
        else {
            return Ok(None);
        };
        let cursor = self
            .db
            .collection(CHAT_MESSAGES)
            .find(doc! { "conversation_id": conversation_id, "org_id": org_id })
            .sort(doc! { "asked_at": 1, "_id": 1 })
            .await?;
        let messages = collect(cursor)
            .await?
            .iter()
            .map(body_of::<ChatTurn>)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Some(Conversation {
            conversation_id: conversation_id.to_string(),
            vehicle_id: vehicle_id.to_string(),
            started_at: parse_ts(&required_text(&head, "started_at")?)?,
            started_by: required_text(&head, "started_by")?,
            messages,
        }))
    }

    async fn set_feedback(
        &self,
        org_id: &str,
        vehicle_id: &str,
        conversation_id: &str,
        message_id: &str,
        feedback: &Feedback,
    ) -> StoreResult<bool> {
        Ok(transaction!(self.db, |session| {
            let filter = doc! { "_id": message_id, "conversation_id": conversation_id,
            "org_id": org_id, "vehicle_id": vehicle_id };
            let Some(stored) = self
                .db
                .collection(CHAT_MESSAGES)
                .find_one(filter.clone())
                .session(&mut *session)
                .await?
            else {
                return Ok(false);
            };
            let mut turn: ChatTurn = body_of(&stored)?;
            turn.feedback = Some(feedback.clone());
            self.db
                .collection(CHAT_MESSAGES)
                .update_one(
                    filter,
                    doc! { "$set": { "body": serde_json::to_string(&turn)? } },
                )
                .session(&mut *session)
                .await?;
            Ok(true)
        }))
    }

    async fn audit(
        &self,
        org_id: &str,
        since: Option<DateTime<Utc>>,
        limit: usize,
    ) -> StoreResult<Vec<ChatTurn>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let since = since.map(|s| ts(&s)).unwrap_or_default();
        let cursor = self
            .db
            .collection(CHAT_MESSAGES)
            .find(doc! { "org_id": org_id, "asked_at": { "$gte": since } })
            .sort(doc! { "asked_at": 1, "_id": 1 })
            .limit(limit.min(i64::MAX as usize) as i64)
            .await?;
        collect(cursor)
            .await?
            .iter()
            .map(body_of::<ChatTurn>)
            .collect()
    }
}

impl Plumbed for MongoChatStore {
    type Db = MongoDb;
    fn plumbing(&self) -> &MongoDb {
        &self.db
    }
}
