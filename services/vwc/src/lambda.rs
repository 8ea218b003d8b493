//! AWS Lambda entry points over the same code: the HTTP API (lambda_http over the composed axum Router),
//! one SQS consumer per service, the scheduled maintenance sweep and the daily re-valuation. Each builds its clients once per cold
//! start. Configuration: `VWC_*` environment variables, then SSM (`/vwc/<VWC_ENV>/…`): `mongodb_uri`,
//! `jwks_url`, `jwt_issuer`, `bus_name`, `mongodb_prefix`. A Lambda is frozen between invocations, so each
//! handler flushes its service's outbox to EventBridge before it returns.

use std::sync::Arc;

use anyhow::Context;
use tower::ServiceExt;
use vwc_bus::Bus;
use vwc_store::OutboxRelay;

use crate::stores::Stores;

/// Clients and stores of one cold start.
pub struct AwsRuntime {
    pub stores: Stores,
    pub bus: Arc<dyn Bus>,
    layers: vwc_config::Layers,
}

impl AwsRuntime {
    pub async fn start() -> anyhow::Result<AwsRuntime> {
        let layers = crate::cli::config_layers().await?;
        let uri = layers
            .secret(None, "VWC_MONGODB_URI", "mongodb_uri")
            .context("VWC_MONGODB_URI (or SSM mongodb_uri) is required in AWS")?;
        let prefix = layers
            .value(None, "VWC_MONGODB_PREFIX", "mongodb_prefix")
            .unwrap_or_else(|| "vwc".into());
        let stores = Stores::connect_mongodb(uri.expose(), &prefix).await?;
        let bus_name = layers
            .value(None, "VWC_BUS_NAME", "bus_name")
            .unwrap_or_else(|| "vwc".into());
        let endpoint = std::env::var("VWC_AWS_ENDPOINT").ok();
        let sdk = vwc_bus::aws::sdk_config(endpoint.as_deref()).await;
        let bus: Arc<dyn Bus> = Arc::new(vwc_bus::eventbridge::EventBridgeBus::new(
            aws_sdk_eventbridge::Client::new(&sdk),
            bus_name,
        ));
        Ok(AwsRuntime {
            stores,
            bus,
            layers,
        })
    }

    /// The relay of one service's outbox.
    pub fn relay(&self, service: &str) -> Option<Arc<OutboxRelay>> {
        self.stores
            .outboxes()
            .into_iter()
            .find(|(name, _)| *name == service)
            .map(|(name, outbox)| Arc::new(OutboxRelay::new(name, outbox, self.bus.clone())))
    }

    async fn flush_all(relays: &[Arc<OutboxRelay>]) {
        for r in relays {
            if let Err(e) = r.flush().await {
                // The rows stay pending; the next invocation (or the next flush) sends them.
                tracing::warn!(error = %e, "outbox flush failed");
            }
        }
    }
}

/// The whole HTTP API behind API Gateway.
pub async fn run_api() -> Result<(), lambda_http::Error> {
    let rt = AwsRuntime::start().await?;
    let jwks = rt
        .layers
        .value(None, "VWC_JWKS", "jwks_url")
        .context("VWC_JWKS (or SSM jwks_url) is required in AWS: tokens are RS256/ES256")?;
    let issuer = rt
        .layers
        .value(None, "VWC_JWT_ISSUER", "jwt_issuer")
        .unwrap_or_else(|| vwc_auth::ISSUER.into());
    let verifier: Arc<dyn vwc_auth::TokenVerifier> = Arc::new(vwc_auth::JwksVerifier::from_url(
        jwks,
        issuer,
        vwc_auth::AUDIENCE,
    )?);
    let allowlist = vwc_notification::ssrf::Allowlist::from_env()
        .map_err(|e| anyhow::anyhow!("VWC_OUTBOUND_ALLOWLIST: {e:?}"))?;
    let http = crate::embedded::HttpSettings {
        rate_limiter: None, // API Gateway throttles in AWS
        cors_origin: std::env::var("VWC_CORS_ORIGIN")
            .ok()
            .and_then(|o| axum::http::HeaderValue::from_str(&o).ok()),
        request_timeout: std::time::Duration::from_secs(25),
        dev_tokens: None,
    };
    let idle_bus =
        vwc_bus::inproc::InProcessBus::new(vwc_contracts::Routes::load(), Default::default());
    let router = crate::embedded::build_router(
        &rt.stores,
        verifier,
        allowlist,
        &idle_bus,
        false,
        &vwc_http::Clock::default(),
        &http,
    );
    let relays: Vec<_> = [
        "ingestion",
        "maintenance-scheduler",
        "notification",
        "valuation",
    ]
    .iter()
    .filter_map(|s| rt.relay(s))
    .collect();
    let relays = Arc::new(relays);
    lambda_http::run(tower::service_fn(move |req: lambda_http::Request| {
        let (router, relays) = (router.clone(), relays.clone());
        async move {
            let response = router.oneshot(req).await?;
            AwsRuntime::flush_all(&relays).await;
            Ok::<_, std::convert::Infallible>(response)
        }
    }))
    .await
}

/// One service's SQS consumer (`service` as in routes.json); partial batch failures.
pub async fn run_consumer(service: &str) -> Result<(), lambda_runtime::Error> {
    let rt = AwsRuntime::start().await?;
    let consumer = rt
        .stores
        .consumers()
        .into_iter()
        .find(|(name, _)| *name == service)
        .map(|(_, (consumer, _))| consumer)
        .with_context(|| format!("no consumer named {service:?}"))?;
    let relays = Arc::new(rt.relay(service).into_iter().collect::<Vec<_>>());
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| {
            let (consumer, relays) = (consumer.clone(), relays.clone());
            async move {
                let response =
                    vwc_bus::lambda::handle_sqs_batch(event.payload, consumer.as_ref()).await;
                AwsRuntime::flush_all(&relays).await;
                Ok::<_, lambda_runtime::Error>(response)
            }
        },
    ))
    .await
}

/// The maintenance sweep, invoked by an EventBridge scheduled rule.
pub async fn run_sweep() -> Result<(), lambda_runtime::Error> {
    let rt = AwsRuntime::start().await?;
    let store = rt.stores.scheduler.clone();
    let relays = Arc::new(
        rt.relay(vwc_maintenance_scheduler::CONSUMER)
            .into_iter()
            .collect::<Vec<_>>(),
    );
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<
            aws_lambda_events::event::eventbridge::EventBridgeEvent<serde_json::Value>,
        >| {
            let (store, relays) = (store.clone(), relays.clone());
            async move {
                let report = vwc_maintenance_scheduler::handle_scheduled_event(
                    store.as_ref(),
                    event.payload,
                )
                .await?;
                AwsRuntime::flush_all(&relays).await;
                Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
            }
        },
    ))
    .await
}

/// The daily re-valuation, invoked by an EventBridge scheduled rule.
pub async fn run_revalue() -> Result<(), lambda_runtime::Error> {
    let rt = AwsRuntime::start().await?;
    let store = rt.stores.valuation.clone();
    let relays = Arc::new(
        rt.relay(vwc_valuation::CONSUMER)
            .into_iter()
            .collect::<Vec<_>>(),
    );
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<
            aws_lambda_events::event::eventbridge::EventBridgeEvent<serde_json::Value>,
        >| {
            let (store, relays) = (store.clone(), relays.clone());
            async move {
                let report =
                    vwc_valuation::handle_scheduled_event(store.as_ref(), event.payload).await?;
                AwsRuntime::flush_all(&relays).await;
                Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
            }
        },
    ))
    .await
}
