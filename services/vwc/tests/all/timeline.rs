//! Register → record → read, through the real HTTP server on a free port.

use serde_json::json;
use vwc_auth::Role;
use vwc_testkit::{json as body, vin};

use super::common;
use common::{get, patch, post, spawn_as, spawn_with_vehicle, stored_events};

#[tokio::test]
async fn a_recorded_event_appears_in_the_timeline() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 1).await;
    let (status, _, created) = post(
        &app,
        &token,
        &format!("/v1/vehicles/{vehicle}/events"),
        &json!({"kind": "maintenance", "occurredAt": "2026-03-02T09:30:00Z", "odometer": 41250,
                "costCents": 8999, "currency": "USD", "title": "Oil and filter change",
                "vendor": {"name": "Main St Auto"}, "details": {"tasks": ["oil_change", "tire_rotation"]}}),
    ).await;
    assert_eq!(status, 201, "{created}");
    let items = app.timeline_of_len(&token, &vehicle, 1).await;
    assert_eq!(items[0]["id"], created["event"]["id"]);
    assert_eq!(
        items[0]["details"]["tasks"],
        json!(["oil_change", "tire_rotation"])
    );
    assert_eq!(items[0]["source"], "user");
    let v = app.get_ok(&token, &format!("/v1/vehicles/{vehicle}")).await;
    assert_eq!(v["odometer"]["value"], 41250);
    assert_eq!(v["eventCount"], 1);
    app.stop().await;
}

#[tokio::test]
async fn the_timeline_is_newest_first_paged_and_filtered() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::FleetManager], 2).await;
    for day in 1..=7 {
        app.record_odometer(&token, &vehicle, 100 - day * 10, 1000 * day as u64)
            .await;
    }
    let (status, _, _) = post(
        &app,
        &token,
        &format!("/v1/vehicles/{vehicle}/events"),
        &json!({"kind": "repair", "occurredAt": vwc_clock::now() - chrono::Duration::days(55),
                "details": {"system": "brakes"}}),
    )
    .await;
    assert_eq!(status, 201);
    app.timeline_of_len(&token, &vehicle, 8).await;

    // Three pages of 3, 3, 2, newest first, no overlap, no gap.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/vehicles/{vehicle}/events?limit=3&cursor={c}"),
            None => format!("/v1/vehicles/{vehicle}/events?limit=3"),
        };
        let page = app.get_ok(&token, &path).await;
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["occurredAt"].as_str().unwrap().to_string());
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 8);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first");

    for (kinds, want) in [("repair", 1), ("repair,odometer_reading", 8)] {
        let path = format!("/v1/vehicles/{vehicle}/events?kind={kinds}");
        let page = app.get_ok(&token, &path).await;
        assert_eq!(page["items"].as_array().unwrap().len(), want, "{kinds}");
    }

    // from/to: the window between 45 and 25 days ago holds readings at 40 and 30 days ago.
    let from = (vwc_clock::now() - chrono::Duration::days(45)).to_rfc3339();
    let to = (vwc_clock::now() - chrono::Duration::days(25)).to_rfc3339();
    let windowed = app
        .http
        .get(app.url(&format!("/v1/vehicles/{vehicle}/events")))
        .query(&[
            ("from", from.as_str()),
            ("to", to.as_str()),
            ("kind", "odometer_reading"),
        ])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let (status, _, windowed) = body(windowed).await;
    assert_eq!(status, 200, "{windowed}");
    let odometers: Vec<_> = windowed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["odometer"].clone())
        .collect();
    assert_eq!(odometers, vec![json!(7000), json!(6000)]);
    app.stop().await;
}

#[tokio::test]
async fn bad_query_parameters_are_problems() {
    let (app, token) = spawn_as(&[Role::Viewer]).await;
    let owner = app.token("org_a", &[Role::Owner]);
    let vehicle = app.register(&owner, &vin(3)).await;
    app.timeline_of_len(&token, &vehicle, 0).await;
    for q in [
        "kind=teleport",
        "limit=0",
        "limit=abc",
        "cursor=zzz",
        "from=yesterday",
    ] {
        let (status, ct, problem) =
            get(&app, &token, &format!("/v1/vehicles/{vehicle}/events?{q}")).await;
        assert_eq!(status, 422, "{q}: {problem}");
        assert_eq!(ct, "application/problem+json");
    }
    app.stop().await;
}

