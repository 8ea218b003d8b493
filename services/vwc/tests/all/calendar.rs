//! The maintenance calendar feed (issue 14, item 7), black-box over HTTP and parsed with an independent
//! iCalendar implementation (the `icalendar` crate): signed URLs that need no token, stable UIDs, projected
//! dates for mileage-based items, tenancy, and revocation by rotation.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use icalendar::{Calendar, CalendarComponent, Component, DatePerhapsTime};
use serde_json::{Value, json};
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::{eventually, json as body, vin};

use super::common;
use common::{demo_rav4, get, poll_get, post, record, spawn_as};

/// One parsed event: (DTSTART date, STATUS, SUMMARY, vehicle id).
type Events = BTreeMap<String, (NaiveDate, String, String, String)>;

/// Fetches a feed (with a token or none), checks it is a calendar, and parses it.
async fn feed(app: &TestApp, url: &str, token: Option<&str>) -> Events {
    let mut request = app.http.get(url);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    assert_eq!(
        response.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert!(text.lines().all(|l| l.len() <= 76), "folded at 75 octets");
    assert!(text.contains("\r\n"), "CRLF line ends");
    // The strict parser refuses malformed content lines; the typed calendar is built from the same parse.
    icalendar::parser::read_calendar(&icalendar::parser::unfold(&text))
        .unwrap_or_else(|e| panic!("not iCalendar: {e}\n{text}"));
    let calendar: Calendar = text.parse().unwrap();
    let mut events = Events::new();
    for c in &calendar.components {
        let CalendarComponent::Event(e) = c else {
            continue;
        };
        let uid = e.get_uid().expect("UID").to_string();
        let Some(DatePerhapsTime::Date(start)) = e.get_start() else {
            panic!("{uid}: an all-day DTSTART");
        };
        let status = e.property_value("STATUS").unwrap_or_default().to_string();
        let summary = e.get_summary().unwrap_or_default().to_string();
        let vehicle = e
            .property_value("X-VWC-VEHICLE-ID")
            .unwrap_or_default()
            .to_string();
        assert!(
            events
                .insert(uid.clone(), (start, status, summary, vehicle))
                .is_none(),
            "{uid} twice"
        );
    }
    events
}

/// Each event's `SEQUENCE` in a signed feed, by UID.
async fn sequences(app: &TestApp, url: &str) -> BTreeMap<String, u32> {
    let text = app
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let calendar: Calendar = text.parse().unwrap();
    calendar
        .components
        .iter()
        .filter_map(|c| match c {
            CalendarComponent::Event(e) => Some((
                e.get_uid().expect("UID").to_string(),
                e.property_value("SEQUENCE")
                    .and_then(|s| s.parse().ok())
                    .expect("a SEQUENCE"),
            )),
            _ => None,
        })
        .collect()
}

async fn maintenance(app: &TestApp, token: &str, vehicle: &str) -> Value {
    app.get_ok(token, &format!("/v1/vehicles/{vehicle}/maintenance"))
        .await
}

/// The date the feed should show for an item: its due date or its projected date, whichever is first; an
/// overdue item's is today (the day the feed is read: probe p44 L6).
fn expected_date(item: &Value) -> Option<(NaiveDate, bool)> {
    let date = |k: &str| item[k].as_str().map(|s| s.parse::<NaiveDate>().unwrap());
    let due = match (date("dueAt"), date("projectedDueAt")) {
        (Some(d), Some(p)) if p < d => Some((p, true)),
        (Some(d), _) => Some((d, false)),
        (None, Some(p)) => Some((p, true)),
        (None, None) => None,
    };
    match item["status"] == "overdue" {
        true => Some((
            vwc_clock::now().date_naive(),
            due.is_some_and(|(_, projected)| projected),
        )),
        false => due,
    }
}

#[tokio::test]
async fn the_signed_vehicle_feed_parses_with_stable_uids_and_projected_mileage_dates() {
    let app = TestApp::spawn().await;
    let (token, rav4) = demo_rav4(&app, &[Role::Owner]).await;
    eventually(
        "a maintenance picture with a projected item",
        Duration::from_secs(10),
        || async {
            let m = maintenance(&app, &token, &rav4).await;
            let items = m["items"].as_array()?;
            (items.len() >= 12 && items.iter().any(|i| i["projectedDueAt"].is_string()))
                .then_some(())
        },
    )
    .await;
    app.settle().await;
    let view = maintenance(&app, &token, &rav4).await;

    let (status, _, url) = get(
        &app,
        &token,
        &format!("/v1/vehicles/{rav4}/maintenance/calendar"),
    )
    .await;
    assert_eq!(status, 200, "{url}");
    let calendar_url = url["calendarUrl"].as_str().unwrap().to_string();
    assert!(
        calendar_url.starts_with(&app.base) && calendar_url.ends_with("/maintenance.ics"),
        "{calendar_url}"
    );
    assert_eq!(
        url["calendarPath"].as_str(),
        calendar_url.strip_prefix(&app.base)
    );
    // No token: the signed URL is the credential.
    let events = feed(&app, &calendar_url, None).await;

    let mut projected = 0;
    let mut dated = 0;
    let mut overdue = 0;
    for item in view["items"].as_array().unwrap() {
        let uid = format!(
            "{rav4}.{}@maintenance.vwc.dev",
            item["task"].as_str().unwrap()
        );
        match expected_date(item).filter(|_| item["enabled"] == true) {
            Some((date, by_mileage)) => {
                let (start, status, summary, vehicle) =
                    events.get(&uid).unwrap_or_else(|| panic!("{uid} missing"));
                assert_eq!(*start, date, "{uid}");
                assert_eq!(vehicle, &rav4);
                assert!(
                    summary.contains(item["title"].as_str().unwrap()),
                    "{summary}"
                );
                assert!(summary.starts_with("Blue (2021 Toyota RAV4)"), "{summary}");
                if item["status"] == "overdue" {
                    assert!(summary.contains(" (overdue"), "{summary}");
                    overdue += 1;
                }
                if by_mileage {
                    assert_eq!(status, "TENTATIVE", "{uid}: a projected date");
                    projected += 1;
                } else {
                    assert_eq!(status, "CONFIRMED", "{uid}");
                }
                dated += 1;
            }
            None => assert!(!events.contains_key(&uid), "{uid} has no date"),
        }
    }
    assert_eq!(events.len(), dated);
    assert!(overdue > 0, "the demo RAV4 has overdue items: {view}");
    assert!(
        projected >= 1,
        "at least one mileage item is placed on its projected date"
    );

    // The bearer route answers the same calendar.
    let with_token = feed(
        &app,
        &app.url(&format!("/v1/vehicles/{rav4}/maintenance.ics")),
        Some(&token),
    )
    .await;
    assert_eq!(with_token, events);

    // A refresh without a change keeps every event's SEQUENCE.
    let sequenced = sequences(&app, &calendar_url).await;
    assert_eq!(sequences(&app, &calendar_url).await, sequenced);
    // A new odometer reading re-evaluates the schedule: the same UIDs come back (apps move events).
    let evaluated = view["evaluatedAt"].clone();
    let odometer = view["odometer"]["value"].as_u64().unwrap();
    // (SEQUENCE counts the evaluation in seconds: the next one falls in a later second.)
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    app.record_odometer(&token, &rav4, 0, odometer + 1500).await;
    eventually("a re-evaluation", Duration::from_secs(10), || async {
        (maintenance(&app, &token, &rav4).await["evaluatedAt"] != evaluated).then_some(())
    })
    .await;
    app.settle().await;
    let again = feed(&app, &calendar_url, None).await;
    assert_eq!(
        again.keys().collect::<Vec<_>>(),
        events.keys().collect::<Vec<_>>()
    );
    // …each with a greater SEQUENCE, so clients that order revisions by it take the new dates.
    let resequenced = sequences(&app, &calendar_url).await;
    for (uid, before) in &sequenced {
        assert!(
            resequenced[uid] > *before,
            "{uid}: {before} → {}",
            resequenced[uid]
        );
    }

    // The fleet feed holds the same vehicle's events under the same UIDs, and the Civic's.
    let fleet_url = app
        .get_ok(&token, "/v1/notifications/preferences/calendar")
        .await["calendarUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let fleet = feed(&app, &fleet_url, None).await;
    for uid in again.keys() {
        assert!(fleet.contains_key(uid), "{uid} in the fleet feed");
    }
    assert!(fleet.values().any(|(.., v)| v != &rav4), "the Civic too");
    app.stop().await;
}

/// The vehicle's calendar subscription (`calendarUrl`, `calendarPath`) as `token` is given it.
async fn vehicle_calendar(app: &TestApp, token: &str, vehicle: &str) -> Value {
    app.get_ok(
        token,
        &format!("/v1/vehicles/{vehicle}/maintenance/calendar"),
    )
    .await
}

async fn vehicle_with_an_oil_change(app: &TestApp, token: &str, n: u32) -> String {
    let vehicle = app.register(token, &vin(n)).await;
    let done = vwc_clock::now() - chrono::Duration::days(20);
    let oil_change = json!({"kind": "maintenance", "occurredAt": done, "odometer": 30000,
        "details": {"tasks": ["oil_change"]}});
    record(app, token, &vehicle, oil_change).await;
    // The edge may not hold the vehicle yet (404): `poll_get` keeps waiting.
    let maintenance = format!("/v1/vehicles/{vehicle}/maintenance");
    poll_get(app, token, &maintenance, "a dated oil change", |m| {
        m["items"]
            .as_array()?
            .iter()
            .any(|i| i["task"] == "oil_change" && expected_date(i).is_some())
            .then_some(())
    })
    .await;
    vehicle
}

#[tokio::test]
async fn calendar_feeds_keep_to_their_organisation_and_rotation_revokes_every_signed_url() {
    let (app, a) = spawn_as(&[Role::Owner]).await;
    let b = app.token("org_b", &[Role::Owner]);
    let viewer_a = app.token("org_a", &[Role::Viewer]);
    let car_a = vehicle_with_an_oil_change(&app, &a, 1).await;
    let car_b = vehicle_with_an_oil_change(&app, &b, 2).await;

    // Another organisation's vehicle is a 404, with a token or through a URL signed for another org.
    for path in [
        format!("/v1/vehicles/{car_a}/maintenance.ics"),
        format!("/v1/vehicles/{car_a}/maintenance/calendar"),
    ] {
        let (status, ct, _) = get(&app, &b, &path).await;
        assert_eq!(
            (status, ct.as_str()),
            (404, "application/problem+json"),
            "{path}"
        );
    }
    let url_b = vehicle_calendar(&app, &b, &car_b).await["calendarPath"]
        .as_str()
        .unwrap()
        .to_string();
    let signature_b = url_b.split('/').nth(3).unwrap().to_string();
    for forged in [
        url_b.replace(&car_b, &car_a),
        url_b.replace("org_b", "org_a"),
        format!("/calendar/org_b/{signature_b}/fleet/maintenance.ics"),
        url_b.replace(&signature_b, "AAAA"),
    ] {
        let response = app.http.get(app.url(&forged)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{forged}");
    }

    // Organisation A's fleet feed holds A's vehicle and nothing of B's.
    let fleet_a = app
        .get_ok(&viewer_a, "/v1/notifications/preferences/calendar")
        .await;
    let old_fleet = fleet_a["calendarUrl"].as_str().unwrap().to_string();
    let old_vehicle = vehicle_calendar(&app, &a, &car_a).await["calendarUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let events = feed(&app, &old_fleet, None).await;
    assert!(events.contains_key(&format!("{car_a}.oil_change@maintenance.vwc.dev")));
    assert!(events.values().all(|(.., v)| v == &car_a), "{events:?}");
    let events_b = feed(&app, &app.url(&url_b), None).await;
    assert!(events_b.values().all(|(.., v)| v == &car_b));

    // Rotation needs configure_notifications, and revokes every URL issued before.
    let rotate = "/v1/notifications/preferences/calendar/rotate";
    let (status, _, _) = post(&app, &viewer_a, rotate, &json!({})).await;
    assert_eq!(status, 403);
    feed(&app, &old_fleet, None).await;
    let (status, _, rotated) = post(&app, &a, rotate, &json!({})).await;
    assert_eq!(status, 200, "{rotated}");
    let new_fleet = rotated["calendarUrl"].as_str().unwrap();
    assert_ne!(new_fleet, old_fleet);
    for revoked in [&old_fleet, &old_vehicle] {
        let (status, ct, _) = body(app.http.get(revoked).send().await.unwrap()).await;
        assert_eq!(
            (status, ct.as_str()),
            (404, "application/problem+json"),
            "{revoked}"
        );
    }
    assert_eq!(feed(&app, new_fleet, None).await, events);
    let new_vehicle = vehicle_calendar(&app, &a, &car_a).await["calendarUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_vehicle, old_vehicle);
    feed(&app, &new_vehicle, None).await;
    // B's URLs are untouched by A's rotation.
    feed(&app, &app.url(&url_b), None).await;
    // Without a token the bearer routes are 401.
    let response = vwc_testkit::get_anonymous(
        &app.http,
        app.url(&format!("/v1/vehicles/{car_a}/maintenance.ics")),
    )
    .await;
    assert_eq!(response.status(), 401);
    app.stop().await;
}

/// With `--public-url` the signed URLs start with it, whatever host the request names; without it they
/// name the request's host (`X-Forwarded-Host` first), which a client chooses.
#[tokio::test]
async fn signed_urls_start_with_the_public_url_not_a_host_the_client_names() {
    let forged = |app: &TestApp, token: &str, path: &str| {
        app.http
            .get(app.url(path))
            .bearer_auth(token)
            .header("x-forwarded-host", "attacker.example")
            .header("x-forwarded-proto", "https")
            .send()
    };
    let app = TestApp::spawn_with(tempfile::tempdir().unwrap(), |o| {
        o.public_url = Some("https://vwc.example.com/".into());
    })
    .await;
    let token = app.token("org_a", &[Role::Owner]);
    let vehicle = app.register(&token, &vin(41)).await;
    // The calendar routes read the vehicle from the read model: wait until it is projected.
    app.settle().await;
    for path in [
        format!("/v1/vehicles/{vehicle}/maintenance/calendar"),
        "/v1/notifications/preferences/calendar".to_string(),
    ] {
        let r = forged(&app, &token, &path).await.unwrap();
        let (status, _, feed) = vwc_testkit::json(r).await;
        assert_eq!(status, 200, "{path}: {feed}");
        let url = feed["calendarUrl"].as_str().unwrap();
        let path = feed["calendarPath"].as_str().unwrap();
        assert_eq!(url, format!("https://vwc.example.com{path}"));
    }
    app.stop().await;

    // Without it: the host the request named (one machine, no proxy in front).
    let app = TestApp::spawn().await;
    let token = app.token("org_a", &[Role::Owner]);
    let feed = app
        .get_ok(&token, "/v1/notifications/preferences/calendar")
        .await;
    let url = feed["calendarUrl"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/calendar/", app.base)), "{url}");
    app.stop().await;

    for bad in [
        "vwc.example.com",
        "ftp://vwc.example.com",
        "https://vwc.example.com/app",
        "https://u@vwc.example.com",
    ] {
        assert!(vwc::embedded::public_url(bad).is_err(), "{bad}");
    }
    assert_eq!(
        &*vwc::embedded::public_url("http://127.0.0.1:8080/").unwrap(),
        "http://127.0.0.1:8080"
    );
}
