//! Unit tests of the engine over fixture records: each answer is checked against values computed here from
//! the fixture, and every answer's citations against the records it should use.

use chrono::{NaiveDate, TimeZone};
use vwc_contracts::maintenance::{MaintenanceItemView, MaintenanceScheduleUpdated};
use vwc_contracts::{OdometerUnit, Vehicle};

use super::*;
use crate::knowledge::{ValuationFactorView, ValuationPoint, ValuationView};

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
}

fn now() -> DateTime<Utc> {
    at(2026, 5, 10)
}

/// A RAV4's records from its purchase in May 2024 to an odometer reading two years later (`e01`–`e08`:
/// acquisition, three oil changes, brakes, a minor collision, a tow hitch, a reading), as the API holds
/// them.
const FIXTURE_RECORDS: &str = include_str!("fixture_records.json");

fn fixture() -> VehicleKnowledge {
    let events: Vec<VehicleEvent> =
        serde_json::from_str(FIXTURE_RECORDS).expect("the fixture records are events");
    VehicleKnowledge {
        vehicle_id: "veh_1".into(),
        org_id: "org_a".into(),
        vehicle: Some(Vehicle {
            org_id: "org_a".into(),
            vin: "2T3P1RFV8MW123456".into(),
            nickname: Some("Blue".into()),
            registered_at: at(2024, 5, 1),
            ..vwc_contracts::examples::vehicle()
        }),
        events,
        valuation: None,
        maintenance: None,
        version: 1,
    }
}

fn ask(k: &VehicleKnowledge, q: &str) -> Answer {
    answer(q, &Prepared::new(k.clone()), None, now())
}

/// `a` as the turn a follow-up question follows.
fn previous(a: &Answer) -> PreviousTurn {
    PreviousTurn {
        understanding: a.understanding.clone(),
        citations: a.citations.clone(),
    }
}

fn cited(a: &Answer) -> Vec<&str> {
    a.citations.iter().map(|c| c.event_id.as_str()).collect()
}

#[test]
fn the_last_oil_change_is_the_latest_record_with_the_task() {
    let a = ask(&fixture(), "When was the oil last changed?");
    assert_eq!(a.understanding.intent, Intent::LastDone);
    assert_eq!(cited(&a), ["e07"]);
    assert!(a.text.contains("2025-08-30"), "{}", a.text);
    assert!(a.text.contains("44,085 mi"), "{}", a.text);
    assert!(a.text.contains("Quick Lube"), "{}", a.text);
    assert!(a.text.contains("129.99 USD"), "{}", a.text);
}

#[test]
fn a_follow_up_goes_before_what_was_cited_and_then_asks_the_cost() {
    let k = fixture();
    let p = Prepared::new(k);
    let first = answer("When was the oil last changed?", &p, None, now());
    let prev = previous(&first);
    let before = answer("and before that?", &p, Some(&prev), now());
    assert_eq!(before.follow_up, Some(Intent::FollowUpBefore));
    assert_eq!(cited(&before), ["e03"]);
    assert!(before.text.contains("2024-11-20"), "{}", before.text);
    // Two oil changes before the one cited first (e03, e02): counted as such, not "in all".
    assert!(
        before
            .text
            .ends_with("2 are recorded before “Oil change” on 2025-08-30."),
        "{}",
        before.text
    );
    assert!(
        first.text.ends_with("3 are recorded in all."),
        "{}",
        first.text
    );
    let prev = previous(&before);
    let cost = answer("How much did it cost?", &p, Some(&prev), now());
    assert_eq!(cost.follow_up, Some(Intent::FollowUpCost));
    assert_eq!(cited(&cost), ["e03"]);
    assert!(cost.text.contains("164.99 USD"), "{}", cost.text);
    let even_earlier = answer("before that?", &p, Some(&prev), now());
    assert_eq!(cited(&even_earlier), ["e02"]);
    let prev = previous(&even_earlier);
    let none = answer("and before that?", &p, Some(&prev), now());
    assert!(none.citations.is_empty());
    assert!(
        none.text.starts_with(
            "No oil change is recorded before “Oil and filter change + tire rotation” on 2024-06-01"
        ),
        "{}",
        none.text
    );
}

#[test]
fn counts_and_totals_are_computed_from_the_records() {
    let k = fixture();
    let a = ask(&k, "How many times has the oil been changed?");
    assert_eq!(a.understanding.intent, Intent::CountDone);
    assert_eq!(cited(&a), ["e02", "e03", "e07"]);
    assert_eq!(
        a.text,
        "3 oil changes recorded, the first on 2024-06-01 and the latest on 2025-08-30."
    );

    let a = ask(&k, "How much did I spend on maintenance in 2024?");
    assert_eq!(cited(&a), ["e02", "e03"]);
    assert!(
        a.text.contains(&money(12_999 + 16_499, "USD")),
        "{}",
        a.text
    );

    let a = ask(&k, "How much have I spent at Main St Auto?");
    assert_eq!(cited(&a), ["e02", "e03", "e04"]);
    assert!(
        a.text.contains(&money(12_999 + 16_499 + 48_750, "USD")),
        "{}",
        a.text
    );

    // "since June" on 2026-05-10 is since June 2025 (this year's has not come); "in June" that month.
    let a = ask(&k, "How much have I spent since June?");
    assert_eq!(cited(&a), ["e05", "e06", "e07"]);
    assert!(
        a.text.contains(&money(84_000 + 52_500 + 12_999, "USD"))
            && a.text.contains("since June 2025"),
        "{}",
        a.text
    );
    let a = ask(&k, "How much did I spend in June?");
    assert_eq!(cited(&a), ["e05"]);
    assert!(a.text.contains("in June 2025"), "{}", a.text);
    let a = ask(&k, "How much did I spend on maintenance since 2025?");
    assert_eq!(cited(&a), ["e07"]);

    let a = ask(&k, "What is the total cost of ownership?");
    let all: u64 = k.events.iter().filter_map(|e| e.cost_cents).sum();
    assert!(a.text.contains(&money(all, "USD")), "{}", a.text);
    assert_eq!(a.citations.len(), 7);
}

#[test]
fn accidents_purchase_upgrades_vendors_and_ownership() {
    let k = fixture();
    let a = ask(&k, "Has it ever been in an accident?");
    assert_eq!(cited(&a), ["e05"]);
    for fact in [
        "severity minor",
        "no structural damage",
        "airbags not deployed",
        "CLM-2291-77",
        "840.00 USD",
    ] {
        assert!(a.text.contains(fact), "{fact}: {}", a.text);
    }
    let a = ask(&k, "How much did I pay for it?");
    assert_eq!(cited(&a), ["e01"]);
    assert!(
        a.text.contains("27,490.00 USD") && a.text.contains("2024-05-01"),
        "{}",
        a.text
    );
    let a = ask(&k, "What upgrades have I made?");
    assert_eq!(cited(&a), ["e06"]);
    let a = ask(&k, "Where do I usually take it?");
    assert!(
        a.text.starts_with("You usually go to Main St Auto: 3 of 4"),
        "{}",
        a.text
    );
    let a = ask(&k, "How long have I owned it?");
    assert!(
        a.text.contains("2 years, 0 months and 9 days"),
        "{}",
        a.text
    );
    assert_eq!(cited(&a), ["e01"]);
    let a = ask(&k, "Who did the brakes?");
    assert_eq!(a.understanding.intent, Intent::WhoDid);
    assert!(a.text.contains("Main St Auto"), "{}", a.text);
    assert_eq!(cited(&a), ["e04"]);
}

#[test]
fn usage_rate_and_the_estimated_odometer_are_computed_from_two_readings() {
    let k = fixture();
    let a = ask(&k, "How many miles do I drive per month?");
    assert_eq!(a.understanding.intent, Intent::UsageRate);
    // Readings within a year of the last one: the first is e05 (2025-06-14, 41,610), the last e08.
    assert_eq!(cited(&a), ["e05", "e08"]);
    let days = (at(2026, 5, 8) - at(2025, 6, 14)).num_seconds() as f64 / 86_400.0;
    let per_day = (52_434 - 41_610) as f64 / days;
    let per_month = (per_day * 365.25 / 12.0).round() as u64;
    let estimate = 52_434 + (per_day * 2.0).round() as u64;
    assert!(
        a.text.contains(&odometer(per_month, OdometerUnit::Mi)),
        "{}",
        a.text
    );
    assert!(
        a.text.contains(&odometer(estimate, OdometerUnit::Mi)),
        "{}",
        a.text
    );
}

#[test]
fn a_reading_below_an_earlier_one_is_left_out_of_the_usage_rate() {
    // A reading typed short (3,000 for 53,000) after the fixture's last one: the rate is measured to
    // the last trusted reading, as before it was recorded.
    let mut k = fixture();
    let before = ask(&k, "How many miles do I drive per month?");
    let mut typo = k.events.last().unwrap().clone();
    typo.id = "e09".into();
    typo.occurred_at = at(2026, 5, 9);
    typo.odometer = Some(3_000);
    k.events.push(typo);
    let a = ask(&k, "How many miles do I drive per month?");
    assert_eq!(cited(&a), ["e05", "e08"], "{}", a.text);
    assert_eq!(a.text, before.text);
}

#[test]
fn nothing_recorded_says_so_without_numbers_of_its_own() {
    let k = fixture();
    for q in [
        "When was the timing belt replaced?",
        "When was the coolant changed?",
        "How much did I spend on repairs in 2023?",
        "What was done in 2019?",
        // A vendor no record names, and a range with no cost in it: not the all-time total.
        "How much have I spent at Jiffy Lube?",
        "How much have I spent in the last 30 days?",
        "How much did I spend in March 2026?",
    ] {
        let a = ask(&k, q);
        assert!(a.citations.is_empty(), "{q}: {:?}", a.citations);
        assert!(
            a.text.starts_with("No ") || a.text.starts_with("Nothing"),
            "{q}: {}",
            a.text
        );
        let asked: Vec<String> = numbers(q);
        for n in numbers(&a.text) {
            assert!(asked.contains(&n), "{q}: {n} in {}", a.text);
        }
    }
}

