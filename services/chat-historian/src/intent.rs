//! Question understanding: a question becomes an [`Intent`] with [`Slots`] (task, part, system, kind,
//! vendor, time range). Pure and deterministic: phrase rules over the normalised question, with the vendors,
//! parts and systems the vehicle's own records name as vocabulary.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use vwc_contracts::{EventKind, OdometerUnit};

vwc_contracts::wire_enum! {
    pub enum Intent {
        /// When X was last done (date, odometer, vendor).
        LastDone,
        /// How many times X was done.
        CountDone,
        /// Who did X.
        WhoDid,
        /// What happened (in a range, of a kind).
        ListEvents,
        /// Totals by kind / year / vendor.
        TotalCost,
        /// Everything it has cost, acquisition included.
        CostOfOwnership,
        /// Collisions: severity, structural, airbag, claim.
        Accidents,
        /// Purchase details.
        Purchase,
        /// Current value and why.
        Valuation,
        /// What is due or overdue, and when.
        DueItems,
        /// Usage rate and the estimated odometer today.
        UsageRate,
        Upgrades,
        /// Where the owner usually goes.
        UsualVendor,
        /// How long it has been owned.
        OwnershipLength,
        /// A general maintenance question, answered from the knowledge excerpts.
        Knowledge,
        /// Free text over the records.
        Search,
        /// "and before that?": the previous question, before what it cited.
        FollowUpBefore,
        /// "how much did it cost?": the cost of what the previous answer cited.
        FollowUpCost,
        /// Not understood: suggestions.
        Unclear,
        /// Fuel economy over full-to-full fill-ups, cost per distance, and a drop against the usual.
        FuelEconomy,
        /// When it was sold and for how much.
        Sale,
        /// "why?": how the previous answer was reached (a valuation from its factors).
        FollowUpWhy,
        /// "who did it?", "which shop?": the vendor of the records the previous answer cited.
        FollowUpVendor,
        /// "what was the mileage?": the odometer of the records the previous answer cited.
        FollowUpOdometer,
        /// "and in 2024?", "and before 2025?": the previous question again, over the range named.
        FollowUpRange,
        /// "how long ago was that?", "how many miles ago?": the time and distance since the records the previous
        /// answer cited.
        FollowUpAgo,
        /// "What is my VIN?", "What colour is it?", "What's the plate?": the vehicle's own details as its
        /// registration holds them (no timeline record).
        VehicleFacts,
    }
}

vwc_contracts::wire_enum! {
    /// A detail of the vehicle's registration a question asks for.
    pub enum VehicleFact {
        Year,
        Make,
        Model,
        Trim,
        Colour,
        Vin,
        Plate,
    }
}

/// A time range as asked ("in 2024", "last year", "since I bought it", "in the last 6 months").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RangeSpec {
    Year {
        year: i32,
    },
    LastYear,
    ThisYear,
    SincePurchase,
    LastMonths {
        months: u32,
    },
    /// "in the last 30 days", "in the past 2 weeks".
    LastDays {
        days: u32,
    },
    /// The calendar month so far.
    ThisMonth,
    /// The calendar month before this one ("last month").
    PreviousMonth,
    /// A calendar month ("in March 2026").
    Month {
        year: i32,
        month: u32,
    },
    /// A calendar month named without its year ("in March"): its latest one that has begun.
    RecentMonth {
        month: u32,
    },
    /// From the start of a month up to now ("since March", "since March 2025"); without a year, the
    /// month's latest start that has come.
    SinceMonth {
        month: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        year: Option<i32>,
    },
    /// From the start of a year up to now ("since 2024").
    SinceYear {
        year: i32,
    },
    /// Calendar bounds the question names ("before 2025", "after March 2024", "between January and March
    /// 2026", "in Q1 2026"): from the first day `from` (or the beginning) up to the day `to` (or now),
    /// `to` excluded.
    Dates {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<NaiveDate>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<NaiveDate>,
        label: String,
    },
    /// Before the latest acquisition: "before I bought it", "the previous owner".
    BeforePurchase,
    /// A meteorological season of the northern hemisphere (spring March–May, summer June–August, autumn
    /// September–November, winter December–February, named by the year it starts in): of `year`, or the
    /// latest one that has ended ("last spring").
    Season {
        /// The season's first month: 3, 6, 9 or 12.
        first_month: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        year: Option<i32>,
    },
    /// "last December": the latest such month that has ended.
    PastMonth {
        month: u32,
    },
    /// "this June": that month of the current calendar year.
    MonthThisYear {
        month: u32,
    },
    /// "two years ago": that calendar year.
    YearsAgo {
        years: u32,
    },
    /// The months just before a rolling period, as a comparison's second side names them ("the 6 months
    /// before", "the previous 6 months" after "in the last 6 months"): `months` months ending where the last
    /// `before` months begin.
    MonthsBefore {
        months: u32,
        before: u32,
    },
    /// The same in days ("the 30 days before", "the previous 2 weeks" after "in the past 2 weeks"): `days`
    /// days ending where the last `before` days begin.
    DaysBefore {
        days: u32,
        before: u32,
    },
    /// The calendar month `months` before this one, as a comparison's second side names it ("the month
    /// before" last month: 2).
    MonthsAgo {
        months: u32,
    },
    /// A range the question names but that cannot be read ("in the last 0 months"): said back, never
    /// answered as if no range had been asked.
    Unreadable {
        said: String,
    },
}

/// A range resolved against now and the records: `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// How an answer names it: "in 2024", "since you bought it".
    pub label: String,
}

impl TimeRange {
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }
}

/// The slots of a question. Everything optional; the engine says what it used.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Slots {
    /// A maintenance task code (`oil_change`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// A part a repair named, as recorded ("front brake pads").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
    /// A repair system as recorded ("brakes").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<EventKind>,
    /// Every kind, when the question names several ("maintenance and repairs"); `kind` is the first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<EventKind>,
    /// A vendor as recorded ("Main St Auto").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<RangeSpec>,
    /// Only records strictly before this instant (a follow-up's "before that").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<DateTime<Utc>>,
    /// The record `before` was read from: records at that same instant come before it when their id sorts
    /// first, as the timeline orders records (occurredAt, then id), so a sibling at the same time is not
    /// skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_record: Option<String>,
    /// What the question is about in words ("oil change", "brake pads"), for answers and search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// A cost asked of what the owner spent ("How much have I spent…"): without a range it counts from the
    /// latest acquisition, since an earlier owner's records are not what they spent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub owner: bool,
    /// The reading a "how many miles ago?" answer measured its distances to: cited with that answer, but not
    /// what it is about, so the follow-ups after it ("who did it?") leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_to: Option<String>,
    /// Another vehicle the question names ("the Civic" asked on a RAV4's page, another VIN): the chat reads
    /// only this vehicle's records, so it answers nothing about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_vehicle: Option<String>,
    /// A measurement the records do not hold ("tire pressure"): said so, never the nearest record's work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement: Option<String>,
    /// A specification of the vehicle's model the records do not hold ("recommended oil", "towing
    /// capacity"): said so, with where it is given and the records that touch it, never the last oil change
    /// as if it answered "What oil does it take?".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specification: Option<String>,
    /// Several dealers' records, for a question about "the dealer" when more than one dealer is recorded
    /// (one dealer is `vendor`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dealers: Vec<String>,
    /// Which of the selected records a question asks about: "the first oil change", "the last oil change"
    /// (its cost), "the cheapest", "the most expensive", "the average cost".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pick: Option<Pick>,
    /// The registration details a `vehicle_facts` question asks for ("What is my VIN?": the VIN); empty, all
    /// of them ("What car is this?").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vehicle_facts: Vec<VehicleFact>,
    /// The distance unit the question asks in ("How many km do I drive per month?"): distances in the
    /// vehicle's other unit are converted and given with the recorded figure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_unit: Option<OdometerUnit>,
    /// The currency the question asks in ("How much in EUR have I spent?"): amounts are never converted (no
    /// rates are held); an answer in another currency says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The second period a cost comparison names ("more this year than last year?": last year; `range` is
    /// this year): both totals are given and compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<RangeSpec>,
    /// Several subjects the question joins with "and", "or" or "plus" ("oil changes and repairs": a task and
    /// a kind; "oil changes or tire rotations"): the records of any of them, each said apart (a cost, a
    /// count) with their total, never the records that are all of them at once. When it is not empty, `task`,
    /// `part`, `system`, `kind` and `kinds` are not set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub either: Vec<Subject>,
    /// A comparison asked the other way round ("Did I spend less this year than last year?", "fewer oil
    /// changes"): the verdict names the period with less, in the question's words.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fewer: bool,
}

/// One of several subjects a question joins ([`Slots::either`]): a task, a kind, or a part or system as the
/// vehicle's records name it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<EventKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
}

/// One of the selected records, or their mean cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    First,
    Last,
    Cheapest,
    MostExpensive,
    Average,
}

/// Which record a question picks: "first" (not "since I first bought it"), "the last / my latest / most
/// recent" before what it names (not "last year", "the last 6 months"), the cheapest, the most expensive,
/// the average.
fn pick_of(q: &str) -> Option<Pick> {
    if has_any(
        q,
        &[
            "cheapest",
            "least expensive",
            "lowest cost",
            "lowest price",
            "least i paid",
            "least i spent",
        ],
    ) {
        return Some(Pick::Cheapest);
    }
    if has_any(
        q,
        &[
            "most expensive",
            "priciest",
            "costliest",
            "highest cost",
            "highest price",
            "biggest expense",
            "most i paid",
            "most i spent",
        ],
    ) {
        return Some(Pick::MostExpensive);
    }
    if has_any(
        q,
        &[
            "average",
            "on average",
            "typical cost",
            "mean cost",
            "usually cost",
        ],
    ) {
        return Some(Pick::Average);
    }
    if has_any(q, &["first", "earliest"])
        && !has_any(
            q,
            &[
                "first bought",
                "first got",
                "first owned",
                "first had",
                "at first",
                "first owner",
            ],
        )
    {
        return Some(Pick::First);
    }
    const RANGE_WORDS: [&str; 16] = [
        "year",
        "years",
        "month",
        "months",
        "week",
        "weeks",
        "day",
        "days",
        "fortnight",
        "quarter",
        "spring",
        "summer",
        "autumn",
        "fall",
        "winter",
        "time",
    ];
    let words: Vec<&str> = q.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        let lead = i.checked_sub(1).map(|j| words[j]);
        let next = words.get(i + 1).copied().unwrap_or("");
        let picked = match *w {
            "last" | "latest" => {
                matches!(
                    lead,
                    Some("the" | "my" | "our" | "his" | "her" | "their" | "that")
                )
            }
            "recent" => lead == Some("most"),
            _ => false,
        };
        if picked
            && !RANGE_WORDS.contains(&next)
            && number_word(next).is_none()
            && month_of(next).is_none()
            && !next.is_empty()
        {
            return Some(Pick::Last);
        }
    }
    None
}

impl Slots {
    /// Whether the question keeps only some vendors' records: one it names, or the dealers.
    pub fn names_vendor(&self) -> bool {
        self.vendor.is_some() || !self.dealers.is_empty()
    }

    pub fn has_subject(&self) -> bool {
        self.task.is_some()
            || self.part.is_some()
            || self.system.is_some()
            || !self.either.is_empty()
    }

    /// The records of `kind` in this question's time bounds (its range and "before that"), nothing else.
    pub fn of_kind(&self, kind: EventKind) -> Slots {
        Slots {
            kind: Some(kind),
            range: self.range.clone(),
            before: self.before,
            before_record: self.before_record.clone(),
            ..Slots::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Understanding {
    pub intent: Intent,
    pub slots: Slots,
}

/// What the vehicle's records name, so a question can be matched against them.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub vendors: Vec<String>,
    pub parts: Vec<String>,
    pub systems: Vec<String>,
    /// The vehicle's own names (make, model, nickname): never the subject of a question about it.
    pub vehicle: Vec<String>,
    /// The vehicle's own VIN: a question naming another is about another vehicle.
    pub vin: Option<String>,
    /// The vendors that are dealers: a dealer sent their records (a dealer id), or their name holds the
    /// vehicle's make ("Lakeside Toyota" for a Toyota) or the word "dealer". What "the dealer" means.
    pub dealers: Vec<String>,
}

/// A maintenance task: its code, how answers name it, and the phrases that ask for it (normalised words).
pub struct TaskPhrase {
    pub code: &'static str,
    pub noun: &'static str,
    pub phrases: &'static [&'static str],
}

/// The catalogue's tasks and the ways people ask about them. Longer phrases are tried first.
pub const TASKS: &[TaskPhrase] = &[
    TaskPhrase {
        code: "cabin_air_filter",
        noun: "cabin air filter replacement",
        phrases: &[
            "cabin air filter",
            "cabin air filters",
            "cabin filter",
            "pollen filter",
        ],
    },
    TaskPhrase {
        code: "engine_air_filter",
        noun: "engine air filter replacement",
        phrases: &[
            "engine air filter",
            "engine air filters",
            "engine filter",
            "air filter",
            "air filters",
        ],
    },
    TaskPhrase {
        code: "oil_change",
        noun: "oil change",
        phrases: &[
            "oil change",
            "oil changes",
            "oil changed",
            "change the oil",
            "changed the oil",
            "oil and filter",
            "oil and filter change",
            "oil and filter changes",
            "oil",
        ],
    },
    TaskPhrase {
        code: "tire_rotation",
        noun: "tire rotation",
        phrases: &[
            "tire rotation",
            "tire rotations",
            "tyre rotation",
            "rotations",
            "rotate the tires",
            "rotated the tires",
            "tires rotated",
            "tires were rotated",
            "rotation",
            "rotated",
            "rotate",
            "rotating",
        ],
    },
    TaskPhrase {
        code: "brake_inspection",
        noun: "brake inspection",
        phrases: &[
            "brake inspection",
            "brake inspections",
            "brakes inspected",
            "brake check",
            "brakes checked",
        ],
    },
    TaskPhrase {
        code: "brake_fluid",
        noun: "brake fluid replacement",
        phrases: &["brake fluid"],
    },
    TaskPhrase {
        code: "coolant",
        noun: "coolant replacement",
        phrases: &["coolant", "antifreeze", "radiator flush"],
    },
    TaskPhrase {
        code: "battery_check",
        noun: "battery test",
        phrases: &[
            "battery test",
            "battery tests",
            "battery check",
            "battery checks",
            "battery tested",
            "battery checked",
        ],
    },
    TaskPhrase {
        code: "wiper_blades",
        noun: "wiper blade replacement",
        phrases: &["wiper blades", "wiper blade", "wipers", "wiper"],
    },
    TaskPhrase {
        code: "transmission_fluid",
        noun: "transmission fluid replacement",
        phrases: &["transmission fluid", "transmission service", "atf"],
    },
    TaskPhrase {
        code: "spark_plugs",
        noun: "spark plug replacement",
        phrases: &["spark plugs", "spark plug"],
    },
    TaskPhrase {
        code: "annual_inspection",
        noun: "safety inspection",
        phrases: &[
            "safety inspection",
            "safety inspections",
            "state inspection",
            "annual inspection",
            "inspection",
            "inspections",
            "inspected",
        ],
    },
];

pub fn task_noun(code: &str) -> String {
    TASKS
        .iter()
        .find(|t| t.code == code)
        .map(|t| t.noun.to_string())
        .unwrap_or_else(|| code.replace('_', " "))
}

/// Lower case, punctuation to spaces, British spellings folded, single spaces, padded with one space on
/// each side so phrases match on word boundaries (`" oil "`).
pub fn normalise(text: &str) -> String {
    let lowered: String = text
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c
            } else {
                ' '
            }
        })
        .collect();
    let words: Vec<String> = lowered
        .split_whitespace()
        .map(|w| {
            let w = w.trim_matches('\'');
            match w {
                "tyre" => "tire".to_string(),
                "tyres" => "tires".to_string(),
                "what's" => "what is".to_string(),
                "when's" => "when is".to_string(),
                "it's" => "it is".to_string(),
                "i've" => "i have".to_string(),
                "we've" => "we have".to_string(),
                "how's" => "how is".to_string(),
                other => other.replace('\'', ""),
            }
        })
        .filter(|w| !w.is_empty())
        .collect();
    format!(" {} ", words.join(" "))
}

/// The part of `question` that [`normalise`]s to the words `said` ("since 2025-02-30" for "since 2025 02 30"),
/// from its first word's first character to its last word's last.
fn as_written(question: &str, said: &str) -> Option<String> {
    let want: Vec<&str> = said.split_whitespace().collect();
    // Each normalised word with the span of the question's word it came from ("what's" gives two).
    let mut words: Vec<(String, usize, usize)> = Vec::new();
    let mut start = None;
    let is_word = |c: char| c.is_alphanumeric() || c == '\'';
    for (at, c) in question
        .char_indices()
        .chain(std::iter::once((question.len(), ' ')))
    {
        match (is_word(c), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                for w in normalise(&question[from..at]).split_whitespace() {
                    words.push((w.to_string(), from, at));
                }
                start = None;
            }
            _ => {}
        }
    }
    let first = words.windows(want.len().max(1)).find(|run| {
        run.iter()
            .map(|(w, ..)| w.as_str())
            .eq(want.iter().copied())
    })?;
    Some(question[first.first()?.1..first.last()?.2].to_string())
}

fn has(q: &str, phrase: &str) -> bool {
    q.contains(&format!(" {phrase} "))
}

/// Words that name upgrades: the upgrade kind, and (with a few phrases more) the upgrades question.
const UPGRADE_WORDS: &[&str] = &[
    "upgrade",
    "upgrades",
    "upgraded",
    "modification",
    "modifications",
    "mods",
    "accessories",
];

fn has_any(q: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| has(q, p))
}

fn starts(q: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| q.starts_with(&format!(" {p} ")))
}

