//! The `vwc` command line. Settings come from flags, then `VWC_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use vwc_auth::Role;

use vwc_store::vehicle_ledger::DailyRun;

use crate::daily::DailyJob;
use crate::embedded::{BusChoice, EmbeddedOptions, Stores, System};

#[derive(Debug, Parser)]
#[command(name = "vwc", version, about = "Vehicle Wellness Center")]
pub struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true, env = "VWC_LOG_JSON", value_parser = clap::builder::BoolishValueParser::new())]
    pub log_json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The longest interval `--sweep-interval-minutes` and `--revalue-interval-minutes` take: a year.
const MAX_INTERVAL_MINUTES: u64 = 525_600;

/// A claim of `vwc token`: the server refuses a token whose `org` or `sub` is blank, so none is printed.
fn not_blank(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Err("must not be blank".into())
    } else {
        Ok(value.to_string())
    }
}

// Flags checked as they are parsed, so that a mistyped one stops the command before anything is made (the
// data dir, its `jwt.secret`), with clap's message naming the flag.
fn valid_rate_limit(value: &str) -> Result<String, String> {
    vwc_http::RateLimiter::parse(value).map(|_| value.to_string())
}

fn valid_header_value(value: &str) -> Result<String, String> {
    axum::http::HeaderValue::from_str(value)
        .map(|_| value.to_string())
        .map_err(|_| format!("{value:?} is not a valid header value"))
}

fn valid_public_url(value: &str) -> Result<String, String> {
    crate::embedded::public_url(value)
        .map(|_| value.to_string())
        .map_err(|e| e.to_string())
}

/// `--mongodb-prefix`, checked before connecting: MongoDB refuses database names with `/\. "$` and over 63
/// bytes, and would say so only at the first write (a surrogate server may not at all).
fn mongodb_prefix(value: &str) -> Result<String, String> {
    crate::stores::check_mongodb_prefix(value).map(|()| value.to_string())
}

/// The `org` claim of `vwc token`: an organisation id, as the server requires of every token.
fn org_id(value: &str) -> Result<String, String> {
    if vwc_auth::is_org_id(value) {
        Ok(value.to_string())
    } else {
        Err(format!(
            "not an organisation id ({})",
            vwc_auth::ORG_ID_RULE
        ))
    }
}

#[derive(Debug, clap::Args, Clone)]
pub struct DataDir {
    /// Where every service keeps its database (one SQLite file per service).
    #[arg(long, env = "VWC_DATA_DIR", default_value = "vwc-data")]
    pub data_dir: PathBuf,
}

impl DataDir {
    /// For the commands that work on data already there (dlq, sweep, revalue, chat audit, import,
    /// export): a data dir that `vwc up` or `vwc seed` made, not a new empty one made by a mistyped path
    /// (which answered "0 dead letters" and left the empty dir behind).
    fn existing(&self) -> anyhow::Result<&DataDir> {
        self.existing_or("")
    }

    /// [`DataDir::existing`] for `vwc import` and `vwc export`, which have no `--store mongodb`: the answer
    /// for a data dir without databases also says how a MongoDB deployment's records are moved.
    fn existing_records(&self) -> anyhow::Result<&DataDir> {
        self.existing_or(
            "; for a MongoDB deployment (no SQLite databases) use the API instead: \
             `GET /v1/vehicles/{id}/export?format=csv|json|zip` and `POST /v1/vehicles/{id}/imports` \
             (docs/import.md)",
        )
    }

    /// [`DataDir::existing`], with `more` at the end of the refusal.
    fn existing_or(&self, more: &str) -> anyhow::Result<&DataDir> {
        if self.data_dir.join("ingestion.db").is_file() {
            return Ok(self);
        }
        // The other databases without ingestion's: say that, not "holds no databases" (whose hint, `vwc seed`,
        // would mix the demo into what is left).
        data_dir_is_new(&self.data_dir)?;
        let what = if self.data_dir.is_file() {
            "is a file, not a directory"
        } else if self.data_dir.exists() {
            "holds no databases"
        } else {
            "does not exist"
        };
        anyhow::bail!(
            "the data dir {} {what}: `vwc up` or `vwc seed` makes one; give the right one with \
             --data-dir or VWC_DATA_DIR{more}",
            self.data_dir.display()
        )
    }
}

#[derive(Debug, clap::Args, Clone)]
pub struct UpArgs {
    #[command(flatten)]
    pub data: DataDir,
    /// Address to listen on.
    #[arg(long, env = "VWC_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Do not load the demo seed into an empty data dir.
    #[arg(long)]
    pub no_seed: bool,
    #[command(flatten)]
    pub bus: BusArgs,
    /// With `--bus aws`: run only these services' consumers, outbox relays and daily jobs in this process
    /// (comma-separated; `none`: serve HTTP only), each other one in a `vwc worker SERVICE` of its own —
    /// two processes relaying one outbox would publish every event twice. All of them by default.
    #[arg(long, env = "VWC_SERVICES", value_delimiter = ',')]
    pub services: Vec<String>,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// The services `vwc up --services` names: `None` (all) when it names none, checked against [`SERVICES`].
fn services_here(services: &[String], bus: &BusChoice) -> anyhow::Result<Option<Vec<String>>> {
    if services.is_empty() {
        return Ok(None);
    }
    if matches!(bus, BusChoice::InProcess) {
        anyhow::bail!(
            "--services needs --bus aws: with the in-process bus every service runs in this process"
        );
    }
    if services.iter().any(|s| s == "none") {
        if services.len() > 1 {
            anyhow::bail!("--services none names no other service");
        }
        return Ok(Some(Vec::new()));
    }
    if let Some(unknown) = services.iter().find(|s| !SERVICES.contains(&s.as_str())) {
        anyhow::bail!(
            "--services: unknown service {unknown:?}; one of {} (or none)",
            SERVICES.join(", ")
        );
    }
    Ok(Some(services.to_vec()))
}

#[derive(Debug, clap::Args, Clone)]
pub struct HttpArgs {
    /// Requests per second each organisation may make, `RATE[/s][,BURST]`; 0 disables.
    #[arg(long, env = "VWC_RATE_LIMIT", default_value = "500/s,1000", value_parser = valid_rate_limit)]
    pub rate_limit: String,
    /// Origin allowed to call the API from a browser (a dashboard served elsewhere).
    #[arg(long, env = "VWC_CORS_ORIGIN", value_parser = valid_header_value)]
    pub cors_origin: Option<String>,
    /// Where users reach this service (`https://vwc.example.com`, behind a proxy): signed calendar URLs
    /// start with it. Without it they name the host the request named.
    #[arg(long, env = "VWC_PUBLIC_URL", value_parser = valid_public_url)]
    pub public_url: Option<String>,
    /// Seconds before a request is abandoned with a 503.
    #[arg(long, env = "VWC_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Mebibytes of timeline pages kept in memory, each served again while its vehicle's timeline has not
    /// changed (SQLite store; at most 4,096); 0 keeps none.
    #[arg(long, env = "VWC_TIMELINE_CACHE_MIB", default_value_t = crate::embedded::DEFAULT_TIMELINE_CACHE_MIB,
        value_parser = clap::value_parser!(u64).range(0..=4096))]
    pub timeline_cache_mib: u64,
    /// Keep event attachments in this S3 bucket (pre-signed uploads and downloads; `--aws-endpoint`
    /// applies) instead of under the data dir.
    #[arg(long, env = "VWC_ATTACHMENTS_BUCKET")]
    pub attachments_bucket: Option<String>,
    /// Verify RS256/ES256 tokens against this JWKS (URL or file) instead of the embedded HS256 secret;
    /// `POST /v1/auth/dev-token` is then disabled.
    #[arg(long, env = "VWC_JWKS")]
    pub jwks: Option<String>,
    /// `iss` required of JWKS-verified tokens.
    #[arg(long, env = "VWC_JWT_ISSUER", default_value = "vwc")]
    pub jwt_issuer: String,
    /// `aud` required of JWKS-verified tokens (an ID token names the provider's client id).
    #[arg(long, env = "VWC_JWT_AUDIENCE", default_value = "vwc-api")]
    pub jwt_audience: String,
    /// OpenID Connect provider (issuer URL) the dashboard signs in with, authorization code + PKCE;
    /// needs --jwks (its keys) and --oidc-client-id. `GET /v1/auth/config` tells the page.
    #[arg(long, env = "VWC_OIDC_AUTHORITY", requires = "oidc_client_id")]
    pub oidc_authority: Option<String>,
    /// The dashboard's public client id at the OpenID Connect provider.
    #[arg(long, env = "VWC_OIDC_CLIENT_ID", requires = "oidc_authority")]
    pub oidc_client_id: Option<String>,
    /// Scopes the dashboard asks the provider for (space-separated, `openid` among them).
    #[arg(long, env = "VWC_OIDC_SCOPE", default_value = "openid profile email")]
    pub oidc_scope: String,
    /// The provider's token the dashboard sends to the API: `access`, or `id` (Cognito: only the ID
    /// token names the client in `aud`; set --jwt-audience to the client id then).
    #[arg(long, env = "VWC_OIDC_API_TOKEN", default_value = "access", value_parser = ["access", "id"])]
    pub oidc_api_token: String,
    /// Other origins the dashboard must reach to sign in (comma-separated), when the provider's token
    /// endpoint is not on the authority's origin (a Cognito user pool domain).
    #[arg(long, env = "VWC_OIDC_CONNECT_ORIGINS", value_delimiter = ',')]
    pub oidc_connect_origins: Vec<String>,
    /// What the services themselves are set up with (shared with `vwc worker`).
    #[command(flatten)]
    pub service: ServiceArgs,
}

