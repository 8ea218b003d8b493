//! The calendar feed secrets on MongoDB: a collection of the edge's database.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bson::doc;
use vwc_store::mongo::MongoDb;
use vwc_store::{StoreError, StoreResult, ts};

use super::{CalendarKeyStore, FeedSecret, decode, fresh_secret};

const FEEDS: &str = "calendar_feeds";

/// `calendar_feeds` in the edge's database: `{_id: org id, secret, rotated_at}`.
pub struct MongoCalendarKeys {
    db: MongoDb,
}

impl MongoCalendarKeys {
    pub fn new(db: MongoDb) -> MongoCalendarKeys {
        MongoCalendarKeys { db }
    }

    /// Upserts a fresh secret for the organisation with the update operator `op` (`$set` replaces the
    /// secret, `$setOnInsert` only creates one) and reads back the one stored.
    async fn write_fresh(&self, org_id: &str, op: &str) -> StoreResult<FeedSecret> {
        let fresh =
            doc! { "secret": STANDARD.encode(fresh_secret()), "rotated_at": ts(&vwc_clock::now()) };
        self.db
            .collection(FEEDS)
            .update_one(
                doc! { "_id": org_id },
                bson::Document::from_iter([(op.to_string(), fresh.into())]),
            )
            .upsert(true)
            .await?;
        self.secret(org_id)
            .await?
            .ok_or_else(|| StoreError::Other("calendar secret vanished".into()))
    }
}

fn from_doc(d: &bson::Document) -> StoreResult<FeedSecret> {
    let text = |f: &str| vwc_store::mongo::required_text(d, f);
    decode(&text("secret")?, &text("rotated_at")?)
}

#[async_trait]
impl CalendarKeyStore for MongoCalendarKeys {
    async fn secret(&self, org_id: &str) -> StoreResult<Option<FeedSecret>> {
        let found = self
            .db
            .collection(FEEDS)
            .find_one(doc! {"_id": org_id})
            .await?;
        found.as_ref().map(from_doc).transpose()
    }

    async fn secret_or_create(&self, org_id: &str) -> StoreResult<FeedSecret> {
        if let Some(s) = self.secret(org_id).await? {
            return Ok(s);
        }
        // `$setOnInsert`: of two racing callers, the first secret stays and both read it back.
        self.write_fresh(org_id, "$setOnInsert").await
    }

    async fn rotate(&self, org_id: &str) -> StoreResult<FeedSecret> {
        self.write_fresh(org_id, "$set").await
    }
}
