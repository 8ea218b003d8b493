//! A turn answered by an older engine stays readable after `ENGINE_VERSION` is raised: the conversation reads
//! back with each turn's own version, and a follow-up leans on the older turn's stored intent, slots and
//! citations; the new turn is recorded with the version that answered it.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use vwc_chat_historian::historian::Ask;
use vwc_chat_historian::store::{ChatStore, KnowledgeChange, VehicleRef};
use vwc_chat_historian::{ChatTurn, Citation, Historian, SqliteChatStore};
use vwc_contracts::examples::{vehicle, vehicle_event};
use vwc_contracts::{EventKind, VehicleEvent};

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 9, 30, 0).unwrap()
}

fn repair(id: &str, on: DateTime<Utc>, cents: u64, title: &str, parts: &[&str]) -> VehicleEvent {
    VehicleEvent {
        id: id.into(),
        kind: EventKind::Repair,
        occurred_at: on,
        recorded_at: on,
        cost_cents: Some(cents),
        currency: Some("USD".into()),
        title: title.into(),
        details: serde_json::json!({"system": "brakes", "parts": parts}),
        ..vehicle_event()
    }
}

#[tokio::test]
async fn a_turn_an_older_engine_answered_is_read_and_followed_up_under_the_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteChatStore::open(&dir.path().join("chat.db")).unwrap());
    let pads = repair(
        "evt_pads",
        at(2025, 1, 15),
        30_000,
        "Front brake pads",
        &["front brake pads"],
    );
    let older = repair(
        "evt_rotors",
        at(2024, 3, 1),
        45_000,
        "Brake rotors",
        &["brake rotors"],
    );
    for (envelope, change) in [
        ("env_vehicle", KnowledgeChange::Vehicle(vehicle())),
        ("env_rotors", KnowledgeChange::Record(older)),
        ("env_pads", KnowledgeChange::Record(pads)),
    ] {
        assert!(store.apply_change(envelope, change).await.unwrap());
    }
    // As engine 1.0.0 stored it: "When were the rotors replaced?" answered from the brake pads' record.
    let old_turn = ChatTurn {
        message_id: "msg_old".into(),
        conversation_id: "conv_old".into(),
        org_id: "org_1".into(),
        vehicle_id: "veh_1".into(),
        asked_by: "user_1".into(),
        asked_at: at(2026, 1, 5),
        question: "When were the rotors replaced?".into(),
        intent: "last_done".into(),
        follow_up: None,
        slots: serde_json::json!({"part": "rotors", "subject": "rotors"}),
        citations: vec![Citation {
            event_id: "evt_pads".into(),
            occurred_at: at(2025, 1, 15),
            title: "Front brake pads".into(),
        }],
        knowledge: Vec::new(),
        answer: "The last work on the rotors was on 2025-01-15 (“Front brake pads”, 300.00 USD)."
            .into(),
        engine: "deterministic".into(),
        engine_version: "1.0.0".into(),
        fallback_reason: None,
        latency_micros: 90,
        feedback: None,
    };
    store.save_turn(&old_turn).await.unwrap();
    let historian = Historian::new(store.clone());
    let ask = |question: &str| Ask {
        org_id: "org_1".into(),
        vehicle_id: "veh_1".into(),
        asked_by: "user_1".into(),
        question: question.into(),
        conversation_id: Some("conv_old".into()),
    };
    // "how much did it cost?" reads the cited record of the older turn; "and before that?" asks its question
    // again under today's rules: a record names the rotors, before the one it cited.
    let cost = historian
        .ask(ask("how much did it cost?"), at(2026, 5, 10))
        .await
        .unwrap()
        .turn;
    assert_eq!(
        cost.answer,
        "“Front brake pads” on 2025-01-15 cost 300.00 USD."
    );
    assert_eq!(cost.engine_version, "1.3.0");
    let before = historian
        .ask(ask("and before that?"), at(2026, 5, 10))
        .await
        .unwrap()
        .turn;
    assert_eq!(
        before.citations[0].event_id, "evt_rotors",
        "{}",
        before.answer
    );
    assert!(
        before
            .answer
            .starts_with("The last work on the rotors before"),
        "{}",
        before.answer
    );
    let conversation = store
        .conversation(&VehicleRef::new("org_1", "veh_1"), "conv_old")
        .await
        .unwrap()
        .unwrap();
    let versions: Vec<&str> = (conversation.messages.iter())
        .map(|m| m.engine_version.as_str())
        .collect();
    assert_eq!(versions, ["1.0.0", "1.3.0", "1.3.0"]);
    assert_eq!(conversation.messages[0], old_turn);
}
