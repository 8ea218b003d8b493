//! The crate's integration tests in one binary: each module is one file beside this one. One executable
//! instead of one per file: fewer links and fewer copies of the same generic code (docs/building.md,
//! "A fresh machine").

#[cfg(feature = "aws")]
mod aws_moto;
#[cfg(feature = "aws")]
mod common;
mod delivery_batch;
#[cfg(feature = "aws")]
mod mongo_transaction;
mod outbox_in_flight;
mod relay;
