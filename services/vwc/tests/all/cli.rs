//! The command line around a data dir: what writes it refuses to run beside a live `vwc up`, mistyped flags
//! stop before anything is made, and with `--log-json` every line on standard error is a JSON record.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::common::vwc_output;

/// The commands that write a data dir stop at once beside a `vwc up` serving it, naming it; the reading ones
/// run beside it. Once the server is gone, the writers run.
#[test]
fn writing_commands_refuse_to_run_beside_a_live_vwc_up_and_reading_ones_run() {
    let vwc = env!("CARGO_BIN_EXE_vwc");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (mut up, _) = vwc_testkit::process::start_vwc_up(vwc, dir.path());
    let csv = dir.path().join("rows.csv");
    std::fs::write(&csv, "Date,Odometer\n2026-01-01,100\n").unwrap();
    let csv = csv.to_str().unwrap();
    let server = format!("is in use by another `vwc up` (process {})", up.id());
    for args in [
        vec!["sweep", "--data-dir", data],
        vec!["revalue", "--data-dir", data],
        vec!["seed", "--data-dir", data],
        vec!["dlq", "replay", "--data-dir", data],
        vec![
            "import",
            "--org",
            "org_a",
            "--vehicle",
            "veh_x",
            csv,
            "--data-dir",
            data,
        ],
    ] {
        let out = vwc_output(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} ran beside vwc up");
        assert!(
            stderr.contains(&server) && stderr.contains("nothing was changed"),
            "{args:?}: {stderr}"
        );
    }
    let sweep = vwc_output(["sweep", "--data-dir", data]);
    assert!(
        String::from_utf8_lossy(&sweep.stderr).contains("POST /v1/maintenance/sweep"),
        "the sweep names the running server's route"
    );
    // Reading beside it is fine.
    for args in [
        vec!["dlq", "list", "--data-dir", data],
        vec!["chat", "audit", "--org", "org_a", "--data-dir", data],
    ] {
        let out = vwc_output(&args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    up.kill().unwrap();
    let _ = up.wait();
    let out = vwc_output(["sweep", "--data-dir", data]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A mistyped `--rate-limit`, `--public-url` or `--cors-origin` stops `vwc up` before it makes the data dir
/// or its JWT secret, with clap's message naming the flag.
#[test]
fn a_mistyped_flag_stops_vwc_up_before_it_makes_anything() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("d");
    let data = dir.to_str().unwrap();
    for (flag, value) in [
        ("--rate-limit", "abc"),
        ("--public-url", "ftp://example.com"),
        ("--cors-origin", "bad\u{1}origin"),
    ] {
        let out = vwc_output([
            "up",
            "--listen",
            "127.0.0.1:0",
            flag,
            value,
            "--data-dir",
            data,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag} {value:?} started");
        assert!(stderr.contains(flag), "{flag}: {stderr}");
        assert!(!dir.exists(), "{flag}: the data dir was made");
    }
}

/// A data dir that is a file is named as one (not "File exists"); with `--log-json` the reason `vwc` stopped
/// is a JSON error record.
#[test]
fn a_data_dir_that_is_a_file_is_named_so_and_log_json_reports_it_as_json() {
    let parent = tempfile::tempdir().unwrap();
    let file = parent.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let data = file.to_str().unwrap();
    let out = vwc_output(["up", "--listen", "127.0.0.1:0", "--data-dir", data]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("is a file, not a directory"), "{stderr}");

    let out = vwc_output([
        "--log-json",
        "up",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let records = json_lines(&out.stderr);
    let error = records
        .iter()
        .find(|r| r["level"] == "ERROR")
        .expect("an error record");
    assert!(
        error["fields"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("is a file, not a directory")),
        "{error}"
    );
}

/// With `--log-json` the seed's progress is JSON records too, and a data dir open to other users is warned
/// about once, not once per database.
#[test]
fn log_json_seeds_in_json_lines_and_an_open_data_dir_is_warned_about_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let data = data.to_str().unwrap();
    let out = vwc_output(["--log-json", "seed", "--data-dir", data]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = json_lines(&out.stderr);
    assert!(
        records.iter().any(|r| r["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("seeded"))),
        "the seed's progress: {records:?}"
    );
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = vwc_output(["dlq", "list", "--data-dir", data]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("open to other users").count(), 1, "{stderr}");
}

/// Every non-empty line of `stderr`, parsed as JSON (failing the test on a line that is not).
fn json_lines(stderr: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// A data dir whose ingestion database was lost: `vwc seed` refuses it as `vwc up` does (seeding would mix the
/// demo into the projections left), and the commands on existing data name the missing file instead of
/// saying the dir "holds no databases" (whose hint was `vwc seed`).
#[test]
fn a_data_dir_without_its_ingestion_database_is_named_so_and_never_seeded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let data = data.to_str().unwrap();
    let out = vwc_output(["seed", "--data-dir", data]);
    assert!(out.status.success());
    for entry in std::fs::read_dir(data).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("ingestion.db")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    let edge_before = std::fs::read(std::path::Path::new(data).join("edge.db")).unwrap();
    for args in [
        vec!["seed", "--data-dir", data],
        vec!["sweep", "--data-dir", data],
        vec!["dlq", "list", "--data-dir", data],
    ] {
        let out = vwc_output(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            stderr.contains("ingestion.db is missing") && !stderr.contains("holds no databases"),
            "{args:?}: {stderr}"
        );
    }
    assert!(!std::path::Path::new(data).join("ingestion.db").exists());
    assert_eq!(
        std::fs::read(std::path::Path::new(data).join("edge.db")).unwrap(),
        edge_before,
        "nothing seeded into the projections"
    );
}

/// `vwc token` on a data dir with no JWT secret (a mistyped path) refuses instead of making a new secret and
/// printing a token the server would refuse; with the server's data dir it prints one.
#[test]
fn vwc_token_needs_the_servers_secret() {
    let parent = tempfile::tempdir().unwrap();
    let typo = parent.path().join("typo");
    let token = |dir: &std::path::Path| {
        vwc_output([
            "token",
            "--org",
            "org_a",
            "--sub",
            "u",
            "--role",
            "owner",
            "--data-dir",
            dir.to_str().unwrap(),
        ])
    };
    let out = token(&typo);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no JWT secret in"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!typo.exists(), "the mistyped dir was made");
    let real = parent.path().join("real");
    assert!(
        vwc_output(["seed", "--data-dir", real.to_str().unwrap()])
            .status
            .success()
    );
    let out = token(&real);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).matches('.').count(), 2);
}

/// `VWC_LOG_JSON=1` (and `yes`, `on`) turns JSON logs on like `true`, instead of stopping every command with
/// a usage error.
#[test]
fn vwc_log_json_takes_the_usual_spellings_of_true() {
    let missing = tempfile::tempdir().unwrap();
    let missing = missing.path().join("missing");
    for value in ["1", "yes", "on", "true"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vwc"))
            .args(["dlq", "list", "--data-dir"])
            .arg(&missing)
            .env("VWC_LOG_JSON", value)
            .env_remove("VWC_DATA_DIR")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "VWC_LOG_JSON={value}");
        let records = json_lines(&out.stderr);
        assert!(
            records.iter().any(|r| r["level"] == "ERROR"),
            "VWC_LOG_JSON={value}: {records:?}"
        );
    }
}

/// An unreachable MongoDB deployment is reported within seconds, saying what to check, not after the
/// driver's 30 s with only its topology dump; a prefix MongoDB would refuse stops before connecting.
#[cfg(feature = "aws")]
#[test]
fn an_unreachable_mongodb_is_said_so_within_seconds_and_a_bad_prefix_before_connecting() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = unused.local_addr().unwrap().port();
    drop(unused);
    let uri = format!("mongodb://127.0.0.1:{port}/?directConnection=true");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let started = std::time::Instant::now();
    let out = vwc_output([
        "dlq",
        "list",
        "--store",
        "mongodb",
        "--mongodb-uri",
        &uri,
        "--data-dir",
        data,
    ]);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        took < std::time::Duration::from_secs(20),
        "took {took:?}: {stderr}"
    );
    assert!(
        stderr.contains("is the deployment running and reachable"),
        "{stderr}"
    );
    for prefix in ["a.b", "bad/prefix", &"p".repeat(41)] {
        let out = vwc_output([
            "sweep",
            "--store",
            "mongodb",
            "--mongodb-uri",
            &uri,
            "--mongodb-prefix",
            prefix,
            "--data-dir",
            data,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{prefix}: {stderr}");
        assert!(stderr.contains("--mongodb-prefix"), "{prefix}: {stderr}");
    }
}

/// The commands that neither issue nor verify tokens (the daily jobs run by hand, the dead letters) make no
/// JWT signing secret: a data dir without one is left without one. (With `--store mongodb` they wrote a
/// `./vwc-data/jwt.secret` that nothing used.)
#[test]
fn commands_without_tokens_make_no_signing_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let data = data.to_str().unwrap();
    assert!(vwc_output(["seed", "--data-dir", data]).status.success());
    let secret = std::path::Path::new(data).join("jwt.secret");
    std::fs::remove_file(&secret).unwrap();
    for args in [
        vec!["sweep", "--data-dir", data],
        vec!["revalue", "--data-dir", data],
        vec!["dlq", "replay", "--data-dir", data],
        vec!["dlq", "list", "--data-dir", data],
    ] {
        let out = vwc_output(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(!secret.exists(), "{args:?} made a signing secret: {stderr}");
        assert!(!stderr.contains("JWT signing secret"), "{args:?}: {stderr}");
    }
}

/// `vwc export` and `vwc import` (no `--store`) on a data dir without databases — what a MongoDB deployment's
/// data dir looks like — also name the API routes that move a MongoDB deployment's records.
#[test]
fn export_and_import_without_databases_name_the_api_routes_for_mongodb() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let csv = dir.path().join("rows.csv");
    std::fs::write(&csv, "Date,Odometer\n2026-01-01,100\n").unwrap();
    let csv = csv.to_str().unwrap();
    for (args, route) in [
        (
            vec![
                "export",
                "--org",
                "org_a",
                "--vehicle",
                "veh_x",
                "--data-dir",
                data,
            ],
            "GET /v1/vehicles/{id}/export",
        ),
        (
            vec![
                "import",
                "--org",
                "org_a",
                "--vehicle",
                "veh_x",
                csv,
                "--data-dir",
                data,
            ],
            "POST /v1/vehicles/{id}/imports",
        ),
    ] {
        let out = vwc_output(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} ran");
        assert!(
            stderr.contains("holds no databases")
                && stderr.contains("MongoDB deployment")
                && stderr.contains(route),
            "{args:?}: {stderr}"
        );
    }
}
