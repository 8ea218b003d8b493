//! A vehicle's lifecycle, black-box over HTTP on the real server: details changed (the odometer unit only
//! before any reading), a sale with the total cost of ownership computed by hand here, archiving; sold and
//! archived vehicles leave the fleet counts, the reminders and the calendar feed, and keep their history.

use std::time::Duration;

use serde_json::json;
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::{eventually, vin};

use super::common;
use common::{
    days_ago, delete, detail_mentions, names_field, patch, pluck, poll_get, post, record,
    record_each, registered, spawn_as, spawn_with_vehicle,
};

#[tokio::test]
async fn details_change_and_the_unit_only_before_any_odometer() {
    let (app, owner, vehicle) = spawn_with_vehicle(&[Role::Owner], 401).await;
    let path = format!("/v1/vehicles/{vehicle}");

    let (status, _, changed) = patch(
        &app,
        &owner,
        &path,
        &json!({"nickname": "Blue", "plate": "7ABC123", "colour": "Blue Crush", "odometerUnit": "km"}),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (
            &changed["plate"],
            &changed["colour"],
            &changed["odometerUnit"],
            &changed["status"]
        ),
        (
            &json!("7ABC123"),
            &json!("Blue Crush"),
            &json!("km"),
            &json!("active")
        )
    );
    // The edge may not have projected the registration yet: 404 until it has (poll_get waits through it).
    poll_get(&app, &owner, &path, "the edge shows the plate", |v| {
        (v["plate"] == "7ABC123" && v["odometerUnit"] == "km").then_some(())
    })
    .await;
    // null (or "") clears a text field.
    let (status, _, cleared) = patch(&app, &owner, &path, &json!({"nickname": null})).await;
    assert_eq!(status, 200);
    assert!(cleared.get("nickname").is_none(), "{cleared}");

    // Bad input: 422 naming the field, nothing changed; other roles 403; other organisations 404.
    for (bad, field) in [
        (json!({}), "body"),
        (json!({"vin": "1HGCM82633A004352"}), "vin"),
        (json!({"plate": 7}), "plate"),
        (json!({"plate": "X".repeat(21)}), "plate"),
        (json!({"odometerUnit": "furlong"}), "odometerUnit"),
    ] {
        let (status, ctype, problem) = patch(&app, &owner, &path, &bad).await;
        assert_eq!(status, 422, "{bad}: {problem}");
        assert!(ctype.starts_with("application/problem+json"));
        assert!(names_field(&problem, field), "{bad}: {problem}");
    }
    // A technician may not change details; another organisation's vehicle is not found.
    for (org, role, want) in [
        ("org_a", Role::Technician, 403),
        ("org_b", Role::FleetManager, 404),
    ] {
        let token = app.token(org, &[role]);
        let (status, _, problem) = patch(&app, &token, &path, &json!({"plate": "X"})).await;
        assert_eq!(status, want, "{role:?}: {problem}");
    }

    // Once a reading exists, the unit stays.
    app.record_odometer(&owner, &vehicle, 1, 1_200).await;
    let (status, _, problem) = patch(&app, &owner, &path, &json!({"odometerUnit": "mi"})).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        detail_mentions(&problem, "odometer unit stays km"),
        "{problem}"
    );
    let (status, _, same) = patch(
        &app,
        &owner,
        &path,
        &json!({"odometerUnit": "km", "trim": "XLE"}),
    )
    .await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(
        (&same["odometerUnit"], &same["plate"]),
        (&json!("km"), &json!("7ABC123"))
    );
    app.stop().await;
}

