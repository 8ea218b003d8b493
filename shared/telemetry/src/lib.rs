//! Logging and tracing for every binary: `tracing` with human or JSON output, OpenTelemetry export when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and W3C `traceparent` handling so one trace id follows a request
//! from the HTTP edge through the bus into every consumer.

mod traceparent;

pub use traceparent::TraceParent;

/// `error: cause: cause…` — an error with its whole `source()` chain, the one format logs and stored
/// failure reasons use.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Keeps the OpenTelemetry provider alive; flushes spans when dropped.
pub struct TelemetryGuard {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global subscriber (logs go to stderr; stdout stays for command output). Safe to call more than once (later calls are ignored), so tests may too.
pub fn init(service: &str, format: LogFormat) -> TelemetryGuard {
    let filter = || {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn,hyper=warn,mongodb=warn")
        })
    };
    let fmt_layer = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .json()
            .with_current_span(true)
            .with_filter(filter())
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_filter(filter())
            .boxed(),
    };
    let (otel_layer, provider) = match otel_provider(service) {
        Some(provider) => {
            use opentelemetry::trace::TracerProvider as _;
            let tracer = provider.tracer(service.to_string());
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(filter())
                .boxed();
            (Some(layer), Some(provider))
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(fmt_layer)
        .with(otel_layer)
        .try_init();
    TelemetryGuard { provider }
}

fn otel_provider(service: &str) -> Option<opentelemetry_sdk::trace::SdkTracerProvider> {
    std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT")?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| eprintln!("OpenTelemetry export disabled: {e}"))
        .ok()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service.to_string())
        .build();
    Some(
        opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    )
}

/// Makes `span` a child of the remote context in `traceparent` — unless the current span already belongs
/// to that trace (a consumer running inside the bus's delivery span), in which case `span` stays that
/// span's child, so the exported tree reads request → bus hop → consumer. Call before `span` is entered.
pub fn set_remote_parent(span: &tracing::Span, traceparent: &TraceParent) {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let current = tracing::Span::current().context();
    let current = current.span().span_context().clone();
    if current.is_valid() && current.trace_id().to_string() == traceparent.trace_id {
        return;
    }
    continue_trace(span, Some(&traceparent.to_string()));
}

/// Makes `span` (not yet entered) a child of the caller's W3C `traceparent` header value, read with
/// OpenTelemetry's own propagator. A missing or malformed value leaves `span` a new root.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let Some(value) = traceparent else { return };
    let carrier = std::collections::HashMap::from([("traceparent".to_string(), value.to_string())]);
    let cx = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&carrier);
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// The `traceparent` naming `span` itself (written with OpenTelemetry's W3C propagator), so what this hop
/// passes on points at a span that is exported. `None` when no OpenTelemetry layer is installed.
pub fn traceparent_of(span: &tracing::Span) -> Option<TraceParent> {
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = std::collections::HashMap::new();
    opentelemetry_sdk::propagation::TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier
        .get("traceparent")
        .and_then(|v| TraceParent::parse(v))
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("reading the store")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn an_error_chain_names_every_cause_in_order() {
        let e = Outer(std::io::Error::other("disk gone"));
        assert_eq!(super::error_chain(&e), "reading the store: disk gone");
    }
}
