//! A delivery worker with nothing due asks the store with reads only: its polls leave the database's
//! writer idle (so it can hand back its page cache and empty its WAL), and it still finds what another
//! process queues without waking it.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::sync::watch;
use vwc_notification::worker::WorkerOptions;
use vwc_notification::{DeliveryWorker, NotificationConsumer, SqliteNotificationStore};
use vwc_testkit::until;

#[tokio::test]
async fn a_worker_with_nothing_due_writes_nothing_and_still_finds_what_another_process_queues() {
    let (dir, store) = sqlite_store();
    let receiver = Receiver::start(&[], answer(200)).await;
    set_preferences(store.as_ref(), "org_idle", webhook_only(receiver.url())).await;
    let options = WorkerOptions {
        poll_every: Duration::from_millis(20),
        ..WorkerOptions::default()
    };
    let worker =
        Arc::new(DeliveryWorker::new(store.clone(), loopback_allowlist()).with_options(options));
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(worker.clone().run(stopped));

    tokio::time::sleep(Duration::from_millis(100)).await;
    let jobs = store.db().writer_jobs();
    // ≈ 25 polls with nothing pending.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        store.db().writer_jobs(),
        jobs,
        "polls with nothing due wrote nothing"
    );
    assert_eq!(worker.claim_passes(), 0);

    // Another process (a store of its own on the same file) queues a webhook: no wake-up reaches this
    // worker, its next poll finds the delivery due.
    let other =
        Arc::new(SqliteNotificationStore::open(&dir.path().join("notification.db")).expect("open"));
    remind(&NotificationConsumer::new(other), "org_idle", "rem_idle_1").await;
    until(
        "the webhook queued elsewhere",
        Duration::from_secs(10),
        || receiver.received().len() == 1,
    )
    .await;
    assert!(worker.claim_passes() >= 1);

    stop.send(true).unwrap();
    task.await.unwrap();
}
