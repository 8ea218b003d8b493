//! MongoDB: one database per service, indexes created at start-up, multi-document transactions for the
//! outbox and inbox.
//!
//! Multi-document transactions need a replica set (a single-node replica set is enough) or a sharded
//! cluster; against a standalone `mongod` every transactional write fails. Atlas clusters are replica sets.
//!
//! Two rules every adapter follows:
//! - A command that fails inside a transaction (a duplicate key above all) makes the server abort the
//!   whole transaction. So an *expected* outcome must never be an error inside one: the inbox is claimed
//!   with an upsert (matched = already applied), and uniqueness is checked with a read before the insert,
//!   the unique index only catching races.
//! - Timestamps are stored as the fixed-width RFC 3339 text of [`crate::ts`], so string order is time
//!   order and comparisons behave exactly as in SQLite; the full record is kept alongside as JSON text so
//!   it round-trips exactly (no u64/i64 or key-name restrictions of BSON).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::{
    ErrorKind, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT, WriteFailure,
};
use mongodb::options::{
    IndexOptions, ReadConcern, ReturnDocument, TransactionOptions, WriteConcern,
};
use mongodb::{Client, ClientSession, Collection, Cursor, Database, IndexModel};
use tokio::sync::Notify;
use vwc_contracts::Envelope;

use crate::outbox::{Outbox, OutboxId};
use crate::{DeadLetter, DeadLetterStore, NewDeadLetter, Plumbing, StoreError, StoreResult, ts};

/// Collections every service database has, beside the service's own.
pub const OUTBOX: &str = "outbox";
pub const INBOX: &str = "inbox";
pub const DEAD_LETTERS: &str = "dead_letters";
/// Named counters (`{_id: name, value}`), for the numeric ids of dead letters.
pub const COUNTERS: &str = "counters";

/// The server's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;

/// How long a transaction is attempted again after transient failures before its last error is returned:
/// the drivers' convenient transaction API uses the same 120 s. It must outlast the server's
/// `transactionLifetimeLimitSeconds` (60 s by default): a process killed inside a transaction leaves it
/// open, holding its documents, until the server aborts it, and every transaction touching them meanwhile
/// fails with a transient `WriteConflict`. A shorter budget turned that into a dead letter: after
/// `kill -9` the redelivered event was never projected. A transaction an HTTP request starts has the
/// request's shorter budget instead ([`crate::request_writes`]): its caller is waiting for an answer.
const TRANSACTION_RETRY_BUDGET: Duration = Duration::from_secs(120);
/// The budget instead when the attempts fail because no server can be reached (server selection, I/O): a
/// failover takes seconds, and a deployment that is down should be reported, not waited for — retried for
/// [`TRANSACTION_RETRY_BUDGET`], an edge consumer ran 125 s against its Lambda's 30 s with MongoDB down.
const UNREACHABLE_RETRY_BUDGET: Duration = Duration::from_secs(10);
/// The longest pause between two attempts of a transaction.
const MAX_TRANSACTION_BACKOFF: Duration = Duration::from_secs(1);
/// Retries of a commit whose result is unknown before giving up.
const MAX_COMMIT_RETRIES: u32 = 8;

/// A service's MongoDB database. Cheap to clone (the driver's `Client` is a handle to a shared pool).
#[derive(Clone)]
pub struct MongoDb {
    client: Client,
    db: Database,
    wakeup: Arc<Notify>,
    /// Whose outbox claims are this process's ([`Outbox::claim`]): one per opened database.
    claimant: Arc<str>,
}

/// How many times a claim reads the next pending rows again after other processes' relays claimed every
/// row it read between its read and its update.
const CLAIM_ATTEMPTS: usize = 4;

impl MongoDb {
    /// Connects to `uri` and uses `database`. A process should create one `Client` and share it (see
    /// [`MongoDb::new`]); this is the convenience for a process that talks to one database.
    pub async fn connect(uri: &str, database: &str) -> StoreResult<MongoDb> {
        let client = Client::with_uri_str(uri).await?;
        Ok(MongoDb::new(client, database))
    }