#[tokio::test]
async fn vehicles_are_listed_with_cursor_paging() {
    let (app, token) = spawn_as(&[Role::FleetManager]).await;
    for n in 0..5 {
        app.register(&token, &vin(100 + n)).await;
    }
    let ids = vwc_testkit::eventually(
        "5 vehicles projected",
        std::time::Duration::from_secs(10),
        || async {
            let page = app.get_ok(&token, "/v1/vehicles?limit=200").await;
            (page["items"].as_array().unwrap().len() == 5).then_some(page)
        },
    )
    .await;
    assert_eq!(ids["nextCursor"], serde_json::Value::Null);
    let first = app.get_ok(&token, "/v1/vehicles?limit=2").await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = app
        .get_ok(&token, &format!("/v1/vehicles?limit=2&cursor={cursor}"))
        .await;
    let cursor = second["nextCursor"].as_str().unwrap();
    let third = app
        .get_ok(&token, &format!("/v1/vehicles?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(third["items"].as_array().unwrap().len(), 1);
    assert!(third["nextCursor"].is_null());
    let all: Vec<_> = [first, second, third]
        .iter()
        .flat_map(|p| {
            p["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["id"].clone())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut dedup = all.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), 5);
    app.stop().await;
}

#[tokio::test]
async fn an_idempotency_key_returns_the_same_event_and_stores_it_once() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Technician, Role::Owner], 4).await;
    let path = format!("/v1/vehicles/{vehicle}/events");
    let payload =
        json!({"kind": "odometer_reading", "occurredAt": "2026-01-01T00:00:00Z", "odometer": 5});
    let send = |payload: serde_json::Value| {
        let (app, token, path) = (&app, &token, &path);
        async move {
            body(
                app.http
                    .post(app.url(path))
                    .bearer_auth(token)
                    .header("idempotency-key", "reading-42")
                    .json(&payload)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (s1, _, first) = send(payload.clone()).await;
    let (s2, _, second) = send(payload.clone()).await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(first["event"]["id"], second["event"]["id"]);
    // The same JSON serialised again (other key order, other spacing) is the same request.
    let (s4, _, again) = body(
        app.http
            .post(app.url(&path))
            .bearer_auth(&token)
            .header("idempotency-key", "reading-42")
            .header("content-type", "application/json")
            .body("{ \"odometer\": 5,\n  \"occurredAt\": \"2026-01-01T00:00:00Z\", \"kind\": \"odometer_reading\" }")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s4, 201, "{again}");
    assert_eq!(again["event"]["id"], first["event"]["id"]);
    let (s3, ct, _) = send(
        json!({"kind": "odometer_reading", "occurredAt": "2026-01-01T00:00:00Z", "odometer": 6}),
    )
    .await;
    assert_eq!(s3, 422);
    assert_eq!(ct, "application/problem+json");
    app.timeline_of_len(&token, &vehicle, 1).await;
    assert_eq!(stored_events(&app, "org_a", &vehicle).await, 1);
    app.stop().await;
}

/// The overview's "last 12 months" is read from the system's clock, not the wall clock: moving the clock on
/// moves an old repair out of the window and leaves the lifetime total alone.
#[tokio::test]
async fn the_overviews_last_12_months_follow_the_systems_clock() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 7).await;
    for (days, cents) in [(200, 10_000), (30, 2_500)] {
        common::record(
            &app,
            &token,
            &vehicle,
            json!({"kind": "repair", "occurredAt": common::days_ago(days), "costCents": cents,
                "currency": "USD", "title": "Brake pads"}),
        )
        .await;
    }
    app.settle().await;
    let usd = |overview: serde_json::Value| {
        let costs = overview["costs"].as_array().expect("costs").clone();
        assert_eq!(costs.len(), 1, "{overview}");
        (
            costs[0]["lifetimeCents"].clone(),
            costs[0]["last12MonthsCents"].clone(),
        )
    };
    let path = format!("/v1/vehicles/{vehicle}/overview");
    assert_eq!(
        usd(app.get_ok(&token, &path).await),
        (json!(12_500), json!(12_500))
    );
    // 200 days on, the first repair is 400 days old: out of this month and the eleven before it.
    app.system().clock.advance(chrono::Duration::days(200));
    assert_eq!(
        usd(app.get_ok(&token, &path).await),
        (json!(12_500), json!(2_500))
    );
    app.stop().await;
}

/// The page is written from the events' stored JSON without decoding it: its bytes are exactly what
/// serde_json writes for the typed page (`Page<TimelineItem>`) — field order, string escapes, a corrected
/// record's marks, the cursor, no whitespace — on every page, and the answer is `application/json`.
#[tokio::test]
async fn a_timeline_page_is_byte_for_byte_the_typed_page() {
    use vwc_contracts::VehicleEvent;
    use vwc_edge::corrections::TimelineItem;
    use vwc_edge::http::Page;

    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 4).await;
    let path = format!("/v1/vehicles/{vehicle}/events");
    let mut events = Vec::new();
    for event in [
        json!({"kind": "maintenance", "occurredAt": "2026-03-02T09:30:00Z", "odometer": 41250,
               "costCents": 8999, "currency": "USD", "title": "Oil and filter change",
               "notes": "Überprüfung – 5 % ✓, a \"quoted\" part C:\\shop\\bay 2\nsecond line\ttab",
               "vendor": {"name": "Main St Auto"}, "details": {"tasks": ["oil_change", "tire_rotation"]}}),
        json!({"kind": "repair", "occurredAt": "2026-03-02T09:30:00Z", "costCents": 120000,
               "currency": "EUR", "title": "Brakes </script>", "details": {"system": "brakes"}}),
        json!({"kind": "odometer_reading", "occurredAt": "2026-04-01T00:00:00.123456Z",
               "odometer": 42000}),
        json!({"kind": "repair", "occurredAt": "2026-01-15T12:00:00+02:00", "title": "Wipers",
               "details": {"system": "body"}}),
        json!({"kind": "maintenance", "occurredAt": "2026-05-20T08:00:00Z", "odometer": 43000,
               "title": "Tyres", "details": {"tasks": ["tire_rotation"]}}),
    ] {
        let (status, _, created) = post(&app, &token, &path, &event).await;
        assert_eq!(status, 201, "{created}");
        events.push(serde_json::from_value::<VehicleEvent>(created["event"].clone()).unwrap());
    }
    let fixed = events[3].id.to_string();
    let (status, _, corrected) = patch(
        &app,
        &token,
        &format!("{path}/{fixed}"),
        &json!({"notes": "wiper blades, both", "reason": "forgot the notes"}),
    )
    .await;
    assert_eq!(status, 200, "{corrected}");
    app.settle().await;
    let shown = app.timeline_of_len(&token, &vehicle, 5).await;
    let corrected_at = shown
        .iter()
        .find(|i| i["id"] == fixed.as_str())
        .and_then(|i| i["correctedAt"].as_str())
        .map(|t| t.parse().unwrap());
    assert!(corrected_at.is_some(), "{shown:?}");

    let mut expected: Vec<TimelineItem> = events
        .into_iter()
        .map(|event| TimelineItem {
            event,
            corrected: None,
            revision: None,
            corrected_at: None,
            voided: None,
            voided_at: None,
            void_reason: None,
        })
        .collect();
    expected[3] = TimelineItem {
        event: serde_json::from_value(corrected["current"].clone()).unwrap(),
        corrected: Some(true),
        revision: Some(2),
        corrected_at,
        ..expected[3].clone()
    };
    expected.sort_by(|a, b| {
        (b.event.occurred_at, b.event.id.as_str()).cmp(&(a.event.occurred_at, a.event.id.as_str()))
    });

    let mut cursor: Option<String> = None;
    for (n, want) in expected.chunks(2).enumerate() {
        let query = match &cursor {
            Some(c) => format!("{path}?limit=2&cursor={c}"),
            None => format!("{path}?limit=2"),
        };
        let answer = app.get(&token, &query).await;
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.headers()["content-type"], "application/json");
        let bytes = answer.bytes().await.unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        cursor = parsed["nextCursor"].as_str().map(str::to_string);
        assert_eq!(cursor.is_some(), n < 2, "page {n}: {parsed}");
        let typed = Page {
            items: want.to_vec(),
            next_cursor: cursor.clone(),
        };
        assert_eq!(
            String::from_utf8(bytes.to_vec()).unwrap(),
            serde_json::to_string(&typed).unwrap(),
            "page {n}"
        );
    }
    app.stop().await;
}

/// A cursor belongs to the list that issued it: every other list — another vehicle's timeline or
/// valuations, the vehicles, the fleet overview, the fleet's costs by vehicle, the notification feed —
/// refuses it (422 on `cursor`) instead of reading it as a position of its own; its own list reads it.
#[tokio::test]
async fn a_cursor_is_refused_by_every_list_but_its_own() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::FleetManager], 71).await;
    let other = app.register(&token, &vin(72)).await;
    for v in [&vehicle, &other] {
        for n in 0..3 {
            let at = vwc_clock::now() - chrono::Duration::days(40 * (3 - n));
            let (status, _, body) = post(
                &app,
                &token,
                &format!("/v1/vehicles/{v}/events"),
                &json!({"kind": "repair", "occurredAt": at, "odometer": 1_000 + n * 500,
                        "costCents": 1_000 + n, "currency": if n == 0 { "EUR" } else { "USD" }}),
            )
            .await;
            assert_eq!(status, 201, "{body}");
        }
    }
    app.timeline_of_len(&token, &vehicle, 3).await;
    app.settle().await;
    let lists = [
        format!("/v1/vehicles/{vehicle}/events?limit=1"),
        format!("/v1/vehicles/{vehicle}/valuations?limit=1"),
        "/v1/vehicles?limit=1".to_string(),
        "/v1/fleet/overview?limit=1".to_string(),
        "/v1/fleet/costs?groupBy=vehicle&limit=1".to_string(),
    ];
    let others = [
        format!("/v1/vehicles/{other}/events?limit=1"),
        format!("/v1/vehicles/{other}/valuations?limit=1"),
        "/v1/notifications?limit=1".to_string(),
    ];
    for list in &lists {
        let first = app.get_ok(&token, list).await;
        let cursor = first["nextCursor"]
            .as_str()
            .unwrap_or_else(|| panic!("{list}: no next page: {first}"))
            .to_string();
        let next = app.get_ok(&token, &format!("{list}&cursor={cursor}")).await;
        let page = next["items"].as_array();
        assert_eq!(page.map(Vec::len), Some(1), "{list}: {next}");
        for path in lists.iter().chain(&others).filter(|p| *p != list) {
            let (status, _, problem) = get(&app, &token, &format!("{path}&cursor={cursor}")).await;
            assert_eq!(status, 422, "{list}'s cursor on {path}: {problem}");
            assert_eq!(problem["errors"][0]["field"], "cursor", "{problem}");
        }
    }
    app.stop().await;
}

