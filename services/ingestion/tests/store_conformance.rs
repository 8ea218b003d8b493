//! The ingestion store conformance suite: each check is written once and runs against a fresh SQLite file,
//! always, and against a fresh MongoDB database when `VWC_TEST_MONGODB_URI` is set.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use vwc_clock::{Clock, ManualClock};
use vwc_contracts::corrections::{EventRevision, RevisionChange};
use vwc_contracts::ids::new_id;
use vwc_contracts::{DealerId, EventId, OrgId, VehicleId};
use vwc_contracts::{
    Envelope, EventKind, EventSource, EventType, NewVehicle, NewVehicleEvent, Vehicle,
    VehicleEvent, VehicleEventRecorded, VehicleRegistered, Vendor,
};
use vwc_ingestion::corrections::RevisionsOf;
use vwc_ingestion::dealers::{
    DealerRow, DealerStore, IncomingWebhook, SecretRotation, StoredSecret, WebhookOutcome,
    adopt_waiting_dealer_records,
};
use vwc_ingestion::service::dealer_event_builder;
use vwc_ingestion::store::IdempotencyKey;
use vwc_ingestion::{Ingestion, IngestionDb, InsertEventOutcome, SOURCE, SqliteIngestionStore};
use vwc_store::{StoreError, StoreResult, VehicleRef, WithOutbox};
use vwc_testkit::vin;
use vwc_webhook::WebhookSecret;

/// Both ports of the ingestion database, as one adapter object implements them.
type Store = Arc<dyn IngestionDb>;

/// The dealer port of the store under test: the same object, seen through its other trait.
fn dealer_port(store: &Store) -> Arc<dyn DealerStore> {
    store.clone()
}

// ---------------------------------------------------------------------------------------------------
// Fixtures

fn vehicle(org: &str, n: u32) -> Vehicle {
    Vehicle {
        id: new_id("veh").into(),
        org_id: org.to_string().into(),
        vin: vin(n),
        nickname: Some(format!("car {n}")),
        registered_at: vwc_clock::now(),
        ..vwc_contracts::examples::vehicle()
    }
}

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, day, 9, 30, 0).unwrap()
}

fn event(v: &Vehicle, day: u32) -> VehicleEvent {
    VehicleEvent {
        id: new_id("evt").into(),
        vehicle_id: v.id.clone(),
        org_id: v.org_id.clone(),
        kind: EventKind::Maintenance,
        occurred_at: at(day),
        recorded_at: vwc_clock::now(),
        odometer: Some(10_000 + u64::from(day)),
        cost_cents: Some(8_999),
        currency: Some("USD".into()),
        title: "Oil change".into(),
        notes: None,
        vendor: None,
        source: EventSource::User,
        details: serde_json::json!({ "tasks": ["oil_change"] }),
    }
}

fn registered(v: &Vehicle) -> Envelope {
    let event = VehicleRegistered { vehicle: v.clone() };
    Envelope::new(SOURCE, &v.org_id, Some(&v.id), None, event)
}

fn recorded(e: &VehicleEvent) -> Envelope {
    let event = VehicleEventRecorded { event: e.clone() };
    Envelope::new(SOURCE, &e.org_id, Some(&e.vehicle_id), None, event)
}

/// The event a `VehicleEventRecorded` envelope announces (panics on any other envelope).
fn recorded_in(envelope: &Envelope) -> &VehicleEvent {
    &envelope
        .payload::<VehicleEventRecorded>()
        .expect("a VehicleEventRecorded envelope")
        .event
}

fn key(key: &str, request_hash: &str) -> IdempotencyKey {
    IdempotencyKey {
        key: key.into(),
        request_hash: request_hash.into(),
    }
}

/// Records `e` with its envelope, under the idempotency key if one is given.
async fn insert_recorded(
    store: &Store,
    e: &VehicleEvent,
    key: Option<&IdempotencyKey>,
) -> InsertEventOutcome {
    let envelope = recorded(e);
    let event = WithOutbox::new(e, std::slice::from_ref(&envelope));
    store.insert_event(event, key).await.unwrap()
}

/// Records `e` with its envelope under the idempotency key `k`, first used for the request `hash`.
async fn record_keyed(store: &Store, e: &VehicleEvent, k: &str, hash: &str) -> InsertEventOutcome {
    insert_recorded(store, e, Some(&key(k, hash))).await
}

/// Registers `v` with its envelope.
async fn insert_registered(store: &Store, v: &Vehicle) -> StoreResult<()> {
    let envelope = registered(v);
    (store.insert_vehicle(WithOutbox::new(v, std::slice::from_ref(&envelope)))).await
}

/// Registers a vehicle and empties the outbox, so a check sees only the rows it causes.
async fn registered_vehicle(store: &Store, org: &str, n: u32) -> Vehicle {
    let v = vehicle(org, n);
    insert_registered(store, &v).await.unwrap();
    drain_outbox(store).await;
    v
}

/// The vehicle as organisation `org` sees it (another organisation's is `None`).
async fn vehicle_in(store: &Store, org: &str, vehicle_id: &VehicleId) -> Option<Vehicle> {
    let vehicle = VehicleRef::new(org, vehicle_id.clone());
    store.vehicle(&vehicle).await.unwrap()
}

/// The event as organisation `org` sees it.
async fn event_in(store: &Store, org: &str, event_id: &EventId) -> Option<VehicleEvent> {
    store.event(&OrgId::from(org), event_id).await.unwrap()
}

/// How many events `vehicle_id` has as organisation `org` sees them.
async fn events_in(store: &Store, org: &str, vehicle_id: &VehicleId) -> u64 {
    let vehicle = VehicleRef::new(org, vehicle_id.clone());
    store.count_events(&vehicle).await.unwrap()
}

/// Adopts the records waiting for `vehicle`'s VIN, as registration does; how many.
async fn adopt(dealers: &Arc<dyn DealerStore>, vehicle: &Vehicle) -> usize {
    dealers
        .adopt_unmatched(vehicle, dealer_event_builder(vwc_clock::system(), None))
        .await
        .unwrap()
}

