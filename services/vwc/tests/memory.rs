//! `vwc up` keeps its heap off transparent huge pages (docs/bench.md, "Memory"): with mimalloc's arenas
//! marked for THP, each touched byte made a 2 MiB page resident and an idle demo server held 138 MiB.
#![cfg(target_os = "linux")]

use vwc_testkit::process::start_vwc_up;

#[tokio::test]
async fn vwc_up_runs_with_transparent_huge_pages_off_and_serves() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base) = start_vwc_up(env!("CARGO_BIN_EXE_vwc"), dir.path());
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    // Linux ≥ 5.0 reports the process's PR_SET_THP_DISABLE flag here.
    let thp = status
        .lines()
        .find_map(|l| l.strip_prefix("THP_enabled:"))
        .map(str::trim);
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(thp, Some("0"), "THP_enabled in /proc/<pid>/status");
    assert_eq!(health.status(), 200);
}
