//! The default answer engine: deterministic, no network. It understands the question ([`crate::intent`]),
//! selects the vehicle's records the slots name, computes the answer over them and cites every record it
//! used. It never writes a date, amount or mileage the records do not hold (or compute, for totals, rates
//! and estimates, which say so); when nothing matches it says that nothing is recorded.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use serde::{Deserialize, Serialize};
use vwc_contracts::lifecycle::{PurchasePriceSource, Sale};
use vwc_contracts::maintenance::{
    MaintenanceItemView, MaintenanceScheduleUpdated, MaintenanceStatus,
};
use vwc_contracts::{EventDetails, EventKind, KM_PER_MILE, OdometerUnit, VehicleEvent};

use crate::excerpts::{KnowledgeBase, Source};
use crate::format::{date, grouped_tenths, isolated, money, odometer, signed_money};
use crate::intent::{
    Intent, Pick, RangeSpec, SHOP_KINDS, Slots, Specification, Subject, TimeRange, Understanding,
    VehicleFact, Vocabulary, normalise, resolve_range, specification, system_of_part, task_noun,
    understand, without_task_phrases,
};
use crate::knowledge::{ValuationPoint, VehicleKnowledge};
use crate::search::{Bm25Index, tokens};

pub const ENGINE_NAME: &str = "deterministic";
/// Recorded with every turn it answers (`engineVersion`): raised when the same records and question may get
/// another answer, so an audit can tell which rules gave one. 1.1.0 (stop 44): comparisons of two periods,
/// month names, units and currencies asked, the registration's facts, follow-ups after a void, a shared
/// record's cost said to be counted whole, common parts no record names. 1.2.0: a part asked is answered from
/// the records naming it (not a task's phrase, not notes of what was seen, not another task's part), else from
/// its system's work saying no record names it; a part's cost and a follow-up's cost say when the record holds
/// other work. 1.3.0: subjects joined ("oil changes and repairs") are the records of any of them, each said
/// apart with their total; rolling periods compared ("the last 6 months than the 6 months before"); a period
/// compared that is still running said to be counted so far; counts named by their noun ("1 repair"); "fill-ups"
/// read as fuel records (the hyphen, dropped in normalising, had kept them from ever matching); "what oil changes
/// …" asks for the records, not for the oil's specification; "oil" before a fault or a part ("the oil leak
/// repair") is no oil change; a comparison asked as less is answered as less ("Less was spent in 2024, …"). Only
/// the label changes for stored turns: each keeps the version that answered it, and a
/// follow-up on an older turn reads its stored intent, slots and citations as before (`tests/engine_versions.rs`).
pub const ENGINE_VERSION: &str = "1.3.0";

/// A record an answer used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Citation {
    /// The timeline event id (or, for a valuation, the id of the `ValuationUpdated` event).
    pub event_id: String,
    pub occurred_at: DateTime<Utc>,
    pub title: String,
}

/// A knowledge excerpt an answer used: general knowledge, not the vehicle's records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KnowledgeCitation {
    pub id: String,
    pub title: String,
    pub source: Source,
}

impl KnowledgeCitation {
    /// The citation of an excerpt an answer used.
    fn of(e: &crate::excerpts::Excerpt) -> KnowledgeCitation {
        KnowledgeCitation {
            id: e.id.clone(),
            title: e.title.clone(),
            source: e.source.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub text: String,
    pub citations: Vec<Citation>,
    pub knowledge: Vec<KnowledgeCitation>,
    /// What was understood, follow-ups resolved against the previous turn.
    pub understanding: Understanding,
    /// The follow-up this question was, when it was one.
    pub follow_up: Option<Intent>,
    /// What may be asked instead (unclear questions).
    pub suggestions: Vec<String>,
}

/// What a follow-up leans on: the previous turn of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousTurn {
    pub understanding: Understanding,
    pub citations: Vec<Citation>,
}

impl PreviousTurn {
    /// What the turn's answer was about: its citations but the reading a "how many miles ago?" measured to
    /// (`slots.measuredTo`), which it cited as a yardstick only.
    fn about(&self) -> impl Iterator<Item = &Citation> {
        let yardstick = self.understanding.slots.measured_to.as_deref();
        self.citations
            .iter()
            .filter(move |c| yardstick != Some(c.event_id.as_str()))
    }
}

/// The vehicle's knowledge with what the engine derives from it once (vocabulary, search index), cached by
/// the historian per knowledge version.
pub struct Prepared {
    pub knowledge: VehicleKnowledge,
    pub vocabulary: Vocabulary,
    index: Bm25Index,
    /// Per record, aligned with `knowledge.events`: what selection reads, decoded once.
    facts: Vec<RecordFacts>,
}

/// A record's decoded details, tasks and search words.
struct RecordFacts {
    details: Option<EventDetails>,
    tasks: Vec<String>,
    words: Vec<String>,
    /// The words that name what the record is about, for a part asked ([`naming_text`]).
    naming: Vec<String>,
}

impl Prepared {
    pub fn new(mut knowledge: VehicleKnowledge) -> Prepared {
        // Selection reads the records by binary search on their time: they must be in the timeline's order
        // (the stores load them so; a check is one pass).
        if !knowledge
            .events
            .is_sorted_by(|a, b| (a.occurred_at, &a.id) <= (b.occurred_at, &b.id))
        {
            knowledge.sort_events();
        }
        let mut vocabulary = Vocabulary::default();
        let push = |list: &mut Vec<String>, s: &str| {
            if !s.trim().is_empty() && !list.iter().any(|x| x.eq_ignore_ascii_case(s)) {
                list.push(s.to_string());
            }
        };
        for e in &knowledge.events {
            if let Some(v) = &e.vendor {
                push(&mut vocabulary.vendors, &v.name);
            }
            match e.typed_details() {
                Some(EventDetails::Repair(r)) => {
                    for p in &r.parts {
                        push(&mut vocabulary.parts, p);
                    }
                    if let Some(s) = &r.system {
                        push(&mut vocabulary.systems, s);
                    }
                }
                Some(EventDetails::Acquisition(a)) => {
                    if let Some(s) = &a.seller {
                        push(&mut vocabulary.vendors, s);
                    }
                }
                _ => {}
            }
        }
        // The dealers: a vendor a dealer's webhook named, or whose name holds the vehicle's make
        // ("Lakeside Toyota") or the word "dealer".
        let make = knowledge
            .vehicle
            .as_ref()
            .map(|v| normalise(&v.make))
            .filter(|m| !m.trim().is_empty());
        let dealer_name = |name: &str| {
            let n = normalise(name);
            n.split_whitespace().count() >= 2
                && (make.as_deref().is_some_and(|m| n.contains(m))
                    || n.contains(" dealer ")
                    || n.contains(" dealership "))
        };
        for e in &knowledge.events {
            if let Some(v) = &e.vendor
                && (v.dealer_id.is_some() || dealer_name(&v.name))
            {
                push(&mut vocabulary.dealers, &v.name);
            }
            if let Some(EventDetails::Acquisition(a)) = e.typed_details()
                && let Some(s) = &a.seller
                && dealer_name(s)
            {
                push(&mut vocabulary.dealers, s);
            }
        }
        if let Some(v) = &knowledge.vehicle {
            vocabulary.vehicle = [Some(&v.make), Some(&v.model), v.nickname.as_ref()]
                .into_iter()
                .flatten()
                .filter(|s| !s.trim().is_empty())
                .cloned()
                .collect();
            vocabulary.vin = Some(v.vin.clone());
        }
        let documents: Vec<String> = knowledge
            .events
            .iter()
            .map(|e| searchable_text(e, true))
            .collect();
        let index = Bm25Index::build(documents.iter().map(String::as_str));
        let facts = knowledge
            .events
            .iter()
            .map(|e| {
                let details = e.typed_details();
                RecordFacts {
                    tasks: e.maintenance_tasks(),
                    // A vendor's name is not read for a subject: "Whistler Towing" is no record about towing.
                    words: tokens(&searchable_text(e, false)),
                    naming: tokens(&naming_text(e, details.as_ref())),
                    details,
                }
            })
            .collect();
        Prepared {
            knowledge,
            vocabulary,
            index,
            facts,
        }
    }
}

/// Everything a record says in words: title, notes, vendor (and seller) when `vendor`, tasks, parts, system,
/// category.
fn searchable_text(e: &VehicleEvent, vendor: bool) -> String {
    let mut text = format!("{} {}", e.title, e.kind.as_str().replace('_', " "));
    if let Some(n) = &e.notes {
        text.push(' ');
        text.push_str(n);
    }
    if let Some(v) = e.vendor.as_ref().filter(|_| vendor) {
        text.push(' ');
        text.push_str(&v.name);
    }
    match e.typed_details() {
        Some(EventDetails::Maintenance(m)) => {
            for t in m.tasks {
                text.push(' ');
                text.push_str(&t.replace('_', " "));
            }
        }
        Some(EventDetails::Repair(r)) => {
            for p in r.parts {
                text.push(' ');
                text.push_str(&p);
            }
            if let Some(s) = r.system {
                text.push(' ');
                text.push_str(&s);
            }
        }
        Some(EventDetails::Upgrade(u)) => {
            if let Some(c) = u.category {
                text.push(' ');
                text.push_str(&c);
            }
        }
        Some(EventDetails::Acquisition(a)) => {
            if let Some(s) = a.seller.filter(|_| vendor) {
                text.push(' ');
                text.push_str(&s);
            }
        }
        _ => {}
    }
    text
}

/// What a record names as the things it is about, for a part asked ("When were the rotors replaced?"): its
/// title, parts, system and category, without the phrases of tasks ("tire rotation" is a task, not the tires;
/// a battery test is not the battery). Its notes count only when it lists no parts and no tasks: a record that
/// lists what was done is about that, and its notes say what was seen ("Pads at 3 mm; rotors scored.").
fn naming_text(e: &VehicleEvent, details: Option<&EventDetails>) -> String {
    let mut text = e.title.clone();
    let listed = match details {
        Some(EventDetails::Maintenance(m)) => !m.tasks.is_empty(),
        Some(EventDetails::Repair(r)) => !r.parts.is_empty(),
        _ => false,
    };
    if let Some(n) = e.notes.as_ref().filter(|_| !listed) {
        text.push(' ');
        text.push_str(n);
    }
    match details {
        Some(EventDetails::Repair(r)) => {
            for p in &r.parts {
                text.push(' ');
                text.push_str(p);
            }
            if let Some(s) = &r.system {
                text.push(' ');
                text.push_str(s);
            }
        }
        Some(EventDetails::Upgrade(u)) => {
            if let Some(c) = &u.category {
                text.push(' ');
                text.push_str(c);
            }
        }
        _ => {}
    }
    without_task_phrases(&text)
}

/// `text` with its first letter in lower case, to follow a clause ("The last work …" → "the last work …"),
/// unless its first word is written in capitals ("USD", "EUR").
fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && !second.is_uppercase() => first
            .to_lowercase()
            .chain(text[first.len_utf8()..].chars())
            .collect(),
        _ => text.to_string(),
    }
}

fn cite(e: &VehicleEvent) -> Citation {
    Citation {
        event_id: e.id.to_string(),
        occurred_at: e.occurred_at,
        title: e.title.clone(),
    }
}

/// Adds `e` to `citations` unless it is cited already (one record may back several lines of an answer).
fn cite_once(citations: &mut Vec<Citation>, e: &VehicleEvent) {
    if !citations.iter().any(|c| c.event_id == e.id.as_str()) {
        citations.push(cite(e));
    }
}

/// Answers one question over one vehicle's knowledge.
pub fn answer(
    question: &str,
    prepared: &Prepared,
    previous: Option<&PreviousTurn>,
    now: DateTime<Utc>,
) -> Answer {
    let asked = understand(question, &prepared.vocabulary);
    // The unit and currency asked in: the question's own, else — for a follow-up — the previous turn's.
    let leaned_on = previous.filter(|_| is_follow_up(asked.intent));
    let unit = asked
        .slots
        .distance_unit
        .or_else(|| leaned_on.and_then(|p| p.understanding.slots.distance_unit));
    let currency = asked
        .slots
        .currency
        .clone()
        .or_else(|| leaned_on.and_then(|p| p.understanding.slots.currency.clone()));
    let ctx = Ctx {
        asked_unit: unit,
        converted: Cell::new(false),
        p: prepared,
        k: &prepared.knowledge,
        now,
        question,
    };
    let mut a = resolve(&ctx, asked, previous);
    if ctx.converted.get() {
        let recorded = prepared.knowledge.unit();
        a.text.push_str(&format!(
            " Distances are recorded in {}; the {} figures are converted at 1 mi = 1.609344 km and rounded.",
            recorded.as_str(),
            unit.unwrap_or_default().as_str()
        ));
    }
    if let Some(asked_in) = &currency {
        a.text.push_str(&not_converted(&a.text, asked_in));
    }
    a.understanding.slots.distance_unit = unit;
    a.understanding.slots.currency = currency;
    a
}

/// The two periods a comparison asks about, as slots of their own (the first period is `s.range`, the
/// second `other`); an unreadable second period is answered by saying so, with `example` to ask instead.
fn two_periods(s: &Slots, other: &RangeSpec, example: &str) -> Result<[Slots; 2], Box<Answer>> {
    if let RangeSpec::Unreadable { said } = other {
        return Err(Box::new(text_answer(
            format!(
                "I could not read the time range “{}”. Ask, for example, {example}.",
                isolated(said)
            ),
            Vec::new(),
        )));
    }
    Ok([
        Slots {
            compare: None,
            ..s.clone()
        },
        Slots {
            range: Some(other.clone()),
            compare: None,
            ..s.clone()
        },
    ])
}

fn is_follow_up(intent: Intent) -> bool {
    matches!(
        intent,
        Intent::FollowUpBefore
            | Intent::FollowUpCost
            | Intent::FollowUpWhy
            | Intent::FollowUpVendor
            | Intent::FollowUpOdometer
            | Intent::FollowUpRange
            | Intent::FollowUpAgo
    )
}

/// " The costs are recorded in USD and given in USD: no conversion to EUR is made (no exchange rates are
/// held)." when an answer asked in `asked_in` gives amounts in other currencies; nothing when it gives none,
/// or only amounts in that currency. Amounts are read from the answer as `money` writes them ("129.99 USD").
fn not_converted(text: &str, asked_in: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let currencies: BTreeSet<&str> = words
        .windows(2)
        .filter(|w| {
            let amount = w[0].trim_start_matches(['(', '+', '-', '≈']);
            amount.contains('.')
                && amount
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == ',' || c == '.')
        })
        .map(|w| w[1].trim_end_matches(|c: char| !c.is_ascii_alphabetic()))
        .filter(|c| vwc_contracts::currency::is_iso4217(c))
        .collect();
    let others: Vec<&str> = currencies
        .iter()
        .copied()
        .filter(|c| *c != asked_in)
        .collect();
    if others.is_empty() {
        return String::new();
    }
    let recorded = others.join(" and ");
    let lead = if currencies.contains(asked_in) {
        format!(
            " Only the {asked_in} amounts are in {asked_in}; the others are recorded in {recorded}"
        )
    } else {
        format!(" The costs are recorded in {recorded}")
    };
    format!(
        "{lead} and given in {recorded}: no conversion to {asked_in} is made (no exchange rates are held)."
    )
}

/// The answer to what was asked, follow-ups resolved against the previous turn.
fn resolve(ctx: &Ctx, asked: Understanding, previous: Option<&PreviousTurn>) -> Answer {
    let mut voided_bound = false;
    let (understanding, follow_up) = match (asked.intent, previous) {
        // Another vehicle named ("and the Civic?"): nothing of this one is said about it, follow-up or not.
        _ if asked.slots.other_vehicle.is_some() => (asked, None),
        (Intent::FollowUpBefore, Some(prev)) => {
            let mut u = prev.understanding.clone();
            u.slots.measured_to = None;
            // After a comparison, before that is before the earliest record of either period, over no range.
            if u.slots.compare.take().is_some() {
                u.slots.range = None;
            }
            if !bounded(u.intent) {
                return ctx.not_bounded(prev, Intent::FollowUpBefore);
            }
            // Before the earliest record the previous answer cited — for a value, before the value it
            // gave (cited first; the records its factors cite come after it and go further back).
            // Earliest as the timeline orders records, (occurredAt, id), and "before" it in that order: a
            // record at the same instant is not skipped.
            let from = match u.intent {
                Intent::Valuation => prev.about().next(),
                _ => prev
                    .about()
                    .min_by(|a, b| (a.occurred_at, &a.event_id).cmp(&(b.occurred_at, &b.event_id))),
            };
            // The record bounding "before that" voided since: the records in force are read before where it
            // stood, and the answer says it was voided (nothing else of it is told).
            voided_bound = from.is_some_and(|c| {
                ctx.k.event(&c.event_id).is_none()
                    && !(u.intent == Intent::Valuation && ctx.is_estimate(prev, 0, c))
            });
            match from {
                Some(c) => {
                    u.slots.before = Some(c.occurred_at);
                    // A published estimate is no timeline record: before its day, as a day is bounded.
                    u.slots.before_record = match u.intent {
                        Intent::Valuation if ctx.k.event(&c.event_id).is_none() => None,
                        _ => Some(c.event_id.clone()),
                    };
                }
                // Nothing cited and no bound yet: there is no record to go back from (an answer that
                // found nothing before a bound says so again).
                None if u.slots.before.is_none() => {
                    let mut a = text_answer(
                        "The previous answer named no dated record, so there is nothing before it to look for."
                            .into(),
                        Vec::new(),
                    );
                    a.understanding = u;
                    a.follow_up = Some(Intent::FollowUpBefore);
                    return a;
                }
                None => {}
            }
            (u, Some(Intent::FollowUpBefore))
        }
        (Intent::FollowUpRange, Some(prev)) => {
            // The previous question again, over the range this one names (which replaces its range and
            // any "before that").
            let mut u = prev.understanding.clone();
            u.slots.measured_to = None;
            if !bounded(u.intent) {
                return ctx.not_bounded(prev, Intent::FollowUpRange);
            }
            u.slots.range = asked.slots.range.clone();
            u.slots.compare = None;
            u.slots.before = None;
            u.slots.before_record = None;
            (u, Some(Intent::FollowUpRange))
        }
        // A range alone with nothing to follow: what was done in it.
        (Intent::FollowUpRange, None) => (
            Understanding {
                intent: Intent::ListEvents,
                slots: asked.slots,
            },
            None,
        ),
        // "what was the mileage?" with nothing to follow: the odometer now.
        (Intent::FollowUpOdometer, None) => (
            Understanding {
                intent: Intent::UsageRate,
                slots: asked.slots,
            },
            None,
        ),
        (Intent::FollowUpCost, Some(prev)) => {
            return ctx.about_cited(prev, Intent::FollowUpCost, |p| (ctx.cost_of(p), None));
        }
        (Intent::FollowUpWhy, Some(prev)) => {
            return leaning_on(prev, Intent::FollowUpWhy, ctx.why(prev));
        }
        (Intent::FollowUpVendor, Some(prev)) => {
            return ctx.about_cited(prev, Intent::FollowUpVendor, |p| (ctx.vendor_of(p), None));
        }
        (Intent::FollowUpOdometer, Some(prev)) => {
            return ctx.about_cited(prev, Intent::FollowUpOdometer, |p| {
                (ctx.odometer_of(p), None)
            });
        }
        // "How many miles ago was the last oil change?": a question of its own, naming what it asks about.
        (Intent::FollowUpAgo, _) if names_its_own_records(&asked.slots) => {
            return ctx.ago_of_last(asked);
        }
        (Intent::FollowUpAgo, Some(prev)) => {
            return ctx.about_cited(prev, Intent::FollowUpAgo, |p| ctx.since_cited(p));
        }
        (
            Intent::FollowUpBefore
            | Intent::FollowUpCost
            | Intent::FollowUpWhy
            | Intent::FollowUpVendor
            | Intent::FollowUpAgo,
            None,
        ) => {
            let mut a =
                ctx.unclear("There is no earlier question in this conversation to follow up on. ");
            a.understanding = asked;
            return a;
        }
        _ => (asked, None),
    };
    let mut a = ctx.compute(&understanding);
    if voided_bound {
        a.text = format!(
            "The record the previous answer cited has since been voided (a voided record is not history), so the \
             records in force are read before where it stood. {}",
            a.text
        );
    }
    a.understanding = understanding;
    a.follow_up = follow_up;
    a
}

