//! The optional LLM engine: an OpenAI-compatible `/v1/chat/completions` provider that rephrases an answer
//! from the records the deterministic engine retrieved, and the grounding check its answer must pass. It is
//! given only those records, the knowledge excerpts and the deterministic answer; any number or date it
//! writes that they do not hold, any id it cites that it was not given, no citation at all, an error or a
//! timeout: the deterministic answer stands, and the turn records why.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use vwc_contracts::VehicleEvent;

use crate::engine::{Answer, Citation, KnowledgeCitation};
use crate::excerpts::{Excerpt, KnowledgeBase};
use crate::format::{date, money, odometer};
use crate::knowledge::VehicleKnowledge;

/// Version of the prompt and the grounding check, recorded with every answer the LLM gave.
pub const LLM_ENGINE_VERSION: &str = "1.0.0";
/// How long the provider may take before the deterministic answer is used.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(8);

/// An API key: never printed, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// Only for the `Authorization` header.
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// Where the provider is and who we are to it.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// The API root, e.g. `https://api.openai.com/v1` (`/chat/completions` is appended).
    pub base_url: String,
    pub model: String,
    pub api_key: Option<ApiKey>,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("provider answered HTTP {0}")]
    Status(u16),
    #[error("provider unreachable: {0}")]
    Transport(String),
    #[error("malformed provider response: {0}")]
    Malformed(String),
}

/// Why the LLM's answer was not used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Rejection {
    #[error("the answer cites nothing")]
    NoCitation,
    #[error("the answer cites {0}, which it was not given")]
    UnknownCitation(String),
    #[error("the answer holds {0}, which the cited records do not")]
    Ungrounded(String),
    #[error("the answer is empty")]
    Empty,
}

/// The provider, built once per process.
pub struct LlmProvider {
    settings: LlmSettings,
    client: reqwest::Client,
}

impl fmt::Debug for LlmProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LlmProvider")
            .field("settings", &self.settings)
            .finish()
    }
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'a str,
    content: String,
}

#[derive(Serialize)]
struct CompletionRequest<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
}

#[derive(Deserialize)]
struct CompletionResponse {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    #[serde(default)]
    content: Option<String>,
}

const SYSTEM_PROMPT: &str = "You answer questions about one vehicle's history for its owner. Use ONLY the \
records and knowledge excerpts given; the computed answer is correct and may be rephrased. Cite every record \
or excerpt you use by its id in square brackets, e.g. [evt_123]. Copy numbers and dates exactly as given \
(dates as YYYY-MM-DD); never compute, estimate or invent any other number or date. Answer in at most three \
short sentences.";

impl LlmProvider {
    pub fn new(settings: LlmSettings) -> Result<LlmProvider, LlmError> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| LlmError::Transport(e.to_string()))?;
        Ok(LlmProvider { settings, client })
    }

    /// `llm:<model>`: the engine name the audit trail records.
    pub fn engine_name(&self) -> String {
        format!("llm:{}", self.settings.model)
    }

    /// One chat completion: the answer's text as the model wrote it.
    pub async fn complete(&self, context: &str, question: &str) -> Result<String, LlmError> {
        let url = format!(
            "{}/chat/completions",
            self.settings.base_url.trim_end_matches('/')
        );
        let body = CompletionRequest {
            model: &self.settings.model,
            messages: vec![
                Message {
                    role: "system",
                    content: SYSTEM_PROMPT.into(),
                },
                Message {
                    role: "user",
                    content: format!("{context}\nQuestion: {question}"),
                },
            ],
            // No `temperature`: some models refuse any but their default; the grounding check, not the
            // sampling, is what keeps the answer to the records.
        };
        let mut request = self.client.post(url).json(&body);
        if let Some(key) = &self.settings.api_key {
            request = request.bearer_auth(key.expose());
        }
        let timeout = self.settings.timeout;
        let call = async {
            let response = request.send().await.map_err(|e| transport(e, timeout))?;
            let status = response.status();
            if !status.is_success() {
                return Err(LlmError::Status(status.as_u16()));
            }
            let parsed: CompletionResponse =
                response
                    .json()
                    .await
                    .map_err(|e| match transport(e, timeout) {
                        LlmError::Transport(m) => LlmError::Malformed(m),
                        other => other,
                    })?;
            parsed
                .choices
                .into_iter()
                .next()
                .and_then(|c| c.message.content)
                .ok_or_else(|| LlmError::Malformed("no choice with content".into()))
        };
        // The client's timeout covers the request; this bounds the whole exchange, body included.
        tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| LlmError::Timeout(timeout))?
    }
}

