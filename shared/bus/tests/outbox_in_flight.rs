//! `Outbox::pending_except`, what the relay asks each time a batch frees: the unsent rows after leaving out
//! those still in flight, oldest first, on SQLite and on MongoDB (`VWC_TEST_MONGODB_URI`; skipped loudly
//! without one).

use std::collections::HashSet;

use uuid::Uuid;
use vwc_contracts::Envelope;
use vwc_contracts::maintenance::MaintenanceScheduleUpdated;
use vwc_store::{Outbox, SqliteDb};

fn envelopes() -> Vec<Envelope> {
    (0..5)
        .map(|n| {
            Envelope::new(
                "vwc.test",
                "org_1",
                Some("veh_1"),
                None,
                MaintenanceScheduleUpdated {
                    vehicle_id: format!("veh_{n}"),
                    items: Vec::new(),
                    odometer: None,
                    evaluated_at: vwc_clock::now(),
                    evaluated_on: None,
                    unit: None,
                },
            )
        })
        .collect()
}

/// The five rows pending; two of them in flight (the first and the fourth in the outbox's order): the others
/// come back in that order, whole, and at most `limit` of them; one marked sent no longer comes back.
async fn leaves_out_the_rows_in_flight(outbox: &dyn Outbox, written: &[Envelope]) {
    let all = outbox.pending(10).await.unwrap();
    let ids = |rows: &[(vwc_store::OutboxId, Envelope)]| -> Vec<Uuid> {
        rows.iter().map(|(_, e)| e.id).collect()
    };
    let mut pending_ids = ids(&all);
    pending_ids.sort();
    let mut written_ids: Vec<Uuid> = written.iter().map(|e| e.id).collect();
    written_ids.sort();
    assert_eq!(pending_ids, written_ids);
    let order = ids(&all);
    let in_flight: HashSet<String> = [&all[0], &all[3]]
        .iter()
        .map(|(id, _)| id.0.clone())
        .collect();

    let rest = outbox.pending_except(10, &in_flight).await.unwrap();
    assert_eq!(ids(&rest), [order[1], order[2], order[4]]);
    let json = |e: &Envelope| serde_json::to_value(e).unwrap();
    assert_eq!(json(&rest[0].1), json(&all[1].1), "the envelope whole");
    let first = outbox.pending_except(1, &in_flight).await.unwrap();
    assert_eq!(ids(&first), [order[1]]);
    let none_skipped = outbox.pending_except(2, &HashSet::new()).await.unwrap();
    assert_eq!(ids(&none_skipped), [order[0], order[1]]);
    outbox.mark_sent(&[all[1].0.clone()]).await.unwrap();
    let after_sent = outbox.pending_except(10, &in_flight).await.unwrap();
    assert_eq!(
        ids(&after_sent),
        [order[2], order[4]],
        "a row marked sent never comes back"
    );
}

#[tokio::test]
async fn sqlite_leaves_out_the_rows_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteDb::open(&dir.path().join("outbox.db"), &[]).unwrap();
    let written = envelopes();
    for e in &written {
        let e = e.clone();
        db.write(move |c| vwc_store::sqlite::enqueue(c, &[e]))
            .await
            .unwrap();
    }
    leaves_out_the_rows_in_flight(&db, &written).await;
}

#[cfg(feature = "aws")]
use crate::common;

#[cfg(feature = "aws")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_leaves_out_the_rows_in_flight() {
    common::on_fresh_mongodb("outbox_in_flight", |db| async move {
        let written = envelopes();
        let mut session = db.client().start_session().await.unwrap();
        for e in &written {
            db.enqueue(&mut session, std::slice::from_ref(e))
                .await
                .unwrap();
        }
        leaves_out_the_rows_in_flight(&db, &written).await;
    })
    .await;
}
