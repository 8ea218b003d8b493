//! Lambda: the SQS consumer of the service named by `VWC_SERVICE` (see `vwc::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let service =
        std::env::var("VWC_SERVICE").map_err(|_| "VWC_SERVICE must name the consuming service")?;
    let _telemetry = vwc_telemetry::init(&service, vwc_telemetry::LogFormat::Json);
    vwc::lambda::run_consumer(&service).await
}
