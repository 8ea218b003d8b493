//! The whole system over HTTP, in one test binary: each module is one area (its file names it), all of them
//! sharing `common`. One binary instead of one per file: a cold test build linked 29 executables of
//! ≈ 160 MB each for these tests; a rebuild after a change to `vwc` took 122.6 s that way and 33.5 s this
//! way. `mongo_system.rs` stays a binary of its own: `scripts/test` runs it alone, last.
mod attachments;
mod authz;
#[cfg(feature = "aws")]
mod aws;
mod bad_input;
mod calendar;
mod chat;
mod cli;
mod common;
mod corrections;
mod crash;
mod deliveries;
mod delivery;
mod faults;
mod fleet;
mod fuel;
mod hardening;
mod import;
#[cfg(feature = "aws")]
mod infra_routes;
#[cfg(feature = "aws")]
mod lambda_chat;
mod lifecycle;
mod maintenance;
mod memory;
mod otlp;
mod query_params;
mod routes;
mod search;
mod tenancy;
mod timeline;
mod timeline_cache;
mod trace;
mod up;
mod valuation;
mod vin;
mod webhooks;
