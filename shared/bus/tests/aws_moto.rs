//! The AWS adapters (bootstrap, EventBridge publisher, SQS worker, Lambda handler) against a real moto server.
//! Start one with `scripts/lib/moto.sh` (`moto_ensure_venv; moto_start`), which exports
//! `VWC_TEST_AWS_ENDPOINT`. Every test names its own bus and consumers, so they share one server in parallel.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{Message, QueueAttributeName};
use vwc_bus::bootstrap::{
    Bootstrapped, QueueInfo, bootstrap, dead_letter_queue_name, queue_name, rule_name,
};
use vwc_bus::eventbridge::EventBridgeBus;
use vwc_bus::lambda::handle_sqs_batch;
use vwc_bus::sqs::{PollStats, SqsWorker, VisibilityBackoff, WorkerOptions};
use vwc_bus::{Bus, BusError, Consumer, HandleError};
use vwc_contracts::{Envelope, EventType, Payload, Routes, Undecodable};

struct Moto {
    eb: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
}

/// Clients for the moto server in `VWC_TEST_AWS_ENDPOINT`, or `None` (the test then passes vacuously, loudly)
/// when it is unset, unless `VWC_REQUIRE_AWS_TESTS=1` makes that a failure.
async fn moto() -> Option<Moto> {
    let endpoint = vwc_testkit::aws::aws_endpoint("EventBridge and SQS adapters")?;
    let config = vwc_bus::aws::sdk_config(Some(&endpoint)).await;
    Some(Moto {
        eb: aws_sdk_eventbridge::Client::new(&config),
        sqs: aws_sdk_sqs::Client::new(&config),
    })
}

/// A short name nobody else uses on the shared server.
fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// A bus of its own with one consumer (named `<service>-<unique>`), bootstrapped; what the consumer is given
/// is recorded.
struct OneConsumer {
    bus: String,
    queue: QueueInfo,
    recorder: Arc<Recorder>,
}

impl Moto {
    /// [`OneConsumer`] of `types`, its queue redriving after `max_receive_count` receives.
    async fn one_consumer(
        &self,
        service: &str,
        types: &[EventType],
        max_receive_count: u32,
    ) -> OneConsumer {
        let bus = unique("vwc-bus");
        let consumer = unique(service);
        let routes = routes(&[(&consumer, types)]);
        let mut done = bootstrap(&self.eb, &self.sqs, &routes, &bus, max_receive_count)
            .await
            .expect("bootstrap");
        OneConsumer {
            bus,
            queue: done.queues.remove(&consumer).expect("its queue"),
            recorder: Recorder::new(&consumer),
        }
    }
}

fn routes(consumers: &[(&str, &[EventType])]) -> Routes {
    Routes {
        consumers: consumers
            .iter()
            .map(|(name, types)| (name.to_string(), types.to_vec()))
            .collect(),
    }
}

fn envelope(event_type: EventType, n: usize, poison: bool) -> Envelope {
    let mut envelope = Envelope::new(
        "vwc.ingestion",
        "org_test",
        Some(&format!("veh_{n}")),
        Some(format!(
            "00-{:032x}-{:016x}-01",
            uuid::Uuid::new_v4().as_u128(),
            n + 1
        )),
        vwc_contracts::examples::event(event_type),
    );
    if poison {
        // A real poison: data that is not the payload of its type.
        envelope.payload = Payload::Undecodable(Undecodable {
            event_type,
            data: serde_json::json!({ "n": n, "poison": true }),
            error: "poisoned for the test".into(),
        });
    }
    envelope
}

/// Records what it is given; fails envelopes whose data is not an event, as every real consumer does.
struct Recorder {
    name: String,
    seen: Mutex<Vec<Envelope>>,
}

impl Recorder {
    fn new(name: &str) -> Arc<Recorder> {
        Arc::new(Recorder {
            name: name.to_string(),
            seen: Mutex::new(Vec::new()),
        })
    }

