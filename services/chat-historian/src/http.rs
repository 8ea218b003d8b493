//! HTTP routes of the chat historian. Errors become HTTP only here; each route's `#[route]` documents
//! it, and [`routes`] registers handler and documentation together.
//!
//! `POST /v1/vehicles/{id}/chat` answers as Server-Sent Events (`delta` events with pieces of the answer,
//! then one `done` event with the whole answer, its citations and ids), or as one JSON object when the
//! caller sends `Accept: application/json` (without `text/event-stream`). The turn is stored before the
//! first byte is sent, so `done` names a message that exists.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use vwc_auth::TokenVerifier;
use vwc_http::openapi::{ResourceBody, ResourceRoute};
use vwc_http::route;
use vwc_http::{Admitted, ApiError, Json, VehiclePath};

use crate::engine::{Citation, KnowledgeCitation, chunks};
use crate::historian::{Ask, AskError, FeedbackError, Historian, Suggestions};
use crate::store::{Conversation, Feedback, MessageRef, VehicleRef};

// The one permission every chat route needs (docs/roles.md).
vwc_http::permission_gate!(Chat);

#[derive(Clone)]
pub struct ChatState {
    pub historian: Arc<Historian>,
    pub verifier: Arc<dyn TokenVerifier>,
    /// What "now" is (tests move it).
    pub clock: vwc_http::Clock,
}

vwc_http::has_verifier!(ChatState);

pub fn routes(docs: vwc_http::openapi::Docs) -> OpenApiRouter<ChatState> {
    vwc_http::service_routes![docs; ask, suggestions, conversation, feedback,]
}

impl From<AskError> for ApiError {
    fn from(e: AskError) -> ApiError {
        match e {
            AskError::VehicleNotFound => ApiError::NotFound("vehicle"),
            AskError::ConversationNotFound => ApiError::NotFound("conversation"),
            AskError::Invalid(errors) => ApiError::Validation(errors),
            AskError::Store(e) => ApiError::from(e),
        }
    }
}

impl From<FeedbackError> for ApiError {
    fn from(e: FeedbackError) -> ApiError {
        match e {
            FeedbackError::NotFound => ApiError::NotFound("message"),
            FeedbackError::Invalid(errors) => ApiError::Validation(errors),
            FeedbackError::Store(e) => ApiError::from(e),
        }
    }
}

/// `POST /v1/vehicles/{id}/chat` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"question": "When was the oil last changed?"}))]
pub struct ChatRequest {
    /// 1–500 characters.
    #[schema(min_length = 1, max_length = 500)]
    pub question: String,
    /// Continue this conversation (follow-ups such as "and before that?" lean on its last turn).
    #[serde(default)]
    pub conversation_id: Option<String>,
}

/// The answer: the `done` event's data, or the JSON response.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"answer": "The last oil change was on 2026-03-02, at 41,250 mi, by Main St Auto (“Oil and filter change”, 89.99 USD).",
    "citations": [{"eventId": "evt_0193…", "occurredAt": "2026-03-02T09:30:00Z", "title": "Oil and filter change"}],
    "knowledge": [], "conversationId": "conv_0193…", "messageId": "msg_0193…", "intent": "last_done",
    "suggestions": []}))]
pub struct ChatAnswer {
    pub answer: String,
    /// The vehicle's records the answer used.
    pub citations: Vec<Citation>,
    /// General knowledge excerpts the answer used (not the vehicle's records).
    pub knowledge: Vec<KnowledgeCitation>,
    pub conversation_id: String,
    pub message_id: String,
    /// What the question was understood as.
    pub intent: String,
    /// What may be asked instead, when the question was not understood.
    pub suggestions: Vec<String>,
}

/// A `delta` event's data.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChatDelta {
    /// The next piece of the answer; the pieces concatenate to `done.answer`.
    pub text: String,
}

/// One Server-Sent Event of the answer stream, as a client's SSE parser sees it (OpenAPI 3.1 has the
/// `text/event-stream` schema describe one event): `delta` events carry a [`ChatDelta`] as JSON in `data`,
/// the final `done` event a [`ChatAnswer`].
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChatStreamEvent {
    /// `delta` (a piece of the answer) or `done` (the whole answer, last).
    #[schema(pattern = "^(delta|done)$")]
    pub event: String,
    /// The event's JSON: a `ChatDelta` for `delta`, a `ChatAnswer` for `done`.
    #[schema(content_media_type = "application/json")]
    pub data: String,
}

/// `POST …/feedback` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"helpful": false, "comment": "It missed the dealer's oil change"}))]
pub struct FeedbackRequest {
    pub helpful: bool,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// `{conversationId}` of the routes on one conversation (with the vehicle's [`VehiclePath`]).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
struct ConversationPath {
    /// The conversation's id (`conv_…`).
    conversation_id: String,
}

/// `{messageId}` of the route on one answer (with [`VehiclePath`] and [`ConversationPath`]).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
struct MessagePath {
    /// The answer's message id (`msg_…`).
    message_id: String,
}

fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    accept.contains("application/json") && !accept.contains("text/event-stream")
}

