//! SQLite: one database file per service, WAL, embedded migrations, and every write through one writer
//! thread that commits queued writes together (each in its own savepoint, so one failure rolls back alone).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Params, Row, params};
use tokio::sync::{Notify, Semaphore, oneshot};
use vwc_contracts::Envelope;

use crate::outbox::{Outbox, OutboxId};
pub use crate::write_batch::{FLUSH_AFTER, batched};
use crate::{DeadLetter, DeadLetterStore, NewDeadLetter, Plumbing, StoreError, StoreResult};

/// A write: runs on the writer thread, says whether it succeeded, and returns how to answer its caller
/// once the transaction's fate is known.
pub(crate) type Finish = Box<dyn FnOnce(Fate) + Send>;

/// What became of a group's transaction, for its writes' callers.
#[derive(Clone, Debug)]
pub(crate) enum Fate {
    Committed,
    /// Rolled back on purpose (a write of it failed, and that write answers its own error), or never begun.
    RolledBack,
    /// COMMIT failed: every write of the group answers this cause (a full disk is a 503, not a 500).
    Failed(Arc<rusqlite::Error>),
}
/// A queued write: given the connection inside the group's transaction it runs and says whether it
/// succeeded; given `None` (the transaction could not begin) it must not touch the database.
pub(crate) type Job = Box<dyn FnOnce(Option<&Connection>) -> (bool, Finish) + Send>;

/// Tables every service database has, before the service's own migrations. A database made before the
/// outbox took its present shape ([`OUTBOX`], [`OUTBOX_MARKS`]) has it rebuilt when it is opened
/// ([`upgrade_outbox`]).
pub const COMMON_MIGRATIONS: &[&str] = &[r#"
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    envelope TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX outbox_pending ON outbox(seq) WHERE sent_at IS NULL;
CREATE TABLE inbox (
    consumer TEXT NOT NULL,
    event_id TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    consumer TEXT NOT NULL,
    envelope TEXT NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    failed_at TEXT NOT NULL,
    replayed_at TEXT
);
"#];

/// The outbox's columns. `seq` is the row id — a new row's is one more than the highest there, so pending
/// rows keep the order they were written in — without `AUTOINCREMENT`, and `event_id` has no index of its
/// own: nothing looks a row up by it. The first shape had both, and each outbox row then updated
/// `sqlite_sequence` and a unique index of 36-byte keys besides the table and the pending index: ≈ 8 % of
/// the CPU of a first maintenance sweep, which writes ≈ 316,000 rows (docs/bench.md, "The outbox without
/// `AUTOINCREMENT`"). A row is written once and never changed: whether it was sent is kept beside it
/// ([`OUTBOX_MARKS`]).
const OUTBOX: &str = "seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL, envelope TEXT NOT NULL,
    created_at TEXT NOT NULL";

/// Where an outbox row stands, by its `seq`: in `outbox_unsent` from the transaction that writes it until
/// the relay marks it sent, then in `outbox_sent` with the time, until it is pruned with its row. The
/// outbox's second shape kept `sent_at` in the row itself, so marking a row sent rewrote its page: half of
/// the pages a burst of webhooks wrote to the WAL — and so checkpointed, and replayed after a crash — were
/// outbox pages written a second time (docs/bench.md, "Stop 56"). A mark is a few bytes on a page of
/// hundreds.
const OUTBOX_MARKS: &str = "CREATE TABLE outbox_unsent (seq INTEGER PRIMARY KEY);
CREATE TABLE outbox_sent (seq INTEGER PRIMARY KEY, sent_at TEXT NOT NULL);";

pub(crate) struct Inner {
    path: PathBuf,
    writer: std::sync::mpsc::Sender<Job>,
    /// The writer thread, joined when the database is dropped ([`Inner`]'s `Drop`).
    writer_thread: Option<std::thread::JoinHandle<()>>,
    /// Jobs handed to the writer thread since the database was opened.
    writer_jobs: std::sync::atomic::AtomicU64,
    readers: Mutex<Vec<Connection>>,
    /// One permit per reader connection: reads beyond it wait here (on the async side) instead of each
    /// opening a connection, with its own page cache, on a thread of its own.
    reader_permits: Arc<Semaphore>,
    outbox_wakeup: Arc<Notify>,
}

/// Reader connections per database: with WAL, readers never wait for the writer or for each other, so
/// more than a couple per core adds memory (a page cache each) and no throughput. Worked out once: asking
/// for the cores reads the cgroup files, and every database opened at start-up asked again.
fn max_readers() -> usize {
    static READERS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *READERS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        (2 * cores).clamp(2, 16)
    })
}

/// Page cache of a reader connection, in KiB (SQLite's default is 2,000 KiB for every connection). The
/// database files are in the kernel's page cache anyway, and a read touches a few pages of an index and
/// its rows; a private cache of 2 MiB on each of up to `max_readers()` connections per database (seven
/// databases) was most of `vwc up`'s peak memory (docs/bench.md, "Memory, cold start and the first
/// sweep"). The writer keeps the default: its transactions are large and it is one per database.
pub const READER_CACHE_KIB: i64 = 512;

/// A service's SQLite database. Cheap to clone.
#[derive(Clone)]
pub struct SqliteDb {
    inner: Arc<Inner>,
}

/// SQLite's page size, and the one a database gets unless its service asks for another
/// ([`SqliteDb::open_with_pages`]).
pub const DEFAULT_PAGE_BYTES: u32 = 4096;

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    open_connection_with_pages(path, DEFAULT_PAGE_BYTES)
}

/// How long a connection waits for a lock another holds before it answers SQLITE_BUSY.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// [`open_connection`] for a database that is created with pages of `page_bytes` (a database that exists
/// keeps the size it was made with: SQLite changes it only by rewriting the file).
fn open_connection_with_pages(path: &Path, page_bytes: u32) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if page_bytes != DEFAULT_PAGE_BYTES {
        // Before anything writes the file's header (setting WAL mode does).
        conn.pragma_update(None, "page_size", page_bytes)?;
    }
    // WAL + synchronous=NORMAL: a committed transaction survives a process crash (kill -9); only an OS crash
    // or power loss can lose the last few commits. FULL would fsync every commit.
    // Turning a new file to WAL takes its lock without SQLite's busy handler: another process doing the
    // same at that moment (`vwc worker`s started together on a new data dir) answers SQLITE_BUSY at once.
    let started = std::time::Instant::now();
    loop {
        match conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        ) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            done => break done?,
        }
    }
    // Plans that do not depend on bound values. Without this, SQLite ≥ 3.47 reads a bound `LIMIT ?`
    // while planning and marks the statement to be re-planned whenever that parameter is bound again —
    // and rusqlite's statement cache clears the bindings of every statement it takes back, so each use of
    // a cached `… LIMIT ?` statement was parsed and planned anew (9.6 % of the server's CPU serving
    // timeline pages; docs/bench.md).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(conn)
}

/// SQLite opens a file it may not write (a read-only or immutable file, a read-only file system) read-only
/// without a word, and such a writer stays read-only after the cause is gone: every write would fail until a
/// restart (`/readyz` 503, the log full of "attempt to write a readonly database"). A service writes its
/// database, so that is a refusal at start, naming the file.
fn refuse_read_only(conn: &Connection, path: &Path) -> StoreResult<()> {
    if conn.is_readonly(rusqlite::MAIN_DB)? {
        return Err(StoreError::Other(format!(
            "{} can be read but not written (a read-only or immutable file, or a read-only file system): \
             every service writes its own database; make it writable and start again",
            path.display()
        )));
    }
    Ok(())
}

/// A pooled read connection: [`open_connection`] with a small page cache ([`READER_CACHE_KIB`]).
fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = open_connection(path)?;
    conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
    Ok(conn)
}

/// Makes SQLite allocate through Rust's global allocator (`vwc` and `vwc-bench` use mimalloc) instead of
/// the C library's `malloc`. With glibc, the page caches of reads that ran on many blocking threads were
/// spread over per-thread arenas that keep freed memory; through the global allocator, freed pages go back
/// to the same allocator as everything else, which returns them to the system.
///
/// Must run before anything in the process uses SQLite, and while no other thread does (call it first
/// thing in `main`). Returns whether SQLite took it: `false` when SQLite was already initialised, in which
/// case it keeps its own allocator and nothing else changes.
pub fn allocate_through_rust() -> bool {
    use rusqlite::ffi;
    let methods = ffi::sqlite3_mem_methods {
        xMalloc: Some(rust_alloc::malloc),
        xFree: Some(rust_alloc::free),
        xRealloc: Some(rust_alloc::realloc),
        xSize: Some(rust_alloc::size),
        xRoundup: Some(rust_alloc::roundup),
        xInit: Some(rust_alloc::init),
        xShutdown: Some(rust_alloc::shutdown),
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: SQLITE_CONFIG_MALLOC takes a pointer to an `sqlite3_mem_methods`, which SQLite copies before
    // returning; the functions it names are the ones below. The caller guarantees no other thread is
    // inside SQLite (documented above); if SQLite is already initialised it refuses (SQLITE_MISUSE)
    // and changes nothing.
    let rc = unsafe {
        ffi::sqlite3_config(
            ffi::SQLITE_CONFIG_MALLOC,
            &methods as *const ffi::sqlite3_mem_methods,
        )
    };
    rc == ffi::SQLITE_OK
}

/// SQLite's allocator interface over Rust's global allocator. Each block carries its size in an 8-byte
/// header (SQLite asks for the size of a block, Rust's `dealloc` needs it, and SQLite wants 8-byte
/// alignment).
mod rust_alloc {
    use std::alloc::Layout;
    use std::ffi::{c_int, c_void};

    const HEADER: usize = 8;

    fn layout(size: usize) -> Option<Layout> {
        Layout::from_size_align(size.checked_add(HEADER)?, HEADER).ok()
    }

    /// The block's start and its size, from the pointer SQLite holds.
    ///
    /// SAFETY: `p` came from [`malloc`] or [`realloc`] and was not freed.
    unsafe fn block(p: *mut c_void) -> (*mut u8, usize) {
        // SAFETY: the header sits `HEADER` bytes before the pointer handed out, inside the same block.
        unsafe {
            let base = p.cast::<u8>().sub(HEADER);
            (base, base.cast::<usize>().read())
        }
    }

    /// Writes the header and returns the pointer SQLite gets.
    ///
    /// SAFETY: `base` is a live block of at least `size + HEADER` bytes, 8-byte aligned.
    unsafe fn hand_out(base: *mut u8, size: usize) -> *mut c_void {
        if base.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: the block is large enough for the header and `size` bytes after it.
        unsafe {
            base.cast::<usize>().write(size);
            base.add(HEADER).cast()
        }
    }

    pub unsafe extern "C" fn malloc(n: c_int) -> *mut c_void {
        let Some((size, layout)) = usize::try_from(n).ok().and_then(|s| Some((s, layout(s)?)))
        else {
            return std::ptr::null_mut();
        };
        // SAFETY: the layout is never zero-sized (it includes the header).
        unsafe { hand_out(std::alloc::alloc(layout), size) }
    }

    pub unsafe extern "C" fn free(p: *mut c_void) {
        if p.is_null() {
            return;
        }
        // SAFETY: SQLite frees only what `malloc`/`realloc` gave it, once; the layout is the one it was
        // allocated with.
        unsafe {
            let (base, size) = block(p);
            if let Some(layout) = layout(size) {
                std::alloc::dealloc(base, layout);
            }
        }
    }

    pub unsafe extern "C" fn realloc(p: *mut c_void, n: c_int) -> *mut c_void {
        if p.is_null() {
            // SAFETY: as `malloc`.
            return unsafe { malloc(n) };
        }
        let Some(new_size) = usize::try_from(n).ok().filter(|s| layout(*s).is_some()) else {
            return std::ptr::null_mut();
        };
        // SAFETY: `p` is live (SQLite's contract); the old layout is the one it was allocated with, and
        // the new size with its header fits a `Layout` (checked above).
        unsafe {
            let (base, old_size) = block(p);
            let Some(old) = layout(old_size) else {
                return std::ptr::null_mut();
            };
            hand_out(std::alloc::realloc(base, old, new_size + HEADER), new_size)
        }
    }

    pub unsafe extern "C" fn size(p: *mut c_void) -> c_int {
        if p.is_null() {
            return 0;
        }
        // SAFETY: `p` is live (SQLite's contract); sizes were `c_int`s when allocated.
        unsafe { c_int::try_from(block(p).1).unwrap_or(c_int::MAX) }
    }

    pub unsafe extern "C" fn roundup(n: c_int) -> c_int {
        n.saturating_add(7) & !7
    }

    pub unsafe extern "C" fn init(_: *mut c_void) -> c_int {
        rusqlite::ffi::SQLITE_OK
    }

    pub unsafe extern "C" fn shutdown(_: *mut c_void) {}
}

/// The writer's own connection: [`open_connection`], with the WAL checkpointed by [`Checkpoints`] instead
/// of by SQLite's automatic checkpoint on the committing connection. A checkpoint copies the newest version
/// of each page the WAL holds into the database and fsyncs both files; run by the writer, every write of the
/// service waited behind it (the first sweep of 100,000 vehicles checkpointed ≈ 60 times; docs/bench.md).
fn open_writer_connection(path: &Path, page_bytes: u32) -> rusqlite::Result<Connection> {
    let mut conn = open_connection_with_pages(path, page_bytes)?;
    let page_bytes: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
    let mut checkpoints = Checkpoints::new(path, page_bytes);
    conn.wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages| {
        checkpoints.after_commit(wal, pages);
        Ok(())
    }))?;
    // Every service's writes and the group's control statements stay prepared (the default keeps 16).
    conn.set_prepared_statement_cache_capacity(WRITER_STATEMENT_CACHE);
    Ok(conn)
}

/// WAL pages (of 4 KiB; fewer of larger pages, the same bytes) after which a commit has the WAL
/// checkpointed; SQLite's default is 1,000. The hot pages (the outbox's and the inbox's last leaves, the
/// indexes' right edges) are rewritten by nearly every commit, so a longer WAL copies (and fsyncs) far fewer
/// pages per write. Each database's WAL grows to about 16 MiB on disk before it is checkpointed and reused.
const WAL_CHECKPOINT_PAGES: i32 = 4_000;

/// WAL pages after which the writer checkpoints itself, as SQLite's automatic checkpoint did. The WAL goes
/// back to its start only when a write transaction begins with every frame copied; a writer busy without
/// a pause begins its next transaction before a checkpoint run elsewhere ends, so the WAL would grow for as
/// long as the writes keep coming. Here the writer waits for the checkpoint thread's run to end and copies
/// what is left itself, right after its commit, so its next transaction starts the WAL over.
const WAL_WRITER_CHECKPOINT_PAGES: i32 = 4 * WAL_CHECKPOINT_PAGES;

