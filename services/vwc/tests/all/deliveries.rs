//! Outbound deliveries seen and resent over HTTP: `GET /v1/notifications/deliveries` and
//! `POST /v1/notifications/deliveries/{id}/retry` on the embedded system, with a webhook receiver that
//! fails and then answers (docs/outbound-webhooks.md, "Failed deliveries").

use std::time::Duration;

use serde_json::{Value, json};
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::webhook::{Receiver, answer};

use super::common::{get, names_field, poll_get, post, put};
use super::maintenance::{
    deliveries_settled, fast_notifications, overdue_with_webhook, set_webhook, verify_hook,
};

const LIST: &str = "/v1/notifications/deliveries";

fn retry_path(id: &str) -> String {
    format!("{LIST}/{id}/retry")
}

/// The org's one dead-lettered delivery, once the worker has given up on it.
async fn dead_lettered(app: &TestApp, token: &str) -> Value {
    poll_get(
        app,
        token,
        &format!("{LIST}?status=dead_lettered"),
        "a dead-lettered delivery",
        |page| {
            let items = page["items"].as_array()?;
            (items.len() == 1).then(|| items[0].clone())
        },
    )
    .await
}

fn attempt_statuses(delivery: &Value) -> Vec<(u64, Value)> {
    delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["attempt"].as_u64().unwrap(), a["httpStatus"].clone()))
        .collect()
}

/// The receiver fails the three attempts the test policy allows and the first after the resend: the
/// delivery is listed dead-lettered with its attempts, resent once (a second resend at once is a 409) to
/// the current secret, retried within its fresh budget and delivered, every request under one webhook-id.
#[tokio::test]
async fn a_dead_lettered_delivery_is_listed_and_resent_with_its_webhook_id_and_a_fresh_budget() {
    let receiver = Receiver::start(&[answer(500); 4], answer(200)).await;
    let app = overdue_with_webhook(&receiver.url(), 41).await;
    let token = app.token("org_a", &[Role::FleetManager]);
    let dead = dead_lettered(&app, &token).await;
    let id = dead["id"].as_str().unwrap().to_owned();
    assert_eq!(dead["channel"], "webhook");
    assert_eq!(dead["status"], "dead_lettered");
    assert_eq!(dead["nextAttemptAt"], Value::Null);
    assert_eq!(
        attempt_statuses(&dead),
        [(1, json!(500)), (2, json!(500)), (3, json!(500))]
    );
    assert!(
        dead["lastError"].as_str().unwrap().contains("500"),
        "{dead}"
    );
    assert_eq!(dead["carries"]["type"], "reminder.due");
    assert_eq!(dead["carries"]["task"], "oil_change");
    assert!(
        dead["carries"]["vehicleId"]
            .as_str()
            .unwrap()
            .starts_with("veh_")
    );
    assert!(dead["carries"]["reminderId"].as_str().is_some());
    deliveries_settled(&app).await;
    assert_eq!(receiver.count(), 3);

    // Every delivery listed is outbound: the in-app one is not among them.
    let (status, _, all) = get(&app, &token, LIST).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["items"].as_array().unwrap().len(), 1, "{all}");
    assert_eq!(all["nextCursor"], Value::Null);

    // A new secret before the resend: the resend is signed with it.
    let (status, _, prefs) = put(
        &app,
        &token,
        "/v1/notifications/preferences",
        &json!({"webhookUrl": receiver.url(), "rotateWebhookSecret": true}),
    )
    .await;
    assert_eq!(status, 200, "{prefs}");
    let secret =
        vwc_webhook::WebhookSecret::parse(prefs["webhookSecret"].as_str().unwrap()).unwrap();

    // A double click: one resend, one 409.
    let (path, empty) = (retry_path(&id), json!({}));
    let (a, b) = tokio::join!(
        post(&app, &token, &path, &empty),
        post(&app, &token, &path, &empty)
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 409], "{a:?} {b:?}");
    let resent = if a.0 == 202 { &a.2 } else { &b.2 };
    assert_eq!(resent["id"], id.as_str());
    assert_eq!(resent["status"], "pending");
    assert!(resent["resentAt"].is_string(), "{resent}");

    let delivered = poll_get(
        &app,
        &token,
        &format!("{LIST}?status=delivered"),
        "the resent delivery delivered",
        |page| {
            let items = page["items"].as_array()?;
            items.iter().find(|d| d["id"] == id.as_str()).cloned()
        },
    )
    .await;
    // Attempt 4 failed and was retried within the fresh budget; attempt 5 got through.
    assert_eq!(
        attempt_statuses(&delivered),
        [
            (1, json!(500)),
            (2, json!(500)),
            (3, json!(500)),
            (4, json!(500)),
            (5, json!(200))
        ]
    );
    deliveries_settled(&app).await;
    let got = receiver.received();
    assert_eq!(got.len(), 5, "nothing after the delivery");
    assert!(
        got.iter()
            .all(|r| r.header("webhook-id") == Some(id.as_str()))
    );
    for hook in &got[3..] {
        verify_hook(hook, &secret).expect("a resent webhook is signed with the current secret");
    }
    assert_eq!(got[0].body, got[4].body, "the same reminder, byte for byte");

    // Delivered now: a resend is a 409 that changes nothing.
    let (status, _, problem) = post(&app, &token, &path, &json!({})).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("delivered"),
        "{problem}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.count(), 5);
    app.stop().await;
}

