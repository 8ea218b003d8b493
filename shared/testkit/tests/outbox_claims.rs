//! The MongoDB outbox's claims ([`Outbox::claim`]): relays of several processes sharing one database — each
//! process's `MongoDb` claims as itself — publish each pending row once, take over a row whose lease ended
//! or was released, and never take a row that was sent. Run against the server in `VWC_TEST_MONGODB_URI`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use vwc_contracts::{Envelope, EventType, examples};
use vwc_store::mongo::MongoDb;
use vwc_store::{Outbox, OutboxId};
use vwc_testkit::mongo::on_fresh_database;

const LONG: Duration = Duration::from_secs(30);

fn envelope(i: usize) -> Envelope {
    let event = examples::event(EventType::VehicleRegistered);
    Envelope::new("vwc.test", "org_a", Some(&format!("veh_{i}")), None, event)
}

/// A fresh database with `rows` pending outbox rows, and `processes` handles on it, each claiming as a
/// process of its own.
async fn outbox_of(
    client: mongodb::Client,
    name: String,
    rows: usize,
    processes: usize,
) -> Vec<MongoDb> {
    let first = MongoDb::open(client.clone(), &name).await.unwrap();
    let envelopes: Vec<Envelope> = (0..rows).map(envelope).collect();
    let mut session = client.start_session().await.unwrap();
    first.enqueue(&mut session, &envelopes).await.unwrap();
    std::iter::once(first)
        .chain((1..processes).map(|_| MongoDb::new(client.clone(), &name)))
        .collect()
}

fn ids(rows: &[(OutboxId, Envelope)]) -> Vec<String> {
    rows.iter().map(|(id, _)| id.0.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_row_is_left_to_its_process_until_released_or_its_lease_ends() {
    let open = |client, name| outbox_of(client, name, 5, 2);
    on_fresh_database("outbox_claims", open, |dbs| async move {
        let (a, b) = (&dbs[0], &dbs[1]);
        let none = HashSet::new();
        let first = a.claim(3, &none, LONG).await.unwrap();
        assert_eq!(first.len(), 3);
        // The other process gets the two rows left, oldest first, and nothing of the first claim.
        let second = b.claim(10, &none, LONG).await.unwrap();
        assert_eq!(second.len(), 2);
        let all = ids(&a.pending(10).await.unwrap());
        assert_eq!(
            [ids(&first), ids(&second)].concat(),
            all,
            "oldest first, each once"
        );
        assert_eq!(
            b.claim(10, &none, LONG).await.unwrap().len(),
            2,
            "its own claim again"
        );
        // The same process may claim its rows again (a flush beside its running relay), never the other's.
        assert_eq!(ids(&a.claim(10, &none, LONG).await.unwrap()), ids(&first));

        // Released rows go to the other process at once.
        a.release(&[first[0].0.clone()]).await.unwrap();
        let taken = b.claim(10, &none, LONG).await.unwrap();
        assert_eq!(taken.len(), 3);
        assert!(ids(&taken).contains(&first[0].0.0));

        // A lease that has ended leaves the rows to anyone; a sent row is claimed by no one.
        let c = MongoDb::new(a.client().clone(), a.database().name());
        let expired = b.claim(10, &none, Duration::ZERO).await.unwrap();
        assert_eq!(expired.len(), 3);
        b.mark_sent(&[expired[0].0.clone()]).await.unwrap();
        let over = c.claim(10, &none, LONG).await.unwrap();
        assert_eq!(ids(&over), ids(&expired)[1..]);
        assert!(
            b.claim(10, &none, LONG).await.unwrap().is_empty(),
            "everything else is a's or c's"
        );
        // `skip` leaves out the caller's rows in flight.
        let skip: HashSet<String> = [over[0].0.0.clone()].into();
        assert_eq!(
            ids(&c.claim(10, &skip, LONG).await.unwrap()),
            ids(&over)[1..]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_of_several_processes_claiming_at_once_take_each_row_once() {
    const ROWS: usize = 300;
    let open = |client, name| outbox_of(client, name, ROWS, 6);
    on_fresh_database("outbox_claims", open, |dbs| async move {
        let mut claims = tokio::task::JoinSet::new();
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(dbs.len()));
        for (process, db) in dbs.into_iter().enumerate() {
            let start = start.clone();
            claims.spawn(async move {
                start.wait().await;
                let mut mine = HashSet::new();
                loop {
                    let rows = db.claim(20, &mine, LONG).await.unwrap();
                    if rows.is_empty() {
                        return (process, mine);
                    }
                    mine.extend(ids(&rows));
                }
            });
        }
        let mut owner: HashMap<String, usize> = HashMap::new();
        while let Some(done) = claims.join_next().await {
            let (process, mine) = done.unwrap();
            for id in mine {
                if let Some(other) = owner.insert(id.clone(), process) {
                    panic!("row {id} claimed by processes {other} and {process}");
                }
            }
        }
        // How the rows split between the processes depends on the machine's moment; that none is claimed
        // twice must not.
        assert_eq!(owner.len(), ROWS, "every row claimed");
    })
    .await;
}