/// The question without the words that only lead into a follow-up ("and", "so", "what about") or trail it
/// ("then"), trimmed: "and who did it then" is "who did it".
fn follow_up_core(q: &str) -> String {
    const LEADS: [&str; 10] = [
        "and what about",
        "and how about",
        "what about",
        "how about",
        "and",
        "so",
        "but",
        "ok",
        "okay",
        "then",
    ];
    let mut rest = q.trim().to_string();
    while let Some(lead) = LEADS
        .iter()
        .find(|l| rest.starts_with(&format!("{l} ")) || rest == **l)
    {
        rest = rest[lead.len()..].trim().to_string();
    }
    for tail in [
        " then",
        " again",
        " please",
        " in km",
        " in kms",
        " in kilometers",
        " in kilometres",
        " in miles",
    ] {
        if let Some(r) = rest.strip_suffix(tail) {
            rest = r.trim().to_string();
        }
    }
    rest
}

/// The distance unit a question asks in: "km", "kilometres" or "miles" ("mileage" names no unit).
fn distance_unit_asked(q: &str) -> Option<OdometerUnit> {
    if has_any(
        q,
        &[
            "km",
            "kms",
            "kilometer",
            "kilometers",
            "kilometre",
            "kilometres",
        ],
    ) {
        Some(OdometerUnit::Km)
    } else if has_any(q, &["mi", "mile", "miles"]) {
        Some(OdometerUnit::Mi)
    } else {
        None
    }
}

/// The currency a question asks in: an ISO 4217 code written in capitals ("in EUR", "CAD"), a code or a
/// currency's name in any case ("eur", "euros", "pounds sterling", "yen", "canadian dollars"). Plain
/// "dollars" and "$" name no one currency.
fn currency_asked(question: &str, q: &str) -> Option<String> {
    // Capitals that are everyday words too ("ALL" is also the lek's code).
    const WORDS: [&str; 6] = ["ALL", "TOP", "TRY", "CUP", "MOP", "BOB"];
    let written = question
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| {
            w.len() == 3
                && w.chars().all(|c| c.is_ascii_uppercase())
                && !WORDS.contains(w)
                && vwc_contracts::currency::is_iso4217(w)
        });
    if let Some(code) = written {
        return Some(code.to_string());
    }
    if question.contains('€') {
        return Some("EUR".into());
    }
    if question.contains('£') {
        return Some("GBP".into());
    }
    const NAMES: &[(&str, &[&str])] = &[
        ("EUR", &["eur", "euro", "euros"]),
        (
            "USD",
            &["usd", "us dollars", "us dollar", "american dollars"],
        ),
        (
            "GBP",
            &[
                "gbp",
                "pounds sterling",
                "pound sterling",
                "sterling",
                "british pounds",
                "in pounds",
                "quid",
            ],
        ),
        ("CAD", &["cad", "canadian dollars", "canadian dollar"]),
        ("AUD", &["aud", "australian dollars", "australian dollar"]),
        ("NZD", &["nzd", "new zealand dollars"]),
        ("JPY", &["jpy", "yen"]),
        ("CHF", &["chf", "swiss francs", "swiss franc"]),
        ("SEK", &["sek", "swedish kronor", "swedish krona"]),
        ("NOK", &["nok", "norwegian kroner", "norwegian krone"]),
        ("DKK", &["dkk", "danish kroner", "danish krone"]),
        ("MXN", &["mxn", "mexican pesos", "pesos"]),
        ("INR", &["inr", "rupees"]),
        ("CNY", &["cny", "yuan", "renminbi", "rmb"]),
    ];
    NAMES
        .iter()
        .find(|(_, names)| has_any(q, names))
        .map(|(code, _)| code.to_string())
}

/// "why?", "how come?", "why is that?": how the previous answer was reached.
const WHY_FOLLOW_UPS: &[&str] = &[
    "why",
    "why is that",
    "why so",
    "why that",
    "why is it",
    "why not",
    "how come",
    "explain",
    "explain that",
    "explain it",
    "explain why",
    "please explain",
    "why is it worth that",
    "why is it worth that much",
    "why is it worth so much",
    "why is it worth so little",
    "why that much",
    "why so much",
    "why so little",
    "why so low",
    "why so high",
    "why that value",
    "why that amount",
    "why that price",
    "what explains it",
    "what explains that",
    "how was it worked out",
    "how was that worked out",
    "how was it calculated",
    "how was that calculated",
    "how is it calculated",
    "how is that calculated",
    "how did you get that",
    "how did you work that out",
    "where does that come from",
    "where does it come from",
];

/// "who did it?", "which shop?", "where was it done?": the vendor of what the previous answer cited.
const VENDOR_FOLLOW_UPS: &[&str] = &[
    "who",
    "who did it",
    "who did that",
    "who did this",
    "who did the work",
    "who was it",
    "who was that",
    "who was it done by",
    "who was that done by",
    "who by",
    "by whom",
    "done by whom",
    "who was the vendor",
    "who was the shop",
    "which shop",
    "which shop was it",
    "which shop was that",
    "which shop did it",
    "which shop did that",
    "which garage",
    "which garage was it",
    "which garage did it",
    "which mechanic",
    "which mechanic was it",
    "which dealer",
    "which dealer was it",
    "which vendor",
    "what shop",
    "what shop was it",
    "what garage",
    "what vendor",
    "what was the shop",
    "at which shop",
    "at what shop",
    "where",
    "where was it",
    "where was that",
    "where was it done",
    "where was that done",
    "where was this done",
    "where did i get it done",
    "where did i get that done",
    "where did i have it done",
    "where did i have that done",
    "where did i go",
    "where did they do it",
];

/// "what was the mileage?", "what was the odometer?": the odometer of what the previous answer cited.
const ODOMETER_FOLLOW_UPS: &[&str] = &[
    "mileage",
    "the mileage",
    "odometer",
    "the odometer",
    "what mileage",
    "what odometer",
    "what was the mileage",
    "what was the odometer",
    "what was the odometer reading",
    "what was the reading",
    "what were the miles",
    "what was the km",
    "what was the kilometers",
    "what was the kilometres",
    "what mileage was it",
    "what mileage was it at",
    "what mileage was that",
    "what mileage was that at",
    "at what mileage",
    "at what mileage was it",
    "at what mileage was that",
    "at what odometer",
    "at how many miles",
    "at how many km",
    "how many miles",
    "how many miles was it",
    "how many miles was it at",
    "how many miles was that",
    "how many miles was that at",
    "how many miles did it have",
    "how many miles were on it",
    "how many km",
    "how many km was it",
    "how many km was it at",
    "how many km did it have",
    "how many kilometers was it",
    "how many kilometres was it",
    "how far had it gone",
];

/// "how long ago was that?", "how many miles ago?": the time and distance since what the previous answer cited.
const AGO_FOLLOW_UPS: &[&str] = &[
    "how long ago",
    "how long ago was that",
    "how long ago was it",
    "how long ago was this",
    "how long ago is that",
    "how long since",
    "how long since then",
    "how long has it been",
    "how long has it been since",
    "how long has it been since then",
    "how far back was that",
    "how many days ago",
    "how many days ago was that",
    "how many months ago",
    "how many months ago was that",
    "how many years ago",
    "how many years ago was that",
    "how many miles ago",
    "how many miles ago was that",
    "how many miles ago was it",
    "how many km ago",
    "how many km ago was that",
    "how many km ago was it",
    "how many kilometers ago",
    "how many kilometers ago was that",
    "how many kilometres ago",
    "how many kilometres ago was that",
    "how many miles since",
    "how many miles since then",
    "how many miles since that",
    "how many km since",
    "how many km since then",
    "how many km since that",
    "how far ago",
    "how far since then",
    "how far have i driven since",
    "how far have i driven since then",
    "how many miles have i driven since",
    "how many miles have i driven since then",
    "how many km have i driven since",
    "how many km have i driven since then",
];

/// Whether the question is nothing but a time range, led into as a follow-up: "and in 2024?", "and before
/// 2025?", "what about last year?", "since I bought it?". It asks the previous question again over that
/// range; a question of its own ("in 2024, what was done?") holds a word of its own.
fn only_a_range(q: &str) -> bool {
    const QUESTION_WORDS: [&str; 22] = [
        "what", "how", "when", "who", "which", "where", "why", "did", "do", "does", "was", "were",
        "is", "are", "has", "much", "many", "cost", "costs", "spent", "spend", "done",
    ];
    let core = follow_up_core(q);
    let words: Vec<&str> = core.split_whitespace().collect();
    // A day is one word of the range however it is written ("2025-01-01" is three words once normalised,
    // as is "1 January 2025").
    let mut said = 0;
    let mut i = 0;
    while i < words.len() {
        i += if day_at(&words, i).is_some() { 3 } else { 1 };
        said += 1;
    }
    !words.is_empty() && said <= 6 && !words.iter().any(|w| QUESTION_WORDS.contains(w))
}

/// Whether the question counts from the purchase: "since I bought it", "since we bought the van", "since we
/// got it", "since I have owned it". "We" is the owner as "I" is (a fleet manager says "we"); "got", "had" and
/// "owned" need the vehicle after them ("since I got new tires" is no purchase).
fn since_purchase(q: &str) -> bool {
    const ANY_OBJECT: [&str; 3] = ["bought", "purchased", "acquired"];
    const VEHICLE_OBJECT: [&str; 8] = [
        "got",
        "get",
        "had",
        "have had",
        "owned",
        "have owned",
        "own",
        "took delivery of",
    ];
    const VEHICLES: [&str; 12] = [
        "car",
        "truck",
        "van",
        "vehicle",
        "suv",
        "pickup",
        "minivan",
        "wagon",
        "jeep",
        "bike",
        "motorcycle",
        "rv",
    ];
    if has_any(q, &["since buying", "since purchase", "since the purchase"]) {
        return true;
    }
    ["i", "we"].iter().any(|who| {
        ANY_OBJECT
            .iter()
            .any(|verb| has(q, &format!("since {who} {verb}")))
            || VEHICLE_OBJECT.iter().any(|verb| {
                let lead = format!(" since {who} {verb} ");
                q.split_once(&lead).is_some_and(|(_, rest)| {
                    let mut words = rest.split_whitespace();
                    match words.next() {
                        Some("it" | "her" | "him" | "them") => true,
                        Some("the" | "my" | "our" | "this" | "that") => {
                            words.next().is_some_and(|w| VEHICLES.contains(&w))
                        }
                        _ => false,
                    }
                })
            })
    })
}

/// Whether the question asks about the time before the purchase: "before I bought it", "before we got the
/// van", "before the purchase", "the previous owner".
fn before_purchase(q: &str) -> bool {
    if has_any(
        q,
        &[
            "before the purchase",
            "before purchase",
            "before buying it",
            "before i owned it",
            "before we owned it",
            "previous owner",
            "previous owners",
            "prior owner",
            "prior owners",
            "former owner",
            "former owners",
            "last owner",
            "earlier owner",
        ],
    ) {
        return true;
    }
    // "before I bought it" reads as "since I bought it" does.
    let as_since = q.replace(" before ", " since ");
    q.contains(" before ") && since_purchase(&as_since)
}

/// Seasons ("last spring", "in the summer of 2025", "autumn 2024"), "last December", "two years ago": the
/// ranges read against now; a season or "ago" that cannot be placed is said back.
fn season_or_ago(q: &str) -> Option<RangeSpec> {
    let words: Vec<&str> = q.split_whitespace().collect();
    let season = |w: &str| match w {
        "spring" => Some(3),
        "summer" => Some(6),
        "autumn" | "fall" => Some(9),
        "winter" => Some(12),
        _ => None,
    };
    let year_of = |w: Option<&&str>| {
        w.and_then(|w| {
            w.parse::<i32>()
                .ok()
                .filter(|y| w.len() == 4 && (1886..=2200).contains(y))
        })
    };
    for (i, w) in words.iter().enumerate() {
        let lead = i.checked_sub(1).map(|j| words[j]);
        if let Some(first_month) = season(w) {
            // "spring 2025", "spring of 2025", "the spring of 2025".
            let year = year_of(words.get(i + 1)).or_else(|| {
                (words.get(i + 1) == Some(&"of"))
                    .then(|| year_of(words.get(i + 2)))
                    .flatten()
            });
            if year.is_some() || matches!(lead, Some("last" | "past" | "previous")) {
                return Some(RangeSpec::Season { first_month, year });
            }
            // "in spring", "this summer": said back rather than read as another period (not "the winter
            // tires").
            let next = words.get(i + 1).copied().unwrap_or("");
            let lead = match lead {
                Some("the") => i.checked_sub(2).map(|j| words[j]),
                other => other,
            };
            if matches!(lead, Some("in" | "this" | "during" | "over"))
                && matches!(
                    next,
                    "" | "and" | "or" | "when" | "did" | "was" | "were" | "i" | "we"
                )
            {
                return Some(RangeSpec::Unreadable {
                    said: words[i.saturating_sub(1)..=i].join(" "),
                });
            }
        }
        if matches!(lead, Some("last" | "previous"))
            && let Some(month) = month_at(&words, i)
        {
            return Some(RangeSpec::PastMonth { month });
        }
        if lead == Some("this")
            && let Some(month) = month_at(&words, i)
        {
            return Some(RangeSpec::MonthThisYear { month });
        }
        if *w == "ago"
            && i >= 2
            && matches!(words[i - 1], "year" | "years")
            && let Some(n) = number_word(words[i - 2]).or((words[i - 2] == "a").then_some(1))
        {
            return Some(if n <= 200 {
                RangeSpec::YearsAgo { years: n }
            } else {
                RangeSpec::Unreadable {
                    said: words[i - 2..=i].join(" "),
                }
            });
        }
    }
    None
}

/// The time range a question names, if any.
pub fn range_of(q: &str) -> Option<RangeSpec> {
    if since_purchase(q) {
        return Some(RangeSpec::SincePurchase);
    }
    if before_purchase(q) {
        return Some(RangeSpec::BeforePurchase);
    }
    if let Some(spec) = season_or_ago(q) {
        return Some(spec);
    }
    // "last year's", "this year's" are normalised "last years", "this years".
    if has_any(
        q,
        &["last year", "previous year", "last years", "previous years"],
    ) {
        return Some(RangeSpec::LastYear);
    }
    if has_any(
        q,
        &[
            "this year",
            "this years",
            "so far this year",
            "year to date",
            "ytd",
        ],
    ) {
        return Some(RangeSpec::ThisYear);
    }
    if has_any(
        q,
        &[
            "past year",
            "last 12 months",
            "past 12 months",
            "last twelve months",
        ],
    ) {
        return Some(RangeSpec::LastMonths { months: 12 });
    }
    if has_any(q, &["this month", "so far this month"]) {
        return Some(RangeSpec::ThisMonth);
    }
    // "in the last month" is the month up to today; "last month" the calendar month before this one.
    if has_any(q, &["the last month", "the past month", "past month"]) {
        return Some(RangeSpec::LastMonths { months: 1 });
    }
    if has_any(q, &["last month", "previous month"]) {
        return Some(RangeSpec::PreviousMonth);
    }
    if has_any(
        q,
        &["the last week", "the past week", "past week", "last week"],
    ) {
        return Some(RangeSpec::LastDays { days: 7 });
    }
    if has_any(
        q,
        &["the last fortnight", "past fortnight", "last fortnight"],
    ) {
        return Some(RangeSpec::LastDays { days: 14 });
    }
    let words: Vec<&str> = q.split_whitespace().collect();
    for w in words.windows(3) {
        if !matches!(w[0], "last" | "past") {
            continue;
        }
        // Days, weeks, months or years, at most 50 years' worth.
        let unit_days = match w[2] {
            "day" | "days" => 1,
            "week" | "weeks" => 7,
            "month" | "months" => 30,
            "year" | "years" => 365,
            _ => continue,
        };
        let n = number_word(w[1]).filter(|n| u64::from(*n) * unit_days <= 50 * 365);
        return Some(match (n, w[2]) {
            (Some(n), "month" | "months") => RangeSpec::LastMonths { months: n },
            (Some(n), "year" | "years") => RangeSpec::LastMonths { months: n * 12 },
            (Some(n), _) => RangeSpec::LastDays {
                days: n * unit_days as u32,
            },
            (None, _) => RangeSpec::Unreadable { said: w.join(" ") },
        });
    }
    let year_of = |w: &str| {
        w.parse::<i32>()
            .ok()
            .filter(|y| w.len() == 4 && (1900..=2200).contains(y))
    };
    // A distance is not a year: "at 2000 miles".
    let distance_after = |i: usize| {
        words.get(i + 1).is_some_and(|w| {
            matches!(
                *w,
                "mile" | "miles" | "mi" | "km" | "kms" | "kilometers" | "kilometres" | "k"
            )
        })
    };
    if let Some(spec) = calendar_bounds(&words) {
        return Some(spec);
    }
    // A year the question places a range at but that cannot be a record's ("in 1850"): said back.
    for (i, w) in words.windows(2).enumerate() {
        if matches!(
            w[0],
            "in" | "during" | "since" | "before" | "after" | "until" | "from"
        ) && w[1].len() == 4
            && w[1].chars().all(|c| c.is_ascii_digit())
            && year_of(w[1]).is_none()
            && !distance_after(i + 1)
        {
            return Some(RangeSpec::Unreadable { said: w.join(" ") });
        }
    }
    // "since March [2025]", "since 2024".
    for (i, w) in words.iter().enumerate() {
        if *w != "since" {
            continue;
        }
        let next = words.get(i + 1).copied().unwrap_or("");
        if let Some(month) = month_at(&words, i + 1) {
            let year = words.get(i + 2).and_then(|w| year_of(w));
            return Some(RangeSpec::SinceMonth { month, year });
        }
        if let Some(year) = year_of(next) {
            return Some(RangeSpec::SinceYear { year });
        }
    }
    for (i, w) in words.windows(2).enumerate() {
        if let Some(month) = month_of(w[0])
            && let Some(year) = year_of(w[1])
            && !distance_after(i + 1)
        {
            return Some(RangeSpec::Month { year, month });
        }
    }
    // "in March", "during May", "the end of May" (a month's name alone could be another word: only after
    // these; "for May" is read for the other months, "may" being a verb too).
    for (i, w) in words.windows(2).enumerate() {
        if matches!(w[0], "in" | "during" | "for" | "of")
            && let Some(month) = month_at(&words, i + 1)
        {
            return Some(RangeSpec::RecentMonth { month });
        }
    }
    for (i, w) in words.iter().enumerate() {
        if let Some(year) = year_of(w)
            && !distance_after(i)
        {
            return Some(RangeSpec::Year { year });
        }
    }
    None
}

