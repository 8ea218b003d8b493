//! The footprint rows of `scripts/bench`: the build time (read from a `cargo build --timings` report), the
//! Lambda zips' sizes (read from `scripts/package`'s output) and each Lambda function's init time — from
//! exec to its first `GET /2018-06-01/runtime/invocation/next` on a Lambda Runtime API that this module
//! serves on a loopback port (host builds of the functions).
//!
//! Where the inputs are: `VWC_BENCH_TARGET_DIR` (scripts/bench sets it to cargo's target dir); the newest
//! report of a release build in `<target>/cargo-timings/` unless `VWC_BENCH_TIMINGS` names one; the zips in
//! `<target>/lambda/<function>/bootstrap.zip`; the host Lambda binaries in `<target>/<host triple>/lambda/`
//! (the zips' `lambda` profile, a long build) or else `<target>/release/` (the release profile with the
//! `aws` feature: minutes once the AWS SDK is built; each row names the profile it measured).
//! A missing input gives a row that says how to produce it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What one `cargo build --timings` report says.
#[derive(Debug, Clone, PartialEq)]
pub struct Timings {
    pub profile: String,
    pub wall_secs: f64,
    pub total_units: usize,
    pub fresh_units: usize,
    /// Every unit's compile time added up (seconds): less sensitive to the machine's load than the wall
    /// time, since a unit waiting for a core does not count.
    pub unit_secs: f64,
    /// The same sum over the units whose crate name starts with each prefix (AWS SDK, MongoDB, workspace).
    pub groups: Vec<(&'static str, f64)>,
}

const GROUPS: [&str; 4] = ["aws-sdk-", "mongodb", "aws-lc-sys", "vwc"];

fn summary_cell<'a>(html: &'a str, label: &str) -> Option<&'a str> {
    let pattern = format!("<td>{label}:</td><td>");
    let start = html.find(&pattern)? + pattern.len();
    let end = html[start..].find('<')?;
    Some(html[start..start + end].trim())
}

/// Parses the summary table and the `UNIT_DATA` array of a `cargo-timing-*.html` report.
pub fn parse_timings(html: &str) -> anyhow::Result<Timings> {
    let number = |label: &str| -> anyhow::Result<f64> {
        let cell =
            summary_cell(html, label).with_context(|| format!("no {label:?} in the report"))?;
        let first = cell.split(['s', ' ']).next().unwrap_or_default();
        first
            .parse()
            .with_context(|| format!("{label:?} is not a number: {cell:?}"))
    };
    let start = html
        .find("const UNIT_DATA = ")
        .context("no UNIT_DATA in the report")?
        + "const UNIT_DATA = ".len();
    let end = start + html[start..].find("];").context("UNIT_DATA does not end")? + 1;
    let units: Vec<serde_json::Value> =
        serde_json::from_str(&html[start..end]).context("UNIT_DATA is not JSON")?;
    let secs = |u: &serde_json::Value| u["duration"].as_f64().unwrap_or(0.0);
    let groups = GROUPS
        .iter()
        .map(|prefix| {
            // A fold from +0.0: `Sum` of no floats is -0.0, printed "-0 s".
            let sum = units
                .iter()
                .filter(|u| u["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
                .map(secs)
                .fold(0.0, |total, s| total + s);
            (*prefix, sum)
        })
        .collect();
    Ok(Timings {
        profile: report_profile(html).unwrap_or("?").to_string(),
        wall_secs: number("Total time")?,
        total_units: number("Total units")? as usize,
        fresh_units: number("Fresh units")? as usize,
        unit_secs: units.iter().map(secs).sum(),
        groups,
    })
}

fn target_dir() -> PathBuf {
    std::env::var_os("VWC_BENCH_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// The report `VWC_BENCH_TIMINGS` names, or else [`newest_release_report`] in `<target>/cargo-timings`.
fn timings_report() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("VWC_BENCH_TIMINGS") {
        return Some(PathBuf::from(path));
    }
    newest_release_report(&target_dir().join("cargo-timings"))
}

/// The newest `cargo-timing-*.html` in `dir` of a build of the release profile: cargo puts the report of
/// every `cargo … --timings` there (a test build's too, whose compile times are not row (l)'s).
fn newest_release_report(dir: &Path) -> Option<PathBuf> {
    let mut reports: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("cargo-timing-") && n.ends_with(".html"))
        })
        .collect();
    // The names carry the report's UTC time, so the last in name order is the newest.
    reports.sort_unstable_by(|a, b| b.cmp(a));
    reports.into_iter().find(|path| {
        std::fs::read_to_string(path).is_ok_and(|html| report_profile(&html) == Some("release"))
    })
}

/// The profile a `--timings` report was built with.
fn report_profile(html: &str) -> Option<&str> {
    summary_cell(html, "Profile")
}