/// The writer connection's WAL checkpoints (PASSIVE, SQLite's default): past [`WAL_CHECKPOINT_PAGES`] a
/// commit wakes a thread of the database's own (started at the first need) that checkpoints on a
/// connection of its own — SQLite lets a checkpoint run beside the writer and the readers; it copies the
/// frames committed when it began and blocks neither. Past [`WAL_WRITER_CHECKPOINT_PAGES`] (or without the
/// thread) the writer checkpoints itself.
struct Checkpoints {
    path: PathBuf,
    /// [`WAL_CHECKPOINT_PAGES`] and [`WAL_WRITER_CHECKPOINT_PAGES`] in this database's pages.
    thread_at: i32,
    writer_at: i32,
    /// Wakes the checkpoint thread; holds one wake-up at most (a second would find nothing more to do).
    wake: Option<std::sync::mpsc::SyncSender<()>>,
    /// The checkpoint thread, joined when the writer's connection drops its hook (before it closes).
    thread: Option<std::thread::JoinHandle<()>>,
    /// The thread could not be started or its connection opened: the writer checkpoints.
    no_thread: bool,
    /// Held while a checkpoint runs, by the thread or the writer: the writer's own waits for the thread's
    /// (SQLite would answer it SQLITE_BUSY at once) and the thread starts no new one meanwhile.
    running: Arc<Mutex<()>>,
}

impl Checkpoints {
    fn new(path: &Path, page_bytes: i64) -> Checkpoints {
        let scale = (page_bytes / i64::from(DEFAULT_PAGE_BYTES)).clamp(1, 16) as i32;
        Checkpoints {
            path: path.to_path_buf(),
            thread_at: WAL_CHECKPOINT_PAGES / scale,
            writer_at: WAL_WRITER_CHECKPOINT_PAGES / scale,
            wake: None,
            thread: None,
            no_thread: false,
            running: Arc::new(Mutex::new(())),
        }
    }

    /// Called by SQLite on the writer thread after each commit, with the WAL's length in pages. A failed
    /// checkpoint is only logged: the commit happened, and a later one tries again.
    fn after_commit(&mut self, wal: &mut rusqlite::hooks::Wal, pages: i32) {
        if pages < self.thread_at {
            return;
        }
        if pages < self.writer_at && self.wake_checkpointer() {
            return;
        }
        let _running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = wal.checkpoint() {
            tracing::warn!(error = %e, pages, "the writer's WAL checkpoint failed");
        }
    }

    /// Wakes the checkpoint thread, starting it the first time; `false` when there is none.
    fn wake_checkpointer(&mut self) -> bool {
        if self.no_thread {
            return false;
        }
        if self.wake.is_none() {
            (self.wake, self.thread) = spawn_checkpointer(&self.path, self.running.clone()).unzip();
        }
        let woken = self.wake.as_ref().is_some_and(|wake| {
            !matches!(
                wake.try_send(()),
                Err(std::sync::mpsc::TrySendError::Disconnected(()))
            )
        });
        self.no_thread = !woken;
        woken
    }
}

impl Drop for Checkpoints {
    /// Stops the checkpoint thread (its wake-up channel closes; a run under way ends first) and waits for it
    /// to close its connection.
    fn drop(&mut self) {
        self.wake = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!(path = %self.path.display(), "the WAL checkpoint thread panicked");
        }
    }
}

/// Starts the database's checkpoint thread: its wake-up and the thread; `None` (logged) when the thread
/// cannot be started.
fn spawn_checkpointer(
    path: &Path,
    running: Arc<Mutex<()>>,
) -> Option<(std::sync::mpsc::SyncSender<()>, std::thread::JoinHandle<()>)> {
    let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
    let name = format!(
        "sqlite-ckpt-{}",
        path.file_stem().and_then(|s| s.to_str()).unwrap_or("db")
    );
    let path = path.to_path_buf();
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        // A checkpoint reads WAL frames and writes database pages without going through the page cache,
        // so its connection keeps a small one.
        let conn = match open_connection(&path).and_then(|c| {
            c.pragma_update(None, "cache_size", -CHECKPOINTER_CACHE_KIB)
                .map(|()| c)
        }) {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "the WAL checkpoint thread could not open the database; the writer checkpoints");
                return;
            }
        };
        // Ends when the writer's connection, which holds the other end, is closed.
        while woken.recv().is_ok() {
            let _running = running.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, path = %path.display(), "a WAL checkpoint failed");
            }
        }
    });
    match spawned {
        Ok(thread) => Some((wake, thread)),
        Err(e) => {
            tracing::warn!(error = %e, "starting the WAL checkpoint thread failed; the writer checkpoints");
            None
        }
    }
}

/// The checkpoint thread's page cache.
const CHECKPOINTER_CACHE_KIB: i64 = 64;

/// Prepared statements the writer's connection keeps.
const WRITER_STATEMENT_CACHE: usize = 64;

impl SqliteDb {
    /// Opens (creating if needed) the database at `path` and applies the common and the service's
    /// migrations in order, tracked by `PRAGMA user_version`.
    pub fn open(path: &Path, migrations: &[&str]) -> StoreResult<SqliteDb> {
        SqliteDb::open_with_pages(path, migrations, DEFAULT_PAGE_BYTES)
    }