fn numbers(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn valuation_and_due_items_come_from_their_projections() {
    let mut k = fixture();
    let a = ask(&k, "What is it worth?");
    assert!(a.text.starts_with("No valuation is recorded"), "{}", a.text);
    k.valuation = valued().valuation;
    let a = ask(&k, "What is it worth and why?");
    assert_eq!(a.understanding.intent, Intent::Valuation);
    assert!(a.text.contains("22,974.15 USD"), "{}", a.text);
    assert!(a.text.contains("-4,515.85 USD"), "{}", a.text);
    assert_eq!(cited(&a), ["0193-val", "e01", "e05"]);

    // "and before that?" is not the current estimate again: the latest value recorded before its day.
    let p = Prepared::new(k.clone());
    let before = answer("and before that?", &p, Some(&previous(&a)), now());
    assert!(before.citations.is_empty());
    assert!(
        before
            .text
            .starts_with("No valuation is recorded before 2026-05-10."),
        "{}",
        before.text
    );
    let mut appraised = k.clone();
    appraised.events.push(VehicleEvent {
        id: "e09".into(),
        kind: EventKind::Valuation,
        occurred_at: at(2025, 12, 1),
        title: "Dealer appraisal".into(),
        currency: Some("USD".into()),
        details: serde_json::json!({"amountCents": 2_450_000, "source": "dealer_appraisal"}),
        vendor: None,
        cost_cents: None,
        ..appraised.events[0].clone()
    });
    let p = Prepared::new(appraised);
    let before = answer("and before that?", &p, Some(&previous(&a)), now());
    assert_eq!(cited(&before), ["e09"]);
    assert_eq!(
        before.text,
        "Before 2026-05-10, the latest recorded valuation is 24,500.00 USD on 2025-12-01, from a dealer appraisal."
    );

    let a = ask(&k, "What's due?");
    assert!(a.text.starts_with("No maintenance schedule"), "{}", a.text);
    k.maintenance = Some(MaintenanceScheduleUpdated {
        vehicle_id: "veh_1".into(),
        items: vec![MaintenanceItemView {
            task: "oil_change".into(),
            title: "Oil and filter change".into(),
            interval_miles: Some(5000),
            interval_km: None,
            interval_months: Some(6),
            last_done_at: Some(at(2025, 8, 30)),
            last_done_odometer: Some(44_085),
            due_at: Some(NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()),
            due_odometer: Some(49_085),
            projected_due_at: None,
            status: MaintenanceStatus::Overdue,
            reason: "Overdue since 2026-02-28".into(),
            due_cycle: "c".into(),
            enabled: true,
        }],
        odometer: None,
        evaluated_at: at(2026, 5, 10),
        evaluated_on: None,
        unit: None,
    });
    let a = ask(&k, "Is anything overdue?");
    assert!(
        a.text.contains("Oil and filter change: overdue"),
        "{}",
        a.text
    );
    assert!(a.text.contains("49,085 mi"), "{}", a.text);
    assert_eq!(cited(&a), ["e07"]);

    // Two due items last done by one record (e02: oil and tire rotation): the record is cited once.
    if let Some(schedule) = k.maintenance.as_mut() {
        let oil = schedule.items[0].clone();
        schedule.items = ["oil_change", "tire_rotation"]
            .map(|task| MaintenanceItemView {
                task: task.into(),
                last_done_at: Some(at(2024, 6, 1)),
                ..oil.clone()
            })
            .to_vec();
    }
    let a = ask(&k, "What's due?");
    assert_eq!(cited(&a), ["e02"], "{}", a.text);

    // Sold: reminded of nothing, so nothing is due for it, whatever its last schedule said.
    let tco = vwc_contracts::lifecycle::total_cost_of_ownership(
        k.vehicle.as_ref().unwrap(),
        &k.events,
        2_000_000,
        "USD",
    );
    if let Some(v) = k.vehicle.as_mut() {
        v.status = vwc_contracts::lifecycle::VehicleStatus::Sold;
        v.sale = Some(vwc_contracts::lifecycle::Sale {
            sold_at: at(2026, 5, 1),
            price_cents: 2_000_000,
            currency: "USD".into(),
            odometer: 50_000,
            total_cost_of_ownership: tco,
        });
    }
    let a = ask(&k, "What's due?");
    assert!(a.citations.is_empty(), "{:?}", a.citations);
    assert!(
        a.text.starts_with("This vehicle was sold on 2026-05-01"),
        "{}",
        a.text
    );
}

#[test]
fn general_questions_cite_knowledge_and_the_vehicles_own_record_apart() {
    let a = ask(&fixture(), "How often should I rotate my tires?");
    assert_eq!(a.understanding.intent, Intent::Knowledge);
    assert_eq!(a.knowledge[0].id, "kb_tire_rotation");
    let a = ask(&fixture(), "Why does 17c matter?");
    assert_eq!(a.knowledge[0].id, "kb_17c_diminished_value");
    assert!(a.citations.is_empty());
}

#[test]
fn unclear_questions_get_suggestions_and_free_text_finds_records() {
    let a = ask(&fixture(), "blorp zzz qqq wibble frotz nope nah");
    assert_eq!(a.understanding.intent, Intent::Unclear);
    assert!(!a.suggestions.is_empty());
    assert!(a.citations.is_empty());
    let a = ask(&fixture(), "hitch");
    assert_eq!(cited(&a), ["e06"]);
}

#[test]
fn since_the_purchase_without_a_purchase_says_so() {
    let mut k = fixture();
    k.events.retain(|e| e.kind != EventKind::Acquisition);
    for q in [
        "How many oil changes since I bought it?",
        "How much have I spent since I bought it?",
        "What was done since I bought it?",
        "Who did the oil changes since I bought it?",
    ] {
        let a = ask(&k, q);
        assert_eq!(
            a.text,
            "No purchase is recorded for this vehicle, so “since you bought it” cannot be placed.",
            "{q}"
        );
        assert!(a.citations.is_empty(), "{q}");
    }
    let a = ask(&fixture(), "How many oil changes since I bought it?");
    assert!(
        a.text
            .contains("3 oil changes recorded since you bought it"),
        "{}",
        a.text
    );
}

#[test]
fn stream_chunks_concatenate_to_the_answer() {
    let text = "The last oil change was on 2025-08-30, at 44,085 mi, by Quick Lube.";
    let pieces = chunks(text);
    assert!(pieces.len() > 1);
    assert_eq!(pieces.concat(), text);
}

#[test]
fn calendar_differences_count_whole_months() {
    let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert_eq!(
        calendar_difference(d(2024, 5, 1), d(2026, 5, 10)),
        (2, 0, 9)
    );
    assert_eq!(
        calendar_difference(d(2024, 1, 31), d(2024, 3, 1)),
        (0, 1, 1)
    );
    assert_eq!(
        calendar_difference(d(2024, 5, 10), d(2024, 5, 1)),
        (0, 0, 0)
    );
}

#[test]
fn a_range_that_cannot_be_read_is_said_back_not_answered_for_all_time() {
    let k = fixture();
    for q in [
        "How much have I spent in the last 0 months?",
        "What was done in the last 99999999999999999999 months?",
    ] {
        let a = ask(&k, q);
        assert!(a.citations.is_empty(), "{q}: {:?}", a.citations);
        assert!(
            a.text.starts_with("I could not read the time range"),
            "{q}: {}",
            a.text
        );
    }
    // A range that is read selects its records and names itself in the answer.
    let a = ask(&k, "How much did I spend in the last 2 years?");
    assert!(!a.citations.is_empty(), "{}", a.text);
    assert!(a.text.contains("in the last 24 months"), "{}", a.text);
}

#[test]
fn a_price_given_at_registration_is_the_purchase_when_no_record_holds_one() {
    let mut k = fixture();
    k.events.retain(|e| e.kind != EventKind::Acquisition);
    let a = ask(&k, "When did I buy it?");
    assert_eq!(a.text, "No purchase is recorded for this vehicle.");
    if let Some(v) = k.vehicle.as_mut() {
        v.purchase_price_cents = Some(1_800_000);
        v.purchase_currency = Some("EUR".into());
    }
    let a = ask(&k, "When did I buy it?");
    assert!(a.text.contains(&money(1_800_000, "EUR")), "{}", a.text);
    assert!(a.text.contains("2024-05-01"), "{}", a.text);
    assert!(a.citations.is_empty());
}

/// A record of `kind` on `on` costing `cost_cents` USD, for tests that build their own history.
fn record(
    id: &str,
    kind: EventKind,
    on: DateTime<Utc>,
    cost_cents: Option<u64>,
    title: &str,
    details: serde_json::Value,
) -> VehicleEvent {
    VehicleEvent {
        id: id.into(),
        kind,
        occurred_at: on,
        recorded_at: on,
        odometer: None,
        cost_cents,
        currency: Some("USD".into()),
        title: title.into(),
        notes: None,
        vendor: None,
        details,
        ..fixture().events[0].clone()
    }
}

/// Bought new in 2019 by someone else (an oil change in 2020), bought used in 2024 by the owner (an oil change
/// in 2025).
fn resold() -> VehicleKnowledge {
    use serde_json::json;
    let mut k = fixture();
    k.events = vec![
        record(
            "a1",
            EventKind::Acquisition,
            at(2019, 5, 1),
            Some(3_000_000),
            "Bought new",
            json!({"priceCents": 3_000_000, "condition": "new"}),
        ),
        record(
            "m1",
            EventKind::Maintenance,
            at(2020, 1, 1),
            Some(5_000),
            "Oil change",
            json!({"tasks": ["oil_change"]}),
        ),
        record(
            "a2",
            EventKind::Acquisition,
            at(2024, 1, 1),
            Some(1_500_000),
            "Bought used",
            json!({"priceCents": 1_500_000, "condition": "used"}),
        ),
        record(
            "m2",
            EventKind::Maintenance,
            at(2025, 1, 1),
            Some(7_000),
            "Oil change",
            json!({"tasks": ["oil_change"]}),
        ),
    ];
    k
}

#[test]
fn the_ownership_starts_at_the_latest_acquisition_not_the_previous_owners() {
    let k = resold();
    let a = ask(&k, "How much have I spent since I bought it?");
    assert_eq!(cited(&a), ["m2"], "{}", a.text);
    assert!(a.text.contains(&money(7_000, "USD")), "{}", a.text);
    let a = ask(&k, "What was done since I bought it?");
    assert_eq!(cited(&a), ["m2", "a2"], "{}", a.text);
    let a = ask(&k, "What's the total cost of ownership?");
    assert_eq!(cited(&a), ["a2", "m2"], "{}", a.text);
    assert!(
        a.text.contains(&money(1_500_000 + 7_000, "USD"))
            && a.text
                .contains(&format!("purchase {}", money(1_500_000, "USD"))),
        "{}",
        a.text
    );
    let a = ask(&k, "How long have I owned it?");
    assert_eq!(cited(&a), ["a2"], "{}", a.text);
}

#[test]
fn before_after_between_and_quarters_bound_the_records() {
    let k = fixture();
    for (q, ids, label) in [
        (
            "How much did I spend before 2025?",
            &["e02", "e03"][..],
            "before 2025",
        ),
        ("How many oil changes after 2024?", &["e07"], "after 2024"),
        (
            "How much have I spent since June 2025?",
            &["e05", "e06", "e07"],
            "since June 2025",
        ),
        (
            "How much did I spend between January and March 2025?",
            &["e04"],
            "between January 2025 and March 2025",
        ),
        (
            "How much did I spend in the first quarter of 2025?",
            &["e04"],
            "in the first quarter of 2025",
        ),
        (
            "How much did I spend in Q1 2025?",
            &["e04"],
            "in the first quarter of 2025",
        ),
        (
            "When was the last oil change before 2025?",
            &["e03"],
            "before 2025",
        ),
    ] {
        let a = ask(&k, q);
        assert_eq!(cited(&a), ids, "{q}: {}", a.text);
        assert!(a.text.contains(label), "{q}: {}", a.text);
    }
    // A year no record can have is said back, not answered for all time.
    let a = ask(&k, "How much did I spend in 1850?");
    assert!(a.citations.is_empty(), "{:?}", a.citations);
    assert!(
        a.text
            .starts_with("I could not read the time range “in 1850”"),
        "{}",
        a.text
    );
}

#[test]
fn a_part_asked_without_its_position_selects_every_part_holding_its_words() {
    use serde_json::json;
    let mut k = fixture();
    k.events = vec![
        record(
            "r1",
            EventKind::Repair,
            at(2025, 2, 10),
            Some(20_000),
            "Brake job",
            json!({"parts": ["front brake pads"]}),
        ),
        record(
            "r2",
            EventKind::Repair,
            at(2026, 3, 10),
            Some(22_000),
            "Brake job",
            json!({"parts": ["rear brake pads"]}),
        ),
    ];
    let a = ask(&k, "When were the brake pads replaced?");
    assert_eq!(cited(&a), ["r2"], "{}", a.text);
    let a = ask(&k, "How many times were the brake pads replaced?");
    assert_eq!(cited(&a), ["r1", "r2"], "{}", a.text);
    // Named in full: that part only.
    let a = ask(&k, "When were the front brake pads replaced?");
    assert_eq!(cited(&a), ["r1"], "{}", a.text);
}

#[test]
fn a_cost_asked_of_a_named_subject_is_its_cost_or_says_none_is_recorded() {
    use serde_json::json;
    let mut k = fixture();
    let fill = |id: &str, on, cents| {
        record(
            id,
            EventKind::Fuel,
            on,
            Some(cents),
            "Fill-up",
            json!({"volume": 40.0, "volumeUnit": "l"}),
        )
    };
    k.events.extend([
        fill("f1", at(2025, 3, 1), 7_000),
        fill("f2", at(2025, 4, 1), 7_100),
        record(
            "u2",
            EventKind::Upgrade,
            at(2025, 9, 1),
            Some(60_000),
            "Roof rack",
            json!({"category": "exterior"}),
        ),
    ]);
    k.sort_events();
    let a = ask(&k, "How much did the roof rack cost?");
    assert_eq!(cited(&a), ["u2"], "{}", a.text);
    assert!(a.text.contains(&money(60_000, "USD")), "{}", a.text);
    let a = ask(&k, "How much did I spend on gas in 2025?");
    assert_eq!(cited(&a), ["f1", "f2"], "{}", a.text);
    assert!(a.text.contains(&money(14_100, "USD")), "{}", a.text);
    let a = ask(&k, "How much did I spend on maintenance and repairs?");
    assert_eq!(cited(&a), ["e02", "e03", "e04", "e07"], "{}", a.text);
    assert!(
        a.text
            .contains(&money(12_999 + 16_499 + 48_750 + 12_999, "USD")),
        "{}",
        a.text
    );
    // Named but matching nothing: said so, not the vehicle's total.
    let a = ask(&k, "How much did the floor mats cost?");
    assert!(a.citations.is_empty(), "{}", a.text);
    assert!(
        a.text.starts_with("No cost is recorded for floor mats"),
        "{}",
        a.text
    );
    // The vehicle itself, or "it", is not a subject.
    let a = ask(&k, "How much have I spent on the RAV4 in 2025?");
    assert!(a.citations.len() > 2, "{}", a.text);
}

#[test]
fn the_purchase_answer_and_the_cost_of_ownership_read_one_purchase_price() {
    use serde_json::json;
    // A price only in the details.
    let mut k = fixture();
    k.events = vec![
        record(
            "a1",
            EventKind::Acquisition,
            at(2024, 1, 1),
            None,
            "Bought",
            json!({"priceCents": 1_000_000, "condition": "used"}),
        ),
        record(
            "m1",
            EventKind::Maintenance,
            at(2025, 1, 1),
            Some(7_000),
            "Oil change",
            json!({"tasks": ["oil_change"]}),
        ),
    ];
    let a = ask(&k, "How much did I pay for it?");
    assert!(a.text.contains(&money(1_000_000, "USD")), "{}", a.text);
    let a = ask(&k, "What's the total cost of ownership?");
    assert_eq!(cited(&a), ["a1", "m1"], "{}", a.text);
    assert!(
        a.text.contains(&money(1_007_000, "USD"))
            && a.text
                .contains(&format!("purchase {}", money(1_000_000, "USD")))
            && !a.text.contains("No purchase price"),
        "{}",
        a.text
    );
    // No acquisition record: the price given at registration.
    k.events.remove(0);
    if let Some(v) = k.vehicle.as_mut() {
        v.purchase_price_cents = Some(1_800_000);
        v.purchase_currency = Some("USD".into());
    }
    let a = ask(&k, "What's the total cost of ownership?");
    assert_eq!(cited(&a), ["m1"], "{}", a.text);
    assert!(
        a.text.contains(&money(1_807_000, "USD"))
            && a.text.contains("the price given at registration")
            && !a.text.contains("No purchase price"),
        "{}",
        a.text
    );
}

/// The fixture sold on 2026-05-09 for 20,000.00 USD at 52,500 mi, with its realised total cost of ownership.
fn sold() -> VehicleKnowledge {
    let mut k = fixture();
    let tco = vwc_contracts::lifecycle::total_cost_of_ownership(
        k.vehicle.as_ref().unwrap(),
        &k.events,
        2_000_000,
        "USD",
    );
    if let Some(v) = k.vehicle.as_mut() {
        v.status = vwc_contracts::lifecycle::VehicleStatus::Sold;
        v.sale = Some(vwc_contracts::lifecycle::Sale {
            sold_at: at(2026, 5, 9),
            price_cents: 2_000_000,
            currency: "USD".into(),
            odometer: 52_500,
            total_cost_of_ownership: tco,
        });
    }
    k
}

#[test]
fn a_sold_vehicle_is_owned_until_its_sale_with_the_realised_cost_of_ownership() {
    let k = sold();
    let total = k
        .vehicle
        .as_ref()
        .unwrap()
        .sale
        .as_ref()
        .unwrap()
        .total_cost_of_ownership
        .total_cents;
    // The past tense is how a sold vehicle is asked about (chatre #3: it answered with the battery's life).
    for q in [
        "How long have I owned it?",
        "How long did I own it?",
        "How long did I have the truck?",
        "How long did we own the truck?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::OwnershipLength, "{q}");
        assert_eq!(cited(&a), ["e01"], "{q}");
        assert!(
            a.text.contains("until you sold it on 2026-05-09")
                && a.text.contains("2 years, 0 months and 8 days"),
            "{q}: {}",
            a.text
        );
    }
    let a = ask(&k, "What's the odometer today?");
    assert!(
        a.text.contains("52,500 mi") && a.text.contains("sold on 2026-05-09"),
        "{}",
        a.text
    );
    assert!(!a.text.contains("Estimated"), "{}", a.text);
    let a = ask(&k, "What's the total cost of ownership?");
    assert!(
        a.text
            .contains("realised total cost of ownership, fixed at the sale, is ")
            && a.text
                .contains(&money(u64::try_from(total).unwrap(), "USD")),
        "{}",
        a.text
    );
    assert_eq!(a.citations.len(), 7, "{}", a.text);
    for q in [
        "When did I sell it?",
        "How much did I sell it for?",
        "What did the truck sell for?",
        "Is it sold?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::Sale, "{q}");
        assert_eq!(
            a.text, "You sold it on 2026-05-09 for 20,000.00 USD, at 52,500 mi.",
            "{q}"
        );
    }
    let a = ask(&fixture(), "When did I sell it?");
    assert_eq!(a.text, "No sale is recorded for this vehicle.");
}

/// The sale is the vehicle's `sale`, no timeline record, so its answer cites none; the follow-ups after it
/// read the sale (chatre #5: "how much?" said no cost was recorded, "what was the mileage?" that no record
/// was cited, just after the price and odometer were given).
#[test]
fn the_follow_ups_after_the_sale_read_the_sale() {
    let p = Prepared::new(sold());
    let sale = answer("How much did I sell it for?", &p, None, now());
    assert!(sale.citations.is_empty());
    let prev = previous(&sale);
    for (q, follow_up, said) in [
        (
            "how much?",
            Intent::FollowUpCost,
            "It sold for 20,000.00 USD on 2026-05-09.",
        ),
        (
            "what was the mileage?",
            Intent::FollowUpOdometer,
            "At the sale on 2026-05-09 the odometer read 52,500 mi.",
        ),
        (
            "how long ago was that?",
            Intent::FollowUpAgo,
            "The sale on 2026-05-09 was 1 day ago, at 52,500 mi, the vehicle's last odometer.",
        ),
        (
            "who did it?",
            Intent::FollowUpVendor,
            "The sale on 2026-05-09 records no buyer: only its date, price and odometer.",
        ),
    ] {
        let a = answer(q, &p, Some(&prev), now());
        assert_eq!(a.follow_up, Some(follow_up), "{q}");
        assert_eq!(a.text, said, "{q}");
        assert!(a.citations.is_empty(), "{q}");
        // Stored as the sale question, so the next follow-up still reads the sale.
        assert_eq!(a.understanding.intent, Intent::Sale, "{q}");
    }
    // Not dated records: nothing "before that" (as documented), not a record of the sale's.
    let before = answer("and before that?", &p, Some(&prev), now());
    assert!(
        before.text.contains("not read from dated records"),
        "{}",
        before.text
    );
    // Without a sale, the follow-ups say there is nothing cited, as before.
    let p = Prepared::new(fixture());
    let none = answer("When did I sell it?", &p, None, now());
    let a = answer("how much?", &p, Some(&previous(&none)), now());
    assert!(
        a.text.starts_with("The previous answer cited no record"),
        "{}",
        a.text
    );
}

/// A question naming another vehicle is not answered with this one's records (the chat reads only this
/// vehicle's): said so, nothing cited. Its own names, its vendors and brands of shops are not another vehicle.
#[test]
fn a_question_about_another_vehicle_is_not_answered_with_this_ones_records() {
    let k = fixture();
    let p = Prepared::new(k.clone());
    for (q, other) in [
        ("When was the Civic's last oil change?", "Civic"),
        ("When was the oil changed on my wife's Honda?", "Honda"),
        ("How much did the Transit cost?", "Transit"),
        ("When was the oil changed on the Tesla?", "Tesla"),
        ("How many oil changes has the F-150 had?", "F-150"),
        ("What's due on our Golf?", "Golf"),
        ("When was the Toyota Camry serviced?", "Camry"),
        (
            "Has 1HGCM82633A004352 had an accident?",
            "vehicle with VIN 1HGCM82633A004352",
        ),
        ("How much is the Ford worth?", "Ford"),
    ] {
        let a = ask(&k, q);
        assert_eq!(
            a.understanding.slots.other_vehicle.as_deref(),
            Some(other),
            "{q}"
        );
        assert!(a.citations.is_empty(), "{q}: {:?}", a.citations);
        assert_eq!(
            a.text,
            format!(
                "This chat answers about this vehicle only, the 2021 Toyota RAV4 (Blue), from its own \
                 records; the {other} is not this vehicle. To ask about it, open its page and ask there."
            ),
            "{q}"
        );
    }
    // Asked as a follow-up too: "and the Civic?" is not the previous question about this vehicle again.
    let first = answer("When was the oil last changed?", &p, None, now());
    for q in ["and the Civic?", "and what about the Transit in 2025?"] {
        let a = answer(q, &p, Some(&previous(&first)), now());
        assert!(a.citations.is_empty(), "{q}: {}", a.text);
        assert!(
            a.text
                .starts_with("This chat answers about this vehicle only"),
            "{q}: {}",
            a.text
        );
    }
    // Its own make, model, nickname and VIN, its vendors, brands of shops and parts, everyday words.
    for q in [
        "When was the last oil change on the RAV4?",
        "When was the Toyota last serviced?",
        "When did Blue last have its oil changed?",
        "How much have I spent at Lakeside Toyota?",
        "Did I ever go to the Honda dealer?",
        "Did the shop use genuine Honda parts?",
        "When did I last go to Toyota of Lakeside?",
        "What is the oil change history of 2T3P1RFV8MW123456?",
        "Has my truck had an oil change?",
        "When was the car last serviced?",
        "Was anything damaged in transit?",
        "When was the oil changed in Tahoe?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.slots.other_vehicle, None, "{q}");
        assert!(
            !a.text.contains("This chat answers about"),
            "{q}: {}",
            a.text
        );
    }
    let a = ask(&k, "When was the last oil change on the RAV4?");
    assert_eq!(cited(&a), ["e07"]);
    // A Honda's own make is no other vehicle, nor "Honda dealer" on it; a Toyota named on it is.
    let mut honda = fixture();
    if let Some(v) = honda.vehicle.as_mut() {
        v.make = "Honda".into();
        v.model = "Civic".into();
        v.nickname = None;
    }
    for q in [
        "When was my Civic's oil changed?",
        "When did the Honda dealer last see it?",
        "When was the Honda last serviced?",
    ] {
        let a = ask(&honda, q);
        assert_eq!(a.understanding.slots.other_vehicle, None, "{q}");
    }
    // "VW" on a Volkswagen is its own make; on a fleet's "Van 3", "Van 1" is another vehicle.
    let mut van = fixture();
    if let Some(v) = van.vehicle.as_mut() {
        v.make = "Volkswagen".into();
        v.model = "Transporter".into();
        v.nickname = Some("Van 3".into());
    }
    for q in [
        "When was the VW last serviced?",
        "When was van 3's oil changed?",
        "How much did the Volkswagen cost me in 2025?",
    ] {
        let a = ask(&van, q);
        assert_eq!(a.understanding.slots.other_vehicle, None, "{q}");
    }
    for (q, other) in [
        ("When was the oil changed on Van 1?", "Van 1"),
        // Possessive (probe api41: answered with Van 3's own records).
        ("When was Van 1's last oil change?", "Van 1"),
        ("Van 2's last oil change", "Van 2"),
    ] {
        let a = ask(&van, q);
        assert_eq!(
            a.understanding.slots.other_vehicle.as_deref(),
            Some(other),
            "{q}"
        );
        assert!(a.citations.is_empty(), "{q}: {}", a.text);
    }
    let a = ask(&honda, "When was the RAV4's oil changed?");
    assert_eq!(a.understanding.slots.other_vehicle.as_deref(), Some("RAV4"));
    assert!(a.text.contains("the 2021 Honda Civic, "), "{}", a.text);
}

/// A measurement the records do not hold is said to be not held, with the knowledge excerpt about it —
/// never the last tire rotation (chatre #7: "What's the tire pressure supposed to be?").
#[test]
fn a_measurement_the_records_do_not_hold_is_said_so() {
    let k = fixture();
    for q in [
        "What's my tire pressure?",
        "tire pressure",
        "What's the tire pressure supposed to be?",
        "What PSI should my tyres be at?",
        "How much air should my tires have?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::Knowledge, "{q}");
        assert!(a.citations.is_empty(), "{q}: {}", a.text);
        assert!(
            a.text.starts_with(
                "This vehicle's records do not hold its tire pressure: they hold the work done, costs, \
                 fill-ups and odometer readings. The pressure a vehicle's tires should hold"
            ),
            "{q}: {}",
            a.text
        );
        let kb: Vec<&str> = a.knowledge.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(kb, ["kb_tire_pressure"], "{q}");
    }
    // One the knowledge does not speak to either: said so, no excerpt.
    let a = ask(&k, "What's the oil level?");
    assert_eq!(
        a.text,
        "This vehicle's records do not hold its oil level: they hold the work done, costs, fill-ups and \
         odometer readings."
    );
    assert!(a.knowledge.is_empty() && a.citations.is_empty());
    // Nor the tire pressure's excerpt for the oil pressure (probe api41: matched on "pressure" alone).
    let a = ask(&k, "What's my oil pressure?");
    assert_eq!(
        a.understanding.slots.measurement.as_deref(),
        Some("oil pressure")
    );
    assert!(a.knowledge.is_empty(), "{:?}", a.knowledge);
    // Not the fuel spending.
    let a = ask(&k, "How much gas is left in the tank?");
    assert_eq!(
        a.understanding.slots.measurement.as_deref(),
        Some("fuel level")
    );
    assert!(a.citations.is_empty(), "{}", a.text);
    // When it was checked, and the tires' own work, are still read from the records.
    let a = ask(&k, "When were the tires last rotated?");
    assert_eq!(a.understanding.slots.measurement, None);
    assert!(!a.citations.is_empty(), "{}", a.text);
    // Asked when it was checked, it is the subject: no record names it, so none is recorded — not the
    // last work on the tires.
    for q in [
        "When was the tire pressure last checked?",
        "Is my tire pressure light on?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.slots.measurement, None, "{q}");
        assert_eq!(
            a.understanding.slots.part.as_deref(),
            Some("tire pressure"),
            "{q}"
        );
        assert!(a.citations.is_empty(), "{q}: {}", a.text);
    }
    // A general question about it gives the excerpt, without the last tire rotation as "its" record.
    let a = ask(&k, "How often should I check tire pressure?");
    assert_eq!(a.knowledge[0].id, "kb_tire_pressure");
    assert!(a.citations.is_empty(), "{}", a.text);
    let a = ask(&k, "How often should I rotate my tires?");
    assert_eq!(a.knowledge[0].id, "kb_tire_rotation");
}

#[test]
fn record_text_that_could_reorder_the_answer_is_isolated() {
    let mut k = fixture();
    let e07 = k.events.iter_mut().find(|e| e.id == "e07").unwrap();
    e07.vendor = Some(vwc_contracts::Vendor {
        name: "Tire Pros \u{202e}".into(),
        dealer_id: None,
    });
    e07.title = "تغيير الزيت".into();
    let a = ask(&k, "When was the oil last changed?");
    assert!(
        a.text
            .contains("by \u{2068}Tire Pros \u{202e}\u{2069} (“\u{2068}تغيير الزيت\u{2069}”"),
        "{:?}",
        a.text
    );
    let a = ask(&k, "Who did the oil changes?");
    assert!(
        a.text
            .contains("done by \u{2068}Tire Pros \u{202e}\u{2069}."),
        "{:?}",
        a.text
    );
    // Plain text is left as it is.
    let a = ask(&fixture(), "Who did the oil changes?");
    assert!(!a.text.contains('\u{2068}'), "{:?}", a.text);
}

#[test]
fn parts_read_as_worked_on_a_vendor_is_no_subject_and_suggestions_fit_the_vehicle() {
    let k = fixture();
    let a = ask(&k, "When were the front brake pads replaced?");
    assert!(
        a.text
            .starts_with("The last work on the front brake pads was on 2025-01-15"),
        "{}",
        a.text
    );
    let a = ask(&k, "When was the oil last changed?");
    assert!(
        a.text.starts_with("The last oil change was on"),
        "{}",
        a.text
    );
    // "Tire" in a vendor's name is not the subject.
    let a = ask(&k, "How much did I spend at Tacoma Tire?");
    assert!(
        a.text
            .starts_with("No cost is recorded for the vehicle (purchase excluded) at Tacoma Tire"),
        "{}",
        a.text
    );
    let mut km = fixture();
    let mut sold = fixture();
    if let Some(v) = km.vehicle.as_mut() {
        v.odometer_unit = OdometerUnit::Km;
    }
    km.maintenance = Some(MaintenanceScheduleUpdated {
        vehicle_id: "veh_1".into(),
        items: Vec::new(),
        odometer: None,
        evaluated_at: at(2026, 5, 10),
        evaluated_on: None,
        unit: None,
    });
    sold.maintenance = km.maintenance.clone();
    if let Some(v) = sold.vehicle.as_mut() {
        v.status = vwc_contracts::lifecycle::VehicleStatus::Sold;
    }
    let offered = suggestions(&km);
    assert!(
        offered.contains(&"How many km do I drive per month?".to_string())
            && offered.contains(&"What is due next?".to_string()),
        "{offered:?}"
    );
    assert_eq!(
        ask(&km, "How many km do I drive per month?")
            .understanding
            .intent,
        Intent::UsageRate
    );
    let offered = suggestions(&sold);
    assert!(
        !offered.contains(&"What is due next?".to_string())
            && offered.contains(&"How many miles do I drive per month?".to_string()),
        "{offered:?}"
    );
}

#[test]
fn a_sold_vehicle_is_worth_its_sale_never_an_estimate_after_it() {
    // The estimate the chat last heard of (2026-05-10) is after the sale (2026-05-09).
    let mut k = sold();
    k.valuation = valued().valuation;
    for q in ["What is it worth?", "How much is my car worth?"] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::Valuation, "{q}");
        assert_eq!(
            a.text,
            "It was sold on 2026-05-09 for 20,000.00 USD: that sale price is its final value, and it is \
             not valued after the sale.",
            "{q}"
        );
        assert!(a.citations.is_empty(), "{q}");
    }
    let why = conversation(&k, &["What is it worth?", "why?"])
        .pop()
        .unwrap();
    assert!(
        why.text.starts_with("It was sold on 2026-05-09"),
        "{}",
        why.text
    );
    // Not sold: the estimate, as before.
    assert!(
        ask(&valued(), "What is it worth?")
            .text
            .starts_with("Its estimated value is")
    );
}

