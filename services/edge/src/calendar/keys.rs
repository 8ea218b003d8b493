//! Each organisation's calendar feed secret, owned by the edge: created on first use, replaced on rotation.
//! SQLite (its own file beside the edge's database) and MongoDB (a collection of the edge's database).

use std::path::Path;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use rusqlite::{OptionalExtension, params};
use vwc_store::{SqliteDb, StoreError, StoreResult, ts};

#[cfg(feature = "aws")]
mod mongo;
#[cfg(feature = "aws")]
pub use mongo::MongoCalendarKeys;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSecret {
    pub secret: Vec<u8>,
    pub rotated_at: DateTime<Utc>,
}

#[async_trait]
pub trait CalendarKeyStore: Send + Sync {
    /// The organisation's secret, if it has one.
    async fn secret(&self, org_id: &str) -> StoreResult<Option<FeedSecret>>;
    /// The organisation's secret, created now when it has none (two racing callers get the same one).
    async fn secret_or_create(&self, org_id: &str) -> StoreResult<FeedSecret>;
    /// Replaces the secret: every URL signed with the old one stops working.
    async fn rotate(&self, org_id: &str) -> StoreResult<FeedSecret>;
}

fn fresh_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

fn decode(secret: &str, rotated_at: &str) -> StoreResult<FeedSecret> {
    Ok(FeedSecret {
        secret: STANDARD
            .decode(secret)
            .map_err(|e| StoreError::Other(format!("bad calendar secret: {e}")))?,
        rotated_at: DateTime::parse_from_rfc3339(rotated_at)
            .map_err(|e| StoreError::Other(format!("bad timestamp {rotated_at:?}: {e}")))?
            .with_timezone(&Utc),
    })
}

/// This database's schema steps, run in order once each (`user_version` counts those run). Append only: a
/// step changed, moved or removed would be run twice, or never, on a database that ran the old list
/// (`shared/store/migrations.lock` pins them; `VWC_BLESS=1 cargo test -p vwc --lib migrations` records a new one).
pub const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE calendar_feeds (
    org_id TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    rotated_at TEXT NOT NULL
);
"#];

pub struct SqliteCalendarKeys {
    db: SqliteDb,
}

impl SqliteCalendarKeys {
    pub fn open(path: &Path) -> StoreResult<SqliteCalendarKeys> {
        Ok(SqliteCalendarKeys {
            db: SqliteDb::open(path, MIGRATIONS)?,
        })
    }
}

fn select(conn: &rusqlite::Connection, org_id: &str) -> StoreResult<Option<FeedSecret>> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT secret, rotated_at FROM calendar_feeds WHERE org_id = ?1",
            params![org_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    row.map(|(s, at)| decode(&s, &at)).transpose()
}

#[async_trait]
impl CalendarKeyStore for SqliteCalendarKeys {
    async fn secret(&self, org_id: &str) -> StoreResult<Option<FeedSecret>> {
        let org_id = org_id.to_string();
        self.db.read(move |conn| select(conn, &org_id)).await
    }

    async fn secret_or_create(&self, org_id: &str) -> StoreResult<FeedSecret> {
        if let Some(s) = self.secret(org_id).await? {
            return Ok(s);
        }
        let org_id = org_id.to_string();
        let secret = STANDARD.encode(fresh_secret());
        self.db
            .write(move |conn| {
                conn.execute(
                    "INSERT OR IGNORE INTO calendar_feeds (org_id, secret, rotated_at) VALUES (?1, ?2, ?3)",
                    params![org_id, secret, ts(&vwc_clock::now())],
                )?;
                select(conn, &org_id)?.ok_or_else(|| StoreError::Other("calendar secret vanished".into()))
            })
            .await
    }

    async fn rotate(&self, org_id: &str) -> StoreResult<FeedSecret> {
        let org_id = org_id.to_string();
        let secret = STANDARD.encode(fresh_secret());
        self.db
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO calendar_feeds (org_id, secret, rotated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (org_id) DO UPDATE SET secret = excluded.secret, rotated_at = excluded.rotated_at",
                    params![org_id, secret, ts(&vwc_clock::now())],
                )?;
                select(conn, &org_id)?.ok_or_else(|| StoreError::Other("calendar secret vanished".into()))
            })
            .await
    }
}
