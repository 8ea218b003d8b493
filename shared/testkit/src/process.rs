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

/// Stops `child` as Ctrl-C stops `vwc up` (SIGTERM, which it handles the same way: it drains the bus,
/// flushes its outboxes and closes its databases) and waits up to `within`: how it exited, `None` when it is
/// still running then (the caller decides whether to kill it). A process the signal ended before its handler
/// was in place exits unsuccessfully (killed by the signal), with nothing flushed or closed: a caller that
/// needs the clean stop checks `success()`.
pub fn stop_gracefully(
    child: &mut Child,
    within: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("waiting for the child process") {
            return Some(status);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
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

/// A running process's HTTP API at `base`, called as the holder of one token.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    pub fn new(base: &str, token: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: base.to_string(),
            token: token.to_string(),
        }
    }

    /// The same token against `base` (the process restarted on another port).
    pub fn at(&self, base: &str) -> Api {
        Api {
            base: base.to_string(),
            ..self.clone()
        }
    }

    /// A request to `base + path`, the token not yet attached (for requests that carry another credential).
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// `GET path`: the JSON body of a 200, else (another status, no answer, not JSON) `None` — for polling a
    /// process that may be restarting.
    pub async fn get(&self, path: &str) -> Option<serde_json::Value> {
        let request = self
            .request(reqwest::Method::GET, path)
            .bearer_auth(&self.token);
        match request.send().await.ok()? {
            ok if ok.status() == reqwest::StatusCode::OK => ok.json().await.ok(),
            _ => None,
        }
    }

    /// [`Api::get`]s `path` until it answers 200 with a body `pick` takes something from, for at most
    /// `timeout`; that thing. `what` names it in the timeout panic.
    pub async fn poll<T>(
        &self,
        path: &str,
        what: &str,
        timeout: std::time::Duration,
        pick: impl Fn(serde_json::Value) -> Option<T>,
    ) -> T {
        crate::eventually(what, timeout, || async { pick(self.get(path).await?) }).await
    }

    /// `POST path` with the JSON `body`, which must create something: asserts a 201 and returns the JSON
    /// answer.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        let (status, answer) = self.send(reqwest::Method::POST, path, body).await;
        assert_eq!(status, 201, "{path}: {answer}");
        answer
    }

    /// `method path` with the JSON `body`: the status and the JSON answer.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let response = self
            .request(method, path)
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .expect("request");
        let (status, _, answer) = crate::json(response).await;
        (status, answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process that handles SIGTERM and exits 0 stopped cleanly; one the signal ended did not, and the
    /// status says so (the difference the bench's restart row depends on).
    #[test]
    fn a_stop_says_whether_the_process_handled_the_signal() {
        let start = |script: &str| {
            let child = Command::new("sh").args(["-c", script]).spawn().unwrap();
            // Let the shell install its trap before the signal comes.
            std::thread::sleep(std::time::Duration::from_millis(200));
            child
        };
        let mut handled = start("trap 'exit 0' TERM; while :; do sleep 0.05; done");
        let status = stop_gracefully(&mut handled, std::time::Duration::from_secs(10));
        assert!(status.is_some_and(|s| s.success()), "{status:?}");
        let mut ended = start("exec sleep 30");
        let status = stop_gracefully(&mut ended, std::time::Duration::from_secs(10));
        assert!(status.is_some_and(|s| !s.success()), "{status:?}");
    }
}
