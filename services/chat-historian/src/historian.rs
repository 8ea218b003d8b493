//! The historian's use cases: ask (understand, answer, audit), read a conversation, give feedback, suggest.
//! The engine's derived data (vocabulary, search index) is cached per vehicle and knowledge version, so a
//! question costs one version read and the computation, not a reload of the whole history.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use vwc_contracts::FieldError;
use vwc_contracts::maintenance::MaintenanceStatus;
use vwc_contracts::validation::Validator;
use vwc_store::StoreError;

use crate::engine::{self, ENGINE_NAME, ENGINE_VERSION, Prepared, PreviousTurn};
use crate::llm::{Grounding, LLM_ENGINE_VERSION, LlmProvider};
use crate::store::{ChatStore, ChatTurn, Conversation, Feedback, MessageRef, VehicleRef};

pub const MAX_QUESTION_CHARS: usize = 500;
pub const MAX_COMMENT_CHARS: usize = 2_000;
/// Vehicles whose prepared knowledge is kept in memory; the cache starts over beyond it.
const CACHE_VEHICLES: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("vehicle not found")]
    VehicleNotFound,
    #[error("conversation not found")]
    ConversationNotFound,
    #[error("invalid question")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum FeedbackError {
    #[error("message not found")]
    NotFound,
    #[error("invalid feedback")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A question as the API receives it.
#[derive(Debug, Clone)]
pub struct Ask {
    pub org_id: String,
    pub vehicle_id: String,
    pub asked_by: String,
    pub question: String,
    pub conversation_id: Option<String>,
}

/// A maintenance recommendation from the vehicle's due items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    pub task: String,
    pub title: String,
    pub status: MaintenanceStatus,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_odometer: Option<u64>,
    /// A question to ask about it.
    pub prompt: String,
}

/// `GET /v1/vehicles/{id}/chat/suggestions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Suggestions {
    /// Questions this vehicle's records can answer.
    pub prompts: Vec<String>,
    /// Due and overdue maintenance items, overdue first.
    pub recommendations: Vec<Recommendation>,
    /// Records the historian holds for the vehicle.
    pub record_count: usize,
    /// The vehicle's status as the historian holds it (`null` before its registration reached the
    /// historian): a page that has just sold or archived the vehicle reads the suggestions again until this
    /// says so, since the historian learns it from the bus a moment later.
    pub vehicle_status: Option<vwc_contracts::lifecycle::VehicleStatus>,
}

/// An answered, stored turn, with the suggestions an unclear question gets.
#[derive(Debug, Clone)]
pub struct Asked {
    pub turn: ChatTurn,
    pub suggestions: Vec<String>,
}

pub struct Historian {
    store: Arc<dyn ChatStore>,
    cache: Mutex<HashMap<VehicleRef, Arc<Prepared>>>,
    /// The optional LLM provider (off unless configured).
    llm: Option<Arc<LlmProvider>>,
}

/// The answer given: the deterministic one, or the LLM's when it passed its check.
struct Given {
    text: String,
    citations: Vec<crate::engine::Citation>,
    knowledge: Vec<crate::engine::KnowledgeCitation>,
    engine: String,
    engine_version: String,
    fallback_reason: Option<String>,
}

impl Historian {
    pub fn new(store: Arc<dyn ChatStore>) -> Historian {
        Historian {
            store,
            cache: Mutex::new(HashMap::new()),
            llm: None,
        }
    }

    /// Answers through the LLM provider when its answer passes the grounding check.
    pub fn with_llm(mut self, llm: Option<Arc<LlmProvider>>) -> Historian {
        self.llm = llm;
        self
    }

