//! Start-up index lists, declared as data by each MongoDB adapter.

use bson::Document;

use crate::StoreResult;
use crate::mongo::MongoDb;

impl MongoDb {
    /// `database` through the process's client, with the indexes every service database has (the
    /// outbox's, the inbox's and the dead letters'; a no-op where they exist).
    pub async fn open(client: mongodb::Client, database: &str) -> StoreResult<MongoDb> {
        let db = MongoDb::new(client, database);
        db.ensure_common_indexes().await?;
        Ok(db)
    }

    /// Creates each `(collection, keys)` index in order, none of them unique (each a no-op when it exists
    /// already). Several adapters also list an index on a collection keyed by `_id` only to create the
    /// collection before a transaction writes to it.
    pub async fn create_indexes<const N: usize>(
        &self,
        indexes: [(&str, Document); N],
    ) -> StoreResult<()> {
        for (collection, keys) in indexes {
            self.create_index(collection, keys, false).await?;
        }
        Ok(())
    }
}
