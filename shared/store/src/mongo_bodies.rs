//! Values kept as their JSON text in a document's `body` field (beside the fields their indexes and
//! filters need), read through typed collections: the read every service's Mongo adapter makes.

use futures::TryStreamExt;
use mongodb::Collection;
use mongodb::bson::{Document, doc};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::StoreResult;
use crate::mongo::MongoDb;

/// A document's JSON text: the one field a read of a stored value needs.
#[derive(Debug, Deserialize)]
pub struct Body {
    pub body: String,
}

impl Body {
    /// The stored value.
    pub fn decode<T: DeserializeOwned>(&self) -> StoreResult<T> {
        Ok(serde_json::from_str(&self.body)?)
    }
}

impl MongoDb {
    /// `name` as a collection of `T` documents (a missing or mistyped field is a decode error).
    pub fn typed<T: Send + Sync>(&self, name: &str) -> Collection<T> {
        self.database().collection(name)
    }

    /// The value kept as the `body` of the document `filter` selects in `collection`.
    pub async fn find_body<T: DeserializeOwned>(
        &self,
        collection: &str,
        filter: Document,
    ) -> StoreResult<Option<T>> {
        let found = (self.typed::<Body>(collection).find_one(filter))
            .projection(doc! { "body": 1 })
            .await?;
        found.as_ref().map(Body::decode).transpose()
    }

    /// The values kept as the `body` of every document `filter` selects in `collection`, in `sort`
    /// order.
    pub async fn find_bodies<T: DeserializeOwned>(
        &self,
        collection: &str,
        filter: Document,
        sort: Document,
    ) -> StoreResult<Vec<T>> {
        let found: Vec<Body> = (self.typed::<Body>(collection).find(filter))
            .sort(sort)
            .projection(doc! { "body": 1 })
            .await?
            .try_collect()
            .await?;
        found.iter().map(Body::decode).collect()
    }
}