/// A calendar period as a question names it: a year, a month (its year may be left to the context), a
/// quarter or a day.
#[derive(Debug, Clone, Copy)]
enum Period {
    Year(i32),
    Month(u32, Option<i32>),
    Quarter(u32, Option<i32>),
    /// "2025-06-01", "June 1, 2025", "1 June 2025"; `None` when its numbers name no day ("2025-02-30").
    Day(Option<NaiveDate>),
    /// A day named without its year ("June 1", "1st June"): month and day, a day once its year is known.
    DayOfMonth(u32, u32),
}

impl Period {
    fn year(self) -> Option<i32> {
        match self {
            Period::Year(y) => Some(y),
            Period::Month(_, y) | Period::Quarter(_, y) => y,
            Period::Day(d) => d.map(|d| d.year()),
            Period::DayOfMonth(..) => None,
        }
    }

    /// The first month of the period (a year's is January).
    fn first_month(self) -> u32 {
        match self {
            Period::Year(_) => 1,
            Period::Month(m, _) => m,
            Period::Quarter(q, _) => 3 * q - 2,
            Period::Day(d) => d.map_or(1, |d| d.month()),
            Period::DayOfMonth(m, _) => m,
        }
    }

    /// The same period in `year` when it names none.
    fn in_year(self, year: i32) -> Period {
        match self {
            Period::Month(m, None) => Period::Month(m, Some(year)),
            Period::Quarter(q, None) => Period::Quarter(q, Some(year)),
            Period::DayOfMonth(m, d) => Period::Day(NaiveDate::from_ymd_opt(year, m, d)),
            other => other,
        }
    }

    /// Its first day and the first day after it; `None` while its year is unknown.
    fn days(self) -> Option<(NaiveDate, NaiveDate)> {
        let (year, month, months) = match self {
            Period::Year(y) => (y, 1, 12),
            Period::Month(m, y) => (y?, m, 1),
            Period::Quarter(q, y) => (y?, 3 * q - 2, 3),
            Period::Day(d) => {
                let d = d?;
                return Some((d, d.succ_opt()?));
            }
            Period::DayOfMonth(..) => return None,
        };
        let from = NaiveDate::from_ymd_opt(year, month, 1)?;
        Some((from, from.checked_add_months(chrono::Months::new(months))?))
    }

    fn label(self) -> String {
        let with_year = |y: Option<i32>| y.map(|y| format!(" {y}")).unwrap_or_default();
        match self {
            Period::Year(y) => y.to_string(),
            Period::Month(m, y) => format!("{}{}", capitalised_month(m), with_year(y)),
            Period::Quarter(q, y) => format!(
                "the {} quarter{}",
                ["first", "second", "third", "fourth"][q as usize - 1],
                y.map(|y| format!(" of {y}")).unwrap_or_default()
            ),
            // Said back as the answers write dates.
            Period::Day(d) => d.map(|d| d.to_string()).unwrap_or_default(),
            Period::DayOfMonth(m, d) => format!("{} {d}", capitalised_month(m)),
        }
    }
}

fn capitalised_month(m: u32) -> String {
    let name = MONTHS[m as usize - 1];
    name[..1].to_uppercase() + &name[1..]
}

/// The day named at `words[i..]` (three words): "2025 06 01" (an ISO date, its dashes made spaces by
/// [`normalise`]), "june 1 2025" / "june 1st 2025", "1 june 2025". `Some(None)` when it has a day's shape but
/// names no day ("2025-02-30").
fn day_at(words: &[&str], i: usize) -> Option<Option<NaiveDate>> {
    let word = |j: usize| words.get(j).copied().unwrap_or("");
    let year_of = |w: &str| {
        w.parse::<i32>()
            .ok()
            .filter(|y| w.len() == 4 && (1900..=2200).contains(y))
    };
    // One or two digits ("06", "1"), or a day with its ordinal ("1st", "22nd").
    let small = |w: &str| -> Option<u32> {
        let digits = ["st", "nd", "rd", "th"]
            .iter()
            .find_map(|s| w.strip_suffix(s))
            .unwrap_or(w);
        if (1..=2).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
            digits.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = if let Some(y) = year_of(word(i)) {
        // An ISO date's month and day are bare numbers.
        let plain = |w: &str| {
            if w.chars().all(|c| c.is_ascii_digit()) {
                small(w)
            } else {
                None
            }
        };
        (y, plain(word(i + 1))?, plain(word(i + 2))?)
    } else if let Some(m) = month_of(word(i)) {
        (year_of(word(i + 2))?, m, small(word(i + 1))?)
    } else {
        let d = small(word(i))?;
        (year_of(word(i + 2))?, month_of(word(i + 1))?, d)
    };
    Some(NaiveDate::from_ymd_opt(year, month, day))
}

/// A day named at `words[i..]` without its year (two words): "june 1", "june 1st", "1 june". Its day may
/// be none in some years (February 29) or in every year (June 31): that is told once its year is.
fn day_of_month_at(words: &[&str], i: usize) -> Option<(u32, u32)> {
    let word = |j: usize| words.get(j).copied().unwrap_or("");
    let day = |w: &str| -> Option<u32> {
        let digits = ["st", "nd", "rd", "th"]
            .iter()
            .find_map(|s| w.strip_suffix(s))
            .unwrap_or(w);
        ((1..=2).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
            .filter(|d| (1..=31).contains(d))
    };
    match (month_of(word(i)), month_of(word(i + 1))) {
        (Some(m), _) => Some((m, day(word(i + 1))?)),
        (None, Some(m)) => Some((m, day(word(i))?)),
        (None, None) => None,
    }
}

/// The period named at `words[i..]` and how many words it takes: "2025-06-01", "June 1, 2025", "2025",
/// "March 2025", "March", "Q1 2026", "the first quarter of 2026".
fn period_at(words: &[&str], i: usize) -> Option<(Period, usize)> {
    let word = |j: usize| words.get(j).copied().unwrap_or("");
    let year_of = |w: &str| {
        w.parse::<i32>()
            .ok()
            .filter(|y| w.len() == 4 && (1900..=2200).contains(y))
    };
    if let Some(day) = day_at(words, i) {
        return Some((Period::Day(day), 3));
    }
    if let Some((month, day)) = day_of_month_at(words, i) {
        return Some((Period::DayOfMonth(month, day), 2));
    }
    if let Some(y) = year_of(word(i)) {
        return Some((Period::Year(y), 1));
    }
    if let Some(m) = month_at(words, i) {
        return Some(match year_of(word(i + 1)) {
            Some(y) => (Period::Month(m, Some(y)), 2),
            None => (Period::Month(m, None), 1),
        });
    }
    let skip = usize::from(word(i) == "the");
    let quarter = match word(i + skip) {
        "q1" => Some((1, 1)),
        "q2" => Some((2, 1)),
        "q3" => Some((3, 1)),
        "q4" => Some((4, 1)),
        "first" | "1st" if word(i + skip + 1) == "quarter" => Some((1, 2)),
        "second" | "2nd" if word(i + skip + 1) == "quarter" => Some((2, 2)),
        "third" | "3rd" if word(i + skip + 1) == "quarter" => Some((3, 2)),
        "fourth" | "4th" if word(i + skip + 1) == "quarter" => Some((4, 2)),
        _ => None,
    };
    let (q, taken) = quarter?;
    let mut end = i + skip + taken;
    if word(end) == "of" {
        end += 1;
    }
    match year_of(word(end)) {
        Some(y) => Some((Period::Quarter(q, Some(y)), end + 1 - i)),
        None => Some((Period::Quarter(q, None), i + skip + taken - i)),
    }
}

/// "before 2025", "after March 2024", "between January and March 2026", "from May to July 2025", "in Q1
/// 2026", "since 2025-06-01", "on June 1, 2025": calendar bounds. A period whose year cannot be told, or a
/// day that is none, is said back rather than guessed.
fn calendar_bounds(words: &[&str]) -> Option<RangeSpec> {
    let unreadable = |from: usize, to: usize| RangeSpec::Unreadable {
        said: words[from..to.min(words.len())].join(" "),
    };
    for i in 0..words.len() {
        let w = words[i];
        if matches!(w, "between" | "from")
            && let Some((start, n)) = period_at(words, i + 1)
            && matches!(
                words.get(i + 1 + n).copied(),
                Some("and" | "to" | "through" | "until" | "till")
            )
            && let Some((end, m)) = period_at(words, i + 2 + n)
        {
            let said_to = i + 2 + n + m;
            // "between January and March 2026": the first takes the second's year (the year before, when it
            // comes later in the calendar: "between November and February 2026").
            let start = match (start.year(), end.year()) {
                (None, Some(y)) if start.first_month() > end.first_month() => start.in_year(y - 1),
                (None, Some(y)) => start.in_year(y),
                _ => start,
            };
            let end = match (end.year(), start.year()) {
                (None, Some(y)) => end.in_year(y),
                _ => end,
            };
            let (Some((from, _)), Some((_, to))) = (start.days(), end.days()) else {
                return Some(unreadable(i, said_to));
            };
            if to <= from {
                return Some(unreadable(i, said_to));
            }
            return Some(RangeSpec::Dates {
                from: Some(from),
                to: Some(to),
                label: format!("between {} and {}", start.label(), end.label()),
            });
        }
        if matches!(w, "before" | "after")
            && let Some((period, n)) = period_at(words, i + 1)
        {
            let Some((from, to)) = period.days() else {
                return Some(unreadable(i, i + 1 + n));
            };
            let label = format!("{w} {}", period.label());
            return Some(if w == "before" {
                RangeSpec::Dates {
                    from: None,
                    to: Some(from),
                    label,
                }
            } else {
                RangeSpec::Dates {
                    from: Some(to),
                    to: None,
                    label,
                }
            });
        }
        // "since 2025-06-01" is from that day on; "until June 1, 2025" up to it, that day included. (A month
        // or year after "since" is read by `range_of`.)
        if matches!(w, "since" | "until" | "till")
            && let Some((period @ Period::Day(_), n)) = period_at(words, i + 1)
        {
            let Some((day, next)) = period.days() else {
                return Some(unreadable(i, i + 1 + n));
            };
            let label = format!("{w} {}", period.label());
            return Some(if w == "since" {
                RangeSpec::Dates {
                    from: Some(day),
                    to: None,
                    label,
                }
            } else {
                RangeSpec::Dates {
                    from: None,
                    to: Some(next),
                    label,
                }
            });
        }
    }
    // A quarter, wherever it is named ("in the first quarter of 2026", "Q1 2026 costs").
    for i in 0..words.len() {
        if let Some((period @ Period::Quarter(..), n)) = period_at(words, i) {
            let Some((from, to)) = period.days() else {
                return Some(unreadable(i, i + n));
            };
            return Some(RangeSpec::Dates {
                from: Some(from),
                to: Some(to),
                label: format!("in {}", period.label()),
            });
        }
    }
    // A day, wherever it is named ("in 2025-06-01", "on June 1, 2025"): that day.
    for i in 0..words.len() {
        if let Some((period @ Period::Day(_), n)) = period_at(words, i) {
            let Some((from, to)) = period.days() else {
                let said_from = match i.checked_sub(1) {
                    Some(j) if matches!(words[j], "in" | "on" | "during") => j,
                    _ => i,
                };
                return Some(unreadable(said_from, i + n));
            };
            return Some(RangeSpec::Dates {
                from: Some(from),
                to: Some(to),
                label: format!("on {}", period.label()),
            });
        }
    }
    None
}

/// The month a lower-case word names: its name, its first three letters, or "sept".
pub(crate) fn month_of(word: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| {
            word == *m
                || (word.len() == 3 && m.starts_with(word))
                || (word == "sept" && *m == "september")
        })
        .map(|i| i as u32 + 1)
}

/// The month `words[i]` names when it is read as one there. "May" is a verb too ("may I…", "it may need",
/// "this may be"): it is a month only after "in", "last" ("previous"), "this", "during", "since" or "of" (after "this",
/// not before a verb: "this may be"), inside a "between … and …" / "from … to …" range, after "before",
/// "after", "until" or "for" when no verb or pronoun follows ("before May", not "for may I ask"), or before a
/// year or a day's number ("May 2025", "May 5").
pub(crate) fn month_at(words: &[&str], i: usize) -> Option<u32> {
    let word = |j: usize| words.get(j).copied().unwrap_or("");
    let month = month_of(word(i))?;
    if word(i) != "may" {
        return Some(month);
    }
    let next = word(i + 1);
    let numbered = next.parse::<i32>().is_ok_and(|n| {
        (next.len() == 4 && (1900..=2200).contains(&n))
            || (next.len() <= 2 && (1..=31).contains(&n))
    }) || ["st", "nd", "rd", "th"].iter().any(|s| {
        next.strip_suffix(s)
            .is_some_and(|d| (1..=2).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()))
    });
    if numbered {
        return Some(month);
    }
    const VERB_AFTER: [&str; 18] = [
        "be", "need", "have", "not", "require", "seem", "sound", "help", "mean", "want", "also",
        "well", "already", "happen", "depend", "vary", "explain", "indicate",
    ];
    let lead = i.checked_sub(1).map(word);
    let in_a_range = i >= 2
        && matches!(lead, Some("and" | "to" | "through" | "until" | "till"))
        && words[..i - 1]
            .iter()
            .any(|w| matches!(*w, "between" | "from"));
    // After a word that bounds a range ("before May") it is the month unless a verb or its subject
    // follows ("for may I ask"): a month said there and not read would answer for all time.
    let verb_next = VERB_AFTER.contains(&next)
        || matches!(next, "i" | "we" | "you" | "it" | "they" | "he" | "she");
    match lead {
        Some("in" | "last" | "previous" | "during" | "since" | "of" | "between" | "from") => {
            Some(month)
        }
        Some("this") if !VERB_AFTER.contains(&next) => Some(month),
        Some("before" | "after" | "until" | "till" | "for") if !verb_next => Some(month),
        _ if in_a_range => Some(month),
        _ => None,
    }
}

/// Month names, lower case.
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn number_word(w: &str) -> Option<u32> {
    if let Ok(n) = w.parse::<u32>() {
        return (1..=600).contains(&n).then_some(n);
    }
    let words = [
        "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve",
    ];
    words.iter().position(|x| *x == w).map(|i| i as u32 + 1)
}

/// Resolves a range against now and the acquisition date (for "since I bought it").
pub fn resolve_range(
    spec: &RangeSpec,
    now: DateTime<Utc>,
    acquired_at: Option<DateTime<Utc>>,
) -> Option<TimeRange> {
    let year_start = |y: i32| Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).single();
    let month_start = |y: i32, m: u32| Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single();
    Some(match spec {
        RangeSpec::Year { year } => TimeRange {
            from: year_start(*year)?,
            to: year_start(year + 1)?,
            label: format!("in {year}"),
        },
        RangeSpec::LastYear => {
            let y = now.year() - 1;
            TimeRange {
                from: year_start(y)?,
                to: year_start(y + 1)?,
                label: format!("last year ({y})"),
            }
        }
        RangeSpec::ThisYear => TimeRange {
            from: year_start(now.year())?,
            to: now + Duration::days(2),
            label: format!("this year ({})", now.year()),
        },
        RangeSpec::SincePurchase => TimeRange {
            from: acquired_at?,
            to: now + Duration::days(2),
            label: "since you bought it".into(),
        },
        RangeSpec::LastDays { days } => TimeRange {
            from: (now.date_naive() - Duration::days(i64::from(*days)))
                .and_hms_opt(0, 0, 0)?
                .and_utc(),
            to: now + Duration::days(2),
            label: format!(
                "in the last {days} day{}",
                if *days == 1 { "" } else { "s" }
            ),
        },
        RangeSpec::ThisMonth => TimeRange {
            from: month_start(now.year(), now.month())?,
            to: now + Duration::days(2),
            label: format!("this month ({})", now.format("%B %Y")),
        },
        RangeSpec::PreviousMonth => {
            let (year, month) = match now.month() {
                1 => (now.year() - 1, 12),
                m => (now.year(), m - 1),
            };
            let from = month_start(year, month)?;
            TimeRange {
                from,
                to: month_start(now.year(), now.month())?,
                label: format!("last month ({})", from.format("%B %Y")),
            }
        }
        RangeSpec::Month { year, month } => {
            let from = month_start(*year, *month)?;
            let (next_year, next) = if *month == 12 {
                (year + 1, 1)
            } else {
                (*year, month + 1)
            };
            TimeRange {
                from,
                to: month_start(next_year, next)?,
                label: format!("in {}", from.format("%B %Y")),
            }
        }
        RangeSpec::RecentMonth { month } => {
            return resolve_range(
                &RangeSpec::Month {
                    year: latest_year_of(*month, now),
                    month: *month,
                },
                now,
                acquired_at,
            );
        }
        RangeSpec::SinceMonth { month, year } => {
            let from = month_start(year.unwrap_or_else(|| latest_year_of(*month, now)), *month)?;
            TimeRange {
                from,
                to: now + Duration::days(2),
                label: format!("since {}", from.format("%B %Y")),
            }
        }
        RangeSpec::SinceYear { year } => TimeRange {
            from: year_start(*year)?,
            to: now + Duration::days(2),
            label: format!("since {year}"),
        },
        RangeSpec::Dates { from, to, label } => TimeRange {
            from: match from {
                Some(d) => d.and_hms_opt(0, 0, 0)?.and_utc(),
                None => DateTime::<Utc>::MIN_UTC,
            },
            to: match to {
                Some(d) => d.and_hms_opt(0, 0, 0)?.and_utc(),
                None => now + Duration::days(2),
            },
            label: label.clone(),
        },
        RangeSpec::Unreadable { .. } => return None,
        RangeSpec::BeforePurchase => {
            let to = acquired_at?;
            TimeRange {
                from: DateTime::<Utc>::MIN_UTC,
                to,
                label: format!("before you bought it on {}", to.format("%Y-%m-%d")),
            }
        }
        RangeSpec::Season { first_month, year } => {
            let name = match first_month {
                3 => "spring",
                6 => "summer",
                9 => "autumn",
                _ => "winter",
            };
            let starts = |y: i32| month_start(y, *first_month);
            let ends = |y: i32| match first_month {
                12 => month_start(y + 1, 3),
                m => month_start(y, m + 3),
            };
            let year = match year {
                Some(y) => *y,
                // The latest that has ended.
                None => {
                    let mut y = now.year();
                    while ends(y)? > now {
                        y -= 1;
                    }
                    y
                }
            };
            let (from, to) = (starts(year)?, ends(year)?);
            TimeRange {
                from,
                to,
                label: format!(
                    "in {name} {year} ({} to {}, the meteorological season)",
                    from.format("%B %Y"),
                    (to - Duration::days(1)).format("%B %Y")
                ),
            }
        }
        RangeSpec::PastMonth { month } => {
            // The latest such month that has ended: asked in December, "last December" is last year's.
            let year = if *month < now.month() {
                now.year()
            } else {
                now.year() - 1
            };
            return resolve_range(
                &RangeSpec::Month {
                    year,
                    month: *month,
                },
                now,
                acquired_at,
            );
        }
        RangeSpec::MonthThisYear { month } => {
            return resolve_range(
                &RangeSpec::Month {
                    year: now.year(),
                    month: *month,
                },
                now,
                acquired_at,
            );
        }
        RangeSpec::YearsAgo { years } => {
            let y = now.year() - *years as i32;
            TimeRange {
                from: year_start(y)?,
                to: year_start(y + 1)?,
                label: format!(
                    "in {y} ({years} year{} ago, the calendar year)",
                    if *years == 1 { "" } else { "s" }
                ),
            }
        }
        RangeSpec::MonthsBefore { months, before } => {
            let today = now.date_naive();
            let ago = |m: u32| {
                today
                    .checked_sub_months(chrono::Months::new(m))
                    .unwrap_or(NaiveDate::MIN)
            };
            let (from, to) = (ago(before + months), ago(*before));
            TimeRange {
                from: from.and_hms_opt(0, 0, 0)?.and_utc(),
                to: to.and_hms_opt(0, 0, 0)?.and_utc(),
                label: format!(
                    "in the previous {months} month{} ({from} to {})",
                    if *months == 1 { "" } else { "s" },
                    to.pred_opt()?
                ),
            }
        }
        RangeSpec::DaysBefore { days, before } => {
            let today = now.date_naive();
            let to = today - Duration::days(i64::from(*before));
            let from = to - Duration::days(i64::from(*days));
            TimeRange {
                from: from.and_hms_opt(0, 0, 0)?.and_utc(),
                to: to.and_hms_opt(0, 0, 0)?.and_utc(),
                label: format!(
                    "in the previous {days} day{} ({from} to {})",
                    if *days == 1 { "" } else { "s" },
                    to.pred_opt()?
                ),
            }
        }
        RangeSpec::MonthsAgo { months } => {
            let index = now.year() * 12 + now.month0() as i32 - *months as i32;
            return resolve_range(
                &RangeSpec::Month {
                    year: index.div_euclid(12),
                    month: index.rem_euclid(12) as u32 + 1,
                },
                now,
                acquired_at,
            );
        }
        RangeSpec::LastMonths { months } => {
            let from = now
                .date_naive()
                .checked_sub_months(chrono::Months::new(*months))
                .unwrap_or(NaiveDate::MIN);
            TimeRange {
                from: from.and_hms_opt(0, 0, 0)?.and_utc(),
                to: now + Duration::days(2),
                label: format!(
                    "in the last {months} month{}",
                    if *months == 1 { "" } else { "s" }
                ),
            }
        }
    })
}