/// Whether a question names the records it is about (a task, part, system, kind or vendor), so it needs no
/// previous turn to lean on.
fn names_its_own_records(s: &Slots) -> bool {
    s.has_subject() || s.kind.is_some() || s.names_vendor()
}

/// An answer about what the previous turn cited, stored as that turn's question with the follow-up it was
/// (so "and before that?" after it still knows what was asked).
fn leaning_on(prev: &PreviousTurn, follow_up: Intent, answer: Answer) -> Answer {
    let mut understanding = prev.understanding.clone();
    understanding.slots.measured_to = None;
    Answer {
        understanding,
        follow_up: Some(follow_up),
        ..answer
    }
}

struct Ctx<'a> {
    /// The distance unit the question asks in, when it is not the vehicle's: distances are converted.
    asked_unit: Option<OdometerUnit>,
    /// Whether the answer converted a distance (it then says how).
    converted: Cell<bool>,
    p: &'a Prepared,
    k: &'a VehicleKnowledge,
    now: DateTime<Utc>,
    question: &'a str,
}

/// " By kind: …; …." — the totals of `found` in each group `group` puts them in (a record it gives no
/// group is left out), named by `name`; nothing when they fall in fewer than two groups.
fn breakdown<K: Ord>(
    label: &str,
    found: &[&VehicleEvent],
    group: impl Fn(&VehicleEvent) -> Option<K>,
    name: impl Fn(&K) -> String,
) -> String {
    let mut groups: BTreeMap<K, Vec<&VehicleEvent>> = BTreeMap::new();
    for e in found {
        if let Some(k) = group(e) {
            groups.entry(k).or_default().push(e);
        }
    }
    if groups.len() < 2 {
        return String::new();
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(k, es)| format!("{} {}", name(k), join_totals(&totals(es.iter().copied()))))
        .collect();
    format!(" By {label}: {}.", parts.join("; "))
}

fn text_answer(text: String, citations: Vec<Citation>) -> Answer {
    Answer {
        text,
        citations,
        knowledge: Vec::new(),
        understanding: Understanding {
            intent: Intent::Unclear,
            slots: Slots::default(),
        },
        follow_up: None,
        suggestions: Vec::new(),
    }
}

/// Sums per currency, in a stable order.
fn totals<'e>(events: impl IntoIterator<Item = &'e VehicleEvent>) -> BTreeMap<String, u64> {
    let mut sums = BTreeMap::new();
    for e in events {
        if let (Some(c), Some(cur)) = (e.cost_cents, e.currency.as_deref()) {
            *sums.entry(cur.to_string()).or_default() += c;
        }
    }
    sums
}

fn join_totals(sums: &BTreeMap<String, u64>) -> String {
    sums.iter()
        .map(|(cur, c)| money(*c, cur))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// An instant as a bound says it: its day when it is the day's start, else the day and the time, in UTC.
fn instant(at: &DateTime<Utc>) -> String {
    if at.time() == chrono::NaiveTime::MIN {
        date(at)
    } else if at.second() == 0 && at.nanosecond() == 0 {
        at.format("%Y-%m-%d %H:%M UTC").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    }
}

/// A record as the follow-ups name it: “its title” on its day.
fn named(e: &VehicleEvent) -> String {
    format!("“{}” on {}", isolated(&e.title), date(&e.occurred_at))
}

fn kind_noun(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Acquisition => "purchase",
        EventKind::Maintenance => "maintenance",
        EventKind::Repair => "repairs",
        EventKind::Collision => "collisions",
        EventKind::Upgrade => "upgrades",
        EventKind::Valuation => "valuations",
        EventKind::OdometerReading => "odometer readings",
        EventKind::Fuel => "fuel",
    }
}

/// One record of a kind, for "No … is recorded" and "The last …": "repair", "collision".
fn kind_one(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Acquisition => "purchase",
        EventKind::Maintenance => "maintenance",
        EventKind::Repair => "repair",
        EventKind::Collision => "collision",
        EventKind::Upgrade => "upgrade",
        EventKind::Valuation => "valuation",
        EventKind::OdometerReading => "odometer reading",
        EventKind::Fuel => "fill-up",
    }
}

/// "maintenance", or "maintenance and repairs" when the question named several kinds.
fn kinds_noun(s: &Slots) -> Option<String> {
    if s.kinds.is_empty() {
        return s.kind.map(|k| kind_noun(k).to_string());
    }
    Some(
        s.kinds
            .iter()
            .map(|k| kind_noun(*k))
            .collect::<Vec<_>>()
            .join(" and "),
    )
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Whether a record is about one of the subjects a question joins: of its kind, holding its task, about its
/// part or system ([`about_part`], [`about_system`]).
fn is_about(e: &VehicleEvent, f: &RecordFacts, one: &Subject) -> bool {
    one.kind.is_none_or(|k| e.kind == k)
        && one.task.as_ref().is_none_or(|t| f.tasks.contains(t))
        && one.part.as_deref().is_none_or(|p| about_part(f, p))
        && one.system.as_deref().is_none_or(|s| about_system(f, s))
}

/// Whether a record is about a part: a repair listing it, or a record whose words hold all of its words.
fn about_part(f: &RecordFacts, part: &str) -> bool {
    if let Some(EventDetails::Repair(r)) = &f.details
        && r.parts.iter().any(|p| p.eq_ignore_ascii_case(part))
    {
        return true;
    }
    let want = tokens(part);
    !want.is_empty() && want.iter().all(|w| f.naming.contains(w))
}

/// Whether a record is a repair of a system.
fn about_system(f: &RecordFacts, system: &str) -> bool {
    matches!(&f.details, Some(EventDetails::Repair(r))
        if r.system.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(system)))
}

/// How a count names one record of a kind and several: "repair", "repairs"; "fill-up", "fill-ups";
/// maintenance "service", "services".
fn kind_count_nouns(kind: EventKind) -> (String, String) {
    let many = match kind {
        EventKind::Acquisition => "purchases",
        EventKind::Maintenance => return ("service".into(), "services".into()),
        EventKind::Repair => "repairs",
        EventKind::Collision => "collisions",
        EventKind::Upgrade => "upgrades",
        EventKind::Valuation => "valuations",
        EventKind::OdometerReading => "odometer readings",
        EventKind::Fuel => "fill-ups",
    };
    (kind_one(kind).to_string(), many.to_string())
}

/// How a count names one record of a task and several: "oil change", "oil changes".
fn task_count_nouns(task: &str) -> (String, String) {
    let one = task_noun(task);
    let many = format!("{one}s");
    (one, many)
}

/// How a count names one record of what the slots ask about, and several: "oil change", "oil changes";
/// "repair", "repairs"; "shop visit", "shop visits"; `None` when it knows no noun for them (a part, a system,
/// several kinds or subjects, none).
fn count_nouns(s: &Slots) -> Option<(String, String)> {
    if s.kinds == SHOP_KINDS && s.subject.as_deref() == Some("shop visit") {
        return Some(("shop visit".into(), "shop visits".into()));
    }
    if !s.either.is_empty() || s.part.is_some() || s.system.is_some() || !s.kinds.is_empty() {
        return None;
    }
    match (&s.task, s.kind) {
        (Some(t), _) => Some(task_count_nouns(t)),
        (None, Some(k)) => Some(kind_count_nouns(k)),
        (None, None) => None,
    }
}

/// One of the subjects a question joins as a count names it ("oil change", "oil changes"; "repair",
/// "repairs").
fn subject_count_nouns(one: &Subject) -> (String, String) {
    if let Some(named) = subject_named(one) {
        return (
            format!("record of the {named}"),
            format!("records of the {named}"),
        );
    }
    match (&one.task, one.kind) {
        (Some(t), _) => task_count_nouns(t),
        (None, Some(k)) => kind_count_nouns(k),
        (None, None) => ("record".into(), "records".into()),
    }
}

/// The part or system one of the joined subjects names, as the records write it ("front brake pads",
/// "brakes").
fn subject_named(one: &Subject) -> Option<String> {
    one.part.as_deref().or(one.system.as_deref()).map(isolated)
}

/// One of the subjects a question joins as a cost names what it was spent on: "oil changes", "repairs",
/// "maintenance", "fuel".
fn subject_cost_noun(one: &Subject) -> String {
    if let Some(named) = subject_named(one) {
        return format!("the {named}");
    }
    match (&one.task, one.kind) {
        (Some(t), _) => task_count_nouns(t).1,
        (None, Some(k)) => kind_noun(k).to_string(),
        (None, None) => "records".into(),
    }
}

/// One record of a subject a question joins, as "No … is recorded" and "The last …" name it: "oil change",
/// "repair".
fn subject_one(one: &Subject) -> String {
    if let Some(named) = subject_named(one) {
        return format!("work on the {named}");
    }
    match (&one.task, one.kind) {
        (Some(t), _) => task_noun(t),
        (None, Some(k)) => kind_one(k).to_string(),
        (None, None) => "record".into(),
    }
}

/// `items` joined as a list reads: "a", "a and b", "a, b and c" (`last` the last joining word).
fn listed(items: &[String], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., tail] => format!("{} {last} {tail}", init.join(", ")),
    }
}

/// Whether a record is inside a follow-up's "before that": before the cited record in the timeline's order
/// (occurredAt, then id), or before the instant when no record bounds it.
fn before_bound(e: &VehicleEvent, slots: &Slots) -> bool {
    match (slots.before, slots.before_record.as_deref()) {
        (None, _) => true,
        (Some(at), Some(id)) => (e.occurred_at, e.id.as_str()) < (at, id),
        (Some(at), None) => e.occurred_at < at,
    }
}

/// Whether an intent's answer can be asked again "before that" or over another range ("and in 2024?"): it
/// selects dated records.
fn bounded(intent: Intent) -> bool {
    matches!(
        intent,
        Intent::LastDone
            | Intent::CountDone
            | Intent::WhoDid
            | Intent::ListEvents
            | Intent::TotalCost
            | Intent::Accidents
            | Intent::Upgrades
            | Intent::UsualVendor
            | Intent::Valuation
            | Intent::Purchase
    )
}

/// How an answer is named when a follow-up cannot do for it what it asks ("why?" after a count).
fn answer_noun(intent: Intent) -> &'static str {
    match intent {
        Intent::CostOfOwnership => "the total cost of ownership",
        Intent::DueItems => "what is due",
        Intent::UsageRate => "the usage rate and odometer estimate",
        Intent::FuelEconomy => "the fuel economy",
        Intent::OwnershipLength => "how long you have owned it",
        Intent::Sale => "the sale",
        Intent::Knowledge => "general maintenance knowledge",
        Intent::Search => "a search of the records",
        Intent::VehicleFacts => "the vehicle's registration",
        _ => "that answer",
    }
}

