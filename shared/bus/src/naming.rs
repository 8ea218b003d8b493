//! The names and the event pattern of the AWS side of the bus (queues, dead-letter queues, rules), shared
//! by `bootstrap` (moto and distributed-local runs) and the Terraform inputs `vwc` prints, so both name
//! things alike. Pure: no AWS SDK, so the embedded build has it too.

use vwc_contracts::EventType;

/// The consumer's queue on bus `bus` (e.g. `vwc-edge`); the bus name keeps several buses on one account apart.
pub fn queue_name(bus: &str, consumer: &str) -> String {
    format!("{bus}-{consumer}")
}

/// Where the consumer's queue sends a message after `maxReceiveCount` failed receives.
pub fn dead_letter_queue_name(bus: &str, consumer: &str) -> String {
    format!("{bus}-{consumer}-dlq")
}

/// The rule on the bus that routes the consumer's event types to its queue.
pub fn rule_name(consumer: &str) -> String {
    format!("vwc-to-{consumer}")
}

/// The rule's pattern: any of the consumer's event types (the envelope type is the EventBridge DetailType).
pub fn event_pattern(types: &[EventType]) -> String {
    let types: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    serde_json::json!({ "detail-type": types }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_consumer() {
        assert_eq!(queue_name("vwc", "edge"), "vwc-edge");
        assert_eq!(dead_letter_queue_name("vwc", "edge"), "vwc-edge-dlq");
        assert_eq!(
            rule_name("maintenance-scheduler"),
            "vwc-to-maintenance-scheduler"
        );
    }

    #[test]
    fn the_pattern_matches_the_detail_types() {
        let pattern = event_pattern(&[EventType::ReminderDue, EventType::MaintenanceStatusChanged]);
        let value: serde_json::Value = serde_json::from_str(&pattern).unwrap();
        assert_eq!(
            value,
            serde_json::json!({ "detail-type": ["ReminderDue", "MaintenanceStatusChanged"] })
        );
    }
}
