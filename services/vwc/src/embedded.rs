//! The whole system in one process: every service's store, the bus, the consumers, the outbox relays and
//! one HTTP router. The embedded default uses SQLite files and the in-process bus.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::trace::TraceLayer;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use vwc_auth::{Hs256Keys, TokenVerifier};
use vwc_bus::Bus;
use vwc_bus::OutboxRelay;
use vwc_bus::inproc::{InProcessBus, RetryPolicy};
use vwc_contracts::Routes;
use vwc_http::openapi::Docs;
use vwc_ingestion::Ingestion;
use vwc_store::vehicle_ledger::{KeptStates, LedgerService, run_daily};

use crate::daily::DailyJob;
use crate::routes::{Readiness, ReadinessCheck};
pub use crate::stores::{StoreChoice, Stores};

/// Which bus carries the events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusChoice {
    /// The in-process bus (embedded mode).
    InProcess,
    /// EventBridge + SQS through the AWS SDK (distributed-local against moto, or real AWS).
    Aws {
        endpoint: Option<String>,
        bus_name: String,
    },
}

impl BusChoice {
    /// Whether the vehicle-ledger services keep vehicle states between deliveries
    /// (`vwc_store::vehicle_ledger::cache`): only with the in-process bus, where this process's consumers
    /// deliver every event of every vehicle, so a kept state is what the store holds unless this process's
    /// own sweep or routes moved it. With SQS, other workers and Lambda functions deliver to the same
    /// ledgers: a kept state would mostly be stale and hold memory for nothing.
    pub fn kept_states(&self) -> KeptStates {
        match self {
            BusChoice::InProcess => KeptStates::Recent,
            BusChoice::Aws { .. } => KeptStates::None,
        }
    }
}

/// `url` as the origin signed links start with: `http(s)://host[:port]` and nothing after it (a trailing
/// `/` dropped).
pub fn public_url(url: &str) -> anyhow::Result<Arc<str>> {
    let origin = url.trim().trim_end_matches('/');
    let parsed: axum::http::Uri = origin
        .parse()
        .map_err(|e| anyhow::anyhow!("{url:?} is not a URL: {e}"))?;
    let fine = matches!(parsed.scheme_str(), Some("http" | "https"))
        && parsed.host().is_some_and(|h| !h.is_empty())
        && parsed
            .path_and_query()
            .is_none_or(|p| p.as_str().is_empty() || p.as_str() == "/")
        && !origin.contains('@');
    if !fine {
        anyhow::bail!("{url:?} must be http(s)://host[:port], with nothing after the host");
    }
    Ok(Arc::from(origin))
}

/// Mebibytes of timeline pages `vwc up` keeps in memory by default (`--timeline-cache-mib`): a few
/// hundred pages of 50 events.
pub const DEFAULT_TIMELINE_CACHE_MIB: u64 = 8;

/// Edge-of-HTTP settings for [`ApiRoutes::into_router`].
pub struct HttpSettings {
    pub rate_limiter: Option<Arc<vwc_http::RateLimiter>>,
    pub cors_origin: Option<axum::http::HeaderValue>,
    pub request_timeout: Duration,
    /// Timeline pages kept in memory under their vehicle's timeline version (`--timeline-cache-mib`).
    pub timeline_pages: Arc<vwc_edge::page_cache::PageCache>,
    /// The embedded HS256 keys: `POST /v1/auth/dev-token` exists only with them.
    pub dev_tokens: Option<Arc<Hs256Keys>>,
    /// The OpenID Connect provider the dashboard signs in with, when there is one.
    pub oidc: Option<crate::auth_config::OidcSettings>,
    /// The chat historian's optional LLM provider (off when `None`).
    pub chat_llm: Option<Arc<vwc_chat_historian::LlmProvider>>,
    /// Where event attachments are kept.
    pub attachments: Arc<dyn vwc_ingestion::attachments::AttachmentStore>,
    /// The records' files a `zip` export puts in its archive (`None` where they are kept in S3).
    pub record_files: Option<Arc<dyn vwc_edge::export::RecordFiles>>,
    /// Where users reach this service (`--public-url`): signed calendar URLs start with it.
    pub public_url: Option<Arc<str>>,
    /// The reminders' settle time (`VWC_NOTIFICATION_SETTLE_SECONDS`): what a change of preferences
    /// releases that the old quiet hours held waits no less.
    pub notification_settle: Duration,
    /// Whether reminders can be e-mailed (`--email` here; `email_from` in AWS): without, preferences that
    /// name an address are refused instead of failing every e-mail in silence.
    pub email: bool,
}

impl HttpSettings {
    /// What `GET /v1/auth/config` answers.
    pub fn auth_config(&self) -> crate::auth_config::AuthConfig {
        crate::auth_config::AuthConfig::new(self.dev_tokens.is_some(), self.oidc.as_ref())
    }

