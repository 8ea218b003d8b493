//! The OpenAPI 3.1 document of the whole API, assembled from the routes the composition serves: every
//! service contributes an `OpenApiRouter` (handlers registered together with their `#[route]`), so
//! the document describes exactly the router. Served at `GET /openapi.json`; committed as
//! `contracts/openapi.json` and drift-tested (`VWC_BLESS=1 cargo test -p vwc --lib openapi` re-blesses it).

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{InfoBuilder, LicenseBuilder, OpenApi, OpenApiVersion};
use vwc_http::openapi::{Docs, Throttled};
use vwc_http::route;

/// Adds `GET /openapi.json` to `router`. The document is composed by `compose` (the parts of every route
/// the router serves) and rendered when it is first asked for, then kept: neither the start-up nor an idle
/// server that is never asked for it pays for it (docs/bench.md, "Cold start and idle memory").
pub fn serve(router: Router, compose: impl Fn() -> OpenApi + Send + Sync + 'static) -> Router {
    let document = Document {
        compose: Arc::new(move || {
            let mut doc = compose();
            doc.merge(vwc_http::service_routes![Docs::Built; openapi_json].into_openapi());
            finish(doc)
        }),
        rendered: Arc::default(),
    };
    let route = vwc_http::service_routes![Docs::Skipped; openapi_json].with_state::<()>(document);
    router.merge(Router::from(route))
}

/// The document: how to compose it, and what it rendered to once asked for (composing and rendering take a
/// few milliseconds of CPU, so that runs on the blocking pool; concurrent first requests wait for the one
/// rendering).
#[derive(Clone)]
struct Document {
    compose: Arc<dyn Fn() -> OpenApi + Send + Sync>,
    rendered: Arc<OnceLock<Bytes>>,
}

impl Document {
    fn rendered(&self) -> Bytes {
        self.rendered
            .get_or_init(|| Bytes::from(render(&(self.compose)())))
            .clone()
    }
}

/// This document
///
/// The OpenAPI 3.1 document of every route this server serves.
#[route(get "/openapi.json", tag = "system",
    ok(200, "The OpenAPI document.", Object, content_type = "application/json"), errors(Throttled))]