async fn drain_outbox(store: &Store) {
    let pending = store.pending(1000).await.unwrap();
    let ids: Vec<_> = pending.into_iter().map(|(id, _)| id).collect();
    store.mark_sent(&ids).await.unwrap();
}

/// The envelopes the outbox would publish next, oldest first, at most `limit`.
async fn oldest_pending(store: &Store, limit: usize) -> Vec<Envelope> {
    store
        .pending(limit)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .collect()
}

/// Every envelope the outbox would publish, oldest first.
async fn pending_envelopes(store: &Store) -> Vec<Envelope> {
    oldest_pending(store, 1000).await
}

/// A dealer of `org` with one secret, created on day 1.
fn dealer(org: &str) -> (DealerRow, WebhookSecret) {
    let secret = WebhookSecret::generate();
    let row = DealerRow {
        id: new_id("dlr"),
        org_id: org.to_string(),
        name: "Main St Auto".into(),
        created_at: at(1),
        secrets: vec![StoredSecret {
            secret: secret.clone(),
            created_at: at(1),
            expires_at: None,
        }],
    };
    (row, secret)
}

async fn registered_dealer(dealers: &Arc<dyn DealerStore>, org: &str) -> DealerRow {
    let (row, _) = dealer(org);
    dealers.insert_dealer(&row).await.unwrap();
    row
}

/// Rotates `dealer`'s secret as organisation `org`; whether the dealer was found there.
async fn rotate(
    dealers: &Arc<dyn DealerStore>,
    org: &OrgId,
    dealer: &DealerRow,
    secret: &WebhookSecret,
    now: DateTime<Utc>,
    old_expires_at: DateTime<Utc>,
) -> bool {
    dealers
        .rotate_secret(
            org,
            &SecretRotation {
                dealer_id: DealerId::from(&dealer.id),
                secret: secret.clone(),
                at: now,
                old_expires_at,
            },
        )
        .await
        .unwrap()
}

/// `dealer` read back from the store.
async fn dealer_as_stored(dealers: &Arc<dyn DealerStore>, dealer: &DealerRow) -> DealerRow {
    dealers
        .dealer(&DealerId::from(&dealer.id))
        .await
        .unwrap()
        .expect("the dealer is stored")
}

/// A verified service record for `vin`, as the webhook route hands it to the store.
fn service_record(dealer: &DealerRow, webhook_id: &str, vin: &str, day: u32) -> IncomingWebhook {
    let odometer = 20_000 + u64::from(day);
    let template = NewVehicleEvent {
        kind: EventKind::Maintenance,
        occurred_at: at(day),
        odometer: Some(odometer),
        cost_cents: Some(8_999),
        currency: Some("USD".into()),
        title: Some("Oil and filter change".into()),
        notes: None,
        vendor: Some(Vendor {
            name: dealer.name.clone(),
            dealer_id: Some(dealer.id.clone()),
        }),
        details: serde_json::json!({ "tasks": ["oil_change"] }),
    };
    let raw = serde_json::json!({
        "type": "service_record",
        "vin": vin,
        "occurredAt": at(day),
        "odometer": odometer,
        "totalCents": 8_999,
        "lines": [{ "description": "Oil and filter", "task": "oil_change", "amountCents": 8_999 }],
    });
    IncomingWebhook {
        dealer_id: dealer.id.clone(),
        org_id: dealer.org_id.clone(),
        webhook_id: webhook_id.into(),
        vin: vin.into(),
        payload_type: "service_record".into(),
        raw_payload: raw.to_string(),
        template,
        received_at: vwc_clock::now(),
    }
}

async fn receive(
    dealers: &Arc<dyn DealerStore>,
    dealer: &DealerRow,
    webhook_id: &str,
    vin: &str,
    day: u32,
) -> WebhookOutcome {
    dealers
        .receive_webhook(
            &service_record(dealer, webhook_id, vin, day),
            dealer_event_builder(vwc_clock::system(), None),
        )
        .await
        .unwrap()
}

fn unmatched_record(outcome: WebhookOutcome) -> String {
    match outcome {
        WebhookOutcome::Unmatched { record_id } => record_id,
        other => panic!("expected an unmatched record, got {other:?}"),
    }
}

/// The secrets of `dealer` that verify at `now`, as their text, sorted.
fn valid_at(dealer: &DealerRow, now: DateTime<Utc>) -> Vec<String> {
    let mut valid: Vec<String> = dealer
        .valid_secrets(now)
        .into_iter()
        .map(|s| s.expose().to_string())
        .collect();
    valid.sort();
    valid
}

fn sorted(secrets: &[&WebhookSecret]) -> Vec<String> {
    let mut texts: Vec<String> = secrets.iter().map(|s| s.expose().to_string()).collect();
    texts.sort();
    texts
}

fn expiry_of(dealer: &DealerRow, secret: &WebhookSecret) -> Option<DateTime<Utc>> {
    dealer
        .secrets
        .iter()
        .find(|s| s.secret.expose() == secret.expose())
        .unwrap_or_else(|| panic!("{} has no such secret", dealer.id))
        .expires_at
}

// ---------------------------------------------------------------------------------------------------
// Checks

async fn a_registered_vehicle_reads_back_unchanged(store: Store) {
    let v = vehicle("org_a", 1);
    insert_registered(&store, &v).await.unwrap();
    assert_eq!(vehicle_in(&store, "org_a", &v.id).await, Some(v));
    assert_eq!(
        vehicle_in(&store, "org_a", &VehicleId::from("veh_missing")).await,
        None
    );
}

async fn registering_a_vehicle_writes_its_envelope_to_the_outbox(store: Store) {
    let v = vehicle("org_a", 1);
    let envelope = registered(&v);
    store
        .insert_vehicle(WithOutbox::new(&v, std::slice::from_ref(&envelope)))
        .await
        .unwrap();
    assert_eq!(pending_envelopes(&store).await, vec![envelope]);
}

