//! The chat historian store conformance suite: each check is written once and runs against a fresh SQLite
//! file, always, and against a fresh MongoDB database when `VWC_TEST_MONGODB_URI` is set.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use vwc_chat_historian::engine::Citation;
use vwc_chat_historian::knowledge::{ValuationPoint, ValuationView};
use vwc_chat_historian::store::{
    AuditQuery, KnowledgeChange as Change, MessageRef, Revision, VehicleRef,
};
use vwc_chat_historian::{
    ChatStore, ChatTurn, Conversation, Feedback, SqliteChatStore, VehicleKnowledge,
};
use vwc_contracts::maintenance::{
    MaintenanceItemView, MaintenanceScheduleUpdated, MaintenanceStatus,
};
use vwc_contracts::{EventKind, EventType, OrgId, Vehicle, VehicleEvent};

type Store = Arc<dyn ChatStore>;

/// The organisation's turns asked at or after `since`, oldest first, at most `limit`.
async fn audit(
    store: &Store,
    org_id: &OrgId,
    since: Option<DateTime<Utc>>,
    limit: usize,
) -> Vec<ChatTurn> {
    let query = AuditQuery {
        org_id,
        since,
        limit,
    };
    store.audit(query).await.unwrap()
}

fn vref(org: &str, vehicle: &str) -> VehicleRef {
    VehicleRef::new(org, vehicle)
}

/// `veh_1` of `org_a`, the vehicle most checks use.
fn veh_1() -> VehicleRef {
    vref("org_a", "veh_1")
}

fn message(org: &str, vehicle: &str, conversation: &str, message: &str) -> MessageRef {
    MessageRef {
        vehicle: vref(org, vehicle),
        conversation_id: conversation.into(),
        message_id: message.into(),
    }
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, day, hour, 0, 0).unwrap()
}

fn vehicle(org: &str, id: &str) -> Vehicle {
    Vehicle {
        id: id.into(),
        org_id: org.into(),
        vin: vwc_testkit::vin(1),
        year: 2020,
        model: "Corolla".into(),
        registered_at: at(1, 0),
        ..vwc_contracts::examples::vehicle()
    }
}

fn event(v: &Vehicle, id: &str, occurred_at: DateTime<Utc>) -> VehicleEvent {
    VehicleEvent {
        id: id.into(),
        vehicle_id: v.id.clone(),
        org_id: v.org_id.clone(),
        kind: EventKind::Maintenance,
        occurred_at,
        recorded_at: occurred_at,
        odometer: Some(1000),
        cost_cents: Some(5_000),
        currency: Some("USD".into()),
        title: format!("Oil change {id}"),
        details: serde_json::json!({"tasks": ["oil_change"]}),
        ..vwc_contracts::examples::vehicle_event()
    }
}

fn valuation(amount: u64, day: u32, computed_hour: u32) -> ValuationPoint {
    ValuationPoint {
        envelope_id: format!("val-{amount}"),
        computed_at: at(day, computed_hour),
        valuation: ValuationView {
            amount_cents: amount,
            currency: "USD".into(),
            as_of: NaiveDate::from_ymd_opt(2024, 6, day).unwrap(),
            method: "acquisition_price".into(),
            kind: Some("current".into()),
            odometer: None,
            factors: Vec::new(),
        },
    }
}

/// `veh_1`'s maintenance schedule evaluated at `evaluated_at`: one oil-change item in `status`.
fn scheduled(evaluated_at: DateTime<Utc>, status: MaintenanceStatus) -> Change {
    let schedule = MaintenanceScheduleUpdated {
        vehicle_id: "veh_1".into(),
        items: vec![MaintenanceItemView {
            task: "oil_change".into(),
            title: "Oil change".into(),
            interval_miles: Some(5000),
            interval_km: None,
            interval_months: Some(6),
            last_done_at: None,
            last_done_odometer: None,
            due_at: None,
            due_odometer: None,
            projected_due_at: None,
            status,
            reason: String::new(),
            due_cycle: "c".into(),
            enabled: true,
        }],
        odometer: None,
        evaluated_at,
        evaluated_on: None,
        unit: None,
    };
    Change::Maintenance(OrgId::from("org_a"), schedule)
}

/// `veh_1` valued at `amount` as of June `day`, computed at `computed_hour` that day.
fn valued(amount: u64, day: u32, computed_hour: u32) -> Change {
    Change::Valuation(veh_1(), valuation(amount, day, computed_hour))
}

fn corrected(event: &VehicleEvent, revision: u32) -> Change {
    Change::Revision(Revision::corrected(event.clone(), revision))
}

