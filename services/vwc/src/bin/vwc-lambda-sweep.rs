//! Lambda: the scheduled maintenance sweep (see `vwc::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let _telemetry = vwc_telemetry::init("maintenance-scheduler", vwc_telemetry::LogFormat::Json);
    vwc::lambda::run_sweep().await
}