/// The year of `month`'s latest start at or before `now` (this year's once it has begun, else last year's).
fn latest_year_of(month: u32, now: DateTime<Utc>) -> i32 {
    if month <= now.month() {
        now.year()
    } else {
        now.year() - 1
    }
}

/// The words that name each kind, in the order a question naming several is read ("repairs after the
/// accident" is about repairs).
const KIND_WORDS: &[(EventKind, &[&str])] = &[
    (
        EventKind::Maintenance,
        &[
            "maintenance",
            "servicing",
            "service",
            "services",
            "serviced",
        ],
    ),
    (
        EventKind::Repair,
        &["repair", "repairs", "repaired", "fixed", "fix"],
    ),
    (
        EventKind::Collision,
        &[
            "collision",
            "collisions",
            "accident",
            "accidents",
            "crash",
            "crashes",
            "body work",
            "bodywork",
        ],
    ),
    (EventKind::Upgrade, UPGRADE_WORDS),
    (
        EventKind::Valuation,
        &["appraisal", "appraisals", "appraised"],
    ),
    (
        EventKind::OdometerReading,
        &["odometer reading", "odometer readings", "readings"],
    ),
    (
        EventKind::Fuel,
        &[
            "fuel",
            "fuelled",
            "fueled",
            "refuel",
            "refuelled",
            "petrol",
            "gas",
            "gasoline",
            "diesel",
            // The question is normalised before it is read: "fill-up" arrives as "fill up".
            "fill up",
            "fill ups",
            "filled up",
            "fillup",
            "fillups",
        ],
    ),
];

/// Whether the question asks for the last of a kind: "last", "latest" or "most recent" right before a word
/// naming it ("the last repair", "my latest service"), not before a range ("repairs last year").
fn last_of_a_kind(q: &str) -> bool {
    KIND_WORDS
        .iter()
        .flat_map(|(_, words)| words.iter())
        .any(|w| {
            ["last", "latest", "most recent"]
                .iter()
                .any(|l| has(q, &format!("{l} {w}")))
        })
}

/// The kinds a question names: the first, and every one when it joins several ("maintenance and repairs",
/// "fuel or upgrades").
fn kinds_of(q: &str) -> Vec<EventKind> {
    let named: Vec<EventKind> = KIND_WORDS
        .iter()
        .filter(|(_, words)| has_any(q, words))
        .map(|(k, _)| *k)
        .collect();
    if named.len() > 1 && has_any(q, &["and", "or", "plus"]) {
        named
    } else {
        named.into_iter().take(1).collect()
    }
}

/// The subjects a question joins with "and", "or" or "plus" ("oil changes and repairs", "oil changes, tire
/// rotations or repairs", "on oil changes and on repairs", "brakes and oil changes"), when a task is among
/// them and they are two at least: the records of any of them are meant, not those that are all of them at
/// once. The vehicle's recorded parts and systems (`vocabulary`; a plural also without its "s": "brake work"
/// for the recorded "brakes") and the task phrases are read longest first
/// — a recorded part or system before a task phrase of as many words, as a question about one subject reads
/// them — then the kinds, each word once, so a task's own phrase holding "and" stays one task ("oil and filter
/// change"), and words that are not a subject between two ("oil change and filter", "oil leak repair") join
/// nothing. Kinds alone are `kinds` ("maintenance and repairs"); parts alone (two parts of one repair) are
/// read as a question about one part reads them. `q` is normalised, with commas read as "and".
fn joined_subjects(q: &str, vocabulary: &Vocabulary) -> Vec<Subject> {
    const CONNECTIVES: [&str; 12] = [
        "and", "or", "plus", "also", "as", "well", "the", "my", "our", "any", "on", "for",
    ];
    // Most questions join nothing: no word of joining, nothing to read.
    if !has_any(q, &["and", "or", "plus"]) {
        return Vec::new();
    }
    // Every task phrase (longest first), then every kind's word (longest first: "transmission service" is a
    // task, not a service), as words, built once.
    type Phrases = Vec<(Vec<&'static str>, Subject)>;
    static PHRASES: std::sync::LazyLock<(Phrases, Phrases)> = std::sync::LazyLock::new(|| {
        let longest_first = |list: &mut Phrases| {
            list.sort_by_key(|(p, _)| {
                std::cmp::Reverse(p.iter().map(|w| w.len() + 1).sum::<usize>())
            })
        };
        let mut tasks: Phrases = (TASKS.iter())
            .flat_map(|t| {
                t.phrases.iter().map(|p| {
                    let subject = Subject {
                        task: Some(t.code.to_string()),
                        ..Subject::default()
                    };
                    (p.split(' ').collect(), subject)
                })
            })
            .collect();
        longest_first(&mut tasks);
        let mut kinds: Phrases = (KIND_WORDS.iter())
            .flat_map(|(k, ws)| {
                ws.iter().map(|w| {
                    let subject = Subject {
                        kind: Some(*k),
                        ..Subject::default()
                    };
                    (w.split(' ').collect(), subject)
                })
            })
            .collect();
        longest_first(&mut kinds);
        (tasks, kinds)
    });
    let (tasks, kinds) = &*PHRASES;
    // The vehicle's own parts and systems, as its records name them (normalised to the question's words).
    let recorded: Vec<(String, Subject)> = (vocabulary.parts.iter())
        .map(|p| {
            let subject = Subject {
                part: Some(p.clone()),
                ..Subject::default()
            };
            (normalise(p).trim().to_string(), subject)
        })
        .chain(vocabulary.systems.iter().map(|sys| {
            let subject = Subject {
                system: Some(sys.clone()),
                ..Subject::default()
            };
            (normalise(sys).trim().to_string(), subject)
        }))
        .filter(|(name, _)| !name.is_empty())
        .flat_map(|(name, subject)| {
            // "brake work" names the recorded "brakes", "a brake pad" the "brake pads".
            let singular = (name.ends_with('s') && !name.ends_with("ss"))
                .then(|| name[..name.len() - 1].to_string())
                .filter(|one| one.rsplit(' ').next().is_some_and(|w| w.len() >= 3));
            std::iter::once((name, subject.clone())).chain(singular.map(|one| (one, subject)))
        })
        .collect();
    let mut phrases: Vec<(Vec<&str>, &Subject)> = (recorded.iter())
        .map(|(name, subject)| (name.split(' ').collect(), subject))
        .chain(tasks.iter().map(|(p, subject)| (p.clone(), subject)))
        .collect();
    // Longest first; of as many words, a recorded name before a task phrase (the sort is stable).
    phrases.sort_by_key(|(p, _)| std::cmp::Reverse(p.iter().map(|w| w.len() + 1).sum::<usize>()));
    phrases.extend(kinds.iter().map(|(p, subject)| (p.clone(), subject)));
    let words: Vec<&str> = q.split_whitespace().collect();
    let mut taken = vec![false; words.len()];
    // (first word, word after the last, what it names).
    let mut found: Vec<(usize, usize, Subject)> = Vec::new();
    for (phrase, subject) in phrases {
        let n = phrase.len();
        let mut i = 0;
        while i + n <= words.len() {
            if words[i..i + n] == phrase[..] && !taken[i..i + n].iter().any(|t| *t) {
                taken[i..i + n].iter_mut().for_each(|t| *t = true);
                found.push((i, i + n, subject.clone()));
                i += n;
            } else {
                i += 1;
            }
        }
    }
    found.sort_by_key(|(start, ..)| *start);
    let joined = |a: &(usize, usize, Subject), b: &(usize, usize, Subject)| {
        let between = &words[a.1..b.0];
        !between.is_empty()
            && between.iter().all(|w| CONNECTIVES.contains(w))
            && between.iter().any(|w| matches!(*w, "and" | "or" | "plus"))
    };
    let mut chain: Vec<Subject> = Vec::new();
    for (i, item) in found.iter().enumerate() {
        if i > 0 && joined(&found[i - 1], item) {
            if !chain.contains(&item.2) {
                chain.push(item.2.clone());
            }
            continue;
        }
        // A chain ends: kept when it names a task and something else.
        if chain.len() > 1 && chain.iter().any(|s| s.task.is_some()) {
            return chain;
        }
        chain = vec![item.2.clone()];
    }
    if chain.len() > 1 && chain.iter().any(|s| s.task.is_some()) {
        chain
    } else {
        Vec::new()
    }
}

/// What a cost question asks the cost of, in its own words, when nothing else read it: "the roof rack" in
/// "How much did the roof rack cost?", "floor mats" in "spent on floor mats". Pronouns and the vehicle
/// itself are not a subject.
fn cost_subject(q: &str, vehicle: &[String]) -> Option<String> {
    const AFTER: [&str; 14] = [
        "spent on",
        "spend on",
        "spending on",
        "paid for",
        "pay for",
        "cost of",
        "price of",
        "did the",
        "does the",
        "was the",
        "were the",
        "did my",
        "was my",
        "were my",
    ];
    const STOP: [&str; 22] = [
        "cost", "costs", "in", "since", "last", "this", "at", "during", "before", "after", "over",
        "so", "and", "or", "from", "between", "to", "for", "on", "by", "until", "with",
    ];
    const NOT_A_SUBJECT: [&str; 20] = [
        "it",
        "that",
        "this",
        "them",
        "those",
        "these",
        "everything",
        "all",
        "anything",
        "stuff",
        "things",
        "car",
        "vehicle",
        "truck",
        "van",
        "suv",
        "total",
        "overall",
        "average",
        "me",
    ];
    let rest = AFTER
        .iter()
        .filter_map(|p| q.split_once(&format!(" {p} ")).map(|(_, r)| r))
        .next()?;
    let words: Vec<&str> = rest
        .split_whitespace()
        .skip_while(|w| matches!(*w, "the" | "my" | "a" | "an" | "our"))
        .take_while(|w| !STOP.contains(w))
        .take(4)
        .collect();
    let first = words.first()?;
    if NOT_A_SUBJECT.contains(first)
        || first.chars().next().is_some_and(|c| c.is_ascii_digit())
        || words
            .iter()
            .any(|w| vehicle.iter().any(|v| normalise(v).trim() == *w))
    {
        return None;
    }
    Some(words.join(" "))
}

/// The recorded name (vendor, part, system) the question mentions, longest first.
/// A vendor the question names after "spent at", "paid at" (…) that no record names: kept, so the answer
/// says nothing was recorded there instead of answering for every vendor.
fn vendor_asked(q: &str) -> Option<String> {
    const AFTER: [&str; 14] = [
        "spent at",
        "spend at",
        "paid at",
        "pay at",
        "cost at",
        "costs at",
        "spending at",
        "done at",
        "take it to",
        "took it to",
        "taken it to",
        "bring it to",
        "brought it to",
        "serviced at",
    ];
    const STOP: [&str; 12] = [
        "last", "past", "this", "in", "since", "for", "on", "during", "over", "so", "before", "and",
    ];
    let rest = AFTER
        .iter()
        .find_map(|p| q.split_once(&format!(" {p} ")).map(|(_, r)| r))?;
    let words: Vec<&str> = rest
        .split_whitespace()
        .take_while(|w| !STOP.contains(w))
        .take(5)
        .collect();
    let first = words.first()?;
    // "took it to the shop", "to a garage", "to my mechanic": a kind of place, not a shop's name.
    if first.chars().next().is_some_and(|c| c.is_ascii_digit())
        || matches!(*first, "the" | "a" | "an" | "my" | "our" | "your")
    {
        return None;
    }
    let name: Vec<String> = words
        .iter()
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        })
        .collect();
    Some(name.join(" "))
}

fn recorded_name(q: &str, names: &[String]) -> Option<String> {
    let mut best: Option<&String> = None;
    for name in names {
        let n = normalise(name);
        let n = n.trim();
        if n.is_empty() {
            continue;
        }
        let hit = has(q, n)
            // A part asked without its position: "brake pads" for "front brake pads".
            || (n.split(' ').count() > 1 && {
                let tail: Vec<&str> = n.split(' ').skip(1).collect();
                tail.len() >= 2 && has(q, &tail.join(" "))
            });
        if hit && best.is_none_or(|b| b.len() < name.len()) {
            best = Some(name);
        }
    }
    best.cloned()
}

/// The part a question asks about: a recorded part it names in full (the longest), else the words it names
/// without a position ("brake pads" for "front brake pads") — as recorded when one part holds them, as asked
/// when several do ("front brake pads", "rear brake pads"), so that every record of them is selected.
fn part_asked(q: &str, parts: &[String]) -> Option<String> {
    // A part whose name is another task's phrase than the question's is that other thing: "air filter" is
    // not the recorded "cabin air filter", nor "cabin air filter" the recorded "air filter".
    let asked_task = task_of(q).map(|t| t.code);
    let parts: Vec<String> = parts
        .iter()
        .filter(|p| {
            let named = task_of(&normalise(p)).map(|t| t.code);
            named.is_none() || asked_task.is_none() || named == asked_task
        })
        .cloned()
        .collect();
    let parts = parts.as_slice();
    if let Some(full) = parts
        .iter()
        .filter(|p| {
            let n = normalise(p);
            !n.trim().is_empty() && has(q, n.trim())
        })
        .max_by_key(|p| p.len())
    {
        return Some(full.clone());
    }
    let tail_of = |name: &str| {
        let n = normalise(name);
        let tail: Vec<&str> = n.split_whitespace().skip(1).collect();
        (tail.len() >= 2).then(|| tail.join(" "))
    };
    let asked = parts
        .iter()
        .filter_map(|p| tail_of(p))
        .filter(|t| has(q, t))
        .max_by_key(|t| t.len())?;
    let holding: Vec<&String> = parts
        .iter()
        .filter(|p| has(&normalise(p), &asked))
        .collect();
    match holding.as_slice() {
        [one] => Some((*one).clone()),
        _ => Some(asked),
    }
}

/// What a bare "oil" names when a word of a fault or a part follows it: not the oil change ("the oil leak
/// repair", "oil pressure sensor").
const OIL_NOT_CHANGED: &[&str] = &[
    "oil leak",
    "oil leaks",
    "oil leaking",
    "oil pan",
    "oil pressure",
    "oil light",
    "oil sensor",
    "oil pump",
    "oil cooler",
    "oil seal",
    "oil gasket",
    "oil consumption",
    "oil burning",
];

fn task_of(q: &str) -> Option<&'static TaskPhrase> {
    // Longest phrase first across every task, so "brake fluid" wins over a bare "brake".
    let mut best: Option<(&TaskPhrase, usize)> = None;
    let oil_is_a_fault = has_any(q, OIL_NOT_CHANGED);
    for t in TASKS {
        for p in t.phrases {
            if *p == "oil" && oil_is_a_fault {
                continue;
            }
            if has(q, p) && best.is_none_or(|(_, len)| len < p.len()) {
                best = Some((t, p.len()));
            }
        }
    }
    best.map(|(t, _)| t)
}

