//! The floor of a sweep (`scripts/bench` row f‴): the rows a sweep wrote, written again through the same
//! kind of writer (its own thread, a page per transaction, the WAL checkpointed by a thread of its own) into
//! a copy of the store as it was before that sweep — with nothing read, evaluated or serialised. However
//! the sweep is made faster, it cannot take less than the time its own writes take there, unless it writes
//! less. The statements are the sweep's own (the ledger's, the scheduler's and the outbox's constants).

use std::path::Path;

use chrono::NaiveDate;
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use rusqlite::params;
use vwc_store::StoreResult;
use vwc_store::sqlite::{INSERT_OUTBOX_ROW, MARK_UNSENT};

use crate::store::sqlite::{
    INSERT_REMINDER, SET_PUBLISHED, SET_VERSION_AND_WAKE_ON, SqliteSchedulerStore,
};
use crate::sweep::SWEEP_PAGE;

/// Copies the store's database as it is now into a new file `to` (`VACUUM INTO`: a consistent snapshot,
/// however busy the store).
pub async fn copy_store(store: &SqliteSchedulerStore, to: &Path) -> StoreResult<()> {
    let to = to.to_string_lossy().into_owned();
    store
        .db()
        .read(move |conn| {
            conn.execute("VACUUM INTO ?1", [to])?;
            Ok(())
        })
        .await
}

/// The outbox's highest `seq` (0 when empty): the rows a sweep wrote are those between its value before
/// and after the sweep.
pub async fn outbox_high_water(store: &SqliteSchedulerStore) -> StoreResult<i64> {
    store
        .db()
        .read(|conn| {
            Ok(conn.query_row("SELECT coalesce(max(seq), 0) FROM outbox", [], |r| r.get(0))?)
        })
        .await
}

/// A reminder row, as the `reminders` table holds it.
type ReminderRow = (String, String, String, String, i64, String, String, String);

/// What a sweep wrote: the vehicles it evaluated (their version and wake day), their published schedules,
/// the reminders it sent and its outbox rows.
#[derive(Debug, Default)]
pub struct SweepWrites {
    vehicles: Vec<(String, i64, Option<String>)>,
    published: Vec<(String, i64, String, i64)>,
    reminders: Vec<ReminderRow>,
    outbox: Vec<(String, String, String)>,
}

impl SweepWrites {
    /// Vehicles, published schedules, reminders, outbox rows and the outbox's envelope bytes.
    pub fn counts(&self) -> (usize, usize, usize, usize, usize) {
        (
            self.vehicles.len(),
            self.published.len(),
            self.reminders.len(),
            self.outbox.len(),
            self.outbox.iter().map(|(_, json, _)| json.len()).sum(),
        )
    }
}