    /// The LLM's answer when one is configured, there are records or excerpts to ground it on and it passes
    /// the check; otherwise the deterministic answer, with the reason when the LLM was asked.
    async fn give(&self, question: &str, answer: &engine::Answer, prepared: &Prepared) -> Given {
        let deterministic = |fallback_reason: Option<String>| Given {
            text: answer.text.clone(),
            citations: answer.citations.clone(),
            knowledge: answer.knowledge.clone(),
            engine: ENGINE_NAME.into(),
            engine_version: ENGINE_VERSION.into(),
            fallback_reason,
        };
        let Some(llm) = &self.llm else {
            return deterministic(None);
        };
        let grounding = Grounding::new(question, answer, &prepared.knowledge);
        if grounding.is_empty() {
            // Nothing recorded (or an unclear question): the plain answer says so; nothing to rephrase.
            return deterministic(None);
        }
        let reason = match llm.complete(&grounding.context(), question).await {
            Ok(reply) => match grounding.check(&reply) {
                Ok((text, citations, knowledge)) => {
                    return Given {
                        text,
                        citations,
                        knowledge,
                        engine: llm.engine_name(),
                        engine_version: LLM_ENGINE_VERSION.into(),
                        fallback_reason: None,
                    };
                }
                Err(rejected) => format!("rejected: {rejected}"),
            },
            Err(e) => e.to_string(),
        };
        let reason = format!("{}: {reason}", llm.engine_name());
        tracing::warn!(reason = %reason, "LLM answer not used; the deterministic answer is given");
        deterministic(Some(reason))
    }

    pub fn store(&self) -> &Arc<dyn ChatStore> {
        &self.store
    }

    /// The vehicle's prepared knowledge, from the cache when its version is unchanged.
    pub async fn prepared(
        &self,
        org_id: &str,
        vehicle_id: &str,
    ) -> Result<Arc<Prepared>, AskError> {
        self.prepared_for(&VehicleRef::new(org_id, vehicle_id))
            .await
    }

    async fn prepared_for(&self, vehicle: &VehicleRef) -> Result<Arc<Prepared>, AskError> {
        let version = self
            .store
            .knowledge_version(vehicle)
            .await?
            .ok_or(AskError::VehicleNotFound)?;
        if let Some(p) = self.cache.lock().expect("cache lock").get(vehicle)
            && p.knowledge.version == version
        {
            return Ok(p.clone());
        }
        let knowledge = self
            .store
            .knowledge(vehicle)
            .await?
            .ok_or(AskError::VehicleNotFound)?;
        let prepared = Arc::new(Prepared::new(knowledge));
        let mut cache = self.cache.lock().expect("cache lock");
        if cache.len() >= CACHE_VEHICLES {
            cache.clear();
        }
        cache.insert(vehicle.clone(), prepared.clone());
        Ok(prepared)
    }

    /// Answers a question and stores the turn (the audit record) before returning it.
    pub async fn ask(&self, ask: Ask, now: DateTime<Utc>) -> Result<Asked, AskError> {
        let started = Instant::now();
        let question = ask.question.trim().to_string();
        let mut v = Validator::default();
        v.text("question", &question, 1, MAX_QUESTION_CHARS);
        if let Some(id) = &ask.conversation_id
            && (id.is_empty() || id.len() > 80)
        {
            v.fail("conversationId", "must be a conversation id");
        }
        v.finish().map_err(AskError::Invalid)?;
        let vehicle = VehicleRef::new(&ask.org_id, &ask.vehicle_id);
        let prepared = self.prepared_for(&vehicle).await?;
        let previous = match &ask.conversation_id {
            Some(id) => {
                // A conversation is its starter's: anyone else continuing it finds none.
                let conversation = self
                    .store
                    .conversation(&vehicle, id)
                    .await?
                    .filter(|c| c.started_by == ask.asked_by)
                    .ok_or(AskError::ConversationNotFound)?;
                conversation.messages.last().and_then(|m| {
                    Some(PreviousTurn {
                        understanding: m.understanding()?,
                        citations: m.citations.clone(),
                    })
                })
            }
            None => None,
        };
        let answer = engine::answer(&question, &prepared, previous.as_ref(), now);
        let given = self.give(&question, &answer, &prepared).await;
        let turn = ChatTurn {
            message_id: format!("msg_{}", uuid::Uuid::now_v7().simple()),
            conversation_id: ask
                .conversation_id
                .clone()
                .unwrap_or_else(|| format!("conv_{}", uuid::Uuid::now_v7().simple())),
            org_id: vehicle.org_id,
            vehicle_id: vehicle.vehicle_id,
            asked_by: ask.asked_by,
            asked_at: now,
            question,
            intent: answer.understanding.intent.as_str().to_string(),
            follow_up: answer.follow_up.map(|f| f.as_str().to_string()),
            slots: serde_json::to_value(&answer.understanding.slots)
                .unwrap_or(serde_json::Value::Null),
            citations: given.citations,
            knowledge: given.knowledge,
            answer: given.text,
            engine: given.engine,
            engine_version: given.engine_version,
            fallback_reason: given.fallback_reason,
            latency_micros: started.elapsed().as_micros() as u64,
            feedback: None,
        };
        self.store.save_turn(&turn).await?;
        Ok(Asked {
            turn,
            suggestions: answer.suggestions,
        })
    }

