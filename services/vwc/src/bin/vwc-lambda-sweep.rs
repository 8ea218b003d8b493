//! Lambda: the scheduled maintenance sweep (see `vwc::lambda`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let job = vwc::daily::DailyJob::MaintenanceSweep;
    let _telemetry = vwc_telemetry::init(job.service(), vwc_telemetry::LogFormat::Json);
    vwc::lambda::reporting_init_errors(vwc::lambda::run_daily_job(job)).await
}
