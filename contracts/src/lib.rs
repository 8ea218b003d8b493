//! The contracts every service shares: the event envelope, the vehicle timeline model with its validation,
//! the routing table and the generated JSON Schemas.

pub mod catalogue;
pub mod corrections;
pub mod currency;
pub mod envelope;
pub mod examples;
pub mod fuel;
pub mod ids;
pub mod json;
pub mod lifecycle;
pub mod maintenance;
pub mod routes;
pub mod schemas;
pub mod spreadsheet;
pub mod text;
pub mod time_text;
pub mod validation;
pub mod valuation;
pub mod vehicle;
pub mod vin;
pub mod wire;

pub use envelope::{
    Envelope, Event, EventPayload, EventType, MAX_ENVELOPE_BYTES, Payload, Undecodable,
};
pub use ids::{DealerId, EventId, OrgId, VehicleId};
pub use routes::Routes;
pub use validation::FieldError;
pub use vehicle::*;