    /// The dashboard's CSP: its own origin, plus the sign-in provider's for `connect-src`.
    pub fn content_security_policy(
        &self,
    ) -> Result<crate::dashboard::ContentSecurityPolicy, String> {
        let origins = self
            .oidc
            .as_ref()
            .map(|o| o.connect_origins())
            .unwrap_or_default();
        crate::dashboard::ContentSecurityPolicy::connecting_to(&origins)
    }
}

#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    pub data_dir: PathBuf,
    pub bus: BusChoice,
    /// Run only these services' consumers and relays (`vwc worker`); all when `None`.
    pub only: Option<Vec<String>>,
    /// Seconds an SQS long poll waits (AWS bus).
    pub sqs_wait_secs: u32,
    pub retry: RetryPolicy,
    /// How often relays poll their outbox when nothing woke them.
    pub relay_poll: Duration,
    /// `VWC_JWT_SECRET`, when set.
    pub jwt_secret: Option<String>,
    /// Whether this process signs or verifies tokens with the HS256 secret (`jwt_secret`, else the data
    /// dir's `jwt.secret`, made when missing). A command that does neither (a daily job or a dead-letter
    /// replay run by hand) turns it off: its keys are then random and in memory only, and no secret is
    /// written — with `--store mongodb` nothing is written to the data dir at all.
    pub signing_secret: bool,
    /// Per-organisation request limit, `RATE[/s][,BURST]`; `0` disables.
    pub rate_limit: String,
    /// Origin allowed by CORS (a dashboard served elsewhere); none when `None`.
    pub cors_origin: Option<String>,
    /// Where users reach this service (`https://vwc.example.com`); signed calendar URLs start with it.
    pub public_url: Option<String>,
    /// Longest a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// Bytes of timeline pages kept in memory (`--timeline-cache-mib`); 0 keeps none.
    pub timeline_cache_bytes: usize,
    /// Verify RS256/ES256 tokens against this JWKS (URL or file) instead of the embedded HS256 secret.
    pub jwks: Option<String>,
    /// `iss` expected of JWKS-verified tokens.
    pub jwt_issuer: String,
    /// `aud` expected of JWKS-verified tokens (an OpenID provider's ID token names its client id).
    pub jwt_audience: String,
    /// The OpenID Connect provider the dashboard signs in with (AWS mode; needs `jwks`).
    pub oidc: Option<crate::auth_config::OidcSettings>,
    /// SQLite files (default) or MongoDB.
    pub store: StoreChoice,
    /// How often the maintenance sweep runs in this process; `None` turns it off.
    pub sweep_every: Option<Duration>,
    /// How often the valuation service re-values every vehicle (idempotent per day); `None` turns it off.
    pub revalue_every: Option<Duration>,
    /// SES endpoint override for e-mail (moto); e-mail is sent only when `email` is set.
    pub email: Option<EmailOptions>,
    /// Private hosts outbound webhooks may reach (`VWC_OUTBOUND_ALLOWLIST`).
    pub outbound_allowlist: String,
    /// How long a reminder's outbound deliveries wait (`VWC_NOTIFICATION_SETTLE_SECONDS`).
    pub notification_settle: Duration,
    /// Delivery worker tuning (tests shorten the retries); the service's defaults when `None`.
    pub notification_tuning: Option<NotificationTuning>,
    /// The chat historian's optional OpenAI-compatible LLM provider; off when `None` (the default).
    pub chat_llm: Option<vwc_chat_historian::LlmSettings>,
    /// Event attachments: files under the data dir (default) or an S3 bucket.
    pub attachments: crate::attachments::AttachmentsChoice,
    /// The longest `zip` export the server answers; any length when `None` (the default). The API Lambda
    /// answers at most `attachments::LAMBDA_LARGEST_ARCHIVE`; tests set a limit here to see its answer.
    pub largest_archive: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct NotificationTuning {
    pub retry: vwc_notification::retry::RetryPolicy,
    pub webhook_timeout: Duration,
    pub poll_every: Duration,
}

/// E-mail through Amazon SES v2.
#[derive(Debug, Clone)]
pub struct EmailOptions {
    pub endpoint: Option<String>,
    pub from: String,
}

impl EmbeddedOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> EmbeddedOptions {
        EmbeddedOptions {
            data_dir: data_dir.into(),
            bus: BusChoice::InProcess,
            only: None,
            sqs_wait_secs: 20,
            retry: RetryPolicy::default(),
            relay_poll: Duration::from_millis(500),
            jwt_secret: None,
            signing_secret: true,
            rate_limit: "500/s,1000".into(),
            cors_origin: None,
            public_url: None,
            request_timeout: Duration::from_secs(30),
            timeline_cache_bytes: (DEFAULT_TIMELINE_CACHE_MIB as usize) << 20,
            jwks: None,
            jwt_issuer: vwc_auth::ISSUER.into(),
            jwt_audience: vwc_auth::AUDIENCE.into(),
            oidc: None,
            store: StoreChoice::Sqlite,
            sweep_every: Some(Duration::from_secs(3600)),
            revalue_every: Some(Duration::from_secs(3600)),
            email: None,
            outbound_allowlist: String::new(),
            notification_settle: vwc_notification::consumer::DEFAULT_SETTLE,
            notification_tuning: None,
            chat_llm: None,
            attachments: Default::default(),
            largest_archive: None,
        }
    }
}

