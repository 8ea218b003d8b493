//! `vwc up` on an empty data dir: the demo seed is loaded and projected before the URL and the login are
//! printed, so the first read the printed token makes already sees the whole seed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

/// What `vwc up` printed before serving: the dashboard's URL and the demo login's token.
struct Printed {
    base: String,
    token: String,
}

fn read_login(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> Printed {
    let mut base = None;
    loop {
        let line = lines
            .next()
            .expect("vwc printed its login")
            .expect("a line");
        if let Some(rest) = line.strip_prefix("Dashboard: ") {
            base = Some(rest.trim_end_matches('/').to_string());
        } else if line.starts_with("Token (") {
            let token = line.rsplit(": ").next().expect("a token").to_string();
            return Printed {
                base: base.expect("the URL is printed before the token"),
                token,
            };
        }
    }
}

#[tokio::test]
async fn the_first_read_after_vwc_up_prints_its_login_sees_every_seeded_vehicle_and_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vwc"))
        .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("VWC_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vwc starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let printed = read_login(&mut stdout);
    std::thread::spawn(move || for _ in stdout {});

    // No wait, no retry: the very first reads.
    let http = reqwest::Client::new();
    let get = |path: String| {
        let request = http
            .get(format!("{}{path}", printed.base))
            .bearer_auth(&printed.token);
        async move {
            let response = request.send().await.expect("vwc answers");
            assert_eq!(response.status(), 200, "GET {path}");
            response.json::<Value>().await.expect("JSON")
        }
    };
    let vehicles = get("/v1/vehicles?limit=100".into()).await;
    let timelines: Vec<(String, usize)> = {
        let mut out = Vec::new();
        for v in vehicles["items"].as_array().expect("items") {
            let id = v["id"].as_str().unwrap();
            let page = get(format!("/v1/vehicles/{id}/events?limit=100")).await;
            out.push((
                v["vin"].as_str().unwrap().to_string(),
                page["items"].as_array().expect("items").len(),
            ));
        }
        out
    };
    child.kill().unwrap();
    let _ = child.wait();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();

    let seed = vwc::seed::demo();
    let login_org = &seed.organisations[0];
    let mut expected: Vec<(String, usize)> = login_org
        .vehicles
        .iter()
        .map(|v| {
            (
                v.vehicle["vin"].as_str().unwrap().to_string(),
                v.events.len(),
            )
        })
        .collect();
    let mut seen = timelines;
    expected.sort();
    seen.sort();
    assert_eq!(
        seen, expected,
        "each seeded vehicle (by VIN) with its seeded events, at the first read"
    );
    assert!(
        stderr.contains("Seeded ") && stderr.contains("(projected in "),
        "vwc up reports the seed and its projection: {stderr}"
    );
}
