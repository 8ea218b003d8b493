//! `contracts/routes.json` against the consumers: it is rendered from what each consumer declares it
//! handles, and each consumer's exhaustive match refuses exactly the event types it does not declare, so a
//! route to a consumer that does not handle an event fails here instead of being acknowledged silently.
//! `VWC_BLESS=1 cargo test -p vwc --test all routes::` rewrites routes.json from the declarations.

use std::path::PathBuf;

use vwc::routing::{ROUTES_FILE, declared_routes, disagreements, render};
use vwc::testing::TestApp;
use vwc_bus::HandleError;
use vwc_contracts::{Envelope, EventType, Routes};
use vwc_store::vehicle_ledger::KeptStates;

#[test]
fn routes_json_is_rendered_from_what_the_consumers_declare() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(ROUTES_FILE);
    let declared = declared_routes();
    let expected = render(&declared);
    if std::env::var("VWC_BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let committed = Routes::load();
    assert_eq!(
        disagreements(&committed, &declared),
        Vec::<String>::new(),
        "{ROUTES_FILE} disagrees with the consumers"
    );
    assert!(
        std::fs::read_to_string(&path).unwrap() == expected,
        "{ROUTES_FILE} is not rendered from the declarations: run \
         `VWC_BLESS=1 cargo test -p vwc --test all routes::` (then scripts/gen-infra-routes) and commit"
    );
}

#[test]
fn a_route_to_a_consumer_that_does_not_handle_the_event_is_a_disagreement() {
    let declared = declared_routes();
    let mut routes = declared.clone();
    routes
        .consumers
        .get_mut("edge")
        .unwrap()
        .push(EventType::ReminderDue);
    routes
        .consumers
        .get_mut("valuation")
        .unwrap()
        .retain(|t| *t != EventType::VehicleEventRecorded);
    routes
        .consumers
        .insert("fleet".into(), vec![EventType::VehicleRegistered]);
    assert_eq!(
        disagreements(&routes, &declared),
        vec![
            "routes name \"fleet\", which is no consumer".to_string(),
            "ReminderDue is routed to edge, which does not handle it".to_string(),
            "valuation handles VehicleEventRecorded, which is not routed to it".to_string(),
        ]
    );
}

/// The running consumers (as the composition root builds them) declare what the static declarations say,
/// and their matches agree: every event type they do not declare is refused as `NotConsumed`, none they
/// declare is.
#[tokio::test]
async fn every_consumer_refuses_exactly_the_event_types_it_does_not_declare() {
    let app = TestApp::spawn().await;
    let declared = declared_routes();
    let consumers = app.system().stores.consumers(
        &vwc_clock::system(),
        KeptStates::Recent,
        std::time::Duration::ZERO,
    );
    assert_eq!(consumers.len(), declared.consumers.len());
    for (name, (consumer, _)) in consumers {
        assert_eq!(consumer.name(), name);
        assert_eq!(consumer.consumes(), declared.consumers[name].as_slice());
        for t in EventType::ALL {
            let envelope = Envelope::new(
                "vwc.test",
                "org_routes",
                Some("veh_1"),
                None,
                vwc_contracts::examples::event(*t),
            );
            let outcome = consumer.handle(&envelope).await;
            let refused =
                matches!(outcome, Err(HandleError::NotConsumed(refused)) if refused == *t);
            assert_eq!(
                refused,
                !consumer.consumes().contains(t),
                "{name} given {t}: {outcome:?}"
            );
        }
    }
    app.stop().await;
}
