//! `valuation-revalue-bench [VEHICLES] [DATA_DIR]`: seeds VEHICLES (default 100,000) into a SQLite
//! valuation store as the daily job finds them (valued up to yesterday) and times the re-valuation of
//! today, then the same day again. For `scripts/bench` and docs/bench.md.

use std::time::Instant;

use vwc_store::vehicle_ledger::DailyRun;
use vwc_store::vehicle_ledger::bench::BenchArgs;
use vwc_valuation::revalue::seed_bulk;
use vwc_valuation::{SqliteValuationStore, revalue};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bench = BenchArgs::from_env("revalue-bench")?;
    let n = bench.vehicles;
    let store = SqliteValuationStore::open(&bench.dir.join("valuation.db"))?;
    let today = bench.now.date_naive();
    let started = Instant::now();
    seed_bulk(&store, n, today).await?;
    println!(
        "seeded {n} vehicles in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for label in ["today", "same-day"] {
        let started = Instant::now();
        let r = revalue(&store, &DailyRun::of_day(None, today, bench.now)).await?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "revalue {label}: {} vehicles in {secs:.2} s ({:.0} vehicles/s); {} changed, {} published",
            r.vehicles,
            r.vehicles as f64 / secs,
            r.changed,
            r.published
        );
    }
    drop(store);
    bench.finish()?;
    Ok(())
}
