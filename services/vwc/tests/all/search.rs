//! Search across an organisation's records (issue 14, item 8), black-box over HTTP: titles, notes, vendors
//! and parts; highlights; pages; tenancy; bad input.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::{json as body, vin};

use super::common;
use common::{pluck, record, spawn_as};

async fn search(app: &TestApp, token: &str, query: &str) -> Value {
    app.get_ok(token, &format!("/v1/search?{query}")).await
}

/// The highlighted words of a hit's field, as text.
fn marked(hit: &Value, field: &str) -> Vec<String> {
    let Some(h) = hit["highlights"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["field"] == field)
    else {
        return Vec::new();
    };
    let fragment: Vec<char> = h["fragment"].as_str().unwrap().chars().collect();
    h["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let (s, e) = (r["start"].as_u64().unwrap(), r["end"].as_u64().unwrap());
            fragment[s as usize..e as usize].iter().collect()
        })
        .collect()
}

struct Fleet {
    app: TestApp,
    a: String,
    b: String,
    car_a: String,
    car_b: String,
    brake_job: String,
    hitch: String,
}

async fn fleet() -> Fleet {
    let (app, a) = spawn_as(&[Role::Owner]).await;
    let b = app.token("org_b", &[Role::Owner]);
    let car_a = app.register(&a, &vin(1)).await;
    let car_b = app.register(&b, &vin(2)).await;
    let brake_job = record(
        &app,
        &a,
        &car_a,
        json!({"kind": "repair", "occurredAt": "2026-03-02T09:30:00Z", "odometer": 41250,
            "title": "Front brake job", "notes": "Replaced front brake pads and rotors; the squeal is gone.",
            "vendor": {"name": "Main St Auto"},
            "details": {"system": "brakes", "parts": ["Brake pads (front)", "Rotors"]}}),
    )
    .await;
    record(
        &app,
        &a,
        &car_a,
        json!({"kind": "maintenance", "occurredAt": "2026-04-02T09:30:00Z", "odometer": 43000,
            "title": "Oil and filter change", "vendor": {"name": "Quick Lube"},
            "details": {"tasks": ["oil_change"]}}),
    )
    .await;
    let hitch = record(
        &app,
        &a,
        &car_a,
        json!({"kind": "upgrade", "occurredAt": "2026-05-02T09:30:00Z",
            "title": "Tow hitch installed", "notes": "Includes a trailer brake controller.",
            "details": {"category": "towing"}}),
    )
    .await;
    record(
        &app,
        &b,
        &car_b,
        json!({"kind": "repair", "occurredAt": "2026-03-05T09:30:00Z",
            "title": "Brake fluid flush", "vendor": {"name": "Main St Auto"}, "details": {}}),
    )
    .await;
    app.timeline_of_len(&a, &car_a, 3).await;
    app.timeline_of_len(&b, &car_b, 1).await;
    Fleet {
        app,
        a,
        b,
        car_a,
        car_b,
        brake_job,
        hitch,
    }
}

#[tokio::test]
async fn search_finds_titles_notes_vendors_and_parts_and_highlights_the_words() {
    let f = fleet().await;
    // "brakes" meets "brake" (one stem); the brake job matches in its title, notes and parts, the hitch
    // only in its notes: the brake job ranks first.
    let r = search(&f.app, &f.a, "q=brakes").await;
    let ids = pluck(&r["items"], "eventId");
    assert_eq!(ids, [f.brake_job.as_str(), f.hitch.as_str()], "{r}");
    assert_eq!(r["total"], 2);
    assert_eq!(r["nextCursor"], Value::Null);
    assert_eq!(r["truncated"], false);
    let hit = &r["items"][0];
    assert_eq!(hit["vehicleId"], f.car_a.as_str());
    assert_eq!(hit["vehicle"], "2020 Honda Accord");
    assert_eq!(hit["kind"], "repair");
    assert_eq!(hit["title"], "Front brake job");
    assert_eq!(hit["occurredAt"], "2026-03-02T09:30:00Z");
    assert_eq!(marked(hit, "title"), ["brake"]);
    assert_eq!(marked(hit, "notes"), ["brake"]);
    assert_eq!(marked(hit, "parts"), ["Brake"]);
    assert!(marked(hit, "vendor").is_empty());
    assert!(hit["score"].as_f64().unwrap() > r["items"][1]["score"].as_f64().unwrap());
    assert_eq!(marked(&r["items"][1], "notes"), ["brake"]);

    // Vendors and parts are searched too; several words match any of them.
    let r = search(&f.app, &f.a, "q=quick%20lube").await;
    assert_eq!(r["total"], 1);
    assert_eq!(marked(&r["items"][0], "vendor"), ["Quick", "Lube"]);
    let r = search(&f.app, &f.a, "q=rotor").await;
    assert_eq!(r["items"][0]["eventId"], f.brake_job.as_str());
    assert_eq!(marked(&r["items"][0], "parts"), ["Rotors"]);
    assert_eq!(marked(&r["items"][0], "notes"), ["rotors"]);
    assert_eq!(search(&f.app, &f.a, "q=sunroof").await["items"], json!([]));
    f.app.stop().await;
}

