use clap::Parser;

vwc::allocator!();

fn main() -> anyhow::Result<()> {
    vwc::process::runtime()?.block_on(async {
        let cli = vwc::cli::Cli::parse();
        let format = if cli.log_json {
            vwc_telemetry::LogFormat::Json
        } else {
            vwc_telemetry::LogFormat::Text
        };
        let _telemetry = vwc_telemetry::init("vwc", format);
        vwc::cli::run(cli).await
    })
}
