//! Distributed-local mode against moto: EventBridge rule → SQS → worker → edge projection, and the Lambda
//! SQS handler's partial batch response with the real edge consumer.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use vwc::embedded::BusChoice;
use vwc::testing::TestApp;
use vwc_auth::Role;
use vwc_contracts::{Envelope, EventType, OdometerUnit, Vehicle, VehicleRegistered};
use vwc_edge::{EdgeConsumer, EdgeStore, SqliteEdgeStore};
use vwc_testkit::vin;

fn endpoint() -> Option<String> {
    match std::env::var("VWC_TEST_AWS_ENDPOINT") {
        Ok(e) if !e.is_empty() => Some(e),
        _ if std::env::var("VWC_REQUIRE_AWS_TESTS").as_deref() == Ok("1") => {
            panic!("VWC_REQUIRE_AWS_TESTS=1 but VWC_TEST_AWS_ENDPOINT is not set")
        }
        _ => {
            eprintln!(
                "SKIPPED: VWC_TEST_AWS_ENDPOINT not set (scripts/test starts moto and sets it)"
            );
            None
        }
    }
}

fn unique_bus() -> String {
    format!("vwc-t{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

#[tokio::test]
async fn events_flow_through_eventbridge_and_sqs_to_the_edge_projection() {
    let Some(endpoint) = endpoint() else { return };
    let bus_name = unique_bus();
    // Bootstrap through the CLI, as an operator would.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vwc"))
        .args([
            "aws",
            "bootstrap",
            "--endpoint",
            &endpoint,
            "--bus-name",
            &bus_name,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        created["queues"]["edge"]["dlqUrl"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{bus_name}-edge-dlq"))
    );

    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(dir, |o| {
        o.bus = BusChoice::Aws {
            endpoint: Some(endpoint.clone()),
            bus_name: bus_name.clone(),
        };
        o.sqs_wait_secs = 1;
    })
    .await;
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
        let vehicle = Vehicle {
            id: format!("veh_{n}"),
            org_id: "org_a".into(),
            vin: vin(n),
            year: 2020,
            make: "Kia".into(),
            model: "Niro".into(),
            trim: None,
            nickname: None,
            odometer_unit: OdometerUnit::Km,
            registered_at: chrono::Utc::now(),
        };
        let env = Envelope::new(
            EventType::VehicleRegistered,
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
    assert!(store.vehicle("org_a", "veh_1").await.unwrap().is_some());
    assert!(store.vehicle("org_a", "veh_3").await.unwrap().is_some());
}

#[tokio::test]
async fn bootstrap_can_schedule_the_daily_sweep_lambda() {
    let Some(endpoint) = endpoint() else { return };
    let bus_name = unique_bus();
    let lambda = "arn:aws:lambda:us-east-1:123456789012:function:vwc-lambda-sweep";
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vwc"))
        .args([
            "aws",
            "bootstrap",
            "--endpoint",
            &endpoint,
            "--bus-name",
            &bus_name,
            "--sweep-lambda-arn",
            lambda,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["sweepRule"]["schedule"], "cron(0 6 * * ? *)");
    let config = vwc_bus::aws::sdk_config(Some(&endpoint)).await;
    let eb = aws_sdk_eventbridge::Client::new(&config);
    let rule = eb
        .describe_rule()
        .name(format!("{bus_name}-maintenance-sweep"))
        .send()
        .await
        .unwrap();
    assert_eq!(rule.schedule_expression(), Some("cron(0 6 * * ? *)"));
    let targets = eb
        .list_targets_by_rule()
        .rule(format!("{bus_name}-maintenance-sweep"))
        .send()
        .await
        .unwrap();
    assert_eq!(targets.targets()[0].arn(), lambda);
}

#[tokio::test]
async fn the_chat_historian_gets_its_events_through_its_own_queue() {
    let Some(endpoint) = endpoint() else { return };
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
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(dir, |o| {
        o.bus = BusChoice::Aws {
            endpoint: Some(endpoint.clone()),
            bus_name: bus_name.clone(),
        };
        o.sqs_wait_secs = 1;
    })
    .await;
    let token = app.token("org_a", &[Role::Owner]);
    let vehicle = app.register(&token, &vin(1)).await;
    let reading = app.record_odometer(&token, &vehicle, 3, 1234).await;
    let answer = vwc_testkit::eventually(
        "the historian answers from the SQS-delivered record",
        std::time::Duration::from_secs(30),
        || async {
            let r = app
                .http
                .post(app.url(&format!("/v1/vehicles/{vehicle}/chat")))
                .bearer_auth(&token)
                .header("accept", "application/json")
                .json(&serde_json::json!({"question": "Show me the odometer readings"}))
                .send()
                .await
                .ok()?;
            let body: serde_json::Value = r.json().await.ok()?;
            (body["citations"][0]["eventId"] == reading.as_str()).then_some(body)
        },
    )
    .await;
    assert!(answer["answer"].as_str().unwrap().contains("1,234 mi"));
    app.stop().await;
}