async fn registering_the_same_vin_twice_in_an_org_conflicts_and_writes_nothing(store: Store) {
    let first = registered_vehicle(&store, "org_a", 7).await;
    let again = vehicle("org_a", 7);
    let result = insert_registered(&store, &again).await;
    assert!(
        matches!(result, Err(StoreError::Conflict(_))),
        "expected a conflict, got {result:?}"
    );
    assert_eq!(vehicle_in(&store, "org_a", &again.id).await, None);
    assert_eq!(vehicle_in(&store, "org_a", &first.id).await, Some(first));
    assert!(pending_envelopes(&store).await.is_empty());
}

async fn the_same_vin_may_be_registered_in_another_org(store: Store) {
    let a = registered_vehicle(&store, "org_a", 7).await;
    let b = vehicle("org_b", 7);
    insert_registered(&store, &b).await.unwrap();
    assert_eq!(vehicle_in(&store, "org_b", &b.id).await, Some(b));
    assert_eq!(vehicle_in(&store, "org_a", &a.id).await, Some(a));
}

async fn another_org_sees_neither_the_vehicle_nor_its_events(store: Store) {
    let v = registered_vehicle(&store, "org_a", 1).await;
    let e = event(&v, 1);
    insert_recorded(&store, &e, None).await;
    assert_eq!(vehicle_in(&store, "org_b", &v.id).await, None);
    assert_eq!(event_in(&store, "org_b", &e.id).await, None);
    assert_eq!(events_in(&store, "org_b", &v.id).await, 0);
    assert_eq!(event_in(&store, "org_a", &e.id).await, Some(e));
}

async fn recording_an_event_writes_exactly_one_envelope_until_it_is_marked_sent(store: Store) {
    let v = registered_vehicle(&store, "org_a", 1).await;
    let e = event(&v, 2);
    let envelope = recorded(&e);
    let outcome = store
        .insert_event(WithOutbox::new(&e, std::slice::from_ref(&envelope)), None)
        .await
        .unwrap();
    assert_eq!(outcome, InsertEventOutcome::Created);
    assert_eq!(event_in(&store, "org_a", &e.id).await, Some(e));

    let pending = store.pending(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].1, envelope);
    // Not yet sent: still pending on a second look.
    assert_eq!(store.pending(10).await.unwrap(), pending);

    store.mark_sent(&[pending[0].0.clone()]).await.unwrap();
    assert!(store.pending(10).await.unwrap().is_empty());
}

async fn pending_envelopes_come_oldest_first_and_respect_the_limit(store: Store) {
    let v = registered_vehicle(&store, "org_a", 1).await;
    let mut written = Vec::new();
    for day in 1..=4 {
        let e = event(&v, day);
        let envelope = recorded(&e);
        store
            .insert_event(WithOutbox::new(&e, std::slice::from_ref(&envelope)), None)
            .await
            .unwrap();
        written.push(envelope);
    }
    assert_eq!(oldest_pending(&store, 2).await, written[..2]);
    assert_eq!(pending_envelopes(&store).await, written);
}

async fn an_idempotency_key_replays_the_first_event_without_a_second_effect(store: Store) {
    let v = registered_vehicle(&store, "org_a", 1).await;
    let first = event(&v, 3);
    let outcome = record_keyed(&store, &first, "k-1", "hash-1").await;
    assert_eq!(outcome, InsertEventOutcome::Created);

    // A retry of the same request builds a new event (new id) under the same key.
    let retry = event(&v, 3);
    let outcome = record_keyed(&store, &retry, "k-1", "hash-1").await;
    assert_eq!(
        outcome,
        InsertEventOutcome::Replayed(Box::new(first.clone()))
    );

    assert_eq!(events_in(&store, "org_a", &v.id).await, 1);
    assert_eq!(event_in(&store, "org_a", &retry.id).await, None);
    let pending = pending_envelopes(&store).await;
    assert_eq!(pending.len(), 1, "the replay wrote a second outbox row");
    assert_eq!(recorded_in(&pending[0]).id, first.id);
}

async fn an_idempotency_key_reused_for_another_request_is_refused(store: Store) {
    let v = registered_vehicle(&store, "org_a", 1).await;
    let first = event(&v, 3);
    record_keyed(&store, &first, "k-1", "hash-1").await;
    drain_outbox(&store).await;

    let other = event(&v, 4);
    let outcome = record_keyed(&store, &other, "k-1", "hash-2").await;
    assert_eq!(outcome, InsertEventOutcome::KeyReused);
    assert_eq!(event_in(&store, "org_a", &other.id).await, None);
    assert_eq!(events_in(&store, "org_a", &v.id).await, 1);
    assert!(pending_envelopes(&store).await.is_empty());
}

async fn idempotency_keys_are_scoped_to_the_org(store: Store) {
    let a = registered_vehicle(&store, "org_a", 1).await;
    let b = registered_vehicle(&store, "org_b", 1).await;
    let in_a = event(&a, 3);
    let in_b = event(&b, 3);
    let k = key("shared-key", "hash-1");
    let outcome = insert_recorded(&store, &in_a, Some(&k)).await;
    assert_eq!(outcome, InsertEventOutcome::Created);
    let outcome = insert_recorded(&store, &in_b, Some(&k)).await;
    assert_eq!(outcome, InsertEventOutcome::Created);
    assert_eq!(event_in(&store, "org_b", &in_b.id).await, Some(in_b));
}

async fn events_are_counted_per_vehicle(store: Store) {
    let one = registered_vehicle(&store, "org_a", 1).await;
    let two = registered_vehicle(&store, "org_a", 2).await;
    assert_eq!(events_in(&store, "org_a", &one.id).await, 0);
    for day in 1..=3 {
        let e = event(&one, day);
        insert_recorded(&store, &e, None).await;
    }
    let e = event(&two, 1);
    insert_recorded(&store, &e, None).await;
    assert_eq!(events_in(&store, "org_a", &one.id).await, 3);
    assert_eq!(events_in(&store, "org_a", &two.id).await, 1);
    assert_eq!(
        events_in(&store, "org_a", &VehicleId::from("veh_missing")).await,
        0
    );
}

