//! Helpers shared by the black-box tests of every crate.

pub mod aws;
pub mod ledger;
#[cfg(feature = "aws")]
pub mod mongo;
pub mod process;
pub mod webhook;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// Serves `app` on a free local port: its address, and the server's task (it runs until the runtime
/// ends or the task is aborted).
pub async fn serve(app: axum::Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("the bound address");
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("the test server runs");
    });
    (addr, server)
}

/// Polls `probe` until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// [`eventually`] for a condition that needs no waiting to check (a counter, a received list).
pub async fn until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    eventually(what, timeout, || {
        let reached = done();
        async move { reached.then_some(()) }
    })
    .await
}

/// An unauthenticated GET of `url` (what a browser, or a stranger, sends).
pub async fn get_anonymous(http: &reqwest::Client, url: String) -> reqwest::Response {
    http.get(url).send().await.expect("request")
}

/// A JSON body and status from a response.
pub async fn json(response: reqwest::Response) -> (u16, String, serde_json::Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = response.bytes().await.expect("body");
    let value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, content_type, value)
}

/// Server-Sent Events in the order they appear in `text`: (event name, data with its lines joined).
pub fn sse_events(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_string();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.strip_prefix(' ').unwrap_or(d));
                }
            }
            (event, data)
        })
        .collect()
}

/// A valid demo VIN that differs by `n`, its check digit (position 9) computed so North American
/// registration accepts it.
pub fn vin(n: u32) -> String {
    let serial = format!("{:08}", n % 100_000_000);
    let digit = vwc_contracts::vin::check_digit(&format!("1HGCM8260{serial}"))
        .expect("letters and digits transliterate");
    format!("1HGCM826{digit}{serial}")
}

/// Runs `check` on the store `open` makes of a fresh SQLite file named `file` in a temporary directory
/// (removed afterwards).
pub async fn on_fresh_sqlite<S, O, C, Fut>(file: &str, open: O, check: C)
where
    O: FnOnce(&Path) -> S,
    C: FnOnce(S) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("a temporary directory");
    check(open(&dir.path().join(file))).await;
}

/// One store conformance suite for every adapter: `conformance!("suite"; check_a, check_b, …)` in a test
/// crate that defines `async fn on_sqlite(check)` and `async fn on_mongodb(check)` (each opening a fresh
/// store and running `check` on it) makes a `sqlite::check_a` and a `mongo::check_a` test per check. The
/// MongoDB twins skip loudly without a server (see [`mongo::mongodb_uri`]) and skip, naming the reason,
/// the checks [`mongo::SURROGATE_DIFFERENCES`] lists when the server is the local surrogate.
///
/// With the adapters' constructors named, it writes `on_sqlite` and `on_mongodb` too:
/// `conformance!("suite", Store; sqlite("file.db"): SqliteX::open, mongodb("db"): MongoX::connect; checks…)`,
/// where `Store` is the `Arc<dyn Port>` every check takes, `SqliteX::open(&Path)` returns a `Result` and
/// `MongoX::connect(Client, &str)` a future of one.
///
/// The MongoDB half exists when the calling crate's `aws` feature is on (it turns on this crate's `aws`
/// feature too); the crate's default build compiles and runs the SQLite half alone.
#[macro_export]
macro_rules! conformance {
    ($suite:literal, $store:ty;
     sqlite($file:literal): $open_sqlite:path,
     mongodb($database:literal): $connect_mongodb:path;
     $($check:ident),* $(,)?) => {
        async fn on_sqlite<F, Fut>(check: F)
        where
            F: FnOnce($store) -> Fut,
            Fut: ::std::future::Future<Output = ()>,
        {
            $crate::on_fresh_sqlite(
                $file,
                |path| ::std::sync::Arc::new($open_sqlite(path).expect("opening the SQLite store")) as $store,
                check,
            )
            .await;
        }

        /// Runs `check` on a fresh MongoDB database (dropped afterwards), or skips loudly without a server.
        #[cfg(feature = "aws")]
        async fn on_mongodb<F, Fut>(check: F)
        where
            F: FnOnce($store) -> Fut,
            Fut: ::std::future::Future<Output = ()> + Send + 'static,
        {
            $crate::mongo::on_fresh_database(
                $database,
                |client, name| async move {
                    ::std::sync::Arc::new(
                        $connect_mongodb(client, &name)
                            .await
                            .expect("opening the MongoDB store and creating its indexes"),
                    ) as $store
                },
                check,
            )
            .await;
        }

        $crate::conformance!($suite; $($check),*);
    };
    ($suite:literal; $($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    super::on_sqlite(super::$check).await;
                }
            )*
        }
        #[cfg(feature = "aws")]
        mod mongo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    if $crate::mongo::skip_known_surrogate_difference($suite, stringify!($check)).await {
                        return;
                    }
                    super::on_mongodb(super::$check).await;
                }
            )*
        }
    };
}
