//! The benchmark behind `scripts/bench`: starts the release `vwc` on a fresh data dir and measures, in one
//! run, the `/healthz` ceiling, signed-webhook ingest, a timeline page inside a store of a million events,
//! webhook-acknowledged → visible lag at half the saturating rate, peak RSS and the idle RSS of a fresh
//! demo-seeded server. Every rate is also given as a ratio to the `/healthz` ceiling measured in the same
//! run.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use vwc_store::vehicle_ledger::DailyRun;

use anyhow::Context;
use chrono::Utc;
use serde_json::json;
use tokio::sync::Mutex;
use vwc_contracts::{EventKind, EventSource, Vehicle, VehicleEvent};

mod footprint;
mod scale;

/// A temporary data directory only its owner can open, as `vwc up` expects of a data dir (a world-readable
/// one makes every start log a warning), inside this run's [`run_dir`].
fn private_dir() -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .permissions(private())
        .tempdir_in(run_dir()?)
}

fn private() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o700)
}

/// What a run's directories are named after: `vwc-bench-<process id>`.
const RUN_DIR_PREFIX: &str = "vwc-bench-";

/// This run's directory in the system's temp dir, which holds every data dir it makes. A run stopped before
/// its end (Ctrl-C, a timeout) cannot remove what it made — the timeline page's store alone is ≈ 2 GB
/// while it is being seeded — so each run first removes the directories of runs no longer alive
/// ([`remove_stopped_runs`]).
fn run_dir() -> std::io::Result<&'static std::path::Path> {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    if let Some(dir) = DIR.get() {
        return Ok(dir);
    }
    let dir = std::env::temp_dir().join(format!("{RUN_DIR_PREFIX}{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::set_permissions(&dir, private())?;
    Ok(DIR.get_or_init(|| dir))
}

/// Removes the run directories in `temp` whose process is gone; how many, and the bytes they held. Nothing
/// where `/proc` does not tell which processes live.
fn remove_stopped_runs(temp: &std::path::Path) -> (usize, u64) {
    if !std::path::Path::new("/proc/self").exists() {
        return (0, 0);
    }
    let mut removed = (0, 0);
    let Ok(entries) = std::fs::read_dir(temp) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = (name.to_str())
            .and_then(|n| n.strip_prefix(RUN_DIR_PREFIX))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if std::path::Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let bytes = bytes_under(&entry.path());
        if std::fs::remove_dir_all(entry.path()).is_ok() {
            removed = (removed.0 + 1, removed.1 + bytes);
        }
    }
    removed
}

/// The bytes of the files under `path`.
fn bytes_under(path: &std::path::Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    (std::fs::read_dir(path).into_iter().flatten().flatten())
        .map(|e| bytes_under(&e.path()))
        .sum()
}

/// Requests per second, latency percentiles (µs) and error count of one load run.
#[derive(Debug, Clone, Default)]
pub struct LoadStats {
    pub requests: usize,
    pub errors: usize,
    pub seconds: f64,
    pub p50_us: u64,
    pub p99_us: u64,
}

