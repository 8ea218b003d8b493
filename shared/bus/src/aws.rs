//! The shared AWS SDK configuration for the EventBridge and SQS adapters: the region from the environment
//! (or `us-east-1`), and, when pointed at a local emulator (moto), its endpoint and harmless credentials.

use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::Credentials;

/// The region used when neither `AWS_REGION` nor a profile names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Loads the SDK configuration. With `endpoint` (e.g. `http://127.0.0.1:5000` for moto) every client built
/// from it talks to that endpoint; if the environment then carries no credentials, static test credentials
/// are used so the emulator's signature check has something to read and no real account is ever touched.
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
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