#[tokio::test]
async fn search_keeps_to_the_callers_organisation() {
    let f = fleet().await;
    // Both organisations have a "Main St Auto" record; each sees only its own.
    let a = search(&f.app, &f.a, "q=main%20st").await;
    let b = search(&f.app, &f.b, "q=main%20st").await;
    assert_eq!(a["total"], 1);
    assert_eq!(a["items"][0]["vehicleId"], f.car_a.as_str());
    assert_eq!(b["total"], 1);
    assert_eq!(b["items"][0]["vehicleId"], f.car_b.as_str());
    assert_eq!(b["items"][0]["title"], "Brake fluid flush");
    // Narrowing to another organisation's vehicle is a 404, like one that does not exist.
    for vehicle in [f.car_a.as_str(), "veh_nope"] {
        let (status, ct, _) = body(
            f.app
                .get(&f.b, &format!("/v1/search?q=brake&vehicleId={vehicle}"))
                .await,
        )
        .await;
        assert_eq!((status, ct.as_str()), (404, "application/problem+json"));
    }
    let own = search(&f.app, &f.a, &format!("q=brake&vehicleId={}", f.car_a)).await;
    assert_eq!(own["total"], 2);
    // A viewer may search; no token is a 401.
    let viewer = f.app.token("org_a", &[Role::Viewer]);
    assert_eq!(search(&f.app, &viewer, "q=brake").await["total"], 2);
    let anonymous = f
        .app
        .http
        .get(f.app.url("/v1/search?q=brake"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    f.app.stop().await;
}

#[tokio::test]
async fn search_pages_with_a_cursor_and_refuses_bad_input() {
    let f = fleet().await;
    for i in 0..5 {
        record(
            &f.app,
            &f.a,
            &f.car_a,
            json!({"kind": "maintenance", "occurredAt": format!("2026-0{}-10T09:00:00Z", i + 1),
                "title": format!("Tire rotation {i}"), "details": {"tasks": ["tire_rotation"]}}),
        )
        .await;
    }
    f.app.timeline_of_len(&f.a, &f.car_a, 8).await;
    let mut seen = BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q = "q=tires&limit=2".to_string();
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let page = search(&f.app, &f.a, &q).await;
        assert_eq!(page["total"], 5);
        for hit in page["items"].as_array().unwrap() {
            assert!(seen.insert(hit["eventId"].as_str().unwrap().to_string()));
        }
        pages += 1;
        if pages == 1 {
            // A matching record arrives while the pages are read: the later pages go on with the
            // listing the first began (it used to push a record already shown onto the next page).
            record(
                &f.app,
                &f.a,
                &f.car_a,
                json!({"kind": "maintenance", "occurredAt": "2026-01-01T09:00:00Z",
                    "title": "Tire rotation, tires tires", "details": {"tasks": ["tire_rotation"]}}),
            )
            .await;
            f.app.timeline_of_len(&f.a, &f.car_a, 9).await;
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!((pages, seen.len()), (3, 5));
    // A new listing has it.
    assert_eq!(search(&f.app, &f.a, "q=tires&limit=2").await["total"], 6);

    let first = search(&f.app, &f.a, "q=tires&limit=2").await;
    let other_query_cursor = first["nextCursor"].as_str().unwrap();
    for bad in [
        "".to_string(),
        "q=".to_string(),
        "q=%20%20".to_string(),
        "q=the%20and".to_string(),
        format!("q={}", "a".repeat(201)),
        "q=brake&limit=0".to_string(),
        "q=brake&limit=51".to_string(),
        "q=brake&limit=two".to_string(),
        "q=brake&cursor=garbage".to_string(),
        format!("q=brake&cursor={other_query_cursor}"),
    ] {
        let (status, ct, problem) = body(f.app.get(&f.a, &format!("/v1/search?{bad}")).await).await;
        assert_eq!(status, 422, "{bad}: {problem}");
        assert_eq!(ct, "application/problem+json");
    }
    f.app.stop().await;
}