async fn a_ready_store_answers_ping(store: Store) {
    store.ping().await.unwrap();
}

async fn a_dealer_reads_back_with_its_secret_and_its_debug_never_shows_it(store: Store) {
    let dealers = dealer_port(&store);
    let (row, secret) = dealer("org_a");
    dealers.insert_dealer(&row).await.unwrap();

    let read = dealer_as_stored(&dealers, &row).await;
    assert_eq!(read.id, row.id);
    assert_eq!(read.org_id, "org_a");
    assert_eq!(read.name, row.name);
    assert_eq!(read.created_at, at(1));
    assert_eq!(read.secrets.len(), 1);
    assert_eq!(read.secrets[0].secret.expose(), secret.expose());
    assert_eq!(read.secrets[0].created_at, at(1));
    assert_eq!(read.secrets[0].expires_at, None);

    let shown = format!("{read:?}");
    let key = &secret.expose()["whsec_".len()..];
    assert!(
        !shown.contains(key),
        "the Debug of a dealer row shows its secret"
    );
    assert!(
        dealers
            .dealer(&DealerId::from("dlr_missing"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_rotated_out_secret_verifies_until_its_expiry_and_the_new_one_at_once(store: Store) {
    let dealers = dealer_port(&store);
    let (row, old) = dealer("org_a");
    dealers.insert_dealer(&row).await.unwrap();

    let new = WebhookSecret::generate();
    let (now, until) = (at(2), at(3));
    assert!(rotate(&dealers, &OrgId::from("org_a"), &row, &new, now, until).await);
    let read = dealer_as_stored(&dealers, &row).await;
    assert_eq!(
        read.secrets[0].secret.expose(),
        new.expose(),
        "newest first"
    );
    assert_eq!(valid_at(&read, now), sorted(&[&old, &new]));
    assert_eq!(
        valid_at(&read, until - Duration::seconds(1)),
        sorted(&[&old, &new])
    );
    assert_eq!(valid_at(&read, until), sorted(&[&new]));

    // Rotating again within the grace period: only the secret it replaces keeps a grace period; the
    // one before it stops verifying at once (two rotations revoke a leaked secret).
    let newer = WebhookSecret::generate();
    let again = now + Duration::hours(1);
    assert!(rotate(&dealers, &OrgId::from("org_a"), &row, &newer, again, at(4)).await);
    let read = dealer_as_stored(&dealers, &row).await;
    assert_eq!(expiry_of(&read, &old), Some(again));
    assert_eq!(expiry_of(&read, &new), Some(at(4)));
    assert_eq!(expiry_of(&read, &newer), None);
    assert_eq!(valid_at(&read, again), sorted(&[&new, &newer]));
    assert_eq!(
        valid_at(&read, again - Duration::seconds(1)),
        sorted(&[&old, &new, &newer])
    );

    // An expiry already past stays where it was.
    let newest = WebhookSecret::generate();
    assert!(rotate(&dealers, &OrgId::from("org_a"), &row, &newest, at(5), at(6)).await);
    let read = dealer_as_stored(&dealers, &row).await;
    assert_eq!(expiry_of(&read, &old), Some(again));
    assert_eq!(expiry_of(&read, &new), Some(at(4)));
    assert_eq!(expiry_of(&read, &newer), Some(at(6)));
    assert_eq!(valid_at(&read, at(5)), sorted(&[&newer, &newest]));
}

async fn another_org_cannot_rotate_a_dealers_secret(store: Store) {
    let dealers = dealer_port(&store);
    let (row, secret) = dealer("org_a");
    dealers.insert_dealer(&row).await.unwrap();

    let new = WebhookSecret::generate();
    let rotated = rotate(&dealers, &OrgId::from("org_b"), &row, &new, at(2), at(3)).await;
    assert!(!rotated);
    let missing = dealers
        .rotate_secret(
            &OrgId::from("org_a"),
            &SecretRotation {
                dealer_id: DealerId::from("dlr_missing"),
                secret: new.clone(),
                at: at(2),
                old_expires_at: at(3),
            },
        )
        .await
        .unwrap();
    assert!(!missing);
    let read = dealer_as_stored(&dealers, &row).await;
    assert_eq!(read.secrets.len(), 1);
    assert_eq!(expiry_of(&read, &secret), None);
}

async fn a_webhook_for_a_registered_vin_records_one_event_and_one_envelope(store: Store) {
    let dealers = dealer_port(&store);
    let v = registered_vehicle(&store, "org_a", 1).await;
    let d = registered_dealer(&dealers, "org_a").await;

    let outcome = receive(&dealers, &d, "msg_1", &v.vin, 2).await;
    let WebhookOutcome::Recorded { event_id, .. } = &outcome else {
        panic!("expected a recorded event, got {outcome:?}");
    };
    let event = event_in(&store, "org_a", &EventId::from(event_id))
        .await
        .expect("the event");
    assert_eq!(event.vehicle_id, v.id);
    assert_eq!(event.source, EventSource::Dealer);
    assert_eq!(event.occurred_at, at(2));
    assert_eq!(events_in(&store, "org_a", &v.id).await, 1);

    let pending = pending_envelopes(&store).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].event_type(), EventType::VehicleEventRecorded);
    assert_eq!(pending[0].vehicle_id.as_deref(), Some(v.id.as_str()));
    assert_eq!(recorded_in(&pending[0]).id, event_id.as_str());
}

async fn a_replayed_webhook_id_answers_the_first_outcome_and_writes_nothing(store: Store) {
    let dealers = dealer_port(&store);
    let v = registered_vehicle(&store, "org_a", 1).await;
    let d = registered_dealer(&dealers, "org_a").await;
    let WebhookOutcome::Recorded {
        record_id,
        event_id,
    } = receive(&dealers, &d, "msg_1", &v.vin, 2).await
    else {
        panic!("the first delivery was not recorded");
    };
    drain_outbox(&store).await;

    // The webhook id alone decides: a replay with another body is still the same delivery.
    let again = receive(&dealers, &d, "msg_1", &v.vin, 5).await;
    assert_eq!(
        again,
        WebhookOutcome::Duplicate {
            record_id,
            event_id: Some(event_id),
        }
    );
    assert_eq!(events_in(&store, "org_a", &v.id).await, 1);
    assert!(pending_envelopes(&store).await.is_empty());
}

async fn a_webhook_for_an_unknown_vin_is_kept_unmatched_without_an_event(store: Store) {
    let dealers = dealer_port(&store);
    let d = registered_dealer(&dealers, "org_a").await;
    // The same VIN in another organisation is not the dealer's vehicle.
    let elsewhere = registered_vehicle(&store, "org_b", 9).await;

    let record_id = unmatched_record(receive(&dealers, &d, "msg_1", &vin(9), 2).await);
    assert_eq!(events_in(&store, "org_b", &elsewhere.id).await, 0);
    assert!(pending_envelopes(&store).await.is_empty());

    let again = receive(&dealers, &d, "msg_1", &vin(9), 2).await;
    assert_eq!(
        again,
        WebhookOutcome::Duplicate {
            record_id,
            event_id: None,
        }
    );
    assert!(pending_envelopes(&store).await.is_empty());
}

async fn adopting_turns_every_waiting_record_into_an_event_once(store: Store) {
    let dealers = dealer_port(&store);
    let d = registered_dealer(&dealers, "org_a").await;
    let first = unmatched_record(receive(&dealers, &d, "msg_1", &vin(3), 2).await);
    unmatched_record(receive(&dealers, &d, "msg_2", &vin(3), 4).await);
    let v = registered_vehicle(&store, "org_a", 3).await;

    let adopted = adopt(&dealers, &v).await;
    assert_eq!(adopted, 2);
    assert_eq!(events_in(&store, "org_a", &v.id).await, 2);
    let pending = pending_envelopes(&store).await;
    assert_eq!(pending.len(), 2);
    for envelope in &pending {
        assert_eq!(envelope.event_type(), EventType::VehicleEventRecorded);
        assert_eq!(envelope.vehicle_id.as_deref(), Some(v.id.as_str()));
    }

    let again = adopt(&dealers, &v).await;
    assert_eq!(again, 0);
    assert_eq!(events_in(&store, "org_a", &v.id).await, 2);
    assert_eq!(pending_envelopes(&store).await, pending);

    // A replay of an adopted delivery now answers with its event.
    let WebhookOutcome::Duplicate {
        record_id,
        event_id: Some(event_id),
    } = receive(&dealers, &d, "msg_1", &vin(3), 2).await
    else {
        panic!("a replay of an adopted record is not a duplicate with its event");
    };
    assert_eq!(record_id, first);
    let event = event_in(&store, "org_a", &EventId::from(&event_id))
        .await
        .unwrap();
    assert_eq!(event.occurred_at, at(2));
}

async fn adoption_leaves_another_orgs_records_of_the_same_vin_alone(store: Store) {
    let dealers = dealer_port(&store);
    let theirs = registered_dealer(&dealers, "org_b").await;
    unmatched_record(receive(&dealers, &theirs, "msg_1", &vin(5), 2).await);

    let ours = registered_vehicle(&store, "org_a", 5).await;
    let adopted = adopt(&dealers, &ours).await;
    assert_eq!(adopted, 0);
    assert_eq!(events_in(&store, "org_a", &ours.id).await, 0);
    assert!(pending_envelopes(&store).await.is_empty());

    let their_vehicle = registered_vehicle(&store, "org_b", 5).await;
    let adopted = adopt(&dealers, &their_vehicle).await;
    assert_eq!(adopted, 1);
    assert_eq!(events_in(&store, "org_b", &their_vehicle.id).await, 1);
}

async fn only_vehicles_with_waiting_records_are_listed_for_adoption(store: Store) {
    let dealers = dealer_port(&store);
    let dealer_a = registered_dealer(&dealers, "org_a").await;
    let dealer_b = registered_dealer(&dealers, "org_b").await;
    // Records that arrive before their vehicle is registered wait for it.
    unmatched_record(receive(&dealers, &dealer_a, "a-1", &vin(1), 2).await);
    unmatched_record(receive(&dealers, &dealer_a, "a-2", &vin(1), 3).await);
    unmatched_record(receive(&dealers, &dealer_b, "b-1", &vin(2), 2).await);
    unmatched_record(receive(&dealers, &dealer_a, "a-6", &vin(6), 2).await);
    // Never registered: waits for no vehicle.
    unmatched_record(receive(&dealers, &dealer_a, "a-8", &vin(8), 2).await);

    let waiting_in_a = registered_vehicle(&store, "org_a", 1).await;
    let waiting_in_b = registered_vehicle(&store, "org_b", 2).await;
    // The same VINs in the other organisations: the records are not theirs.
    registered_vehicle(&store, "org_b", 1).await;
    registered_vehicle(&store, "org_a", 2).await;
    // Its record matched on arrival.
    let matched = registered_vehicle(&store, "org_a", 4).await;
    let outcome = receive(&dealers, &dealer_a, "a-4", &matched.vin, 2).await;
    assert!(matches!(outcome, WebhookOutcome::Recorded { .. }));
    // Its record was adopted already.
    let adopted = registered_vehicle(&store, "org_a", 6).await;
    let n = adopt(&dealers, &adopted).await;
    assert_eq!(n, 1);

    let mut listed = dealers.vehicles_with_unmatched_records().await.unwrap();
    listed.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected = vec![waiting_in_a, waiting_in_b];
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(listed, expected);

    // Start-up reconciliation adopts exactly those records; then nothing waits.
    let reconciled = adopt_waiting_dealer_records(dealers.as_ref(), &vwc_clock::system())
        .await
        .unwrap();
    assert_eq!(reconciled, 3);
    assert!(
        dealers
            .vehicles_with_unmatched_records()
            .await
            .unwrap()
            .is_empty()
    );
}

/// Registers a 2020 Honda Accord with `vin` in `org` through the service, as `POST /v1/vehicles` does.
async fn register_through(ingestion: &Ingestion, org: &str, vin: &str) -> Vehicle {
    let new: NewVehicle = serde_json::from_value(serde_json::json!({
        "vin": vin, "year": 2020, "make": "Honda", "model": "Accord",
    }))
    .unwrap();
    ingestion.register_vehicle(org, new, None).await.unwrap()
}

/// Registration adopts in the service layer (`Ingestion::register_vehicle`), through the same path as the
/// start-up reconciliation, which then finds nothing left.
async fn registering_through_the_service_adopts_the_records_waiting_for_its_vin(store: Store) {
    let dealers = dealer_port(&store);
    let d = registered_dealer(&dealers, "org_a").await;
    unmatched_record(receive(&dealers, &d, "msg_1", &vin(7), 2).await);
    unmatched_record(receive(&dealers, &d, "msg_2", &vin(7), 3).await);
    let ingestion = Ingestion::new(store.clone(), vwc_clock::system());
    let v = register_through(&ingestion, "org_a", &vin(7)).await;

    assert_eq!(events_in(&store, "org_a", &v.id).await, 2);
    let published: Vec<EventType> = pending_envelopes(&store)
        .await
        .iter()
        .map(Envelope::event_type)
        .collect();
    assert_eq!(
        published,
        [
            EventType::VehicleRegistered,
            EventType::VehicleEventRecorded,
            EventType::VehicleEventRecorded
        ]
    );
    assert_eq!(ingestion.adopt_waiting_dealer_records().await.unwrap(), 0);
    let still_waiting = dealers.vehicles_with_unmatched_records().await.unwrap();
    assert_eq!(still_waiting, Vec::<Vehicle>::new());
}

/// Every instant the service writes comes from the clock it was given, not the wall clock: the
/// registration, the dealer record it adopts, a recorded event and the archive carry the clock's time in
/// the stored rows and in the envelopes published with them.
async fn the_service_stamps_rows_and_envelopes_with_its_injected_clock(store: Store) {
    let dealers = dealer_port(&store);
    let d = registered_dealer(&dealers, "org_a").await;
    unmatched_record(receive(&dealers, &d, "msg_1", &vin(8), 2).await);
    drain_outbox(&store).await;
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap(),
    ));
    let ingestion = Ingestion::new(store.clone(), clock.clone());

    // Registration, and the dealer record it adopts.
    let registered_at = clock.now();
    let v = register_through(&ingestion, "org_a", &vin(8)).await;
    assert_eq!(v.registered_at, registered_at);
    let stored = vehicle_in(&store, "org_a", &v.id).await.unwrap();
    assert_eq!(stored.registered_at, registered_at);
    let published = pending_envelopes(&store).await;
    let stamps: Vec<_> = published.iter().map(|e| e.occurred_at).collect();
    assert_eq!(stamps, [registered_at, registered_at]);
    let announced = published[0].payload::<VehicleRegistered>().unwrap();
    assert_eq!(announced.vehicle.registered_at, registered_at);
    let adopted = recorded_in(&published[1]);
    assert_eq!(adopted.recorded_at, registered_at);
    let adopted_row = event_in(&store, "org_a", &adopted.id).await.unwrap();
    assert_eq!(adopted_row.recorded_at, registered_at);
    drain_outbox(&store).await;

    // An event the user records a day later (the same maintenance, entered by hand).
    clock.advance(Duration::hours(26));
    let recorded_at = clock.now();
    let template = service_record(&d, "msg_unused", &v.vin, 5).template;
    let recorded = ingestion
        .record_event(&v, template, EventSource::User, None, None)
        .await
        .unwrap();
    assert_eq!(recorded.event.recorded_at, recorded_at);
    let row = event_in(&store, "org_a", &recorded.event.id).await.unwrap();
    assert_eq!(row.recorded_at, recorded_at);
    let published = pending_envelopes(&store).await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].occurred_at, recorded_at);
    assert_eq!(recorded_in(&published[0]).recorded_at, recorded_at);
    drain_outbox(&store).await;

    // The lifecycle: archiving a week later.
    clock.advance(Duration::days(7));
    let archived_at = clock.now();
    let archived = ingestion.archive_vehicle(&stored, None).await.unwrap();
    assert_eq!(archived.archived_at, Some(archived_at));
    let row = vehicle_in(&store, "org_a", &v.id).await.unwrap();
    assert_eq!(row.archived_at, Some(archived_at));
    let published = pending_envelopes(&store).await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].occurred_at, archived_at);
}