#[test]
fn a_sold_vehicle_is_offered_its_sale_not_its_worth_and_a_collision_free_one_no_diminished_value() {
    let mut k = sold();
    k.valuation = valued().valuation;
    let offered = suggestions(&k);
    for (want, present) in [
        ("When did I sell it, and for how much?", true),
        ("How long did I own it?", true),
        ("What is it worth, and why?", false),
        ("How long have I owned it?", false),
    ] {
        assert_eq!(
            offered.contains(&want.to_string()),
            present,
            "{want}: {offered:?}"
        );
    }
    // Each offered question is understood as what it asks.
    let sale = ask(&k, "When did I sell it, and for how much?");
    assert_eq!(sale.understanding.intent, Intent::Sale, "{}", sale.text);
    assert!(sale.text.contains("20,000"), "{}", sale.text);
    let owned = ask(&k, "How long did I own it?");
    assert!(owned.text.contains("owned"), "{}", owned.text);

    let on_the_road = valued();
    let offered = suggestions(&on_the_road);
    assert!(
        offered.contains(&"What is it worth, and why?".to_string()),
        "{offered:?}"
    );
    assert!(
        offered.contains(&"Why does 17c diminished value matter?".to_string()),
        "the fixture has a collision: {offered:?}"
    );
    let mut no_collision = fixture();
    no_collision
        .events
        .retain(|e| e.kind != EventKind::Collision);
    let offered = suggestions(&no_collision);
    assert!(
        !offered.iter().any(|q| q.contains("17c")),
        "no collision, no diminished value: {offered:?}"
    );
}

/// The fixture with a published estimate: the acquisition price less the collision's 17c (`e01`, `e05`).
fn valued() -> VehicleKnowledge {
    let mut k = fixture();
    k.valuation = Some(ValuationPoint {
        envelope_id: "0193-val".into(),
        computed_at: at(2026, 5, 10),
        valuation: ValuationView {
            amount_cents: 2_297_415,
            currency: "USD".into(),
            as_of: NaiveDate::from_ymd_opt(2026, 5, 10).unwrap(),
            method: "acquisition_price".into(),
            kind: Some("current".into()),
            odometer: Some(52_434),
            factors: vec![
                ValuationFactorView {
                    code: "base".into(),
                    label: "Acquisition price".into(),
                    amount_cents: 2_749_000,
                    detail: "Bought 2024-05-01".into(),
                    event_id: Some("e01".into()),
                },
                ValuationFactorView {
                    code: "collision_diminished_value".into(),
                    label: "Collision (17c)".into(),
                    amount_cents: -451_585,
                    detail: String::new(),
                    event_id: Some("e05".into()),
                },
            ],
        },
    });
    k
}

/// The answers to `questions` asked one after the other in one conversation.
fn conversation(k: &VehicleKnowledge, questions: &[&str]) -> Vec<Answer> {
    let p = Prepared::new(k.clone());
    let mut answers: Vec<Answer> = Vec::new();
    for q in questions {
        let prev = answers.last().map(previous);
        answers.push(answer(q, &p, prev.as_ref(), now()));
    }
    answers
}

#[test]
fn why_after_a_valuation_explains_it_from_its_factors_and_after_other_answers_says_what_it_can() {
    let k = valued();
    for why in ["why?", "and why?", "Why is that?", "how come?"] {
        let a = conversation(&k, &["What is it worth?", why]).pop().unwrap();
        assert_eq!(a.follow_up, Some(Intent::FollowUpWhy), "{why}");
        assert_eq!(a.understanding.intent, Intent::Valuation, "{why}");
        assert_eq!(
            a.text,
            "The estimate of 22,974.15 USD as of 2026-05-10 (method: acquisition price) is the sum of its \
             factors: Acquisition price +27,490.00 USD (Bought 2024-05-01); Collision (17c) -4,515.85 USD.",
            "{why}"
        );
        assert_eq!(cited(&a), ["0193-val", "e01", "e05"], "{why}");
    }
    // A value recorded on the timeline has no factors: where it came from, cited.
    let mut appraised = fixture();
    appraised.events.push(VehicleEvent {
        id: "e09".into(),
        kind: EventKind::Valuation,
        occurred_at: at(2025, 12, 1),
        title: "Dealer appraisal".into(),
        currency: Some("USD".into()),
        details: serde_json::json!({"amountCents": 2_450_000, "source": "dealer_appraisal"}),
        cost_cents: None,
        ..appraised.events[0].clone()
    });
    let a = conversation(&appraised, &["What is it worth?", "why?"])
        .pop()
        .unwrap();
    assert_eq!(cited(&a), ["e09"]);
    assert!(
        a.text.starts_with(
            "The latest recorded valuation is 24,500.00 USD on 2025-12-01, from a dealer appraisal by Lakeside Toyota."
        ) && a.text.contains("carries no factors"),
        "{}",
        a.text
    );
    // After another answer: what can be explained, no record.
    let a = conversation(&k, &["When was the oil last changed?", "why?"])
        .pop()
        .unwrap();
    assert!(
        a.text
            .starts_with("I can explain a valuation from its factors"),
        "{}",
        a.text
    );
    assert!(a.citations.is_empty());
    let a = ask(&k, "why?");
    assert!(
        a.text.starts_with("There is no earlier question"),
        "{}",
        a.text
    );
    // A question of its own is not a follow-up.
    assert_eq!(
        ask(&k, "Why does 17c matter?").understanding.intent,
        Intent::Knowledge
    );
}

#[test]
fn before_a_purchase_is_the_acquisition_before_it_and_answers_without_dates_say_so() {
    let a = conversation(
        &resold(),
        &["When did I buy it?", "and before that?", "and before that?"],
    );
    assert_eq!(cited(&a[0]), ["a2"]);
    assert_eq!(cited(&a[1]), ["a1"], "{}", a[1].text);
    assert_eq!(
        a[1].text,
        "It was bought on 2019-05-01, new, for 30,000.00 USD (“Bought new”)."
    );
    assert!(a[2].citations.is_empty());
    assert_eq!(
        a[2].text,
        "No purchase is recorded before “Bought new” on 2019-05-01 for this vehicle."
    );
    let a = conversation(
        &fixture(),
        &["How much did I pay for it?", "and before that?"],
    );
    assert_eq!(
        a[1].text,
        "No purchase is recorded before “Bought from Lakeside Toyota” on 2024-05-01 for this vehicle."
    );
    // Other dated answers step back from what they cited.
    let a = conversation(
        &fixture(),
        &["When were the tires rotated?", "and before that?"],
    );
    assert_eq!(
        a[1].text,
        "No tire rotation is recorded before “Oil and filter change + tire rotation” on 2024-06-01 for this \
         vehicle."
    );
    // Answers not read from dated records do not repeat themselves as if they were earlier.
    for q in [
        "What's the total cost of ownership?",
        "How many miles do I drive per month?",
        "How long have I owned it?",
        "Why does 17c matter?",
    ] {
        let a = conversation(&fixture(), &[q, "and before that?"]);
        assert!(
            a[1].text.contains("is not read from dated records")
                && a[1].citations.is_empty()
                && a[1].text != a[0].text,
            "{q}: {}",
            a[1].text
        );
    }
    // Nothing cited: nothing to go back from.
    let a = conversation(
        &fixture(),
        &["When was the timing belt replaced?", "and before that?"],
    );
    assert_eq!(
        a[1].text,
        "The previous answer named no dated record, so there is nothing before it to look for."
    );
}

#[test]
fn who_did_it_after_a_last_done_answer_names_the_cited_records_vendor() {
    let k = fixture();
    for who in [
        "who did it?",
        "Which shop?",
        "where was it done?",
        "and who did that?",
    ] {
        let a = conversation(&k, &["When was the last oil change?", who])
            .pop()
            .unwrap();
        assert_eq!(a.follow_up, Some(Intent::FollowUpVendor), "{who}");
        assert_eq!(a.understanding.intent, Intent::LastDone, "{who}");
        assert_eq!(cited(&a), ["e07"], "{who}");
        assert_eq!(
            a.text, "“Oil change” on 2025-08-30 was done by Quick Lube.",
            "{who}"
        );
    }
    let a = conversation(&k, &["When did I buy it?", "who by?"]);
    assert_eq!(
        a[1].text,
        "“Bought from Lakeside Toyota” on 2024-05-01 was bought from Lakeside Toyota."
    );
    // Without a vendor on the record: said so, still citing it.
    let a = conversation(
        &resold(),
        &["When was the oil last changed?", "which shop?"],
    );
    assert_eq!(cited(&a[1]), ["m2"]);
    assert_eq!(
        a[1].text,
        "No vendor is recorded on “Oil change” on 2025-01-01."
    );
    // And it chains: the shop before that.
    let a = conversation(
        &k,
        &[
            "When was the last oil change?",
            "who did it?",
            "and before that?",
            "who did it?",
        ],
    );
    assert_eq!(cited(&a[3]), ["e03"]);
    assert_eq!(
        a[3].text,
        "“Oil change” on 2024-11-20 was done by Main St Auto."
    );
    // A question of its own is not a follow-up.
    assert_eq!(
        ask(&k, "Which shop did the last oil change?")
            .understanding
            .intent,
        Intent::WhoDid
    );
    assert_eq!(
        ask(&k, "Where do I usually take it?").understanding.intent,
        Intent::UsualVendor
    );
}

#[test]
fn the_mileage_after_a_last_done_answer_is_the_cited_records_odometer_in_the_vehicles_unit() {
    let k = fixture();
    for q in [
        "what was the mileage?",
        "What was the odometer?",
        "at what mileage?",
    ] {
        let a = conversation(&k, &["When was the last oil change?", q])
            .pop()
            .unwrap();
        assert_eq!(a.follow_up, Some(Intent::FollowUpOdometer), "{q}");
        assert_eq!(cited(&a), ["e07"], "{q}");
        assert_eq!(
            a.text, "“Oil change” on 2025-08-30 was at 44,085 mi.",
            "{q}"
        );
        assert!(a.knowledge.is_empty(), "{q}");
    }
    let mut km = fixture();
    if let Some(v) = km.vehicle.as_mut() {
        v.odometer_unit = vwc_contracts::OdometerUnit::Km;
    }
    let a = conversation(
        &km,
        &["When was the last oil change?", "what was the mileage?"],
    );
    assert_eq!(a[1].text, "“Oil change” on 2025-08-30 was at 44,085 km.");
    let a = conversation(
        &resold(),
        &["When was the oil last changed?", "what was the mileage?"],
    );
    assert_eq!(
        a[1].text,
        "No odometer is recorded on “Oil change” on 2025-01-01."
    );
    let a = conversation(&valued(), &["What is it worth?", "what was the odometer?"]);
    assert!(
        a[1].text
            .starts_with("The estimate as of 2026-05-10 was computed at 52,434 mi;"),
        "{}",
        a[1].text
    );
}

#[test]
fn a_range_alone_asks_the_previous_question_again_over_it() {
    let k = fixture();
    for (q, ids, label) in [
        ("and before 2025?", &["e03"][..], "before 2025"),
        ("and in 2024?", &["e03"], "in 2024"),
        ("and after 2024?", &["e07"], "after 2024"),
        ("what about last year?", &["e07"], "last year (2025)"),
    ] {
        let a = conversation(&k, &["When was the oil last changed?", q])
            .pop()
            .unwrap();
        assert_eq!(a.follow_up, Some(Intent::FollowUpRange), "{q}");
        assert_eq!(a.understanding.intent, Intent::LastDone, "{q}");
        assert_eq!(cited(&a), ids, "{q}: {}", a.text);
        assert!(a.text.contains(label), "{q}: {}", a.text);
    }
    // The new range replaces the old one and any "before that".
    let a = conversation(
        &k,
        &[
            "How much did I spend on maintenance in 2025?",
            "and before that?",
            "and in 2024?",
        ],
    );
    assert_eq!(cited(&a[2]), ["e02", "e03"], "{}", a[2].text);
    assert_eq!(a[2].understanding.slots.before, None);
    assert!(a[2].text.contains("in 2024"), "{}", a[2].text);
    // A value in a range: the latest recorded in it.
    let a = conversation(&valued(), &["What is it worth?", "and in 2024?"]);
    assert_eq!(
        a[1].text,
        "No valuation is recorded in 2024. The estimate's history over time is on the vehicle's valuation chart (GET /v1/vehicles/{id}/valuations)."
    );
    // Alone, it lists what was done then; a question of its own keeps its intent.
    assert_eq!(ask(&k, "in 2024?").understanding.intent, Intent::ListEvents);
    assert_eq!(
        ask(&k, "What was done before 2025?").understanding.intent,
        Intent::ListEvents
    );
    let a = conversation(&k, &["What's the total cost of ownership?", "and in 2024?"]);
    assert!(
        a[1].text.contains("is not read from dated records"),
        "{}",
        a[1].text
    );
}

#[test]
fn what_i_spent_counts_from_my_purchase_and_what_it_cost_is_the_whole_history() {
    let k = resold();
    for q in [
        "How much have I spent?",
        "How much did I spend on maintenance?",
    ] {
        let a = ask(&k, q);
        assert!(a.understanding.slots.owner, "{q}");
        assert_eq!(cited(&a), ["m2", "a2"], "{q}: {}", a.text);
        assert!(
            a.text.contains(&money(7_000, "USD"))
                && a.text.contains("since you bought it on 2024-01-01"),
            "{q}: {}",
            a.text
        );
    }
    let a = ask(&k, "How much has it cost in total?");
    assert!(!a.understanding.slots.owner);
    // The purchase is cited for its date: the answer says which costs came before it.
    assert_eq!(cited(&a), ["m1", "m2", "a2"], "{}", a.text);
    assert!(a.text.contains(&money(12_000, "USD")), "{}", a.text);
    // A range asked is answered as asked, the previous owner's years too (said to be before the purchase).
    let a = ask(&k, "How much did I spend in 2020?");
    assert_eq!(cited(&a), ["m1", "a2"], "{}", a.text);
    assert!(
        a.text
            .ends_with("over 1 record (before you bought it on 2024-01-01)."),
        "{}",
        a.text
    );
    // With nothing before the purchase, the answer is the whole history, said as before.
    let a = ask(&fixture(), "How much have I spent?");
    assert!(!a.text.contains("since you bought it"), "{}", a.text);
    assert_eq!(a.citations.len(), 6);
}

#[test]
fn the_odometer_now_how_much_and_before_a_usual_vendor_read_as_meant() {
    let k = fixture();
    for q in ["What is the mileage?", "What's the odometer?"] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::UsageRate, "{q}: {}", a.text);
        assert!(a.knowledge.is_empty(), "{q}");
    }
    let a = conversation(&k, &["When was the oil last changed?", "how much?"]);
    assert_eq!(a[1].follow_up, Some(Intent::FollowUpCost));
    assert_eq!(a[1].text, "“Oil change” on 2025-08-30 cost 129.99 USD.");
    let a = conversation(&k, &["Where do I usually take it?", "and before that?"]);
    assert_eq!(
        a[1].text,
        "No maintenance or repair with a vendor is recorded before “Oil and filter change + tire rotation” on 2024-06-01."
    );
    let mut more = fixture();
    more.events.push(VehicleEvent {
        id: "e00".into(),
        occurred_at: at(2024, 1, 2),
        ..more.events[5].clone()
    });
    more.sort_events();
    // An answer citing the later upgrade (an LLM's may cite fewer records than it found).
    let p = Prepared::new(more);
    let upgrades = answer("What upgrades have I made?", &p, None, now());
    let prev = PreviousTurn {
        citations: upgrades.citations[1..].to_vec(),
        ..previous(&upgrades)
    };
    let a = answer("and before that?", &p, Some(&prev), now());
    assert!(
        a.text.starts_with(
            "1 upgrade is recorded before “Tow hitch installed” on 2025-07-14: 2024-01-02"
        ),
        "{}",
        a.text
    );
}

#[test]
fn a_full_date_in_a_range_bounds_it_at_that_day() {
    use serde_json::json;
    let mut k = fixture();
    // An oil change in 2025 before the day asked: "since 2025" would count it.
    k.events.push(record(
        "e09",
        EventKind::Maintenance,
        at(2025, 1, 1),
        Some(9_999),
        "Oil change",
        json!({"tasks": ["oil_change"]}),
    ));
    k.sort_events();
    let a = ask(&k, "How many times was the oil changed since 2025-06-01?");
    assert_eq!(cited(&a), ["e07"], "{}", a.text);
    assert!(
        a.text
            .starts_with("1 oil change recorded since 2025-06-01, on 2025-08-30"),
        "{}",
        a.text
    );
    for (q, ids, label) in [
        (
            "How much have I spent since June 1, 2025?",
            &["e05", "e06", "e07"][..],
            "since 2025-06-01",
        ),
        (
            "How many oil changes before 1 June 2025?",
            &["e02", "e03", "e09"],
            "before 2025-06-01",
        ),
        (
            "What was done between 2025-01-01 and 2025-01-15?",
            &["e04", "e09"],
            "between 2025-01-01 and 2025-01-15",
        ),
        ("What was done on 2025-06-14?", &["e05"], "on 2025-06-14"),
    ] {
        let a = ask(&k, q);
        assert_eq!(cited(&a), ids, "{q}: {}", a.text);
        assert!(a.text.contains(label), "{q}: {}", a.text);
    }
}

#[test]
fn costs_before_the_purchase_are_not_said_to_be_what_i_spent() {
    let k = resold();
    let a = conversation(&k, &["How much have I spent?", "and before that?"]);
    assert!(
        a[0].text.starts_with("You spent 70.00 USD"),
        "{}",
        a[0].text
    );
    // Before the purchase: the previous owner's costs, said as the costs recorded, the purchase cited.
    assert_eq!(cited(&a[1]), ["m1", "a2"], "{}", a[1].text);
    assert_eq!(
        a[1].text,
        "The costs recorded for the vehicle (purchase excluded) before “Bought used” on 2024-01-01 come to \
         50.00 USD, over 1 record (before you bought it on 2024-01-01)."
    );
    // The whole history, or a range reaching before the purchase, says how much of it came before.
    let a = ask(&k, "How much has it cost in total?");
    assert!(
        a.text.starts_with(
            "The costs recorded for the vehicle (purchase excluded) come to 120.00 USD, over 2 records \
             (1 of them before you bought it on 2024-01-01)."
        ),
        "{}",
        a.text
    );
    let a = ask(&k, "How much did I spend in 2025?");
    assert!(a.text.starts_with("You spent 70.00 USD"), "{}", a.text);
}