/// A running system (without its HTTP listener: see [`System::serve`]).
pub struct System {
    pub stores: Stores,
    pub bus: InProcessBus,
    pub keys: Arc<Hs256Keys>,
    pub router: Router,
    /// What "now" is for handlers; tests move it forward.
    pub clock: vwc_http::Clock,
    shutdown: watch::Sender<bool>,
    relays: Vec<JoinHandle<()>>,
    relay_handles: Vec<Arc<OutboxRelay>>,
}

/// Readiness of one store: a cheap round trip.
struct StoreReady {
    name: &'static str,
    store: Arc<dyn vwc_store::Plumbing>,
}

#[async_trait::async_trait]
impl ReadinessCheck for StoreReady {
    fn name(&self) -> &str {
        self.name
    }
    async fn check(&self) -> Result<(), String> {
        self.store.ping().await.map_err(|e| e.to_string())
    }
}

fn store_checks(stores: &Stores) -> Vec<Box<dyn ReadinessCheck>> {
    let plumbing: [(&'static str, Arc<dyn vwc_store::Plumbing>); 6] = [
        ("ingestion", stores.ingestion.clone()),
        ("edge", stores.edge.clone()),
        ("maintenance-scheduler", stores.scheduler.clone()),
        ("notification", stores.notification.clone()),
        ("valuation", stores.valuation.clone()),
        ("chat-historian", stores.chat.clone()),
    ];
    plumbing
        .into_iter()
        .map(|(name, store)| Box::new(StoreReady { name, store }) as Box<dyn ReadinessCheck>)
        .collect()
}

impl System {
    pub async fn start(opts: EmbeddedOptions) -> anyhow::Result<System> {
        if opts.signing_secret || opts.store == StoreChoice::Sqlite {
            vwc_store::sqlite::create_private_dir(&opts.data_dir)
                .with_context(|| format!("creating the data dir {}", opts.data_dir.display()))?;
        }
        let secret = if opts.signing_secret {
            vwc_auth::load_or_create_secret(opts.jwt_secret.as_deref(), &opts.data_dir)
                .context("loading the JWT secret")?
        } else {
            vwc_auth::Secret::ephemeral()
        };
        let keys = Arc::new(Hs256Keys::new(&secret));
        // Composing the routes needs no store: it runs on a thread of its own while the databases open.
        let routes = tokio::task::spawn_blocking(ApiRoutes::undocumented);
        let stores = Stores::open_choice(&opts.store, &opts.data_dir).await?;
        // The one clock of the system: every service reads the time from it (tests move it forward).
        let clock = vwc_http::Clock::default();
        let shared_clock: vwc_clock::SharedClock = Arc::new(clock.clone());

        let wanted = |name: &str| {
            opts.only
                .as_ref()
                .is_none_or(|only| only.iter().any(|o| o == name))
        };
        let bus = InProcessBus::new(Routes::load(), opts.retry);
        let allowlist = vwc_notification::ssrf::Allowlist::parse(&opts.outbound_allowlist)
            .map_err(|e| anyhow::anyhow!("VWC_OUTBOUND_ALLOWLIST: {e:?}"))?;
        if opts.oidc.is_some() && opts.jwks.is_none() {
            anyhow::bail!(
                "an OpenID Connect provider for sign-in (--oidc-authority) needs --jwks: its tokens are verified against its keys"
            );
        }
        let verifier: Arc<dyn TokenVerifier> = match &opts.jwks {
            None => keys.clone(),
            Some(source) => {
                let keys = if source.starts_with("http://") || source.starts_with("https://") {
                    vwc_auth::JwksKeys::Url(source)
                } else {
                    vwc_auth::JwksKeys::File(std::path::Path::new(source))
                };
                let verifier =
                    vwc_auth::JwksVerifier::new(keys, &opts.jwt_issuer, &opts.jwt_audience)
                        .context("configuring the JWKS verifier")?;
                Arc::new(verifier)
            }
        };
        let (attachments, record_files) = crate::attachments::open_with_files(
            &opts.attachments,
            &opts.data_dir,
            opts.largest_archive,
        )
        .await?;
        let http = HttpSettings {
            rate_limiter: vwc_http::RateLimiter::parse(&opts.rate_limit)
                .map_err(anyhow::Error::msg)
                .context("VWC_RATE_LIMIT")?
                .map(Arc::new),
            cors_origin: opts
                .cors_origin
                .as_deref()
                .map(axum::http::HeaderValue::from_str)
                .transpose()
                .context("the CORS origin is not a valid header value")?,
            request_timeout: opts.request_timeout,
            timeline_pages: Arc::new(vwc_edge::page_cache::PageCache::new(
                opts.timeline_cache_bytes,
            )),
            public_url: opts
                .public_url
                .as_deref()
                .map(public_url)
                .transpose()
                .context("--public-url")?,
            notification_settle: opts.notification_settle,
            email: opts.email.is_some(),
            dev_tokens: offers_dev_tokens(&opts).then(|| keys.clone()),
            oidc: opts.oidc.clone(),
            chat_llm: opts
                .chat_llm
                .clone()
                .map(vwc_chat_historian::LlmProvider::new)
                .transpose()
                .context("the chat LLM provider")?
                .map(Arc::new),
            attachments,
            record_files: Some(record_files),
        };
        // The bus the relays publish to; `/readyz` asks it too.
        let shared_bus: Arc<dyn Bus> = match &opts.bus {
            BusChoice::InProcess => Arc::new(bus.clone()),
            #[cfg(feature = "aws")]
            BusChoice::Aws { endpoint, bus_name } => {
                let config = vwc_bus::aws::sdk_config(endpoint.as_deref()).await;
                Arc::new(vwc_bus::eventbridge::EventBridgeBus::new(
                    aws_sdk_eventbridge::Client::new(&config),
                    bus_name.clone(),
                ))
            }
            #[cfg(not(feature = "aws"))]
            BusChoice::Aws { .. } => return Err(crate::built_without_aws("--bus aws")),
        };
        // The router before the background work (relays, consumers, the daily jobs) starts, so that work
        // does not compete with it for the cores: the listener is bound as soon as this returns.
        let router = routes.await.context("composing the routes")?.into_router(
            &stores,
            verifier,
            allowlist.clone(),
            Some(shared_bus.clone()),
            &clock,
            &http,
        );
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut relays = Vec::new();
        let kept = opts.bus.kept_states();
        match &opts.bus {
            BusChoice::InProcess => {
                for (name, (consumer, dead_letters)) in
                    stores.consumers(&shared_clock, kept, opts.notification_settle)
                {
                    if wanted(name) {
                        bus.register(consumer, dead_letters);
                    }
                }
            }
            #[cfg(feature = "aws")]
            BusChoice::Aws { endpoint, bus_name } => {
                let config = vwc_bus::aws::sdk_config(endpoint.as_deref()).await;
                let sqs = aws_sdk_sqs::Client::new(&config);
                for (name, (consumer, _)) in
                    stores.consumers(&shared_clock, kept, opts.notification_settle)
                {
                    if !wanted(name) {
                        continue;
                    }
                    let queue = vwc_bus::bootstrap::queue_name(bus_name, name);
                    let url = sqs
                        .get_queue_url()
                        .queue_name(&queue)
                        .send()
                        .await
                        .with_context(|| {
                            format!("finding SQS queue {queue} (run `vwc aws bootstrap` first)")
                        })?
                        .queue_url
                        .unwrap_or_default();
                    let options = vwc_bus::sqs::WorkerOptions {
                        wait_time_secs: opts.sqs_wait_secs,
                        ..Default::default()
                    };
                    let worker = vwc_bus::sqs::SqsWorker::new(sqs.clone(), url, consumer, options);
                    let rx = shutdown_rx.clone();
                    relays.push(tokio::spawn(async move {
                        worker.run(rx).await;
                    }));
                }
            }
            #[cfg(not(feature = "aws"))]
            BusChoice::Aws { .. } => {}
        }
        let mut relay_handles = Vec::new();
        for (name, outbox) in stores.outboxes() {
            if !wanted(name) {
                continue;
            }
            let relay = Arc::new(
                OutboxRelay::new(name, outbox.clone(), shared_bus.clone())
                    .poll_every(opts.relay_poll),
            );
            relay_handles.push(relay.clone());
            relays.push(tokio::spawn(relay.run(shutdown_rx.clone())));
        }

        if wanted(vwc_notification::CONSUMER) {
            let mut worker = vwc_notification::worker::DeliveryWorker::new(
                stores.notification.clone(),
                allowlist.clone(),
            )
            .with_clock(shared_clock.clone());
            if let Some(t) = &opts.notification_tuning {
                worker = worker
                    .with_retry_policy(t.retry)
                    .with_webhook_timeout(t.webhook_timeout)
                    .with_options(vwc_notification::worker::WorkerOptions {
                        poll_every: t.poll_every,
                        ..Default::default()
                    });
            }
            #[cfg(feature = "aws")]
            if let Some(email) = &opts.email {
                let sender = vwc_notification::SesEmailSender::connect(email.endpoint.as_deref())
                    .await
                    .from_address(email.from.clone());
                worker = worker.with_email(Arc::new(sender));
            }
            #[cfg(not(feature = "aws"))]
            if opts.email.is_some() {
                return Err(crate::built_without_aws("e-mail through SES (--email)"));
            }
            relays.push(tokio::spawn(Arc::new(worker).run(shutdown_rx.clone())));
        }
        // The daily jobs, for today by the system's clock (the first right away).
        for (job, every) in [
            (DailyJob::MaintenanceSweep, opts.sweep_every),
            (DailyJob::Revaluation, opts.revalue_every),
        ] {
            if let Some(every) = every
                && wanted(job.service())
            {
                let stores = stores.clone();
                relays.push(tokio::spawn(run_daily(
                    job.name(),
                    every,
                    shared_clock.clone(),
                    shutdown_rx.clone(),
                    move |run| {
                        let stores = stores.clone();
                        async move { job.run(&stores, &run).await }
                    },
                )));
            }
        }

        // Old inbox claims of the services this process runs, once an hour (the first some minutes after
        // start, away from the start-up's own work).
        let claims: Vec<_> = (stores.plumbing().into_iter())
            .filter(|(name, _)| wanted(name))
            .collect();
        relays.push(tokio::spawn(prune_claims_every(
            CLAIMS_PRUNED_EVERY,
            claims,
            shutdown_rx.clone(),
        )));

        let adopted = vwc_ingestion::dealers::adopt_waiting_dealer_records(
            stores.ingestion.as_ref(),
            &shared_clock,
        )
        .await?;
        if adopted > 0 {
            tracing::info!(adopted, "dealer records adopted at start-up");
        }
        Ok(System {
            stores,
            bus,
            keys,
            router,
            clock,
            shutdown,
            relays,
            relay_handles,
        })
    }

    /// Publishes whatever is pending in every outbox now (tests, shutdown).
    pub async fn flush_outboxes(&self) -> anyhow::Result<usize> {
        let mut n = 0;
        for r in &self.relay_handles {
            n += r.flush().await.map_err(anyhow::Error::msg)?;
        }
        Ok(n)
    }

    /// Waits until every consumer has applied every event written so far, reactions to reactions
    /// included: publishes whatever any outbox still holds and waits for the deliveries in flight, until a
    /// round publishes nothing. `vwc up` waits on it after the demo seed, so the first read sees the seed
    /// projected; tests use it as the barrier for "nothing (more) happened" checks.
    pub async fn settle(&self) -> anyhow::Result<()> {
        const ROUNDS: usize = 50;
        for _ in 0..ROUNDS {
            let published = self.flush_outboxes().await?;
            self.bus.drain().await;
            if published == 0 {
                return Ok(());
            }
        }
        anyhow::bail!("the outboxes still held events after {ROUNDS} rounds of publishing")
    }

    /// For a one-shot command (`vwc seed`, `import`, `sweep`, `revalue`, `dlq replay`): delivers what it
    /// caused through every hop ([`settle`](Self::settle)), then shuts down — so its effects are all
    /// projected when it returns instead of waiting in the consumers' outboxes for the next start.
    pub async fn finish(self) -> anyhow::Result<()> {
        let settled = self.settle().await;
        self.shutdown().await;
        settled
    }

    /// Stops the relays (each flushes a last time) and waits for deliveries in flight.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for r in self.relays {
            let _ = r.await;
        }
        self.bus.drain().await;
    }

    /// Serves the router on `listener` until `stop` resolves, then shuts the system down cleanly.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        crate::server::serve(listener, self.router.clone(), stop)
            .await
            .context("serving HTTP")?;
        tracing::info!("draining the bus and flushing outboxes");
        self.shutdown().await;
        Ok(())
    }
}

