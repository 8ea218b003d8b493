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

    /// Creates each `(collection, keys)` index, none of them unique (each a no-op when it exists already):
    /// [`create_indexes_by_collection`](Self::create_indexes_by_collection). Several adapters also list an
    /// index on a collection keyed by `_id` only to create the collection before a transaction writes to
    /// it.
    pub async fn create_indexes<'a>(
        &self,
        indexes: impl IntoIterator<Item = (&'a str, Document)>,
    ) -> StoreResult<()> {
        let indexes = indexes.into_iter().map(|(c, keys)| (c, keys, false));
        self.create_indexes_by_collection(indexes).await
    }

    /// Creates the `(collection, keys, unique)` indexes with one `createIndexes` round trip per collection
    /// (in the order the collections first appear; each index a no-op when it exists with the same options),
    /// instead of one per index: a Lambda function's start-up opens every store it uses and waits for each
    /// round trip in turn (docs/bench.md, row n).
    pub async fn create_indexes_by_collection<'a>(
        &self,
        indexes: impl IntoIterator<Item = (&'a str, Document, bool)>,
    ) -> StoreResult<()> {
        let mut by_collection: Vec<(&str, Vec<(Document, bool)>)> = Vec::new();
        for (collection, keys, unique) in indexes {
            match by_collection.iter_mut().find(|(c, _)| *c == collection) {
                Some((_, models)) => models.push((keys, unique)),
                None => by_collection.push((collection, vec![(keys, unique)])),
            }
        }
        for (collection, models) in by_collection {
            self.create_indexes_on(collection, models).await?;
        }
        Ok(())
    }
}
