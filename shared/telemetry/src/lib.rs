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
    let exporting = otel_layer.is_some();
    let installed = tracing_subscriber::registry()
        .with(fmt_layer)
        .with(otel_layer)
        .try_init();
    if installed.is_ok() && exporting {
        EXPORTING.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    TelemetryGuard { provider }
}

/// Whether [`init`] installed the OpenTelemetry layer. Without it a span has no OpenTelemetry context to
/// set or read, so the trace helpers below skip the work (parsing, a context per span: ≈ 3 % of the
/// server's CPU under webhook ingest, docs/bench.md) that would change nothing.
static EXPORTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn exporting() -> bool {
    EXPORTING.load(std::sync::atomic::Ordering::Relaxed)
}

/// A carrier holding only the `traceparent` header, read by OpenTelemetry's propagator without building a
/// map for one value.
struct TraceparentOnly<'a>(&'a str);

impl opentelemetry::propagation::Extractor for TraceparentOnly<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        (key == TRACEPARENT).then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT]
    }
}

const TRACEPARENT: &str = "traceparent";

/// The remote context `traceparent` names, read with OpenTelemetry's W3C propagator (its rules: any version
/// up to `fe`, lowercase hex, only the sampled flag kept); `None` when it names no valid span.
fn remote_context(traceparent: &str) -> Option<opentelemetry::Context> {
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TraceContextExt;
    let cx = opentelemetry_sdk::propagation::TraceContextPropagator::new()
        .extract(&TraceparentOnly(traceparent));
    cx.span().span_context().is_valid().then_some(cx)
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
    if !exporting() {
        return;
    }
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
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let Some(value) = traceparent.filter(|_| exporting()) else {
        return;
    };
    if let Some(cx) = remote_context(value) {
        let _ = span.set_parent(cx);
    }
}

/// The `traceparent` naming `span` itself (written with OpenTelemetry's W3C propagator), so what this hop
/// passes on points at a span that is exported. `None` when no OpenTelemetry layer is installed.
pub fn traceparent_of(span: &tracing::Span) -> Option<TraceParent> {
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if !exporting() {
        return None;
    }
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
    use opentelemetry::trace::TraceContextExt;

    /// The context a map carrier holding the header gives (how `continue_trace` read it before).
    fn through_a_map(value: &str) -> Option<opentelemetry::trace::SpanContext> {
        use opentelemetry::propagation::TextMapPropagator;
        let carrier =
            std::collections::HashMap::from([("traceparent".to_string(), value.to_string())]);
        let cx = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&carrier);
        let span = cx.span().span_context().clone();
        span.is_valid().then_some(span)
    }

    #[test]
    fn the_header_alone_is_read_exactly_as_a_map_carrier_holding_it_is() {
        for value in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "not a traceparent",
            "",
        ] {
            let alone = super::remote_context(value).map(|cx| cx.span().span_context().clone());
            assert_eq!(alone, through_a_map(value), "{value:?}");
        }
        assert!(
            super::remote_context("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                .is_some()
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("reading the store")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn an_error_chain_names_every_cause_in_order() {
        let e = Outer(std::io::Error::other("disk gone"));
        assert_eq!(super::error_chain(&e), "reading the store: disk gone");
    }
}