#[test]
fn nothing_recorded_reads_for_plural_and_singular_subjects() {
    let k = fixture();
    let a = conversation(&k, &["Who did the brakes?", "and before that?"]);
    assert_eq!(
        a[1].text,
        "No work on the brakes is recorded before “Front brake pads and rotors” on 2025-01-15 for this vehicle."
    );
    for (q, said) in [
        (
            "When were the headlights replaced?",
            "No work on the headlights is recorded for this vehicle.",
        ),
        (
            "When was the battery replaced?",
            "No work on the battery is recorded for this vehicle.",
        ),
        (
            "How many oil changes in 2023?",
            "No oil change is recorded in 2023 for this vehicle.",
        ),
    ] {
        assert_eq!(ask(&k, q).text, said, "{q}");
    }
    // A kind is one of it: "No repair is recorded", not "No repairs is recorded".
    let a = conversation(&k, &["Who did the repairs?", "and before that?"]);
    assert_eq!(cited(&a[0]), ["e04"], "{}", a[0].text);
    assert_eq!(
        a[1].text,
        "No repair is recorded before “Front brake pads and rotors” on 2025-01-15 for this vehicle."
    );
}

#[test]
fn how_long_and_how_many_miles_ago_are_counted_from_the_cited_record() {
    let k = fixture();
    for q in [
        "how many miles ago was that?",
        "How long ago was that?",
        "and how long ago?",
    ] {
        let a = conversation(&k, &["When was the last oil change?", q])
            .pop()
            .unwrap();
        assert_eq!(a.follow_up, Some(Intent::FollowUpAgo), "{q}");
        assert_eq!(a.understanding.intent, Intent::LastDone, "{q}");
        assert!(a.knowledge.is_empty(), "{q}");
        // 52,434 − 44,085 mi; 2025-08-30 to 2026-05-10.
        assert_eq!(
            a.text,
            "“Oil change” on 2025-08-30 was 8 months and 10 days ago, at 44,085 mi: 8,349 mi before the \
             latest reading (52,434 mi on 2026-05-08).",
            "{q}"
        );
        assert_eq!(cited(&a), ["e07", "e08"], "{q}");
    }
    let mut km = fixture();
    if let Some(v) = km.vehicle.as_mut() {
        v.odometer_unit = vwc_contracts::OdometerUnit::Km;
    }
    let a = conversation(&km, &["When was the last oil change?", "how many km ago?"]);
    assert!(a[1].text.contains("8,349 km before"), "{}", a[1].text);
    // A record without an odometer: its time, and that the distance cannot be given.
    let a = conversation(
        &resold(),
        &[
            "When was the oil last changed?",
            "how many miles ago was that?",
        ],
    );
    assert_eq!(cited(&a[1]), ["m2"]);
    assert_eq!(
        a[1].text,
        "“Oil change” on 2025-01-01 was 1 year, 4 months and 9 days ago; no odometer is recorded on it, so \
         the distance since cannot be given."
    );
    let a = ask(&k, "how long ago was that?");
    assert!(
        a.text.starts_with("There is no earlier question"),
        "{}",
        a.text
    );
}

#[test]
fn why_after_what_is_due_explains_each_item_from_the_schedule() {
    let mut k = fixture();
    let oil = MaintenanceItemView {
        task: "oil_change".into(),
        title: "Oil and filter change".into(),
        interval_miles: Some(5000),
        interval_km: None,
        interval_months: Some(6),
        last_done_at: Some(at(2025, 8, 30)),
        last_done_odometer: Some(44_085),
        due_at: Some(NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()),
        due_odometer: Some(49_085),
        projected_due_at: None,
        status: MaintenanceStatus::Overdue,
        reason: "Overdue since 2026-02-28".into(),
        due_cycle: "c".into(),
        enabled: true,
    };
    let cabin = MaintenanceItemView {
        task: "cabin_air_filter".into(),
        title: "Cabin air filter".into(),
        interval_miles: None,
        interval_months: Some(24),
        last_done_at: None,
        last_done_odometer: None,
        due_at: Some(NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()),
        due_odometer: None,
        status: MaintenanceStatus::DueSoon,
        reason: String::new(),
        ..oil.clone()
    };
    let rotation = MaintenanceItemView {
        task: "tire_rotation".into(),
        status: MaintenanceStatus::Ok,
        ..oil.clone()
    };
    k.maintenance = Some(MaintenanceScheduleUpdated {
        vehicle_id: "veh_1".into(),
        items: vec![rotation, cabin, oil],
        odometer: None,
        evaluated_at: at(2026, 5, 10),
        evaluated_on: None,
        unit: None,
    });
    for why in ["why?", "and why?", "how come?"] {
        let a = conversation(&k, &["What's due?", why]).pop().unwrap();
        assert_eq!(a.follow_up, Some(Intent::FollowUpWhy), "{why}");
        assert_eq!(a.understanding.intent, Intent::DueItems, "{why}");
        assert_eq!(
            a.text,
            "Each item falls due an interval after it was last done (the schedule as of 2026-05-10). Oil and \
             filter change (overdue): every 5,000 mi or 6 months; last done on 2025-08-30 at 44,085 mi; so due \
             on 2026-02-28 or at 49,085 mi — Overdue since 2026-02-28. Cabin air filter (due soon): every 24 \
             months; no record of it being done: counted from your purchase on 2024-05-01 at 28,410 mi; so \
             due on 2026-06-01.",
            "{why}"
        );
        // The oil change's last record and the purchase the cabin filter counts from; the tire rotation is
        // not due and not explained.
        assert_eq!(cited(&a), ["e07", "e01"], "{why}");
    }
    // No purchase: from the registration, at the reading nearest it (the first after, here), cited.
    let mut registered = k.clone();
    registered
        .events
        .retain(|e| e.kind != EventKind::Acquisition);
    let a = conversation(&registered, &["What's due?", "why?"]);
    assert!(
        a[1].text.contains(
            "no record of it being done: counted from the vehicle's registration on 2024-05-01 at 29,400 mi \
             (the reading of 2024-06-01); so due on 2026-06-01."
        ),
        "{}",
        a[1].text
    );
    assert_eq!(cited(&a[1]), ["e07", "e02"]);
    // Nothing due: nothing to explain.
    if let Some(schedule) = k.maintenance.as_mut() {
        schedule.items.retain(|i| i.status == MaintenanceStatus::Ok);
    }
    let a = conversation(&k, &["What's due?", "why?"]);
    assert_eq!(
        a[1].text,
        "Nothing is due or overdue as of 2026-05-10, so there is nothing to explain."
    );
    assert!(a[1].citations.is_empty());
}

/// Two oil changes at the same instant (`o-alpha`, `o-beta`, ids in that order) and one a year earlier.
fn same_instant_oil_changes() -> VehicleKnowledge {
    use serde_json::json;
    let mut k = fixture();
    let oil = |id: &str, on, title: &str| {
        record(
            id,
            EventKind::Maintenance,
            on,
            Some(5_000),
            title,
            json!({"tasks": ["oil_change"]}),
        )
    };
    k.events = vec![
        oil("o-zeta", at(2023, 5, 5), "Oil Zeta"),
        oil("o-alpha", at(2024, 5, 5), "Oil Alpha Lube"),
        oil("o-beta", at(2024, 5, 5), "Oil Beta Lube"),
    ];
    k.sort_events();
    k
}

#[test]
fn before_that_reaches_a_record_at_the_same_instant_as_the_one_cited() {
    let k = same_instant_oil_changes();
    let a = conversation(
        &k,
        &[
            "When was the oil last changed?",
            "and before that?",
            "and before that?",
            "and before that?",
        ],
    );
    // The timeline's order is (occurredAt, id): Beta is the last, Alpha the one before it, then Zeta.
    assert_eq!(cited(&a[0]), ["o-beta"], "{}", a[0].text);
    assert!(
        a[0].text.ends_with("3 are recorded in all."),
        "{}",
        a[0].text
    );
    assert_eq!(cited(&a[1]), ["o-alpha"], "{}", a[1].text);
    assert_eq!(cited(&a[2]), ["o-zeta"], "{}", a[2].text);
    assert!(a[3].citations.is_empty(), "{}", a[3].text);
}

#[test]
fn the_cost_of_a_purchase_is_its_price_by_the_purchase_rule_and_the_record_stays_cited() {
    let mut k = resold();
    // The earlier purchase's price only in its details; the latest's only given at registration.
    for e in k.events.iter_mut() {
        if e.kind == EventKind::Acquisition {
            e.cost_cents = None;
        }
        if e.id == "a2" {
            e.details = serde_json::json!({"condition": "used"});
        }
    }
    if let Some(v) = k.vehicle.as_mut() {
        v.purchase_price_cents = Some(2_000_000);
        v.purchase_currency = Some("USD".into());
    }
    let a = conversation(
        &k,
        &[
            "When did I buy it?",
            "how much did it cost?",
            "who did it?",
            "and before that?",
            "how much did it cost?",
            "and before that?",
        ],
    );
    assert!(
        a[0].text
            .contains("for 20,000.00 USD (the price given at registration)"),
        "{}",
        a[0].text
    );
    assert_eq!(
        a[1].text,
        "“Bought used” on 2024-01-01 cost 20,000.00 USD (the price given at registration)."
    );
    assert_eq!(cited(&a[1]), ["a2"]);
    // The record stays cited: the follow-ups after the cost still lean on it.
    assert_eq!(cited(&a[2]), ["a2"], "{}", a[2].text);
    assert_eq!(cited(&a[3]), ["a1"], "{}", a[3].text);
    assert_eq!(a[4].text, "“Bought new” on 2019-05-01 cost 30,000.00 USD.");
    assert_eq!(cited(&a[4]), ["a1"]);
    assert_eq!(
        a[5].text,
        "No purchase is recorded before “Bought new” on 2019-05-01 for this vehicle."
    );
    // A record without a cost says so, and stays cited.
    k.events.retain(|e| e.id != "m2");
    k.events.push(record(
        "m3",
        EventKind::Maintenance,
        at(2025, 2, 1),
        None,
        "Oil change",
        serde_json::json!({"tasks": ["oil_change"]}),
    ));
    let a = conversation(&k, &["When was the oil last changed?", "how much?"]);
    assert_eq!(
        a[1].text,
        "No cost is recorded on “Oil change” on 2025-02-01."
    );
    assert_eq!(cited(&a[1]), ["m3"]);
}

#[test]
fn a_range_of_full_dates_alone_is_a_follow_up_however_its_dates_are_written() {
    let k = fixture();
    for q in [
        "and between 2025-01-01 and 2025-06-30?",
        "and from 2025-01-01 to 2025-06-30?",
        "what about between 2025-01-01 and 2025-06-30?",
        "between 2025-01-01 and 2025-06-30?",
        "and between 1 January 2025 and 30 June 2025?",
        "and between January 1, 2025 and June 30, 2025?",
    ] {
        let a = conversation(&k, &["How much have I spent?", q])
            .pop()
            .unwrap();
        assert_eq!(a.follow_up, Some(Intent::FollowUpRange), "{q}: {}", a.text);
        assert_eq!(a.understanding.intent, Intent::TotalCost, "{q}");
        assert_eq!(cited(&a), ["e04", "e05"], "{q}: {}", a.text);
        assert!(
            a.text.contains("between 2025-01-01 and 2025-06-30"),
            "{q}: {}",
            a.text
        );
        let a = conversation(&k, &["When was the oil last changed?", q])
            .pop()
            .unwrap();
        assert_eq!(a.understanding.intent, Intent::LastDone, "{q}");
        assert_eq!(
            a.text, "No oil change is recorded between 2025-01-01 and 2025-06-30 for this vehicle.",
            "{q}"
        );
    }
}

#[test]
fn when_was_the_last_of_a_kind_is_its_latest_record_not_a_list() {
    let k = fixture();
    for q in [
        "When was the last repair?",
        "When was it last repaired?",
        "What was the last repair?",
        "and when was my most recent repair?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::LastDone, "{q}: {}", a.text);
        assert_eq!(cited(&a), ["e04"], "{q}: {}", a.text);
        assert_eq!(
            a.text,
            "The last repair was on 2025-01-15, at 36,660 mi, by Main St Auto (“Front brake pads and \
             rotors”, 487.50 USD).",
            "{q}"
        );
    }
    // Several of the kind: the latest, and how many there are, as for a task.
    let a = ask(&k, "When was the last maintenance?");
    assert_eq!(cited(&a), ["e07"], "{}", a.text);
    assert!(
        a.text.starts_with("The last maintenance was on 2025-08-30")
            && a.text.ends_with("3 are recorded in all."),
        "{}",
        a.text
    );
    // A list is still a list, "last" in a range included.
    for q in [
        "What repairs were done?",
        "What repairs were done last year?",
    ] {
        assert_eq!(ask(&k, q).understanding.intent, Intent::ListEvents, "{q}");
    }
}

#[test]
fn a_first_day_without_its_year_takes_the_seconds_and_an_unreadable_day_is_said_back_as_written() {
    let k = fixture();
    for q in [
        "How much did I spend between June 1 and July 1, 2025?",
        "How much did I spend from 1 June to 1 July 2025?",
        "How much did I spend between June 1st and July 1st, 2025?",
    ] {
        let a = ask(&k, q);
        assert_eq!(cited(&a), ["e05"], "{q}: {}", a.text);
        assert!(
            a.text.contains("between 2025-06-01 and 2025-07-01"),
            "{q}: {}",
            a.text
        );
    }
    // A first day later in the calendar than the second is the year before.
    let a = ask(&k, "What was done between December 1 and January 20, 2025?");
    assert_eq!(cited(&a), ["e04"], "{}", a.text);
    assert!(
        a.text.contains("between 2024-12-01 and 2025-01-20"),
        "{}",
        a.text
    );
    // Said back as the question wrote it, not with its dashes made spaces.
    for (q, said) in [
        ("How much did I spend since 2025-02-30?", "since 2025-02-30"),
        ("What was done before 2025-13-01?", "before 2025-13-01"),
        ("What was done on 2025/02/30?", "on 2025/02/30"),
        (
            "What was done before June 31, 2025?",
            "before June 31, 2025",
        ),
        ("What was done before June 15?", "before June 15"),
    ] {
        let a = ask(&k, q);
        assert!(a.citations.is_empty(), "{q}: {:?}", a.citations);
        assert!(
            a.text
                .starts_with(&format!("I could not read the time range “{said}”")),
            "{q}: {}",
            a.text
        );
    }
}

#[test]
fn before_that_is_said_as_before_the_record_and_before_a_day_is_before_the_day_starts() {
    use serde_json::json;
    let mut k = resold();
    // The previous owner's inspection on the morning of the day the owner bought it (10:00).
    k.events.push(record(
        "i1",
        EventKind::Maintenance,
        Utc.with_ymd_and_hms(2024, 1, 1, 8, 0, 0).unwrap(),
        Some(2_000),
        "Pre-sale inspection",
        json!({"tasks": ["annual_inspection"]}),
    ));
    k.sort_events();
    let a = conversation(&k, &["How much have I spent?", "and before that?"]);
    assert_eq!(cited(&a[0]), ["m2", "a2"], "{}", a[0].text);
    // Before the purchase record (the morning's inspection is before it), and said so.
    assert_eq!(cited(&a[1]), ["m1", "i1", "a2"], "{}", a[1].text);
    assert!(
        a[1].text.starts_with(
            "The costs recorded for the vehicle (purchase excluded) before “Bought used” on 2024-01-01 come \
             to 70.00 USD, over 2 records"
        ),
        "{}",
        a[1].text
    );
    // "before 2024-01-01" asked is before that day starts: the morning's inspection is not in it.
    for q in [
        "How much did I spend before 2024-01-01?",
        "and before 2024-01-01?",
    ] {
        let a = conversation(&k, &["How much have I spent?", q])
            .pop()
            .unwrap();
        assert_eq!(cited(&a), ["m1", "a2"], "{q}: {}", a.text);
        assert!(
            a.text.contains(" before 2024-01-01 come to 50.00 USD"),
            "{q}: {}",
            a.text
        );
    }
    // Two oil changes on one day: the one before the evening's is the morning's, said as before the record.
    k.events.push(record(
        "m3",
        EventKind::Maintenance,
        Utc.with_ymd_and_hms(2025, 1, 1, 18, 0, 0).unwrap(),
        Some(8_000),
        "Evening oil change",
        json!({"tasks": ["oil_change"]}),
    ));
    k.sort_events();
    let a = conversation(
        &k,
        &[
            "When was the oil last changed?",
            "and before that?",
            "and before that?",
        ],
    );
    assert_eq!(cited(&a[0]), ["m3"], "{}", a[0].text);
    assert_eq!(cited(&a[1]), ["m2"], "{}", a[1].text);
    assert!(
        a[1].text.starts_with(
            "The last oil change before “Evening oil change” on 2025-01-01 was on 2025-01-01"
        ),
        "{}",
        a[1].text
    );
    assert_eq!(
        a[2].text,
        "The last oil change before “Oil change” on 2025-01-01 was on 2020-01-01 (“Oil change”, 50.00 USD)."
    );
    // A cited record moved to another day since (corrected): the bound is where it was when cited, so its
    // time is given, not its new day.
    let moved_since = conversation(&k, &["When was the oil last changed?"]);
    let mut moved = k.clone();
    if let Some(e) = moved.events.iter_mut().find(|e| e.id == "m3") {
        e.occurred_at = at(2025, 3, 1);
    }
    moved.sort_events();
    let a = answer(
        "and before that?",
        &Prepared::new(moved),
        Some(&previous(&moved_since[0])),
        now(),
    );
    assert!(
        a.text
            .starts_with("The last oil change before 2025-01-01 18:00 UTC was on 2025-01-01"),
        "{}",
        a.text
    );
    // A cited record voided since: its time, not its name (nothing of it is told again), and said voided.
    let voided_since = conversation(&k, &["When was the oil last changed?"]);
    k.events.retain(|e| e.id != "m3");
    let a = answer(
        "and before that?",
        &Prepared::new(k.clone()),
        Some(&previous(&voided_since[0])),
        now(),
    );
    assert!(
        a.text
            .starts_with("The record the previous answer cited has since been voided")
            && a.text.contains(
                "read before where it stood. The last oil change before 2025-01-01 18:00 UTC was on 2025-01-01"
            ),
        "{}",
        a.text
    );
}

#[test]
fn the_reading_a_distance_was_measured_to_is_not_what_the_next_follow_ups_are_about() {
    let k = fixture();
    let a = conversation(
        &k,
        &[
            "When were the brake pads replaced?",
            "how many miles ago was that?",
            "how long ago was that?",
            "who did it?",
            "what was the mileage?",
            "how much did it cost?",
        ],
    );
    assert_eq!(cited(&a[0]), ["e04"], "{}", a[0].text);
    // The latest reading is cited with the distance it measured…
    assert_eq!(cited(&a[1]), ["e04", "e08"], "{}", a[1].text);
    // …but the follow-ups after it are still about the brake pads.
    let expected = "“Front brake pads and rotors” on 2025-01-15 was 1 year, 3 months and 25 days ago, at 36,660 mi: \
                    15,774 mi before the latest reading (52,434 mi on 2026-05-08).";
    assert_eq!(a[1].text, expected);
    assert_eq!(a[2].text, expected);
    assert_eq!(cited(&a[2]), ["e04", "e08"], "{}", a[2].text);
    assert_eq!(
        a[3].text,
        "“Front brake pads and rotors” on 2025-01-15 was done by Main St Auto."
    );
    assert_eq!(cited(&a[3]), ["e04"]);
    assert_eq!(
        a[4].text,
        "“Front brake pads and rotors” on 2025-01-15 was at 36,660 mi."
    );
    assert_eq!(
        a[5].text,
        "“Front brake pads and rotors” on 2025-01-15 cost 487.50 USD. That record also includes other work \
         (front rotors): its whole cost is given, as the record does not split it."
    );
    // The stored turn says which reading was only the yardstick.
    assert_eq!(a[1].understanding.slots.measured_to.as_deref(), Some("e08"));
    assert_eq!(a[3].understanding.slots.measured_to, None);
    // The latest reading asked about is the subject itself, not a yardstick.
    let a = conversation(
        &k,
        &[
            "When was the last odometer reading?",
            "how many miles ago?",
            "who did it?",
        ],
    );
    assert_eq!(cited(&a[1]), ["e08"], "{}", a[1].text);
    assert_eq!(a[1].understanding.slots.measured_to, None);
    assert_eq!(cited(&a[2]), ["e08"], "{}", a[2].text);
}

