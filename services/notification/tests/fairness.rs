//! One organisation cannot starve everyone's notifications (issue 12, finding 5): an endpoint that
//! accepts and never answers ties up only its organisation's (and its host's) share of the running
//! worker, while the other organisations' webhooks are delivered meanwhile.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::sync::watch;
use vwc_bus::Consumer;
use vwc_notification::store::Preferences;
use vwc_notification::worker::WorkerOptions;
use vwc_notification::{DeliveryWorker, NotificationConsumer};

fn webhook_only(url: String) -> Preferences {
    Preferences {
        webhook_url: Some(url),
        ..Preferences::default()
    }
}

#[tokio::test]
async fn a_silent_endpoint_holds_only_its_share_and_other_organisations_are_delivered() {
    let (_dir, store) = sqlite_store();
    let consumer = NotificationConsumer::new(store.clone());
    let silent = SilentReceiver::start().await;
    let fast = Receiver::start(&[], answer(200)).await;
    // Three organisations point at the same silent host (the first with a long backlog) before the
    // fast one's few reminders arrive, so they are all due first.
    for org in ["org_slow_1", "org_slow_2", "org_slow_3"] {
        set_preferences(store.as_ref(), org, webhook_only(silent.url())).await;
    }
    set_preferences(store.as_ref(), "org_fast", webhook_only(fast.url())).await;
    for i in 0..40 {
        let org = ["org_slow_1", "org_slow_1", "org_slow_2", "org_slow_3"][i % 4];
        consumer
            .handle(&reminder_envelope(org, &reminder(&format!("rem_slow_{i}"))))
            .await
            .unwrap();
    }
    for i in 0..5 {
        consumer
            .handle(&reminder_envelope(
                "org_fast",
                &reminder(&format!("rem_fast_{i}")),
            ))
            .await
            .unwrap();
    }

    let options = WorkerOptions {
        poll_every: Duration::from_millis(50),
        busy_defer: Duration::from_millis(200),
        ..WorkerOptions::default()
    };
    let worker = Arc::new(
        DeliveryWorker::new(store.clone(), loopback_allowlist())
            .with_retry_policy(fast_policy(3))
            // Far longer than the test: the silent endpoint never frees a slot by timing out.
            .with_webhook_timeout(Duration::from_secs(120))
            .with_options(options),
    );
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(worker.clone().run(stopped));

    vwc_testkit::eventually(
        "the fast organisation's five webhooks",
        Duration::from_secs(15),
        || {
            let n = fast.received().len();
            async move { (n == 5).then_some(()) }
        },
    )
    .await;
    // Wait until the worker has tried twice more to overfill the silent host (and held the deliveries
    // back), then count what it holds open there.
    let tries = worker.held_for_share();
    vwc_testkit::eventually(
        "two more deliveries held back for the host's share",
        Duration::from_secs(15),
        || {
            let n = worker.held_for_share();
            async move { (n >= tries + 2).then_some(()) }
        },
    )
    .await;
    let held = silent.connections();
    assert!(
        held <= options.per_host,
        "{held} connections to one host, limit {}",
        options.per_host
    );
    assert!(held >= 1, "the silent endpoint was tried");
    stop.send(true).unwrap();
    running.await.unwrap();
}

#[tokio::test]
async fn one_organisation_has_at_most_its_share_in_flight() {
    let (_dir, store) = sqlite_store();
    let consumer = NotificationConsumer::new(store.clone());
    let silent = SilentReceiver::start().await;
    set_preferences(store.as_ref(), "org_slow", webhook_only(silent.url())).await;
    for i in 0..20 {
        consumer
            .handle(&reminder_envelope(
                "org_slow",
                &reminder(&format!("rem_{i}")),
            ))
            .await
            .unwrap();
    }
    let options = WorkerOptions {
        poll_every: Duration::from_millis(50),
        busy_defer: Duration::from_millis(100),
        ..WorkerOptions::default()
    };
    let worker = Arc::new(
        DeliveryWorker::new(store.clone(), loopback_allowlist())
            .with_webhook_timeout(Duration::from_secs(120))
            .with_options(options),
    );
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(worker.clone().run(stopped));
    // The first claim brings all twenty: the share goes out, the rest is held back.
    vwc_testkit::eventually(
        "the organisation's share in flight and the rest held back",
        Duration::from_secs(10),
        || {
            let (n, held) = (silent.connections(), worker.held_for_share());
            async move { (n >= options.per_org && held >= 20 - options.per_org as u64).then_some(()) }
        },
    )
    .await;
    // Let the worker claim again several times, past the held deliveries' `busy_defer`: none of those
    // passes may send more of this organisation while its share hangs.
    let passes = worker.claim_passes();
    vwc_testkit::eventually("five more claim passes", Duration::from_secs(10), || {
        let n = worker.claim_passes();
        async move { (n >= passes + 5).then_some(()) }
    })
    .await;
    assert_eq!(silent.connections(), options.per_org);
    stop.send(true).unwrap();
    running.await.unwrap();
}
