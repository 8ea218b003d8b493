//! What Terraform (`infra/`) needs from `contracts/routes.json`, named by the same functions `vwc aws
//! bootstrap` uses, so the two cannot disagree: per consumer its queue, dead-letter queue, rule and event
//! pattern. Committed as `infra/generated/routes.auto.tfvars.json`; `scripts/gen-infra-routes` rewrites it
//! and a test fails when it drifts.

use vwc_bus::naming::{dead_letter_queue_name, event_pattern, queue_name, rule_name};
use vwc_contracts::Routes;

/// Stands for the bus name in the generated names; Terraform substitutes its `bus_name` variable.
pub const BUS_PLACEHOLDER: &str = "{bus}";

/// Receives before a message moves to its dead-letter queue; the default of `vwc aws bootstrap` too.
pub const MAX_RECEIVE_COUNT: u32 = 5;

/// Where the generated file lives, relative to the repository root.
pub const GENERATED_ROUTES: &str = "infra/generated/routes.auto.tfvars.json";

/// The tfvars document: `consumers` (one object per consuming service) and `max_receive_count`.
pub fn terraform_routes(routes: &Routes) -> serde_json::Value {
    let consumers: serde_json::Map<String, serde_json::Value> = routes
        .consumers
        .iter()
        .map(|(consumer, types)| {
            let value = serde_json::json!({
                "queue": queue_name(BUS_PLACEHOLDER, consumer),
                "dead_letter_queue": dead_letter_queue_name(BUS_PLACEHOLDER, consumer),
                "rule": rule_name(consumer),
                "detail_types": types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
                "event_pattern": event_pattern(types),
            });
            (consumer.clone(), value)
        })
        .collect();
    serde_json::json!({
        "consumers": consumers,
        "max_receive_count": MAX_RECEIVE_COUNT,
    })
}

/// The file's text: sorted keys, as every committed JSON artefact.
pub fn render_terraform_routes(routes: &Routes) -> String {
    vwc_contracts::schemas::render(&terraform_routes(routes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_bus_placeholder_terraform_replaces() {
        let doc = terraform_routes(&Routes::load());
        let edge = &doc["consumers"]["edge"];
        assert_eq!(edge["queue"], "{bus}-edge");
        assert_eq!(edge["dead_letter_queue"], "{bus}-edge-dlq");
        assert_eq!(edge["rule"], "vwc-to-edge");
    }
}
