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
        vwc::process::set_log_json(cli.log_json);
        let telemetry = vwc_telemetry::init("vwc", format);
        let json = cli.log_json;
        match vwc::cli::run(cli).await {
            Ok(()) => Ok(()),
            // With `--log-json` the reason a command stopped is a log record like the rest, not text.
            Err(e) if json => {
                tracing::error!(error = format!("{e:#}"), "vwc stopped");
                drop(telemetry);
                std::process::exit(1);
            }
            Err(e) => Err(e),
        }
    })
}