/// `POST /v1/auth/dev-token` mints a token for any organisation: it exists only in embedded mode (the
/// in-process bus, SQLite files, the embedded HS256 keys), never when the process is part of a deployment.
pub fn offers_dev_tokens(opts: &EmbeddedOptions) -> bool {
    opts.jwks.is_none() && opts.bus == BusChoice::InProcess && opts.store == StoreChoice::Sqlite
}

/// Every route of the API, before any state is given to it. Composing them needs no store, so
/// [`System::start`] does it on another thread while the databases open, without the documentation
/// ([`undocumented`](Self::undocumented): each handler's path, methods and query parameters are all it
/// reads). The same composition with the documentation ([`documented`](Self::documented)) gives the
/// OpenAPI document when `/openapi.json` is first asked for (docs/bench.md, "Cold start and idle memory").
pub struct ApiRoutes {
    ingestion: OpenApiRouter<vwc_ingestion::http::IngestionState>,
    attachments: OpenApiRouter<vwc_ingestion::attachments::http::AttachmentState>,
    dealers: OpenApiRouter<vwc_ingestion::dealers::http::DealerState>,
    edge: OpenApiRouter<vwc_edge::http::EdgeState>,
    scheduler: OpenApiRouter<vwc_maintenance_scheduler::http::SchedulerState>,
    notification: OpenApiRouter<vwc_notification::http::NotificationState>,
    valuation: OpenApiRouter<vwc_valuation::http::ValuationState>,
    chat: OpenApiRouter<vwc_chat_historian::http::ChatState>,
    calendar: OpenApiRouter<vwc_edge::calendar::http::CalendarState>,
    records: OpenApiRouter<vwc_edge::http::EdgeState>,
    system: OpenApiRouter<Readiness>,
    dev_token: OpenApiRouter<Arc<Hs256Keys>>,
    auth_config: OpenApiRouter<Arc<crate::auth_config::AuthConfig>>,
}