impl HttpArgs {
    /// The sign-in provider, when one is configured.
    pub fn oidc(&self) -> anyhow::Result<Option<crate::auth_config::OidcSettings>> {
        let (Some(authority), Some(client_id)) = (&self.oidc_authority, &self.oidc_client_id)
        else {
            return Ok(None);
        };
        let api_token = self
            .oidc_api_token
            .parse()
            .map_err(anyhow::Error::msg)
            .context("--oidc-api-token")?;
        crate::auth_config::OidcSettings::new(
            authority,
            client_id,
            &self.oidc_scope,
            api_token,
            &self.oidc_connect_origins,
        )
        .map(Some)
        .context("the OpenID Connect settings")
    }

    fn apply(&self, opts: &mut EmbeddedOptions) {
        opts.rate_limit = self.rate_limit.clone();
        opts.cors_origin = self.cors_origin.clone();
        opts.public_url = self.public_url.clone();
        opts.request_timeout = std::time::Duration::from_secs(self.request_timeout_secs.max(1));
        opts.timeline_cache_bytes = (self.timeline_cache_mib as usize) << 20;
        opts.jwks = self.jwks.clone();
        opts.jwt_issuer = self.jwt_issuer.clone();
        opts.jwt_audience = self.jwt_audience.clone();
        self.service.apply(opts);
    }
}

/// The services' own settings (the store, the daily jobs' timers, reminders' e-mail, webhooks and settle time,
/// the chat's LLM): `vwc up` and each `vwc worker SERVICE` take the same flags and `VWC_*` variables.
#[derive(Debug, clap::Args, Clone)]
pub struct ServiceArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Minutes between maintenance sweeps in this process (at most 525,600: a year); 0 turns the schedule off.
    #[arg(long, env = "VWC_SWEEP_INTERVAL_MINUTES", default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(0..=MAX_INTERVAL_MINUTES))]
    pub sweep_interval_minutes: u64,
    /// Minutes between valuation re-runs in this process (idempotent per day; at most 525,600); 0 turns them off.
    #[arg(long, env = "VWC_REVALUE_INTERVAL_MINUTES", default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(0..=MAX_INTERVAL_MINUTES))]
    pub revalue_interval_minutes: u64,
    /// Send reminder e-mail through Amazon SES v2 (credentials from the usual AWS chain).
    #[arg(long, env = "VWC_EMAIL", value_parser = clap::builder::BoolishValueParser::new())]
    pub email: bool,
    /// SES endpoint override (e.g. moto).
    #[arg(long, env = "VWC_SES_ENDPOINT")]
    pub ses_endpoint: Option<String>,
    /// Sender address of reminder e-mail.
    #[arg(long, env = "VWC_EMAIL_FROM", default_value = "reminders@vwc.example")]
    pub email_from: String,
    /// Private hosts or CIDRs outbound webhooks may reach (comma-separated).
    #[arg(long, env = "VWC_OUTBOUND_ALLOWLIST", default_value = "")]
    pub outbound_allowlist: String,
    /// Seconds a reminder's webhook and e-mail wait before they go out, so that a later word about the
    /// same item (an import's next rows) can replace them; 0 sends at once (docs/events.md).
    #[arg(long, env = "VWC_NOTIFICATION_SETTLE_SECONDS", default_value_t = 60)]
    pub notification_settle_secs: u64,
    /// The chat's optional OpenAI-compatible LLM provider: its API root (e.g. `https://api.openai.com/v1`);
    /// with --llm-model it turns the provider on. The key comes from `VWC_LLM_API_KEY` (or SSM
    /// `llm_api_key`), never from a flag.
    #[arg(long, env = "VWC_LLM_BASE_URL")]
    pub llm_base_url: Option<String>,
    /// The model the LLM provider is asked for.
    #[arg(long, env = "VWC_LLM_MODEL")]
    pub llm_model: Option<String>,
    /// Seconds the LLM provider may take before the deterministic answer is given.
    #[arg(long, env = "VWC_LLM_TIMEOUT_SECS")]
    pub llm_timeout_secs: Option<u64>,
}

impl ServiceArgs {
    fn apply(&self, opts: &mut EmbeddedOptions) {
        opts.sweep_every = (self.sweep_interval_minutes > 0)
            .then(|| std::time::Duration::from_secs(self.sweep_interval_minutes * 60));
        opts.revalue_every = (self.revalue_interval_minutes > 0)
            .then(|| std::time::Duration::from_secs(self.revalue_interval_minutes * 60));
        opts.email = self.email.then(|| crate::embedded::EmailOptions {
            endpoint: self.ses_endpoint.clone(),
            from: self.email_from.clone(),
        });
        opts.outbound_allowlist = self.outbound_allowlist.clone();
        opts.notification_settle = std::time::Duration::from_secs(self.notification_settle_secs);
    }

