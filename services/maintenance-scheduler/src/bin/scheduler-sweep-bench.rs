//! `scheduler-sweep-bench [VEHICLES] [DATA_DIR]`: seeds VEHICLES (default 100,000) into a SQLite
//! scheduler store (a new temporary directory unless DATA_DIR is given) and times three sweeps: the
//! first, the same day again, the next day. For `scripts/bench`.

use std::time::Instant;

use vwc_maintenance_scheduler::{SqliteSchedulerStore, seed_bulk, sweep};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    // A directory given is kept (inspect it afterwards); the default temporary one is removed.
    let given = args.next().map(std::path::PathBuf::from);
    let dir = given.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("vwc-sweep-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("maintenance.db");
    let store = SqliteSchedulerStore::open(&path)?;
    seed_bulk(&store, n).await?;
    let today = vwc_clock::now().date_naive();
    let tomorrow = today.succ_opt().unwrap_or(today);
    for (label, day) in [
        ("first", today),
        ("same-day", today),
        ("next-day", tomorrow),
    ] {
        let started = Instant::now();
        let r = sweep(&store, None, day).await?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "sweep {label}: {} vehicles, {} items in {secs:.2} s ({:.0} vehicles/s); {} changed, {} reminders",
            r.vehicles,
            r.items,
            r.vehicles as f64 / secs,
            r.changed,
            r.reminders
        );
    }
    drop(store);
    if given.is_none() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}
