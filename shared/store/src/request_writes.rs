//! How long a request's writes wait for records another transaction holds.
//!
//! A MongoDB transaction that meets a transient `WriteConflict` is attempted again for up to two minutes
//! (the consumers' budget, see `mongo.rs`): a transaction left open by a killed process holds its
//! documents until the server aborts it (`transactionLifetimeLimitSeconds`, 60 s by default), and a
//! consumer must outlast it or its event becomes a dead letter. A caller waiting on an HTTP answer cannot
//! wait that long: the request timeout (30 s) would answer first, without saying why. So every HTTP entry
//! point runs its handlers inside [`within_request`], and a transaction started there gives up after
//! [`REQUEST_CONFLICT_BUDGET`] of conflicts with [`StoreError::Contended`](crate::StoreError::Contended),
//! which the HTTP layer answers 503 with a `Retry-After` of [`CONTENDED_RETRY_AFTER`].

use std::future::Future;
use std::time::Duration;

tokio::task_local! {
    static CONFLICT_BUDGET: Duration;
}

/// How long a request's transaction is attempted again while other transactions hold its documents.
pub const REQUEST_CONFLICT_BUDGET: Duration = Duration::from_secs(5);

/// What a request that gave up on held records is told to wait before retrying: by then the server has
/// aborted a transaction left open by a killed process (60 s after it began, by default).
pub const CONTENDED_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Runs `work` (an HTTP handler) so that the transactions it starts give up on conflicts after
/// [`REQUEST_CONFLICT_BUDGET`].
pub async fn within_request<F: Future>(work: F) -> F::Output {
    within_budget(REQUEST_CONFLICT_BUDGET, work).await
}

/// Runs `work` so that the transactions it starts give up on conflicts after `budget`.
pub async fn within_budget<F: Future>(budget: Duration, work: F) -> F::Output {
    CONFLICT_BUDGET.scope(budget, work).await
}

/// The conflict budget of the calling task's request, when it runs inside one.
pub fn conflict_budget() -> Option<Duration> {
    CONFLICT_BUDGET.try_with(|b| *b).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_budget_is_seen_inside_the_scope_only() {
        assert_eq!(conflict_budget(), None);
        let inside = within_request(async { conflict_budget() }).await;
        assert_eq!(inside, Some(REQUEST_CONFLICT_BUDGET));
        let nested = within_budget(Duration::from_secs(1), async {
            within_request(async { conflict_budget() }).await
        })
        .await;
        assert_eq!(nested, Some(REQUEST_CONFLICT_BUDGET));
        assert_eq!(conflict_budget(), None);
    }
}