fn voided(event: &VehicleEvent, revision: u32) -> Change {
    Change::Revision(Revision::voided(event.clone(), revision))
}

fn turn(
    org: &str,
    vehicle: &str,
    conversation: &str,
    message: &str,
    asked_at: DateTime<Utc>,
) -> ChatTurn {
    ChatTurn {
        message_id: message.into(),
        conversation_id: conversation.into(),
        org_id: org.into(),
        vehicle_id: vehicle.into(),
        asked_by: "user-1".into(),
        asked_at,
        question: format!("question {message}"),
        intent: "last_done".into(),
        follow_up: None,
        slots: serde_json::json!({"task": "oil_change"}),
        citations: vec![Citation {
            event_id: "e1".into(),
            occurred_at: at(1, 9),
            title: "Oil change e1".into(),
        }],
        knowledge: Vec::new(),
        answer: "The last oil change was on 2024-06-01.".into(),
        engine: "deterministic".into(),
        engine_version: "1.0.0".into(),
        latency_micros: 120,
        // Stored and read back like every audit field.
        fallback_reason: Some("llm:m: timed out after 8s".into()),
        feedback: None,
    }
}

/// Applies `change` under the envelope id `envelope`: whether it changed anything.
async fn apply(store: &Store, envelope: &str, change: Change) -> bool {
    store.apply_change(envelope, change).await.unwrap()
}

/// `veh_1`'s knowledge version (it must be known).
async fn version(store: &Store) -> u64 {
    store.knowledge_version(&veh_1()).await.unwrap().unwrap()
}

/// What the store knows of `veh_1` (it must be known).
async fn known(store: &Store) -> VehicleKnowledge {
    store.knowledge(&veh_1()).await.unwrap().unwrap()
}

async fn save(store: &Store, turn: ChatTurn) {
    store.save_turn(&turn).await.unwrap();
}

async fn conversation(store: &Store, vehicle: VehicleRef, id: &str) -> Option<Conversation> {
    store.conversation(&vehicle, id).await.unwrap()
}

/// Sets `feedback` on `message`: whether the message was there to take it.
async fn give_feedback(store: &Store, message: MessageRef, feedback: &Feedback) -> bool {
    store.set_feedback(&message, feedback).await.unwrap()
}

// ---------------------------------------------------------------------------------------------------
// Checks

async fn a_vehicle_is_known_only_in_its_organisation(store: Store) {
    let v = vehicle("org_a", "veh_1");
    let org_b = vref("org_b", "veh_1");
    assert_eq!(store.knowledge_version(&veh_1()).await.unwrap(), None);
    assert!(apply(&store, "env-1", Change::Vehicle(v.clone())).await);
    assert!(store.knowledge_version(&veh_1()).await.unwrap().is_some());
    assert_eq!(store.knowledge_version(&org_b).await.unwrap(), None);
    assert!(store.knowledge(&org_b).await.unwrap().is_none());
    let k = known(&store).await;
    assert_eq!(k.vehicle, Some(v));
    assert!(k.events.is_empty());
}

async fn events_come_back_in_time_order_and_duplicates_change_nothing(store: Store) {
    let v = vehicle("org_a", "veh_1");
    let record = |id, day| Change::Record(event(&v, id, at(day, 9)));
    // An event may arrive before its vehicle's registration.
    assert!(apply(&store, "env-0", record("e2", 5)).await);
    apply(&store, "env-1", Change::Vehicle(v.clone())).await;
    assert!(apply(&store, "env-2", record("e1", 1)).await);
    assert!(apply(&store, "env-3", record("e3", 9)).await);
    let before = version(&store).await;
    // The same envelope twice; the same record under another envelope.
    assert!(!apply(&store, "env-3", record("e3", 9)).await);
    assert!(!apply(&store, "env-9", record("e3", 9)).await);
    assert_eq!(version(&store).await, before);
    let k = known(&store).await;
    let ids: Vec<&str> = k.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["e1", "e2", "e3"]);
    assert_eq!(k.events[0], event(&v, "e1", at(1, 9)));
    assert_eq!(k.version, before);
}

async fn every_applied_change_bumps_the_knowledge_version(store: Store) {
    let v = vehicle("org_a", "veh_1");
    apply(&store, "env-1", Change::Vehicle(v.clone())).await;
    let v1 = version(&store).await;
    apply(&store, "env-2", Change::Record(event(&v, "e1", at(1, 9)))).await;
    let v2 = version(&store).await;
    apply(&store, "env-3", valued(1_000_000, 2, 0)).await;
    let v3 = version(&store).await;
    apply(&store, "env-4", scheduled(at(3, 0), MaintenanceStatus::Ok)).await;
    let v4 = version(&store).await;
    assert!(v1 < v2 && v2 < v3 && v3 < v4, "{v1} {v2} {v3} {v4}");
}