fn none_row(measure: &str, how: &str) -> String {
    format!("| {measure} | — | — | — | — | not measured: {how} |\n")
}

/// Row (l): the build time, from a `--timings` report (a cold one when `VWC_BENCH_BUILD=1` made it).
pub fn build_row() -> String {
    let measure = "(l) `cargo build --release` (from a `--timings` report)";
    let Some(path) = timings_report() else {
        return none_row(
            measure,
            "no report of a release build; `VWC_BENCH_BUILD=1 scripts/bench` makes a cold one",
        );
    };
    let parsed = std::fs::read_to_string(&path)
        .map_err(anyhow::Error::from)
        .and_then(|html| parse_timings(&html));
    let t = match parsed {
        Ok(t) => t,
        Err(e) => return none_row(measure, &format!("{}: {e:#}", path.display())),
    };
    let groups: Vec<String> = t
        .groups
        .iter()
        .map(|(prefix, secs)| format!("{prefix}* {secs:.0} s"))
        .collect();
    format!(
        "| (l) `cargo build` ({} profile, {} units, {} compiled; {}) | — | — | — | — | {:.1} min wall; {:.0} s of unit time ({}) |\n",
        t.profile,
        t.total_units,
        t.total_units - t.fresh_units,
        path.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
        t.wall_secs / 60.0,
        t.unit_secs,
        groups.join(", ")
    )
}

fn lambda_functions() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/bin"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str().map(str::to_string))
                .filter_map(|n| {
                    n.strip_prefix("vwc-lambda-")
                        .and_then(|rest| rest.strip_suffix(".rs"))
                        .map(|f| format!("vwc-lambda-{f}"))
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Rows (m): each function's zip as `scripts/package` left it.
pub fn zip_rows() -> String {
    let mut rows = String::new();
    for function in lambda_functions() {
        let zip = target_dir()
            .join("lambda")
            .join(&function)
            .join("bootstrap.zip");
        let measure = format!("(m) Lambda zip `{function}`");
        rows.push_str(&match std::fs::metadata(&zip) {
            Ok(meta) => format!(
                "| {measure} | — | — | — | — | {:.1} MiB |\n",
                meta.len() as f64 / (1024.0 * 1024.0)
            ),
            Err(_) => none_row(&measure, "no zip; `scripts/package` builds them"),
        });
    }
    rows
}

/// Where the host's build of `function` is, and which profile built it: `<target>/<host triple>/lambda/`
/// (cargo's directory for the `lambda` profile built with an explicit `--target`: the zips' profile — fat
/// LTO, `opt-level = "s"`, stripped), else `<target>/release/` (the release profile: opt-level 3, no LTO,
/// symbols kept, so a larger file for the loader to map and relocate).
fn host_lambda_binary(function: &str) -> Option<(PathBuf, &'static str)> {
    let lambda = target_dir()
        .join(format!("{}-unknown-linux-gnu", std::env::consts::ARCH))
        .join("lambda");
    [
        (lambda, "lambda"),
        (target_dir().join("release"), "release"),
    ]
    .into_iter()
    .map(|(dir, profile)| (dir.join(function), profile))
    .find(|(binary, _)| binary.is_file())
}

/// The Lambda environment every function reads (lambda_runtime's `Config::from_env`) and the Runtime API.
fn lambda_env(api: std::net::SocketAddr, function: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", function.to_string()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024".to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_string()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".to_string()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{function}"),
        ),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "bench".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "bench".to_string()),
        ("RUST_LOG", "warn".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The CPU time the process `pid` has used so far, its threads alive now (the first field of each thread's
/// `/proc/<pid>/task/<tid>/schedstat`, in nanoseconds); `None` where the kernel does not say.
fn cpu_used(pid: u32) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let nanos = tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Some(Duration::from_nanos(nanos))
}

/// One measured init: the wall time from spawning the function to its first request for an invocation,
/// and the CPU time it had used by then (`None` where the kernel does not say).
#[derive(Debug, Clone, Copy)]
pub struct Init {
    pub wall: Duration,
    pub cpu: Option<Duration>,
}

/// Starts `binary` against a Runtime API on a loopback port and measures its init: from spawning it to its
/// first `GET /2018-06-01/runtime/invocation/next` (the end of its init phase), and the CPU it used until
/// then (read while the request waits); the request is left unanswered and the process killed.
pub async fn init_once(binary: &Path, env: &[(String, String)]) -> anyhow::Result<Init> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?;
    let function = binary
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("vwc-lambda");
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(lambda_env(api, function))
        .envs(env.iter().cloned())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let started = Instant::now();
    let waited = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (mut stream, _) = accepted?;
                    let mut head = [0u8; 256];
                    let n = stream.read(&mut head).await?;
                    if head[..n].starts_with(b"GET /2018-06-01/runtime/invocation/next") {
                        let wall = started.elapsed();
                        return Ok(Init { wall, cpu: child.id().and_then(cpu_used) });
                    }
                    // Anything else (an init error report): not the end of a successful init.
                    let _ = stream.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n").await;
                }
                status = child.wait() => {
                    let mut stderr = String::new();
                    if let Some(mut err) = child.stderr.take() {
                        let _ = err.read_to_string(&mut stderr).await;
                    }
                    let tail: String = stderr.lines().rev().take(3).collect::<Vec<_>>().join(" / ");
                    anyhow::bail!("exited ({}) before asking for an invocation: {tail}", status?);
                }
            }
        }
    })
    .await;
    let _ = child.kill().await;
    waited.context("no request for an invocation within 30 s")?
}