impl ApiRoutes {
    /// Each service's routes, as the service declares them, with their documentation.
    pub fn documented() -> ApiRoutes {
        ApiRoutes::compose(Docs::Built)
    }

    /// The routes alone, with no documentation built (`/openapi.json` composes it when first asked for).
    pub fn undocumented() -> ApiRoutes {
        ApiRoutes::compose(Docs::Skipped)
    }

    fn compose(docs: Docs) -> ApiRoutes {
        ApiRoutes {
            ingestion: vwc_ingestion::http::routes(docs),
            attachments: vwc_ingestion::attachments::http::routes(docs),
            dealers: vwc_ingestion::dealers::http::routes(docs),
            edge: vwc_edge::http::routes(docs),
            scheduler: vwc_maintenance_scheduler::http::routes(docs),
            notification: vwc_notification::http::routes(docs),
            valuation: vwc_valuation::http::routes(docs),
            chat: vwc_chat_historian::http::routes(docs),
            calendar: vwc_edge::calendar::http::routes(docs),
            records: crate::records::routes(docs),
            system: crate::routes::routes(docs),
            dev_token: crate::routes::dev_token_routes(docs),
            auth_config: crate::auth_config::routes(docs),
        }
    }

    /// The routes over their services' state, with `/openapi.json` and every HTTP layer. The development
    /// token route exists only with the embedded keys (`http.dev_tokens`).
    pub fn into_router(
        self,
        stores: &Stores,
        verifier: Arc<dyn TokenVerifier>,
        allowlist: vwc_notification::ssrf::Allowlist,
        bus: Option<Arc<dyn Bus>>,
        clock: &vwc_http::Clock,
        http: &HttpSettings,
    ) -> Router {
        let ApiRoutes {
            ingestion,
            attachments,
            dealers,
            edge,
            scheduler,
            notification,
            valuation,
            chat,
            calendar,
            records,
            system,
            dev_token,
            auth_config,
        } = self;
        let shared_clock: vwc_clock::SharedClock = Arc::new(clock.clone());
        let mut checks = store_checks(stores);
        if let Some(bus) = bus {
            checks.push(Box::new(BusReady(bus)));
        }
        let edge_state = vwc_edge::http::EdgeState {
            store: stores.edge.clone(),
            verifier: verifier.clone(),
            clock: shared_clock.clone(),
            pages: http.timeline_pages.clone(),
            files: http.record_files.clone(),
        };
        let schedules = vwc_maintenance_scheduler::Scheduler::new(stores.scheduler.clone())
            .with_clock(shared_clock.clone());
        let valuer =
            vwc_valuation::Valuer::new(stores.valuation.clone()).with_clock(shared_clock.clone());
        let mut routers = vec![
            served(
                ingestion,
                vwc_ingestion::http::IngestionState {
                    ingestion: Ingestion::new(stores.ingestion.clone(), shared_clock.clone()),
                    verifier: verifier.clone(),
                },
            ),
            served(
                attachments,
                vwc_ingestion::attachments::http::AttachmentState {
                    ingestion: Ingestion::new(stores.ingestion.clone(), shared_clock.clone()),
                    store: http.attachments.clone(),
                    verifier: verifier.clone(),
                    uploads: Default::default(),
                },
            ),
            served(
                dealers,
                vwc_ingestion::dealers::http::DealerState {
                    cache: Default::default(),
                    dealers: stores.ingestion.clone(),
                    clock: shared_clock.clone(),
                    verifier: verifier.clone(),
                },
            ),
            served(edge, edge_state.clone()),
            served(
                scheduler,
                vwc_maintenance_scheduler::http::SchedulerState {
                    scheduler: schedules,
                    verifier: verifier.clone(),
                },
            ),
            served(
                notification,
                vwc_notification::http::NotificationState {
                    clock: shared_clock.clone(),
                    email: http.email,
                    settle: chrono::TimeDelta::from_std(http.notification_settle)
                        .unwrap_or(chrono::TimeDelta::MAX),
                    ..vwc_notification::http::NotificationState::new(
                        stores.notification.clone(),
                        verifier.clone(),
                        allowlist,
                    )
                },
            ),
            served(
                valuation,
                vwc_valuation::http::ValuationState {
                    valuer,
                    verifier: verifier.clone(),
                },
            ),
            served(
                chat,
                chat_state(stores.chat.clone(), verifier.clone(), clock, http),
            ),
            served(
                calendar,
                vwc_edge::calendar::http::CalendarState {
                    store: stores.edge.clone(),
                    keys: stores.calendar_keys.clone(),
                    verifier: verifier.clone(),
                    public_url: http.public_url.clone(),
                },
            ),
            served(records, edge_state),
            served(
                system,
                Readiness {
                    checks: Arc::new(checks),
                },
            ),
        ];
        if let Some(keys) = &http.dev_tokens {
            routers.push(served(dev_token, keys.clone()));
        }
        routers.push(served(auth_config, Arc::new(http.auth_config())));
        let router = routers.into_iter().fold(Router::new(), Router::merge);
        let with_dev_token = http.dev_tokens.is_some();
        let document = move || ApiRoutes::documented().document(with_dev_token);
        with_http_layers(crate::openapi::serve(router, document), verifier, http)
    }

