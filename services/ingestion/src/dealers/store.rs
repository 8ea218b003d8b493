//! The dealer store port (owned by ingestion, beside vehicles and events).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use vwc_contracts::{
    DealerId, Envelope, FieldError, NewVehicleEvent, OrgId, Vehicle, VehicleEvent,
};
use vwc_store::StoreResult;
use vwc_webhook::WebhookSecret;

#[derive(Debug, Clone)]
pub struct StoredSecret {
    pub secret: WebhookSecret,
    pub created_at: DateTime<Utc>,
    /// Set when the secret was rotated out; it verifies until then.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A dealer's new webhook secret, issued `at`: the dealer's older secrets still valid then keep verifying
/// until `old_expires_at` (an earlier expiry stands).
#[derive(Debug)]
pub struct SecretRotation {
    pub dealer_id: DealerId,
    pub secret: WebhookSecret,
    pub at: DateTime<Utc>,
    pub old_expires_at: DateTime<Utc>,
}

/// A registered dealer integration. `Debug` never shows the secrets (WebhookSecret redacts itself).
#[derive(Debug, Clone)]
pub struct DealerRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub secrets: Vec<StoredSecret>,
}

impl DealerRow {
    /// Secrets that verify at `now`.
    pub fn valid_secrets(&self, now: DateTime<Utc>) -> Vec<&WebhookSecret> {
        self.secrets
            .iter()
            .filter(|s| s.expires_at.is_none_or(|e| e > now))
            .map(|s| &s.secret)
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    Recorded {
        record_id: String,
        event_id: String,
    },
    Unmatched {
        record_id: String,
    },
    /// The `webhook-id` was seen before: the first delivery's answer.
    Duplicate {
        record_id: String,
        event_id: Option<String>,
    },
    /// The VIN matched a vehicle the record is not valid for (dated after its sale): nothing was kept.
    Refused(Vec<FieldError>),
}

/// One verified webhook delivery, as the store keeps it.
#[derive(Debug, Clone)]
pub struct IncomingWebhook {
    /// The dealer whose secret signed it (replays are told apart per dealer).
    pub dealer_id: String,
    /// The dealer's organisation: only its vehicles may match the VIN.
    pub org_id: String,
    /// `webhook-id`: replays of it are duplicates.
    pub webhook_id: String,
    pub vin: String,
    pub payload_type: String,
    /// The body exactly as received, kept for audit.
    pub raw_payload: String,
    /// The event the payload maps to, checked when it arrived; it waits here until a vehicle matches.
    pub template: NewVehicleEvent,
    /// When the delivery arrived, by the service's clock.
    pub received_at: DateTime<Utc>,
}

/// Turns a record's event template (built from the payload when it arrived) into the event (and its
/// envelope) for `vehicle`; the third argument is the dealer record id. The field errors when the template
/// is not a valid event for that vehicle (one dated after its sale). Runs inside the store's write
/// transaction, so matching a record and writing its event are one atomic step.
pub type EventBuilder = Arc<
    dyn Fn(&Vehicle, NewVehicleEvent, &str) -> Result<(VehicleEvent, Envelope), Vec<FieldError>>
        + Send
        + Sync,
>;

/// A waiting record's template as the adapters keep it: the `NewVehicleEvent` JSON (the column or field
/// `template`). Only a record that waits for its vehicle (`unmatched`) keeps it — adoption reads nothing
/// else; a record whose event was recorded keeps an empty text (the event itself is kept, and the payload
/// as received), which spares each matched webhook a second serialisation of its event and its bytes in
/// every write of it (docs/bench.md, stop 50).
pub fn waiting_template(template: &NewVehicleEvent) -> StoreResult<String> {
    Ok(serde_json::to_string(template)?)
}

/// A kept template read back; `None` when it no longer reads as an event (the record is then rejected,
/// as one that is not valid for its vehicle).
pub fn template_from_text(text: &str) -> Option<NewVehicleEvent> {
    serde_json::from_str(text).ok()
}

#[async_trait]
pub trait DealerStore: Send + Sync {
    async fn insert_dealer(&self, dealer: &DealerRow) -> StoreResult<()>;
    /// Any organisation's dealer (the webhook path names the dealer; its signature proves the caller).
    async fn dealer(&self, dealer_id: &DealerId) -> StoreResult<Option<DealerRow>>;
    /// Adds the rotation's secret and expires the older ones. `false` if no such dealer in `org_id`.
    async fn rotate_secret(&self, org_id: &OrgId, rotation: &SecretRotation) -> StoreResult<bool>;
    /// In one transaction: answer a replayed `webhook_id` as a duplicate; keep the raw payload as a dealer
    /// record; when the VIN matches a vehicle of the dealer's organisation, write the event built by
    /// `build` with its outbox envelope — or, when `build` refuses it for that vehicle, keep nothing and
    /// answer `Refused`.
    async fn receive_webhook(
        &self,
        incoming: &IncomingWebhook,
        build: EventBuilder,
    ) -> StoreResult<WebhookOutcome>;
    /// Turns the unmatched dealer records for this vehicle's VIN into its events. Returns how many.
    async fn adopt_unmatched(&self, vehicle: &Vehicle, build: EventBuilder) -> StoreResult<usize>;
    /// Vehicles that have unmatched records waiting for them (start-up reconciliation).
    async fn vehicles_with_unmatched_records(&self) -> StoreResult<Vec<Vehicle>>;
}
