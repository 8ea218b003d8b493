//! What the `vwc` and `vwc-bench` processes set up before anything else: the allocator (mimalloc, on
//! 4 KiB pages, handing freed pages back to the system a second after they empty) and the tokio runtime
//! (a bounded blocking pool whose threads collect what they freed). `vwc-bench` runs the sweep, the
//! re-valuation and the chat rows in its own process, so it must allocate as the server does
//! (docs/bench.md, "The allocator's purge delay, again").

use std::time::Duration;

pub use mimalloc::MiMalloc;

/// mimalloc's `purge_delay` in milliseconds: a page that emptied goes back to the system this long after,
/// unless something allocates in it first. At 0 (every freed page at once, as from 2026-11-29) a first
/// sweep of 100,000 vehicles spent 4.2–5.4 s of system time re-faulting and zeroing pages it had just
/// given back, against 2.3–2.5 s at 1,000 ms; idle memory still goes back within a second or two, because
/// every runtime thread collects when it parks ([`collect_freed_pages`]).
pub const PURGE_DELAY_MS: &std::ffi::CStr = c"1000";

/// Keeps the heap on 4 KiB pages. mimalloc marks its arenas for transparent huge pages, so on a kernel
/// with THP in `madvise` mode one touched byte makes a whole 2 MiB page resident: a demo-seeded idle
/// `vwc up` held 138 MiB instead of 60 MiB, and the bench's peak was 539 MiB instead of 267 MiB
/// (docs/bench.md, "Memory").
fn small_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_THP_DISABLE) sets one flag of this process; it takes plain integers and touches
    // no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Runs from the process's first constructor ([`allocator!`]), before the Rust runtime's own first
/// allocations (which made mimalloc reserve its arena and fault in two huge pages — 4 MiB resident for
/// good, docs/bench.md, "Memory, cold start and the first sweep"): [`small_pages`], and mimalloc's purge
/// delay ([`PURGE_DELAY_MS`]) unless `MIMALLOC_PURGE_DELAY` is set already — mimalloc reads its options
/// from the environment when it initialises.
pub extern "C" fn before_the_first_allocation() {
    small_pages();
    #[cfg(target_os = "linux")]
    // SAFETY: called from the process's first constructor, before any other thread exists, so nothing
    // reads the environment concurrently; both strings are NUL-terminated and outlive the call, and
    // `overwrite = 0` keeps a value the operator set.
    unsafe {
        libc::setenv(c"MIMALLOC_PURGE_DELAY".as_ptr(), PURGE_DELAY_MS.as_ptr(), 0);
    }
}

/// The global allocator and the constructor that configures it before anything allocates, for a binary's
/// root module.
#[macro_export]
macro_rules! allocator {
    () => {
        #[global_allocator]
        static ALLOCATOR: $crate::process::MiMalloc = $crate::process::MiMalloc;

        /// `.init_array.00101` runs before the constructors without a priority.
        #[cfg(target_os = "linux")]
        #[used]
        #[unsafe(link_section = ".init_array.00101")]
        static BEFORE_THE_FIRST_ALLOCATION: extern "C" fn() =
            $crate::process::before_the_first_allocation;
    };
}

/// Blocking-pool threads at most. Reads run there (a few per database at a time, see `vwc_store::sqlite`),
/// and each thread that ever ran one keeps allocator state of its own; tokio's default allows 512. Two per
/// core (at least four): the reads are CPU work, and the relays' polls every 500 ms kept every thread a burst
/// had started alive past tokio's 10 s keep-alive, so an idle server held 14 of them. With 16 at most
/// (8 per core) an idle demo server held 41–42 MiB, with 4 35–36 MiB; ingest and the timeline page kept
/// their rates (docs/bench.md, "Cold start and idle memory").
fn max_blocking_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    (2 * cores).clamp(4, 64)
}

/// How often at most a thread hands back the allocator pages it no longer fills.
const COLLECT_EVERY: Duration = Duration::from_secs(1);

/// Lets mimalloc give back this thread's pages that hold nothing any more, at most once per
/// [`COLLECT_EVERY`]. A page belongs to the thread that allocated in it, and blocks that other threads free
/// (a commit built on a runtime thread and dropped by a SQLite writer, a response body, a span) only go back
/// to it when that thread allocates in the page again or collects: a thread that went quiet after a burst
/// kept its emptied pages resident. Collecting every runtime thread of an idle demo server by hand (`gdb`,
/// `mi_theap_collect`) took its anonymous memory from ≈ 20 MiB to ≈ 14.5 MiB (docs/bench.md, "Idle memory:
/// pages emptied by other threads"). The collect is forced: the pages freed less than
/// [`PURGE_DELAY_MS`] ago go back too, so an idle server's memory does not wait for the delay; under load
/// that is once a second per thread, not once per emptied page.
fn collect_freed_pages() {
    thread_local! {
        static LAST: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
    }
    let now = std::time::Instant::now();
    if LAST
        .get()
        .is_some_and(|last| now.duration_since(last) < COLLECT_EVERY)
    {
        return;
    }
    LAST.set(Some(now));
    // SAFETY: `mi_collect` (mimalloc's public API, in the static library the `mimalloc` crate links) only
    // walks the calling thread's own heap and the arenas' purge lists; it takes a C `bool`, which has
    // Rust's `bool` layout.
    unsafe { mi_collect(true) }
}

unsafe extern "C" {
    /// `void mi_collect(bool force)`: frees the calling thread's empty pages (`force`: also what it would
    /// keep for reuse, and the arenas' pages whose purge delay has not run out). Bound here rather than
    /// through `libmimalloc-sys`'s `extended` feature, which would add a dependency for one function.
    fn mi_collect(force: bool);
}

/// The multi-threaded runtime both binaries run on, with SQLite allocating through the global allocator.
/// Call it before any thread starts and before anything opens a database.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    if !vwc_store::sqlite::allocate_through_rust() {
        eprintln!("warning: SQLite keeps its own allocator (it was initialised already)");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(max_blocking_threads())
        // A worker parks when it runs out of work: the end of a burst, or, at idle, between the relays'
        // polls every 500 ms — so a quiet server's workers collect within a second or so.
        .on_thread_park(collect_freed_pages)
        // A blocking-pool thread ends after 10 s without work; what it collects first is not left behind
        // in pages the next thread would have to find.
        .on_thread_stop(collect_freed_pages)
        .build()
}

static LOG_JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `vwc` logs as JSON lines (`--log-json`): then [`say`]'s lines are log records too.
pub fn set_log_json(on: bool) {
    LOG_JSON.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// A line for whoever runs the command — progress, a summary — on standard error: as text, or with
/// `--log-json` as an `info` record, so that every line on standard error parses as JSON (standard output
/// keeps the command's own output). Use through [`crate::say!`].
pub fn say(line: std::fmt::Arguments<'_>) {
    if LOG_JSON.load(std::sync::atomic::Ordering::Relaxed) {
        tracing::info!("{line}");
    } else {
        eprintln!("{line}");
    }
}

/// [`say`] with `format!`'s arguments.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::process::say(format_args!($($arg)*))
    };
}
