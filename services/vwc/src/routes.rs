//! Routes that belong to no single service: health, readiness, the dashboard, dev tokens, and the
//! problem+json fallbacks for unknown routes and wrong methods. Each is documented by its `#[route]`.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use vwc_http::ApiError;
use vwc_http::openapi::{Docs, Forbidden, RequestBody, Throttled, TooManyRequests};
use vwc_http::route;

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

/// Health, readiness and the dashboard (with their documentation as `docs` says); the readiness checks are
/// the state.
pub fn routes(docs: Docs) -> OpenApiRouter<Readiness> {
    vwc_http::service_routes![docs; healthz, readyz, crate::dashboard::index, crate::dashboard::asset]
}

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    /// Always `ok`: the process answers.
    pub status: HealthStatus,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
}

/// `GET /readyz`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ready", "checks": {"bus": "ok", "edge": "ok", "ingestion": "ok"}}))]
pub struct ReadinessReport {
    pub status: ReadinessStatus,
    /// Each store and the bus: `ok` or `unavailable`.
    pub checks: std::collections::BTreeMap<String, CheckStatus>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadinessStatus {
    Ready,
    NotReady,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Unavailable,
}

/// Liveness
///
/// Answers as long as the process serves HTTP.
#[route(get "/healthz", tag = "system", ok(200, "Alive.", Health), errors(Throttled))]
async fn healthz() -> axum::Json<Health> {
    axum::Json(Health {
        status: HealthStatus::Ok,
    })
}

/// How long `/readyz` waits for one check: a component that does not answer within it is unavailable.
pub const READINESS_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Readiness
///
/// `200` when every store and the bus are reachable, else `503` with the same report.
#[route(get "/readyz", tag = "system", ok(200, "Ready.", ReadinessReport),
    errors(
        429 => TooManyRequests,
        (status = 503, description = "Not ready (the report says what is unreachable), or the request timed out (a problem).",
            content(
                (ReadinessReport = "application/json"),
                (vwc_http::Problem = "application/problem+json"),
            )),
    ))]
async fn readyz(State(readiness): State<Readiness>) -> Response {
    // Every check at once, each within READINESS_CHECK_TIMEOUT: one after another, six stores of an
    // unreachable MongoDB took 6 × its server-selection timeout, and a health checker saw only its own
    // timeout, never the report.
    let outcomes = futures::future::join_all(readiness.checks.iter().map(|c| async move {
        let outcome = match tokio::time::timeout(READINESS_CHECK_TIMEOUT, c.check()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!(
                "no answer within {} ms",
                READINESS_CHECK_TIMEOUT.as_millis()
            )),
        };
        (c.name(), outcome)
    }))
    .await;
    let mut checks = std::collections::BTreeMap::new();
    let mut ready = true;
    for (name, outcome) in outcomes {
        let v = match outcome {
            Ok(()) => CheckStatus::Ok,
            Err(e) => {
                ready = false;
                tracing::warn!(check = name, error = %e, "not ready");
                CheckStatus::Unavailable
            }
        };
        checks.insert(name.to_string(), v);
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let report = ReadinessReport {
        status: if ready {
            ReadinessStatus::Ready
        } else {
            ReadinessStatus::NotReady
        },
        checks,
    };
    (status, axum::Json(report)).into_response()
}

