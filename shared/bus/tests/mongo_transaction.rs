//! `vwc_store::mongo::MongoTransaction` outlasts a transaction that holds its documents: what a process killed inside a
//! transaction leaves behind until the server aborts it. Runs against `VWC_TEST_MONGODB_URI` (the surrogate
//! `scripts/test` starts, or a real replica set); skips loudly without one.

use std::time::{Duration, Instant};

use mongodb::bson::doc;
use vwc_store::mongo::MongoDb;
use vwc_store::request_writes::{REQUEST_CONFLICT_BUDGET, within_request};
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

/// How long the other transaction holds the document in the request test: well past the request's budget.
const HELD_PAST_A_REQUEST: Duration = Duration::from_secs(14);

/// Starts a transaction that changes document `a` of `things` and then sits on it, as the orphan of a
/// killed process does, until it is aborted `held_for` later (by the task returned).
async fn hold_document(db: &MongoDb, held_for: Duration) -> tokio::task::JoinHandle<()> {
    let mut holder = db.client().start_session().await.unwrap();
    holder.start_transaction().await.unwrap();
    db.collection("things")
        .update_one(doc! { "_id": "a" }, doc! { "$inc": { "n": 100_i64 } })
        .session(&mut holder)
        .await
        .unwrap();
    tokio::spawn(async move {
        tokio::time::sleep(held_for).await;
        holder.abort_transaction().await.unwrap();
    })
}

/// Adds one to document `a` of `things` in a transaction; how long it took.
async fn add_one(db: MongoDb) -> StoreResult<Duration> {
    let started = Instant::now();
    let things = db.collection("things");
    vwc_store::mongo_transaction!(db, |session| async {
        things
            .update_one(doc! { "_id": "a" }, doc! { "$inc": { "n": 1_i64 } })
            .session(session)
            .await?;
        Ok(())
    });
    Ok(started.elapsed())
}

/// An HTTP request's write gives up on a held document after the request's budget, saying another write
/// holds it; a consumer's write (no request) keeps retrying until the holder is gone, then commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_gives_up_on_a_held_document_and_a_consumer_waits_it_out() {
    common::on_fresh_mongodb("store_tx_request", |db| async move {
        let things = db.collection("things");
        things
            .insert_one(doc! { "_id": "a", "n": 0_i64 })
            .await
            .unwrap();
        let release = hold_document(&db, HELD_PAST_A_REQUEST).await;
        let consumer = tokio::spawn(add_one(db.clone()));

        let started = Instant::now();
        let in_request = within_request(add_one(db.clone())).await;
        let waited = started.elapsed();
        assert!(
            matches!(&in_request, Err(StoreError::Contended(_))),
            "the request's write should give up on the held document: {in_request:?}"
        );
        assert!(
            waited >= REQUEST_CONFLICT_BUDGET - Duration::from_millis(500)
                && waited < REQUEST_CONFLICT_BUDGET + Duration::from_secs(4),
            "the request's write gave up after {waited:?}, not its budget {REQUEST_CONFLICT_BUDGET:?}"
        );

        let consumer_waited = consumer
            .await
            .unwrap()
            .expect("the consumer's write waits out the holder");
        release.await.unwrap();
        assert!(
            consumer_waited >= HELD_PAST_A_REQUEST - Duration::from_millis(500),
            "the consumer's write went through while the document was held ({consumer_waited:?})"
        );
        let after = things.find_one(doc! { "_id": "a" }).await.unwrap().unwrap();
        assert_eq!(
            after.get_i64("n").unwrap(),
            1,
            "only the consumer's write counts: {after}"
        );
    })
    .await;
}
