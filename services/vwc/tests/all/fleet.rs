//! The fleet routes over HTTP on the embedded system: the overview's totals cover the whole fleet (every
//! page), the costs equal the recorded events summed by hand, and both come from aggregates that survive a
//! restart on the same data dir.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::vin;

use super::common;
use common::{record, send};
use reqwest::Method;

const ORG: &str = "org_fleet";

/// What the fleet routes answer, gathered over every page.
#[derive(Debug, PartialEq)]
struct Fleet {
    /// (vehicles, dueSoon, overdue, vehiclesOverdue) as the totals say, on every page.
    totals: Vec<(u64, u64, u64, u64)>,
    /// The same summed by hand over the rows of every page (a row with an item overdue counts one vehicle).
    rows: (u64, u64, u64, u64),
    value: Value,
    costs: BTreeMap<String, Value>,
}

/// Every page of `path` (a query without `cursor`), following `nextCursor` to the last.
async fn every_page(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app.get_ok(token, &format!("{path}&cursor={cursor}")).await;
        let next = page["nextCursor"].as_str().map(str::to_string);
        pages.push(page);
        match next {
            Some(c) => cursor = c,
            None => return pages,
        }
    }
}

async fn fleet(app: &TestApp, token: &str) -> Fleet {
    let mut totals = Vec::new();
    let mut rows = (0, 0, 0, 0);
    let mut value = Value::Null;
    for page in every_page(app, token, "/v1/fleet/overview?limit=2").await {
        let t = &page["totals"];
        totals.push((
            t["vehicles"].as_u64().unwrap(),
            t["dueSoon"].as_u64().unwrap(),
            t["overdue"].as_u64().unwrap(),
            t["vehiclesOverdue"].as_u64().unwrap(),
        ));
        value = t["value"].clone();
        for r in page["items"].as_array().unwrap() {
            rows.0 += 1;
            rows.1 += r["dueSoon"].as_u64().unwrap();
            rows.2 += r["overdue"].as_u64().unwrap();
            rows.3 += u64::from(r["overdue"].as_u64().unwrap() > 0);
        }
    }
    let mut costs = BTreeMap::new();
    for query in [
        "groupBy=vehicle",
        "groupBy=kind",
        "groupBy=month",
        "groupBy=kind&from=2025-02-01&to=2025-02-28",
        "groupBy=vehicle&from=2025-01-20&to=2025-03-02T12:00:00Z",
    ] {
        let c = app.get_ok(token, &format!("/v1/fleet/costs?{query}")).await;
        costs.insert(query.to_string(), c["items"].clone());
    }
    Fleet {
        totals,
        rows,
        value,
        costs,
    }
}

