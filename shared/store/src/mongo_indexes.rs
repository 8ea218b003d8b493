//! Start-up index lists, declared as data by each MongoDB adapter.

use bson::Document;

use crate::StoreResult;
use crate::mongo::MongoDb;

impl MongoDb {
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
