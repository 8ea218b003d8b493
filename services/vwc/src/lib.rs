//! The composition root: picks adapters (SQLite or MongoDB stores; in-process or EventBridge/SQS bus),
//! wires every service, serves the HTTP API and the dashboard, and implements the `vwc` CLI.

pub mod attachments;
pub mod auth_config;
#[cfg(feature = "bench")]
pub mod bench;
pub mod cli;
pub mod cognito;
pub mod dashboard;
pub mod embedded;
pub mod infra;
pub mod lambda;
pub mod openapi;
pub mod records;
pub mod records_cli;
pub mod routes;
pub mod routing;
pub mod seed;
pub mod stores;
#[cfg(feature = "testing")]
pub mod testing;

pub use embedded::{EmbeddedOptions, System};
