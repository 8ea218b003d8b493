//! `PUT`/`GET /v1/notifications/preferences` over real HTTP: the webhook secret shown once, rotation,
//! internal addresses refused unless allow-listed, bad input refused with nothing changed, roles and
//! tenancy.

use crate::common;

use std::sync::Arc;

use common::*;
use serde_json::json;
use vwc_auth::Role;
use vwc_notification::NotificationStore;
use vwc_notification::ssrf::Allowlist;
use vwc_webhook::WebhookSecret;

async fn api(allowlist: Allowlist) -> (tempfile::TempDir, Arc<dyn NotificationStore>, Api) {
    let (dir, store) = sqlite_store();
    let store: Arc<dyn NotificationStore> = store;
    let api = Api::start(store.clone(), allowlist).await;
    (dir, store, api)
}

/// A webhook receiver answering 200, the API over a fresh store that admits `allowlist`, and a token of
/// [`ORG`] with `role`.
struct Fixture {
    receiver: Receiver,
    /// Keeps the store's directory while the test runs.
    _dir: tempfile::TempDir,
    store: Arc<dyn NotificationStore>,
    api: Api,
    token: String,
}

async fn fixture(allowlist: Allowlist, role: Role) -> Fixture {
    let receiver = Receiver::start(&[], answer(200)).await;
    let (_dir, store, api) = api(allowlist).await;
    let token = api.token(ORG, &[role]);
    Fixture {
        receiver,
        _dir,
        store,
        api,
        token,
    }
}

#[tokio::test]
async fn setting_a_webhook_url_returns_the_secret_once() {
    let f = fixture(loopback_allowlist(), Role::Owner).await;
    let body = json!({ "webhookUrl": f.receiver.url(), "email": "fleet@example.com",
        "quietHours": { "start": "22:00", "end": "07:00", "tzOffsetMinutes": 120 } });

    let (status, _, first) = f.api.put_preferences(&f.token, &body).await;
    assert_eq!(status, 200, "{first}");
    let secret = first["webhookSecret"]
        .as_str()
        .expect("a secret")
        .to_owned();
    assert!(secret.starts_with("whsec_"));
    WebhookSecret::parse(&secret).expect("a valid secret");
    assert_eq!(first["inApp"], true);
    assert_eq!(first["webhookUrl"], f.receiver.url().as_str());
    assert_eq!(first["email"], "fleet@example.com");
    assert_eq!(
        first["quietHours"],
        json!({ "start": "22:00", "end": "07:00", "tzOffsetMinutes": 120 })
    );
    assert_eq!(first["hasWebhookSecret"], true);

    let (status, _, second) = f.api.put_preferences(&f.token, &body).await;
    assert_eq!(status, 200);
    assert!(second.get("webhookSecret").is_none(), "{second}");
    assert_eq!(second["hasWebhookSecret"], true);
    let (status, _, read) = f.api.get_preferences(&f.token).await;
    assert_eq!(status, 200);
    assert!(read.get("webhookSecret").is_none());
    assert_eq!(read["webhookUrl"], f.receiver.url().as_str());

    let stored = stored_preferences(f.store.as_ref(), ORG).await;
    assert_eq!(stored.webhook_secret.unwrap().expose(), secret);
}

