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

fn main() -> anyhow::Result<()> {
    // Before any thread starts and before anything opens a database.
    small_pages();
    if !vwc_store::sqlite::allocate_through_rust() {
        eprintln!("warning: SQLite keeps its own allocator (it was initialised already)");
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(max_blocking_threads())
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
