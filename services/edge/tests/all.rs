//! The crate's integration tests in one binary: each module is one file beside this one. One executable
//! instead of one per file: fewer links and fewer copies of the same generic code (docs/building.md,
//! "A fresh machine").

mod calendar_keys;
mod cursor_properties;
#[cfg(feature = "aws")]
mod mongo_fill;
mod schedule_versions;
mod store_conformance;
