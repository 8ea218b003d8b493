//! Bad input gets a problem+json 4xx and stores nothing.

use serde_json::json;
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::{json as body, vin};

use super::common;
use common::{pluck, post, send_raw, spawn_with_vehicle, stored_events};
use reqwest::Method;

#[tokio::test]
async fn bad_vehicle_and_event_requests_are_problems_and_store_nothing() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::FleetManager], 1).await;
    app.timeline_of_len(&token, &vehicle, 0).await;
    let events = format!("/v1/vehicles/{vehicle}/events");
    let at = "2026-01-01T00:00:00Z";
    let vehicles = "/v1/vehicles";
    let json = |v: serde_json::Value| ("application/json", v.to_string());
    let raw = |text: &str| ("application/json", text.to_string());
    let cases: Vec<(&str, &str, (&str, String), u16)> = vec![
        ("malformed vehicle JSON", vehicles, raw("{\"vin\": "), 400),
        (
            "missing fields",
            vehicles,
            json(json!({"vin": vin(2)})),
            422,
        ),
        (
            "wrong types",
            vehicles,
            json(json!({"vin": vin(2), "year": "2020", "make": "a", "model": "b"})),
            422,
        ),
        (
            "bad VIN (has an O)",
            vehicles,
            json(json!({"vin": "1HGCM82633A00435O", "year": 2020, "make": "a", "model": "b"})),
            422,
        ),
        (
            "short VIN",
            vehicles,
            json(json!({"vin": "1HGCM8", "year": 2020, "make": "a", "model": "b"})),
            422,
        ),
        (
            "unknown field",
            vehicles,
            json(json!({"vin": vin(2), "year": 2020, "make": "a", "model": "b", "colour": "red"})),
            422,
        ),
        ("malformed event JSON", &events, raw("[1,"), 400),
        (
            "an event followed by more than whitespace",
            &events,
            raw(&format!(
                "{}xyz",
                json!({"kind": "repair", "occurredAt": at})
            )),
            400,
        ),
        (
            "two JSON values",
            &events,
            raw(&format!(
                "{{}} {}",
                json!({"kind": "repair", "occurredAt": at})
            )),
            400,
        ),
        (
            "a vehicle followed by brackets",
            vehicles,
            raw(&format!(
                "{}]]}}",
                json!({"vin": vin(2), "year": 2020, "make": "a", "model": "b"})
            )),
            400,
        ),
        (
            "a number where a kind is expected (well-formed JSON: not a syntax error)",
            &events,
            json(json!({"kind": 5, "occurredAt": at})),
            422,
        ),
        (
            "a number where a unit is expected",
            vehicles,
            json(
                json!({"vin": vin(2), "year": 2020, "make": "a", "model": "b", "odometerUnit": 7}),
            ),
            422,
        ),
        (
            "a NUL in the title",
            &events,
            json(json!({"kind": "repair", "occurredAt": at, "title": "a\u{0}b"})),
            422,
        ),
        (
            "a leap second",
            &events,
            json(json!({"kind": "repair", "occurredAt": "2025-12-31T23:59:60Z"})),
            422,
        ),
        (
            "negative odometer",
            &events,
            json(json!({"kind": "odometer_reading", "occurredAt": at, "odometer": -5})),
            422,
        ),
        (
            "absurd odometer",
            &events,
            json(json!({"kind": "odometer_reading", "occurredAt": at, "odometer": 90_000_000})),
            422,
        ),
        (
            "unknown kind",
            &events,
            json(json!({"kind": "teleport", "occurredAt": at})),
            422,
        ),
        (
            "missing occurredAt",
            &events,
            json(json!({"kind": "repair"})),
            422,
        ),
        (
            "far future",
            &events,
            json(json!({"kind": "repair", "occurredAt": "2999-01-01T00:00:00Z"})),
            422,
        ),
        (
            "negative cost",
            &events,
            json(json!({"kind": "repair", "occurredAt": at, "costCents": -1, "currency": "USD"})),
            422,
        ),
        (
            "cost without currency",
            &events,
            json(json!({"kind": "repair", "occurredAt": at, "costCents": 100})),
            422,
        ),
        (
            "bad currency",
            &events,
            json(json!({"kind": "repair", "occurredAt": at, "costCents": 100, "currency": "DOGE"})),
            422,
        ),
        (
            "maintenance without tasks",
            &events,
            json(json!({"kind": "maintenance", "occurredAt": at, "details": {}})),
            422,
        ),
        (
            "collision without severity",
            &events,
            json(json!({"kind": "collision", "occurredAt": at, "details": {"structural": true}})),
            422,
        ),
        (
            "title too long",
            &events,
            json(json!({"kind": "repair", "occurredAt": at, "title": "x".repeat(500)})),
            422,
        ),
        ("not JSON", &events, ("text/plain", "hi".to_string()), 415),
        (
            "300 KiB body",
            &events,
            raw(&format!(
                "{{\"kind\":\"repair\",\"occurredAt\":\"{at}\",\"notes\":\"{}\"}}",
                "x".repeat(300 * 1024)
            )),
            413,
        ),
        (
            "300 KiB vehicle",
            vehicles,
            raw(&format!(
                "{{\"vin\":\"{}\",\"pad\":\"{}\"}}",
                vin(3),
                "x".repeat(300 * 1024)
            )),
            413,
        ),
    ];
    for (name, path, (content_type, text), expected) in cases {
        let response = send_raw(&app, Method::POST, &token, path, content_type, text).await;
        let (status, ct, problem) = body(response).await;
        assert_eq!(status, expected, "{name}: {problem}");
        assert_eq!(ct, "application/problem+json", "{name}");
        assert_eq!(problem["status"], expected, "{name}");
        assert!(
            problem["title"].is_string() && problem["type"].is_string(),
            "{name}: {problem}"
        );
    }
    // The field-level errors say what is wrong.
    let (_, _, problem) = post(
        &app,
        &token,
        "/v1/vehicles",
        &json!({"vin": "1HGCM82633A00435O", "year": 1700, "make": "a", "model": "b"}),
    )
    .await;
    let fields = pluck(&problem["errors"], "field");
    assert_eq!(fields, vec!["vin", "year"]);

    // Nothing was stored: one vehicle, no events, nothing in the outbox beyond the registration.
    app.settle().await;
    let list = app.get_ok(&token, "/v1/vehicles").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.timeline_of_len_at_most(&token, &vehicle, 0).await, 0);
    assert_eq!(stored_events(&app, "org_a", &vehicle).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = TestApp::spawn().await;
    for (method, path, expected) in [
        (Method::GET, "/v1/nothing-here", 404),
        (Method::DELETE, "/v1/vehicles", 405),
    ] {
        let r = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        let (status, ct, _) = body(r).await;
        assert_eq!(
            (status, ct.as_str()),
            (expected, "application/problem+json"),
            "{method} {path}"
        );
    }
    // A path whose escapes are not UTF-8 names nothing: 404 problem+json on every kind of route (behind
    // the vehicle extractor it was a 500, elsewhere a plain-text 400).
    let token = app.token("org_a", &[Role::Owner]);
    let vehicle = app.register(&token, &vin(31)).await;
    for (method, path) in [
        (Method::GET, "/v1/vehicles/%ff".to_string()),
        (Method::GET, "/v1/vehicles/%C3%28/overview".to_string()),
        (
            Method::GET,
            format!("/v1/vehicles/{vehicle}/events/%ff/history"),
        ),
        (Method::GET, "/v1/vin/%ff".to_string()),
        (Method::POST, "/webhooks/dealers/%ff".to_string()),
        (Method::POST, "/v1/notifications/%ff/read".to_string()),
    ] {
        let r = app
            .http
            .request(method.clone(), app.url(&path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let (status, ct, _) = body(r).await;
        assert_eq!(
            (status, ct.as_str()),
            (404, "application/problem+json"),
            "{method} {path}"
        );
    }
    // What answers a token is nobody else's: no cache keeps it (a dealer's secret, a signed calendar URL).
    app.settle().await; // the calendar route reads the vehicle from the read model
    let r = app
        .http
        .get(app.url(&format!("/v1/vehicles/{vehicle}/maintenance/calendar")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    app.stop().await;
}

/// A purchase price says nothing of its currency: an acquisition with `details.priceCents` needs the record's
/// `currency` (422 naming it, nothing stored); given, it is stored.
#[tokio::test]
async fn a_purchase_price_without_a_currency_is_refused() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::FleetManager], 391).await;
    let events = format!("/v1/vehicles/{vehicle}/events");
    let bought = json!({"kind": "acquisition", "occurredAt": "2025-01-01T00:00:00Z",
        "details": {"priceCents": 2_400_000, "condition": "used"}});
    let (status, ct, problem) = post(&app, &token, &events, &bought).await;
    assert_eq!(status, 422, "{problem}");
    assert!(ct.starts_with("application/problem+json"), "{ct}");
    assert_eq!(pluck(&problem["errors"], "field"), vec!["currency"]);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("details.priceCents")),
        "{problem}"
    );
    assert_eq!(stored_events(&app, "org_a", &vehicle).await, 0);
    let mut with_currency = bought.clone();
    with_currency["currency"] = json!("EUR");
    let (status, _, created) = post(&app, &token, &events, &with_currency).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(stored_events(&app, "org_a", &vehicle).await, 1);
    app.stop().await;
}

