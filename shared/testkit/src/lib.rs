//! Helpers shared by the black-box tests of every crate.

pub mod mongo;

use std::future::Future;
use std::time::{Duration, Instant};

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

/// A valid demo VIN that differs by `n`, its check digit (position 9) computed so North American
/// registration accepts it.
pub fn vin(n: u32) -> String {
    let serial = format!("{:08}", n % 100_000_000);
    let digit = vwc_contracts::vin::check_digit(&format!("1HGCM8260{serial}"))
        .expect("letters and digits transliterate");
    format!("1HGCM826{digit}{serial}")
}

/// One store conformance suite for every adapter: `conformance!("suite"; check_a, check_b, …)` in a test
/// crate that defines `async fn on_sqlite(check)` and `async fn on_mongodb(check)` (each opening a fresh
/// store and running `check` on it) makes a `sqlite::check_a` and a `mongo::check_a` test per check. The
/// MongoDB twins skip loudly without a server (see [`mongo::mongodb_uri`]) and skip, naming the reason,
/// the checks [`mongo::SURROGATE_DIFFERENCES`] lists when the server is the local surrogate.
#[macro_export]
macro_rules! conformance {
    ($suite:literal; $($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    super::on_sqlite(super::$check).await;
                }
            )*
        }
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
