//! Conditional timeline pages and the kept pages behind them, through the real HTTP server: a page's
//! `ETag` answers `If-None-Match` with a 304 while the vehicle's timeline stays, and every change — a new
//! record, a correction, a void, a row written by another connection to the data dir — gives a new `ETag`
//! and a page that shows it. Tenancy and bad input come before any of it.

use reqwest::StatusCode;
use serde_json::{Value, json};
use vwc_auth::Role;

use super::common;
use common::{delete, patch, record, spawn_with_vehicle};

/// GETs `path` with `If-None-Match: if_none_match` when given; the status, the `ETag`, the
/// `Cache-Control` and the body as text.
async fn conditional(
    app: &vwc::testing::TestApp,
    token: &str,
    path: &str,
    if_none_match: Option<&str>,
) -> (StatusCode, Option<String>, Option<String>, String) {
    let mut request = app.http.get(app.url(path)).bearer_auth(token);
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    let response = request.send().await.expect("request");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let (etag, cache_control) = (header("etag"), header("cache-control"));
    (
        response.status(),
        etag,
        cache_control,
        response.text().await.expect("body"),
    )
}

/// Waits until the page at `path` has an `ETag` other than `old`; that page's `ETag` and items.
async fn changed_from(
    app: &vwc::testing::TestApp,
    token: &str,
    path: &str,
    old: &str,
) -> (String, Vec<Value>) {
    vwc_testkit::eventually(
        "a new ETag for the page",
        std::time::Duration::from_secs(30),
        || async {
            let (status, etag, _, text) = conditional(app, token, path, Some(old)).await;
            if status != StatusCode::OK {
                assert_eq!(status, StatusCode::NOT_MODIFIED, "{text}");
                return None;
            }
            let etag = etag.expect("a 200 page names its ETag");
            assert_ne!(etag, old, "a 200 to If-None-Match names another ETag");
            let page: Value = serde_json::from_str(&text).unwrap();
            Some((etag, page["items"].as_array().unwrap().clone()))
        },
    )
    .await
}

#[tokio::test]
async fn a_page_is_304_while_its_timeline_stays_and_new_after_each_change() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 801).await;
    let path = format!("/v1/vehicles/{vehicle}/events?limit=10");
    let first = record(
        &app,
        &token,
        &vehicle,
        json!({"kind": "maintenance", "occurredAt": "2026-03-02T09:30:00Z", "costCents": 8999,
               "currency": "USD", "title": "Oil change", "details": {"tasks": ["oil_change"]}}),
    )
    .await;
    app.timeline_of_len(&token, &vehicle, 1).await;

    let (status, etag, cache_control, text) = conditional(&app, &token, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let etag = etag.expect("the page names its ETag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "a strong ETag: {etag}"
    );
    assert_eq!(cache_control.as_deref(), Some("private, no-cache"));
    let page: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(page["items"][0]["id"], first.as_str());

    // Asked again, the same page (kept), the same ETag; with it, a 304 with no body.
    let (status, again, _, same) = conditional(&app, &token, &path, None).await;
    assert_eq!(
        (status, again.as_deref()),
        (StatusCode::OK, Some(etag.as_str()))
    );
    assert_eq!(same, text, "the kept page is the page");
    for tag in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
        "*".to_string(),
    ] {
        let (status, again, cache_control, body) =
            conditional(&app, &token, &path, Some(&tag)).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "If-None-Match: {tag}");
        assert_eq!(again.as_deref(), Some(etag.as_str()));
        assert_eq!(cache_control.as_deref(), Some("private, no-cache"));
        assert!(body.is_empty(), "{body}");
    }
    let (status, _, _, _) = conditional(&app, &token, &path, Some("\"not-it\"")).await;
    assert_eq!(status, StatusCode::OK, "another ETag is not the page");
    // Another query string of the same vehicle is another kept page, under the same version.
    let kinds = format!("/v1/vehicles/{vehicle}/events?kind=repair");
    let (status, other_etag, _, other) = conditional(&app, &token, &kinds, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(other_etag.as_deref(), Some(etag.as_str()));
    let other: Value = serde_json::from_str(&other).unwrap();
    assert_eq!(other["items"], json!([]), "no repair yet");

    // A new record: a new ETag, and the page shows it.
    let second = record(
        &app,
        &token,
        &vehicle,
        json!({"kind": "repair", "occurredAt": "2026-04-02T09:30:00Z", "costCents": 12000,
               "currency": "USD", "title": "Brake pads", "details": {"system": "brakes"}}),
    )
    .await;
    let (etag2, items) = changed_from(&app, &token, &path, &etag).await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], second.as_str());
    let (_, repairs) = changed_from(&app, &token, &kinds, &etag).await;
    assert_eq!(
        repairs.len(),
        1,
        "the other kept page was not served either"
    );

    // A correction: a new ETag, the corrected cost.
    let (status, _, corrected) = patch(
        &app,
        &token,
        &format!("/v1/vehicles/{vehicle}/events/{first}"),
        &json!({"costCents": 7999, "reason": "typed the wrong price"}),
    )
    .await;
    assert_eq!(status, 200, "{corrected}");
    let (etag3, items) = changed_from(&app, &token, &path, &etag2).await;
    assert_eq!(items[1]["costCents"], 7999);
    assert_eq!(items[1]["corrected"], true);

    // A void: a new ETag, and the page no longer shows the record.
    let (status, _, voided) = delete(
        &app,
        &token,
        &format!("/v1/vehicles/{vehicle}/events/{second}?reason=wrong%20car"),
    )
    .await;
    assert_eq!(status, 200, "{voided}");
    let (etag4, items) = changed_from(&app, &token, &path, &etag3).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], first.as_str());

    // A row written by another connection to the data dir (another process, as `vwc import` or a
    // repair by hand would): the table counts it, so the kept page is not served.
    let db = app.data_dir.path().join("edge.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let changed = conn
        .execute(
            "UPDATE timeline SET body = json_set(body, '$.title', 'Oil change (by hand)') WHERE id = ?1",
            [&first],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    let (_, items) = changed_from(&app, &token, &path, &etag4).await;
    assert_eq!(items[0]["title"], "Oil change (by hand)");
    app.stop().await;
}

#[tokio::test]
async fn another_organisation_and_bad_input_come_before_the_etag() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 802).await;
    record(
        &app,
        &token,
        &vehicle,
        json!({"kind": "repair", "occurredAt": "2026-04-02T09:30:00Z", "details": {"system": "brakes"}}),
    )
    .await;
    app.timeline_of_len(&token, &vehicle, 1).await;
    let path = format!("/v1/vehicles/{vehicle}/events");
    let (status, etag, _, _) = conditional(&app, &token, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let etag = etag.unwrap();

    // Another organisation's caller: a 404 like a missing vehicle, whatever it claims to hold.
    let stranger = app.token("org_b", &[Role::Owner]);
    for tag in [None, Some("*"), Some(etag.as_str())] {
        let (status, etag, _, body) = conditional(&app, &stranger, &path, tag).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{tag:?}: {body}");
        assert!(etag.is_none(), "a 404 names no ETag");
    }
    // A bad parameter is a 422 before the ETag is looked at.
    let (status, _, _, body) = conditional(
        &app,
        &token,
        &format!("{path}?limit=0"),
        Some(etag.as_str()),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // A missing vehicle of the caller's own organisation: 404 too.
    let (status, _, _, _) = conditional(
        &app,
        &token,
        &format!(
            "/v1/vehicles/{}/events",
            vwc_contracts::VehicleId::generate()
        ),
        Some("*"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}
