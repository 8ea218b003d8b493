use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use vwc_contracts::FieldError;

use crate::PROBLEM_JSON;

/// The RFC 9457 body of every error response (`application/problem+json`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"type": "https://vwc.dev/problems/validation", "title": "Unprocessable Entity",
    "status": 422, "detail": "the request has invalid fields",
    "errors": [{"field": "vin", "message": "must be exactly 17 characters"}]}))]
pub struct Problem {
    /// A URI naming the kind of problem, `https://vwc.dev/problems/<slug>`.
    #[serde(rename = "type")]
    #[schema(format = "uri")]
    pub type_uri: String,
    /// The HTTP reason phrase of `status`.
    pub title: String,
    /// The HTTP status code, repeated.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong, for a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Every invalid field (422 validation problems only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Quote it when reporting a 500: the server logged the cause under this id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
}

/// Every way a request can fail. Handlers return it; `IntoResponse` maps it to problem+json.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 503 with a `Retry-After`: the same request may succeed after that many seconds.
    #[error("service unavailable: {detail}")]
    UnavailableFor {
        detail: String,
        retry_after_secs: u64,
    },
    #[error("internal error: {0}")]
    Internal(Box<dyn std::error::Error + Send + Sync>),
    /// 413 for a route with its own limit (attachments): the detail names it.
    #[error("payload larger than {limit_bytes} bytes")]
    PayloadOverLimit { limit_bytes: u64 },
    /// 413 over the common limit, with what the caller can do instead (the detail).
    #[error("payload too large: {0}")]
    PayloadTooLargeBecause(String),
    /// 409 of a kind a client acts on, named by its own problem type (`https://vwc.dev/problems/<kind>`),
    /// so that no client has to tell it from another 409 by the detail's words.
    #[error("conflict ({kind}): {detail}")]
    ConflictOf { kind: &'static str, detail: String },
}

impl ApiError {
    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ApiError {
        ApiError::Internal(e.into())
    }

    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::Validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) | ApiError::ConflictOf { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge
            | ApiError::PayloadOverLimit { .. }
            | ApiError::PayloadTooLargeBecause(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::Unprocessable(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::UnavailableFor { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::ConflictOf { kind, .. } => kind,
            ApiError::PayloadTooLarge
            | ApiError::PayloadOverLimit { .. }
            | ApiError::PayloadTooLargeBecause(_) => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Validation(_) => "validation",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::TooManyRequests { .. } => "rate-limited",
            ApiError::Unavailable(_) | ApiError::UnavailableFor { .. } => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

/// A store failure in a handler: a conflict is the client's 409; records that another write kept holding
/// (`StoreError::Contended`, e.g. a transaction left open by a killed process) are a 503 with a
/// `Retry-After`; a database that cannot take writes now (a full disk) is a 503 that says so and changed
/// nothing; anything else is a fault (500, the cause logged under the error id).
impl From<vwc_store::StoreError> for ApiError {
    fn from(e: vwc_store::StoreError) -> ApiError {
        if let vwc_store::StoreError::Contended(why) = &e {
            tracing::error!(cause = %why, "a write gave up: another write holds its records");
            let wait = vwc_store::request_writes::CONTENDED_RETRY_AFTER.as_secs();
            return ApiError::UnavailableFor {
                detail: format!(
                    "another write holds these records (a request interrupted elsewhere leaves them held \
                     until the database aborts it); nothing was changed: retry after {wait} s — a \
                     webhook retried with the same webhook-id is recorded once"
                ),
                retry_after_secs: wait,
            };
        }
        if let Some(why) = e.unavailable() {
            tracing::error!(error = %e, "a write failed: the store cannot take writes now");
            return ApiError::Unavailable(format!(
                "the database cannot be used now ({why}); nothing was changed: try again later"
            ));
        }
        match e {
            vwc_store::StoreError::Conflict(m) => ApiError::Conflict(m),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut problem = Problem {
            type_uri: format!("https://vwc.dev/problems/{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: None,
            errors: Vec::new(),
            error_id: None,
        };
        let mut retry_after = None;
        match self {
            ApiError::BadRequest(d)
            | ApiError::Conflict(d)
            | ApiError::Forbidden(d)
            | ApiError::UnsupportedMediaType(d)
            | ApiError::Unprocessable(d)
            | ApiError::PayloadTooLargeBecause(d)
            | ApiError::Unavailable(d)
            | ApiError::ConflictOf { detail: d, .. } => problem.detail = Some(d),
            ApiError::NotFound(what) => problem.detail = Some(format!("{what} not found")),
            ApiError::Unauthorized => {
                problem.detail = Some("missing or invalid credentials".into())
            }
            ApiError::PayloadTooLarge => {
                problem.detail = Some(format!(
                    "the request body is larger than {} bytes",
                    crate::MAX_BODY_BYTES
                ))
            }
            ApiError::PayloadOverLimit { limit_bytes } => {
                problem.detail = Some(format!("the content is larger than {limit_bytes} bytes"))
            }
            ApiError::MethodNotAllowed => {
                problem.detail = Some("this route does not accept that method".into())
            }
            ApiError::Validation(errors) => {
                problem.detail = Some("the request has invalid fields".into());
                problem.errors = errors;
            }
            ApiError::UnavailableFor {
                detail,
                retry_after_secs,
            } => {
                problem.detail = Some(detail);
                retry_after = Some(retry_after_secs);
            }
            ApiError::TooManyRequests { retry_after_secs } => {
                problem.detail = Some(format!("retry after {retry_after_secs} s"));
                retry_after = Some(retry_after_secs);
            }
            ApiError::Internal(cause) => {
                let id = uuid::Uuid::now_v7().to_string();
                let chain = vwc_telemetry::error_chain(cause.as_ref());
                tracing::error!(error_id = %id, error = %chain, "request failed");
                problem.detail = Some("an unexpected error occurred; quote the errorId".into());
                problem.error_id = Some(id);
            }
        }
        let mut response = (status, axum::Json(problem)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store that cannot take writes now answers 503 saying so (and that nothing was recorded); other
    /// store failures stay 500s with an error id, conflicts 409s.
    #[test]
    fn store_errors_answer_by_what_they_say() {
        let full = vwc_store::StoreError::Unavailable("the database's disk is full".into());
        let e = ApiError::from(full);
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            matches!(&e, ApiError::Unavailable(d) if d.contains("disk is full") && d.contains("nothing was changed")),
            "{e}"
        );
        let other = ApiError::from(vwc_store::StoreError::Other("boom".into()));
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let conflict = ApiError::from(vwc_store::StoreError::Conflict("x".into()));
        assert_eq!(conflict.status(), StatusCode::CONFLICT);
    }

    /// Records another write keeps holding are a 503 that says so, says nothing changed, and tells when to
    /// retry, in the body and in `Retry-After`.
    #[test]
    fn held_records_answer_503_with_retry_after() {
        let held = vwc_store::StoreError::Contended("a write conflict lasted 5 s".into());
        let response = ApiError::from(held).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER).unwrap(),
            &vwc_store::request_writes::CONTENDED_RETRY_AFTER
                .as_secs()
                .to_string()
        );
        let e = ApiError::from(vwc_store::StoreError::Contended("x".into()));
        assert!(
            matches!(&e, ApiError::UnavailableFor { detail, .. }
                if detail.contains("another write holds these records")
                    && detail.contains("nothing was changed")
                    && detail.contains("webhook-id")),
            "{e}"
        );
    }
}
