//! `scripts/bench` entry point: measures the release build and prints a table (see `vwc::bench`).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    vwc::bench::run().await
}
