//! `scheduler-sweep-bench [VEHICLES] [DATA_DIR]`: seeds VEHICLES (default 100,000) into a SQLite
//! scheduler store (a new temporary directory unless DATA_DIR is given) and times the sweeps of a
//! week: the first (every vehicle, none evaluated yet), the same day again, then each following day
//! (only the vehicles whose wake day has come), with the outbox rows each wrote and their envelopes' JSON
//! bytes by event type. For `scripts/bench`.

use std::collections::BTreeMap;
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
        let mut bytes: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for (_, envelope) in &rows {
            let entry = bytes.entry(envelope.event_type().as_str()).or_default();
            *entry = (
                entry.0 + 1,
                entry.1 + serde_json::to_string(envelope)?.len(),
            );
        }
        let by_type: Vec<String> = bytes
            .iter()
            .map(|(t, (n, b))| format!("{t} {n} × {} B", b / n))
            .collect();
        let total: usize = bytes.values().map(|(_, b)| b).sum();
        println!(
            "sweep {label}: {} vehicles of {n} evaluated, {} items in {secs:.2} s; {} changed, {} status changes, {} reminders, {} outbox rows ({:.1} MB of envelope JSON: {})",
            r.vehicles,
            r.items,
            r.changed,
            r.status_changes,
            r.reminders,
            rows.len(),
            total as f64 / 1e6,
            by_type.join(", ")
        );
    }
    drop(store);
    bench.finish()?;
    Ok(())
}
