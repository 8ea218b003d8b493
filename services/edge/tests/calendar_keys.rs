//! The calendar key store conformance suite: each check runs against a fresh SQLite file, always, and
//! against a fresh MongoDB database when `VWC_TEST_MONGODB_URI` is set (skipped loudly otherwise).

use std::future::Future;
use std::sync::Arc;

use vwc_edge::calendar::{CalendarKeyStore, SqliteCalendarKeys};

type Store = Arc<dyn CalendarKeyStore>;

async fn a_secret_is_created_once_and_read_back(store: Store) {
    assert_eq!(store.secret("org_a").await.unwrap(), None);
    let first = store.secret_or_create("org_a").await.unwrap();
    assert_eq!(first.secret.len(), 32);
    assert_eq!(store.secret_or_create("org_a").await.unwrap(), first);
    assert_eq!(store.secret("org_a").await.unwrap(), Some(first.clone()));
    let other = store.secret_or_create("org_b").await.unwrap();
    assert_ne!(other.secret, first.secret, "each organisation has its own");
}

async fn rotation_replaces_the_secret_of_one_organisation(store: Store) {
    let a = store.secret_or_create("org_a").await.unwrap();
    let b = store.secret_or_create("org_b").await.unwrap();
    let rotated = store.rotate("org_a").await.unwrap();
    assert_ne!(rotated.secret, a.secret);
    assert!(rotated.rotated_at >= a.rotated_at);
    assert_eq!(store.secret("org_a").await.unwrap(), Some(rotated));
    assert_eq!(store.secret("org_b").await.unwrap(), Some(b));
    // Rotating before any secret exists creates one.
    let fresh = store.rotate("org_c").await.unwrap();
    assert_eq!(store.secret("org_c").await.unwrap(), Some(fresh));
}

async fn racing_first_requests_agree_on_one_secret(store: Store) {
    let (x, y) = tokio::join!(
        store.secret_or_create("org_race"),
        store.secret_or_create("org_race")
    );
    assert_eq!(x.unwrap(), y.unwrap());
}

vwc_testkit::conformance!(
    "calendar_keys";
    a_secret_is_created_once_and_read_back,
    rotation_replaces_the_secret_of_one_organisation,
    racing_first_requests_agree_on_one_secret,
);

async fn on_sqlite<F, Fut>(check: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteCalendarKeys::open(&dir.path().join("edge-calendar.db")).unwrap();
    check(Arc::new(store)).await;
}

#[cfg(feature = "aws")]
async fn on_mongodb<F, Fut>(check: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    vwc_testkit::mongo::on_fresh_database(
        "edge",
        |client, name| async move {
            Arc::new(vwc_edge::calendar::MongoCalendarKeys::new(
                vwc_store::mongo::MongoDb::new(client, &name),
            )) as Store
        },
        check,
    )
    .await;
}
