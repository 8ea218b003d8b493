//! Lambda: the notification delivery worker, on an EventBridge schedule (see `vwc::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let _telemetry = vwc_telemetry::init("notification", vwc_telemetry::LogFormat::Json);
    vwc::lambda::reporting_init_errors(vwc::lambda::run_delivery()).await
}
