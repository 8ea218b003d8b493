use axum::extract::{FromRequestParts, Request};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use vwc_telemetry::TraceParent;

/// The trace context of this request: the caller's `traceparent` continued, or a new trace.
#[derive(Debug, Clone)]
pub struct RequestTrace(pub TraceParent);

/// Middleware (inside the request span, which [`vwc_telemetry::continue_trace`] parented on the caller's
/// `traceparent` when it was made): records the trace id on the span, makes this hop's `traceparent` — the
/// request span's own, when OpenTelemetry is on — available to handlers (it goes into every event the
/// request publishes) and echoes it on the response.
pub async fn trace_context(mut req: Request, next: Next) -> Response {
    let span = tracing::Span::current();
    let here = vwc_telemetry::traceparent_of(&span).unwrap_or_else(|| {
        match req
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(TraceParent::parse)
        {
            Some(parent) => parent.child(),
            None => TraceParent::new_root(),
        }
    });
    span.record("trace_id", here.trace_id.as_str());
    req.extensions_mut().insert(RequestTrace(here.clone()));
    let mut response = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&here.to_string()) {
        response.headers_mut().insert("traceparent", v);
    }
    response
}

impl<S: Send + Sync> FromRequestParts<S> for RequestTrace {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestTrace>()
            .cloned()
            .unwrap_or_else(|| RequestTrace(TraceParent::new_root())))
    }
}
