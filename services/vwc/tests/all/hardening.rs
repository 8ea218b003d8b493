//! The holes found from outside (issue 12), each reproduced over HTTP against the real server and held
//! closed here.

use serde_json::{Value, json};
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_testkit::{json as body, vin};

use super::common;
use common::{put, spawn_as, spawn_with_vehicle, stored_events};

/// Finding 1: the limiter and authentication parse `Authorization` the same way, so a lower-case scheme
/// is counted like any other.
#[tokio::test]
async fn the_rate_limit_counts_a_token_whatever_the_case_of_its_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(dir, |o| o.rate_limit = "1/s,1".into()).await;
    let token = app.token("org_a", &[Role::Viewer]);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        // A fresh organisation per scheme, so each starts with a full bucket.
        let token = if scheme == "Bearer" {
            token.clone()
        } else {
            app.token(&format!("org_{scheme}"), &[Role::Viewer])
        };
        let mut statuses = Vec::new();
        for _ in 0..5 {
            let r = app
                .http
                .get(app.url("/v1/vehicles"))
                .header("authorization", format!("{scheme} {token}"))
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
        }
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{scheme}: {statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 429).count(),
            4,
            "{scheme}: {statuses:?}"
        );
    }
    app.stop().await;
}

/// Finding 2: an `Idempotency-Key` fingerprints the method, the route and its parameters with the body,
/// so the same key and body for another vehicle is a different request (422), not a silent replay.
#[tokio::test]
async fn an_idempotency_key_reused_for_another_vehicle_is_422_and_records_nothing() {
    let (app, token) = spawn_as(&[Role::Owner]).await;
    let a = app.register(&token, &vin(11)).await;
    let b = app.register(&token, &vin(12)).await;
    let payload =
        json!({"kind": "odometer_reading", "occurredAt": "2026-01-01T00:00:00Z", "odometer": 5});
    let send = |vehicle: String| {
        let (app, token, payload) = (&app, &token, &payload);
        async move {
            body(
                app.http
                    .post(app.url(&format!("/v1/vehicles/{vehicle}/events")))
                    .bearer_auth(token)
                    .header("idempotency-key", "same-key")
                    .json(payload)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (s1, _, first) = send(a.clone()).await;
    assert_eq!(s1, 201, "{first}");
    let (s2, ct, problem) = send(b.clone()).await;
    assert_eq!(s2, 422, "{problem}");
    assert_eq!(ct, "application/problem+json");
    // The retry of the first request is still a replay.
    let (s3, _, again) = send(a.clone()).await;
    assert_eq!(s3, 201);
    assert_eq!(again["event"]["id"], first["event"]["id"]);
    app.timeline_of_len(&token, &a, 1).await;
    assert_eq!(stored_events(&app, "org_a", &b).await, 0);
    app.stop().await;
}

async fn dev_token(app: &TestApp, host: Option<&str>) -> (u16, Value) {
    let mut req = app
        .http
        .post(app.url("/v1/auth/dev-token"))
        .json(&json!({"sub": "mallory", "org": "org_victim", "roles": ["fleet_manager"]}));
    if let Some(host) = host {
        req = req.header("host", host);
    }
    let (status, _, value) = body(req.send().await.unwrap()).await;
    (status, value)
}

/// Finding 3: a page on another origin that rebinds its name to 127.0.0.1 reaches the loopback listener
/// with its own name in `Host`; only loopback names get a dev token.
#[tokio::test]
async fn dev_tokens_need_a_loopback_host_header() {
    let app = TestApp::spawn().await;
    let port = app.addr.port();
    for host in [
        "evil.example:8080".to_string(),
        format!("evil.example:{port}"),
        "localhost.evil.example".to_string(),
        "127.0.0.1.nip.io".to_string(),
    ] {
        let (status, problem) = dev_token(&app, Some(&host)).await;
        assert_eq!(status, 403, "Host: {host} → {problem}");
    }
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "localhost".to_string(),
        format!("[::1]:{port}"),
    ] {
        let (status, value) = dev_token(&app, Some(&host)).await;
        assert_eq!(status, 200, "Host: {host} → {value}");
    }
    app.stop().await;
}

/// Finding 3: outside embedded mode (here: tokens verified against a JWKS, or the AWS bus) the route does
/// not exist.
#[tokio::test]
async fn dev_tokens_are_offered_only_in_embedded_mode() {
    assert!(vwc::embedded::offers_dev_tokens(
        &vwc::testing::test_options(std::path::Path::new("/tmp/x"))
    ));
    let mut aws = vwc::testing::test_options(std::path::Path::new("/tmp/x"));
    aws.bus = vwc::embedded::BusChoice::Aws {
        endpoint: None,
        bus_name: "vwc".into(),
    };
    assert!(!vwc::embedded::offers_dev_tokens(&aws));
    let mut mongo = vwc::testing::test_options(std::path::Path::new("/tmp/x"));
    mongo.store = vwc::embedded::StoreChoice::Mongodb {
        uri: "mongodb://127.0.0.1:1".into(),
        prefix: "vwc".into(),
    };
    assert!(!vwc::embedded::offers_dev_tokens(&mongo));
    let jwks = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/auth/tests/fixtures/jwks.json"
    );
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(data, |o| o.jwks = Some(jwks.to_string())).await;
    let (status, _) = dev_token(&app, None).await;
    assert_eq!(status, 404);
    app.stop().await;
}

/// Finding 4: custom maintenance items are capped per vehicle, so the schedule event that carries them
/// all stays far below the bus's size limit (the relay side is held by vwc-store's `tests/relay.rs`).
#[tokio::test]
async fn a_vehicle_takes_at_most_fifty_custom_maintenance_tasks() {
    let (app, token, vehicle) = spawn_with_vehicle(&[Role::Owner], 21).await;
    let put_task = |task: String| {
        let (app, token, vehicle) = (&app, &token, &vehicle);
        async move {
            let path = format!("/v1/vehicles/{vehicle}/maintenance/{task}");
            let item = json!({"title": format!("Custom {task}"), "intervalMonths": 12});
            put(app, token, &path, &item).await
        }
    };
    // The schedule exists once the scheduler has consumed the registration.
    vwc_testkit::eventually(
        "the first custom task",
        std::time::Duration::from_secs(10),
        || async { (put_task("custom_0".into()).await.0 == 200).then_some(()) },
    )
    .await;
    for i in 1..50 {
        let (status, _, item) = put_task(format!("custom_{i}")).await;
        assert_eq!(status, 200, "custom_{i}: {item}");
    }
    let (status, ct, problem) = put_task("custom_50".into()).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(ct, "application/problem+json");
    assert_eq!(problem["errors"][0]["field"], "task");
    // Changing one it already has is still fine.
    assert_eq!(put_task("custom_7".into()).await.0, 200);
    app.stop().await;
}

/// Finding 7: the data dir is 0700 and every file in it 0600 (the databases hold dealer and outbound
/// webhook secrets); a `jwt.secret` other users can read stops the start.
#[cfg(unix)]
#[tokio::test]
async fn the_data_dir_and_its_files_are_private_and_an_open_secret_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = parent.path().join("data");
    let opts = vwc::testing::test_options(&data);
    let system = vwc::embedded::System::start(opts).await.unwrap();
    system.shutdown().await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "data dir");
    let mut files = 0;
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        // SQLite removes a database's `-wal`/`-shm` files when its last connection closes, and a
        // writer thread may still be closing its connection after `shutdown` returns: a file listed
        // a moment ago may be gone (CI saw NotFound here), which is not a permission failure.
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{}: {e}", path.display()),
        };
        if meta.is_file() {
            files += 1;
            assert_eq!(
                meta.permissions().mode() & 0o777,
                0o600,
                "{}",
                path.display()
            );
        }
    }
    assert!(files >= 5, "jwt.secret and the service databases: {files}");

    let secret = data.join(vwc_auth::SECRET_FILE_NAME);
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let refused = vwc::embedded::System::start(vwc::testing::test_options(&data)).await;
    let err = refused.err().expect("an open jwt.secret is refused");
    assert!(format!("{err:#}").contains("chmod 600"), "{err:#}");
}

/// Finding 10: `/readyz` goes through each SQLite writer, so a writer that cannot write makes the
/// system unready (the panic containment itself is held by vwc-store's unit tests).
#[tokio::test]
async fn readyz_reports_a_sqlite_writer_that_cannot_write() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.http
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let lock = rusqlite::Connection::open(app.data_dir.path().join("ingestion.db")).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let (status, _, report) = body(app.http.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, 503, "{report}");
    assert_eq!(report["checks"]["ingestion"], "unavailable", "{report}");
    assert_eq!(report["checks"]["edge"], "ok", "{report}");
    lock.execute_batch("COMMIT").unwrap();
    vwc_testkit::eventually(
        "ready again once the writer can write",
        std::time::Duration::from_secs(20),
        || async {
            let r = app.http.get(app.url("/readyz")).send().await.ok()?;
            (r.status() == 200).then_some(())
        },
    )
    .await;
    app.stop().await;
}