    /// Uses `database` through an existing client.
    pub fn new(client: Client, database: &str) -> MongoDb {
        let db = client.database(database);
        MongoDb {
            client,
            db,
            wakeup: Arc::new(Notify::new()),
            claimant: uuid::Uuid::now_v7().simple().to_string().into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    pub fn collection(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }

    /// Creates the indexes of the outbox, the inbox and the dead letters (and so the collections, which a
    /// transaction on an older server or a sharded cluster cannot create). Idempotent.
    pub async fn ensure_common_indexes(&self) -> StoreResult<()> {
        // Pending rows are `sent_at: null`, read in `_id` order (the envelope's UUID v7, time-ordered).
        self.create_index(OUTBOX, doc! { "sent_at": 1, "_id": 1 }, false)
            .await?;
        // Claims are unique, and pruned by age (`Plumbing::prune_claims`): both in one round trip.
        let claims = [
            (doc! { "consumer": 1, "event_id": 1 }, true),
            (doc! { "applied_at": 1 }, false),
        ];
        self.create_indexes_on(INBOX, claims).await?;
        self.create_index(DEAD_LETTERS, doc! { "replayed_at": 1, "_id": 1 }, false)
            .await?;
        Ok(())
    }

    /// Creates one index on `collection` (a no-op when it exists with the same options).
    pub async fn create_index(
        &self,
        collection: &str,
        keys: Document,
        unique: bool,
    ) -> StoreResult<()> {
        self.create_indexes_on(collection, [(keys, unique)]).await
    }

    /// Creates the indexes `(keys, unique)` on `collection` in one round trip (each a no-op when it exists
    /// with the same options). [`MongoDb::create_indexes`] lists indexes of several collections.
    pub async fn create_indexes_on(
        &self,
        collection: &str,
        indexes: impl IntoIterator<Item = (Document, bool)>,
    ) -> StoreResult<()> {
        let models = indexes.into_iter().map(|(keys, unique)| {
            let options = IndexOptions::builder().unique(unique).build();
            IndexModel::builder().keys(keys).options(options).build()
        });
        self.collection(collection).create_indexes(models).await?;
        Ok(())
    }

    /// Starts a session for a transaction; see [`MongoTransaction`] for the retry loop.
    pub async fn transaction(&self) -> StoreResult<MongoTransaction> {
        Ok(MongoTransaction {
            session: self.client.start_session().await?,
            attempt: 0,
            started: std::time::Instant::now(),
            request_budget: crate::request_writes::conflict_budget(),
        })
    }

    /// Adds envelopes to the outbox inside the caller's transaction. The caller wakes the relay
    /// (`wakeup().notify_one()`) once the transaction has committed.
    pub async fn enqueue(
        &self,
        session: &mut ClientSession,
        envelopes: &[Envelope],
    ) -> StoreResult<()> {
        if envelopes.is_empty() {
            return Ok(());
        }
        let now = ts(&vwc_clock::now());
        let docs = envelopes
            .iter()
            .map(|e| {
                Ok(doc! {
                    "_id": e.id.to_string(),
                    "type": e.event_type().as_str(),
                    "envelope": serde_json::to_string(e)?,
                    "created_at": now.as_str(),
                    "sent_at": Bson::Null,
                })
            })
            .collect::<StoreResult<Vec<Document>>>()?;
        self.collection(OUTBOX)
            .insert_many(docs)
            .session(&mut *session)
            .await?;
        Ok(())
    }

    /// Records that `consumer` applied `event_id`, inside the caller's transaction. Returns `false` when it
    /// had already been applied: the caller must then make no change.
    ///
    /// An upsert rather than an insert: a duplicate-key error would abort the caller's transaction on the
    /// server. Two transactions claiming the same id at once meet a write conflict, which is transient:
    /// the loser retries and then sees the claim.
    pub async fn claim_inbox(
        &self,
        session: &mut ClientSession,
        consumer: &str,
        event_id: &str,
    ) -> StoreResult<bool> {
        let result = self
            .collection(INBOX)
            .update_one(
                doc! { "consumer": consumer, "event_id": event_id },
                doc! { "$setOnInsert": { "applied_at": ts(&vwc_clock::now()) } },
            )
            .upsert(true)
            .session(&mut *session)
            .await?;
        Ok(result.upserted_id.is_some())
    }

    /// The next value of a named counter, starting at 1.
    pub async fn next_id(&self, counter: &str) -> StoreResult<i64> {
        let after = self
            .collection(COUNTERS)
            .find_one_and_update(doc! { "_id": counter }, doc! { "$inc": { "value": 1_i64 } })
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await?
            .ok_or_else(|| StoreError::Other(format!("counter {counter} was not created")))?;
        int(&after, "value")?
            .ok_or_else(|| StoreError::Other(format!("counter {counter} has no value")))
    }
}

/// One transaction, attempted until it commits or fails for good. The body is written inline:
///
/// ```text
/// let mut tx = db.transaction().await?;
/// let answer = loop {
///     tx.begin().await?;
///     let outcome = body(&db, tx.session()).await;      // StoreResult<R>
///     if let Some(answer) = tx.settle(outcome).await? {
///         break answer;
///     }
/// };
/// ```
///
/// `settle` commits an `Ok` body (retrying a commit whose result is unknown), aborts an `Err` one, and
/// asks for another attempt when the server labelled the failure `TransientTransactionError` (a write
/// conflict, a primary stepping down). A body must return every driver error it meets, never swallow it:
/// the server may already have aborted the transaction.
pub struct MongoTransaction {
    session: ClientSession,
    attempt: u32,
    started: std::time::Instant,
    /// How long transient failures other than an unreachable server are attempted again when a request
    /// started the transaction ([`crate::request_writes`]); [`TRANSACTION_RETRY_BUDGET`] when none did.
    request_budget: Option<Duration>,
}

impl MongoTransaction {
    /// Starts the next attempt, after a short backoff when it is a retry.
    pub async fn begin(&mut self) -> StoreResult<()> {
        if self.attempt > 0 {
            let backoff = vwc_clock::Backoff {
                base: Duration::from_millis(10),
                cap: MAX_TRANSACTION_BACKOFF,
            };
            tokio::time::sleep(backoff.delay(self.attempt - 1)).await;
        }
        self.attempt += 1;
        let options = TransactionOptions::builder()
            .read_concern(ReadConcern::snapshot())
            .write_concern(WriteConcern::majority())
            .build();
        self.session
            .start_transaction()
            .with_options(options)
            .await?;
        Ok(())
    }

    pub fn session(&mut self) -> &mut ClientSession {
        &mut self.session
    }

    /// Whether a transient failure may be attempted again (within the conflict budget, or
    /// [`UNREACHABLE_RETRY_BUDGET`] when `unreachable`).
    fn may_retry(&self, unreachable: bool) -> bool {
        let budget = if unreachable {
            UNREACHABLE_RETRY_BUDGET
        } else {
            self.request_budget.unwrap_or(TRANSACTION_RETRY_BUDGET)
        };
        let retry = self.started.elapsed() < budget;
        if retry && self.attempt.is_multiple_of(20) {
            tracing::info!(
                attempt = self.attempt,
                "a mongodb transaction keeps meeting transient failures (a transaction left open by a \
                 killed process holds its documents until the server aborts it); still retrying"
            );
        }
        retry
    }

    /// The error of a transaction whose transient failures outlasted its budget: a request's transaction
    /// that kept meeting conflicts (another transaction holds its documents) says so, as
    /// [`StoreError::Contended`]; anything else keeps its own error.
    fn gave_up(&self, last: StoreError, unreachable: bool) -> StoreError {
        if unreachable || self.request_budget.is_none() {
            return last;
        }
        // The server's name for the failure (`WriteConflict`), not the driver's whole error with its raw reply.
        let failure = match &last {
            StoreError::Mongo(m) => match m.kind.as_ref() {
                ErrorKind::Command(c) if !c.code_name.is_empty() => c.code_name.clone(),
                _ => m.to_string(),
            },
            other => other.to_string(),
        };
        tracing::debug!(error = %last, "the last failure of a request's mongodb transaction");
        tracing::warn!(
            attempts = self.attempt,
            waited_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            %failure,
            "a request's mongodb transaction gave up: another transaction holds its documents (one left \
             open by a killed process is aborted by the server within its transaction lifetime limit)"
        );
        StoreError::Contended(format!(
            "{failure} on every attempt for {} s ({} attempts)",
            self.started.elapsed().as_secs(),
            self.attempt
        ))
    }

    /// Ends the attempt: `Ok(Some(answer))` once committed, `Ok(None)` when the whole transaction should
    /// be attempted again, `Err` when it failed for good (nothing was written).
    pub async fn settle<R>(&mut self, outcome: StoreResult<R>) -> StoreResult<Option<R>> {
        let answer = match outcome {
            Ok(answer) => answer,
            Err(e) => {
                // The server may have aborted already; an abort of an aborted transaction is harmless.
                if let Err(abort) = self.session.abort_transaction().await {
                    tracing::debug!(error = %abort, "aborting a failed mongodb transaction");
                }
                let unreachable = e.unavailable().is_some();
                return if !is_transient(&e) {
                    Err(e)
                } else if self.may_retry(unreachable) {
                    tracing::debug!(error = %e, attempt = self.attempt, "retrying a transaction");
                    Ok(None)
                } else {
                    Err(self.gave_up(e, unreachable))
                };
            }
        };
        let mut commit_retries = 0;
        loop {
            match self.session.commit_transaction().await {
                Ok(()) => return Ok(Some(answer)),
                Err(e)
                    if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
                        && commit_retries < MAX_COMMIT_RETRIES =>
                {
                    commit_retries += 1;
                    tracing::debug!(error = %e, "retrying a commit whose result is unknown");
                }
                Err(e) if e.contains_label(TRANSIENT_TRANSACTION_ERROR) => {
                    let unreachable = crate::mongo_unavailable(&e).is_some();
                    if self.may_retry(unreachable) {
                        tracing::debug!(error = %e, attempt = self.attempt, "retrying a transaction");
                        return Ok(None);
                    }
                    return Err(self.gave_up(e.into(), unreachable));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Whether the server says the whole transaction may be retried.
pub fn is_transient(e: &StoreError) -> bool {
    matches!(e, StoreError::Mongo(m) if m.contains_label(TRANSIENT_TRANSACTION_ERROR))
}

/// Whether the error is a unique-index violation (code 11000), however the driver reports it.
pub fn is_duplicate_key(e: &StoreError) -> bool {
    let StoreError::Mongo(m) = e else {
        return false;
    };
    match m.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(many) => many
            .write_errors
            .iter()
            .flatten()
            .any(|w| w.code == DUPLICATE_KEY),
        ErrorKind::Command(c) => c.code == DUPLICATE_KEY,
        _ => false,
    }
}

/// Reads every document of a cursor.
pub async fn collect(cursor: Cursor<Document>) -> StoreResult<Vec<Document>> {
    Ok(cursor.try_collect().await?)
}

/// A text field (absent or null → `None`).
pub fn text(doc: &Document, field: &str) -> StoreResult<Option<String>> {
    match doc.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(StoreError::Other(format!(
            "field {field} is not text: {other}"
        ))),
    }
}

/// A text field that must be present.
pub fn required_text(doc: &Document, field: &str) -> StoreResult<String> {
    text(doc, field)?.ok_or_else(|| StoreError::Other(format!("field {field} is missing")))
}

/// An integer field (absent or null → `None`), whichever integer width the server chose.
pub fn int(doc: &Document, field: &str) -> StoreResult<Option<i64>> {
    match doc.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Int64(v)) => Ok(Some(*v)),
        Some(Bson::Int32(v)) => Ok(Some(i64::from(*v))),
        Some(other) => Err(StoreError::Other(format!(
            "field {field} is not an integer: {other}"
        ))),
    }
}

pub use crate::mongo_bodies::Body;
pub use crate::parse_ts;

impl MongoDb {
    /// Unsent outbox rows matching `filter`, oldest first.
    async fn pending_matching(
        &self,
        filter: Document,
        limit: usize,
    ) -> StoreResult<Vec<(OutboxId, Envelope)>> {
        let cursor = self
            .collection(OUTBOX)
            .find(filter)
            .sort(doc! { "_id": 1 })
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await?;
        collect(cursor)
            .await?
            .iter()
            .map(|d| {
                let id = required_text(d, "_id")?;
                let envelope = serde_json::from_str(&required_text(d, "envelope")?)?;
                Ok((OutboxId(id), envelope))
            })
            .collect()
    }
}

#[async_trait]
impl Outbox for MongoDb {
    async fn pending(&self, limit: usize) -> StoreResult<Vec<(OutboxId, Envelope)>> {
        self.pending_matching(doc! { "sent_at": Bson::Null }, limit)
            .await
    }

    /// The server leaves out the skipped rows (`$nin`), so they are neither sent nor parsed again.
    async fn pending_except(
        &self,
        limit: usize,
        skip: &std::collections::HashSet<String>,
    ) -> StoreResult<Vec<(OutboxId, Envelope)>> {
        let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
        self.pending_matching(
            doc! { "sent_at": Bson::Null, "_id": { "$nin": skip } },
            limit,
        )
        .await
    }

    /// A claim is `lease_until` (the fixed-width text of `ts()`) and `claimant` on the row: a row is free
    /// when it has no lease, its lease has ended, or the claim is this process's. The pending rows are read
    /// first (the `sent_at`, `_id` index), then claimed with one update that only matches the rows still
    /// free — two processes reading the same rows both update, and the server applies the second update
    /// only to what the first left free. When the update claimed fewer rows than were read, the claimed
    /// ones are read back by claimant; when it claimed none, the next rows are tried.
    async fn claim(
        &self,
        limit: usize,
        skip: &std::collections::HashSet<String>,
        lease: Duration,
    ) -> StoreResult<Vec<(OutboxId, Envelope)>> {
        let now = vwc_clock::now();
        let until =
            ts(&(now + chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::MAX)));
        let claimant = &*self.claimant;
        let free = || {
            doc! { "$or": [
                { "lease_until": Bson::Null },
                { "lease_until": { "$lte": ts(&now) } },
                { "claimant": claimant },
            ] }
        };
        let mut passed: Vec<String> = skip.iter().cloned().collect();
        for _ in 0..CLAIM_ATTEMPTS {
            let mut pending = free();
            pending.insert("sent_at", Bson::Null);
            pending.insert("_id", doc! { "$nin": &passed });
            let rows = self.pending_matching(pending, limit).await?;
            if rows.is_empty() {
                return Ok(rows);
            }
            let ids: Vec<String> = rows.iter().map(|(id, _)| id.0.clone()).collect();
            let mut still_free = free();
            still_free.insert("sent_at", Bson::Null);
            still_free.insert("_id", doc! { "$in": &ids });
            let claimed = self
                .collection(OUTBOX)
                .update_many(
                    still_free,
                    doc! { "$set": { "lease_until": &until, "claimant": claimant } },
                )
                .await?;
            if usize::try_from(claimed.matched_count).is_ok_and(|n| n == rows.len()) {
                return Ok(rows);
            }
            let ours: std::collections::HashSet<String> = collect(
                self.collection(OUTBOX)
                    .find(doc! { "_id": { "$in": &ids }, "claimant": claimant, "sent_at": Bson::Null })
                    .projection(doc! { "_id": 1 })
                    .await?,
            )
            .await?
            .iter()
            .map(|d| required_text(d, "_id"))
            .collect::<StoreResult<_>>()?;
            let mine: Vec<_> = rows
                .into_iter()
                .filter(|(id, _)| ours.contains(&id.0))
                .collect();
            if !mine.is_empty() {
                return Ok(mine);
            }
            passed.extend(ids);
        }
        Ok(Vec::new())
    }

    async fn release(&self, ids: &[OutboxId]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = ids.iter().map(|i| i.0.as_str()).collect();
        self.collection(OUTBOX)
            .update_many(
                doc! { "_id": { "$in": ids }, "claimant": &*self.claimant },
                doc! { "$set": { "lease_until": Bson::Null } },
            )
            .await?;
        Ok(())
    }

    async fn mark_sent(&self, ids: &[OutboxId]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = ids.iter().map(|i| i.0.as_str()).collect();
        self.collection(OUTBOX)
            .update_many(
                doc! { "_id": { "$in": ids } },
                doc! { "$set": { "sent_at": ts(&vwc_clock::now()) } },
            )
            .await?;
        Ok(())
    }

    async fn prune_sent(&self, before: chrono::DateTime<chrono::Utc>) -> StoreResult<u64> {
        // `sent_at` is the fixed-width text of `ts()`, so text order is time order; null (pending) is
        // excluded by `$type`.
        let deleted = self
            .collection(OUTBOX)
            .delete_many(doc! { "sent_at": { "$type": "string", "$lt": ts(&before) } })
            .await?;
        Ok(deleted.deleted_count)
    }

    async fn dead_letter(&self, id: &OutboxId, letter: NewDeadLetter<'_>) -> StoreResult<()> {
        // Dead letter first, then the row: a crash between the two leaves the row pending, and the next
        // pass dead-letters it again (a duplicate dead letter, never a lost event).
        self.put_dead_letter(letter).await?;
        self.collection(OUTBOX)
            .delete_one(doc! { "_id": &id.0 })
            .await?;
        Ok(())
    }

    fn wakeup(&self) -> Arc<Notify> {
        self.wakeup.clone()
    }
}

#[async_trait]
impl DeadLetterStore for MongoDb {
    async fn put_dead_letter(&self, letter: NewDeadLetter<'_>) -> StoreResult<()> {
        // A counter keeps ids small, numeric and in failure order; a crash between the two writes only
        // skips a number.
        let id = self.next_id(DEAD_LETTERS).await?;
        self.collection(DEAD_LETTERS)
            .insert_one(doc! {
                "_id": id,
                "consumer": letter.consumer,
                "envelope": serde_json::to_string(letter.envelope)?,
                "error": letter.error,
                "attempts": i64::from(letter.attempts),
                "failed_at": ts(&vwc_clock::now()),
                "replayed_at": Bson::Null,
            })
            .await?;
        Ok(())
    }

    async fn list_dead_letters(&self) -> StoreResult<Vec<DeadLetter>> {
        let cursor = self
            .collection(DEAD_LETTERS)
            .find(doc! { "replayed_at": Bson::Null })
            .sort(doc! { "_id": 1 })
            .await?;
        let docs = collect(cursor).await?;
        let letters = docs
            .iter()
            .map(|d| {
                let attempts = int(d, "attempts")?.unwrap_or(0);
                Ok(DeadLetter {
                    id: int(d, "_id")?
                        .ok_or_else(|| StoreError::Other("dead letter without an id".into()))?,
                    consumer: required_text(d, "consumer")?,
                    envelope: serde_json::from_str(&required_text(d, "envelope")?)?,
                    error: required_text(d, "error")?,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    failed_at: parse_ts(&required_text(d, "failed_at")?)?,
                    replayed_at: text(d, "replayed_at")?
                        .as_deref()
                        .map(parse_ts)
                        .transpose()?,
                })
            })
            .collect::<StoreResult<Vec<DeadLetter>>>()?;
        Ok(letters)
    }

    async fn mark_replayed(&self, id: i64) -> StoreResult<()> {
        self.collection(DEAD_LETTERS)
            .update_one(
                doc! { "_id": id },
                doc! { "$set": { "replayed_at": ts(&vwc_clock::now()) } },
            )
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Plumbing for MongoDb {
    async fn ping(&self) -> StoreResult<()> {
        self.db.run_command(doc! { "ping": 1 }).await?;
        Ok(())
    }

    async fn prune_claims(&self, before: chrono::DateTime<chrono::Utc>) -> StoreResult<u64> {
        // `applied_at` is the fixed-width text of `ts()`: text order is time order (index `applied_at`).
        let deleted = self
            .collection(INBOX)
            .delete_many(doc! { "applied_at": { "$lt": ts(&before) } })
            .await?;
        Ok(deleted.deleted_count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_error(code: i32) -> StoreError {
        let w: mongodb::error::WriteError =
            mongodb::bson::from_document(doc! { "code": code, "errmsg": "E11000 duplicate key" })
                .unwrap();
        StoreError::Mongo(ErrorKind::Write(WriteFailure::WriteError(w)).into())
    }

    #[test]
    fn only_duplicate_key_errors_count_as_duplicates() {
        assert!(is_duplicate_key(&write_error(11000)));
        assert!(!is_duplicate_key(&write_error(112)));
        assert!(!is_duplicate_key(&StoreError::Conflict("x".into())));
        assert!(!is_transient(&write_error(11000)));
        assert!(!is_transient(&StoreError::NotFound));
    }

    #[test]
    fn integers_of_either_width_are_read() {
        let d = doc! { "a": 1_i32, "b": 2_i64, "c": Bson::Null, "s": "x" };
        assert_eq!(int(&d, "a").unwrap(), Some(1));
        assert_eq!(int(&d, "b").unwrap(), Some(2));
        assert_eq!(int(&d, "c").unwrap(), None);
        assert_eq!(int(&d, "missing").unwrap(), None);
        assert!(int(&d, "s").is_err());
        assert_eq!(text(&d, "s").unwrap().as_deref(), Some("x"));
    }
}
