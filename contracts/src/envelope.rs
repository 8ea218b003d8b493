//! The integration-event envelope (DESIGN §4.1): the same JSON is the EventBridge `detail`, the SQS body
//! after unwrapping, and what the in-process bus hands to consumers. The envelope carries a typed [`Event`];
//! on the wire it is `"type": "<EventType>", "data": {payload}` as it always was.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::corrections::{VehicleEventCorrected, VehicleEventVoided};
use crate::ids::{OrgId, VehicleId};
use crate::lifecycle::{VehicleArchived, VehicleSold, VehicleUpdated};
use crate::maintenance::{
    MaintenanceScheduleUpdated, MaintenanceStatusChanged, NotificationDelivered, ReminderDue,
};
use crate::valuation::ValuationUpdated;
use crate::{VehicleEventRecorded, VehicleRegistered};

/// Largest serialised envelope any bus is asked to carry. EventBridge takes 256 KiB an entry (Source +
/// DetailType + Detail) and SQS 256 KiB a message, with EventBridge's own wrapper around the detail; 200 KiB
/// leaves room for both, and every event the services build stays far below it.
pub const MAX_ENVELOPE_BYTES: usize = 200 * 1024;

/// The type a variant of [`Event`] keeps its payload as: the payload's own, or the one written after `as`.
macro_rules! stored {
    ($payload:ty) => {
        $payload
    };
    ($payload:ty, $stored:ty) => {
        $stored
    };
}

/// Defines [`Event`] and its [`EventType`] from one list, so the two cannot drift: a new event is one line
/// here, and every consumer's exhaustive match then fails to compile until it decides what to do with it.
///
/// A payload written `Name(Payload as Box<Payload>)` is kept boxed in its variant: those of the vehicle's
/// record (a correction carries two records, 664 bytes) made every `Event` that size, and every `Envelope`
/// 792 bytes, moved whole each time an envelope changes hands (≈ 2 % of a first maintenance sweep's CPU,
/// docs/bench.md, "Stop 55"), for events that are rare. Boxed, the largest variant is a recorded event's.
macro_rules! events {
    ($($(#[$doc:meta])* $name:ident($payload:ty $(as $stored:ty)?),)+) => {
        /// Every integration event type the services exchange. `contracts/routes.json` routes them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        pub enum EventType {
            $($name,)+
        }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$name,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$name => stringify!($name),)+
                }
            }
        }

        /// Every integration event the services publish, with its payload; adjacently tagged by type, which
        /// is the envelope's `type` and `data`.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(tag = "type", content = "data")]
        pub enum Event {
            $($(#[$doc])* $name(stored!($payload $(, $stored)?)),)+
        }

        impl Event {
            pub fn event_type(&self) -> EventType {
                match self {
                    $(Event::$name(_) => EventType::$name,)+
                }
            }

            /// Decodes `data` as the payload of `event_type`.
            pub fn decode(event_type: EventType, data: &serde_json::Value) -> Result<Event, serde_json::Error> {
                match event_type {
                    $(EventType::$name => <$payload as Deserialize>::deserialize(data).map(|p| Event::$name(p.into())),)+
                }
            }

            fn serialize_data<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $(Event::$name(payload) => payload.serialize(serializer),)+
                }
            }
        }

        $(
            impl From<$payload> for Event {
                fn from(payload: $payload) -> Event {
                    Event::$name(payload.into())
                }
            }

            impl EventPayload for $payload {
                const TYPE: EventType = EventType::$name;

                fn of(event: &Event) -> Option<&Self> {
                    match event {
                        Event::$name(payload) => Some(std::borrow::Borrow::borrow(payload)),
                        _ => None,
                    }
                }
            }
        )+
    };
}