// ---------------------------------------------------------------------------------------------------
// Corrections, voids and the lifecycle (the `RevisionStore` port)

fn revision(e: &VehicleEvent, n: u32, change: RevisionChange) -> EventRevision {
    let mut event = e.clone();
    event.cost_cents = Some(7_000 + u64::from(n));
    EventRevision {
        revision: n,
        change,
        at: vwc_clock::now(),
        by: Some("usr_1".into()),
        reason: Some(format!("revision {n}")),
        changed: vec!["costCents".into()],
        event,
    }
}

async fn revisions_append_in_order_with_their_envelope_and_never_twice(store: Store) {
    let v = registered_vehicle(&store, "org_a", 1).await;
    let e = event(&v, 1);
    insert_recorded(&store, &e, None).await;
    drain_outbox(&store).await;
    let second = revision(&e, 2, RevisionChange::Corrected);
    let envelope = recorded(&second.event);
    store
        .append_revision(WithOutbox::new(&second, std::slice::from_ref(&envelope)))
        .await
        .unwrap();
    assert_eq!(pending_envelopes(&store).await, [envelope]);
    // The same revision number again: a concurrent change won; nothing written.
    let clash = revision(&e, 2, RevisionChange::Voided);
    let err = store
        .append_revision(WithOutbox::new(&clash, &[recorded(&clash.event)]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(pending_envelopes(&store).await.len(), 1);
    let third = revision(&e, 3, RevisionChange::Voided);
    store
        .append_revision(WithOutbox::new(&third, &[]))
        .await
        .unwrap();
    let read = store
        .revisions(RevisionsOf::Event(&v.org_id, &e.id))
        .await
        .unwrap();
    assert_eq!(read, [second.clone(), third.clone()]);
    // The record itself is never rewritten.
    assert_eq!(
        store.event(&v.org_id, &e.id).await.unwrap(),
        Some(e.clone())
    );
    // Another organisation sees none of it.
    let other = OrgId::from("org_b");
    let seen_by_other = (
        store
            .revisions(RevisionsOf::Event(&other, &e.id))
            .await
            .unwrap()
            .len(),
        store
            .revisions(RevisionsOf::Vehicle(&VehicleRef::new(
                other.clone(),
                v.id.clone(),
            )))
            .await
            .unwrap()
            .len(),
        (store.vehicle_events(&VehicleRef::new(other.clone(), v.id.clone())))
            .await
            .unwrap()
            .len(),
    );
    assert_eq!(seen_by_other, (0, 0, 0));
}

async fn a_vehicles_events_and_revisions_are_listed_together(store: Store) {
    let v = registered_vehicle(&store, "org_a", 1).await;
    let other = registered_vehicle(&store, "org_a", 2).await;
    let (late, early, elsewhere) = (event(&v, 9), event(&v, 2), event(&other, 3));
    for e in [&late, &early, &elsewhere] {
        store
            .insert_event(WithOutbox::new(e, &[]), None)
            .await
            .unwrap();
    }
    let ids: Vec<EventId> = store
        .vehicle_events(&VehicleRef::of(&v))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, [early.id.clone(), late.id.clone()]);
    let r = revision(&late, 2, RevisionChange::Corrected);
    store
        .append_revision(WithOutbox::new(&r, &[]))
        .await
        .unwrap();
    store
        .append_revision(WithOutbox::new(
            &revision(&elsewhere, 2, RevisionChange::Voided),
            &[],
        ))
        .await
        .unwrap();
    assert_eq!(
        store
            .revisions(RevisionsOf::Vehicle(&VehicleRef::of(&v)))
            .await
            .unwrap(),
        [r]
    );
}

async fn a_vehicle_is_replaced_only_while_it_reads_as_expected(store: Store) {
    let v = registered_vehicle(&store, "org_a", 1).await;
    let sold = Vehicle {
        plate: Some("7ABC123".into()),
        status: vwc_contracts::lifecycle::VehicleStatus::Sold,
        ..v.clone()
    };
    let envelope = registered(&sold);
    store
        .replace_vehicle(
            &v,
            WithOutbox::new(&sold, std::slice::from_ref(&envelope)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        store.vehicle(&VehicleRef::of(&v)).await.unwrap(),
        Some(sold.clone())
    );
    assert_eq!(pending_envelopes(&store).await, [envelope]);
    // From a stale read: refused, nothing written.
    let archived = Vehicle {
        status: vwc_contracts::lifecycle::VehicleStatus::Archived,
        ..v.clone()
    };
    let err = store
        .replace_vehicle(
            &v,
            WithOutbox::new(&archived, &[registered(&archived)]),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(
        store.vehicle(&VehicleRef::of(&v)).await.unwrap(),
        Some(sold)
    );
    assert_eq!(pending_envelopes(&store).await.len(), 1);
}

/// `v` sold on `day` at the odometer `event(v, day)` would read (10,000 + day).
fn sold_on(v: &Vehicle, day: u32) -> Vehicle {
    use vwc_contracts::lifecycle::{
        PurchasePriceSource, Sale, TotalCostOfOwnership, VehicleStatus,
    };
    Vehicle {
        status: VehicleStatus::Sold,
        sale: Some(Sale {
            sold_at: at(day),
            price_cents: 1_000_000,
            currency: "USD".into(),
            odometer: 10_000 + u64::from(day),
            total_cost_of_ownership: TotalCostOfOwnership {
                currency: "USD".into(),
                purchase_price_cents: 0,
                purchase_price_source: PurchasePriceSource::Unknown,
                costs_cents: 0,
                sale_price_cents: 1_000_000,
                total_cents: -1_000_000,
                records_counted: 0,
                records_in_other_currencies: 0,
            },
        }),
        ..v.clone()
    }
}

/// A sale decided from the vehicle's records is stored only while it still has exactly those: a record
/// posted meanwhile (the probe's race: a sale and records dated after it, both taken) makes it a conflict.
async fn a_sale_is_stored_only_while_the_vehicle_has_the_records_it_was_decided_from(store: Store) {
    use vwc_ingestion::store::FactsSeen;
    let v = registered_vehicle(&store, "org_a", 1).await;
    let first = event(&v, 2);
    store
        .insert_event(WithOutbox::new(&first, &[]), None)
        .await
        .unwrap();
    let seen = FactsSeen {
        events: 1,
        revisions: 0,
    };
    // Recorded while the sale was being decided.
    store
        .insert_event(WithOutbox::new(&event(&v, 12), &[]), None)
        .await
        .unwrap();
    let sold = sold_on(&v, 10);
    let err = store
        .replace_vehicle(&v, WithOutbox::new(&sold, &[registered(&sold)]), Some(seen))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(
        store.vehicle(&VehicleRef::of(&v)).await.unwrap(),
        Some(v.clone())
    );
    assert!(pending_envelopes(&store).await.is_empty());
    // A revision counts too.
    let now = FactsSeen {
        events: 2,
        revisions: 0,
    };
    store
        .append_revision(WithOutbox::new(
            &revision(&first, 2, RevisionChange::Corrected),
            &[],
        ))
        .await
        .unwrap();
    let err = store
        .replace_vehicle(&v, WithOutbox::new(&sold, &[]), Some(now))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    // Decided from what is there now: stored.
    let all = FactsSeen {
        events: 2,
        revisions: 1,
    };
    store
        .replace_vehicle(&v, WithOutbox::new(&sold, &[]), Some(all))
        .await
        .unwrap();
    assert_eq!(
        store.vehicle(&VehicleRef::of(&v)).await.unwrap(),
        Some(sold)
    );
}

/// A record checked against the vehicle before its sale was stored is checked again against the stored
/// sale when it is written: one dated after it, or reading more than its odometer, is a conflict and
/// nothing is written; a correction keeps what the record already read.
async fn a_record_the_stored_sale_refuses_is_not_written(store: Store) {
    let v = registered_vehicle(&store, "org_a", 1).await;
    let before = event(&v, 2);
    store
        .insert_event(WithOutbox::new(&before, &[]), None)
        .await
        .unwrap();
    let sold = sold_on(&v, 10);
    store
        .replace_vehicle(&v, WithOutbox::new(&sold, &[]), None)
        .await
        .unwrap();
    drain_outbox(&store).await;
    let after_it = event(&v, 12);
    let above_it = VehicleEvent {
        odometer: Some(20_000),
        ..event(&v, 9)
    };
    for refused in [&after_it, &above_it] {
        let err = store
            .insert_event(WithOutbox::new(refused, &[recorded(refused)]), None)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(ref m) if m.contains("sold")),
            "{err}"
        );
    }
    assert_eq!(events_in(&store, "org_a", &v.id).await, 1);
    assert!(pending_envelopes(&store).await.is_empty());
    // Late paperwork is taken.
    store
        .insert_event(WithOutbox::new(&event(&v, 5), &[]), None)
        .await
        .unwrap();
    // A correction moving a record past the sale is refused; one changing its cost is not.
    let mut moved = revision(&before, 2, RevisionChange::Corrected);
    moved.event.occurred_at = at(11);
    let err = store
        .append_revision(WithOutbox::new(&moved, &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("sold")),
        "{err}"
    );
    store
        .append_revision(WithOutbox::new(
            &revision(&before, 2, RevisionChange::Corrected),
            &[],
        ))
        .await
        .unwrap();
}

vwc_testkit::conformance!(
    "ingestion", Store;
    sqlite("ingestion.db"): SqliteIngestionStore::open,
    mongodb("ingestion"): vwc_ingestion::MongoIngestionStore::connect;
    a_registered_vehicle_reads_back_unchanged,
    registering_a_vehicle_writes_its_envelope_to_the_outbox,
    registering_the_same_vin_twice_in_an_org_conflicts_and_writes_nothing,
    the_same_vin_may_be_registered_in_another_org,
    another_org_sees_neither_the_vehicle_nor_its_events,
    recording_an_event_writes_exactly_one_envelope_until_it_is_marked_sent,
    pending_envelopes_come_oldest_first_and_respect_the_limit,
    an_idempotency_key_replays_the_first_event_without_a_second_effect,
    an_idempotency_key_reused_for_another_request_is_refused,
    idempotency_keys_are_scoped_to_the_org,
    events_are_counted_per_vehicle,
    a_ready_store_answers_ping,
    a_dealer_reads_back_with_its_secret_and_its_debug_never_shows_it,
    a_rotated_out_secret_verifies_until_its_expiry_and_the_new_one_at_once,
    another_org_cannot_rotate_a_dealers_secret,
    a_webhook_for_a_registered_vin_records_one_event_and_one_envelope,
    a_replayed_webhook_id_answers_the_first_outcome_and_writes_nothing,
    a_webhook_for_an_unknown_vin_is_kept_unmatched_without_an_event,
    adopting_turns_every_waiting_record_into_an_event_once,
    adoption_leaves_another_orgs_records_of_the_same_vin_alone,
    only_vehicles_with_waiting_records_are_listed_for_adoption,
    registering_through_the_service_adopts_the_records_waiting_for_its_vin,
    the_service_stamps_rows_and_envelopes_with_its_injected_clock,
    revisions_append_in_order_with_their_envelope_and_never_twice,
    a_vehicles_events_and_revisions_are_listed_together,
    a_vehicle_is_replaced_only_while_it_reads_as_expected,
    a_sale_is_stored_only_while_the_vehicle_has_the_records_it_was_decided_from,
    a_record_the_stored_sale_refuses_is_not_written,
);

/// A dealer record keeps its event template only while it waits for its vehicle: a webhook recorded on
/// arrival stores an empty template (its event and its payload as received are kept), an unmatched one
/// the template's JSON, which adoption then turns into the event (read from the SQLite file itself).
#[tokio::test]
async fn only_a_waiting_dealer_record_keeps_its_template() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ingestion.db");
    let store: Store = Arc::new(SqliteIngestionStore::open(&path).unwrap());
    let dealers = dealer_port(&store);
    let d = registered_dealer(&dealers, "org_a").await;
    let v = registered_vehicle(&store, "org_a", 1).await;
    let WebhookOutcome::Recorded {
        record_id: recorded,
        ..
    } = receive(&dealers, &d, "msg_1", &v.vin, 2).await
    else {
        panic!("a webhook for a registered VIN was not recorded");
    };
    let waiting = unmatched_record(receive(&dealers, &d, "msg_2", &vin(7), 3).await);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let template = |id: &str| -> String {
        conn.query_row(
            "SELECT template FROM dealer_records WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(template(&recorded), "");
    let kept: NewVehicleEvent = serde_json::from_str(&template(&waiting)).unwrap();
    assert_eq!(kept.occurred_at, at(3));
    let later = registered_vehicle(&store, "org_a", 7).await;
    assert_eq!(adopt(&dealers, &later).await, 1);
    assert_eq!(events_in(&store, "org_a", &later.id).await, 1);
}
