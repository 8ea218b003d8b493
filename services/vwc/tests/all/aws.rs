//! Distributed-local mode against moto: EventBridge rule → SQS → worker → edge projection, and the Lambda
//! SQS handler's partial batch response with the real edge consumer.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use vwc::embedded::BusChoice;
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_contracts::{
    Envelope, Event, EventType, OdometerUnit, Vehicle, VehicleId, VehicleRegistered,
};
use vwc_edge::store::VehicleRef;
use vwc_edge::{EdgeConsumer, EdgeStore, SqliteEdgeStore};
use vwc_testkit::vin;

use super::common;
use common::{bootstrapped, chat, poll_get, poll_get_within, unique_bus};

/// The whole system on the AWS bus `bus_name` at `endpoint` (moto, or a forwarder in front of it).
async fn spawn_on_aws(endpoint: &str, bus_name: &str) -> TestApp {
    let (endpoint, bus_name) = (endpoint.to_string(), bus_name.to_string());
    TestApp::spawn_with(tempfile::tempdir().unwrap(), |o| {
        o.bus = BusChoice::Aws {
            endpoint: Some(endpoint),
            bus_name,
        };
        o.sqs_wait_secs = 1;
    })
    .await
}

/// A 2020 Kia Niro (km) of `org_a` registered now, with VIN `vin(n)`.
fn niro(id: impl Into<VehicleId>, n: u32) -> Vehicle {
    Vehicle {
        id: id.into(),
        org_id: "org_a".into(),
        vin: vin(n),
        year: 2020,
        make: "Kia".into(),
        model: "Niro".into(),
        odometer_unit: OdometerUnit::Km,
        registered_at: vwc_clock::now(),
        ..vwc_contracts::examples::vehicle()
    }
}

#[tokio::test]
async fn events_flow_through_eventbridge_and_sqs_to_the_edge_projection() {
    // Bootstrap through the CLI, as an operator would.
    let Some((endpoint, bus_name, created)) = bootstrapped("distributed-local mode", &[]) else {
        return;
    };
    assert!(
        created["queues"]["edge"]["dlqUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{bus_name}-edge-dlq"))
    );

    let app = spawn_on_aws(&endpoint, &bus_name).await;
    let token = app.token("org_a", &[Role::Owner]);
    let vehicle = app.register(&token, &vin(1)).await;
    for i in 0..3 {
        app.record_odometer(&token, &vehicle, 10 - i, 100 * (i as u64 + 1))
            .await;
    }
    let items = app.timeline_of_len(&token, &vehicle, 3).await;
    assert_eq!(items[0]["odometer"], 300);
    let v = app.get_ok(&token, &format!("/v1/vehicles/{vehicle}")).await;
    assert_eq!(v["eventCount"], 3);
    app.stop().await;
}

/// `/readyz` in distributed mode asks the EventBridge bus too: ready while it exists, `503` naming `bus` once
/// it is gone (the relays could publish nothing), the stores still `ok`.
#[tokio::test]
async fn readyz_reports_an_eventbridge_bus_that_is_gone() {
    let Some((endpoint, bus_name, _)) = bootstrapped("readiness of the AWS bus", &[]) else {
        return;
    };
    let app = spawn_on_aws(&endpoint, &bus_name).await;
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let report: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(report["checks"]["bus"], "ok", "{report}");

    let config = vwc_bus::aws::sdk_config(Some(&endpoint)).await;
    aws_sdk_eventbridge::Client::new(&config)
        .delete_event_bus()
        .name(&bus_name)
        .send()
        .await
        .unwrap();
    let unready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(unready.status(), 503);
    let report: serde_json::Value = unready.json().await.unwrap();
    assert_eq!(report["status"], "not_ready", "{report}");
    assert_eq!(report["checks"]["bus"], "unavailable", "{report}");
    assert_eq!(report["checks"]["edge"], "ok", "{report}");
    app.stop().await;
}

fn message(id: &str, body: String) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.to_string());
    m.body = Some(body);
    m
}

#[tokio::test]
async fn the_lambda_handler_reports_only_the_poison_message_of_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteEdgeStore::open(&dir.path().join("edge.db")).unwrap());
    let consumer = EdgeConsumer::new(store.clone());
    let registered = |n: u32| {
        let vehicle = niro(format!("veh_{n}"), n);
        let env = Envelope::new(
            "vwc.ingestion",
            "org_a",
            Some(&vehicle.id.clone()),
            None,
            VehicleRegistered {
                vehicle: vehicle.clone(),
            },
        );
        // As EventBridge delivers it to SQS: the envelope is the `detail`.
        serde_json::json!({"version": "0", "id": "x", "detail-type": "VehicleRegistered", "source": "vwc.ingestion",
            "time": "2026-01-01T00:00:00Z", "region": "us-east-1", "resources": [], "detail": env})
        .to_string()
    };
    let mut event = SqsEvent::default();
    event.records = vec![
        message("m-1", registered(1)),
        message(
            "m-poison",
            "{\"detail\": {\"not\": \"an envelope\"}}".into(),
        ),
        message("m-3", registered(3)),
    ];
    let response = vwc_bus::lambda::handle_sqs_batch(event, &consumer).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, vec!["m-poison".to_string()]);
    for vehicle in ["veh_1", "veh_3"] {
        let found = store.vehicle(&VehicleRef::new("org_a", vehicle)).await;
        assert!(found.unwrap().is_some(), "{vehicle}");
    }
}

