//! `scripts/bench` entry point: measures the release build and prints a table (see `vwc::bench`).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    // The rows measured in this process (sweep, re-valuation, chat) use SQLite as `vwc` does: through
    // the global allocator. First, before the runtime's threads and before any database is opened.
    // `VWC_BENCH_SQLITE_MALLOC=libc` keeps SQLite's own (`malloc`), to measure the difference.
    if std::env::var("VWC_BENCH_SQLITE_MALLOC").as_deref() != Ok("libc") {
        vwc_store::sqlite::allocate_through_rust();
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(vwc::bench::run())
}
