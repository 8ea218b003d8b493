//! The rows of `scripts/bench` that need their own data dir: the fleet routes at scale (a seeded edge
//! projection of N vehicles × 10 events), a bulk import into one vehicle through the public route until
//! every consumer has caught up, and the cold start of `vwc up` on an existing data dir.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;
use vwc_contracts::maintenance::MaintenanceScheduleUpdated;
use vwc_contracts::valuation::{
    FactorCode, Valuation, ValuationFactor, ValuationMethod, ValuationPointKind,
};
use vwc_contracts::{OdometerUnit, Vehicle, VehicleEvent};

use super::{LoadStats, bench_event, load, ms, percentile, start_server, token, wait_drained};

pub const FLEET_ORG: &str = "org_fleet_bench";
const EVENTS_PER_VEHICLE: usize = 10;

fn fleet_vehicle(i: usize) -> Vehicle {
    super::bench_vehicle(
        &format!("veh_fleet_{i:07}"),
        FLEET_ORG,
        &vwc_testkit::vin(i as u32),
        2015 + (i % 10) as u16,
        ("Bench", "Fleet"),
    )
}

/// Event `j` of vehicle `i`: one every ~40 days over the last ~13 months, two in three with a cost.
fn fleet_event(i: usize, j: usize) -> VehicleEvent {
    bench_event(
        format!("evt_fleet_{i:07}_{j:02}"),
        fleet_vehicle(i).id.as_str(),
        FLEET_ORG,
        i + j,
        vwc_clock::now() - chrono::Duration::days((j * 40 + i % 37) as i64),
        50_000 - j as u64 * 1_000,
        5_000 + (i as u64 * 7 % 20_000),
    )
}

/// Seeds the edge projection of a fleet of `vehicles` (×10 events, a maintenance view with attention
/// counts and a current value each) straight into `edge.db`, then builds the aggregates from it.
pub fn seed_fleet(data_dir: &Path, vehicles: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let path = data_dir.join("edge.db");
    let events =
        (0..vehicles).flat_map(|i| (0..EVENTS_PER_VEHICLE).map(move |j| fleet_event(i, j)));
    let total = vehicles * EVENTS_PER_VEHICLE;
    vwc_edge::SqliteEdgeStore::bulk_load_timeline(&path, events, 100_000, |n| {
        eprint!("\r  seeding the fleet: {n:>9} / {total} events");
    })?;
    eprintln!();
    let mut conn = rusqlite::Connection::open(&path)?;
    let tx = conn.transaction()?;
    {
        let mut vehicle =
            tx.prepare("INSERT INTO vehicles (id, org_id, body) VALUES (?1, ?2, ?3)")?;
        let mut maintenance = tx.prepare(
            "INSERT INTO maintenance (vehicle_id, org_id, body, due_soon, overdue, evaluated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut value = tx.prepare(
            "INSERT INTO current_valuations (vehicle_id, org_id, as_of, amount, currency, body, computed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let now = vwc_clock::now();
        let at = vwc_store::ts(&now);
        for i in 0..vehicles {
            let v = fleet_vehicle(i);
            vehicle.execute(rusqlite::params![
                v.id,
                v.org_id,
                serde_json::to_string(&v)?
            ])?;
            let update = MaintenanceScheduleUpdated {
                vehicle_id: v.id.to_string(),
                items: Vec::new(),
                odometer: None,
                evaluated_at: now,
                evaluated_on: None,
                unit: None,
            };
            maintenance.execute(rusqlite::params![
                v.id,
                v.org_id,
                serde_json::to_string(&update)?,
                (i % 3) as i64,
                (i % 5 == 0) as i64,
                at
            ])?;
            let amount = 1_000_000 + (i as u64 * 13 % 2_000_000);
            let valuation = Valuation {
                amount_cents: amount,
                currency: "USD".into(),
                as_of: now.date_naive(),
                method: ValuationMethod::FallbackAverageNewPrice,
                kind: ValuationPointKind::Current,
                odometer: Some(50_000),
                odometer_unit: OdometerUnit::Mi,
                factors: vec![ValuationFactor {
                    code: FactorCode::Base,
                    label: "Base".into(),
                    amount_cents: amount as i64,
                    detail: "bench".into(),
                    event_id: None,
                }],
            };
            value.execute(rusqlite::params![
                v.id,
                v.org_id,
                now.date_naive().to_string(),
                amount as i64,
                "USD",
                serde_json::to_string(&valuation)?,
                at
            ])?;
        }
    }
    tx.commit()?;
    drop(conn);
    vwc_edge::SqliteEdgeStore::rebuild_aggregates(&path)?;
    if let Ok(version) = std::env::var("VWC_BENCH_EDGE_SCHEMA") {
        // Only to drive an older server build (`VWC_BENCH_VWC`) that knows the projection's tables but
        // not the aggregates: the same data at the schema version it expects.
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(
            "DROP TABLE cost_months; DROP TABLE fleet_cost_months; DROP TABLE fleet_counts;
             DROP TABLE fleet_values;",
        )?;
        conn.pragma_update(None, "user_version", version.parse::<i64>()?)?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The fleet routes under load: one row per route.
pub struct FleetBench {
    pub vehicles: usize,
    pub concurrency: usize,
    pub seed_secs: f64,
    pub rows: Vec<(String, LoadStats)>,
}

impl FleetBench {
    pub fn rows(&self) -> String {
        let mut out = String::new();
        for (name, s) in &self.rows {
            out.push_str(&format!(
                "| (i) {name} ({} vehicles, {} events; {} connections) | {:.0} | {} | {} | {} | — |\n",
                self.vehicles,
                self.vehicles * EVENTS_PER_VEHICLE,
                self.concurrency,
                s.rps(),
                ms(s.p50_us),
                ms(s.p99_us),
                s.errors
            ));
        }
        out
    }
}

pub async fn fleet_bench(
    vehicles: usize,
    duration: Duration,
    concurrency: usize,
) -> anyhow::Result<(FleetBench, tempfile::TempDir)> {
    let dir = super::private_dir()?;
    let seed_secs = seed_fleet(dir.path(), vehicles)?;
    eprintln!("  seeded in {seed_secs:.1} s");
    let server = start_server(dir.path())?;
    let token = token(dir.path(), FLEET_ORG)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency * 2)
        .timeout(Duration::from_secs(120))
        .build()?;
    let month = (vwc_clock::now() - chrono::Months::new(1))
        .format("%Y-%m")
        .to_string();
    let (first, last) = month_bounds(&month);
    let routes = [
        (
            "fleet overview, first page of 50".to_string(),
            "/v1/fleet/overview?limit=50".to_string(),
        ),
        (
            "fleet costs by month, whole history".to_string(),
            "/v1/fleet/costs?groupBy=month".to_string(),
        ),
        (
            "fleet costs by kind, whole history".to_string(),
            "/v1/fleet/costs?groupBy=kind".to_string(),
        ),
        (
            format!("fleet costs by kind, one month ({month})"),
            format!("/v1/fleet/costs?groupBy=kind&from={first}&to={last}"),
        ),
        (
            "fleet costs by vehicle, whole history, first page of 50".to_string(),
            "/v1/fleet/costs?groupBy=vehicle&limit=50".to_string(),
        ),
        (
            "fleet costs by vehicle, whole history, a page of 50 from the middle".to_string(),
            format!(
                "/v1/fleet/costs?groupBy=vehicle&limit=50&cursor={}",
                vwc_edge::cursor::encode(&vwc_edge::store::CostKey {
                    vehicle_id: fleet_vehicle(vehicles / 2).id.to_string(),
                    currency: "USD".into(),
                })
            ),
        ),
    ];
    let mut rows = Vec::new();
    for (name, path) in routes {
        eprintln!("  (i) {name}");
        let (http, url, token) = (
            http.clone(),
            format!("{}{path}", server.base),
            token.clone(),
        );
        let stats = load(duration, concurrency, move |_| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                match http.get(&url).bearer_auth(&token).send().await {
                    Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                    _ => false,
                }
            }
        })
        .await;
        rows.push((name, stats));
    }
    drop(server);
    Ok((
        FleetBench {
            vehicles,
            concurrency,
            seed_secs,
            rows,
        },
        dir,
    ))
}