    /// The OpenAPI parts of every route [`into_router`](Self::into_router) serves, merged in the same
    /// order (where two parts name the same path, schema or response, the first one stays).
    pub fn document(self, with_dev_token: bool) -> OpenApi {
        let mut document = OpenApiRouter::<()>::new().into_openapi();
        let mut parts = vec![
            self.ingestion.into_openapi(),
            self.attachments.into_openapi(),
            self.dealers.into_openapi(),
            self.edge.into_openapi(),
            self.scheduler.into_openapi(),
            self.notification.into_openapi(),
            self.valuation.into_openapi(),
            self.chat.into_openapi(),
            self.calendar.into_openapi(),
            self.records.into_openapi(),
            self.system.into_openapi(),
        ];
        if with_dev_token {
            parts.push(self.dev_token.into_openapi());
        }
        parts.push(self.auth_config.into_openapi());
        for part in parts {
            document.merge(part);
        }
        document
    }
}

/// `routes` over `state`, without their documentation.
/// How often a running system prunes its services' old inbox claims ([`vwc_store::KEEP_CLAIMS`]).
const CLAIMS_PRUNED_EVERY: Duration = Duration::from_secs(3600);
/// When the first pruning runs after start.
const CLAIMS_FIRST_PRUNED_AFTER: Duration = Duration::from_secs(600);