async fn openapi_json(State(document): State<Document>) -> Response {
    match tokio::task::spawn_blocking(move || document.rendered()).await {
        Ok(body) => ([(CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => vwc_http::ApiError::Internal(Box::new(e)).into_response(),
    }
}

/// Adds what no route says: the version, the title and description, and the tags' descriptions.
pub fn finish(mut doc: OpenApi) -> OpenApi {
    doc.openapi = OpenApiVersion::Version31;
    doc.info = InfoBuilder::new()
        .title("Vehicle Wellness Center API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Vehicles, their timeline, maintenance, costs and notifications, per organisation. Every `/v1` \
             route needs `Authorization: Bearer <JWT>`; the caller's organisation comes from the token only, \
             and another organisation's resource answers 404 like one that does not exist. Every error is \
             `application/problem+json` (RFC 9457).",
        ))
        .license(Some(LicenseBuilder::new().name("Apache-2.0").build()))
        .build();
    let tags = [
        (
            "vehicles",
            "Registering and reading vehicles, their overview and valuations.",
        ),
        (
            "timeline",
            "A vehicle's events: recording them and reading them newest first.",
        ),
        (
            "maintenance",
            "Maintenance items, their intervals and status.",
        ),
        ("notifications", "The organisation's in-app notifications."),
        (
            "chat",
            "The historian: questions about a vehicle's own history, answered from its records with citations.",
        ),
        ("fleet", "Fleet-wide views for fleet managers."),
        ("dealers", "Dealer integrations and their webhook secrets."),
        (
            "webhooks",
            "Signed deliveries from dealers (Standard Webhooks).",
        ),
        ("auth", "Tokens for development (embedded mode)."),
        (
            "system",
            "Health, readiness, the dashboard and this document.",
        ),
    ];
    doc.tags = Some(
        tags.into_iter()
            .map(|(name, about)| {
                TagBuilder::new()
                    .name(name)
                    .description(Some(about))
                    .build()
            })
            .collect(),
    );
    doc
}

/// The document as served and committed: pretty JSON with a final newline.
pub fn render(doc: &OpenApi) -> String {
    vwc_contracts::schemas::render(
        &serde_json::to_value(doc).expect("the OpenAPI document serialises"),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;
    use std::sync::Arc;

    use serde_json::Value;

    use crate::testing::TestApp;

    const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    /// Every route DESIGN §4.3 names that exists so far, plus the composition's own.
    const DESIGNED: [(&str, &str); 36] = [
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/openapi.json"),
        ("GET", "/"),
        ("POST", "/v1/auth/dev-token"),
        ("GET", "/v1/auth/config"),
        ("GET", "/v1/vehicles"),
        ("POST", "/v1/vehicles"),
        ("GET", "/v1/vehicles/{id}"),
        ("GET", "/v1/vehicles/{id}/overview"),
        ("GET", "/v1/vehicles/{id}/events"),
        ("POST", "/v1/vehicles/{id}/events"),
        ("GET", "/v1/vehicles/{id}/maintenance"),
        ("PUT", "/v1/vehicles/{id}/maintenance/{task}"),
        ("POST", "/v1/maintenance/sweep"),
        ("GET", "/v1/vehicles/{id}/valuations"),
        ("GET", "/v1/vehicles/{id}/valuations/forecast"),
        ("GET", "/v1/notifications"),
        ("POST", "/v1/notifications/{id}/read"),
        ("GET", "/v1/notifications/preferences"),
        ("PUT", "/v1/notifications/preferences"),
        ("GET", "/v1/fleet/overview"),
        ("GET", "/v1/fleet/costs"),
        ("POST", "/v1/dealers"),
        ("POST", "/v1/dealers/{id}/rotate-secret"),
        ("POST", "/webhooks/dealers/{dealerId}"),
        ("GET", "/v1/vin/{vin}"),
        ("GET", "/v1/vehicles/{id}/maintenance.ics"),
        ("GET", "/v1/fleet/maintenance.ics"),
        ("GET", "/v1/search"),
        ("POST", "/v1/vehicles/{id}/imports"),
        ("GET", "/v1/vehicles/{id}/export"),
        ("POST", "/v1/vehicles/{id}/chat"),
        ("GET", "/v1/vehicles/{id}/chat/suggestions"),
        ("GET", "/v1/vehicles/{id}/chat/{conversationId}"),
        (
            "POST",
            "/v1/vehicles/{id}/chat/{conversationId}/messages/{messageId}/feedback",
        ),
    ];

    fn committed_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts/openapi.json")
    }

    /// (method, path template) of every operation in the document.
    fn operations(doc: &Value) -> BTreeSet<(String, String)> {
        let mut ops = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in METHODS {
                if item.get(method.to_ascii_lowercase()).is_some() {
                    ops.insert((method.to_string(), path.clone()));
                }
            }
        }
        ops
    }

    /// `/v1/vehicles/{id}` → `/v1/vehicles/x`: an id that names nothing still reaches the route.
    fn concrete(template: &str) -> String {
        template
            .split('/')
            .map(|part| if part.starts_with('{') { "x" } else { part })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Does the router have a route for this method and path? Its fallbacks answer `route not found`
    /// (404) and `method-not-allowed` (405); any other answer, even an error, comes from a route.
    async fn served(app: &TestApp, method: &str, template: &str) -> bool {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let response = app
            .http
            .request(method, app.url(&concrete(template)))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let fallback = (status == 404 && body["detail"] == "route not found")
            || (status == 405 && body["type"] == "https://vwc.dev/problems/method-not-allowed");
        !fallback
    }

    async fn served_document(app: &TestApp) -> (String, Value) {
        let response = app.http.get(app.url("/openapi.json")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let text = response.text().await.unwrap();
        let doc = serde_json::from_str(&text).expect("the document is JSON");
        (text, doc)
    }

    #[tokio::test]
    async fn committed_openapi_document_matches_the_served_one() {
        let app = TestApp::spawn().await;
        let (text, doc) = served_document(&app).await;
        assert_eq!(doc["openapi"], "3.1.0");
        let path = committed_path();
        if std::env::var_os("VWC_BLESS").is_some() {
            std::fs::write(&path, &text).expect("write contracts/openapi.json");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "contracts/openapi.json drifted from the API; run `VWC_BLESS=1 cargo test -p vwc --lib openapi` \
             and commit it"
        );
        app.stop().await;
    }

    #[tokio::test]
    async fn every_documented_operation_is_served() {
        let app = TestApp::spawn().await;
        let (_, doc) = served_document(&app).await;
        let mut unserved = Vec::new();
        for (method, path) in operations(&doc) {
            if !served(&app, &method, &path).await {
                unserved.push(format!("{method} {path}"));
            }
        }
        assert!(
            unserved.is_empty(),
            "documented but not served: {unserved:?}"
        );
        app.stop().await;
    }

    #[tokio::test]
    async fn every_served_route_is_documented() {
        let app = TestApp::spawn().await;
        let (_, doc) = served_document(&app).await;
        let documented = operations(&doc);
        // Every method on every documented path, and every route the design names.
        let mut candidates: BTreeSet<(String, String)> = BTreeSet::new();
        for (_, path) in &documented {
            for method in METHODS {
                candidates.insert((method.to_string(), path.clone()));
            }
        }
        candidates.extend(DESIGNED.iter().map(|(m, p)| (m.to_string(), p.to_string())));
        let mut undocumented = Vec::new();
        for (method, path) in candidates {
            let key = (method.clone(), path.clone());
            if served(&app, &method, &path).await && !documented.contains(&key) {
                undocumented.push(format!("{method} {path}"));
            }
        }
        assert!(
            undocumented.is_empty(),
            "served but missing from /openapi.json: {undocumented:?}"
        );
        for (method, path) in DESIGNED {
            assert!(
                served(&app, method, path).await,
                "{method} {path} is designed but not served"
            );
        }
        app.stop().await;
    }

    /// The document is composed when it is first asked for, not when the router is built, and once: two
    /// requests (the second while nothing else changed) get the same bytes from one composition.
    #[tokio::test]
    async fn the_document_is_composed_on_the_first_request_for_it_and_then_kept() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let composed = Arc::new(AtomicUsize::new(0));
        let counter = composed.clone();
        let router = super::serve(axum::Router::new(), move || {
            counter.fetch_add(1, Ordering::SeqCst);
            crate::embedded::ApiRoutes::documented().document(true)
        });
        assert_eq!(
            composed.load(Ordering::SeqCst),
            0,
            "composed before any request"
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/openapi.json", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        let http = reqwest::Client::new();
        let (first, second) = tokio::join!(http.get(&url).send(), http.get(&url).send());
        let (first, second) = (first.unwrap(), second.unwrap());
        assert_eq!(
            (first.status().as_u16(), second.status().as_u16()),
            (200, 200)
        );
        let (first, second) = (first.text().await.unwrap(), second.text().await.unwrap());
        assert_eq!(first, second);
        let third = http.get(&url).send().await.unwrap().text().await.unwrap();
        assert_eq!(first, third);
        assert_eq!(composed.load(Ordering::SeqCst), 1, "composed once");
        let doc: Value = serde_json::from_str(&first).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["paths"]["/openapi.json"]["get"].is_object());
        assert!(doc["paths"]["/v1/auth/dev-token"]["post"].is_object());
    }

    /// Every `$ref` in `value`, recursively.
    fn references(value: &Value, found: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    found.insert(r.clone());
                }
                map.values().for_each(|v| references(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, found)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_in_the_committed_document_resolves() {
        let text = std::fs::read_to_string(committed_path()).expect("contracts/openapi.json");
        let doc: Value = serde_json::from_str(&text).expect("JSON");
        let mut found = BTreeSet::new();
        references(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let pointer = r.strip_prefix('#').expect("local reference");
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }

    #[tokio::test]
    async fn every_bearer_route_declares_the_security_scheme_and_its_errors() {
        let app = TestApp::spawn().await;
        let (_, doc) = served_document(&app).await;
        for (method, path) in operations(&doc) {
            let op = &doc["paths"][&path][method.to_ascii_lowercase()];
            let responses = op["responses"].as_object().expect("responses");
            let needs_token = path.starts_with("/v1/")
                && path != "/v1/auth/dev-token"
                && path != "/v1/auth/config";
            let declared = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            assert_eq!(declared, needs_token, "{method} {path}: bearer security");
            if needs_token {
                assert!(responses.contains_key("401"), "{method} {path}: 401");
            }
            for status in ["429", "503"] {
                assert!(responses.contains_key(status), "{method} {path}: {status}");
            }
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path}: summary"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path}: tag"
            );
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let r = match response.get("$ref").and_then(Value::as_str) {
                        Some(r) => {
                            &doc["components"]["responses"]
                                [r.trim_start_matches("#/components/responses/")]
                        }
                        None => response,
                    };
                    assert!(
                        r["content"].get("application/problem+json").is_some(),
                        "{method} {path} {status}: problem+json"
                    );
                }
            }
        }
        app.stop().await;
    }
}