/// `text` [`normalise`]d with every task phrase taken out (longest first): the words left name what a record
/// says beside its tasks. "Oil change + tire rotation" names no tires: the tire rotation is a task of its own.
pub fn without_task_phrases(text: &str) -> String {
    // Every task phrase by its first word, built once: a record is read for the few phrases whose first word
    // it holds, not for all of them (run for each of a vehicle's records when its knowledge is prepared: all
    // ≈ 150 phrases each made the first question on a 10,000-record vehicle 47 ms slower).
    type ByFirstWord = std::collections::HashMap<&'static str, Vec<&'static str>>;
    static BY_FIRST_WORD: std::sync::LazyLock<ByFirstWord> = std::sync::LazyLock::new(|| {
        let mut by_first = ByFirstWord::new();
        for p in TASKS.iter().flat_map(|t| t.phrases.iter().copied()) {
            by_first
                .entry(p.split(' ').next().unwrap_or(p))
                .or_default()
                .push(p);
        }
        by_first
    });
    let mut n = normalise(text);
    let mut phrases: Vec<&'static str> = n
        .split_whitespace()
        .filter_map(|w| BY_FIRST_WORD.get(w))
        .flatten()
        .copied()
        .collect();
    phrases.sort_by_key(|p| (std::cmp::Reverse(p.len()), *p));
    phrases.dedup();
    for p in phrases {
        let padded = format!(" {p} ");
        while n.contains(&padded) {
            n = n.replace(&padded, "  ");
        }
    }
    format!(" {} ", n.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The system a common part belongs to, as a repair record's `system` may name it.
pub struct PartSystem {
    /// How an answer names the system's work: "the brakes".
    pub noun: &'static str,
    /// Words a recorded system name holds when it is this system ("brakes", "braking system").
    pub system_words: &'static [&'static str],
    /// Words of the parts that belong to it.
    part_words: &'static [&'static str],
}

const PART_SYSTEMS: &[PartSystem] = &[
    PartSystem {
        noun: "brakes",
        system_words: &["brake", "brakes", "braking"],
        part_words: &[
            "brake", "brakes", "rotor", "rotors", "caliper", "calipers", "pad", "pads", "drum",
            "drums",
        ],
    },
    PartSystem {
        noun: "electrical system",
        system_words: &["electrical", "electric", "electronics"],
        part_words: &[
            "battery",
            "alternator",
            "starter",
            "headlight",
            "headlights",
        ],
    },
    PartSystem {
        noun: "cooling system",
        system_words: &["cooling"],
        part_words: &["radiator", "thermostat", "water pump"],
    },
    PartSystem {
        noun: "exhaust",
        system_words: &["exhaust", "emissions"],
        part_words: &["exhaust", "muffler", "catalytic converter", "oxygen sensor"],
    },
    PartSystem {
        noun: "suspension",
        system_words: &["suspension", "steering"],
        part_words: &[
            "suspension",
            "strut",
            "struts",
            "shock",
            "shocks",
            "wheel bearing",
        ],
    },
    PartSystem {
        noun: "fuel system",
        system_words: &["fuel"],
        part_words: &["fuel pump"],
    },
    PartSystem {
        noun: "transmission",
        system_words: &["transmission", "drivetrain"],
        part_words: &["transmission", "clutch"],
    },
    PartSystem {
        noun: "tires",
        system_words: &["tire", "tires", "wheels"],
        part_words: &["tire", "tires"],
    },
];

/// The system of a part asked ("rotors": the brakes), for an answer when no record names the part itself.
pub fn system_of_part(part: &str) -> Option<&'static PartSystem> {
    let n = normalise(part);
    PART_SYSTEMS
        .iter()
        .find(|s| s.part_words.iter().any(|w| has(&n, w)))
}

impl PartSystem {
    /// Whether a recorded system name is this system ("Brakes", "braking system").
    pub fn names(&self, recorded: &str) -> bool {
        let n = normalise(recorded);
        self.system_words.iter().any(|w| has(&n, w))
    }
}

/// Systems and parts asked about generically when the records name none ("brakes", "battery").
const GENERIC_SUBJECTS: &[(&str, &str)] = &[
    ("brake pads", "brake pads"),
    ("brake", "brakes"),
    ("brakes", "brakes"),
    ("rotors", "rotors"),
    ("battery", "battery"),
    ("tires", "tires"),
    ("tire", "tires"),
    ("timing belt", "timing belt"),
    ("windshield", "windshield"),
    ("muffler", "muffler"),
    ("exhaust", "exhaust"),
    ("alternator", "alternator"),
    ("starter", "starter"),
    ("suspension", "suspension"),
    ("transmission", "transmission"),
    ("headlight", "headlight"),
    ("headlights", "headlights"),
    ("caliper", "calipers"),
    ("calipers", "calipers"),
    ("radiator", "radiator"),
    ("water pump", "water pump"),
    ("thermostat", "thermostat"),
    ("fuel pump", "fuel pump"),
    ("struts", "struts"),
    ("shocks", "shocks"),
    ("wheel bearing", "wheel bearing"),
    ("catalytic converter", "catalytic converter"),
    ("oxygen sensor", "oxygen sensor"),
    ("clutch", "clutch"),
    ("serpentine belt", "serpentine belt"),
    ("oil leak", "oil leak"),
    ("oil leaks", "oil leak"),
    ("oil pan", "oil pan"),
    ("oil pump", "oil pump"),
    ("oil cooler", "oil cooler"),
];

/// Makes and models people name their vehicles by: (as answers name it, the normalised ways it is written).
/// Those that are also everyday words ("golf", "transit", "escape") are in [`VEHICLE_WORDS`] and count only
/// after "the", "my", "our" and the like ("the Transit", not "in transit").
const VEHICLE_NAMES: &[(&str, &[&str])] = &[
    ("Toyota", &["toyota"]),
    ("Honda", &["honda"]),
    ("Ford", &["ford"]),
    ("Chevrolet", &["chevrolet", "chevy"]),
    ("Tesla", &["tesla"]),
    ("Nissan", &["nissan"]),
    ("Hyundai", &["hyundai"]),
    ("Kia", &["kia"]),
    ("Subaru", &["subaru"]),
    ("Mazda", &["mazda"]),
    ("Volkswagen", &["volkswagen", "vw"]),
    ("BMW", &["bmw"]),
    ("Mercedes", &["mercedes benz", "mercedes", "benz"]),
    ("Audi", &["audi"]),
    ("Lexus", &["lexus"]),
    ("Volvo", &["volvo"]),
    ("Jeep", &["jeep"]),
    ("Chrysler", &["chrysler"]),
    ("GMC", &["gmc"]),
    ("Cadillac", &["cadillac"]),
    ("Buick", &["buick"]),
    ("Acura", &["acura"]),
    ("Infiniti", &["infiniti"]),
    ("Porsche", &["porsche"]),
    ("Mitsubishi", &["mitsubishi"]),
    ("Renault", &["renault"]),
    ("Peugeot", &["peugeot"]),
    ("Opel", &["opel"]),
    ("Skoda", &["skoda"]),
    ("Fiat", &["fiat"]),
    ("Rivian", &["rivian"]),
    ("Polestar", &["polestar"]),
    ("Civic", &["civic"]),
    ("CR-V", &["cr v", "crv"]),
    ("Odyssey", &["odyssey"]),
    ("RAV4", &["rav4", "rav 4"]),
    ("Camry", &["camry"]),
    ("Corolla", &["corolla"]),
    ("Prius", &["prius"]),
    ("Tundra", &["tundra"]),
    ("4Runner", &["4runner", "4 runner"]),
    ("F-150", &["f 150", "f150"]),
    ("F-250", &["f 250", "f250"]),
    ("Bronco", &["bronco"]),
    ("Silverado", &["silverado"]),
    ("Model 3", &["model 3"]),
    ("Model S", &["model s"]),
    ("Model X", &["model x"]),
    ("Model Y", &["model y"]),
    ("Altima", &["altima"]),
    ("Sentra", &["sentra"]),
    ("Elantra", &["elantra"]),
    ("Crosstrek", &["crosstrek"]),
    ("CX-5", &["cx 5", "cx5"]),
    ("Wrangler", &["wrangler"]),
    ("Jetta", &["jetta"]),
    ("Passat", &["passat"]),
    ("Tiguan", &["tiguan"]),
    ("Clio", &["clio"]),
    ("ProMaster", &["promaster", "pro master"]),
];

/// Makes and models that are everyday words or places too: another vehicle only after a determiner or an
/// owner ("the Transit", "my wife's Golf"; not "in transit", "in Tahoe").
const VEHICLE_WORDS: &[(&str, &[&str])] = &[
    ("Transit", &["transit"]),
    ("Golf", &["golf"]),
    ("Focus", &["focus"]),
    ("Escape", &["escape"]),
    ("Explorer", &["explorer"]),
    ("Ranger", &["ranger"]),
    ("Beetle", &["beetle"]),
    ("Polo", &["polo"]),
    ("Accord", &["accord"]),
    ("Outback", &["outback"]),
    ("Forester", &["forester"]),
    ("Tacoma", &["tacoma"]),
    ("Tahoe", &["tahoe"]),
    ("Malibu", &["malibu"]),
    ("Sienna", &["sienna"]),
    ("Highlander", &["highlander"]),
    ("Equinox", &["equinox"]),
    ("Sonata", &["sonata"]),
    ("Mustang", &["mustang"]),
    ("Sprinter", &["sprinter"]),
    ("Dodge", &["dodge"]),
    ("Lincoln", &["lincoln"]),
    ("Genesis", &["genesis"]),
];

/// Words before an everyday-word model that make it a vehicle ("the Transit", "my wife's Golf").
const VEHICLE_DETERMINERS: &[&str] = &[
    "the",
    "my",
    "our",
    "your",
    "his",
    "her",
    "their",
    "other",
    "wifes",
    "husbands",
    "partners",
    "sons",
    "daughters",
    "dads",
    "moms",
    "mums",
    "kids",
    "friends",
    "neighbors",
    "neighbours",
    "brothers",
    "sisters",
];

/// Words after a make that make it a shop or a brand of parts, not a vehicle ("Honda dealer", "Toyota of
/// Lakeside", "genuine Toyota parts").
const BRAND_AFTER: &[&str] = &[
    "of",
    "dealer",
    "dealers",
    "dealership",
    "dealerships",
    "service",
    "center",
    "centre",
    "parts",
    "part",
    "garage",
    "shop",
    "store",
    "motors",
    "brand",
    "branded",
    "oem",
    "approved",
    "certified",
    "warranty",
    "recall",
    "financial",
    "finance",
    "roadside",
    "app",
];

/// Words before a make that make it a shop or a brand ("at Honda", "from Toyota", "genuine Honda parts").
const BRAND_BEFORE: &[&str] = &["at", "from", "genuine", "oem", "by", "to"];

/// Whether `phrase` (normalised words) is one of the vehicle's own names or inside one ("rav4" in "RAV4
/// Prime", "cr v" for "CRV").
fn own_name(phrase: &str, own: &[String]) -> bool {
    let compact = |s: &str| s.split_whitespace().collect::<String>();
    own.iter().any(|name| {
        let n = normalise(name);
        has(&n, phrase) || compact(&n).contains(&compact(phrase))
    })
}

/// Another vehicle the question names: a make or model (from [`VEHICLE_NAMES`], [`VEHICLE_WORDS`]) that is
/// none of this vehicle's own names, nor a vendor's name nor a brand of shop or parts ("Honda dealer"), or a
/// VIN other than this vehicle's. As answers name it ("Civic", "VIN 1FTBR…").
fn other_vehicle(q: &str, vocabulary: &Vocabulary) -> Option<String> {
    // The vehicle's recorded vendors and sellers are names of shops ("Lakeside Toyota").
    let mut q = q.to_string();
    for v in &vocabulary.vendors {
        let n = normalise(v);
        if !n.trim().is_empty() {
            q = q.replace(&n, " ");
        }
    }
    let words: Vec<&str> = q.split_whitespace().collect();
    // A VIN: 17 letters and digits (no I, O or Q) with both, not this vehicle's.
    let own_vin = vocabulary.vin.as_deref().map(str::to_lowercase);
    if let Some(vin) = words.iter().find(|w| {
        w.len() == 17
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() && !"ioq".contains(c))
            && w.chars().any(|c| c.is_ascii_digit())
            && w.chars().any(|c| c.is_ascii_alphabetic())
    }) && own_vin.as_deref() != Some(*vin)
    {
        return Some(format!("vehicle with VIN {}", vin.to_uppercase()));
    }
    let found = |table: &[(&'static str, &[&'static str])], needs_determiner: bool| {
        table.iter().find_map(|(name, aliases)| {
            aliases.iter().find_map(|alias| {
                let n = alias.split(' ').count();
                // As written, or possessive ("the Civic's" is normalised "the civics"), which is a
                // vehicle's whatever follows ("the Honda's service").
                let (at, possessive) = words.windows(n).enumerate().find_map(|(i, w)| {
                    let w = w.join(" ");
                    (w == *alias || w.strip_suffix('s') == Some(alias)).then_some((i, w != *alias))
                })?;
                let before = at.checked_sub(1).map(|i| words[i]);
                let after = words.get(at + n).copied();
                // A shop named after a place and a make, not recorded here: "took it to Lakeside Toyota".
                let shop_name = at >= 2
                    && BRAND_BEFORE.contains(&words[at - 2])
                    && before.is_some_and(|w| {
                        !VEHICLE_DETERMINERS.contains(&w)
                            && !matches!(w, "a" | "an" | "this" | "that" | "another")
                    });
                let brand = before.is_some_and(|w| BRAND_BEFORE.contains(&w))
                    || shop_name
                    || (!possessive && after.is_some_and(|w| BRAND_AFTER.contains(&w)));
                let vehicle =
                    !needs_determiner || before.is_some_and(|w| VEHICLE_DETERMINERS.contains(&w));
                // Its own under any of the names ("VW" on a Volkswagen).
                let own = std::iter::once(normalise(name).trim().to_string())
                    .chain(aliases.iter().map(|a| a.to_string()))
                    .any(|a| own_name(&a, &vocabulary.vehicle));
                (vehicle && !brand && !own).then_some(*name)
            })
        })
    };
    found(VEHICLE_NAMES, false)
        .or_else(|| found(VEHICLE_WORDS, true))
        .map(str::to_string)
        .or_else(|| numbered_sibling(&words, &vocabulary.vehicle))
}

/// A fleet's numbered nicknames: on "Van 3", "Van 1" is another vehicle ("When was the oil changed on Van
/// 1?"), as answers name it.
fn numbered_sibling(words: &[&str], own: &[String]) -> Option<String> {
    own.iter().find_map(|name| {
        let n = normalise(name);
        let [word, number] = n.split_whitespace().collect::<Vec<_>>()[..] else {
            return None;
        };
        if !number.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let (stem, _) = name.trim().rsplit_once(char::is_whitespace)?;
        let digits = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit());
        words.windows(2).find_map(|w| {
            // Possessive too: "Van 1's" is normalised "van 1s".
            let other = w[1].strip_suffix('s').filter(|d| digits(d)).unwrap_or(w[1]);
            (w[0] == word && other != number && digits(other))
                .then(|| format!("{} {}", stem.trim(), other))
        })
    })
}

/// A measurement the records do not hold (they hold work done, costs, fill-ups and odometer readings),
/// asked as a value ("What's my tire pressure?", "tire pressure", "What should the tire pressure be?"), not
/// as when it was checked ("When was the tire pressure last checked?"). As answers name it.
fn measurement_asked(q: &str) -> Option<&'static str> {
    if has_any(
        q,
        &[
            "when",
            "checked",
            "check",
            "inflated",
            "adjusted",
            "topped",
            "filled",
            "last time",
            "how many times",
            "how often",
            "sensor",
            "sensors",
            "monitor",
            "tpms",
            "light",
            "warning",
        ],
    ) {
        return None;
    }
    measurement_named(q)
}

/// The measurement a question names, however it asks about it ("When was the tire pressure last checked?"
/// is about the tire pressure, not any work on the tires).
fn measurement_named(q: &str) -> Option<&'static str> {
    const MEASUREMENTS: &[(&str, &[&str])] = &[
        (
            "tire pressure",
            &[
                "tire pressure",
                "tire pressures",
                "tire inflation",
                "air pressure",
                "psi",
                "pressure in my tires",
                "pressure in the tires",
                "how much air",
                "air in my tires",
                "air in the tires",
            ],
        ),
        (
            "tread depth",
            &["tread depth", "tread left", "how much tread"],
        ),
        ("oil pressure", &["oil pressure"]),
        ("oil level", &["oil level"]),
        ("coolant level", &["coolant level"]),
        (
            "fuel level",
            &[
                "fuel level",
                "gas level",
                "fuel left",
                "gas left",
                "fuel is left",
                "gas is left",
                "in the tank",
            ],
        ),
        ("battery voltage", &["battery voltage", "voltage"]),
        ("engine temperature", &["engine temperature", "engine temp"]),
    ];
    MEASUREMENTS
        .iter()
        .find(|(_, phrases)| has_any(q, phrases))
        .map(|(name, _)| *name)
}

/// A specification of the vehicle's model: what it is called in answers, where it is given, and the phrases
/// that ask for it (normalised words). The records hold what was done, not what the model calls for.
pub struct Specification {
    pub name: &'static str,
    pub given_in: &'static str,
    /// The task whose records touch it (the last oil change for the oil), if any.
    pub task: Option<&'static str>,
    /// Words of records that touch it ("hitch" for the towing capacity).
    pub words: &'static [&'static str],
    phrases: &'static [&'static str],
}