#[test]
fn where_i_usually_go_counts_every_vendor_it_leaves_unnamed() {
    let mut k = fixture();
    for (id, vendor, on) in [
        ("v1", "Garage Paris", at(2025, 9, 1)),
        ("v2", "Tire Pros", at(2025, 10, 1)),
        ("v3", "Brake Shop", at(2025, 11, 1)),
    ] {
        let mut e = k.events[6].clone();
        e.id = id.into();
        e.occurred_at = on;
        if let Some(v) = e.vendor.as_mut() {
            v.name = vendor.into();
        }
        k.events.push(e);
    }
    k.sort_events();
    let a = ask(&k, "Where do I usually take it?");
    // 3 + 1 + 1 + 1 + 1 = 7: the fourth vendor is counted, not dropped.
    assert_eq!(
        a.text,
        "You usually go to Main St Auto: 3 of 7 maintenance and repair records with a vendor, the latest on \
         2025-01-15. Also: Brake Shop (1), Tire Pros (1), Garage Paris (1), and 1 more vendor (1 record)."
    );
    assert_eq!(cited(&a), ["e02", "e03", "e04"]);
}

#[test]
fn a_follow_up_after_a_cited_record_was_voided_asks_the_previous_question_again_over_the_records_in_force()
 {
    let k = fixture();
    // The last oil change is e07 (2025-08-30, Quick Lube); it is voided afterwards.
    let first = conversation(&k, &["When was the oil last changed?"]);
    assert_eq!(cited(&first[0]), ["e07"]);
    let mut voided = k.clone();
    voided.events.retain(|e| e.id != "e07");
    let p = Prepared::new(voided.clone());
    let lead = "The record the previous answer cited has since been voided (a voided record is not history), so \
                the previous question was asked again over the records in force. ";
    for (q, said, also_cited) in [
        (
            "how much was it?",
            "“Oil change” on 2024-11-20 cost 164.99 USD.",
            None,
        ),
        (
            "who did it?",
            "“Oil change” on 2024-11-20 was done by Main St Auto.",
            None,
        ),
        (
            "what was the mileage?",
            "“Oil change” on 2024-11-20 was at 34,350 mi.",
            None,
        ),
        (
            "how long ago was that?",
            "“Oil change” on 2024-11-20 was 1 year, 5 months and 20 days ago, at 34,350 mi: 18,084 mi before \
             the latest reading (52,434 mi on 2026-05-08).",
            Some("e08"),
        ),
    ] {
        let a = answer(q, &p, Some(&previous(&first[0])), now());
        assert_eq!(a.text, format!("{lead}{said}"), "{q}");
        let mut expected = vec!["e03"];
        expected.extend(also_cited);
        assert_eq!(cited(&a), expected, "{q}");
        // Stored as the previous question, so the next follow-up leans on the record now cited.
        assert_eq!(a.understanding.intent, Intent::LastDone, "{q}");
        assert!(
            !a.text.contains("2025-08-30") && !a.text.contains("Quick Lube"),
            "{q}: {}",
            a.text
        );
    }
    let cost = answer("how much was it?", &p, Some(&previous(&first[0])), now());
    let before = answer("and before that?", &p, Some(&previous(&cost)), now());
    assert_eq!(cited(&before), ["e02"], "{}", before.text);
    let cost_again = answer("how much was it?", &p, Some(&previous(&before)), now());
    assert_eq!(
        cost_again.text,
        "“Oil and filter change + tire rotation” on 2024-06-01 cost 129.99 USD. That record also includes \
         other work (tire rotation): its whole cost is given, as the record does not split it."
    );
    // "and before that?" right after the void: before where the voided record stood, said so.
    let a = answer("and before that?", &p, Some(&previous(&first[0])), now());
    assert_eq!(
        a.text,
        "The record the previous answer cited has since been voided (a voided record is not history), so the \
         records in force are read before where it stood. The last oil change before 2025-08-30 10:00 UTC was \
         on 2024-11-20, at 34,350 mi, by Main St Auto (“Oil change”, 164.99 USD). 2 are recorded before \
         2025-08-30 10:00 UTC."
    );
    assert_eq!(cited(&a), ["e03"]);
    // Of several cited, one voided: the previous question again, the voided one counted.
    let count = conversation(&k, &["How many times has the oil been changed?"]);
    assert_eq!(cited(&count[0]), ["e02", "e03", "e07"]);
    let a = answer(
        "how much did it cost?",
        &p,
        Some(&previous(&count[0])),
        now(),
    );
    assert_eq!(
        a.text,
        "1 of the 3 records the previous answer cited has since been voided (a voided record is not history), \
         so the previous question was asked again over the records in force. “Oil and filter change + tire \
         rotation” on 2024-06-01 cost 129.99 USD; “Oil change” on 2024-11-20 cost 164.99 USD. Together: 294.98 \
         USD. 1 of these records also includes other work (tire rotation): its whole cost is counted, as the \
         record does not split it."
    );
    assert_eq!(cited(&a), ["e02", "e03"]);
    // Nothing in force answers it any more: that is said, nothing cited.
    let mut none_left = voided;
    none_left
        .events
        .retain(|e| !matches!(e.id.as_str(), "e02" | "e03"));
    let a = answer(
        "who did it?",
        &Prepared::new(none_left),
        Some(&previous(&first[0])),
        now(),
    );
    assert_eq!(
        a.text,
        "The record the previous answer cited has since been voided (a voided record is not history), and asked \
         again over the records in force the previous question finds nothing: No oil change is recorded for this \
         vehicle."
    );
    assert!(a.citations.is_empty());
}

#[test]
fn without_a_reading_within_a_year_the_rate_is_measured_from_the_nearest_earlier_one() {
    let mut k = fixture();
    let reading = |id: &str, on, value| {
        let mut e = record(
            id,
            EventKind::OdometerReading,
            on,
            None,
            "Odometer reading",
            serde_json::json!({}),
        );
        e.odometer = Some(value);
        e
    };
    k.events = vec![
        reading("r1", at(2018, 5, 1), 5),
        reading("r2", at(2022, 3, 15), 60_000),
        reading("r3", at(2025, 12, 1), 105_000),
    ];
    let a = ask(&k, "How many miles do I drive per month?");
    // Not from the 2018 reading, years before: from the one before the latest.
    assert_eq!(cited(&a), ["r2", "r3"], "{}", a.text);
    let days = (at(2025, 12, 1) - at(2022, 3, 15)).num_seconds() as f64 / 86_400.0;
    let per_month = (45_000.0 / days * 365.25 / 12.0).round() as u64;
    assert!(
        a.text.starts_with(&format!(
            "You drive about {} a month",
            odometer(per_month, OdometerUnit::Mi)
        )) && a
            .text
            .contains("measured from 60,000 mi on 2022-03-15 to 105,000 mi on 2025-12-01"),
        "{}",
        a.text
    );
}

#[test]
fn a_question_naming_a_vendor_says_it_keeps_only_that_vendors_records() {
    let k = fixture();
    // Oil changes: e02 and e03 at Main St Auto, e07 at Quick Lube.
    let chain = conversation(
        &k,
        &[
            "When was the last oil change at Main St Auto?",
            "and before that?",
            "and before that?",
        ],
    );
    assert_eq!(cited(&chain[0]), ["e03"]);
    assert!(
        chain[0]
            .text
            .starts_with("The last oil change at Main St Auto was on 2024-11-20")
            && chain[0].text.ends_with("2 are recorded at Main St Auto."),
        "{}",
        chain[0].text
    );
    assert_eq!(cited(&chain[1]), ["e02"]);
    assert!(
        chain[1].text.starts_with(
            "The last oil change at Main St Auto before “Oil change” on 2024-11-20 was on 2024-06-01"
        ),
        "{}",
        chain[1].text
    );
    // Quick Lube's is later, and nothing before e02 was at Main St Auto: said so, not "for this vehicle".
    assert!(chain[2].citations.is_empty());
    assert_eq!(
        chain[2].text,
        "No oil change is recorded at Main St Auto before “Oil and filter change + tire rotation” on \
         2024-06-01."
    );

    let a = ask(&k, "How many oil changes were done at Main St Auto?");
    assert_eq!(a.understanding.intent, Intent::CountDone);
    assert_eq!(cited(&a), ["e02", "e03"]);
    assert!(
        a.text
            .starts_with("2 oil changes recorded at Main St Auto,"),
        "{}",
        a.text
    );
    // The plural names the task, not the tires: e02 is the only rotation.
    let a = ask(&k, "How many tire rotations were done at Main St Auto?");
    assert_eq!(a.understanding.slots.task.as_deref(), Some("tire_rotation"));
    assert_eq!(cited(&a), ["e02"]);
    assert!(
        a.text
            .starts_with("1 tire rotation recorded at Main St Auto, on 2024-06-01"),
        "{}",
        a.text
    );
    let a = ask(&k, "How many tire rotations were done at Quick Lube?");
    assert_eq!(a.text, "No tire rotation is recorded at Quick Lube.");
}

#[test]
fn since_we_bought_it_counts_from_the_purchase_as_since_i_bought_it_does() {
    // Bought used on 2024-01-01 (a2): the 2020 oil change (m1) is the previous owner's.
    let k = resold();
    let a = ask(&k, "How many oil changes have we done since we bought it?");
    assert_eq!(a.understanding.intent, Intent::CountDone);
    assert_eq!(cited(&a), ["m2"], "{}", a.text);
    assert!(a.text.contains("since you bought it"), "{}", a.text);
    for q in [
        "How much have we spent since we bought the van?",
        "What did we spend since we got it?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::TotalCost, "{q}");
        assert_eq!(cited(&a), ["m2"], "{q}: {}", a.text);
        assert!(a.text.contains(&money(7_000, "USD")), "{q}: {}", a.text);
    }
    let a = ask(&k, "What have we done since we bought it?");
    assert_eq!(a.understanding.intent, Intent::ListEvents);
    assert_eq!(cited(&a), ["m2", "a2"], "{}", a.text);
}

#[test]
fn on_a_sold_vehicle_the_distance_ago_is_counted_to_the_sale() {
    // The sale at 52,500 mi (2026-05-09), after the latest reading (52,434 mi on 2026-05-08).
    let k = sold();
    for chain in [
        vec![
            "When was the last oil change?",
            "how many miles ago was that?",
        ],
        vec!["How many miles ago was the last oil change?"],
    ] {
        let a = conversation(&k, &chain).pop().unwrap();
        assert!(
            a.text.contains(&format!(
                "at 44,085 mi: {} before the sale (52,500 mi on 2026-05-09)",
                "8,415 mi"
            )),
            "{chain:?}: {}",
            a.text
        );
        assert_eq!(cited(&a), ["e07"], "{chain:?}: {}", a.text);
        assert_eq!(a.understanding.slots.measured_to, None);
    }
    // Not sold: to the latest reading, as before.
    let a = conversation(&fixture(), &["How many miles ago was the last oil change?"])
        .pop()
        .unwrap();
    assert!(a.text.contains("before the latest reading"), "{}", a.text);
}

#[test]
fn how_many_miles_ago_asked_with_its_subject_is_the_distance_since_the_last_one() {
    let k = fixture();
    // The last oil change (e07, 44,085 mi) and the latest reading (e08, 52,434 mi on 2026-05-08).
    let chain = conversation(
        &k,
        &["How many miles ago was the last oil change?", "who did it?"],
    );
    let a = &chain[0];
    assert_eq!(a.understanding.intent, Intent::LastDone);
    assert_eq!(a.follow_up, None);
    assert_eq!(cited(a), ["e07", "e08"]);
    assert_eq!(a.understanding.slots.measured_to.as_deref(), Some("e08"));
    assert!(
        a.text.starts_with("The last oil change was on 2025-08-30")
            && a.text.contains(&format!(
                "{} before the latest reading (52,434 mi on 2026-05-08)",
                odometer(52_434 - 44_085, OdometerUnit::Mi)
            ))
            && !a.text.contains("oil changes recorded"),
        "{}",
        a.text
    );
    // The reading was only the yardstick: "who did it?" names the oil change's shop.
    assert_eq!(cited(&chain[1]), ["e07"]);
    assert!(chain[1].text.contains("Quick Lube"), "{}", chain[1].text);

    // "how long ago", with another task: the same answer, in miles; asked in km of a mile vehicle, the
    // distances converted (23,034 mi × 1.609344 = 37,069.6 km), each with the recorded figure.
    for (q, distance) in [
        (
            "How long ago was the last tire rotation?",
            odometer(52_434 - 29_400, OdometerUnit::Mi),
        ),
        (
            "How many km ago was the last tire rotation?",
            "≈ 37,070 km (23,034 mi)".to_string(),
        ),
    ] {
        let a = ask(&k, q);
        assert_eq!(cited(&a), ["e02", "e08"], "{q}: {}", a.text);
        assert!(
            a.text
                .contains(&format!("{distance} before the latest reading")),
            "{q}: {}",
            a.text
        );
    }
    // Nothing of it recorded: said so, nothing measured.
    let a = ask(&k, "How many miles ago was the last coolant flush?");
    assert!(a.citations.is_empty());
    assert_eq!(
        a.text,
        "No coolant replacement is recorded for this vehicle."
    );
}

#[test]
fn when_did_i_last_go_to_a_vendor_is_its_latest_record_and_off_topic_questions_are_not_answered() {
    let k = fixture();
    // Main St Auto: e02, e03 and, latest, the brakes (e04).
    for q in [
        "When did I last go to Main St Auto?",
        "When did we last go to Main St Auto?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::LastDone, "{q}");
        assert_eq!(cited(&a), ["e04"], "{q}");
        assert!(
            a.text
                .starts_with("The last record at Main St Auto was on 2025-01-15")
                && a.text.ends_with("3 are recorded at Main St Auto."),
            "{q}: {}",
            a.text
        );
    }
    // "weather" is in the wiper blades' excerpt text only: not an answer to it.
    let a = ask(&k, "What's the weather tomorrow?");
    assert!(
        a.knowledge.is_empty() && a.citations.is_empty(),
        "{}",
        a.text
    );
    assert!(
        a.text
            .starts_with("This vehicle's records and the maintenance knowledge I hold do not say."),
        "{}",
        a.text
    );
    assert!(!a.suggestions.is_empty());
}

#[test]
fn fuel_distance_is_grouped_and_how_much_after_an_answer_citing_nothing_says_it_cited_none() {
    let mut k = fixture();
    let fill = |id: &str, on: DateTime<Utc>, odometer: u64| {
        let mut e = record(
            id,
            EventKind::Fuel,
            on,
            Some(5_000),
            "Fuel",
            // 2,900 mi on 100 gal: 29 mpg (a figure past 100 mpg would say the log looks incomplete).
            serde_json::json!({"volume": 100.0, "volumeUnit": "gal", "fullTank": true}),
        );
        e.odometer = Some(odometer);
        e
    };
    k.events.push(fill("f1", at(2026, 5, 1), 48_000));
    k.events.push(fill("f2", at(2026, 5, 9), 50_900));
    let a = ask(&k, "What's my fuel economy?");
    assert_eq!(a.understanding.intent, Intent::FuelEconomy);
    assert!(a.text.contains("over 2,900 mi measured"), "{}", a.text);

    // "what about last year?" after "What's due?" is refused and cites nothing: "how much?" then says so.
    let chain = conversation(
        &fixture(),
        &["What's due?", "what about last year?", "how much?"],
    );
    assert!(chain[1].citations.is_empty(), "{}", chain[1].text);
    assert_eq!(chain[2].follow_up, Some(Intent::FollowUpCost));
    assert_eq!(
        chain[2].text,
        "The previous answer cited no record, so there is no cost to give."
    );
}

/// A specification of the model ("What oil does it take?") is not in the records: said so, with where it is
/// given, citing the records that touch it — never answered with the last oil change as if it said the grade
/// (probe: "What oil does a Toyota take?" gave the last oil change), nor a collision for the towing capacity.
#[test]
fn a_specification_the_records_do_not_hold_is_said_so_with_the_records_that_touch_it() {
    let k = fixture();
    for q in [
        "What oil does it take?",
        "What oil should I use?",
        "What type of oil does my RAV4 need?",
        "What weight oil?",
        "Synthetic or conventional?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::Knowledge, "{q}");
        assert_eq!(
            a.understanding.slots.specification.as_deref(),
            Some("recommended engine oil (grade and capacity)"),
            "{q}"
        );
        assert!(
            a.text.starts_with(
                "This vehicle's records do not hold its recommended engine oil (grade and capacity): that \
                 is a specification of its model (2021 Toyota RAV4), given in the owner's manual"
            ),
            "{q}: {}",
            a.text
        );
        // The last oil change (e07), as context, cited.
        assert_eq!(cited(&a), ["e07"], "{q}: {}", a.text);
        assert!(
            a.text.contains("The last oil change on record: "),
            "{}",
            a.text
        );
    }
    // A record naming a grade is cited for it, even when it is not the last oil change.
    let mut graded = fixture();
    graded.events[2].notes = Some("Used 0w20 full synthetic, 4.8 qt".into());
    let a = ask(&graded, "What oil does it take?");
    assert_eq!(cited(&a), ["e03"], "{}", a.text);
    assert!(a.text.contains(" Its records name 0W-20: "), "{}", a.text);

    // The towing capacity: the tow hitch is cited, the rear bumper's collision is not.
    let a = ask(&k, "What's the towing capacity?");
    assert_eq!(
        a.understanding.slots.specification.as_deref(),
        Some("towing capacity")
    );
    assert_eq!(cited(&a), ["e06"], "{}", a.text);
    assert!(a.text.contains("Records about it: "), "{}", a.text);
    // Nor a tow by a vendor called "… Towing" (probe chat43: "Tow and tire patch" by Whistler Towing).
    let mut towed = k.clone();
    towed.events.insert(
        7,
        VehicleEvent {
            vendor: Some(vwc_contracts::Vendor {
                name: "Whistler Towing".into(),
                dealer_id: None,
            }),
            ..record(
                "t1",
                EventKind::Repair,
                at(2025, 12, 1),
                Some(8_500),
                "Tow and tire patch",
                serde_json::json!({"parts": ["tire patch"], "system": "tires"}),
            )
        },
    );
    let a = ask(&towed, "What's the towing capacity?");
    assert_eq!(cited(&a), ["e06"], "{}", a.text);
    // Nothing touching it: said so, nothing cited.
    for q in ["What fuel should I use?", "Which gas should I put in it?"] {
        assert_eq!(
            ask(&k, q).understanding.slots.specification.as_deref(),
            Some("recommended fuel"),
            "{q}"
        );
    }
    let a = ask(&k, "What octane does it need?");
    assert_eq!(
        a.understanding.slots.specification.as_deref(),
        Some("recommended fuel")
    );
    assert!(a.citations.is_empty(), "{}", a.text);
    assert!(
        a.text
            .ends_with("often a label inside the fuel filler door."),
        "{}",
        a.text
    );

    // When work was done is still read from the records.
    for q in [
        "When was the oil last changed?",
        "How much did oil changes cost?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.slots.specification, None, "{q}");
        assert!(!a.citations.is_empty(), "{q}: {}", a.text);
    }
    // Nor is the fuel economy a question about the recommended fuel.
    let a = ask(&k, "What fuel economy am I getting?");
    assert_eq!(a.understanding.slots.specification, None);
}

#[test]
fn an_oil_grade_is_read_as_sae_writes_it() {
    assert_eq!(
        oil_grade("Oil change 0W-20 synthetic").as_deref(),
        Some("0W-20")
    );
    assert_eq!(oil_grade("5w30 conventional").as_deref(), Some("5W-30"));
    assert_eq!(oil_grade("10W-40").as_deref(), Some("10W-40"));
    assert_eq!(oil_grade("WD-40 on the hinges"), None);
    assert_eq!(oil_grade("a 300W-20 amp inverter"), None);
    assert_eq!(oil_grade("part 5W-300"), None);
    assert_eq!(oil_grade("the W-20 form"), None);
}