/// Prunes the claims of `stores` older than [`vwc_store::KEEP_CLAIMS`] every `every` (the first
/// [`CLAIMS_FIRST_PRUNED_AFTER`] after start, or `every` if sooner), until shutdown.
async fn prune_claims_every(
    every: Duration,
    stores: Vec<(&'static str, Arc<dyn vwc_store::Plumbing>)>,
    shutdown: watch::Receiver<bool>,
) {
    let first = tokio::time::Instant::now() + CLAIMS_FIRST_PRUNED_AFTER.min(every);
    let ticker = tokio::time::interval_at(first, every);
    vwc_store::run_every(ticker, shutdown, || async {
        // Claims are stamped by the wall clock (inbox bookkeeping), not the system's clock.
        crate::stores::prune_claims(&stores, vwc_clock::now() - vwc_store::KEEP_CLAIMS).await;
    })
    .await
}

fn served<S: Clone + Send + Sync + 'static>(routes: OpenApiRouter<S>, state: S) -> Router {
    routes.with_state::<()>(state).split_for_parts().0
}

/// The chat historian's state over its store: the whole API serves its routes, and so does the chat
/// function on its own (`vwc-lambda-chat`, which streams).
pub fn chat_state(
    store: Arc<dyn vwc_chat_historian::ChatStore>,
    verifier: Arc<dyn TokenVerifier>,
    clock: &vwc_http::Clock,
    http: &HttpSettings,
) -> vwc_chat_historian::http::ChatState {
    vwc_chat_historian::http::ChatState {
        historian: Arc::new(
            vwc_chat_historian::Historian::new(store).with_llm(http.chat_llm.clone()),
        ),
        verifier,
        clock: clock.clone(),
    }
}

/// What a request that outlived the request timeout is told to wait before retrying (`Retry-After`).
pub const TIMEOUT_RETRY_AFTER: Duration = Duration::from_secs(30);

