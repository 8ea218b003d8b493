//! `scheduler-sweep-bench [VEHICLES] [DATA_DIR]`: seeds VEHICLES (default 100,000) into a SQLite
//! scheduler store (a new temporary directory unless DATA_DIR is given) and times the sweeps of a
//! week: the first (every vehicle, none evaluated yet), the same day again, then each following day
//! (only the vehicles whose wake day has come), with the outbox rows each wrote. For `scripts/bench`.

use std::time::Instant;

use vwc_maintenance_scheduler::{SqliteSchedulerStore, seed_bulk, sweep};
use vwc_store::Outbox;
use vwc_store::vehicle_ledger::DailyRun;
use vwc_store::vehicle_ledger::bench::BenchArgs;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bench = BenchArgs::from_env("sweep-bench")?;
    let n = bench.vehicles;
    let store = SqliteSchedulerStore::open(&bench.dir.join("maintenance.db"))?;
    seed_bulk(&store, n, bench.now).await?;
    let today = bench.now.date_naive();
    let mut days = vec![
        ("first".to_string(), today),
        ("same-day".to_string(), today),
    ];
    days.extend((1..=7).map(|d| (format!("day +{d}"), today + chrono::Days::new(d))));
    for (label, day) in days {
        let started = Instant::now();
        let r = sweep(&store, &DailyRun::of_day(None, day, bench.now)).await?;
        let secs = started.elapsed().as_secs_f64();
        let rows = store.pending(usize::MAX).await?;
        let ids: Vec<_> = rows.iter().map(|(id, _)| id.clone()).collect();
        store.mark_sent(&ids).await?;
        println!(
            "sweep {label}: {} vehicles of {n} evaluated, {} items in {secs:.2} s; {} changed, {} status changes, {} reminders, {} outbox rows",
            r.vehicles,
            r.items,
            r.changed,
            r.status_changes,
            r.reminders,
            rows.len()
        );
    }
    drop(store);
    bench.finish()?;
    Ok(())
}
