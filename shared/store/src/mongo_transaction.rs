//! The retry loop every MongoDB adapter wraps around a transaction, written once.

/// Runs `$attempt` — a future that uses the transaction's `$session` (a `&mut ClientSession`) and yields a
/// [`StoreResult`](crate::StoreResult) — as one transaction of `$db` (a [`MongoDb`](crate::mongo::MongoDb)),
/// attempted again while the server calls the failure transient; evaluates to the committed answer and
/// returns a failure for good with `?` from the enclosing function.
///
/// ```text
/// let applied = vwc_store::mongo_transaction!(self.db, |session| self.try_apply(session, &change));
/// let count = vwc_store::mongo_transaction!(self.db, |session| async {
///     let n = count_in(session).await?;
///     Ok(n)
/// });
/// ```
///
/// A macro, not a function taking an async closure: the adapters' futures must be `Send`, which the
/// compiler cannot yet prove through an `AsyncFnMut` that borrows its arguments.
#[macro_export]
macro_rules! mongo_transaction {
    ($db:expr, |$session:ident| $attempt:expr) => {{
        let mut tx = $db.transaction().await?;
        loop {
            tx.begin().await?;
            let outcome: $crate::StoreResult<_> = {
                let $session: &mut ::mongodb::ClientSession = tx.session();
                $attempt.await
            };
            if let Some(answer) = tx.settle(outcome).await? {
                break answer;
            }
        }
    }};
}
