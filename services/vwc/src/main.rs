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

fn main() -> anyhow::Result<()> {
    // Before the runtime's threads start and the allocator first reserves memory.
    small_pages();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
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