    fn seen(&self) -> Vec<Envelope> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait]
impl Consumer for Recorder {
    fn name(&self) -> &str {
        &self.name
    }

    fn consumes(&self) -> &'static [EventType] {
        EventType::ALL
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        envelope.event().map_err(HandleError::malformed)?;
        self.seen.lock().unwrap().push(envelope.clone());
        Ok(())
    }
}

fn quick_options() -> WorkerOptions {
    WorkerOptions {
        wait_time_secs: 1,
        ..WorkerOptions::default()
    }
}

async fn queue_attributes(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> BTreeMap<QueueAttributeName, String> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// Messages in the queue, visible or not (deleted ones are gone).
async fn messages_in_queue(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    let attributes = queue_attributes(sqs, url).await;
    let count = |name: &QueueAttributeName| -> u64 {
        attributes
            .get(name)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    count(&QueueAttributeName::ApproximateNumberOfMessages)
        + count(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
}

async fn send_raw(sqs: &aws_sdk_sqs::Client, url: &str, envelope: &Envelope) {
    sqs.send_message()
        .queue_url(url)
        .message_body(serde_json::to_string(envelope).unwrap())
        .send()
        .await
        .expect("SendMessage");
}

async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str, want: usize) -> Vec<Message> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut messages = Vec::new();
    while messages.len() < want && Instant::now() < deadline {
        let output = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(60)
            .send()
            .await
            .expect("ReceiveMessage");
        messages.extend(output.messages.unwrap_or_default());
    }
    messages
}

fn redrive_of(attributes: &BTreeMap<QueueAttributeName, String>) -> (String, u64) {
    let redrive: serde_json::Value = serde_json::from_str(
        attributes
            .get(&QueueAttributeName::RedrivePolicy)
            .expect("the queue has a redrive policy"),
    )
    .unwrap();
    let max = match &redrive["maxReceiveCount"] {
        serde_json::Value::Number(n) => n.as_u64().unwrap(),
        serde_json::Value::String(s) => s.parse().unwrap(),
        other => panic!("maxReceiveCount is {other}"),
    };
    (
        redrive["deadLetterTargetArn"].as_str().unwrap().to_string(),
        max,
    )
}

#[tokio::test]
async fn bootstrap_is_idempotent_and_gives_every_queue_a_dead_letter_redrive() {
    let Some(moto) = moto().await else { return };
    let bus = unique("vwc-bus");
    let edge = unique("edge");
    let notification = unique("notification");
    let routes = routes(&[
        (
            &edge,
            &[
                EventType::VehicleRegistered,
                EventType::VehicleEventRecorded,
            ],
        ),
        (&notification, &[EventType::ReminderDue]),
    ]);

    let first = bootstrap(&moto.eb, &moto.sqs, &routes, &bus, 3)
        .await
        .expect("first bootstrap");
    let second = bootstrap(&moto.eb, &moto.sqs, &routes, &bus, 3)
        .await
        .expect("second bootstrap");
    assert_eq!(first, second, "a second bootstrap changes nothing");
    assert_eq!(first.bus_name, bus);
    assert_eq!(
        first.queues.keys().collect::<Vec<_>>(),
        vec![&edge, &notification]
    );

    // The bus holds exactly one rule per consumer, nothing else: listed once, with their patterns.
    let listed = moto
        .eb
        .list_rules()
        .event_bus_name(&bus)
        .send()
        .await
        .expect("ListRules");
    let patterns: BTreeMap<&str, serde_json::Value> = listed
        .rules()
        .iter()
        .map(|r| {
            let pattern = r.event_pattern().expect("a rule's event pattern");
            (r.name().unwrap(), serde_json::from_str(pattern).unwrap())
        })
        .collect();
    assert_eq!(
        patterns.keys().copied().collect::<Vec<_>>(),
        [rule_name(&edge), rule_name(&notification)]
    );

    for (consumer, info) in &first.queues {
        assert!(
            info.url
                .ends_with(&format!("/{}", queue_name(&bus, consumer)))
        );
        assert!(
            info.dlq_url
                .ends_with(&format!("/{}", dead_letter_queue_name(&bus, consumer)))
        );
        let attributes = queue_attributes(&moto.sqs, &info.url).await;
        assert_eq!(redrive_of(&attributes), (info.dlq_arn.clone(), 3));
        let policy = attributes
            .get(&QueueAttributeName::Policy)
            .expect("queue policy");
        assert!(policy.contains("events.amazonaws.com"), "{policy}");
        let dlq = queue_attributes(&moto.sqs, &info.dlq_url).await;
        assert_eq!(
            dlq.get(&QueueAttributeName::MessageRetentionPeriod)
                .map(String::as_str),
            Some("1209600")
        );

        let types: Vec<&str> = routes.consumers[consumer]
            .iter()
            .map(|t| t.as_str())
            .collect();
        assert_eq!(
            patterns[rule_name(consumer).as_str()],
            serde_json::json!({ "detail-type": types }),
            "{consumer}: the rule routes exactly its event types"
        );
        let targets = moto
            .eb
            .list_targets_by_rule()
            .rule(rule_name(consumer))
            .event_bus_name(&bus)
            .send()
            .await
            .expect("ListTargetsByRule");
        let arns: Vec<&str> = targets.targets().iter().map(|t| t.arn()).collect();
        assert_eq!(
            arns,
            vec![info.arn.as_str()],
            "exactly one target: the queue"
        );
    }

    // Re-running with another maxReceiveCount converges the existing queues instead of failing.
    let third: Bootstrapped = bootstrap(&moto.eb, &moto.sqs, &routes, &bus, 7)
        .await
        .expect("bootstrap with a new maxReceiveCount");
    assert_eq!(third, first);
    let attributes = queue_attributes(&moto.sqs, &first.queues[&edge].url).await;
    assert_eq!(redrive_of(&attributes).1, 7);
}

#[tokio::test]
async fn published_envelopes_reach_the_consumer_queue_exactly_once() {
    let Some(moto) = moto().await else { return };
    let types = [
        EventType::VehicleRegistered,
        EventType::VehicleEventRecorded,
    ];
    let OneConsumer {
        bus: bus_name,
        queue,
        recorder,
    } = moto.one_consumer("edge", &types, 3).await;

    let mut published: Vec<Envelope> = (0..25)
        .map(|n| {
            let event_type = if n % 2 == 0 {
                EventType::VehicleRegistered
            } else {
                EventType::VehicleEventRecorded
            };
            envelope(event_type, n, false)
        })
        .collect();
    // Not routed to this consumer: must not arrive.
    let unrouted = envelope(EventType::ReminderDue, 99, false);
    published.push(unrouted.clone());
    let bus = EventBridgeBus::new(moto.eb.clone(), bus_name.clone());
    bus.publish(&published).await.expect("publish 26 envelopes");

    let worker = SqsWorker::new(
        moto.sqs.clone(),
        queue.url.clone(),
        recorder.clone(),
        quick_options(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut totals = PollStats::default();
    while recorder.seen().len() < 25 && Instant::now() < deadline {
        totals += worker.poll_once().await.expect("poll");
    }
    // One more poll: anything delivered twice would show up now.
    totals += worker.poll_once().await.expect("poll");

    let seen = recorder.seen();
    let seen_ids: Vec<uuid::Uuid> = seen.iter().map(|e| e.id).collect();
    let distinct: HashSet<uuid::Uuid> = seen_ids.iter().copied().collect();
    assert_eq!(
        seen_ids.len(),
        25,
        "each routed envelope arrives once: {totals:?}"
    );
    assert_eq!(distinct.len(), 25);
    let expected: HashSet<uuid::Uuid> = published[..25].iter().map(|e| e.id).collect();
    assert_eq!(distinct, expected);
    assert!(!distinct.contains(&unrouted.id));
    assert_eq!(
        totals,
        PollStats {
            received: 25,
            succeeded: 25,
            failed: 0
        }
    );
    // The envelope travels unchanged, trace context included.
    for envelope in &seen {
        let original = published.iter().find(|p| p.id == envelope.id).unwrap();
        assert_eq!(envelope, original);
    }
    assert_eq!(
        messages_in_queue(&moto.sqs, worker.queue_url()).await,
        0,
        "handled messages are deleted"
    );
}

#[tokio::test]
async fn publishing_to_a_bus_that_does_not_exist_is_an_error_not_a_silent_drop() {
    let Some(moto) = moto().await else { return };
    let bus = EventBridgeBus::new(moto.eb.clone(), unique("no-such-bus"));
    let result = bus
        .publish(&[envelope(EventType::VehicleRegistered, 0, false)])
        .await;
    assert!(
        matches!(result, Err(BusError::Unavailable(ref reason)) if reason.contains("does not exist")),
        "{result:?}"
    );
}

#[tokio::test]
async fn lambda_batch_reports_only_the_poison_message_as_failed() {
    let Some(moto) = moto().await else { return };
    let consumer_name = unique("notification");
    let url = moto
        .sqs
        .create_queue()
        .queue_name(queue_name("vwc-test", &consumer_name))
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .unwrap();
    let poison = envelope(EventType::ReminderDue, 1, true);
    for e in [
        envelope(EventType::ReminderDue, 0, false),
        poison.clone(),
        envelope(EventType::ReminderDue, 2, false),
    ] {
        send_raw(&moto.sqs, &url, &e).await;
    }
    let messages = receive_all(&moto.sqs, &url, 3).await;
    assert_eq!(messages.len(), 3);
    let poison_message_id = messages
        .iter()
        .find(|m| m.body().unwrap().contains(&poison.id.to_string()))
        .and_then(|m| m.message_id())
        .unwrap()
        .to_string();

    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id().map(str::to_string);
            record.receipt_handle = m.receipt_handle().map(str::to_string);
            record.body = m.body().map(str::to_string);
            record.event_source = Some("aws:sqs".into());
            record.aws_region = Some("us-east-1".into());
            record
        })
        .collect();
    let recorder = Recorder::new(&consumer_name);
    let response = handle_sqs_batch(event, recorder.as_ref()).await;

    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, vec![poison_message_id.as_str()]);
    assert_eq!(recorder.seen().len(), 2);
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(
        json,
        serde_json::json!({ "batchItemFailures": [{ "itemIdentifier": poison_message_id }] })
    );
}