impl Ctx<'_> {
    /// A distance in the vehicle's unit as the answer gives it: as recorded, or — asked in the other unit —
    /// converted (1 mi = 1.609344 km) and rounded, with the recorded figure: "≈ 1,207 km (750 mi)".
    fn dist(&self, value: u64) -> String {
        let unit = self.k.unit();
        match self.asked_unit {
            Some(asked) if asked != unit => {
                self.converted.set(true);
                let converted = match asked {
                    OdometerUnit::Km => value as f64 * KM_PER_MILE,
                    OdometerUnit::Mi => value as f64 / KM_PER_MILE,
                };
                format!(
                    "≈ {} ({})",
                    odometer(converted.round() as u64, asked),
                    odometer(value, unit)
                )
            }
            _ => odometer(value, unit),
        }
    }

    /// A computed distance (a rate, an estimate): "about 750 mi", or converted, "≈ 1,207 km (750 mi)".
    fn about(&self, value: u64) -> String {
        match self.asked_unit {
            Some(asked) if asked != self.k.unit() => self.dist(value),
            _ => format!("about {}", self.dist(value)),
        }
    }

    /// The latest acquisition: the current owner's story starts there (records before it are the previous
    /// owner's, docs/valuation.md).
    fn acquisition(&self) -> Option<&VehicleEvent> {
        self.k.of_kind(EventKind::Acquisition).next_back()
    }

    fn acquired_at(&self) -> Option<DateTime<Utc>> {
        self.acquisition().map(|e| e.occurred_at)
    }

    fn range(&self, slots: &Slots) -> Option<TimeRange> {
        slots
            .range
            .as_ref()
            .and_then(|r| resolve_range(r, self.now, self.acquired_at()))
    }

    fn range_label(&self, slots: &Slots) -> String {
        match (&slots.range, self.range(slots)) {
            (_, Some(r)) => format!(" {}", r.label),
            (Some(RangeSpec::SincePurchase), None) => " since you bought it".into(),
            _ => String::new(),
        }
    }

    /// A period of a comparison as the answer names it: its range's label, and for a calendar period still
    /// running (this year, this month, 2026 asked in 2026, a quarter not over) that it is counted so far, as a
    /// whole period compared with a part of one would mislead: "this year (2026 so far, to 3 Dec)", "in 2026 so
    /// far (to 3 Dec)". A rolling period ("in the last 6 months") or one counted up to now ("since 2024") says
    /// so already.
    fn period_label(&self, slots: &Slots) -> String {
        let label = self.range_label(slots).trim().to_string();
        let Some(r) = self.range(slots) else {
            return label;
        };
        let running = match &slots.range {
            Some(RangeSpec::ThisYear | RangeSpec::ThisMonth) => true,
            Some(
                RangeSpec::LastMonths { .. }
                | RangeSpec::LastDays { .. }
                | RangeSpec::SincePurchase
                | RangeSpec::SinceMonth { .. }
                | RangeSpec::SinceYear { .. }
                | RangeSpec::BeforePurchase
                | RangeSpec::MonthsBefore { .. }
                | RangeSpec::DaysBefore { .. }
                | RangeSpec::Dates { to: None, .. },
            )
            | None => false,
            Some(_) => r.from <= self.now && self.now < r.to,
        };
        if !running {
            return label;
        }
        let to = format!("to {}", self.now.format("%-d %b"));
        match label.strip_suffix(')') {
            Some(open)
                if matches!(
                    slots.range,
                    Some(RangeSpec::ThisYear | RangeSpec::ThisMonth)
                ) =>
            {
                format!("{open} so far, {to})")
            }
            _ => format!("{label} so far ({to})"),
        }
    }

    /// " at Discount Tire" when the question keeps only one vendor's records: the answer names that filter,
    /// so its counts and "nothing recorded" are read as that vendor's, never the vehicle's.
    fn vendor_label(&self, slots: &Slots) -> String {
        if !slots.dealers.is_empty() {
            let names: Vec<String> = slots.dealers.iter().map(|d| isolated(d)).collect();
            return format!(" at the dealers ({})", names.join(", "));
        }
        slots
            .vendor
            .as_ref()
            .map(|v| format!(" at {}", isolated(v)))
            .unwrap_or_default()
    }

    /// Every bound the question put on its records, as the answer says them: the vendor, the range and "before
    /// that" (" at Discount Tire in 2025 before “Tire rotation” on 2025-05-05").
    fn bounds_label(&self, slots: &Slots) -> String {
        format!(
            "{}{}{}",
            self.vendor_label(slots),
            self.range_label(slots),
            self.before_label(slots)
        )
    }

    /// " before …" for a follow-up's "before that": before the record it was read from, named — not "before"
    /// its day, which a question asks as before the day starts (docs/chat.md) while a record of that day's
    /// morning comes before this one. A record voided since is not named (nothing of it is told again), nor
    /// one corrected to another time: the bound's time is given; a bound read from no record (a published
    /// estimate's day) is that day's start.
    fn before_label(&self, slots: &Slots) -> String {
        let Some(at) = slots.before else {
            return String::new();
        };
        match slots
            .before_record
            .as_deref()
            .and_then(|id| self.k.event(id))
            // Corrected to another time since: the bound stays where the record was when cited.
            .filter(|e| e.occurred_at == at)
        {
            Some(e) => format!(" before {}", named(e)),
            None => format!(" before {}", instant(&at)),
        }
    }

    /// Whether a record is about the slots' subject (task, part or system).
    fn about_subject(&self, f: &RecordFacts, slots: &Slots) -> bool {
        if let Some(task) = &slots.task {
            return f.tasks.iter().any(|t| t == task);
        }
        if let Some(part) = &slots.part {
            return about_part(f, part);
        }
        if let Some(system) = &slots.system {
            return about_system(f, system);
        }
        true
    }

    /// Whether a record is of the slots' kind (or kinds) and about their subject — of any of the subjects a
    /// question joins ([`Slots::either`]).
    fn selects(&self, e: &VehicleEvent, f: &RecordFacts, slots: &Slots) -> bool {
        if !slots.either.is_empty() {
            return slots.either.iter().any(|one| is_about(e, f, one));
        }
        let of_kind = if slots.kinds.is_empty() {
            slots.kind.is_none_or(|k| e.kind == k)
        } else {
            slots.kinds.contains(&e.kind)
        };
        of_kind && self.about_subject(f, slots)
    }

    /// The records the slots select, oldest first. The records are kept in (occurredAt, id) order, so the
    /// range and a "before that" bound the slice read by binary search, not by a walk of the whole history.
    fn select(&self, slots: &Slots) -> Vec<&VehicleEvent> {
        let range = self.range(slots);
        if matches!(
            slots.range,
            Some(RangeSpec::SincePurchase | RangeSpec::BeforePurchase)
        ) && range.is_none()
        {
            return Vec::new();
        }
        let events = &self.k.events;
        let mut lo = 0;
        let mut hi = events.len();
        if let Some(r) = &range {
            lo = events.partition_point(|e| e.occurred_at < r.from);
            hi = events.partition_point(|e| e.occurred_at < r.to);
        }
        if let Some(at) = slots.before {
            hi = hi.min(events.partition_point(|e| e.occurred_at <= at));
        }
        let lo = lo.min(hi);
        events[lo..hi]
            .iter()
            .zip(&self.p.facts[lo..hi])
            .filter(|(e, f)| {
                let by = |v: &String| {
                    e.vendor
                        .as_ref()
                        .is_some_and(|x| x.name.eq_ignore_ascii_case(v))
                        || matches!(&f.details, Some(EventDetails::Acquisition(a))
                            if a.seller.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(v)))
                };
                slots.vendor.as_ref().is_none_or(by)
                    && (slots.dealers.is_empty() || slots.dealers.iter().any(by))
            })
            .filter(|(e, _)| range.as_ref().is_none_or(|r| r.contains(e.occurred_at)))
            .filter(|(e, _)| before_bound(e, slots))
            .filter(|(e, f)| self.selects(e, f, slots))
            .map(|(e, _)| e)
            .collect()
    }

    fn subject(&self, slots: &Slots) -> String {
        if !slots.either.is_empty() {
            let each: Vec<String> = slots.either.iter().map(subject_cost_noun).collect();
            return listed(&each, "and");
        }
        if let Some(s) = &slots.subject {
            return isolated(s);
        }
        if let Some(t) = &slots.task {
            return task_noun(t);
        }
        kinds_noun(slots).unwrap_or_else(|| "record".into())
    }

    /// What a cost answer is "for": [`Self::subject`], but a part or fault named in the singular takes its
    /// article ("No cost is recorded for the oil leak", not "for oil leak"); plurals read without one ("for
    /// floor mats").
    fn cost_subject(&self, slots: &Slots) -> String {
        match &slots.subject {
            Some(subject)
                if slots.either.is_empty()
                    && slots.task.is_none()
                    && !subject.ends_with('s')
                    && !["the ", "a ", "an ", "my ", "your "].iter().any(|a| {
                        subject
                            .get(..a.len())
                            .is_some_and(|w| w.eq_ignore_ascii_case(a))
                    }) =>
            {
                format!("the {}", isolated(subject))
            }
            _ => self.subject(slots),
        }
    }

    /// One of what the slots ask about, as "No … is recorded" and "The last …" name it: a task ("oil
    /// change") or a kind ("repair", "maintenance or repair") in the singular; a part or system as the work
    /// on it ("work on the brakes"), which reads for "brakes" and "battery" alike; empty when nothing names
    /// it.
    fn one_of(&self, slots: &Slots) -> String {
        if !slots.either.is_empty() {
            let each: Vec<String> = slots.either.iter().map(subject_one).collect();
            return listed(&each, "or");
        }
        if slots.task.is_some() || slots.kinds == SHOP_KINDS {
            return self.subject(slots);
        }
        if slots.has_subject() {
            return format!("work on the {}", self.subject(slots));
        }
        let kinds: Vec<&str> = if slots.kinds.is_empty() {
            slots.kind.map(kind_one).into_iter().collect()
        } else {
            slots.kinds.iter().map(|k| kind_one(*k)).collect()
        };
        kinds.join(" or ")
    }

    fn compute(&self, u: &Understanding) -> Answer {
        let s = &u.slots;
        if let Some(other) = &s.other_vehicle {
            return self.another_vehicle(other);
        }
        if let Some(m) = &s.measurement {
            return self.measurement(m);
        }
        if let Some(spec) = s.specification.as_deref().and_then(specification) {
            return self.specification(spec);
        }
        if let Some(RangeSpec::Unreadable { said }) = &s.range {
            return text_answer(
                format!(
                    "I could not read the time range “{}”. Ask, for example, “in the last 30 days”, \
                     “last month”, “in March 2026”, “in 2025” or “since I bought it”.",
                    isolated(said)
                ),
                Vec::new(),
            );
        }
        // "since I bought it" without a purchase: nothing can be placed, whatever was asked over it (not
        // "nothing is recorded since you bought it", which would say there was a purchase).
        if s.range == Some(RangeSpec::SincePurchase)
            && self.acquired_at().is_none()
            && bounded(u.intent)
        {
            return text_answer(
                "No purchase is recorded for this vehicle, so “since you bought it” cannot be placed."
                    .into(),
                Vec::new(),
            );
        }
        if s.range == Some(RangeSpec::BeforePurchase)
            && self.acquired_at().is_none()
            && bounded(u.intent)
        {
            return text_answer(
                "No purchase is recorded for this vehicle, so “before you bought it” (a previous owner's \
                 time) cannot be placed."
                    .into(),
                Vec::new(),
            );
        }
        if let Some(a) = self.part_by_its_system(u) {
            return a;
        }
        match u.intent {
            Intent::LastDone => self.last_done(s),
            Intent::CountDone => self.count_done(s),
            Intent::WhoDid => self.who_did(s),
            Intent::ListEvents => self.list_events(s),
            Intent::TotalCost => self.total_cost(s),
            Intent::CostOfOwnership => self.cost_of_ownership(),
            Intent::Accidents => self.accidents(s),
            Intent::Purchase => self.purchase(s),
            Intent::Valuation => self.valuation(s),
            Intent::DueItems => self.due_items(s),
            Intent::UsageRate => self.usage_rate(),
            Intent::FuelEconomy => self.fuel_economy(),
            Intent::Upgrades => self.upgrades(s),
            Intent::UsualVendor => self.usual_vendor(s),
            Intent::OwnershipLength => self.ownership_length(),
            Intent::Sale => self.sold(),
            Intent::Knowledge => self.knowledge(s),
            Intent::Search => self.search(),
            Intent::VehicleFacts => self.vehicle_facts(s),
            Intent::FollowUpBefore
            | Intent::FollowUpCost
            | Intent::FollowUpWhy
            | Intent::FollowUpVendor
            | Intent::FollowUpOdometer
            | Intent::FollowUpRange
            | Intent::FollowUpAgo
            | Intent::Unclear => self.unclear(""),
        }
    }

    /// A common part that no record names ("When were the rotors replaced?" where the records name the front
    /// brake pads): the same question asked of its system's recorded work, saying so — "No record names the
    /// rotors; the last work on the brakes was …" — so the brake pads' record is never given as the rotors'.
    /// `None` when a record names the part (whatever the range, vendor or bound asked: then the part's own
    /// answer stands), when no repair record names its system, or for a question not about records.
    fn part_by_its_system(&self, u: &Understanding) -> Option<Answer> {
        let s = &u.slots;
        if !matches!(
            u.intent,
            Intent::LastDone
                | Intent::CountDone
                | Intent::WhoDid
                | Intent::TotalCost
                | Intent::ListEvents
        ) || s.task.is_some()
            || s.system.is_some()
        {
            return None;
        }
        let part = s.part.as_deref()?;
        let family = system_of_part(part)?;
        let named = Slots {
            part: Some(part.to_string()),
            ..Slots::default()
        };
        if self.p.facts.iter().any(|f| self.about_subject(f, &named)) {
            return None;
        }
        let system = (self.p.vocabulary.systems.iter()).find(|r| family.names(r))?;
        let mut by_system = u.clone();
        by_system.slots.part = None;
        by_system.slots.subject = Some(system.clone());
        by_system.slots.system = Some(system.clone());
        let mut a = self.compute(&by_system);
        a.text = format!(
            "No record names the {}; {}",
            isolated(part),
            lower_first(&a.text)
        );
        Some(a)
    }

    /// "No {what} is recorded …" (`what` one of it, as [`Self::one_of`] names it; "Nothing" when empty).
    fn nothing(&self, what: &str, s: &Slots) -> Answer {
        let none = if what.is_empty() {
            "Nothing".to_string()
        } else {
            format!("No {what}")
        };
        // One vendor's records are not the vehicle's: "for this vehicle" would claim there are none at all.
        text_answer(
            format!(
                "{none} is recorded{}{}.",
                self.bounds_label(s),
                if s.names_vendor() {
                    ""
                } else {
                    " for this vehicle"
                }
            ),
            Vec::new(),
        )
    }

    fn describe(&self, e: &VehicleEvent) -> String {
        let mut parts = vec![date(&e.occurred_at)];
        if let Some(o) = e.odometer {
            parts.push(format!("at {}", self.dist(o)));
        }
        if let Some(v) = &e.vendor {
            parts.push(format!("by {}", isolated(&v.name)));
        }
        let mut text = parts.join(", ");
        text.push_str(&format!(" (“{}”", isolated(&e.title)));
        if let (Some(c), Some(cur)) = (e.cost_cents, e.currency.as_deref()) {
            text.push_str(&format!(", {}", money(c, cur)));
        }
        text.push(')');
        text
    }

    fn last_done(&self, s: &Slots) -> Answer {
        let found = self.select(s);
        // A task is done ("the last oil change was"); a part or system is worked on ("the last work on the
        // front brake pads was"), whatever its number; a kind is one of it ("the last repair was").
        let what = self.one_of(s);
        // "When was the first oil change?": the first one.
        let (which, picked) = if s.pick == Some(Pick::First) {
            ("first", found.first())
        } else {
            ("last", found.last())
        };
        let Some(last) = picked else {
            return self.nothing(&what, s);
        };
        let what = if what.is_empty() {
            "record".into()
        } else {
            what
        };
        let bounds = self.bounds_label(s);
        let mut text = format!("The {which} {what}{bounds} was on {}.", self.describe(last));
        if found.len() > 1 {
            // Counted in the question's bounds: "in all", "at Discount Tire", "in 2025", or before a
            // follow-up's record.
            text.push_str(&format!(
                " {} recorded{}.",
                plural(found.len(), "is", "are"),
                if bounds.is_empty() {
                    " in all"
                } else {
                    &bounds
                }
            ));
        }
        text_answer(text, vec![cite(last)])
    }

    fn count_done(&self, s: &Slots) -> Answer {
        if let Some(other) = &s.compare {
            return self.compared_counts(s, other);
        }
        let subject = self.subject(s);
        let found = self.select(s);
        let (Some(first), Some(last)) = (found.first(), found.last()) else {
            return self.nothing(&self.one_of(s), s);
        };
        if !s.either.is_empty() {
            return self.count_each(s, &found);
        }
        // Only a vendor named ("How many dealer visits?"): its records counted, not "Record: 2 times".
        let records_only = !s.has_subject() && s.kind.is_none() && s.kinds.is_empty();
        let text = match (records_only, count_nouns(s)) {
            (true, _) if found.len() == 1 => format!(
                "1 record{}: {}.",
                self.bounds_label(s),
                self.describe(first)
            ),
            (true, _) => format!(
                "{} records{}, the first on {} and the latest on {}.",
                found.len(),
                self.bounds_label(s),
                date(&first.occurred_at),
                date(&last.occurred_at)
            ),
            // What is counted named by its noun: "1 repair recorded", "3 oil changes recorded".
            (false, Some((one, _))) if found.len() == 1 => format!(
                "1 {one} recorded{}, on {}.",
                self.bounds_label(s),
                self.describe(first)
            ),
            (false, Some((_, many))) => format!(
                "{} {many} recorded{}, the first on {} and the latest on {}.",
                found.len(),
                self.bounds_label(s),
                date(&first.occurred_at),
                date(&last.occurred_at)
            ),
            (false, None) if found.len() == 1 => format!(
                "{}: 1 time recorded{}, on {}.",
                capitalised(&subject),
                self.bounds_label(s),
                self.describe(first)
            ),
            (false, None) => format!(
                "{}: {} times recorded{}, the first on {} and the latest on {}.",
                capitalised(&subject),
                found.len(),
                self.bounds_label(s),
                date(&first.occurred_at),
                date(&last.occurred_at)
            ),
        };
        text_answer(text, found.iter().map(|e| cite(e)).collect())
    }

    /// The decoded facts of one of the vehicle's records, found by binary search on the timeline's order.
    fn facts_of(&self, e: &VehicleEvent) -> &RecordFacts {
        let events = &self.k.events;
        let i = events
            .binary_search_by(|x| {
                (x.occurred_at, x.id.as_str()).cmp(&(e.occurred_at, e.id.as_str()))
            })
            .ok()
            .or_else(|| events.iter().position(|x| x.id == e.id))
            .expect("a selected record is one of the vehicle's");
        &self.p.facts[i]
    }

    /// Of `found` (the records of any subject a question joins), those of each subject, in the order asked,
    /// and how many of them fall under more than one.
    fn by_subject<'e>(
        &self,
        s: &Slots,
        found: &[&'e VehicleEvent],
    ) -> (Vec<Vec<&'e VehicleEvent>>, usize) {
        let mut each: Vec<Vec<&VehicleEvent>> = vec![Vec::new(); s.either.len()];
        let mut shared = 0;
        for &e in found {
            let f = self.facts_of(e);
            let mut under = 0;
            for (i, one) in s.either.iter().enumerate() {
                if is_about(e, f, one) {
                    each[i].push(e);
                    under += 1;
                }
            }
            if under > 1 {
                shared += 1;
            }
        }
        (each, shared)
    }

    /// " (1 holds both, counted once)" when records fall under more than one of the subjects a question joins.
    fn counted_once(s: &Slots, shared: usize) -> String {
        if shared == 0 {
            return String::new();
        }
        format!(
            " ({shared} {} {}, counted once)",
            if shared == 1 { "holds" } else { "hold" },
            if s.either.len() == 2 {
                "both"
            } else {
                "more than one of them"
            }
        )
    }

    /// "How many oil changes and repairs have I had?": each subject's count by its noun, with its first and
    /// latest dates, and the records in all (a record of two of them counted once), citing every one.
    fn count_each(&self, s: &Slots, found: &[&VehicleEvent]) -> Answer {
        let (each, shared) = self.by_subject(s, found);
        let items: Vec<String> = s
            .either
            .iter()
            .zip(&each)
            .map(|(one, es)| {
                let (noun, nouns) = subject_count_nouns(one);
                match es.as_slice() {
                    [] => format!("no {noun}"),
                    [only] => format!("1 {noun}, on {}", date(&only.occurred_at)),
                    [first, .., last] => format!(
                        "{} {nouns}, the first on {} and the latest on {}",
                        es.len(),
                        date(&first.occurred_at),
                        date(&last.occurred_at)
                    ),
                }
            })
            .collect();
        let text = format!(
            "Recorded{}: {}. {} in all{}.",
            self.bounds_label(s),
            items.join("; "),
            plural(found.len(), "record", "records"),
            Self::counted_once(s, shared)
        );
        text_answer(text, found.iter().map(|e| cite(e)).collect())
    }

    /// "Did I change the oil more often this year than last year?": how many such records each period
    /// holds (selected as [`Self::count_done`] selects), which has more and by how many — or that they are
    /// equal, or that neither has any — citing the records of both.
    fn compared_counts(&self, s: &Slots, other: &RangeSpec) -> Answer {
        let periods = match two_periods(
            s,
            other,
            "“Did I change the oil more often this year than last year?”",
        ) {
            Ok(periods) => periods,
            Err(unreadable) => return *unreadable,
        };
        let found = [self.select(&periods[0]), self.select(&periods[1])];
        let labels = [
            self.period_label(&periods[0]),
            self.period_label(&periods[1]),
        ];
        let records_only = !s.has_subject() && s.kind.is_none() && s.kinds.is_empty();
        let nouns = count_nouns(s).filter(|_| !records_only);
        let at = self.vendor_label(s);
        // Counted by their noun where it is known ("Recorded: in 2025, 1 oil change; …"), else as times.
        let head = if records_only {
            format!("Records{at} recorded")
        } else if nouns.is_some() {
            format!("Recorded{at}")
        } else {
            format!("{}{at} recorded", capitalised(&self.subject(s)))
        };
        // Several subjects joined ("oil changes and repairs") are counted as the records of any of them.
        let times = |n: usize| match &nouns {
            _ if records_only || !s.either.is_empty() => plural(n, "record", "records"),
            Some((one, many)) => plural(n, one, many),
            None => plural(n, "time", "times"),
        };
        let each: Vec<String> = (0..2)
            .map(|i| format!("{}, {}", labels[i], times(found[i].len())))
            .collect();
        let (a, b) = (found[0].len(), found[1].len());
        let verdict = match (a, b) {
            (0, 0) => "Neither period has one recorded.".to_string(),
            _ if a == b => "The two are equal.".to_string(),
            _ => {
                let (more, by) = if a > b { (0, a - b) } else { (1, b - a) };
                if s.fewer {
                    format!("Fewer {}, by {}.", labels[1 - more], times(by))
                } else {
                    format!("More {}, by {}.", labels[more], times(by))
                }
            }
        };
        let text = format!("{head}: {}. {verdict}", each.join("; "));
        let mut citations: Vec<Citation> = Vec::new();
        for e in found.iter().flatten() {
            cite_once(&mut citations, e);
        }
        text_answer(text, citations)
    }

    fn who_did(&self, s: &Slots) -> Answer {
        let subject = self.subject(s);
        let found = self.select(s);
        let Some(last) = found.last() else {
            return self.nothing(&self.one_of(s), s);
        };
        let who = |e: &VehicleEvent| {
            e.vendor
                .as_ref()
                .map(|v| isolated(&v.name))
                .unwrap_or_else(|| "no vendor recorded".into())
        };
        let mut text = format!(
            "{}: the latest, on {}, was done by {}.",
            capitalised(&subject),
            date(&last.occurred_at),
            who(last)
        );
        let earlier: Vec<String> = found
            .iter()
            .rev()
            .skip(1)
            .take(4)
            .map(|e| format!("{} on {}", who(e), date(&e.occurred_at)))
            .collect();
        if !earlier.is_empty() {
            text.push_str(&format!(" Before that: {}.", earlier.join("; ")));
        }
        let cited = found.iter().rev().take(5).map(|e| cite(e)).collect();
        text_answer(text, cited)
    }

    fn list_events(&self, s: &Slots) -> Answer {
        let mut found = self.select(s);
        if s.kind.is_none() {
            // Odometer readings crowd a list of what was done; they are listed when asked for.
            found.retain(|e| e.kind != EventKind::OdometerReading);
        }
        if found.is_empty() {
            return text_answer(
                format!(
                    "Nothing is recorded{}{}.",
                    (kinds_noun(s).or_else(|| (!s.either.is_empty()).then(|| self.subject(s))))
                        .map(|k| format!(" ({k})"))
                        .unwrap_or_default(),
                    self.bounds_label(s)
                ),
                Vec::new(),
            );
        }
        let shown: Vec<&VehicleEvent> = found.iter().rev().take(10).copied().collect();
        let mut text = format!(
            "{} recorded{}, newest first: {}.",
            plural(found.len(), "record is", "records are"),
            self.bounds_label(s),
            shown
                .iter()
                .map(|e| self.describe(e))
                .collect::<Vec<_>>()
                .join("; ")
        );
        if found.len() > shown.len() {
            text.push_str(&format!(" And {} more.", found.len() - shown.len()));
        }
        text_answer(text, shown.iter().map(|e| cite(e)).collect())
    }

    fn total_cost(&self, s: &Slots) -> Answer {
        let mut a = self.costs(s);
        let one = s.pick.is_some_and(|p| p != Pick::Average) && a.citations.len() == 1;
        a.text
            .push_str(&self.shared_cost_note(&a.citations, s, one));
        a
    }

    /// The other work a record about the slots' task or part holds beside it, as answers name it: its other
    /// tasks, and for a part its other parts (those not holding the part's words: "front brake pads" beside
    /// the rotors) and its tasks. `None` when the record is not about them, or they ask no task or part.
    fn other_work(&self, f: &RecordFacts, s: &Slots) -> Option<Vec<String>> {
        if let Some(task) = &s.task {
            return f.tasks.iter().any(|t| t == task).then(|| {
                (f.tasks.iter().filter(|t| *t != task))
                    .map(|t| task_noun(t))
                    .collect()
            });
        }
        let part = s.part.as_deref()?;
        let only_the_part = Slots {
            part: Some(part.to_string()),
            ..Slots::default()
        };
        if !self.about_subject(f, &only_the_part) {
            return None;
        }
        let want = tokens(part);
        let mut other: Vec<String> = match &f.details {
            Some(EventDetails::Repair(r)) => (r.parts.iter())
                .filter(|p| {
                    !p.eq_ignore_ascii_case(part) && {
                        let have = tokens(p);
                        !want.iter().all(|w| have.contains(w))
                    }
                })
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        other.extend(f.tasks.iter().map(|t| task_noun(t)));
        Some(other)
    }

    /// [`Self::other_work`] for what the slots ask — for several subjects joined, the work beside all of them
    /// ("tire rotation" beside an oil change asked with repairs; nothing beside an oil change asked with tire
    /// rotations).
    fn other_work_asked(&self, f: &RecordFacts, s: &Slots) -> Option<Vec<String>> {
        if s.either.is_empty() {
            return self.other_work(f, s);
        }
        let asked: Vec<String> = (s.either.iter())
            .filter_map(|one| one.task.as_deref().map(task_noun).or(one.part.clone()))
            .collect();
        let mut about = false;
        let mut other = Vec::new();
        for one in &s.either {
            let one = Slots {
                task: one.task.clone(),
                part: one.part.clone(),
                ..Slots::default()
            };
            if let Some(work) = self.other_work(f, &one) {
                about = true;
                other.extend(work.into_iter().filter(|w| !asked.contains(w)));
            }
        }
        about.then_some(other)
    }

    /// " 1 of these records also includes other work (tire rotation): its whole cost is counted, as the
    /// record does not split it." when a cited record about the slots' task or part also holds other work (a
    /// task, a part: [`Self::other_work`]): a record has one cost, so each of its tasks' and parts' totals
    /// counts all of it (docs/chat.md); nothing when none does.
    /// `one`: the answer gives one record's cost ("the last oil change"), not a sum or an average.
    fn shared_cost_note(&self, citations: &[Citation], s: &Slots, one: bool) -> String {
        let mut shared = 0;
        let mut others = BTreeSet::new();
        // The records are kept in (occurredAt, id) order: each cited one is found by a binary search, not by
        // walking a 10,000-record history per answer.
        let events = &self.k.events;
        let cited = citations.iter().filter_map(|c| {
            events
                .binary_search_by(|e| {
                    (e.occurred_at, e.id.as_str()).cmp(&(c.occurred_at, c.event_id.as_str()))
                })
                .ok()
                .or_else(|| events.iter().position(|e| e.id == c.event_id))
        });
        for i in cited {
            if let Some(other) = self.other_work_asked(&self.p.facts[i], s)
                && !other.is_empty()
            {
                shared += 1;
                others.extend(other);
            }
        }
        let others = others.into_iter().collect::<Vec<_>>().join(", ");
        match (shared, one) {
            (0, _) => String::new(),
            (_, true) => format!(
                " That record also includes other work ({others}): its whole cost is given, as the record does \
                 not split it."
            ),
            (1, _) => format!(
                " 1 of these records also includes other work ({others}): its whole cost is counted, as the \
                 record does not split it."
            ),
            (n, _) => format!(
                " {n} of these records also include other work ({others}): their whole cost is counted, as the \
                 records do not split it."
            ),
        }
    }

    fn costs(&self, s: &Slots) -> Answer {
        if let Some(other) = &s.compare {
            return self.compared_costs(s, other);
        }
        let mut found = self.select(s);
        if s.kind.is_none() {
            found.retain(|e| e.kind != EventKind::Acquisition);
        }
        found.retain(|e| e.cost_cents.is_some() && e.currency.is_some());
        let mut bounds = format!("{}{}", self.range_label(s), self.before_label(s));
        // What "I" spent, asked without bounds, is the owner's: from the latest acquisition on, when an
        // earlier owner's records would count otherwise (docs/chat.md). The acquisition is cited for its date.
        let mut bought_from = None;
        if s.owner
            && s.range.is_none()
            && s.before.is_none()
            && s.pick != Some(Pick::Last)
            && let Some(bought) = self.acquisition()
            && found.iter().any(|e| e.occurred_at < bought.occurred_at)
        {
            found.retain(|e| e.occurred_at >= bought.occurred_at);
            bounds = format!(" since you bought it on {}", date(&bought.occurred_at));
            bought_from = Some(bought);
        }
        let what = if s.has_subject() {
            self.cost_subject(s)
        } else {
            kinds_noun(s).unwrap_or_else(|| "the vehicle (purchase excluded)".into())
        };
        let at = self.vendor_label(s);
        if found.is_empty() {
            // None of several subjects: "for oil changes or repairs".
            let what = if s.either.is_empty() {
                what
            } else {
                let each: Vec<String> = s.either.iter().map(subject_cost_noun).collect();
                listed(&each, "or")
            };
            return text_answer(
                format!("No cost is recorded for {what}{at}{bounds}."),
                bought_from.map(cite).into_iter().collect(),
            );
        }
        if let Some(pick) = s.pick {
            // One of them, in the singular: "the cheapest repair", "each oil change".
            let one = match self.one_of(s) {
                one if one.is_empty() => "record".to_string(),
                one => one,
            };
            return self.picked_cost(pick, &found, &format!("{one}{at}{bounds}"), bought_from);
        }
        // Records before the latest acquisition are not what the owner spent (an earlier owner's, or theirs
        // before a resale): the answer says what they are, the costs recorded, and cites the acquisition.
        let acquisition = self.acquisition();
        let earlier = found
            .iter()
            .filter(|e| acquisition.is_some_and(|a| e.occurred_at < a.occurred_at))
            .count();
        let sum = join_totals(&totals(found.iter().copied()));
        let records = plural(found.len(), "record", "records");
        let mut text = match acquisition {
            Some(bought) if earlier > 0 => {
                bought_from = Some(bought);
                format!(
                    "The costs recorded for {what}{at}{bounds} come to {sum}, over {records} ({}before you \
                     bought it on {}).",
                    if earlier == found.len() {
                        String::new()
                    } else {
                        format!("{earlier} of them ")
                    },
                    date(&bought.occurred_at)
                )
            }
            _ => format!("You spent {sum} on {what}{at}{bounds}, over {records}."),
        };
        if !s.either.is_empty() {
            text.push_str(&self.cost_of_each(s, &found));
        } else if s.kind.is_none() && !s.has_subject() {
            text.push_str(&breakdown(
                "kind",
                &found,
                |e| Some(e.kind),
                |k| kind_noun(*k).to_string(),
            ));
        }
        if s.range.is_none() && s.either.is_empty() {
            text.push_str(&breakdown(
                "year",
                &found,
                |e| Some(e.occurred_at.year()),
                |y| y.to_string(),
            ));
        }
        if s.vendor.is_none() && s.either.is_empty() {
            text.push_str(&breakdown(
                "vendor",
                &found,
                |e| e.vendor.as_ref().map(|v| isolated(&v.name)),
                String::clone,
            ));
        }
        let mut citations: Vec<Citation> = found.iter().map(|e| cite(e)).collect();
        if let Some(bought) = bought_from
            && !found.iter().any(|e| e.id == bought.id)
        {
            citations.push(cite(bought));
        }
        text_answer(text, citations)
    }

    /// " On oil changes, 424.97 USD over 3 records; on repairs, 487.50 USD over 1 record." — what was spent on
    /// each subject a question joins, of `found` (the records of any of them, each with a cost), a record of
    /// two of them said to be counted once in the total.
    fn cost_of_each(&self, s: &Slots, found: &[&VehicleEvent]) -> String {
        let (each, shared) = self.by_subject(s, found);
        let sums: Vec<String> = s
            .either
            .iter()
            .zip(&each)
            .map(|(one, es)| {
                let noun = subject_cost_noun(one);
                if es.is_empty() {
                    format!("on {noun}, none")
                } else {
                    format!(
                        "on {noun}, {} over {}",
                        join_totals(&totals(es.iter().copied())),
                        plural(es.len(), "record", "records")
                    )
                }
            })
            .collect();
        let mut text = format!(" {}.", capitalised(&sums.join("; ")));
        if shared > 0 {
            text.push_str(&format!(
                " {} under {}: the total counts {} once.",
                if shared == 1 {
                    "1 record falls".to_string()
                } else {
                    format!("{shared} records fall")
                },
                if s.either.len() == 2 {
                    "both"
                } else {
                    "more than one of them"
                },
                if shared == 1 { "it" } else { "each" }
            ));
        }
        text
    }

    /// "Did I spend more this year than last year?": each period's total per currency, selected as
    /// [`Self::total_cost`] selects (purchase excluded unless asked, records with a cost), which is larger and
    /// by how much — or that they are equal, or that one has no cost recorded — citing the records of both.
    fn compared_costs(&self, s: &Slots, other: &RangeSpec) -> Answer {
        let periods = match two_periods(
            s,
            other,
            "“Did I spend more this year than last year?” or “more on repairs in 2024 or 2023?”",
        ) {
            Ok(periods) => periods,
            Err(unreadable) => return *unreadable,
        };
        let costed = |slots: &Slots| {
            let mut found = self.select(slots);
            if slots.kind.is_none() {
                found.retain(|e| e.kind != EventKind::Acquisition);
            }
            found.retain(|e| e.cost_cents.is_some() && e.currency.is_some());
            found
        };
        let found = [costed(&periods[0]), costed(&periods[1])];
        let sums = [
            totals(found[0].iter().copied()),
            totals(found[1].iter().copied()),
        ];
        let labels = [
            self.period_label(&periods[0]),
            self.period_label(&periods[1]),
        ];
        let what = if s.has_subject() {
            self.cost_subject(s)
        } else {
            kinds_noun(s).unwrap_or_else(|| "the vehicle (purchase excluded)".into())
        };
        let at = self.vendor_label(s);
        let before = self.before_label(s);
        if found.iter().all(Vec::is_empty) {
            return text_answer(
                format!(
                    "No cost is recorded for {what}{at}{before} {} or {}.",
                    labels[0], labels[1]
                ),
                Vec::new(),
            );
        }
        let each: Vec<String> = (0..2)
            .map(|i| match found[i].len() {
                0 => format!("{}, none", labels[i]),
                n => format!(
                    "{}, {} over {}",
                    labels[i],
                    join_totals(&sums[i]),
                    plural(n, "record", "records")
                ),
            })
            .collect();
        let mut text = format!(
            "Costs recorded for {what}{at}{before}: {}.",
            each.join("; ")
        );
        let currencies: BTreeSet<&String> = sums[0].keys().chain(sums[1].keys()).collect();
        let several = currencies.len() > 1;
        for cur in currencies {
            let in_cur = if several {
                format!("In {cur}: ")
            } else {
                String::new()
            };
            let of = |i: usize| sums[i].get(cur).copied();
            let verdict = match (of(0), of(1)) {
                (Some(a), Some(b)) if a == b => {
                    format!("the two are equal, {} each", money(a, cur))
                }
                (Some(a), Some(b)) => {
                    let (more, by) = if a > b { (0, a - b) } else { (1, b - a) };
                    if s.fewer {
                        format!("less was spent {}, by {}", labels[1 - more], money(by, cur))
                    } else {
                        format!("more was spent {}, by {}", labels[more], money(by, cur))
                    }
                }
                (Some(_), None) | (None, Some(_)) => {
                    let (has, none) = if of(0).is_some() { (0, 1) } else { (1, 0) };
                    format!(
                        "no cost{} is recorded {}, so only {} has one",
                        if several {
                            format!(" in {cur}")
                        } else {
                            String::new()
                        },
                        labels[none],
                        labels[has]
                    )
                }
                (None, None) => continue,
            };
            text.push_str(&format!(" {}.", capitalised(&format!("{in_cur}{verdict}"))));
        }
        let mut citations: Vec<Citation> = Vec::new();
        for e in found.iter().flatten() {
            cite_once(&mut citations, e);
        }
        // Records before the latest acquisition are an earlier owner's (or before a resale): said, as the
        // total says it, with the acquisition cited for its date.
        if let Some(bought) = self.acquisition() {
            let earlier = citations
                .iter()
                .filter(|c| c.occurred_at < bought.occurred_at)
                .count();
            if earlier > 0 {
                text.push_str(&format!(
                    " {} before you bought it on {}.",
                    if earlier == 1 {
                        "1 of these records comes".to_string()
                    } else {
                        format!("{earlier} of these records come")
                    },
                    date(&bought.occurred_at)
                ));
                cite_once(&mut citations, bought);
            }
        }
        text_answer(text, citations)
    }

    /// One of the selected records' cost, or their mean, per currency: "The last oil change … cost …", "The
    /// cheapest oil change … was …", "The average oil change cost …". `found` is oldest first, each with a
    /// cost.
    fn picked_cost(
        &self,
        pick: Pick,
        found: &[&VehicleEvent],
        what: &str,
        bought_from: Option<&VehicleEvent>,
    ) -> Answer {
        let mut citations: Vec<Citation> = Vec::new();
        let cost = |e: &VehicleEvent| match (e.cost_cents, e.currency.as_deref()) {
            (Some(c), Some(cur)) => money(c, cur),
            _ => String::new(),
        };
        let mut by_currency: BTreeMap<&str, Vec<&VehicleEvent>> = BTreeMap::new();
        for e in found {
            by_currency
                .entry(e.currency.as_deref().unwrap_or_default())
                .or_default()
                .push(e);
        }
        let text = match pick {
            Pick::First | Pick::Last => {
                let e = if pick == Pick::First {
                    found[0]
                } else {
                    found[found.len() - 1]
                };
                citations.push(cite(e));
                let mut text = format!(
                    "The {} {what} was on {}: it cost {}.",
                    if pick == Pick::First { "first" } else { "last" },
                    self.describe(e),
                    cost(e)
                );
                if found.len() > 1 {
                    text.push_str(&format!(
                        " {} with a cost are recorded in all.",
                        plural(found.len(), "record", "records")
                    ));
                }
                text
            }
            Pick::Cheapest | Pick::MostExpensive => {
                let (word, lines): (&str, Vec<String>) = {
                    let word = if pick == Pick::Cheapest {
                        "cheapest"
                    } else {
                        "most expensive"
                    };
                    let lines = by_currency
                        .values()
                        .filter_map(|es| {
                            let key = |e: &&&VehicleEvent| e.cost_cents.unwrap_or_default();
                            // Ties: the latest of them.
                            let e = if pick == Pick::Cheapest {
                                es.iter().rev().min_by_key(key)
                            } else {
                                es.iter().rev().max_by_key(key)
                            }?;
                            citations.push(cite(e));
                            Some(format!("{}, on {}", cost(e), self.describe(e)))
                        })
                        .collect();
                    (word, lines)
                };
                format!(
                    "The {word} {what} recorded cost {}, out of {} with a cost{}.",
                    lines.join("; in another currency, "),
                    plural(found.len(), "record", "records"),
                    if by_currency.len() > 1 {
                        " (each currency apart)"
                    } else {
                        ""
                    }
                )
            }
            Pick::Average => {
                let lines: Vec<String> = by_currency
                    .iter()
                    .map(|(cur, es)| {
                        let sum: u64 = es.iter().filter_map(|e| e.cost_cents).sum();
                        let mean = (sum + es.len() as u64 / 2) / es.len() as u64;
                        format!(
                            "{} (over {}, {} in all)",
                            money(mean, cur),
                            plural(es.len(), "record", "records"),
                            money(sum, cur)
                        )
                    })
                    .collect();
                citations.extend(found.iter().map(|e| cite(e)));
                format!(
                    "On average, each {what} cost {}, a mean of the records' costs rounded to the cent.",
                    lines.join(" and ")
                )
            }
        };
        if let Some(b) = bought_from
            && !citations.iter().any(|c| c.event_id == b.id)
        {
            citations.push(cite(b));
        }
        text_answer(text, citations)
    }

    /// A sold vehicle's realised total cost of ownership, as fixed at the sale (docs/corrections.md), with
    /// each term.
    fn realised_cost_of_ownership(&self, sale: &Sale) -> Answer {
        let tco = &sale.total_cost_of_ownership;
        let cur = tco.currency.as_str();
        let purchase = match tco.purchase_price_source {
            PurchasePriceSource::AcquisitionEvent => {
                format!("purchase {}", money(tco.purchase_price_cents, cur))
            }
            PurchasePriceSource::Registration => format!(
                "purchase {} (the price given at registration)",
                money(tco.purchase_price_cents, cur)
            ),
            PurchasePriceSource::Unknown => match self.purchase_price() {
                // The sale counts a price only in its own currency: one recorded without a currency is 0.
                Some(p) if p.currency.is_none() => format!(
                    "no purchase price known in {cur} (counted as 0: the purchase price, {}, is recorded \
                     without a currency)",
                    p.shown()
                ),
                _ => "no purchase price known (counted as 0)".to_string(),
            },
        };
        let mut text = format!(
            "It was sold on {} for {}. The realised total cost of ownership, fixed at the sale, is {}: {purchase} \
             + costs {} ({}) − sale price {}.",
            date(&sale.sold_at),
            money(sale.price_cents, &sale.currency),
            // Negative when the sale brought back more than everything cost.
            if tco.total_cents < 0 {
                signed_money(tco.total_cents, cur)
            } else {
                money(tco.total_cents.unsigned_abs(), cur)
            },
            money(tco.costs_cents, cur),
            plural(tco.records_counted as usize, "record", "records"),
            money(tco.sale_price_cents, cur),
        );
        if tco.records_in_other_currencies > 0 {
            text.push_str(&format!(
                " {} with a cost in another currency {} left out.",
                plural(
                    tco.records_in_other_currencies as usize,
                    "record",
                    "records"
                ),
                if tco.records_in_other_currencies == 1 {
                    "was"
                } else {
                    "were"
                }
            ));
        }
        let mut citations: Vec<Citation> = Vec::new();
        if tco.purchase_price_source == PurchasePriceSource::AcquisitionEvent
            && let Some(e) = self
                .k
                .of_kind(EventKind::Acquisition)
                .rfind(|e| e.occurred_at <= sale.sold_at)
        {
            citations.push(cite(e));
        }
        // The records the sale counted: from the latest acquisition on (contracts' total_cost_of_ownership).
        let owned_from = self.acquisition().map(|e| e.occurred_at);
        citations.extend(
            self.k
                .events
                .iter()
                .filter(|e| {
                    e.kind != EventKind::Acquisition
                        && owned_from.is_none_or(|from| e.occurred_at >= from)
                        && e.occurred_at <= sale.sold_at
                        && e.cost_cents.is_some()
                        && e.currency.as_deref() == Some(cur)
                })
                .map(cite),
        );
        text_answer(text, citations)
    }

    /// "When did I sell it?", "How much did I sell it for?": the sale the vehicle carries.
    fn sold(&self) -> Answer {
        let Some(sale) = self.sale() else {
            let archived = self.k.vehicle.as_ref().and_then(|v| v.archived_at);
            return text_answer(
                match archived {
                    Some(at) => format!(
                        "No sale is recorded for this vehicle; it was archived on {}.",
                        date(&at)
                    ),
                    None => "No sale is recorded for this vehicle.".into(),
                },
                Vec::new(),
            );
        };
        text_answer(
            format!(
                "You sold it on {} for {}, at {}.",
                date(&sale.sold_at),
                money(sale.price_cents, &sale.currency),
                self.dist(sale.odometer)
            ),
            Vec::new(),
        )
    }

    fn sale(&self) -> Option<&Sale> {
        self.k.vehicle.as_ref().and_then(|v| v.sale.as_ref())
    }

    fn cost_of_ownership(&self) -> Answer {
        if let Some(sale) = self.sale() {
            return self.realised_cost_of_ownership(sale);
        }
        // The current owner's: from the latest acquisition on, with the purchase price as the purchase answer
        // and the sale read it.
        let bought = self.acquisition();
        let price = self.purchase_price();
        let found: Vec<&VehicleEvent> = self
            .k
            .events
            .iter()
            .filter(|e| e.kind != EventKind::Acquisition)
            .filter(|e| bought.is_none_or(|b| e.occurred_at >= b.occurred_at))
            .filter(|e| e.cost_cents.is_some() && e.currency.is_some())
            .collect();
        if found.is_empty() && price.is_none() {
            return text_answer("No cost is recorded for this vehicle.".into(), Vec::new());
        }
        let mut sums = totals(found.iter().copied());
        let mut terms = Vec::new();
        // A price whose currency is not recorded is added to no currency's sum: it is said apart.
        let uncounted = price.as_ref().filter(|p| p.currency.is_none());
        if let Some(p) = &price
            && let Some(cur) = &p.currency
        {
            *sums.entry(cur.clone()).or_default() += p.cents;
            terms.push(format!(
                "purchase {}{}",
                money(p.cents, cur),
                if p.record.is_none() {
                    " (the price given at registration)"
                } else {
                    ""
                }
            ));
        }
        if found.is_empty()
            && let Some(p) = uncounted
        {
            return text_answer(
                format!(
                    "No cost is recorded in a currency: the purchase price, {}, is left out, and no other \
                     cost is recorded since.",
                    p.shown()
                ),
                p.record.map(cite).into_iter().collect(),
            );
        }
        let mut by_kind: BTreeMap<EventKind, Vec<&VehicleEvent>> = BTreeMap::new();
        for e in &found {
            by_kind.entry(e.kind).or_default().push(e);
        }
        terms.extend(by_kind.iter().map(|(k, es)| {
            format!(
                "{} {}",
                kind_noun(*k),
                join_totals(&totals(es.iter().copied()))
            )
        }));
        let counted = found.len()
            + usize::from(
                price
                    .as_ref()
                    .is_some_and(|p| p.record.is_some() && p.currency.is_some()),
            );
        let mut text = format!(
            "The total cost of ownership recorded is {}, over {}: {}.",
            join_totals(&sums),
            plural(counted, "record", "records"),
            terms.join("; ")
        );
        match uncounted {
            Some(p) => text.push_str(&format!(
                " The purchase price, {}, is not included.",
                p.shown()
            )),
            None if price.is_none() => {
                text.push_str(" No purchase price is recorded, so it is not included.")
            }
            None => {}
        }
        let mut citations: Vec<Citation> = price
            .as_ref()
            .and_then(|p| p.record)
            .map(cite)
            .into_iter()
            .collect();
        citations.extend(found.iter().map(|e| cite(e)));
        text_answer(text, citations)
    }

    /// The purchase price, by the rule the sale's total cost of ownership uses (docs/corrections.md): the
    /// latest acquisition's `details.priceCents`, else its `costCents`, else the price given at
    /// registration.
    fn purchase_price(&self) -> Option<PurchasePrice<'_>> {
        let vehicle = self.k.vehicle.as_ref();
        let registration_currency = vehicle.and_then(|v| v.purchase_currency.as_deref());
        if let Some(e) = self.acquisition() {
            let listed = match e.typed_details() {
                Some(EventDetails::Acquisition(a)) => a.price_cents,
                _ => None,
            };
            if let Some(cents) = listed.or(e.cost_cents) {
                return Some(PurchasePrice {
                    cents,
                    currency: e
                        .currency
                        .as_deref()
                        .or(registration_currency)
                        .map(str::to_string),
                    record: Some(e),
                });
            }
        }
        let v = vehicle?;
        Some(PurchasePrice {
            cents: v.purchase_price_cents?,
            currency: registration_currency.map(str::to_string),
            record: None,
        })
    }

    /// What was paid at the acquisition `e`: its `details.priceCents`, else its `costCents`; for the latest
    /// acquisition, else the price given at registration ([`Self::purchase_price`]).
    fn price_of_purchase<'e>(&'e self, e: &'e VehicleEvent) -> Option<PurchasePrice<'e>> {
        if self.acquisition().is_some_and(|a| a.id == e.id) {
            return self.purchase_price();
        }
        let listed = match e.typed_details() {
            Some(EventDetails::Acquisition(a)) => a.price_cents,
            _ => None,
        };
        listed.or(e.cost_cents).map(|cents| PurchasePrice {
            cents,
            currency: e.currency.clone(),
            record: Some(e),
        })
    }

    fn accidents(&self, s: &Slots) -> Answer {
        let slots = s.of_kind(EventKind::Collision);
        let found = self.select(&slots);
        if found.is_empty() {
            return self.nothing("collision", &slots);
        }
        let lines: Vec<String> = found
            .iter()
            .rev()
            .map(|e| {
                let mut facts = vec![format!(
                    "{}: “{}”",
                    date(&e.occurred_at),
                    isolated(&e.title)
                )];
                if let Some(EventDetails::Collision(c)) = e.typed_details() {
                    facts.push(format!(
                        "severity {}",
                        serde_json::to_value(c.severity)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default()
                    ));
                    facts.push(
                        if c.structural {
                            "structural damage"
                        } else {
                            "no structural damage"
                        }
                        .into(),
                    );
                    facts.push(
                        if c.airbag_deployed {
                            "airbags deployed"
                        } else {
                            "airbags not deployed"
                        }
                        .into(),
                    );
                    facts.push(match &c.insurance_claim_id {
                        Some(id) => format!("insurance claim {}", isolated(id)),
                        None => "no insurance claim recorded".into(),
                    });
                }
                if let (Some(c), Some(cur)) = (e.cost_cents, e.currency.as_deref()) {
                    facts.push(format!("cost {}", money(c, cur)));
                }
                if let Some(v) = &e.vendor {
                    facts.push(format!("repaired by {}", isolated(&v.name)));
                }
                facts.join(", ")
            })
            .collect();
        let text = format!(
            "{}{}{}: {}.",
            plural(
                found.len(),
                "collision is recorded",
                "collisions are recorded"
            ),
            self.range_label(&slots),
            self.before_label(&slots),
            lines.join("; ")
        );
        text_answer(text, found.iter().rev().map(|e| cite(e)).collect())
    }

    /// The latest acquisition in the question's bounds: the owner's purchase, or with "and before that?" the
    /// one before it.
    fn purchase(&self, s: &Slots) -> Answer {
        let slots = s.of_kind(EventKind::Acquisition);
        let found = self.select(&slots);
        let Some(last) = found.last() else {
            if s.before.is_some() || s.range.is_some() {
                return self.nothing("purchase", &slots);
            }
            // No acquisition record, but the price may have been given when the vehicle was registered
            // (the valuation's base then, too).
            let given = self.k.vehicle.as_ref().and_then(|v| {
                v.purchase_price_cents.map(|price| {
                    let currency = v.purchase_currency.as_deref().unwrap_or("USD");
                    format!(
                        "No purchase record is on the timeline; a price of {} was given when the vehicle was \
                         registered on {}.",
                        money(price, currency),
                        date(&v.registered_at)
                    )
                })
            });
            return text_answer(
                given.unwrap_or_else(|| "No purchase is recorded for this vehicle.".into()),
                Vec::new(),
            );
        };
        // An earlier acquisition than the latest is someone's before the owner's (or theirs, before a
        // resale): told as a purchase of the vehicle, not "you bought it".
        let latest = self.acquisition().is_some_and(|a| a.id == last.id);
        let mut facts = vec![format!(
            "{} on {}",
            if latest {
                "You bought it"
            } else {
                "It was bought"
            },
            date(&last.occurred_at)
        )];
        let details = match last.typed_details() {
            Some(EventDetails::Acquisition(a)) => a,
            _ => Default::default(),
        };
        if let Some(seller) = details
            .seller
            .as_ref()
            .or(last.vendor.as_ref().map(|v| &v.name))
        {
            facts.push(format!("from {}", isolated(seller)));
        }
        if let Some(c) = details.condition {
            facts.push(c.as_str().to_string());
        }
        match self.price_of_purchase(last) {
            Some(p) if p.record.is_some() => facts.push(format!("for {}", p.shown())),
            Some(p) => facts.push(format!(
                "for {} (the price given at registration)",
                p.shown()
            )),
            None => {}
        }
        if let Some(o) = last.odometer {
            facts.push(format!("at {}", self.dist(o)));
        }
        let mut text = format!("{} (“{}”).", facts.join(", "), isolated(&last.title));
        if let Some(n) = &last.notes {
            text.push_str(&format!(" Notes: {}", isolated(n)));
        }
        text_answer(text, vec![cite(last)])
    }

    /// A sold vehicle's worth: its sale, the final value (the valuation stops at the sale; the overview has
    /// none), never an estimate dated after it. `None` for a vehicle not sold.
    fn sold_value(&self) -> Option<Answer> {
        let sale = self.sale()?;
        Some(text_answer(
            format!(
                "It was sold on {} for {}: that sale price is its final value, and it is not valued after the sale.",
                date(&sale.sold_at),
                money(sale.price_cents, &sale.currency)
            ),
            Vec::new(),
        ))
    }

    fn valuation(&self, s: &Slots) -> Answer {
        // "and before that?": the chat keeps only the current estimate, so what came before it is the
        // latest value recorded on the timeline (an appraisal or the owner's estimate) before that day.
        // "and in 2025?" likewise: the latest value recorded in that range.
        if s.before.is_some() || s.range.is_some() {
            let bounds = format!("{}{}", self.range_label(s), self.before_label(s));
            return match self.select(&s.of_kind(EventKind::Valuation)).last() {
                Some(e) => {
                    self.recorded_valuation(e, &format!("{}, the", capitalised(bounds.trim())))
                }
                None => text_answer(
                    format!(
                        "No valuation is recorded{bounds}. The estimate's history over time is on the \
                         vehicle's valuation chart (GET /v1/vehicles/{{id}}/valuations)."
                    ),
                    Vec::new(),
                ),
            };
        }
        if let Some(sold) = self.sold_value() {
            return sold;
        }
        if let Some(point) = &self.k.valuation {
            let v = &point.valuation;
            let (why, citations) = self.factors(point);
            let mut text = format!(
                "Its estimated value is {} as of {} (method: {}).",
                money(v.amount_cents, &v.currency),
                v.as_of,
                v.method.replace('_', " ")
            );
            if !why.is_empty() {
                text.push_str(&format!(" Why: {}.", why.join("; ")));
            }
            return text_answer(text, citations);
        }
        let Some(last) = self.k.of_kind(EventKind::Valuation).next_back() else {
            return text_answer(
                "No valuation is recorded for this vehicle yet, and the valuation service has not published an estimate."
                    .into(),
                Vec::new(),
            );
        };
        let mut answer = self.recorded_valuation(last, "The");
        answer
            .text
            .push_str(" No estimate with its factors has been published for this vehicle yet.");
        answer
    }

    /// The estimate's factors in words ("Collision (17c) -4,515.85 USD (…)") and its citations: the
    /// `ValuationUpdated` event first, then each record a factor names, once.
    fn factors(&self, point: &ValuationPoint) -> (Vec<String>, Vec<Citation>) {
        let v = &point.valuation;
        let as_of = v
            .as_of
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or(point.computed_at);
        let mut citations = vec![Citation {
            event_id: point.envelope_id.clone(),
            occurred_at: as_of,
            title: format!("Valuation as of {}", v.as_of),
        }];
        let why = v
            .factors
            .iter()
            .map(|f| {
                if let Some(e) = f.event_id.as_deref().and_then(|id| self.k.event(id)) {
                    cite_once(&mut citations, e);
                }
                if f.detail.is_empty() {
                    format!(
                        "{} {}",
                        isolated(&f.label),
                        signed_money(f.amount_cents, &v.currency)
                    )
                } else {
                    format!(
                        "{} {} ({})",
                        isolated(&f.label),
                        signed_money(f.amount_cents, &v.currency),
                        isolated(&f.detail)
                    )
                }
            })
            .collect();
        (why, citations)
    }

    /// An amount a record gives for the valuation (an appraisal, an upgrade's value added) in the record's
    /// currency; one stored without it is in the valuation's own currency, as the valuation service reads it
    /// (the current value's), and with no value known it is said to have none — never read as USD.
    fn valued_money(&self, cents: u64, e: &VehicleEvent) -> String {
        let currency = (e.currency.as_deref())
            .or_else(|| (self.k.valuation.as_ref()).map(|p| p.valuation.currency.as_str()));
        money_or_unknown(cents, currency)
    }

    /// "{lead} latest recorded valuation is $X on D, from a dealer appraisal by V." citing the record.
    fn recorded_valuation(&self, last: &VehicleEvent, lead: &str) -> Answer {
        let (amount, source) = match last.typed_details() {
            Some(EventDetails::Valuation(v)) => (
                v.amount_cents,
                match v.source {
                    vwc_contracts::ValuationSource::DealerAppraisal => "a dealer appraisal",
                    vwc_contracts::ValuationSource::UserEstimate => "your own estimate",
                },
            ),
            _ => (0, "a valuation"),
        };
        let mut text = format!(
            "{lead} latest recorded valuation is {} on {}, from {source}",
            self.valued_money(amount, last),
            date(&last.occurred_at)
        );
        if let Some(v) = &last.vendor {
            text.push_str(&format!(" by {}", isolated(&v.name)));
        }
        text.push('.');
        text_answer(text, vec![cite(last)])
    }

    fn due_items(&self, s: &Slots) -> Answer {
        // A sold or archived vehicle is reminded of nothing (docs/corrections.md, the lifecycle): nothing is "due" for it.
        if let Some(v) = self.k.vehicle.as_ref().filter(|v| v.is_retired()) {
            let how = match (&v.sale, v.archived_at) {
                (Some(sale), _) => format!("was sold on {}", date(&sale.sold_at)),
                (None, Some(at)) => format!("was archived on {}", date(&at)),
                (None, None) => "is no longer active".to_string(),
            };
            return text_answer(
                format!(
                    "This vehicle {how}: its maintenance is no longer tracked and no reminders are sent. \
                     Its history is kept; ask about what was done."
                ),
                Vec::new(),
            );
        }
        let Some(schedule) = &self.k.maintenance else {
            return text_answer(
                "No maintenance schedule has been computed for this vehicle yet.".into(),
                Vec::new(),
            );
        };
        // "When is the next oil change due?": that item, whatever its status.
        if let Some(task) = &s.task {
            let Some(item) = schedule.items.iter().find(|i| &i.task == task && i.enabled) else {
                return text_answer(
                    format!(
                        "The maintenance schedule does not track {} for this vehicle.",
                        task_noun(task)
                    ),
                    Vec::new(),
                );
            };
            let status = match item.status {
                MaintenanceStatus::Ok => "not due yet",
                MaintenanceStatus::DueSoon => "due soon",
                MaintenanceStatus::Overdue => "overdue",
                MaintenanceStatus::Unknown => "of unknown status (no record to count from)",
            };
            let mut text = format!("{}: {status}", isolated(&item.title));
            let when = self.due_terms(item, "at");
            if !when.is_empty() {
                text.push_str(&format!(", {}", when.join(" or ")));
            }
            if let Some(p) = item.projected_due_at {
                text.push_str(&format!(" (projected {p} at the current usage)"));
            }
            if !item.reason.is_empty() {
                text.push_str(&format!(" — {}", item.reason));
            }
            text.push_str(&format!(", as of {}.", date(&schedule.evaluated_at)));
            let citations = self.last_done_record(item).map(cite).into_iter().collect();
            return text_answer(text, citations);
        }
        let due = due_now(schedule);
        if due.is_empty() {
            return text_answer(
                format!(
                    "Nothing is due or overdue as of {}.",
                    date(&schedule.evaluated_at)
                ),
                Vec::new(),
            );
        }
        let mut citations = Vec::new();
        let lines: Vec<String> = due
            .iter()
            .map(|i| {
                let status = if i.status == MaintenanceStatus::Overdue {
                    "overdue"
                } else {
                    "due soon"
                };
                let mut line = format!("{}: {status}", isolated(&i.title));
                let when = self.due_terms(i, "due at");
                if !when.is_empty() {
                    line.push_str(&format!(" ({})", when.join(" or ")));
                }
                if !i.reason.is_empty() {
                    line.push_str(&format!(" — {}", i.reason));
                }
                // One record may have done several due items (an oil change and a tire rotation):
                // cited once.
                if let Some(record) = self.last_done_record(i) {
                    cite_once(&mut citations, record);
                }
                line
            })
            .collect();
        let text = format!(
            "{} as of {}: {}.",
            plural(due.len(), "item needs attention", "items need attention"),
            date(&schedule.evaluated_at),
            lines.join("; ")
        );
        text_answer(text, citations)
    }

    /// "why?" after "What's due?": each due item (or the one asked) from the schedule — its interval, when and
    /// at what odometer it was last done (that record cited), and so when it fell due.
    fn why_due(&self, s: &Slots) -> Answer {
        let retired = self.k.vehicle.as_ref().is_some_and(|v| v.is_retired());
        let Some(schedule) = self.k.maintenance.as_ref().filter(|_| !retired) else {
            // Nothing due to explain: the due answer says why.
            return self.due_items(s);
        };
        let items: Vec<&MaintenanceItemView> = match &s.task {
            Some(task) => schedule
                .items
                .iter()
                .filter(|i| &i.task == task && i.enabled)
                .collect(),
            None => due_now(schedule),
        };
        if items.is_empty() {
            return text_answer(
                format!(
                    "Nothing is due or overdue as of {}, so there is nothing to explain.",
                    date(&schedule.evaluated_at)
                ),
                Vec::new(),
            );
        }
        let unit = self.k.unit();
        let mut citations: Vec<Citation> = Vec::new();
        let lines: Vec<String> = items
            .iter()
            .map(|i| {
                let status = match i.status {
                    MaintenanceStatus::Ok => "not due yet",
                    MaintenanceStatus::DueSoon => "due soon",
                    MaintenanceStatus::Overdue => "overdue",
                    MaintenanceStatus::Unknown => "of unknown status",
                };
                let distance = match unit {
                    vwc_contracts::OdometerUnit::Km => i.interval_km,
                    _ => i.interval_miles,
                };
                let every: Vec<String> = distance
                    .map(|d| self.dist(u64::from(d)))
                    .into_iter()
                    .chain(
                        i.interval_months
                            .map(|m| plural(m as usize, "month", "months")),
                    )
                    .collect();
                let mut line = format!("{} ({status}): ", isolated(&i.title));
                line.push_str(&if every.is_empty() {
                    "no interval is set".to_string()
                } else {
                    format!("every {}", every.join(" or "))
                });
                match i.last_done_at {
                    Some(at) => {
                        line.push_str(&format!("; last done on {}", date(&at)));
                        if let Some(o) = i.last_done_odometer {
                            line.push_str(&format!(" at {}", self.dist(o)));
                        }
                    }
                    None => {
                        // Counted from where the scheduler counts a never-done task from: named and cited,
                        // so the due point below is explained.
                        let (from, records) = self.never_done_anchor();
                        line.push_str(&format!(
                            "; no record of it being done: counted from {from}"
                        ));
                        for record in records {
                            cite_once(&mut citations, record);
                        }
                    }
                }
                let when = self.due_terms(i, "at");
                if !when.is_empty() {
                    line.push_str(&format!("; so {}", when.join(" or ")));
                }
                if !i.reason.is_empty() {
                    line.push_str(&format!(" — {}", i.reason));
                }
                if let Some(record) = self.last_done_record(i) {
                    cite_once(&mut citations, record);
                }
                line
            })
            .collect();
        text_answer(
            format!(
                "Each item falls due an interval after it was last done (the schedule as of {}). {}.",
                date(&schedule.evaluated_at),
                lines.join(". ")
            ),
            citations,
        )
    }

    /// Where a task never done counts from, as the scheduler places it (docs/maintenance-intervals.md): the
    /// latest acquisition, else the registration, with the odometer then (the acquisition's own, else the
    /// reading nearest it: the last on or before it, else the first after). In words, with the records
    /// it was read from.
    fn never_done_anchor(&self) -> (String, Vec<&VehicleEvent>) {
        let acquisition = self.acquisition();
        let (at, mut words, mut records) = match (acquisition, &self.k.vehicle) {
            (Some(a), _) => (
                a.occurred_at,
                format!("your purchase on {}", date(&a.occurred_at)),
                vec![a],
            ),
            (None, Some(v)) => (
                v.registered_at,
                format!("the vehicle's registration on {}", date(&v.registered_at)),
                Vec::new(),
            ),
            (None, None) => return ("the vehicle's acquisition".into(), Vec::new()),
        };
        match acquisition.and_then(|a| a.odometer) {
            Some(o) => words.push_str(&format!(" at {}", self.dist(o))),
            None => {
                let readings = || self.k.events.iter().filter(|e| e.odometer.is_some());
                let nearest = readings()
                    .rfind(|e| e.occurred_at <= at)
                    .or_else(|| readings().find(|e| e.occurred_at > at));
                if let Some(r) = nearest {
                    words.push_str(&format!(
                        " at {} (the reading of {})",
                        self.dist(r.odometer.unwrap_or_default()),
                        date(&r.occurred_at)
                    ));
                    records.push(r);
                }
            }
        }
        (words, records)
    }

    /// When `item` falls due: "due on 2026-06-01" and "`odometer_words` 45,000 mi", whichever it has.
    fn due_terms(&self, item: &MaintenanceItemView, odometer_words: &str) -> Vec<String> {
        let mut when = Vec::new();
        if let Some(d) = item.due_at {
            when.push(format!("due on {d}"));
        }
        if let Some(o) = item.due_odometer {
            when.push(format!("{odometer_words} {}", self.dist(o)));
        }
        when
    }

    /// The record that last did `item`: what its due date counts from.
    fn last_done_record(&self, item: &MaintenanceItemView) -> Option<&VehicleEvent> {
        let at = item.last_done_at?;
        self.k.events.iter().rev().find(|e| {
            // The schedule keeps instants to the microsecond; a record may hold more.
            (e.occurred_at - at).num_milliseconds().abs() < 1_000
                && e.maintenance_tasks().contains(&item.task)
        })
    }

    /// The records with an odometer, in time order, leaving out rollbacks (a value below an earlier one:
    /// a typo, a dealer's miles on a km vehicle), as the scheduler and the valuation leave them out.
    fn trusted_readings(&self) -> Vec<&VehicleEvent> {
        let mut highest = vwc_contracts::HighestOdometer::default();
        self.k
            .events
            .iter()
            .filter(|e| e.odometer.is_some_and(|o| highest.admit(o)))
            .collect()
    }

    /// The daily rate between the first reading within a year of the latest and the latest; with none other in
    /// that year, from the nearest earlier reading (not the vehicle's very first, years back).
    fn usage(&self) -> Option<Usage<'_>> {
        let readings = self.trusted_readings();
        let last = *readings.last()?;
        let window_start = last.occurred_at - chrono::Duration::days(365);
        let first = readings
            .iter()
            .find(|e| e.occurred_at >= window_start && e.occurred_at < last.occurred_at)
            .or_else(|| {
                readings
                    .iter()
                    .rev()
                    .find(|e| e.occurred_at < last.occurred_at)
            })
            .copied()?;
        let seconds = (last.occurred_at - first.occurred_at).num_seconds();
        let (o1, o2) = (first.odometer?, last.odometer?);
        if seconds <= 0 || o2 < o1 {
            return None;
        }
        Some(Usage {
            first,
            last,
            per_day: (o2 - o1) as f64 / (seconds as f64 / 86_400.0),
        })
    }

    fn usage_rate(&self) -> Answer {
        let sold = self.sale().map(|sale| {
            format!(
                "It was sold on {} at {} (the odometer at the sale); there is no odometer today to estimate.",
                date(&sale.sold_at),
                self.dist(sale.odometer)
            )
        });
        if let Some(sold) = &sold {
            return match self.usage() {
                Some(u) => text_answer(
                    format!(
                        "You drove {} a month ({} a year), measured from {} on {} to {} on {}. {sold}",
                        self.about((u.per_day * 365.25 / 12.0).round() as u64),
                        self.dist((u.per_day * 365.25).round() as u64),
                        self.dist(u.first.odometer.unwrap_or_default()),
                        date(&u.first.occurred_at),
                        self.dist(u.last.odometer.unwrap_or_default()),
                        date(&u.last.occurred_at),
                    ),
                    vec![cite(u.first), cite(u.last)],
                ),
                None => text_answer(sold.clone(), Vec::new()),
            };
        }
        let Some(u) = self.usage() else {
            let readings = self.trusted_readings();
            return match readings.last() {
                Some(e) => text_answer(
                    format!(
                        "Only one odometer value is usable ({} on {}); a usage rate needs two on different days.",
                        self.dist(e.odometer.unwrap_or_default()),
                        date(&e.occurred_at)
                    ),
                    vec![cite(e)],
                ),
                None => text_answer(
                    "No odometer value is recorded for this vehicle.".into(),
                    Vec::new(),
                ),
            };
        };
        let per_month = (u.per_day * 365.25 / 12.0).round() as u64;
        let per_year = (u.per_day * 365.25).round() as u64;
        let days_since = ((self.now - u.last.occurred_at).num_seconds().max(0) as f64) / 86_400.0;
        let last_value = u.last.odometer.unwrap_or_default();
        let estimate = last_value + (u.per_day * days_since).round() as u64;
        let text = format!(
            "You drive {} a month ({} a year), measured from {} on {} to {} on {}. \
             Estimated odometer today: {} (computed from that rate; last recorded {} on {}).",
            self.about(per_month),
            self.dist(per_year),
            self.dist(u.first.odometer.unwrap_or_default()),
            date(&u.first.occurred_at),
            self.dist(last_value),
            date(&u.last.occurred_at),
            self.about(estimate),
            self.dist(last_value),
            date(&u.last.occurred_at),
        );
        text_answer(text, vec![cite(u.first), cite(u.last)])
    }

    /// The same figures as the overview's `fuel` (vwc_contracts::fuel), in a sentence, citing the
    /// fill-ups that bound the newest measured interval and the first one measured.
    fn fuel_economy(&self) -> Answer {
        use vwc_contracts::fuel::economy;
        let unit = self.k.unit();
        let Some(e) = economy(unit, &self.k.events) else {
            return text_answer(
                "No fill-up is recorded for this vehicle, so there is no fuel economy to tell."
                    .into(),
                Vec::new(),
            );
        };
        let label = e.unit.label();
        let by_id = |id: &str| self.k.events.iter().find(|ev| ev.id.as_ref() == id);
        let (Some(average), Some(latest)) = (e.average, e.intervals.first()) else {
            let cited: Vec<Citation> = self
                .k
                .events
                .iter()
                .filter(|ev| ev.kind == EventKind::Fuel)
                .map(cite)
                .collect();
            return text_answer(
                format!(
                    "{} fill-up{} recorded, but economy needs two full fills with the distance between them (a partial fill counts toward the next full one).",
                    e.fill_ups,
                    if e.fill_ups == 1 { " is" } else { "s are" }
                ),
                cited,
            );
        };
        // No car does better than 100 mpg (2.4 L/100 km, about the same): a figure past it comes from fill-ups
        // left out of the log (one not recorded, and the next not marked `missedPrevious`), not the car.
        let implausible = |economy: f64| match e.unit {
            vwc_contracts::fuel::EconomyUnit::Mpg => economy > PLAUSIBLE_MPG,
            vwc_contracts::fuel::EconomyUnit::LitresPer100Km => economy < PLAUSIBLE_L_PER_100KM,
        };
        if implausible(average) || implausible(latest.economy) {
            let citations: Vec<Citation> = [&latest.to_event_id, &latest.from_event_id]
                .into_iter()
                .filter_map(|id| by_id(id))
                .map(cite)
                .collect();
            return text_answer(
                format!(
                    "The fill-up log looks incomplete, so I cannot tell the fuel economy: the {} fill-ups \
                     recorded give a figure no car reaches ({}), which happens when a fill-up is not recorded. \
                     Record the missing fill-ups, or mark the fill after a gap as “missed previous”, and the \
                     economy is measured from the fills that follow one another.",
                    e.fill_ups,
                    match e.unit {
                        vwc_contracts::fuel::EconomyUnit::Mpg => "more than 100 mpg",
                        vwc_contracts::fuel::EconomyUnit::LitresPer100Km =>
                            "less than 2.4 L/100 km",
                    }
                ),
                citations,
            );
        }
        let distance_unit = unit.as_str();
        let mut text = format!(
            "Your fuel economy averages {average} {label} over {} {distance_unit} measured ({} full-to-full interval{}, {} fill-ups). The latest interval, {} to {}, was {} {label}",
            grouped_tenths(e.measured_distance),
            e.intervals.len(),
            if e.intervals.len() == 1 { "" } else { "s" },
            e.fill_ups,
            date(&latest.from),
            date(&latest.to),
            latest.economy,
        );
        match (&e.drop, e.trailing_average) {
            (Some(drop), _) => text.push_str(&format!(
                " — {:.1} % worse than your trailing average of {} {label}: worth a look (tyre pressure, a dragging brake, a sensor).",
                drop.drop_percent, drop.trailing_average
            )),
            (None, Some(avg)) => text.push_str(&format!(" (trailing average {avg} {label}).")),
            (None, None) => text.push('.'),
        }
        for c in &e.costs {
            if let Some(per) = c.per_distance_cents {
                text.push_str(&format!(
                    " Fuel costs {:.2} {} per {distance_unit}.",
                    per / 100.0,
                    c.currency
                ));
            }
        }
        let mut citations: Vec<Citation> = [&latest.to_event_id, &latest.from_event_id]
            .into_iter()
            .filter_map(|id| by_id(id))
            .map(cite)
            .collect();
        if let Some(first) = e.intervals.last().and_then(|i| by_id(&i.from_event_id)) {
            cite_once(&mut citations, first);
        }
        text_answer(text, citations)
    }

    fn upgrades(&self, s: &Slots) -> Answer {
        let slots = Slots {
            vendor: s.vendor.clone(),
            dealers: s.dealers.clone(),
            ..s.of_kind(EventKind::Upgrade)
        };
        let found = self.select(&slots);
        if found.is_empty() {
            return self.nothing("upgrade", &slots);
        }
        let lines: Vec<String> = found
            .iter()
            .map(|e| {
                let mut line = self.describe(e);
                if let Some(EventDetails::Upgrade(u)) = e.typed_details() {
                    if let Some(c) = u.category {
                        line.push_str(&format!(", category {}", isolated(&c)));
                    }
                    if let Some(v) = u.value_add_cents {
                        line.push_str(&format!(
                            ", recorded as adding {} of value",
                            self.valued_money(v, e)
                        ));
                    }
                }
                line
            })
            .collect();
        let text = format!(
            "{}{}: {}.",
            plural(found.len(), "upgrade is recorded", "upgrades are recorded"),
            self.bounds_label(&slots),
            lines.join("; ")
        );
        text_answer(text, found.iter().map(|e| cite(e)).collect())
    }

    fn usual_vendor(&self, s: &Slots) -> Answer {
        let service =
            |e: &&VehicleEvent| matches!(e.kind, EventKind::Maintenance | EventKind::Repair);
        let mut found: Vec<&VehicleEvent> = self.select(s).into_iter().filter(service).collect();
        found.retain(|e| e.vendor.is_some());
        if found.is_empty() {
            return text_answer(
                format!(
                    "No maintenance or repair with a vendor is recorded{}{}.",
                    self.range_label(s),
                    self.before_label(s)
                ),
                Vec::new(),
            );
        }
        let mut by_vendor: HashMap<&str, Vec<&VehicleEvent>> = HashMap::new();
        for e in &found {
            if let Some(v) = &e.vendor {
                by_vendor.entry(v.name.as_str()).or_default().push(e);
            }
        }
        let mut ranked: Vec<(&str, Vec<&VehicleEvent>)> = by_vendor.into_iter().collect();
        // Most visits first; ties to the most recent visit.
        ranked.sort_by(|a, b| {
            b.1.len().cmp(&a.1.len()).then(
                b.1.last()
                    .map(|e| e.occurred_at)
                    .cmp(&a.1.last().map(|e| e.occurred_at)),
            )
        });
        let (top, visits) = &ranked[0];
        let mut text = format!(
            "You usually go to {}: {} of {} maintenance and repair records with a vendor{}{}, the latest on {}.",
            isolated(top),
            visits.len(),
            found.len(),
            self.range_label(s),
            self.before_label(s),
            date(&visits.last().expect("a vendor has visits").occurred_at)
        );
        if ranked.len() > 1 {
            let mut others: Vec<String> = ranked[1..]
                .iter()
                .take(3)
                .map(|(v, es)| format!("{} ({})", isolated(v), es.len()))
                .collect();
            // The vendors not named are counted, so the visits add up to the records counted.
            let rest = &ranked[ranked.len().min(4)..];
            if !rest.is_empty() {
                let visits: usize = rest.iter().map(|(_, es)| es.len()).sum();
                others.push(format!(
                    "and {} more {} ({})",
                    rest.len(),
                    if rest.len() == 1 { "vendor" } else { "vendors" },
                    plural(visits, "record", "records")
                ));
            }
            text.push_str(&format!(" Also: {}.", others.join(", ")));
        }
        text_answer(text, visits.iter().map(|e| cite(e)).collect())
    }

    fn ownership_length(&self) -> Answer {
        let Some(bought) = self.acquisition() else {
            return text_answer("No purchase is recorded for this vehicle, so how long it has been owned is not known.".into(), Vec::new());
        };
        // A sold vehicle was owned until its sale.
        let (until, how) = match self.sale() {
            Some(sale) => (
                sale.sold_at,
                "You owned it from {from} until you sold it on {to}: {length}.",
            ),
            None => (
                self.now,
                "You have owned it since {from}: {length} as of {to}.",
            ),
        };
        let (y, m, d) = calendar_difference(bought.occurred_at.date_naive(), until.date_naive());
        let length = format!(
            "{}, {} and {}",
            plural(y as usize, "year", "years"),
            plural(m as usize, "month", "months"),
            plural(d as usize, "day", "days"),
        );
        let text = how
            .replace("{from}", &date(&bought.occurred_at))
            .replace("{to}", &date(&until))
            .replace("{length}", &length);
        text_answer(text, vec![cite(bought)])
    }

    fn knowledge(&self, s: &Slots) -> Answer {
        let kb = KnowledgeBase::builtin();
        let hits = kb.search(self.question, 1);
        let Some(best) = hits.first() else {
            if self.p.index.search(self.question, 1).is_empty() {
                return self.not_said();
            }
            return self.search();
        };
        let mut text = format!("{} (Source: {}.)", best.text, best.source.title);
        let mut citations = Vec::new();
        // The vehicle's own record on the subject, kept apart from the general knowledge.
        if s.has_subject() {
            let own = Slots {
                task: s.task.clone(),
                part: s.part.clone(),
                system: s.system.clone(),
                subject: s.subject.clone(),
                ..Slots::default()
            };
            if let Some(last) = self.select(&own).last() {
                text.push_str(&format!(
                    " This vehicle's latest record about {} is from {}.",
                    self.subject(&own),
                    self.describe(last)
                ));
                citations.push(cite(last));
            }
        }
        let mut a = text_answer(text, citations);
        a.knowledge = hits.iter().map(|e| KnowledgeCitation::of(e)).collect();
        a
    }

    fn search(&self) -> Answer {
        let hits = self.p.index.search(self.question, 5);
        if hits.is_empty() {
            return self.unclear("");
        }
        let found: Vec<&VehicleEvent> = hits.iter().map(|(i, _)| &self.k.events[*i]).collect();
        let text = format!(
            "Records that match “{}”: {}.",
            isolated(self.question.trim()),
            found
                .iter()
                .map(|e| self.describe(e))
                .collect::<Vec<_>>()
                .join("; ")
        );
        text_answer(text, found.iter().map(|e| cite(e)).collect())
    }

    /// "how much did it cost?": the cost of each record the previous answer cited (a purchase's price by the
    /// purchase answer's rule, [`Self::price_of_purchase`]), and their sum. Every record stays cited, with a
    /// cost or without, so "who did it?" and "and before that?" after it still know what was meant.
    fn cost_of(&self, prev: &PreviousTurn) -> Answer {
        if let Some(a) = self.about_the_sale(prev, Intent::FollowUpCost) {
            return a;
        }
        let cited: Vec<&VehicleEvent> = self.cited_records(prev).into_iter().take(10).collect();
        // None cited (or all voided since): said so, never "no cost on the records it used", which claims
        // there were some.
        if cited.is_empty() {
            return self.none_cited(prev, "there is no cost to give");
        }
        let mut sums: BTreeMap<String, u64> = BTreeMap::new();
        let mut priced = 0;
        let lines: Vec<String> = cited
            .iter()
            .map(|e| {
                let record = named(e);
                let cost = if e.kind == EventKind::Acquisition {
                    self.price_of_purchase(e)
                } else {
                    match (e.cost_cents, e.currency.as_deref()) {
                        (Some(cents), Some(cur)) => Some(PurchasePrice {
                            cents,
                            currency: Some(cur.to_string()),
                            record: Some(e),
                        }),
                        _ => None,
                    }
                };
                match cost {
                    Some(p) => {
                        priced += 1;
                        if let Some(cur) = &p.currency {
                            *sums.entry(cur.clone()).or_default() += p.cents;
                        }
                        format!(
                            "{record} cost {}{}",
                            p.shown(),
                            if p.record.is_none() {
                                " (the price given at registration)"
                            } else {
                                ""
                            }
                        )
                    }
                    None => format!("no cost is recorded on {record}"),
                }
            })
            .collect();
        let mut text = format!("{}.", capitalised(&lines.join("; ")));
        if priced > 1 {
            text.push_str(&format!(" Together: {}.", join_totals(&sums)));
        }
        // The cost of a record that holds other work beside what was asked is the whole record's: said so.
        let citations: Vec<Citation> = cited.iter().map(|e| cite(e)).collect();
        text.push_str(&self.shared_cost_note(
            &citations,
            &prev.understanding.slots,
            cited.len() == 1,
        ));
        text.push_str(&self.voided_note(prev));
        text_answer(text, citations)
    }

    /// "how much?", "who bought it?", "what was the mileage?", "how long ago was that?" after "When did I sell
    /// it?": the sale is no timeline record (it is the vehicle's `sale`, which `POST …/sell` sets), so the
    /// sale answer cites none, and these follow-ups read the sale itself rather than saying no record was
    /// cited. `None` when the previous answer was not about a sale the vehicle carries.
    fn about_the_sale(&self, prev: &PreviousTurn, follow_up: Intent) -> Option<Answer> {
        if prev.understanding.intent != Intent::Sale {
            return None;
        }
        let sale = self.sale()?;
        let on = date(&sale.sold_at);
        let text = match follow_up {
            Intent::FollowUpCost => format!(
                "It sold for {} on {on}.",
                money(sale.price_cents, &sale.currency)
            ),
            Intent::FollowUpOdometer => format!(
                "At the sale on {on} the odometer read {}.",
                self.dist(sale.odometer)
            ),
            Intent::FollowUpVendor => {
                format!("The sale on {on} records no buyer: only its date, price and odometer.")
            }
            _ => {
                let (y, m, d) =
                    calendar_difference(sale.sold_at.date_naive(), self.now.date_naive());
                format!(
                    "The sale on {on} was {}, at {}, the vehicle's last odometer.",
                    ago(y, m, d),
                    self.dist(sale.odometer)
                )
            }
        };
        Some(text_answer(text, Vec::new()))
    }

    /// "and before that?" / "and in 2024?" after an answer not read from dated records: said so, with
    /// what can be asked instead.
    fn not_bounded(&self, prev: &PreviousTurn, follow_up: Intent) -> Answer {
        let what = answer_noun(prev.understanding.intent);
        let mut a = text_answer(
            format!(
                "{} is not read from dated records, so it cannot be asked {}. You can ask, for example, \
                 “What was done before 2025?” or “How much did I spend in 2024?”.",
                capitalised(what),
                if follow_up == Intent::FollowUpBefore {
                    "again before that"
                } else {
                    "again over another time range"
                }
            ),
            Vec::new(),
        );
        a.understanding = prev.understanding.clone();
        a.follow_up = Some(follow_up);
        a
    }

    /// The timeline records the previous answer cited, in its order (a valuation's own id is no record).
    fn cited_records(&self, prev: &PreviousTurn) -> Vec<&VehicleEvent> {
        prev.about()
            .filter_map(|c| self.k.event(&c.event_id))
            .collect()
    }

    /// How many records the previous answer cited have left the timeline since: voided, the only way a
    /// record leaves it. A published estimate it cited is no timeline record, and not one of them.
    fn voided_since(&self, prev: &PreviousTurn) -> usize {
        prev.about()
            .enumerate()
            .filter(|(i, c)| self.k.event(&c.event_id).is_none() && !self.is_estimate(prev, *i, c))
            .count()
    }

    /// Whether the `i`th citation of the previous answer is a published estimate (no timeline record).
    fn is_estimate(&self, prev: &PreviousTurn, i: usize, c: &Citation) -> bool {
        self.k
            .valuation
            .as_ref()
            .is_some_and(|p| p.envelope_id == c.event_id)
            || (prev.understanding.intent == Intent::Valuation
                && i == 0
                && c.title.starts_with("Valuation as of "))
    }

    /// A follow-up about the records the previous answer cited ("how much was it?", "who did it?", "what was
    /// the mileage?", "how long ago?"). When some of them have been voided since — a voided record is not
    /// history — the previous question is asked again over the records in force and the follow-up answers for
    /// what that answer cites, saying so; otherwise it answers for the records cited. `follow` gives the
    /// answer about a turn, with the reading it measured distances to (`measuredTo`), if any.
    fn about_cited(
        &self,
        prev: &PreviousTurn,
        follow_up: Intent,
        follow: impl Fn(&PreviousTurn) -> (Answer, Option<String>),
    ) -> Answer {
        let voided = self.voided_since(prev);
        let asked_again = voided > 0
            && !matches!(
                prev.understanding.intent,
                Intent::Knowledge | Intent::Search | Intent::Unclear
            )
            && !is_follow_up(prev.understanding.intent);
        let (turn, lead) = if asked_again {
            let mut understanding = prev.understanding.clone();
            understanding.slots.measured_to = None;
            let again = self.compute(&understanding);
            let cited = prev.about().count();
            let lead = match (voided, cited) {
                (1, 1) => "The record the previous answer cited has since been voided".to_string(),
                (n, all) if n == all => {
                    format!("The {n} records the previous answer cited have since been voided")
                }
                (1, all) => format!(
                    "1 of the {all} records the previous answer cited has since been voided"
                ),
                (n, all) => {
                    format!(
                        "{n} of the {all} records the previous answer cited have since been voided"
                    )
                }
            };
            if again.citations.is_empty() {
                // Nothing in force answers it: that answer, said as the previous question's.
                let text = format!(
                    "{lead} (a voided record is not history), and asked again over the records in force the \
                     previous question finds nothing: {}",
                    again.text
                );
                return leaning_on(prev, follow_up, text_answer(text, Vec::new()));
            }
            (
                PreviousTurn {
                    understanding,
                    citations: again.citations,
                },
                Some(lead),
            )
        } else {
            (prev.clone(), None)
        };
        let (mut answer, measured_to) = follow(&turn);
        if let Some(lead) = lead {
            answer.text = format!(
                "{lead} (a voided record is not history), so the previous question was asked again over the \
                 records in force. {}",
                answer.text
            );
        }
        let mut a = leaning_on(&turn, follow_up, answer);
        a.understanding.slots.measured_to = measured_to;
        a
    }

    /// A follow-up about the cited records when none is left to answer for: none was cited, or those cited
    /// have been voided since (said so, and nothing of them told), "so {then}".
    fn none_cited(&self, prev: &PreviousTurn, then: &str) -> Answer {
        let text = match self.voided_since(prev) {
            0 => format!("The previous answer cited no record, so {then}."),
            1 => format!("The record the previous answer cited has since been voided, so {then}."),
            n => format!(
                "The {n} records the previous answer cited have since been voided, so {then}."
            ),
        };
        text_answer(text, Vec::new())
    }

    /// " 1 other record it cited has since been voided." after a follow-up answered for the others.
    fn voided_note(&self, prev: &PreviousTurn) -> String {
        match self.voided_since(prev) {
            0 => String::new(),
            1 => " 1 other record it cited has since been voided.".into(),
            n => format!(" {n} other records it cited have since been voided."),
        }
    }

    /// "who did it?": the vendor (for a purchase, the seller) of each record the previous answer cited.
    fn vendor_of(&self, prev: &PreviousTurn) -> Answer {
        if let Some(a) = self.about_the_sale(prev, Intent::FollowUpVendor) {
            return a;
        }
        let cited = self.cited_records(prev);
        if cited.is_empty() {
            return self.none_cited(prev, "there is no shop or seller to name");
        }
        let shown: Vec<&VehicleEvent> = cited.iter().take(10).copied().collect();
        let lines: Vec<String> = shown
            .iter()
            .map(|e| {
                let record = named(e);
                let seller = match e.typed_details() {
                    Some(EventDetails::Acquisition(a)) => a.seller,
                    _ => None,
                };
                match (&e.vendor, seller) {
                    (_, Some(seller)) => format!("{record} was bought from {}", isolated(&seller)),
                    (Some(v), None) => format!("{record} was done by {}", isolated(&v.name)),
                    (None, None) => format!("no vendor is recorded on {record}"),
                }
            })
            .collect();
        let mut text = format!("{}.", capitalised(&lines.join("; ")));
        if cited.len() > shown.len() {
            text.push_str(&format!(" And {} more.", cited.len() - shown.len()));
        }
        text.push_str(&self.voided_note(prev));
        text_answer(text, shown.iter().map(|e| cite(e)).collect())
    }

    /// "what was the mileage?": the odometer of each record the previous answer cited (a valuation's, the
    /// one it was computed at), in the vehicle's unit.
    fn odometer_of(&self, prev: &PreviousTurn) -> Answer {
        if let Some(a) = self.about_the_sale(prev, Intent::FollowUpOdometer) {
            return a;
        }
        let mut lines = Vec::new();
        let mut citations = Vec::new();
        for c in prev.about() {
            if let Some(e) = self.k.event(&c.event_id) {
                let record = named(e);
                lines.push(match e.odometer {
                    Some(o) => format!("{record} was at {}", self.dist(o)),
                    None => format!("no odometer is recorded on {record}"),
                });
                citations.push(cite(e));
            } else if let Some(point) = self
                .k
                .valuation
                .as_ref()
                .filter(|p| p.envelope_id == c.event_id)
            {
                let v = &point.valuation;
                lines.push(match v.odometer {
                    Some(o) => format!(
                        "the estimate as of {} was computed at {}",
                        v.as_of,
                        self.dist(o)
                    ),
                    None => format!("the estimate as of {} names no odometer", v.as_of),
                });
                citations.push(c.clone());
            }
            if lines.len() == 10 {
                break;
            }
        }
        if lines.is_empty() {
            return self.none_cited(prev, "there is no odometer to give");
        }
        text_answer(
            format!(
                "{}.{}",
                capitalised(&lines.join("; ")),
                self.voided_note(prev)
            ),
            citations,
        )
    }

    /// "How many miles ago was the last oil change?": the last one done, as "When was the last oil change?"
    /// answers it, then the time and distance since it, as "how many miles ago was that?" after it would. The
    /// turn is stored as that last-done question, with the reading measured to (`measuredTo`), so "who did
    /// it?" and "and before that?" follow the record and not the reading.
    fn ago_of_last(&self, asked: Understanding) -> Answer {
        let u = Understanding {
            intent: Intent::LastDone,
            slots: asked.slots,
        };
        let last = self.compute(&u);
        let (text, citations, measured_to) = if last.citations.is_empty() {
            (last.text, last.citations, None)
        } else {
            let prev = PreviousTurn {
                understanding: u.clone(),
                citations: last.citations.clone(),
            };
            let (since, measured_to) = self.since_cited(&prev);
            (
                format!("{} {}", last.text, since.text),
                since.citations,
                measured_to,
            )
        };
        let mut a = text_answer(text, citations);
        a.understanding = u;
        a.understanding.slots.measured_to = measured_to;
        a
    }

    /// "how long ago was that?", "how many miles ago?": for each record the previous answer cited, the time
    /// from its date to today and the distance from its odometer to the latest trusted reading, in the
    /// vehicle's unit (that reading cited too), or that it has no odometer. With the reading's id when it was
    /// cited only as that yardstick (not one of the records cited before).
    fn since_cited(&self, prev: &PreviousTurn) -> (Answer, Option<String>) {
        if let Some(a) = self.about_the_sale(prev, Intent::FollowUpAgo) {
            return (a, None);
        }
        let cited: Vec<&VehicleEvent> = self.cited_records(prev).into_iter().take(10).collect();
        if cited.is_empty() {
            let a = self.none_cited(prev, "there is nothing to count the time or distance from");
            return (a, None);
        }
        let latest = self.trusted_readings().last().copied();
        // A sold vehicle's last odometer is the sale's when no reading after it is higher: the distance is
        // counted to it (the sale is no record, so it is named, not cited).
        let sale = self.sale().filter(|s| {
            latest
                .and_then(|l| l.odometer)
                .is_none_or(|read| s.odometer > read)
        });
        let mut citations: Vec<Citation> = cited.iter().map(|e| cite(e)).collect();
        let lines: Vec<String> = cited
            .iter()
            .map(|e| {
                let (y, m, d) =
                    calendar_difference(e.occurred_at.date_naive(), self.now.date_naive());
                let mut line = format!("{} was {}", named(e), ago(y, m, d));
                let to_sale = e.odometer.zip(sale).filter(|(o, s)| s.odometer >= *o);
                let distance = match (e.odometer, latest) {
                    (None, _) => {
                        "; no odometer is recorded on it, so the distance since cannot be given"
                            .into()
                    }
                    _ if let Some((o, s)) = to_sale => format!(
                        ", at {}: {} before the sale ({} on {})",
                        self.dist(o),
                        self.dist(s.odometer - o),
                        self.dist(s.odometer),
                        date(&s.sold_at)
                    ),
                    (Some(o), Some(l)) if l.id == e.id => {
                        format!(", at {}, the latest odometer reading", self.dist(o))
                    }
                    (Some(o), Some(l)) if l.odometer.is_some_and(|lo| lo >= o) => {
                        cite_once(&mut citations, l);
                        let lo = l.odometer.unwrap_or_default();
                        format!(
                            ", at {}: {} before the latest reading ({} on {})",
                            self.dist(o),
                            self.dist(lo - o),
                            self.dist(lo),
                            date(&l.occurred_at)
                        )
                    }
                    (Some(o), _) => format!(
                        ", at {}; no later odometer reading is recorded to count the distance from",
                        self.dist(o)
                    ),
                };
                line.push_str(&distance);
                line
            })
            .collect();
        let measured_to = latest
            .filter(|l| !cited.iter().any(|e| e.id == l.id))
            .filter(|l| citations.iter().any(|c| c.event_id == l.id.as_str()))
            .map(|l| l.id.to_string());
        (
            text_answer(
                format!("{}.{}", lines.join("; "), self.voided_note(prev)),
                citations,
            ),
            measured_to,
        )
    }

    /// "why?": a valuation is explained by its factors (or, for a recorded value, by where it came from);
    /// other answers say what can be explained.
    fn why(&self, prev: &PreviousTurn) -> Answer {
        if prev.understanding.intent == Intent::DueItems {
            return self.why_due(&prev.understanding.slots);
        }
        if prev.understanding.intent == Intent::Valuation
            && prev.understanding.slots.before.is_none()
            && prev.understanding.slots.range.is_none()
            && let Some(sold) = self.sold_value()
        {
            return sold;
        }
        if prev.understanding.intent != Intent::Valuation {
            return text_answer(
                format!(
                    "I can explain a valuation from its factors (ask “What is it worth?”, then “why?”) and \
                     what is due from the maintenance schedule (ask “What's due?”, then “why?”); for {}, the \
                     records it used are cited with it.",
                    answer_noun(prev.understanding.intent)
                ),
                Vec::new(),
            );
        }
        let first = prev.about().next();
        // A value recorded on the timeline (an appraisal or the owner's estimate): where it came from.
        if let Some(e) = first.and_then(|c| self.k.event(&c.event_id)) {
            let mut a = self.recorded_valuation(e, "The");
            a.text.push_str(
                " A recorded valuation is a figure given to the timeline: it carries no factors to explain it.",
            );
            if let Some(n) = &e.notes {
                a.text.push_str(&format!(" Its notes: {}", isolated(n)));
            }
            return a;
        }
        match (&self.k.valuation, first) {
            (Some(point), Some(_)) => {
                let v = &point.valuation;
                let (why, citations) = self.factors(point);
                if why.is_empty() {
                    return text_answer(
                        format!(
                            "The estimate of {} as of {} (method: {}) lists no factors.",
                            money(v.amount_cents, &v.currency),
                            v.as_of,
                            v.method.replace('_', " ")
                        ),
                        citations,
                    );
                }
                let sum: i64 = v.factors.iter().map(|f| f.amount_cents).sum();
                let how = if sum == v.amount_cents as i64 {
                    "is the sum of its factors"
                } else {
                    "comes from its factors"
                };
                text_answer(
                    format!(
                        "The estimate of {} as of {} (method: {}) {how}: {}.",
                        money(v.amount_cents, &v.currency),
                        v.as_of,
                        v.method.replace('_', " "),
                        why.join("; ")
                    ),
                    citations,
                )
            }
            _ => text_answer(
                "The previous answer gave no valuation, so there is nothing to explain.".into(),
                Vec::new(),
            ),
        }
    }

    /// "What is my VIN?", "What colour is it?", "What's the plate?": the vehicle's details as the registration
    /// the historian holds gives them (updated by `PATCH /v1/vehicles/{id}`). No timeline record says them, so
    /// nothing is cited; the answer says where they come from, and a detail not kept is said to be not
    /// recorded.
    fn vehicle_facts(&self, s: &Slots) -> Answer {
        let Some(v) = &self.k.vehicle else {
            return text_answer(
                "The vehicle's registration has not reached the chat yet, so its details are not known here."
                    .into(),
                Vec::new(),
            );
        };
        let asked: &[VehicleFact] = if s.vehicle_facts.is_empty() {
            VehicleFact::ALL
        } else {
            &s.vehicle_facts
        };
        let given = |text: &str| Some(text.trim()).filter(|t| !t.is_empty()).map(isolated);
        let mut known = Vec::new();
        let mut missing = Vec::new();
        for fact in asked {
            let (name, value) = match fact {
                VehicleFact::Year => ("model year", Some(v.year.to_string())),
                VehicleFact::Make => ("make", given(&v.make)),
                VehicleFact::Model => ("model", given(&v.model)),
                VehicleFact::Trim => ("trim", v.trim.as_deref().and_then(given)),
                VehicleFact::Colour => ("colour", v.colour.as_deref().and_then(given)),
                VehicleFact::Vin => ("VIN", given(&v.vin)),
                VehicleFact::Plate => ("licence plate", v.plate.as_deref().and_then(given)),
            };
            match value {
                Some(value) => known.push(format!("{name} {value}")),
                None => missing.push(name),
            }
        }
        let missing_text = match missing.as_slice() {
            [] => String::new(),
            [one] => format!("Its {one} is not recorded in the vehicle's registration."),
            [rest @ .., last] => format!(
                "Its {} and {last} are not recorded in the vehicle's registration.",
                rest.join(", ")
            ),
        };
        let text = if known.is_empty() {
            missing_text
        } else {
            let mut text = format!("From the vehicle's registration: {}.", known.join(", "));
            if !missing_text.is_empty() {
                text.push(' ');
                text.push_str(&missing_text);
            }
            text
        };
        text_answer(text, Vec::new())
    }

    /// A question naming another vehicle ("When was the Civic's last oil change?" on a RAV4's page): this chat
    /// reads only this vehicle's records, so it says so and cites nothing, rather than answering with this
    /// vehicle's records as if they were the other's.
    fn another_vehicle(&self, other: &str) -> Answer {
        let this = self.k.vehicle_name();
        let other = isolated(other);
        text_answer(
            format!(
                "This chat answers about this vehicle only, the {this}, from its own records; the {other} \
                 is not this vehicle. To ask about it, open its page and ask there."
            ),
            Vec::new(),
        )
    }

    /// A measurement the records do not hold ("What's my tire pressure?"): said so, with the knowledge
    /// excerpt about it when there is one, never the last work on the part it names.
    fn measurement(&self, what: &str) -> Answer {
        let mut text = format!(
            "This vehicle's records do not hold its {what}: they hold the work done, costs, fill-ups and \
             odometer readings."
        );
        let kb = KnowledgeBase::builtin();
        // Only an excerpt about the measurement itself — every word of it in its title or tags — not one
        // that shares "tire" with it (the tire rotation's), nor "pressure" ("oil pressure" is not the tire
        // pressure excerpt).
        let about = tokens(what);
        let hits: Vec<_> = kb
            .search(what, kb.excerpts.len())
            .into_iter()
            .filter(|e| {
                let named = tokens(&format!("{} {}", e.title, e.tags.join(" ")));
                about.iter().all(|w| named.contains(w))
            })
            .take(1)
            .collect();
        if let Some(best) = hits.first() {
            text.push_str(&format!(" {} (Source: {}.)", best.text, best.source.title));
        }
        let mut a = text_answer(text, Vec::new());
        a.knowledge = hits.iter().map(|e| KnowledgeCitation::of(e)).collect();
        a
    }

    /// A specification of the model the records do not hold ("What oil does it take?"): said so, where it is
    /// given, and the records that touch it — a record naming an oil grade ("0W-20"), else the last of its
    /// task (the last oil change), or those whose words are about it (a tow hitch) — cited, never given as
    /// the answer.
    fn specification(&self, spec: &Specification) -> Answer {
        let what = self.model_label();
        let mut text = format!(
            "This vehicle's records do not hold its {}: that is a specification of {what}, given in {}.",
            spec.name, spec.given_in
        );
        let mut citations = Vec::new();
        let records: Vec<(&VehicleEvent, &RecordFacts)> =
            self.k.events.iter().zip(&self.p.facts).collect();
        let graded: Vec<&VehicleEvent> = if spec.task == Some("oil_change") {
            records
                .iter()
                .filter(|(e, _)| oil_grade(&searchable_text(e, true)).is_some())
                .map(|(e, _)| *e)
                .collect()
        } else {
            Vec::new()
        };
        if let Some(last) = graded.iter().max_by_key(|e| (e.occurred_at, &e.id)) {
            let grade = oil_grade(&searchable_text(last, true)).unwrap_or_default();
            text.push_str(&format!(
                " Its records name {grade}: {}.",
                self.describe(last)
            ));
            cite_once(&mut citations, last);
        } else if let Some(task) = spec.task {
            if let Some(last) = records
                .iter()
                .filter(|(_, f)| f.tasks.iter().any(|t| t == task))
                .map(|(e, _)| *e)
                .max_by_key(|e| (e.occurred_at, &e.id))
            {
                text.push_str(&format!(
                    " The last {} on record: {}.",
                    task_noun(task),
                    self.describe(last)
                ));
                cite_once(&mut citations, last);
            }
        } else if !spec.words.is_empty() {
            let mut touching: Vec<&VehicleEvent> = records
                .iter()
                .filter(|(_, f)| spec.words.iter().any(|w| f.words.iter().any(|x| x == w)))
                .map(|(e, _)| *e)
                .collect();
            touching.sort_by_key(|e| std::cmp::Reverse((e.occurred_at, &e.id)));
            touching.truncate(3);
            if !touching.is_empty() {
                let said: Vec<String> = touching.iter().map(|e| self.describe(e)).collect();
                text.push_str(&format!(" Records about it: {}.", said.join("; ")));
                for e in touching {
                    cite_once(&mut citations, e);
                }
            }
        }
        text_answer(text, citations)
    }

    /// "its model (2021 Toyota RAV4)", or "its model" when the vehicle is not known.
    fn model_label(&self) -> String {
        match &self.k.vehicle {
            Some(v) => format!("its model ({} {} {})", v.year, v.make, v.model),
            None => "its model".into(),
        }
    }

    /// A question neither the records nor the knowledge excerpts speak to ("What's the weather tomorrow?"):
    /// said so, with what can be asked, rather than the nearest unrelated excerpt.
    fn not_said(&self) -> Answer {
        let mut a = self.unclear("");
        a.text = a.text.replacen(
            "I am not sure what you are asking.",
            "This vehicle's records and the maintenance knowledge I hold do not say.",
            1,
        );
        a
    }

    fn unclear(&self, prefix: &str) -> Answer {
        let suggestions = suggestions(self.k);
        let text = format!(
            "{prefix}I am not sure what you are asking. You can ask, for example: {}",
            suggestions
                .iter()
                .take(4)
                .map(|s| format!("“{s}”"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut a = text_answer(text, Vec::new());
        a.suggestions = suggestions;
        a
    }
}

/// What the owner paid, and the acquisition record it was read from (none: given at registration).
/// Past these, a fuel economy says the fill-up log is incomplete, not how the car drives (docs/fuel.md).
const PLAUSIBLE_MPG: f64 = 100.0;
const PLAUSIBLE_L_PER_100KM: f64 = 2.4;

struct PurchasePrice<'a> {
    cents: u64,
    /// The record's currency, else the one given at registration; `None` for a price stored without one
    /// (before the API required it): said so, never read as any currency.
    currency: Option<String>,
    record: Option<&'a VehicleEvent>,
}

impl PurchasePrice<'_> {
    /// "18,500.00 USD", or "24,000.00 (its currency is not recorded)".
    fn shown(&self) -> String {
        money_or_unknown(self.cents, self.currency.as_deref())
    }
}

