//! The whole system in one process: every service's store, the bus, the consumers, the outbox relays and
//! one HTTP router. The embedded default uses SQLite files and the in-process bus.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::trace::TraceLayer;
use vwc_auth::{Hs256Keys, TokenVerifier};
use vwc_bus::inproc::{InProcessBus, RetryPolicy};
use vwc_bus::{Bus, DeadLetterStore};
use vwc_contracts::Routes;
use vwc_edge::{EdgeConsumer, EdgeStore, SqliteEdgeStore};
use vwc_ingestion::{Ingestion, IngestionStore, SqliteIngestionStore};
use vwc_store::{Outbox, OutboxRelay};

use crate::routes::{Readiness, ReadinessCheck};

#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    pub data_dir: PathBuf,
    pub retry: RetryPolicy,
    /// How often relays poll their outbox when nothing woke them.
    pub relay_poll: Duration,
    /// `VWC_JWT_SECRET`, when set.
    pub jwt_secret: Option<String>,
}

impl EmbeddedOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> EmbeddedOptions {
        EmbeddedOptions {
            data_dir: data_dir.into(),
            retry: RetryPolicy::default(),
            relay_poll: Duration::from_millis(500),
            jwt_secret: None,
        }
    }
}

/// The stores of every service, by service name, for the CLI (`dlq`) and tests.
#[derive(Clone)]
pub struct Stores {
    pub ingestion: Arc<SqliteIngestionStore>,
    pub edge: Arc<SqliteEdgeStore>,
}

impl Stores {
    pub fn open(data_dir: &Path) -> anyhow::Result<Stores> {
        let open_err =
            |name: &str| format!("opening the {name} database in {}", data_dir.display());
        Ok(Stores {
            ingestion: Arc::new(
                SqliteIngestionStore::open(&data_dir.join("ingestion.db"))
                    .with_context(|| open_err("ingestion"))?,
            ),
            edge: Arc::new(
                SqliteEdgeStore::open(&data_dir.join("edge.db"))
                    .with_context(|| open_err("edge"))?,
            ),
        })
    }

    /// Dead-letter tables by consumer name.
    pub fn dead_letters(&self) -> Vec<(&'static str, Arc<dyn DeadLetterStore>)> {
        vec![(
            vwc_edge::CONSUMER,
            self.edge.clone() as Arc<dyn DeadLetterStore>,
        )]
    }

    fn outboxes(&self) -> Vec<(&'static str, Arc<dyn Outbox>)> {
        vec![("ingestion", self.ingestion.clone() as Arc<dyn Outbox>)]
    }
}

/// A running system (without its HTTP listener: see [`System::serve`]).
pub struct System {
    pub stores: Stores,
    pub bus: InProcessBus,
    pub keys: Arc<Hs256Keys>,
    pub router: Router,
    shutdown: watch::Sender<bool>,
    relays: Vec<JoinHandle<()>>,
    relay_handles: Vec<Arc<OutboxRelay>>,
}

struct StoreReady<S: ?Sized>(&'static str, Arc<S>);

#[async_trait::async_trait]
impl ReadinessCheck for StoreReady<dyn IngestionStore> {
    fn name(&self) -> &str {
        self.0
    }
    async fn check(&self) -> Result<(), String> {
        self.1.ping().await.map_err(|e| e.to_string())
    }
}

#[async_trait::async_trait]
impl ReadinessCheck for StoreReady<dyn EdgeStore> {
    fn name(&self) -> &str {
        self.0
    }
    async fn check(&self) -> Result<(), String> {
        self.1.ping().await.map_err(|e| e.to_string())
    }
}

impl System {
    pub async fn start(opts: EmbeddedOptions) -> anyhow::Result<System> {
        std::fs::create_dir_all(&opts.data_dir)
            .with_context(|| format!("creating the data dir {}", opts.data_dir.display()))?;
        let secret = vwc_auth::load_or_create_secret(opts.jwt_secret.as_deref(), &opts.data_dir)
            .context("loading the JWT secret")?;
        let keys = Arc::new(Hs256Keys::new(&secret));
        let stores = Stores::open(&opts.data_dir)?;

        let bus = InProcessBus::new(Routes::load(), opts.retry);
        bus.register(
            Arc::new(EdgeConsumer::new(stores.edge.clone())),
            stores.edge.clone(),
        );

        let (shutdown, shutdown_rx) = watch::channel(false);
        let shared_bus: Arc<dyn Bus> = Arc::new(bus.clone());
        let mut relays = Vec::new();
        let mut relay_handles = Vec::new();
        for (name, outbox) in stores.outboxes() {
            let relay = Arc::new(
                OutboxRelay::new(name, outbox.clone(), shared_bus.clone())
                    .poll_every(opts.relay_poll),
            );
            relay_handles.push(relay.clone());
            relays.push(tokio::spawn(relay.run(shutdown_rx.clone())));
        }

        let verifier: Arc<dyn TokenVerifier> = keys.clone();
        let router = build_router(&stores, verifier, &bus);
        Ok(System {
            stores,
            bus,
            keys,
            router,
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
        let app = self.router.clone();
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stop)
        .await
        .context("serving HTTP")?;
        tracing::info!("draining the bus and flushing outboxes");
        self.shutdown().await;
        Ok(())
    }
}

pub fn build_router(
    stores: &Stores,
    verifier: Arc<dyn TokenVerifier>,
    bus: &InProcessBus,
) -> Router {
    let readiness = Readiness {
        checks: Arc::new(vec![
            Box::new(StoreReady::<dyn IngestionStore>(
                "ingestion",
                stores.ingestion.clone(),
            )),
            Box::new(StoreReady::<dyn EdgeStore>("edge", stores.edge.clone())),
            Box::new(BusReady(bus.clone())),
        ]),
    };
    Router::new()
        .merge(vwc_ingestion::http::router(vwc_ingestion::http::IngestionState {
            ingestion: Ingestion::new(stores.ingestion.clone()),
            verifier: verifier.clone(),
        }))
        .merge(vwc_edge::http::router(vwc_edge::http::EdgeState {
            store: stores.edge.clone(),
            verifier,
        }))
        .merge(crate::routes::router(readiness))
        .fallback(crate::routes::not_found)
        .method_not_allowed_fallback(crate::routes::method_not_allowed)
        .layer(axum::middleware::from_fn(vwc_http::trace_context))
        .layer(DefaultBodyLimit::max(vwc_http::MAX_BODY_BYTES))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let route = req
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| req.uri().path().to_string());
                tracing::info_span!("http", method = %req.method(), route = %route, trace_id = tracing::field::Empty)
            }),
        )
}

struct BusReady(InProcessBus);

#[async_trait::async_trait]
impl ReadinessCheck for BusReady {
    fn name(&self) -> &str {
        "bus"
    }
    async fn check(&self) -> Result<(), String> {
        if self.0.is_available() {
            Ok(())
        } else {
            Err("the in-process bus is paused".into())
        }
    }
}
