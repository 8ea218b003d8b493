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
use vwc_store::Outbox;
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
            scheduler: Arc::new(
                SqliteSchedulerStore::open(&data_dir.join("maintenance-scheduler.db"))
                    .with_context(|| open_err("maintenance-scheduler"))?,
            ),
            notification: Arc::new(
                SqliteNotificationStore::open(&data_dir.join("notification.db"))
                    .with_context(|| open_err("notification"))?,
            ),
            valuation: Arc::new(
                SqliteValuationStore::open(&data_dir.join("valuation.db"))
                    .with_context(|| open_err("valuation"))?,
            ),
            chat: open_chat_sqlite(data_dir)?,
            calendar_keys: Arc::new(
                vwc_edge::calendar::SqliteCalendarKeys::open(&data_dir.join("edge-calendar.db"))
                    .with_context(|| open_err("edge calendar"))?,
            ),
        })
    }

    /// One MongoDB database per service, through one client; indexes are created here.
    #[cfg(feature = "aws")]
    pub async fn connect_mongodb(uri: &str, prefix: &str) -> anyhow::Result<Stores> {
        let client = mongo_client(uri).await?;
        let db = |service: &str| format!("{prefix}_{service}");
        Ok(Stores {
            ingestion: Arc::new(
                MongoIngestionStore::connect(client.clone(), &db("ingestion")).await?,
            ),
            edge: Arc::new(MongoEdgeStore::connect(client.clone(), &db("edge")).await?),
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

    /// Dead-letter tables by consumer name.
    pub fn dead_letters(&self) -> Vec<(&'static str, Arc<dyn DeadLetterStore>)> {
        vec![
            // Only events the bus refused for good (the outbox relay's dead letters).
            (
                "ingestion",
                self.ingestion.clone() as Arc<dyn DeadLetterStore>,
            ),
            (
                vwc_edge::CONSUMER,
                self.edge.clone() as Arc<dyn DeadLetterStore>,
            ),
            (
                vwc_maintenance_scheduler::CONSUMER,
                self.scheduler.clone() as Arc<dyn DeadLetterStore>,
            ),
            (
                vwc_notification::CONSUMER,
                self.notification.clone() as Arc<dyn DeadLetterStore>,
            ),
            (
                vwc_valuation::CONSUMER,
                self.valuation.clone() as Arc<dyn DeadLetterStore>,
            ),
            (
                vwc_chat_historian::CONSUMER,
                self.chat.clone() as Arc<dyn DeadLetterStore>,
            ),
        ]
    }

    /// Every consumer, by service name, with the store that keeps its dead letters; every one reads the
    /// time from `clock`.
    #[allow(clippy::type_complexity)]
    pub fn consumers(
        &self,
        clock: &SharedClock,
    ) -> Vec<(&'static str, (Arc<dyn Consumer>, Arc<dyn DeadLetterStore>))> {
        let consumers: [(&'static str, Arc<dyn Consumer>); 5] = [
            (
                vwc_edge::CONSUMER,
                Arc::new(EdgeConsumer::new(self.edge.clone())),
            ),
            (
                vwc_maintenance_scheduler::CONSUMER,
                Arc::new(SchedulerConsumer::new(
                    Scheduler::new(self.scheduler.clone()).with_clock(clock.clone()),
                )),
            ),
            (
                vwc_notification::CONSUMER,
                Arc::new(
                    NotificationConsumer::new(self.notification.clone()).with_clock(clock.clone()),
                ),
            ),
            (
                vwc_valuation::CONSUMER,
                Arc::new(ValuationConsumer::new(
                    Valuer::new(self.valuation.clone()).with_clock(clock.clone()),
                )),
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

    /// Every publishing service's outbox, by service name.
    pub fn outboxes(&self) -> Vec<(&'static str, Arc<dyn Outbox>)> {
        vec![
            ("ingestion", self.ingestion.clone() as Arc<dyn Outbox>),
            (
                vwc_maintenance_scheduler::CONSUMER,
                self.scheduler.clone() as Arc<dyn Outbox>,
            ),
            (
                vwc_notification::CONSUMER,
                self.notification.clone() as Arc<dyn Outbox>,
            ),
            (
                vwc_valuation::CONSUMER,
                self.valuation.clone() as Arc<dyn Outbox>,
            ),
        ]
    }
}

#[cfg(feature = "aws")]
async fn mongo_client(uri: &str) -> anyhow::Result<mongodb::Client> {
    mongodb::Client::with_uri_str(uri)
        .await
        .context("connecting to MongoDB")
}

fn open_chat_sqlite(data_dir: &Path) -> anyhow::Result<Arc<dyn ChatStore>> {
    Ok(Arc::new(
        SqliteChatStore::open(&data_dir.join("chat-historian.db")).with_context(|| {
            format!(
                "opening the chat-historian database in {}",
                data_dir.display()
            )
        })?,
    ))
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
