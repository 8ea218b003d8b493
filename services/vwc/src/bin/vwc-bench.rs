//! `scripts/bench` entry point: measures the release build and prints a table (see `vwc::bench`).

vwc::allocator!();

fn main() -> anyhow::Result<()> {
    // The rows measured in this process (sweep, re-valuation, chat) allocate as `vwc` does: the same
    // allocator settings, runtime and SQLite through the global allocator.
    // `VWC_BENCH_SQLITE_MALLOC=libc` keeps SQLite's own (`malloc`), to measure the difference.
    if std::env::var("VWC_BENCH_SQLITE_MALLOC").as_deref() == Ok("libc") {
        return tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(vwc::bench::run());
    }
    vwc::process::runtime()?.block_on(vwc::bench::run())
}