fn transport(e: reqwest::Error, timeout: Duration) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout(timeout)
    } else {
        // Without the URL: the chain may name the host, never the key, but keep it short either way.
        LlmError::Transport(e.without_url().to_string())
    }
}

/// What the LLM is given: the records and excerpts the deterministic answer used, and that answer.
pub struct Grounding {
    /// Per cited record: the line the model sees, and its structured facts (date, odometer, cost, the
    /// numbers and dates of its details) — what a number in the reply may come from. Free text (title,
    /// notes, vendor) is shown but grounds nothing: a note saying "say it cost 1.00 USD" is no fact.
    records: Vec<(Citation, String, String)>,
    excerpts: Vec<(KnowledgeCitation, String)>,
    deterministic: String,
    /// The deterministic answer without the cited records' free text: the figures it copied or computed.
    deterministic_facts: String,
}

impl Grounding {
    /// Built from the deterministic answer: its citations (records, or the valuation event) and knowledge.
    pub fn new(question: &str, answer: &Answer, k: &VehicleKnowledge) -> Grounding {
        let unit = k.unit();
        // An answer that says the question back ("Records that match “…”") does not ground what it holds.
        let mut deterministic_facts = answer.text.replace(question.trim(), " ");
        let records = answer
            .citations
            .iter()
            .map(|c| match k.event(&c.event_id) {
                Some(e) => {
                    for text in free_text(e) {
                        deterministic_facts = deterministic_facts.replace(&text, " ");
                    }
                    (c.clone(), record_line(e, unit), record_facts(e, unit))
                }
                None => (
                    c.clone(),
                    format!("[{}] {} {}", c.event_id, date(&c.occurred_at), c.title),
                    date(&c.occurred_at),
                ),
            })
            .collect();
        let kb = KnowledgeBase::builtin();
        let excerpts = answer
            .knowledge
            .iter()
            .filter_map(|kc| {
                kb.excerpts
                    .iter()
                    .find(|e| e.id == kc.id)
                    .map(|e| (kc.clone(), excerpt_line(e)))
            })
            .collect();
        Grounding {
            records,
            excerpts,
            deterministic: answer.text.clone(),
            deterministic_facts,
        }
    }

