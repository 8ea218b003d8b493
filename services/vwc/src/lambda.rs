//! AWS Lambda entry points over the same code: the HTTP API (lambda_http over the composed axum Router),
//! the chat with response streaming, one SQS consumer per service, the scheduled maintenance sweep, the scheduled notification delivery
//! worker and the daily re-valuation. Each builds its clients once per cold start. Configuration: `VWC_*` environment variables, then
//! SSM (`/vwc/<VWC_ENV>/…`): `mongodb_uri`, `jwks_url`, `jwt_issuer`, `jwt_audience`, `bus_name`,
//! `mongodb_prefix`, `email_from`, and the dashboard's sign-in provider (`oidc_authority`,
//! `oidc_client_id`, `oidc_scope`, `oidc_api_token`; `VWC_OIDC_*`), the chat's optional LLM provider
//! (`llm_base_url`, `llm_model`, `llm_api_key`, `llm_timeout_secs`; `VWC_LLM_*`). Terraform sets `VWC_ENV` to `<env>/<function>`, so each function reads
//! only its own parameters. A Lambda is frozen between invocations, so each handler flushes its service's
//! outbox to EventBridge before it returns.

use std::sync::Arc;

use anyhow::Context;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use tower::ServiceExt;
use vwc_bus::Bus;
use vwc_bus::OutboxRelay;
use vwc_store::vehicle_ledger::KeptStates;

use crate::daily::DailyJob;
use crate::stores::Stores;

/// Runs a function (its start-up, then its serving loop): a failure is told to Lambda's Runtime API as an
/// init error — the console then shows `Runtime.InitError` with the reason, where the process used to exit 1
/// (`Runtime.ExitError`) with the reason in the log alone. The serving loop itself ends only when the
/// Runtime API fails, and then the report is refused, harmlessly.
pub async fn reporting_init_errors<F>(run: F) -> Result<(), lambda_runtime::Error>
where
    F: std::future::Future<Output = Result<(), lambda_runtime::Error>>,
{
    let result = run.await;
    if let Err(e) = &result {
        tracing::error!(error = %e, "the function could not start");
        if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
            report_init_error(&api, &e.to_string()).await;
        }
    }
    result
}

/// The error type an init error is reported with.
pub const INIT_ERROR_TYPE: &str = "vwc.InitError";

/// Posts `message` to the Runtime API at `api` (`host:port`) as the function's init error; best effort.
pub async fn report_init_error(api: &str, message: &str) {
    let body = serde_json::json!({ "errorMessage": message, "errorType": INIT_ERROR_TYPE });
    let sent = reqwest::Client::new()
        .post(format!("http://{api}/2018-06-01/runtime/init/error"))
        .header("Lambda-Runtime-Function-Error-Type", INIT_ERROR_TYPE)
        .header("content-type", "application/json")
        .body(body.to_string())
        .timeout(std::time::Duration::from_secs(2))
        .send()
        .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, "reporting the init error to the Runtime API failed");
    }
}

/// Clients and stores of one cold start.
pub struct AwsRuntime {
    pub stores: Stores,
    pub bus: Arc<dyn Bus>,
    layers: vwc_config::Layers,
}

