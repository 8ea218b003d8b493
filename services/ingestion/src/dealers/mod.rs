//! Dealer integrations: registration with a Standard Webhooks secret (rotation keeps the old one for 24 h),
//! and signed webhooks whose payloads become timeline events — or wait as unmatched dealer records until
//! their VIN is registered.

pub mod http;
#[cfg(feature = "aws")]
pub mod mongo;
pub mod payload;
pub mod sqlite;
pub mod store;

pub use payload::{DealerLine, DealerPayload, DealerPayloadType};
pub use store::{
    DealerRow, DealerStore, EventBuilder, IncomingWebhook, SecretRotation, StoredSecret,
    WebhookOutcome,
};

/// How long a rotated-out secret keeps verifying.
pub const ROTATION_GRACE_HOURS: i64 = 24;

/// Start-up reconciliation; it lives with the service's other use cases.
pub use crate::service::adopt_waiting_dealer_records;