impl LoadStats {
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// Runs `concurrency` workers for `duration`; each calls `request(n)` with a global sequence number and
/// returns whether the answer was the expected one.
/// [`load`] of bearer-authenticated GETs of `url(n)` (with `If-None-Match` when given), each counted
/// ok when it is answered `status` and its body is read whole.
async fn get_load(
    http: &reqwest::Client,
    token: &str,
    duration: Duration,
    concurrency: usize,
    status: u16,
    if_none_match: Option<String>,
    url: impl Fn(usize) -> String + Send + Sync + 'static,
) -> LoadStats {
    let (http, token) = (http.clone(), token.to_owned());
    load(duration, concurrency, move |n| {
        let mut request = http.get(url(n)).bearer_auth(&token);
        if let Some(tag) = &if_none_match {
            request = request.header("if-none-match", tag);
        }
        async move {
            match request.send().await {
                Ok(r) if r.status() == status => r.bytes().await.is_ok(),
                _ => false,
            }
        }
    })
    .await
}

pub async fn load<F, Fut>(duration: Duration, concurrency: usize, request: F) -> LoadStats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let seq = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (request, seq) = (request.clone(), seq.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            while start.elapsed() < duration {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let ok = request(n).await;
                latencies.push(t.elapsed().as_micros() as u64);
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await.expect("worker");
        all.extend(l);
        errors += e;
    }
    let seconds = start.elapsed().as_secs_f64();
    all.sort_unstable();
    LoadStats {
        requests: all.len(),
        errors,
        seconds,
        p50_us: percentile(&all, 0.50),
        p99_us: percentile(&all, 0.99),
    }
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// A `/proc/<pid>/status` figure in KiB: `VmHWM` (peak RSS) or `VmRSS` (now).
    fn status_kib(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    fn peak_rss_kib(&self) -> Option<u64> {
        self.status_kib("VmHWM")
    }

    /// Stops the server as Ctrl-C does (it drains the bus, flushes every outbox and closes its databases,
    /// which empties their WALs), waiting up to a minute; dropping a [`Server`] kills it instead.
    /// A stop that the signal ended before `vwc up` handled it is an error: the next row would measure a
    /// crash's recovery under the name of a restart.
    fn stop(mut self) -> anyhow::Result<()> {
        match vwc_testkit::process::stop_gracefully(&mut self.child, Duration::from_secs(60)) {
            None => anyhow::bail!("vwc did not stop within a minute"),
            Some(status) if !status.success() => {
                anyhow::bail!("vwc did not stop cleanly ({status}): nothing was flushed or closed")
            }
            Some(_) => Ok(()),
        }
    }
}

/// The `vwc` next to this binary, or `VWC_BENCH_VWC` (another build of the server, e.g. an older one, driven
/// by the same benchmark).
fn vwc_binary() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("VWC_BENCH_VWC") {
        return path.into();
    }
    let me = std::env::current_exe().expect("current exe");
    me.with_file_name("vwc")
}

fn start_server(data_dir: &std::path::Path) -> anyhow::Result<Server> {
    start_server_seeded(data_dir, false)
}

/// `vwc up` on `data_dir`, with the demo data seeded on a fresh dir when `seed`.
fn start_server_seeded(data_dir: &std::path::Path, seed: bool) -> anyhow::Result<Server> {
    start_server_with(data_dir, seed, None)
}

/// [`start_server_seeded`], running only the `services` named (their consumers and relays) when given.
fn start_server_with(
    data_dir: &std::path::Path,
    seed: bool,
    services: Option<&str>,
) -> anyhow::Result<Server> {
    let mut command = Command::new(vwc_binary());
    if let Some(services) = services {
        command.env("VWC_BENCH_SERVICES", services);
    }
    let mut child = command
        .arg("up")
        .args((!seed).then_some("--no-seed"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("VWC_RATE_LIMIT", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting vwc (build it with `cargo build --release`)")?;
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .context("vwc exited before printing its URL")??;
        if let Some(rest) = line.strip_prefix("Dashboard: ") {
            break rest.trim_end_matches('/').to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok(Server { child, base })
}

fn token(data_dir: &std::path::Path, org: &str) -> anyhow::Result<String> {
    let out = Command::new(vwc_binary())
        .args([
            "token",
            "--org",
            org,
            "--sub",
            "bench",
            "--role",
            "fleet_manager",
            "--ttl-hours",
            "2",
            "--data-dir",
        ])
        .arg(data_dir)
        .output()?;
    anyhow::ensure!(out.status.success(), "vwc token failed");
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

const ORG: &str = "org_bench";
const BIG_VEHICLE: &str = "veh_bench_big";
const BIG_EVENTS: usize = 10_000;
const TOTAL_EVENTS: usize = 1_000_000;

/// A registered vehicle of the benchmarks, registered now: what varies is its id, organisation, VIN, year
/// and make/model; the rest is the contracts' example vehicle (miles, no purchase, plate or sale).
fn bench_vehicle(
    id: &str,
    org: &str,
    vin: &str,
    year: u16,
    (make, model): (&str, &str),
) -> Vehicle {
    Vehicle {
        id: id.into(),
        org_id: org.into(),
        vin: vin.into(),
        year,
        make: make.into(),
        model: model.into(),
        registered_at: vwc_clock::now(),
        ..vwc_contracts::examples::vehicle()
    }
}

fn synthetic_event(vehicle: &str, i: usize) -> VehicleEvent {
    bench_event(
        format!("evt_bench_{vehicle}_{i:08}"),
        vehicle,
        ORG,
        i,
        vwc_clock::now() - chrono::Duration::minutes(i as i64 * 7),
        200_000 - (i as u64 % 200_000),
        5_000 + (i as u64 % 20_000),
    )
}

/// A system-recorded event for a bench's data: of the `n`th kind in turn (maintenance, repair, odometer
/// reading), at `at`; the first two cost `cost_cents` in USD and carry their details.
fn bench_event(
    id: String,
    vehicle: &str,
    org: &str,
    n: usize,
    at: chrono::DateTime<chrono::Utc>,
    odometer: u64,
    cost_cents: u64,
) -> VehicleEvent {
    let kind = [
        EventKind::Maintenance,
        EventKind::Repair,
        EventKind::OdometerReading,
    ][n % 3];
    let details = match kind {
        EventKind::Maintenance => json!({"tasks": ["oil_change"]}),
        EventKind::Repair => json!({"parts": [], "warranty": false}),
        _ => json!({}),
    };
    let costed = kind != EventKind::OdometerReading;
    VehicleEvent {
        id: id.into(),
        vehicle_id: vehicle.to_string().into(),
        org_id: org.into(),
        kind,
        occurred_at: at,
        recorded_at: at,
        odometer: Some(odometer),
        cost_cents: costed.then_some(cost_cents),
        currency: costed.then(|| "USD".into()),
        title: "Bench event".into(),
        notes: None,
        vendor: None,
        source: EventSource::System,
        details,
    }
}

/// The order the (c) store's events are written in: `grouped` (the default, as every run so far), the big
/// vehicle's 10,000 first and then each filler vehicle's 1,000; or `interleaved`, as a fleet's events
/// arrive — round after round one event of every filler vehicle, with one of the big vehicle's after each
/// 99 of theirs, so no two of its events are written next to each other.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Layout {
    Grouped,
    Interleaved,
}

impl std::str::FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Layout, String> {
        match s {
            "grouped" => Ok(Layout::Grouped),
            "interleaved" => Ok(Layout::Interleaved),
            other => Err(format!(
                "VWC_BENCH_TIMELINE: grouped or interleaved, not {other:?}"
            )),
        }
    }
}

/// The events of the (c) store in the order `layout` writes them: 10,000 of the big vehicle and 1,000 of
/// each of 990 filler vehicles.
fn timeline_seed(layout: Layout) -> Box<dyn Iterator<Item = VehicleEvent> + Send> {
    const PER_FILLER: usize = 1000;
    let fillers = (TOTAL_EVENTS - BIG_EVENTS) / PER_FILLER;
    let filler = |v: usize, i: usize| synthetic_event(&format!("veh_fill_{v:04}"), i);
    match layout {
        Layout::Grouped => Box::new(
            (0..BIG_EVENTS)
                .map(|i| synthetic_event(BIG_VEHICLE, i))
                .chain((0..fillers).flat_map(move |v| (0..PER_FILLER).map(move |i| filler(v, i)))),
        ),
        Layout::Interleaved => {
            let every = fillers / (BIG_EVENTS / PER_FILLER);
            Box::new((0..PER_FILLER).flat_map(move |round| {
                (0..fillers).flat_map(move |v| {
                    let big = ((v + 1) % every == 0).then(|| {
                        synthetic_event(BIG_VEHICLE, round * (fillers / every) + v / every)
                    });
                    std::iter::once(filler(v, round)).chain(big)
                })
            }))
        }
    }
}

/// Seeds the edge projection with a 10,000-event vehicle inside a million-event store, written in
/// `layout`'s order, printing progress.
async fn seed_timeline(data_dir: &std::path::Path, layout: Layout) -> anyhow::Result<f64> {
    let started = Instant::now();
    let path = data_dir.join("edge.db");
    {
        use vwc_edge::EdgeStore;
        let store = vwc_edge::SqliteEdgeStore::open(&path)?;
        let org = vwc_contracts::OrgId::from(ORG);
        store
            .apply(
                &vwc_edge::store::Delivery::new("bench-registration", &org),
                vwc_edge::store::Projected::Vehicle(&bench_vehicle(
                    BIG_VEHICLE,
                    ORG,
                    "1HGCM82633A000000",
                    2020,
                    ("Bench", "Big"),
                )),
            )
            .await?;
    }
    let events = timeline_seed(layout);
    let path2 = path.clone();
    tokio::task::spawn_blocking(move || {
        vwc_edge::SqliteEdgeStore::bulk_load_timeline(&path2, events, 50_000, |n| {
            eprint!("\r  seeding timeline: {n:>9} / {TOTAL_EVENTS} events");
        })
    })
    .await??;
    eprintln!();
    Ok(started.elapsed().as_secs_f64())
}

fn service_record(vin: &str, n: usize) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"type": "service_record", "vin": vin, "occurredAt": vwc_clock::now(),
        "odometer": 10_000 + n, "totalCents": 8999, "currency": "USD",
        "lines": [{"description": "Oil change", "task": "oil_change", "amountCents": 8999}]}),
    )
    .expect("json")
}

struct Webhooks {
    http: reqwest::Client,
    url: String,
    secret: vwc_webhook::WebhookSecret,
    /// Webhooks go round-robin over these VINs, as a dealer's traffic spreads over many vehicles.
    vins: Vec<String>,
    run: String,
}

impl Webhooks {
    /// Sends webhook `n` (distinct id, fresh timestamp and signature); returns the event id on 200.
    async fn send(&self, n: usize) -> Option<String> {
        let id = format!("bench-{}-{n}", self.run);
        let body = service_record(&self.vins[n % self.vins.len()], n);
        let ts = vwc_clock::now().timestamp();
        let sig = vwc_webhook::sign(&self.secret, &id, ts, &body);
        let r = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body)
            .send()
            .await
            .ok()?;
        if r.status() != 200 {
            return None;
        }
        let v: serde_json::Value = r.json().await.ok()?;
        v["eventId"].as_str().map(str::to_string)
    }
}

/// Registers `vehicles` vehicles (VINs derived from `vin_base`) and a dealer.
async fn setup_webhooks(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    vin_base: u32,
    vehicles: u32,
    run: &str,
) -> anyhow::Result<Webhooks> {
    let mut vins = Vec::new();
    for i in 0..vehicles {
        let vin = vwc_testkit::vin(vin_base + i);
        let r = http
            .post(format!("{base}/v1/vehicles"))
            .bearer_auth(token)
            .json(&json!({"vin": vin, "year": 2021, "make": "Bench", "model": "Webhook"}))
            .send()
            .await?;
        anyhow::ensure!(
            r.status() == 201,
            "registering a bench vehicle: {}",
            r.status()
        );
        vins.push(vin);
    }
    let d: serde_json::Value = http
        .post(format!("{base}/v1/dealers"))
        .bearer_auth(token)
        .json(&json!({"name": format!("Bench dealer {run}")}))
        .send()
        .await?
        .json()
        .await?;
    Ok(Webhooks {
        http: http.clone(),
        url: format!(
            "{base}/webhooks/dealers/{}",
            d["dealerId"].as_str().context("dealer id")?
        ),
        secret: vwc_webhook::WebhookSecret::parse(d["webhookSecret"].as_str().context("secret")?)
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        vins,
        run: run.to_string(),
    })
}

/// Row (d)'s lags, and how the slow ones are spread: a few bursts (a stall) or all along (a queue).
struct Lags {
    n: usize,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
    /// Lags over [`SLOW_LAG_US`].
    slow: usize,
    /// The 100 ms windows (of the webhooks' acknowledgements) those fall in.
    slow_windows: usize,
}

/// Row (d)'s aim: a lag over this is slow.
const SLOW_LAG_US: u64 = 20_000;