/// A single-line field (a vehicle's name, a record's title, vendor and parts, a maintenance item's title, a
/// dealer's name) refuses a line break or any other control character: 422 naming it, nothing stored. Notes
/// keep their line breaks, and refuse other control characters.
#[tokio::test]
async fn single_line_fields_refuse_line_breaks_and_notes_keep_theirs() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::FleetManager], 453).await;
    // The scheduler knows the vehicle (its maintenance route answers 404 until it does).
    app.settle().await;
    let events = format!("/v1/vehicles/{vehicle}/events");
    let at = "2026-01-01T00:00:00Z";
    let repair = |extra: serde_json::Value| {
        let mut e = json!({"kind": "repair", "occurredAt": at});
        e.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        e
    };
    let cases: Vec<(&str, String, serde_json::Value, &str)> = vec![
        (
            "a nickname with a line feed",
            "/v1/vehicles".into(),
            json!({"vin": vin(454), "year": 2020, "make": "Honda", "model": "Civic",
                "nickname": "Blue\ncar"}),
            "nickname",
        ),
        (
            "a model with a tab",
            "/v1/vehicles".into(),
            json!({"vin": vin(454), "year": 2020, "make": "Honda", "model": "Civic\tSi"}),
            "model",
        ),
        (
            "a title with CR LF",
            events.clone(),
            repair(json!({"title": "Brake pads\r\nand rotors"})),
            "title",
        ),
        (
            "a title with a line separator",
            events.clone(),
            repair(json!({"title": "Brake pads\u{2028}and rotors"})),
            "title",
        ),
        (
            "a vendor with a line feed",
            events.clone(),
            repair(json!({"vendor": {"name": "Main St\nAuto"}})),
            "vendor.name",
        ),
        (
            "a part with a carriage return",
            events.clone(),
            repair(json!({"details": {"parts": ["pads\r"]}})),
            "details.parts",
        ),
        (
            "notes with an escape",
            events.clone(),
            repair(json!({"notes": "red \u{1b}[31m"})),
            "notes",
        ),
        (
            "a custom maintenance item's title with a line feed",
            format!("/v1/vehicles/{vehicle}/maintenance/custom_wax"),
            json!({"title": "Wax\nand polish", "intervalMonths": 6}),
            "title",
        ),
        (
            "a dealer's name with a line feed",
            "/v1/dealers".into(),
            json!({"name": "Main St\nAuto"}),
            "name",
        ),
    ];
    for (what, path, body_json, field) in cases {
        let method = if path.contains("/maintenance/") {
            Method::PUT
        } else {
            Method::POST
        };
        let (status, ct, problem) =
            super::common::send(&app, method, &token, &path, Some(&body_json)).await;
        assert_eq!(status, 422, "{what}: {problem}");
        assert_eq!(ct, "application/problem+json", "{what}");
        assert_eq!(
            pluck(&problem["errors"], "field"),
            vec![field],
            "{what}: {problem}"
        );
    }
    let (status, _, problem) = super::common::patch(
        &app,
        &token,
        &format!("/v1/vehicles/{vehicle}"),
        &json!({"nickname": "Blue\r\ncar"}),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(pluck(&problem["errors"], "field"), vec!["nickname"]);
    // Nothing was stored: one vehicle, no events, its nickname unchanged, no custom item, no dealer.
    app.settle().await;
    assert_eq!(stored_events(&app, "org_a", &vehicle).await, 0);
    let list = app.get_ok(&token, "/v1/vehicles").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert!(list["items"][0]["nickname"].is_null(), "{list}");
    let maintenance = app
        .get_ok(&token, &format!("/v1/vehicles/{vehicle}/maintenance"))
        .await;
    assert!(
        !pluck(&maintenance["items"], "task").contains(&"custom_wax".to_string()),
        "{maintenance}"
    );
    // Notes are several lines: kept as written.
    let (status, _, created) = post(
        &app,
        &token,
        &events,
        &repair(json!({"title": "Brake pads", "notes": "Front pads.\r\nRear next time.\tOK"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["event"]["notes"],
        "Front pads.\r\nRear next time.\tOK"
    );
    app.stop().await;
}
