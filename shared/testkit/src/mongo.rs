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

/// Checks that real MongoDB passes and the local surrogate (SecantusDB, started by `scripts/test` when no
/// real server is given) does not, with why. This list is the one place such differences are recorded; each
/// has its smallest reproduction in `docs/mongodb-testing.md`. On a real server (the GitHub workflow's
/// MongoDB 7 replica set) every check runs.
pub const SURROGATE_DIFFERENCES: &[(&str, &str)] = &[
    // `occurred_at $gte` on the index (org_id, vehicle_id, occurred_at desc, _id desc).
    (
        "edge::the_timeline_filters_by_an_inclusive_time_range",
        INCLUSIVE_COMPOUND_RANGE,
    ),
    // `next_attempt_at $lte now` on the index (status, next_attempt_at, _id), claimed at exactly t0.
    (
        "notification::due_deliveries_are_leased_to_one_worker_at_a_time",
        INCLUSIVE_COMPOUND_RANGE,
    ),
    (
        "notification::settling_applies_each_outcome_with_its_attempt_and_event",
        INCLUSIVE_COMPOUND_RANGE,
    ),
    (
        "notification::final_failures_leave_nothing_pending",
        INCLUSIVE_COMPOUND_RANGE,
    ),
];

const INCLUSIVE_COMPOUND_RANGE: &str = "SecantusDB 0.7.0b3 ends an index scan before the keys equal to an inclusive bound when other fields follow the ranged one in a compound index (`$lte` on an ascending field, `$gte` on a descending one), so documents at exactly the bound go missing; MongoDB includes them";

/// Whether the server behind `client` is the SecantusDB surrogate: its `buildInfo` carries
/// `secantusVersion`, which no MongoDB release has.
pub async fn is_surrogate(client: &mongodb::Client) -> bool {
    client
        .database("admin")
        .run_command(mongodb::bson::doc! { "buildInfo": 1 })
        .await
        .map(|info| info.contains_key("secantusVersion"))
        .unwrap_or(false)
}

/// For a MongoDB twin named `suite::check`: `true` — after saying so past the output capture — when the
/// check is a known surrogate difference and `VWC_TEST_MONGODB_URI` points at the surrogate, so the caller
/// returns without running it. `false` otherwise (including when no server is configured: the usual loud
/// skip applies then).
pub async fn skip_known_surrogate_difference(suite: &str, check: &str) -> bool {
    let name = format!("{suite}::{check}");
    let Some((_, why)) = SURROGATE_DIFFERENCES.iter().find(|(n, _)| *n == name) else {
        return false;
    };
    let Some(uri) = std::env::var(MONGODB_URI).ok().filter(|u| !u.is_empty()) else {
        return false;
    };
    let Ok(client) = mongodb::Client::with_uri_str(&uri).await else {
        return false;
    };
    if !is_surrogate(&client).await {
        return false;
    }
    let _ = writeln!(
        std::io::stderr(),
        "KNOWN SURROGATE DIFFERENCE, not run on SecantusDB (runs on real MongoDB): {name}: {why}"
    );
    true
}

#[cfg(test)]
mod tests {
    use super::SURROGATE_DIFFERENCES;

    #[test]
    fn every_surrogate_difference_names_a_suite_and_check_and_says_why() {
        for (name, why) in SURROGATE_DIFFERENCES {
            let (suite, check) = name.split_once("::").expect("suite::check");
            assert!(!suite.is_empty() && !check.is_empty(), "{name}");
            assert!(why.len() > 40, "{name}: say why");
        }
    }
}