    /// [`open`](Self::open), creating a new database with pages of `page_bytes` (a power of two from 512
    /// to 65,536; a database that exists keeps its own). Larger pages suit a database written mostly in
    /// bulk — fewer WAL frames, each written with two `pwrite`s, and fewer B-tree pages to balance per
    /// row — and cost a small write more: every page it changes is written whole.
    pub fn open_with_pages(
        path: &Path,
        migrations: &[&str],
        page_bytes: u32,
    ) -> StoreResult<SqliteDb> {
        if let Some(parent) = path.parent() {
            create_private_dir(parent)
                .map_err(|e| StoreError::Other(format!("creating {}: {e}", parent.display())))?;
        }
        make_private_file(path)
            .map_err(|e| StoreError::Other(format!("protecting {}: {e}", path.display())))?;
        // Frames in the WAL before this process opens it: what a process that did not close it left (a
        // crash), emptied soon once the writer is quiet ([`LEFT_WAL_EMPTIED_AFTER`]).
        let left_wal = std::fs::metadata(wal_path(path)).is_ok_and(|m| m.len() > 0);
        let mut conn = open_writer_connection(path, page_bytes)?;
        refuse_read_only(&conn, path)?;
        migrate(&mut conn, migrations)?;
        // The sub-journal (the pages a savepoint or a statement may have to roll back) in memory. By
        // default SQLite spills it to a temporary file past 64 KiB, so a group of jobs (a savepoint each)
        // opened a file and wrote every page it changed through `pwrite`: 6.5 % of the server's CPU under
        // webhook ingest (docs/bench.md, "The sub-journal in memory"). It serves only a rollback inside the
        // open transaction — recovery after a crash reads the WAL, never it — and is emptied whenever the
        // outermost savepoint is released, so it holds one job's pages at most. Set after the migrations,
        // which keep the default: a migration's temporary tables over a large table may spill to disk.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let name = format!(
            "sqlite-writer-{}",
            path.file_stem().and_then(|s| s.to_str()).unwrap_or("db")
        );
        let writer_thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || writer_thread(conn, rx, left_wal))
            .map_err(|e| StoreError::Other(format!("spawning the writer: {e}")))?;
        Ok(SqliteDb {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: tx,
                writer_thread: Some(writer_thread),
                writer_jobs: Default::default(),
                readers: Mutex::new(Vec::new()),
                reader_permits: Arc::new(Semaphore::new(max_readers())),
                outbox_wakeup: Arc::new(Notify::new()),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in a write transaction on the writer thread; resolves once committed.
    pub async fn write<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let Some(conn) = conn else {
                // No transaction: running `f` would write in autocommit mode, statement by statement,
                // after the caller was told it failed.
                let finish: Finish = Box::new(move |_| {
                    let _ = tx.send(Err(StoreError::Other(
                        "the write was not run: its transaction could not begin (the database is busy), \
                         or an earlier write of its delivery batch failed"
                            .into(),
                    )));
                });
                return (false, finish);
            };
            // A panicking write fails alone (its savepoint is rolled back) and the writer goes on.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)))
                .unwrap_or_else(|panic| {
                    let message = panic_message(panic.as_ref());
                    tracing::error!(panic = %message, "a write panicked on the sqlite writer; it was rolled back");
                    Err(StoreError::Other(format!("the write panicked: {message}")))
                });
            let ok = result.is_ok();
            let finish: Finish = Box::new(move |fate| {
                // A failed write answers its own error whatever became of the others.
                let answer = match (result, fate) {
                    (Ok(_), Fate::RolledBack) => {
                        Err(StoreError::Other("the transaction did not commit".into()))
                    }
                    (Ok(_), Fate::Failed(cause)) => Err(StoreError::did_not_commit(&cause)),
                    (answer, _) => answer,
                };
                let _ = tx.send(answer);
            });
            (ok, finish)
        });
        // Inside a delivery batch the job joins the batch's one job (`write_batch`); otherwise it goes now.
        if let Some(job) = crate::write_batch::join(&self.inner, job) {
            self.inner.send(job).map_err(|_| StoreError::Closed)?;
        }
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// How many jobs this database has handed to its writer thread since it was opened: one per write,
    /// or one per database and round for the writes of a [`batched`](crate::sqlite::batched) delivery batch.
    pub fn writer_jobs(&self) -> u64 {
        self.inner
            .writer_jobs
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Readiness: a read, then an empty write through the writer thread answered within
    /// [`WRITER_PING_TIMEOUT`] — a writer that is gone or stuck makes the store unready.
    pub async fn ping(&self) -> StoreResult<()> {
        self.read(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
            .await?;
        // A real write — page 1, rewritten with the value it holds — so a database that cannot be written
        // (a full disk, a read-only or immutable file) fails the ping, not only the next request's write:
        // an empty transaction commits without touching the file.
        let rewrite_header = |conn: &Connection| {
            let id: i64 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
            conn.pragma_update(None, "application_id", id)?;
            Ok(())
        };
        match tokio::time::timeout(WRITER_PING_TIMEOUT, self.write(rewrite_header)).await {
            Ok(answer) => answer,
            Err(_) => Err(StoreError::Other(format!(
                "the sqlite writer of {} did not answer within {} s",
                self.inner.path.display(),
                WRITER_PING_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Like [`write`](Self::write), and wakes the outbox relay afterwards (the write enqueued events).
    pub async fn write_with_events<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let r = self.write(f).await;
        if r.is_ok() {
            self.inner.outbox_wakeup.notify_one();
        }
        r
    }

    /// Runs `f` on a pooled read connection on the blocking pool.
    pub async fn read<R, F>(&self, f: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let inner = self.inner.clone();
        let permit = inner
            .reader_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Other(format!("reader permits closed: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            with_reader(&inner, f)
        })
        .await
        .map_err(|e| StoreError::Other(format!("reader task failed: {e}")))?
    }

    /// The first row the cached statement `sql` selects with `params`, read by `row`; `None` when no row
    /// matches. A read on the blocking pool ([`read`](Self::read)); `params` are owned values (a tuple or
    /// an array) moved there.
    pub async fn query_optional<T, P, F>(
        &self,
        sql: &'static str,
        params: P,
        row: F,
    ) -> StoreResult<Option<T>>
    where
        T: Send + 'static,
        P: Params + Send + 'static,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T> + Send + 'static,
    {
        self.read(move |conn| optional(conn.prepare_cached(sql)?.query_row(params, row)))
            .await
    }

    /// Runs `f` on a pooled read connection **on the calling task's thread**, without the hand-off to the
    /// blocking pool and back that [`read`](Self::read) makes (two thread wake-ups: under load, a quarter of
    /// the server's CPU went to the kernel switching threads; docs/bench.md). Only for reads bounded by an
    /// index and a small `LIMIT` — a page of rows, tens to hundreds of microseconds: a WAL reader never
    /// waits for the writer, but while `f` runs no other task runs on this runtime thread, so a scan or an
    /// unbounded read belongs in [`read`](Self::read).
    pub async fn read_inline<R, F>(&self, f: F) -> StoreResult<R>
    where
        F: FnOnce(&Connection) -> StoreResult<R>,
    {
        let _permit = self
            .inner
            .reader_permits
            .acquire()
            .await
            .map_err(|e| StoreError::Other(format!("reader permits closed: {e}")))?;
        with_reader(&self.inner, f)
    }
}

/// Closing a database waits for its connections to close. SQLite empties the WAL into the database (and
/// removes the file) when the last connection to it closes; closed by the writer and checkpoint threads on
/// their own time, they could still be closing when a process exited right after dropping its stores, leaving
/// the WAL — tens of MB after a burst — for the next start to replay before it answers (docs/bench.md, "Stop
/// 55"). Here the writer's channel is closed, the writer thread finishes the jobs already queued, stops the
/// checkpoint thread and closes its connection, and is joined; the pooled readers close after it, the last of
/// them emptying the WAL.
impl Drop for Inner {
    fn drop(&mut self) {
        let (closed, _) = std::sync::mpsc::channel();
        drop(std::mem::replace(&mut self.writer, closed));
        if let Some(writer) = self.writer_thread.take()
            // The last handle dropped by a job on the writer thread itself: that thread ends by itself.
            && writer.thread().id() != std::thread::current().id()
            && writer.join().is_err()
        {
            tracing::error!(path = %self.path.display(), "the sqlite writer thread panicked while closing");
        }
    }
}

impl Inner {
    /// Hands `job` to the writer thread; gives it back when the thread is gone.
    pub(crate) fn send(&self, job: Job) -> Result<(), Job> {
        self.writer_jobs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.writer
            .send(job)
            .map_err(|std::sync::mpsc::SendError(job)| job)
    }
}

/// Runs `f` on a reader connection taken from the pool (opened when the pool has none free) and puts
/// the connection back. The caller holds a reader permit.
fn with_reader<R>(inner: &Inner, f: impl FnOnce(&Connection) -> StoreResult<R>) -> StoreResult<R> {
    let conn = inner.readers.lock().unwrap().pop();
    let conn = match conn {
        Some(c) => c,
        None => open_reader(&inner.path)?,
    };
    let r = f(&conn);
    inner.readers.lock().unwrap().push(conn);
    r
}

/// Creates `dir` (and its parents) readable by this user only (0700 on Unix): the databases in it hold
/// dealer and outbound webhook secrets. An existing directory is left as it is, with a warning when other
/// users can read it.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if let Ok(meta) = std::fs::metadata(dir)
        && !meta.is_dir()
    {
        // DirBuilder would say only "File exists".
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is a file, not a directory", dir.display()),
        ));
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        // Every database opens its directory through here: one warning a directory, not one a database.
        static WARNED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
        if mode & 0o077 != 0 {
            let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
            if !warned.iter().any(|d| d == dir) {
                warned.push(dir.to_path_buf());
                tracing::warn!(dir = %dir.display(), mode = format!("{:o}", mode & 0o777), "the data directory is open to other users; chmod 700 it");
            }
        }
    }
    Ok(())
}

/// Creates the database file empty with mode 0600 before SQLite opens it (SQLite gives its `-wal` and
/// `-shm` files the database file's mode), or takes an existing one back to 0600.
fn make_private_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                for file in [
                    path.to_path_buf(),
                    wal_path(path),
                    PathBuf::from(format!("{}-shm", path.display())),
                ] {
                    if let Ok(meta) = std::fs::metadata(&file)
                        && meta.permissions().mode() & 0o077 != 0
                    {
                        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The WAL file SQLite keeps beside the database at `path`.
fn wal_path(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

fn migrate(conn: &mut Connection, migrations: &[&str]) -> StoreResult<()> {
    let all: Vec<&str> = COMMON_MIGRATIONS
        .iter()
        .chain(migrations)
        .copied()
        .collect();
    let current: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    if current > all.len() {
        return Err(StoreError::Other(format!(
            "database schema version {current} is newer than this build ({})",
            all.len()
        )));
    }
    // An existing database being upgraded is told about: a migration that rewrites a large table (the
    // edge's timeline, clustered by vehicle) takes seconds once, before the service answers.
    let upgrade = (current > 0 && current < all.len()).then(|| {
        let db = conn.path().unwrap_or_default().to_string();
        tracing::info!(%db, from = current, to = all.len(), "upgrading the database schema");
        (db, std::time::Instant::now())
    });
    // Each step takes the write lock first and reads the version again under it: processes opening one
    // data dir at once (`vwc worker` per service beside `vwc up`) wait for each other's step instead of
    // running it twice ("table outbox already exists").
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version = tx.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
        let Some(sql) = all.get(version) else { break };
        tx.execute_batch(sql).map_err(|e| {
            StoreError::Other(format!(
                "schema step {} of {} failed: {e}. The database says it ran {version} steps, and their \
                 shape does not match this build's: it was made by a build whose steps differ (a development \
                 build of a reordered list; shared/store/migrations.lock pins them since); the step was rolled back",
                version + 1,
                all.len()
            ))
        })?;
        tx.pragma_update(None, "user_version", (version + 1) as i64)?;
        tx.commit()?;
    }
    upgrade_outbox(conn)?;
    if let Some((db, started)) = upgrade {
        let elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(%db, version = all.len(), elapsed_ms, "database schema upgraded");
    }
    Ok(())
}

/// Rebuilds an outbox made in an earlier shape as [`OUTBOX`] with its [`OUTBOX_MARKS`], keeping every row,
/// its `seq` and whether (and when) it was sent, in one transaction; an outbox already in that shape is
/// left as it is. The earlier shapes kept `sent_at` in the row: the first also had `seq … AUTOINCREMENT` and
/// `event_id … UNIQUE`, the second a partial index of the pending rows (a new database's common migration
/// still makes that one, [`COMMON_MIGRATIONS`], and it is upgraded here while empty).
/// Not a numbered migration: the common migrations share `user_version` with each service's own, so one
/// added to them would renumber every service's.
fn upgrade_outbox(conn: &mut Connection) -> StoreResult<()> {
    // Under the write lock, so another process upgrading the same database is waited for, not repeated.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let sql: Option<String> = tx
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'outbox'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let Some(sql) = sql.filter(|sql| sql.contains("sent_at")) else {
        return Ok(());
    };
    let started = std::time::Instant::now();
    tx.execute_batch(&format!(
        "{OUTBOX_MARKS}
         INSERT INTO outbox_unsent (seq) SELECT seq FROM outbox WHERE sent_at IS NULL ORDER BY seq;
         INSERT INTO outbox_sent (seq, sent_at)
           SELECT seq, sent_at FROM outbox WHERE sent_at IS NOT NULL ORDER BY seq;"
    ))?;
    if sql.contains("AUTOINCREMENT") {
        tx.execute_batch(&format!(
            "CREATE TABLE outbox_reshaped ({OUTBOX});
             INSERT INTO outbox_reshaped (seq, event_id, envelope, created_at)
               SELECT seq, event_id, envelope, created_at FROM outbox ORDER BY seq;
             DROP TABLE outbox;
             ALTER TABLE outbox_reshaped RENAME TO outbox;"
        ))?;
    } else {
        // Rewrites each row in place: a copy into a new table, as the first shape needs, doubles the file.
        // An outbox of 316,000 rows (433 MB, a first sweep's) in Python's SQLite 3.40.1: 1.7 s, the WAL
        // 445 MB, the file as it was — against 4.3 s, 881 MB and a file of 876 MB (docs/bench.md, "Stop 56").
        tx.execute_batch(
            "DROP INDEX IF EXISTS outbox_pending;
             ALTER TABLE outbox DROP COLUMN sent_at;",
        )?;
    }
    let rows: i64 = tx.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
    tx.commit()?;
    if rows > 0 {
        let db = conn.path().unwrap_or_default().to_string();
        let elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(%db, rows, elapsed_ms, "outbox rebuilt with its sent marks beside its rows");
    }
    Ok(())
}

/// Most jobs committed together in one transaction.
const GROUP_COMMIT_MAX: usize = 128;

/// How long `/readyz` waits for the writer thread to answer an empty write.
pub const WRITER_PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// The writer thread: runs groups until every sender is gone. A panic that escapes a group (the jobs
/// catch their own) is logged, the open transaction rolled back, and the loop starts again on the same
/// connection, so one bad write never stops every later one.
fn writer_thread(mut conn: Connection, rx: std::sync::mpsc::Receiver<Job>, mut left_wal: bool) {
    loop {
        // After a panic the loop starts again with nothing left to empty early.
        let left = std::mem::take(&mut left_wal);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            writer_loop(&conn, &rx, left)
        })) {
            Ok(()) => {
                // Every handle is gone. The checkpoint thread is stopped and joined while this connection is
                // still open and idle (dropping the hook drops its `Checkpoints`); then the connection closes.
                if let Err(e) = conn
                    .wal_hook(None::<fn(&mut rusqlite::hooks::Wal, i32) -> rusqlite::Result<()>>)
                {
                    tracing::warn!(error = %e, "removing the WAL hook before closing failed");
                }
                drop(conn);
                return;
            }
            Err(panic) => {
                tracing::error!(panic = %panic_message(panic.as_ref()), "the sqlite writer panicked; restarting it");
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
            }
        }
    }
}

/// How long the writer goes without a job, from its start, before it empties the WAL a previous process
/// may have left ([`empty_wal`]). A process that was killed leaves its WAL behind, and every later open
/// replays all of it to rebuild the WAL index, so it is emptied soon: the next start finds nothing to
/// replay. Not at once: copying tens of MiB into the database on every writer thread while the others
/// open their databases and the server starts took the cores the start needed — the first start after a
/// crash answered `/healthz` after 23–46 ms; 14–18 ms with this spell and the opening threads balanced
/// (docs/bench.md, "Stop 57"). Writes do not wait for it; they go on after the frames left.
const LEFT_WAL_EMPTIED_AFTER: std::time::Duration = std::time::Duration::from_millis(250);

/// Quiet spells of [`LEFT_WAL_EMPTIED_AFTER`] in which the writer tries to empty the WAL it found before it
/// leaves it to the thresholds and the long idle emptying: a reader still on the WAL makes a try stop.
const LEFT_WAL_TRIES: u32 = 40;

/// How long a writer goes without a job before it hands back the pages its connection caches.
const SHRINK_WHEN_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a writer goes without a job before it empties its WAL file ([`empty_wal`]). Not sooner: the
/// next burst writes its WAL again by growing the file, which costs more than writing over it — emptied
/// after 2 s, the webhook lag of the bench's row (d), run a few seconds after the ingest run, read p50
/// 1.2–1.7 ms / p99 8–11 ms against 0.9–1.2 / 5–7 ms (docs/bench.md).
const EMPTY_WAL_WHEN_IDLE_FOR: std::time::Duration = if cfg!(test) {
    std::time::Duration::from_secs(6)
} else {
    std::time::Duration::from_secs(60)
};

fn writer_loop(conn: &Connection, rx: &std::sync::mpsc::Receiver<Job>, left_wal: bool) {
    use std::sync::mpsc::RecvTimeoutError;
    use std::time::Instant;
    // What is left to do once the writes stop: keep a read open for the readers (soon), hand back the
    // page cache, then empty the WAL; and while the read is kept, move it to the newest snapshot now and
    // then.
    // What a previous process left in the WAL is emptied after a short quiet spell; from then on (and from
    // the start when it left nothing) after a long one.
    let (mut cached, mut wal_written) = (false, left_wal);
    let mut left_wal_tries = if left_wal { LEFT_WAL_TRIES } else { 0 };
    let empty_wal_after = |left_wal_tries: u32| {
        if left_wal_tries > 0 {
            LEFT_WAL_EMPTIED_AFTER
        } else {
            EMPTY_WAL_WHEN_IDLE_FOR
        }
    };
    let mut keeper = ReadKeeper::default();
    let mut idle_since = Instant::now();
    loop {
        let due = [
            keeper.due(idle_since),
            cached.then(|| idle_since + SHRINK_WHEN_IDLE_FOR),
            wal_written.then(|| idle_since + empty_wal_after(left_wal_tries)),
        ]
        .into_iter()
        .flatten()
        .min();
        let first = match due {
            Some(due) => match rx.recv_timeout(due.saturating_duration_since(Instant::now())) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    if cached && now >= idle_since + SHRINK_WHEN_IDLE_FOR {
                        shrink_page_cache(conn);
                        cached = false;
                    }
                    if wal_written && now >= idle_since + empty_wal_after(left_wal_tries) {
                        keeper.release(conn);
                        let emptied = empty_wal(conn);
                        left_wal_tries = if emptied {
                            0
                        } else {
                            left_wal_tries.saturating_sub(1)
                        };
                        if emptied || left_wal_tries == 0 {
                            wal_written = false;
                        } else {
                            // What a crash left is worth another try after the next quiet spell: a
                            // reader at work (a relay's first scan) made this one stop.
                            idle_since = now;
                        }
                    }
                    if keeper.due(idle_since).is_some_and(|at| now >= at) {
                        keeper.renew(conn);
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        keeper.release(conn);
        wal_written = true;
        cached = true;
        let mut jobs = vec![first];
        while jobs.len() < GROUP_COMMIT_MAX {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        run_group(conn, jobs);
        idle_since = Instant::now();
    }
    keeper.release(conn);
}

/// How long the writer goes without a job before it opens the read [`ReadKeeper`] keeps.
const KEEP_READ_AFTER: std::time::Duration = std::time::Duration::from_millis(20);

/// How often a kept read moves to the newest snapshot: another process's commits (`vwc sweep` beside
/// `vwc up`) cannot be checkpointed past the snapshot it holds.
const KEEP_READ_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// A read transaction the idle writer keeps open on its connection, so that the pooled readers' own read
/// transactions find their WAL-index read lock already held in this process. SQLite's unix VFS asks the
/// operating system for a shared lock (`fcntl`) only when no other connection of the process holds it,
/// and releases it when the last one lets go: without a holder, the two busiest readers took and released
/// it on nearly every read (≈ 9 % of the server's CPU serving timeline pages; docs/bench.md). Held only
/// while no write comes (a job releases it before its transaction, and it is opened again only after
/// [`KEEP_READ_AFTER`] without one), moved to the newest snapshot every [`KEEP_READ_FOR`], and released
/// before the idle WAL is emptied, so it neither delays a write nor pins the WAL for long.
#[derive(Default)]
struct ReadKeeper {
    /// When the kept read was opened (or last failed to open); `None` while none is kept.
    since: Option<std::time::Instant>,
    open: bool,
}

impl ReadKeeper {
    /// When the keeper has something to do: open a read once the writer has been idle a while, or move
    /// the one it keeps to the newest snapshot.
    fn due(&self, idle_since: std::time::Instant) -> Option<std::time::Instant> {
        Some(match self.since {
            Some(since) => since + KEEP_READ_FOR,
            None => idle_since + KEEP_READ_AFTER,
        })
    }

    /// Opens the read (ending the one kept, if any) on the newest snapshot. A failure is only logged:
    /// the readers then take their locks themselves, as they would without it, and the keeper tries
    /// again [`KEEP_READ_FOR`] later.
    fn renew(&mut self, conn: &Connection) {
        self.release(conn);
        self.since = Some(std::time::Instant::now());
        let opened = control(conn, "BEGIN").and_then(|()| {
            conn.prepare_cached("SELECT 1 FROM sqlite_schema LIMIT 1")?
                .query_row([], |_| Ok(()))
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(()),
                    e => Err(e),
                })
        });
        match opened {
            Ok(()) => self.open = true,
            Err(e) => {
                tracing::debug!(error = %e, "the idle writer could not keep a read open");
                if !conn.is_autocommit() {
                    let _ = control(conn, "COMMIT");
                }
            }
        }
    }

    /// Ends the kept read, if any; the next is opened after [`KEEP_READ_AFTER`] without a job.
    fn release(&mut self, conn: &Connection) {
        self.since = None;
        if std::mem::take(&mut self.open)
            && let Err(e) = control(conn, "COMMIT")
        {
            tracing::warn!(error = %e, "the idle writer could not end the read it kept");
        }
    }
}

/// Frees the writer connection's cached pages (`sqlite3_db_release_memory`): once a burst is over they
/// are memory held for nothing — after the demo seed, ≈ 2 MiB over the seven databases' writers (a heap
/// profile of the idle server; docs/bench.md, "Idle memory: pages emptied by other threads"). The next
/// write reads the pages it needs again, from the OS's file cache. A failure only leaves them cached.
fn shrink_page_cache(conn: &Connection) {
    if let Err(e) = conn.release_memory() {
        tracing::debug!(error = %e, "shrinking the writer's page cache failed");
    }
}

/// Copies the WAL into the database and empties the file once the writer has gone without a job for
/// [`EMPTY_WAL_WHEN_IDLE_FOR`] (the first time, from its start, for [`LEFT_WAL_EMPTIED_AFTER`]). A PASSIVE
/// checkpoint (the thresholds above) copies frames but leaves the file at its length, so after a burst each
/// database kept 16–64 MiB of WAL on disk for as long as it stayed quiet (≈ 140 MB over the seven after the
/// bench's webhook run), and a crash in that time left all of it for the next start to replay before it
/// could answer (docs/bench.md, row k). It does not wait: a reader still on an older snapshot, or the
/// checkpoint thread at work, makes it stop at once (`false`); the WAL a crash left is tried again after
/// the next quiet spell ([`LEFT_WAL_TRIES`]), a later one once more writes have come.
fn empty_wal(conn: &Connection) -> bool {
    if let Err(e) = conn.busy_timeout(std::time::Duration::ZERO) {
        tracing::debug!(error = %e, "the idle writer could not set its busy timeout");
        return false;
    }
    let checkpoint = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
    });
    if let Err(e) = conn.busy_timeout(BUSY_TIMEOUT) {
        tracing::warn!(error = %e, "the writer could not set its busy timeout back");
    }
    match checkpoint {
        Ok((0, _)) => true,
        Ok((_, frames)) => {
            tracing::debug!(frames, "the idle WAL was not emptied: a reader held it");
            false
        }
        Err(e) => {
            tracing::debug!(error = %e, "emptying the idle WAL failed");
            false
        }
    }
}