events! {
    /// A vehicle was registered (ingestion).
    VehicleRegistered(VehicleRegistered as Box<VehicleRegistered>),
    /// A timeline event was recorded (ingestion).
    VehicleEventRecorded(VehicleEventRecorded),
    /// A valuation point of a vehicle is new or changed (valuation).
    ValuationUpdated(ValuationUpdated),
    /// One maintenance item changed status (maintenance-scheduler).
    MaintenanceStatusChanged(MaintenanceStatusChanged),
    /// A maintenance item is due soon or overdue (maintenance-scheduler).
    ReminderDue(ReminderDue),
    /// A notification reached one channel (notification).
    NotificationDelivered(NotificationDelivered),
    /// The whole maintenance item list of a vehicle, whenever an item's view changed (maintenance-scheduler).
    MaintenanceScheduleUpdated(MaintenanceScheduleUpdated),
    /// A timeline record was corrected: its new version replaces the previous one (ingestion).
    VehicleEventCorrected(VehicleEventCorrected as Box<VehicleEventCorrected>),
    /// A timeline record was voided: it no longer counts anywhere (ingestion).
    VehicleEventVoided(VehicleEventVoided as Box<VehicleEventVoided>),
    /// A vehicle's details changed (ingestion).
    VehicleUpdated(VehicleUpdated as Box<VehicleUpdated>),
    /// A vehicle was sold (ingestion).
    VehicleSold(VehicleSold as Box<VehicleSold>),
    /// A vehicle was archived (ingestion).
    VehicleArchived(VehicleArchived as Box<VehicleArchived>),
}

/// The payload type of one event type (implemented for every payload by `events!`).
pub trait EventPayload: Into<Event> {
    const TYPE: EventType;
    /// The payload when `event` is of this type.
    fn of(event: &Event) -> Option<&Self>;
}

impl EventType {
    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.iter().copied().find(|t| t.as_str() == s)
    }

    /// The envelope `version` a producer writes for this type today: 1 unless the payload changed in a way
    /// a reader of the earlier version could not decode (docs/events.md says how versions evolve).
    pub fn version(self) -> u32 {
        match self {
            EventType::MaintenanceScheduleUpdated => crate::maintenance::SCHEDULE_VERSION,
            EventType::ReminderDue => crate::maintenance::REMINDER_VERSION,
            _ => 1,
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An envelope whose `data` does not decode as the payload of its `type`: a message made by hand or by a
/// producer of another version. It is kept as it arrived, so every consumer refuses it as malformed (and the
/// bus dead-letters it) with the original data intact for `vwc dlq list|replay`.
#[derive(Debug, Clone, PartialEq)]
pub struct Undecodable {
    pub event_type: EventType,
    pub data: serde_json::Value,
    pub error: String,
}

impl std::fmt::Display for Undecodable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the data is not a {} payload: {}",
            self.event_type, self.error
        )
    }
}

impl std::error::Error for Undecodable {}

/// What an envelope carries: the event, or the data that did not decode as one.
// The event is the case that matters and is held inline; boxing it would allocate for every envelope to
// save bytes only in the rare undecodable one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Event(Event),
    Undecodable(Undecodable),
}

/// The envelope around every integration event.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// UUID v7, so ids sort by creation time.
    pub id: Uuid,
    pub version: u32,
    /// `vwc.<service>`; also the EventBridge `Source`.
    pub source: String,
    pub org_id: OrgId,
    pub vehicle_id: Option<VehicleId>,
    pub occurred_at: DateTime<Utc>,
    /// W3C trace context of the request (or consumer) that produced the event.
    pub traceparent: Option<String>,
    /// `type` and `data` on the wire.
    pub payload: Payload,
}

impl Envelope {
    /// A new envelope around `event`, with a fresh v7 id, stamped now.
    pub fn new(
        source: &str,
        org_id: &str,
        vehicle_id: Option<&str>,
        traceparent: Option<String>,
        event: impl Into<Event>,
    ) -> Envelope {
        let event = event.into();
        Envelope {
            id: Uuid::now_v7(),
            version: event.event_type().version(),
            source: source.to_string(),
            org_id: org_id.into(),
            vehicle_id: vehicle_id.map(VehicleId::from),
            occurred_at: vwc_clock::now(),
            traceparent,
            payload: Payload::Event(event),
        }
    }

    pub fn event_type(&self) -> EventType {
        match &self.payload {
            Payload::Event(event) => event.event_type(),
            Payload::Undecodable(u) => u.event_type,
        }
    }