/// Claims younger than the cut-off keep a redelivery out; once pruned, the same envelope is applied again
/// (so a claim is pruned only when no redelivery can come any more: `vwc_store::KEEP_CLAIMS`).
async fn claims_are_pruned_by_age_and_only_then_let_an_envelope_in_again(store: Store) {
    let v = vehicle("org_a", "veh_1");
    assert!(apply(&store, "env-1", Change::Vehicle(v.clone())).await);
    assert!(apply(&store, "env-2", valued(1_000_000, 2, 0)).await);
    let hour = chrono::Duration::hours(1);
    assert_eq!(store.prune_claims(Utc::now() - hour).await.unwrap(), 0);
    assert!(
        !apply(&store, "env-1", Change::Vehicle(v.clone())).await,
        "still claimed"
    );
    let before = version(&store).await;
    assert_eq!(store.prune_claims(Utc::now() + hour).await.unwrap(), 2);
    assert!(
        apply(&store, "env-1", Change::Vehicle(v)).await,
        "its claim was pruned"
    );
    assert!(version(&store).await > before);
    assert_eq!(store.prune_claims(Utc::now() - hour).await.unwrap(), 0);
}

async fn a_later_valuation_replaces_an_earlier_one_never_the_reverse(store: Store) {
    apply(&store, "env-1", Change::Vehicle(vehicle("org_a", "veh_1"))).await;
    assert!(apply(&store, "env-2", valued(2_000_000, 10, 0)).await);
    // An older point arriving late is acknowledged and ignored.
    assert!(apply(&store, "env-3", valued(2_100_000, 5, 0)).await);
    let k = known(&store).await;
    assert_eq!(k.valuation.unwrap().valuation.amount_cents, 2_000_000);
    // The same day computed later wins.
    apply(&store, "env-4", valued(1_990_000, 10, 6)).await;
    let point = known(&store).await.valuation.unwrap();
    assert_eq!(point.valuation.amount_cents, 1_990_000);
    assert_eq!(point.envelope_id, "val-1990000");
    assert!(!apply(&store, "env-4", valued(1, 30, 0)).await);
}

async fn a_newer_schedule_replaces_an_older_one_never_the_reverse(store: Store) {
    let status = |k: VehicleKnowledge| k.maintenance.unwrap().items[0].status;
    apply(&store, "env-1", Change::Vehicle(vehicle("org_a", "veh_1"))).await;
    apply(
        &store,
        "env-2",
        scheduled(at(10, 0), MaintenanceStatus::Overdue),
    )
    .await;
    apply(&store, "env-3", scheduled(at(5, 0), MaintenanceStatus::Ok)).await;
    assert_eq!(status(known(&store).await), MaintenanceStatus::Overdue);
    apply(
        &store,
        "env-4",
        scheduled(at(11, 0), MaintenanceStatus::DueSoon),
    )
    .await;
    assert_eq!(status(known(&store).await), MaintenanceStatus::DueSoon);
}

async fn turns_make_conversations_that_only_their_organisation_and_vehicle_read(store: Store) {
    save(&store, turn("org_a", "veh_1", "conv_1", "msg_2", at(2, 10))).await;
    save(&store, turn("org_a", "veh_1", "conv_1", "msg_1", at(2, 9))).await;
    save(&store, turn("org_a", "veh_1", "conv_2", "msg_3", at(2, 11))).await;
    let c = conversation(&store, veh_1(), "conv_1").await.unwrap();
    assert_eq!(c.started_by, "user-1");
    let ids: Vec<&str> = c.messages.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids, ["msg_1", "msg_2"]);
    assert_eq!(
        c.messages[0],
        turn("org_a", "veh_1", "conv_1", "msg_1", at(2, 9))
    );
    for (vehicle, id) in [
        (vref("org_b", "veh_1"), "conv_1"),
        (vref("org_a", "veh_2"), "conv_1"),
        (veh_1(), "conv_9"),
    ] {
        assert!(conversation(&store, vehicle, id).await.is_none());
    }
}

async fn feedback_lands_on_its_turn_only(store: Store) {
    save(&store, turn("org_a", "veh_1", "conv_1", "msg_1", at(2, 9))).await;
    save(&store, turn("org_a", "veh_1", "conv_1", "msg_2", at(2, 10))).await;
    let fb = Feedback {
        helpful: false,
        comment: Some("wrong date".into()),
        at: at(3, 0),
        by: "user-1".into(),
    };
    for (org, conversation) in [("org_b", "conv_1"), ("org_a", "conv_2")] {
        let elsewhere = message(org, "veh_1", conversation, "msg_1");
        assert!(!give_feedback(&store, elsewhere, &fb).await);
    }
    let mine = message("org_a", "veh_1", "conv_1", "msg_1");
    assert!(give_feedback(&store, mine, &fb).await);
    let c = conversation(&store, veh_1(), "conv_1").await.unwrap();
    assert_eq!(c.messages[0].feedback, Some(fb));
    assert_eq!(c.messages[1].feedback, None);
}

