//! The chat historian end to end, over HTTP on the real server: the demo RAV4 (seeded through the public
//! write paths) and a second history this test records, a question set of several phrasings per intent whose
//! expected values are computed here from the events the timeline API returns, the SSE framing read by a
//! real client, conversation follow-ups, feedback, the audit trail (`vwc chat audit`), tenancy and bad input.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use clap::Parser;
use reqwest::Method;
use serde_json::{Value, json};
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::json as body;

use super::common;
use common::{ask, chat, demo_rav4, pluck, poll_get, post, send_raw, spawn_with_vehicle};

// ---------------------------------------------------------------------------------------------------
// The test's own formatting and arithmetic (independent of the engine's code).

fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn usd(cents: u64) -> String {
    format!("{}.{:02} USD", grouped(cents / 100), cents % 100)
}

fn eur(cents: u64) -> String {
    format!("{}.{:02} EUR", grouped(cents / 100), cents % 100)
}

fn at(e: &Value) -> DateTime<Utc> {
    e["occurredAt"].as_str().unwrap().parse().unwrap()
}

fn day(e: &Value) -> String {
    at(e).format("%Y-%m-%d").to_string()
}

fn id(e: &Value) -> String {
    e["id"].as_str().unwrap().to_string()
}

fn cost(e: &Value) -> u64 {
    e["costCents"].as_u64().unwrap_or(0)
}

fn kind(e: &Value) -> &str {
    e["kind"].as_str().unwrap()
}

fn vendor(e: &Value) -> Option<&str> {
    e["vendor"]["name"].as_str()
}

fn has_task(e: &Value, task: &str) -> bool {
    e["details"]["tasks"]
        .as_array()
        .is_some_and(|t| t.iter().any(|x| x == task))
}

