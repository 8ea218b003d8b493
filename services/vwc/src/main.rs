use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = vwc::cli::Cli::parse();
    let format = if cli.log_json {
        vwc_telemetry::LogFormat::Json
    } else {
        vwc_telemetry::LogFormat::Text
    };
    let _telemetry = vwc_telemetry::init("vwc", format);
    vwc::cli::run(cli).await
}
