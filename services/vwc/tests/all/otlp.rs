//! Traces leave the process (issue 12, finding 9): `vwc up` with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at
//! a small OTLP/HTTP receiver exports its spans, and the request span, the bus hop and each consumer's
//! span form one connected tree under the caller's `traceparent`.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::json;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Collects every span POSTed to `/v1/traces` (protobuf).
async fn otlp_receiver() -> (String, Arc<Mutex<Vec<Span>>>) {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let collected = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let collected = collected.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                for resource in request.resource_spans {
                    for scope in resource.scope_spans {
                        collected.lock().unwrap().extend(scope.spans);
                    }
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let (addr, _) = vwc_testkit::serve(app).await;
    (format!("http://{addr}"), spans)
}

#[tokio::test]
async fn vwc_up_exports_one_connected_trace_from_the_request_through_the_bus_to_each_consumer() {
    let (endpoint, spans) = otlp_receiver().await;
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let vwc = env!("CARGO_BIN_EXE_vwc");
    let mut server = tokio::process::Command::new(vwc)
        .args(["up", "--no-seed", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data.path())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    vwc_testkit::eventually("vwc up is ready", Duration::from_secs(30), || async {
        let r = http.get(format!("{base}/readyz")).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    let token = {
        let out = std::process::Command::new(vwc)
            .args(["token", "--org", "org_t", "--sub", "u", "--role", "owner"])
            .arg("--data-dir")
            .arg(data.path())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let vehicle: serde_json::Value = http
        .post(format!("{base}/v1/vehicles"))
        .bearer_auth(&token)
        .json(
            &json!({"vin": "1HGCM82633A004352", "year": 2020, "make": "Honda", "model": "Accord"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let vehicle = vehicle["id"].as_str().unwrap().to_string();
    let (trace_id, caller_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let r = http
        .post(format!("{base}/v1/vehicles/{vehicle}/events"))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(
            &json!({"kind": "maintenance", "occurredAt": "2026-01-01T00:00:00Z", "odometer": 10,
            "details": {"tasks": ["oil_change"]}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let echoed = r.headers()["traceparent"].to_str().unwrap().to_string();

    // Wait until both consumers have exported their span of this trace, then stop the server cleanly.
    let consumers = ["edge.apply", "maintenance_scheduler.apply"];
    vwc_testkit::eventually(
        "the consumers' spans exported",
        Duration::from_secs(30),
        || async {
            let spans = spans.lock().unwrap();
            consumers
                .iter()
                .all(|name| {
                    spans
                        .iter()
                        .any(|s| s.name == *name && hex(&s.trace_id) == trace_id)
                })
                .then_some(())
        },
    )
    .await;
    let _ = std::process::Command::new("kill")
        .arg(server.id().unwrap().to_string())
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(20), server.wait()).await;
    let mut log = String::new();
    if let Some(mut stderr) = server.stderr.take() {
        use tokio::io::AsyncReadExt;
        let _ = stderr.read_to_string(&mut log).await;
    }
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");

    let spans = spans.lock().unwrap();
    let ours: Vec<&Span> = spans
        .iter()
        .filter(|s| hex(&s.trace_id) == trace_id)
        .collect();
    let by_id: HashMap<String, &Span> = ours.iter().map(|s| (hex(&s.span_id), *s)).collect();
    let request = ours
        .iter()
        .find(|s| s.name == "http" && hex(&s.parent_span_id) == caller_span)
        .unwrap_or_else(|| panic!("the request span under the caller's: {ours:#?}"));
    assert_eq!(
        echoed,
        format!("00-{trace_id}-{}-01", hex(&request.span_id)),
        "the traceparent passed on names the exported request span"
    );
    for name in consumers {
        // The consumer's span of the request's own event. The edge also applies, in this trace, what the
        // scheduler and the valuation publish about it: those hops are children of their spans, and the
        // order spans are exported in is not fixed, so the first `edge.apply` may be one of them.
        let hops: Vec<&&Span> = ours
            .iter()
            .filter(|s| s.name == name)
            .map(|consumer| {
                by_id
                    .get(&hex(&consumer.parent_span_id))
                    .unwrap_or_else(|| panic!("{name}'s parent was exported: {ours:#?}"))
            })
            .collect();
        assert!(!hops.is_empty(), "{name}: {ours:#?}");
        // Each runs in the bus hop (`deliver`) — or, when the bus handed the consumer this envelope in a
        // chain behind another trace's envelope of the same vehicle (one delivery span for the chain, the
        // first one's: `LedgerConsumer::handle_chain`), directly under the span that published it. Seen
        // once on a busy machine, where the seed's or another request's envelope was still queued.
        assert!(
            hops.iter()
                .all(|hop| hop.name == "deliver" || hop.name == "http"),
            "{name} runs in the bus hop: {ours:#?}"
        );
        assert!(
            hops.iter().any(|hop| {
                hex(&hop.span_id) == hex(&request.span_id)
                    || hex(&hop.parent_span_id) == hex(&request.span_id)
            }),
            "a hop of {name} is a child of the request span: {ours:#?}"
        );
    }
}