/// Reads back what the sweep of `day` wrote to `store`: its outbox rows (`seq` in `outbox`, from the
/// high waters before and after it), the reminders sent that day, and every evaluated vehicle's row and
/// published schedule (as they are now: a later sweep may have changed some, in place and of about the same
/// size).
pub async fn read_writes(
    store: &SqliteSchedulerStore,
    outbox: (i64, i64),
    day: NaiveDate,
) -> StoreResult<SweepWrites> {
    store
        .db()
        .read(move |conn| {
            let vehicles = conn
                .prepare("SELECT id, version, wake_on FROM vehicles WHERE wake_on IS NOT NULL ORDER BY id")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            let published = conn
                .prepare(
                    "SELECT vehicle_id, fingerprint, statuses, hash FROM published ORDER BY vehicle_id",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?;
            let reminders = conn
                .prepare(
                    "SELECT vehicle_id, task, status, due_cycle, occurrence, reminder_id, sent_on, sent_at
                     FROM reminders WHERE sent_on = ?1 ORDER BY vehicle_id",
                )?
                .query_map([day.to_string()], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                })?
                .collect::<Result<_, _>>()?;
            let outbox = conn
                .prepare(
                    "SELECT event_id, envelope, created_at FROM outbox WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
                )?
                .query_map(params![outbox.0, outbox.1], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<Result<_, _>>()?;
            Ok(SweepWrites {
                vehicles,
                published,
                reminders,
                outbox,
            })
        })
        .await
}

/// One transaction's share of every table.
struct PageWrites {
    vehicles: Vec<(String, i64, Option<String>)>,
    published: Vec<(String, i64, String, i64)>,
    reminders: Vec<ReminderRow>,
    outbox: Vec<(String, String, String)>,
}

/// Splits `rows` into `pages` runs of (nearly) equal length, in order.
fn split<T>(rows: Vec<T>, pages: usize) -> Vec<Vec<T>> {
    let (len, pages) = (rows.len(), pages.max(1));
    let mut out: Vec<Vec<T>> = (0..pages).map(|_| Vec::new()).collect();
    for (i, row) in rows.into_iter().enumerate() {
        out[i * pages / len.max(1)].push(row);
    }
    out
}

/// Writes `writes` into `store` as the sweep wrote them: a transaction per page of [`SWEEP_PAGE`]
/// vehicles (each table's rows spread evenly over the pages, in order), two pages handed to the writer at a
/// time. The store is a copy of the sweep's as it was before the sweep ([`copy_store`]).
pub async fn write_again(store: &SqliteSchedulerStore, writes: SweepWrites) -> StoreResult<()> {
    let pages = writes.vehicles.len().div_ceil(SWEEP_PAGE).max(1);
    let vehicles = split(writes.vehicles, pages);
    let published = split(writes.published, pages);
    let reminders = split(writes.reminders, pages);
    let outbox = split(writes.outbox, pages);
    let mut jobs = (vehicles
        .into_iter()
        .zip(published)
        .zip(reminders)
        .zip(outbox))
    .map(|(((vehicles, published), reminders), outbox)| PageWrites {
        vehicles,
        published,
        reminders,
        outbox,
    });
    let mut in_flight = FuturesOrdered::new();
    loop {
        while in_flight.len() < 2 {
            let Some(page) = jobs.next() else { break };
            in_flight.push_back(store.db().write(move |conn| write_page(conn, &page)));
        }
        match in_flight.next().await {
            Some(done) => done?,
            None => return Ok(()),
        }
    }
}

/// One page's rows, with the statements the sweep's commit runs.
fn write_page(conn: &rusqlite::Connection, page: &PageWrites) -> StoreResult<()> {
    let mut vehicle = conn.prepare_cached(SET_VERSION_AND_WAKE_ON)?;
    for (id, version, wake_on) in &page.vehicles {
        vehicle.execute(params![id, version, wake_on])?;
    }
    let mut published = conn.prepare_cached(SET_PUBLISHED)?;
    for row in &page.published {
        published.execute(params![row.0, row.1, row.2, row.3])?;
    }
    let mut reminder = conn.prepare_cached(INSERT_REMINDER)?;
    for r in &page.reminders {
        reminder.execute(params![r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7])?;
    }
    let mut outbox = conn.prepare_cached(INSERT_OUTBOX_ROW)?;
    let mut unsent = conn.prepare_cached(MARK_UNSENT)?;
    for (event_id, envelope, created_at) in &page.outbox {
        outbox.execute(params![event_id, envelope, created_at])?;
        unsent.execute([])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::{seed_bulk, sweep};
    use vwc_store::vehicle_ledger::DailyRun;

    /// Every table the floor writes, as rows to compare (the outbox without its `seq`, which a copy made
    /// before the sweep numbers the same way).
    fn tables(path: &Path) -> Vec<Vec<String>> {
        let conn = rusqlite::Connection::open(path).unwrap();
        [
            "SELECT id || '|' || version || '|' || coalesce(wake_on, '') FROM vehicles ORDER BY id",
            "SELECT vehicle_id || '|' || fingerprint || '|' || statuses || '|' || hash FROM published ORDER BY vehicle_id",
            "SELECT vehicle_id || task || status || due_cycle || occurrence || reminder_id || sent_on || sent_at FROM reminders ORDER BY 1",
            "SELECT seq || event_id || envelope || created_at FROM outbox ORDER BY seq",
            "SELECT seq || '' FROM outbox_unsent ORDER BY seq",
        ]
        .iter()
        .map(|sql| {
            conn.prepare(sql)
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        })
        .collect()
    }

    /// The floor writes exactly what the sweep wrote: a copy of the store made before a first sweep,
    /// given the sweep's rows, holds the same vehicles, schedules, reminders and outbox rows as the store
    /// the sweep wrote to — over several pages.
    #[tokio::test]
    async fn the_floor_writes_again_exactly_what_the_sweep_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let (swept, copy) = (dir.path().join("swept.db"), dir.path().join("copy.db"));
        let store = SqliteSchedulerStore::open(&swept).unwrap();
        let now = vwc_clock::now();
        let n = SWEEP_PAGE + SWEEP_PAGE / 2;
        seed_bulk(&store, n, now).await.unwrap();
        copy_store(&store, &copy).await.unwrap();
        let before = outbox_high_water(&store).await.unwrap();
        let report = sweep(&store, &DailyRun::of_day(None, now.date_naive(), now))
            .await
            .unwrap();
        let after = outbox_high_water(&store).await.unwrap();
        assert_eq!(report.vehicles as usize, n);
        let writes = read_writes(&store, (before, after), now.date_naive())
            .await
            .unwrap();
        let (vehicles, published, reminders, outbox, bytes) = writes.counts();
        assert_eq!((vehicles, published), (n, n));
        assert_eq!(reminders as u64, report.reminders);
        assert_eq!(outbox as i64, after - before);
        assert!(bytes > outbox * 400, "{bytes} bytes of envelopes");

        let floor = SqliteSchedulerStore::open(&copy).unwrap();
        assert_ne!(
            tables(&copy),
            tables(&swept),
            "the copy is from before the sweep"
        );
        write_again(&floor, writes).await.unwrap();
        drop((floor, store));
        assert_eq!(tables(&copy), tables(&swept));
    }

    #[test]
    fn rows_are_split_into_pages_in_order_and_evenly() {
        assert_eq!(
            split((0..7).collect(), 3),
            vec![vec![0, 1, 2], vec![3, 4], vec![5, 6]]
        );
        assert_eq!(split((0..2).collect(), 3), vec![vec![0], vec![1], vec![]]);
        assert_eq!(split(Vec::<u8>::new(), 2), vec![Vec::<u8>::new(), vec![]]);
    }
}