impl Lags {
    /// `lags`: (acknowledged, µs from acknowledgement to projection).
    fn of(mut lags: Vec<(chrono::DateTime<Utc>, u64)>) -> Lags {
        let slow: Vec<i64> = (lags.iter())
            .filter(|(_, lag)| *lag > SLOW_LAG_US)
            .map(|(at, _)| at.timestamp_millis() / 100)
            .collect();
        let windows: std::collections::BTreeSet<&i64> = slow.iter().collect();
        lags.sort_unstable_by_key(|(_, lag)| *lag);
        let sorted: Vec<u64> = lags.into_iter().map(|(_, lag)| lag).collect();
        Lags {
            n: sorted.len(),
            p50_us: percentile(&sorted, 0.50),
            p99_us: percentile(&sorted, 0.99),
            max_us: sorted.last().copied().unwrap_or(0),
            slow: slow.len(),
            slow_windows: windows.len(),
        }
    }

    fn spread(&self) -> String {
        format!(
            "{} over {} ms, in {} windows of 100 ms; max {}",
            self.slow,
            SLOW_LAG_US / 1000,
            self.slow_windows,
            ms(self.max_us)
        )
    }
}

/// Webhooks at a fixed `rate` for `duration`; per event, the time from the webhook's 200 to the moment
/// the edge projection committed it (its `projected_at`, read from the edge database afterwards — the
/// same machine's clock, so no polling load skews the run).
async fn lag(
    hooks: Arc<Webhooks>,
    edge_db: std::path::PathBuf,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<Lags> {
    type Acks = Arc<Mutex<Vec<(String, chrono::DateTime<Utc>)>>>;
    let acked: Acks = Default::default();
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut n = 0u32;
    let mut senders = Vec::new();
    while start.elapsed() < duration {
        let (hooks, acked) = (hooks.clone(), acked.clone());
        senders.push(tokio::spawn(async move {
            if let Some(id) = hooks.send(1_000_000 + n as usize).await {
                acked.lock().await.push((id, vwc_clock::now()));
            }
        }));
        n += 1;
        tokio::time::sleep_until((start + interval * n).into()).await;
    }
    for s in senders {
        let _ = s.await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let acked = acked.lock().await.clone();
    let lags = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<_>> {
        let conn = rusqlite::Connection::open_with_flags(
            &edge_db,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        let mut stmt = conn.prepare("SELECT projected_at FROM timeline WHERE id = ?1")?;
        let mut lags = Vec::new();
        for (id, at) in &acked {
            let projected: Option<String> = stmt.query_row([id], |r| r.get(0)).ok();
            if let Some(p) =
                projected.and_then(|p: String| chrono::DateTime::parse_from_rfc3339(&p).ok())
            {
                let lag = p.with_timezone(&Utc) - *at;
                lags.push((*at, lag.num_microseconds().unwrap_or(0).max(0) as u64));
            }
        }
        Ok(lags)
    })
    .await??;
    Ok(Lags::of(lags))
}

/// Resident memory of a freshly started `vwc up` with the demo data seeded, once every consumer has
/// caught up and it has sat idle for a second: (KiB now, KiB peak).
async fn idle_rss() -> anyhow::Result<(u64, u64)> {
    let (rss, _, peak) = idle_memory(Duration::from_secs(1)).await?;
    Ok((rss, peak))
}

/// [`idle_rss`] after `idle` instead of a second: (VmRSS, RssAnon, peak VmRSS) in KiB. RssAnon leaves out
/// the binary's own pages, which differ between builds of the same code (codegen units, symbols).
async fn idle_memory(idle: Duration) -> anyhow::Result<(u64, u64, u64)> {
    let dir = private_dir()?;
    let server = start_server_seeded(dir.path(), true)?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    wait_drained(dir.path()).await?;
    tokio::time::sleep(idle).await;
    let now = server.status_kib("VmRSS").context("reading VmRSS")?;
    let anon = server.status_kib("RssAnon").context("reading RssAnon")?;
    Ok((now, anon, server.peak_rss_kib().unwrap_or(0)))
}

/// Row (e′) alone (`VWC_BENCH_ONLY=idle`): `starts` fresh starts, each measured a second and again
/// `VWC_BENCH_IDLE_SECONDS` (default 15) after its consumers caught up; the median of each and every value.
async fn idle_rows(starts: usize) -> anyhow::Result<String> {
    let later = Duration::from_secs(env_or("VWC_BENCH_IDLE_SECONDS", 15));
    let mib = |kib: u64| format!("{:.1}", kib as f64 / 1024.0);
    let mut rows = String::new();
    for idle in [Duration::from_secs(1), later] {
        let (mut rss, mut anon) = (Vec::with_capacity(starts), Vec::with_capacity(starts));
        for _ in 0..starts {
            let (now, anonymous, _) = idle_memory(idle).await?;
            rss.push(now);
            anon.push(anonymous);
        }
        let each = |values: &[u64]| {
            values
                .iter()
                .map(|k| mib(*k))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        let (rss_each, anon_each) = (each(&rss), each(&anon));
        rss.sort_unstable();
        anon.sort_unstable();
        rows.push_str(&format!(
            "| (e′) idle RSS {} s after the consumers caught up (demo seeded; {starts} starts) | — | — | — | — | median {} MiB ({rss_each}); anonymous {} MiB ({anon_each}) |\n",
            idle.as_secs(),
            mib(percentile(&rss, 0.5)),
            mib(percentile(&anon, 0.5)),
        ));
    }
    Ok(rows)
}

/// Waits until no service has unsent outbox rows (every consumer caught up), so one phase's backlog does
/// not run during the next phase's measurement. Returns how long that took.
async fn wait_drained(data_dir: &std::path::Path) -> anyhow::Result<f64> {
    let started = Instant::now();
    // Every service that publishes: a row is marked sent once every consumer has handled it.
    let files: Vec<_> = [
        "ingestion.db",
        "maintenance-scheduler.db",
        "notification.db",
        "valuation.db",
    ]
    .iter()
    .map(|f| data_dir.join(f))
    .filter(|f| f.exists())
    .collect();
    loop {
        let files = files.clone();
        let pending = tokio::task::spawn_blocking(move || -> anyhow::Result<i64> {
            let mut total = 0;
            for f in &files {
                let conn = rusqlite::Connection::open_with_flags(
                    f,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )?;
                total += conn.query_row("SELECT count(*) FROM outbox_unsent", [], |r| {
                    r.get::<_, i64>(0)
                })?;
            }
            Ok(total)
        })
        .await??;
        if pending == 0 || started.elapsed() > Duration::from_secs(1800) {
            return Ok(started.elapsed().as_secs_f64());
        }
        // Often enough that (b*)'s catch-up time is not rounded up by a fifth of a second.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The fleet routes at scale, the bulk import and the cold starts (rows i, j, k).
async fn scale_rows(duration: Duration) -> anyhow::Result<String> {
    let mut table = String::new();
    let only = std::env::var("VWC_BENCH_ONLY").unwrap_or_default();
    let cold_runs = env_or("VWC_BENCH_COLD_STARTS", 11);
    if only.is_empty() || only.contains("import") {
        let rows = env_or("VWC_BENCH_IMPORT_ROWS", 2_000);
        let (import, dir) = scale::import_bench(rows).await?;
        eprint!("{}", import.row());
        table.push_str(&import.row());
        // The import's server was killed (`kill -9`), as was each start below: every start replays the
        // WALs it left (tens of MiB) before it answers, and is killed before it empties them (a writer
        // empties what a crash left only after 250 ms without a write, `LEFT_WAL_EMPTIED_AFTER`).
        let what = format!(
            "data dir of the import (every service's database, one vehicle of {rows} events), its server killed (`kill -9`) after the import and each start killed in turn"
        );
        table.push_str(&scale::cold_starts_row(dir.path(), cold_runs, &what)?);
        // The usual restart: the last server stopped as Ctrl-C stops it.
        start_server(dir.path())?.stop()?;
        let what = format!(
            "data dir of the import (every service's database, one vehicle of {rows} events), its server stopped with Ctrl-C"
        );
        table.push_str(&scale::cold_starts_row(dir.path(), cold_runs, &what)?);
    }
    if only.is_empty() || only.contains("fleet") {
        let vehicles = env_or("VWC_BENCH_FLEET_VEHICLES", 100_000);
        let concurrency = env_or("VWC_BENCH_FLEET_CONCURRENCY", 4);
        eprintln!("  (i) fleet routes at {vehicles} vehicles");
        let (fleet, dir) = scale::fleet_bench(vehicles, duration, concurrency).await?;
        eprint!("{}", fleet.rows());
        table.push_str(&fleet.rows());
        let what = format!(
            "data dir of the fleet ({vehicles} vehicles, {} events)",
            fleet.vehicles * 10
        );
        table.push_str(&scale::cold_starts_row(dir.path(), cold_runs, &what)?);
        table.push_str(&format!(
            "\nSeeding the fleet's projection ({vehicles} vehicles) took {:.1} s.\n",
            fleet.seed_secs
        ));
    }
    Ok(table)
}

pub async fn run() -> anyhow::Result<()> {
    let (runs, bytes) = remove_stopped_runs(&std::env::temp_dir());
    if runs > 0 {
        eprintln!(
            "vwc bench: removed the data dirs of {runs} stopped run(s) ({:.1} MB)",
            bytes as f64 / 1e6
        );
    }
    let rows = run_rows().await;
    // Every data dir was removed as it went; an error leaves this run's for the next run to remove.
    if let Ok(dir) = run_dir() {
        let _ = std::fs::remove_dir(dir);
    }
    rows
}

async fn run_rows() -> anyhow::Result<()> {
    let only = std::env::var("VWC_BENCH_ONLY").unwrap_or_default();
    let seconds: u64 = env_or("VWC_BENCH_SECONDS", 8);
    let concurrency: usize = env_or("VWC_BENCH_CONCURRENCY", 32);
    let duration = Duration::from_secs(seconds);
    if only == "chat" {
        let chat = chat_bench().await?;
        println!("{}", chat.row());
        return Ok(());
    }
    if only == "sweep" {
        let (rows, threads) = sweep_rows(sweep_vehicles()).await?;
        println!("{rows}\n{threads}");
        return Ok(());
    }
    if only == "idle" {
        // Row (e′) alone, over several starts.
        println!(
            "| measure | requests/s | p50 | p99 | errors | |\n| --- | ---: | ---: | ---: | ---: | ---: |"
        );
        println!("{}", idle_rows(env_or("VWC_BENCH_IDLE_STARTS", 5)).await?);
        return Ok(());
    }
    if only == "footprint" {
        // The build time, the Lambda zips and the Lambda functions' init (rows l, m, n).
        println!(
            "| measure | requests/s | p50 | p99 | errors | |\n| --- | ---: | ---: | ---: | ---: | ---: |"
        );
        println!("{}", footprint::rows().await?);
        return Ok(());
    }
    let http_only = only == "http";
    if !only.is_empty() && !http_only {
        // `fleet`, `import` or both (`fleet,import`): only those rows.
        println!(
            "| measure | requests/s | p50 | p99 | errors | |\n| --- | ---: | ---: | ---: | ---: | ---: |"
        );
        println!("{}", scale_rows(duration).await?);
        return Ok(());
    }
    let dir = private_dir()?;
    eprintln!(
        "vwc bench: data dir {} ({seconds} s per run, {concurrency} connections)",
        dir.path().display()
    );
    let layout = env_or("VWC_BENCH_TIMELINE", Layout::Grouped);
    let seed_secs = seed_timeline(dir.path(), layout).await?;
    let server = start_server(dir.path())?;
    let base = server.base.clone();
    let token = token(dir.path(), ORG)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .build()?;

    let pid = server.child.id();
    eprintln!("  (a) /healthz ceiling");
    let count = CpuCount::start(pid);
    let healthz = {
        let (http, url) = (http.clone(), format!("{base}/healthz"));
        load(duration, concurrency, move |_| {
            let (http, url) = (http.clone(), url.clone());
            async move { http.get(&url).send().await.is_ok_and(|r| r.status() == 200) }
        })
        .await
    };
    let healthz_cpu = count.per_request(healthz.requests);

    eprintln!("  (b) signed webhook ingest (200 vehicles, one dealer)");
    let hooks = Arc::new(setup_webhooks(&http, &base, &token, 10_000, 200, "ingest").await?);
    let before = scale::outbox_rows(dir.path())?;
    let threads = Threads::of(pid);
    let count = CpuCount::start(pid);
    let ingest = ingest(hooks, duration, concurrency).await;
    let client_secs = count.client_secs();

    let drained = wait_drained(dir.path()).await?;
    // Until every consumer caught up: the whole cost of a webhook.
    let server_secs = count.server_secs();
    let ingest_cpu = PerRequest::of(server_secs, client_secs, ingest.requests);
    let ingest_threads = Threads::of(pid).since(&threads, server_secs);
    eprintln!("      consumers caught up {drained:.2} s after the ingest run");
    let per_webhook: Vec<String> = (scale::published_since(dir.path(), &before)?.into_iter())
        .map(|(db, rows)| {
            let per = rows as f64 / ingest.requests.max(1) as f64;
            format!("{} {per:.2}", db.trim_end_matches(".db"))
        })
        .collect();

    eprintln!("  (c) timeline page of 50 on a 10,000-event vehicle in a 1,000,000-event store");
    let page_url = format!("{base}/v1/vehicles/{BIG_VEHICLE}/events?limit=50");
    let count = CpuCount::start(pid);
    let timeline = get_load(&http, &token, duration, concurrency, 200, None, {
        let url = page_url.clone();
        move |_| url.clone()
    })
    .await;
    let timeline_cpu = count.per_request(timeline.requests);
    // (c) asks for one page again and again, which the edge keeps under its vehicle's timeline version
    // (docs/bench.md, "Timeline pages kept under their version"). (c′): the same rows, each request its
    // own query string (a `from` before every event, a nanosecond apart), so every page is read from the
    // store and the kept pages are turned over: the cost when nothing is kept. (c″): the page asked for
    // with its `ETag`, answered 304.
    eprintln!(
        "  (c′) the same page, each request its own query string (every page read from the store)"
    );
    let count = CpuCount::start(pid);
    let timeline_miss = get_load(&http, &token, duration, concurrency, 200, None, {
        let url = page_url.clone();
        move |n| format!("{url}&from=2000-01-01T00:00:00.{:09}Z", n % 1_000_000_000)
    })
    .await;
    let timeline_miss_cpu = count.per_request(timeline_miss.requests);
    eprintln!("  (c″) the same page with its ETag (If-None-Match → 304)");
    let etag = http
        .get(&page_url)
        .bearer_auth(&token)
        .send()
        .await?
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_default();
    let count = CpuCount::start(pid);
    let timeline_304 = get_load(&http, &token, duration, concurrency, 304, Some(etag), {
        move |_| page_url.clone()
    })
    .await;
    let timeline_304_cpu = count.per_request(timeline_304.requests);

    let lag_rate = (ingest.rps() / 2.0).max(1.0);
    eprintln!(
        "  (d) acknowledged → visible lag at {lag_rate:.0} webhooks/s (half the saturating rate)"
    );
    let lag_hooks = setup_webhooks(&http, &base, &token, 20_000, 200, "lag").await?;
    let lags = lag(
        Arc::new(lag_hooks),
        dir.path().join("edge.db"),
        lag_rate,
        Duration::from_secs(5),
    )
    .await?;
    let rss = server.peak_rss_kib().unwrap_or(0);
    drop(server);
    eprintln!(
        "  (b′) the same ingest with the ingestion service alone (its relay publishes; no consumer runs)"
    );
    let (alone, alone_cpu) = ingest_alone(&http, duration, concurrency).await?;
    eprintln!("  (e′) idle RSS of a freshly started, demo-seeded `vwc up`");
    let (idle_kib, idle_peak_kib) = idle_rss().await?;

    let ceiling = healthz.rps();
    let mut table = String::new();
    table.push_str(&format!(
        "Machine: {} cores; release build; {seconds} s per run; {concurrency} concurrent connections; load generator in the same process tree on the same machine.\n\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    ));
    table.push_str("| measure | requests/s | p50 | p99 | errors | ratio to /healthz |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
    let mut cpu_lines = Vec::new();
    for (name, s, cpu) in [
        ("(a) GET /healthz (ceiling)", &healthz, healthz_cpu),
        (
            "(b) signed webhook ingest (200 vehicles, one dealer)",
            &ingest,
            ingest_cpu,
        ),
        (
            "(b′) the same ingest, the ingestion service alone (no consumer: the floor of (b))",
            &alone,
            alone_cpu,
        ),
        (
            match layout {
                Layout::Grouped => "(c) timeline page (50 of 10,000; store of 1,000,000)",
                Layout::Interleaved => {
                    "(c) timeline page (50 of 10,000; store of 1,000,000, its events interleaved)"
                }
            },
            &timeline,
            timeline_cpu,
        ),
        (
            "(c′) the same page, each request its own query string (read from the store every time)",
            &timeline_miss,
            timeline_miss_cpu,
        ),
        (
            "(c″) the same page with its ETag (If-None-Match → 304)",
            &timeline_304,
            timeline_304_cpu,
        ),
    ] {
        table.push_str(&format!(
            "| {name} | {:.0} | {} | {} | {} | {:.0} % |\n",
            s.rps(),
            ms(s.p50_us),
            ms(s.p99_us),
            s.errors,
            100.0 * s.rps() / ceiling
        ));
        let row = name.split_once(' ').map_or(name, |(row, _)| row);
        cpu_lines.push(format!("{row} {}", cpu.describe()));
    }
    // (b)'s rate counts acknowledgements during the run, while the consumers may fall behind and catch up
    // after it: how far behind moves that rate between runs at the same CPU a webhook. Over the run and the
    // catch-up together it is the rate the whole system sustains.
    let sustained = ingest.requests as f64 / (ingest.seconds + drained).max(f64::EPSILON);
    table.push_str(&format!(
        "| (b*) the same ingest, every consumer caught up (webhooks ÷ (run + {drained:.2} s of catch-up)) | {sustained:.0} | — | — | — | {:.0} % |\n",
        100.0 * sustained / ceiling
    ));
    table.push_str(&format!(
        "| (d) webhook 200 → committed to the timeline projection, at {lag_rate:.0}/s ({} events; {}) | — | {} | {} | — | — |\n",
        lags.n,
        lags.spread(),
        ms(lags.p50_us),
        ms(lags.p99_us)
    ));
    table.push_str(&format!(
        "| (e) peak RSS of `vwc up` | — | — | — | — | {:.1} MiB |\n",
        rss as f64 / 1024.0
    ));
    table.push_str(&format!(
        "| (e′) idle RSS after start-up (demo seeded, consumers caught up; peak during start-up) | — | — | — | — | {:.1} MiB ({:.1} MiB) |\n",
        idle_kib as f64 / 1024.0,
        idle_peak_kib as f64 / 1024.0
    ));
    let caught_up = format!(
        "\nSeeding 1,000,000 timeline events took {seed_secs:.1} s. After the ingest run every consumer \
         (edge, scheduler, valuation, chat, notification) had caught up {drained:.2} s later; the timeline run started after that. \
         Events published per webhook of the ingest run: {}.\n\
         CPU per request (user + system, `/proc/<pid>/stat`; (b) until every consumer caught up): {}.\n\
         The server's CPU in (b), by thread: {ingest_threads}.\n",
        per_webhook.join(", "),
        cpu_lines.join("; ")
    );
    if http_only {
        println!("{table}{caught_up}");
        return Ok(());
    }

    let sweep_vehicles = sweep_vehicles();
    let (sweep, sweep_threads) = sweep_rows(sweep_vehicles).await?;
    eprintln!("  (g) daily re-valuation of {sweep_vehicles} vehicles");
    let revalue = revalue_bench(sweep_vehicles).await?;
    eprintln!("  (h) chat answers on a 10,000-event vehicle");
    let chat = chat_bench().await?;
    let scale = scale_rows(duration).await?;

    table.push_str(&sweep);
    let (first, first_took, second, second_secs) = &revalue;
    table.push_str(&first_and_again_rows(
        &format!(
            "(g) daily re-valuation: {} vehicles ({} changed, {} `ValuationUpdated` published)",
            first.vehicles, first.changed, first.published
        ),
        (first.vehicles, *first_took),
        "(g′) the same re-valuation again the same day",
        (
            *second_secs,
            &format!(
                "{} vehicles read, {} changed, {} published",
                second.vehicles, second.changed, second.published
            ),
        ),
    ));
    table.push_str(&chat.row());
    table.push_str(&scale);
    table.push_str(&footprint::rows().await?);
    table.push_str(&caught_up);
    table.push_str(&sweep_threads);
    println!("{table}");
    Ok(())
}

/// Row (b′): row (b)'s load against a fresh server that runs the ingestion service's relay and no consumer
/// — what a webhook costs before any service projects it, so (b)'s distance from its aim splits into the
/// ingest path's share and the consumers'.
async fn ingest_alone(
    http: &reqwest::Client,
    duration: Duration,
    concurrency: usize,
) -> anyhow::Result<(LoadStats, PerRequest)> {
    let dir = private_dir()?;
    let server = start_server_with(dir.path(), false, Some("ingestion"))?;
    let token = token(dir.path(), ORG)?;
    let hooks = Arc::new(setup_webhooks(http, &server.base, &token, 10_000, 200, "alone").await?);
    let count = CpuCount::start(server.child.id());
    let stats = ingest(hooks, duration, concurrency).await;
    let cpu = count.per_request(stats.requests);
    // A `vwc` built without the `bench` feature ignores `VWC_BENCH_SERVICES` and runs every consumer: the
    // row would then measure (b) again under another name. Only the ingestion service may have published.
    let consumed: Vec<_> = (scale::outbox_rows(dir.path())?.into_iter())
        .filter(|(db, rows)| *db != "ingestion.db" && *rows > 0)
        .collect();
    anyhow::ensure!(
        consumed.is_empty(),
        "row (b′): the server at {} ran consumers ({consumed:?} published); it ignores VWC_BENCH_SERVICES — \
         build it with `cargo build --release -p vwc --features bench`",
        vwc_binary().display()
    );
    Ok((stats, cpu))
}

/// Sends `hooks`' signed webhooks from `concurrency` connections for `duration`.
async fn ingest(hooks: Arc<Webhooks>, duration: Duration, concurrency: usize) -> LoadStats {
    load(duration, concurrency, move |n| {
        let hooks = hooks.clone();
        async move { hooks.send(n).await.is_some() }
    })
    .await
}

/// `VWC_BENCH_SWEEP_VEHICLES`: the fleet of rows (f) and (g); 100,000 unless set.
fn sweep_vehicles() -> usize {
    env_or("VWC_BENCH_SWEEP_VEHICLES", 100_000)
}

/// Rows (f), (f′), (f″) and (f‴), also alone with `VWC_BENCH_ONLY=sweep`; and a line saying the CPU of the
/// first sweep and of its floor by thread (which stage holds the wall time).
async fn sweep_rows(n: usize) -> anyhow::Result<(String, String)> {
    eprintln!("  (f) maintenance sweep of {n} vehicles × 12 items");
    let (
        [
            (first, first_took),
            (second, second_took),
            (next, next_took),
        ],
        floor,
        first_threads,
    ) = sweep_bench(n).await?;
    let floor_row = floor.row(&first_took);
    let mut rows = first_and_again_rows(
        &format!(
            "(f) maintenance sweep: {} vehicles, {} items ({} changed, {} reminders)",
            first.vehicles, first.items, first.changed, first.reminders
        ),
        (first.vehicles, first_took),
        "(f′) the same sweep again the same day",
        (
            second_took.secs,
            &format!(
                "{} vehicles read, {} changed, {} reminders",
                second.vehicles, second.changed, second.reminders
            ),
        ),
    );
    rows.push_str(&format!(
        "| (f″) the next day's sweep (every schedule published the day before) | — | — | — | — | {:.1} s ({:.1} s of CPU): {} vehicles woke, {} changed, {} reminders |\n",
        next_took.secs, next_took.cpu.unwrap_or(f64::NAN), next.vehicles, next.changed, next.reminders
    ));
    rows.push_str(&floor_row);
    let threads = format!(
        "The first sweep's CPU (f), by thread: {}.\nIts floor's (f‴), by thread: {}.\n",
        first_threads, floor.threads
    );
    Ok((rows, threads))
}

/// Two table rows: a daily job's first run over every vehicle (its rate and total time) and the same job
/// again the same day (its time and what it did).
fn first_and_again_rows(
    first: &str,
    (vehicles, took): (u64, Took),
    again: &str,
    (again_secs, again_did): (f64, &str),
) -> String {
    format!(
        "| {first} | {:.0} vehicles/s | — | — | — | {} |\n| {again} | — | — | — | — | {again_secs:.1} s: {again_did} |\n",
        vehicles as f64 / took.secs,
        took.total()
    )
}

/// Seeds a valuation store with `n` vehicles valued up to yesterday and re-values them twice today.
async fn revalue_bench(
    n: usize,
) -> anyhow::Result<(
    vwc_valuation::RevalueReport,
    Took,
    vwc_valuation::RevalueReport,
    f64,
)> {
    let dir = private_dir()?;
    let store = vwc_valuation::SqliteValuationStore::open(&dir.path().join("valuation.db"))?;
    let now = vwc_clock::now();
    let (today, run) = (
        now.date_naive(),
        DailyRun::of_day(None, now.date_naive(), now),
    );
    let t = Instant::now();
    vwc_valuation::revalue::seed_bulk(&store, n, today).await?;
    eprintln!(
        "  seeded {n} vehicles in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let (t, cpu) = (Instant::now(), Cpu::now());
    let first = vwc_valuation::revalue(&store, &run).await?;
    let first_took = Took::since(t, cpu);
    let t = Instant::now();
    let second = vwc_valuation::revalue(&store, &run).await?;
    Ok((first, first_took, second, t.elapsed().as_secs_f64()))
}

/// The CPU seconds (user + system) of every thread a process has run so far, those that ended included,
/// from `/proc/<pid>/stat` (in Linux's clock ticks of 1/100 s); `None` where the kernel does not say. Next to
/// a wall time, a figure other processes' load moves less (a neighbour sharing the caches still does).
#[derive(Debug, Clone, Copy)]
struct Cpu(Option<f64>);

impl Cpu {
    /// This process's.
    fn now() -> Cpu {
        Cpu::of("self")
    }

    /// Process `pid`'s (a number, or `self`).
    fn of(pid: &str) -> Cpu {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        Cpu(stat.as_deref().and_then(stat_cpu).map(|(_, secs, _)| secs))
    }

    /// Seconds used since `earlier`.
    fn since(self, earlier: Cpu) -> Option<f64> {
        self.0.zip(earlier.0).map(|(now, then)| now - then)
    }
}

/// The name, the CPU seconds (user + system) and the system seconds of them of a
/// `/proc/<pid>[/task/<tid>]/stat` line. After the name (in parentheses, which may hold spaces) the state is
/// the first field, utime the 12th and stime the 13th, in Linux's clock ticks of 1/100 s.
fn stat_cpu(stat: &str) -> Option<(&str, f64, f64)> {
    let (head, rest) = stat.rsplit_once(')')?;
    let name = head.split_once('(').map_or("?", |(_, n)| n);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (user, system) = (
        fields.get(11)?.parse::<u64>().ok()?,
        fields.get(12)?.parse::<u64>().ok()?,
    );
    Some((name, (user + system) as f64 / 100.0, system as f64 / 100.0))
}

/// The CPU each thread of a process has used so far, by thread id: its name (as the kernel keeps it, at
/// most 15 bytes: `sqlite-writer-i` is the ingestion database's writer), its seconds and those of them in
/// the kernel.
struct Threads(std::collections::HashMap<String, (String, f64, f64)>);

impl Threads {
    fn of(pid: u32) -> Threads {
        let mut threads = std::collections::HashMap::new();
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.filter_map(Result::ok) {
                let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
                    continue;
                };
                if let Some((name, secs, system)) = stat_cpu(&stat) {
                    let tid = task.file_name().to_string_lossy().into_owned();
                    threads.insert(tid, (name.to_string(), secs, system));
                }
            }
        }
        Threads(threads)
    }

    /// The seconds each kind of thread used since `earlier`, most first, as "name 1.23 s (0.45 in the
    /// kernel)": threads of one name summed (the runtime's workers, the blocking pool), and what threads
    /// that ended in between used (the process's total less the threads alive) as "ended threads". The
    /// kernel's part says when a thread's time went to the system rather than to its own work: a
    /// checkpointer writing the database into fresh page-cache pages (docs/bench.md, "Stop 54").
    fn since(&self, earlier: &Threads, total: Option<f64>) -> String {
        let mut by_name: std::collections::BTreeMap<&str, (f64, f64)> = Default::default();
        for (tid, (name, secs, system)) in &self.0 {
            let (secs_before, system_before) =
                earlier.0.get(tid).map_or((0.0, 0.0), |(_, s, k)| (*s, *k));
            let entry = by_name.entry(name.as_str()).or_default();
            entry.0 += secs - secs_before;
            entry.1 += system - system_before;
        }
        let alive: f64 = by_name.values().map(|(secs, _)| secs).sum();
        let mut parts: Vec<(String, f64, Option<f64>)> = (by_name.into_iter())
            .filter(|(_, (secs, _))| *secs >= 0.01)
            .map(|(name, (secs, system))| (name.to_string(), secs, Some(system)))
            .collect();
        if let Some(ended) = total.map(|t| t - alive).filter(|e| *e >= 0.01) {
            parts.push(("ended threads".to_string(), ended, None));
        }
        parts.sort_by(|a, b| b.1.total_cmp(&a.1));
        (parts.iter())
            .map(|(name, secs, system)| match system {
                Some(system) if *system >= 0.01 => {
                    format!("{name} {secs:.2} s ({system:.2} in the kernel)")
                }
                _ => format!("{name} {secs:.2} s"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The CPU a load run cost per request: the server's (`vwc up`, its consumers included where the run
/// waited for them) and the load generator's (this process), in microseconds.
#[derive(Debug, Clone, Copy, Default)]
struct PerRequest {
    server_us: Option<f64>,
    client_us: Option<f64>,
}

/// The CPU of a server (by pid) and of this process, counted from when it started.
struct CpuCount {
    pid: String,
    server: Cpu,
    client: Cpu,
}

impl CpuCount {
    fn start(pid: u32) -> CpuCount {
        let pid = pid.to_string();
        CpuCount {
            server: Cpu::of(&pid),
            client: Cpu::now(),
            pid,
        }
    }

    fn server_secs(&self) -> Option<f64> {
        Cpu::of(&self.pid).since(self.server)
    }

    fn client_secs(&self) -> Option<f64> {
        Cpu::now().since(self.client)
    }

    /// Both, per request of `requests`, counted until now.
    fn per_request(&self, requests: usize) -> PerRequest {
        PerRequest::of(self.server_secs(), self.client_secs(), requests)
    }
}

impl PerRequest {
    fn of(server: Option<f64>, client: Option<f64>, requests: usize) -> PerRequest {
        let per = |secs: f64| secs * 1e6 / requests.max(1) as f64;
        PerRequest {
            server_us: server.map(per),
            client_us: client.map(per),
        }
    }

    /// "server 31 µs, load generator 52 µs".
    fn describe(&self) -> String {
        let us = |v: Option<f64>| v.map_or("?".to_string(), |v| format!("{v:.0} µs"));
        format!(
            "server {}, load generator {}",
            us(self.server_us),
            us(self.client_us)
        )
    }
}

/// How long a run took: wall seconds, and the process's CPU seconds over them (when known).
#[derive(Debug, Clone, Copy)]
struct Took {
    secs: f64,
    cpu: Option<f64>,
}

impl Took {
    fn since(started: Instant, cpu: Cpu) -> Took {
        Took {
            secs: started.elapsed().as_secs_f64(),
            cpu: Cpu::now().since(cpu),
        }
    }

    /// "4.1 s total (7.9 s of CPU)".
    fn total(&self) -> String {
        match self.cpu {
            Some(cpu) => format!("{:.1} s total ({cpu:.1} s of CPU)", self.secs),
            None => format!("{:.1} s total", self.secs),
        }
    }
}

/// Chat answer latency: the whole `ask` use case (knowledge version read, cached engine data, the
/// deterministic engine, the audit write of the turn) on a SQLite store, over a vehicle with 10,000 events.
pub struct ChatBench {
    pub asks: usize,
    pub p50_us: u64,
    pub p99_us: u64,
    /// The engine alone (no store round trips).
    pub engine_p50_us: u64,
    pub engine_p99_us: u64,
    /// The first question: loading the 10,000 records and building the index.
    pub cold_ms: f64,
}

impl ChatBench {
    fn row(&self) -> String {
        format!(
            "| (h) chat answer, 10,000-event vehicle ({} questions, 12 intents; engine alone p50 {} / p99 {}; first question {:.0} ms) | — | {} | {} | — | — |\n",
            self.asks,
            ms(self.engine_p50_us),
            ms(self.engine_p99_us),
            self.cold_ms,
            ms(self.p50_us),
            ms(self.p99_us)
        )
    }
}

/// A varied 10,000-record history: oil changes, rotations, brake repairs, readings, a collision, upgrades.
fn chat_bench_event(vehicle: &vwc_contracts::Vehicle, i: usize) -> VehicleEvent {
    let at = vwc_clock::now() - chrono::Duration::hours((10_000 - i) as i64 * 6);
    let (kind, title, details, vendor) = match i % 10 {
        0 => (
            EventKind::Maintenance,
            "Oil change",
            json!({"tasks": ["oil_change"]}),
            Some("Main St Auto"),
        ),
        1 => (
            EventKind::Maintenance,
            "Tire rotation",
            json!({"tasks": ["tire_rotation"]}),
            Some("Tire Town"),
        ),
        2 => (
            EventKind::Repair,
            "Brake pads replaced",
            json!({"system": "brakes", "parts": ["front brake pads"], "warranty": false}),
            Some("Main St Auto"),
        ),
        3 if i % 1000 == 3 => (
            EventKind::Collision,
            "Fender bender",
            json!({"severity": "minor", "structural": false, "airbagDeployed": false}),
            Some("Body Shop"),
        ),
        4 if i % 500 == 4 => (
            EventKind::Upgrade,
            "Roof rack",
            json!({"category": "exterior"}),
            Some("Rack Co"),
        ),
        _ => (
            EventKind::OdometerReading,
            "Odometer reading",
            json!({}),
            None,
        ),
    };
    VehicleEvent {
        id: format!("evt_chat_{i:06}").into(),
        vehicle_id: vehicle.id.clone(),
        org_id: vehicle.org_id.clone(),
        kind,
        occurred_at: at,
        recorded_at: at,
        odometer: Some(10_000 + i as u64 * 7),
        cost_cents: (kind != EventKind::OdometerReading).then_some(5_000 + (i as u64 % 20_000)),
        currency: (kind != EventKind::OdometerReading).then(|| "USD".into()),
        title: title.into(),
        notes: None,
        vendor: vendor.map(|v| vwc_contracts::Vendor {
            name: v.into(),
            dealer_id: None,
        }),
        source: EventSource::User,
        details,
    }
}

pub async fn chat_bench() -> anyhow::Result<ChatBench> {
    use vwc_chat_historian::ChatStore;
    use vwc_chat_historian::store::KnowledgeChange;
    let dir = private_dir()?;
    let store: Arc<dyn ChatStore> = Arc::new(vwc_chat_historian::SqliteChatStore::open(
        &dir.path().join("chat-historian.db"),
    )?);
    let vehicle = bench_vehicle(
        "veh_chat_bench",
        ORG,
        "2T3P1RFV3MW123456",
        2021,
        ("Toyota", "RAV4"),
    );
    store
        .apply_change("bench-reg", KnowledgeChange::Vehicle(vehicle.clone()))
        .await?;
    let t = Instant::now();
    let writes: Vec<_> = (0..BIG_EVENTS)
        .map(|i| {
            let store = store.clone();
            let event = chat_bench_event(&vehicle, i);
            async move {
                store
                    .apply_change(&format!("bench-{i}"), KnowledgeChange::Record(event))
                    .await
            }
        })
        .collect();
    for chunk in futures::future::join_all(writes).await {
        chunk?;
    }
    eprintln!(
        "  projected {BIG_EVENTS} records in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let historian = vwc_chat_historian::Historian::new(store.clone());
    let questions = [
        "When was the oil last changed?",
        "How many times were the tires rotated?",
        "Who did the brakes?",
        "How much have I spent on maintenance last year?",
        "What is the total cost of ownership?",
        "Has it been in an accident?",
        "How many miles do I drive per month?",
        "What upgrades have I made?",
        "Where do I usually take it?",
        "What was done in the last 3 months?",
        "roof rack",
        "Why does 17c matter?",
    ];
    let ask = |q: &str| vwc_chat_historian::historian::Ask {
        org_id: ORG.into(),
        vehicle_id: vehicle.id.to_string(),
        asked_by: "bench".into(),
        question: q.into(),
        conversation_id: None,
    };
    let t = Instant::now();
    historian.ask(ask(questions[0]), vwc_clock::now()).await?;
    let cold_ms = t.elapsed().as_secs_f64() * 1000.0;
    let asks = 2_400;
    let mut latencies = Vec::with_capacity(asks);
    for i in 0..asks {
        let t = Instant::now();
        historian
            .ask(ask(questions[i % questions.len()]), vwc_clock::now())
            .await?;
        latencies.push(t.elapsed().as_micros() as u64);
    }
    latencies.sort_unstable();
    let prepared = historian.prepared(ORG, &vehicle.id).await?;
    let mut engine = Vec::with_capacity(asks);
    for i in 0..asks {
        let t = Instant::now();
        let a = vwc_chat_historian::engine::answer(
            questions[i % questions.len()],
            &prepared,
            None,
            vwc_clock::now(),
        );
        std::hint::black_box(a);
        engine.push(t.elapsed().as_micros() as u64);
    }
    engine.sort_unstable();
    Ok(ChatBench {
        asks,
        p50_us: percentile(&latencies, 0.50),
        p99_us: percentile(&latencies, 0.99),
        engine_p50_us: percentile(&engine, 0.50),
        engine_p99_us: percentile(&engine, 0.99),
        cold_ms,
    })
}

/// Seeds a scheduler store with `n` vehicles (12 items each), sweeps it twice on the same day, then once
/// on the next day: the first sweep publishes every schedule (none was published when its facts were
/// seeded), the second finds the day swept, and the third is the daily case — only the vehicles whose
/// wake day has come are read, and only what changed by the date is published. Then the floor of the
/// first sweep ([`SweepFloor`]): its rows written again alone into a copy of the store made before it.
async fn sweep_bench(
    n: usize,
) -> anyhow::Result<(
    [(vwc_maintenance_scheduler::SweepReport, Took); 3],
    SweepFloor,
    String,
)> {
    use vwc_maintenance_scheduler::write_floor;
    let dir = private_dir()?;
    let sqlite = Arc::new(vwc_maintenance_scheduler::SqliteSchedulerStore::open(
        &dir.path().join("maintenance-scheduler.db"),
    )?);
    let store: Arc<dyn vwc_maintenance_scheduler::SchedulerStore> = sqlite.clone();
    let t = Instant::now();
    let now = vwc_clock::now();
    vwc_maintenance_scheduler::seed_bulk(store.as_ref(), n, now).await?;
    eprintln!(
        "  seeded {n} vehicles in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let copy = dir.path().join("floor.db");
    write_floor::copy_store(&sqlite, &copy).await?;
    let tomorrow = now + chrono::Duration::days(1);
    let mut runs = Vec::with_capacity(3);
    // The first sweep's outbox rows: those between the high waters before and after it.
    let mut first_outbox = (write_floor::outbox_high_water(&sqlite).await?, 0);
    let mut first_threads = String::new();
    for at in [now, now, tomorrow] {
        let run = DailyRun::of_day(None, at.date_naive(), at);
        let (t, cpu, threads) = (Instant::now(), Cpu::now(), Threads::of(std::process::id()));
        let report = vwc_maintenance_scheduler::sweep(store.as_ref(), &run).await?;
        let took = Took::since(t, cpu);
        if runs.is_empty() {
            first_threads = Threads::of(std::process::id()).since(&threads, took.cpu);
        }
        runs.push((report, took));
        if runs.len() == 1 {
            first_outbox.1 = write_floor::outbox_high_water(&sqlite).await?;
        }
    }
    eprintln!("  (f‴) the first sweep's rows, written again alone");
    let writes = write_floor::read_writes(&sqlite, first_outbox, now.date_naive()).await?;
    let (vehicles, _, reminders, outbox, bytes) = writes.counts();
    let floor_store = vwc_maintenance_scheduler::SqliteSchedulerStore::open(&copy)?;
    let (t, cpu, threads) = (Instant::now(), Cpu::now(), Threads::of(std::process::id()));
    write_floor::write_again(&floor_store, writes).await?;
    let took = Took::since(t, cpu);
    let floor = SweepFloor {
        vehicles,
        reminders,
        outbox,
        bytes,
        threads: Threads::of(std::process::id()).since(&threads, took.cpu),
        took,
    };
    let runs = runs
        .try_into()
        .map_err(|_| anyhow::anyhow!("three sweeps ran"))?;
    Ok((runs, floor, first_threads))
}

/// Row (f‴): the first sweep's own rows written again through the same kind of writer into a copy of the
/// store as it was before the sweep, with nothing read, evaluated or serialised — what (f) cannot go below
/// without writing less.
struct SweepFloor {
    vehicles: usize,
    reminders: usize,
    outbox: usize,
    bytes: usize,
    took: Took,
    /// Its CPU by thread ([`Threads::since`]).
    threads: String,
}

impl SweepFloor {
    fn row(&self, sweep: &Took) -> String {
        format!(
            "| (f‴) the first sweep's rows alone ({} vehicles, {} reminders, {} outbox rows of {:.0} MB), written again through the same writer: the floor of (f) | — | — | — | — | {}; (f) took {:.1} × as long |\n",
            self.vehicles,
            self.reminders,
            self.outbox,
            self.bytes as f64 / 1e6,
            self.took.total(),
            sweep.secs / self.took.secs.max(1e-9),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_threads_stat_line_gives_its_name_its_cpu_and_the_kernels_part() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
        let line = "4242 (sqlite-ckpt (x)) S 1 1 1 0 -1 4194368 10 0 0 0 150 95 0 0 20 0 1 0";
        assert_eq!(stat_cpu(line), Some(("sqlite-ckpt (x)", 2.45, 0.95)));
        assert_eq!(stat_cpu("4242 (cut short) S 1"), None);
    }

    #[test]
    fn slow_lags_are_counted_with_the_windows_they_fall_in() {
        let at = |ms: i64| chrono::DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap();
        let lags = Lags::of(vec![
            (at(0), 1_000),
            (at(10), 25_000),
            (at(90), 30_000),
            (at(150), 2_000),
            (at(420), 70_000),
            (at(500), 20_000),
        ]);
        assert_eq!((lags.n, lags.slow, lags.slow_windows), (6, 3, 2));
        assert_eq!((lags.p50_us, lags.max_us), (25_000, 70_000));
        assert_eq!(
            lags.spread(),
            "3 over 20 ms, in 2 windows of 100 ms; max 70.00 ms"
        );
        let none = Lags::of(Vec::new());
        assert_eq!((none.n, none.slow, none.max_us), (0, 0, 0));
    }

    /// Only the run directories of processes that are gone are removed, with what they held.
    #[test]
    fn the_data_dirs_of_stopped_runs_are_removed_and_no_others() {
        let temp = tempfile::tempdir().unwrap();
        let mut ended = Command::new("true").spawn().unwrap();
        ended.wait().unwrap();
        let stopped = temp.path().join(format!("{RUN_DIR_PREFIX}{}", ended.id()));
        let alive = temp
            .path()
            .join(format!("{RUN_DIR_PREFIX}{}", std::process::id()));
        let other = temp.path().join("vwc-bench-notes");
        for dir in [&stopped, &alive, &other] {
            std::fs::create_dir_all(dir.join("data")).unwrap();
            std::fs::write(dir.join("data").join("edge.db"), vec![0u8; 1_000]).unwrap();
        }
        assert_eq!(remove_stopped_runs(temp.path()), (1, 1_000));
        assert!(!stopped.exists());
        assert!(alive.exists() && other.exists());
        assert_eq!(remove_stopped_runs(temp.path()), (0, 0));
    }

    /// Both layouts write the same million events; interleaved, the big vehicle's are never next to each
    /// other and come one per 100 events.
    #[test]
    fn the_timeline_layouts_write_the_same_events() {
        let ids = |layout| -> Vec<(String, String)> {
            timeline_seed(layout)
                .map(|e| (e.vehicle_id.to_string(), e.id.to_string()))
                .collect()
        };
        let (grouped, interleaved) = (ids(Layout::Grouped), ids(Layout::Interleaved));
        assert_eq!(grouped.len(), TOTAL_EVENTS);
        let big: Vec<usize> = (interleaved.iter().enumerate())
            .filter(|(_, (v, _))| v == BIG_VEHICLE)
            .map(|(at, _)| at)
            .collect();
        assert_eq!(big.len(), BIG_EVENTS);
        assert!(
            big.windows(2).all(|w| w[1] - w[0] == 100),
            "{:?}",
            &big[..5]
        );
        let (mut grouped, mut interleaved) = (grouped, interleaved);
        grouped.sort();
        interleaved.sort();
        assert_eq!(grouped, interleaved);
    }

    /// The CPU figures read `/proc/<pid>/stat` past the command name: this process's own count grows
    /// with work done, another process's is read by its pid, and an unknown pid says nothing.
    #[test]
    fn cpu_time_is_read_for_this_process_and_another_and_per_request() {
        let before = Cpu::now();
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let spent = Cpu::now().since(before).expect("this process's CPU time");
        assert!((0.1..5.0).contains(&spent), "{spent} s");
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        assert!(Cpu::of(&child.id().to_string()).0.is_some());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(Cpu::of("4294967295").0.is_none());
        let per = PerRequest::of(Some(0.5), None, 10_000);
        assert_eq!(per.describe(), "server 50 µs, load generator ?");
    }

    /// Per-thread CPU is told by the threads' names.
    #[test]
    fn the_cpu_of_a_process_is_told_by_thread_name() {
        let pid = std::process::id();
        let before = Threads::of(pid);
        let (done, finished) = std::sync::mpsc::channel();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let spinner = std::thread::Builder::new()
            .name("bench-spinner".into())
            .spawn(move || {
                let started = Instant::now();
                let mut x = 0u64;
                while started.elapsed() < Duration::from_millis(400) {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
                done.send(()).unwrap();
                stopped.recv().ok();
            })
            .unwrap();
        finished.recv().unwrap();
        let told = Threads::of(pid).since(&before, None);
        stop.send(()).unwrap();
        spinner.join().unwrap();
        let spinner_secs: f64 = (told.split(", "))
            .find_map(|part| part.strip_prefix("bench-spinner ")?.strip_suffix(" s"))
            .and_then(|secs| secs.parse().ok())
            .unwrap_or_else(|| panic!("no bench-spinner in {told}"));
        assert!((0.05..5.0).contains(&spinner_secs), "{told}");
    }
}
