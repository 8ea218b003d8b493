//! What every service store has beside its own data — the outbox, the dead letters and a readiness ping —
//! written once for SQLite ([`crate::SqliteDb`]) and MongoDB ([`crate::mongo::MongoDb`]) and given to
//! every service adapter by one blanket implementation: an adapter says which database it keeps
//! ([`Plumbed`]) and is an [`Outbox`], a [`DeadLetterStore`] and [`Plumbing`] through it.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Notify;
use vwc_contracts::Envelope;

use crate::{DeadLetter, DeadLetterStore, NewDeadLetter, Outbox, OutboxId, StoreResult};

/// The port every service store extends: its outbox, its dead letters and whether it can serve.
#[async_trait]
pub trait Plumbing: Outbox + DeadLetterStore {
    /// `Ok` when the store can serve requests (the readiness probe).
    async fn ping(&self) -> StoreResult<()>;
}

/// A service adapter whose outbox, dead letters and ping are those of the database it keeps.
pub trait Plumbed: Send + Sync {
    type Db: Plumbing;
    fn plumbing(&self) -> &Self::Db;
}

#[async_trait]
impl<T: Plumbed> Plumbing for T {
    async fn ping(&self) -> StoreResult<()> {
        self.plumbing().ping().await
    }
}

#[async_trait]
impl<T: Plumbed> Outbox for T {
    async fn pending(&self, limit: usize) -> StoreResult<Vec<(OutboxId, Envelope)>> {
        self.plumbing().pending(limit).await
    }
    async fn pending_except(
        &self,
        limit: usize,
        skip: &std::collections::HashSet<String>,
    ) -> StoreResult<Vec<(OutboxId, Envelope)>> {
        self.plumbing().pending_except(limit, skip).await
    }
    async fn mark_sent(&self, ids: &[OutboxId]) -> StoreResult<()> {
        self.plumbing().mark_sent(ids).await
    }
    async fn dead_letter(&self, id: &OutboxId, letter: NewDeadLetter<'_>) -> StoreResult<()> {
        self.plumbing().dead_letter(id, letter).await
    }
    async fn prune_sent(&self, before: chrono::DateTime<chrono::Utc>) -> StoreResult<u64> {
        self.plumbing().prune_sent(before).await
    }
    fn wakeup(&self) -> Arc<Notify> {
        self.plumbing().wakeup()
    }
}

#[async_trait]
impl<T: Plumbed> DeadLetterStore for T {
    async fn put_dead_letter(&self, letter: NewDeadLetter<'_>) -> StoreResult<()> {
        self.plumbing().put_dead_letter(letter).await
    }
    async fn list_dead_letters(&self) -> StoreResult<Vec<DeadLetter>> {
        self.plumbing().list_dead_letters().await
    }
    async fn mark_replayed(&self, id: i64) -> StoreResult<()> {
        self.plumbing().mark_replayed(id).await
    }
}
