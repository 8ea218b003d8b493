//! Fuel (issue 14, item 3), black-box over HTTP: fill-ups recorded as `fuel` events, the overview's
//! economy over full-to-full intervals on hand-computed series (a partial fill included) in mpg and in
//! L/100 km, the drop flag, and the fleet's costs with fuel.

use serde_json::{Value, json};
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::vin;

use super::common;
use common::{ask, names_field, pluck, post, registered, spawn_as, spawn_with_vehicle};

/// One fill-up of a table: day, odometer, volume, whether the tank was filled, and its cost in cents.
type FillUp = (&'static str, u64, f64, bool, u64);

/// Records each fill-up as a `fuel` event (volumes in `volume_unit`, costs in `currency`, every detail in
/// `extra` added to each), then waits for the timeline to hold them all; the vehicle's overview fuel.
async fn fill_ups(
    app: &TestApp,
    token: &str,
    vehicle: &str,
    (volume_unit, currency): (&str, &str),
    extra: Value,
    fills: &[FillUp],
) -> Value {
    for &(day, odometer, volume, full, cost_cents) in fills {
        let mut details = json!({"volume": volume, "volumeUnit": volume_unit, "fullTank": full});
        for (key, value) in extra.as_object().unwrap() {
            details[key] = value.clone();
        }
        let (status, _, answer) = post(
            app,
            token,
            &format!("/v1/vehicles/{vehicle}/events"),
            &json!({"kind": "fuel", "occurredAt": format!("{day}T08:00:00Z"), "odometer": odometer,
                "costCents": cost_cents, "currency": currency, "details": details}),
        )
        .await;
        assert_eq!(status, 201, "{answer}");
    }
    overview_fuel(app, token, vehicle, fills.len()).await
}

async fn overview_fuel(app: &TestApp, token: &str, vehicle: &str, fills: usize) -> Value {
    app.timeline_of_len(token, vehicle, fills).await;
    let overview = app
        .get_ok(token, &format!("/v1/vehicles/{vehicle}/overview"))
        .await;
    overview["fuel"].clone()
}

#[tokio::test]
async fn economy_in_mpg_counts_a_partial_fill_toward_the_next_full_one_and_flags_a_drop() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 11).await;
    // odometer   gallons  fill     cost     interval
    // 10000      10.0     full     35.00    (opens the first interval; its volume is not counted)
    // 10300      10.0     full     35.00    I1: 300 mi / 10 gal = 30.00 mpg; 3500 ¢ / 300 mi = 11.67 ¢/mi
    // 10480       4.0     partial  14.00    (carried into I2)
    // 10600       6.0     full     21.00    I2: 300 mi / (4 + 6) gal = 30.00 mpg; 3500 ¢ / 300 = 11.67
    // 10900      12.5     full     43.75    I3: 300 mi / 12.5 gal = 24.00 mpg; 4375 ¢ / 300 = 14.58
    // Trailing average for I3 = (300 + 300) mi / (10 + 10) gal = 30.00 mpg; efficiency lost
    // 1 − 24/30 = 20.0 % > 15 % → flagged. Lifetime: 900 mi / 32.5 gal = 27.69 mpg;
    // (3500 + 3500 + 4375) ¢ / 900 mi = 12.64 ¢/mi; spent 35 + 35 + 14 + 21 + 43.75 = 148.75 USD.
    let fuel = fill_ups(
        &app,
        &token,
        &vehicle,
        ("gal", "USD"),
        json!({"station": "Shell, Main St"}),
        &[
            ("2025-01-05", 10_000, 10.0, true, 3500),
            ("2025-01-15", 10_300, 10.0, true, 3500),
            ("2025-01-25", 10_480, 4.0, false, 1400),
            ("2025-02-04", 10_600, 6.0, true, 2100),
            ("2025-02-14", 10_900, 12.5, true, 4375),
        ],
    )
    .await;
    assert_eq!(fuel["unit"], "mpg", "{fuel}");
    assert_eq!(fuel["volumeUnit"], "gal");
    assert_eq!(fuel["fillUps"], 5);
    assert_eq!(fuel["totalVolume"], 42.5);
    assert_eq!(fuel["measuredDistance"], 900.0);
    assert_eq!(fuel["average"], 27.69);
    assert_eq!(fuel["latest"], 24.0);
    assert_eq!(fuel["trailingAverage"], 30.0);
    assert_eq!(fuel["drop"]["dropPercent"], 20.0);
    assert_eq!(
        fuel["costs"],
        json!([{"currency": "USD", "totalCents": 14875, "perDistanceCents": 12.64}])
    );
    let intervals = fuel["intervals"].as_array().unwrap();
    let figures: Vec<_> = intervals
        .iter()
        .map(|i| {
            (
                i["distance"].as_f64().unwrap(),
                i["volume"].as_f64().unwrap(),
                i["economy"].as_f64().unwrap(),
                i["costPerDistanceCents"].as_f64().unwrap(),
                i["flagged"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        figures,
        [
            (300.0, 12.5, 24.0, 14.58, true),
            (300.0, 10.0, 30.0, 11.67, false),
            (300.0, 10.0, 30.0, 11.67, false),
        ]
    );

    // The fleet's costs: fuel spending by kind, and the vehicle's economy.
    let manager = app.token("org_a", &[Role::FleetManager]);
    let costs = app.get_ok(&manager, "/v1/fleet/costs?groupBy=kind").await;
    assert_eq!(
        costs["items"],
        json!([{"key": "fuel", "currency": "USD", "totalCents": 14875, "events": 5}])
    );
    let row = &costs["fuel"][0];
    assert_eq!(row["vehicleId"], vehicle.as_str());
    assert_eq!(
        (row["average"].as_f64(), row["fillUps"].as_u64()),
        (Some(27.69), Some(5))
    );
    assert_eq!(row["costs"][0]["perDistanceCents"], 12.64);
    assert_eq!(row["dropFlagged"], true);
    // A range closing only I1 and I2: 600 mi on 20 gal.
    let january = app
        .get_ok(
            &manager,
            "/v1/fleet/costs?groupBy=kind&from=2025-01-01&to=2025-02-10",
        )
        .await;
    assert_eq!(january["fuel"][0]["average"], 30.0, "{january}");
    assert_eq!(january["items"][0]["totalCents"], 3500 + 3500 + 1400 + 2100);
    // Another organisation sees none of it.
    let other = app.token("org_b", &[Role::FleetManager]);
    let theirs = app.get_ok(&other, "/v1/fleet/costs?groupBy=kind").await;
    assert_eq!(
        (theirs["items"].clone(), theirs["fuel"].clone()),
        (json!([]), json!([]))
    );

    // The chat answers from the same figures, citing the fill-ups that bound the latest interval.
    let ids: Vec<String> = app
        .timeline_of_len(&token, &vehicle, 5)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect(); // newest first: ids[0] closes I3, ids[1] opens it, ids[4] opens I1
    let answer = vwc_testkit::eventually(
        "the chat knows the five fill-ups",
        std::time::Duration::from_secs(30),
        || async {
            let answer = ask(&app, &token, &vehicle, "What's my fuel economy?", None).await;
            answer["answer"]
                .as_str()
                .unwrap()
                .contains("27.69 mpg")
                .then_some(answer)
        },
    )
    .await;
    let text = answer["answer"].as_str().unwrap();
    assert!(text.contains("over 900 mi measured"), "{text}");
    assert!(text.contains("was 24 mpg"), "{text}");
    assert!(
        text.contains("20.0 % worse than your trailing average of 30 mpg"),
        "{text}"
    );
    assert!(text.contains("0.13 USD per mi"), "{text}");
    assert!(
        text.contains("(3 full-to-full intervals") && text.contains("(tyre pressure"),
        "{text}"
    );
    assert!(!text.contains("  "), "runs of spaces: {text:?}");
    let cited = pluck(&answer["citations"], "eventId");
    assert_eq!(
        cited,
        [ids[0].as_str(), ids[1].as_str(), ids[4].as_str()],
        "{answer}"
    );
    app.stop().await;
}

#[tokio::test]
async fn economy_in_litres_per_100_km_for_a_vehicle_in_km() {
    let (app, token) = spawn_as(&[Role::Owner]).await;
    let registered = registered(
        &app,
        &token,
        &json!({"vin": vin(12), "year": 2021, "make": "Skoda", "model": "Octavia",
            "odometerUnit": "km"}),
    )
    .await;
    let vehicle = registered["id"].as_str().unwrap().to_string();
    // odometer  litres  fill     cost (1.80 €/L)  interval
    // 20000     40      full     72.00            (opens)
    // 20500     20      partial  36.00            (carried)
    // 21000     45      full     81.00            I1: 65 L / 1000 km × 100 = 6.50 L/100 km; 11700 ¢ / 1000 = 11.70 ¢/km
    // 21600     39      full     70.20            I2: 39 / 600 × 100 = 6.50; 7020 / 600 = 11.70
    // 22000     30      full     54.00            I3: 30 / 400 × 100 = 7.50; 5400 / 400 = 13.50
    // Trailing for I3: 104 L / 1600 km = 6.50 L/100 km; efficiency lost 1 − 6.5/7.5 = 13.3 % ≤ 15 %:
    // not flagged. Lifetime 134 L / 2000 km = 6.70 L/100 km; 24120 ¢ / 2000 km = 12.06 ¢/km.
    let fuel = fill_ups(
        &app,
        &token,
        &vehicle,
        ("l", "EUR"),
        json!({}),
        &[
            ("2025-03-01", 20_000, 40.0, true, 7200),
            ("2025-03-08", 20_500, 20.0, false, 3600),
            ("2025-03-15", 21_000, 45.0, true, 8100),
            ("2025-03-22", 21_600, 39.0, true, 7020),
            ("2025-03-29", 22_000, 30.0, true, 5400),
        ],
    )
    .await;
    assert_eq!(fuel["unit"], "l_per_100km", "{fuel}");
    assert_eq!(fuel["volumeUnit"], "l");
    assert_eq!(fuel["distanceUnit"], "km");
    assert_eq!(fuel["average"], 6.7);
    assert_eq!(fuel["latest"], 7.5);
    assert_eq!(fuel["trailingAverage"], 6.5);
    assert_eq!(fuel["drop"], Value::Null);
    assert_eq!(fuel["intervals"][2]["economy"], 6.5);
    assert_eq!(fuel["intervals"][2]["volume"], 65.0);
    assert_eq!(fuel["intervals"][0]["dropPercent"], 13.3);
    assert_eq!(fuel["costs"][0]["perDistanceCents"], 12.06);
    app.stop().await;
}

#[tokio::test]
async fn a_bad_fill_up_is_refused_with_the_field_and_records_nothing() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 13).await;
    for (details, field) in [
        (json!(null), "details"),
        (json!({"volume": 10}), "details"),
        (json!({"volume": 0, "volumeUnit": "gal"}), "details.volume"),
        (json!({"volume": 10, "volumeUnit": "pint"}), "details"),
        (
            json!({"volume": 10, "volumeUnit": "l", "station": "x".repeat(121)}),
            "details.station",
        ),
    ] {
        let (status, content_type, problem) = post(
            &app,
            &token,
            &format!("/v1/vehicles/{vehicle}/events"),
            &json!({"kind": "fuel", "occurredAt": "2025-03-01T08:00:00Z", "odometer": 100,
                "details": details}),
        )
        .await;
        assert!(
            status == 422 || status == 400,
            "{details}: {status} {problem}"
        );
        assert_eq!(content_type, "application/problem+json");
        if status == 422 {
            assert!(names_field(&problem, field), "{problem}");
        }
    }
    // Every event written so far (the registration included) is projected before the read: without the
    // barrier the overview could still be a 404 for the vehicle itself.
    app.settle().await;
    let overview = app
        .get_ok(&token, &format!("/v1/vehicles/{vehicle}/overview"))
        .await;
    assert_eq!(overview["fuel"], Value::Null);
    assert_eq!(app.timeline_of_len_at_most(&token, &vehicle, 0).await, 0);
    app.stop().await;
}