pub const SPECIFICATIONS: &[Specification] = &[
    Specification {
        name: "recommended engine oil (grade and capacity)",
        given_in: "the owner's manual, and the grade is often printed on the oil filler cap",
        task: Some("oil_change"),
        words: &[],
        phrases: &[
            "what oil",
            "which oil",
            "what kind of oil",
            "what type of oil",
            "what sort of oil",
            "kind of oil does",
            "type of oil does",
            "oil type",
            "oil grade",
            "grade of oil",
            "oil weight",
            "weight oil",
            "weight of oil",
            "oil viscosity",
            "viscosity",
            "synthetic or conventional",
            "conventional or synthetic",
            "oil capacity",
            "how much oil does",
            "how many quarts",
            "how many litres of oil",
            "how many liters of oil",
        ],
    },
    Specification {
        name: "towing capacity",
        given_in: "the owner's manual (the trailer towing section) — and a hitch has its own rating, the lower \
                   of the two counts",
        task: None,
        // Not "tow": a tow (the vehicle towed to a shop) says nothing of what it can tow.
        words: &["hitch", "trailer"],
        phrases: &[
            "towing capacity",
            "tow capacity",
            "towing limit",
            "tow limit",
            "tow rating",
            "towing rating",
            "how much can it tow",
            "how much can i tow",
            "how much can we tow",
            "how heavy a trailer",
            "max towing",
            "maximum towing",
        ],
    },
    Specification {
        name: "tire size",
        given_in: "the tire's sidewall and the tire and loading information placard on the driver's door jamb",
        task: None,
        words: &[],
        phrases: &[
            "tire size",
            "tires size",
            "size tire",
            "size tires",
            "size of tire",
            "size of tires",
            "size of the tires",
            "size of my tires",
        ],
    },
    Specification {
        name: "recommended fuel",
        given_in: "the owner's manual, and often a label inside the fuel filler door",
        task: None,
        words: &[],
        phrases: &[
            "octane",
            "premium or regular",
            "regular or premium",
            "what gas does",
            "what fuel does",
            "fuel should i",
            "gas should i",
            "petrol should i",
            "fuel should we",
            "gas should we",
            "which fuel",
            "which gas",
            "type of fuel",
            "type of gas",
            "kind of fuel",
            "kind of gas",
            "need premium",
            "take premium",
            "diesel or petrol",
            "petrol or diesel",
        ],
    },
    Specification {
        name: "fuel tank capacity",
        given_in: "the owner's manual (specifications)",
        task: None,
        words: &[],
        phrases: &[
            "tank capacity",
            "tank size",
            "size of the tank",
            "size of the fuel tank",
            "size of the gas tank",
            "how big is the tank",
            "how big is the gas tank",
            "how big is the fuel tank",
            "how much does the tank hold",
            "how many gallons does",
            "how many litres does",
            "how many liters does",
        ],
    },
    Specification {
        name: "recommended coolant",
        given_in: "the owner's manual, and often the coolant reservoir's cap or label",
        task: Some("coolant"),
        words: &[],
        phrases: &[
            "what coolant",
            "which coolant",
            "type of coolant",
            "kind of coolant",
            "coolant type",
            "what antifreeze",
            "which antifreeze",
            "type of antifreeze",
            "kind of antifreeze",
        ],
    },
];

/// The specification a question asks for ("What oil does it take?"), not when work touching it was done
/// ("When did I last change the oil?" names no specification).
fn specification_asked(q: &str) -> Option<&'static Specification> {
    if has_any(
        q,
        &[
            "when",
            "last time",
            "how many times",
            "how often",
            "spent",
            "cost",
            "paid",
            // "What oil changes …" asks for the records, not for the oil ("what oil" followed by the task).
            "what oil change",
            "what oil changes",
            "which oil change",
            "which oil changes",
        ],
    ) {
        return None;
    }
    SPECIFICATIONS.iter().find(|s| has_any(q, s.phrases))
}

/// A specification by the name answers give it (a stored turn's slot).
pub fn specification(name: &str) -> Option<&'static Specification> {
    SPECIFICATIONS.iter().find(|s| s.name == name)
}

/// Whether a question asks about "the dealer" rather than a vendor it names.
fn dealer_asked(q: &str) -> bool {
    has_any(
        q,
        &[
            "the dealer",
            "my dealer",
            "a dealer",
            "the dealers",
            "the dealership",
            "my dealership",
            "a dealership",
            "which dealer",
            "what dealer",
            "dealer visit",
            "dealer visits",
            "at dealers",
            "at dealerships",
        ],
    )
}

/// A recorded vendor whose words the question holds in another order ("Toyota of Lakeside" for "Lakeside
/// Toyota"): every word of a name of two or more words, the small ones aside. The longest wins.
fn vendor_reworded(q: &str, vendors: &[String]) -> Option<String> {
    const SMALL: [&str; 6] = ["of", "the", "and", "at", "on", "in"];
    vendors
        .iter()
        .filter(|v| {
            let n = normalise(v);
            let words: Vec<&str> = n
                .split_whitespace()
                .filter(|w| !SMALL.contains(w))
                .collect();
            words.len() >= 2 && words.iter().all(|w| has(q, w))
        })
        .max_by_key(|v| v.len())
        .cloned()
}

/// Understands one question. `now` resolves nothing here (ranges stay as asked); the vocabulary comes from
/// the vehicle's records.
pub fn understand(question: &str, vocabulary: &Vocabulary) -> Understanding {
    let q = normalise(question);
    let mut slots = Slots {
        // A range that cannot be read is said back as the question wrote it ("since 2025-02-30", not the
        // normalised "since 2025 02 30").
        range: range_of(&q).map(|r| match r {
            RangeSpec::Unreadable { said } => RangeSpec::Unreadable {
                said: as_written(question, &said).unwrap_or(said),
            },
            read => read,
        }),
        vendor: recorded_name(&q, &vocabulary.vendors)
            .or_else(|| vendor_reworded(&q, &vocabulary.vendors)),
        ..Slots::default()
    };
    // "The dealer" is the vehicle's dealer as recorded: one is the vendor, several are each counted; with
    // none recorded the answer says nothing is recorded "at a dealer" (not at a vendor called "The Dealer").
    if slots.vendor.is_none() && dealer_asked(&q) {
        match vocabulary.dealers.as_slice() {
            [] => slots.vendor = Some("a dealer".into()),
            [one] => slots.vendor = Some(one.clone()),
            several => slots.dealers = several.to_vec(),
        }
    }
    if !slots.names_vendor() {
        slots.vendor = vendor_asked(&q);
    }
    // The vendor's name is not the subject: "at Tacoma Tire" is not about tires, nor "at Precision
    // Collision" about a collision.
    let q_vendor = normalise(slots.vendor.as_deref().unwrap_or_default());
    let q_subject = if q_vendor.trim().is_empty() {
        q.clone()
    } else {
        q.replace(&q_vendor, " ")
    };
    let q = q_subject.as_str();
    let kinds = kinds_of(q);
    slots.kind = kinds.first().copied();
    if kinds.len() > 1 {
        slots.kinds = kinds;
    }
    // "In the shop": a visit for work — maintenance, a repair, a collision's repair, an upgrade — never a
    // fill-up or an odometer reading.
    if slots.kind.is_none()
        && has_any(
            q,
            &[
                "in the shop",
                "to the shop",
                "at the shop",
                "to a shop",
                "shop visit",
                "shop visits",
                "in for service",
                "to the garage",
                "in the garage",
                "to the mechanic",
            ],
        )
    {
        slots.kind = Some(SHOP_KINDS[0]);
        slots.kinds = SHOP_KINDS.to_vec();
        slots.subject = Some("shop visit".into());
    }
    // A recorded part or system is more precise than a task phrase ("brake pads" is not "brake inspection").
    if let Some(part) = part_asked(q, &vocabulary.parts) {
        slots.subject = Some(part.clone());
        slots.part = Some(part);
    } else if let Some(task) = task_of(q) {
        slots.task = Some(task.code.to_string());
        slots.subject = Some(task.noun.to_string());
    } else if let Some(system) = recorded_name(q, &vocabulary.systems) {
        slots.subject = Some(system.clone());
        slots.system = Some(system);
    } else if let Some((_, subject)) = GENERIC_SUBJECTS.iter().find(|(p, _)| has(q, p)) {
        slots.subject = Some(subject.to_string());
        slots.part = Some(subject.to_string());
    }
    // A measurement named is the subject rather than a task or a generic part its words hold: "When was the
    // tire pressure last checked?" asks for records about the tire pressure, not the last tire rotation.
    if let Some(m) = measurement_named(q)
        && !slots
            .part
            .as_ref()
            .is_some_and(|p| vocabulary.parts.contains(p))
        && slots.system.is_none()
    {
        slots.task = None;
        slots.subject = Some(m.to_string());
        slots.part = Some(m.to_string());
    }
    let mut intent = intent_of(q, &slots);
    // Which record: the first or the last one's date or cost; the cheapest, the most expensive or the
    // average asks a cost, whatever else the words looked like.
    slots.pick = pick_of(q);
    match slots.pick {
        Some(Pick::Cheapest | Pick::MostExpensive | Pick::Average)
            if matches!(
                intent,
                Intent::LastDone
                    | Intent::ListEvents
                    | Intent::TotalCost
                    | Intent::CountDone
                    | Intent::Search
                    | Intent::Knowledge
                    | Intent::Unclear
            ) && (slots.has_subject() || slots.kind.is_some() || slots.names_vendor()) =>
        {
            intent = Intent::TotalCost
        }
        Some(Pick::First | Pick::Last)
            if matches!(intent, Intent::LastDone | Intent::TotalCost) => {}
        _ => slots.pick = None,
    }
    slots.other_vehicle = other_vehicle(&normalise(question), vocabulary);
    // A value the records do not hold is no question about the records that name its words ("tire
    // pressure" is not the last work on the tires).
    if let Some(m) = measurement_asked(q) {
        intent = Intent::Knowledge;
        slots.measurement = Some(m.to_string());
    } else if let Some(spec) = specification_asked(q) {
        intent = Intent::Knowledge;
        slots.specification = Some(spec.name.to_string());
    }
    if intent == Intent::VehicleFacts {
        slots.vehicle_facts = vehicle_facts_asked(q).unwrap_or_default();
    }
    // A cost compared over two periods: both totals, the first period as `range`, the second as `compare`.
    if (intent == Intent::TotalCost
        || (matches!(
            intent,
            Intent::ListEvents | Intent::Search | Intent::Unclear
        ) && has_any(
            q,
            &[
                "more on",
                "less on",
                "spend more",
                "spent more",
                "spend less",
                "spent less",
            ],
        )))
        && let Some((first, second)) = compared_ranges(q)
    {
        intent = Intent::TotalCost;
        slots.range = Some(first);
        slots.compare = Some(second);
        slots.pick = None;
    }
    // A count compared over two periods ("Did I change the oil more often this year than last year?",
    // "more oil changes in 2024 or 2023?"): both counts. Not a cost: no word of paying is asked.
    if slots.compare.is_none()
        && !has_any(
            q,
            &[
                "spend",
                "spent",
                "cost",
                "costs",
                "pay",
                "paid",
                "money",
                "expensive",
                "cheaper",
            ],
        )
        && (intent == Intent::CountDone
            || (matches!(
                intent,
                Intent::ListEvents | Intent::Search | Intent::Unclear | Intent::LastDone
            ) && (has_any(
                q,
                &[
                    "more often",
                    "less often",
                    "more frequently",
                    "less frequently",
                    "more times",
                    "fewer times",
                    "as often",
                ],
            ) || (has_any(q, &["more", "fewer"])
                && (slots.task.is_some() || slots.kind.is_some() || !slots.kinds.is_empty())))))
        && let Some((first, second)) = compared_ranges(q)
    {
        intent = Intent::CountDone;
        slots.range = Some(first);
        slots.compare = Some(second);
        slots.pick = None;
    }
    // Asked as less, not more: the verdict says which period had less.
    slots.fewer = slots.compare.is_some()
        && has_any(
            q,
            &[
                "less",
                "fewer",
                "lower",
                "cheaper",
                "smaller",
                "less often",
                "less frequently",
            ],
        )
        && !has_any(q, &["more", "higher", "bigger"]);
    slots.distance_unit = distance_unit_asked(q);
    slots.currency = currency_asked(question, q);
    // What "I" spent (not what "it" cost): the owner's own spending.
    slots.owner = intent == Intent::TotalCost && has_any(q, &["i", "me", "my", "we", "us", "our"]);
    if matches!(intent, Intent::Accidents) {
        slots.kind = Some(EventKind::Collision);
        slots.kinds.clear();
    }
    if matches!(intent, Intent::Upgrades) {
        slots.kind = Some(EventKind::Upgrade);
        slots.kinds.clear();
    }
    // A cost asked of something no task, part, system, kind or vendor names: its words select the records
    // that hold them (titles included), and when none does the answer says so — never every record.
    if intent == Intent::TotalCost
        && !slots.has_subject()
        && slots.kind.is_none()
        && !slots.names_vendor()
        && slots.range != Some(RangeSpec::BeforePurchase)
        && let Some(subject) = cost_subject(q, &vocabulary.vehicle)
    {
        slots.subject = Some(subject.clone());
        slots.part = Some(subject);
    }
    // Subjects joined ("How much have I spent on oil changes and repairs?"): the records of any of them, each
    // said apart with their total — not the records that are an oil change and a repair at once.
    if matches!(
        intent,
        Intent::TotalCost
            | Intent::CountDone
            | Intent::LastDone
            | Intent::WhoDid
            | Intent::ListEvents
    ) && slots.measurement.is_none()
        && slots.specification.is_none()
    {
        let listed = normalise(&question.replace(',', " and "));
        let listed = if q_vendor.trim().is_empty() {
            listed
        } else {
            listed.replace(&q_vendor, " ")
        };
        let either = joined_subjects(&listed, vocabulary);
        if !either.is_empty() {
            slots.task = None;
            slots.part = None;
            slots.system = None;
            slots.kind = None;
            slots.kinds.clear();
            slots.subject = None;
            slots.either = either;
        }
    }
    Understanding { intent, slots }
}

/// The vehicle's own details a question asks for ("What is my VIN?", "What colour is it?", "What's the licence
/// plate?", "What year is my car?"), or every one ("What car is this?": an empty list). Not when it asks about
/// records ("When were the plates renewed?", "How much did the paint cost?").
fn vehicle_facts_asked(q: &str) -> Option<Vec<VehicleFact>> {
    if starts(
        q,
        &[
            "when",
            "how",
            "who",
            "did",
            "has",
            "have",
            "was",
            "were",
            "where did",
            "why",
        ],
    ) {
        return None;
    }
    let asked: Vec<VehicleFact> = [
        (
            VehicleFact::Vin,
            &[
                "vin",
                "vin number",
                "vehicle identification number",
                "chassis number",
            ][..],
        ),
        (
            VehicleFact::Colour,
            &[
                "what colour",
                "what color",
                "which colour",
                "which color",
                "colour is it",
                "color is it",
                "its colour",
                "its color",
                "the colour",
                "the color",
                "paint colour",
                "paint color",
            ][..],
        ),
        (
            VehicleFact::Plate,
            &[
                "the plate",
                "my plate",
                "its plate",
                "plate number",
                "licence plate",
                "license plate",
                "number plate",
                "registration plate",
                "registration number",
                "reg number",
                "tag number",
                "licence number",
                "license number",
            ][..],
        ),
        (
            VehicleFact::Year,
            &[
                "what year is it",
                "what year is my car",
                "what year is the car",
                "what year is my vehicle",
                "what year is the vehicle",
                "what year is my truck",
                "what year is the truck",
                "what year was it made",
                "what year was it built",
                "model year",
            ][..],
        ),
        (
            VehicleFact::Make,
            &[
                "what make is",
                "which make is",
                "what make of car",
                "the make of",
                "its make",
            ][..],
        ),
        (
            VehicleFact::Model,
            &[
                "what model is",
                "which model is",
                "what model of car",
                "the model of",
                "its model",
            ][..],
        ),
        (
            VehicleFact::Trim,
            &["what trim is", "which trim is", "trim level", "its trim"][..],
        ),
    ]
    .into_iter()
    .filter(|(_, phrases)| has_any(q, phrases))
    .map(|(fact, _)| fact)
    .collect();
    if !asked.is_empty() {
        return Some(asked);
    }
    has_any(
        q,
        &[
            "what car is this",
            "what car is it",
            "what vehicle is this",
            "what vehicle is it",
            "which car is this",
            "which vehicle is this",
            "what car do i have",
            "what vehicle do i have",
            "vehicle details",
            "car details",
            "vehicles details",
            "registration details",
            "details of the vehicle",
            "details of my car",
        ],
    )
    .then(Vec::new)
}

/// The two periods a comparison names, in the order named: "Did I spend more this year than last year?", "How
/// does this year's maintenance cost compare to last year's?", "more on repairs in 2024 or 2023?". A word of
/// comparison, and a range on each side of "than", "compared to", "versus", "or" (…).
fn compared_ranges(q: &str) -> Option<(RangeSpec, RangeSpec)> {
    if !has_any(
        q,
        &[
            "more",
            "less",
            "compare",
            "compared",
            "comparison",
            "versus",
            "vs",
            "than",
            "difference",
            "higher",
            "lower",
            "bigger",
            "smaller",
            "cheaper",
        ],
    ) {
        return None;
    }
    const BETWEEN: [&str; 11] = [
        "than",
        "compared to",
        "compared with",
        "compare to",
        "compare with",
        "in comparison to",
        "versus",
        "vs",
        "against",
        "or",
        "and",
    ];
    BETWEEN.iter().find_map(|word| {
        let (before, after) = q.split_once(&format!(" {word} "))?;
        let after = format!(" {after}");
        let Some(first) = range_of(&format!("{before} ")) else {
            // "…in the previous 6 months than in the last 6 months?": the first side named from the second.
            let second = range_of(&after)?;
            let first = period_before(&second, &format!("{before} "))??;
            return (first != second).then_some((first, second));
        };
        // "…than the year before", "…than the 6 months before": the period before the first one named.
        let second = match period_before(&first, &after) {
            Some(second) => second?,
            None => range_of(&after)?,
        };
        (first != second).then_some((first, second))
    })
}

