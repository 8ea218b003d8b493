//! Dealer integrations: registration with a Standard Webhooks secret (rotation keeps the old one for 24 h),
//! and signed webhooks whose payloads become timeline events — or wait as unmatched dealer records until
//! their VIN is registered.

pub mod http;
pub mod mongo;
pub mod payload;
pub mod sqlite;
pub mod store;

pub use payload::{DealerLine, DealerPayload, DealerPayloadType};
pub use store::{
    DealerRow, DealerStore, EventBuilder, IncomingWebhook, StoredSecret, WebhookOutcome,
};

/// How long a rotated-out secret keeps verifying.
pub const ROTATION_GRACE_HOURS: i64 = 24;

/// Start-up reconciliation: adopts dealer records whose VIN was registered while adoption failed.
pub async fn adopt_waiting_dealer_records(
    dealers: &dyn DealerStore,
) -> vwc_store::StoreResult<usize> {
    let mut total = 0;
    for vehicle in dealers.vehicles_with_unmatched_records().await? {
        total += dealers
            .adopt_unmatched(&vehicle, http::event_builder(None))
            .await?;
    }
    Ok(total)
}
