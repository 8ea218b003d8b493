//! Delivery batches on a real SQLite file: the writes a batch of futures makes reach the writer thread as one
//! job (one transaction), all or nothing; a future that waits on another of its batch does not stall it.

use std::sync::Arc;

use rusqlite::params;
use vwc_store::sqlite::batched;
use vwc_store::{SqliteDb, StoreError};

const TABLE: &str = "CREATE TABLE applied (id INTEGER PRIMARY KEY, note TEXT NOT NULL);";

fn open(dir: &std::path::Path) -> SqliteDb {
    SqliteDb::open(&dir.join("batch.db"), &[TABLE]).unwrap()
}

/// The ids in `applied`, read by a connection of its own (what any other process would see).
fn applied(dir: &std::path::Path) -> Vec<i64> {
    let conn = rusqlite::Connection::open(dir.join("batch.db")).unwrap();
    let mut stmt = conn.prepare("SELECT id FROM applied ORDER BY id").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

async fn insert(db: &SqliteDb, id: i64) -> Result<(), StoreError> {
    db.write(move |conn| {
        conn.execute(
            "INSERT INTO applied (id, note) VALUES (?1, 'x')",
            params![id],
        )?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn the_writes_of_a_delivery_batch_reach_the_writer_as_one_job() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let before = db.writer_jobs();
    let outcomes = batched((1..=50).map(|id| insert(&db, id))).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(db.writer_jobs() - before, 1, "one writer job for 50 writes");
    assert_eq!(applied(dir.path()), (1..=50).collect::<Vec<_>>());

    // Outside a batch, each write is its own job.
    let before = db.writer_jobs();
    for id in 51..=53 {
        insert(&db, id).await.unwrap();
    }
    assert_eq!(db.writer_jobs() - before, 3);
}

#[tokio::test]
async fn a_failed_write_rolls_its_whole_batch_back_and_every_write_hears_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let poison = 4;
    let outcomes = batched((1..=8).map(|id| {
        let db = db.clone();
        async move {
            if id != poison {
                return insert(&db, id).await;
            }
            db.write(move |conn| {
                // Writes, then fails: what it wrote must go with it.
                conn.execute("INSERT INTO applied (id, note) VALUES (?1, 'half')", [id])?;
                Err::<(), _>(StoreError::Other("event 4 is poison".into()))
            })
            .await
        }
    }))
    .await;
    for (id, outcome) in (1..=8).zip(&outcomes) {
        let message = outcome.as_ref().unwrap_err().to_string();
        if id == poison {
            assert!(message.contains("event 4 is poison"), "{message}");
        } else {
            assert!(!message.contains("poison"), "event {id}: {message}");
        }
    }
    assert!(
        applied(dir.path()).is_empty(),
        "nothing of the batch committed"
    );

    // Each on its own afterwards (what the bus does with a batch's failures): all but the poison apply.
    for id in (1..=8).filter(|id| *id != poison) {
        insert(&db, id).await.unwrap();
    }
    assert_eq!(applied(dir.path()), [1, 2, 3, 5, 6, 7, 8]);
}

#[tokio::test]
async fn a_future_waiting_for_another_of_its_batch_does_not_stall_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    // The second future needs the lock the first holds until its write commits (two deliveries of one
    // vehicle, say): the first write must go without waiting for the second.
    let lock = Arc::new(tokio::sync::Mutex::new(()));
    let before = db.writer_jobs();
    let outcomes = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        batched((1..=2).map(|id| {
            let (db, lock) = (db.clone(), lock.clone());
            async move {
                let _held = lock.lock().await;
                insert(&db, id).await
            }
        })),
    )
    .await
    .expect("the batch finished");
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(db.writer_jobs() - before, 2, "one round each");
    assert_eq!(applied(dir.path()), [1, 2]);
}

#[tokio::test]
async fn reads_inside_a_batch_see_what_earlier_rounds_committed() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let outcomes = batched((1..=4).map(|id| {
        let db = db.clone();
        async move {
            insert(&db, id).await?;
            // A second round: read what the first committed, then write again.
            let seen: i64 = db
                .read(|conn| Ok(conn.query_row("SELECT count(*) FROM applied", [], |r| r.get(0))?))
                .await?;
            insert(&db, 100 + id).await?;
            Ok::<_, StoreError>(seen)
        }
    }))
    .await;
    for seen in outcomes {
        assert!(seen.unwrap() >= 4, "the first round had committed");
    }
    assert_eq!(applied(dir.path()), [1, 2, 3, 4, 101, 102, 103, 104]);
}