/// One function whose init the bench measures: what it opens, and the environment it needs besides the
/// Lambda one.
struct InitCase {
    function: &'static str,
    opens: &'static str,
    env: Vec<(String, String)>,
}

/// The functions whose init the bench measures; those that open MongoDB only when
/// `VWC_BENCH_MONGODB_URI` names a server.
fn init_cases(data_dir: &Path) -> Vec<InitCase> {
    let jwks = (
        "VWC_JWKS".to_string(),
        "http://127.0.0.1:9/jwks.json".to_string(),
    );
    let mut cases = vec![
        InitCase {
            function: "vwc-lambda-token-claims",
            opens: "nothing opened",
            env: vec![],
        },
        InitCase {
            function: "vwc-lambda-chat",
            opens: "the chat's SQLite store",
            env: vec![
                jwks.clone(),
                ("VWC_DATA_DIR".to_string(), data_dir.display().to_string()),
            ],
        },
    ];
    if let Some(uri) = std::env::var("VWC_BENCH_MONGODB_URI")
        .ok()
        .filter(|u| !u.is_empty())
    {
        let prefix = format!(
            "bench_init_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let mongo = [
            ("VWC_MONGODB_URI".to_string(), uri),
            ("VWC_MONGODB_PREFIX".to_string(), prefix),
        ];
        cases.push(InitCase {
            function: "vwc-lambda-api",
            opens: "every MongoDB store, indexes ensured",
            env: [
                jwks,
                ("VWC_ATTACHMENTS_BUCKET".to_string(), "bench".to_string()),
            ]
            .into_iter()
            .chain(mongo.clone())
            .collect(),
        });
        cases.push(InitCase {
            function: "vwc-lambda-consumer",
            opens: "the scheduler's SQS consumer: every MongoDB store, indexes ensured",
            env: [(
                "VWC_SERVICE".to_string(),
                "maintenance-scheduler".to_string(),
            )]
            .into_iter()
            .chain(mongo)
            .collect(),
        });
    }
    cases
}

/// Rows (n): each measured function's init time, median and slowest of `runs` (after one unmeasured start
/// that creates what the first start creates, such as the SQLite files).
pub async fn init_rows(runs: usize) -> anyhow::Result<String> {
    let data = super::private_dir()?;
    let mut rows = String::new();
    for InitCase {
        function,
        opens,
        env,
    } in init_cases(data.path())
    {
        let Some((binary, profile)) = host_lambda_binary(function) else {
            rows.push_str(&none_row(
                &format!("(n) Lambda init `{function}`"),
                &format!(
                    "no host build of {function}; `VWC_BENCH_LAMBDA=release scripts/bench` builds one \
                     with the release profile (minutes), `VWC_BENCH_LAMBDA=1` with the zips' `lambda` \
                     profile (35+ min)"
                ),
            ));
            continue;
        };
        let measure = format!(
            "(n) Lambda init `{function}`, {profile} profile (exec → first `GET …/invocation/next`; {opens})"
        );
        let (mut times, mut cpu) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
        let mut failure = None;
        for run in 0..=runs {
            match init_once(&binary, &env).await {
                Ok(init) if run > 0 => {
                    times.push(init.wall.as_micros() as u64);
                    cpu.extend(init.cpu.map(|c| c.as_micros() as u64));
                }
                Ok(_) => {}
                Err(e) => {
                    failure = Some(format!("{e:#}"));
                    break;
                }
            }
        }
        if let Some(e) = failure {
            rows.push_str(&none_row(&measure, &e));
            continue;
        }
        times.sort_unstable();
        cpu.sort_unstable();
        let cpu = if cpu.len() == times.len() {
            format!("{} CPU (median); ", super::ms(super::percentile(&cpu, 0.5)))
        } else {
            String::new()
        };
        rows.push_str(&format!(
            "| {measure} | — | {} | {} (slowest of {runs}) | — | {cpu}{:.1} MiB binary |\n",
            super::ms(super::percentile(&times, 0.5)),
            super::ms(*times.last().unwrap_or(&0)),
            std::fs::metadata(&binary)?.len() as f64 / (1024.0 * 1024.0)
        ));
    }
    Ok(rows)
}