/// "The dealer" is the dealer the records name ("Lakeside Toyota" for a Toyota), not a vendor called "The
/// Dealer" (probe: "How much have I spent at the dealer?" said nothing was recorded "at The Dealer"); a
/// vendor's words in another order name it too ("Toyota of Lakeside").
#[test]
fn the_dealer_is_the_recorded_dealer_and_a_vendor_reworded_is_that_vendor() {
    let k = fixture();
    let a = ask(&k, "How much have I spent at the dealer?");
    assert_eq!(
        a.understanding.slots.vendor.as_deref(),
        Some("Lakeside Toyota")
    );
    assert!(!a.text.contains("The Dealer"), "{}", a.text);
    assert!(a.text.contains("Lakeside Toyota"), "{}", a.text);
    let a = ask(&k, "What did Toyota of Lakeside do?");
    assert_eq!(
        a.understanding.slots.vendor.as_deref(),
        Some("Lakeside Toyota")
    );
    assert_eq!(cited(&a), ["e01"], "{}", a.text);

    // Two dealers: both counted, both named.
    let mut two = fixture();
    two.events[3].vendor = Some(vwc_contracts::Vendor {
        name: "Northside Motors".into(),
        dealer_id: Some("dlr_north".into()),
    });
    two.events[3].cost_cents = Some(41_000);
    let a = ask(&two, "What has the dealer done?");
    assert_eq!(a.understanding.slots.vendor, None);
    assert_eq!(
        a.understanding.slots.dealers,
        ["Lakeside Toyota", "Northside Motors"]
    );
    let mut ids = cited(&a);
    ids.sort();
    assert_eq!(ids, ["e01", "e04"], "{}", a.text);
    for q in [
        "How many dealer visits?",
        "How many times have I been to the dealer?",
    ] {
        let a = ask(&two, q);
        assert_eq!(a.understanding.intent, Intent::CountDone, "{q}: {}", a.text);
        assert!(
            a.text.starts_with(
                "2 records at the dealers (Lakeside Toyota, Northside Motors), the first on 2024-05-01"
            ),
            "{q}: {}",
            a.text
        );
    }
    // Their costs are the dealers' (probe api42: the answer read as the vehicle's whole spend).
    let a = ask(&two, "How much have I spent at the dealer?");
    assert!(
        a.text
            .starts_with("You spent 410.00 USD on the vehicle (purchase excluded) at the dealers (Lakeside Toyota, Northside Motors)"),
        "{}",
        a.text
    );

    // No dealer recorded: nothing "at a dealer".
    let mut none = fixture();
    none.events.remove(0);
    let a = ask(&none, "How much have I spent at the dealer?");
    assert_eq!(a.understanding.slots.vendor.as_deref(), Some("a dealer"));
    assert!(a.citations.is_empty(), "{}", a.text);
    assert!(a.text.contains(" at a dealer"), "{}", a.text);
}

/// The check engine light is answered from its own excerpt (probe: "Is it safe to drive with the check engine
/// light on?" gave the safety inspection's).
#[test]
fn the_check_engine_light_has_its_excerpt() {
    let k = fixture();
    for q in [
        "Is it safe to drive with the check engine light on?",
        "What does the check engine light mean?",
        "My engine light came on",
    ] {
        let a = ask(&k, q);
        let kb: Vec<&str> = a.knowledge.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(kb, ["kb_check_engine_light"], "{q}: {}", a.text);
        assert!(a.citations.is_empty(), "{q}: {}", a.text);
    }
}

/// Fuel bought is the fill-ups' cost, not the vehicle's purchase (probe api42: "How much gas did I buy last
/// month?" answered "No purchase is recorded last month").
#[test]
fn fuel_bought_is_the_fill_ups_not_the_purchase() {
    let mut k = fixture();
    let reading = k.events[7].clone();
    let fill = |id: &str, day: u32, cents: u64| VehicleEvent {
        id: id.into(),
        kind: EventKind::Fuel,
        occurred_at: at(2026, 4, day),
        cost_cents: Some(cents),
        currency: Some("USD".into()),
        title: "Fill-up".into(),
        vendor: None,
        details: serde_json::json!({"volume": 12.5, "volumeUnit": "gal", "fullTank": true}),
        ..reading.clone()
    };
    k.events.push(fill("f1", 5, 4_500));
    k.events.push(fill("f2", 20, 5_200));
    for q in [
        "How much gas did I buy last month?",
        "How much fuel did I buy last month?",
        "How much gas did I buy in April?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::TotalCost, "{q}: {}", a.text);
        assert_eq!(a.understanding.slots.kind, Some(EventKind::Fuel), "{q}");
        assert!(a.text.contains("97.00 USD"), "{q}: {}", a.text);
        let mut ids = cited(&a);
        ids.sort();
        assert_eq!(ids, ["f1", "f2"], "{q}");
    }
    // The purchase itself is still the purchase.
    for q in [
        "When did I buy it?",
        "How much did I pay for it?",
        "Who did I buy it from?",
    ] {
        assert_eq!(ask(&k, q).understanding.intent, Intent::Purchase, "{q}");
    }
}

/// The fixture with its purchase price stored without a currency (before the API required one) and no price
/// given at registration.
fn price_without_currency() -> VehicleKnowledge {
    let mut k = fixture();
    let bought = &mut k.events[0];
    bought.currency = None;
    bought.cost_cents = None;
    if let Some(v) = k.vehicle.as_mut() {
        v.purchase_price_cents = None;
        v.purchase_currency = None;
    }
    k
}

#[test]
fn a_purchase_price_without_a_currency_is_never_read_as_usd() {
    let k = price_without_currency();
    let a = ask(&k, "When did I buy it?");
    assert!(
        a.text
            .contains("for 27,490.00 (its currency is not recorded)"),
        "{}",
        a.text
    );
    assert!(!a.text.contains("USD"), "{}", a.text);
    // The total cost of ownership leaves it out of every sum and says so.
    let a = ask(&k, "What's the total cost of ownership?");
    let costs = 12_999 + 16_499 + 48_750 + 84_000 + 52_500 + 12_999;
    assert!(
        a.text.starts_with(&format!(
            "The total cost of ownership recorded is {}, over 6 records",
            money(costs, "USD")
        )),
        "{}",
        a.text
    );
    assert!(
        a.text.ends_with(
            "The purchase price, 27,490.00 (its currency is not recorded), is not included."
        ),
        "{}",
        a.text
    );
    // The currency given at registration is the price's, as the sale reads it.
    let mut k = price_without_currency();
    k.vehicle.as_mut().unwrap().purchase_currency = Some("EUR".into());
    let a = ask(&k, "How much did I pay for it?");
    assert!(a.text.contains("for 27,490.00 EUR"), "{}", a.text);
    // A sold vehicle: the sale counted no price it could not place in its currency; the answer says why, and
    // the purchase answer gives the same price without a currency.
    let mut k = price_without_currency();
    let tco = vwc_contracts::lifecycle::total_cost_of_ownership(
        k.vehicle.as_ref().unwrap(),
        &k.events,
        2_000_000,
        "USD",
    );
    assert_eq!(tco.purchase_price_cents, 0);
    if let Some(v) = k.vehicle.as_mut() {
        v.status = vwc_contracts::lifecycle::VehicleStatus::Sold;
        v.sale = Some(vwc_contracts::lifecycle::Sale {
            sold_at: at(2026, 5, 1),
            price_cents: 2_000_000,
            currency: "USD".into(),
            odometer: 50_000,
            total_cost_of_ownership: tco,
        });
    }
    let a = ask(&k, "What's the total cost of ownership?");
    assert!(
        a.text.contains(
            "no purchase price known in USD (counted as 0: the purchase price, 27,490.00 (its currency is \
             not recorded), is recorded without a currency)"
        ),
        "{}",
        a.text
    );
    let a = ask(&k, "When did I buy it?");
    assert!(
        a.text
            .contains("for 27,490.00 (its currency is not recorded)"),
        "{}",
        a.text
    );
}

#[test]
fn the_last_or_first_ones_cost_is_that_records() {
    let k = fixture();
    for q in [
        "how much was the last oil change",
        "what did my last oil change cost",
        "How much did my most recent oil change cost?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::TotalCost, "{q}");
        assert_eq!(a.understanding.slots.pick, Some(Pick::Last), "{q}");
        assert_eq!(cited(&a), ["e07"], "{q}: {}", a.text);
        assert!(
            a.text.starts_with("The last oil change was on 2025-08-30")
                && a.text.contains("it cost 129.99 USD"),
            "{q}: {}",
            a.text
        );
    }
    let a = ask(&k, "how much was the first oil change");
    assert_eq!(cited(&a), ["e02"], "{}", a.text);
    // "last year" is a range, not the last one.
    let a = ask(&k, "how much did I spend on oil changes last year");
    assert_eq!(a.understanding.slots.pick, None);
    assert_eq!(cited(&a), ["e07"], "{}", a.text);
}

#[test]
fn how_much_i_paid_for_the_car_is_the_purchase_price() {
    for q in [
        "how much did I pay for the car",
        "How much did we pay for the truck?",
        "what did I pay for the vehicle",
    ] {
        let a = ask(&fixture(), q);
        assert_eq!(a.understanding.intent, Intent::Purchase, "{q}");
        assert!(a.text.contains("for 27,490.00 USD"), "{q}: {}", a.text);
    }
}

#[test]
fn the_previous_owner_is_the_time_before_the_purchase() {
    let k = resold();
    for q in [
        "how much did the previous owner spend",
        "How much was spent before I bought it?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::TotalCost, "{q}");
        assert_eq!(
            a.understanding.slots.range,
            Some(RangeSpec::BeforePurchase),
            "{q}"
        );
        assert!(a.text.contains("50.00 USD"), "{q}: {}", a.text);
        assert!(cited(&a).contains(&"m1"), "{q}: {}", a.text);
        assert!(!cited(&a).contains(&"m2"), "{q}: {}", a.text);
    }
    for q in [
        "What did the previous owner do?",
        "what was done before I bought it",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::ListEvents, "{q}");
        assert_eq!(cited(&a), ["m1", "a1"], "{q}: {}", a.text);
        assert!(
            a.text.contains("before you bought it on 2024-01-01"),
            "{q}: {}",
            a.text
        );
    }
    // Without a purchase, "before I bought it" cannot be placed.
    let mut k = fixture();
    k.events.retain(|e| e.kind != EventKind::Acquisition);
    let a = ask(&k, "what did the previous owner do");
    assert!(a.citations.is_empty());
    assert!(a.text.contains("cannot be placed"), "{}", a.text);
}

#[test]
fn first_next_need_and_shop_questions_are_routed_to_their_answer() {
    let k = fixture();
    for q in [
        "when was the first oil change",
        "When did I first change the oil?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::LastDone, "{q}");
        assert_eq!(cited(&a), ["e02"], "{q}: {}", a.text);
        assert!(
            a.text.starts_with("The first oil change was on 2024-06-01"),
            "{q}: {}",
            a.text
        );
    }
    for q in [
        "when is my next oil change",
        "do i need an oil change",
        "how many miles until my next oil change",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::DueItems, "{q}: {}", a.text);
        assert_eq!(
            a.understanding.slots.task.as_deref(),
            Some("oil_change"),
            "{q}"
        );
    }
    // Shop visits: maintenance, repairs, collisions, upgrades; not the purchase or the odometer reading.
    let a = ask(&k, "how many times was it in the shop");
    assert_eq!(a.understanding.intent, Intent::CountDone, "{}", a.text);
    assert_eq!(
        cited(&a),
        ["e02", "e03", "e04", "e05", "e06", "e07"],
        "{}",
        a.text
    );
    assert!(a.text.starts_with("6 shop visits recorded"), "{}", a.text);
    let a = ask(&k, "when was the car last in the shop");
    assert_eq!(cited(&a), ["e07"], "{}", a.text);
    assert!(
        a.text.starts_with("The last shop visit was on 2025-08-30"),
        "{}",
        a.text
    );
    let a = ask(&k, "When was the RAV4 serviced?");
    assert_eq!(a.understanding.intent, Intent::LastDone, "{}", a.text);
    assert_eq!(cited(&a), ["e07"], "{}", a.text);
    // A complete question is not a follow-up.
    let a = ask(&k, "how much did I spend on it");
    assert_eq!(a.understanding.intent, Intent::TotalCost, "{}", a.text);
    assert_eq!(a.follow_up, None);
}

#[test]
fn cheapest_most_expensive_and_average_costs_are_computed() {
    let k = fixture();
    let a = ask(&k, "what was the cheapest oil change");
    assert_eq!(a.understanding.intent, Intent::TotalCost);
    // e02 and e07 both cost 129.99: the latest of them.
    assert_eq!(cited(&a), ["e07"], "{}", a.text);
    assert!(
        a.text
            .starts_with("The cheapest oil change recorded cost 129.99 USD, on 2025-08-30"),
        "{}",
        a.text
    );
    let a = ask(&k, "what's the most expensive repair");
    assert_eq!(cited(&a), ["e04"], "{}", a.text);
    assert!(
        a.text
            .starts_with("The most expensive repair recorded cost 487.50 USD"),
        "{}",
        a.text
    );
    let a = ask(&k, "what's the average cost of an oil change");
    assert_eq!(cited(&a), ["e02", "e03", "e07"], "{}", a.text);
    // (129.99 + 164.99 + 129.99) / 3 = 141.656… → 141.66.
    assert!(
        a.text.starts_with(
            "On average, each oil change cost 141.66 USD (over 3 records, 424.97 USD in all)"
        ),
        "{}",
        a.text
    );
}

#[test]
fn seasons_named_months_and_years_ago_are_read_or_said_back() {
    let k = fixture();
    // Asked on 2026-05-10: spring 2026 has not ended, so "last spring" is 2025's (March–May).
    let a = ask(&k, "what was done last spring");
    assert!(
        a.text.contains("in spring 2025 (March 2025 to May 2025"),
        "{}",
        a.text
    );
    assert!(a.citations.is_empty(), "{}", a.text);
    let a = ask(&k, "what was done in the summer of 2025");
    assert_eq!(cited(&a), ["e07", "e06", "e05"], "{}", a.text);
    let a = ask(&k, "what happened last november");
    assert_eq!(
        a.understanding.slots.range,
        Some(RangeSpec::PastMonth { month: 11 })
    );
    assert!(a.text.contains("November 2025"), "{}", a.text);
    assert!(a.citations.is_empty(), "{}", a.text);
    for q in [
        "when was the oil changed 2 years ago",
        "when was the oil changed two years ago",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::LastDone, "{q}");
        assert_eq!(cited(&a), ["e03"], "{q}: {}", a.text);
        assert!(a.text.contains("in 2024 (2 years ago"), "{q}: {}", a.text);
    }
    let a = ask(&k, "how much did I spend on fuel in the fall");
    assert!(
        a.text.starts_with("I could not read the time range"),
        "{}",
        a.text
    );
    // Winter tires are no range.
    assert_eq!(
        ask(&k, "when did I put the winter tires on")
            .understanding
            .slots
            .range,
        None
    );
}

#[test]
fn an_impossible_fuel_economy_says_the_fill_up_log_looks_incomplete() {
    let mut k = fixture();
    let reading = k.events[7].clone();
    let fill = |id: &str, month: u32, odometer: u64| VehicleEvent {
        id: id.into(),
        kind: EventKind::Fuel,
        occurred_at: at(2026, month, 5),
        odometer: Some(odometer),
        cost_cents: Some(4_000),
        currency: Some("USD".into()),
        title: "Fill-up".into(),
        vendor: None,
        details: serde_json::json!({"volume": 10.0, "volumeUnit": "gal", "fullTank": true}),
        ..reading.clone()
    };
    // Before the reading (e08), in time order: 300 mi on 10 gal is 30 mpg.
    k.events.insert(7, fill("f1", 1, 45_000));
    k.events.insert(8, fill("f2", 2, 45_300));
    let a = ask(&k, "whats my gas mileage");
    assert_eq!(a.understanding.intent, Intent::FuelEconomy);
    assert!(
        a.text.starts_with("Your fuel economy averages 30 mpg"),
        "{}",
        a.text
    );
    // Then 4,400 mi on 10 gal: fill-ups left out of the log, not 440 mpg.
    k.events.insert(9, fill("f3", 3, 49_700));
    let a = ask(&k, "whats my gas mileage");
    assert!(
        a.text.starts_with("The fill-up log looks incomplete"),
        "{}",
        a.text
    );
    assert!(
        !a.text.contains("440") && !a.text.contains("152"),
        "{}",
        a.text
    );
    assert_eq!(cited(&a), ["f3", "f2"], "{}", a.text);
}

#[test]
fn a_shop_named_after_a_make_is_not_another_vehicle() {
    // A Honda with no record at Lakeside Toyota: the shop's name is still no vehicle.
    let mut k = fixture();
    if let Some(v) = k.vehicle.as_mut() {
        v.make = "Honda".into();
        v.model = "Civic".into();
    }
    for e in &mut k.events {
        e.vendor = None;
    }
    let a = ask(&k, "when did I take it to Lakeside Toyota");
    assert_eq!(a.understanding.slots.other_vehicle, None, "{}", a.text);
    // It is a vendor asked for: the seller of the purchase here, no other record names it.
    assert_eq!(a.understanding.intent, Intent::LastDone, "{}", a.text);
    assert_eq!(
        a.understanding.slots.vendor.as_deref(),
        Some("Lakeside Toyota")
    );
    assert_eq!(cited(&a), ["e01"], "{}", a.text);
    assert!(
        a.text
            .starts_with("The last record at Lakeside Toyota was on 2024-05-01"),
        "{}",
        a.text
    );
    // "took it to the shop" is a shop visit, no vendor.
    let a = ask(&k, "when did I last take it to the shop");
    assert_eq!(a.understanding.slots.vendor, None, "{}", a.text);
    assert_eq!(
        a.understanding.slots.kinds,
        SHOP_KINDS.to_vec(),
        "{}",
        a.text
    );
    // "to my Toyota" and "the Toyota" still name another vehicle.
    for q in [
        "when did I take my Toyota to the shop",
        "When was the Toyota's oil changed?",
    ] {
        assert_eq!(
            ask(&k, q).understanding.slots.other_vehicle.as_deref(),
            Some("Toyota"),
            "{q}"
        );
    }
}

#[test]
fn an_amount_stored_without_a_currency_is_read_in_the_valuations_not_as_usd() {
    let appraisal = |k: &mut VehicleKnowledge| {
        k.events.push(VehicleEvent {
            id: "e09".into(),
            kind: EventKind::Valuation,
            occurred_at: at(2025, 12, 1),
            title: "Dealer appraisal".into(),
            currency: None,
            details: serde_json::json!({"amountCents": 2_450_000, "source": "dealer_appraisal"}),
            vendor: None,
            cost_cents: None,
            ..k.events[0].clone()
        });
    };
    // The valuation service values the vehicle in EUR: a currency-less appraisal is read in it.
    let mut k = valued();
    if let Some(point) = k.valuation.as_mut() {
        point.valuation.currency = "EUR".into();
    }
    appraisal(&mut k);
    let a = conversation(&k, &["What is it worth?", "and before that?"])
        .pop()
        .unwrap();
    assert!(a.text.contains("24,500.00 EUR"), "{}", a.text);
    assert!(!a.text.contains("USD"), "{}", a.text);
    // No value known at all: said to have no recorded currency, not USD.
    let mut k = fixture();
    k.valuation = None;
    appraisal(&mut k);
    let a = ask(&k, "What is it worth?");
    assert!(
        a.text.contains("24,500.00 (its currency is not recorded)"),
        "{}",
        a.text
    );
}

#[test]
fn last_may_this_june_and_in_march_are_months_and_may_the_verb_is_no_range() {
    let mut k = fixture();
    // An oil change in May 2025 and another in May 2026 (before today, 2026-05-10).
    for (id, on) in [("may25", at(2025, 5, 20)), ("may26", at(2026, 5, 2))] {
        let mut e = k.events[6].clone();
        e.id = id.into();
        e.occurred_at = on;
        k.events.push(e);
    }
    k.sort_events();
    // Asked in May 2026, "last May" is May 2025 (this May has not ended).
    let a = ask(&k, "How much did I spend last May?");
    assert_eq!(
        a.understanding.slots.range,
        Some(RangeSpec::PastMonth { month: 5 })
    );
    assert_eq!(cited(&a), ["may25"], "{}", a.text);
    assert!(a.text.contains("in May 2025"), "{}", a.text);
    // Asked in June 2026, "last May" is May 2026.
    let p = Prepared::new(k.clone());
    let a = answer("What was done last May?", &p, None, at(2026, 6, 15));
    assert_eq!(cited(&a), ["may26"], "{}", a.text);
    assert!(a.text.contains("in May 2026"), "{}", a.text);
    // "this May" is this calendar year's; "in May" the latest May that has begun (this one).
    let a = ask(&k, "What did I spend this May?");
    assert_eq!(
        a.understanding.slots.range,
        Some(RangeSpec::MonthThisYear { month: 5 })
    );
    assert_eq!(cited(&a), ["may26"], "{}", a.text);
    let a = ask(&k, "what was done in may");
    assert_eq!(cited(&a), ["may26"], "{}", a.text);
    // "this June" is June 2026, still to come: nothing recorded in it, never every record.
    let a = ask(&k, "What did I spend this June?");
    assert!(a.citations.is_empty(), "{}", a.text);
    assert!(a.text.contains("in June 2026"), "{}", a.text);
    // "in March", no year: the latest March up to today.
    let a = ask(&k, "what was done in March");
    assert!(a.text.contains("in March 2026"), "{}", a.text);
    let a = ask(&k, "what was done last June");
    assert_eq!(cited(&a), ["e05"], "{}", a.text);
    // "may" the verb is no month: the whole history is asked about.
    for q in [
        "May I ask when the oil was last changed?",
        "It may need an oil change, when was the oil last changed?",
        "This may be a silly question, but when was the oil last changed?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.slots.range, None, "{q}");
        assert_eq!(cited(&a), ["may26"], "{q}: {}", a.text);
    }
}

