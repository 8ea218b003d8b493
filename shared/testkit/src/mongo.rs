//! MongoDB for the store conformance suites: a fresh, uniquely named database per check when
//! `VWC_TEST_MONGODB_URI` is set, dropped afterwards even when the check panics; a loud skip otherwise.

use std::future::Future;
use std::io::Write;
use std::sync::Once;

pub const MONGODB_URI: &str = "VWC_TEST_MONGODB_URI";

/// The server to test against, or `None` after saying so — once per test binary and past the harness's
/// output capture, so a green run cannot hide that MongoDB was not tested.
pub fn mongodb_uri() -> Option<String> {
    let uri = std::env::var(MONGODB_URI).ok().filter(|u| !u.is_empty());
    if uri.is_none() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "MONGODB CONFORMANCE SKIPPED: {MONGODB_URI} is not set — only the SQLite adapter was tested"
            );
        });
    }
    uri
}

/// Opens a store with `open(client, database_name)` on a fresh database named after `service`, runs
/// `check` on it, then drops the database; a failing check still fails the test.
pub async fn on_fresh_database<S, O, OpenFut, C, CheckFut>(service: &str, open: O, check: C)
where
    O: FnOnce(mongodb::Client, String) -> OpenFut,
    OpenFut: Future<Output = S>,
    C: FnOnce(S) -> CheckFut,
    CheckFut: Future<Output = ()> + Send + 'static,
{
    let Some(uri) = mongodb_uri() else {
        return;
    };
    let client = mongodb::Client::with_uri_str(&uri)
        .await
        .expect("connecting to VWC_TEST_MONGODB_URI");
    let name = format!("vwc_test_{service}_{}", uuid::Uuid::now_v7().simple());
    let store = open(client.clone(), name.clone()).await;
    let outcome = tokio::spawn(check(store)).await;
    if let Err(e) = client.database(&name).drop().await {
        eprintln!("could not drop the test database {name}: {e}");
    }
    if let Err(failure) = outcome {
        std::panic::resume_unwind(failure.into_panic());
    }
}
