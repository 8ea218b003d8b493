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
/// 1.1.0 (stop 44): a reply leaving out a caveat of the computed answer (a conversion made or not made, a
/// voided record, a currency not recorded, a shared record's whole cost) is refused. 1.2.0: "no conversion"
/// is kept only when said as not made, and "No record names the rotors; …" is a caveat too. 1.3.0: a period
/// compared that is not over ("this year (2026 so far, to 3 Dec)") must be said to be counted so far.
pub const LLM_ENGINE_VERSION: &str = "1.3.0";
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
    #[error("the answer holds {0}, which the cited records do not (as {1})")]
    Ungrounded(String, &'static str),
    #[error("the answer is empty")]
    Empty,
    #[error("the answer leaves out {0}, which the computed answer says")]
    DroppedCaveat(&'static str),
}

/// What a computed answer may say that changes how its figures read: (the computed answer holds this, a
/// reply keeping it holds one of these words, what it says). A reworded answer without it would give the
/// same figures with another meaning (miles read as kilometres, USD as the euros asked for, a voided
/// record's figures as history), so such a reply is refused like an ungrounded number.
const CAVEATS: &[(&str, &[&str], &str)] = &[
    (
        "are converted at 1 mi = 1.609344 km",
        &["convert"],
        "that its distances are converted",
    ),
    // Said as not made: "converted to EUR" would say the opposite of the computed answer.
    (
        "no conversion to",
        &[
            "no conversion",
            "not converted",
            "n't converted",
            "not convert",
            "without conversion",
            "without converting",
            "unconverted",
            "no exchange",
        ],
        "that no currency conversion is made",
    ),
    // A system's work given for a part no record names ("No record names the rotors; the last work on the
    // brakes was …"): without it, the brakes' record reads as the rotors'.
    (
        "No record names the",
        &[
            "no record",
            "not named",
            "none of the records",
            "not name",
            "n't name",
            "not mention",
            "n't mention",
            "no mention",
            "not recorded",
        ],
        "that no record names the part asked",
    ),
    (
        "has since been voided",
        &["void"],
        "that a record it cited has since been voided",
    ),
    (
        "its currency is not recorded",
        &["currency"],
        "that a price's currency is not recorded",
    ),
    (
        "does not split it",
        &["whole cost", "not split", "other work"],
        "that a record's whole cost counts under each of its tasks or parts",
    ),
    (
        "do not split it",
        &["whole cost", "not split", "other work"],
        "that a record's whole cost counts under each of its tasks or parts",
    ),
    // A period compared that is not over ("this year (2026 so far, to 3 Dec)"): without it, part of a year
    // reads as a whole one beside the year before.
    (
        " so far",
        &[
            "so far",
            "to date",
            "not over",
            "not yet over",
            "isn't over",
            "not finished",
            "partial",
            "up to today",
            "until today",
            "through today",
        ],
        "that a period compared is counted so far, not whole",
    ),
];

/// The first caveat `deterministic` holds and `reply` leaves out (matched without regard to case).
fn dropped_caveat(deterministic: &str, reply: &str) -> Option<&'static str> {
    let reply = reply.to_lowercase();
    CAVEATS
        .iter()
        .find(|(holds, kept, _)| {
            deterministic.contains(holds) && !kept.iter().any(|k| reply.contains(k))
        })
        .map(|(_, _, what)| *what)
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
    records: Vec<(Citation, String, Facts)>,
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
                    (c.clone(), record_line(e, unit), record_facts(e))
                }
                None => {
                    let mut facts = Facts::default();
                    facts.add_date(&date(&c.occurred_at));
                    (
                        c.clone(),
                        format!("[{}] {} {}", c.event_id, date(&c.occurred_at), c.title),
                        facts,
                    )
                }
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
                allowed.extend(facts);
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
        if let Some((value, kind)) = allowed.first_stray(&written) {
            let shown = match kind {
                Kind::Month => format!("month {value}"),
                _ => value.clone(),
            };
            return Err(Rejection::Ungrounded(shown, kind.describe()));
        }
        if let Some(what) = dropped_caveat(&self.deterministic, &text) {
            return Err(Rejection::DroppedCaveat(what));
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

/// A record's structured facts, as the model is shown them, each of its kind: the date, the odometer (a
/// distance), the cost (an amount), and the numbers and dates of its details — a `…Cents` field an amount,
/// `tripDistance` a distance, `volume` a measure, any other number a count; a string counts only when it is
/// a date.
fn record_facts(e: &VehicleEvent) -> Facts {
    let mut facts = Facts::default();
    facts.add_date(&date(&e.occurred_at));
    if let Some(o) = e.odometer {
        facts.insert(Kind::Distance, o.to_string());
    }
    if let (Some(c), Some(_)) = (e.cost_cents, e.currency.as_deref()) {
        facts.insert(Kind::Amount, cents(c));
    }
    fn walk(key: &str, v: &serde_json::Value, out: &mut Facts) {
        match v {
            serde_json::Value::Number(n) => {
                let (kind, value) = if key.ends_with("Cents") {
                    (Kind::Amount, n.as_u64().map(cents).unwrap_or_default())
                } else if key == "tripDistance" || key.contains("odometer") {
                    (Kind::Distance, normalise_number(&n.to_string()))
                } else if key == "volume" {
                    (Kind::Measure, normalise_number(&n.to_string()))
                } else {
                    (Kind::Count, normalise_number(&n.to_string()))
                };
                if !value.is_empty() {
                    out.insert(kind, value);
                }
            }
            serde_json::Value::String(s)
                if s.len() >= 10
                    && s.is_char_boundary(10)
                    && chrono::NaiveDate::parse_from_str(&s[..10], "%Y-%m-%d").is_ok() =>
            {
                out.add_date(&s[..10])
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(key, i, out)),
            serde_json::Value::Object(map) => map.iter().for_each(|(k, i)| walk(k, i, out)),
            _ => {}
        }
    }
    walk("", &e.details, &mut facts);
    facts
}

/// Cents as an amount's normalised value: 12999 → `129.99`, 150000 → `1500`.
fn cents(c: u64) -> String {
    normalise_number(&format!("{}.{:02}", c / 100, c % 100))
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

/// What a number stands for. A number the answer writes is grounded only by a fact of the same kind: an
/// amount by an amount, a distance by a distance, a date by a date (and a day, month or year by a date's own
/// part), a measure by a measure, a count by a count — never an amount by a count ("over 1 record") or by a
/// date's day ("2025-07-02").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// Money: a currency code or sign beside it, two decimals, or a word of paying before it ("cost 1").
    Amount,
    /// An odometer value or a distance: "mi", "km", "miles" after it.
    Distance,
    /// A whole date, `YYYY-MM-DD`.
    Date,
    /// A year: a date's, or four digits standing alone ("in 2024").
    Year,
    /// A day of the month: a date's, or a number beside a month's name ("July 2", "2nd").
    Day,
    /// A month: a date's, or a month's name.
    Month,
    /// A volume, an economy or a share: gal, L, mpg, L/100 km, %.
    Measure,
    /// Anything else: a count ("3 records", "5 months"), a plain number of a record's details.
    Count,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Amount => "an amount",
            Kind::Distance => "a distance",
            Kind::Date => "a date",
            Kind::Year => "a year",
            Kind::Month => "a month",
            Kind::Day => "a day of a date",
            Kind::Measure => "a measure",
            Kind::Count => "a count",
        }
    }
}

