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

/// `POST /v1/auth/dev-token` (embedded mode only, and only from this machine): mints a token for any
/// organisation, so it must never be reachable from elsewhere.
pub fn dev_token_router(keys: Option<Arc<vwc_auth::Hs256Keys>>) -> Router {
    match keys {
        Some(keys) => Router::new()
            .route("/v1/auth/dev-token", axum::routing::post(dev_token))
            .with_state(keys),
        None => Router::new(),
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DevTokenRequest {
    sub: String,
    org: String,
    roles: Vec<vwc_auth::Role>,
}

async fn dev_token(
    State(keys): State<Arc<vwc_auth::Hs256Keys>>,
    request: Request,
) -> Result<Response, ApiError> {
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    let headers = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), vwc_http::MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let req: DevTokenRequest = vwc_http::parse_json(&headers, &body)?;
    if !peer.is_some_and(|p| p.ip().is_loopback()) {
        return Err(ApiError::Forbidden(
            "dev tokens are issued only to callers on this machine".into(),
        ));
    }
    let mut errors = Vec::new();
    for (field, value) in [("sub", &req.sub), ("org", &req.org)] {
        if value.trim().is_empty() || value.len() > 100 {
            errors.push(vwc_contracts::FieldError {
                field: field.into(),
                message: "must be 1–100 characters".into(),
            });
        }
    }
    if req.roles.is_empty() {
        errors.push(vwc_contracts::FieldError {
            field: "roles".into(),
            message: "must name at least one role".into(),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let (token, expires_at) =
        keys.issue(&req.sub, &req.org, &req.roles, chrono::Duration::hours(12));
    Ok(axum::Json(json!({ "token": token, "expiresAt": expires_at })).into_response())
}
