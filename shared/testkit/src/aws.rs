//! The moto server for the AWS adapter tests: its endpoint when `VWC_TEST_AWS_ENDPOINT` is set, a loud
//! skip otherwise — or a failure when `VWC_REQUIRE_AWS_TESTS=1` says the AWS tests must run.

use std::io::Write;

pub const AWS_ENDPOINT: &str = "VWC_TEST_AWS_ENDPOINT";
pub const REQUIRE_AWS_TESTS: &str = "VWC_REQUIRE_AWS_TESTS";

/// The moto endpoint, or `None` after saying — past the harness's output capture — that `what` was not
/// tested. Panics when `VWC_REQUIRE_AWS_TESTS=1` and no endpoint is set.
pub fn aws_endpoint(what: &str) -> Option<String> {
    if let Some(endpoint) = std::env::var(AWS_ENDPOINT).ok().filter(|e| !e.is_empty()) {
        return Some(endpoint);
    }
    if std::env::var(REQUIRE_AWS_TESTS).as_deref() == Ok("1") {
        panic!(
            "{REQUIRE_AWS_TESTS}=1 but {AWS_ENDPOINT} is not set (start moto with scripts/lib/moto.sh)"
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED ({what}): {AWS_ENDPOINT} is not set (scripts/test starts moto and sets it)"
    );
    None
}