/// The numbers and dates a text holds, each with its [`Kind`], normalised: `2026-07-02` (a date), and its
/// year `2026`, month `month 7` and day `2`; `47,550 mi` → the distance `47550`; `129.90 USD` → the amount
/// `129.9`; a month's name (`July`, `Jul`) → `month 7`, so "August 2, 2026" is not grounded by 2026-07-02.
/// Digits glued to a preceding letter (`RAV4`, `v2`) are names, not facts.
#[derive(Default)]
struct Facts {
    /// (the value as an answer would name it, its kind): ordered by the value first.
    tokens: BTreeSet<(String, Kind)>,
}

/// Words before a number that make it money ("cost 1", "paid a total of 40").
const PAYING: &[&str] = &[
    "cost", "costs", "costing", "paid", "pay", "pays", "spent", "spend", "price", "priced",
    "charged", "charge", "worth", "bill", "billed", "sold", "bought",
];
/// Words that may stand between a paying word and its number.
const FILLERS: &[&str] = &[
    "was",
    "is",
    "were",
    "only",
    "just",
    "about",
    "around",
    "roughly",
    "approximately",
    "exactly",
    "a",
    "an",
    "the",
    "total",
    "of",
    "me",
    "you",
    "us",
    "them",
    "it",
    "for",
    "at",
    "came",
    "to",
    "all",
];