/// Every footprint row.
pub async fn rows() -> anyhow::Result<String> {
    let mut table = build_row();
    table.push_str(&zip_rows());
    table.push_str(&init_rows(super::env_or("VWC_BENCH_LAMBDA_INITS", 11)).await?);
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timings_report_gives_its_wall_time_and_the_sum_of_its_units() {
        let html = r#"<table><tr><td>Profile:</td><td>release</td></tr>
            <tr><td>Fresh units:</td><td>1</td></tr><tr><td>Total units:</td><td>3</td></tr>
            <tr><td>Total time:</td><td>90.5s (1m 30.5s)</td></tr></table>
            <script>const UNIT_DATA = [
              {"i": 0, "name": "aws-sdk-sqs", "duration": 40.0, "features": []},
              {"i": 1, "name": "vwc-store", "duration": 12.5, "features": []},
              {"i": 2, "name": "serde", "duration": 0.0, "features": []}
            ];
            const CONCURRENCY_DATA = [];</script>"#;
        let t = parse_timings(html).unwrap();
        assert_eq!(t.profile, "release");
        assert_eq!(t.wall_secs, 90.5);
        assert_eq!((t.total_units, t.fresh_units), (3, 1));
        assert_eq!(t.unit_secs, 52.5);
        assert_eq!(
            t.groups,
            vec![
                ("aws-sdk-", 40.0),
                ("mongodb", 0.0),
                ("aws-lc-sys", 0.0),
                ("vwc", 12.5)
            ]
        );
        // A prefix no unit has reads "0 s", not "-0 s".
        assert_eq!(format!("{:.0}", t.groups[1].1), "0");
    }

    /// [`init_once`] of a stand-in function named `name`: a bash script running `body` (one that asks the
    /// Runtime API for an invocation through bash's /dev/tcp, or one that fails its init).
    async fn init_of_script(name: &str, body: &str) -> anyhow::Result<Init> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/bash\n{body}\n"))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        init_once(&path, &[]).await
    }

    #[tokio::test]
    async fn init_ends_at_the_first_request_for_an_invocation() {
        let asks = r#"sleep 0.2
exec 3<>"/dev/tcp/${AWS_LAMBDA_RUNTIME_API%:*}/${AWS_LAMBDA_RUNTIME_API#*:}"
printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: x\r\n\r\n' >&3
sleep 30"#;
        let init = init_of_script("asks", asks).await.unwrap();
        // The clock starts before the exec, so the script's own sleep is inside the measure; sleeping
        // uses no CPU, so the CPU time is well below it.
        assert!(init.wall >= Duration::from_millis(200), "{init:?}");
        let cpu = init.cpu.expect("the kernel reports the CPU time");
        assert!(cpu > Duration::ZERO && cpu < init.wall, "{init:?}");
    }

    #[tokio::test]
    async fn a_function_that_exits_during_init_is_reported_with_its_error() {
        let fails = "echo \"VWC_MONGODB_URI is required ($AWS_LAMBDA_FUNCTION_NAME)\" >&2; exit 3";
        let err = format!("{:#}", init_of_script("fails", fails).await.unwrap_err());
        assert!(err.contains("exited"), "{err}");
        assert!(err.contains("VWC_MONGODB_URI is required (fails)"), "{err}");
    }

    #[test]
    fn row_l_reads_the_newest_report_of_a_release_build() {
        let report = |profile: &str| format!("<td>Profile:</td><td>{profile}</td>");
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, profile: &str| {
            std::fs::write(dir.path().join(name), report(profile)).unwrap();
        };
        assert_eq!(newest_release_report(dir.path()), None);
        write("cargo-timing-20261201T100000Z-a.html", "release");
        write("cargo-timing-20261201T110000Z-a.html", "release");
        write("cargo-timing-20261201T120000Z-a.html", "dev");
        write("cargo-timing.html", "dev");
        write("notes.html", "release");
        assert_eq!(
            newest_release_report(dir.path()),
            Some(dir.path().join("cargo-timing-20261201T110000Z-a.html"))
        );
        std::fs::remove_file(dir.path().join("cargo-timing-20261201T100000Z-a.html")).unwrap();
        std::fs::remove_file(dir.path().join("cargo-timing-20261201T110000Z-a.html")).unwrap();
        assert_eq!(
            newest_release_report(dir.path()),
            None,
            "a test build's report is not row (l)'s"
        );
    }

    #[test]
    fn a_report_without_unit_data_is_an_error() {
        let html = "<td>Total time:</td><td>1.0s</td><td>Total units:</td><td>1</td>\
                    <td>Fresh units:</td><td>0</td>";
        assert!(parse_timings(html).is_err());
    }
}