pub async fn not_found(req: Request) -> ApiError {
    let _ = req.extensions().get::<MatchedPath>();
    ApiError::NotFound("route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// `POST /v1/auth/dev-token` (embedded mode only, and only from this machine): mints a token for any
/// organisation, so it must never be reachable from elsewhere. The composition serves (and documents) it
/// only when it has the embedded keys, its state.
pub fn dev_token_routes(docs: Docs) -> OpenApiRouter<Arc<vwc_auth::Hs256Keys>> {
    vwc_http::service_routes![docs; dev_token]
}

/// `POST /v1/auth/dev-token` body.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"sub": "alice", "org": "org_demo", "roles": ["owner"]}))]
pub struct DevTokenRequest {
    /// The user (`sub` claim), 1–100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    sub: String,
    /// The organisation (`org` claim): 1–64 letters, digits, `_` or `-` (the rule every token's `org`
    /// follows; docs/roles.md).
    #[schema(min_length = 1, max_length = 64, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    org: String,
    #[schema(min_items = 1, value_type = Vec<RoleName>)]
    roles: Vec<vwc_auth::Role>,
}

/// A role a token may carry (see docs/roles.md).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum RoleName {
    Owner,
    FleetManager,
    Technician,
    Viewer,
}

/// `200` of `POST /v1/auth/dev-token`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevToken {
    /// An HS256 JWT for `Authorization: Bearer …`.
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Mint a development token
///
/// Embedded mode only, and only for callers on the same machine: a token for any user, organisation and
/// roles, valid 12 hours.
#[route(post "/v1/auth/dev-token", tag = "auth", body = DevTokenRequest,
    ok(200, "The token.", DevToken), errors(403 => Forbidden, Throttled, RequestBody))]
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
    // The peer address alone is not enough: a page elsewhere can rebind its own name to 127.0.0.1 and
    // reach this listener from the user's browser, but its `Host` then names that page, not this machine.
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok());
    if !peer.is_some_and(|p| p.ip().is_loopback()) || !host.is_some_and(is_loopback_host) {
        return Err(ApiError::Forbidden(
            "dev tokens are issued only to callers on this machine".into(),
        ));
    }
    let mut errors = Vec::new();
    if req.sub.trim().is_empty() || req.sub.chars().count() > 100 {
        errors.push(vwc_contracts::FieldError {
            field: "sub".into(),
            message: "must be 1–100 characters".into(),
        });
    }
    // A token for any other organisation id would be refused by every route (401): say so now.
    if !vwc_auth::is_org_id(&req.org) {
        errors.push(vwc_contracts::FieldError {
            field: "org".into(),
            message: format!("must be {}", vwc_auth::ORG_ID_RULE),
        });
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
    Ok(axum::Json(DevToken { token, expires_at }).into_response())
}

/// `localhost`, a loopback address (`127.0.0.0/8`, `[::1]`), with or without a port.
pub fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((inside, tail)) if tail.is_empty() || is_port(tail) => inside,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(&format!(":{port}")) => name,
            Some(_) => return false,
            None => host,
        }
    };
    if name.eq_ignore_ascii_case("localhost") || name.eq_ignore_ascii_case("localhost.") {
        return true;
    }
    name.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

fn is_port(tail: &str) -> bool {
    tail.strip_prefix(':')
        .is_some_and(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    /// A check that answers after `after`.
    struct Slow {
        name: &'static str,
        after: std::time::Duration,
    }

    #[async_trait::async_trait]
    impl super::ReadinessCheck for Slow {
        fn name(&self) -> &str {
            self.name
        }
        async fn check(&self) -> Result<(), String> {
            tokio::time::sleep(self.after).await;
            Ok(())
        }
    }

    /// Checks run at once, each within its timeout: three components that hang (a MongoDB that went away)
    /// give the report — naming them, the others ok — in one timeout, not three in a row.
    #[tokio::test]
    async fn readiness_reports_hanging_components_within_one_check_timeout() {
        use axum::response::IntoResponse;
        let hang = std::time::Duration::from_secs(60);
        let checks: Vec<Box<dyn super::ReadinessCheck>> = vec![
            Box::new(Slow {
                name: "a",
                after: hang,
            }),
            Box::new(Slow {
                name: "b",
                after: std::time::Duration::ZERO,
            }),
            Box::new(Slow {
                name: "c",
                after: hang,
            }),
            Box::new(Slow {
                name: "d",
                after: hang,
            }),
        ];
        let readiness = super::Readiness {
            checks: std::sync::Arc::new(checks),
        };
        let started = std::time::Instant::now();
        let response = super::readyz(axum::extract::State(readiness))
            .await
            .into_response();
        let took = started.elapsed();
        assert!(
            took < super::READINESS_CHECK_TIMEOUT * 2,
            "the report took {took:?}"
        );
        assert_eq!(response.status(), 503);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            report["checks"],
            serde_json::json!({"a": "unavailable", "b": "ok", "c": "unavailable", "d": "unavailable"})
        );
    }

    #[test]
    fn only_loopback_names_and_addresses_are_loopback_hosts() {
        for ok in [
            "localhost",
            "LOCALHOST:8080",
            "127.0.0.1",
            "127.0.0.1:3000",
            "127.1.2.3",
            "[::1]",
            "[::1]:80",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "0.0.0.0",
            "[::1]x",
            "::1",
            "10.0.0.1:80",
            "localhost:",
            "localhost:80:80",
            "",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
