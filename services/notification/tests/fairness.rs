//! One organisation cannot starve everyone's notifications (issue 12, finding 5): an endpoint that
//! accepts and never answers ties up only its organisation's (and its host's) share of the running
//! worker, while the other organisations' webhooks are delivered meanwhile.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::sync::watch;
use vwc_notification::worker::WorkerOptions;
use vwc_notification::{DeliveryWorker, NotificationConsumer};
use vwc_testkit::until;

/// A delivery worker running on its own task until [`Running::stop`].
struct Running {
    worker: Arc<DeliveryWorker>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Runs `worker` polling often, with `busy_defer` for held deliveries and no webhook timing out
    /// within the test (a silent endpoint never frees its slot by timing out).
    fn start(worker: DeliveryWorker, busy_defer: Duration) -> (Running, WorkerOptions) {
        let options = WorkerOptions {
            poll_every: Duration::from_millis(50),
            busy_defer,
            ..WorkerOptions::default()
        };
        let worker = Arc::new(
            worker
                .with_webhook_timeout(Duration::from_secs(120))
                .with_options(options),
        );
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(worker.clone().run(stopped));
        (Running { worker, stop, task }, options)
    }

    async fn stop(self) {
        self.stop.send(true).unwrap();
        self.task.await.unwrap();
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
        remind(&consumer, org, &format!("rem_slow_{i}")).await;
    }
    for i in 0..5 {
        remind(&consumer, "org_fast", &format!("rem_fast_{i}")).await;
    }

    let (running, options) = Running::start(
        DeliveryWorker::new(store.clone(), loopback_allowlist()).with_retry_policy(fast_policy(3)),
        Duration::from_millis(200),
    );
    let worker = &running.worker;
    let wait = Duration::from_secs(15);
    until("the fast organisation's five webhooks", wait, || {
        fast.received().len() == 5
    })
    .await;
    // Wait until the worker has tried twice more to overfill the silent host (and held the deliveries
    // back), then count what it holds open there.
    let tries = worker.held_for_share();
    until(
        "two more deliveries held back for the host's share",
        wait,
        || worker.held_for_share() >= tries + 2,
    )
    .await;
    let held = silent.connections();
    assert!(
        held <= options.per_host,
        "{held} connections to one host, limit {}",
        options.per_host
    );
    assert!(held >= 1, "the silent endpoint was tried");
    running.stop().await;
}

#[tokio::test]
async fn one_organisation_has_at_most_its_share_in_flight() {
    let (_dir, store) = sqlite_store();
    let consumer = NotificationConsumer::new(store.clone());
    let silent = SilentReceiver::start().await;
    set_preferences(store.as_ref(), "org_slow", webhook_only(silent.url())).await;
    for i in 0..20 {
        remind(&consumer, "org_slow", &format!("rem_{i}")).await;
    }
    let (running, options) = Running::start(
        DeliveryWorker::new(store.clone(), loopback_allowlist()),
        Duration::from_millis(100),
    );
    let worker = &running.worker;
    let wait = Duration::from_secs(10);
    // The first claim brings all twenty: the share goes out, the rest is held back.
    until(
        "the organisation's share in flight and the rest held back",
        wait,
        || {
            silent.connections() >= options.per_org
                && worker.held_for_share() >= 20 - options.per_org as u64
        },
    )
    .await;
    // Let the worker claim again several times, past the held deliveries' `busy_defer`: none of those
    // passes may send more of this organisation while its share hangs.
    let passes = worker.claim_passes();
    until("five more claim passes", wait, || {
        worker.claim_passes() >= passes + 5
    })
    .await;
    assert_eq!(silent.connections(), options.per_org);
    running.stop().await;
}