    /// The event, or why the data is not one (a consumer refuses such an envelope as malformed).
    pub fn event(&self) -> Result<&Event, &Undecodable> {
        match &self.payload {
            Payload::Event(event) => Ok(event),
            Payload::Undecodable(u) => Err(u),
        }
    }

    /// The payload when the envelope carries an event of type `T`.
    pub fn payload<T: EventPayload>(&self) -> Option<&T> {
        self.event().ok().and_then(T::of)
    }
}

impl Serialize for Envelope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Data<'a>(&'a Envelope);
        impl Serialize for Data<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let vehicle = self.0.vehicle_id.as_deref();
                match &self.0.payload {
                    // A schedule (version 3) and a reminder (version 2) leave out the vehicle the
                    // envelope names.
                    Payload::Event(Event::MaintenanceScheduleUpdated(schedule))
                        if vehicle == Some(schedule.vehicle_id.as_str()) =>
                    {
                        schedule.serialize_in_envelope(serializer)
                    }
                    Payload::Event(Event::ReminderDue(reminder))
                        if vehicle == Some(reminder.vehicle_id.as_str()) =>
                    {
                        reminder.serialize_in_envelope(serializer)
                    }
                    Payload::Event(event) => event.serialize_data(serializer),
                    Payload::Undecodable(u) => u.data.serialize(serializer),
                }
            }
        }
        let mut s = serializer.serialize_struct("Envelope", 9)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("type", &self.event_type())?;
        s.serialize_field("version", &self.version)?;
        s.serialize_field("source", &self.source)?;
        s.serialize_field("orgId", &self.org_id)?;
        match &self.vehicle_id {
            Some(v) => s.serialize_field("vehicleId", v)?,
            None => s.skip_field("vehicleId")?,
        }
        s.serialize_field("occurredAt", &crate::time_text::Instant(&self.occurred_at))?;
        match &self.traceparent {
            Some(t) => s.serialize_field("traceparent", t)?,
            None => s.skip_field("traceparent")?,
        }
        s.serialize_field("data", &Data(self))?;
        s.end()
    }
}

/// The envelope as it travels; `data` is decoded against `type` after the rest has been read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEnvelope {
    id: Uuid,
    #[serde(rename = "type")]
    event_type: EventType,
    version: u32,
    source: String,
    org_id: OrgId,
    #[serde(default)]
    vehicle_id: Option<VehicleId>,
    occurred_at: DateTime<Utc>,
    #[serde(default)]
    traceparent: Option<String>,
    data: serde_json::Value,
}

impl<'de> Deserialize<'de> for Envelope {
    /// An unknown `type` fails here (the message is malformed); a known type whose `data` does not match
    /// becomes [`Payload::Undecodable`], which consumers refuse.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Envelope, D::Error> {
        let wire = WireEnvelope::deserialize(deserializer)?;
        let decoded = Event::decode(wire.event_type, &wire.data)
            .map_err(|e| e.to_string())
            .and_then(|mut event| {
                let vehicle = wire.vehicle_id.as_deref();
                match &mut event {
                    Event::MaintenanceScheduleUpdated(schedule) => {
                        schedule.complete_in_envelope(vehicle)?
                    }
                    Event::ReminderDue(reminder) => reminder.complete_in_envelope(vehicle)?,
                    _ => {}
                }
                Ok(event)
            });
        let payload = match decoded {
            Ok(event) => Payload::Event(event),
            Err(error) => Payload::Undecodable(Undecodable {
                event_type: wire.event_type,
                data: wire.data,
                error,
            }),
        };
        Ok(Envelope {
            id: wire.id,
            version: wire.version,
            source: wire.source,
            org_id: wire.org_id,
            vehicle_id: wire.vehicle_id,
            occurred_at: wire.occurred_at,
            traceparent: wire.traceparent,
            payload,
        })
    }
}

