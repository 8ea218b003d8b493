//! The outbox port: rows written in the same transaction as a state change, published later by the relay.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Notify;
use vwc_contracts::Envelope;

use crate::{NewDeadLetter, StoreResult};

/// A state change with the envelopes that announce it: an adapter writes both in one transaction (the
/// transactional outbox), so the envelopes are published exactly when the change is stored.
#[derive(Debug)]
pub struct WithOutbox<'a, T: ?Sized> {
    pub write: &'a T,
    pub outbox: &'a [Envelope],
}

impl<'a, T: ?Sized> WithOutbox<'a, T> {
    pub fn new(write: &'a T, outbox: &'a [Envelope]) -> WithOutbox<'a, T> {
        WithOutbox { write, outbox }
    }
}

// Not derived: a derive would ask `T: Clone`, and only references are held.
impl<T: ?Sized> Clone for WithOutbox<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for WithOutbox<'_, T> {}

/// Opaque position of an outbox row in its store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxId(pub String);

#[async_trait]
pub trait Outbox: Send + Sync {
    /// Unsent rows, oldest first.
    async fn pending(&self, limit: usize) -> StoreResult<Vec<(OutboxId, Envelope)>>;
    /// Up to `limit` unsent rows, oldest first, leaving out the rows whose ids `skip` holds (the relay's
    /// rows in flight). Adapters override it to avoid reading or parsing the skipped rows.
    async fn pending_except(
        &self,
        limit: usize,
        skip: &HashSet<String>,
    ) -> StoreResult<Vec<(OutboxId, Envelope)>> {
        let rows = self.pending(limit + skip.len()).await?;
        Ok(rows
            .into_iter()
            .filter(|(id, _)| !skip.contains(&id.0))
            .take(limit)
            .collect())
    }
    /// [`pending_except`](Self::pending_except) for a relay that may share the store with relays of other
    /// processes (several Lambda instances of one function, several `vwc up --store mongodb` on one
    /// deployment): the rows returned are claimed for `lease`, and until it ends — or they are marked sent or
    /// [released](Self::release) — another process's claim passes them over, so each is published by one
    /// relay. A relay that dies leaves its rows to the others once the lease ends (at least once, never
    /// lost). Claims of the same process do not exclude each other: its relays keep their own rows in flight
    /// out with `skip`, and a flush that must see everything (`settle`) still does.
    ///
    /// The default is for stores only one process opens (a SQLite data dir belongs to one `vwc up`, whose
    /// lock keeps a second off it): nothing to claim against.
    async fn claim(
        &self,
        limit: usize,
        skip: &HashSet<String>,
        lease: std::time::Duration,
    ) -> StoreResult<Vec<(OutboxId, Envelope)>> {
        let _ = lease;
        self.pending_except(limit, skip).await
    }
    /// Ends the claim on `ids` before its lease does (their publish failed): other processes' relays may
    /// take them at once.
    async fn release(&self, ids: &[OutboxId]) -> StoreResult<()> {
        let _ = ids;
        Ok(())
    }
    async fn mark_sent(&self, ids: &[OutboxId]) -> StoreResult<()>;
    /// Moves a row the bus refuses for good (too large, say) out of the pending rows into the dead letters
    /// (as `consumer`, which `vwc dlq list` shows), so the relay can go on with the rows after it.
    async fn dead_letter(&self, id: &OutboxId, letter: NewDeadLetter<'_>) -> StoreResult<()>;
    /// Deletes rows sent before `before` (they are only kept for audit and replays); returns how many.
    async fn prune_sent(&self, before: chrono::DateTime<chrono::Utc>) -> StoreResult<u64>;
    /// Notified after a write that enqueued events, so the relay need not wait for its next poll.
    fn wakeup(&self) -> Arc<Notify>;
}
