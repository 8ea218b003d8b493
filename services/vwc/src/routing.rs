//! The routing table as the consumers declare it: each consumer says which event types it handles (its
//! exhaustive match refuses the rest), and `contracts/routes.json` is rendered from those declarations and
//! checked against them (`tests/all/routes.rs`; `VWC_BLESS=1` rewrites it).

use vwc_chat_historian::ChatConsumer;
use vwc_contracts::{EventType, Routes};
use vwc_edge::EdgeConsumer;
use vwc_maintenance_scheduler::consumer::SchedulerConsumer;
use vwc_notification::NotificationConsumer;
use vwc_valuation::consumer::ValuationConsumer;

/// Where `contracts/routes.json` lives, relative to the repository root.
pub const ROUTES_FILE: &str = "contracts/routes.json";

/// Every consuming service and the event types its consumer handles.
pub fn declared() -> [(&'static str, &'static [EventType]); 5] {
    [
        (vwc_edge::CONSUMER, EdgeConsumer::CONSUMES),
        (
            vwc_maintenance_scheduler::CONSUMER,
            SchedulerConsumer::CONSUMES,
        ),
        (vwc_notification::CONSUMER, NotificationConsumer::CONSUMES),
        (vwc_valuation::CONSUMER, ValuationConsumer::CONSUMES),
        (vwc_chat_historian::CONSUMER, ChatConsumer::CONSUMES),
    ]
}

/// The routing table the declarations make.
pub fn declared_routes() -> Routes {
    Routes {
        consumers: declared()
            .into_iter()
            .map(|(name, types)| (name.to_string(), types.to_vec()))
            .collect(),
    }
}

/// `contracts/routes.json` as it must read.
pub fn render(routes: &Routes) -> String {
    let mut text = serde_json::to_string_pretty(routes).expect("routes serialise");
    text.push('\n');
    text
}

/// Every way `routes` disagrees with `declared`, one sentence each, checked for every event type: a type
/// routed to a consumer that does not handle it (it would be dead-lettered there), a type a consumer
/// handles that is not routed to it (it would never arrive), a consumer routes name that is not declared.
pub fn disagreements(routes: &Routes, declared: &Routes) -> Vec<String> {
    let mut found = Vec::new();
    for name in routes.consumers.keys() {
        if !declared.consumers.contains_key(name) {
            found.push(format!("routes name {name:?}, which is no consumer"));
        }
    }
    for (name, handles) in &declared.consumers {
        let routed = routes.consumers.get(name).map(Vec::as_slice).unwrap_or(&[]);
        for t in EventType::ALL {
            match (routed.contains(t), handles.contains(t)) {
                (true, false) => {
                    found.push(format!("{t} is routed to {name}, which does not handle it"))
                }
                (false, true) => {
                    found.push(format!("{name} handles {t}, which is not routed to it"))
                }
                _ => {}
            }
        }
    }
    found
}
