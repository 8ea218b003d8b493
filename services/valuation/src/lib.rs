//! The valuation service: what each vehicle is worth over time and why. `model` is the pure domain (no
//! I/O); `store` is the port with its SQLite and MongoDB adapters; `valuer`, `consumer`, `http` and
//! `revalue` are the use cases.

pub mod model;

/// The consumer name in `contracts/routes.json`.
pub const CONSUMER: &str = "valuation";
/// `source` of every envelope this service publishes.
pub const SOURCE: &str = "vwc.valuation";
