//! AWS Lambda entry points over the same code: the HTTP API (lambda_http over the composed axum Router),
//! one SQS consumer per service, the scheduled maintenance sweep, the scheduled notification delivery
//! worker and the daily re-valuation. Each builds its clients once per cold start. Configuration: `VWC_*` environment variables, then
//! SSM (`/vwc/<VWC_ENV>/…`): `mongodb_uri`, `jwks_url`, `jwt_issuer`, `jwt_audience`, `bus_name`,
//! `mongodb_prefix`, `email_from`, and the dashboard's sign-in provider (`oidc_authority`,
//! `oidc_client_id`, `oidc_scope`, `oidc_api_token`; `VWC_OIDC_*`), the chat's optional LLM provider
//! (`llm_base_url`, `llm_model`, `llm_api_key`, `llm_timeout_secs`; `VWC_LLM_*`). Terraform sets `VWC_ENV` to `<env>/<function>`, so each function reads
//! only its own parameters. A Lambda is frozen between invocations, so each handler flushes its service's
//! outbox to EventBridge before it returns.

use std::sync::Arc;

use anyhow::Context;
use tower::ServiceExt;
use vwc_bus::Bus;
use vwc_bus::OutboxRelay;

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
    // The audience is configurable because an identity provider such as a Cognito user pool puts its
    // app client id in `aud`, where the embedded issuer puts `vwc-api`.
    let audience = rt
        .layers
        .value(None, "VWC_JWT_AUDIENCE", "jwt_audience")
        .unwrap_or_else(|| vwc_auth::AUDIENCE.into());
    let verifier: Arc<dyn vwc_auth::TokenVerifier> =
        Arc::new(vwc_auth::JwksVerifier::from_url(jwks, issuer, audience)?);
    let allowlist = vwc_notification::ssrf::Allowlist::from_env()
        .map_err(|e| anyhow::anyhow!("VWC_OUTBOUND_ALLOWLIST: {e:?}"))?;
    let oidc = crate::auth_config::OidcSettings::from_settings(|env_var, ssm_name| {
        rt.layers.value(None, env_var, ssm_name)
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let http = crate::embedded::HttpSettings {
        rate_limiter: None, // API Gateway throttles in AWS
        cors_origin: std::env::var("VWC_CORS_ORIGIN")
            .ok()
            .and_then(|o| axum::http::HeaderValue::from_str(&o).ok()),
        request_timeout: std::time::Duration::from_secs(25),
        dev_tokens: None,
        oidc,
        chat_llm: crate::cli::chat_llm_settings(&rt.layers, None, None, None)?
            .map(vwc_chat_historian::LlmProvider::new)
            .transpose()
            .context("the chat LLM provider")?
            .map(Arc::new),
        attachments: {
            let bucket = rt
                .layers
                .value(None, "VWC_ATTACHMENTS_BUCKET", "attachments_bucket")
                .context("VWC_ATTACHMENTS_BUCKET (or SSM attachments_bucket) is required in AWS")?;
            let endpoint = std::env::var("VWC_AWS_ENDPOINT").ok();
            crate::attachments::open(
                &crate::attachments::AttachmentsChoice::S3 { bucket, endpoint },
                std::path::Path::new("/tmp"),
            )
            .await
        },
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
        .consumers(&vwc_clock::system())
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

/// Deliveries claimed per round by the delivery Lambda (sent concurrently).
const DELIVERY_BATCH: usize = 32;
/// No new round starts with less time than this left: a webhook attempt may take 10 s, the settlement and
/// the outbox flush need a moment more. A round cut off anyway is not lost: its leases run out and the next
/// invocation claims those deliveries again.
const DELIVERY_RESERVE: std::time::Duration = std::time::Duration::from_secs(15);

/// Runs delivery rounds while full batches keep coming and more than `reserve` of the invocation is left
/// (`time_left` is asked before each round). Returns the sum of the rounds.
pub async fn deliver_due(
    worker: &vwc_notification::DeliveryWorker,
    batch: usize,
    time_left: impl Fn() -> std::time::Duration,
    reserve: std::time::Duration,
) -> vwc_store::StoreResult<DeliveryReport> {
    let mut report = DeliveryReport::default();
    while time_left() > reserve {
        let round = worker.run_once().await?;
        report.add(&round);
        if round.claimed < batch || round.errors > 0 {
            break;
        }
    }
    Ok(report)
}

/// What one invocation of the delivery Lambda did (its result, and a log line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryReport {
    pub rounds: usize,
    pub claimed: usize,
    pub delivered: usize,
    pub retry_scheduled: usize,
    pub failed: usize,
    pub dead_lettered: usize,
    pub held: usize,
    pub cancelled: usize,
    /// Deliveries another invocation took over meanwhile (their leases had run out).
    pub lease_lost: usize,
    pub errors: usize,
}

impl DeliveryReport {
    fn add(&mut self, r: &vwc_notification::RoundSummary) {
        self.rounds += 1;
        self.claimed += r.claimed;
        self.delivered += r.delivered;
        self.retry_scheduled += r.retry_scheduled;
        self.failed += r.failed;
        self.dead_lettered += r.dead_lettered;
        self.held += r.held;
        self.cancelled += r.cancelled;
        self.lease_lost += r.lease_lost;
        self.errors += r.errors;
    }
}

/// The notification delivery worker, invoked by an EventBridge scheduled rule (every minute): sends the
/// webhook and e-mail deliveries that are due (new ones, retries whose backoff ended, ones held by quiet
/// hours), then publishes the `NotificationDelivered` events they wrote to the outbox. E-mail goes through
/// SES when `VWC_EMAIL_FROM` (or SSM `email_from`) names the sender.
pub async fn run_delivery() -> Result<(), lambda_runtime::Error> {
    let rt = AwsRuntime::start().await?;
    let allowlist = vwc_notification::ssrf::Allowlist::from_env()
        .map_err(|e| anyhow::anyhow!("VWC_OUTBOUND_ALLOWLIST: {e:?}"))?;
    let mut worker =
        vwc_notification::DeliveryWorker::new(rt.stores.notification.clone(), allowlist)
            .with_options(vwc_notification::WorkerOptions {
                batch: DELIVERY_BATCH,
                ..Default::default()
            });
    if let Some(from) = rt.layers.value(None, "VWC_EMAIL_FROM", "email_from") {
        let sender = vwc_notification::SesEmailSender::connect(None)
            .await
            .from_address(from);
        worker = worker.with_email(Arc::new(sender));
    }
    let worker = Arc::new(worker);
    let relays = Arc::new(
        rt.relay(vwc_notification::CONSUMER)
            .into_iter()
            .collect::<Vec<_>>(),
    );
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let (worker, relays) = (worker.clone(), relays.clone());
            async move {
                let deadline = event.context.deadline();
                let time_left = || {
                    deadline
                        .duration_since(std::time::SystemTime::now())
                        .unwrap_or_default()
                };
                let report =
                    deliver_due(&worker, DELIVERY_BATCH, time_left, DELIVERY_RESERVE).await?;
                AwsRuntime::flush_all(&relays).await;
                tracing::info!(?report, "delivery invocation done");
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn worker(dir: &tempfile::TempDir) -> vwc_notification::DeliveryWorker {
        let store = vwc_notification::SqliteNotificationStore::open(&dir.path().join("n.db"))
            .expect("open the notification store");
        vwc_notification::DeliveryWorker::new(Arc::new(store), Default::default())
    }

    #[tokio::test]
    async fn an_invocation_with_nothing_due_runs_one_round_and_returns() {
        let dir = tempfile::tempdir().unwrap();
        let report = deliver_due(
            &worker(&dir),
            DELIVERY_BATCH,
            || Duration::from_secs(60),
            DELIVERY_RESERVE,
        )
        .await
        .unwrap();
        assert_eq!(
            report,
            DeliveryReport {
                rounds: 1,
                ..Default::default()
            }
        );
    }

    #[tokio::test]
    async fn no_round_starts_inside_the_reserve() {
        let dir = tempfile::tempdir().unwrap();
        let report = deliver_due(
            &worker(&dir),
            DELIVERY_BATCH,
            || Duration::from_secs(5),
            DELIVERY_RESERVE,
        )
        .await
        .unwrap();
        assert_eq!(report.rounds, 0);
    }
}