fn month_bounds(month: &str) -> (String, String) {
    let first =
        chrono::NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").expect("month");
    let last = (first + chrono::Months::new(1))
        .pred_opt()
        .expect("a day before");
    (first.to_string(), last.to_string())
}

/// The bulk import: rows posted, then the times until the route answered, the timeline held them all,
/// and every consumer had caught up (every service's outbox empty).
pub struct ImportBench {
    pub rows: usize,
    pub answered_secs: f64,
    pub timeline_secs: f64,
    pub drained_secs: f64,
    /// Events each publishing service wrote to its outbox for the import (database file, rows).
    pub published: Vec<(&'static str, i64)>,
}

impl ImportBench {
    pub fn row(&self) -> String {
        let published: Vec<String> = (self.published.iter())
            .map(|(db, rows)| format!("{} {rows}", db.trim_end_matches(".db")))
            .collect();
        format!(
            "| (j) CSV import of {} rows into one vehicle (`POST …/imports`): answered / all on the timeline / every consumer caught up (events published: {}) | — | — | — | — | {:.1} s / {:.1} s / {:.1} s |\n",
            self.rows,
            published.join(", "),
            self.answered_secs,
            self.timeline_secs,
            self.drained_secs
        )
    }
}

fn import_csv(rows: usize) -> String {
    let mut csv = String::from("occurredAt,kind,title,odometer,costCents,currency,details\n");
    let start = vwc_clock::now() - chrono::Duration::days(rows as i64 + 1);
    for i in 0..rows {
        let at = (start + chrono::Duration::days(i as i64)).format("%Y-%m-%dT09:00:00Z");
        let odometer = 10_000 + i * 30;
        let line = match i % 4 {
            0 => format!(
                "{at},maintenance,Oil change,{odometer},8999,USD,\"{{\"\"tasks\"\":[\"\"oil_change\"\"]}}\"\n"
            ),
            1 => format!("{at},repair,Brakes,{odometer},25000,USD,\n"),
            _ => format!("{at},odometer_reading,Reading,{odometer},,,\n"),
        };
        csv.push_str(&line);
    }
    csv
}

pub async fn import_bench(rows: usize) -> anyhow::Result<(ImportBench, tempfile::TempDir)> {
    let dir = super::private_dir()?;
    let server = start_server(dir.path())?;
    let token = token(dir.path(), super::ORG)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(1800))
        .build()?;
    let base = server.base.clone();
    let created: serde_json::Value = http
        .post(format!("{base}/v1/vehicles"))
        .bearer_auth(&token)
        .json(&json!({"vin": vwc_testkit::vin(77_777), "year": 2019, "make": "Bench", "model": "Import"}))
        .send()
        .await?
        .json()
        .await?;
    let vehicle = created["id"].as_str().context("vehicle id")?.to_string();
    wait_drained(dir.path()).await?;
    let before = outbox_rows(dir.path())?;
    let csv = import_csv(rows);
    eprintln!("  (j) importing {rows} rows ({} KiB)", csv.len() / 1024);
    let started = Instant::now();
    let r = http
        .post(format!("{base}/v1/vehicles/{vehicle}/imports"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await?;
    let status = r.status();
    let report: serde_json::Value = r.json().await?;
    anyhow::ensure!(
        status == 200 && report["imported"] == rows,
        "import answered {status}: {report}"
    );
    let answered_secs = started.elapsed().as_secs_f64();
    loop {
        let v: serde_json::Value = http
            .get(format!("{base}/v1/vehicles/{vehicle}"))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        if v["eventCount"].as_u64() == Some(rows as u64) {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(1800),
            "the timeline never held every row"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let timeline_secs = started.elapsed().as_secs_f64();
    wait_drained(dir.path()).await?;
    let drained_secs = started.elapsed().as_secs_f64();
    let published = published_since(dir.path(), &before)?;
    drop(server);
    Ok((
        ImportBench {
            rows,
            answered_secs,
            timeline_secs,
            drained_secs,
            published,
        },
        dir,
    ))
}

/// The events each publishing service in `data_dir` has written to its outbox so far: its highest `seq`
/// (sent rows are pruned after seven days, so never a run's own).
pub(super) fn outbox_rows(data_dir: &Path) -> anyhow::Result<Vec<(&'static str, i64)>> {
    let mut rows = Vec::new();
    for db in [
        "ingestion.db",
        "valuation.db",
        "maintenance-scheduler.db",
        "notification.db",
    ] {
        let conn = rusqlite::Connection::open_with_flags(
            data_dir.join(db),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )?;
        rows.push((
            db,
            conn.query_row("SELECT coalesce(max(seq), 0) FROM outbox", [], |r| r.get(0))?,
        ));
    }
    Ok(rows)
}

/// The events each publishing service in `data_dir` wrote since [`outbox_rows`] read `before`.
pub(super) fn published_since(
    data_dir: &Path,
    before: &[(&'static str, i64)],
) -> anyhow::Result<Vec<(&'static str, i64)>> {
    Ok((outbox_rows(data_dir)?.into_iter())
        .map(|(db, rows)| {
            let earlier = before.iter().find(|(d, _)| *d == db).map_or(0, |(_, r)| *r);
            (db, rows - earlier)
        })
        .collect())
}

/// `vwc up` started `runs` times on `data_dir`: exec → the first `GET /healthz` answered 200, in ms, sorted.
fn cold_starts(data_dir: &Path, runs: usize) -> anyhow::Result<Vec<f64>> {
    let mut times = Vec::new();
    for _ in 0..runs {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let started = Instant::now();
        let mut child = std::process::Command::new(super::vwc_binary())
            .args(["up", "--no-seed", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .env("VWC_RATE_LIMIT", "0")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let up = loop {
            if healthz(port) {
                break Some(started.elapsed().as_secs_f64() * 1000.0);
            }
            if started.elapsed() > Duration::from_secs(60) || child.try_wait()?.is_some() {
                break None;
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        let _ = child.kill();
        let _ = child.wait();
        times.push(up.context("vwc up never answered /healthz")?);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(times)
}

/// One plain HTTP/1.1 request, so the probe itself costs next to nothing.
fn healthz(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && &head[9..12] == b"200"
}

/// Row (k) on `data_dir`: `runs` cold starts, measured now; `what` says what the data dir holds.
pub fn cold_starts_row(data_dir: &Path, runs: usize, what: &str) -> anyhow::Result<String> {
    eprintln!("  (k) cold starts on the {what}");
    Ok(cold_start_row(what, &cold_starts(data_dir, runs)?))
}

fn cold_start_row(what: &str, times: &[f64]) -> String {
    let us: Vec<u64> = times.iter().map(|t| (t * 1000.0) as u64).collect();
    format!(
        "| (k) cold start: exec → `/healthz` 200, {what}, {} starts | — | {} (median) | {} (max) | — | — |\n",
        times.len(),
        ms(percentile(&us, 0.5)),
        ms(*us.last().unwrap_or(&0))
    )
}
