//! `contracts/routes.json`: which service consumes which event types. The in-process bus, the AWS
//! bootstrap (rules and queues) and Terraform all read this one file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::EventType;

/// The committed routing table, compiled in so every binary agrees with the file.
pub const ROUTES_JSON: &str = include_str!("../routes.json");

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Routes {
    /// consumer service name → event types it consumes
    pub consumers: BTreeMap<String, Vec<EventType>>,
}

impl Routes {
    pub fn load() -> Routes {
        serde_json::from_str(ROUTES_JSON).expect("contracts/routes.json is valid")
    }

    /// The consumers (service names) of one event type, in a stable order.
    pub fn consumers_of(&self, event_type: EventType) -> Vec<&str> {
        self.consumers
            .iter()
            .filter(|(_, types)| types.contains(&event_type))
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_a_consumer() {
        // Which consumer takes which type is checked against the consumers themselves in
        // `services/vwc/tests/all/routes.rs`; here: no event is published into the void.
        let routes = Routes::load();
        for t in EventType::ALL {
            assert!(!routes.consumers_of(*t).is_empty(), "{t} has no consumer");
        }
    }
}
