//! The valuation store conformance suite: each check is written once and runs against a fresh SQLite
//! file, always, and against a fresh MongoDB database when `VWC_TEST_MONGODB_URI` is set.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use vwc_contracts::{Envelope, Event, EventType, OdometerUnit, Severity};
use vwc_store::vehicle_ledger::{LedgerChange, LedgerCommit};
use vwc_testkit::ledger::{
    self, a_ready_store_answers_ping, dead_letters_are_listed_oldest_first_until_replayed, stored,
    the_last_day_is_kept_per_organisation,
};
use vwc_valuation::model::{Fact, FactDetail, VehicleProfile};
use vwc_valuation::{
    CommitOutcome, PublishedPoint, SqliteValuationStore, ValuationStore, VehicleCommit,
    VehicleState,
};

type Store = Arc<dyn ValuationStore>;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, d).unwrap()
}

fn profile(org: &str, id: &str) -> VehicleProfile {
    VehicleProfile {
        id: id.into(),
        org_id: org.into(),
        name: "2019 Toyota Corolla".into(),
        year: 2019,
        unit: OdometerUnit::Km,
        registered_on: day(1),
        purchase_price_cents: None,
        purchase_currency: None,
        sold_on: None,
    }
}

fn fact(event_id: &str, d: u32, odometer: Option<u64>, detail: FactDetail) -> Fact {
    Fact {
        event_id: event_id.into(),
        at: Utc.with_ymd_and_hms(2025, 6, d, 9, 0, 0).unwrap(),
        odometer,
        title: format!("event {event_id}"),
        detail,
    }
}

fn point(fingerprint: u64, amount_cents: u64) -> PublishedPoint {
    PublishedPoint {
        fingerprint,
        amount_cents,
    }
}

fn envelope(vehicle_id: &str) -> Envelope {
    let Event::ValuationUpdated(mut update) =
        vwc_contracts::examples::event(EventType::ValuationUpdated)
    else {
        unreachable!("the example of its type")
    };
    update.vehicle_id = vehicle_id.to_string();
    Envelope::new("vwc.valuation", "org_a", Some(vehicle_id), None, update)
}

/// The registration of a vehicle not stored yet.
fn registration(org: &str, id: &str) -> VehicleCommit {
    VehicleCommit {
        register: Some(profile(org, id)),
        ..VehicleCommit::on(&VehicleState::new(id))
    }
}

async fn an_unknown_vehicle_has_an_empty_state_at_version_zero(store: Store) {
    let s = stored(&store, "veh_nope").await;
    assert_eq!((s.vehicle_id.as_str(), s.version), ("veh_nope", 0));
    assert!(s.profile.is_none() && s.facts.is_empty() && s.published.is_empty());
    assert!(s.current.is_none());
}

async fn a_commit_reads_back_exactly(store: Store) {
    let collision = fact(
        "evt_2",
        3,
        Some(40_000),
        FactDetail::Collision {
            severity: Severity::Severe,
            structural: true,
        },
    );
    let acquisition = fact(
        "evt_1",
        2,
        Some(30_000),
        FactDetail::Acquisition {
            price_cents: Some(2_000_000),
            currency: Some("EUR".into()),
            new: false,
        },
    );
    let e = envelope("veh_1");
    let mut commit = registration("org_a", "veh_1");
    commit.ledger.claim = Some("env_1".into());
    commit.facts = vec![collision.clone(), acquisition.clone()];
    commit.published = vec![
        (day(2), point(11, 2_000_000)),
        (day(3), point(12, 1_800_000)),
    ];
    commit.current = Some((day(4), point(13, 1_790_000)));
    commit.ledger.outbox = vec![e.clone()];
    assert_eq!(store.commit(commit).await.unwrap(), CommitOutcome::Applied);
    let s = stored(&store, "veh_1").await;
    assert_eq!(s.version, 1);
    assert_eq!(s.profile, Some(profile("org_a", "veh_1")));
    // Facts come back in the order the model applies them.
    assert_eq!(s.facts, vec![acquisition, collision]);
    assert_eq!(s.published.len(), 2);
    assert_eq!(s.published[&day(3)], point(12, 1_800_000));
    assert_eq!(s.current, Some((day(4), point(13, 1_790_000))));
    let pending: Vec<Envelope> = store
        .pending(10)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    assert_eq!(pending, vec![e]);
}

async fn a_commit_from_a_stale_version_conflicts_and_writes_nothing(store: Store) {
    store.commit(registration("org_a", "veh_1")).await.unwrap();
    let mut stale = registration("org_a", "veh_1");
    stale.facts = vec![fact("evt_9", 5, Some(1), FactDetail::Odometer)];
    stale.ledger.outbox = vec![envelope("veh_1")];
    assert_eq!(store.commit(stale).await.unwrap(), CommitOutcome::Conflict);
    let s = stored(&store, "veh_1").await;
    assert!(s.facts.is_empty());
    assert!(store.pending(10).await.unwrap().is_empty());
}