async fn register_with_price(app: &TestApp, token: &str, n: u32) -> String {
    let created = registered(
        app,
        token,
        &json!({"vin": vin(n), "year": 2021, "make": "Toyota", "model": "RAV4",
            "purchasePriceCents": 2_500_000, "purchaseCurrency": "USD"}),
    )
    .await;
    created["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn sold_and_archived_vehicles_leave_fleet_counts_reminders_and_calendars_and_keep_history() {
    let (app, fleet) = spawn_as(&[Role::FleetManager]).await;
    let sold = register_with_price(&app, &fleet, 402).await;
    let archived = register_with_price(&app, &fleet, 403).await;
    let active = register_with_price(&app, &fleet, 404).await;
    for v in [&sold, &archived, &active] {
        record(
            &app,
            &fleet,
            v,
            json!({"kind": "maintenance", "occurredAt": days_ago(30), "odometer": 10_000,
                "costCents": 8_999, "currency": "USD", "details": {"tasks": ["oil_change"]}}),
        )
        .await;
    }
    let repairs = [
        json!({"kind": "repair", "occurredAt": days_ago(20), "costCents": 45_000, "currency": "USD",
            "details": {"system": "brakes"}}),
        json!({"kind": "repair", "occurredAt": days_ago(15), "costCents": 10_000, "currency": "EUR",
            "details": {"system": "wipers"}}),
    ];
    record_each(&app, &fleet, &sold, repairs).await;
    app.settle().await;
    assert_eq!(
        app.get_ok(&fleet, "/v1/fleet/overview").await["totals"]["vehicles"],
        3
    );

    // Bad sales change nothing.
    let sell = format!("/v1/vehicles/{sold}/sell");
    for (bad, field) in [
        (
            json!({"soldAt": vwc_clock::now(), "priceCents": 1_800_000, "currency": "USD", "odometer": 9_000}),
            "odometer",
        ),
        (
            json!({"soldAt": days_ago(40), "priceCents": 1_800_000, "currency": "USD", "odometer": 11_000}),
            "soldAt",
        ),
        (
            json!({"soldAt": vwc_clock::now(), "priceCents": 1_800_000, "currency": "XYZ", "odometer": 11_000}),
            "currency",
        ),
    ] {
        let (status, _, problem) = post(&app, &fleet, &sell, &bad).await;
        assert_eq!(status, 422, "{bad}: {problem}");
        assert!(names_field(&problem, field), "{problem}");
    }
    let (status, _, _) = post(&app, &fleet, &sell, &json!({"priceCents": 1})).await;
    assert_eq!(status, 422);
    let viewer = app.token("org_a", &[Role::Viewer]);
    let ok_sale = json!({"soldAt": vwc_clock::now(), "priceCents": 1_800_000, "currency": "USD", "odometer": 30_000});
    assert_eq!(app.post(&viewer, &sell, &ok_sale).await.status(), 403);
    let stranger = app.token("org_b", &[Role::FleetManager]);
    assert_eq!(app.post(&stranger, &sell, &ok_sale).await.status(), 404);
    assert_eq!(
        app.post(
            &stranger,
            &format!("/v1/vehicles/{archived}/archive"),
            &json!({})
        )
        .await
        .status(),
        404
    );

    // The sale: total cost of ownership by hand = purchase 25,000.00 + costs in USD (89.99 + 450.00;
    // the EUR repair is left out) − sale 18,000.00.
    let (status, _, vehicle) = post(&app, &fleet, &sell, &ok_sale).await;
    assert_eq!(status, 200, "{vehicle}");
    assert_eq!(vehicle["status"], "sold");
    let tco = &vehicle["sale"]["totalCostOfOwnership"];
    let by_hand: i64 = 2_500_000 + 8_999 + 45_000 - 1_800_000;
    assert_eq!(tco["totalCents"], by_hand, "{tco}");
    assert_eq!(tco["purchasePriceCents"], 2_500_000);
    assert_eq!(tco["purchasePriceSource"], "registration");
    assert_eq!(tco["costsCents"], 8_999 + 45_000);
    assert_eq!(
        (
            tco["recordsCounted"].as_u64(),
            tco["recordsInOtherCurrencies"].as_u64()
        ),
        (Some(2), Some(1))
    );
    let (status, _, problem) = post(&app, &fleet, &sell, &ok_sale).await;
    assert_eq!(status, 409, "selling twice: {problem}");

    let archive = format!("/v1/vehicles/{archived}/archive");
    let (status, _, vehicle) = post(&app, &fleet, &archive, &json!({})).await;
    assert_eq!(status, 200, "{vehicle}");
    assert_eq!(vehicle["status"], "archived");
    assert!(vehicle["archivedAt"].is_string());
    assert_eq!(app.post(&fleet, &archive, &json!({})).await.status(), 409);
    app.settle().await;

    // Out of the fleet counts; the overview shows the realised TCO.
    let overview = app.get_ok(&fleet, "/v1/fleet/overview").await;
    assert_eq!(overview["totals"]["vehicles"], 1, "{overview}");
    let listed = pluck(&overview["items"], "id");
    assert_eq!(listed, [active.as_str()]);
    let detail = app
        .get_ok(&fleet, &format!("/v1/vehicles/{sold}/overview"))
        .await;
    assert_eq!(
        detail["vehicle"]["sale"]["totalCostOfOwnership"]["totalCents"],
        by_hand
    );

    // History kept and readable.
    assert_eq!(app.timeline_of_len(&fleet, &sold, 3).await.len(), 3);
    assert_eq!(app.timeline_of_len(&fleet, &archived, 1).await.len(), 1);
    let all = app.get_ok(&fleet, "/v1/vehicles").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3);

    // Reminders: the same overdue oil change reminds only the active vehicle (the sold one's reading is
    // its sale's: it takes none dated after it).
    for v in [&sold, &archived, &active] {
        let at = if v == &sold {
            ok_sale["soldAt"].clone()
        } else {
            json!(vwc_clock::now())
        };
        record(
            &app,
            &fleet,
            v,
            json!({"kind": "odometer_reading", "occurredAt": at, "odometer": 30_000}),
        )
        .await;
    }
    app.settle().await;
    let feed = eventually(
        "a reminder for the active vehicle",
        Duration::from_secs(30),
        || async {
            let f = app.get_ok(&fleet, "/v1/notifications?limit=200").await;
            let items = f["items"].as_array()?.clone();
            items
                .iter()
                .any(|n| n["vehicleId"] == active.as_str())
                .then_some(items)
        },
    )
    .await;
    for retired in [&sold, &archived] {
        assert!(
            !feed.iter().any(|n| n["vehicleId"] == retired.as_str()),
            "a retired vehicle was reminded: {feed:?}"
        );
    }

    // The fleet calendar lists only the active vehicle; a retired vehicle's own feed is empty.
    let ics = app.get(&fleet, "/v1/fleet/maintenance.ics").await;
    assert_eq!(ics.status(), 200);
    let ics = ics.text().await.unwrap();
    assert!(ics.contains(&active), "{ics}");
    assert!(!ics.contains(&sold) && !ics.contains(&archived), "{ics}");
    let own = app
        .get(&fleet, &format!("/v1/vehicles/{sold}/maintenance.ics"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!own.contains("BEGIN:VEVENT"), "{own}");
    app.stop().await;
}

#[tokio::test]
async fn a_sold_vehicle_reads_as_sold_and_takes_no_record_dated_after_its_sale() {
    let (app, fleet) = spawn_as(&[Role::FleetManager]).await;
    let sold = register_with_price(&app, &fleet, 405).await;
    let oil = record(
        &app,
        &fleet,
        &sold,
        json!({"kind": "maintenance", "occurredAt": days_ago(200), "odometer": 10_000,
            "costCents": 8_999, "currency": "USD", "details": {"tasks": ["oil_change"]}}),
    )
    .await;
    let reading = app.record_odometer(&fleet, &sold, 30, 14_000).await;
    app.settle().await;
    let overview = format!("/v1/vehicles/{sold}/overview");
    // Before the sale: a current value, and the oil change is overdue.
    poll_get(
        &app,
        &fleet,
        &overview,
        "a valued, scheduled vehicle",
        |o| {
            (o["valuation"]["kind"] == "current" && o["maintenance"].as_array()?.len() > 1)
                .then_some(())
        },
    )
    .await;

    // Its maintenance view: the scheduler's items, the vehicle active.
    let maintenance = format!("/v1/vehicles/{sold}/maintenance");
    let m = app.get_ok(&fleet, &maintenance).await;
    assert_eq!(m["status"], "active", "{m}");
    assert!(m["soldAt"].is_null(), "{m}");
    assert!(m["items"].as_array().unwrap().len() > 1, "{m}");

    let sold_at = days_ago(10).to_rfc3339();
    let (status, _, vehicle) = post(
        &app,
        &fleet,
        &format!("/v1/vehicles/{sold}/sell"),
        &json!({"soldAt": sold_at, "priceCents": 2_100_000, "currency": "USD", "odometer": 14_500}),
    )
    .await;
    assert_eq!(status, 200, "{vehicle}");
    app.settle().await;

    // The overview: the sale's odometer as of the sale, no current value, nothing due; the sale and its
    // total cost of ownership on the vehicle.
    let o = app.get_ok(&fleet, &overview).await;
    assert_eq!(o["vehicle"]["status"], "sold", "{o}");
    assert_eq!(
        o["vehicle"]["sale"]["totalCostOfOwnership"]["totalCents"],
        2_500_000 + 8_999 - 2_100_000
    );
    assert!(o["valuation"].is_null(), "{o}");
    assert_eq!(o["odometer"]["value"], 14_500, "{}", o["odometer"]);
    assert_eq!(o["odometer"]["estimated"], false);
    let as_of = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| t.timestamp())
            .ok()
    };
    assert_eq!(
        o["odometer"]["asOf"].as_str().and_then(as_of),
        as_of(&sold_at)
    );
    assert_eq!(o["maintenance"], json!([]), "{o}");
    // The chat's suggestions say the historian knows it is sold (a page reads them again until they do).
    let s = app
        .get_ok(&fleet, &format!("/v1/vehicles/{sold}/chat/suggestions"))
        .await;
    assert_eq!(s["vehicleStatus"], "sold", "{s}");
    // Its maintenance view agrees: nothing due, no odometer estimate, and why — it is sold, since when.
    let m = app.get_ok(&fleet, &maintenance).await;
    assert_eq!(m["items"], json!([]), "{m}");
    assert!(m["odometer"].is_null(), "{m}");
    assert_eq!(m["status"], "sold", "{m}");
    assert_eq!(m["soldAt"].as_str().and_then(as_of), as_of(&sold_at), "{m}");
    assert!(m["evaluatedAt"].is_string(), "{m}");

    // A record dated after the sale: 422 on occurredAt naming the sale, nothing recorded.
    let events = format!("/v1/vehicles/{sold}/events");
    let (status, ctype, problem) = post(
        &app,
        &fleet,
        &events,
        &json!({"kind": "odometer_reading", "occurredAt": days_ago(2), "odometer": 14_600}),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert!(ctype.starts_with("application/problem+json"));
    assert!(names_field(&problem, "occurredAt"), "{problem}");
    let sale_day = &sold_at[..10];
    assert!(problem.to_string().contains(sale_day), "{problem}");
    assert_eq!(app.timeline_of_len(&fleet, &sold, 2).await.len(), 2);
    // Late paperwork dated before the sale is taken.
    record(
        &app,
        &fleet,
        &sold,
        json!({"kind": "repair", "occurredAt": days_ago(12), "costCents": 5_000, "currency": "USD",
            "details": {"system": "brakes"}}),
    )
    .await;
    // A CSV row dated after the sale is reported on its line and field; the one before it is imported.
    let csv = format!(
        "Date,Odometer,Description,Notes,Cost\n{},14100,Oil Change,,40.00\n{},14700,Oil Change,,40.00\n",
        days_ago(20).format("%Y-%m-%d"),
        days_ago(3).format("%Y-%m-%d"),
    );
    let report = vwc_testkit::json(
        app.http
            .post(app.url(&format!("/v1/vehicles/{sold}/imports")))
            .bearer_auth(&fleet)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .unwrap(),
    )
    .await
    .2;
    assert_eq!(report["imported"], 1, "{report}");
    // Its odometer (14,700) is above the sale's (14,500) too: both said, on the same row.
    let errors = report["errors"].as_array().unwrap();
    let said: Vec<(&serde_json::Value, &serde_json::Value)> =
        errors.iter().map(|e| (&e["row"], &e["field"])).collect();
    assert_eq!(
        said,
        [
            (&json!(3), &json!("occurredAt")),
            (&json!(3), &json!("odometer"))
        ],
        "{report}"
    );
    // Corrections and voids of the records it had stay possible; none moves a record past the sale.
    let record_path = format!("/v1/vehicles/{sold}/events/{reading}");
    let (status, _, moved) = patch(
        &app,
        &fleet,
        &record_path,
        &json!({"occurredAt": days_ago(1)}),
    )
    .await;
    assert_eq!(status, 422, "{moved}");
    assert!(names_field(&moved, "occurredAt"), "{moved}");
    let (status, _, corrected) =
        patch(&app, &fleet, &record_path, &json!({"odometer": 14_100})).await;
    assert_eq!(status, 200, "{corrected}");
    let (status, _, voided) = delete(
        &app,
        &fleet,
        &format!("/v1/vehicles/{sold}/events/{oil}?reason=entered%20twice"),
    )
    .await;
    assert_eq!(status, 200, "{voided}");
    // Its valuation history ends at the sale: no point dated after it (the monthly point valued before the
    // back-dated sale was recorded is left out), the sale day's own kept.
    app.settle().await;
    let history = app
        .get_ok(&fleet, &format!("/v1/vehicles/{sold}/valuations?limit=100"))
        .await;
    let days: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["asOf"].as_str())
        .collect();
    assert!(!days.is_empty(), "{history}");
    assert!(
        days.iter().all(|d| &d[..10] <= sale_day),
        "{days:?} after {sale_day}"
    );
    app.stop().await;
}