/// What every HTTP entry point puts around its routes: problem+json for unknown routes and methods, the
/// rate limit, token verification, CORS, the dashboard's CSP, the request timeout, trace context, the body
/// limit and the request span.
pub fn with_http_layers(
    router: Router,
    verifier: Arc<dyn TokenVerifier>,
    http: &HttpSettings,
) -> Router {
    let router = router
        .fallback(crate::routes::not_found)
        .method_not_allowed_fallback(crate::routes::method_not_allowed)
        // A handler's MongoDB transactions give up on records another transaction holds after the
        // request's budget (a 503 with `Retry-After`), not the consumers' two minutes.
        .layer(axum::middleware::from_fn(
            |req: Request<axum::body::Body>, next: axum::middleware::Next| {
                vwc_store::request_writes::within_request(next.run(req))
            },
        ));
    let router = match &http.rate_limiter {
        Some(limiter) => router.layer(axum::middleware::from_fn_with_state(
            limiter.clone(),
            vwc_http::rate_limit,
        )),
        None => router,
    };
    // Outside the limiter: the token is verified once, and the limiter counts the verified organisation.
    let router = router.layer(axum::middleware::from_fn_with_state(
        verifier,
        vwc_http::authenticate,
    ));
    let router = match &http.cors_origin {
        Some(origin) => router.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(tower_http::cors::AllowOrigin::list([origin.clone()]))
                .allow_methods([
                    axum::http::Method::GET,
                    axum::http::Method::POST,
                    axum::http::Method::PUT,
                ])
                .allow_headers([
                    axum::http::header::AUTHORIZATION,
                    axum::http::header::CONTENT_TYPE,
                    axum::http::HeaderName::from_static("idempotency-key"),
                    axum::http::HeaderName::from_static("traceparent"),
                ])
                .max_age(Duration::from_secs(600)),
        ),
        None => router,
    };
    // The dashboard's pages carry this policy (its origins come from parsed URLs, so it always builds).
    let csp = http.content_security_policy().unwrap_or_else(|err| {
        tracing::error!(error = %err, "the sign-in provider's origin cannot be named in the CSP");
        crate::dashboard::ContentSecurityPolicy::default()
    });
    let router = router.layer(axum::Extension(csp));
    let timeout = http.request_timeout;
    router
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(
                    move |_: tower::BoxError| async move {
                        tracing::error!(
                            timeout_secs = timeout.as_secs(),
                            "the request took longer than the request timeout"
                        );
                        vwc_http::ApiError::UnavailableFor {
                            detail: format!(
                                "the request took longer than {} s (it may have taken effect): \
                                 retry after {} s",
                                timeout.as_secs(),
                                TIMEOUT_RETRY_AFTER.as_secs()
                            ),
                            retry_after_secs: TIMEOUT_RETRY_AFTER.as_secs(),
                        }
                    },
                ))
                .timeout(timeout),
        )
        .layer(axum::middleware::from_fn(vwc_http::trace_context))
        .layer(DefaultBodyLimit::max(vwc_http::MAX_BODY_BYTES))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let route = req
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| req.uri().path().to_string());
                let span = tracing::info_span!("http", method = %req.method(), route = %route, trace_id = tracing::field::Empty);
                vwc_telemetry::continue_trace(
                    &span,
                    req.headers().get("traceparent").and_then(|v| v.to_str().ok()),
                );
                span
            }),
        )
}

/// Readiness of the bus the relays publish to (the in-process bus is not paused; EventBridge's bus exists
/// and answers).
struct BusReady(Arc<dyn Bus>);

#[async_trait::async_trait]
impl ReadinessCheck for BusReady {
    fn name(&self) -> &str {
        "bus"
    }
    async fn check(&self) -> Result<(), String> {
        self.0.ready().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn layered(router: Router, request_timeout: Duration) -> (Router, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let secret = vwc_auth::Secret::from_bytes(vec![7_u8; vwc_auth::MIN_SECRET_BYTES]).unwrap();
        let http = HttpSettings {
            rate_limiter: None,
            cors_origin: None,
            request_timeout,
            timeline_pages: Arc::new(vwc_edge::page_cache::PageCache::new(0)),
            dev_tokens: None,
            oidc: None,
            chat_llm: None,
            attachments: crate::attachments::open(
                &crate::attachments::AttachmentsChoice::Files,
                dir.path(),
            )
            .await
            .unwrap(),
            record_files: None,
            public_url: None,
            notification_settle: Duration::ZERO,
            email: false,
        };
        let router = with_http_layers(router, Arc::new(Hs256Keys::new(&secret)), &http);
        (router, dir)
    }

    async fn answer(router: Router, path: &str) -> axum::response::Response {
        let request = Request::get(path).body(axum::body::Body::empty()).unwrap();
        router.oneshot(request).await.unwrap()
    }

    /// A handler's MongoDB transactions get the request's short conflict budget, not the consumers' two
    /// minutes: every entry point's handlers run inside the scope.
    #[tokio::test]
    async fn handlers_write_within_the_request_budget() {
        let routes = Router::new().route(
            "/budget",
            get(|| async { format!("{:?}", vwc_store::request_writes::conflict_budget()) }),
        );
        let (router, _dir) = layered(routes, Duration::from_secs(30)).await;
        let response = answer(router, "/budget").await;
        assert_eq!(response.status(), axum::http::StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            format!(
                "{:?}",
                Some(vwc_store::request_writes::REQUEST_CONFLICT_BUDGET)
            )
        );
    }

    /// A request that outlives the request timeout is a 503 that says so and when to retry.
    #[tokio::test]
    async fn a_request_over_the_timeout_is_told_when_to_retry() {
        let routes = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        );
        let (router, _dir) = layered(routes, Duration::from_secs(1)).await;
        let response = answer(router, "/slow").await;
        assert_eq!(
            response.status(),
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            response
                .headers()
                .get(axum::http::header::RETRY_AFTER)
                .unwrap(),
            &TIMEOUT_RETRY_AFTER.as_secs().to_string()
        );
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("longer than 1 s") && detail.contains("retry after 30 s"),
            "{problem}"
        );
    }
}