/// "18,500.00 USD", or "24,000.00 (its currency is not recorded)" for an amount stored without a currency.
fn money_or_unknown(cents: u64, currency: Option<&str>) -> String {
    match currency {
        Some(c) => money(cents, c),
        None => format!(
            "{} (its currency is not recorded)",
            money(cents, "").trim_end()
        ),
    }
}

struct Usage<'a> {
    first: &'a VehicleEvent,
    last: &'a VehicleEvent,
    per_day: f64,
}

/// Whole years, months and days from `from` to `to` (calendar arithmetic).
pub fn calendar_difference(from: NaiveDate, to: NaiveDate) -> (u32, u32, u32) {
    if to <= from {
        return (0, 0, 0);
    }
    let mut months = (to.year() - from.year()) * 12 + to.month() as i32 - from.month() as i32;
    let mut anchor = from.checked_add_months(chrono::Months::new(months.max(0) as u32));
    if anchor.is_none_or(|a| a > to) {
        months -= 1;
        anchor = from.checked_add_months(chrono::Months::new(months.max(0) as u32));
    }
    let days = anchor.map(|a| (to - a).num_days()).unwrap_or(0);
    let months = months.max(0) as u32;
    (months / 12, months % 12, days as u32)
}

/// The schedule's enabled overdue and due-soon items, overdue first, then by due date.
fn due_now(schedule: &MaintenanceScheduleUpdated) -> Vec<&MaintenanceItemView> {
    let mut due: Vec<_> = schedule
        .items
        .iter()
        .filter(|i| {
            i.enabled
                && matches!(
                    i.status,
                    MaintenanceStatus::Overdue | MaintenanceStatus::DueSoon
                )
        })
        .collect();
    due.sort_by_key(|i| {
        (
            i.status != MaintenanceStatus::Overdue,
            i.due_at,
            i.task.clone(),
        )
    });
    due
}