async fn a_claimed_envelope_is_a_duplicate_and_writes_nothing(store: Store) {
    let mut first = registration("org_a", "veh_1");
    first.ledger.claim = Some("env_1".into());
    assert_eq!(store.commit(first).await.unwrap(), CommitOutcome::Applied);
    let mut again = VehicleCommit {
        ledger: LedgerChange::on("veh_1", 1),
        facts: vec![fact("evt_1", 2, Some(5), FactDetail::Odometer)],
        ..VehicleCommit::default()
    }
    .claiming("env_1")
    .enqueuing(vec![envelope("veh_1")]);
    assert_eq!(
        store.commit(again.clone()).await.unwrap(),
        CommitOutcome::Duplicate
    );
    let s = stored(&store, "veh_1").await;
    assert_eq!(s.version, 1);
    assert!(s.facts.is_empty());
    assert!(store.pending(10).await.unwrap().is_empty());
    again.ledger.claim = Some("env_2".into());
    assert_eq!(store.commit(again).await.unwrap(), CommitOutcome::Applied);
}

async fn a_removed_fact_is_gone_and_its_replacement_kept(store: Store) {
    let first = fact("evt_1", 2, Some(5), FactDetail::Odometer);
    let other = fact("evt_2", 3, Some(9), FactDetail::Odometer);
    let mut c = registration("org_a", "veh_1");
    c.facts = vec![first, other.clone()];
    store.commit(c).await.unwrap();
    let corrected = fact("evt_1", 2, Some(7), FactDetail::Odometer);
    let mut c = VehicleCommit {
        ledger: LedgerChange::on("veh_1", 1),
        facts: vec![corrected.clone()],
        ..VehicleCommit::default()
    };
    c.ledger.remove_facts = vec!["evt_1".into()];
    assert!(c.changes_state());
    store.commit(c).await.unwrap();
    let mut facts = stored(&store, "veh_1").await.facts;
    facts.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    assert_eq!(facts, [corrected, other.clone()]);
    let mut c = VehicleCommit {
        ledger: LedgerChange::on("veh_1", 2),
        ..VehicleCommit::default()
    };
    c.ledger.remove_facts = vec!["evt_1".into()];
    store.commit(c).await.unwrap();
    assert_eq!(stored(&store, "veh_1").await.facts, [other]);
}

async fn the_highest_revision_of_each_record_is_kept(store: Store) {
    let registration = registration("org_a", "veh_1");
    ledger::the_highest_revision_of_each_record_is_kept(store.as_ref(), registration).await;
    // A commit of revisions alone changes the state (it is not skipped as a mere claim).
    let mut revisions_only = VehicleCommit::default();
    revisions_only.ledger.revisions = vec![("evt_3".to_string(), 2)];
    assert!(revisions_only.changes_state());
}

async fn the_same_fact_twice_is_kept_once_and_a_point_is_replaced(store: Store) {
    let f = fact("evt_1", 2, Some(5), FactDetail::Odometer);
    let mut c = registration("org_a", "veh_1");
    c.facts = vec![f.clone()];
    c.published = vec![(day(2), point(1, 100))];
    store.commit(c).await.unwrap();
    let c = VehicleCommit {
        ledger: LedgerChange::on("veh_1", 1),
        facts: vec![f.clone()],
        published: vec![(day(2), point(2, 90))],
        ..VehicleCommit::default()
    };
    assert_eq!(store.commit(c).await.unwrap(), CommitOutcome::Applied);
    let s = stored(&store, "veh_1").await;
    assert_eq!(s.facts, vec![f]);
    assert_eq!(s.published.len(), 1);
    assert_eq!(s.published[&day(2)], point(2, 90));
}

async fn facts_before_the_registration_are_kept_and_the_vehicle_is_not_listed(store: Store) {
    let c = VehicleCommit {
        ledger: LedgerChange::on("veh_1", 0),
        facts: vec![fact("evt_1", 2, Some(5), FactDetail::Odometer)],
        ..VehicleCommit::default()
    };
    store.commit(c).await.unwrap();
    assert!(
        store
            .vehicle_states(None, None, 10, true)
            .await
            .unwrap()
            .is_empty()
    );
    let s = stored(&store, "veh_1").await;
    assert_eq!((s.version, s.facts.len()), (1, 1));
    let mut register = registration("org_a", "veh_1");
    register.ledger.expected_version = 1;
    store.commit(register).await.unwrap();
    let listed = store.vehicle_states(None, None, 10, true).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].facts.len(), 1);
}

