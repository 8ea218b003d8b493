//! Bad input gets a problem+json 4xx and stores nothing.

use serde_json::json;
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_contracts::{OrgId, VehicleId};
use vwc_testkit::{json as body, vin};

#[tokio::test]
async fn bad_vehicle_and_event_requests_are_problems_and_store_nothing() {
    let app = TestApp::spawn().await;
    let token = app.token("org_a", &[Role::FleetManager]);
    let vehicle = app.register(&token, &vin(1)).await;
    app.timeline_of_len(&token, &vehicle, 0).await;
    let events = format!("/v1/vehicles/{vehicle}/events");
    let at = "2026-01-01T00:00:00Z";
    let raw = |path: &str, body: &str| {
        app.http
            .post(app.url(path))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let cases: Vec<(&str, reqwest::Response, u16)> = vec![
        (
            "malformed vehicle JSON",
            raw("/v1/vehicles", "{\"vin\": ").await.unwrap(),
            400,
        ),
        (
            "missing fields",
            app.post(&token, "/v1/vehicles", &json!({"vin": vin(2)}))
                .await,
            422,
        ),
        (
            "wrong types",
            app.post(
                &token,
                "/v1/vehicles",
                &json!({"vin": vin(2), "year": "2020", "make": "a", "model": "b"}),
            )
            .await,
            422,
        ),
        (
            "bad VIN (has an O)",
            app.post(
                &token,
                "/v1/vehicles",
                &json!({"vin": "1HGCM82633A00435O", "year": 2020, "make": "a", "model": "b"}),
            )
            .await,
            422,
        ),
        (
            "short VIN",
            app.post(
                &token,
                "/v1/vehicles",
                &json!({"vin": "1HGCM8", "year": 2020, "make": "a", "model": "b"}),
            )
            .await,
            422,
        ),
        (
            "unknown field",
            app.post(
                &token,
                "/v1/vehicles",
                &json!({"vin": vin(2), "year": 2020, "make": "a", "model": "b", "colour": "red"}),
            )
            .await,
            422,
        ),
        (
            "malformed event JSON",
            raw(&events, "[1,").await.unwrap(),
            400,
        ),
        (
            "negative odometer",
            app.post(
                &token,
                &events,
                &json!({"kind": "odometer_reading", "occurredAt": at, "odometer": -5}),
            )
            .await,
            422,
        ),
        (
            "absurd odometer",
            app.post(
                &token,
                &events,
                &json!({"kind": "odometer_reading", "occurredAt": at, "odometer": 90_000_000}),
            )
            .await,
            422,
        ),
        (
            "unknown kind",
            app.post(
                &token,
                &events,
                &json!({"kind": "teleport", "occurredAt": at}),
            )
            .await,
            422,
        ),
        (
            "missing occurredAt",
            app.post(&token, &events, &json!({"kind": "repair"})).await,
            422,
        ),
        (
            "far future",
            app.post(
                &token,
                &events,
                &json!({"kind": "repair", "occurredAt": "2999-01-01T00:00:00Z"}),
            )
            .await,
            422,
        ),
        (
            "negative cost",
            app.post(
                &token,
                &events,
                &json!({"kind": "repair", "occurredAt": at, "costCents": -1, "currency": "USD"}),
            )
            .await,
            422,
        ),
        (
            "cost without currency",
            app.post(
                &token,
                &events,
                &json!({"kind": "repair", "occurredAt": at, "costCents": 100}),
            )
            .await,
            422,
        ),
        (
            "bad currency",
            app.post(
                &token,
                &events,
                &json!({"kind": "repair", "occurredAt": at, "costCents": 100, "currency": "DOGE"}),
            )
            .await,
            422,
        ),
        (
            "maintenance without tasks",
            app.post(
                &token,
                &events,
                &json!({"kind": "maintenance", "occurredAt": at, "details": {}}),
            )
            .await,
            422,
        ),
        (
            "collision without severity",
            app.post(
                &token,
                &events,
                &json!({"kind": "collision", "occurredAt": at, "details": {"structural": true}}),
            )
            .await,
            422,
        ),
        (
            "title too long",
            app.post(
                &token,
                &events,
                &json!({"kind": "repair", "occurredAt": at, "title": "x".repeat(500)}),
            )
            .await,
            422,
        ),
        (
            "not JSON",
            app.http
                .post(app.url(&events))
                .bearer_auth(&token)
                .header("content-type", "text/plain")
                .body("hi")
                .send()
                .await
                .unwrap(),
            415,
        ),
        (
            "300 KiB body",
            raw(
                &events,
                &format!(
                    "{{\"kind\":\"repair\",\"occurredAt\":\"{at}\",\"notes\":\"{}\"}}",
                    "x".repeat(300 * 1024)
                ),
            )
            .await
            .unwrap(),
            413,
        ),
        (
            "300 KiB vehicle",
            raw(
                "/v1/vehicles",
                &format!(
                    "{{\"vin\":\"{}\",\"pad\":\"{}\"}}",
                    vin(3),
                    "x".repeat(300 * 1024)
                ),
            )
            .await
            .unwrap(),
            413,
        ),
    ];
    for (name, response, expected) in cases {
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
    let (_, _, problem) = body(
        app.post(
            &token,
            "/v1/vehicles",
            &json!({"vin": "1HGCM82633A00435O", "year": 1700, "make": "a", "model": "b"}),
        )
        .await,
    )
    .await;
    let fields: Vec<_> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fields, vec!["vin", "year"]);

    // Nothing was stored: one vehicle, no events, nothing in the outbox beyond the registration.
    app.settle().await;
    let list = app.get_ok(&token, "/v1/vehicles").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.timeline_of_len_at_most(&token, &vehicle, 0).await, 0);
    assert_eq!(
        app.system()
            .stores
            .ingestion
            .count_events(&OrgId::from("org_a"), &VehicleId::from(&vehicle))
            .await
            .unwrap(),
        0
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = TestApp::spawn().await;
    let r = app
        .http
        .get(app.url("/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    let (status, ct, _) = body(r).await;
    assert_eq!((status, ct.as_str()), (404, "application/problem+json"));
    let r = app
        .http
        .delete(app.url("/v1/vehicles"))
        .send()
        .await
        .unwrap();
    let (status, ct, _) = body(r).await;
    assert_eq!((status, ct.as_str()), (405, "application/problem+json"));
    app.stop().await;
}
