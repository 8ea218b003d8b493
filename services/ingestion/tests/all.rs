//! The crate's integration tests in one binary: each module is one file beside this one. One executable
//! instead of one per file: fewer links and fewer copies of the same generic code (docs/building.md,
//! "A fresh machine").

mod dealer_payload_properties;
mod import_properties;
mod injected_clock;
mod store_conformance;
mod webhook_limits;