async fn vehicle_states_page_by_organisation_and_may_leave_out_the_older_history(store: Store) {
    for (org, id) in [
        ("org_a", "veh_1"),
        ("org_b", "veh_2"),
        ("org_a", "veh_3"),
        ("org_a", "veh_4"),
    ] {
        let mut c = registration(org, id);
        c.published = vec![(day(1), point(1, 300)), (day(2), point(2, 200))];
        store.commit(c).await.unwrap();
    }
    let page = store
        .vehicle_states(Some(&"org_a".into()), None, 2, true)
        .await
        .unwrap();
    let ids: Vec<&str> = page.iter().map(|s| s.vehicle_id.as_str()).collect();
    assert_eq!(ids, ["veh_1", "veh_3"]);
    assert_eq!(page[0].published.len(), 2);
    let next = store
        .vehicle_states(Some(&"org_a".into()), Some(&"veh_3".into()), 2, false)
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].vehicle_id, "veh_4");
    // Only the newest point without the history.
    assert_eq!(next[0].published.len(), 1);
    assert_eq!(next[0].published[&day(2)], point(2, 200));
    let all = store.vehicle_states(None, None, 10, false).await.unwrap();
    assert_eq!(all.len(), 4);
}

async fn a_batch_applies_each_commit_on_its_own(store: Store) {
    store.commit(registration("org_a", "veh_1")).await.unwrap();
    let ok = VehicleCommit {
        ledger: LedgerChange::on("veh_2", 0),
        register: Some(profile("org_a", "veh_2")),
        ..VehicleCommit::default()
    }
    .enqueuing(vec![envelope("veh_2")]);
    let stale = registration("org_a", "veh_1");
    let outcomes = store.commit_batch(vec![stale, ok]).await.unwrap();
    assert_eq!(outcomes, [CommitOutcome::Conflict, CommitOutcome::Applied]);
    assert_eq!(store.pending(10).await.unwrap().len(), 1);
}

async fn outbox_rows_are_pending_until_marked_sent(store: Store) {
    let mut c = registration("org_a", "veh_1");
    c.ledger.outbox = vec![envelope("veh_1"), envelope("veh_1")];
    let written = c.ledger.outbox.clone();
    store.commit(c).await.unwrap();
    ledger::outbox_rows_are_pending_until_marked_sent(store.as_ref(), &written).await;
}

fn chain_now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap()
}

/// A chain of one vehicle's envelopes longer than one transaction holds (MongoDB: 100 commits) is decided
/// in the last commit of each transaction: every point the stored state implies was published as the
/// chain left it (a full decision on it publishes nothing), and no more decisions were published than
/// transactions.
async fn a_chain_longer_than_a_transaction_leaves_nothing_unpublished(store: Store) {
    use vwc_bus::Consumer;
    use vwc_store::vehicle_ledger::LedgerService;
    const READINGS: usize = 250;
    let chain = ledger::long_chain(chain_now(), READINGS, |_| {
        (
            vwc_contracts::EventKind::OdometerReading,
            serde_json::json!({}),
        )
    });
    let consumer = vwc_valuation::ValuationConsumer::new(
        vwc_valuation::Valuer::new(store.clone()).with_clock(Arc::new(chain_now)),
    );
    let refs: Vec<&Envelope> = chain.iter().collect();
    let outcomes = consumer.handle_chain(&refs).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");

    let state = stored(&store, "veh_1").await;
    assert_eq!(state.version, READINGS as u64 + 1);
    let mut commit = VehicleCommit::on(&state);
    let when = vwc_store::vehicle_ledger::AsOf::at(chain_now());
    let full = vwc_valuation::valuer::Scope::Full;
    let left = vwc_valuation::decide(&state, &mut commit, when, None, full);
    assert_eq!(left.points, [], "published as the chain left them");
    let points = state.published.len() + 1;
    let transactions = chain.len().div_ceil(store.commits_per_transaction());
    let published = store.pending(100_000).await.unwrap().len();
    assert!(
        published <= points * transactions,
        "{published} published for {points} points in {transactions} transaction(s)"
    );
}

vwc_testkit::conformance!(
    "valuation", Store;
    sqlite("valuation.db"): SqliteValuationStore::open,
    mongodb("valuation"): vwc_valuation::MongoValuationStore::connect;
    an_unknown_vehicle_has_an_empty_state_at_version_zero,
    a_commit_reads_back_exactly,
    the_highest_revision_of_each_record_is_kept,
    a_commit_from_a_stale_version_conflicts_and_writes_nothing,
    a_claimed_envelope_is_a_duplicate_and_writes_nothing,
    the_same_fact_twice_is_kept_once_and_a_point_is_replaced,
    a_removed_fact_is_gone_and_its_replacement_kept,
    facts_before_the_registration_are_kept_and_the_vehicle_is_not_listed,
    vehicle_states_page_by_organisation_and_may_leave_out_the_older_history,
    a_batch_applies_each_commit_on_its_own,
    outbox_rows_are_pending_until_marked_sent,
    the_last_day_is_kept_per_organisation,
    dead_letters_are_listed_oldest_first_until_replayed,
    a_ready_store_answers_ping,
    a_chain_longer_than_a_transaction_leaves_nothing_unpublished,
);
