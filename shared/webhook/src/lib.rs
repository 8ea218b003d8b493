//! Standard Webhooks (<https://www.standardwebhooks.com>) in both directions: the `whsec_` secret,
//! signing outbound messages and verifying inbound ones. Pure functions, no I/O.

mod secret;
mod signature;

pub use secret::{SecretError, WebhookSecret};
pub use signature::{
    HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, TOLERANCE_SECS, VerifyError, WebhookHeaders,
    sign, verify,
};
