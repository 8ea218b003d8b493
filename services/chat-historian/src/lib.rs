//! The chat historian: answers questions about a vehicle's own history, computed from its records, cited,
//! streamed and audited. It owns `conversations`, `chat_messages` and its own knowledge projection of each
//! vehicle (built from events only). `intent`, `engine`, `search`, `format`, `excerpts` and `knowledge` are
//! the pure domain; `llm` is the optional LLM provider and its grounding check; `store` is the port with its
//! SQLite and MongoDB adapters; `historian`, `consumer` and `http` are the use cases.

pub mod consumer;
pub mod engine;
pub mod excerpts;
pub mod format;
pub mod historian;
pub mod http;
pub mod intent;
pub mod knowledge;
pub mod llm;
#[cfg(feature = "aws")]
pub mod mongo;
/// BM25 over short documents, shared with the edge's search (`shared/search`).
pub use vwc_search as search;
pub mod sqlite;
pub mod store;

pub use consumer::ChatConsumer;
pub use engine::{Answer, Citation, KnowledgeCitation, PreviousTurn};
pub use historian::{AskError, Historian};
pub use intent::{Intent, Slots, Understanding};
pub use knowledge::VehicleKnowledge;
pub use llm::{ApiKey, LlmProvider, LlmSettings};
#[cfg(feature = "aws")]
pub use mongo::MongoChatStore;
pub use sqlite::SqliteChatStore;
pub use store::{ChatStore, ChatTurn, Conversation, Feedback, KnowledgeChange};

/// The consumer name in `contracts/routes.json` (and the inbox).
pub const CONSUMER: &str = "chat-historian";
