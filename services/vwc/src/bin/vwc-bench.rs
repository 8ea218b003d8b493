//! `scripts/bench` entry point: measures the release build and prints a table (see `vwc::bench`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    vwc::bench::run().await
}
