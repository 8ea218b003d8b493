//! Every route × every role × own / other organisation → the expected status; and the JWT attack table
//! over HTTP.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::vin;

use super::common;
use common::{poll_get, spawn_as, spawn_with_vehicle};

const ROLES: [Role; 4] = [
    Role::Owner,
    Role::FleetManager,
    Role::Technician,
    Role::Viewer,
];

/// What a route needs and how to call it. `{v}` is a vehicle id, `{d}` a dealer id.
struct Route {
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    /// Roles that may call it (others in the same org → 403).
    allowed: &'static [Role],
    /// Status on success.
    ok: u16,
    /// Does the path name a resource of an organisation (another org → 404)?
    scoped: bool,
}

/// A read every role may make.
fn read(path: &'static str, scoped: bool) -> Route {
    Route {
        method: "GET",
        path,
        body: None,
        allowed: &ROLES,
        ok: 200,
        scoped,
    }
}

/// A POST of `body` that only `allowed` may make, answering `ok`.
fn post(path: &'static str, body: Value, allowed: &'static [Role], ok: u16, scoped: bool) -> Route {
    Route {
        method: "POST",
        path,
        body: Some(body),
        allowed,
        ok,
        scoped,
    }
}

fn routes() -> Vec<Route> {
    use Role::*;
    let at = "2026-01-01T00:00:00Z";
    let vehicle = json!({"vin": "@VIN", "year": 2020, "make": "Kia", "model": "EV6"});
    let maintenance =
        json!({"kind": "maintenance", "occurredAt": at, "details": {"tasks": ["oil_change"]}});
    let collision =
        json!({"kind": "collision", "occurredAt": at, "details": {"severity": "minor"}});
    vec![
        read("/v1/vehicles", false),
        post("/v1/vehicles", vehicle, &[Owner, FleetManager], 201, false),
        read("/v1/vehicles/{v}", true),
        read("/v1/vehicles/{v}/overview", true),
        read("/v1/vehicles/{v}/events", true),
        read("/v1/vehicles/{v}/maintenance", true),
        read("/v1/vehicles/{v}/valuations", true),
        read("/v1/vehicles/{v}/valuations/forecast", true),
        post(
            "/v1/vehicles/{v}/events",
            maintenance,
            &[Owner, FleetManager, Technician],
            201,
            true,
        ),
        post(
            "/v1/vehicles/{v}/events",
            collision,
            &[Owner, FleetManager],
            201,
            true,
        ),
        post(
            "/v1/dealers",
            json!({"name": "Main St Auto"}),
            &[FleetManager],
            201,
            false,
        ),
        post(
            "/v1/dealers/{d}/rotate-secret",
            json!({}),
            &[FleetManager],
            200,
            true,
        ),
        read("/v1/notifications", false),
        post(
            "/v1/notifications/read",
            json!({}),
            &[Owner, FleetManager, Technician, Viewer],
            200,
            false,
        ),
        read("/v1/fleet/overview", false),
        read("/v1/fleet/costs?groupBy=kind", false),
    ]
}

