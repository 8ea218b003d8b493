//! Lambda: the scheduled daily re-valuation (see `vwc::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let _telemetry = vwc_telemetry::init("valuation", vwc_telemetry::LogFormat::Json);
    vwc::lambda::run_revalue().await
}