impl Facts {
    /// Every number and date of a free-standing text (an answer, the computed answer, an excerpt), its kind
    /// read from the words around it.
    fn add(&mut self, text: &str) {
        for word in text.split(|c: char| !c.is_alphabetic()) {
            if let Some(m) = month_number(word) {
                self.insert(Kind::Month, m.to_string());
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
            let before: String = chars[..start].iter().collect();
            let after: String = chars[i..].iter().collect();
            self.add_token(&raw, &before, &after);
        }
    }

    fn insert(&mut self, kind: Kind, value: String) {
        self.tokens.insert((value, kind));
    }

    fn extend(&mut self, other: &Facts) {
        self.tokens.extend(other.tokens.iter().cloned());
    }

    /// A date's facts: the date, its year, month and day.
    fn add_date(&mut self, iso: &str) {
        let parts: Vec<&str> = iso.split('-').collect();
        self.insert(Kind::Date, iso.to_string());
        self.insert(Kind::Year, normalise_number(parts[0]));
        self.insert(Kind::Month, normalise_number(parts[1]));
        self.insert(Kind::Day, normalise_number(parts[2]));
    }

    fn add_token(&mut self, raw: &str, before: &str, after: &str) {
        let parts: Vec<&str> = raw.split('-').collect();
        if parts.len() == 3
            && parts[0].len() == 4
            && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()))
        {
            self.add_date(raw);
            return;
        }
        for p in parts.into_iter().filter(|p| !p.is_empty()) {
            self.insert(classify(p, before, after), normalise_number(p));
        }
    }

    /// The first fact of `written` this set does not hold as the same kind.
    fn first_stray<'a>(&self, written: &'a Facts) -> Option<&'a (String, Kind)> {
        written
            .tokens
            .iter()
            .find(|token| !self.tokens.contains(*token))
    }
}

/// The kind of the number `raw` (digits, maybe grouped or with decimals) from the words around it: a
/// currency or a unit after it, a currency sign or a month's name before it, an ordinal suffix; then its
/// shape (four digits from 1886 to 2100: a year); a paying word shortly before it ("cost 1") or two decimals
/// make it an amount; anything else is a count.
fn classify(raw: &str, before: &str, after: &str) -> Kind {
    let day = raw.len() <= 2 && raw.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d));
    match classify_by_words(before, after) {
        // "March 2026" is a month and a year, not a day.
        Some(Kind::Day) if !day => classify(raw, "", ""),
        Some(kind) => kind,
        None if raw.len() == 4
            && raw.chars().all(|c| c.is_ascii_digit())
            && raw.parse::<u32>().is_ok_and(|y| (1886..=2100).contains(&y)) =>
        {
            Kind::Year
        }
        None if paid(before) || raw.split_once('.').is_some_and(|(_, d)| d.len() == 2) => {
            Kind::Amount
        }
        None => Kind::Count,
    }
}