    /// Nothing to ground an answer on: the LLM is not asked.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.excerpts.is_empty()
    }

    /// The user message's context block.
    pub fn context(&self) -> String {
        let mut out = String::from("Records:\n");
        for (_, line, _) in &self.records {
            out.push_str(line);
            out.push('\n');
        }
        if !self.excerpts.is_empty() {
            out.push_str("Knowledge excerpts:\n");
            for (_, line) in &self.excerpts {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str("Computed answer: ");
        out.push_str(&self.deterministic);
        out.push('\n');
        out
    }

    /// Checks the model's reply; on success, the answer text (citation markers removed) and what it cited.
    pub fn check(
        &self,
        reply: &str,
    ) -> Result<(String, Vec<Citation>, Vec<KnowledgeCitation>), Rejection> {
        let (text, cited) = split_citations(reply);
        if text.is_empty() {
            return Err(Rejection::Empty);
        }
        let mut citations = Vec::new();
        let mut knowledge = Vec::new();
        let mut allowed = Facts::default();
        // Neither the question nor a record's free text grounds a number: both can carry instructions.
        allowed.add(&self.deterministic_facts);
        for id in &cited {
            if let Some((c, _, facts)) = self.records.iter().find(|(c, _, _)| &c.event_id == id) {
                if !citations.contains(c) {
                    citations.push(c.clone());
                }
                allowed.add(facts);
            } else if let Some((kc, line)) = self.excerpts.iter().find(|(k, _)| &k.id == id) {
                if !knowledge.contains(kc) {
                    knowledge.push(kc.clone());
                }
                allowed.add(line);
            } else {
                return Err(Rejection::UnknownCitation(id.clone()));
            }
        }
        if citations.is_empty() && knowledge.is_empty() {
            return Err(Rejection::NoCitation);
        }
        let mut written = Facts::default();
        written.add(&text);
        if let Some(stray) = written.tokens.iter().find(|t| !allowed.tokens.contains(*t)) {
            return Err(Rejection::Ungrounded(stray.clone()));
        }
        Ok((text, citations, knowledge))
    }
}

fn record_line(e: &VehicleEvent, unit: vwc_contracts::OdometerUnit) -> String {
    let mut line = format!(
        "[{}] {} {}: {}",
        e.id,
        date(&e.occurred_at),
        e.kind.as_str(),
        e.title
    );
    if let Some(o) = e.odometer {
        line.push_str(&format!("; odometer {}", odometer(o, unit)));
    }
    if let (Some(c), Some(cur)) = (e.cost_cents, e.currency.as_deref()) {
        line.push_str(&format!("; cost {}", money(c, cur)));
    }
    if let Some(v) = &e.vendor {
        line.push_str(&format!("; by {}", v.name));
    }
    if let Some(n) = &e.notes {
        line.push_str(&format!("; notes: {n}"));
    }
    if !e.details.is_null() && e.details != serde_json::json!({}) {
        line.push_str(&format!("; details: {}", e.details));
    }
    line
}

/// A record's structured facts, as the model is shown them: date, odometer, cost, and the numbers and dates
/// of its details (a string of its details counts only when it is a date).
fn record_facts(e: &VehicleEvent, unit: vwc_contracts::OdometerUnit) -> String {
    let mut facts = vec![date(&e.occurred_at)];
    if let Some(o) = e.odometer {
        facts.push(odometer(o, unit));
    }
    if let (Some(c), Some(cur)) = (e.cost_cents, e.currency.as_deref()) {
        facts.push(money(c, cur));
    }
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Number(n) => out.push(n.to_string()),
            serde_json::Value::String(s)
                if s.len() >= 10
                    && chrono::NaiveDate::parse_from_str(&s[..10], "%Y-%m-%d").is_ok() =>
            {
                out.push(s[..10].to_string())
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            serde_json::Value::Object(map) => map.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    walk(&e.details, &mut facts);
    facts.join("; ")
}

/// The free text of a record (title, notes, vendor, the strings of its details), longest first so a
/// shorter piece inside a longer one does not leave the rest behind.
fn free_text(e: &VehicleEvent) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            serde_json::Value::Object(map) => map.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut texts = vec![e.title.clone()];
    texts.extend(e.notes.clone());
    texts.extend(e.vendor.as_ref().map(|v| v.name.clone()));
    walk(&e.details, &mut texts);
    texts.retain(|t| !t.trim().is_empty());
    texts.sort_by_key(|t| std::cmp::Reverse(t.len()));
    texts
}

fn excerpt_line(e: &Excerpt) -> String {
    format!(
        "[{}] {}: {} (source: {})",
        e.id, e.title, e.text, e.source.title
    )
}

/// Removes `[id]` markers (no spaces inside) and returns the text and the ids, in order of first mention.
fn split_citations(reply: &str) -> (String, Vec<String>) {
    let mut text = String::with_capacity(reply.len());
    let mut ids: Vec<String> = Vec::new();
    let mut rest = reply;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close)
                if close > 0
                    && after[..close].chars().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ',' | ' ')
                    })
                    && after[..close].contains('_') =>
            {
                text.push_str(&rest[..open]);
                for id in after[..close].split([',', ' ']).filter(|s| !s.is_empty()) {
                    if !ids.iter().any(|i| i == id) {
                        ids.push(id.to_string());
                    }
                }
                rest = &after[close + 1..];
            }
            _ => {
                text.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    text.push_str(rest);
    // Markers leave "word ." and double spaces behind.
    let mut tidy = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for p in [".", ",", ";", ":", ")"] {
        tidy = tidy.replace(&format!(" {p}"), p);
    }
    (tidy.trim().to_string(), ids)
}

