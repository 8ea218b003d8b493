//! The integration-event envelope (DESIGN §4.1): the same JSON is the EventBridge `detail`, the SQS body
//! after unwrapping, and what the in-process bus hands to consumers.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Largest serialised envelope any bus is asked to carry. EventBridge takes 256 KiB an entry (Source +
/// DetailType + Detail) and SQS 256 KiB a message, with EventBridge's own wrapper around the detail; 200 KiB
/// leaves room for both, and every event the services build stays far below it.
pub const MAX_ENVELOPE_BYTES: usize = 200 * 1024;

/// Every integration event type the services exchange. `contracts/routes.json` routes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum EventType {
    VehicleRegistered,
    VehicleEventRecorded,
    ValuationUpdated,
    MaintenanceStatusChanged,
    ReminderDue,
    NotificationDelivered,
    MaintenanceScheduleUpdated,
}

impl EventType {
    pub const ALL: [EventType; 7] = [
        EventType::VehicleRegistered,
        EventType::VehicleEventRecorded,
        EventType::ValuationUpdated,
        EventType::MaintenanceStatusChanged,
        EventType::ReminderDue,
        EventType::NotificationDelivered,
        EventType::MaintenanceScheduleUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::VehicleRegistered => "VehicleRegistered",
            EventType::VehicleEventRecorded => "VehicleEventRecorded",
            EventType::ValuationUpdated => "ValuationUpdated",
            EventType::MaintenanceStatusChanged => "MaintenanceStatusChanged",
            EventType::ReminderDue => "ReminderDue",
            EventType::NotificationDelivered => "NotificationDelivered",
            EventType::MaintenanceScheduleUpdated => "MaintenanceScheduleUpdated",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The envelope around every integration event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// UUID v7, so ids sort by creation time.
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub version: u32,
    /// `vwc.<service>`; also the EventBridge `Source`.
    pub source: String,
    pub org_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
    /// W3C trace context of the request (or consumer) that produced the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    pub data: serde_json::Value,
}

impl Envelope {
    /// A new envelope with a fresh v7 id, stamped now.
    pub fn new(
        event_type: EventType,
        source: &str,
        org_id: &str,
        vehicle_id: Option<&str>,
        traceparent: Option<String>,
        data: impl Serialize,
    ) -> Envelope {
        Envelope {
            id: Uuid::now_v7(),
            event_type,
            version: 1,
            source: source.to_string(),
            org_id: org_id.to_string(),
            vehicle_id: vehicle_id.map(str::to_string),
            occurred_at: Utc::now(),
            traceparent,
            data: serde_json::to_value(data).expect("event data serialises to JSON"),
        }
    }

    /// Decodes `data` as the payload type the consumer expects.
    pub fn data_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.data)
    }
}