/// (vehicle index, kind, occurredAt, cents, currency) of the costly events recorded.
type Cost = (usize, &'static str, &'static str, u64, &'static str);

const COSTS: [Cost; 9] = [
    (0, "repair", "2025-01-10T09:00:00Z", 12_000, "USD"),
    (0, "repair", "2025-02-01T00:00:00Z", 3_000, "USD"),
    (1, "upgrade", "2025-02-14T09:00:00Z", 50_000, "USD"),
    (1, "repair", "2025-02-28T23:59:59Z", 700, "EUR"),
    (2, "repair", "2025-03-01T08:00:00Z", 1_100, "USD"),
    (2, "repair", "2025-03-02T13:00:00Z", 900, "USD"),
    (3, "collision", "2025-01-25T09:00:00Z", 250_000, "USD"),
    (4, "repair", "2025-02-20T09:00:00Z", 4_200, "USD"),
    (4, "repair", "2025-03-20T09:00:00Z", 4_300, "USD"),
];

/// Costs grouped by hand: `key` of each cost, only those in [from, to] (RFC 3339 strings compare in time
/// order here: every one is UTC with whole seconds), as the route's `{key, currency, totalCents, events}`.
fn by_hand(
    vehicles: &[String],
    key: impl Fn(&Cost, &str) -> String,
    from: &str,
    to: &str,
) -> Value {
    let mut sums: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for c in COSTS.iter().filter(|c| c.2 >= from && c.2 <= to) {
        let sum = sums
            .entry((key(c, &vehicles[c.0]), c.4.to_string()))
            .or_default();
        sum.0 += c.3;
        sum.1 += 1;
    }
    Value::Array(
        sums.into_iter()
            .map(|((key, currency), (total, events))| {
                json!({"key": key, "currency": currency, "totalCents": total, "events": events})
            })
            .collect(),
    )
}

/// Five vehicles of the org (oil changes long overdue on two, due soon or fine on others), the costs
/// above, and a vehicle of another org that must count nowhere.
async fn seed(app: &TestApp) -> Vec<String> {
    let token = app.token(ORG, &[Role::FleetManager]);
    let mut vehicles = Vec::new();
    for i in 0..5 {
        vehicles.push(app.register(&token, &vin(900 + i)).await);
    }
    for (i, vehicle) in vehicles.iter().enumerate() {
        // An oil change 400 days ago on two vehicles, and odometer readings since.
        if i < 2 {
            let at = vwc_clock::now() - chrono::Duration::days(400);
            let oil_change = json!({"kind": "maintenance", "occurredAt": at, "odometer": 10_000,
                "details": {"tasks": ["oil_change"]}});
            record(app, &token, vehicle, oil_change).await;
        }
        app.record_odometer(&token, vehicle, 1, 30_000 + i as u64)
            .await;
    }
    for (v, kind, at, cents, currency) in COSTS {
        let mut event =
            json!({"kind": kind, "occurredAt": at, "costCents": cents, "currency": currency});
        if kind == "collision" {
            event["details"] = json!({"severity": "minor", "structural": false});
        }
        record(app, &token, &vehicles[v], event).await;
    }
    let other = app.token("org_other", &[Role::FleetManager]);
    let theirs = app.register(&other, &vin(999)).await;
    let repair = json!({"kind": "repair", "occurredAt": "2025-02-02T09:00:00Z",
        "costCents": 99_999, "currency": "USD"});
    record(app, &other, &theirs, repair).await;
    app.settle().await;
    vehicles
}

fn expected_costs(vehicles: &[String]) -> BTreeMap<String, Value> {
    let vehicle = |_: &Cost, id: &str| id.to_string();
    let kind = |c: &Cost, _: &str| c.1.to_string();
    let month = |c: &Cost, _: &str| c.2[..7].to_string();
    let (start, end) = ("0000", "9999");
    BTreeMap::from([
        (
            "groupBy=vehicle".to_string(),
            by_hand(vehicles, vehicle, start, end),
        ),
        (
            "groupBy=kind".to_string(),
            by_hand(vehicles, kind, start, end),
        ),
        (
            "groupBy=month".to_string(),
            by_hand(vehicles, month, start, end),
        ),
        (
            "groupBy=kind&from=2025-02-01&to=2025-02-28".to_string(),
            by_hand(
                vehicles,
                kind,
                "2025-02-01T00:00:00Z",
                "2025-02-28T23:59:59Z",
            ),
        ),
        (
            "groupBy=vehicle&from=2025-01-20&to=2025-03-02T12:00:00Z".to_string(),
            by_hand(
                vehicles,
                vehicle,
                "2025-01-20T00:00:00Z",
                "2025-03-02T12:00:00Z",
            ),
        ),
    ])
}

#[tokio::test]
async fn fleet_totals_cover_every_page_and_costs_equal_the_events_summed_by_hand() {
    let app = TestApp::spawn().await;
    let vehicles = seed(&app).await;
    let token = app.token(ORG, &[Role::Viewer]);
    let seen = fleet(&app, &token).await;
    // Three pages of two; every page carries the whole fleet's totals, equal to its rows summed.
    assert_eq!(seen.totals.len(), 3, "{seen:?}");
    assert!(seen.totals.iter().all(|t| *t == seen.rows), "{seen:?}");
    assert_eq!(seen.rows.0, 5);
    assert!(
        seen.rows.2 >= 2,
        "the two stale oil changes are overdue: {seen:?}"
    );
    // Items overdue against vehicles overdue (probe p44 L5): two vehicles, however many items each.
    assert_eq!(seen.rows.3, 2, "{seen:?}");
    for (query, expected) in expected_costs(&vehicles) {
        assert_eq!(seen.costs[&query], expected, "{query}");
    }
    // The other organisation sees only its own vehicle and cost.
    let other = app.token("org_other", &[Role::Viewer]);
    let theirs = app.get_ok(&other, "/v1/fleet/overview").await;
    assert_eq!(theirs["totals"]["vehicles"], 1);
    let costs = app.get_ok(&other, "/v1/fleet/costs?groupBy=kind").await;
    assert_eq!(
        costs["items"],
        json!([{"key": "repair", "currency": "USD", "totalCents": 99_999, "events": 1}])
    );
    app.stop().await;
}

#[tokio::test]
async fn fleet_aggregates_survive_a_restart_and_keep_counting_after_it() {
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), |_| {}).await;
    let vehicles = seed(&app).await;
    let token = app.token(ORG, &[Role::Viewer]);
    let before = fleet(&app, &token).await;
    let dir = app.stop().await;

    let app = TestApp::spawn_with(dir, |_| {}).await;
    app.settle().await;
    let after = fleet(&app, &token).await;
    assert_eq!(after, before);
    for (query, expected) in expected_costs(&vehicles) {
        assert_eq!(after.costs[&query], expected, "{query}");
    }

    // One more vehicle and cost after the restart: counted once, on top of what was there.
    let manager = app.token(ORG, &[Role::FleetManager]);
    let sixth = app.register(&manager, &vin(906)).await;
    let repair = json!({"kind": "repair", "occurredAt": "2025-02-03T09:00:00Z",
        "costCents": 1_000, "currency": "USD"});
    record(&app, &manager, &sixth, repair).await;
    app.settle().await;
    let later = fleet(&app, &token).await;
    assert_eq!(later.totals[0].0, 6);
    assert!(later.totals.iter().all(|t| *t == later.rows), "{later:?}");
    let month = |f: &Fleet| -> u64 {
        f.costs["groupBy=month"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["key"] == "2025-02" && g["currency"] == "USD")
            .map(|g| g["totalCents"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(month(&later), month(&before) + 1_000);
    app.stop().await;
}

#[tokio::test]
async fn fleet_costs_by_vehicle_page_through_the_same_groups_and_every_page_has_the_whole_fleets_totals()
 {
    let app = TestApp::spawn().await;
    let vehicles = seed(&app).await;
    let token = app.token(ORG, &[Role::Viewer]);
    let expected = expected_costs(&vehicles);
    for query in [
        "groupBy=vehicle",
        "groupBy=vehicle&from=2025-01-20&to=2025-03-02T12:00:00Z",
    ] {
        let one = app
            .get_ok(&token, &format!("/v1/fleet/costs?{query}&limit=200"))
            .await;
        assert_eq!(one["items"], expected[query], "{query}");
        assert!(one["nextCursor"].is_null(), "{one}");
        let pages = every_page(&app, &token, &format!("/v1/fleet/costs?{query}&limit=2")).await;
        assert!(pages.len() >= 3, "{query}: {pages:?}");
        let mut items = Vec::new();
        for page in &pages {
            let groups = page["items"].as_array().unwrap();
            assert!(groups.len() <= 2, "{page}");
            items.extend(groups.iter().cloned());
            assert_eq!(page["totals"], one["totals"], "{query}");
        }
        assert_eq!(Value::Array(items), one["items"], "{query}");
    }
    // The whole history's totals, summed by hand from COSTS: every USD cost and the one EUR repair.
    let all = app
        .get_ok(&token, "/v1/fleet/costs?groupBy=vehicle&limit=1")
        .await;
    assert_eq!(
        all["totals"],
        json!([
            {"currency": "EUR", "totalCents": 700, "events": 1},
            {"currency": "USD", "totalCents": 12_000 + 3_000 + 50_000 + 1_100 + 900 + 250_000 + 4_200 + 4_300, "events": 8},
        ])
    );
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    // By kind the totals are the same (they never depend on the grouping).
    let by_kind = app.get_ok(&token, "/v1/fleet/costs?groupBy=kind").await;
    assert_eq!(by_kind["totals"], all["totals"]);
    assert!(by_kind["nextCursor"].is_null());
    // A cursor this API did not issue, or a bad limit: 422 naming the field.
    for (query, field) in [("cursor=not-ours", "cursor"), ("limit=0", "limit")] {
        let (status, _, problem) = send(
            &app,
            Method::GET,
            &token,
            &format!("/v1/fleet/costs?groupBy=vehicle&{query}"),
            None,
        )
        .await;
        assert_eq!(status, 422, "{query}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    app.stop().await;
}

/// `(amountCents, currency, asOf)` of a value as the API writes it (a row's `currentValue`, the overview's
/// `valuation`, a history point).
fn value_of(v: &Value) -> (u64, String, String) {
    (
        v["amountCents"].as_u64().unwrap_or_else(|| panic!("{v}")),
        v["currency"].as_str().unwrap().to_string(),
        v["asOf"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn each_fleet_row_carries_the_vehicles_current_value_and_the_total_sums_the_rows() {
    let app = TestApp::spawn().await;
    let token = app.token("org_values", &[Role::FleetManager]);
    let days_ago = |d: i64| vwc_clock::now() - chrono::Duration::days(d);
    let mut vehicles = Vec::new();
    for i in 0..4 {
        vehicles.push(app.register(&token, &vin(950 + i)).await);
    }
    // Events that move the value.
    record(
        &app,
        &token,
        &vehicles[0],
        json!({"kind": "odometer_reading", "occurredAt": days_ago(40), "odometer": 30_000}),
    )
    .await;
    record(
        &app,
        &token,
        &vehicles[1],
        json!({"kind": "collision", "occurredAt": days_ago(3), "odometer": 12_000,
            "details": {"severity": "moderate", "structural": false}}),
    )
    .await;
    record(
        &app,
        &token,
        &vehicles[2],
        json!({"kind": "valuation", "occurredAt": days_ago(2), "odometer": 20_000,
            "details": {"amountCents": 1_234_500, "source": "dealer_appraisal"}}),
    )
    .await;
    app.settle().await;
    // Days later (never on a 1st), after the daily re-valuation: each history's latest point is the 1st of
    // the month (or an event's day), older than the current value, which is today's.
    let clock = &app.system().clock;
    clock.advance(chrono::Duration::days(40));
    if chrono::Datelike::day(&clock.now()) == 1 {
        clock.advance(chrono::Duration::days(1));
    }
    let run = vwc_store::vehicle_ledger::DailyRun::today(Some("org_values"), clock);
    vwc::daily::DailyJob::Revaluation
        .run(&app.system().stores, &run)
        .await
        .unwrap();
    app.settle().await;
    // A sold vehicle leaves the fleet's rows and its value.
    let sale = json!({"soldAt": vwc_clock::now(), "priceCents": 900_000, "currency": "USD",
        "odometer": 40_000});
    let sold = &vehicles[3];
    let (status, _, body) = send(
        &app,
        Method::POST,
        &token,
        &format!("/v1/vehicles/{sold}/sell"),
        Some(&sale),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    app.settle().await;

    let viewer = app.token("org_values", &[Role::Viewer]);
    let pages = every_page(&app, &viewer, "/v1/fleet/overview?limit=2").await;
    let rows: Vec<Value> = pages
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap().clone())
        .collect();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        vehicles[..3].iter().map(String::as_str).collect::<Vec<_>>()
    );
    let today = app.system().clock.now().date_naive().to_string();
    let mut sums: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut older_history = 0;
    for row in &rows {
        let id = row["id"].as_str().unwrap();
        // The row's value is the one the vehicle's page shows: the overview's current valuation.
        let overview = app
            .get_ok(&viewer, &format!("/v1/vehicles/{id}/overview"))
            .await;
        let current = value_of(&overview["valuation"]);
        assert_eq!(value_of(&row["currentValue"]), current, "{id}: {row}");
        assert_eq!(current.2, today, "{overview}");
        // Not the latest stored point of its history (what the fleet table used to show).
        let history = app
            .get_ok(&viewer, &format!("/v1/vehicles/{id}/valuations?limit=1"))
            .await;
        if value_of(&history["items"][0]) != current {
            older_history += 1;
        }
        let sum = sums.entry(current.1.clone()).or_default();
        sum.0 += current.0;
        sum.1 += 1;
    }
    assert_eq!(
        older_history, 3,
        "every history's latest point is older than today"
    );
    // Every page's totals are the rows' values summed per currency; the sold vehicle counts nowhere.
    let expected: Vec<Value> = sums
        .into_iter()
        .map(|(currency, (total, n))| json!({"currency": currency, "totalCents": total, "vehicles": n}))
        .collect();
    for page in &pages {
        assert_eq!(
            page["totals"]["value"],
            Value::Array(expected.clone()),
            "{page}"
        );
        assert_eq!(page["totals"]["vehicles"], 3);
    }
    app.stop().await;
}

/// `(purchaseRecorded, lifetimeCost)` of `vehicle`'s fleet row, over every page of the organisation's fleet.
async fn lifetime_of(app: &TestApp, token: &str, vehicle: &str) -> (bool, Value) {
    let pages = every_page(app, token, "/v1/fleet/overview?limit=2").await;
    let row = pages
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap().clone())
        .find(|r| r["id"] == vehicle)
        .unwrap_or_else(|| panic!("{vehicle} is not in the fleet: {pages:?}"));
    (
        row["purchaseRecorded"].as_bool().unwrap(),
        row["lifetimeCost"].clone(),
    )
}

#[tokio::test]
async fn each_fleet_row_carries_its_lifetime_cost_with_the_registration_price_only_without_an_acquisition_record()
 {
    let app = TestApp::spawn().await;
    let token = app.token("org_lifetime", &[Role::FleetManager]);
    let days_ago = |d: i64| vwc_clock::now() - chrono::Duration::days(d);
    let priced = |n: u32, currency: &str| {
        json!({"vin": vin(n), "year": 2021, "make": "Toyota", "model": "RAV4",
            "purchasePriceCents": 2_000_000, "purchaseCurrency": currency})
    };
    let mut ids = Vec::new();
    for (n, currency) in [
        (960, "USD"),
        (961, "USD"),
        (962, "EUR"),
        (963, "EUR"),
        (965, "USD"),
    ] {
        let created = common::registered(&app, &token, &priced(n, currency)).await;
        ids.push(created["id"].as_str().unwrap().to_string());
    }
    let [bare, bought, unbought, corrected, priceless] =
        [&ids[0], &ids[1], &ids[2], &ids[3], &ids[4]];
    let acquisition = |cents: u64| {
        json!({"kind": "acquisition", "occurredAt": days_ago(300), "costCents": cents,
            "currency": "USD", "details": {"priceCents": cents, "condition": "used"}})
    };
    let repair = |cents: u64, currency: &str| {
        json!({"kind": "repair", "occurredAt": days_ago(100), "costCents": cents,
            "currency": currency, "details": {"system": "brakes"}})
    };
    // An acquisition record: its cost is the purchase, the registration's price does not count again.
    record(&app, &token, bought, acquisition(1_900_000)).await;
    record(&app, &token, bought, repair(12_000, "USD")).await;
    // Its only acquisition voided: the registration's price counts again.
    let wrong = record(&app, &token, unbought, acquisition(1_800_000)).await;
    record(&app, &token, unbought, repair(5_000, "USD")).await;
    let (status, _, body) = common::delete(
        &app,
        &token,
        &format!("/v1/vehicles/{unbought}/events/{wrong}?reason=wrong%20vehicle"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // A repair corrected into an acquisition.
    let fix = record(&app, &token, corrected, repair(30_000, "USD")).await;
    let path = format!("/v1/vehicles/{corrected}/events/{fix}");
    let into_acquisition = json!({"kind": "acquisition", "costCents": 1_700_000,
        "details": {"priceCents": 1_700_000, "condition": "used"}});
    let (status, _, body) = common::patch(&app, &token, &path, &into_acquisition).await;
    assert_eq!(status, 200, "{body}");
    // An acquisition record without a cost holds no purchase: the registration's price counts (a probe:
    // the row read only the repair, 18,000 USD short).
    let seller_only = json!({"kind": "acquisition", "occurredAt": days_ago(300),
        "details": {"condition": "used", "seller": "Carl"}});
    record(&app, &token, priceless, seller_only).await;
    record(&app, &token, priceless, repair(20_000, "USD")).await;
    // Another organisation's vehicle with an acquisition record never shows in this fleet.
    let other = app.token("org_lifetime_other", &[Role::FleetManager]);
    let theirs = common::registered(&app, &other, &priced(964, "USD")).await;
    let theirs = theirs["id"].as_str().unwrap().to_string();
    record(&app, &other, &theirs, acquisition(99_000)).await;
    app.settle().await;

    let viewer = app.token("org_lifetime", &[Role::Viewer]);
    let amounts = |list: &[(&str, u64)]| {
        Value::Array(
            list.iter()
                .map(|(c, cents)| json!({"currency": c, "totalCents": cents}))
                .collect(),
        )
    };
    for (vehicle, expected) in [
        (bare, (false, amounts(&[("USD", 2_000_000)]))),
        (bought, (true, amounts(&[("USD", 1_900_000 + 12_000)]))),
        (
            unbought,
            (false, amounts(&[("EUR", 2_000_000), ("USD", 5_000)])),
        ),
        (corrected, (true, amounts(&[("USD", 1_700_000)]))),
        (priceless, (false, amounts(&[("USD", 2_000_000 + 20_000)]))),
    ] {
        assert_eq!(
            lifetime_of(&app, &viewer, vehicle).await,
            expected,
            "{vehicle}"
        );
    }
    let pages = every_page(&app, &viewer, "/v1/fleet/overview?limit=2").await;
    let listed: Vec<Value> = pages
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap().clone())
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(listed, ids.iter().map(|i| json!(i)).collect::<Vec<_>>());
    assert_eq!(
        lifetime_of(&app, &other, &theirs).await,
        (true, amounts(&[("USD", 99_000)]))
    );

    // Corrected back into a repair: no acquisition record, the registration's price counts again.
    let back = json!({"kind": "repair", "costCents": 30_000, "details": {"system": "brakes"}});
    let (status, _, body) = common::patch(&app, &token, &path, &back).await;
    assert_eq!(status, 200, "{body}");
    app.settle().await;
    assert_eq!(
        lifetime_of(&app, &viewer, corrected).await,
        (false, amounts(&[("EUR", 2_000_000), ("USD", 30_000)]))
    );
    app.stop().await;
}