/// `vwc aws bootstrap` with the daily jobs' Lambda functions named puts each one's scheduled rule (on the
/// default bus, at its default schedule) with the function as its target.
#[tokio::test]
async fn bootstrap_can_schedule_the_daily_lambdas() {
    let sweep = "arn:aws:lambda:us-east-1:123456789012:function:vwc-lambda-sweep";
    let revalue = "arn:aws:lambda:us-east-1:123456789012:function:vwc-lambda-revalue";
    let flags = ["--sweep-lambda-arn", sweep, "--revalue-lambda-arn", revalue];
    let Some((endpoint, bus_name, created)) = bootstrapped("distributed-local mode", &flags) else {
        return;
    };
    let config = vwc_bus::aws::sdk_config(Some(&endpoint)).await;
    let eb = aws_sdk_eventbridge::Client::new(&config);
    for (field, rule, lambda, schedule, job) in [
        (
            "sweepRule",
            "maintenance-sweep",
            sweep,
            "cron(0 6 * * ? *)",
            "maintenance sweep",
        ),
        (
            "revalueRule",
            "valuation-revalue",
            revalue,
            "cron(30 5 * * ? *)",
            "re-valuation",
        ),
    ] {
        assert_eq!(created[field]["schedule"], schedule, "{created}");
        assert_eq!(created[field]["target"], lambda, "{created}");
        let rule = format!("{bus_name}-{rule}");
        let described = eb.describe_rule().name(&rule).send().await.unwrap();
        assert_eq!(described.schedule_expression(), Some(schedule));
        let description = described.description().unwrap_or_default();
        assert!(description.contains(job), "{rule}: {description}");
        let targets = eb.list_targets_by_rule().rule(&rule).send().await.unwrap();
        let arns: Vec<&str> = targets.targets().iter().map(|t| t.arn()).collect();
        assert_eq!(arns, [lambda]);
    }
}

/// Issue 8 against moto: `vwc aws bootstrap` gives the valuation service its queue (with a DLQ) and the
/// rule from routes.json, the queue receives exactly the types routed to it, and the whole system on
/// EventBridge + SQS values a vehicle (valuation worker → `ValuationUpdated` → edge worker → overview).
#[tokio::test]
async fn the_valuation_queue_receives_its_routed_events_and_values_vehicles_over_sqs() {
    let Some((endpoint, bus_name, created)) = bootstrapped("distributed-local mode", &[]) else {
        return;
    };
    let queue = created["queues"]["valuation"]["url"]
        .as_str()
        .or_else(|| created["queues"]["valuation"]["queueUrl"].as_str())
        .unwrap_or_else(|| panic!("a valuation queue: {created}"))
        .to_string();
    assert!(
        created["queues"]["valuation"]["dlqUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{bus_name}-valuation-dlq"))
    );

    // Publish one of each routed type and one that is not routed here; read the queue directly.
    let config = vwc_bus::aws::sdk_config(Some(&endpoint)).await;
    let bus = vwc_bus::eventbridge::EventBridgeBus::new(
        aws_sdk_eventbridge::Client::new(&config),
        bus_name.clone(),
    );
    let vehicle = niro("veh_moto", 5);
    let about_the_niro =
        |source: &str, event: Event| Envelope::new(source, "org_a", Some("veh_moto"), None, event);
    let registered = about_the_niro(
        "vwc.ingestion",
        VehicleRegistered {
            vehicle: vehicle.clone(),
        }
        .into(),
    );
    let not_routed = about_the_niro(
        "vwc.maintenance-scheduler",
        vwc_contracts::examples::event(EventType::ReminderDue),
    );
    let recorded = about_the_niro(
        "vwc.ingestion",
        vwc_contracts::examples::event(EventType::VehicleEventRecorded),
    );
    use vwc_bus::Bus;
    bus.publish(&[registered.clone(), not_routed, recorded.clone()])
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&config);
    let mut seen = std::collections::BTreeSet::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.len() < 2 && std::time::Instant::now() < deadline {
        let received = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in received.messages() {
            let body: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
            seen.insert(body["detail"]["type"].as_str().unwrap().to_string());
            sqs.delete_message()
                .queue_url(&queue)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    let want: std::collections::BTreeSet<String> = [
        "VehicleEventRecorded".to_string(),
        "VehicleRegistered".to_string(),
    ]
    .into();
    assert_eq!(seen, want);

    // The whole system on the AWS bus: the valuation worker values what it consumes from SQS.
    let app = spawn_on_aws(&endpoint, &bus_name).await;
    let token = app.token("org_a", &[Role::Owner]);
    let id = app.register(&token, &vin(6)).await;
    // 404 until the edge worker has projected the registration.
    let overview = format!("/v1/vehicles/{id}/overview");
    let valuation = poll_get(
        &app,
        &token,
        &overview,
        "a current value through SQS",
        |o| (!o["valuation"].is_null()).then(|| o["valuation"].clone()),
    )
    .await;
    assert_eq!(valuation["method"], "fallback_average_new_price");
    app.stop().await;
}

#[tokio::test]
async fn the_chat_historian_gets_its_events_through_its_own_queue() {
    let Some(endpoint) = vwc_testkit::aws::aws_endpoint("distributed-local mode") else {
        return;
    };
    let bus_name = unique_bus();
    // In process (the routing table compiled into this build), so the queue list is this build's.
    let config = vwc_bus::aws::sdk_config(Some(&endpoint)).await;
    let created = vwc_bus::bootstrap::bootstrap(
        &aws_sdk_eventbridge::Client::new(&config),
        &aws_sdk_sqs::Client::new(&config),
        &vwc_contracts::Routes::load(),
        &bus_name,
        5,
    )
    .await
    .unwrap();
    let created = serde_json::to_value(&created).unwrap();
    assert!(
        created["queues"]["chat-historian"]["url"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("{bus_name}-chat-historian"))),
        "{created}"
    );
    let app = spawn_on_aws(&endpoint, &bus_name).await;
    let token = app.token("org_a", &[Role::Owner]);
    let vehicle = app.register(&token, &vin(1)).await;
    let reading = app.record_odometer(&token, &vehicle, 3, 1234).await;
    let answer = vwc_testkit::eventually(
        "the historian answers from the SQS-delivered record",
        std::time::Duration::from_secs(30),
        || async {
            let question = serde_json::json!({"question": "Show me the odometer readings"});
            let r = chat(&app, &token, &vehicle, Some("application/json"), &question).await;
            let body: serde_json::Value = r.json().await.ok()?;
            (body["citations"][0]["eventId"] == reading.as_str()).then_some(body)
        },
    )
    .await;
    assert!(answer["answer"].as_str().unwrap().contains("1,234 mi"));
    app.stop().await;
}

