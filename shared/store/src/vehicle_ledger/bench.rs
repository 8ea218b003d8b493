//! The command line of the daily jobs' benchmarks (`scheduler-sweep-bench`, `valuation-revalue-bench`):
//! `[VEHICLES] [DATA_DIR]`, VEHICLES defaulting to 100,000 and DATA_DIR to a new temporary directory.

use std::path::PathBuf;

/// Organisations the daily jobs' benchmark fleets are spread over (both services seed the same ones).
pub const BENCH_ORGS: [&str; 4] = ["org_bench_a", "org_bench_b", "org_bench_c", "org_bench_d"];

/// Where a benchmark keeps its store, and how many vehicles it seeds.
pub struct BenchArgs {
    pub vehicles: usize,
    pub dir: PathBuf,
    /// The instant the benchmark's fleet is seeded and swept at (its "today").
    pub now: chrono::DateTime<chrono::Utc>,
    /// A directory given is kept (inspect it afterwards); the default temporary one is removed.
    given: bool,
}

impl BenchArgs {
    /// Reads the process's arguments; `name` names the temporary directory (`vwc-<name>-<pid>`), which
    /// is created.
    pub fn from_env(name: &str) -> Result<BenchArgs, Box<dyn std::error::Error>> {
        let mut args = std::env::args().skip(1);
        let vehicles = args
            .next()
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(100_000);
        let given = args.next().map(PathBuf::from);
        let dir = given.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("vwc-{name}-{}", std::process::id()))
        });
        std::fs::create_dir_all(&dir)?;
        Ok(BenchArgs {
            vehicles,
            dir,
            now: vwc_clock::now(),
            given: given.is_some(),
        })
    }

    /// Removes the temporary directory (a given one is kept). Drop the store first.
    pub fn finish(self) -> std::io::Result<()> {
        if self.given {
            return Ok(());
        }
        std::fs::remove_dir_all(&self.dir)
    }
}
