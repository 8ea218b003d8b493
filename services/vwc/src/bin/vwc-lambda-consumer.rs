//! Lambda: the SQS consumer of the service named by `VWC_SERVICE` (see `vwc::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let service = std::env::var("VWC_SERVICE").unwrap_or_default();
    let _telemetry = vwc_telemetry::init(&service, vwc_telemetry::LogFormat::Json);
    vwc::lambda::reporting_init_errors(async {
        if service.is_empty() {
            return Err("VWC_SERVICE must name the consuming service".into());
        }
        vwc::lambda::run_consumer(&service).await
    })
    .await
}