#[tokio::test]
async fn worker_deletes_handled_messages_and_leaves_the_failing_one_queued() {
    let Some(moto) = moto().await else { return };
    let OneConsumer {
        queue, recorder, ..
    } = moto
        .one_consumer("notification", &[EventType::ReminderDue], 5)
        .await;
    let url = queue.url;
    let poison = envelope(EventType::ReminderDue, 3, true);
    for n in 0..3 {
        send_raw(&moto.sqs, &url, &envelope(EventType::ReminderDue, n, false)).await;
    }
    send_raw(&moto.sqs, &url, &poison).await;

    let worker = SqsWorker::new(
        moto.sqs.clone(),
        url.clone(),
        recorder.clone(),
        WorkerOptions {
            wait_time_secs: 1,
            failure_backoff: Some(VisibilityBackoff {
                base: Duration::from_secs(1),
                max: Duration::from_secs(1),
            }),
            ..WorkerOptions::default()
        },
    );
    let mut totals = PollStats::default();
    for _ in 0..10 {
        totals += worker.poll_once().await.expect("poll");
        if totals.succeeded == 3 && totals.failed >= 1 {
            break;
        }
    }
    assert_eq!(totals.succeeded, 3, "{totals:?}");
    assert!(totals.failed >= 1, "{totals:?}");
    assert_eq!(recorder.seen().len(), 3);

    assert_eq!(
        messages_in_queue(&moto.sqs, &url).await,
        1,
        "only the failing message is left"
    );
    // Hidden for the 1 s failure backoff, then back for another try.
    let again = receive_all(&moto.sqs, &url, 1).await;
    assert_eq!(again.len(), 1);
    let body = again[0].body().unwrap();
    assert_eq!(
        vwc_bus::sqs::envelope_from_sqs_body(body).unwrap().id,
        poison.id
    );
}

