//! The composition root: picks adapters (SQLite or MongoDB stores; in-process or EventBridge/SQS bus),
//! wires every service, serves the HTTP API and the dashboard, and implements the `vwc` CLI.

pub mod attachments;
pub mod auth_config;
#[cfg(feature = "bench")]
pub mod bench;
pub mod cli;
pub mod cognito;
pub mod daily;
pub mod dashboard;
pub mod embedded;
pub mod infra;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod openapi;
pub mod process;
pub mod records;
pub mod records_cli;
pub mod routes;
pub mod routing;
pub mod seed;
pub mod server;
pub mod stores;
#[cfg(feature = "testing")]
pub mod testing;

pub use embedded::{EmbeddedOptions, System};

/// What an AWS-mode option (`--bus aws`, `--store mongodb`, S3, SES, SSM) answers in a `vwc` built without
/// the `aws` feature, which leaves the AWS SDK clients and the MongoDB driver out (docs/building.md).
#[cfg(not(feature = "aws"))]
pub(crate) fn built_without_aws(what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what} needs the AWS adapters, and this vwc was built without them: \
         rebuild with `cargo build --release --features aws` (docs/building.md)"
    )
}