// The envelope's JSON Schema: the common fields and the event, tagged by `type` with its `data`.
/// The envelope around every integration event: `type` names the event and `data` is its payload.
#[derive(JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct EnvelopeSchema {
    /// UUID v7, so ids sort by creation time.
    id: Uuid,
    version: u32,
    /// `vwc.<service>`; also the EventBridge `Source`.
    source: String,
    org_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vehicle_id: Option<String>,
    occurred_at: DateTime<Utc>,
    /// W3C trace context of the request (or consumer) that produced the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    traceparent: Option<String>,
    #[serde(flatten)]
    event: Event,
}

impl JsonSchema for Envelope {
    fn schema_name() -> Cow<'static, str> {
        "Envelope".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        EnvelopeSchema::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// Envelopes change hands by value (outbox, relay, bus, consumers), so the rare large payloads are kept
    /// boxed (`events!`) and an `Event` is the size of a recorded event: 288 bytes, an envelope 416 (456 with
    /// serde_json's `preserve_order`), where they were 664 and 792. A new payload larger than a recorded event
    /// fails here: box it like the vehicle's records.
    #[test]
    fn an_event_is_no_larger_than_a_recorded_event() {
        use std::mem::size_of;
        assert!(
            size_of::<Event>() <= size_of::<crate::VehicleEventRecorded>() + 8,
            "Event {} bytes, VehicleEventRecorded {}",
            size_of::<Event>(),
            size_of::<crate::VehicleEventRecorded>()
        );
    }

    use super::*;
    use crate::maintenance::{Channel, NotificationDelivered};

    fn delivered() -> NotificationDelivered {
        NotificationDelivered {
            notification_id: "ntf_1".into(),
            reminder_id: None,
            vehicle_id: Some("veh_1".into()),
            channel: Channel::InApp,
            title: "Oil change due".into(),
            body: "Soon".into(),
            severity: None,
            delivered_at: "2026-05-01T10:00:00Z".parse().unwrap(),
            task: None,
            reminded_at: None,
        }
    }

    #[test]
    fn the_wire_shape_is_type_and_data() {
        let envelope = Envelope::new("vwc.notification", "org_1", None, None, delivered());
        let json = serde_json::to_value(&envelope).unwrap();
        assert_eq!(json["type"], "NotificationDelivered");
        assert_eq!(json["data"], serde_json::to_value(delivered()).unwrap());
        assert_eq!(json["orgId"], "org_1");
        assert!(json.get("vehicleId").is_none() && json.get("traceparent").is_none());
        assert_eq!(
            json.as_object().unwrap().len(),
            7,
            "id type version source orgId occurredAt data: {json}"
        );
        let back: Envelope = serde_json::from_value(json).unwrap();
        assert_eq!(back, envelope);
        assert_eq!(back.payload::<NotificationDelivered>(), Some(&delivered()));
        assert_eq!(back.payload::<ReminderDue>(), None);
    }

    #[test]
    fn data_that_does_not_match_its_type_is_kept_undecodable_and_round_trips() {
        let json = json!({"id": Uuid::now_v7(), "type": "VehicleEventRecorded", "version": 1,
            "source": "vwc.ingestion", "orgId": "org_1", "vehicleId": "veh_1",
            "occurredAt": "2026-05-01T10:00:00Z", "data": {"event": {"nope": 1}}});
        let envelope: Envelope = serde_json::from_value(json.clone()).unwrap();
        let err = envelope.event().unwrap_err();
        assert_eq!(err.event_type, EventType::VehicleEventRecorded);
        assert!(err.to_string().contains("VehicleEventRecorded"), "{err}");
        assert_eq!(envelope.event_type(), EventType::VehicleEventRecorded);
        assert_eq!(serde_json::to_value(&envelope).unwrap(), json);
    }

    #[test]
    fn an_unknown_event_type_is_not_an_envelope() {
        let json = json!({"id": Uuid::now_v7(), "type": "VehicleTeleported", "version": 1,
            "source": "vwc.ingestion", "orgId": "org_1", "occurredAt": "2026-05-01T10:00:00Z", "data": {}});
        let err = serde_json::from_value::<Envelope>(json).unwrap_err();
        assert!(err.to_string().contains("VehicleTeleported"), "{err}");
    }

    #[test]
    fn every_event_type_names_itself_and_parses_back() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(*t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }
}
