//! The `vwc` binary as a process, for the tests that kill it: `vwc up` on a free port and `vwc token`.
//! Callers pass the binary's path (`env!("CARGO_BIN_EXE_vwc")`, known only to the test crate).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `vwc up` (no seed, port 0) on `data_dir`; returns the child and the base URL it printed.
pub fn start_vwc_up(vwc: &str, data_dir: &Path) -> (Child, String) {
    let mut child = Command::new(vwc)
        .args(["up", "--no-seed", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("vwc starts");
    let stdout = child.stdout.take().expect("vwc's stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("vwc printed its URL").expect("a line");
        if let Some(rest) = line.strip_prefix("Dashboard: ") {
            break rest.trim_end_matches('/').to_string();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, base)
}

/// A token from `vwc token` for user `u1` of `org` with `roles`, signed with `data_dir`'s secret.
pub fn vwc_token(vwc: &str, data_dir: &Path, org: &str, roles: &[&str]) -> String {
    let mut command = Command::new(vwc);
    command.args(["token", "--org", org, "--sub", "u1"]);
    for role in roles {
        command.args(["--role", role]);
    }
    let out = command
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("vwc token runs");
    assert!(out.status.success(), "vwc token failed");
    String::from_utf8(out.stdout)
        .expect("a UTF-8 token")
        .trim()
        .to_string()
}

/// `GET base + path` as the holder of `token`: the JSON body of a 200, else (another status, no answer,
/// not JSON) `None` — for polling a process that may be restarting.
pub async fn get_json(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
) -> Option<serde_json::Value> {
    let request = http.get(format!("{base}{path}")).bearer_auth(token);
    match request.send().await.ok()? {
        ok if ok.status() == reqwest::StatusCode::OK => ok.json().await.ok(),
        _ => None,
    }
}

/// `POST base + path` with the JSON `body` as the holder of `token`, which must create something: asserts
/// a 201 and returns the JSON answer.
pub async fn post_json(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: &serde_json::Value,
) -> serde_json::Value {
    let response = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("request");
    let (status, _, answer) = crate::json(response).await;
    assert_eq!(status, 201, "{path}: {answer}");
    answer
}
