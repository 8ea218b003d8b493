//! Every service's store, opened on the chosen backend: SQLite files under the data dir (embedded
//! default) or one MongoDB database per service.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use vwc_bus::{Consumer, DeadLetterStore};
use vwc_chat_historian::{ChatConsumer, ChatStore, SqliteChatStore};
use vwc_clock::SharedClock;
use vwc_edge::{EdgeConsumer, EdgeStore, SqliteEdgeStore};
use vwc_ingestion::{IngestionDb, SqliteIngestionStore};
use vwc_maintenance_scheduler::{
    Scheduler, SchedulerConsumer, SchedulerStore, SqliteSchedulerStore,
};
use vwc_notification::store::NotificationStore;
use vwc_notification::{NotificationConsumer, SqliteNotificationStore};
use vwc_store::vehicle_ledger::{KeptStates, LedgerService};
use vwc_store::{Outbox, Plumbing};
use vwc_valuation::{SqliteValuationStore, ValuationConsumer, ValuationStore, Valuer};
#[cfg(feature = "aws")]
use {
    vwc_chat_historian::MongoChatStore, vwc_edge::MongoEdgeStore,
    vwc_ingestion::MongoIngestionStore, vwc_maintenance_scheduler::MongoSchedulerStore,
    vwc_notification::MongoNotificationStore, vwc_valuation::MongoValuationStore,
};

/// Which storage backend a process uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    Sqlite,
    /// A MongoDB replica set (transactions need one); databases `<prefix>_<service>`.
    Mongodb {
        uri: String,
        prefix: String,
    },
}

/// The stores of every service.
#[derive(Clone)]
pub struct Stores {
    pub ingestion: Arc<dyn IngestionDb>,
    pub edge: Arc<dyn EdgeStore>,
    pub scheduler: Arc<dyn SchedulerStore>,
    pub notification: Arc<dyn NotificationStore>,
    pub valuation: Arc<dyn ValuationStore>,
    pub chat: Arc<dyn ChatStore>,
    /// The edge's calendar feed secrets (signed subscription URLs).
    pub calendar_keys: Arc<dyn vwc_edge::calendar::CalendarKeyStore>,
}

impl Stores {
    /// One SQLite file per service under `data_dir`.
    /// Opens the databases on two threads: each open reads its schema, checks its migrations and, after a
    /// crash, replays the WAL the dead process left — the largest part of a cold start (docs/bench.md,
    /// "Memory, cold start and the first sweep", "Stop 57"). The edge's and the valuation's write the most
    /// (the timeline and its aggregates; the valuations and their points), so they open on one thread and
    /// the others on the other; a thread per database was slower on two cores.
    pub fn open(data_dir: &Path) -> anyhow::Result<Stores> {
        let ((edge, valuation, notification), (scheduler, ingestion, chat, calendar_keys)) =
            std::thread::scope(|scope| {
                let spawned = scope.spawn(|| {
                    (
                        open_sqlite(data_dir, "edge", SqliteEdgeStore::open),
                        open_sqlite(data_dir, "valuation", SqliteValuationStore::open),
                        open_sqlite(data_dir, "notification", SqliteNotificationStore::open),
                    )
                });
                let here = (
                    open_sqlite(
                        data_dir,
                        "maintenance-scheduler",
                        SqliteSchedulerStore::open,
                    ),
                    open_sqlite(data_dir, "ingestion", SqliteIngestionStore::open),
                    open_chat_sqlite(data_dir),
                    open_sqlite(
                        data_dir,
                        "edge-calendar",
                        vwc_edge::calendar::SqliteCalendarKeys::open,
                    ),
                );
                let spawned = spawned
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (spawned, here)
            });
        Ok(Stores {
            ingestion: ingestion?,
            edge: edge?,
            scheduler: scheduler?,
            notification: notification?,
            valuation: valuation?,
            chat: chat?,
            calendar_keys: calendar_keys?,
        })
    }

