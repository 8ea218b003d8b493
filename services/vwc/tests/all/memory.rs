//! `vwc up` keeps its heap off transparent huge pages (docs/bench.md, "Memory"): with mimalloc's arenas
//! marked for THP, each touched byte made a 2 MiB page resident and an idle demo server held 138 MiB —
//! and the pages faulted before `main` stayed (docs/bench.md, "Memory, cold start and the first sweep").
#![cfg(target_os = "linux")]

use vwc_testkit::process::start_vwc_up;

/// The value of `field` in a `/proc/<pid>/…` file of `key: value` lines.
fn proc_field(pid: u32, file: &str, field: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/{file}"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .map(|v| v.trim().to_string())
}

#[tokio::test]
async fn vwc_up_runs_with_transparent_huge_pages_off_from_before_main_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = start_vwc_up(env!("CARGO_BIN_EXE_vwc"), dir.path());
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    // Linux ≥ 5.0 reports the process's PR_SET_THP_DISABLE flag here.
    let thp = proc_field(child.id(), "status", "THP_enabled:");
    // Not one huge page: the flag is set by a constructor, before the Rust runtime's first allocations
    // made mimalloc reserve its arena (with the flag set in `main`, two 2 MiB pages stayed resident).
    let huge = proc_field(child.id(), "smaps_rollup", "AnonHugePages:");
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(
        thp.as_deref(),
        Some("0"),
        "THP_enabled in /proc/<pid>/status"
    );
    assert_eq!(
        huge.as_deref(),
        Some("0 kB"),
        "AnonHugePages in smaps_rollup"
    );
    assert_eq!(health.status(), 200);
}
