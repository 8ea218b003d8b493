//! `vwc_store::mongo::MongoTransaction` outlasts a transaction that holds its documents: what a process killed inside a
//! transaction leaves behind until the server aborts it. Runs against `VWC_TEST_MONGODB_URI` (the surrogate
//! `scripts/test` starts, or a real replica set); skips loudly without one.

use std::time::{Duration, Instant};

use mongodb::bson::doc;
use vwc_store::{StoreError, StoreResult};

use crate::common;

/// How long the other transaction holds the document: longer than the old budget of 8 quick attempts
/// (about 1 s), which turned such a conflict into a failed delivery and then a dead letter.
const HELD_FOR: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_waits_out_another_that_holds_its_document() {
    common::on_fresh_mongodb("store_tx", |db| async move {
        let things = db.collection("things");
        things
            .insert_one(doc! { "_id": "a", "n": 0_i64 })
            .await
            .unwrap();

        // The other writer: a transaction that changes the document and then sits on it, as an
        // orphan of a killed process does, before it ends.
        let mut holder = db.client().start_session().await.unwrap();
        holder.start_transaction().await.unwrap();
        things
            .update_one(doc! { "_id": "a" }, doc! { "$inc": { "n": 100_i64 } })
            .session(&mut holder)
            .await
            .unwrap();
        let release = tokio::spawn(async move {
            tokio::time::sleep(HELD_FOR).await;
            holder.abort_transaction().await.unwrap();
        });

        let started = Instant::now();
        let mut tx = db.transaction().await.unwrap();
        loop {
            tx.begin().await.unwrap();
            let session = tx.session();
            let outcome: StoreResult<()> = things
                .update_one(doc! { "_id": "a" }, doc! { "$inc": { "n": 1_i64 } })
                .session(session)
                .await
                .map(|_| ())
                .map_err(StoreError::from);
            if tx.settle(outcome).await.unwrap().is_some() {
                break;
            }
        }
        release.await.unwrap();
        assert!(
            started.elapsed() >= HELD_FOR - Duration::from_millis(500),
            "the write went through while the other transaction held the document ({:?})",
            started.elapsed()
        );
        let after = things.find_one(doc! { "_id": "a" }).await.unwrap().unwrap();
        assert_eq!(
            after.get_i64("n").unwrap(),
            1,
            "only the committed write counts: {after}"
        );
    })
    .await;
}
