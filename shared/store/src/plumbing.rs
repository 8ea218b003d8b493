//! What every service store has beside its own data — the outbox, the dead letters and a readiness ping —
//! written once for SQLite ([`crate::SqliteDb`]) and MongoDB ([`crate::mongo::MongoDb`]) and given to
//! every service adapter by one blanket implementation: an adapter says which database it keeps
//! ([`Plumbed`]) and is an [`Outbox`], a [`DeadLetterStore`] and [`Plumbing`] through it.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Notify;
use vwc_contracts::Envelope;

use crate::{DeadLetter, DeadLetterStore, NewDeadLetter, Outbox, OutboxId, StoreResult};

/// How long a consumer's inbox keeps the claim of an event it applied: longer than any redelivery can
/// come late. SQS keeps a message at most 14 days (and a message redriven from a dead-letter queue was
/// never applied); the in-process bus redelivers only rows its relay had not yet marked sent. Older
/// claims only grow the database: about a dozen per webhook across the services, never read again.
pub const KEEP_CLAIMS: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// The port every service store extends: its outbox, its dead letters, its inbox's claims and whether it
/// can serve.
#[async_trait]
pub trait Plumbing: Outbox + DeadLetterStore {
    /// `Ok` when the store can serve requests (the readiness probe).
    async fn ping(&self) -> StoreResult<()>;
    /// Deletes the inbox claims made before `before` (see [`KEEP_CLAIMS`]); returns how many. An event
    /// delivered again after its claim is gone would be applied again, so `before` must lie further back
    /// than any redelivery.
    async fn prune_claims(&self, before: chrono::DateTime<chrono::Utc>) -> StoreResult<u64>;
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
    async fn prune_claims(&self, before: chrono::DateTime<chrono::Utc>) -> StoreResult<u64> {
        self.plumbing().prune_claims(before).await
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
    async fn claim(
        &self,
        limit: usize,
        skip: &std::collections::HashSet<String>,
        lease: std::time::Duration,
    ) -> StoreResult<Vec<(OutboxId, Envelope)>> {
        self.plumbing().claim(limit, skip, lease).await
    }
    async fn release(&self, ids: &[OutboxId]) -> StoreResult<()> {
        self.plumbing().release(ids).await
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