/// Ask about a vehicle's history
///
/// Understands the question, computes the answer from the vehicle's own records (deterministic engine) and
/// cites every record it used. Streams Server-Sent Events by default: `delta` events (`{"text": …}`), then
/// one `done` event with the `ChatAnswer`. With `Accept: application/json` the answer is one JSON object.
/// Every turn is stored with its understood intent, the records used, the engine and its latency (the
/// audit trail). Pass `conversationId` to continue a conversation.
#[route(post "/v1/vehicles/{id}/chat", tag = "chat", params(VehiclePath), body = ChatRequest,
    ok(200, "The answer: an SSE stream (`event: delta`, then `event: done`) or, \
        with `Accept: application/json`, the answer object.",
        content(
            (ChatAnswer = "application/json"),
            (ChatStreamEvent = "text/event-stream", example = "event: delta\ndata: {\"text\":\"The last oil \"}\n\nevent: done\ndata: {\"answer\":\"…\",\"citations\":[…],\"conversationId\":\"conv_…\",\"messageId\":\"msg_…\"}\n\n"),
        )),
    errors(ResourceBody))]
async fn ask(
    State(state): State<ChatState>,
    caller: Admitted<Chat>,
    Path(VehiclePath { id }): Path<VehiclePath>,
    headers: HeaderMap,
    Json(request): Json<ChatRequest>,
) -> Result<Response, ApiError> {
    let asked = state
        .historian
        .ask(
            Ask {
                org_id: caller.auth.org().to_string(),
                vehicle_id: id.to_string(),
                asked_by: caller.auth.0.sub.clone(),
                question: request.question,
                conversation_id: request.conversation_id,
            },
            state.clock.now(),
        )
        .await?;
    let turn = asked.turn;
    let answer = ChatAnswer {
        answer: turn.answer.clone(),
        citations: turn.citations.clone(),
        knowledge: turn.knowledge.clone(),
        conversation_id: turn.conversation_id.clone(),
        message_id: turn.message_id.clone(),
        intent: turn.intent.clone(),
        suggestions: asked.suggestions,
    };
    if wants_json(&headers) {
        return Ok(Json(answer).into_response());
    }
    let mut events: Vec<Result<Event, Infallible>> = chunks(&answer.answer)
        .into_iter()
        .map(|text| {
            Ok(Event::default()
                .event("delta")
                .json_data(ChatDelta { text })
                .expect("a delta serialises"))
        })
        .collect();
    events.push(Ok(Event::default()
        .event("done")
        .json_data(&answer)
        .expect("an answer serialises")));
    let mut response = Sse::new(futures::stream::iter(events)).into_response();
    // Proxies must not buffer the stream.
    response.headers_mut().insert(
        header::HeaderName::from_static("x-accel-buffering"),
        header::HeaderValue::from_static("no"),
    );
    Ok(response)
}

/// Suggested questions and maintenance recommendations
///
/// Quick prompts this vehicle's records can answer, and its due and overdue maintenance items (overdue
/// first) as recommendations.
#[route(get "/v1/vehicles/{id}/chat/suggestions", tag = "chat", params(VehiclePath),
    ok(200, "Prompts and recommendations.", Suggestions), errors(ResourceRoute))]
async fn suggestions(
    State(state): State<ChatState>,
    caller: Admitted<Chat>,
    Path(VehiclePath { id }): Path<VehiclePath>,
) -> Result<Json<Suggestions>, ApiError> {
    Ok(Json(
        state
            .historian
            .suggestions(&VehicleRef::new(caller.org, id))
            .await?,
    ))
}

/// A conversation's history
///
/// Every turn, oldest first: the question, the understood intent and slots, the records used, the answer,
/// the engine and its version, the latency and any feedback. Only the user who started the conversation
/// reads, continues or rates it; for anyone else it is a 404, as one that does not exist.
#[route(get "/v1/vehicles/{id}/chat/{conversationId}", tag = "chat",
    params(VehiclePath, ConversationPath), ok(200, "The conversation.", Conversation),
    errors(ResourceRoute))]
async fn conversation(
    State(state): State<ChatState>,
    caller: Admitted<Chat>,
    Path(VehiclePath { id }): Path<VehiclePath>,
    Path(ConversationPath { conversation_id }): Path<ConversationPath>,
) -> Result<Json<Conversation>, ApiError> {
    state
        .historian
        .conversation(
            &VehicleRef::new(caller.org, id),
            &conversation_id,
            &caller.auth.0.sub,
        )
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("conversation"))
}

/// Rate an answer
///
/// Whether the answer helped, with an optional comment; a second rating replaces the first. Kept with the
/// turn in the audit trail.
#[route(post "/v1/vehicles/{id}/chat/{conversationId}/messages/{messageId}/feedback", tag = "chat",
    params(VehiclePath, ConversationPath, MessagePath), body = FeedbackRequest,
    ok(200, "The feedback as stored.", Feedback), errors(ResourceBody))]
async fn feedback(
    State(state): State<ChatState>,
    caller: Admitted<Chat>,
    Path(VehiclePath { id }): Path<VehiclePath>,
    Path(ConversationPath { conversation_id }): Path<ConversationPath>,
    Path(MessagePath { message_id }): Path<MessagePath>,
    Json(request): Json<FeedbackRequest>,
) -> Result<Json<Feedback>, ApiError> {
    let feedback = state
        .historian
        .feedback(
            &MessageRef {
                vehicle: VehicleRef::new(caller.org, id),
                conversation_id,
                message_id,
            },
            request.helpful,
            request.comment,
            &caller.auth.0.sub,
            state.clock.now(),
        )
        .await?;
    Ok(Json(feedback))
}