#[tokio::test]
async fn rotating_issues_a_new_secret_and_clearing_the_url_keeps_the_old_one() {
    let f = fixture(loopback_allowlist(), Role::FleetManager).await;
    let (_, _, first) = f.api.put_webhook_url(&f.token, &f.receiver.url()).await;
    let old = first["webhookSecret"].as_str().unwrap().to_owned();

    let (status, _, rotated) = f
        .api
        .put_preferences(
            &f.token,
            &json!({ "webhookUrl": f.receiver.url(), "rotateWebhookSecret": true }),
        )
        .await;
    assert_eq!(status, 200);
    let new = rotated["webhookSecret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);

    let (status, _, cleared) = f.api.put_preferences(&f.token, &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(cleared["webhookUrl"], serde_json::Value::Null);
    assert_eq!(cleared["email"], serde_json::Value::Null);
    assert_eq!(cleared["hasWebhookSecret"], true);
    let (_, _, again) = f.api.put_webhook_url(&f.token, &f.receiver.url()).await;
    assert!(again.get("webhookSecret").is_none(), "the old secret stays");
    let stored = stored_preferences(f.store.as_ref(), ORG).await;
    assert_eq!(stored.webhook_secret.unwrap().expose(), new);
}

#[tokio::test]
async fn internal_webhook_addresses_are_refused_without_the_allow_list() {
    let f = fixture(Allowlist::default(), Role::Owner).await;
    let refused = [
        "https://127.0.0.1/hook".to_owned(),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://10.1.2.3/hook".to_owned(),
        "https://192.168.0.10/hook".to_owned(),
        "https://[::1]/hook".to_owned(),
        "https://2130706433/hook".to_owned(),
        // A name that resolves to loopback.
        "https://localhost/hook".to_owned(),
        "https://localhost./hook".to_owned(),
        // The test receiver itself, which only the allow-list admits.
        f.receiver.url(),
        "ftp://example.com/hook".to_owned(),
        "https://user:pass@example.com/hook".to_owned(),
        "not a url".to_owned(),
    ];
    let mut messages = std::collections::BTreeSet::new();
    for url in &refused {
        let (status, content_type, problem) = f.api.put_webhook_url(&f.token, url).await;
        assert_eq!(status, 422, "{url}: {problem}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["errors"][0]["field"], "webhookUrl", "{url}");
        let text = problem.to_string();
        for internal in [
            "loopback",
            "link-local",
            "127.0.0.1",
            "169.254",
            "resolve",
            "metadata",
        ] {
            assert!(
                !text.contains(internal),
                "{url}: the answer says {internal:?}: {text}"
            );
        }
        messages.insert(problem["errors"][0]["message"].to_string());
    }
    assert_eq!(
        messages.len(),
        1,
        "one answer whatever the reason: {messages:?}"
    );
    assert!(
        f.store
            .preferences(&OrgId::from(ORG))
            .await
            .unwrap()
            .is_none(),
        "nothing was stored"
    );
    assert_eq!(f.receiver.received().len(), 0);
}

#[tokio::test]
async fn the_allow_list_admits_a_local_receiver() {
    let f = fixture(loopback_allowlist(), Role::Owner).await;
    let (status, _, body) = f.api.put_webhook_url(&f.token, &f.receiver.url()).await;
    assert_eq!(status, 200, "{body}");
    // Only the listed address: another private one is still refused.
    let (status, _, _) = f
        .api
        .put_webhook_url(&f.token, "https://10.0.0.1/hook")
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn bad_preferences_are_refused_and_change_nothing() {
    let (_dir, store, api) = api(Allowlist::default()).await;
    let token = api.token(ORG, &[Role::Owner]);
    let (status, _, _) = api
        .put_preferences(&token, &json!({ "email": "keep@example.com" }))
        .await;
    assert_eq!(status, 200);

    let cases = [
        (json!({ "email": "two@@example.com" }), "email"),
        (json!({ "email": "has space@example.com" }), "email"),
        (
            json!({ "email": format!("{}@example.com", "a".repeat(250)) }),
            "email",
        ),
        (
            json!({ "quietHours": { "start": "25:00", "end": "07:00", "tzOffsetMinutes": 0 } }),
            "quietHours.start",
        ),
        (
            json!({ "quietHours": { "start": "22:00", "end": "07:00", "tzOffsetMinutes": 10000 } }),
            "quietHours.tzOffsetMinutes",
        ),
        (
            json!({ "rotateWebhookSecret": true }),
            "rotateWebhookSecret",
        ),
    ];
    for (body, field) in cases {
        let (status, content_type, problem) = api.put_preferences(&token, &body).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(problem["errors"][0]["field"], field, "{body}: {problem}");
    }

    let (status, _, _) = api
        .put_preferences(&token, &json!({ "webhookURL": "https://example.com" }))
        .await;
    assert_eq!(status, 422, "unknown fields are refused");
    let (status, _, _) = api.put_preferences(&token, &json!({ "email": 7 })).await;
    assert_eq!(status, 422, "wrong types are refused");

    let url = format!("{}/v1/notifications/preferences", api.base);
    let malformed = api
        .client
        .put(&url)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status().as_u16(), 400);
    let not_json = api
        .client
        .put(&url)
        .bearer_auth(&token)
        .body("email=x")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status().as_u16(), 415);

    let stored = stored_preferences(store.as_ref(), ORG).await;
    assert_eq!(
        stored.preferences.email.as_deref(),
        Some("keep@example.com")
    );
}

#[tokio::test]
async fn only_roles_that_configure_notifications_may_read_or_set_them() {
    let (_dir, store, api) = api(Allowlist::default()).await;
    for role in [Role::Technician, Role::Viewer] {
        let token = api.token(ORG, &[role]);
        let (status, _, _) = api
            .put_preferences(&token, &json!({ "email": "x@example.com" }))
            .await;
        assert_eq!(status, 403, "{role:?}");
        let (status, _, _) = api.get_preferences(&token).await;
        assert_eq!(status, 403, "{role:?}");
    }
    let (status, _, _) = api
        .put_preferences("not-a-token", &json!({ "email": "x@example.com" }))
        .await;
    assert_eq!(status, 401);
    assert!(
        store
            .preferences(&OrgId::from(ORG))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn each_organisation_sees_only_its_own_preferences() {
    let (_dir, _store, api) = api(Allowlist::default()).await;
    let a = api.token("org_a", &[Role::Owner]);
    let b = api.token("org_b", &[Role::Owner]);
    let (status, _, _) = api
        .put_preferences(&a, &json!({ "email": "a@example.com" }))
        .await;
    assert_eq!(status, 200);
    let (status, _, seen_by_b) = api.get_preferences(&b).await;
    assert_eq!(status, 200);
    assert_eq!(seen_by_b["email"], serde_json::Value::Null);
    assert_eq!(seen_by_b["inApp"], true);
    assert_eq!(seen_by_b["hasWebhookSecret"], false);
}