/// The period a comparison's second side names as the one before its first ("the year before", "the
/// previous 6 months", "the 30 days prior", "the period before"): `None` when it names none; `Some(None)`
/// when it names one that is not read against this first period (a year before a month). The year before a
/// calendar year is the calendar year before it, the month before a calendar month the month before it; before
/// a rolling period ("in the last 6 months", "the past 2 weeks") it is the span of the length named (or of the
/// first's, unnamed) that ends where the first begins. A span in days before one in months (or the other way)
/// cannot be placed and is said back.
fn period_before(first: &RangeSpec, after: &str) -> Option<Option<RangeSpec>> {
    const MARKERS: [&str; 5] = ["before", "prior", "previous", "preceding", "earlier"];
    let words: Vec<&str> = after.split_whitespace().collect();
    let unit_of = |w: &str| match w {
        "day" | "days" => Some((1, false)),
        "week" | "weeks" => Some((7, false)),
        "fortnight" | "fortnights" => Some((14, false)),
        "month" | "months" => Some((1, true)),
        "year" | "years" => Some((12, true)),
        "period" | "periods" => Some((0, true)),
        _ => None,
    };
    // "previous 6 months", "prior year": the marker before; "6 months before", "year prior": after.
    let (at, number) = words.iter().enumerate().find_map(|(i, w)| {
        unit_of(w)?;
        let number = i.checked_sub(1).and_then(|j| number_word(words[j]));
        let lead = i.checked_sub(if number.is_some() { 2 } else { 1 });
        let marked = lead.is_some_and(|j| MARKERS.contains(&words[j]))
            || words.get(i + 1).is_some_and(|w| MARKERS.contains(w));
        marked.then_some((i, number))
    })?;
    let word = words[at];
    let (unit, in_months) = unit_of(word)?;
    let said = || {
        let from = at.saturating_sub(2);
        RangeSpec::Unreadable {
            said: words[from..(at + 2).min(words.len())].join(" "),
        }
    };
    let singular = !word.ends_with('s');
    Some(match first {
        RangeSpec::LastMonths { months } => {
            if !in_months {
                return Some(Some(said()));
            }
            let length = match (number, unit) {
                (_, 0) => *months,
                (Some(n), u) => n * u,
                (None, u) if singular => u,
                (None, _) => *months,
            };
            Some(RangeSpec::MonthsBefore {
                months: length,
                before: *months,
            })
        }
        RangeSpec::LastDays { days } => {
            if in_months && unit != 0 {
                return Some(Some(said()));
            }
            let length = match (number, unit) {
                (_, 0) => *days,
                (Some(n), u) => n * u,
                (None, u) if singular => u,
                (None, _) => *days,
            };
            Some(RangeSpec::DaysBefore {
                days: length,
                before: *days,
            })
        }
        // "the year before" a calendar year; "the month before" a calendar month.
        _ if singular && number.is_none_or(|n| n == 1) && unit == 12 => year_before(first),
        _ if singular && number.is_none_or(|n| n == 1) && unit == 1 && in_months => {
            month_before(first)
        }
        _ => None,
    })
}

/// The calendar month before a month-long `range` ("the month before" last month is the month before it);
/// `None` for a range that is not one calendar month the question places without now ("in May").
fn month_before(range: &RangeSpec) -> Option<RangeSpec> {
    Some(match range {
        RangeSpec::ThisMonth => RangeSpec::PreviousMonth,
        RangeSpec::PreviousMonth => RangeSpec::MonthsAgo { months: 2 },
        RangeSpec::MonthsAgo { months } => RangeSpec::MonthsAgo { months: months + 1 },
        RangeSpec::Month { year, month: 1 } => RangeSpec::Month {
            year: year - 1,
            month: 12,
        },
        RangeSpec::Month { year, month } => RangeSpec::Month {
            year: *year,
            month: month - 1,
        },
        _ => return None,
    })
}

/// The calendar year before a year-long `range` ("the year before" 2024 is 2023, before last year the year
/// before it); `None` for a range that is not one calendar year.
fn year_before(range: &RangeSpec) -> Option<RangeSpec> {
    Some(match range {
        RangeSpec::Year { year } => RangeSpec::Year { year: year - 1 },
        RangeSpec::ThisYear => RangeSpec::LastYear,
        RangeSpec::LastYear => RangeSpec::YearsAgo { years: 2 },
        RangeSpec::YearsAgo { years } => RangeSpec::YearsAgo { years: years + 1 },
        _ => return None,
    })
}

/// "How long have I owned it?", and as a sold vehicle is asked about: "How long did I own it?", "How long did
/// we have the truck?", "How long had I kept it?" — I or we, present perfect or past.
fn asks_how_long_owned(q: &str) -> bool {
    const HOLDING: [&str; 14] = [
        "have owned",
        "have had",
        "have kept",
        "did own",
        "did have",
        "did keep",
        "had owned",
        "had had",
        "had kept",
        "had",
        "owned",
        "kept",
        "own",
        "keep",
    ];
    let asked = ["i", "we"].iter().any(|who| {
        HOLDING.iter().any(|verb| {
            // "did own" is asked "did i own"; "have owned" is asked "have i owned".
            let phrase = match verb.split_once(' ') {
                Some((aux, rest)) => format!("how long {aux} {who} {rest}"),
                None => format!("how long {who} {verb}"),
            };
            has(q, &phrase)
        })
    });
    asked
        || has_any(
            q,
            &[
                "how long has it been mine",
                "how long has it been ours",
                "how long was it mine",
                "how long was it ours",
                "owned it for",
                "had it for",
                "how long ago did i buy",
                "how long ago did we buy",
                "how many years have i",
                "how many years have we",
                "how many years did i",
                "how many years did we",
            ],
        )
}

/// What "How much did I pay for the car?" may call the vehicle.
const PURCHASED_VEHICLES: [&str; 9] = [
    "car", "vehicle", "truck", "van", "suv", "pickup", "minivan", "wagon", "jeep",
];

/// The kinds of work a shop visit is: "in the shop", "shop visits".
pub const SHOP_KINDS: [EventKind; 4] = [
    EventKind::Maintenance,
    EventKind::Repair,
    EventKind::Collision,
    EventKind::Upgrade,
];