    /// The conversation as `reader` may see it: only the user who started it reads it (it holds their
    /// questions); for anyone else, as for another organisation, there is none.
    pub async fn conversation(
        &self,
        vehicle: &VehicleRef,
        conversation_id: &str,
        reader: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        if self.store.knowledge_version(vehicle).await?.is_none() {
            return Ok(None);
        }
        Ok(self
            .store
            .conversation(vehicle, conversation_id)
            .await?
            .filter(|c| c.started_by == reader))
    }

    pub async fn feedback(
        &self,
        message: &MessageRef,
        helpful: bool,
        comment: Option<String>,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Feedback, FeedbackError> {
        let comment = comment
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty());
        let mut v = Validator::default();
        v.opt_text("comment", comment.as_deref(), MAX_COMMENT_CHARS);
        v.finish().map_err(FeedbackError::Invalid)?;
        let feedback = Feedback {
            helpful,
            comment,
            at: now,
            by: by.to_string(),
        };
        // Only the user whose conversation it is rates its answers (a rating by anyone else would replace
        // theirs in the audit trail).
        let theirs = self
            .conversation(&message.vehicle, &message.conversation_id, by)
            .await?
            .is_some();
        if theirs && self.store.set_feedback(message, &feedback).await? {
            Ok(feedback)
        } else {
            Err(FeedbackError::NotFound)
        }
    }

    pub async fn suggestions(&self, vehicle: &VehicleRef) -> Result<Suggestions, AskError> {
        let prepared = self.prepared_for(vehicle).await?;
        let k = &prepared.knowledge;
        // A sold or archived vehicle is reminded of nothing, so nothing is recommended for it either.
        let retired = k.vehicle.as_ref().is_some_and(|v| v.is_retired());
        let mut recommendations: Vec<Recommendation> = k
            .maintenance
            .iter()
            .filter(|_| !retired)
            .flat_map(|m| m.items.iter())
            .filter(|i| {
                i.enabled
                    && matches!(
                        i.status,
                        MaintenanceStatus::Overdue | MaintenanceStatus::DueSoon
                    )
            })
            .map(|i| Recommendation {
                task: i.task.clone(),
                title: i.title.clone(),
                status: i.status,
                reason: i.reason.clone(),
                due_at: i.due_at,
                due_odometer: i.due_odometer,
                prompt: format!("When was the last {}?", crate::intent::task_noun(&i.task)),
            })
            .collect();
        recommendations.sort_by_key(|r| (r.status != MaintenanceStatus::Overdue, r.due_at));
        Ok(Suggestions {
            prompts: engine::suggestions(k),
            recommendations,
            record_count: k.events.len(),
            vehicle_status: k.vehicle.as_ref().map(|v| v.status),
        })
    }
}