    /// The store and the chat's LLM, which read the configuration layers (SSM) too.
    async fn apply_layered(&self, opts: &mut EmbeddedOptions) -> anyhow::Result<()> {
        let layers = config_layers().await?;
        opts.store = self.store.store_choice(&layers)?;
        opts.chat_llm = chat_llm_settings(
            &layers,
            self.llm_base_url.as_deref(),
            self.llm_model.as_deref(),
            self.llm_timeout_secs,
        )?;
        Ok(())
    }
}

/// Where the services keep their data: SQLite files in the data dir, or one MongoDB database per service.
#[derive(Debug, clap::Args, Clone)]
pub struct StoreArgs {
    /// `sqlite` (one file per service in the data dir) or `mongodb` (needs --mongodb-uri).
    #[arg(long, env = "VWC_STORE", default_value = "sqlite", value_parser = ["sqlite", "mongodb"])]
    pub store: String,
    /// MongoDB connection string (a replica set: the outbox needs transactions).
    #[arg(long, env = "VWC_MONGODB_URI", hide_env_values = true)]
    pub mongodb_uri: Option<String>,
    /// Prefix of the per-service MongoDB databases.
    #[arg(long, env = "VWC_MONGODB_PREFIX", default_value = "vwc", value_parser = mongodb_prefix)]
    pub mongodb_prefix: String,
}

impl StoreArgs {
    pub fn is_mongodb(&self) -> bool {
        self.store == "mongodb"
    }

    pub fn store_choice(
        &self,
        layers: &vwc_config::Layers,
    ) -> anyhow::Result<crate::stores::StoreChoice> {
        if !self.is_mongodb() {
            return Ok(crate::stores::StoreChoice::Sqlite);
        }
        let uri = layers
            .secret(
                self.mongodb_uri.as_deref(),
                "VWC_MONGODB_URI",
                "mongodb_uri",
            )
            .context(
                "--store mongodb needs --mongodb-uri (or VWC_MONGODB_URI, or SSM mongodb_uri)",
            )?;
        Ok(crate::stores::StoreChoice::Mongodb {
            uri: uri.expose().to_string(),
            prefix: self.mongodb_prefix.clone(),
        })
    }
}

#[derive(Debug, clap::Args, Clone)]
pub struct BusArgs {
    /// `inproc` (embedded) or `aws` (EventBridge + SQS; run `vwc aws bootstrap` first).
    #[arg(long = "bus", env = "VWC_BUS", default_value = "inproc", value_parser = ["inproc", "aws"])]
    pub kind: String,
    /// AWS endpoint override, e.g. a local moto server.
    #[arg(long, env = "VWC_AWS_ENDPOINT")]
    pub aws_endpoint: Option<String>,
    /// EventBridge bus name (queues are named `<bus>-<service>`).
    #[arg(long, env = "VWC_BUS_NAME", default_value = "vwc")]
    pub bus_name: String,
}

impl BusArgs {
    pub fn choice(&self) -> BusChoice {
        if self.kind == "aws" {
            BusChoice::Aws {
                endpoint: self.aws_endpoint.clone(),
                bus_name: self.bus_name.clone(),
            }
        } else {
            BusChoice::InProcess
        }
    }
}