/// Runs queued jobs in one transaction and tells every caller its result only after the COMMIT (an
/// acknowledgement means durable). With more than one job, each runs inside its own savepoint, so a
/// failing job rolls back alone; a job alone in its group needs none — its failure rolls back the whole
/// transaction. (A savepoint makes SQLite copy every page a job changes before changing it: 9 % of the
/// server's CPU under webhook ingest; docs/bench.md.)
fn run_group(conn: &Connection, jobs: Vec<Job>) {
    let mut finishers = Vec::with_capacity(jobs.len());
    if let Err(e) = control(conn, "BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "sqlite writer could not begin a transaction");
        for job in jobs {
            let (_, finish) = job(None);
            finish(Fate::RolledBack);
        }
        return;
    }
    let alone = jobs.len() == 1;
    let mut failed_alone = false;
    for job in jobs {
        if alone {
            let (ok, finish) = job(Some(conn));
            failed_alone = !ok;
            finishers.push(finish);
            continue;
        }
        if let Err(e) = control(conn, "SAVEPOINT job") {
            tracing::error!(error = %e, "sqlite savepoint failed");
        }
        let (ok, finish) = job(Some(conn));
        let end = if ok {
            control(conn, "RELEASE job")
        } else {
            control(conn, "ROLLBACK TO job").and_then(|()| control(conn, "RELEASE job"))
        };
        if let Err(e) = end {
            tracing::error!(error = %e, "sqlite savepoint end failed");
        }
        finishers.push(finish);
    }
    let fate = if failed_alone {
        // Nothing to keep: the only job failed (its caller hears its own error, not "did not commit").
        if let Err(e) = control(conn, "ROLLBACK") {
            tracing::error!(error = %e, "sqlite rollback failed");
        }
        Fate::RolledBack
    } else {
        match control(conn, "COMMIT") {
            Ok(()) => Fate::Committed,
            Err(e) => {
                tracing::error!(error = %e, "sqlite commit failed; rolling back the group");
                let _ = conn.execute_batch("ROLLBACK");
                Fate::Failed(Arc::new(e))
            }
        }
    };
    for finish in finishers {
        finish(fate.clone());
    }
}

/// A transaction-control statement, from the connection's statement cache (not parsed on every group).
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Adds envelopes to the outbox inside the caller's write transaction.
pub fn enqueue(conn: &Connection, envelopes: &[Envelope]) -> StoreResult<()> {
    let rows = envelopes
        .iter()
        .map(|e| outbox_row(e.clone()))
        .collect::<StoreResult<Vec<_>>>()?;
    enqueue_serialized(conn, &rows)
}

/// An envelope's outbox row, `(event id, JSON)` ([`envelope_json`]); the envelope itself is kept for this
/// process's relay, which then need not parse the row back ([`crate::kept_envelopes`]).
pub fn outbox_row(envelope: Envelope) -> StoreResult<(String, Arc<str>)> {
    let json: Arc<str> = envelope_json(&envelope)?;
    // Encoded straight into a buffer: `to_string` goes through `Display`'s formatter machinery, ≈ 1.9 % of a
    // first maintenance sweep's CPU for its 316,000 rows (docs/bench.md, "Stop 54").
    let id = String::from(
        envelope
            .id
            .hyphenated()
            .encode_lower(&mut uuid::Uuid::encode_buffer()) as &str,
    );
    crate::kept_envelopes::keep(envelope, json.clone());
    Ok((id, json))
}

/// An outbox row's envelope: the one this process kept when it wrote exactly this JSON, else parsed.
fn outbox_envelope(event_id: &str, json: &str) -> StoreResult<Envelope> {
    match crate::kept_envelopes::take(event_id, json) {
        Some(envelope) => Ok(envelope),
        None => Ok(serde_json::from_str(json)?),
    }
}

/// An envelope's JSON for the outbox. It is written into a buffer the thread keeps and copied once into a
/// shared string of its size (`vwc_contracts::json::with_written`): written into a new string, a schedule event
/// of 3 KB grew it five times over (and a `String` turned into the `Arc<str>` the row and the kept envelope
/// share was a second copy). The writer writes serde_json's bytes, its strings faster (docs/bench.md, "Stop 54").
pub fn envelope_json(envelope: &Envelope) -> StoreResult<Arc<str>> {
    let written = vwc_contracts::json::with_written(envelope, |json| {
        std::str::from_utf8(json)
            .map(Arc::from)
            .map_err(|e| StoreError::Other(format!("an envelope's JSON is not UTF-8: {e}")))
    });
    written
        .map_err(|e| StoreError::Other(format!("an envelope could not be written as JSON: {e}")))?
}

/// The statement that writes an outbox row: event id, envelope JSON, when written. Each must be followed by
/// [`MARK_UNSENT`] in the same transaction, or the relay never sees the row. An `AFTER INSERT` trigger would
/// mark every row whoever wrote it, but it gives each insert a statement journal of its own: the writer
/// thread of a first sweep took 2.2–2.4 s instead of 1.1 s (docs/bench.md, "Stop 56").
pub const INSERT_OUTBOX_ROW: &str =
    "INSERT INTO outbox (event_id, envelope, created_at) VALUES (?1, ?2, ?3)";

/// The statement that marks the outbox row the connection wrote last as waiting to be sent.
pub const MARK_UNSENT: &str = "INSERT INTO outbox_unsent (seq) VALUES (last_insert_rowid())";

/// [`enqueue`] for envelopes already serialised as `(event id, envelope JSON)`, so callers can do the
/// JSON work before they reach the single writer thread.
pub fn enqueue_serialized(conn: &Connection, rows: &[(String, Arc<str>)]) -> StoreResult<()> {
    Statements::new(conn).enqueue_serialized(rows)
}

/// Records that `consumer` applied `event_id`, inside the caller's write transaction. Returns `false` when
/// it had already been applied: the caller must then make no change.
pub fn claim_inbox(conn: &Connection, consumer: &str, event_id: &str) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO inbox (consumer, event_id, applied_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![consumer, event_id, vwc_clock::now().to_rfc3339()])?;
    Ok(n == 1)
}

fn parse_time(s: &str) -> StoreResult<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| StoreError::Other(format!("bad timestamp {s:?}: {e}")))
}

impl SqliteDb {
    /// Whether any outbox row waits to be sent: one step into `outbox_unsent`, so it runs on the
    /// calling thread ([`SqliteDb::read_inline`]). The relays ask every 500 ms; on the blocking pool, an idle
    /// server's polls kept its threads — and the allocator pages each holds — alive for good
    /// (docs/bench.md, "Idle memory: pages emptied by other threads").
    async fn any_pending(&self) -> StoreResult<bool> {
        self.read_inline(|conn| {
            let mut stmt = conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM outbox_unsent)")?;
            Ok(stmt.query_row([], |r| r.get(0))?)
        })
        .await
    }
}

/// The envelope of a pending outbox row read as `seq, event_id, envelope`.
fn row_envelope(row: &rusqlite::Row<'_>) -> StoreResult<Envelope> {
    let text = |i: usize| -> StoreResult<&str> {
        (row.get_ref(i)?.as_str()).map_err(|e| StoreError::Other(e.to_string()))
    };
    outbox_envelope(text(1)?, text(2)?)
}