#[test]
fn the_vin_colour_and_plate_are_answered_from_the_registration_citing_nothing() {
    let mut k = fixture();
    for q in ["What is my VIN?", "What's the VIN number?", "vin?"] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::VehicleFacts, "{q}");
        assert_eq!(
            a.text, "From the vehicle's registration: VIN 2T3P1RFV8MW123456.",
            "{q}"
        );
        assert!(a.citations.is_empty(), "{q}");
    }
    // Not kept: said so, never refused nor read from the nickname ("Blue").
    let a = ask(&k, "What colour is it?");
    assert_eq!(
        a.text,
        "Its colour is not recorded in the vehicle's registration."
    );
    assert!(a.citations.is_empty());
    let a = ask(&k, "What's the licence plate?");
    assert_eq!(
        a.text,
        "Its licence plate is not recorded in the vehicle's registration."
    );
    // Once the registration holds them (PATCH /v1/vehicles/{id}), they are given.
    if let Some(v) = k.vehicle.as_mut() {
        v.colour = Some("Lunar Rock".into());
        v.plate = Some("ABC 1234".into());
    }
    let a = ask(&k, "What color is my car?");
    assert_eq!(
        a.text,
        "From the vehicle's registration: colour Lunar Rock."
    );
    for q in [
        "What's the plate?",
        "What is the license plate number?",
        "What's my registration number?",
        "number plate",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::VehicleFacts, "{q}");
        assert_eq!(
            a.text, "From the vehicle's registration: licence plate ABC 1234.",
            "{q}"
        );
    }
    let a = ask(&k, "What car is this?");
    assert_eq!(
        a.text,
        "From the vehicle's registration: model year 2021, make Toyota, model RAV4, colour Lunar Rock, VIN \
         2T3P1RFV8MW123456, licence plate ABC 1234. Its trim is not recorded in the vehicle's registration."
    );
    assert!(a.citations.is_empty());
    // Not a dated answer: "and before that?" says so.
    let a = conversation(&k, &["What is my VIN?", "and before that?"]);
    assert!(
        a[1].text
            .starts_with("The vehicle's registration is not read"),
        "{}",
        a[1].text
    );
    // Records that name a plate or a colour are still asked about as records.
    assert_eq!(
        ask(&k, "How much did the skid plate cost?")
            .understanding
            .intent,
        Intent::TotalCost
    );
    assert_eq!(
        ask(&k, "When were the plates renewed?")
            .understanding
            .intent,
        Intent::Search
    );
}

#[test]
fn a_distance_asked_in_the_other_unit_is_converted_and_a_currency_asked_is_never_converted() {
    let k = fixture();
    // The rate as recorded (miles), then asked in km: converted at 1 mi = 1.609344 km, both said.
    let miles = ask(&k, "How many miles do I drive per month?");
    let per_month: u64 = miles
        .text
        .strip_prefix("You drive about ")
        .and_then(|t| t.split(" mi a month").next())
        .map(|n| n.replace(',', "").parse().unwrap())
        .expect(&miles.text);
    let a = ask(&k, "How many km do I drive per month?");
    assert_eq!(a.understanding.intent, Intent::UsageRate);
    assert_eq!(a.understanding.slots.distance_unit, Some(OdometerUnit::Km));
    let km = (per_month as f64 * 1.609344).round() as u64;
    assert!(
        a.text.starts_with(&format!(
            "You drive ≈ {} ({}) a month",
            odometer(km, OdometerUnit::Km),
            odometer(per_month, OdometerUnit::Mi)
        )),
        "{}",
        a.text
    );
    assert!(
        a.text.contains("last recorded ≈ 84,384 km (52,434 mi) on 2026-05-08)")
            && a.text.ends_with(
                "Distances are recorded in mi; the km figures are converted at 1 mi = 1.609344 km and rounded."
            ),
        "{}",
        a.text
    );
    assert_eq!(cited(&a), cited(&miles));
    // A follow-up asked in km converts too: 44,085 mi × 1.609344 = 70,947.8 km.
    let chain = conversation(
        &k,
        &[
            "When was the oil last changed?",
            "what was the mileage in km?",
        ],
    );
    assert_eq!(chain[1].follow_up, Some(Intent::FollowUpOdometer));
    assert!(
        chain[1]
            .text
            .starts_with("“Oil change” on 2025-08-30 was at ≈ 70,948 km (44,085 mi)."),
        "{}",
        chain[1].text
    );
    // A km vehicle asked in miles: 52,434 km ÷ 1.609344 = 32,580.9 mi.
    let mut metric = k.clone();
    if let Some(v) = metric.vehicle.as_mut() {
        v.odometer_unit = OdometerUnit::Km;
    }
    let a = ask(&metric, "What's the odometer in miles?");
    assert!(
        a.text
            .contains("last recorded ≈ 32,581 mi (52,434 km) on 2026-05-08"),
        "{}",
        a.text
    );
    // Asked in the vehicle's own unit: nothing converted, nothing said about it.
    let a = ask(&k, "How many miles do I drive per month?");
    assert!(
        !a.text.contains('≈') && !a.text.contains("converted"),
        "{}",
        a.text
    );

    // Costs asked in EUR on a USD history: given in USD, and said plainly that nothing is converted.
    let usd = ask(&k, "How much have I spent?");
    for q in [
        "How much in EUR have I spent?",
        "How much have I spent in euros?",
        "How much have I spent in €?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::TotalCost, "{q}");
        assert_eq!(
            a.understanding.slots.currency.as_deref(),
            Some("EUR"),
            "{q}"
        );
        assert_eq!(
            a.text,
            format!(
                "{} The costs are recorded in USD and given in USD: no conversion to EUR is made (no \
                 exchange rates are held).",
                usd.text
            ),
            "{q}"
        );
        assert_eq!(cited(&a), cited(&usd), "{q}");
    }
    // Asked in the currency recorded: nothing to say.
    assert_eq!(ask(&k, "How much have I spent in USD?").text, usd.text);
    // A follow-up keeps the currency asked: the cost of the last oil change, in USD, said so.
    let chain = conversation(
        &k,
        &[
            "How much did I spend on oil changes in euros?",
            "and in 2024?",
        ],
    );
    assert!(
        chain[1].text.contains("294.98 USD")
            && chain[1]
                .text
                .ends_with("no conversion to EUR is made (no exchange rates are held)."),
        "{}",
        chain[1].text
    );
    // Some costs in the currency asked and some not: only the others are said to be unconverted.
    let mut mixed = k.clone();
    let mut abroad = mixed.events[6].clone();
    abroad.id = "eur1".into();
    abroad.occurred_at = at(2025, 9, 10);
    abroad.currency = Some("EUR".into());
    abroad.cost_cents = Some(9_000);
    mixed.events.push(abroad);
    mixed.sort_events();
    let a = ask(&mixed, "How much have I spent on maintenance in EUR?");
    assert!(
        a.text.contains("90.00 EUR")
            && a.text.ends_with(
                "Only the EUR amounts are in EUR; the others are recorded in USD and given in USD: no \
                 conversion to EUR is made (no exchange rates are held)."
            ),
        "{}",
        a.text
    );
}

#[test]
fn a_cost_compared_over_two_periods_gives_both_totals_which_is_larger_and_by_how_much() {
    let mut k = fixture();
    // This year (2026, asked on 2026-05-10): one repair of 100.00 USD.
    let mut repair = k.events[3].clone();
    repair.id = "r26".into();
    repair.occurred_at = at(2026, 2, 3);
    repair.cost_cents = Some(10_000);
    k.events.push(repair);
    k.sort_events();
    // 2025: e04 487.50 + e05 840.00 + e06 525.00 + e07 129.99 = 1,982.49 USD; 2026: 100.00 USD.
    let a = ask(&k, "Did I spend more this year than last year?");
    assert_eq!(a.understanding.intent, Intent::TotalCost);
    assert_eq!(a.understanding.slots.range, Some(RangeSpec::ThisYear));
    assert_eq!(a.understanding.slots.compare, Some(RangeSpec::LastYear));
    assert_eq!(
        a.text,
        "Costs recorded for the vehicle (purchase excluded): this year (2026 so far, to 10 May), 100.00 USD over \
         1 record; last year (2025), 1,982.49 USD over 4 records. More was spent last year (2025), by 1,882.49 \
         USD."
    );
    assert_eq!(cited(&a), ["r26", "e04", "e05", "e06", "e07"]);
    // A kind, and the possessive "last year's": maintenance in 2026 none, in 2025 e07 129.99 USD.
    let a = ask(
        &k,
        "How does this year's maintenance cost compare to last year's?",
    );
    assert_eq!(
        a.text,
        "Costs recorded for maintenance: this year (2026 so far, to 10 May), none; last year (2025), 129.99 USD \
         over 1 record. No cost is recorded this year (2026 so far, to 10 May), so only last year (2025) has \
         one."
    );
    assert_eq!(cited(&a), ["e07"]);
    // Years named, "or": repairs in 2025 (e04, 487.50 USD) and in 2026 (r26, 100.00 USD).
    let a = ask(&k, "more on repairs in 2025 or 2026?");
    assert_eq!(a.understanding.intent, Intent::TotalCost);
    assert_eq!(
        a.text,
        "Costs recorded for repairs: in 2025, 487.50 USD over 1 record; in 2026 so far (to 10 May), 100.00 USD \
         over 1 record. More was spent in 2025, by 387.50 USD."
    );
    assert_eq!(cited(&a), ["e04", "r26"]);
    // Equal totals are said to be equal; nothing in either period is said once.
    let a = ask(&k, "Did I spend more on oil changes in 2024 than in 2025?");
    assert!(
        a.text.starts_with("Costs recorded for oil change: in 2024, 294.98 USD over 2 records; in 2025, 129.99 USD over 1 record. More was spent in 2024, by 164.99 USD."),
        "{}",
        a.text
    );
    let a = ask(&k, "Did I spend more on fuel in 2024 than in 2025?");
    assert_eq!(a.text, "No cost is recorded for fuel in 2024 or in 2025.");
    assert!(a.citations.is_empty());
    let mut same = k.clone();
    if let Some(e) = same.events.iter_mut().find(|e| e.id == "r26") {
        e.cost_cents = Some(48_750);
    }
    let a = ask(&same, "did repairs cost more in 2025 than in 2026?");
    assert!(
        a.text.ends_with("The two are equal, 487.50 USD each."),
        "{}",
        a.text
    );
    // The records before the purchase (2024-05-01) are said to be: none here, so nothing is said.
    assert!(
        !ask(&k, "Did I spend more in 2024 than in 2025?")
            .text
            .contains("before you bought it")
    );
    // "and in 2023?" after it asks one period again, not the comparison.
    let chain = conversation(
        &k,
        &["Did I spend more this year than last year?", "and in 2025?"],
    );
    assert_eq!(chain[1].understanding.slots.compare, None);
    assert!(
        chain[1]
            .text
            .starts_with("You spent 1,982.49 USD on the vehicle (purchase excluded) in 2025"),
        "{}",
        chain[1].text
    );
    // One range alone is no comparison.
    assert_eq!(
        ask(&k, "How much more did I spend this year?")
            .understanding
            .slots
            .compare,
        None
    );
    // Each currency compared apart, never converted.
    let mut abroad = k.clone();
    let mut e = abroad.events[6].clone();
    e.id = "eur26".into();
    e.occurred_at = at(2026, 3, 1);
    e.currency = Some("EUR".into());
    e.cost_cents = Some(9_000);
    abroad.events.push(e);
    abroad.sort_events();
    let a = ask(&abroad, "Did I spend more this year than last year?");
    assert!(
        a.text.ends_with(
            "In EUR: no cost in EUR is recorded last year (2025), so only this year (2026 so far, to 10 May) has \
             one. In USD: more was spent last year (2025), by 1,882.49 USD."
        ),
        "{}",
        a.text
    );
}

/// A record holding several tasks has one cost: each task's total counts all of it (the documented rule), and
/// the answer says so, naming the other work — in a sum, a picked record and an average alike; a task whose
/// records hold nothing else says nothing of it.
#[test]
fn a_cost_shared_with_other_work_in_one_record_is_said_to_be_counted_whole() {
    let k = fixture();
    let sum = ask(&k, "How much have I spent on oil changes?");
    assert_eq!(cited(&sum), ["e02", "e03", "e07"]);
    assert!(
        sum.text.ends_with(
            " 1 of these records also includes other work (tire rotation): its whole cost is counted, as the \
             record does not split it."
        ),
        "{}",
        sum.text
    );
    let rotation = ask(&k, "How much have I spent on tire rotations?");
    assert_eq!(cited(&rotation), ["e02"]);
    assert!(
        rotation.text.ends_with(
            "1 record. 1 of these records also includes other work (oil change): its whole cost is counted, \
             as the record does not split it."
        ),
        "{}",
        rotation.text
    );
    let first = ask(&k, "How much was the first oil change?");
    assert_eq!(cited(&first), ["e02"]);
    assert!(
        first.text.ends_with(
            " That record also includes other work (tire rotation): its whole cost is given, as the record \
             does not split it."
        ),
        "{}",
        first.text
    );
    let last = ask(&k, "How much was the last oil change?");
    assert_eq!(cited(&last), ["e07"]);
    assert!(!last.text.contains("other work"), "{}", last.text);
    let repairs = ask(&k, "How much have I spent on repairs?");
    assert!(!repairs.text.contains("other work"), "{}", repairs.text);
}

/// The same rule for a part: a repair record listing several parts has one cost, counted whole under each
/// part asked, and the answer names the other parts; and "how much did it cost?" after an answer about a task
/// or part gives the record's whole cost, saying so, while a record of that work alone says nothing of it.
#[test]
fn a_parts_cost_and_a_follow_ups_cost_say_when_the_record_holds_other_work() {
    let k = fixture();
    let p = Prepared::new(k.clone());
    let rotors = ask(&k, "How much did the rotors cost?");
    assert_eq!(cited(&rotors), ["e04"]);
    assert!(
        rotors.text.ends_with(
            "over 1 record. 1 of these records also includes other work (front brake pads): its whole cost is \
             counted, as the record does not split it."
        ),
        "{}",
        rotors.text
    );
    let rotation = answer("When was the last tire rotation?", &p, None, now());
    assert_eq!(cited(&rotation), ["e02"]);
    let cost = answer(
        "how much did it cost?",
        &p,
        Some(&previous(&rotation)),
        now(),
    );
    assert_eq!(
        cost.text,
        "“Oil and filter change + tire rotation” on 2024-06-01 cost 129.99 USD. That record also includes \
         other work (oil change): its whole cost is given, as the record does not split it."
    );
    let count = answer("How many times has the oil been changed?", &p, None, now());
    let costs = answer(
        "how much did they cost?",
        &p,
        Some(&previous(&count)),
        now(),
    );
    assert_eq!(cited(&costs), ["e02", "e03", "e07"]);
    assert!(
        costs.text.ends_with(
            "Together: 424.97 USD. 1 of these records also includes other work (tire rotation): its whole cost \
             is counted, as the record does not split it."
        ),
        "{}",
        costs.text
    );
    let last = answer("When was the oil last changed?", &p, None, now());
    let alone = answer("how much?", &p, Some(&previous(&last)), now());
    assert_eq!(alone.text, "“Oil change” on 2025-08-30 cost 129.99 USD.");
    let collision = answer("Has it been in an accident?", &p, None, now());
    let repair = answer(
        "how much did it cost?",
        &p,
        Some(&previous(&collision)),
        now(),
    );
    assert!(!repair.text.contains("other work"), "{}", repair.text);
}

/// Common parts the records may never name (calipers, radiator, water pump, clutch, shocks…) are still
/// understood as a subject: the answer says no work on them is recorded, instead of not understanding (or,
/// where their system's work is recorded, says no record names them and gives that work).
#[test]
fn common_parts_no_record_names_are_said_to_have_no_work_recorded() {
    let k = fixture();
    let calipers = ask(&k, "When were the calipers replaced?");
    assert_eq!(calipers.understanding.intent, Intent::LastDone);
    assert_eq!(cited(&calipers), ["e04"]);
    assert!(
        calipers.text.starts_with(
            "No record names the calipers; the last work on the brakes was on 2025-01-15"
        ),
        "{}",
        calipers.text
    );
    for (q, part) in [
        ("When was the radiator replaced?", "radiator"),
        ("When was the water pump done?", "water pump"),
        ("Has the clutch been replaced?", "clutch"),
        ("When were the shocks replaced?", "shocks"),
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::LastDone, "{q}");
        assert!(a.citations.is_empty(), "{q}");
        assert_eq!(
            a.text,
            format!("No work on the {part} is recorded for this vehicle."),
            "{q}"
        );
    }
    let cost = ask(&k, "How much did the water pump cost?");
    assert_eq!(cost.text, "No cost is recorded for the water pump.");
}

/// Brake pads, rotors, calipers and brake fluid; tires and their rotation; the battery and a battery test; the
/// engine and the cabin air filter: a part asked is answered from the records that name it — by their parts,
/// title or system, not by a task's phrase ("tire rotation") nor by notes on what was seen ("rotors scored")
/// — or, when no record names it at all, from its system's recorded work, saying that no record names it.
#[test]
fn a_part_asked_is_answered_from_the_records_naming_it_never_from_a_neighbours() {
    use serde_json::json;
    let mut pads = record(
        "p1",
        EventKind::Repair,
        at(2025, 1, 15),
        Some(30_000),
        "Front brake pads",
        json!({"system": "brakes", "parts": ["front brake pads"]}),
    );
    pads.notes = Some("Rotors scored; resurfacing advised.".into());
    let mut k = fixture();
    k.events = vec![
        record(
            "b1",
            EventKind::Repair,
            at(2024, 3, 1),
            Some(20_000),
            "12V battery replaced",
            json!({"system": "electrical", "parts": ["12V battery"]}),
        ),
        record(
            "c1",
            EventKind::Repair,
            at(2024, 4, 1),
            Some(6_000),
            "Cabin filter",
            json!({"parts": ["cabin air filter"]}),
        ),
        pads,
        record(
            "m1",
            EventKind::Maintenance,
            at(2025, 2, 1),
            Some(9_000),
            "Oil change + tire rotation",
            json!({"tasks": ["oil_change", "tire_rotation", "battery_check"]}),
        ),
        record(
            "m2",
            EventKind::Maintenance,
            at(2025, 3, 1),
            Some(12_000),
            "Brake fluid flush",
            json!({"tasks": ["brake_fluid"]}),
        ),
    ];
    let rotors = ask(&k, "When were the rotors replaced?");
    assert_eq!(cited(&rotors), ["p1"]);
    assert_eq!(
        rotors.text,
        "No record names the rotors; the last work on the brakes was on 2025-01-15 (“Front brake pads”, \
         300.00 USD)."
    );
    let cost = ask(&k, "How much did the rotors cost?");
    assert_eq!(cost.understanding.intent, Intent::TotalCost);
    assert_eq!(cited(&cost), ["p1"]);
    assert!(
        cost.text
            .starts_with("No record names the rotors; you spent 300.00 USD on brakes"),
        "{}",
        cost.text
    );
    let calipers = ask(&k, "When were the calipers replaced?");
    assert_eq!(cited(&calipers), ["p1"]);
    assert!(calipers.text.starts_with("No record names the calipers; "));
    let pads = ask(&k, "When were the brake pads replaced?");
    assert_eq!(cited(&pads), ["p1"]);
    assert!(
        pads.text
            .starts_with("The last work on the front brake pads")
    );
    assert_eq!(cited(&ask(&k, "When was the brake fluid changed?")), ["m2"]);
    // The tire rotation is a task of its own: no record names the tires, and no tire system is recorded.
    let tires = ask(&k, "When were the tires replaced?");
    assert_eq!(
        tires.text,
        "No work on the tires is recorded for this vehicle."
    );
    assert!(tires.citations.is_empty());
    let tire_cost = ask(&k, "How much did the tires cost?");
    assert!(tire_cost.citations.is_empty(), "{}", tire_cost.text);
    assert_eq!(cited(&ask(&k, "When were the tires rotated?")), ["m1"]);
    // A battery test is not the battery.
    assert_eq!(cited(&ask(&k, "When was the battery replaced?")), ["b1"]);
    // The cabin air filter is not the (engine) air filter.
    let air = ask(&k, "When was the air filter replaced?");
    assert!(air.citations.is_empty(), "{}", air.text);
    assert_eq!(
        cited(&ask(&k, "When was the cabin air filter replaced?")),
        ["c1"]
    );
    // A record that names the rotors is their answer, and the brake pads' stays the pads'; one outside the
    // range asked still names them: no work on them in that range, not the brakes'.
    k.events.push(record(
        "r1",
        EventKind::Repair,
        at(2025, 4, 1),
        Some(45_000),
        "Brake rotors replaced",
        json!({"system": "brakes", "parts": ["brake rotors"]}),
    ));
    let rotors = ask(&k, "When were the rotors replaced?");
    assert_eq!(cited(&rotors), ["r1"]);
    assert!(
        rotors
            .text
            .starts_with("The last work on the rotors was on 2025-04-01")
    );
    assert_eq!(
        cited(&ask(&k, "When were the brake pads replaced?")),
        ["p1"]
    );
    let in_2024 = ask(&k, "When were the rotors replaced in 2024?");
    assert!(in_2024.citations.is_empty());
    assert_eq!(
        in_2024.text,
        "No work on the rotors is recorded in 2024 for this vehicle."
    );
    // A cabin air filter recorded as a part "air filter" is no cabin air filter either.
    k.events[1] = record(
        "c1",
        EventKind::Repair,
        at(2024, 4, 1),
        Some(6_000),
        "Air filter",
        json!({"parts": ["air filter"]}),
    );
    assert_eq!(cited(&ask(&k, "When was the air filter replaced?")), ["c1"]);
    assert!(
        ask(&k, "When was the cabin air filter replaced?")
            .citations
            .is_empty()
    );
}