/// A TCP forwarder in front of moto that can cut AWS off: while it is down, live connections are dropped
/// and new ones are closed at once, as when the endpoint is unreachable.
struct Outage {
    url: String,
    up: Arc<std::sync::atomic::AtomicBool>,
    live: Arc<std::sync::Mutex<tokio::task::JoinSet<()>>>,
}

impl Outage {
    async fn in_front_of(endpoint: &str) -> Outage {
        use std::sync::atomic::Ordering;
        let target = endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let live = Arc::new(std::sync::Mutex::new(tokio::task::JoinSet::new()));
        let (up2, live2) = (up.clone(), live.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: the connection closes at once
                }
                let target = target.clone();
                live2.lock().unwrap().spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Outage { url, up, live }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.live.lock().unwrap().abort_all();
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Issue 12, fault injection: AWS (moto) goes away mid-run. Writes acknowledged meanwhile wait in the
/// outbox (the relay cannot publish, the workers cannot receive); when AWS is back, every acknowledged write
/// is projected exactly once and nothing else is.
#[tokio::test]
async fn writes_acknowledged_while_aws_is_unreachable_are_projected_once_when_it_is_back() {
    let Some((endpoint, bus_name, _)) = bootstrapped("distributed-local mode", &[]) else {
        return;
    };
    let outage = Outage::in_front_of(&endpoint).await;
    let app = spawn_on_aws(&outage.url, &bus_name).await;
    let token = app.token("org_a", &[Role::Owner]);
    let vehicle = app.register(&token, &vin(7)).await;
    let mut recorded = Vec::new();
    for i in 0..3u64 {
        recorded.push(app.record_odometer(&token, &vehicle, 30, 100 + i).await);
    }
    app.timeline_of_len(&token, &vehicle, 3).await;

    outage.cut();
    for i in 3..10u64 {
        recorded.push(app.record_odometer(&token, &vehicle, 30, 100 + i).await);
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        app.timeline_of_len_at_most(&token, &vehicle, 10).await,
        3,
        "nothing can reach the edge while AWS is unreachable"
    );

    outage.restore();
    let path = format!("/v1/vehicles/{vehicle}/events?limit=200");
    let what = "every acknowledged write projected after the outage";
    // Longer than a projection: the relays and the workers back off while AWS is away.
    let catch_up = std::time::Duration::from_secs(90);
    let items = poll_get_within(&app, &token, &path, what, catch_up, |body| {
        let items = body["items"].as_array()?.clone();
        (items.len() >= recorded.len()).then_some(items)
    })
    .await;
    let mut ids: Vec<String> = items
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut expected = recorded.clone();
    expected.sort();
    assert_eq!(ids, expected, "each acknowledged write once, nothing else");
    let v = app.get_ok(&token, &format!("/v1/vehicles/{vehicle}")).await;
    assert_eq!(v["eventCount"], 10, "{v}");
    assert_eq!(v["odometer"]["value"], 109, "{v}");
    app.stop().await;
}
