//! Routes that belong to no single service: health, readiness, the dashboard, and the problem+json
//! fallbacks for unknown routes and wrong methods.

use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use vwc_http::ApiError;

/// Something `/readyz` must reach.
#[async_trait::async_trait]
pub trait ReadinessCheck: Send + Sync {
    fn name(&self) -> &str;
    async fn check(&self) -> Result<(), String>;
}

#[derive(Clone)]
pub struct Readiness {
    pub checks: Arc<Vec<Box<dyn ReadinessCheck>>>,
}

pub fn router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/", get(dashboard))
        .with_state(readiness)
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

async fn readyz(State(readiness): State<Readiness>) -> Response {
    let mut checks = serde_json::Map::new();
    let mut ready = true;
    for c in readiness.checks.iter() {
        let v = match c.check().await {
            Ok(()) => json!("ok"),
            Err(e) => {
                ready = false;
                tracing::warn!(check = c.name(), error = %e, "not ready");
                json!("unavailable")
            }
        };
        checks.insert(c.name().to_string(), v);
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(
            json!({ "status": if ready { "ready" } else { "not_ready" }, "checks": checks }),
        ),
    )
        .into_response()
}

async fn dashboard() -> Html<&'static str> {
    Html(include_str!("../../../dashboard/index.html"))
}

pub async fn not_found(req: Request) -> ApiError {
    let _ = req.extensions().get::<MatchedPath>();
    ApiError::NotFound("route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