// Parsed once per process: the size of the `up` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every service, the API and the dashboard in one process (the default).
    Up(UpArgs),
    /// Print a token for embedded mode.
    Token {
        /// The organisation the token acts in (its `org` claim), e.g. `org_demo`.
        #[arg(long, value_parser = org_id)]
        org: String,
        /// Who the token is for (its `sub` claim), e.g. `demo-owner`.
        #[arg(long, value_parser = not_blank)]
        sub: String,
        /// owner, fleet_manager, technician or viewer; repeat for several.
        #[arg(long = "role", required = true, value_parser = parse_role)]
        roles: Vec<Role>,
        /// Validity in hours, 1 to 8,760 (a year).
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(i64).range(1..=8_760))]
        ttl_hours: i64,
        #[command(flatten)]
        data: DataDir,
    },
    /// Load the demo seed (through the public write paths) into a data dir, or into MongoDB with
    /// `--store mongodb --mongodb-uri URI` (a MongoDB deployment is never seeded implicitly).
    Seed {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Import a CSV file (LubeLogger, Fuelly, or `vwc export`'s) into a vehicle's timeline, with a
    /// progress bar; prints the per-row report as JSON. Importing the same file again adds nothing.
    Import(crate::records_cli::ImportArgs),
    /// Write a vehicle's whole history as CSV (the columns `vwc import` reads back) or JSON.
    Export(crate::records_cli::ExportArgs),
    /// List an organisation's vehicles (the ids `vwc import` and `vwc export` take), as a table or JSON.
    Vehicles(crate::records_cli::VehiclesArgs),
    /// Dead letters: envelopes a consumer could not apply.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
    /// Run the maintenance sweep now (every organisation, or one), deliver what it publishes, print the
    /// report. Idempotent per day.
    Sweep {
        /// Only this organisation (every organisation when absent)
        #[arg(long, value_parser = not_blank)]
        org: Option<String>,
        /// Sweep even if today was swept already, every vehicle (after upgrading vwc, say): only what
        /// the schedules now say differently is published, no reminder is sent twice
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Re-value every vehicle (of every organisation, or one) as of today, deliver what changed, print
    /// the report. Idempotent per day.
    Revalue {
        /// Only this organisation (every organisation when absent)
        #[arg(long, value_parser = not_blank)]
        org: Option<String>,
        /// Re-value even if today was re-valued already (after upgrading vwc, say): today's value of
        /// every vehicle is worked out again and published only if it comes out differently
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Run one service's consumer (SQS long-poll worker) and outbox relay against AWS (or moto).
    Worker {
        /// ingestion, edge, maintenance-scheduler, notification, valuation, chat-historian
        service: String,
        #[command(flatten)]
        data: DataDir,
        #[arg(long, env = "VWC_AWS_ENDPOINT")]
        aws_endpoint: Option<String>,
        #[arg(long, env = "VWC_BUS_NAME", default_value = "vwc")]
        bus_name: String,
        #[command(flatten)]
        settings: ServiceArgs,
    },
    /// The chat historian's audit trail.
    Chat {
        #[command(subcommand)]
        action: ChatAction,
    },
    /// AWS resources for the distributed modes.
    Aws {
        #[command(subcommand)]
        action: AwsAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum AwsAction {
    /// Create the event bus, one queue + dead-letter queue per consumer, and the rules from
    /// contracts/routes.json (idempotent). Prints what exists as JSON.
    Bootstrap {
        /// The AWS endpoint to create them at (a moto server, say); AWS itself when absent.
        #[arg(long, env = "VWC_AWS_ENDPOINT")]
        endpoint: Option<String>,
        /// The EventBridge bus's name (its rules and queues are named after it).
        #[arg(long, env = "VWC_BUS_NAME", default_value = "vwc")]
        bus_name: String,
        /// Receives before a message moves to the dead-letter queue.
        #[arg(long, default_value_t = crate::infra::MAX_RECEIVE_COUNT)]
        max_receive_count: u32,
        /// Also schedule the maintenance sweep: the ARN of the `vwc-lambda-sweep` function.
        #[arg(long)]
        sweep_lambda_arn: Option<String>,
        /// When the sweep runs (EventBridge schedule expression).
        #[arg(long, default_value = "cron(0 6 * * ? *)")]
        sweep_schedule: String,
        /// Also schedule the daily re-valuation: the ARN of the `vwc-lambda-revalue` function.
        #[arg(long)]
        revalue_lambda_arn: Option<String>,
        /// When the re-valuation runs (EventBridge schedule expression).
        #[arg(long, default_value = "cron(30 5 * * ? *)")]
        revalue_schedule: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChatAction {
    /// Print an organisation's chat turns as JSON lines, oldest first: the question, the understood intent
    /// and slots, the records used, the answer, the engine and its version, latency and feedback.
    Audit {
        /// The organisation whose turns are listed, e.g. `org_demo`.
        #[arg(long)]
        org: String,
        /// Only turns asked at or after this instant (RFC 3339) or day (YYYY-MM-DD).
        #[arg(long, value_parser = parse_since)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// At most this many turns.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn parse_since(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        .map_err(|_| format!("{s:?} is neither an RFC 3339 instant nor a YYYY-MM-DD day"))
}

#[derive(Debug, Subcommand)]
pub enum DlqAction {
    /// List dead letters not yet replayed.
    List {
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Deliver dead letters to their consumer again; those applied are marked replayed.
    Replay {
        /// Only this dead letter (as `CONSUMER:ID` or `ID`); all when omitted.
        #[arg(long)]
        id: Option<String>,
        #[command(flatten)]
        data: DataDir,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s)
        .ok_or_else(|| format!("unknown role {s:?} (owner, fleet_manager, technician, viewer)"))
}

/// Flags and `VWC_*` variables first; SSM Parameter Store (`/vwc/<VWC_ENV>/…`) when `VWC_ENV` is set.
pub async fn config_layers() -> anyhow::Result<vwc_config::Layers> {
    let Some(env) = std::env::var("VWC_ENV").ok().filter(|e| !e.is_empty()) else {
        return Ok(vwc_config::Layers::default());
    };
    let ssm = ssm_parameters(&env).await?;
    Ok(vwc_config::Layers { ssm: Some(ssm) })
}

#[cfg(feature = "aws")]
async fn ssm_parameters(env: &str) -> anyhow::Result<vwc_config::SsmParameters> {
    let endpoint = std::env::var("VWC_AWS_ENDPOINT").ok();
    let config = vwc_bus::aws::sdk_config(endpoint.as_deref()).await;
    Ok(vwc_config::SsmParameters::load(&aws_sdk_ssm::Client::new(&config), env).await?)
}

#[cfg(not(feature = "aws"))]
async fn ssm_parameters(env: &str) -> anyhow::Result<vwc_config::SsmParameters> {
    Err(crate::built_without_aws(&format!(
        "VWC_ENV={env} (SSM Parameter Store)"
    )))
}

/// The chat's LLM provider settings: on when a base URL and a model are configured (flag, `VWC_LLM_*`, or
/// SSM `llm_base_url`/`llm_model`); the key from `VWC_LLM_API_KEY` or SSM `llm_api_key` (a local server
/// may need none).
pub fn chat_llm_settings(
    layers: &vwc_config::Layers,
    base_url: Option<&str>,
    model: Option<&str>,
    timeout_secs: Option<u64>,
) -> anyhow::Result<Option<vwc_chat_historian::LlmSettings>> {
    let base_url = layers.value(base_url, "VWC_LLM_BASE_URL", "llm_base_url");
    let model = layers.value(model, "VWC_LLM_MODEL", "llm_model");
    let (base_url, model) = match (base_url, model) {
        (None, None) => return Ok(None),
        (Some(b), Some(m)) => (b, m),
        _ => anyhow::bail!(
            "the chat LLM provider needs both a base URL and a model (VWC_LLM_BASE_URL, VWC_LLM_MODEL)"
        ),
    };
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        anyhow::bail!("VWC_LLM_BASE_URL must be an http(s) URL");
    }
    let timeout = match timeout_secs {
        Some(s) => std::time::Duration::from_secs(s.max(1)),
        None => match layers.value(None, "VWC_LLM_TIMEOUT_SECS", "llm_timeout_secs") {
            Some(s) => std::time::Duration::from_secs(
                s.parse::<u64>()
                    .context("VWC_LLM_TIMEOUT_SECS must be whole seconds")?
                    .max(1),
            ),
            None => vwc_chat_historian::llm::DEFAULT_TIMEOUT,
        },
    };
    // Terraform creates the operator-managed parameter with the value `unset` until someone puts the key.
    let api_key = layers
        .secret(None, "VWC_LLM_API_KEY", "llm_api_key")
        .filter(|k| k.expose() != "unset")
        .map(|k| vwc_chat_historian::ApiKey::new(k.expose()));
    Ok(Some(vwc_chat_historian::LlmSettings {
        base_url,
        model,
        api_key,
        timeout,
    }))
}

fn jwt_secret_env() -> Option<String> {
    std::env::var("VWC_JWT_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // No subcommand means `up` with its defaults (and `VWC_*` variables), exactly as if typed.
    let command = match cli.command {
        Some(c) => c,
        None => Cli::parse_from(["vwc", "up"])
            .command
            .expect("`vwc up` parses"),
    };
    match command {
        Command::Up(args) => up(args).await,
        Command::Token {
            org,
            sub,
            roles,
            ttl_hours,
            data,
        } => {
            let from_env = jwt_secret_env();
            if from_env.is_none() && !data.data_dir.join("jwt.secret").is_file() {
                // A mistyped --data-dir would make a new secret, and print a token the server refuses.
                anyhow::bail!(
                    "no JWT secret in {}: `vwc up` (or `vwc seed`) makes `jwt.secret` there; give the server's \
                     data dir with --data-dir or VWC_DATA_DIR, or its secret with VWC_JWT_SECRET",
                    data.data_dir.display()
                );
            }
            let secret = vwc_auth::load_or_create_secret(from_env.as_deref(), &data.data_dir)?;
            let keys = vwc_auth::Hs256Keys::new(&secret);
            let (token, _) = keys.issue(&sub, &org, &roles, chrono::Duration::hours(ttl_hours));
            println!("{token}");
            Ok(())
        }
        Command::Seed { data, store } => {
            // A batch load through the router: no background sweep or re-valuation competing with it, and
            // no HTTP deadline meant for interactive callers (a slow MongoDB would turn it into 503s).
            let mut opts = batch_options(&data);
            opts.request_timeout = std::time::Duration::from_secs(600);
            let _lock = if store.is_mongodb() {
                opts.store = store.store_choice(&config_layers().await?)?;
                None
            } else {
                // As `vwc up`: never into the projections left beside a lost ingestion database.
                data_dir_is_new(&data.data_dir)?;
                Some(lock_for_command(&data, "vwc seed")?)
            };
            let system = System::start(opts).await?;
            let report =
                crate::seed::load(&system.router, &system.keys, &crate::seed::demo()).await?;
            system.finish().await?;
            println!(
                "seeded {} vehicles and {} events",
                report.vehicles, report.events
            );
            Ok(())
        }
        Command::Import(args) => {
            let opts = batch_options(args.data.existing_records()?);
            let _lock = lock_for_command(&args.data, "vwc import")?;
            crate::records_cli::import(args, opts).await
        }
        Command::Export(args) => {
            let opts = batch_options(args.data.existing_records()?);
            crate::records_cli::export(args, opts).await
        }
        Command::Vehicles(args) => {
            let opts = batch_options(args.data.existing_records()?);
            crate::records_cli::vehicles(args, opts).await
        }
        Command::Dlq { action } => dlq(action).await,
        command @ Command::Chat { .. } => {
            let lines = audit_lines(Cli {
                log_json: false,
                command: Some(command),
            })
            .await?;
            for line in &lines {
                println!("{line}");
            }
            crate::say!("{} turn(s)", lines.len());
            Ok(())
        }
        Command::Sweep {
            org,
            force,
            data,
            store,
        } => {
            let (opts, _lock) = on_existing_data(&data, &store, Some("vwc sweep")).await?;
            daily_once(DailyJob::MaintenanceSweep, org, force, opts).await
        }
        Command::Revalue {
            org,
            force,
            data,
            store,
        } => {
            let (opts, _lock) = on_existing_data(&data, &store, Some("vwc revalue")).await?;
            daily_once(DailyJob::Revaluation, org, force, opts).await
        }
        Command::Worker {
            service,
            data,
            aws_endpoint,
            bus_name,
            settings,
        } => worker(service, data, aws_endpoint, bus_name, settings).await,
        Command::Aws { action } => aws_bootstrap(action).await,
    }
}

/// `vwc aws bootstrap`: the event bus, the queues and the rules (and the daily jobs' schedules).
#[cfg(feature = "aws")]
async fn aws_bootstrap(action: AwsAction) -> anyhow::Result<()> {
    let AwsAction::Bootstrap {
        endpoint,
        bus_name,
        max_receive_count,
        sweep_lambda_arn,
        sweep_schedule,
        revalue_lambda_arn,
        revalue_schedule,
    } = action;
    let config = vwc_bus::aws::sdk_config(endpoint.as_deref()).await;
    let done = vwc_bus::bootstrap::bootstrap(
        &aws_sdk_eventbridge::Client::new(&config),
        &aws_sdk_sqs::Client::new(&config),
        &vwc_contracts::Routes::load(),
        &bus_name,
        max_receive_count,
    )
    .await?;
    let mut out = serde_json::to_value(&done)?;
    // The daily jobs' EventBridge schedules, for the Lambda functions given.
    let schedules = [
        (
            "sweepRule",
            "maintenance-sweep",
            sweep_lambda_arn,
            sweep_schedule,
            "Runs the daily maintenance sweep (vwc-lambda-sweep)",
        ),
        (
            "revalueRule",
            "valuation-revalue",
            revalue_lambda_arn,
            revalue_schedule,
            "Runs the daily re-valuation (vwc-lambda-revalue)",
        ),
    ];
    for (field, rule_name, lambda, schedule, description) in schedules {
        let Some(lambda) = lambda else { continue };
        let rule = vwc_bus::bootstrap::schedule_daily_job(
            &aws_sdk_eventbridge::Client::new(&config),
            &format!("{bus_name}-{rule_name}"),
            &schedule,
            &lambda,
            description,
        )
        .await?;
        out[field] = serde_json::json!({"arn": rule, "schedule": schedule, "target": lambda});
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

#[cfg(not(feature = "aws"))]
async fn aws_bootstrap(_: AwsAction) -> anyhow::Result<()> {
    Err(crate::built_without_aws("`vwc aws bootstrap`"))
}

/// `vwc chat audit`: the organisation's turns as JSON lines, oldest first.
pub async fn audit_lines(cli: Cli) -> anyhow::Result<Vec<String>> {
    let Some(Command::Chat {
        action:
            ChatAction::Audit {
                org,
                since,
                limit,
                data,
                store,
            },
    }) = cli.command
    else {
        anyhow::bail!("not a `vwc chat audit` command");
    };
    let choice = store.store_choice(&config_layers().await?)?;
    if matches!(choice, crate::stores::StoreChoice::Sqlite) {
        data.existing()?;
    }
    let stores = Stores::open_choice(&choice, &data.data_dir).await?;
    let org_id = vwc_contracts::OrgId::from(&org);
    let query = vwc_chat_historian::store::AuditQuery {
        org_id: &org_id,
        since,
        limit,
    };
    let turns = stores.chat.audit(query).await?;
    turns
        .iter()
        .map(|t| Ok(serde_json::to_string(t)?))
        .collect()
}

/// Runs the daily `job` once, for today by the system's clock, on the system of `data` (with no daily job
/// of its own in the background), shuts the system down, and prints the job's report as JSON.
/// What a command on existing data runs on: a SQLite data dir that `vwc up` or `vwc seed` made — locked for
/// `writes` (the command's name) against a running server —, or the MongoDB deployment `store` names (no
/// lock: several processes may share one).
/// The options of a command on existing data that neither issues nor verifies tokens (a daily job, the dead
/// letters): it makes no JWT signing secret, and with `--store mongodb` writes nothing to the data dir.
async fn on_existing_data(
    data: &DataDir,
    store: &StoreArgs,
    writes: Option<&str>,
) -> anyhow::Result<(EmbeddedOptions, Option<std::fs::File>)> {
    let mut opts = batch_options(data);
    opts.signing_secret = false;
    if store.is_mongodb() {
        opts.store = store.store_choice(&config_layers().await?)?;
        return Ok((opts, None));
    }
    let lock = match writes {
        Some(command) => Some(lock_for_command(data.existing()?, command)?),
        None => {
            data.existing()?;
            None
        }
    };
    Ok((opts, lock))
}

async fn daily_once(
    job: DailyJob,
    org: Option<String>,
    force: bool,
    opts: EmbeddedOptions,
) -> anyhow::Result<()> {
    let system = System::start(opts).await?;
    let run = DailyRun::today(org.as_deref(), &system.clock).forced(force);
    let report = job.run(&system.stores, &run).await;
    system.finish().await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&report.map_err(anyhow::Error::from_boxed)?)?
    );
    Ok(())
}

fn options(data: &DataDir) -> EmbeddedOptions {
    let mut opts = EmbeddedOptions::new(&data.data_dir);
    opts.jwt_secret = jwt_secret_env();
    opts
}

/// [`options`] for a command that does one piece of work and stops (seed, import, export, a daily job run
/// by hand, a dead-letter replay): no daily sweep or re-valuation of its own in the background — the
/// system's first tick would otherwise run today's jobs as a side effect of the command.
fn batch_options(data: &DataDir) -> EmbeddedOptions {
    let mut opts = options(data);
    opts.sweep_every = None;
    opts.revalue_every = None;
    opts
}

const SERVICES: [&str; 6] = [
    "ingestion",
    "edge",
    "maintenance-scheduler",
    "notification",
    "valuation",
    "chat-historian",
];

async fn worker(
    service: String,
    data: DataDir,
    aws_endpoint: Option<String>,
    bus_name: String,
    settings: ServiceArgs,
) -> anyhow::Result<()> {
    if !SERVICES.contains(&service.as_str()) {
        anyhow::bail!(
            "unknown service {service:?}; one of {}",
            SERVICES.join(", ")
        );
    }
    let mut opts = options(&data);
    // The same service settings as `vwc up` (its webhooks' allowlist and settle time, e-mail, the store, the
    // daily jobs, the chat's LLM): a worker built from the defaults refused every private webhook host.
    settings.apply(&mut opts);
    settings.apply_layered(&mut opts).await?;
    opts.bus = BusChoice::Aws {
        endpoint: aws_endpoint,
        bus_name,
    };
    opts.only = Some(vec![service.clone()]);
    let system = System::start(opts).await?;
    let stop = shutdown_signal();
    crate::say!("worker {service} running; Ctrl-C to stop");
    stop.await;
    system.shutdown().await;
    Ok(())
}

/// Takes `data_dir`'s `vwc-up.lock` (made if missing, with the process id in it) for as long as the returned
/// file lives; fails at once, naming the holder, when another process holds it.
fn lock_data_dir(data_dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    lock_data_dir_for(data_dir, None)
}

/// The command-line work that writes a SQLite data dir (seed, import, sweep, revalue, dead-letter replay)
/// takes the same lock as `vwc up`: beside a running server it stops at once, naming it, instead of running a
/// second writer, relays and consumers over the databases the server is serving. Reading commands (export,
/// `dlq list`, `chat audit`, token) do not.
fn lock_for_command(data: &DataDir, command: &str) -> anyhow::Result<std::fs::File> {
    lock_data_dir_for(&data.data_dir, Some(command))
}

/// [`lock_data_dir`], recording which command holds the lock beside its process id.
fn lock_data_dir_for(
    data_dir: &std::path::Path,
    command: Option<&str>,
) -> anyhow::Result<std::fs::File> {
    use std::io::{Read, Seek, Write};
    use std::os::unix::fs::OpenOptionsExt;
    vwc_store::sqlite::create_private_dir(data_dir)
        .with_context(|| format!("creating the data dir {}", data_dir.display()))?;
    let path = data_dir.join("vwc-up.lock");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let (pid, holding) = match holder.trim().split_once('\t') {
                Some((pid, holding)) => (pid, holding),
                None => (holder.trim(), "vwc up"),
            };
            let holding = if holding == "vwc up" {
                "another `vwc up`".to_string()
            } else {
                format!("`{holding}`")
            };
            match command {
                None => anyhow::bail!(
                    "the data dir {} is in use by {holding} (process {pid}); stop it first, or give this \
                     one another --data-dir",
                    data_dir.display(),
                ),
                Some(command) => anyhow::bail!(
                    "the data dir {} is in use by {holding} (process {pid}): `{command}` writes its databases, \
                     so stop that process first{}; nothing was changed",
                    data_dir.display(),
                    match command {
                        "vwc sweep" => ", or ask the running server: POST /v1/maintenance/sweep",
                        "vwc import" =>
                            ", or import through the running server: POST /v1/vehicles/{id}/imports",
                        _ => "",
                    }
                ),
            }
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    file.set_len(0)?;
    file.rewind()?;
    match command {
        None => write!(file, "{}", std::process::id())?,
        Some(command) => write!(file, "{}\t{command}", std::process::id())?,
    }
    Ok(file)
}

/// Whether a SQLite data dir is new — no database in it holds anything — for the demo seed. An error when
/// the ingestion database (the record of every vehicle and event; the others are projections of it) is
/// missing or empty while another database holds data: a lost or truncated file, over which seeding would
/// mix the demo into the projections left, and starting afresh would orphan them.
pub fn data_dir_is_new(dir: &std::path::Path) -> anyhow::Result<bool> {
    let holds = |file: &std::path::Path| std::fs::metadata(file).is_ok_and(|m| m.len() > 0);
    let db = |name: &str| dir.join(format!("{name}.db"));
    let ingestion = db("ingestion");
    if holds(&ingestion) || holds(&ingestion.with_extension("db-wal")) {
        return Ok(false);
    }
    let mut others: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".db") && name != "ingestion.db")
            .filter(|name| holds(&dir.join(name)))
            .collect(),
        Err(_) => Vec::new(),
    };
    if others.is_empty() {
        return Ok(true);
    }
    others.sort();
    anyhow::bail!(
        "{} is {} but {} hold data: the ingestion database is the record every other one is built from. \
         Restore it (a backup, or the file moved away), or start with an empty data dir (`--no-seed` starts \
         on it as it is, without the demo); nothing was changed",
        ingestion.display(),
        if ingestion.exists() {
            "empty"
        } else {
            "missing"
        },
        others.join(", ")
    )
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    // The demo seed goes into an empty SQLite data dir; a MongoDB deployment is never seeded implicitly.
    // With `--no-seed` a data dir of projections alone (the benchmark's timeline store) starts as it is.
    let fresh = !args.http.service.store.is_mongodb()
        && match data_dir_is_new(&args.data.data_dir) {
            Ok(new) => new,
            Err(e) if args.no_seed => {
                tracing::warn!("{e:#}");
                false
            }
            Err(e) => return Err(e),
        };
    let layers = config_layers().await?;
    let mut opts = options(&args.data);
    args.http.apply(&mut opts);
    opts.oidc = args.http.oidc()?;
    args.http.service.apply_layered(&mut opts).await?;
    opts.jwt_secret = layers
        .secret(None, "VWC_JWT_SECRET", "jwt_secret")
        .map(|s| s.expose().to_string());
    opts.bus = args.bus.choice();
    opts.only = services_here(&args.services, &opts.bus)?;
    // The benchmark's floor row (b′) runs one service alone; production builds have no such switch.
    #[cfg(feature = "bench")]
    if let Ok(only) = std::env::var("VWC_BENCH_SERVICES") {
        opts.only = Some(only.split(',').map(str::to_string).collect());
    }
    if let Some(bucket) = &args.http.attachments_bucket {
        opts.attachments = crate::attachments::AttachmentsChoice::S3 {
            bucket: bucket.clone(),
            endpoint: args.bus.aws_endpoint.clone(),
        };
    } else if args.http.service.store.is_mongodb() {
        tracing::warn!(
            data_dir = %args.data.data_dir.display(),
            "attachments are kept in this data dir, not in MongoDB: other instances on the same deployment \
             do not see them, and restoring the deployment does not bring them back; give \
             --attachments-bucket to keep them in S3"
        );
    }
    if let Some(llm) = &opts.chat_llm {
        crate::say!(
            "Chat: LLM provider {} at {} (checked against the records; the deterministic answer otherwise)",
            llm.model,
            llm.base_url
        );
    }
    // One `vwc up` per SQLite data dir: a second would run its own relays and timers over the same
    // databases. Held until this process ends (the kernel lets go of it even after `kill -9`).
    let _data_dir_lock = match opts.store {
        crate::stores::StoreChoice::Sqlite => Some(lock_data_dir(&args.data.data_dir)?),
        crate::stores::StoreChoice::Mongodb { .. } => None,
    };
    // The address before the databases: a start that cannot listen leaves an empty data dir empty, so
    // the next start still finds it fresh and seeds the demo.
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "binding {} (is another vwc running? try --listen)",
                args.listen
            )
        })?;
    let addr = listener.local_addr()?;
    if let Some(files) = crate::server::raise_open_file_limit() {
        tracing::debug!(files, "open-file limit");
    }
    let system = System::start(opts).await?;
    if fresh && !args.no_seed {
        crate::say!("Empty data dir: loading the demo seed…");
        let report = crate::seed::load(&system.router, &system.keys, &crate::seed::demo()).await?;
        // The consumers project the seed in the background: wait, so the first read the printed login
        // makes (the dashboard's vehicle list) sees every seeded vehicle.
        let started = std::time::Instant::now();
        system.settle().await?;
        crate::say!(
            "Seeded {} vehicles and {} events (projected in {} ms).",
            report.vehicles,
            report.events,
            started.elapsed().as_millis()
        );
    }
    // Listened for before the URL is printed: whoever waits for that line to stop the server again (a
    // supervisor, a test, `scripts/bench`) must find the handlers in place. Installed after it, a SIGTERM
    // sent on reading the line ended the process the signal's default way in 3 of 28 of the bench's
    // restarts after its import (docs/bench.md, "Stop 56").
    let stop = shutdown_signal();
    if let Some(jwks) = &args.http.jwks {
        // Tokens come from an identity provider: an embedded token would be refused, so none is printed.
        println!("Dashboard: http://{addr}/");
        match &args.http.oidc_authority {
            Some(authority) => {
                println!("Sign in with {authority} (tokens verified against {jwks})")
            }
            None => println!(
                "Tokens: issued by {} (verified against {jwks})",
                args.http.jwt_issuer
            ),
        }
        return system.serve(listener, stop).await;
    }
    let demo = crate::seed::demo();
    let login = &demo.organisations[0];
    let (token, expires) = system.keys.issue(
        &login.login.sub,
        &login.org,
        &login.login.roles,
        chrono::Duration::days(30),
    );
    println!("Dashboard: http://{addr}/");
    println!(
        "Token ({} / {}, expires {}): {token}",
        login.org,
        login.login.sub,
        expires.format("%Y-%m-%d")
    );
    println!("Try: curl -H 'Authorization: Bearer {token}' http://{addr}/v1/vehicles");
    system.serve(listener, stop).await
}

/// Resolves at Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled: a signal that arrived after the server had begun to answer but before its stop
/// future was polled ended the process the signal's default way — no outbox flushed, no database closed, the
/// WALs left for the next start to replay (docs/bench.md, "Stop 55": 2 of 20 stops right after the first
/// `/healthz` answer, on a busy machine). Before it is called (while the stores open, while the demo seed
/// loads), Ctrl-C still stops the process at once.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &'static str| {
            let stream = signal(kind);
            if let Err(e) = &stream {
                tracing::warn!(error = %e, signal = name, "cannot listen for the signal; it stops the process at once");
            }
            async move {
                match stream {
                    Ok(mut stream) => {
                        stream.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            }
        };
        let (interrupt, terminate) = (
            listen(SignalKind::interrupt(), "SIGINT"),
            listen(SignalKind::terminate(), "SIGTERM"),
        );
        async move {
            tokio::select! { _ = interrupt => {}, _ = terminate => {} }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn dlq(action: DlqAction) -> anyhow::Result<()> {
    match action {
        DlqAction::List { data, store } => {
            let (opts, _) = on_existing_data(&data, &store, None).await?;
            let stores = Stores::open_choice(&opts.store, &data.data_dir).await?;
            let mut total = 0;
            for (consumer, store) in stores.dead_letters() {
                for d in store.list_dead_letters().await? {
                    total += 1;
                    println!(
                        "{consumer}:{}\t{}\t{}\torg={}\tvehicle={}\tattempts={}\t{}\t{}",
                        d.id,
                        d.failed_at.to_rfc3339(),
                        d.envelope.event_type(),
                        d.envelope.org_id,
                        d.envelope
                            .vehicle_id
                            .as_ref()
                            .map_or_else(|| "-".to_string(), |v| v.to_string()),
                        d.attempts,
                        d.envelope.id,
                        d.error
                    );
                }
            }
            crate::say!("{total} dead letter(s)");
            Ok(())
        }
        DlqAction::Replay { id, data, store } => {
            let (opts, _lock) = on_existing_data(&data, &store, Some("vwc dlq replay")).await?;
            let system = System::start(opts).await?;
            let replayed = replay(&system, id.as_deref()).await;
            system.finish().await?;
            let (replayed, failed) = replayed?;
            println!("replayed {replayed}, still failing {failed}");
            if failed > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

/// Delivers dead letters (one, or all) to their consumer once; marks those applied as replayed.
pub async fn replay(system: &System, only: Option<&str>) -> anyhow::Result<(usize, usize)> {
    let (mut replayed, mut failed, mut matched) = (0, 0, 0);
    for (consumer, store) in system.stores.dead_letters() {
        let store: Arc<dyn vwc_bus::DeadLetterStore> = store;
        for d in store.list_dead_letters().await? {
            let wanted = match only {
                None => true,
                Some(sel) => sel == d.id.to_string() || sel == format!("{consumer}:{}", d.id),
            };
            if !wanted {
                continue;
            }
            matched += 1;
            if vwc_bus::relay::is_relay_dead_letter(&d.consumer) {
                crate::say!(
                    "{consumer}:{} was refused for good by the bus ({}); it cannot be replayed",
                    d.id,
                    d.error
                );
                continue;
            }
            match system.bus.deliver_now(consumer, &d.envelope).await {
                Ok(()) => {
                    store.mark_replayed(d.id).await?;
                    replayed += 1;
                }
                Err(e) => {
                    crate::say!("{consumer}:{} still fails: {e}", d.id);
                    failed += 1;
                }
            }
        }
    }
    if let Some(sel) = only
        && matched == 0
    {
        anyhow::bail!("no dead letter {sel} to replay (`vwc dlq list` shows them, as CONSUMER:ID)");
    }
    Ok((replayed, failed))
}

#[cfg(test)]
mod tests {
    /// A Ctrl-C that arrives after `shutdown_signal()` was called but before its future is first polled (the
    /// server already answering) stops it like any later one. When the handler was installed by the first
    /// poll instead, this signal ended the test process (or, with a handler left by an earlier test, was
    /// never seen: the timeout).
    #[cfg(unix)]
    #[tokio::test]
    async fn a_ctrl_c_before_the_stop_is_first_awaited_stops_it_all_the_same() {
        let stop = super::shutdown_signal();
        // SAFETY: raise only sends a signal to this thread; the handler installed above takes it.
        assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
        tokio::time::timeout(std::time::Duration::from_secs(10), stop)
            .await
            .expect("the stop future saw the Ctrl-C that came before it was polled");
    }

    #[test]
    fn a_data_dir_is_new_only_when_no_database_holds_anything_and_never_without_its_ingestion_one()
    {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        let write = |name: &str, bytes: &[u8]| std::fs::write(path.join(name), bytes).unwrap();
        assert!(super::data_dir_is_new(&path.join("not-made-yet")).unwrap());
        assert!(super::data_dir_is_new(path).unwrap());
        // An empty ingestion database left by a first start that stopped early: still new.
        write("ingestion.db", b"");
        assert!(super::data_dir_is_new(path).unwrap());
        // Projections with data, the record empty or gone: refused, saying which.
        write("edge.db", b"SQLite format 3\0");
        let refused = super::data_dir_is_new(path).unwrap_err().to_string();
        assert!(
            refused.contains("ingestion.db is empty but edge.db hold data"),
            "{refused}"
        );
        std::fs::remove_file(path.join("ingestion.db")).unwrap();
        let refused = super::data_dir_is_new(path).unwrap_err().to_string();
        assert!(refused.contains("ingestion.db is missing"), "{refused}");
        // The record holds data: not new, whatever else is there or not.
        write("ingestion.db", b"SQLite format 3\0");
        std::fs::remove_file(path.join("edge.db")).unwrap();
        assert!(!super::data_dir_is_new(path).unwrap());
    }

    use super::*;

    #[test]
    fn out_of_range_intervals_and_token_claims_are_refused_when_parsed() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["vwc"], args].concat());
        // A year of minutes is the longest interval: more used to overflow `minutes × 60` and wrap around.
        assert!(parse(&["up", "--sweep-interval-minutes", "525600"]).is_ok());
        for flag in ["--sweep-interval-minutes", "--revalue-interval-minutes"] {
            let err = parse(&["up", flag, "307445734561825861"]).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation, "{err}");
        }
        let token = |extra: &[&str]| {
            parse(
                &[
                    &["token", "--org", "org_a", "--sub", "u", "--role", "viewer"],
                    extra,
                ]
                .concat(),
            )
        };
        assert!(token(&[]).is_ok());
        // A token that is expired when printed, or whose lifetime overflows chrono (a panic before).
        for ttl in ["0", "-1", "9223372036854775807"] {
            assert!(token(&["--ttl-hours", ttl]).is_err(), "--ttl-hours {ttl}");
        }
        assert!(token(&["--ttl-hours", "8760"]).is_ok());
        // `--org ''` would sweep (or re-value) an organisation no token can name.
        for job in ["sweep", "revalue"] {
            assert!(parse(&[job, "--org", ""]).is_err(), "{job} --org ''");
            assert!(parse(&[job, "--org", "org_a"]).is_ok(), "{job} --org org_a");
        }
        // Blank claims: a token the server would refuse.
        for blank in [["--org", ""], ["--sub", " "]] {
            let args = [&["token", "--role", "viewer"], &blank[..]].concat();
            let mut args = args;
            args.extend(if blank[0] == "--org" {
                ["--sub", "u"]
            } else {
                ["--org", "o"]
            });
            assert!(parse(&args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn the_chat_llm_is_off_unless_a_base_url_and_a_model_are_configured() {
        let layers = vwc_config::Layers::default();
        // The tests run without VWC_LLM_* in the environment.
        assert!(
            chat_llm_settings(&layers, None, None, None)
                .unwrap()
                .is_none()
        );
        assert!(chat_llm_settings(&layers, Some("http://127.0.0.1:1/v1"), None, None).is_err());
        assert!(chat_llm_settings(&layers, None, Some("m"), None).is_err());
        assert!(chat_llm_settings(&layers, Some("ftp://x"), Some("m"), None).is_err());
        let on = chat_llm_settings(&layers, Some("https://llm.example/v1"), Some("m"), None)
            .unwrap()
            .unwrap();
        assert_eq!(on.timeout, std::time::Duration::from_secs(8));
        assert_eq!(on.model, "m");
    }

    #[test]
    fn up_takes_the_llm_flags() {
        let cli = Cli::parse_from([
            "vwc",
            "up",
            "--llm-base-url",
            "http://127.0.0.1:11434/v1",
            "--llm-model",
            "llama3.1",
            "--llm-timeout-secs",
            "3",
        ]);
        let Some(Command::Up(args)) = cli.command else {
            panic!("up parses");
        };
        assert_eq!(args.http.service.llm_model.as_deref(), Some("llama3.1"));
        assert_eq!(args.http.service.llm_timeout_secs, Some(3));
    }

    #[test]
    fn up_runs_the_services_it_names_only_on_the_aws_bus() {
        let aws = BusChoice::Aws {
            endpoint: None,
            bus_name: "vwc".into(),
        };
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(services_here(&[], &aws).unwrap(), None);
        assert_eq!(services_here(&[], &BusChoice::InProcess).unwrap(), None);
        assert_eq!(
            services_here(&names(&["none"]), &aws).unwrap(),
            Some(Vec::new())
        );
        assert_eq!(
            services_here(&names(&["ingestion", "edge"]), &aws).unwrap(),
            Some(names(&["ingestion", "edge"]))
        );
        for (given, bus) in [
            (names(&["edge"]), BusChoice::InProcess),
            (names(&["none", "edge"]), aws.clone()),
            (names(&["edgy"]), aws.clone()),
        ] {
            assert!(services_here(&given, &bus).is_err(), "{given:?}");
        }
        let cli = Cli::parse_from(["vwc", "up", "--bus", "aws", "--services", "none"]);
        let Some(Command::Up(args)) = cli.command else {
            panic!("up parses");
        };
        assert_eq!(args.services, ["none"]);
    }

    /// A worker takes the services' settings as `vwc up` does (it was built from the defaults: its
    /// notification service refused every private webhook host and held reminders 60 s).
    #[test]
    fn a_worker_takes_the_service_settings_up_takes() {
        let cli = Cli::parse_from([
            "vwc",
            "worker",
            "notification",
            "--outbound-allowlist",
            "127.0.0.1",
            "--notification-settle-secs",
            "0",
            "--sweep-interval-minutes",
            "0",
        ]);
        let Some(Command::Worker { settings, .. }) = cli.command else {
            panic!("worker parses");
        };
        let mut opts = EmbeddedOptions::new(std::path::Path::new("unused"));
        settings.apply(&mut opts);
        assert_eq!(opts.outbound_allowlist, "127.0.0.1");
        assert_eq!(opts.notification_settle, std::time::Duration::ZERO);
        assert_eq!(opts.sweep_every, None);
    }
}