    /// One MongoDB database per service, through one client; indexes are created here.
    #[cfg(feature = "aws")]
    pub async fn connect_mongodb(uri: &str, prefix: &str) -> anyhow::Result<Stores> {
        Stores::connect_mongodb_with(mongo_client(uri).await?, prefix)
            .await
            .context(MONGODB_UNREACHABLE)
    }

    /// [`connect_mongodb`](Self::connect_mongodb) for a process that does not serve the edge (a Lambda
    /// function of another service): the edge's aggregates are left for the edge's processes to fill, since
    /// this process's database user may not read the edge's collections.
    #[cfg(feature = "aws")]
    pub async fn connect_mongodb_beside_the_edge(
        uri: &str,
        prefix: &str,
    ) -> anyhow::Result<Stores> {
        Stores::connect_mongodb_for(mongo_client(uri).await?, prefix, false)
            .await
            .context(MONGODB_UNREACHABLE)
    }

    /// [`connect_mongodb`](Self::connect_mongodb) through `client`.
    #[cfg(feature = "aws")]
    pub async fn connect_mongodb_with(
        client: mongodb::Client,
        prefix: &str,
    ) -> anyhow::Result<Stores> {
        Stores::connect_mongodb_for(client, prefix, true).await
    }

    #[cfg(feature = "aws")]
    async fn connect_mongodb_for(
        client: mongodb::Client,
        prefix: &str,
        serves_edge: bool,
    ) -> anyhow::Result<Stores> {
        check_mongodb_prefix(prefix).map_err(anyhow::Error::msg)?;
        let db = |service: &str| format!("{prefix}_{service}");
        let edge = if serves_edge {
            MongoEdgeStore::connect(client.clone(), &db("edge")).await?
        } else {
            MongoEdgeStore::connect_unfilled(client.clone(), &db("edge")).await?
        };
        Ok(Stores {
            ingestion: Arc::new(
                MongoIngestionStore::connect(client.clone(), &db("ingestion")).await?,
            ),
            edge: Arc::new(edge),
            scheduler: Arc::new(
                MongoSchedulerStore::connect(client.clone(), &db("maintenance_scheduler")).await?,
            ),
            notification: Arc::new(
                MongoNotificationStore::connect(client.clone(), &db("notification")).await?,
            ),
            valuation: Arc::new(
                MongoValuationStore::connect(client.clone(), &db("valuation")).await?,
            ),
            chat: connect_chat_mongodb(client.clone(), prefix).await?,
            calendar_keys: Arc::new(vwc_edge::calendar::MongoCalendarKeys::new(
                vwc_store::mongo::MongoDb::new(client.clone(), &db("edge")),
            )),
        })
    }

    /// The chat historian's store alone, on the chosen backend (the chat function opens nothing else).
    pub async fn open_chat(
        choice: &StoreChoice,
        data_dir: &Path,
    ) -> anyhow::Result<Arc<dyn ChatStore>> {
        match choice {
            StoreChoice::Sqlite => open_chat_sqlite(data_dir),
            #[cfg(feature = "aws")]
            StoreChoice::Mongodb { uri, prefix } => {
                connect_chat_mongodb(mongo_client(uri).await?, prefix).await
            }
            #[cfg(not(feature = "aws"))]
            StoreChoice::Mongodb { .. } => Err(crate::built_without_aws("--store mongodb")),
        }
    }

    pub async fn open_choice(choice: &StoreChoice, data_dir: &Path) -> anyhow::Result<Stores> {
        match choice {
            StoreChoice::Sqlite => Stores::open(data_dir),
            #[cfg(feature = "aws")]
            StoreChoice::Mongodb { uri, prefix } => Stores::connect_mongodb(uri, prefix).await,
            #[cfg(not(feature = "aws"))]
            StoreChoice::Mongodb { .. } => Err(crate::built_without_aws("--store mongodb")),
        }
    }

