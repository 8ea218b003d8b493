//! Lambda: the Cognito pre-token-generation trigger that puts `org` and `roles` into tokens (see
//! `vwc::cognito`).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let _telemetry = vwc_telemetry::init("token-claims", vwc_telemetry::LogFormat::Json);
    lambda_runtime::run(lambda_runtime::service_fn(
        |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            // The error's own name, not the Rust type of a boxed error, as the response's errorType.
            vwc::cognito::add_token_claims(event.payload).map_err(|e| lambda_runtime::Diagnostic {
                error_type: "TokenClaimsError".into(),
                error_message: e.to_string(),
            })
        },
    ))
    .await
}