/// Another organisation sees none of the deliveries and its resend is a 404; roles without
/// `configure_notifications` are refused; bad filters and pages are 422s naming the field.
#[tokio::test]
async fn deliveries_stay_within_the_organisation_and_bad_queries_are_refused() {
    let receiver = Receiver::start(&[], answer(500)).await;
    let app = overdue_with_webhook(&receiver.url(), 42).await;
    let token = app.token("org_a", &[Role::FleetManager]);
    let id = dead_lettered(&app, &token).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    deliveries_settled(&app).await;
    let sent = receiver.count();

    let other = app.token("org_b", &[Role::FleetManager]);
    let (status, _, page) = get(&app, &other, LIST).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"], json!([]));
    let (status, _, problem) = post(&app, &other, &retry_path(&id), &json!({})).await;
    assert_eq!(status, 404, "{problem}");
    let (status, _, _) = post(&app, &token, &retry_path("dlv_nothing"), &json!({})).await;
    assert_eq!(status, 404);

    for role in [Role::Viewer, Role::Technician] {
        let t = app.token("org_a", &[role]);
        assert_eq!(get(&app, &t, LIST).await.0, 403, "{role:?}");
        assert_eq!(
            post(&app, &t, &retry_path(&id), &json!({})).await.0,
            403,
            "{role:?}"
        );
    }

    for (query, field) in [
        ("status=lost", "status"),
        ("status=DEAD_LETTERED", "status"),
        ("status=", "status"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-a-cursor", "cursor"),
    ] {
        let (status, _, problem) = get(&app, &token, &format!("{LIST}?{query}")).await;
        assert_eq!(status, 422, "{query}: {problem}");
        assert!(names_field(&problem, field), "{query}: {problem}");
    }

    // Switched off since: a resend would be cancelled unsent, so it is refused and nothing changes.
    let (status, _, prefs) = put(&app, &token, "/v1/notifications/preferences", &json!({})).await;
    assert_eq!(status, 200, "{prefs}");
    let (status, _, problem) = post(&app, &token, &retry_path(&id), &json!({})).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("save a webhook URL in the notification settings"),
        "{problem}"
    );
    assert_eq!(dead_lettered(&app, &token).await["id"], id.as_str());

    // The still-dead-lettered delivery pages with limit=1 and no next page.
    let (status, _, page) = get(&app, &token, &format!("{LIST}?limit=1")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["nextCursor"], Value::Null);

    // The URL set again, then the server restarted without the allowlist that let it reach 127.0.0.1: the
    // resend is refused at once (it answered 202, then the worker refused to send), nothing changes.
    set_webhook(&app, &token, &receiver.url()).await;
    let dir = app.stop().await;
    let app = TestApp::spawn_with(dir, |o| {
        fast_notifications(o);
        o.outbound_allowlist = String::new();
    })
    .await;
    let (status, _, problem) = post(&app, &token, &retry_path(&id), &json!({})).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("the webhook URL is not allowed"),
        "{problem}"
    );
    assert_eq!(dead_lettered(&app, &token).await["id"], id.as_str());
    assert_eq!(receiver.count(), sent, "no request after the refusals");
    app.stop().await;
}