/// "1 year, 2 months and 3 days ago", leaving out what is zero; "today" for no time.
fn ago(years: u32, months: u32, days: u32) -> String {
    let parts: Vec<String> = [
        (years, "year", "years"),
        (months, "month", "months"),
        (days, "day", "days"),
    ]
    .iter()
    .filter(|(n, _, _)| *n > 0)
    .map(|(n, one, many)| plural(*n as usize, one, many))
    .collect();
    match parts.as_slice() {
        [] => "today".into(),
        [one] => format!("{one} ago"),
        [rest @ .., last] => format!("{} and {last} ago", rest.join(", ")),
    }
}

/// Quick prompts for this vehicle: questions its records can answer.
pub fn suggestions(k: &VehicleKnowledge) -> Vec<String> {
    let mut out = Vec::new();
    let has = |kind: EventKind| k.events.iter().any(|e| e.kind == kind);
    let has_task = |task: &str| {
        k.events
            .iter()
            .any(|e| e.maintenance_tasks().iter().any(|t| t == task))
    };
    if has_task("oil_change") {
        out.push("When was the oil last changed?".to_string());
    }
    // A sold or archived vehicle has nothing due (docs/corrections.md).
    let retired = k.vehicle.as_ref().is_some_and(|v| v.is_retired());
    if k.maintenance.is_some() && !retired {
        out.push("What is due next?".into());
    }
    if has(EventKind::Maintenance) || has(EventKind::Repair) {
        out.push("How much have I spent on maintenance this year?".into());
        out.push("Where do I usually take it?".into());
    }
    if has(EventKind::Collision) {
        out.push("Has it been in an accident?".into());
    }
    // A sold vehicle's worth is its sale: asked about, not about a value that stopped at the sale.
    let sold = k.vehicle.as_ref().is_some_and(|v| v.sale.is_some());
    if sold {
        out.push("When did I sell it, and for how much?".into());
    } else if k.valuation.is_some() || has(EventKind::Valuation) {
        out.push("What is it worth, and why?".into());
    }
    if has(EventKind::Acquisition) {
        out.push("What is the total cost of ownership?".into());
        out.push(if sold {
            "How long did I own it?".into()
        } else {
            "How long have I owned it?".into()
        });
    }
    if k.events.iter().filter(|e| e.odometer.is_some()).count() >= 2 {
        out.push(match k.unit() {
            vwc_contracts::OdometerUnit::Km => "How many km do I drive per month?".into(),
            _ => "How many miles do I drive per month?".into(),
        });
    }
    if has(EventKind::Upgrade) {
        out.push("What upgrades have I made?".into());
    }
    // The knowledge excerpt about a collision's diminished value: offered where there was a collision.
    if has(EventKind::Collision) {
        out.push("Why does 17c diminished value matter?".into());
    }
    if out.len() < 4 {
        out.push("What was done last year?".into());
        out.push("What should I do to keep it in good shape?".into());
    }
    out
}