#[async_trait]
impl Outbox for SqliteDb {
    async fn pending(&self, limit: usize) -> StoreResult<Vec<(OutboxId, Envelope)>> {
        crate::kept_envelopes::read_by_a_relay();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT o.seq, o.event_id, o.envelope FROM outbox_unsent u JOIN outbox o ON o.seq = u.seq
                 ORDER BY u.seq LIMIT ?1",
            )?;
            let mut rows = stmt.query([limit as i64])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                out.push((OutboxId(seq.to_string()), row_envelope(row)?));
            }
            Ok(out)
        })
        .await
    }

    /// Reads the pending rows' positions first, from `outbox_unsent` alone, and then the rows not in
    /// `skip`, each by its position: the relay asks again every time a batch frees, with up to four batches
    /// (800 rows) in flight, and reading those rows' envelopes only to pass them over was 4 % of the
    /// server's CPU under ingest, re-parsing them 6 % before that (docs/bench.md).
    async fn pending_except(
        &self,
        limit: usize,
        skip: &HashSet<String>,
    ) -> StoreResult<Vec<(OutboxId, Envelope)>> {
        crate::kept_envelopes::read_by_a_relay();
        if skip.is_empty() && !self.any_pending().await? {
            return Ok(Vec::new());
        }
        let skip: HashSet<i64> = skip.iter().filter_map(|s| s.parse().ok()).collect();
        self.read(move |conn| {
            let mut positions =
                conn.prepare_cached("SELECT seq FROM outbox_unsent ORDER BY seq LIMIT ?1")?;
            let mut wanted = Vec::with_capacity(limit);
            let mut rows = positions.query([(limit + skip.len()) as i64])?;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                if !skip.contains(&seq) {
                    wanted.push(seq);
                    if wanted.len() == limit {
                        break;
                    }
                }
            }
            let mut by_position = conn.prepare_cached(
                "SELECT o.seq, o.event_id, o.envelope FROM outbox_unsent u JOIN outbox o ON o.seq = u.seq
                 WHERE u.seq = ?1",
            )?;
            let mut out = Vec::with_capacity(wanted.len());
            for seq in wanted {
                // A row gone since (sent or pruned by another process's relay) is passed over.
                let mut rows = by_position.query([seq])?;
                if let Some(row) = rows.next()? {
                    out.push((OutboxId(seq.to_string()), row_envelope(row)?));
                }
            }
            Ok(out)
        })
        .await
    }

    /// Moves each row's mark from `outbox_unsent` to `outbox_sent`; the row itself is not written. A row
    /// no longer unsent (marked before, dead-lettered, or gone) gets no mark: a `seq` can be handed out again
    /// once its row is deleted, and a stray mark would have the new row taken as sent.
    async fn mark_sent(&self, ids: &[OutboxId]) -> StoreResult<()> {
        let ids: Vec<i64> = ids.iter().filter_map(|i| i.0.parse().ok()).collect();
        self.write(move |conn| {
            let now = crate::ts(&vwc_clock::now());
            let mut st = Statements::new(conn);
            let [unsent, sent] = st.get_two(
                "DELETE FROM outbox_unsent WHERE seq = ?1",
                "INSERT INTO outbox_sent (seq, sent_at) VALUES (?1, ?2)",
            )?;
            for id in ids {
                if unsent.execute([id])? == 1 {
                    sent.execute(params![id, now])?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Rows are sent in about the order they were written (`seq`), so the old sent ones are the first
    /// marks of `outbox_sent`: [`SqliteDb::prune_oldest`] deletes those sent before `before` with their
    /// rows — pending rows have no mark there, and stay — and stops at the first row sent since. No run
    /// scans a table: a single `DELETE … WHERE sent_at < ?` walked the whole outbox every hour (there was
    /// no index on `sent_at`) and, after a first sweep, deleted ≈ 200,000 rows in one transaction that held
    /// the writer 0.7–0.8 s and grew the WAL by ≈ 44 MB (docs/bench.md).
    async fn prune_sent(&self, before: chrono::DateTime<chrono::Utc>) -> StoreResult<u64> {
        // Times are the fixed-width text of `ts()`: text order is time order.
        let before = crate::ts(&before);
        let oldest = Oldest {
            table: "outbox_sent",
            key: "seq",
            time: "sent_at",
            stamps: Some("outbox"),
        };
        self.prune_oldest(oldest, move |sent| Ok(sent < before.as_str()))
            .await
    }

    async fn dead_letter(&self, id: &OutboxId, letter: NewDeadLetter<'_>) -> StoreResult<()> {
        let seq: i64 =
            id.0.parse()
                .map_err(|_| StoreError::Other(format!("bad outbox id {:?}", id.0)))?;
        let row = DeadLetterRow::of(letter)?;
        // One transaction: the row is either pending or a dead letter, never both or neither.
        self.write(move |conn| {
            row.insert(conn)?;
            conn.execute("DELETE FROM outbox_unsent WHERE seq = ?1", [seq])?;
            conn.execute("DELETE FROM outbox WHERE seq = ?1", [seq])?;
            Ok(())
        })
        .await
    }

    fn wakeup(&self) -> Arc<Notify> {
        self.inner.outbox_wakeup.clone()
    }
}

/// A dead letter serialised for the writer thread.
struct DeadLetterRow {
    consumer: String,
    envelope: String,
    error: String,
    attempts: u32,
}

impl DeadLetterRow {
    fn of(letter: NewDeadLetter<'_>) -> StoreResult<DeadLetterRow> {
        Ok(DeadLetterRow {
            consumer: letter.consumer.to_string(),
            envelope: serde_json::to_string(letter.envelope)?,
            error: letter.error.to_string(),
            attempts: letter.attempts,
        })
    }

    fn insert(&self, conn: &Connection) -> StoreResult<()> {
        conn.execute(
            "INSERT INTO dead_letters (consumer, envelope, error, attempts, failed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![self.consumer, self.envelope, self.error, self.attempts, vwc_clock::now().to_rfc3339()],
        )?;
        Ok(())
    }
}

#[async_trait]
impl DeadLetterStore for SqliteDb {
    async fn put_dead_letter(&self, letter: NewDeadLetter<'_>) -> StoreResult<()> {
        let row = DeadLetterRow::of(letter)?;
        self.write(move |conn| row.insert(conn)).await
    }

    async fn list_dead_letters(&self) -> StoreResult<Vec<DeadLetter>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, consumer, envelope, error, attempts, failed_at, replayed_at
                     FROM dead_letters WHERE replayed_at IS NULL ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, u32>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, consumer, envelope, error, attempts, failed_at, replayed_at) = row?;
                out.push(DeadLetter {
                    id,
                    consumer,
                    envelope: serde_json::from_str(&envelope)?,
                    error,
                    attempts,
                    failed_at: parse_time(&failed_at)?,
                    replayed_at: replayed_at.as_deref().map(parse_time).transpose()?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn mark_replayed(&self, id: i64) -> StoreResult<()> {
        self.write(move |conn| {
            conn.execute(
                "UPDATE dead_letters SET replayed_at = ?1 WHERE id = ?2",
                params![vwc_clock::now().to_rfc3339(), id],
            )?;
            Ok(())
        })
        .await
    }
}

/// Rows looked at per write job while pruning inbox claims or sent outbox rows ([`SqliteDb::prune_oldest`]):
/// a job of a few milliseconds (≈ 1.0 ms for claims, ≈ 2.2 ms for outbox rows of ≈ 1 KB; docs/bench.md).
const ROWS_PER_PRUNE_JOB: i64 = 1_000;

#[async_trait]
impl Plumbing for SqliteDb {
    async fn ping(&self) -> StoreResult<()> {
        SqliteDb::ping(self).await
    }

    /// Claims are rows of `inbox` in the order they were made (its rowid grows with each), so the old ones
    /// are its first rows: [`SqliteDb::prune_oldest`] deletes those made before `before` and stops at the
    /// first claim made since. A prune with nothing to delete reads one row; none scans the table.
    async fn prune_claims(&self, before: chrono::DateTime<chrono::Utc>) -> StoreResult<u64> {
        let oldest = Oldest {
            table: "inbox",
            key: "rowid",
            time: "applied_at",
            stamps: None,
        };
        self.prune_oldest(oldest, move |applied| Ok(parse_time(applied)? < before))
            .await
    }
}

/// The rows [`SqliteDb::prune_oldest`] walks: `table` in the order of `key` (which grows with each row
/// written), each stamped with `time` (text; null for a row that is not done with yet). When `table` holds
/// the stamps of another table's rows (with the same `key`), `stamps` names it: a row of it is deleted with
/// its stamp.
struct Oldest {
    table: &'static str,
    key: &'static str,
    time: &'static str,
    stamps: Option<&'static str>,
}

impl SqliteDb {
    /// Deletes the old rows of a table whose rows age in the order they were written (an inbox's claims,
    /// an outbox's sent rows), oldest first, in write jobs that each look at the next
    /// [`ROWS_PER_PRUNE_JOB`] rows after the last one looked at: the rows whose `time` `is_old` says is old
    /// are deleted, rows without a time are passed over (and stay), and the pruning stops at the first row
    /// whose time is not old — those after it wait for a later run, even one stamped earlier (a wall
    /// clock set back). Each job is short, so the writes queued behind it wait milliseconds at most, and
    /// none reads further than the first row it keeps. Returns how many rows it deleted.
    async fn prune_oldest(
        &self,
        rows: Oldest,
        is_old: impl Fn(&str) -> StoreResult<bool> + Send + Sync + 'static,
    ) -> StoreResult<u64> {
        let Oldest {
            table,
            key,
            time,
            stamps,
        } = rows;
        let is_old = Arc::new(is_old);
        let select: Arc<str> =
            format!("SELECT {key}, {time} FROM {table} WHERE {key} > ?1 ORDER BY {key} LIMIT ?2")
                .into();
        // Every row of a job's run is old or not done with yet; the latter stay.
        let run = format!("{table} WHERE {key} > ?1 AND {key} <= ?2 AND {time} IS NOT NULL");
        // The stamped rows go first, while their stamps still say which they are.
        let deletes: Arc<[String]> = (stamps.iter())
            .map(|rows| format!("DELETE FROM {rows} WHERE {key} IN (SELECT {key} FROM {run})"))
            .chain([format!("DELETE FROM {run}")])
            .collect();
        let (mut pruned, mut after) = (0, 0_i64);
        loop {
            let (is_old, select, deletes) = (is_old.clone(), select.clone(), deletes.clone());
            let (deleted, last, done) = self
                .write(move |conn| {
                    let mut oldest = conn.prepare_cached(&select)?;
                    let mut rows = oldest.query(params![after, ROWS_PER_PRUNE_JOB])?;
                    let (mut last, mut seen, mut newer) = (after, 0, false);
                    while let Some(row) = rows.next()? {
                        seen += 1;
                        let stamped = row.get_ref(1)?.as_str_or_null().map_err(|e| {
                            StoreError::Other(format!("a time of {table}.{time}: {e}"))
                        })?;
                        if let Some(stamped) = stamped
                            && !is_old(stamped)?
                        {
                            newer = true;
                            break;
                        }
                        last = row.get(0)?;
                    }
                    drop(rows);
                    // What the run pruned: the rows of the first delete (the stamped table's, if any).
                    let mut deleted = None;
                    for delete in deletes.iter() {
                        let n = conn.prepare_cached(delete)?.execute(params![after, last])? as u64;
                        deleted.get_or_insert(n);
                    }
                    Ok((
                        deleted.unwrap_or(0),
                        last,
                        newer || seen < ROWS_PER_PRUNE_JOB,
                    ))
                })
                .await?;
            pruned += deleted;
            after = last;
            if done {
                return Ok(pruned);
            }
        }
    }
}

/// The statements one job of the writer runs, each taken from the connection's cache the first time the
/// job asks for it and kept until the job ends. Taking a statement from rusqlite's cache hashes its SQL and
/// copies it into a new key, and putting it back resets it and hashes it again: for a sweep page's 500
/// commits of five statements each, ≈ 2 % of a first sweep's CPU, on the writer thread every write of the
/// service waits for.
pub struct Statements<'c> {
    conn: &'c Connection,
    held: Vec<(&'static str, rusqlite::CachedStatement<'c>)>,
}

impl<'c> Statements<'c> {
    pub fn new(conn: &'c Connection) -> Statements<'c> {
        Statements {
            conn,
            held: Vec::new(),
        }
    }

    /// The connection, for a statement run once.
    pub fn conn(&self) -> &'c Connection {
        self.conn
    }

    /// The statement `sql`, prepared (or taken from the cache) the first time.
    pub fn get(&mut self, sql: &'static str) -> StoreResult<&mut rusqlite::CachedStatement<'c>> {
        let at = self.position(sql)?;
        Ok(&mut self.held[at].1)
    }

    /// The two statements `first` and `second` (not the same), as [`get`](Self::get) takes each.
    pub fn get_two(
        &mut self,
        first: &'static str,
        second: &'static str,
    ) -> StoreResult<[&mut rusqlite::CachedStatement<'c>; 2]> {
        let at = [self.position(first)?, self.position(second)?];
        let [a, b] = (self.held.get_disjoint_mut(at))
            .map_err(|e| StoreError::Other(format!("two statements asked for as one: {e}")))?;
        Ok([&mut a.1, &mut b.1])
    }

    /// Where `sql` is held, taken from the connection's cache the first time.
    fn position(&mut self, sql: &'static str) -> StoreResult<usize> {
        Ok(match self.held.iter().position(|(held, _)| *held == sql) {
            Some(at) => at,
            None => {
                self.held.push((sql, self.conn.prepare_cached(sql)?));
                self.held.len() - 1
            }
        })
    }

    /// Runs `sql` once with each of `rows`' parameters: a commit's rows of one table. No rows, no
    /// statement: a sweep's commits have rows in few of their tables (≈ 2 % of a first sweep's CPU went to
    /// taking statements for empty ones).
    pub fn execute_each<P: Params>(
        &mut self,
        sql: &'static str,
        rows: impl IntoIterator<Item = P>,
    ) -> StoreResult<()> {
        let mut rows = rows.into_iter().peekable();
        if rows.peek().is_some() {
            let statement = self.get(sql)?;
            for row in rows {
                statement.execute(row)?;
            }
        }
        Ok(())
    }

    /// Adds outbox rows whose JSON was written beforehand ([`enqueue_serialized`]).
    pub fn enqueue_serialized(&mut self, rows: &[(String, Arc<str>)]) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let now = crate::ts(&vwc_clock::now());
        let [insert, unsent] = self.get_two(INSERT_OUTBOX_ROW, MARK_UNSENT)?;
        for (event_id, envelope) in rows {
            insert.execute(params![event_id, envelope, now])?;
            unsent.execute([])?;
        }
        Ok(())
    }
}

/// Convenience for adapters: one optional row.
pub fn optional<T>(r: rusqlite::Result<T>) -> StoreResult<Option<T>> {
    Ok(r.optional()?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use vwc_contracts::EventType;

    pub(crate) fn envelope() -> Envelope {
        Envelope::new(
            "vwc.test",
            "org_a",
            None,
            None,
            vwc_contracts::examples::event(EventType::VehicleRegistered),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_share_a_bounded_set_of_connections() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let db =
            SqliteDb::open(&dir.path().join("t.db"), &["CREATE TABLE t (x INTEGER);"]).unwrap();
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let reads = (0..40).map(|_| {
            let (db, running, most) = (db.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                db.read(move |conn| {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    let n: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(n)
                })
                .await
            })
        });
        for read in futures_join(reads).await {
            assert_eq!(read.unwrap(), 0);
        }
        let most = most.load(Ordering::SeqCst);
        assert!(most >= 2 && most <= max_readers(), "{most} reads at once");
        assert!(db.inner.readers.lock().unwrap().len() <= max_readers());
    }

    async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
        let mut out = Vec::new();
        for h in handles.collect::<Vec<_>>() {
            out.push(h.await.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn reader_connections_keep_a_small_page_cache_and_the_writer_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("c.db"), &[]).unwrap();
        let cache = |conn: &Connection| -> StoreResult<i64> {
            Ok(conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?)
        };
        assert_eq!(db.read(cache).await.unwrap(), -READER_CACHE_KIB);
        assert_eq!(db.write(cache).await.unwrap(), -2000, "SQLite's default");
    }

    /// The writer's sub-journal stays in memory (`temp_store = MEMORY`; readers keep the default), and a
    /// group of jobs, a savepoint each, whose pages are far past SQLite's 64 KiB spill commits every one
    /// of them and rolls the failing one back alone.
    #[tokio::test(flavor = "current_thread")]
    async fn the_writers_sub_journal_is_kept_in_memory_and_savepoints_still_roll_back_alone() {
        let (_dir, db) = table_t("x INTEGER UNIQUE, pad BLOB");
        let temp_store = |conn: &Connection| -> StoreResult<i64> {
            Ok(conn.query_row("PRAGMA temp_store", [], |r| r.get(0))?)
        };
        assert_eq!(db.write(temp_store).await.unwrap(), 2, "MEMORY");
        assert_eq!(db.read(temp_store).await.unwrap(), 0, "the default");
        // 12 jobs queued at once (the writer takes those waiting into one group, a savepoint each); each
        // changes ≈ 100 KiB of pages.
        let handles: Vec<_> = (0..12)
            .map(|x| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.write(move |c| {
                        let mut insert =
                            c.prepare_cached("INSERT INTO t (x, pad) VALUES (?1, zeroblob(4000))")?;
                        for i in 0..25 {
                            insert.execute([x * 1000 + i])?;
                        }
                        if x == 5 {
                            insert.execute([x * 1000])?; // a duplicate: this job fails
                        }
                        Ok(x)
                    })
                    .await
                })
            })
            .collect();
        let answers = futures_join(handles.into_iter()).await;
        for (x, answer) in answers.iter().enumerate() {
            assert_eq!(answer.is_ok(), x != 5, "job {x}: {answer:?}");
        }
        let rows = rows_seen_by_a_fresh_connection(db.path());
        assert_eq!(rows.len(), 11 * 25);
        assert!(
            !rows.iter().any(|x| (5000..5025).contains(x)),
            "the failed job left nothing"
        );
    }

    /// Processes (here threads) opening one new database at once each run the migrations: every one of
    /// them opens it, and each migration ran once (they raced: "table outbox already exists").
    #[test]
    fn databases_opened_at_once_are_migrated_once() {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("race.db");
            let migrations: &[&str] = &[
                "CREATE TABLE a (x INTEGER);",
                "ALTER TABLE a ADD COLUMN y INTEGER;",
                "CREATE TABLE b (z INTEGER);",
            ];
            let opened: Vec<StoreResult<SqliteDb>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..6)
                    .map(|_| scope.spawn(|| SqliteDb::open(&path, migrations)))
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for db in &opened {
                assert!(db.is_ok(), "{:?}", db.as_ref().err());
            }
            let conn = Connection::open(&path).unwrap();
            let version: i64 = conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(version as usize, COMMON_MIGRATIONS.len() + migrations.len());
        }
    }

    /// A new database with one table, `t`, whose `x` is unique: a second insert of the same `x` fails.
    fn unique_x_table() -> (tempfile::TempDir, SqliteDb) {
        table_t("x INTEGER UNIQUE")
    }

    /// A new database with one table, `t`, of `columns`.
    fn table_t(columns: &str) -> (tempfile::TempDir, SqliteDb) {
        let dir = tempfile::tempdir().unwrap();
        let table = format!("CREATE TABLE t ({columns});");
        let db = SqliteDb::open(&dir.path().join("t.db"), &[&table]).unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn a_failing_write_rolls_back_alone_and_the_others_commit() {
        let (_dir, db) = unique_x_table();
        let mut handles = Vec::new();
        for x in [1, 2, 2, 3] {
            let db = db.clone();
            handles.push(tokio::spawn(async move {
                db.write(move |c| {
                    c.execute("INSERT INTO t (x) VALUES (?1)", [x])?;
                    Ok(())
                })
                .await
            }));
        }
        let mut failures = 0;
        for h in handles {
            if h.await.unwrap().is_err() {
                failures += 1;
            }
        }
        assert_eq!(failures, 1);
        let n: i64 = db
            .read(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(n, 3);
    }

    /// What another process would see: a connection of its own on the database file.
    /// Commits `commits` transactions of 100 rows of `t (x, pad)`, each padded with `pad` zero bytes, and
    /// returns the most bytes the WAL at `wal` held after any of them.
    /// A database `name` in a new temporary dir, for [`commit_padded_rows`]: the dir (removed when dropped),
    /// the file, its WAL and the database.
    fn padded_db(name: &str) -> (tempfile::TempDir, PathBuf, PathBuf, SqliteDb) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{name}.db"));
        let wal = dir.path().join(format!("{name}.db-wal"));
        let db = SqliteDb::open(&path, &["CREATE TABLE t (x INTEGER, pad BLOB);"]).unwrap();
        (dir, path, wal, db)
    }

    async fn commit_padded_rows(db: &SqliteDb, wal: &Path, commits: i64, pad: i64) -> u64 {
        let mut wal_most = 0;
        for commit in 0..commits {
            db.write(move |c| {
                let mut insert =
                    c.prepare_cached("INSERT INTO t (x, pad) VALUES (?1, zeroblob(?2))")?;
                for row in 0..100 {
                    insert.execute([commit * 100 + row, pad])?;
                }
                Ok(())
            })
            .await
            .unwrap();
            wal_most = wal_most.max(std::fs::metadata(wal).map_or(0, |m| m.len()));
        }
        wal_most
    }

    fn rows_seen_by_a_fresh_connection(path: &Path) -> Vec<i64> {
        let fresh = Connection::open(path).unwrap();
        let mut stmt = fresh.prepare("SELECT x FROM t ORDER BY x").unwrap();
        let rows = stmt.query_map([], |r| r.get(0)).unwrap();
        rows.collect::<Result<_, _>>().unwrap()
    }

    /// A write that inserts `x` and then fails when `x` is `fail`: the insert must not outlive it.
    async fn insert_or_fail(db: SqliteDb, x: i64, fail: i64) -> StoreResult<i64> {
        db.write(move |c| {
            c.execute("INSERT INTO t (x) VALUES (?1)", [x])?;
            if x == fail {
                return Err(StoreError::Other(format!("write {x} refused")));
            }
            Ok(x)
        })
        .await
    }

    #[tokio::test]
    async fn a_failed_job_inside_a_group_commit_fails_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let db = SqliteDb::open(&path, &["CREATE TABLE t (x INTEGER);"]).unwrap();
        // Hold the writer inside a first job until every other write is queued behind it, so they are
        // drained together into one group (one transaction, a savepoint each).
        let (release, held) = std::sync::mpsc::channel::<()>();
        let first = tokio::spawn({
            let db = db.clone();
            async move {
                db.write(move |c| {
                    held.recv().unwrap();
                    c.execute("INSERT INTO t (x) VALUES (0)", [])?;
                    Ok(0)
                })
                .await
            }
        });
        let writes: Vec<_> = (1..=6)
            .map(|x| tokio::spawn(insert_or_fail(db.clone(), x, 3)))
            .collect();
        // On this single-threaded runtime one yield polls every spawned write once: each has queued its job.
        tokio::task::yield_now().await;
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), 0);
        for (x, write) in (1..=6).zip(writes) {
            let answer = write.await.unwrap();
            if x == 3 {
                let err = answer.unwrap_err().to_string();
                assert!(err.contains("write 3 refused"), "{err}");
            } else {
                assert_eq!(answer.unwrap(), x);
            }
        }
        assert_eq!(rows_seen_by_a_fresh_connection(&path), [0, 1, 2, 4, 5, 6]);
    }

    #[tokio::test]
    async fn a_failed_write_alone_in_its_group_leaves_nothing_and_answers_its_own_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let db = SqliteDb::open(&path, &["CREATE TABLE t (x INTEGER);"]).unwrap();
        let err = insert_or_fail(db.clone(), 7, 7)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("write 7 refused"), "{err}");
        assert_eq!(insert_or_fail(db.clone(), 8, 7).await.unwrap(), 8);
        assert_eq!(rows_seen_by_a_fresh_connection(&path), [8]);
    }

    /// A database SQLite could open only for reading is refused by name, not opened as a writer that can
    /// never write.
    #[test]
    fn a_database_that_cannot_be_written_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro.db");
        drop(SqliteDb::open(&path, &["CREATE TABLE t (x);"]).unwrap());
        let read_only =
            Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let err = refuse_read_only(&read_only, &path).unwrap_err().to_string();
        assert!(
            err.contains("ro.db") && err.contains("can be read but not written"),
            "{err}"
        );
        let writer = open_connection(&path).unwrap();
        refuse_read_only(&writer, &path).unwrap();
    }

    /// A full disk (here SQLite's own page limit, which fails the same way: SQLITE_FULL) is an error that
    /// says the store cannot take writes now — a 503 at the edge, not a fault — and leaves nothing; once
    /// there is room the same write goes in.
    #[tokio::test]
    async fn a_write_on_a_full_disk_says_so_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("full.db");
        let db = SqliteDb::open(&path, &["CREATE TABLE t (x BLOB);"]).unwrap();
        let limit = |extra: i64| {
            move |conn: &Connection| -> StoreResult<()> {
                let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                conn.query_row(
                    &format!("PRAGMA max_page_count = {}", pages + extra),
                    [],
                    |_| Ok(()),
                )?;
                Ok(())
            }
        };
        db.write(limit(0)).await.unwrap();
        let big = |conn: &Connection| -> StoreResult<()> {
            conn.execute("INSERT INTO t (x) VALUES (zeroblob(65536))", [])?;
            Ok(())
        };
        let err = db.write(big).await.unwrap_err();
        let why = err
            .unavailable()
            .unwrap_or_else(|| panic!("not unavailable: {err}"));
        assert!(why.contains("disk is full"), "{why}");
        let count = || {
            Connection::open(&path)
                .unwrap()
                .query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                .unwrap()
        };
        assert_eq!(count(), 0);
        db.write(limit(1_000)).await.unwrap();
        db.write(big).await.unwrap();
        assert_eq!(count(), 1);
    }

    /// A COMMIT that fails answers every write of the transaction with its cause (here a deferred foreign
    /// key; a full disk met at COMMIT the same way), not a bare "did not commit".
    #[tokio::test]
    async fn a_failed_commit_answers_its_cause() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(
            &dir.path().join("fk.db"),
            &["CREATE TABLE p (id INTEGER PRIMARY KEY);
               CREATE TABLE c (p INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED);"],
        )
        .unwrap();
        let err = db
            .write(|conn| -> StoreResult<()> {
                conn.execute("INSERT INTO c (p) VALUES (42)", [])?;
                Ok(())
            })
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("did not commit") && err.contains("FOREIGN KEY"),
            "{err}"
        );
        assert!(
            StoreError::did_not_commit(&rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                None
            ))
            .unavailable()
            .is_some()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_acknowledged_write_is_on_disk_for_a_fresh_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.db");
        let db = SqliteDb::open(&path, &["CREATE TABLE t (x INTEGER);"]).unwrap();
        let writes: Vec<_> = (1..=200)
            .map(|x| {
                let (db, path) = (db.clone(), path.clone());
                tokio::spawn(async move {
                    insert_or_fail(db, x, -1).await.unwrap();
                    // Acknowledged: committed to the WAL file, so a process of its own sees it (and a
                    // kill -9 of this one cannot take it back).
                    let fresh = Connection::open(&path).unwrap();
                    let n: i64 = fresh
                        .query_row("SELECT count(*) FROM t WHERE x = ?1", [x], |r| r.get(0))
                        .unwrap();
                    assert_eq!(n, 1, "write {x} was acknowledged before it was on disk");
                })
            })
            .collect();
        for write in writes {
            write.await.unwrap();
        }
        assert_eq!(rows_seen_by_a_fresh_connection(&path).len(), 200);
    }

    /// Names of this process's threads (Linux shows the first 15 bytes).
    fn thread_names() -> Vec<String> {
        std::fs::read_dir("/proc/self/task")
            .map(|tasks| {
                tasks
                    .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                    .map(|name| name.trim().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The bytes of page cache `conn` holds (`SQLITE_DBSTATUS_CACHE_USED`).
    fn cache_used(conn: &Connection) -> i64 {
        let (mut current, mut highest) = (0, 0);
        // SAFETY: the handle is the live connection's; both out-pointers point at locals.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_db_status(
                conn.handle(),
                rusqlite::ffi::SQLITE_DBSTATUS_CACHE_USED,
                &mut current,
                &mut highest,
                0,
            )
        };
        assert_eq!(rc, rusqlite::ffi::SQLITE_OK);
        current.into()
    }

    #[tokio::test]
    async fn a_writer_idle_for_a_while_hands_back_its_page_cache() {
        let (_dir, db) = table_t("x INTEGER, pad BLOB");
        // A burst: 500 rows of a page each, read back, so the writer's cache holds their pages.
        let after_burst = db
            .write(|c| {
                let mut insert =
                    c.prepare_cached("INSERT INTO t (x, pad) VALUES (?1, zeroblob(3900))")?;
                for x in 0..500 {
                    insert.execute([x])?;
                }
                c.query_row("SELECT count(*) FROM t WHERE length(pad) > 0", [], |_| {
                    Ok(())
                })?;
                Ok(cache_used(c))
            })
            .await
            .unwrap();
        assert!(after_burst > 1_000_000, "{after_burst} bytes cached");
        let busy = db.write(|c| Ok(cache_used(c))).await.unwrap();
        assert_eq!(busy, after_burst, "kept while writes keep coming");
        tokio::time::sleep(SHRINK_WHEN_IDLE_FOR * 2).await;
        let idle = db.write(|c| Ok(cache_used(c))).await.unwrap();
        assert!(idle < after_burst / 10, "{idle} bytes still cached");
        // Nothing is lost: the next write reads what it needs again.
        let rows: i64 = db
            .write(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(rows, 500);
    }

    /// Once the writer has been idle a while its WAL file is emptied (its rows are in the database), not
    /// after a moment's pause; a reader still on an older snapshot only postpones it: the writer does not
    /// wait for that reader.
    #[tokio::test]
    async fn an_idle_writer_empties_its_wal_without_waiting_for_readers() {
        let (_dir, path, wal, db) = padded_db("idle");
        let wal_len = || std::fs::metadata(&wal).map_or(0, |m| m.len());
        commit_padded_rows(&db, &wal, 10, 3_900).await;
        assert!(wal_len() > 1_000_000, "the burst is in the WAL");
        // A reader holds a snapshot from before the next write.
        let reader = open_connection(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let seen: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seen, 1_000);
        commit_padded_rows(&db, &wal, 1, 3_900).await;
        tokio::time::sleep(EMPTY_WAL_WHEN_IDLE_FOR + std::time::Duration::from_secs(1)).await;
        assert!(wal_len() > 0, "the reader's snapshot is still in the WAL");
        let started = std::time::Instant::now();
        commit_padded_rows(&db, &wal, 1, 3_900).await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "the writer waited for the reader: {:?}",
            started.elapsed()
        );
        reader.execute_batch("COMMIT").unwrap();
        drop(reader);
        tokio::time::sleep(SHRINK_WHEN_IDLE_FOR * 2).await;
        assert!(
            wal_len() > 0,
            "not emptied while the writer has been idle for only a moment"
        );
        tokio::time::sleep(EMPTY_WAL_WHEN_IDLE_FOR).await;
        assert_eq!(wal_len(), 0, "the idle WAL is emptied");
        assert_eq!(rows_seen_by_a_fresh_connection(&path).len(), 1_200);
    }

    /// Dropping the last handle of a database returns only once every connection to it has closed: its
    /// writer thread (after the jobs queued), the checkpoint thread and the pooled readers. The last to close
    /// empties the WAL into the database and removes it, so a process that exits right after (a `vwc up`
    /// stopped with Ctrl-C) leaves no WAL for the next start to replay. Before, the threads closed on their own
    /// time and the file was still there when `drop` returned.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_dropped_database_has_closed_every_connection_and_emptied_its_wal() {
        let (_dir, path, wal, db) = padded_db("jclose");
        // Past the checkpoint thread's threshold (16 MiB of WAL), so that thread runs too.
        let most = commit_padded_rows(&db, &wal, 60, 3_900).await;
        assert!(most > 16 * 1024 * 1024, "{most}");
        let seen = db
            .read(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))?))
            .await
            .unwrap();
        assert_eq!(seen, 6_000);
        let running = |name: &str| thread_names().iter().filter(|n| *n == name).count();
        assert_eq!(running("sqlite-writer-j"), 1);
        assert_eq!(running("sqlite-ckpt-jcl"), 1);
        drop(db);
        assert!(
            !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
            "the WAL was left: {:?} bytes",
            std::fs::metadata(&wal).map(|m| m.len())
        );
        assert_eq!(running("sqlite-writer-j"), 0, "the writer thread ended");
        assert_eq!(running("sqlite-ckpt-jcl"), 0, "the checkpoint thread ended");
        assert_eq!(rows_seen_by_a_fresh_connection(&path).len(), 6_000);
    }

    /// The read-mark locks (bytes 123–127 of the `-shm` file, `WAL_READ_LOCK(0..5)` in SQLite) this
    /// process holds on `path`'s WAL index, from `/proc/locks`.
    #[cfg(target_os = "linux")]
    fn read_marks_held(path: &Path) -> Vec<u64> {
        use std::os::unix::fs::MetadataExt;
        let shm = PathBuf::from(format!("{}-shm", path.display()));
        let inode = std::fs::metadata(&shm).unwrap().ino();
        let pid = std::process::id().to_string();
        std::fs::read_to_string("/proc/locks")
            .unwrap()
            .lines()
            .filter_map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                // "1: POSIX  ADVISORY  READ 1234 08:01:5678 123 123"
                let file_inode = f.get(5)?.rsplit(':').next()?.parse::<u64>().ok()?;
                let start = f.get(6)?.parse::<u64>().ok()?;
                (f.get(1) == Some(&"POSIX")
                    && f.get(3) == Some(&"READ")
                    && f.get(4) == Some(&pid.as_str())
                    && file_inode == inode
                    && (123..=127).contains(&start))
                .then_some(start)
            })
            .collect()
    }

    /// Once the writer has been idle for a moment it keeps a read open, so this process holds a
    /// read-mark lock with no read running: a pooled reader's transaction then finds the lock held and
    /// asks the operating system for nothing (docs/bench.md). The kept read moves to the newest snapshot
    /// now and then, so another connection's writes (another process's, in use) are checkpointed whole,
    /// and a write after the pause commits as before.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn an_idle_writer_keeps_a_read_open_for_the_readers_and_moves_it_on() {
        let (_dir, path, wal, db) = padded_db("keep");
        commit_padded_rows(&db, &wal, 1, 100).await;
        // Polled rather than slept for, so a loaded machine does not fail it; bounded well within
        // EMPTY_WAL_WHEN_IDLE_FOR, after which the WAL is emptied whatever the keeper does.
        vwc_testkit::until(
            "the idle writer to keep a read",
            KEEP_READ_AFTER * 50,
            || !read_marks_held(&path).is_empty(),
        )
        .await;
        assert_eq!(
            read_marks_held(&path).len(),
            1,
            "the idle writer keeps a read"
        );
        let seen: i64 = db
            .read(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(seen, 100, "a reader sees every commit");

        // Another connection writes; once the kept read has moved on, a checkpoint copies all of it.
        let other = open_connection(&path).unwrap();
        let mut insert = other
            .prepare("INSERT INTO t (x, pad) VALUES (?1, zeroblob(3900))")
            .unwrap();
        for x in 1000..1500 {
            insert.execute([x]).unwrap();
        }
        drop(insert);
        let checkpoint = || -> (i64, i64, i64) {
            other
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .unwrap()
        };
        let checkpointed_whole = || {
            let (busy, log, copied) = checkpoint();
            (busy, copied) == (0, log)
        };
        vwc_testkit::until(
            "the kept read to move on",
            KEEP_READ_FOR * 3,
            checkpointed_whole,
        )
        .await;
        let (busy, log, copied) = checkpoint();
        assert_eq!((busy, copied), (0, log), "the kept read held the WAL back");
        assert_eq!(read_marks_held(&path).len(), 1, "and is kept still");

        let started = std::time::Instant::now();
        commit_padded_rows(&db, &wal, 1, 100).await;
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(rows_seen_by_a_fresh_connection(&path).len(), 700);
    }

    /// A database asked for larger pages is made with them, keeps its WAL within the same bytes as one
    /// of 4 KiB pages (the checkpoint thresholds count its pages), and a database that exists keeps the
    /// page size it was made with.
    #[tokio::test]
    async fn larger_pages_are_made_at_creation_and_bound_the_wal_in_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let page_size = |path: &Path| -> i64 {
            let c = Connection::open(path).unwrap();
            c.pragma_query_value(None, "page_size", |r| r.get(0))
                .unwrap()
        };
        let (large, small) = (dir.path().join("large.db"), dir.path().join("small.db"));
        drop(SqliteDb::open(&small, &["CREATE TABLE t (x INTEGER);"]).unwrap());
        let kept = SqliteDb::open_with_pages(&small, &["CREATE TABLE t (x INTEGER);"], 16_384);
        drop(kept.unwrap());
        assert_eq!(
            page_size(&small),
            4096,
            "an existing database keeps its pages"
        );

        let schema = ["CREATE TABLE t (x INTEGER, pad BLOB);"];
        let db = SqliteDb::open_with_pages(&large, &schema, 16_384).unwrap();
        assert_eq!(page_size(&large), 16_384);
        // ≈ 4,500 pages of 16 KiB through the WAL (72 MiB): past the writer's bound (64 MiB of pages);
        // the WAL must stay near 64 MiB, not grow to 16,000 pages of 16 KiB (256 MiB).
        let wal_most = commit_padded_rows(&db, &dir.path().join("large.db-wal"), 45, 16_000).await;
        // The writer's bound in pages of 16 KiB, and a commit's worth (≈ 100 pages) past it.
        let bound = (WAL_WRITER_CHECKPOINT_PAGES as u64 / 4 + 200) * (16_384 + 24);
        assert!(wal_most <= bound, "the WAL grew to {wal_most} bytes");
        assert!(std::fs::metadata(&large).unwrap().len() > 50 * 1024 * 1024);
        assert_eq!(rows_seen_by_a_fresh_connection(&large).len(), 4_500);
    }

    #[tokio::test]
    async fn the_wal_is_checkpointed_by_a_thread_of_its_own_and_stays_bounded() {
        let (_dir, path, wal, db) = padded_db("ckptwal");
        let checkpointer = "sqlite-ckpt-ckp";
        assert!(
            !thread_names().iter().any(|n| n == checkpointer),
            "the checkpoint thread starts only when a WAL first needs it"
        );
        // 180 commits of 100 rows of a page each: ≈ 18,000 WAL pages written, past the checkpoint
        // threshold four times over and past the writer's own bound.
        let wal_most = commit_padded_rows(&db, &wal, 180, 3_900).await;
        assert!(
            thread_names().iter().any(|n| n == checkpointer),
            "a thread of the database's own checkpoints its WAL: {:?}",
            thread_names()
        );
        let page = 4096 + 24;
        assert!(
            wal_most <= (WAL_WRITER_CHECKPOINT_PAGES as u64 + 200) * page,
            "the WAL grew to {wal_most} bytes"
        );
        assert!(
            std::fs::metadata(&path).unwrap().len() > 4_000 * 4096,
            "the checkpoints copied the WAL into the database"
        );
        assert_eq!(rows_seen_by_a_fresh_connection(&path).len(), 18_000);
        // The thread ends with the writer's connection.
        drop(db);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while thread_names().iter().any(|n| n == checkpointer) {
            assert!(
                std::time::Instant::now() < deadline,
                "the checkpoint thread outlived its database"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// What a process that dies with its connection open leaves: table `t` and `rows` committed rows, all
    /// of them only in the WAL.
    fn leave_rows_in_the_wal(path: &Path, rows: i64) {
        let left = open_connection(path).unwrap();
        left.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        left.execute_batch("CREATE TABLE t (x INTEGER);").unwrap();
        for x in 0..rows {
            left.execute("INSERT INTO t (x) VALUES (?1)", [x]).unwrap();
        }
        std::mem::forget(left);
    }

    /// What a killed process left in the WAL is emptied soon after the next start, once the writer is
    /// quiet — not before its first write, which goes on after the frames left, with every row kept.
    #[tokio::test]
    async fn a_wal_left_by_a_killed_process_is_emptied_once_the_writer_is_quiet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let wal = dir.path().join("w.db-wal");
        // A process that dies with its connection open: 2,000 committed rows only in the WAL.
        leave_rows_in_the_wal(&path, 2_000);
        let left = std::fs::metadata(&wal).unwrap().len();
        assert!(left > 1024 * 1024, "the WAL holds the rows: {left} bytes");
        let db = SqliteDb::open(&path, &[]).unwrap();
        let opened = std::time::Instant::now();
        insert_or_fail(db.clone(), 2_000, -1).await.unwrap();
        assert!(
            std::fs::metadata(&wal).unwrap().len() >= left,
            "the first write did not wait for the WAL to be emptied"
        );
        assert_eq!(rows_seen_by_a_fresh_connection(&path).len(), 2_001);
        vwc_testkit::until(
            "the WAL left by the killed process to be emptied",
            LEFT_WAL_EMPTIED_AFTER + std::time::Duration::from_secs(5),
            || std::fs::metadata(&wal).unwrap().len() == 0,
        )
        .await;
        assert!(opened.elapsed() >= LEFT_WAL_EMPTIED_AFTER);
        assert_eq!(rows_seen_by_a_fresh_connection(&path).len(), 2_001);
    }

    /// A reader on the WAL when the writer first tries to empty what a crash left makes that try stop; the
    /// writer tries again after the next quiet spell, and empties it once the reader has gone — with no
    /// write in between.
    #[tokio::test]
    async fn a_left_wal_a_reader_kept_is_emptied_once_the_reader_goes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let wal = dir.path().join("r.db-wal");
        leave_rows_in_the_wal(&path, 500);
        // A reader in the middle of a read of the WAL's rows.
        let reader = open_connection(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let seen: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seen, 500);
        let _db = SqliteDb::open(&path, &[]).unwrap();
        tokio::time::sleep(3 * LEFT_WAL_EMPTIED_AFTER).await;
        assert!(
            std::fs::metadata(&wal).unwrap().len() > 0,
            "emptied under a reader's snapshot"
        );
        reader.execute_batch("COMMIT").unwrap();
        vwc_testkit::until(
            "the WAL to be tried again once the reader had gone",
            std::time::Duration::from_secs(3),
            || std::fs::metadata(&wal).unwrap().len() == 0,
        )
        .await;
        assert_eq!(rows_seen_by_a_fresh_connection(&path).len(), 500);
    }

    #[tokio::test]
    async fn a_cached_statement_with_a_bound_limit_is_not_planned_again_on_every_use() {
        let dir = tempfile::tempdir().unwrap();
        let db =
            SqliteDb::open(&dir.path().join("q.db"), &["CREATE TABLE t (x INTEGER);"]).unwrap();
        let replanned = db
            .read_inline(|conn| {
                for limit in [5_i64, 5, 5, 7] {
                    conn.prepare_cached("SELECT x FROM t ORDER BY x LIMIT ?1")?
                        .query_map([limit], |r| r.get::<_, i64>(0))?
                        .for_each(drop);
                }
                let stmt = conn.prepare_cached("SELECT x FROM t ORDER BY x LIMIT ?1")?;
                Ok(stmt.get_status(rusqlite::StatementStatus::RePrepare))
            })
            .await
            .unwrap();
        assert_eq!(replanned, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_inline_read_runs_on_the_callers_thread_and_sees_committed_writes() {
        let dir = tempfile::tempdir().unwrap();
        let db =
            SqliteDb::open(&dir.path().join("r.db"), &["CREATE TABLE t (x INTEGER);"]).unwrap();
        insert_or_fail(db.clone(), 1, -1).await.unwrap();
        let caller = std::thread::current().id();
        let (thread, n) = db
            .read_inline(|c| {
                let n: i64 = c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
                Ok((std::thread::current().id(), n))
            })
            .await
            .unwrap();
        assert_eq!((thread, n), (caller, 1));
    }

    /// The relays' poll of an empty outbox is answered on the polling thread: with the one blocking-pool
    /// thread busy it still answers at once; a pending row is read as before.
    #[test]
    fn an_empty_outbox_is_polled_without_the_blocking_pool() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(1)
            .build()
            .unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let db = SqliteDb::open(&dir.path().join("poll.db"), &[]).unwrap();
            let (release, held) = std::sync::mpsc::channel::<()>();
            let busy = tokio::task::spawn_blocking(move || held.recv());
            let none = HashSet::new();
            let poll = db.pending_except(10, &none);
            let polled = tokio::time::timeout(std::time::Duration::from_secs(5), poll).await;
            assert!(
                polled
                    .expect("answered without a blocking thread")
                    .unwrap()
                    .is_empty()
            );
            release.send(()).unwrap();
            busy.await.unwrap().unwrap();
            let e = envelope();
            let stored = e.clone();
            db.write(move |c| enqueue(c, &[stored])).await.unwrap();
            let pending = db.pending_except(10, &none).await.unwrap();
            assert_eq!(pending.len(), 1);
            assert_eq!(pending[0].1, e);
        });
    }

    /// An outbox row holds the envelope's id as `Uuid`'s `Display` writes it and the JSON serde_json would
    /// write (both are written by faster paths than those two).
    #[test]
    fn an_outbox_row_is_the_envelopes_id_and_its_serde_json() {
        for e in [envelope(), envelope()] {
            let (id, json) = outbox_row(e.clone()).unwrap();
            assert_eq!(id, e.id.to_string());
            assert_eq!(&*json, serde_json::to_string(&e).unwrap());
        }
    }

    #[tokio::test]
    async fn outbox_rows_are_pending_until_marked_sent_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.db");
        let e = envelope();
        {
            let db = SqliteDb::open(&path, &[]).unwrap();
            let e2 = e.clone();
            db.write(move |c| enqueue(c, &[e2])).await.unwrap();
        }
        let db = SqliteDb::open(&path, &[]).unwrap();
        let pending = db.pending(10).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].1, e);
        db.mark_sent(&[pending[0].0.clone()]).await.unwrap();
        assert!(db.pending(10).await.unwrap().is_empty());
        // Sent rows are pruned only once older than the cut-off; pending rows never are.
        let e3 = envelope();
        db.write(move |c| enqueue(c, &[e3])).await.unwrap();
        assert_eq!(
            db.prune_sent(vwc_clock::now() - chrono::Duration::hours(1))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            db.prune_sent(vwc_clock::now() + chrono::Duration::seconds(1))
                .await
                .unwrap(),
            1
        );
        assert_eq!(db.pending(10).await.unwrap().len(), 1);
    }

    /// Marking a row sent writes a mark beside it, not the row; marking it again, or marking a row that
    /// is gone, writes none — a `seq` is handed out again once the newest row is deleted, and a stray mark
    /// would have the new row taken as sent.
    #[tokio::test]
    async fn a_sent_mark_is_written_once_and_never_for_a_row_that_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("o.db"), &[]).unwrap();
        let (first, second) = (envelope(), envelope());
        let e = first.clone();
        db.write(move |c| enqueue(c, &[e])).await.unwrap();
        let row = || {
            db.read(|c| {
                Ok(c.query_row(
                    "SELECT group_concat(seq || ' ' || event_id || ' ' || length(envelope) || ' ' || created_at)
                     FROM outbox",
                    [],
                    |r| r.get::<_, Option<String>>(0),
                )?)
            })
        };
        let written = row().await.unwrap();
        assert!(written.is_some());
        let id = OutboxId("1".into());
        db.mark_sent(std::slice::from_ref(&id)).await.unwrap();
        db.mark_sent(std::slice::from_ref(&id)).await.unwrap();
        assert_eq!(
            row().await.unwrap(),
            written,
            "the row is not written again"
        );
        let marks = || {
            db.read(|c| {
                Ok(c.query_row(
                    "SELECT (SELECT count(*) FROM outbox_sent), (SELECT count(*) FROM outbox_unsent)",
                    [],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                )?)
            })
        };
        assert_eq!(marks().await.unwrap(), (1, 0));
        assert!(db.pending(10).await.unwrap().is_empty());

        // The row pruned, its `seq` is the next row's: that row is pending, and a late mark of the old
        // row's id leaves it so.
        let later = vwc_clock::now() + chrono::Duration::seconds(1);
        assert_eq!(db.prune_sent(later).await.unwrap(), 1);
        assert_eq!(marks().await.unwrap(), (0, 0));
        db.mark_sent(std::slice::from_ref(&id)).await.unwrap();
        assert_eq!(marks().await.unwrap(), (0, 0));
        let e = second.clone();
        db.write(move |c| enqueue(c, &[e])).await.unwrap();
        let pending = db.pending(10).await.unwrap();
        assert_eq!(pending, [(id.clone(), second)]);
        // A dead letter takes the row and its mark; a mark after it finds nothing.
        let letter = NewDeadLetter {
            consumer: "relay:test",
            envelope: &pending[0].1,
            error: "refused",
            attempts: 1,
        };
        db.dead_letter(&id, letter).await.unwrap();
        db.mark_sent(std::slice::from_ref(&id)).await.unwrap();
        assert_eq!(marks().await.unwrap(), (0, 0));
        assert_eq!(row().await.unwrap(), None, "no row left");
    }

    /// Pruning deletes the sent rows before the cut-off in write jobs of a bounded size, passes over the
    /// pending rows among them (they stay pending) and stops at the first row sent since: rows after it
    /// stay, even one sent before the cut-off (a wall clock set back), which a later run prunes.
    #[tokio::test]
    async fn sent_rows_are_pruned_oldest_first_in_bounded_jobs_and_pending_rows_stay() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("o.db"), &[]).unwrap();
        let old = ROWS_PER_PRUNE_JOB * 2 + 7;
        let now = vwc_clock::now();
        let at = |days: i64| crate::ts(&(now - chrono::Duration::days(days)));
        let (long_ago, recent) = (at(10), at(1));
        db.write(move |conn| {
            let mut row = conn.prepare(
                "INSERT INTO outbox (event_id, envelope, created_at) VALUES (?1, '{}', ?2)",
            )?;
            let mut sent = conn.prepare(
                "INSERT INTO outbox_sent (seq, sent_at) VALUES (last_insert_rowid(), ?1)",
            )?;
            let mut insert = |id: &str, at: &str, sent_at: Option<&str>| -> StoreResult<()> {
                row.execute(params![id, at])?;
                match sent_at {
                    Some(sent_at) => sent.execute([sent_at])?,
                    None => conn.execute(MARK_UNSENT, [])?,
                };
                Ok(())
            };
            for i in 0..old {
                insert(&format!("old-{i}"), &long_ago, Some(&long_ago))?;
                if i == ROWS_PER_PRUNE_JOB + 3 {
                    insert("pending", &long_ago, None)?;
                }
            }
            insert("recent", &recent, Some(&recent))?;
            insert("late-stamped", &long_ago, Some(&long_ago))?;
            Ok(())
        })
        .await
        .unwrap();
        let jobs_before = db.writer_jobs();
        let cut_off = now - chrono::Duration::days(7);
        assert_eq!(db.prune_sent(cut_off).await.unwrap(), old as u64);
        let jobs = db.writer_jobs() - jobs_before;
        assert_eq!(jobs, 3, "a job per {ROWS_PER_PRUNE_JOB} rows looked at");
        let left: Vec<(String, Option<String>)> = db
            .read(|c| {
                let mut q = c.prepare(
                    "SELECT event_id, sent_at FROM outbox LEFT JOIN outbox_sent USING (seq) ORDER BY seq",
                )?;
                let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        let ids: Vec<&str> = left.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["pending", "recent", "late-stamped"]);
        assert_eq!(left[0].1, None, "a pending row stays pending");
        let count = |table: &'static str| {
            db.read(move |c| {
                let sql = format!("SELECT count(*) FROM {table}");
                Ok(c.query_row(&sql, [], |r| r.get::<_, i64>(0))?)
            })
        };
        assert_eq!(count("outbox_unsent").await.unwrap(), 1);
        assert_eq!(
            count("outbox_sent").await.unwrap(),
            2,
            "each pruned row's mark went with it"
        );
        assert_eq!(db.prune_sent(cut_off).await.unwrap(), 0);
        assert_eq!(
            db.writer_jobs() - jobs_before,
            4,
            "nothing to prune: one job"
        );
    }

    /// Pruning deletes the run of claims made before the cut-off, however many write jobs it takes, and
    /// stops at the first claim made since: those younger are kept, even ones older than the cut-off
    /// that follow them (a wall clock set back), which a later run prunes.
    #[tokio::test]
    async fn old_claims_are_pruned_oldest_first_in_bounded_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("i.db"), &[]).unwrap();
        let old = ROWS_PER_PRUNE_JOB * 2 + 7;
        let now = vwc_clock::now();
        let at = |days: i64| (now - chrono::Duration::days(days)).to_rfc3339();
        let (long_ago, recent) = (at(40), at(1));
        db.write(move |conn| {
            let mut insert = conn.prepare(
                "INSERT INTO inbox (consumer, event_id, applied_at) VALUES ('edge', ?1, ?2)",
            )?;
            for i in 0..old {
                insert.execute(params![format!("old-{i}"), long_ago])?;
            }
            insert.execute(params!["recent", recent])?;
            insert.execute(params!["late-stamped", long_ago])?;
            Ok(())
        })
        .await
        .unwrap();
        let jobs_before = db.writer_jobs();
        let cut_off = now - chrono::Duration::days(30);
        assert_eq!(db.prune_claims(cut_off).await.unwrap(), old as u64);
        let jobs = db.writer_jobs() - jobs_before;
        assert_eq!(jobs, 3, "a job per {ROWS_PER_PRUNE_JOB} claims looked at");
        let left: Vec<String> = db
            .read(|c| {
                let mut q = c.prepare("SELECT event_id FROM inbox ORDER BY rowid")?;
                let ids = q.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok(ids)
            })
            .await
            .unwrap();
        assert_eq!(left, ["recent", "late-stamped"]);
        assert_eq!(db.prune_claims(cut_off).await.unwrap(), 0);
        // A claim pruned is a claim that can be made again.
        let claimed = db.write(|c| claim_inbox(c, "edge", "old-3")).await.unwrap();
        assert!(claimed);
    }

    /// The relay is handed the envelope this process kept only while its row holds what was written; a
    /// row changed since (here by hand) is read from the row.
    #[tokio::test]
    async fn a_pending_row_is_what_the_outbox_holds_even_when_the_process_kept_it_typed() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("o.db"), &[]).unwrap();
        // The relay reads first: from then on the process keeps what it enqueues.
        assert!(db.pending(10).await.unwrap().is_empty());
        let (kept, changed) = (envelope(), envelope());
        let mut rewritten = changed.clone();
        rewritten.org_id = "org_b".into();
        let json = serde_json::to_string(&rewritten).unwrap();
        let (k, c) = (kept.clone(), changed.clone());
        db.write(move |conn| {
            enqueue(conn, &[k, c])?;
            conn.execute(
                "UPDATE outbox SET envelope = ?1 WHERE event_id = ?2",
                params![json, changed.id.to_string()],
            )?;
            Ok(())
        })
        .await
        .unwrap();
        let envelopes = |rows: Vec<(OutboxId, Envelope)>| -> Vec<Envelope> {
            rows.into_iter().map(|(_, e)| e).collect()
        };
        let pending = envelopes(db.pending(10).await.unwrap());
        assert_eq!(pending, [kept.clone(), rewritten.clone()]);
        // Read again (nothing kept any more): the same.
        let again = envelopes(db.pending_except(10, &HashSet::new()).await.unwrap());
        assert_eq!(again, [kept, rewritten]);
    }

    #[tokio::test]
    async fn a_panicking_write_fails_alone_and_later_writes_and_the_ping_still_work() {
        let (_dir, db) = unique_x_table();
        let panicked = db
            .write(|c| -> StoreResult<()> {
                c.execute("INSERT INTO t (x) VALUES (1)", [])?;
                panic!("injected fault");
            })
            .await;
        let err = panicked.unwrap_err().to_string();
        assert!(err.contains("injected fault"), "{err}");
        for x in 2..5 {
            db.write(move |c| {
                c.execute("INSERT INTO t (x) VALUES (?1)", [x])?;
                Ok(())
            })
            .await
            .unwrap();
        }
        let rows: Vec<i64> = db
            .read(|c| {
                let mut stmt = c.prepare("SELECT x FROM t ORDER BY x")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        assert_eq!(rows, [2, 3, 4], "the panicking write left nothing behind");
        db.ping().await.unwrap();
    }

    /// The ping commits a real write (so a full disk or an unwritable file fails it): another connection
    /// sees the database change with each ping, and nothing else does.
    #[tokio::test]
    async fn the_ping_writes_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let db = SqliteDb::open(&path, &[]).unwrap();
        let other = Connection::open(&path).unwrap();
        let version = || -> i64 {
            other
                .query_row("PRAGMA data_version", [], |r| r.get(0))
                .unwrap()
        };
        let before = version();
        db.ping().await.unwrap();
        assert_ne!(version(), before, "the ping wrote nothing");
        let id: i64 = other
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .unwrap();
        assert_eq!(id, 0, "the header keeps its value");
    }

    #[tokio::test]
    async fn the_ping_fails_while_the_writer_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let db = SqliteDb::open(&path, &[]).unwrap();
        db.ping().await.unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let err = db.ping().await.unwrap_err().to_string();
        assert!(err.contains("did not answer"), "{err}");
        other.execute_batch("COMMIT").unwrap();
    }

    /// A write whose transaction cannot begin (another connection holds the database past the busy
    /// timeout) fails after one busy timeout and writes nothing, even once the database is free again. It
    /// used to be run anyway, in autocommit mode, statement by statement — waiting out a second busy
    /// timeout, and writing whatever the lock allowed by then — before its caller heard it had failed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_cannot_begin_writes_nothing_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.db");
        let db = SqliteDb::open(&path, &[]).unwrap();
        db.write(|c| Ok(c.execute_batch("CREATE TABLE t (v INTEGER)")?))
            .await
            .unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE").unwrap();
        let started = std::time::Instant::now();
        let failed = db
            .write(|c| Ok(c.execute("INSERT INTO t (v) VALUES (1)", [])?))
            .await;
        assert!(failed.is_err(), "{failed:?}");
        // One busy timeout (10 s), not two: the write itself was not attempted.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "{:?}",
            started.elapsed()
        );
        // Free the database at once, as the caller would retry.
        other.execute_batch("ROLLBACK").unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let rows: i64 = db
            .read(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(rows, 0, "the failed write landed after all");
    }

    #[tokio::test]
    async fn the_inbox_claims_an_event_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("i.db"), &[]).unwrap();
        let first = db.write(|c| claim_inbox(c, "edge", "e1")).await.unwrap();
        let second = db.write(|c| claim_inbox(c, "edge", "e1")).await.unwrap();
        let other = db
            .write(|c| claim_inbox(c, "notification", "e1"))
            .await
            .unwrap();
        assert!(first && !second && other);
    }

    /// An outbox of an earlier shape — the first (`AUTOINCREMENT`, a unique event id) or the second (`sent_at`
    /// in the row, a partial index of the pending rows) — is rebuilt when its database is opened: every row
    /// keeps its `seq` and state (a sent row its time), the pending ones are read in order, a new row comes
    /// after them, and the outbox has a new database's tables, columns and indexes; opening it again
    /// changes nothing.
    #[tokio::test]
    async fn an_outbox_of_an_earlier_shape_is_rebuilt_keeping_its_rows() {
        let second_shape = COMMON_MIGRATIONS[0];
        let first_shape = second_shape
            .replacen(
                "seq INTEGER PRIMARY KEY,",
                "seq INTEGER PRIMARY KEY AUTOINCREMENT,",
                1,
            )
            .replacen(
                "event_id TEXT NOT NULL,\n    envelope",
                "event_id TEXT NOT NULL UNIQUE,\n    envelope",
                1,
            );
        assert_ne!(first_shape, second_shape);
        assert!(second_shape.contains("sent_at TEXT"));
        for (n, earlier) in [first_shape.as_str(), second_shape].into_iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let (old, new) = (dir.path().join("old.db"), dir.path().join("new.db"));
            let envelopes: Vec<Envelope> = (0..3).map(|_| envelope()).collect();
            let sent_at = "2026-01-02T03:04:05.000000Z";
            {
                let conn = Connection::open(&old).unwrap();
                conn.execute_batch(earlier).unwrap();
                conn.pragma_update(None, "user_version", 1).unwrap();
                for e in &envelopes {
                    let (id, json) = outbox_row(e.clone()).unwrap();
                    conn.execute(INSERT_OUTBOX_ROW, params![id, json, "2026-01-01T00:00:00Z"])
                        .unwrap();
                }
                conn.execute("UPDATE outbox SET sent_at = ?1 WHERE seq = 1", [sent_at])
                    .unwrap();
            }
            async fn shape(db: &SqliteDb) -> Vec<String> {
                db.read(|conn| {
                    let mut stmt = conn.prepare(
                        "SELECT m.type || ' ' || m.name || ': ' || coalesce(group_concat(
                             c.name || ' ' || c.type || ' ' || c.\"notnull\" || ' ' || c.pk, ', '), '')
                         FROM sqlite_master m LEFT JOIN pragma_table_info(m.name) c
                         WHERE m.name LIKE 'outbox%' OR m.tbl_name LIKE 'outbox%'
                         GROUP BY m.type, m.name ORDER BY m.name",
                    )?;
                    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                    Ok(rows.collect::<Result<_, _>>()?)
                })
                .await
                .unwrap()
            }
            let db = SqliteDb::open(&old, &[]).unwrap();
            let upgraded = shape(&db).await;
            let fresh = shape(&SqliteDb::open(&new, &[]).unwrap()).await;
            assert_eq!(upgraded, fresh, "shape {}", n + 1);
            assert_eq!(
                fresh,
                [
                    "table outbox: seq INTEGER 0 1, event_id TEXT 1 0, envelope TEXT 1 0, created_at TEXT 1 0",
                    "table outbox_sent: seq INTEGER 0 1, sent_at TEXT 1 0",
                    "table outbox_unsent: seq INTEGER 0 1",
                ]
            );

            let pending = db.pending(10).await.unwrap();
            let seen: Vec<(String, uuid::Uuid)> = (pending.iter())
                .map(|(id, e)| (id.0.clone(), e.id))
                .collect();
            assert_eq!(
                seen,
                vec![
                    ("2".to_string(), envelopes[1].id),
                    ("3".to_string(), envelopes[2].id)
                ]
            );
            db.write(|conn| enqueue(conn, &[envelope()])).await.unwrap();
            let seqs = db
                .read(|conn| {
                    let mut stmt = conn.prepare(
                        "SELECT seq, coalesce(sent_at, '') FROM outbox LEFT JOIN outbox_sent USING (seq)
                         ORDER BY seq",
                    )?;
                    let rows = stmt
                        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
                    Ok(rows.collect::<Result<Vec<_>, _>>()?)
                })
                .await
                .unwrap();
            let stamps: Vec<(i64, &str)> = seqs.iter().map(|(s, t)| (*s, t.as_str())).collect();
            assert_eq!(stamps, [(1, sent_at), (2, ""), (3, ""), (4, "")]);
            drop(db);
            let again = SqliteDb::open(&old, &[]).unwrap();
            assert_eq!(shape(&again).await, upgraded);
            assert_eq!(again.pending(10).await.unwrap().len(), 3);
        }
    }
}
