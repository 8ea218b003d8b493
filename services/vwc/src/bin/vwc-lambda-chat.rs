//! Lambda: the chat historian's routes, streamed through a function URL (see `vwc::lambda::run_chat`).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let _telemetry = vwc_telemetry::init("vwc-chat", vwc_telemetry::LogFormat::Json);
    vwc::lambda::reporting_init_errors(vwc::lambda::run_chat()).await
}