async fn call(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = app
        .http
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn every_route_answers_each_role_in_its_own_and_another_organisation_as_expected() {
    let (app, setup, vehicle) = spawn_with_vehicle(&[Role::FleetManager], 1).await;
    // The scheduler learns of the vehicle from VehicleRegistered; wait until it has its schedule.
    let maintenance = format!("/v1/vehicles/{vehicle}/maintenance");
    poll_get(&app, &setup, &maintenance, "the schedule", |m| {
        (!m["items"].as_array()?.is_empty()).then_some(())
    })
    .await;
    // The valuation service learns of it the same way; wait until it has a current value.
    let overview = format!("/v1/vehicles/{vehicle}/overview");
    poll_get(&app, &setup, &overview, "the current value", |o| {
        (!o["valuation"].is_null()).then_some(())
    })
    .await;
    let (_, dealer) = call(
        &app,
        &setup,
        "POST",
        "/v1/dealers",
        Some(&json!({"name": "D"})),
    )
    .await;
    let dealer = dealer["dealerId"].as_str().unwrap().to_string();
    app.timeline_of_len(&setup, &vehicle, 0).await;
    let mut n = 100;
    let mut failures = Vec::new();
    let mut checked = 0;
    for route in routes() {
        for role in ROLES {
            for own in [true, false] {
                if !own && !route.scoped {
                    continue;
                }
                let org = if own { "org_a" } else { "org_b" };
                let token = app.token(org, &[role]);
                n += 1;
                let body = route.body.as_ref().map(|b| {
                    serde_json::from_str::<Value>(&b.to_string().replace("@VIN", &vin(n))).unwrap()
                });
                let path = route.path.replace("{v}", &vehicle).replace("{d}", &dealer);
                let expected = if !own {
                    404
                } else if route.allowed.contains(&role) {
                    route.ok
                } else {
                    403
                };
                let (status, answer) = call(&app, &token, route.method, &path, body.as_ref()).await;
                checked += 1;
                if status != expected {
                    failures.push(format!(
                        "{} {} as {role:?} ({org}): {status}, expected {expected}: {answer}",
                        route.method, route.path
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 80, "{checked}");
    app.stop().await;
}

fn forge(header: Value, claims: Value, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        signature
    )
}

#[tokio::test]
async fn forged_expired_and_misaddressed_tokens_are_401() {
    let (app, good) = spawn_as(&[Role::Owner]).await;
    let parts: Vec<&str> = good.split('.').collect();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let now = vwc_clock::now().timestamp();
    let with = |patch: Value| {
        let mut c = claims.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    // Re-signing needs the secret: tokens with changed claims keep the old signature, so they must fail on
    // the signature — and those signed properly but with bad claims come from the app's own key below.
    let cases = vec![
        (
            "alg none",
            forge(json!({"alg": "none", "typ": "JWT"}), claims.clone(), ""),
        ),
        (
            "alg none with signature",
            forge(json!({"alg": "none"}), claims.clone(), parts[2]),
        ),
        (
            "RS256 header on an HS256 signature",
            forge(
                json!({"alg": "RS256", "typ": "JWT"}),
                claims.clone(),
                parts[2],
            ),
        ),
        (
            "tampered org",
            forge(
                json!({"alg": "HS256", "typ": "JWT"}),
                with(json!({"org": "org_b"})),
                parts[2],
            ),
        ),
        ("garbage", "not.a.token".to_string()),
        ("empty", String::new()),
    ];
    for (name, token) in cases {
        let r = app.get(&token, "/v1/vehicles").await;
        assert_eq!(r.status(), 401, "{name}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{name}"
        );
    }
    // Properly signed with the server's own key, but with bad claims.
    let secret = std::fs::read_to_string(app.data_dir.path().join("jwt.secret")).unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim())
        .unwrap();
    let sign = |c: Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &c,
            &jsonwebtoken::EncodingKey::from_secret(&key).unwrap(),
        )
        .unwrap()
    };
    assert_eq!(
        app.get(&sign(claims.clone()), "/v1/vehicles")
            .await
            .status(),
        200,
        "control: the re-signed original is accepted"
    );
    for (name, c) in [
        ("expired", with(json!({"exp": now - 3600}))),
        ("not yet valid", with(json!({"nbf": now + 3600}))),
        ("wrong aud", with(json!({"aud": "someone-else"}))),
        ("missing aud", with(json!({"aud": null}))),
        ("wrong iss", with(json!({"iss": "evil"}))),
        ("missing iss", with(json!({"iss": null}))),
        ("missing org", with(json!({"org": null}))),
        ("missing sub", with(json!({"sub": null}))),
        ("missing roles", with(json!({"roles": null}))),
        ("unknown role", with(json!({"roles": ["god"]}))),
        ("missing exp", with(json!({"exp": null}))),
    ] {
        let r = app.get(&sign(c), "/v1/vehicles").await;
        assert_eq!(r.status(), 401, "{name}");
    }
    app.stop().await;
}

#[tokio::test]
async fn dev_tokens_are_issued_in_embedded_mode_and_work() {
    let app = TestApp::spawn().await;
    let r = app
        .http
        .post(app.url("/v1/auth/dev-token"))
        .json(&json!({"sub": "dana", "org": "org_x", "roles": ["viewer"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let token = body["token"].as_str().unwrap();
    assert!(body["expiresAt"].is_string());
    assert_eq!(app.get(token, "/v1/vehicles").await.status(), 200);
    let (status, _, _) = vwc_testkit::json(
        app.http
            .post(app.url("/v1/auth/dev-token"))
            .json(&json!({"sub": "", "org": "o", "roles": []}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);
    // An organisation id no route would accept is refused here, by name, with no token issued (it gave a
    // token every route then answered 401).
    for org in ["../x", "orgÅ", &"o".repeat(65), "a b"] {
        let (status, _, problem) = vwc_testkit::json(
            app.http
                .post(app.url("/v1/auth/dev-token"))
                .json(&json!({"sub": "dana", "org": org, "roles": ["viewer"]}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 422, "{org}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "org", "{problem}");
        assert!(problem.get("token").is_none());
    }
    app.stop().await;
}

#[tokio::test]
async fn an_organisation_over_its_rate_limit_gets_429_with_retry_after_and_others_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(dir, |o| o.rate_limit = "2/s,5".into()).await;
    let a = app.token("org_a", &[Role::Viewer]);
    let b = app.token("org_b", &[Role::Viewer]);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(app.get(&a, "/v1/vehicles").await);
    }
    let limited: Vec<_> = statuses.iter().filter(|r| r.status() == 429).collect();
    assert!(
        !limited.is_empty(),
        "some requests over the burst were limited"
    );
    assert!(
        limited[0].headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(
        limited[0].headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(
        app.get(&b, "/v1/vehicles").await.status(),
        200,
        "another organisation is not affected"
    );
    app.stop().await;
}

#[tokio::test]
async fn cors_allows_only_the_configured_dashboard_origin() {
    let dir = tempfile::tempdir().unwrap();
    let app =
        TestApp::spawn_with(dir, |o| o.cors_origin = Some("https://dash.example".into())).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/v1/vehicles"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let ok = preflight("https://dash.example").await.unwrap();
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://dash.example"
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    app.stop().await;
}

/// docs/roles.md: the 403 comes first. The routes whose permission does not depend on the body or the
/// record refuse a caller without it before they read the body, so even an oversized body is a 403 for it
/// (and still a 413 for a caller who may).
#[tokio::test]
async fn a_caller_without_the_permission_is_refused_before_its_body_is_read() {
    let (app, manager, vehicle) = spawn_with_vehicle(&[Role::FleetManager], 1).await;
    let oversized = json!({"padding": "x".repeat(vwc_http::MAX_BODY_BYTES + 1)});
    let maintenance = format!("/v1/vehicles/{vehicle}/maintenance/oil_change");
    let routes: [(&str, &str, Role); 4] = [
        ("POST", "/v1/vehicles", Role::Viewer),
        ("POST", "/v1/dealers", Role::Owner),
        ("PUT", "/v1/notifications/preferences", Role::Technician),
        ("PUT", &maintenance, Role::Viewer),
    ];
    for (method, path, refused) in routes {
        let token = app.token("org_a", &[refused]);
        let (status, problem) = call(&app, &token, method, path, Some(&oversized)).await;
        assert_eq!(status, 403, "{method} {path} as {refused:?}: {problem}");
        assert_eq!(problem["status"], 403);
        let (status, _) = call(&app, &manager, method, path, Some(&oversized)).await;
        assert_eq!(status, 413, "{method} {path} as a fleet manager");
    }
    // Nothing was registered or configured on the way. The list is the edge's projection, which arrives a
    // little after a write: wait for the vehicle registered first, then for the bus to be idle.
    poll_get(
        &app,
        &manager,
        "/v1/vehicles",
        "the registered vehicle",
        |v| {
            v["items"]
                .as_array()
                .filter(|items| !items.is_empty())
                .map(Vec::len)
        },
    )
    .await;
    app.system().bus.drain().await;
    let (_, vehicles) = call(&app, &manager, "GET", "/v1/vehicles", None).await;
    assert_eq!(vehicles["items"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}
