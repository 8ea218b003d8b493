//! What the bus's integration tests share.

use std::future::Future;

use vwc_store::mongo::MongoDb;

/// Runs `check` on a fresh MongoDB database (`VWC_TEST_MONGODB_URI`; skipped loudly without one) with the
/// common collections' indexes made, and drops the database after.
pub async fn on_fresh_mongodb<C, F>(name: &str, check: C)
where
    C: FnOnce(MongoDb) -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    vwc_testkit::mongo::on_fresh_database(
        name,
        |client, name| async move { MongoDb::new(client, &name) },
        |db| async move {
            db.ensure_common_indexes().await.unwrap();
            check(db).await
        },
    )
    .await;
}
