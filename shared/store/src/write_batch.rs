//! Delivery batches on SQLite: every write that a batch of futures (one consumer's handling of a delivery
//! batch) makes to a database goes to its writer thread as **one job** — one transaction, without a savepoint
//! per write — instead of one job per event.
//!
//! A write made inside [`batched`] is queued in the batch's collector, not sent. Once every future of the
//! batch that is still running waits on such a write (or [`FLUSH_AFTER`] after the first queued one, so a
//! future waiting on a read or a lock never holds the others), the queued writes of each database are sent
//! as one job. The futures' code does not change: `SqliteDb::write` sees the batch through a task-local.
//!
//! All or nothing: when one write of a combined job fails, the whole job rolls back and **every** write in
//! it answers an error — the failing one its own, the others that they were not committed. The caller
//! (the bus, `vwc_bus::apply_batch`) then applies each failed event once more on its own, so an event that
//! failed only because another of its batch did is applied, and a poison event is retried and
//! dead-lettered alone. The common case, where nothing fails, pays for no savepoints (SQLite copies every
//! page a savepoint changes into its journal: 6–9 % of the server under ingest; docs/bench.md).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::sqlite::{Fate, Finish, Inner, Job};

tokio::task_local! {
    static BATCH: Arc<Collector>;
}

/// How long a queued write waits for the batch's other futures before it is sent anyway.
pub const FLUSH_AFTER: Duration = Duration::from_millis(1);

/// The writes a batch queued and has not sent yet, in the order they were made.
#[derive(Default)]
struct Collector {
    queued: Mutex<Vec<(Arc<Inner>, Job)>>,
}

/// Queues `job` in the batch the calling future runs in; gives it back when it runs in none.
pub(crate) fn join(inner: &Arc<Inner>, job: Job) -> Option<Job> {
    match BATCH.try_with(Arc::clone) {
        Ok(collector) => {
            collector.queued.lock().unwrap().push((inner.clone(), job));
            None
        }
        Err(_) => Some(job),
    }
}

impl Collector {
    fn queued(&self) -> usize {
        self.queued.lock().unwrap().len()
    }

    /// Sends the queued writes: one job per database, in the order they were queued.
    fn flush(&self) {
        let queued = std::mem::take(&mut *self.queued.lock().unwrap());
        let mut by_database: Vec<(Arc<Inner>, Vec<Job>)> = Vec::new();
        for (inner, job) in queued {
            match by_database.iter_mut().find(|(i, _)| Arc::ptr_eq(i, &inner)) {
                Some((_, jobs)) => jobs.push(job),
                None => by_database.push((inner, vec![job])),
            }
        }
        for (inner, mut jobs) in by_database {
            let job = match jobs.len() {
                1 => jobs.pop().expect("one job"),
                _ => combine(jobs),
            };
            if let Err(job) = inner.send(job) {
                // The writer thread is gone: every write of the job hears that it was not run.
                let (_, finish) = job(None);
                finish(Fate::RolledBack);
            }
        }
    }
}

/// One job running `jobs` one after another in the same transaction, all or nothing: after a failed one
/// the rest are not run (handed `None`), and none of them is told it committed.
fn combine(jobs: Vec<Job>) -> Job {
    Box::new(move |conn| {
        let mut all_ok = conn.is_some();
        let mut finishes: Vec<Finish> = Vec::with_capacity(jobs.len());
        for job in jobs {
            let (ok, finish) = job(if all_ok { conn } else { None });
            all_ok &= ok;
            finishes.push(finish);
        }
        let finish: Finish = Box::new(move |fate| {
            // After a failed write nothing of the combined job is kept: the others hear it rolled back.
            let fate = if all_ok { fate } else { Fate::RolledBack };
            for finish in finishes {
                finish(fate.clone());
            }
        });
        (all_ok, finish)
    })
}

/// Runs `futures` concurrently on the calling task and returns their outputs in order; the SQLite writes
/// they make are sent as one job per database and round (see the module's documentation).
pub async fn batched<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let collector = Arc::new(Collector::default());
    let mut running: FuturesUnordered<_> = futures
        .into_iter()
        .enumerate()
        .map(|(i, f)| async move { (i, f.await) })
        .collect();
    let mut outputs: Vec<Option<F::Output>> = (0..running.len()).map(|_| None).collect();
    let mut timer: Option<Pin<Box<tokio::time::Sleep>>> = None;
    std::future::poll_fn(|cx| {
        loop {
            let polled = BATCH.sync_scope(collector.clone(), || running.poll_next_unpin(cx));
            match polled {
                Poll::Ready(Some((i, output))) => outputs[i] = Some(output),
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => break,
            }
        }
        let queued = collector.queued();
        if queued == 0 {
            timer = None;
            return Poll::Pending;
        }
        let everyone_waits = queued >= running.len();
        let timer_due = timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(FLUSH_AFTER)))
            .as_mut()
            .poll(cx)
            .is_ready();
        if everyone_waits || timer_due {
            timer = None;
            collector.flush();
        }
        Poll::Pending
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future of the batch finished"))
        .collect()
}