#[tokio::test]
async fn a_message_that_keeps_failing_moves_to_the_dead_letter_queue() {
    let Some(moto) = moto().await else { return };
    let OneConsumer {
        bus: bus_name,
        queue: info,
        recorder,
    } = moto
        .one_consumer("edge", &[EventType::VehicleRegistered], 2)
        .await;
    let poison = envelope(EventType::VehicleRegistered, 0, true);
    EventBridgeBus::new(moto.eb.clone(), bus_name.clone())
        .publish(std::slice::from_ref(&poison))
        .await
        .expect("publish");

    let worker = SqsWorker::new(
        moto.sqs.clone(),
        info.url.clone(),
        recorder.clone(),
        WorkerOptions {
            wait_time_secs: 1,
            visibility_timeout: Some(Duration::ZERO),
            failure_backoff: None,
            ..WorkerOptions::default()
        },
    );
    let mut totals = PollStats::default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while messages_in_queue(&moto.sqs, &info.dlq_url).await == 0 && Instant::now() < deadline {
        totals += worker.poll_once().await.expect("poll");
    }
    assert_eq!(totals.failed, 2, "tried maxReceiveCount times: {totals:?}");
    assert_eq!(totals.succeeded, 0);
    assert_eq!(messages_in_queue(&moto.sqs, &info.url).await, 0);
    let dead = receive_all(&moto.sqs, &info.dlq_url, 1).await;
    assert_eq!(dead.len(), 1);
    let dead_envelope = vwc_bus::sqs::envelope_from_sqs_body(dead[0].body().unwrap()).unwrap();
    // The same message on the wire (the reason it could not be decoded is the reader's, not the message's).
    assert_eq!(dead_envelope.id, poison.id);
    assert_eq!(
        serde_json::to_value(&dead_envelope).unwrap(),
        serde_json::to_value(&poison).unwrap()
    );
}

