//! Dealer webhooks: Standard Webhooks signatures, replays, size and schema limits, unmatched VINs.

use serde_json::{Value, json};
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::{json as body, vin};
use vwc_webhook::{WebhookSecret, sign};

use super::common;
use common::{patch, post, spawn_as, spawn_with_vehicle};

struct Dealer {
    id: String,
    secret: WebhookSecret,
}

async fn register_dealer(app: &TestApp, token: &str, name: &str) -> Dealer {
    let (status, _, created) = post(app, token, "/v1/dealers", &json!({"name": name})).await;
    assert_eq!(status, 201, "{created}");
    Dealer {
        id: created["dealerId"].as_str().unwrap().to_string(),
        secret: WebhookSecret::parse(created["webhookSecret"].as_str().unwrap()).unwrap(),
    }
}

fn service_record(vin: &str, odometer: u64) -> Value {
    json!({"type": "service_record", "vin": vin, "occurredAt": "2026-02-01T09:00:00Z", "odometer": odometer,
        "totalCents": 12999, "currency": "USD", "reference": "RO-1001",
        "lines": [{"description": "Synthetic oil change", "task": "oil_change", "amountCents": 8999},
                  {"description": "Tire rotation", "task": "tire_rotation", "amountCents": 4000}]})
}

/// Sends `payload` to the dealer's webhook with the given headers (None = header left out).
async fn send(
    app: &TestApp,
    dealer_id: &str,
    id: Option<&str>,
    timestamp: Option<String>,
    signature: Option<String>,
    raw: &[u8],
) -> (u16, String, Value) {
    let mut req = app
        .http
        .post(app.url(&format!("/webhooks/dealers/{dealer_id}")))
        .header("content-type", "application/json")
        .body(raw.to_vec());
    if let Some(id) = id {
        req = req.header("webhook-id", id);
    }
    if let Some(ts) = timestamp {
        req = req.header("webhook-timestamp", ts);
    }
    if let Some(sig) = signature {
        req = req.header("webhook-signature", sig);
    }
    body(req.send().await.unwrap()).await
}

async fn send_signed(
    app: &TestApp,
    dealer: &Dealer,
    id: &str,
    payload: &Value,
) -> (u16, String, Value) {
    let raw = serde_json::to_vec(payload).unwrap();
    let now = app.system().clock.now().timestamp();
    let sig = sign(&dealer.secret, id, now, &raw);
    send(
        app,
        &dealer.id,
        Some(id),
        Some(now.to_string()),
        Some(sig),
        &raw,
    )
    .await
}

/// A delivery the receiver must refuse: (case, dealer, `webhook-id`, `webhook-timestamp`,
/// `webhook-signature`).
type Refusal<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<String>,
    Option<String>,
);