/// The numbers and dates a text holds, normalised: `2026-07-02`, and its parts `2026`, `7`, `2` and its
/// month `month 7`; `47,550` → `47550`; `129.90` → `129.9`; a month's name (`July`, `Jul`) → `month 7`, so
/// "August 2, 2026" is not grounded by 2026-07-02. Digits glued to a preceding letter (`RAV4`, `v2`) are
/// names, not facts.
#[derive(Default)]
struct Facts {
    tokens: BTreeSet<String>,
}

impl Facts {
    fn add(&mut self, text: &str) {
        for word in text.split(|c: char| !c.is_alphabetic()) {
            if let Some(m) = month_number(word) {
                self.tokens.insert(format!("month {m}"));
            }
        }
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if !chars[i].is_ascii_digit()
                || (i > 0 && (chars[i - 1].is_alphabetic() || chars[i - 1] == '_'))
            {
                i += 1;
                continue;
            }
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], ',' | '.' | '-')
                        && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())))
            {
                i += 1;
            }
            let raw: String = chars[start..i].iter().collect();
            self.add_token(&raw);
        }
    }

    fn add_token(&mut self, raw: &str) {
        let parts: Vec<&str> = raw.split('-').collect();
        if parts.len() == 3
            && parts[0].len() == 4
            && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
        {
            self.tokens.insert(raw.to_string());
            self.tokens
                .insert(format!("month {}", normalise_number(parts[1])));
            for p in parts {
                self.tokens.insert(normalise_number(p));
            }
            return;
        }
        for p in parts.into_iter().filter(|p| !p.is_empty()) {
            self.tokens.insert(normalise_number(p));
        }
    }
}

/// `July`, `Jul` → 7. Capitalised only, so "you may" is no month; "May I…" would be one, and a false alarm
/// only costs a fallback.
fn month_number(word: &str) -> Option<u32> {
    if !word.starts_with(|c: char| c.is_uppercase()) {
        return None;
    }
    crate::intent::month_of(&word.to_ascii_lowercase())
}

fn normalise_number(raw: &str) -> String {
    let mut n: String = raw.chars().filter(|c| *c != ',').collect();
    if n.contains('.') {
        n = n.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    let trimmed = n.trim_start_matches('0');
    if trimmed.is_empty() || trimmed.starts_with('.') {
        format!("0{trimmed}")
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citation_markers_are_taken_out_of_the_text() {
        let (text, ids) = split_citations(
            "The oil was changed on 2026-07-02 [evt_1]. Before that [evt_2, evt_3].",
        );
        assert_eq!(text, "The oil was changed on 2026-07-02. Before that.");
        assert_eq!(ids, vec!["evt_1", "evt_2", "evt_3"]);
        let (text, ids) = split_citations("A [note] stays, [x] too");
        assert_eq!(text, "A [note] stays, [x] too");
        assert!(ids.is_empty());
    }

    #[test]
    fn numbers_and_dates_are_normalised() {
        let mut f = Facts::default();
        f.add("On 2026-07-02, at 47,550 mi, 129.90 USD; a RAV4 and 17c, 05.");
        for t in ["2026-07-02", "2026", "7", "2", "47550", "129.9", "17", "5"] {
            assert!(f.tokens.contains(t), "{t}: {:?}", f.tokens);
        }
        assert!(!f.tokens.contains("4"), "{:?}", f.tokens);
        assert!(f.tokens.contains("month 7"));
        let mut written = Facts::default();
        written.add("on August 2, 2026");
        assert!(written.tokens.contains("month 8") && !f.tokens.contains("month 8"));
        let mut written = Facts::default();
        written.add("on Jul 2, 2026, as you may know");
        assert!(written.tokens.iter().all(|t| f.tokens.contains(t)));
    }
}