#[tokio::test]
async fn a_running_worker_handles_published_events_and_stops_mid_long_poll_on_shutdown() {
    let Some(moto) = moto().await else { return };
    let OneConsumer {
        bus: bus_name,
        queue,
        recorder,
    } = moto
        .one_consumer(
            "maintenance-scheduler",
            &[EventType::VehicleEventRecorded],
            3,
        )
        .await;
    // The default 20 s long poll: shutdown must not wait for it to end.
    let worker = SqsWorker::new(
        moto.sqs.clone(),
        queue.url.clone(),
        recorder.clone(),
        WorkerOptions::default(),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run(stopped));

    let published: Vec<Envelope> = (0..3)
        .map(|n| envelope(EventType::VehicleEventRecorded, n, false))
        .collect();
    EventBridgeBus::new(moto.eb.clone(), bus_name)
        .publish(&published)
        .await
        .expect("publish");
    let deadline = Instant::now() + Duration::from_secs(30);
    while recorder.seen().len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(recorder.seen().len(), 3);

    stop.send(true).unwrap();
    let totals = tokio::time::timeout(Duration::from_secs(3), running)
        .await
        .expect("the worker stops within 3 s of shutdown")
        .expect("the worker task does not panic");
    assert_eq!(
        totals,
        PollStats {
            received: 3,
            succeeded: 3,
            failed: 0
        }
    );
}