#[tokio::test]
async fn the_webhook_table() {
    let (app, fleet, vehicle) = spawn_with_vehicle(&[Role::FleetManager], 1).await;
    let dealer = register_dealer(&app, &fleet, "Main St Auto").await;
    let other = register_dealer(
        &app,
        &app.token("org_b", &[Role::FleetManager]),
        "Elsewhere Motors",
    )
    .await;
    let payload = service_record(&vin(1), 41250);
    let raw = serde_json::to_vec(&payload).unwrap();
    let now = app.system().clock.now().timestamp();
    let good = |id: &str, ts: i64| sign(&dealer.secret, id, ts, &raw);

    // Every signature problem is a 401 and stores nothing.
    let (at_now, signed_now) = (Some(now.to_string()), Some(good("m1", now)));
    let at = |t: i64| Some(t.to_string());
    let refused: Vec<Refusal> = vec![
        (
            "no webhook-id",
            &dealer.id,
            None,
            at_now.clone(),
            signed_now.clone(),
        ),
        (
            "no timestamp",
            &dealer.id,
            Some("m1"),
            None,
            signed_now.clone(),
        ),
        ("no signature", &dealer.id, Some("m1"), at_now.clone(), None),
        (
            "bad signature",
            &dealer.id,
            Some("m1"),
            at_now.clone(),
            Some("v1,Zm9vYmFy".into()),
        ),
        (
            "empty v1,",
            &dealer.id,
            Some("m1"),
            at_now.clone(),
            Some("v1,".into()),
        ),
        (
            "signed for another id",
            &dealer.id,
            Some("m1"),
            at_now.clone(),
            Some(good("m2", now)),
        ),
        // Ten seconds beyond the 300 s tolerance: the requests before this one take time too.
        (
            "stale timestamp",
            &dealer.id,
            Some("m1"),
            at(now - 310),
            Some(good("m1", now - 310)),
        ),
        // Beyond the tolerance by more than the seconds this table takes to send (once it was sent 1 s
        // after `now` on a loaded machine, and 301 s ahead had become 300: accepted).
        (
            "future timestamp",
            &dealer.id,
            Some("m1"),
            at(now + 310),
            Some(good("m1", now + 310)),
        ),
        (
            "another dealer's secret",
            &dealer.id,
            Some("m1"),
            at_now.clone(),
            Some(sign(&other.secret, "m1", now, &raw)),
        ),
        (
            "unknown dealer",
            "dlr_nope",
            Some("m1"),
            at_now.clone(),
            signed_now.clone(),
        ),
    ];
    for (name, dealer_id, id, timestamp, signature) in refused {
        let (status, ct, problem) = send(&app, dealer_id, id, timestamp, signature, &raw).await;
        assert_eq!(status, 401, "{name}: {problem}");
        assert_eq!(ct, "application/problem+json", "{name}");
        assert_eq!(
            problem["detail"], "missing or invalid credentials",
            "{name}: says nothing about which check failed"
        );
    }
    app.timeline_of_len(&fleet, &vehicle, 0).await;

    // Valid → recorded and in the timeline, attributed to the dealer.
    let (status, _, answer) = send(
        &app,
        &dealer.id,
        Some("m1"),
        Some(now.to_string()),
        Some(good("m1", now)),
        &raw,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "recorded");
    let items = app.timeline_of_len(&fleet, &vehicle, 1).await;
    assert_eq!(items[0]["id"], answer["eventId"]);
    assert_eq!(items[0]["kind"], "maintenance");
    assert_eq!(items[0]["source"], "dealer");
    assert_eq!(items[0]["vendor"]["dealerId"], dealer.id.as_str());
    assert_eq!(
        items[0]["details"]["tasks"],
        json!(["oil_change", "tire_rotation"])
    );

    // A replay of the same webhook-id: 200 duplicate, no second event.
    let (status, _, replay) = send_signed(&app, &dealer, "m1", &payload).await;
    assert_eq!(
        (status, replay["status"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(replay["eventId"], answer["eventId"]);
    app.settle().await;
    assert_eq!(app.timeline_of_len_at_most(&fleet, &vehicle, 1).await, 1);

    // Oversize → 413; schema errors → 422.
    let mut big = service_record(&vin(1), 1);
    big["notes"] = json!("x".repeat(300 * 1024));
    let (status, ct, _) = send_signed(&app, &dealer, "m-big", &big).await;
    assert_eq!((status, ct.as_str()), (413, "application/problem+json"));
    for (name, bad) in [
        (
            "unknown type",
            json!({"type": "oil_delivery", "vin": vin(1), "occurredAt": "2026-01-01T00:00:00Z"}),
        ),
        (
            "missing vin",
            json!({"type": "repair_order", "occurredAt": "2026-01-01T00:00:00Z"}),
        ),
        (
            "bad vin",
            json!({"type": "repair_order", "vin": "NOTAVIN", "occurredAt": "2026-01-01T00:00:00Z"}),
        ),
        (
            "collision without severity",
            json!({"type": "collision_report", "vin": vin(1), "occurredAt": "2026-01-01T00:00:00Z"}),
        ),
        (
            "service record without tasks",
            json!({"type": "service_record", "vin": vin(1), "occurredAt": "2026-01-01T00:00:00Z", "lines": []}),
        ),
        (
            "negative total",
            json!({"type": "repair_order", "vin": vin(1), "occurredAt": "2026-01-01T00:00:00Z", "totalCents": -5}),
        ),
    ] {
        let (status, ct, problem) = send_signed(&app, &dealer, &format!("m-{name}"), &bad).await;
        assert_eq!(status, 422, "{name}: {problem}");
        assert_eq!(ct, "application/problem+json");
    }
    app.timeline_of_len(&fleet, &vehicle, 1).await;
    app.stop().await;
}

#[tokio::test]
async fn a_rotated_secret_keeps_working_for_24_hours_and_not_after() {
    let (app, fleet, vehicle) = spawn_with_vehicle(&[Role::FleetManager], 2).await;
    let old = register_dealer(&app, &fleet, "Main St Auto").await;
    let (status, _, rotated) = post(
        &app,
        &fleet,
        &format!("/v1/dealers/{}/rotate-secret", old.id),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let new = Dealer {
        id: old.id.clone(),
        secret: WebhookSecret::parse(rotated["webhookSecret"].as_str().unwrap()).unwrap(),
    };
    assert_ne!(new.secret.expose(), old.secret.expose());
    assert_eq!(
        send_signed(&app, &old, "r1", &service_record(&vin(2), 100))
            .await
            .0,
        200
    );
    assert_eq!(
        send_signed(&app, &new, "r2", &service_record(&vin(2), 200))
            .await
            .0,
        200
    );
    app.system().clock.advance(chrono::Duration::hours(25));
    let (status, _, _) = send_signed(&app, &old, "r3", &service_record(&vin(2), 300)).await;
    assert_eq!(status, 401, "the old secret 25 h after rotation");
    assert_eq!(
        send_signed(&app, &new, "r4", &service_record(&vin(2), 400))
            .await
            .0,
        200
    );
    let items = app.timeline_of_len(&fleet, &vehicle, 3).await;
    assert!(items.iter().all(|e| e["odometer"] != 300));
    app.stop().await;
}

#[tokio::test]
async fn an_unmatched_vin_is_kept_and_becomes_events_when_registered() {
    let (app, fleet) = spawn_as(&[Role::FleetManager]).await;
    let dealer = register_dealer(&app, &fleet, "Lakeside Toyota").await;
    let (status, _, first) =
        send_signed(&app, &dealer, "u1", &service_record(&vin(3), 15000)).await;
    assert_eq!((status, first["status"].as_str()), (200, Some("unmatched")));
    assert!(
        first["dealerRecordId"]
            .as_str()
            .unwrap()
            .starts_with("dlrec_")
    );
    let sale = json!({"type": "sale", "vin": vin(3), "occurredAt": "2025-06-01T12:00:00Z", "odometer": 12,
        "totalCents": 3150000, "condition": "new"});
    assert_eq!(
        send_signed(&app, &dealer, "u2", &sale).await.2["status"],
        "unmatched"
    );
    // A vehicle with that VIN in another organisation does not claim them.
    let other = app.token("org_b", &[Role::FleetManager]);
    let elsewhere = app.register(&other, &vin(3)).await;
    let vehicle = app.register(&fleet, &vin(3)).await;
    let items = app.timeline_of_len(&fleet, &vehicle, 2).await;
    let kinds: Vec<_> = items.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["maintenance", "acquisition"]);
    assert_eq!(items[1]["details"]["seller"], "Lakeside Toyota");
    app.timeline_of_len(&other, &elsewhere, 0).await;
    // A later webhook for the now-registered VIN is recorded directly.
    assert_eq!(
        send_signed(&app, &dealer, "u3", &service_record(&vin(3), 20000))
            .await
            .2["status"],
        "recorded"
    );
    app.timeline_of_len(&fleet, &vehicle, 3).await;
    app.stop().await;
}

#[tokio::test]
async fn dealer_secrets_are_shown_once_and_only_fleet_managers_manage_dealers() {
    let (app, owner) = spawn_as(&[Role::Owner]).await;
    let (status, _, _) = post(&app, &owner, "/v1/dealers", &json!({"name": "X"})).await;
    assert_eq!(status, 403);
    let fleet = app.token("org_a", &[Role::FleetManager]);
    let dealer = register_dealer(&app, &fleet, "Main St Auto").await;
    assert!(dealer.secret.expose().starts_with("whsec_"));
    // Another organisation's dealer is a 404; a same-organisation owner gets 403.
    let b = app.token("org_b", &[Role::FleetManager]);
    let rotate = format!("/v1/dealers/{}/rotate-secret", dealer.id);
    for (token, want) in [(&b, 404), (&owner, 403)] {
        let (status, _, _) = post(&app, token, &rotate, &json!({})).await;
        assert_eq!(status, want);
    }
    // The 403 names the permission as docs/roles.md does.
    let (_, _, problem) = post(&app, &owner, &rotate, &json!({})).await;
    assert_eq!(problem["detail"], "your roles do not allow manage_dealers");
    app.stop().await;
}

/// A record a person writes may name a dealer only of its own organisation: another organisation's id,
/// or no dealer's, is a 422 that records nothing (the timeline would attribute it to that dealer).
#[tokio::test]
async fn a_persons_record_names_only_a_dealer_of_its_organisation() {
    let (app, fleet, vehicle) = spawn_with_vehicle(&[Role::FleetManager], 61).await;
    let ours = register_dealer(&app, &fleet, "Main St Auto").await;
    let theirs = register_dealer(
        &app,
        &app.token("org_b", &[Role::FleetManager]),
        "Elsewhere Motors",
    )
    .await;
    let events = format!("/v1/vehicles/{vehicle}/events");
    let repair = |dealer: &str| {
        json!({"kind": "repair", "occurredAt": "2026-02-01T09:00:00Z",
            "vendor": {"name": "A garage", "dealerId": dealer}})
    };
    for named in [theirs.id.as_str(), "dlr_made_up", "anything <script>"] {
        let (status, _, problem) = post(&app, &fleet, &events, &repair(named)).await;
        assert_eq!(status, 422, "{named}: {problem}");
        assert_eq!(
            problem["errors"][0]["field"], "vendor.dealerId",
            "{problem}"
        );
    }
    let (status, _, created) = post(&app, &fleet, &events, &repair(&ours.id)).await;
    assert_eq!(status, 201, "{created}");
    app.timeline_of_len(&fleet, &vehicle, 1).await;
    // A correction cannot move the record to another organisation's dealer either.
    let id = created["event"]["id"].as_str().unwrap();
    let moved = json!({"vendor": {"name": "A garage", "dealerId": theirs.id}, "reason": "moved"});
    let (status, _, problem) = patch(&app, &fleet, &format!("{events}/{id}"), &moved).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        problem["errors"][0]["field"], "vendor.dealerId",
        "{problem}"
    );
    // Its own dealer stays, whatever else the correction changes.
    let costed = json!({"costCents": 1200, "currency": "USD", "reason": "receipt"});
    let (status, _, corrected) = patch(&app, &fleet, &format!("{events}/{id}"), &costed).await;
    assert_eq!(status, 200, "{corrected}");
    app.stop().await;
}

#[tokio::test]
async fn a_record_dated_after_the_vehicles_sale_is_refused_and_nothing_is_kept() {
    let (app, fleet) = spawn_as(&[Role::FleetManager]).await;
    let dealer = register_dealer(&app, &fleet, "Lakeside Toyota").await;
    let vehicle = app.register(&fleet, &vin(9)).await;
    let (status, _, sold) = post(
        &app,
        &fleet,
        &format!("/v1/vehicles/{vehicle}/sell"),
        &json!({"soldAt": "2026-01-15T12:00:00Z", "priceCents": 1_500_000, "currency": "USD",
            "odometer": 16_000}),
    )
    .await;
    assert_eq!(status, 200, "{sold}");
    // service_record is dated 2026-02-01, after the sale: a 422 on occurredAt naming the sale, twice (the
    // first delivery kept nothing, so the second is not a duplicate).
    for _ in 0..2 {
        let (status, ctype, problem) =
            send_signed(&app, &dealer, "s1", &service_record(&vin(9), 15_000)).await;
        assert_eq!(status, 422, "{problem}");
        assert!(ctype.starts_with("application/problem+json"));
        assert!(common::names_field(&problem, "occurredAt"), "{problem}");
        assert!(
            problem.to_string().contains("2026-01-15T12:00:00Z"),
            "{problem}"
        );
    }
    app.settle().await;
    app.timeline_of_len(&fleet, &vehicle, 0).await;
    // Late paperwork from before the sale is recorded.
    let mut before = service_record(&vin(9), 15_000);
    before["occurredAt"] = json!("2026-01-10T09:00:00Z");
    let (status, _, receipt) = send_signed(&app, &dealer, "s2", &before).await;
    assert_eq!(
        (status, receipt["status"].as_str()),
        (200, Some("recorded")),
        "{receipt}"
    );
    app.timeline_of_len(&fleet, &vehicle, 1).await;
    app.stop().await;
}

/// A dealer's single-line field (the title, a repair line's description, the system, a claim id) with a line
/// break or another control character is the webhook's documented schema error — 422 problem+json naming
/// the payload's field — and keeps nothing, so the corrected delivery is recorded under the same
/// `webhook-id`; notes keep their line breaks.
#[tokio::test]
async fn a_webhooks_single_line_field_with_a_line_break_is_a_422_naming_it() {
    let (app, fleet) = spawn_as(&[Role::FleetManager]).await;
    let dealer = register_dealer(&app, &fleet, "Main St Auto").await;
    let vehicle = app.register(&fleet, &vin(455)).await;
    let repair = |extra: Value| {
        let mut v = json!({"type": "repair_order", "vin": vin(455), "occurredAt": "2026-02-01T09:00:00Z",
            "totalCents": 30000, "currency": "USD", "lines": [{"description": "Front pads"}]});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    for (extra, field) in [
        (json!({"title": "Brakes\r\nX-Injected: yes"}), "title"),
        (json!({"title": "Brakes\u{1b}[2J"}), "title"),
        (
            json!({"lines": [{"description": "Front pads"}, {"description": "Rotors\nand more"}]}),
            "lines[1].description",
        ),
        (json!({"system": "brakes\n"}), "system"),
    ] {
        let (status, ctype, problem) = send_signed(&app, &dealer, "lb1", &repair(extra)).await;
        assert_eq!(status, 422, "{field}: {problem}");
        assert!(ctype.starts_with("application/problem+json"), "{ctype}");
        assert_eq!(
            common::pluck(&problem["errors"], "field"),
            vec![field],
            "{problem}"
        );
    }
    app.settle().await;
    app.timeline_of_len(&fleet, &vehicle, 0).await;
    // The same delivery, corrected: recorded, its notes' line breaks kept.
    let good = repair(json!({"title": "Brakes", "notes": "Front pads.\nRotors next time."}));
    let (status, _, receipt) = send_signed(&app, &dealer, "lb1", &good).await;
    assert_eq!(
        (status, receipt["status"].as_str()),
        (200, Some("recorded")),
        "{receipt}"
    );
    app.settle().await;
    let timeline = app
        .get_ok(&fleet, &format!("/v1/vehicles/{vehicle}/events"))
        .await;
    assert_eq!(
        timeline["items"][0]["notes"], "Front pads.\nRotors next time.",
        "{timeline}"
    );
    app.stop().await;
}
