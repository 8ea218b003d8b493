//! The SQLite plumbing's dead letters pass the check every service store's pass (`vwc_testkit::ledger`):
//! listed oldest first, as they were put, until replayed.

use std::sync::Arc;

use vwc_store::SqliteDb;

#[tokio::test]
async fn sqlite_dead_letters_are_listed_oldest_first_until_replayed() {
    let open =
        |path: &std::path::Path| Arc::new(SqliteDb::open(path, &[]).expect("opening SQLite"));
    vwc_testkit::on_fresh_sqlite(
        "dead_letters.db",
        open,
        vwc_testkit::ledger::dead_letters_are_listed_oldest_first_until_replayed,
    )
    .await;
}