fn numbers(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The timeline oldest first.
struct History {
    events: Vec<Value>,
    unit: &'static str,
}

impl History {
    fn filter(&self, f: impl Fn(&Value) -> bool) -> Vec<&Value> {
        self.events.iter().filter(|e| f(e)).collect()
    }
    fn with_task(&self, task: &str) -> Vec<&Value> {
        self.filter(|e| has_task(e, task))
    }
    fn of_kind(&self, k: &str) -> Vec<&Value> {
        self.filter(|e| kind(e) == k)
    }
    fn odo(&self, n: u64) -> String {
        format!("{} {}", grouped(n), self.unit)
    }
    /// Mirrors the documented usage computation: the first reading within a year before the last one.
    fn usage(&self) -> (u64, u64, String, String) {
        let readings = self.filter(|e| e["odometer"].is_u64());
        let last = readings.last().unwrap();
        let first = readings
            .iter()
            .find(|e| at(e) >= at(last) - chrono::Duration::days(365) && at(e) < at(last))
            .unwrap();
        let (o1, o2) = (
            first["odometer"].as_u64().unwrap(),
            last["odometer"].as_u64().unwrap(),
        );
        let per_day = (o2 - o1) as f64 / ((at(last) - at(first)).num_seconds() as f64 / 86_400.0);
        let per_month = (per_day * 365.25 / 12.0).round() as u64;
        (per_month, o2, id(first), id(last))
    }
}

fn ids(events: &[&Value]) -> Vec<String> {
    events.iter().map(|e| id(e)).collect()
}

/// One question with what its answer must say and cite.
struct Check {
    question: String,
    intent: &'static str,
    contains: Vec<String>,
    /// The exact set of cited event ids; `None` leaves citations unchecked beyond "non-empty".
    cites: Option<Vec<String>>,
    /// Event ids that must be among the citations (the others are checked as every citation is).
    cites_at_least: Vec<String>,
    /// The answer says nothing is recorded: no citations and no number the question did not hold.
    nothing: bool,
    knowledge: Option<&'static str>,
}

fn check(q: &str, intent: &'static str) -> Check {
    Check {
        question: q.into(),
        intent,
        contains: Vec::new(),
        cites: None,
        cites_at_least: Vec::new(),
        nothing: false,
        knowledge: None,
    }
}

impl Check {
    fn says(mut self, s: impl Into<String>) -> Check {
        self.contains.push(s.into());
        self
    }
    fn cites(mut self, ids: Vec<String>) -> Check {
        self.cites = Some(ids);
        self
    }
    /// Says the cost of `events` summed (in `money`'s format) and cites exactly them.
    fn sums(self, events: &[&Value], money: fn(u64) -> String) -> Check {
        let total = events.iter().map(|e| cost(e)).sum();
        self.says(money(total)).cites(ids(events))
    }
    /// For answers whose citations come from another service's explanation (the valuation factors cite
    /// every event that moved the value): the records the test knows must be among them.
    fn cites_at_least(mut self, ids: Vec<String>) -> Check {
        self.cites_at_least = ids;
        self
    }
    fn nothing(mut self) -> Check {
        self.nothing = true;
        self.cites = Some(Vec::new());
        self
    }
    fn knowledge(mut self, id: &'static str) -> Check {
        self.knowledge = Some(id);
        self
    }
}

/// Runs the checks; returns (intent → (passed, total)) and the failures.
async fn run(
    app: &TestApp,
    token: &str,
    vehicle: &str,
    checks: &[Check],
    history: &History,
) -> (BTreeMap<&'static str, (u32, u32)>, Vec<String>) {
    let mut score: BTreeMap<&'static str, (u32, u32)> = BTreeMap::new();
    let mut failures = Vec::new();
    for c in checks {
        let a = ask(app, token, vehicle, &c.question, None).await;
        let text = a["answer"].as_str().unwrap_or_default();
        println!("Q: {}\nA: {text}", c.question);
        let cited = pluck(&a["citations"], "eventId");
        let mut problems = Vec::new();
        if a["intent"] != c.intent {
            problems.push(format!("intent {} (wanted {})", a["intent"], c.intent));
        }
        for s in &c.contains {
            if !text.contains(s.as_str()) {
                problems.push(format!("missing {s:?}"));
            }
        }
        for want in &c.cites_at_least {
            if !cited.contains(want) {
                problems.push(format!("cited {cited:?}, missing {want}"));
            }
        }
        match &c.cites {
            Some(want) => {
                let (mut w, mut g) = (want.clone(), cited.clone());
                w.sort();
                g.sort();
                if w != g {
                    problems.push(format!("cited {g:?}, wanted {w:?}"));
                }
            }
            None if cited.is_empty() && c.knowledge.is_none() => {
                problems.push("no citation".into())
            }
            None => {}
        }
        // Every citation names a record of this vehicle with its date and title.
        for cit in a["citations"].as_array().unwrap() {
            let eid = cit["eventId"].as_str().unwrap();
            if let Some(e) = history.events.iter().find(|e| e["id"] == eid) {
                if cit["title"] != e["title"]
                    || cit["occurredAt"]
                        .as_str()
                        .map(|s| s.parse::<DateTime<Utc>>().ok())
                        != Some(Some(at(e)))
                {
                    problems.push(format!("citation {eid} does not match its record"));
                }
            } else if c.intent != "valuation" {
                problems.push(format!("citation {eid} is not a record of this vehicle"));
            }
        }
        if c.nothing {
            let allowed = numbers(&c.question);
            if let Some(n) = numbers(text).into_iter().find(|n| !allowed.contains(n)) {
                problems.push(format!("a number of its own making: {n}"));
            }
            if !(text.starts_with("No ") || text.starts_with("Nothing")) {
                problems.push("does not say nothing is recorded".into());
            }
        }
        if let Some(k) = c.knowledge
            && a["knowledge"][0]["id"] != k
        {
            problems.push(format!("knowledge {} (wanted {k})", a["knowledge"]));
        }
        let entry = score.entry(c.intent).or_default();
        entry.1 += 1;
        if problems.is_empty() {
            entry.0 += 1;
        } else {
            failures.push(format!(
                "{:?} → {text:?}: {}",
                c.question,
                problems.join("; ")
            ));
        }
    }
    (score, failures)
}

/// The vehicle's timeline (once it holds `n` events), oldest first.
async fn timeline(app: &TestApp, token: &str, vehicle: &str, n: usize) -> Vec<Value> {
    let mut events = app.timeline_of_len(token, vehicle, n).await;
    events.sort_by_key(|e| (at(e), id(e)));
    events
}

/// How many events the demo seed records for the RAV4.
fn demo_rav4_events() -> usize {
    vwc::seed::demo().organisations[0]
        .vehicles
        .iter()
        .find(|v| v.vehicle["model"] == "RAV4")
        .expect("the demo RAV4")
        .events
        .len()
}

/// Waits until the historian holds `n` records of the vehicle.
async fn historian_holds(app: &TestApp, token: &str, vehicle: &str, n: u64) {
    let path = format!("/v1/vehicles/{vehicle}/chat/suggestions");
    vwc_testkit::eventually(
        &format!("the historian holds {n} records"),
        Duration::from_secs(20),
        || async {
            let r = app.get(token, &path).await;
            if r.status() != 200 {
                return None;
            }
            let v: Value = r.json().await.ok()?;
            (v["recordCount"] == n).then_some(())
        },
    )
    .await
}

/// The vehicle's history (in `unit`) once the timeline holds `n` events and the historian holds them too.
async fn held_history(
    app: &TestApp,
    token: &str,
    vehicle: &str,
    n: usize,
    unit: &'static str,
) -> History {
    let events = timeline(app, token, vehicle, n).await;
    historian_holds(app, token, vehicle, events.len() as u64).await;
    History { events, unit }
}

/// Loads the demo seed; a fleet manager's token, the RAV4's id and its history as the historian holds it.
async fn demo_history(app: &TestApp) -> (String, String, History) {
    let (token, rav4) = demo_rav4(app, &[Role::Owner, Role::FleetManager]).await;
    let history = held_history(app, &token, &rav4, demo_rav4_events(), "mi").await;
    (token, rav4, history)
}

/// Waits until the historian holds the vehicle's maintenance schedule (these turns are audited too).
async fn historian_holds_schedule(app: &TestApp, token: &str, vehicle: &str) {
    vwc_testkit::eventually(
        "the historian holds the schedule",
        Duration::from_secs(20),
        || async {
            let a = ask(app, token, vehicle, "What's due?", None).await;
            (!a["answer"].as_str()?.starts_with("No maintenance schedule")).then_some(())
        },
    )
    .await;
}

fn demo_checks(h: &History, maintenance: &Value) -> Vec<Check> {
    let now = vwc_clock::now();
    let oil = h.with_task("oil_change");
    let last_oil = *oil.last().unwrap();
    let mut checks = Vec::new();
    for q in [
        "When was the oil last changed?",
        "When did I last change the oil?",
        "last oil change?",
        "When was my most recent oil change?",
    ] {
        checks.push(
            check(q, "last_done")
                .says(day(last_oil))
                .says(h.odo(last_oil["odometer"].as_u64().unwrap()))
                .says(vendor(last_oil).unwrap())
                .says(usd(cost(last_oil)))
                .cites(vec![id(last_oil)]),
        );
    }
    for (q, task) in [
        (
            "When was the cabin air filter replaced?",
            "cabin_air_filter",
        ),
        ("When were the wipers replaced?", "wiper_blades"),
        ("When was the last safety inspection?", "annual_inspection"),
        ("When were the tires last rotated?", "tire_rotation"),
    ] {
        let last = *h.with_task(task).last().unwrap();
        checks.push(check(q, "last_done").says(day(last)).cites(vec![id(last)]));
    }
    let brakes = h.filter(|e| {
        e["details"]["parts"]
            .as_array()
            .is_some_and(|p| p.iter().any(|x| x == "front brake pads"))
    });
    checks.push(
        check("When were the brake pads replaced?", "last_done")
            .says(day(brakes[0]))
            .says(usd(cost(brakes[0])))
            .cites(ids(&brakes)),
    );
    for q in [
        "How many times has the oil been changed?",
        "How many oil changes have I had?",
    ] {
        checks.push(
            check(q, "count_done")
                .says(format!("{} oil changes recorded", oil.len()))
                .cites(ids(&oil)),
        );
    }
    let rotations = h.with_task("tire_rotation");
    checks.push(
        check("How often have the tires been rotated?", "count_done")
            .says(format!("{} tire rotations recorded", rotations.len()))
            .cites(ids(&rotations)),
    );
    let inspections = h.with_task("annual_inspection");
    checks.push(
        check("How many times was it inspected?", "count_done")
            .says(format!("{} safety inspections recorded", inspections.len()))
            .cites(ids(&inspections)),
    );
    for q in ["Who did the brakes?", "Who replaced the brake pads?"] {
        checks.push(
            check(q, "who_did")
                .says(vendor(brakes[0]).unwrap())
                .cites(ids(&brakes)),
        );
    }
    checks.push(
        check("Which shop did the last oil change?", "who_did").says(format!(
            "Oil change: the latest, on {}, was done by {}",
            day(last_oil),
            vendor(last_oil).unwrap()
        )),
    );
    let maintained = h.of_kind("maintenance");
    let repairs = h.of_kind("repair");
    let main_st = h.filter(|e| vendor(e) == Some("Main St Auto") && e["costCents"].is_u64());
    let costed = h.filter(|e| e["costCents"].is_u64());
    for (q, intent, events) in [
        (
            "How much have I spent on maintenance?",
            "total_cost",
            &maintained,
        ),
        ("What did maintenance cost me?", "total_cost", &maintained),
        ("How much did I spend on repairs?", "total_cost", &repairs),
        (
            "How much have I spent at Main St Auto?",
            "total_cost",
            &main_st,
        ),
        ("How much have I spent on oil changes?", "total_cost", &oil),
        (
            "What's the total cost of ownership?",
            "cost_of_ownership",
            &costed,
        ),
        (
            "What has it cost me in total?",
            "cost_of_ownership",
            &costed,
        ),
        (
            "How much does it cost to own?",
            "cost_of_ownership",
            &costed,
        ),
    ] {
        checks.push(check(q, intent).sums(events, usd));
    }
    // Two subjects joined: the records of either (never those that are both), each said apart, with their
    // total.
    let total = |es: &[&Value]| es.iter().map(|e| cost(e)).sum::<u64>();
    let records = |n: usize| format!("{n} record{}", if n == 1 { "" } else { "s" });
    let oil_or_repairs = h.filter(|e| has_task(e, "oil_change") || kind(e) == "repair");
    checks.push(
        check("How much have I spent on oil changes and repairs?", "total_cost")
            .says(format!(
                "You spent {} on oil changes and repairs, over {}. On oil changes, {} over {}; on repairs, {} \
                 over {}.",
                usd(total(&oil_or_repairs)),
                records(oil_or_repairs.len()),
                usd(total(&oil)),
                records(oil.len()),
                usd(total(&repairs)),
                records(repairs.len())
            ))
            .cites(ids(&oil_or_repairs)),
    );
    checks.push(
        check("How many oil changes and repairs have I had?", "count_done")
            .says(format!(
                "Recorded: {} oil changes, the first on {} and the latest on {}; {} repairs, the first on {} and \
                 the latest on {}. {} in all.",
                oil.len(),
                day(oil[0]),
                day(last_oil),
                repairs.len(),
                day(repairs[0]),
                day(repairs[repairs.len() - 1]),
                records(oil_or_repairs.len())
            ))
            .cites(ids(&oil_or_repairs)),
    );
    // A rolling period against the one before it: the last 6 months from today's start 6 months back, the 6
    // months before ending there.
    let today = now.date_naive();
    let months_back = |m: u32| {
        today
            .checked_sub_months(chrono::Months::new(m))
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
    };
    let spent = |from: DateTime<Utc>, to: Option<DateTime<Utc>>| {
        h.filter(|e| {
            kind(e) != "acquisition"
                && e["costCents"].is_u64()
                && at(e) >= from
                && to.is_none_or(|to| at(e) < to)
        })
    };
    let recent = spent(months_back(6), None);
    let before = spent(months_back(12), Some(months_back(6)));
    let mut both = recent.clone();
    both.extend(before.iter().copied());
    checks.push(
        check(
            "Did I spend more in the last 6 months than the 6 months before?",
            "total_cost",
        )
        .says(format!(
            "in the last 6 months, {} over {}; in the previous 6 months ({} to {}), {} over {}.",
            usd(total(&recent)),
            records(recent.len()),
            months_back(12).format("%Y-%m-%d"),
            (months_back(6) - chrono::Duration::days(1)).format("%Y-%m-%d"),
            usd(total(&before)),
            records(before.len())
        ))
        .cites(ids(&both)),
    );
    // This year is not over: counted so far, and said so.
    let this_year = spent(
        months_back(0).with_day(1).unwrap().with_month(1).unwrap(),
        None,
    );
    let previous_year = h.filter(|e| {
        at(e).year() == now.year() - 1 && kind(e) != "acquisition" && e["costCents"].is_u64()
    });
    let mut both = this_year.clone();
    both.extend(previous_year.iter().copied());
    checks.push(
        check("Did I spend more this year than last year?", "total_cost")
            .says(format!(
                "this year ({} so far, to {})",
                now.year(),
                now.format("%-d %b")
            ))
            .cites(ids(&both)),
    );
    let last_year = now.year() - 1;
    let in_last_year = h.filter(|e| {
        at(e).year() == last_year && kind(e) != "acquisition" && e["costCents"].is_u64()
    });
    let spent_last_year = check("How much did I spend last year?", "total_cost");
    checks.push(if in_last_year.is_empty() {
        spent_last_year.nothing()
    } else {
        spent_last_year.sums(&in_last_year, usd)
    });
    let collisions = h.of_kind("collision");
    let claim = collisions[0]["details"]["insuranceClaimId"]
        .as_str()
        .unwrap();
    for q in [
        "Has it been in an accident?",
        "Any collisions?",
        "Was there an insurance claim?",
        "Did the airbags ever deploy?",
    ] {
        checks.push(
            check(q, "accidents")
                .says(claim)
                .says("severity minor")
                .says("airbags not deployed")
                .says(usd(cost(collisions[0])))
                .cites(ids(&collisions)),
        );
    }
    let bought = h.of_kind("acquisition")[0];
    for q in [
        "When did I buy it?",
        "How much did I pay for it?",
        "Who did I buy it from?",
    ] {
        checks.push(
            check(q, "purchase")
                .says(day(bought))
                .says(usd(bought["details"]["priceCents"].as_u64().unwrap()))
                .says(bought["details"]["seller"].as_str().unwrap())
                .cites(vec![id(bought)]),
        );
    }
    let appraisal = *h.of_kind("valuation").last().unwrap();
    for q in [
        "What is it worth?",
        "What's its current value?",
        "How much is it worth?",
    ] {
        checks.push(
            // The valuation service's current value, explained: the appraisal is one of its factors.
            check(q, "valuation")
                .says(usd(appraisal["details"]["amountCents"].as_u64().unwrap()))
                .says(day(appraisal))
                .says("Why:")
                .cites_at_least(vec![id(appraisal)]),
        );
    }
    let due: Vec<&Value> = maintenance["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["enabled"] == true && (i["status"] == "overdue" || i["status"] == "due_soon"))
        .collect();
    for q in [
        "What's due?",
        "Is anything overdue?",
        "What maintenance is coming up?",
        "What should I do next?",
    ] {
        // Each due item cites the record it was last done by, when there is one; a record that did
        // several of them (an oil change with a tire rotation) once.
        let mut done_by: Vec<String> = due
            .iter()
            .filter_map(|i| {
                let when: DateTime<Utc> = i["lastDoneAt"].as_str()?.parse().ok()?;
                let task = i["task"].as_str()?;
                h.events
                    .iter()
                    .rev()
                    .find(|e| (at(e) - when).num_milliseconds().abs() < 1_000 && has_task(e, task))
                    .map(id)
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        done_by.retain(|id| seen.insert(id.clone()));
        let mut c = check(q, "due_items").cites(done_by);
        for item in &due {
            c = c.says(item["title"].as_str().unwrap());
        }
        if due.is_empty() {
            c = c.says("Nothing is due");
        }
        checks.push(c);
    }
    let oil_item = maintenance["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["task"] == "oil_change")
        .expect("the oil change item");
    let mut c = check("When is the next oil change due?", "due_items")
        .says(oil_item["title"].as_str().unwrap())
        .cites(vec![id(last_oil)]);
    if let Some(d) = oil_item["dueAt"].as_str() {
        c = c.says(format!("due on {d}"));
    }
    checks.push(c);
    let (per_month, last_value, first_id, last_id) = h.usage();
    for q in [
        "How many miles do I drive per month?",
        "What's my usage rate?",
        "What is the odometer today?",
    ] {
        checks.push(
            check(q, "usage_rate")
                .says(h.odo(per_month))
                .says(h.odo(last_value))
                .cites(vec![first_id.clone(), last_id.clone()]),
        );
    }
    let upgrades = h.of_kind("upgrade");
    for q in [
        "What upgrades have I made?",
        "Any modifications?",
        "What accessories were added?",
    ] {
        let mut c = check(q, "upgrades").cites(ids(&upgrades));
        for u in &upgrades {
            c = c.says(u["title"].as_str().unwrap());
        }
        checks.push(c);
    }
    let serviced = h.filter(|e| matches!(kind(e), "maintenance" | "repair") && vendor(e).is_some());
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &serviced {
        *counts.entry(vendor(e).unwrap()).or_default() += 1;
    }
    let (top, n) = counts
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(v, n)| (*v, *n))
        .unwrap();
    let top_events: Vec<&Value> = serviced
        .iter()
        .copied()
        .filter(|e| vendor(e) == Some(top))
        .collect();
    for q in [
        "Where do I usually take it?",
        "Which shop do I go to most often?",
    ] {
        checks.push(
            check(q, "usual_vendor")
                .says(format!(
                    "You usually go to {top}: {n} of {}",
                    serviced.len()
                ))
                .cites(ids(&top_events)),
        );
    }
    for q in ["How long have I owned it?", "How long have I had it?"] {
        checks.push(
            check(q, "ownership_length")
                .says(format!("since {}", day(bought)))
                .cites(vec![id(bought)]),
        );
    }
    let repairs_listed = h.of_kind("repair");
    checks.push(
        check("What repairs were done?", "list_events")
            .says(format!("{} records are recorded", repairs_listed.len()))
            .cites(ids(&repairs_listed)),
    );
    let not_readings = h.filter(|e| kind(e) != "odometer_reading");
    checks.push(
        check("Show me the history", "list_events")
            .says(format!("{} records are recorded", not_readings.len())),
    );
    let tire = *h.with_task("tire_rotation").last().unwrap();
    checks.push(
        check("How often should I rotate my tires?", "knowledge")
            .knowledge("kb_tire_rotation")
            .says(day(tire))
            .cites(vec![id(tire)]),
    );
    checks.push(
        check("Why does 17c matter?", "knowledge")
            .knowledge("kb_17c_diminished_value")
            .cites(Vec::new()),
    );
    checks.push(
        check("What are signs of worn brakes?", "knowledge").knowledge("kb_brake_wear_signs"),
    );
    checks.push(
        check("What does a cabin air filter do?", "knowledge").knowledge("kb_cabin_air_filter"),
    );
    let hitch = h.filter(|e| e["title"].as_str().unwrap().contains("hitch"));
    checks.push(
        check("hitch", "search")
            .says(day(hitch[0]))
            .cites(ids(&hitch)),
    );
    let liners = h.filter(|e| e["title"].as_str().unwrap().contains("floor liners"));
    checks.push(check("floor liners", "search").cites(ids(&liners)));
    // Nothing recorded: a part never replaced, a year with no events.
    for q in [
        "When was the timing belt replaced?",
        "When was the coolant changed?",
        "When were the spark plugs replaced?",
        "How much did I spend on repairs in 2019?",
        "What was done in 2019?",
    ] {
        let intent = if q.starts_with("How much") {
            "total_cost"
        } else if q.starts_with("What was") {
            "list_events"
        } else {
            "last_done"
        };
        checks.push(check(q, intent).nothing());
    }
    checks
}

/// A second history, in km and EUR, with what the demo lacks: a severe collision, a new purchase, an
/// owner's estimate, brake fluid, another shop.
async fn second_history(app: &TestApp, token: &str) -> String {
    let vehicle = {
        let (status, _, v) = post(
            app,
            token,
            "/v1/vehicles",
            &json!({"vin": vwc_testkit::vin(77),
        "year": 2019, "make": "Volkswagen", "model": "Golf", "odometerUnit": "km"}),
        )
        .await;
        assert_eq!(status, 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    };
    let ago = |days: i64| (vwc_clock::now() - chrono::Duration::days(days)).to_rfc3339();
    let events = [
        json!({"kind": "acquisition", "occurredAt": ago(1500), "odometer": 12, "costCents": 2_890_000, "currency": "EUR",
            "title": "Bought new", "vendor": {"name": "Autohaus Nord"}, "details": {"priceCents": 2_890_000, "condition": "new", "seller": "Autohaus Nord"}}),
        json!({"kind": "maintenance", "occurredAt": ago(1200), "odometer": 15_200, "costCents": 18_900, "currency": "EUR",
            "title": "First inspection service", "vendor": {"name": "Autohaus Nord"}, "details": {"tasks": ["oil_change", "brake_inspection"]}}),
        json!({"kind": "maintenance", "occurredAt": ago(800), "odometer": 31_050, "costCents": 9_900, "currency": "EUR",
            "title": "Brake fluid change", "vendor": {"name": "Werkstatt Schmidt"}, "details": {"tasks": ["brake_fluid"]}}),
        json!({"kind": "collision", "occurredAt": ago(600), "odometer": 38_400, "costCents": 640_000, "currency": "EUR",
            "title": "Side impact at junction", "vendor": {"name": "Karosserie Weber"},
            "details": {"severity": "severe", "structural": true, "airbagDeployed": true, "insuranceClaimId": "HUK-55-0917"}}),
        json!({"kind": "repair", "occurredAt": ago(420), "odometer": 44_900, "costCents": 51_200, "currency": "EUR",
            "title": "Alternator replaced", "vendor": {"name": "Werkstatt Schmidt"}, "details": {"system": "electrical", "parts": ["alternator"]}}),
        json!({"kind": "maintenance", "occurredAt": ago(300), "odometer": 49_300, "costCents": 21_400, "currency": "EUR",
            "title": "Oil service", "vendor": {"name": "Werkstatt Schmidt"}, "details": {"tasks": ["oil_change"]}}),
        json!({"kind": "valuation", "occurredAt": ago(100), "odometer": 55_000, "currency": "EUR",
            "title": "My own estimate", "details": {"amountCents": 1_450_000, "source": "user_estimate"}}),
        json!({"kind": "odometer_reading", "occurredAt": ago(10), "odometer": 58_610}),
    ];
    for e in &events {
        let (status, _, b) = post(app, token, &format!("/v1/vehicles/{vehicle}/events"), e).await;
        assert_eq!(status, 201, "{b}");
    }
    vehicle
}

fn second_checks(h: &History) -> Vec<Check> {
    let oil = h.with_task("oil_change");
    let last_oil = *oil.last().unwrap();
    let collision = h.of_kind("collision")[0];
    let bought = h.of_kind("acquisition")[0];
    let fluid = h.with_task("brake_fluid");
    let alternator = h.filter(|e| e["title"] == "Alternator replaced");
    let schmidt = h.filter(|e| vendor(e) == Some("Werkstatt Schmidt"));
    let estimate = h.of_kind("valuation")[0];
    let costed = h.filter(|e| e["costCents"].is_u64());
    let (per_month, last_value, first_id, last_id) = h.usage();
    vec![
        check("When was the oil last changed?", "last_done")
            .says(day(last_oil))
            .says(h.odo(49_300))
            .says("Werkstatt Schmidt")
            .says(eur(21_400))
            .cites(vec![id(last_oil)]),
        check("When was the brake fluid replaced?", "last_done")
            .says(day(fluid[0]))
            .cites(ids(&fluid)),
        check("When was the alternator replaced?", "last_done")
            .says(day(alternator[0]))
            .cites(ids(&alternator)),
        check("How many oil changes have I had?", "count_done")
            .says("2 oil changes recorded")
            .cites(ids(&oil)),
        check("Was it ever in an accident?", "accidents")
            .says("severity severe")
            .says("structural damage")
            .says("airbags deployed")
            .says("HUK-55-0917")
            .says(eur(640_000))
            .cites(vec![id(collision)]),
        check("Did I buy it new or used?", "purchase")
            .says("new")
            .says(eur(2_890_000))
            .says(h.odo(12))
            .cites(vec![id(bought)]),
        check("How much have I spent at Werkstatt Schmidt?", "total_cost").sums(&schmidt, eur),
        check("What is the total cost of ownership?", "cost_of_ownership").sums(&costed, eur),
        check("What is it worth?", "valuation")
            .says(eur(1_450_000))
            .says("estimate")
            .cites_at_least(vec![id(estimate)]),
        check("How many kilometers do I drive per month?", "usage_rate")
            .says(h.odo(per_month))
            .says(h.odo(last_value))
            .cites(vec![first_id, last_id]),
        check("What upgrades have I made?", "upgrades").nothing(),
        check("When was the timing belt replaced?", "last_done").nothing(),
        check("What's due?", "due_items").says("overdue"),
        check("How long have I owned it?", "ownership_length")
            .says(format!("since {}", day(bought)))
            .says("4 years")
            .cites(vec![id(bought)]),
    ]
}

#[tokio::test]
async fn the_question_set_is_answered_from_the_records_with_citations() {
    let app = TestApp::spawn().await;
    let (token, rav4, demo) = demo_history(&app).await;
    app.settle().await;
    // The maintenance view the scheduler published (the edge serves the same events).
    let path = format!("/v1/vehicles/{rav4}/maintenance");
    let maintenance = poll_get(&app, &token, &path, "a maintenance schedule", |m| {
        m["items"]
            .as_array()
            .is_some_and(|i| !i.is_empty())
            .then_some(m)
    })
    .await;
    historian_holds_schedule(&app, &token, &rav4).await;

    let second_token = app.token("org_second", &[Role::Owner]);
    let golf = second_history(&app, &second_token).await;
    let second = held_history(&app, &second_token, &golf, 8, "km").await;
    historian_holds_schedule(&app, &second_token, &golf).await;
    app.settle().await;

    let demo_set = demo_checks(&demo, &maintenance);
    let second_set = second_checks(&second);
    let total = demo_set.len() + second_set.len();
    assert!(total >= 60, "the question set has {total} questions");
    let (mut score, mut failures) = run(&app, &token, &rav4, &demo_set, &demo).await;
    let (score2, failures2) = run(&app, &second_token, &golf, &second_set, &second).await;
    for (intent, (p, t)) in score2 {
        let e = score.entry(intent).or_default();
        e.0 += p;
        e.1 += t;
    }
    failures.extend(failures2);
    println!("question set score by intent ({total} questions):");
    for (intent, (p, t)) in &score {
        println!("  {intent:<18} {p}/{t}");
    }
    assert!(
        failures.is_empty(),
        "{} of {total} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    app.stop().await;
}

/// Reads an SSE body into (event, data) frames.
fn frames(text: &str) -> Vec<(String, Value)> {
    vwc_testkit::sse_events(text)
        .into_iter()
        .map(|(event, data)| (event, serde_json::from_str(&data).expect("data is JSON")))
        .collect()
}

#[tokio::test]
async fn answers_stream_as_sse_and_conversations_keep_context_feedback_and_an_audit_trail() {
    let app = TestApp::spawn().await;
    let (token, rav4, h) = demo_history(&app).await;
    let oil = h.with_task("oil_change");

    // SSE, read by a real client chunk by chunk.
    let question = json!({"question": "When was the oil last changed?"});
    let response = chat(&app, &token, &rav4, Some("text/event-stream"), &question).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut response = response;
    let mut raw = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        raw.extend_from_slice(&chunk);
    }
    let frames = frames(&String::from_utf8(raw).unwrap());
    let (last, deltas) = frames.split_last().unwrap();
    assert_eq!(last.0, "done");
    assert!(deltas.len() > 1, "several deltas");
    assert!(deltas.iter().all(|(e, _)| e == "delta"));
    let streamed: String = deltas
        .iter()
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    let done = &last.1;
    assert_eq!(streamed, done["answer"].as_str().unwrap());
    assert_eq!(done["citations"][0]["eventId"], id(oil[oil.len() - 1]));
    let conversation = done["conversationId"].as_str().unwrap().to_string();
    let first_message = done["messageId"].as_str().unwrap().to_string();

    // Follow-ups in the same conversation.
    let before = ask(&app, &token, &rav4, "and before that?", Some(&conversation)).await;
    assert_eq!(before["conversationId"], conversation.as_str());
    assert_eq!(before["citations"][0]["eventId"], id(oil[oil.len() - 2]));
    assert!(
        before["answer"]
            .as_str()
            .unwrap()
            .contains(&day(oil[oil.len() - 2]))
    );
    let priced = ask(
        &app,
        &token,
        &rav4,
        "How much did it cost?",
        Some(&conversation),
    )
    .await;
    assert!(
        priced["answer"]
            .as_str()
            .unwrap()
            .contains(&usd(cost(oil[oil.len() - 2]))),
        "{priced}"
    );
    // Without a conversation, a follow-up gets suggestions.
    let alone = ask(&app, &token, &rav4, "and before that?", None).await;
    assert_eq!(alone["citations"], json!([]));
    assert!(!alone["suggestions"].as_array().unwrap().is_empty());

    // Feedback on the first answer.
    let (status, _, fb) = post(
        &app,
        &token,
        &format!("/v1/vehicles/{rav4}/chat/{conversation}/messages/{first_message}/feedback"),
        &json!({"helpful": false, "comment": "Missing the dealer visit"}),
    )
    .await;
    assert_eq!(status, 200, "{fb}");
    assert_eq!(fb["helpful"], false);

    // History with the audit fields.
    let history = app
        .get_ok(&token, &format!("/v1/vehicles/{rav4}/chat/{conversation}"))
        .await;
    let messages = history["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3);
    let m = &messages[0];
    assert_eq!(m["question"], "When was the oil last changed?");
    assert_eq!(m["intent"], "last_done");
    assert_eq!(m["slots"]["task"], "oil_change");
    assert_eq!(m["engine"], "deterministic");
    assert!(m["engineVersion"].is_string());
    assert!(m["latencyMicros"].is_u64());
    assert_eq!(m["askedBy"], "test-user");
    assert_eq!(m["feedback"]["comment"], "Missing the dealer visit");
    assert_eq!(messages[1]["followUp"], "follow_up_before");
    assert!(messages[1]["slots"]["before"].is_string());
    assert_eq!(messages[2]["followUp"], "follow_up_cost");

    // Suggestions: prompts and the due items as recommendations.
    let s = app
        .get_ok(&token, &format!("/v1/vehicles/{rav4}/chat/suggestions"))
        .await;
    assert!(
        s["prompts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "When was the oil last changed?")
    );
    assert!(s["recommendations"].is_array());
    assert_eq!(s["vehicleStatus"], "active", "{s}");

    // `vwc chat audit` lists the organisation's turns.
    // (In process: the `vwc` binary in a shared target dir may be another build's.)
    let rows = audit(&app, &[]).await;
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter().all(|r| r["orgId"] == "org_demo"
            && r["answer"].is_string()
            && r["citations"].is_array())
    );
    assert_eq!(rows[0]["feedback"]["helpful"], false);
    let tomorrow = (vwc_clock::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    assert!(audit(&app, &["--since", &tomorrow]).await.is_empty());
    app.stop().await;
}

/// `vwc chat audit --org org_demo` on the app's data dir with `extra` arguments, run in process (the `vwc`
/// binary in a shared target dir may be another build's); its JSON lines.
async fn audit(app: &TestApp, extra: &[&str]) -> Vec<Value> {
    let dir = app.data_dir.path().to_str().unwrap();
    let mut args = vec![
        "vwc",
        "chat",
        "audit",
        "--org",
        "org_demo",
        "--data-dir",
        dir,
    ];
    args.extend_from_slice(extra);
    let cli = vwc::cli::Cli::try_parse_from(args).expect("the audit command parses");
    vwc::cli::audit_lines(cli)
        .await
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn other_organisations_get_404_viewers_may_ask_and_bad_input_is_a_problem() {
    let (app, owner, vehicle) = spawn_with_vehicle(&[Role::Owner], 5).await;
    historian_holds(&app, &owner, &vehicle, 0).await;
    let a = ask(
        &app,
        &owner,
        &vehicle,
        "When was the oil last changed?",
        None,
    )
    .await;
    assert!(
        a["answer"]
            .as_str()
            .unwrap()
            .starts_with("No oil change is recorded")
    );
    let conversation = a["conversationId"].as_str().unwrap().to_string();
    let message = a["messageId"].as_str().unwrap().to_string();

    let viewer = app.token("org_a", &[Role::Viewer]);
    let v = ask(&app, &viewer, &vehicle, "What's due?", None).await;
    assert!(v["answer"].is_string());

    // A colleague of the same organisation (another user, any role) neither reads, continues nor rates
    // this user's conversation: 404, as one that does not exist; the conversation is unchanged.
    let colleague = app.token_of("colleague", "org_a", &[Role::Owner]);
    let mine = format!("/v1/vehicles/{vehicle}/chat/{conversation}");
    let before = body(app.get(&owner, &mine).await).await.2;
    for (method, path, payload) in [
        (
            "POST",
            format!("/v1/vehicles/{vehicle}/chat"),
            json!({"question": "and before that?", "conversationId": conversation}),
        ),
        ("GET", mine.clone(), Value::Null),
        (
            "POST",
            format!("{mine}/messages/{message}/feedback"),
            json!({"helpful": false, "comment": "wrong"}),
        ),
    ] {
        let r = if method == "GET" {
            app.get(&colleague, &path).await
        } else {
            app.post(&colleague, &path, &payload).await
        };
        let (status, ct, b) = body(r).await;
        assert_eq!(status, 404, "{method} {path}: {b}");
        assert_eq!(ct, "application/problem+json");
    }
    assert_eq!(body(app.get(&owner, &mine).await).await.2, before);
    // The colleague's own conversation is theirs to continue.
    let theirs = ask(
        &app,
        &colleague,
        &vehicle,
        "When was the oil last changed?",
        None,
    )
    .await;
    let theirs = theirs["conversationId"].as_str().unwrap().to_string();
    let again = ask(
        &app,
        &colleague,
        &vehicle,
        "and before that?",
        Some(&theirs),
    )
    .await;
    assert_eq!(again["conversationId"], theirs.as_str());

    let other = app.token("org_b", &[Role::Owner]);
    for (method, path, payload) in [
        (
            "POST",
            format!("/v1/vehicles/{vehicle}/chat"),
            json!({"question": "When was the oil last changed?"}),
        ),
        (
            "POST",
            format!("/v1/vehicles/{vehicle}/chat"),
            json!({"question": "hi", "conversationId": conversation}),
        ),
        (
            "GET",
            format!("/v1/vehicles/{vehicle}/chat/{conversation}"),
            Value::Null,
        ),
        (
            "GET",
            format!("/v1/vehicles/{vehicle}/chat/suggestions"),
            Value::Null,
        ),
        (
            "POST",
            format!("/v1/vehicles/{vehicle}/chat/{conversation}/messages/{message}/feedback"),
            json!({"helpful": true}),
        ),
    ] {
        let r = if method == "GET" {
            app.get(&other, &path).await
        } else {
            app.post(&other, &path, &payload).await
        };
        let (status, ct, b) = body(r).await;
        assert_eq!(status, 404, "{method} {path}: {b}");
        assert_eq!(ct, "application/problem+json");
    }
    // The same organisation, a conversation of another vehicle or that does not exist: 404 too.
    let path = format!("/v1/vehicles/{vehicle}/chat");
    let unknown = json!({"question": "and before that?", "conversationId": "conv_nope"});
    assert_eq!(post(&app, &owner, &path, &unknown).await.0, 404);

    let long = "x".repeat(501);
    for (payload, want) in [
        (json!({"question": ""}), 422),
        (json!({"question": "   "}), 422),
        (json!({"question": 5}), 422),
        (json!({}), 422),
        (json!({"question": "hi", "extra": 1}), 422),
        (json!({"question": long}), 422),
    ] {
        let (status, ct, b) = post(&app, &owner, &path, &payload).await;
        assert_eq!(status, want, "{payload}: {b}");
        assert_eq!(ct, "application/problem+json");
    }
    let r = send_raw(
        &app,
        Method::POST,
        &owner,
        &path,
        "application/json",
        "{not json",
    )
    .await;
    let (status, ct, _) = body(r).await;
    assert_eq!((status, ct.as_str()), (400, "application/problem+json"));
    let r = send_raw(&app, Method::POST, &owner, &path, "text/plain", "When?").await;
    assert_eq!(r.status(), 415);
    let r = app
        .http
        .post(app.url(&path))
        .json(&json!({"question": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let feedback = format!("{path}/{conversation}/messages/{message}/feedback");
    let not_a_bool = json!({"helpful": "yes"});
    assert_eq!(post(&app, &owner, &feedback, &not_a_bool).await.0, 422);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------------
// The optional LLM provider, configured as `vwc up` configures it, against a stand-in server.

/// A stand-in `/v1/chat/completions`: the first request gets a grounded answer built from the first record
/// it was given (its date and title, citing its id), every later one an answer with an invented mileage.
async fn llm_stand_in() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>,
) {
    use axum::extract::State;
    use axum::http::HeaderMap;
    type Seen = std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>;
    async fn completions(
        State(seen): State<Seen>,
        headers: HeaderMap,
        axum::Json(body): axum::Json<Value>,
    ) -> axum::Json<Value> {
        let n = {
            let mut seen = seen.lock().unwrap();
            seen.push(
                headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string),
            );
            seen.len()
        };
        let prompt = body["messages"][1]["content"].as_str().unwrap_or("");
        // "[evt_…] 2026-07-02 maintenance: Oil and filter change; odometer …"
        let line = prompt
            .lines()
            .find(|l| l.starts_with('['))
            .unwrap_or_default();
        let (id, rest) = line[1..].split_once("] ").unwrap();
        let (date, rest) = rest.split_once(' ').unwrap();
        let title = rest.split_once(": ").unwrap().1.split(';').next().unwrap();
        let content = if n == 1 {
            format!("Per your records, on {date}: {title} [{id}].")
        } else {
            format!("On {date}, at 99,999 mi: {title} [{id}].")
        };
        axum::Json(
            json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}),
        )
    }
    let seen: Seen = Default::default();
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(completions))
        .with_state(seen.clone());
    let (addr, _) = vwc_testkit::serve(app).await;
    (format!("http://{addr}/v1"), seen)
}

#[tokio::test]
async fn with_an_llm_provider_grounded_answers_stream_and_invented_ones_fall_back() {
    const KEY: &str = "sk-e2e-test-key-1234";
    let (base_url, seen) = llm_stand_in().await;
    let layers = vwc_config::Layers::default();
    let settings = vwc::cli::chat_llm_settings(&layers, Some(&base_url), Some("stand-in"), Some(5))
        .unwrap()
        .expect("configured");
    let settings = vwc_chat_historian::LlmSettings {
        api_key: Some(vwc_chat_historian::ApiKey::new(KEY)),
        ..settings
    };
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), |opts| {
        opts.chat_llm = Some(settings)
    })
    .await;
    let (token, rav4, h) = demo_history(&app).await;
    let oil = h.with_task("oil_change");
    let latest = oil[oil.len() - 1];

    // The LLM's grounded answer, streamed as deltas exactly like the deterministic one.
    let question = json!({"question": "When was the oil last changed?"});
    let response = chat(&app, &token, &rav4, None, &question).await;
    assert_eq!(response.status(), 200);
    let frames = frames(&response.text().await.unwrap());
    let (last, deltas) = frames.split_last().unwrap();
    assert_eq!(last.0, "done");
    assert!(deltas.len() > 1 && deltas.iter().all(|(e, _)| e == "delta"));
    let streamed: String = deltas
        .iter()
        .map(|(_, d)| d["text"].as_str().unwrap())
        .collect();
    let done = &last.1;
    let expected = format!(
        "Per your records, on {}: {}.",
        day(latest),
        latest["title"].as_str().unwrap()
    );
    assert_eq!(done["answer"], expected.as_str());
    assert_eq!(streamed, expected);
    assert_eq!(done["citations"].as_array().unwrap().len(), 1);
    assert_eq!(done["citations"][0]["eventId"], id(latest));
    let conversation = done["conversationId"].as_str().unwrap().to_string();

    // An invented mileage: the deterministic answer is given instead.
    let fallback = ask(
        &app,
        &token,
        &rav4,
        "When was the oil last changed?",
        Some(&conversation),
    )
    .await;
    let answer = fallback["answer"].as_str().unwrap();
    assert!(answer.starts_with("The last oil change was on"), "{answer}");
    assert!(answer.contains(&day(latest)) && !answer.contains("99,999"));
    assert_eq!(fallback["citations"][0]["eventId"], id(latest));

    // The key went out as a bearer token; the audit rows say which engine answered and why not the LLM.
    assert_eq!(
        *seen.lock().unwrap(),
        vec![Some(format!("Bearer {KEY}")); 2]
    );
    let history = app
        .get_ok(&token, &format!("/v1/vehicles/{rav4}/chat/{conversation}"))
        .await;
    let turns = history["messages"].as_array().unwrap();
    assert_eq!(turns.len(), 2);
    assert_eq!(turns[0]["engine"], "llm:stand-in");
    assert_eq!(turns[0]["engineVersion"], "1.3.0");
    assert!(turns[0].get("fallbackReason").is_none());
    assert_eq!(turns[1]["engine"], "deterministic");
    let why = turns[1]["fallbackReason"].as_str().unwrap();
    assert!(
        why.starts_with("llm:stand-in: rejected:") && why.contains("99999"),
        "{why}"
    );
    assert!(!history.to_string().contains(KEY));

    // `vwc chat audit` (in process, as above) lists the same engines and reason.
    let lines = audit(&app, &[]).await;
    let rows: Vec<&Value> = lines
        .iter()
        .filter(|r| r["conversationId"] == conversation.as_str())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["engine"], "llm:stand-in");
    assert_eq!(rows[1]["engine"], "deterministic");
    assert_eq!(rows[1]["fallbackReason"], why);
    assert!(!Value::from(lines).to_string().contains(KEY));
    app.stop().await;
}