/// A paying word shortly before: "cost 1", "paid a total of 40", "spent about 3".
fn paid(before: &str) -> bool {
    for w in before
        .rsplit(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .take(4)
    {
        let w = w.to_lowercase();
        if PAYING.contains(&w.as_str()) {
            return true;
        }
        if !FILLERS.contains(&w.as_str()) {
            return false;
        }
    }
    false
}

/// The kind the words right beside a number give it, when they do.
fn classify_by_words(before: &str, after: &str) -> Option<Kind> {
    let next: String = after
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || matches!(c, '/' | '%'))
        .collect();
    let glued = !after.starts_with(char::is_whitespace);
    let lower = next.to_lowercase();
    if vwc_contracts::currency::is_iso4217(&next) {
        // An ISO 4217 code: "129.99 USD".
        return Some(Kind::Amount);
    }
    if glued && matches!(lower.as_str(), "st" | "nd" | "rd" | "th") {
        return Some(Kind::Day);
    }
    match lower.as_str() {
        "dollar" | "dollars" | "euro" | "euros" | "pound" | "pounds" | "bucks" | "cents" => {
            return Some(Kind::Amount);
        }
        "mi" | "mile" | "miles" | "km" | "kms" | "kilometre" | "kilometres" | "kilometer"
        | "kilometers" => return Some(Kind::Distance),
        "mpg" | "gal" | "gallon" | "gallons" | "l" | "litre" | "litres" | "liter" | "liters"
        | "l/100" | "l/100km" | "%" | "percent" => return Some(Kind::Measure),
        "day" | "days" | "week" | "weeks" | "month" | "months" | "year" | "years" | "record"
        | "records" | "time" | "times" | "visit" | "visits" => return Some(Kind::Count),
        _ => {}
    }
    if month_number(&next).is_some() {
        return Some(Kind::Day);
    }
    let before = before.trim_end();
    if before.ends_with(['$', '€', '£', '¥']) {
        return Some(Kind::Amount);
    }
    let last = before
        .rsplit(|c: char| !c.is_alphabetic())
        .find(|w| !w.is_empty());
    if before.ends_with(|c: char| c.is_alphabetic())
        && last.is_some_and(|w| month_number(w).is_some())
    {
        return Some(Kind::Day);
    }
    None
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

    fn has(f: &Facts, kind: Kind, value: &str) -> bool {
        f.tokens.contains(&(value.to_string(), kind))
    }

    #[test]
    fn numbers_and_dates_are_normalised_with_their_kind() {
        let mut f = Facts::default();
        f.add("On 2026-07-02, at 47,550 mi, 129.90 USD over 3 records; a RAV4 and 17c, 05.");
        for (kind, t) in [
            (Kind::Date, "2026-07-02"),
            (Kind::Year, "2026"),
            (Kind::Month, "7"),
            (Kind::Day, "2"),
            (Kind::Distance, "47550"),
            (Kind::Amount, "129.9"),
            (Kind::Count, "3"),
            (Kind::Count, "17"),
            (Kind::Count, "5"),
        ] {
            assert!(has(&f, kind, t), "{kind:?} {t}: {:?}", f.tokens);
        }
        assert!(!f.tokens.iter().any(|(v, _)| v == "4"), "{:?}", f.tokens);
        let mut written = Facts::default();
        written.add("on August 2, 2026");
        assert!(has(&written, Kind::Month, "8") && !has(&f, Kind::Month, "8"));
        assert!(has(&written, Kind::Day, "2") && has(&written, Kind::Year, "2026"));
        let mut written = Facts::default();
        written.add("on Jul 2, 2026, as you may know");
        assert_eq!(f.first_stray(&written), None);
        let mut written = Facts::default();
        written.add("in March 2026, the 2nd, $40 or 40 dollars, 11.25 gal at 31.5 mpg");
        for (kind, t) in [
            (Kind::Month, "3"),
            (Kind::Year, "2026"),
            (Kind::Day, "2"),
            (Kind::Amount, "40"),
            (Kind::Measure, "11.25"),
            (Kind::Measure, "31.5"),
        ] {
            assert!(has(&written, kind, t), "{kind:?} {t}: {:?}", written.tokens);
        }
    }

    #[test]
    fn a_reply_leaving_out_what_changes_the_figures_meaning_is_refused() {
        let converted = "You drive ≈ 1,616 km (1,004 mi) a month. Distances are recorded in mi; the km \
                         figures are converted at 1 mi = 1.609344 km and rounded.";
        assert_eq!(
            dropped_caveat(converted, "You drive about 1,616 km a month."),
            Some("that its distances are converted")
        );
        assert_eq!(
            dropped_caveat(
                converted,
                "About 1,616 km a month (converted from 1,004 mi)."
            ),
            None
        );
        let unconverted = "You spent 424.97 USD on oil change. The costs are recorded in USD and given in \
                           USD: no conversion to EUR is made (no exchange rates are held).";
        assert_eq!(
            dropped_caveat(unconverted, "You spent 424.97 on oil changes."),
            Some("that no currency conversion is made")
        );
        assert_eq!(
            dropped_caveat(unconverted, "424.97 USD, not converted to EUR."),
            None
        );
        // Saying a conversion was made is the opposite of the caveat, not a rewording of it.
        assert_eq!(
            dropped_caveat(unconverted, "You spent 424.97 EUR (converted to EUR)."),
            Some("that no currency conversion is made")
        );
        assert_eq!(
            dropped_caveat(
                unconverted,
                "424.97 USD; there is no exchange rate, so it isn't converted."
            ),
            None
        );
        let by_system = "No record names the rotors; the last work on the brakes was on 2025-01-15 (“Front \
                         brake pads”, 300.00 USD).";
        assert_eq!(
            dropped_caveat(
                by_system,
                "The rotors were replaced on 2025-01-15 for 300.00 USD."
            ),
            Some("that no record names the part asked")
        );
        assert_eq!(
            dropped_caveat(
                by_system,
                "No record mentions the rotors; the latest brake work was on 2025-01-15."
            ),
            None
        );
        let voided = "The record the previous answer cited has since been voided (a voided record is not \
                      history), so …";
        assert!(dropped_caveat(voided, "It cost 129.99 USD.").is_some());
        assert_eq!(dropped_caveat(voided, "That record was Voided; …"), None);
        let shared = "You spent 129.99 USD on tire rotation, over 1 record. 1 of these records also includes \
                      other work (oil change): its whole cost is counted, as the record does not split it.";
        assert!(dropped_caveat(shared, "Tire rotations cost 129.99 USD.").is_some());
        assert_eq!(
            dropped_caveat(
                shared,
                "129.99 USD, the whole cost of a visit that also changed the oil."
            ),
            None
        );
        assert_eq!(dropped_caveat("You spent 129.99 USD.", "129.99 USD."), None);
        let running = "Costs recorded for the vehicle (purchase excluded): this year (2026 so far, to 3 Dec), \
                       100.00 USD over 1 record; last year (2025), 1,982.49 USD over 4 records.";
        assert_eq!(
            dropped_caveat(
                running,
                "You spent 100.00 USD in 2026 and 1,982.49 USD in 2025."
            ),
            Some("that a period compared is counted so far, not whole")
        );
        assert_eq!(
            dropped_caveat(running, "2026 to date: 100.00 USD; 2025: 1,982.49 USD."),
            None
        );
    }

    #[test]
    fn a_number_is_grounded_only_by_a_fact_of_its_kind() {
        // What the computed answer and a cited record give: an amount, a count, a date, a distance.
        let mut allowed = Facts::default();
        allowed.add("You spent 150.00 USD on engine, over 1 record, on 2025-08-02 at 41,250 mi.");
        let stray = |reply: &str| {
            let mut written = Facts::default();
            written.add(reply);
            allowed.first_stray(&written).cloned()
        };
        // The count and the date's day and month are no amount, with or without a currency.
        for (reply, value) in [
            ("This repair cost 1.00 USD.", "1"),
            ("This repair cost 1.", "1"),
            ("It cost 2.00 USD.", "2"),
            ("It was 8 USD.", "8"),
            ("It cost $2.", "2"),
        ] {
            assert_eq!(stray(reply), Some((value.into(), Kind::Amount)), "{reply}");
        }
        // Nor is an amount a distance or a count, nor a distance an amount.
        assert_eq!(
            stray("It was done 150 times."),
            Some(("150".into(), Kind::Count))
        );
        assert_eq!(
            stray("It cost 41,250.00 USD."),
            Some(("41250".into(), Kind::Amount))
        );
        assert_eq!(
            stray("It was at 150 mi."),
            Some(("150".into(), Kind::Distance))
        );
        // Each fact as what it is passes.
        assert_eq!(
            stray("On August 2, 2025 (2025-08-02), at 41,250 mi, it cost 150 USD, over 1 record."),
            None
        );
        assert_eq!(stray("It cost $150, 1 record."), None);
    }
}