    /// Every service's store as the plumbing they all share (outbox, dead letters, ping), by service
    /// name.
    pub fn plumbing(&self) -> [(&'static str, Arc<dyn Plumbing>); 6] {
        [
            ("ingestion", self.ingestion.clone()),
            (vwc_edge::CONSUMER, self.edge.clone()),
            (vwc_maintenance_scheduler::CONSUMER, self.scheduler.clone()),
            (vwc_notification::CONSUMER, self.notification.clone()),
            (vwc_valuation::CONSUMER, self.valuation.clone()),
            (vwc_chat_historian::CONSUMER, self.chat.clone()),
        ]
    }

    /// Dead-letter tables by consumer name (ingestion's holds only events the bus refused for good: the
    /// outbox relay's dead letters).
    pub fn dead_letters(&self) -> Vec<(&'static str, Arc<dyn DeadLetterStore>)> {
        self.plumbing()
            .into_iter()
            .map(|(name, store)| (name, store as Arc<dyn DeadLetterStore>))
            .collect()
    }

    /// The two vehicle-ledger services, reading the time from `clock` and keeping vehicle states between
    /// deliveries as `kept` says (the caller knows whether its consumers are the vehicles' only writers:
    /// [`crate::embedded::BusChoice::kept_states`]).
    pub fn ledger_services(&self, clock: &SharedClock, kept: KeptStates) -> (Scheduler, Valuer) {
        (
            Scheduler::new(self.scheduler.clone())
                .with_clock(clock.clone())
                .with_kept_states(kept),
            Valuer::new(self.valuation.clone())
                .with_clock(clock.clone())
                .with_kept_states(kept),
        )
    }

    /// Every consumer, by service name, with the store that keeps its dead letters; every one reads the
    /// time from `clock`; the ledger services keep vehicle states as `kept` says; a reminder's outbound
    /// deliveries wait `settle`.
    #[allow(clippy::type_complexity)]
    pub fn consumers(
        &self,
        clock: &SharedClock,
        kept: KeptStates,
        settle: std::time::Duration,
    ) -> Vec<(&'static str, (Arc<dyn Consumer>, Arc<dyn DeadLetterStore>))> {
        let (scheduler, valuer) = self.ledger_services(clock, kept);
        let consumers: [(&'static str, Arc<dyn Consumer>); 5] = [
            (
                vwc_edge::CONSUMER,
                Arc::new(EdgeConsumer::new(self.edge.clone())),
            ),
            (
                vwc_maintenance_scheduler::CONSUMER,
                Arc::new(SchedulerConsumer::new(scheduler)),
            ),
            (
                vwc_notification::CONSUMER,
                Arc::new(
                    NotificationConsumer::new(self.notification.clone())
                        .with_clock(clock.clone())
                        .with_settle(settle),
                ),
            ),
            (
                vwc_valuation::CONSUMER,
                Arc::new(ValuationConsumer::new(valuer)),
            ),
            (
                vwc_chat_historian::CONSUMER,
                Arc::new(ChatConsumer::new(self.chat.clone())),
            ),
        ];
        let dead_letters: std::collections::HashMap<_, _> =
            self.dead_letters().into_iter().collect();
        consumers
            .into_iter()
            .map(|(name, consumer)| (name, (consumer, dead_letters[name].clone())))
            .collect()
    }

    /// Every publishing service's outbox, by service name (the edge and the chat historian publish
    /// nothing).
    pub fn outboxes(&self) -> Vec<(&'static str, Arc<dyn Outbox>)> {
        self.plumbing()
            .into_iter()
            .filter(|(name, _)| PUBLISHERS.contains(name))
            .map(|(name, store)| (name, store as Arc<dyn Outbox>))
            .collect()
    }
}

/// The services that publish events.
const PUBLISHERS: [&str; 4] = [
    "ingestion",
    vwc_maintenance_scheduler::CONSUMER,
    vwc_notification::CONSUMER,
    vwc_valuation::CONSUMER,
];

#[cfg(feature = "aws")]
async fn mongo_client(uri: &str) -> anyhow::Result<mongodb::Client> {
    let mut options = mongodb::options::ClientOptions::parse(uri)
        .await
        .context("the MongoDB URI")?;
    // The driver's defaults wait 30 s for a server and 10 s for a connection: longer than a Lambda's
    // start-up may take (10 s) and most of an API request's time, so an unreachable cluster was never
    // reported as such. A URI that sets them (`serverSelectionTimeoutMS`, `connectTimeoutMS`) wins.
    options
        .server_selection_timeout
        .get_or_insert(MONGODB_SERVER_SELECTION_TIMEOUT);
    options
        .connect_timeout
        .get_or_insert(MONGODB_CONNECT_TIMEOUT);
    options.heartbeat_freq.get_or_insert(MONGODB_HEARTBEAT);
    mongodb::Client::with_options(options).context("connecting to MongoDB")
}

/// The first thing said when opening the stores on MongoDB failed (the driver's own report follows).
#[cfg(feature = "aws")]
const MONGODB_UNREACHABLE: &str = "opening the stores on MongoDB failed: is the deployment running and \
    reachable, and is the URI's `replicaSet` its name? (a replica set is needed: the outbox uses transactions)";

/// Whether `prefix` makes valid MongoDB database names for every service (`<prefix>_maintenance_scheduler`
/// is the longest): 1 to 40 letters, digits, `_` or `-`.
pub fn check_mongodb_prefix(prefix: &str) -> Result<(), String> {
    let fine = (1..=40).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if fine {
        Ok(())
    } else {
        Err(format!(
            "{prefix:?} is not a database name prefix: 1 to 40 letters, digits, '_' or '-' (MongoDB refuses \
             '/', '\\', '.', ' ', '\"' and '$' in database names, and names over 63 bytes)"
        ))
    }
}

/// How long a MongoDB operation waits for a server it can use before it fails (unless the URI says).
#[cfg(feature = "aws")]
pub const MONGODB_SERVER_SELECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long opening a connection to a server may take (unless the URI's `connectTimeoutMS` says): the
/// driver's default is 10 s. It also bounds each check of a server (below) and its retry, so it is most of how
/// long a hung server goes unnoticed.
#[cfg(feature = "aws")]
pub const MONGODB_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// How often the driver checks each server (unless the URI's `heartbeatFrequencyMS` says). A server that
/// stops answering without closing its connections (a hung process, a network that drops packets) is noticed
/// only by this check — the driver has no socket timeout — and a request already waiting on it is released
/// then: with the driver's default of 10 s a request waited 15–20 s before its 503.
#[cfg(feature = "aws")]
pub const MONGODB_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(2);

fn open_chat_sqlite(data_dir: &Path) -> anyhow::Result<Arc<dyn ChatStore>> {
    Ok(open_sqlite(
        data_dir,
        "chat-historian",
        SqliteChatStore::open,
    )?)
}

/// Opens the SQLite store `name` (the file `<name>.db` under `data_dir`) with its adapter's `open`.
fn open_sqlite<S>(
    data_dir: &Path,
    name: &str,
    open: impl FnOnce(&Path) -> vwc_store::StoreResult<S>,
) -> anyhow::Result<Arc<S>> {
    let store = open(&data_dir.join(format!("{name}.db")))
        .with_context(|| format!("opening the {name} database in {}", data_dir.display()))?;
    Ok(Arc::new(store))
}

#[cfg(feature = "aws")]
async fn connect_chat_mongodb(
    client: mongodb::Client,
    prefix: &str,
) -> anyhow::Result<Arc<dyn ChatStore>> {
    Ok(Arc::new(
        MongoChatStore::connect(client, &format!("{prefix}_chat_historian")).await?,
    ))
}

/// Prunes the inbox claims of `stores` made before `before`, logging what each pruned (or why it could
/// not: the claims are then pruned at the next run). Returns how many were pruned in all.
pub async fn prune_claims(
    stores: &[(&'static str, Arc<dyn Plumbing>)],
    before: chrono::DateTime<chrono::Utc>,
) -> u64 {
    let mut total = 0;
    for (service, store) in stores {
        let started = std::time::Instant::now();
        match store.prune_claims(before).await {
            Ok(0) => {}
            Ok(pruned) => {
                total += pruned;
                tracing::info!(
                    service,
                    pruned,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "old inbox claims pruned"
                );
            }
            Err(e) => tracing::warn!(service, error = %e, "pruning old inbox claims failed"),
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embedded::BusChoice;
    use vwc_store::vehicle_ledger::KEPT_STATES;

    /// Every database's schema steps, as `migrate` runs them: the common ones, then the service's own.
    fn migration_lists() -> [(&'static str, &'static [&'static str]); 8] {
        [
            ("common", vwc_store::sqlite::COMMON_MIGRATIONS),
            ("ingestion", vwc_ingestion::sqlite::MIGRATIONS),
            ("edge", vwc_edge::sqlite::MIGRATIONS),
            ("edge-calendar", vwc_edge::calendar::keys::MIGRATIONS),
            (
                "maintenance-scheduler",
                vwc_maintenance_scheduler::store::sqlite::MIGRATIONS,
            ),
            ("notification", vwc_notification::sqlite::MIGRATIONS),
            ("valuation", vwc_valuation::sqlite::MIGRATIONS),
            ("chat-historian", vwc_chat_historian::sqlite::MIGRATIONS),
        ]
    }

    /// FNV-1a, 64 bits: a fingerprint that stays the same across builds and Rust versions.
    fn fingerprint(sql: &str) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in sql.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")
    }

    /// The migrations are append only. `user_version` counts the steps a database ran, not which: a step
    /// changed, moved or removed runs twice, or never, on a database made before (a merge once put a new
    /// step before another already on `main`, and databases made in between could not be opened again:
    /// "duplicate column name: wake_on"). `shared/store/migrations.lock` pins every step; a new step at the end
    /// is recorded with `VWC_BLESS=1 cargo test -p vwc --lib migrations`.
    #[test]
    fn migrations_are_append_only() {
        let lock_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/store/migrations.lock");
        let current: Vec<String> = migration_lists()
            .iter()
            .flat_map(|(db, steps)| {
                steps.iter().enumerate().map(move |(i, sql)| {
                    let first = sql
                        .lines()
                        .map(str::trim)
                        .find(|l| !l.is_empty())
                        .unwrap_or("");
                    let first: String = first.chars().take(60).collect();
                    format!("{db} {} {} {first}", i + 1, fingerprint(sql))
                })
            })
            .collect();
        let key = |line: &str| line.split(' ').take(3).collect::<Vec<_>>().join(" ");
        let pinned = std::fs::read_to_string(&lock_path).unwrap_or_default();
        let pinned: Vec<&str> = pinned
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect();
        for line in &pinned {
            let (db, step) = {
                let mut words = line.split(' ');
                (words.next().unwrap_or(""), words.next().unwrap_or(""))
            };
            let now = current
                .iter()
                .find(|c| c.starts_with(&format!("{db} {step} ")));
            assert!(
                now.is_some_and(|now| key(now) == key(line)),
                "migration {step} of {db} was changed, moved or removed (pinned: `{line}`, now: `{}`): migrations \
                 are append only — a database that ran the old step would run the new one never, or twice. \
                 Put the change in a new step at the end of the list.",
                now.map_or("none", String::as_str)
            );
        }
        let new: Vec<&String> = current
            .iter()
            .filter(|c| !pinned.iter().any(|p| key(p) == key(c)))
            .collect();
        if new.is_empty() {
            return;
        }
        if std::env::var_os("VWC_BLESS").is_some() {
            let mut text = String::from(
                "# Every SQLite schema step, pinned: `<database> <step> <FNV-1a of its SQL> <its first line>`.\n\
                 # Append only (services/vwc/src/stores.rs, `migrations_are_append_only`).\n",
            );
            for line in &current {
                text.push_str(line);
                text.push('\n');
            }
            std::fs::write(&lock_path, text).unwrap();
            return;
        }
        panic!(
            "new migrations not recorded in shared/store/migrations.lock: {new:?}; run \
             `VWC_BLESS=1 cargo test -p vwc --lib migrations`"
        );
    }

    /// Opening every service's MongoDB store (what the API function's start-up does) asks for each
    /// collection's indexes in one `createIndexes` round trip, not one per index.
    #[cfg(feature = "aws")]
    #[tokio::test]
    async fn every_mongodb_store_asks_for_a_collections_indexes_in_one_round_trip() {
        use std::collections::BTreeMap;
        use std::sync::Mutex;
        let Some(uri) = vwc_testkit::mongo::mongodb_uri() else {
            return;
        };
        let asked: Arc<Mutex<BTreeMap<(String, String), usize>>> = Arc::default();
        let mut options = mongodb::options::ClientOptions::parse(&uri).await.unwrap();
        let seen = asked.clone();
        options.command_event_handler = Some(mongodb::event::EventHandler::callback(
            move |event: mongodb::event::command::CommandEvent| {
                if let mongodb::event::command::CommandEvent::Started(started) = event
                    && started.command_name == "createIndexes"
                {
                    let collection = started.command.get_str("createIndexes").unwrap_or("?");
                    let key = (started.db.clone(), collection.to_string());
                    *seen.lock().unwrap().entry(key).or_default() += 1;
                }
            },
        ));
        let client = mongodb::Client::with_options(options).unwrap();
        // MongoDB names are at most 63 characters: the random tail of a UUID v7.
        let prefix = format!(
            "vwc_ix_{}",
            &uuid::Uuid::now_v7().simple().to_string()[20..]
        );
        let started = std::time::Instant::now();
        let stores = Stores::connect_mongodb_with(client.clone(), &prefix).await;
        let took = started.elapsed();
        let asked = asked.lock().unwrap().clone();
        let databases = client.list_database_names().await.unwrap();
        for name in databases.iter().filter(|n| n.starts_with(&prefix)) {
            let _ = client.database(name).drop().await;
        }
        stores.unwrap();
        eprintln!(
            "{} createIndexes round trips over {} collections in {took:?}",
            asked.values().sum::<usize>(),
            asked.len()
        );
        let repeated: Vec<_> = asked.iter().filter(|(_, n)| **n > 1).collect();
        assert!(repeated.is_empty(), "asked more than once: {repeated:?}");
        assert!(asked.len() > 30, "{asked:?}");
    }

    /// A server that stops answering without closing its connections (a hung process; here a proxy that
    /// stops passing bytes on) fails the operation waiting on it within the heartbeat and the connect
    /// timeout's two checks (2 + 3 + 3 s), not the 15–20 s of the driver's defaults.
    #[cfg(feature = "aws")]
    #[tokio::test]
    async fn an_operation_on_a_hung_mongodb_server_fails_within_ten_seconds() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Some(uri) = vwc_testkit::mongo::mongodb_uri() else {
            return;
        };
        let upstream = mongodb::options::ClientOptions::parse(&uri)
            .await
            .unwrap()
            .hosts[0]
            .to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = listener.local_addr().unwrap();
        let hung = Arc::new(AtomicBool::new(false));
        /// Passes bytes from `from` to `to` until `hung`, then holds both open and passes nothing.
        async fn pass(
            mut from: tokio::net::tcp::OwnedReadHalf,
            mut to: tokio::net::tcp::OwnedWriteHalf,
            hung: Arc<AtomicBool>,
        ) {
            let mut buf = vec![0; 64 * 1024];
            while let Ok(n @ 1..) = from.read(&mut buf).await {
                if hung.load(Ordering::SeqCst) {
                    std::future::pending::<()>().await;
                }
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
        let flag = hung.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = tokio::net::TcpStream::connect(&upstream).await.unwrap();
                let ((cr, cw), (sr, sw)) = (client.into_split(), server.into_split());
                tokio::spawn(pass(cr, sw, flag.clone()));
                tokio::spawn(pass(sr, cw, flag.clone()));
            }
        });
        let client = mongo_client(&format!("mongodb://{proxy}/?directConnection=true"))
            .await
            .unwrap();
        let admin = client.database("admin");
        let ping = || admin.run_command(mongodb::bson::doc! {"ping": 1});
        ping().await.expect("answers through the proxy");
        hung.store(true, Ordering::SeqCst);
        let started = std::time::Instant::now();
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(40), ping()).await;
        let took = started.elapsed();
        eprintln!("the hung server's operation ended after {took:?}: {outcome:?}");
        assert!(matches!(outcome, Ok(Err(_))), "{outcome:?}");
        assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    }

    /// One run prunes the old claims of every service's database and keeps the recent ones.
    #[tokio::test]
    async fn one_run_prunes_every_services_old_claims() {
        let dir = tempfile::tempdir().unwrap();
        let stores = Stores::open(dir.path()).unwrap();
        let databases: Vec<_> = (stores.plumbing().iter())
            .map(|(service, _)| dir.path().join(format!("{service}.db")))
            .collect();
        assert!(databases.iter().all(|db| db.exists()), "{databases:?}");
        let now = vwc_clock::now();
        for db in &databases {
            let conn = rusqlite::Connection::open(db).unwrap();
            for (id, days) in [("a", 45), ("b", 31), ("c", 31), ("kept", 29)] {
                let at = (now - chrono::Duration::days(days)).to_rfc3339();
                conn.execute(
                    "INSERT INTO inbox (consumer, event_id, applied_at) VALUES ('x', ?1, ?2)",
                    [id, at.as_str()],
                )
                .unwrap();
            }
        }
        let pruned = prune_claims(&stores.plumbing(), now - vwc_store::KEEP_CLAIMS).await;
        assert_eq!(pruned, 3 * databases.len() as u64);
        for db in &databases {
            let conn = rusqlite::Connection::open(db).unwrap();
            let left: String = conn
                .query_row("SELECT group_concat(event_id) FROM inbox", [], |r| r.get(0))
                .unwrap();
            assert_eq!(left, "kept", "{}", db.display());
        }
    }

    /// Embedded mode (the in-process bus) keeps the ledger services' vehicle states between deliveries;
    /// with SQS (`vwc worker`, `vwc up --bus aws`) other processes deliver the same vehicles, so none are
    /// kept (the Lambda consumer passes `KeptStates::None` for the same reason).
    #[test]
    fn only_the_in_process_bus_keeps_vehicle_states() {
        let dir = tempfile::tempdir().unwrap();
        let stores = Stores::open(dir.path()).unwrap();
        let sqs = BusChoice::Aws {
            endpoint: None,
            bus_name: "vwc".into(),
        };
        for (bus, kept) in [(BusChoice::InProcess, KEPT_STATES), (sqs, 0)] {
            let (scheduler, valuer) =
                stores.ledger_services(&vwc_clock::system(), bus.kept_states());
            assert_eq!(scheduler.kept_states(), kept, "the scheduler, {bus:?}");
            assert_eq!(valuer.kept_states(), kept, "the valuation, {bus:?}");
        }
        assert_eq!(KeptStates::default(), KeptStates::None, "off unless asked");
    }
}