/// Splits an answer into stream chunks of a few words; the chunks concatenate to the answer.
pub fn chunks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut words = 0;
    for piece in text.split_inclusive(' ') {
        current.push_str(piece);
        words += 1;
        if words == 4 {
            out.push(std::mem::take(&mut current));
            words = 0;
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Normalised question text, for audit listings that group by what was asked.
pub fn normalised_question(q: &str) -> String {
    normalise(q).trim().to_string()
}

#[cfg(test)]
mod tests;

/// An engine oil grade a record names ("0W-20", "5w30", "10W-40"): the first, as SAE writes it.
fn oil_grade(text: &str) -> Option<String> {
    let b = text.as_bytes();
    for (i, c) in b.iter().enumerate() {
        if !(c.eq_ignore_ascii_case(&b'w')) || i == 0 {
            continue;
        }
        // Up to two digits before the W (not part of a longer word or number)…
        let start = (0..i)
            .rev()
            .take_while(|&j| b[j].is_ascii_digit())
            .last()
            .unwrap_or(i);
        if start == i || i - start > 2 || (start > 0 && b[start - 1].is_ascii_alphanumeric()) {
            continue;
        }
        // …then an optional hyphen and two digits, ending the word.
        let mut k = i + 1;
        if b.get(k) == Some(&b'-') {
            k += 1;
        }
        let digits = b[k..].iter().take_while(|d| d.is_ascii_digit()).count();
        if digits != 2 || b.get(k + 2).is_some_and(|d| d.is_ascii_alphanumeric()) {
            continue;
        }
        return Some(format!("{}W-{}", &text[start..i], &text[k..k + 2]));
    }
    None
}