fn intent_of(q: &str, slots: &Slots) -> Intent {
    let words = q.split_whitespace().count();
    // Follow-ups: short questions leaning on the previous turn. A range alone first: "and before 2025" is
    // that range, not "before that".
    if slots.range.is_some()
        && !slots.has_subject()
        && slots.kind.is_none()
        && !slots.names_vendor()
        && only_a_range(q)
    {
        return Intent::FollowUpRange;
    }
    let core = follow_up_core(q);
    if WHY_FOLLOW_UPS.contains(&core.as_str()) {
        return Intent::FollowUpWhy;
    }
    if VENDOR_FOLLOW_UPS.contains(&core.as_str()) {
        return Intent::FollowUpVendor;
    }
    if ODOMETER_FOLLOW_UPS.contains(&core.as_str()) {
        return Intent::FollowUpOdometer;
    }
    if AGO_FOLLOW_UPS.contains(&core.as_str()) {
        return Intent::FollowUpAgo;
    }
    // "How many miles ago was the last oil change?": the distance and time since, asked with its own subject
    // (the engine answers it as the last one done, then how long ago; a count would not answer it).
    if (slots.has_subject() || slots.kind.is_some() || slots.names_vendor())
        && !matches!(slots.range, Some(RangeSpec::YearsAgo { .. }))
        && has_any(
            q,
            &[
                "miles ago",
                "km ago",
                "kilometers ago",
                "kilometres ago",
                "how long ago",
                "how far back",
                "days ago",
                "months ago",
                "years ago",
                "how long since",
                "how long has it been since",
                "how many miles since",
                "how many km since",
                "how many kilometers since",
                "how many kilometres since",
                "how far since",
                "how far have i driven since",
                "how far have we driven since",
            ],
        )
    {
        return Intent::FollowUpAgo;
    }
    // "how much?" alone asks the cost of what was just said, not of everything.
    if matches!(
        core.as_str(),
        "how much"
            | "how much was it"
            | "how much was that"
            | "what did it cost"
            | "what did that cost"
    ) {
        return Intent::FollowUpCost;
    }
    if starts(
        q,
        &[
            "and before that",
            "before that",
            "and before",
            "what about before that",
            "the time before",
            "and the time before",
            "and prior to that",
            "prior to that",
            "what about before",
        ],
    ) || (words <= 4 && has_any(q, &["before that", "previous one", "one before"]))
    {
        return Intent::FollowUpBefore;
    }
    if vehicle_facts_asked(q).is_some()
        && !has_any(
            q,
            &[
                "how much", "cost", "costs", "spent", "spend", "paid", "pay", "price",
            ],
        )
    {
        return Intent::VehicleFacts;
    }
    if has_any(
        q,
        &[
            "did i sell",
            "did we sell",
            "i sold",
            "we sold",
            "sold it",
            "was it sold",
            "it was sold",
            "sold for",
            "sale price",
            "selling price",
            "did it sell",
            "is it sold",
            "has it been sold",
            "sell for",
            "sell it for",
        ],
    ) {
        return Intent::Sale;
    }
    let costs = has_any(
        q,
        &[
            "how much", "cost", "costs", "spent", "spend", "spending", "paid", "pay", "price",
            "expense", "expenses", "money",
        ],
    );
    if costs
        && !slots.has_subject()
        && slots.kind.is_none()
        && slots.range.is_none()
        && !slots.names_vendor()
        && has_any(
            q,
            &[
                "it cost",
                "that cost",
                "did it cost",
                "was it",
                "that",
                "it",
                "those",
                "they",
            ],
        )
        && words <= 7
        // "How much did I spend on it?" is a question of its own: what the owner spent.
        && !has_any(
            q,
            &[
                "i spend", "i spent", "we spend", "we spent", "i paid", "we paid",
            ],
        )
        && !has_any(
            q,
            &[
                "own",
                "ownership",
                "total",
                "pay for it",
                "paid for it",
                "buy",
                "bought",
                "worth",
            ],
        )
    {
        return Intent::FollowUpCost;
    }
    if has_any(
        q,
        &[
            "fuel economy",
            "fuel efficiency",
            "fuel consumption",
            "gas mileage",
            "mpg",
            "miles per gallon",
            "litres per 100",
            "liters per 100",
            "l 100",
            "l 100km",
            "l 100 km",
        ],
    ) {
        return Intent::FuelEconomy;
    }
    if has_any(
        q,
        &[
            "total cost of ownership",
            "cost of ownership",
            "tco",
            "cost to own",
            "costs to own",
            "cost me in total",
            "cost me overall",
            "all in cost",
            "total cost",
        ],
    ) && !slots.has_subject()
        && slots.kind.is_none()
    {
        return Intent::CostOfOwnership;
    }
    if has_any(
        q,
        &[
            "due",
            "overdue",
            "coming up",
            "upcoming",
            "next service",
            "need to do",
            "needs doing",
            "should i do next",
            "what should i do",
            "recommend",
            "recommended",
            "recommendations",
            "schedule",
            "next maintenance",
            "needs attention",
        ],
    ) || (!costs
        && has_any(
            q,
            &[
                "my next",
                "the next",
                "until next",
                "do i need",
                "does it need",
                "do we need",
                "is it time for",
                "time for an",
                "time for a",
            ],
        ))
    {
        return Intent::DueItems;
    }
    // Questions about maintenance in general, even when they say "my" ("how often should I rotate my tires").
    let general = starts(
        q,
        &[
            "how often should",
            "how often do",
            "when should",
            "what are signs",
            "what are the signs",
            "signs of",
            "why does",
            "why do",
            "why should",
            "what is the purpose",
            "what does a",
            "what does the",
            "how do i know",
            "what causes",
            "how long does a",
            "how long do",
        ],
    ) || (starts(
        q,
        &[
            "what is a",
            "what is an",
            "why is",
            "why are",
            "is it bad",
            "explain",
            "what are",
            "should i",
        ],
    ) && !has_any(q, &["my", "mine", "it been", "i bought", "we"]))
        || has_any(q, &["17c", "diminished value"]);
    if general {
        return Intent::Knowledge;
    }
    if has_any(
        q,
        &[
            "accident",
            "accidents",
            "collision",
            "collisions",
            "crash",
            "crashed",
            "crashes",
            "airbag",
            "airbags",
            "insurance claim",
            "claim",
            "claims",
            "damage",
            "damaged",
            "fender bender",
            "wreck",
            "hit",
        ],
    ) {
        return Intent::Accidents;
    }
    if has_any(
        q,
        &[
            "worth",
            "value",
            "valued",
            "valuation",
            "appraisal",
            "appraised",
            "resale",
            "sell it for",
            "trade in",
            "trade-in",
            "market value",
            "depreciation",
            "depreciated",
        ],
    ) {
        return Intent::Valuation;
    }
    if asks_how_long_owned(q) {
        return Intent::OwnershipLength;
    }
    // Buying what a record names is that record's question, not the vehicle's purchase: "How much gas did
    // I buy last month?" asks for the fill-ups, "When did I buy new tires?" for the tires.
    let bought_other =
        slots.has_subject() || slots.kind.is_some_and(|k| k != EventKind::Acquisition);
    let paid_for_vehicle = ["pay for", "paid for", "pay to buy", "paid to buy"]
        .iter()
        .any(|verb| {
            ["the", "my", "our", "this"].iter().any(|det| {
                PURCHASED_VEHICLES
                    .iter()
                    .any(|v| has(q, &format!("{verb} {det} {v}")))
            })
        });
    if paid_for_vehicle && !bought_other {
        return Intent::Purchase;
    }
    if slots.range != Some(RangeSpec::SincePurchase)
        && slots.range != Some(RangeSpec::BeforePurchase)
        && !bought_other
        && has_any(
            q,
            &[
                "buy",
                "bought",
                "purchase",
                "purchased",
                "purchase price",
                "acquire",
                "acquired",
                "pay for it",
                "paid for it",
                "seller",
                "dealer i bought",
                "new or used",
                "certified",
            ],
        )
    {
        return Intent::Purchase;
    }
    if has_any(
        q,
        &[
            "per month",
            "per year",
            "per week",
            "a month",
            "a year",
            "a day",
            "per day",
            "usage",
            "how much do i drive",
            "how much i drive",
            "how far do i drive",
            "how many miles do i",
            "how many km do i",
            "drive per",
            "miles now",
            "odometer now",
            "mileage now",
            "current mileage",
            "current odometer",
            "what is the mileage",
            "what is the odometer",
            "what is the odometer reading",
            "what is my mileage",
            "what is my odometer",
            "odometer today",
            "miles today",
            "mileage today",
            "how many miles does it have",
            "how many miles is it at",
            "how many miles on it",
            "how many kilometers",
            "estimated odometer",
            "estimated mileage",
            "driving rate",
        ],
    ) && !costs
    {
        return Intent::UsageRate;
    }
    if has_any(
        q,
        &[
            "usually go",
            "usually take",
            "normally go",
            "normally take",
            "usual shop",
            "usual garage",
            "usual mechanic",
            "favourite shop",
            "favorite shop",
            "go most",
            "most often",
            "which shop do",
            "which garage do",
            "where do i take",
            "where do i go",
            "where does it go",
            "who usually",
            "regular shop",
        ],
    ) {
        return Intent::UsualVendor;
    }
    if (has_any(q, UPGRADE_WORDS) || has_any(q, &["added to it", "installed"]))
        && !slots.has_subject()
    {
        return Intent::Upgrades;
    }
    if has_any(
        q,
        &[
            "how many times",
            "how often has",
            "how often have",
            "how often was",
            "how often did",
            "number of times",
            "count",
        ],
    ) || (has(q, "how many")
        && (slots.has_subject() || slots.names_vendor() || slots.kind.is_some()))
    {
        return Intent::CountDone;
    }
    if (starts(
        q,
        &[
            "who",
            "which shop",
            "which garage",
            "which dealer",
            "which mechanic",
            "where was",
            "where were",
            "where did",
        ],
    ) || has_any(
        q,
        &[
            "who did",
            "who replaced",
            "who changed",
            "who fixed",
            "who installed",
        ],
    )) && (slots.has_subject() || slots.kind.is_some())
    {
        return Intent::WhoDid;
    }
    if costs {
        return Intent::TotalCost;
    }
    if slots.has_subject()
        && (has_any(
            q,
            &[
                "when",
                "last",
                "latest",
                "most recent",
                "recently",
                "previous",
                "date",
            ],
        ) || starts(q, &["has", "have", "did", "was", "were", "is"]))
    {
        return Intent::LastDone;
    }
    // A kind named without a task, part or system ("When was the last repair?", "What was my latest
    // service?") asks for its latest record, as a task does — not for the list of them.
    if slots.kind.is_some() && !slots.has_subject() && (starts(q, &["when"]) || last_of_a_kind(q)) {
        return Intent::LastDone;
    }
    if has_any(
        q,
        &[
            "what was done",
            "what happened",
            "history",
            "list",
            "show me",
            "what work",
            "what have i done",
            "what did i do",
            "what was recorded",
            "events",
            "records",
            "summary",
            "summarize",
            "summarise",
            "everything",
        ],
    ) || ((slots.range.is_some() || slots.kind.is_some()) && words <= 8)
    {
        return Intent::ListEvents;
    }
    // "When did I last go to Discount Tire?": the latest record at that vendor, not a search of every word.
    if slots.names_vendor()
        && !slots.has_subject()
        && slots.kind.is_none()
        && has_any(q, &["when", "last", "latest", "most recent", "recently"])
    {
        return Intent::LastDone;
    }
    // "What did the dealer do?": that vendor's records, not a search for the words "did" and "do".
    if slots.names_vendor()
        && !slots.has_subject()
        && slots.kind.is_none()
        && has_any(q, &["do", "did", "done", "work", "worked"])
    {
        return Intent::ListEvents;
    }
    if slots.has_subject() {
        return Intent::LastDone;
    }
    // A warning light said, not asked ("My engine light came on"): what it means is the knowledge's.
    if has_any(
        q,
        &[
            "check engine",
            "engine light",
            "warning light",
            "service engine soon",
        ],
    ) {
        return Intent::Knowledge;
    }
    if starts(q, &["what", "why", "how", "when should", "is it", "are"]) && words >= 3 {
        // A general question about maintenance the records cannot answer: the excerpts may.
        return Intent::Knowledge;
    }
    if (1..=6).contains(&words) {
        return Intent::Search;
    }
    Intent::Unclear
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        Vocabulary {
            vendors: vec![
                "Main St Auto".into(),
                "Lakeside Toyota".into(),
                "U-Haul".into(),
            ],
            parts: vec![
                "front brake pads".into(),
                "front rotors".into(),
                "12V battery".into(),
            ],
            systems: vec!["brakes".into(), "electrical".into()],
            vehicle: vec!["Toyota".into(), "RAV4".into()],
            vin: None,
            dealers: vec!["Lakeside Toyota".into()],
        }
    }

    fn intent(q: &str) -> Intent {
        understand(q, &vocab()).intent
    }

    fn slots(q: &str) -> Slots {
        understand(q, &vocab()).slots
    }

    #[test]
    fn last_done_questions_name_their_task() {
        for q in [
            "When was the oil last changed?",
            "When did I last change the oil?",
            "last oil change?",
            "When was my most recent oil change",
        ] {
            assert_eq!(intent(q), Intent::LastDone, "{q}");
            assert_eq!(slots(q).task.as_deref(), Some("oil_change"), "{q}");
        }
        let s = slots("When were the tyres rotated?");
        assert_eq!(s.task.as_deref(), Some("tire_rotation"));
        assert_eq!(
            slots("when was the cabin air filter replaced")
                .task
                .as_deref(),
            Some("cabin_air_filter")
        );
    }

    #[test]
    fn what_oil_changes_asks_for_the_records_and_what_oil_for_the_specification() {
        for q in [
            "What oil changes and repairs were done?",
            "Which oil changes were at Main St Auto?",
            "What oil change did I have in 2025?",
        ] {
            assert_eq!(slots(q).specification, None, "{q}");
        }
        assert_eq!(
            slots("What oil does it take?").specification.as_deref(),
            Some("recommended engine oil (grade and capacity)")
        );
    }

    #[test]
    fn oil_before_a_fault_or_a_part_is_no_oil_change() {
        for q in [
            "How much did the oil leak repair cost?",
            "When was the oil pressure sensor replaced?",
            "Who fixed the oil pan?",
        ] {
            assert_eq!(slots(q).task, None, "{q}");
        }
        assert_eq!(
            slots("How much did the oil leak repair cost?").kind,
            Some(EventKind::Repair)
        );
        for q in ["How much was the oil?", "When was the oil done?"] {
            assert_eq!(slots(q).task.as_deref(), Some("oil_change"), "{q}");
        }
    }

    #[test]
    fn fill_ups_name_fuel_records_written_with_their_hyphen_or_without() {
        for q in [
            "How many fill-ups have I had?",
            "How many fill ups this year?",
            "How much did my fill-ups cost?",
            "When was the last fill-up?",
            "When did I last fill up?",
        ] {
            assert_eq!(slots(q).kind, Some(EventKind::Fuel), "{q}");
        }
    }

    #[test]
    fn a_recorded_part_wins_over_a_task_phrase() {
        let s = slots("When were the brake pads last replaced?");
        assert_eq!(s.part.as_deref(), Some("front brake pads"));
        assert_eq!(s.task, None);
        assert_eq!(
            intent("When were the brake pads last replaced?"),
            Intent::LastDone
        );
        // Never recorded: a generic subject, still a last-done question.
        let s = slots("When was the timing belt replaced?");
        assert_eq!(s.part.as_deref(), Some("timing belt"));
    }

    #[test]
    fn counts_totals_and_vendors() {
        assert_eq!(
            intent("How many times has the oil been changed?"),
            Intent::CountDone
        );
        assert_eq!(intent("how many oil changes have I had"), Intent::CountDone);
        assert_eq!(
            intent("How much have I spent on maintenance in 2024?"),
            Intent::TotalCost
        );
        let s = slots("How much have I spent on maintenance in 2024?");
        assert_eq!(s.kind, Some(EventKind::Maintenance));
        assert_eq!(s.range, Some(RangeSpec::Year { year: 2024 }));
        let s = slots("How much did I spend at Main St Auto last year?");
        assert_eq!(s.vendor.as_deref(), Some("Main St Auto"));
        assert_eq!(s.range, Some(RangeSpec::LastYear));
        // A vendor no record names is kept (the answer then finds nothing there), not dropped.
        let s = slots("How much have I spent at Jiffy Lube last year?");
        assert_eq!(s.vendor.as_deref(), Some("Jiffy Lube"));
        assert_eq!(s.range, Some(RangeSpec::LastYear));
        assert_eq!(slots("How much have I spent at 50000 miles?").vendor, None);
        assert_eq!(intent("Who did the brakes?"), Intent::WhoDid);
        assert_eq!(
            intent("Where do I usually take it for service?"),
            Intent::UsualVendor
        );
    }

    #[test]
    fn the_other_intents() {
        for (question, expected) in [
            (
                "What's the total cost of ownership?",
                Intent::CostOfOwnership,
            ),
            ("Has it been in an accident?", Intent::Accidents),
            ("Any airbag deployments?", Intent::Accidents),
            ("How much did I pay for it?", Intent::Purchase),
            ("When did I buy it?", Intent::Purchase),
            ("What is it worth?", Intent::Valuation),
            ("What's due?", Intent::DueItems),
            ("Is anything overdue?", Intent::DueItems),
            ("How many miles do I drive per month?", Intent::UsageRate),
            ("What's the odometer today?", Intent::UsageRate),
            ("What upgrades have I made?", Intent::Upgrades),
            ("How long have I owned it?", Intent::OwnershipLength),
            ("Why does 17c matter?", Intent::Knowledge),
            ("What are signs of worn brakes?", Intent::Knowledge),
            ("What was done in 2024?", Intent::ListEvents),
            ("and before that?", Intent::FollowUpBefore),
            ("How much did it cost?", Intent::FollowUpCost),
            ("hitch", Intent::Search),
            ("?", Intent::Unclear),
            ("blorp zzz qqq wibble frotz nope nah", Intent::Unclear),
        ] {
            assert_eq!(intent(question), expected, "{question}");
        }
    }

    #[test]
    fn ranges_resolve_against_now_and_the_purchase() {
        let now = Utc.with_ymd_and_hms(2026, 5, 10, 12, 0, 0).unwrap();
        let bought = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
        let r = resolve_range(&RangeSpec::LastYear, now, None).unwrap();
        assert_eq!(r.from, Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap());
        assert_eq!(r.to, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let r = resolve_range(&RangeSpec::SincePurchase, now, Some(bought)).unwrap();
        assert_eq!(r.from, bought);
        assert!(resolve_range(&RangeSpec::SincePurchase, now, None).is_none());
        assert_eq!(
            range_of(&normalise("in the last 6 months")),
            Some(RangeSpec::LastMonths { months: 6 })
        );
        assert_eq!(
            range_of(&normalise("since I bought it")),
            Some(RangeSpec::SincePurchase)
        );
        let r = resolve_range(&RangeSpec::LastMonths { months: 6 }, now, None).unwrap();
        assert_eq!(r.from, Utc.with_ymd_and_hms(2025, 11, 10, 0, 0, 0).unwrap());
    }

    #[test]
    fn how_long_did_i_own_it_asks_how_long_it_was_owned() {
        for q in [
            "How long have I owned it?",
            "How long did I own it?",
            "How long did I have the truck?",
            "How long did we own the truck?",
            "How long have we had it?",
            "How long had I kept it?",
            "How many years did we have it?",
        ] {
            assert_eq!(intent(q), Intent::OwnershipLength, "{q}");
        }
        // Not about owning: the battery's life is general knowledge.
        assert_eq!(intent("How long does a battery last?"), Intent::Knowledge);
    }

    #[test]
    fn since_we_bought_or_got_it_is_since_the_purchase_as_i_is() {
        for q in [
            "How many oil changes have we done since we bought it?",
            "How much have we spent since we bought the van?",
            "What did we spend since we got it?",
            "What have we done since we've had the truck?",
            "How much have I spent since I got the car?",
            "What was done since we purchased it?",
            "and since we have owned it?",
        ] {
            assert_eq!(
                range_of(&normalise(q)),
                Some(RangeSpec::SincePurchase),
                "{q}"
            );
            assert_ne!(intent(q), Intent::Purchase, "{q}");
        }
        // "got" without the vehicle after it is no purchase.
        assert_eq!(range_of(&normalise("since I got new tires")), None);
        assert_eq!(
            intent("How many oil changes have we done since we bought it?"),
            Intent::CountDone
        );
        assert_eq!(intent("and since we bought it?"), Intent::FollowUpRange);
    }

    #[test]
    fn since_a_month_or_year_and_a_month_without_its_year_are_read_against_now() {
        let now = Utc.with_ymd_and_hms(2026, 5, 10, 12, 0, 0).unwrap();
        let day = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
        let read = |q: &str| range_of(&normalise(q));
        let resolved = |q: &str| {
            let r = resolve_range(&read(q).unwrap(), now, None).unwrap();
            (r.from, r.to, r.label)
        };
        let up_to_now = now + Duration::days(2);
        for (question, from, label) in [
            (
                "How much have I spent since March?",
                day(2026, 3, 1),
                "since March 2026",
            ),
            ("What was done since may", day(2026, 5, 1), "since May 2026"),
            // A month still to come this year is last year's.
            (
                "repairs since September",
                day(2025, 9, 1),
                "since September 2025",
            ),
            (
                "costs since Sept 2024",
                day(2024, 9, 1),
                "since September 2024",
            ),
            (
                "since 2024, what did it cost?",
                day(2024, 1, 1),
                "since 2024",
            ),
        ] {
            assert_eq!(
                resolved(question),
                (from, up_to_now, label.to_string()),
                "{question}"
            );
        }
        assert_eq!(
            read("since March"),
            Some(RangeSpec::SinceMonth {
                month: 3,
                year: None
            })
        );
        for (question, from, to, label) in [
            (
                "How much did I spend in March?",
                day(2026, 3, 1),
                day(2026, 4, 1),
                "in March 2026",
            ),
            (
                "what was done during may",
                day(2026, 5, 1),
                day(2026, 6, 1),
                "in May 2026",
            ),
            (
                "fuel in December",
                day(2025, 12, 1),
                day(2026, 1, 1),
                "in December 2025",
            ),
        ] {
            assert_eq!(
                resolved(question),
                (from, to, label.to_string()),
                "{question}"
            );
        }
        // "since June 2025" is from that month on, not that month alone.
        assert_eq!(
            read("How much have I spent since June 2025?"),
            Some(RangeSpec::SinceMonth {
                month: 6,
                year: Some(2025)
            })
        );
        // A month's name alone is not a range ("may" is also a verb), nor "since" before anything else.
        assert_eq!(read("May I see the repairs?"), None);
        assert_eq!(read("what has been done since then"), None);
        // "since I bought it" keeps its meaning.
        assert_eq!(
            read("since I bought it in March"),
            Some(RangeSpec::SincePurchase)
        );
    }

    #[test]
    fn days_weeks_months_and_named_months_are_read_and_an_unreadable_range_is_kept() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        let read = |q: &str| range_of(&normalise(q));
        let from =
            |q: &str| resolve_range(&read(q).unwrap(), now, None).map(|r| (r.from, r.to, r.label));
        let day = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
        assert_eq!(
            read("How much in the last 30 days?"),
            Some(RangeSpec::LastDays { days: 30 })
        );
        assert_eq!(
            read("What was done in the last 2 weeks?"),
            Some(RangeSpec::LastDays { days: 14 })
        );
        assert_eq!(
            read("spent in the past week"),
            Some(RangeSpec::LastDays { days: 7 })
        );
        assert_eq!(
            read("in the last 2 years"),
            Some(RangeSpec::LastMonths { months: 24 })
        );
        assert_eq!(
            read("in the last month"),
            Some(RangeSpec::LastMonths { months: 1 })
        );
        let (f, t, label) = from("How much did I spend last month?").unwrap();
        assert_eq!(
            (f, t, label.as_str()),
            (
                day(2026, 11, 1),
                day(2026, 12, 1),
                "last month (November 2026)"
            )
        );
        let (f, _, label) = from("this month").unwrap();
        assert_eq!(
            (f, label.as_str()),
            (day(2026, 12, 1), "this month (December 2026)")
        );
        let (f, t, label) = from("What did I spend in March 2026?").unwrap();
        assert_eq!(
            (f, t, label.as_str()),
            (day(2026, 3, 1), day(2026, 4, 1), "in March 2026")
        );
        let (f, t, _) = from("in dec 2025").unwrap();
        assert_eq!((f, t), (day(2025, 12, 1), day(2026, 1, 1)));
        let (f, _, label) = from("in the last 30 days").unwrap();
        assert_eq!(
            (f, label.as_str()),
            (day(2026, 11, 1), "in the last 30 days")
        );
        // A distance is not a year.
        assert_eq!(read("What was done at 2000 miles?"), None);
        assert_eq!(read("oil change in 5000 miles"), None);
        // Bounds with a year missing are said back rather than guessed.
        assert_eq!(
            read("what was done before March?"),
            Some(RangeSpec::Unreadable {
                said: "before march".into()
            })
        );
        let (f, t, label) = from("costs between November and February 2026").unwrap();
        assert_eq!(
            (f, t, label.as_str()),
            (
                day(2025, 11, 1),
                day(2026, 3, 1),
                "between November 2025 and February 2026"
            )
        );
        let (f, t, _) = from("from 2023 to 2024").unwrap();
        assert_eq!((f, t), (day(2023, 1, 1), day(2025, 1, 1)));
        // Named but not readable: kept as said, so the answer can say so instead of answering all time.
        for (q, said) in [
            ("in the last 0 months", "last 0 months"),
            (
                "in the last 99999999999999999999 months",
                "last 99999999999999999999 months",
            ),
            ("in the last 100 years", "last 100 years"),
            ("What did I spend in 1850?", "in 1850"),
            ("in Q2", "q2"),
        ] {
            assert_eq!(
                read(q),
                Some(RangeSpec::Unreadable { said: said.into() }),
                "{q}"
            );
            assert!(from(q).is_none(), "{q}");
        }
    }

    #[test]
    fn may_is_a_month_after_a_range_word_or_before_a_number_and_a_verb_otherwise() {
        let read = |q: &str| range_of(&normalise(q));
        assert_eq!(
            read("costs in the month of May"),
            Some(RangeSpec::RecentMonth { month: 5 })
        );
        assert_eq!(
            read("what was done previous may"),
            Some(RangeSpec::PastMonth { month: 5 })
        );
        assert_eq!(
            read("oil changes this may"),
            Some(RangeSpec::MonthThisYear { month: 5 })
        );
        assert_eq!(
            read("what happened may 2025"),
            Some(RangeSpec::Month {
                year: 2025,
                month: 5
            })
        );
        assert!(matches!(
            read("costs between May and July 2025"),
            Some(RangeSpec::Dates { .. })
        ));
        assert!(matches!(
            read("costs from March to May 2025"),
            Some(RangeSpec::Dates { .. })
        ));
        for q in [
            "may I see the repairs",
            "the brakes may need work",
            "this may be a silly question",
            "what should I check before may I ask",
            "is there anything that may need doing",
            "what did I pay for may i ask",
        ] {
            assert_eq!(read(q), None, "{q}");
        }
        // "before May" without its year is said back, as "before March" is, never read as no range.
        assert_eq!(
            read("what was done before may"),
            Some(RangeSpec::Unreadable {
                said: "before may".into()
            })
        );
        assert_eq!(
            read("what did I spend for may"),
            Some(RangeSpec::RecentMonth { month: 5 })
        );
        // Other months after "for" or "this" are months as before.
        assert_eq!(
            read("what is due for june"),
            Some(RangeSpec::RecentMonth { month: 6 })
        );
    }

    #[test]
    fn a_full_date_bounds_the_range_at_that_day_not_its_year() {
        let now = Utc.with_ymd_and_hms(2026, 5, 10, 12, 0, 0).unwrap();
        let day = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
        let read = |q: &str| range_of(&normalise(q));
        let resolved = |q: &str| {
            let r = resolve_range(&read(q).unwrap(), now, None).unwrap();
            (r.from, r.to, r.label)
        };
        let up_to_now = now + Duration::days(2);
        for (question, from, to, label) in [
            (
                "How many times was the oil changed since 2025-06-01?",
                day(2025, 6, 1),
                up_to_now,
                "since 2025-06-01",
            ),
            (
                "What did I spend since June 1, 2025?",
                day(2025, 6, 1),
                up_to_now,
                "since 2025-06-01",
            ),
            (
                "repairs since 1 June 2025",
                day(2025, 6, 1),
                up_to_now,
                "since 2025-06-01",
            ),
            (
                "What was done before 2025-06-01?",
                DateTime::<Utc>::MIN_UTC,
                day(2025, 6, 1),
                "before 2025-06-01",
            ),
            (
                "oil changes after June 1st, 2025",
                day(2025, 6, 2),
                up_to_now,
                "after 2025-06-01",
            ),
            (
                "How much between 2025-01-10 and 2025-02-20?",
                day(2025, 1, 10),
                day(2025, 2, 21),
                "between 2025-01-10 and 2025-02-20",
            ),
            (
                "from 2024-06-01 to 2025-05-31",
                day(2024, 6, 1),
                day(2025, 6, 1),
                "between 2024-06-01 and 2025-05-31",
            ),
            (
                "What was done in 2025-06-14?",
                day(2025, 6, 14),
                day(2025, 6, 15),
                "on 2025-06-14",
            ),
            (
                "what was done on 14 June 2025",
                day(2025, 6, 14),
                day(2025, 6, 15),
                "on 2025-06-14",
            ),
            (
                "costs until 2025-06-01",
                DateTime::<Utc>::MIN_UTC,
                day(2025, 6, 2),
                "until 2025-06-01",
            ),
        ] {
            assert_eq!(
                resolved(question),
                (from, to, label.to_string()),
                "{question}"
            );
        }
        // A day's shape that names no day is said back, not read as its year.
        for (q, said) in [
            ("since 2025-02-30", "since 2025 02 30"),
            ("what was done on 2025-13-01", "on 2025 13 01"),
        ] {
            assert_eq!(
                read(q),
                Some(RangeSpec::Unreadable { said: said.into() }),
                "{q}"
            );
        }
        // Months and years keep their meaning.
        assert_eq!(
            read("since June 2025"),
            Some(RangeSpec::SinceMonth {
                month: 6,
                year: Some(2025)
            })
        );
        assert_eq!(read("in 2025"), Some(RangeSpec::Year { year: 2025 }));
    }
}