impl AwsRuntime {
    /// `serves_edge`: the function serves the edge's reads or runs its consumer (the API, the edge's
    /// consumer), and so fills the edge's aggregates once; the others' database users may not read them.
    pub async fn start(serves_edge: bool) -> anyhow::Result<AwsRuntime> {
        let layers = crate::cli::config_layers().await?;
        let (uri, prefix) = mongodb_settings(&layers)
            .context("VWC_MONGODB_URI (or SSM mongodb_uri) is required in AWS")?;
        let stores = if serves_edge {
            Stores::connect_mongodb(&uri, &prefix).await?
        } else {
            Stores::connect_mongodb_beside_the_edge(&uri, &prefix).await?
        };
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

    /// The store of `service` as plumbing (its outbox, inbox claims, dead letters).
    fn plumbing(&self, service: &str) -> Vec<(&'static str, Arc<dyn vwc_store::Plumbing>)> {
        self.stores
            .plumbing()
            .into_iter()
            .filter(|(name, _)| *name == service)
            .collect()
    }
}

/// How long an API or consumer invocation spends publishing its outboxes after its work, at most. The rows
/// left stay pending for the next invocation: a backlog (thousands of rows after a sweep, or a bus that
/// answers slowly) made one `GET /healthz` wait 61 s, past API Gateway's 29 s.
const FLUSH_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

/// What a function's invocations owe the stores they write besides their work, since a Lambda has no
/// background task (`vwc up`'s relays and timers do this there): the outboxes flushed within a budget, and
/// once an hour of a warm instance the outbox rows sent over 7 days ago and the inbox claims over
/// `KEEP_CLAIMS` old pruned — of the function's own service only, the one database its user may write
/// (infra/modules/atlas).
pub struct Upkeep {
    relays: Vec<Arc<OutboxRelay>>,
    claims: Vec<(&'static str, Arc<dyn vwc_store::Plumbing>)>,
    last_pruned: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How long past its share of the budget a relay's bus call in flight may take before it is cut.
const FLUSH_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// How often a warm instance prunes (as `vwc up`'s relays do).
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

impl Upkeep {
    pub fn new(
        relays: Vec<Arc<OutboxRelay>>,
        claims: Vec<(&'static str, Arc<dyn vwc_store::Plumbing>)>,
    ) -> Upkeep {
        Upkeep {
            relays,
            claims,
            last_pruned: std::sync::Mutex::new(None),
        }
    }

    /// Flushes `relay` until `share` (a bus call under way is cut [`FLUSH_GRACE`] later); whether it stopped
    /// at `share` rather than for want of rows (or for an error).
    async fn flush_within(relay: &OutboxRelay, share: tokio::time::Instant) -> bool {
        match tokio::time::timeout_at(share + FLUSH_GRACE, relay.flush_until(share)).await {
            Ok(Ok(_)) => tokio::time::Instant::now() >= share,
            // The rows stay pending; the next invocation (or the next flush) sends them.
            Ok(Err(e)) => {
                tracing::warn!(relay = relay.name(), error = %e, "outbox flush failed");
                false
            }
            Err(_) => {
                tracing::warn!(
                    relay = relay.name(),
                    "outbox flush cut in a bus call past its budget; the rest goes with the next invocation"
                );
                false
            }
        }
    }

    /// Flushes every relay for at most `budget` in all — each its share of what is left, then what the
    /// others left to those with rows still pending —, then prunes when an hour has passed since the last
    /// prune (or none was made yet).
    pub async fn after_invocation(&self, budget: std::time::Duration) {
        let until = tokio::time::Instant::now() + budget;
        // Relays stopped by their share with rows left: the second round gives them what the others left.
        let mut unfinished = Vec::new();
        for (i, r) in self.relays.iter().enumerate() {
            // Each relay gets its share of what is left (a backlog in one does not starve the others),
            // and stops starting batches at it; a bus call that hangs is cut a moment later.
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            let share = tokio::time::Instant::now() + left / (self.relays.len() - i) as u32;
            if Self::flush_within(r, share).await && share < until {
                unfinished.push(r);
            }
        }
        // A backlog in one outbox while the others are empty drained a quarter of the budget per invocation
        // (a probe: 300 rows took 9–13 requests).
        for r in unfinished {
            if tokio::time::Instant::now() >= until {
                break;
            }
            Self::flush_within(r, until).await;
        }
        let due = {
            let mut last = self.last_pruned.lock().unwrap_or_else(|e| e.into_inner());
            let due = last.is_none_or(|t| t.elapsed() >= PRUNE_EVERY);
            if due {
                *last = Some(std::time::Instant::now());
            }
            due
        };
        if !due {
            return;
        }
        for r in &self.relays {
            match r.prune().await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(relay = r.name(), pruned, "sent outbox rows pruned"),
                Err(e) => tracing::warn!(relay = r.name(), error = %e, "pruning the outbox failed"),
            }
        }
        let before = vwc_clock::now() - vwc_store::KEEP_CLAIMS;
        crate::stores::prune_claims(&self.claims, before).await;
    }
}

/// The MongoDB URI and database prefix (`VWC_MONGODB_URI`/`mongodb_uri`, `VWC_MONGODB_PREFIX`/
/// `mongodb_prefix`), when a URI is configured.
fn mongodb_settings(layers: &vwc_config::Layers) -> Option<(String, String)> {
    let uri = layers.secret(None, "VWC_MONGODB_URI", "mongodb_uri")?;
    let prefix = layers
        .value(None, "VWC_MONGODB_PREFIX", "mongodb_prefix")
        .unwrap_or_else(|| "vwc".into());
    Some((uri.expose().to_string(), prefix))
}

/// Bearer tokens as every HTTP function verifies them: RS256/ES256 against the identity provider's JWKS.
fn token_verifier(layers: &vwc_config::Layers) -> anyhow::Result<Arc<dyn vwc_auth::TokenVerifier>> {
    let jwks = layers
        .value(None, "VWC_JWKS", "jwks_url")
        .context("VWC_JWKS (or SSM jwks_url) is required in AWS: tokens are RS256/ES256")?;
    let issuer = layers
        .value(None, "VWC_JWT_ISSUER", "jwt_issuer")
        .unwrap_or_else(|| vwc_auth::ISSUER.into());
    // The audience is configurable because an identity provider such as a Cognito user pool puts its
    // app client id in `aud`, where the embedded issuer puts `vwc-api`.
    let audience = layers
        .value(None, "VWC_JWT_AUDIENCE", "jwt_audience")
        .unwrap_or_else(|| vwc_auth::AUDIENCE.into());
    Ok(Arc::new(vwc_auth::JwksVerifier::new(
        vwc_auth::JwksKeys::Url(&jwks),
        issuer,
        audience,
    )?))
}

/// The chat's optional LLM provider, as configured for this function (off without `llm_base_url`).
fn chat_llm(
    layers: &vwc_config::Layers,
) -> anyhow::Result<Option<Arc<vwc_chat_historian::LlmProvider>>> {
    Ok(crate::cli::chat_llm_settings(layers, None, None, None)?
        .map(vwc_chat_historian::LlmProvider::new)
        .transpose()
        .context("the chat LLM provider")?
        .map(Arc::new))
}

/// The whole HTTP API behind API Gateway.
pub async fn run_api() -> Result<(), lambda_http::Error> {
    let rt = AwsRuntime::start(true).await?;
    let verifier = token_verifier(&rt.layers)?;
    let allowlist = vwc_notification::ssrf::Allowlist::from_env()
        .map_err(|e| anyhow::anyhow!("VWC_OUTBOUND_ALLOWLIST: {e:?}"))?;
    let oidc = crate::auth_config::OidcSettings::from_settings(|env_var, ssm_name| {
        rt.layers.value(None, env_var, ssm_name)
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let bucket = crate::attachments::AttachmentsChoice::S3 {
        bucket: rt
            .layers
            .value(None, "VWC_ATTACHMENTS_BUCKET", "attachments_bucket")
            .context("VWC_ATTACHMENTS_BUCKET (or SSM attachments_bucket) is required in AWS")?,
        endpoint: std::env::var("VWC_AWS_ENDPOINT").ok(),
    };
    let (attachments, record_files) = crate::attachments::open_with_files(
        &bucket,
        std::path::Path::new("/tmp"),
        Some(crate::attachments::LAMBDA_LARGEST_ARCHIVE),
    )
    .await?;
    let http = crate::embedded::HttpSettings {
        rate_limiter: None, // API Gateway throttles in AWS
        cors_origin: std::env::var("VWC_CORS_ORIGIN")
            .ok()
            .and_then(|o| axum::http::HeaderValue::from_str(&o).ok()),
        request_timeout: std::time::Duration::from_secs(25),
        // The MongoDB store counts no timeline versions, so there is nothing to keep a page under.
        timeline_pages: Arc::new(vwc_edge::page_cache::PageCache::new(0)),
        public_url: rt
            .layers
            .value(None, "VWC_PUBLIC_URL", "public_url")
            .map(|u| crate::embedded::public_url(&u))
            .transpose()
            .context("VWC_PUBLIC_URL")?,
        notification_settle: notification_settle()?,
        // The delivery function e-mails when `email_from` names a sender (`run_delivery`).
        email: rt
            .layers
            .value(None, "VWC_EMAIL_FROM", "email_from")
            .is_some(),
        dev_tokens: None,
        oidc,
        chat_llm: chat_llm(&rt.layers)?,
        attachments,
        // The function reads the bucket's files into an archive it answers whole, up to what a Lambda's
        // answer holds (docs/import.md).
        record_files: Some(record_files),
    };
    let router = crate::embedded::ApiRoutes::undocumented().into_router(
        &rt.stores,
        verifier,
        allowlist,
        Some(rt.bus.clone()),
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
    // The API's user reads and writes every database; the inbox claims it prunes are ingestion's (each
    // consumer prunes its own).
    let upkeep = Arc::new(Upkeep::new(relays, rt.plumbing("ingestion")));
    lambda_http::run(tower::service_fn(move |req: lambda_http::Request| {
        let (router, upkeep) = (router.clone(), upkeep.clone());
        async move {
            let response = router.oneshot(req).await?;
            upkeep.after_invocation(FLUSH_BUDGET).await;
            Ok::<_, std::convert::Infallible>(response)
        }
    }))
    .await
}

/// The header CloudFront carries the viewer's `Authorization` in to the chat function: origin access
/// control signs each origin request with SigV4 in `Authorization`, overwriting the bearer token, so a
/// CloudFront Function copies the token here first (infra/modules/dashboard).
pub const VIEWER_AUTHORIZATION: &str = "x-viewer-authorization";

/// Puts the viewer's bearer token back where the routes read it. The SigV4 signature CloudFront put in
/// `Authorization` was checked by Lambda before the invocation (the function URL's `AWS_IAM` auth) and
/// means nothing to the routes, so without a carried token the request is unauthenticated (401).
pub fn restore_viewer_authorization(headers: &mut axum::http::HeaderMap) {
    use axum::http::header::AUTHORIZATION;
    match headers.remove(VIEWER_AUTHORIZATION) {
        Some(token) => {
            headers.insert(AUTHORIZATION, token);
        }
        None => {
            let signed = headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256"));
            if signed {
                headers.remove(AUTHORIZATION);
            }
        }
    }
}

/// The chat historian's routes behind a Lambda function URL in `RESPONSE_STREAM` mode: each SSE event of
/// an answer leaves as its own chunk as the router's body yields it, with no API Gateway buffering and no
/// 29 s limit in the way. Same token verification, tenancy and problem+json as the API function (the same
/// routes and layers); configuration read the same way (`VWC_*`, then SSM under this function's path).
/// It opens only the chat historian's store and publishes nothing. Without a MongoDB URI it runs on the
/// embedded SQLite store in `VWC_DATA_DIR` (a local run, and the black-box test).
pub async fn run_chat() -> Result<(), lambda_http::Error> {
    let layers = crate::cli::config_layers().await?;
    let data_dir = std::env::var_os("VWC_DATA_DIR").map(std::path::PathBuf::from);
    let store = match (mongodb_settings(&layers), &data_dir) {
        (Some((uri, prefix)), _) => crate::stores::StoreChoice::Mongodb { uri, prefix },
        (None, Some(_)) => crate::stores::StoreChoice::Sqlite,
        (None, None) => {
            return Err(anyhow::anyhow!(
                "VWC_MONGODB_URI (or SSM mongodb_uri) is required in AWS; VWC_DATA_DIR runs on SQLite locally"
            )
            .into());
        }
    };
    let chat = Stores::open_chat(&store, &data_dir.unwrap_or_default()).await?;
    let verifier = token_verifier(&layers)?;
    let http = crate::embedded::HttpSettings {
        // A function URL has no API Gateway throttling in front of it (only CloudFront's signed requests
        // reach it): this limits each organisation within a warm instance.
        rate_limiter: vwc_http::RateLimiter::parse(
            &layers
                .value(None, "VWC_RATE_LIMIT", "rate_limit")
                .unwrap_or_else(|| "20/s,40".into()),
        )
        .map_err(anyhow::Error::msg)
        .context("VWC_RATE_LIMIT")?
        .map(Arc::new),
        cors_origin: None, // same origin: CloudFront serves the dashboard and this route
        // Until the answer's first byte (the body streams outside it): the LLM is bounded at 8 s.
        request_timeout: std::time::Duration::from_secs(60),
        timeline_pages: Arc::new(vwc_edge::page_cache::PageCache::new(0)),
        public_url: None, // the chat routes sign no URL
        notification_settle: vwc_notification::consumer::DEFAULT_SETTLE, // nor save preferences
        email: false,
        dev_tokens: None,
        oidc: None,
        chat_llm: chat_llm(&layers)?,
        // The chat routes read no attachment; the settings are shared with the API's router.
        attachments: crate::attachments::open(
            &crate::attachments::AttachmentsChoice::Files,
            std::path::Path::new("/tmp"),
        )
        .await?,
        record_files: None,
    };
    let clock = vwc_http::Clock::default();
    let router = crate::embedded::with_http_layers(
        vwc_chat_historian::http::routes(vwc_http::openapi::Docs::Skipped)
            .with_state(crate::embedded::chat_state(
                chat,
                verifier.clone(),
                &clock,
                &http,
            ))
            .into(),
        verifier,
        &http,
    );
    lambda_http::run_with_streaming_response(tower::service_fn(
        move |mut req: lambda_http::Request| {
            restore_viewer_authorization(req.headers_mut());
            router.clone().oneshot(req)
        },
    ))
    .await
}

/// `VWC_NOTIFICATION_SETTLE_SECONDS` (as `vwc up` reads it), else the service's default.
fn notification_settle() -> anyhow::Result<std::time::Duration> {
    match std::env::var("VWC_NOTIFICATION_SETTLE_SECONDS") {
        Ok(text) => text
            .trim()
            .parse()
            .map(std::time::Duration::from_secs)
            .map_err(|e| anyhow::anyhow!("VWC_NOTIFICATION_SETTLE_SECONDS {text:?}: {e}")),
        Err(_) => Ok(vwc_notification::consumer::DEFAULT_SETTLE),
    }
}

/// One service's SQS consumer (`service` as in routes.json); partial batch failures.
pub async fn run_consumer(service: &str) -> Result<(), lambda_runtime::Error> {
    let rt = AwsRuntime::start(service == vwc_edge::CONSUMER).await?;
    let consumer = rt
        .stores
        // Other invocations (other sandboxes) deliver the same vehicles' events: no kept states.
        .consumers(
            &vwc_clock::system(),
            KeptStates::None,
            notification_settle()?,
        )
        .into_iter()
        .find(|(name, _)| *name == service)
        .map(|(_, (consumer, _))| consumer)
        .with_context(|| format!("no consumer named {service:?}"))?;
    let upkeep = Arc::new(Upkeep::new(
        rt.relay(service).into_iter().collect(),
        rt.plumbing(service),
    ));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| {
            let (consumer, upkeep) = (consumer.clone(), upkeep.clone());
            async move {
                let response =
                    vwc_bus::lambda::handle_sqs_batch(event.payload, consumer.as_ref()).await;
                upkeep.after_invocation(FLUSH_BUDGET).await;
                Ok::<_, lambda_runtime::Error>(response)
            }
        },
    ))
    .await
}

/// What an invocation by an EventBridge scheduled rule asks for: the day the rule fired for (so a retried
/// invocation repeats that day), one organisation when the rule's input sets `detail.orgId`, and a forced
/// run (`DailyRun::force`) when an operator's invocation sets `detail.force` to `true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledRun {
    pub day: chrono::NaiveDate,
    pub org: Option<String>,
    pub force: bool,
}

impl ScheduledRun {
    pub fn of(event: &EventBridgeEvent<serde_json::Value>) -> ScheduledRun {
        ScheduledRun {
            day: event.time.unwrap_or_else(vwc_clock::now).date_naive(),
            org: event
                .detail
                .get("orgId")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
            force: event.detail.get("force") == Some(&serde_json::Value::Bool(true)),
        }
    }

    /// The daily job's run: this invocation's day, "now" by the wall clock (a Lambda has no other).
    pub fn daily(&self) -> vwc_store::vehicle_ledger::DailyRun {
        vwc_store::vehicle_ledger::DailyRun::of_day(self.org.as_deref(), self.day, vwc_clock::now())
            .forced(self.force)
    }
}

/// Serves the daily `job`, invoked by an EventBridge scheduled rule: each invocation runs it on the stores
/// for its [`ScheduledRun`], then flushes the outbox of the job's service and returns the job's report.
pub async fn run_daily_job(job: DailyJob) -> Result<(), lambda_runtime::Error> {
    let rt = AwsRuntime::start(false).await?;
    let stores = rt.stores.clone();
    serve_reports(
        Upkeep::new(
            rt.relay(job.service()).into_iter().collect(),
            rt.plumbing(job.service()),
        ),
        move |event: lambda_runtime::LambdaEvent<EventBridgeEvent<serde_json::Value>>| {
            let stores = stores.clone();
            async move {
                job.run(&stores, &ScheduledRun::of(&event.payload).daily())
                    .await
            }
        },
    )
    .await
}

/// Serves invocations: each runs `handle` on its event, then `upkeep` (the outbox of the service whose
/// store the handler wrote, flushed in the time the invocation has left but a margin) and returns the
/// handler's report as JSON.
async fn serve_reports<P, H, F, R, E>(
    upkeep: Upkeep,
    handle: H,
) -> Result<(), lambda_runtime::Error>
where
    P: serde::de::DeserializeOwned + Send + 'static,
    H: Fn(lambda_runtime::LambdaEvent<P>) -> F + Clone + Send + 'static,
    F: std::future::Future<Output = Result<R, E>> + Send,
    R: serde::Serialize,
    E: Into<lambda_runtime::Error>,
{
    let upkeep = Arc::new(upkeep);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<P>| {
            let (handle, upkeep) = (handle.clone(), upkeep.clone());
            let deadline = event.context.deadline();
            async move {
                let report = handle(event).await.map_err(Into::into)?;
                // A daily job may leave 100,000 rows: it flushes for as long as its invocation allows.
                let left = deadline
                    .duration_since(std::time::SystemTime::now())
                    .unwrap_or_default();
                upkeep
                    .after_invocation(left.saturating_sub(FLUSH_MARGIN).max(FLUSH_BUDGET))
                    .await;
                Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
            }
        },
    ))
    .await
}

/// What a scheduled function keeps of its invocation's time after its outbox flush (the report, the prune).
const FLUSH_MARGIN: std::time::Duration = std::time::Duration::from_secs(10);

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
    /// The rounds' counts added up (`leaseLost`: deliveries another invocation took over meanwhile, their
    /// leases having run out).
    #[serde(flatten)]
    pub totals: vwc_notification::RoundSummary,
}

