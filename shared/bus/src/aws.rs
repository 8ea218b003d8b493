//! The shared AWS SDK configuration for the EventBridge and SQS adapters: the region from the environment
//! (or `us-east-1`), and, when pointed at a local emulator (moto), its endpoint and harmless credentials.

use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::Credentials;

/// The region used when neither `AWS_REGION` nor a profile names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// How long one attempt of a call may take before the SDK gives it up (and retries it): longer than an
/// SQS long poll (20 s) and an attachment's upload, short enough that a connection the network left
/// hanging — no answer, no reset — does not stall a relay or a queue worker for good.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a call may take with its retries.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(75);
/// How long opening a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The timeouts every client gets (the SDK sets none by default: a connection that hung froze a relay with
/// nothing logged, until the process restarted).
pub fn timeouts(attempt: Duration, operation: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(attempt))
        .operation_attempt_timeout(attempt)
        .operation_timeout(operation)
        .build()
}

/// Loads the SDK configuration. With `endpoint` (e.g. `http://127.0.0.1:5000` for moto) every client built
/// from it talks to that endpoint; if the environment then carries no credentials, static test credentials
/// are used so the emulator's signature check has something to read and no real account is ever touched.
/// Every call has [`timeouts`] ([`ATTEMPT_TIMEOUT`], [`OPERATION_TIMEOUT`]).
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    sdk_config_with(endpoint, timeouts(ATTEMPT_TIMEOUT, OPERATION_TIMEOUT)).await
}

/// [`sdk_config`] with other timeouts (tests).
pub async fn sdk_config_with(endpoint: Option<&str>, timeouts: TimeoutConfig) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts);
    loader = match (endpoint, env_region()) {
        (_, Some(region)) => loader.region(Region::new(region)),
        // Against an emulator there is no instance metadata to ask: don't wait for IMDS.
        (Some(_), None) => loader.region(Region::new(DEFAULT_REGION)),
        (None, None) => loader
            .region(RegionProviderChain::default_provider().or_else(Region::new(DEFAULT_REGION))),
    };
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
        if !credentials_in_env() {
            loader = loader.credentials_provider(Credentials::new(
                "test",
                "test",
                None,
                None,
                "vwc-local-emulator",
            ));
        }
    }
    loader.load().await
}

fn env_region() -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

fn credentials_in_env() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    (set("AWS_ACCESS_KEY_ID") && set("AWS_SECRET_ACCESS_KEY")) || set("AWS_PROFILE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_client_has_timeouts() {
        let config = sdk_config(Some("http://127.0.0.1:9")).await;
        let t = config.timeout_config().expect("timeouts");
        assert_eq!(t.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(t.operation_timeout(), Some(OPERATION_TIMEOUT));
        assert_eq!(t.connect_timeout(), Some(CONNECT_TIMEOUT));
    }

    /// An endpoint that accepts the connection and never answers: the call fails within its timeouts
    /// (it waited for ever), so the relay or worker logs it and tries again.
    #[tokio::test]
    async fn a_call_to_an_endpoint_that_never_answers_fails_in_time() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let config = sdk_config_with(
            Some(&endpoint),
            timeouts(Duration::from_millis(300), Duration::from_secs(2)),
        )
        .await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let started = std::time::Instant::now();
        let called = tokio::time::timeout(
            Duration::from_secs(10),
            sqs.get_queue_url().queue_name("vwc-edge").send(),
        )
        .await
        .expect("the call ended by its own timeouts");
        assert!(called.is_err());
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        held.abort();
    }
}
