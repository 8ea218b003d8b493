//! The chat historian's store port. It owns the knowledge projection (vehicles, their timeline, the latest
//! valuation and maintenance schedule), `conversations` and `chat_messages` (the audit trail). `apply_*`
//! methods claim the envelope id in the inbox in the same transaction as their effect and return `false`
//! for a duplicate delivery.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vwc_contracts::maintenance::MaintenanceScheduleUpdated;
use vwc_contracts::{OrgId, Vehicle, VehicleEvent, VehicleId};
pub use vwc_store::VehicleRef;
use vwc_store::{Plumbing, StoreResult};

use crate::engine::{Citation, KnowledgeCitation};
use crate::intent::Understanding;
use crate::knowledge::{ValuationPoint, VehicleKnowledge};

/// A user's verdict on one answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Feedback {
    pub helpful: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
    /// The token subject who gave it.
    pub by: String,
}

/// One question and its answer: a `chat_messages` row, and the audit record of the turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatTurn {
    /// `msg_<uuid v7>`.
    pub message_id: String,
    pub conversation_id: String,
    #[schema(value_type = String)]
    pub org_id: OrgId,
    #[schema(value_type = String)]
    pub vehicle_id: VehicleId,
    /// The token subject who asked.
    pub asked_by: String,
    pub asked_at: DateTime<Utc>,
    pub question: String,
    /// The understood intent (`last_done`, …), follow-ups resolved.
    pub intent: String,
    /// The follow-up the question was (`follow_up_before`, `follow_up_range`, `follow_up_cost`,
    /// `follow_up_vendor`, `follow_up_odometer`, `follow_up_ago`, `follow_up_why`; docs/chat.md), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<String>,
    /// The understood slots (task, part, system, kind, vendor, range, before).
    #[schema(value_type = Object)]
    pub slots: serde_json::Value,
    /// The records the answer used.
    pub citations: Vec<Citation>,
    /// The knowledge excerpts the answer used.
    pub knowledge: Vec<KnowledgeCitation>,
    pub answer: String,
    /// `deterministic`, or `llm:<model>` when the optional LLM provider's answer passed its check.
    pub engine: String,
    pub engine_version: String,
    /// Why the configured LLM provider's answer was not used (error, timeout, failed grounding check); the
    /// deterministic answer was given instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
    /// From the question's arrival to the answer being ready (before streaming), microseconds.
    pub latency_micros: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<Feedback>,
}

impl ChatTurn {
    /// The understanding stored with the turn (a follow-up's context).
    pub fn understanding(&self) -> Option<Understanding> {
        serde_json::from_value(serde_json::json!({
            "intent": self.intent,
            "slots": self.slots,
        }))
        .ok()
    }
}

/// A conversation about one vehicle, its turns oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub conversation_id: String,
    #[schema(value_type = String)]
    pub vehicle_id: VehicleId,
    pub started_at: DateTime<Utc>,
    pub started_by: String,
    pub messages: Vec<ChatTurn>,
}

/// One change to the knowledge projection, from one event. Every change is applied by
/// [`ChatStore::apply_change`]: the envelope id claimed in the inbox and the change made in one transaction, the
/// vehicle's knowledge version bumped when it changed anything.
#[derive(Debug, Clone)]
pub enum KnowledgeChange {
    /// The vehicle as it now reads (a registration, an update, a sale, an archive). A re-registration
    /// refreshes the details but never moves a vehicle to another organisation.
    Vehicle(Vehicle),
    /// A timeline record; the same record under another envelope id changes nothing (`false`).
    Record(VehicleEvent),
    /// A correction or void (docs/corrections.md): the record held is replaced by each later revision; a
    /// voided one is never read (nor cited) again. One that arrives before the original is held, and the
    /// original then changes nothing.
    Revision(Revision),
    /// A valuation point, kept unless a later one (asOf, then computedAt) is already held.
    Valuation(VehicleRef, ValuationPoint),
    /// The vehicle's schedule, replacing the one held unless a newer evaluation is already held.
    Maintenance(OrgId, MaintenanceScheduleUpdated),
}

impl KnowledgeChange {
    /// The JSON text the change stores (both adapters keep records as JSON beside their query fields).
    pub fn body(&self) -> StoreResult<String> {
        Ok(match self {
            KnowledgeChange::Vehicle(vehicle) => serde_json::to_string(vehicle)?,
            KnowledgeChange::Record(event) => serde_json::to_string(event)?,
            KnowledgeChange::Revision(revision) => serde_json::to_string(&revision.event)?,
            KnowledgeChange::Valuation(_, point) => serde_json::to_string(point)?,
            KnowledgeChange::Maintenance(_, update) => serde_json::to_string(update)?,
        })
    }
}

/// One revision of a timeline record: a correction, or a void (the record is never read again).
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// The record as it reads in this revision.
    pub event: VehicleEvent,
    /// 1 is the original; each correction or void counts one more.
    pub number: u32,
    pub voided: bool,
}

impl Revision {
    pub fn corrected(event: VehicleEvent, number: u32) -> Revision {
        Revision {
            event,
            number,
            voided: false,
        }
    }

    pub fn voided(event: VehicleEvent, number: u32) -> Revision {
        Revision {
            event,
            number,
            voided: true,
        }
    }
}

#[async_trait]
pub trait ChatStore: Plumbing {
    /// Applies `change` and claims `envelope_id` in the inbox in the same transaction: `false` for a
    /// duplicate delivery (and for a record already held under another envelope id).
    async fn apply_change(&self, envelope_id: &str, change: KnowledgeChange) -> StoreResult<bool>;
    /// The knowledge version of the vehicle when it is registered in the organisation (`None` when not).
    async fn knowledge_version(&self, vehicle: &VehicleRef) -> StoreResult<Option<u64>>;
    /// Everything known about the vehicle when it is registered in the organisation, read consistently.
    async fn knowledge(&self, vehicle: &VehicleRef) -> StoreResult<Option<VehicleKnowledge>>;
    /// Stores one turn, starting its conversation when it is the first.
    async fn save_turn(&self, turn: &ChatTurn) -> StoreResult<()>;
    /// A conversation of the organisation's vehicle, with its turns (`None` when it is not theirs).
    async fn conversation(
        &self,
        vehicle: &VehicleRef,
        conversation_id: &str,
    ) -> StoreResult<Option<Conversation>>;
    /// Sets (or replaces) the feedback on one turn; `false` when there is no such turn.
    async fn set_feedback(&self, message: &MessageRef, feedback: &Feedback) -> StoreResult<bool>;
    /// The turns an audit listing reads (see [`AuditQuery`]).
    async fn audit(&self, query: AuditQuery<'_>) -> StoreResult<Vec<ChatTurn>>;
}

/// Which turns an audit listing reads: the organisation's, asked at or after `since` (all when `None`),
/// oldest first, at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct AuditQuery<'a> {
    pub org_id: &'a OrgId,
    pub since: Option<DateTime<Utc>>,
    pub limit: usize,
}

/// One answer of a conversation about an organisation's vehicle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    pub vehicle: VehicleRef,
    pub conversation_id: String,
    pub message_id: String,
}
