use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// [`small_pages`] from a constructor, before the Rust runtime starts: the runtime's own first allocations
/// (before `main`) made mimalloc reserve its arena and fault in two huge pages — 4 MiB resident for
/// good, and zeroing them was a visible part of the cold start (docs/bench.md, "Memory, cold start and
/// the first sweep"). `.init_array.00101` runs before the constructors without a priority.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array.00101")]
static SMALL_PAGES_FIRST: extern "C" fn() = {
    extern "C" fn small_pages_first() {
        small_pages();
        return_freed_pages_at_once();
    }
    small_pages_first
};

/// Makes mimalloc give freed pages back to the system at once instead of after its purge delay (10 ms,
/// multiplied for arena pages), unless `MIMALLOC_PURGE_DELAY` is set already. mimalloc reads its options from
/// the environment when it initialises, so this runs from the constructor above, before its first
/// allocation. Measured with `VWC_BENCH_ONLY=http` (docs/bench.md, "mimalloc's purge delay"): peak RSS
/// 152.7 → 106.3 MiB and idle 46.7 → 44.7 MiB, request rates within the run-to-run noise.
#[cfg(target_os = "linux")]
fn return_freed_pages_at_once() {
    const NAME: &std::ffi::CStr = c"MIMALLOC_PURGE_DELAY";
    // SAFETY: called from the process's first constructor, before any other thread exists, so nothing
    // reads the environment concurrently; both strings are NUL-terminated and outlive the call, and
    // `overwrite = 0` keeps a value the operator set.
    unsafe {
        libc::setenv(NAME.as_ptr(), c"0".as_ptr(), 0);
    }
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

/// How often at most a thread hands back the allocator pages its own blocks no longer fill.
const COLLECT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Lets mimalloc free this thread's pages that hold nothing any more, at most once per [`COLLECT_EVERY`].
/// A page belongs to the thread that allocated in it, and blocks that other threads free (a commit built
/// on a runtime thread and dropped by a SQLite writer, a response body, a span) only go back to it when
/// that thread allocates in the page again or collects: a thread that went quiet after a burst kept its
/// emptied pages resident. Collecting every runtime thread of an idle demo server by hand (`gdb`,
/// `mi_theap_collect`) took its anonymous memory from ≈ 20 MiB to ≈ 14.5 MiB (docs/bench.md, "Idle memory:
/// pages emptied by other threads"). The non-forcing collect only frees what is free already; it costs a
/// walk of the thread's pages, hence the rate limit.
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
    // walks the calling thread's own heap; it takes a C `bool`, which has Rust's `bool` layout.
    unsafe { mi_collect(false) }
}

unsafe extern "C" {
    /// `void mi_collect(bool force)`: frees the calling thread's empty pages (`force`: also what it would
    /// keep for reuse). Bound here rather than through `libmimalloc-sys`'s `extended` feature, which would
    /// add a dependency for one function.
    fn mi_collect(force: bool);
}

fn main() -> anyhow::Result<()> {
    // Before any thread starts and before anything opens a database.
    small_pages();
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
        .build()?
        .block_on(async {
            let cli = vwc::cli::Cli::parse();
            let format = if cli.log_json {
                vwc_telemetry::LogFormat::Json
            } else {
                vwc_telemetry::LogFormat::Text
            };
            let _telemetry = vwc_telemetry::init("vwc", format);
            vwc::cli::run(cli).await
        })
}
