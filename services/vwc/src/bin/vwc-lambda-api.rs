//! Lambda: the HTTP API behind API Gateway (see `vwc::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let _telemetry = vwc_telemetry::init("vwc-api", vwc_telemetry::LogFormat::Json);
    vwc::lambda::reporting_init_errors(vwc::lambda::run_api()).await
}