async fn the_audit_lists_an_organisations_turns_since_an_instant(store: Store) {
    for (i, hour) in [9, 10, 11, 12].into_iter().enumerate() {
        let message = format!("msg_{i}");
        save(
            &store,
            turn("org_a", "veh_1", "conv_1", &message, at(2, hour)),
        )
        .await;
    }
    save(&store, turn("org_b", "veh_9", "conv_9", "msg_b", at(2, 10))).await;
    let (org_a, org_c) = (OrgId::from("org_a"), OrgId::from("org_c"));
    let all = audit(&store, &org_a, None, 100).await;
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0].asked_at <= w[1].asked_at));
    let since = audit(&store, &org_a, Some(at(2, 10)), 100).await;
    let ids: Vec<&str> = since.iter().map(|t| t.message_id.as_str()).collect();
    assert_eq!(ids, ["msg_1", "msg_2", "msg_3"]);
    assert_eq!(audit(&store, &org_a, None, 2).await.len(), 2);
    assert_eq!(audit(&store, &org_c, None, 100).await.len(), 0);
}

async fn dead_letters_are_kept_and_marked_replayed(store: Store) {
    let envelope = vwc_contracts::examples::undecodable(
        EventType::VehicleRegistered,
        "vwc.ingestion",
        "org_a",
        Some("veh_1"),
        serde_json::json!({"bad": true}),
    );
    let letter = vwc_store::NewDeadLetter {
        consumer: "chat-historian",
        envelope: &envelope,
        error: "malformed",
        attempts: 3,
    };
    store.put_dead_letter(letter).await.unwrap();
    let letters = store.list_dead_letters().await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].envelope, envelope);
    store.mark_replayed(letters[0].id).await.unwrap();
    assert!(store.list_dead_letters().await.unwrap().is_empty());
    store.ping().await.unwrap();
}

async fn a_corrected_record_is_replaced_and_a_voided_one_never_read(store: Store) {
    let v = vehicle("org_a", "veh_1");
    apply(&store, "env-1", Change::Vehicle(v.clone())).await;
    let (first, second) = (event(&v, "e1", at(1, 9)), event(&v, "e2", at(2, 9)));
    apply(&store, "env-2", Change::Record(first.clone())).await;
    apply(&store, "env-3", Change::Record(second.clone())).await;
    let before = version(&store).await;
    let fixed = VehicleEvent {
        cost_cents: Some(1),
        ..first.clone()
    };
    assert!(apply(&store, "env-4", corrected(&fixed, 2)).await);
    assert!(apply(&store, "env-5", voided(&second, 2)).await);
    // Duplicates and older revisions change nothing.
    assert!(!apply(&store, "env-5", voided(&second, 2)).await);
    assert!(apply(&store, "env-6", corrected(&first, 1)).await);
    let k = known(&store).await;
    assert_eq!(k.events, [fixed]);
    assert!(k.version > before);
    // A void that arrives before its record: the record then stays unread.
    let third = event(&v, "e3", at(3, 9));
    apply(&store, "env-7", voided(&third, 2)).await;
    apply(&store, "env-8", Change::Record(third.clone())).await;
    assert_eq!(known(&store).await.events.len(), 1);
}

vwc_testkit::conformance!(
    "chat-historian", Store;
    sqlite("chat-historian.db"): SqliteChatStore::open,
    mongodb("chat_historian"): vwc_chat_historian::MongoChatStore::connect;
    a_vehicle_is_known_only_in_its_organisation,
    events_come_back_in_time_order_and_duplicates_change_nothing,
    every_applied_change_bumps_the_knowledge_version,
    a_later_valuation_replaces_an_earlier_one_never_the_reverse,
    a_newer_schedule_replaces_an_older_one_never_the_reverse,
    turns_make_conversations_that_only_their_organisation_and_vehicle_read,
    feedback_lands_on_its_turn_only,
    the_audit_lists_an_organisations_turns_since_an_instant,
    dead_letters_are_kept_and_marked_replayed,
    claims_are_pruned_by_age_and_only_then_let_an_envelope_in_again,
    a_corrected_record_is_replaced_and_a_voided_one_never_read,
);