/// A count compared over two periods gives both counts, which is more and by how many, citing both
/// periods' records; "the year before" is the year before the first period named, for costs as for counts.
#[test]
fn counts_compared_over_two_periods_and_the_year_before() {
    let k = fixture();
    let a = ask(&k, "Did I change the oil more often in 2025 than in 2024?");
    assert_eq!(a.understanding.intent, Intent::CountDone);
    assert_eq!(
        a.text,
        "Recorded: in 2025, 1 oil change; in 2024, 2 oil changes. More in 2024, by 1 oil change."
    );
    assert_eq!(cited(&a), ["e07", "e02", "e03"]);
    let b = ask(&k, "more oil changes in 2024 or 2023?");
    assert_eq!(b.understanding.intent, Intent::CountDone);
    assert!(
        b.text
            .ends_with("in 2023, 0 oil changes. More in 2024, by 2 oil changes."),
        "{}",
        b.text
    );
    let c = ask(&k, "Did I spend more last year than the year before?");
    assert_eq!(c.understanding.intent, Intent::TotalCost);
    assert_eq!(
        c.understanding.slots.compare,
        Some(RangeSpec::YearsAgo { years: 2 })
    );
    assert!(c.text.contains("294.98 USD over 2 records"), "{}", c.text);
    let d = ask(&k, "Did I spend more in 2025 than the year before?");
    assert_eq!(
        d.understanding.slots.compare,
        Some(RangeSpec::Year { year: 2024 })
    );
    assert!(
        d.text.ends_with("More was spent in 2025, by 1,687.51 USD."),
        "{}",
        d.text
    );
}

/// "Oil changes and repairs" asks for the records of either, not the records that are both (none: "No cost is
/// recorded for oil change" was the answer): each subject's sum or count is said apart, with their total, a
/// record under two of them counted once in it; a task's own phrase holding "and" stays one task.
#[test]
fn subjects_joined_by_and_are_each_said_apart_with_their_total() {
    let k = fixture();
    let a = ask(&k, "How much have I spent on oil changes and repairs?");
    assert_eq!(a.understanding.intent, Intent::TotalCost);
    assert_eq!(
        a.text,
        "You spent 912.47 USD on oil changes and repairs, over 4 records. On oil changes, 424.97 USD over 3 \
         records; on repairs, 487.50 USD over 1 record. 1 of these records also includes other work (tire \
         rotation): its whole cost is counted, as the record does not split it."
    );
    assert_eq!(cited(&a), ["e02", "e03", "e04", "e07"]);
    for q in [
        "How much did I spend on repairs or oil changes?",
        "What have repairs, and oil changes, cost me?",
        "How much did I spend on repairs plus oil changes?",
    ] {
        let a = ask(&k, q);
        assert!(
            a.text.starts_with(
                "You spent 912.47 USD on repairs and oil changes, over 4 records. On repairs, 487.50 USD over \
                 1 record; on oil changes, 424.97 USD over 3 records."
            ),
            "{q}: {}",
            a.text
        );
        assert_eq!(cited(&a), ["e02", "e03", "e04", "e07"], "{q}");
    }
    let a = ask(&k, "How many oil changes and repairs have I had?");
    assert_eq!(a.understanding.intent, Intent::CountDone);
    assert_eq!(
        a.text,
        "Recorded: 3 oil changes, the first on 2024-06-01 and the latest on 2025-08-30; 1 repair, on \
         2025-01-15. 4 records in all."
    );
    assert_eq!(cited(&a), ["e02", "e03", "e04", "e07"]);
    // Two tasks: e02 is an oil change and a tire rotation, counted once in the total (and its other work is
    // asked, so nothing else is said of it).
    let a = ask(
        &k,
        "How much have I spent on oil changes and tire rotations?",
    );
    assert_eq!(
        a.text,
        "You spent 424.97 USD on oil changes and tire rotations, over 3 records. On oil changes, 424.97 USD \
         over 3 records; on tire rotations, 129.99 USD over 1 record. 1 record falls under both: the total \
         counts it once."
    );
    assert_eq!(cited(&a), ["e02", "e03", "e07"]);
    let a = ask(
        &k,
        "How many oil changes and tire rotations have there been?",
    );
    assert_eq!(
        a.text,
        "Recorded: 3 oil changes, the first on 2024-06-01 and the latest on 2025-08-30; 1 tire rotation, on \
         2024-06-01. 3 records in all (1 holds both, counted once)."
    );
    // Compared over two periods: the records of either in each.
    let a = ask(
        &k,
        "Were there more oil changes or repairs in 2025 than in 2024?",
    );
    assert_eq!(a.understanding.intent, Intent::CountDone);
    assert_eq!(
        a.text,
        "Oil changes and repairs recorded: in 2025, 2 records; in 2024, 2 records. The two are equal."
    );
    assert_eq!(cited(&a), ["e04", "e07", "e02", "e03"]);
    // The last of either; nothing of either.
    let a = ask(&k, "When was the last oil change or repair?");
    assert!(
        a.text
            .starts_with("The last oil change or repair was on 2025-08-30"),
        "{}",
        a.text
    );
    assert_eq!(cited(&a), ["e07"]);
    let a = ask(
        &k,
        "How much did I spend on oil changes and repairs in 2019?",
    );
    assert_eq!(
        a.text,
        "No cost is recorded for oil changes or repairs in 2019."
    );
    assert!(a.citations.is_empty());
    // One task whose words hold "and": not split.
    for q in [
        "How much have I spent on oil change and filter?",
        "How much have I spent on oil and filter changes?",
    ] {
        let a = ask(&k, q);
        assert_eq!(
            a.understanding.slots.task.as_deref(),
            Some("oil_change"),
            "{q}"
        );
        assert!(
            a.text
                .starts_with("You spent 424.97 USD on oil change, over 3 records."),
            "{q}: {}",
            a.text
        );
    }
    let a = ask(&k, "How many oil and filter changes have I had?");
    assert!(a.text.starts_with("3 oil changes recorded,"), "{}", a.text);
}

/// A rolling period compared with the one before it: "the last 12 months than the 12 months before", "the
/// previous 6 months", "the 30 days before", "the year before" the past year — each span ending where the
/// first begins, said with its days — and "the month before" last month; a span of another unit than the
/// first's is said back, not guessed.
#[test]
fn a_rolling_period_is_compared_with_the_one_before_it() {
    let k = fixture();
    // Asked on 2026-05-10: e05, e06, e07 since 2025-05-10; e02, e03, e04 in the 12 months before.
    for q in [
        "Did I spend more in the last 12 months than the 12 months before?",
        "Did I spend more in the past year than the year before?",
        "Did I spend less in the last 12 months compared to the previous 12 months?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::TotalCost, "{q}");
        assert!(a.understanding.slots.compare.is_some(), "{q}");
        // Asked as less, the verdict names the period with less.
        let verdict = if q.contains("less") {
            "Less was spent in the previous 12 months (2024-05-10 to 2025-05-09), by 712.51 USD."
        } else {
            "More was spent in the last 12 months, by 712.51 USD."
        };
        assert_eq!(
            a.text,
            format!(
                "Costs recorded for the vehicle (purchase excluded): in the last 12 months, 1,494.99 USD over 3 \
                 records; in the previous 12 months (2024-05-10 to 2025-05-09), 782.48 USD over 3 records. \
                 {verdict}"
            ),
            "{q}"
        );
        assert_eq!(cited(&a), ["e05", "e06", "e07", "e02", "e03", "e04"], "{q}");
    }
    let a = ask(
        &k,
        "Did I spend more in the past 6 months or the previous 6 months?",
    );
    assert_eq!(
        a.text,
        "Costs recorded for the vehicle (purchase excluded): in the last 6 months, none; in the previous 6 months \
         (2025-05-10 to 2025-11-09), 1,494.99 USD over 3 records. No cost is recorded in the last 6 months, so \
         only in the previous 6 months (2025-05-10 to 2025-11-09) has one."
    );
    // The earlier period named first.
    let a = ask(
        &k,
        "Did I spend less in the previous 6 months than in the last 6 months?",
    );
    assert!(
        a.text.starts_with(
            "Costs recorded for the vehicle (purchase excluded): in the previous 6 months (2025-05-10 to \
             2025-11-09), 1,494.99 USD over 3 records; in the last 6 months, none."
        ),
        "{}",
        a.text
    );
    let a = ask(
        &k,
        "Did I change the oil more often in the last 12 months than in the 12 months before that?",
    );
    assert_eq!(a.understanding.intent, Intent::CountDone);
    assert_eq!(
        a.text,
        "Recorded: in the last 12 months, 1 oil change; in the previous 12 months (2024-05-10 to 2025-05-09), \
         2 oil changes. More in the previous 12 months (2024-05-10 to 2025-05-09), by 1 oil change."
    );
    assert_eq!(cited(&a), ["e07", "e02", "e03"]);
    let a = ask(
        &k,
        "Did I spend more in the last 30 days than the 30 days before?",
    );
    assert_eq!(
        a.text,
        "No cost is recorded for the vehicle (purchase excluded) in the last 30 days or in the previous 30 days \
         (2026-03-11 to 2026-04-09)."
    );
    let a = ask(
        &k,
        "more spent in the past 2 weeks than the 2 weeks before?",
    );
    assert!(
        a.text
            .contains("in the previous 14 days (2026-04-12 to 2026-04-25)"),
        "{}",
        a.text
    );
    // Last month (April 2026) and the month before it (March 2026).
    let mut months = k.clone();
    for (id, on, cents) in [
        ("april", at(2026, 4, 20), 7_500),
        ("march", at(2026, 3, 2), 5_000),
    ] {
        let mut e = months.events[3].clone();
        e.id = id.into();
        e.occurred_at = on;
        e.cost_cents = Some(cents);
        months.events.push(e);
    }
    months.sort_events();
    let a = ask(
        &months,
        "Did I spend more last month than the month before?",
    );
    assert_eq!(
        a.text,
        "Costs recorded for the vehicle (purchase excluded): last month (April 2026), 75.00 USD over 1 record; \
         in March 2026, 50.00 USD over 1 record. More was spent last month (April 2026), by 25.00 USD."
    );
    let a = ask(
        &k,
        "Did I spend more in the last 6 months than the 30 days before?",
    );
    assert!(
        a.text
            .starts_with("I could not read the time range “the 30 days before”."),
        "{}",
        a.text
    );
    assert!(a.citations.is_empty());
}

/// A period compared that is not over yet (this year, this month, the current year named) is said to be
/// counted so far, to today; a period that has ended is not.
#[test]
fn a_period_compared_that_is_not_over_is_said_to_be_counted_so_far() {
    let mut k = fixture();
    // Asked on 2026-05-10: a repair this month and one last month.
    for (id, on, cents) in [
        ("may", at(2026, 5, 2), 5_000),
        ("april", at(2026, 4, 20), 7_500),
    ] {
        let mut e = k.events[3].clone();
        e.id = id.into();
        e.occurred_at = on;
        e.cost_cents = Some(cents);
        k.events.push(e);
    }
    k.sort_events();
    let a = ask(&k, "Did I spend more this month than last month?");
    assert_eq!(
        a.text,
        "Costs recorded for the vehicle (purchase excluded): this month (May 2026 so far, to 10 May), 50.00 USD \
         over 1 record; last month (April 2026), 75.00 USD over 1 record. More was spent last month (April \
         2026), by 25.00 USD."
    );
    assert_eq!(cited(&a), ["may", "april"]);
    let a = ask(&k, "Were there more repairs this year than last year?");
    assert_eq!(
        a.text,
        "Recorded: this year (2026 so far, to 10 May), 2 repairs; last year (2025), 1 repair. More this year \
         (2026 so far, to 10 May), by 1 repair."
    );
    let a = ask(&k, "Did I spend more in 2026 or 2025?");
    assert!(
        a.text
            .contains("in 2026 so far (to 10 May), 125.00 USD over 2 records"),
        "{}",
        a.text
    );
    let a = ask(&k, "Did I spend more in May 2026 than in April 2026?");
    assert!(
        a.text
            .starts_with("Costs recorded for the vehicle (purchase excluded): in May 2026 so far (to 10 May), 50.00 USD over 1 record; in April 2026, 75.00 USD"),
        "{}",
        a.text
    );
    let a = ask(&k, "Did I spend more in 2025 than in 2024?");
    assert!(!a.text.contains("so far"), "{}", a.text);
}

/// A count names what it counts where the engine knows its noun: "1 repair", "2 oil changes", "6 shop visits",
/// not "1 time".
#[test]
fn a_count_names_what_it_counts() {
    let k = fixture();
    for q in [
        "How many times was it repaired?",
        "How many repairs have I had?",
    ] {
        let a = ask(&k, q);
        assert_eq!(a.understanding.intent, Intent::CountDone, "{q}");
        assert!(
            a.text.starts_with("1 repair recorded, on 2025-01-15"),
            "{q}: {}",
            a.text
        );
        assert_eq!(cited(&a), ["e04"], "{q}");
    }
    let a = ask(&k, "How many oil changes in 2024?");
    assert_eq!(
        a.text,
        "2 oil changes recorded in 2024, the first on 2024-06-01 and the latest on 2024-11-20."
    );
    // A part has no noun of its own to count: its work is counted in times.
    let a = ask(&k, "How many times were the front brake pads replaced?");
    assert!(
        a.text.starts_with("Front brake pads: 1 time recorded"),
        "{}",
        a.text
    );
}

#[test]
fn what_oil_changes_and_repairs_were_done_lists_those_records() {
    let k = fixture();
    let a = ask(&k, "What oil changes and repairs were done?");
    assert!(
        !a.text.contains("owner's manual"),
        "answered as the oil's specification: {}",
        a.text
    );
    assert!(
        a.text.starts_with("4 records are recorded, newest first"),
        "{}",
        a.text
    );
    assert_eq!(cited(&a), ["e07", "e04", "e03", "e02"], "{}", a.text);
}

#[test]
fn an_oil_leak_repair_is_not_an_oil_change_nor_every_repair() {
    let k = fixture();
    // It read "No cost is recorded for oil change" (the bare "oil"), then, once "oil" before a fault no
    // longer named the task, every repair's cost (the brake job's).
    let a = ask(&k, "How much did the oil leak repair cost?");
    assert_eq!(a.text, "No cost is recorded for the oil leak.");
    assert!(cited(&a).is_empty(), "{:?}", cited(&a));
}

#[test]
fn a_comparison_asked_as_less_is_answered_as_less() {
    let k = fixture();
    // 2024: 294.98 USD; 2025: 1,982.49 USD (e04–e07).
    let a = ask(&k, "Did I spend less in 2024 than in 2025?");
    assert_eq!(a.understanding.intent, Intent::TotalCost);
    assert!(a.understanding.slots.fewer);
    assert!(
        a.text.ends_with("Less was spent in 2024, by 1,687.51 USD."),
        "{}",
        a.text
    );
    let b = ask(&k, "Did I change the oil less often in 2025 than in 2024?");
    assert_eq!(b.understanding.intent, Intent::CountDone);
    assert!(
        b.text.ends_with("Fewer in 2025, by 1 oil change."),
        "{}",
        b.text
    );
    // Asked as more, answered as more, as before.
    let c = ask(&k, "Did I spend more in 2025 than in 2024?");
    assert!(!c.understanding.slots.fewer);
    assert!(
        c.text.ends_with("More was spent in 2025, by 1,687.51 USD."),
        "{}",
        c.text
    );
}

/// A part or system the vehicle's records name joins a task as the kinds do ("brakes and oil changes"):
/// the records of either, each said apart with their total — before, the task alone was answered and the
/// brakes were silently left out. Two parts without a task are still read as one question about a part (the
/// other named as the record's other work).
#[test]
fn a_recorded_part_or_system_joins_a_task() {
    let k = fixture();
    let a = ask(&k, "How much have I spent on brakes and oil changes?");
    assert_eq!(a.understanding.intent, Intent::TotalCost);
    assert_eq!(
        a.text,
        "You spent 912.47 USD on the brakes and oil changes, over 4 records. On the brakes, 487.50 USD over 1 \
         record; on oil changes, 424.97 USD over 3 records. 1 of these records also includes other work (tire \
         rotation): its whole cost is counted, as the record does not split it."
    );
    assert_eq!(cited(&a), ["e02", "e03", "e04", "e07"]);
    let either = &a.understanding.slots.either;
    assert_eq!(either[0].system.as_deref(), Some("brakes"));
    assert_eq!(either[1].task.as_deref(), Some("oil_change"));
    assert!(a.understanding.slots.task.is_none() && a.understanding.slots.system.is_none());
    // A recorded part, asked in full, with a task; counted.
    let a = ask(&k, "How many oil changes and front brake pads have I had?");
    assert_eq!(a.understanding.intent, Intent::CountDone);
    assert_eq!(
        a.text,
        "Recorded: 3 oil changes, the first on 2024-06-01 and the latest on 2025-08-30; 1 record of the front \
         brake pads, on 2025-01-15. 4 records in all."
    );
    // The last of either, and none of either in a year without them.
    let a = ask(&k, "When was the last oil change or brake repair?");
    assert!(
        a.text
            .starts_with("The last oil change or work on the brakes was on 2025-08-30"),
        "{}",
        a.text
    );
    let a = ask(
        &k,
        "How much did I spend on the brakes and oil changes in 2019?",
    );
    assert_eq!(
        a.text,
        "No cost is recorded for the brakes or oil changes in 2019."
    );
    // A part and a task in one record's words that do not join: one subject, as before.
    let a = ask(&k, "How much did the front brake pads cost?");
    assert!(a.understanding.slots.either.is_empty());
    assert_eq!(
        a.understanding.slots.part.as_deref(),
        Some("front brake pads")
    );
    // Two parts and no task: the question about one part, as before (the longest recorded name).
    let a = ask(
        &k,
        "How much did the front brake pads and front rotors cost?",
    );
    assert!(
        a.understanding.slots.either.is_empty(),
        "{:?}",
        a.understanding.slots
    );
}
