//! The ingestion routes read the time from the clock the composition root injects: under a fixed
//! `ManualClock`, a vehicle registered and an event recorded over HTTP carry that instant in the answer,
//! the stored row and the envelope waiting in the outbox. Spoken to over HTTP on a real port.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use vwc_auth::{Hs256Keys, Role, Secret};
use vwc_clock::{Clock, ManualClock};
use vwc_contracts::{EventId, OrgId, VehicleId};
use vwc_ingestion::http::IngestionState;
use vwc_ingestion::{Ingestion, IngestionStore, SqliteIngestionStore};
use vwc_store::Outbox;

fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn post(client: &reqwest::Client, url: String, token: &str, body: Value) -> (u16, Value) {
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn registering_and_recording_over_http_carry_the_injected_clocks_instant() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteIngestionStore::open(&dir.path().join("ingestion.db")).unwrap());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap(),
    ));
    let keys = Hs256Keys::new(&Secret::from_bytes([9u8; 32]).unwrap());
    let (token, _) = keys.issue("usr_1", "org_a", &[Role::Owner], chrono::Duration::hours(1));
    let router = vwc_http::router(
        vwc_ingestion::http::routes(vwc_http::openapi::Docs::Skipped),
        IngestionState {
            ingestion: Ingestion::new(store.clone(), clock.clone()),
            verifier: Arc::new(keys),
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = reqwest::Client::new();
    let org = OrgId::from("org_a");

    let registered_at = clock.now();
    let (status, vehicle) = post(
        &client,
        format!("{base}/v1/vehicles"),
        &token,
        json!({"vin": vwc_testkit::vin(4), "year": 2020, "make": "Honda", "model": "Accord"}),
    )
    .await;
    assert_eq!(status, 201, "{vehicle}");
    assert_eq!(
        instant(vehicle["registeredAt"].as_str().unwrap()),
        registered_at
    );
    let vehicle_id = VehicleId::from(vehicle["id"].as_str().unwrap());
    let vehicle = vwc_store::VehicleRef::new(org.clone(), vehicle_id.clone());
    let row = store.vehicle(&vehicle).await.unwrap().unwrap();
    assert_eq!(row.registered_at, registered_at);

    clock.advance(chrono::Duration::days(3));
    let recorded_at = clock.now();
    let (status, recorded) = post(
        &client,
        format!("{base}/v1/vehicles/{vehicle_id}/events"),
        &token,
        json!({"kind": "maintenance", "occurredAt": "2024-05-30T08:00:00Z", "odometer": 21_000,
            "title": "Oil change", "details": {"tasks": ["oil_change"]}}),
    )
    .await;
    assert_eq!(status, 201, "{recorded}");
    let event = &recorded["event"];
    assert_eq!(instant(event["recordedAt"].as_str().unwrap()), recorded_at);
    let event_id = EventId::from(event["id"].as_str().unwrap());
    let row = store.event(&org, &event_id).await.unwrap().unwrap();
    assert_eq!(row.recorded_at, recorded_at);

    // The outbox holds both announcements, each stamped with the instant of its change.
    let pending = store.pending(10).await.unwrap();
    let stamps: Vec<DateTime<Utc>> = pending.iter().map(|(_, e)| e.occurred_at).collect();
    assert_eq!(stamps, [registered_at, recorded_at]);
}