impl DeliveryReport {
    fn add(&mut self, r: &vwc_notification::RoundSummary) {
        self.rounds += 1;
        self.totals += r;
    }
}

/// The notification delivery worker, invoked by an EventBridge scheduled rule (every minute): sends the
/// webhook and e-mail deliveries that are due (new ones, retries whose backoff ended, ones held by quiet
/// hours), then publishes the `NotificationDelivered` events they wrote to the outbox. E-mail goes through
/// SES when `VWC_EMAIL_FROM` (or SSM `email_from`) names the sender.
pub async fn run_delivery() -> Result<(), lambda_runtime::Error> {
    let rt = AwsRuntime::start(false).await?;
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
    serve_reports(
        Upkeep::new(
            rt.relay(vwc_notification::CONSUMER).into_iter().collect(),
            rt.plumbing(vwc_notification::CONSUMER),
        ),
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let worker = worker.clone();
            async move {
                let deadline = event.context.deadline();
                let time_left = || {
                    deadline
                        .duration_since(std::time::SystemTime::now())
                        .unwrap_or_default()
                };
                let report =
                    deliver_due(&worker, DELIVERY_BATCH, time_left, DELIVERY_RESERVE).await?;
                tracing::info!(?report, "delivery invocation done");
                Ok::<_, vwc_store::StoreError>(report)
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A start-up failure reaches the Runtime API's init-error endpoint with its message and type.
    #[tokio::test]
    async fn a_start_up_failure_is_reported_as_an_init_error() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Until the JSON body's end: the request is small.
            while !request.ends_with(b"}") {
                let n = conn.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
            }
            conn.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8(request).unwrap()
        });
        report_init_error(
            &api,
            "VWC_MONGODB_URI (or SSM mongodb_uri) is required in AWS",
        )
        .await;
        let request = server.await.unwrap();
        assert!(
            request.starts_with("POST /2018-06-01/runtime/init/error HTTP/1.1"),
            "{request}"
        );
        assert!(
            request
                .to_ascii_lowercase()
                .contains("lambda-runtime-function-error-type: vwc.initerror"),
            "{request}"
        );
        let body: serde_json::Value =
            serde_json::from_str(&request[request.find("\r\n\r\n").unwrap() + 4..]).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "errorMessage": "VWC_MONGODB_URI (or SSM mongodb_uri) is required in AWS",
                "errorType": "vwc.InitError"
            })
        );
    }

    /// A bus that takes `delay` to accept each call, as a slow or distant one does.
    #[derive(Default)]
    struct SlowBus {
        delay: Duration,
        published: std::sync::atomic::AtomicUsize,
        /// The envelope ids of every entry the bus took, in order.
        took: std::sync::Mutex<Vec<uuid::Uuid>>,
    }

    #[async_trait::async_trait]
    impl Bus for SlowBus {
        async fn publish(
            &self,
            envelopes: &[vwc_contracts::Envelope],
        ) -> Result<(), vwc_bus::BusError> {
            // As EventBridge's publisher: one call per 10 entries, one after another, the bus taking the
            // entries as the call arrives and answering `delay` later.
            for call in envelopes.chunks(10) {
                self.published
                    .fetch_add(call.len(), std::sync::atomic::Ordering::SeqCst);
                self.took.lock().unwrap().extend(call.iter().map(|e| e.id));
                tokio::time::sleep(self.delay).await;
            }
            Ok(())
        }
    }

    fn envelope(i: usize) -> vwc_contracts::Envelope {
        vwc_contracts::Envelope::new(
            "vwc.test",
            "org_a",
            Some(&format!("veh_{i}")),
            None,
            vwc_contracts::maintenance::MaintenanceScheduleUpdated {
                vehicle_id: format!("veh_{i}"),
                items: Vec::new(),
                odometer: None,
                evaluated_at: vwc_clock::now(),
                evaluated_on: None,
                unit: None,
            },
        )
    }

    /// After an invocation a function publishes its outbox for its budget at most — a backlog waits for
    /// the next invocation instead of holding the answer (a `GET /healthz` waited 61 s), and what went out
    /// is marked, so the backlog drains (cut inside one 200-row batch, nothing was marked and the same rows
    /// went out again at every invocation) — and prunes the
    /// rows sent over 7 days ago and the old inbox claims once an hour of a warm instance, not at every
    /// invocation.
    #[tokio::test]
    async fn after_an_invocation_the_outbox_is_flushed_within_its_budget_and_pruned_hourly() {
        let dir = tempfile::tempdir().unwrap();
        let db = vwc_store::SqliteDb::open(&dir.path().join("svc.db"), &[]).unwrap();
        // 3 rows sent ten days ago, then 1,000 pending rows (5 of the relay's batches).
        let old: Vec<_> = (0..3).map(envelope).collect();
        // Marks the rows `which` selects as sent ten days ago.
        let sent_long_ago = |which: &'static str| {
            move |c: &rusqlite::Connection| -> vwc_store::StoreResult<()> {
                let then = vwc_store::ts(&(vwc_clock::now() - chrono::Duration::days(10)));
                c.execute(&format!("DELETE FROM outbox_unsent WHERE {which}"), [])?;
                c.execute(
                    &format!(
                        "INSERT OR REPLACE INTO outbox_sent (seq, sent_at)
                         SELECT seq, ?1 FROM outbox WHERE {which}"
                    ),
                    [then],
                )?;
                Ok(())
            }
        };
        db.write(move |c| vwc_store::sqlite::enqueue(c, &old))
            .await
            .unwrap();
        db.write(sent_long_ago("seq <= 3")).await.unwrap();
        let pending: Vec<_> = (0..1_000).map(envelope).collect();
        db.write(move |c| vwc_store::sqlite::enqueue(c, &pending))
            .await
            .unwrap();
        let count = |sql: &'static str| {
            let db = db.clone();
            async move {
                db.read(move |c| Ok(c.query_row(sql, [], |r| r.get::<_, i64>(0))?))
                    .await
                    .unwrap()
            }
        };
        let bus = Arc::new(SlowBus {
            delay: Duration::from_millis(100),
            ..SlowBus::default()
        });
        let relay = Arc::new(OutboxRelay::new("svc", Arc::new(db.clone()), bus.clone()));
        let plumbing: Arc<dyn vwc_store::Plumbing> = Arc::new(db.clone());
        let upkeep = Upkeep::new(vec![relay], vec![("svc", plumbing)]);

        let started = std::time::Instant::now();
        upkeep.after_invocation(Duration::from_millis(150)).await;
        assert!(
            started.elapsed() < Duration::from_millis(600),
            "the flush went on past its budget: {:?}",
            started.elapsed()
        );
        let left = count("SELECT count(*) FROM outbox_unsent").await;
        // What the bus accepted within the budget is marked sent (two calls of 10), so the next invocation
        // goes on from there instead of publishing the same rows again; the rest waits.
        assert_eq!(left, 980, "the backlog waits, and what went out is marked");
        assert_eq!(
            count("SELECT count(*) FROM outbox WHERE seq <= 3").await,
            0,
            "pruned"
        );

        // Within the hour: no prune, whatever was sent long ago meanwhile.
        db.write(sent_long_ago("seq = 4")).await.unwrap();
        upkeep.after_invocation(Duration::from_secs(30)).await;
        assert_eq!(count("SELECT count(*) FROM outbox_unsent").await, 0);
        assert_eq!(
            count("SELECT count(*) FROM outbox WHERE seq = 4").await,
            1,
            "pruned again within the hour"
        );
    }

    /// A bus slower than the budget allows for one call (EventBridge throttled: its retries wait 200 +
    /// 400 + 800 ms) still drains the outbox call by call, each row published once. With batches of five
    /// calls marked at their end, the flush was cut inside the first one every time: nothing marked, and
    /// every invocation published the same rows again (a probe: 7 copies of one event in 43 s; 300 rows
    /// never drained by three warm instances).
    /// An outbox of `rows` pending rows behind a bus taking `delay` a call, after `invocations` API
    /// invocations with 100 ms of flush budget each: the database (to count what is left) and the bus.
    async fn after_slow_invocations(
        dir: &tempfile::TempDir,
        rows: usize,
        delay: Duration,
        invocations: usize,
    ) -> (vwc_store::SqliteDb, Arc<SlowBus>) {
        let db = vwc_store::SqliteDb::open(&dir.path().join("svc.db"), &[]).unwrap();
        let pending: Vec<_> = (0..rows).map(envelope).collect();
        db.write(move |c| vwc_store::sqlite::enqueue(c, &pending))
            .await
            .unwrap();
        let bus = Arc::new(SlowBus {
            delay,
            ..SlowBus::default()
        });
        let relay = Arc::new(OutboxRelay::new("svc", Arc::new(db.clone()), bus.clone()));
        let upkeep = Upkeep::new(vec![relay], Vec::new());
        for _ in 0..invocations {
            upkeep.after_invocation(Duration::from_millis(100)).await;
        }
        (db, bus)
    }

    /// The rows of `db`'s outbox not marked sent.
    async fn unsent(db: &vwc_store::SqliteDb) -> i64 {
        db.read(|c| Ok(c.query_row("SELECT count(*) FROM outbox_unsent", [], |r| r.get(0))?))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_bus_too_slow_for_a_batch_within_the_budget_drains_call_by_call_each_row_once() {
        let dir = tempfile::tempdir().unwrap();
        let (db, bus) = after_slow_invocations(&dir, 200, Duration::from_millis(400), 3).await;
        let left = unsent(&db).await;
        let published = bus.published.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(left, 170, "one call of 10 a invocation");
        assert_eq!(published, 30, "each row published once");
    }

    /// One outbox with a backlog beside three empty ones gets the whole budget, not a quarter of it: the
    /// others' share goes to it in a second round.
    #[tokio::test]
    async fn a_backlog_in_one_outbox_gets_the_time_the_empty_ones_leave() {
        let dir = tempfile::tempdir().unwrap();
        let bus = Arc::new(SlowBus {
            delay: Duration::from_millis(20),
            ..SlowBus::default()
        });
        let mut relays = Vec::new();
        let mut dbs = Vec::new();
        for i in 0..4 {
            let db =
                vwc_store::SqliteDb::open(&dir.path().join(format!("svc{i}.db")), &[]).unwrap();
            relays.push(Arc::new(OutboxRelay::new(
                &format!("svc{i}"),
                Arc::new(db.clone()),
                bus.clone(),
            )));
            dbs.push(db);
        }
        let pending: Vec<_> = (0..200).map(envelope).collect();
        dbs[0]
            .write(move |c| vwc_store::sqlite::enqueue(c, &pending))
            .await
            .unwrap();
        // 20 calls of 20 ms: a quarter of the budget (250 ms) holds about 12 of them, the budget all.
        Upkeep::new(relays, Vec::new())
            .after_invocation(Duration::from_secs(1))
            .await;
        assert_eq!(unsent(&dbs[0]).await, 0);
    }

    /// A bus call slower than the flush's cut (EventBridge answering after its own retries): the bus has
    /// the rows, the flush is cut before it can mark them, and the next invocations pass over them for as
    /// long as their claim lasts instead of publishing them again each time (a probe: one event six times in
    /// 36 s); they go on with the rows behind them.
    #[tokio::test]
    async fn rows_whose_bus_call_was_cut_are_not_published_again_by_the_next_invocations() {
        let dir = tempfile::tempdir().unwrap();
        // Each invocation is cut at 0.1 s + FLUSH_GRACE, inside its first call.
        let (_db, bus) = after_slow_invocations(&dir, 50, Duration::from_millis(1_500), 3).await;
        let took = bus.took.lock().unwrap().clone();
        let distinct: std::collections::HashSet<_> = took.iter().collect();
        assert_eq!(took.len(), 30, "one call a invocation");
        assert_eq!(distinct.len(), 30, "no row published twice");
    }

    #[test]
    fn a_scheduled_run_is_for_the_day_the_rule_fired_and_the_organisation_it_names() {
        let every: EventBridgeEvent<serde_json::Value> = serde_json::from_value(serde_json::json!({
            "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": "2025-06-17T03:00:00Z",
            "region": "eu-west-1", "resources": ["arn:aws:events:eu-west-1:123456789012:rule/vwc-sweep"],
            "detail": {}
        }))
        .unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2025, 6, 17).unwrap();
        assert_eq!(
            ScheduledRun::of(&every),
            ScheduledRun {
                day,
                org: None,
                force: false
            }
        );
        assert!(!ScheduledRun::of(&every).daily().force);
        let one: EventBridgeEvent<serde_json::Value> = serde_json::from_value(serde_json::json!({
            "detail-type": "Scheduled Event", "source": "aws.events", "time": "2025-06-18T23:59:59Z",
            "detail": {"orgId": "org_a"}
        }))
        .unwrap();
        assert_eq!(
            ScheduledRun::of(&one),
            ScheduledRun {
                day: day.succ_opt().unwrap(),
                org: Some("org_a".into()),
                force: false
            }
        );
        // An operator's invocation may force the run; anything but `true` does not.
        for (force, forced) in [
            (serde_json::json!(true), true),
            (serde_json::json!("true"), false),
            (serde_json::json!(false), false),
        ] {
            let event: EventBridgeEvent<serde_json::Value> =
                serde_json::from_value(serde_json::json!({
                    "detail-type": "Scheduled Event", "source": "aws.events",
                    "time": "2025-06-18T03:00:00Z", "detail": {"force": force}
                }))
                .unwrap();
            assert_eq!(ScheduledRun::of(&event).daily().force, forced, "{force}");
        }
    }

    fn worker(dir: &tempfile::TempDir) -> vwc_notification::DeliveryWorker {
        let store = vwc_notification::SqliteNotificationStore::open(&dir.path().join("n.db"))
            .expect("open the notification store");
        vwc_notification::DeliveryWorker::new(Arc::new(store), Default::default())
    }

    #[test]
    fn the_carried_token_replaces_the_signature_and_a_lone_signature_is_dropped() {
        use axum::http::HeaderValue;
        use axum::http::header::AUTHORIZATION;
        let signature = HeaderValue::from_static("AWS4-HMAC-SHA256 Credential=A/x, Signature=00");
        let mut carried = axum::http::HeaderMap::new();
        carried.insert(AUTHORIZATION, signature.clone());
        carried.insert(
            VIEWER_AUTHORIZATION,
            HeaderValue::from_static("Bearer t0k3n"),
        );
        restore_viewer_authorization(&mut carried);
        assert_eq!(carried.get(AUTHORIZATION).unwrap(), "Bearer t0k3n");
        assert!(carried.get(VIEWER_AUTHORIZATION).is_none());

        let mut signed_only = axum::http::HeaderMap::new();
        signed_only.insert(AUTHORIZATION, signature);
        restore_viewer_authorization(&mut signed_only);
        assert!(signed_only.get(AUTHORIZATION).is_none());

        // Called directly (not through CloudFront): the bearer token stays where it is.
        let mut direct = axum::http::HeaderMap::new();
        direct.insert(AUTHORIZATION, HeaderValue::from_static("Bearer t0k3n"));
        restore_viewer_authorization(&mut direct);
        assert_eq!(direct.get(AUTHORIZATION).unwrap(), "Bearer t0k3n");
    }

    /// One invocation on a store with nothing due, with `left` of its time remaining; its report.
    async fn invocation_with(left: Duration) -> DeliveryReport {
        let dir = tempfile::tempdir().unwrap();
        deliver_due(&worker(&dir), DELIVERY_BATCH, || left, DELIVERY_RESERVE)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_invocation_with_nothing_due_runs_one_round_and_returns() {
        let report = invocation_with(Duration::from_secs(60)).await;
        let one_empty_round = DeliveryReport {
            rounds: 1,
            ..Default::default()
        };
        assert_eq!(report, one_empty_round);
    }

    #[tokio::test]
    async fn no_round_starts_inside_the_reserve() {
        let report = invocation_with(Duration::from_secs(5)).await;
        assert_eq!(report, DeliveryReport::default());
    }
}