/// Probe p44 M6: a reading lower than an earlier one (a typo, a dropped digit) was recorded without a word,
/// and the schedule and the valuation then left it out silently. The record is still kept as sent; the 201
/// says what its odometer means, by the records as they now read (a voided one does not count).
#[tokio::test]
async fn an_odometer_below_an_earlier_reading_is_recorded_with_a_warning() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 7).await;
    let events = format!("/v1/vehicles/{vehicle}/events");
    let earlier = app.record_odometer(&token, &vehicle, 20, 41_250).await;
    let at = |days: i64| vwc_clock::now() - chrono::Duration::days(days);
    let (status, _, typo) = post(
        &app,
        &token,
        &events,
        &json!({"kind": "maintenance", "occurredAt": at(10), "odometer": 4125,
                "title": "Oil change", "details": {"tasks": ["oil_change"]}}),
    )
    .await;
    assert_eq!(status, 201, "{typo}");
    let warnings = typo["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{typo}");
    assert_eq!(warnings[0]["field"], "odometer");
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("4,125 mi is lower than the 41,250 mi recorded on ")
            && message.contains("rollback"),
        "{message}"
    );
    assert_eq!(typo["event"]["odometer"], 4125, "kept as sent");
    app.timeline_of_len(&token, &vehicle, 2).await;

    // A reading that fits says nothing (no `warnings` member at all).
    let (status, _, fits) = post(
        &app,
        &token,
        &events,
        &json!({"kind": "odometer_reading", "occurredAt": at(5), "odometer": 41_900}),
    )
    .await;
    assert_eq!(status, 201);
    assert!(fits.get("warnings").is_none(), "{fits}");

    // Once the 41,250 reading is voided, a 4,200 after the 4,125 fits too.
    let voided = app
        .http
        .delete(app.url(&format!("{events}/{earlier}?reason=typo")))
        .bearer_auth(&token)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(voided.status(), 200);
    let (status, _, after_void) = post(
        &app,
        &token,
        &events,
        &json!({"kind": "odometer_reading", "occurredAt": at(8), "odometer": 4_200}),
    )
    .await;
    assert_eq!(status, 201);
    assert!(after_void.get("warnings").is_none(), "{after_void}");
    // A jump of a digit too many, a day after the 41,900.
    let (_, _, jump) = post(
        &app,
        &token,
        &events,
        &json!({"kind": "odometer_reading", "occurredAt": at(4), "odometer": 419_000}),
    )
    .await;
    let message = jump["warnings"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("377,100 mi more than the 41,900 mi") && message.contains("a day since"),
        "{jump}"
    );
    app.stop().await;
}
