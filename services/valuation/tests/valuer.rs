//! The service's use cases on a real SQLite store: what a registration and the timeline events publish,
//! duplicates, tenancy, the drop worth telling, and the daily job's idempotency.

use std::sync::Arc;
use vwc_testkit::ledger::{assert_same_answers, corrections_newest_first, revised, undecodable};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use vwc_bus::Consumer;
use vwc_contracts::valuation::{FactorCode, ValuationPointKind, ValuationUpdated};
use vwc_contracts::{
    Envelope, EventKind, EventSource, EventType, Vehicle, VehicleEvent, VehicleEventRecorded,
    VehicleRegistered,
};
use vwc_store::vehicle_ledger::{DailyRun, KeptStates, LedgerService};
use vwc_valuation::valuer::ForecastError;
use vwc_valuation::{SqliteValuationStore, ValuationConsumer, ValuationStore, Valuer, revalue};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap()
}

/// The contracts' example RAV4 ("Blue", in miles), registered 400 days before [`now`], of `org`.
fn vehicle(org: &str) -> Vehicle {
    Vehicle {
        org_id: org.into(),
        nickname: Some("Blue".into()),
        registered_at: now() - Duration::days(400),
        ..vwc_contracts::examples::vehicle()
    }
}

fn event(
    id: &str,
    kind: EventKind,
    days_ago: i64,
    odometer: u64,
    details: serde_json::Value,
) -> VehicleEvent {
    VehicleEvent {
        id: id.into(),
        vehicle_id: "veh_1".into(),
        org_id: "org_a".into(),
        kind,
        occurred_at: now() - Duration::days(days_ago),
        recorded_at: now(),
        odometer: Some(odometer),
        cost_cents: None,
        currency: None,
        title: format!("{} {id}", kind.as_str()),
        notes: None,
        vendor: None,
        source: EventSource::User,
        details,
    }
}

fn registered(org: &str) -> Envelope {
    Envelope::new(
        "vwc.ingestion",
        org,
        Some("veh_1"),
        None,
        VehicleRegistered {
            vehicle: vehicle(org),
        },
    )
}

fn recorded(e: VehicleEvent) -> Envelope {
    Envelope::new(
        "vwc.ingestion",
        &e.org_id.clone(),
        Some("veh_1"),
        None,
        VehicleEventRecorded { event: e },
    )
}

async fn published(store: &dyn ValuationStore) -> Vec<ValuationUpdated> {
    let pending = store.pending(10_000).await.unwrap();
    let ids: Vec<_> = pending.iter().map(|(id, _)| id.clone()).collect();
    store.mark_sent(&ids).await.unwrap();
    pending
        .into_iter()
        .map(|(_, e)| {
            assert_eq!(e.event_type(), EventType::ValuationUpdated);
            e.payload().cloned().unwrap()
        })
        .collect()
}

fn setup() -> (
    tempfile::TempDir,
    Arc<dyn ValuationStore>,
    ValuationConsumer,
) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ValuationStore> =
        Arc::new(SqliteValuationStore::open(&dir.path().join("valuation.db")).unwrap());
    // Kept states, as embedded mode runs it.
    let valuer = Valuer::new(store.clone())
        .with_clock(Arc::new(now))
        .with_kept_states(KeptStates::Recent);
    (dir, store, ValuationConsumer::new(valuer))
}

/// [`setup`], with org_a's `veh_1` registered and what the registration published already taken.
async fn setup_registered() -> (
    tempfile::TempDir,
    Arc<dyn ValuationStore>,
    ValuationConsumer,
) {
    let (dir, store, consumer) = setup();
    consumer.handle(&registered("org_a")).await.unwrap();
    published(store.as_ref()).await;
    (dir, store, consumer)
}

/// The acquisition of `veh_1` (org_a), used, for $30,000, 300 days before [`now`].
fn acquisition() -> Envelope {
    recorded(event(
        "evt_acq",
        EventKind::Acquisition,
        300,
        20_000,
        serde_json::json!({"priceCents": 3_000_000}),
    ))
}

/// An odometer reading of `veh_1` (org_a), `days_ago` before [`now`].
fn reading(id: &str, days_ago: i64, odometer: u64) -> VehicleEvent {
    event(
        id,
        EventKind::OdometerReading,
        days_ago,
        odometer,
        serde_json::json!({}),
    )
}

#[tokio::test]
async fn a_registration_publishes_a_history_and_a_current_value_from_the_fallback() {
    let (_dir, store, consumer) = setup();
    consumer.handle(&registered("org_a")).await.unwrap();
    let points = published(store.as_ref()).await;
    let current = points
        .iter()
        .find(|p| p.valuation.kind == ValuationPointKind::Current)
        .expect("a current value");
    assert_eq!(current.valuation.as_of, now().date_naive());
    assert_eq!(current.vehicle_name, "2021 Toyota RAV4 (Blue)");
    // 400 days back: the registration day and 13 month starts.
    assert_eq!(points.len(), 1 + 14);
}

#[tokio::test]
async fn events_re_value_duplicates_change_nothing_and_a_big_drop_is_told() {
    let (_dir, store, consumer) = setup_registered().await;
    let acquisition = acquisition();
    consumer.handle(&acquisition).await.unwrap();
    let after_acquisition = published(store.as_ref()).await;
    assert!(!after_acquisition.is_empty());
    // The same envelope again: nothing.
    consumer.handle(&acquisition).await.unwrap();
    assert!(published(store.as_ref()).await.is_empty());

    let collision = recorded(event(
        "evt_crash",
        EventKind::Collision,
        5,
        30_000,
        serde_json::json!({"severity": "severe", "structural": true}),
    ));
    consumer.handle(&collision).await.unwrap();
    let appraisal = recorded(event(
        "evt_appraisal",
        EventKind::Valuation,
        2,
        30_100,
        serde_json::json!({"amountCents": 1_500_000, "source": "dealer_appraisal"}),
    ));
    consumer.handle(&appraisal).await.unwrap();
    let points = published(store.as_ref()).await;
    let crash = points
        .iter()
        .find(|p| p.valuation.as_of == (now() - Duration::days(5)).date_naive())
        .expect("the collision's point");
    assert!(
        crash
            .valuation
            .factors
            .iter()
            .any(|f| f.code == FactorCode::CollisionDiminishedValue && f.amount_cents < 0)
    );
    let told = points
        .iter()
        .find_map(|p| {
            p.drop
                .as_ref()
                .filter(|d| d.cause_event_id == "evt_appraisal")
        })
        .expect("the appraisal's drop is worth telling");
    assert!(told.drop_basis_points > 1_000);
    let current = points
        .iter()
        .rev()
        .find(|p| p.valuation.kind == ValuationPointKind::Current)
        .unwrap();
    for p in &points {
        let sum: i64 = p.valuation.factors.iter().map(|f| f.amount_cents).sum();
        assert_eq!(sum, p.valuation.amount_cents as i64);
    }
    assert!(current.valuation.amount_cents < 1_500_000);
}

#[tokio::test]
async fn an_event_naming_a_vehicle_of_another_organisation_is_ignored() {
    let (_dir, store, consumer) = setup_registered().await;
    let mut foreign = reading("evt_x", 1, 99_999);
    foreign.org_id = "org_b".into();
    consumer.handle(&recorded(foreign)).await.unwrap();
    assert!(published(store.as_ref()).await.is_empty());
    assert!(
        store
            .vehicle_state(&"veh_1".into())
            .await
            .unwrap()
            .facts
            .is_empty()
    );
}

#[tokio::test]
async fn the_daily_job_publishes_once_per_day() {
    let (_dir, store, _) = setup_registered().await;
    let tomorrow = now().date_naive() + Duration::days(1);
    let first = revalue(store.as_ref(), &DailyRun::of_day(None, tomorrow, now()))
        .await
        .unwrap();
    assert_eq!((first.vehicles, first.changed, first.published), (1, 1, 1));
    let points = published(store.as_ref()).await;
    assert_eq!(points[0].valuation.kind, ValuationPointKind::Current);
    assert_eq!(points[0].valuation.as_of, tomorrow);
    let second = revalue(store.as_ref(), &DailyRun::of_day(None, tomorrow, now()))
        .await
        .unwrap();
    assert_eq!((second.changed, second.published), (0, 0));
    assert!(second.already_revalued, "{second:?}");
    assert_eq!(
        second.vehicles, 0,
        "the second run of a day reads no vehicle"
    );
    // Forced (after an upgrade, say): every vehicle is valued again, and a value published already is not
    // published again.
    let forced = revalue(
        store.as_ref(),
        &DailyRun::of_day(None, tomorrow, now()).forced(true),
    )
    .await
    .unwrap();
    assert!(!forced.already_revalued, "{forced:?}");
    assert_eq!(
        (forced.vehicles, forced.changed, forced.published),
        (1, 0, 0)
    );
    assert!(published(store.as_ref()).await.is_empty());
    assert_eq!(
        store.last_day(&"org_a".into()).await.unwrap(),
        Some(tomorrow)
    );
    assert_eq!(
        store
            .last_day(&vwc_store::vehicle_ledger::EVERY_ORGANISATION.into())
            .await
            .unwrap(),
        Some(tomorrow)
    );
    // The first of next month brings a monthly point too.
    let first_of_april = chrono::NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
    let report = revalue(
        store.as_ref(),
        &DailyRun::of_day(Some("org_a"), first_of_april, now()),
    )
    .await
    .unwrap();
    assert_eq!(report.published, 2);
}

#[tokio::test]
async fn a_day_re_valued_for_one_organisation_is_still_re_valued_for_every_one() {
    let (_dir, store, _) = setup_registered().await;
    let day = now().date_naive() + Duration::days(1);
    let run = |org: Option<&str>| DailyRun::of_day(org, day, now());
    let org_a = revalue(store.as_ref(), &run(Some("org_a"))).await.unwrap();
    assert!(!org_a.already_revalued);
    assert_eq!((org_a.vehicles, org_a.published), (1, 1));
    let again = revalue(store.as_ref(), &run(Some("org_a"))).await.unwrap();
    assert!(again.already_revalued);
    assert_eq!((again.vehicles, again.published), (0, 0));
    // One organisation's run does not cover the others: every organisation's reads every vehicle (org_a's
    // find nothing new).
    let every = revalue(store.as_ref(), &run(None)).await.unwrap();
    assert!(!every.already_revalued);
    assert_eq!((every.vehicles, every.published), (1, 0));
    // Every organisation's run covers each, and itself.
    for org in [None, Some("org_a"), Some("org_b")] {
        let report = revalue(store.as_ref(), &run(org)).await.unwrap();
        assert!(report.already_revalued, "{org:?}: {report:?}");
        assert_eq!(report.vehicles, 0, "{org:?}");
    }
    let next_day = DailyRun::of_day(None, day + Duration::days(1), now());
    let next = revalue(store.as_ref(), &next_day).await.unwrap();
    assert!(!next.already_revalued);
    assert_eq!(next.vehicles, 1);
}

/// A sold vehicle is not valued after its sale: no forecast (probe api41: it still assumed a yearly usage and
/// projected values past the sale).
#[tokio::test]
async fn a_sold_vehicle_has_no_forecast() {
    let (_dir, store, _) = setup();
    let valuer = Valuer::new(store.clone()).with_clock(Arc::new(now));
    let consumer = ValuationConsumer::new(valuer.clone());
    consumer.handle(&registered("org_a")).await.unwrap();
    consumer.handle(&acquisition()).await.unwrap();
    assert!(valuer.forecast("org_a", &"veh_1".into(), 12).await.is_ok());
    consumer.handle(&sold(20)).await.unwrap();
    let sale_day = (now() - Duration::days(20)).date_naive();
    match valuer.forecast("org_a", &"veh_1".into(), 12).await {
        Err(ForecastError::Sold(day)) => assert_eq!(day, sale_day),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_forecast_is_for_the_owning_organisation_only() {
    let (_dir, store, _) = setup();
    let valuer = Valuer::new(store.clone()).with_clock(Arc::new(now));
    ValuationConsumer::new(valuer.clone())
        .handle(&registered("org_a"))
        .await
        .unwrap();
    let f = valuer.forecast("org_a", &"veh_1".into(), 12).await.unwrap();
    assert_eq!(f.points.len(), 12);
    assert_eq!(f.usage_basis, "expected");
    assert!(valuer.forecast("org_b", &"veh_1".into(), 12).await.is_err());
    assert!(
        valuer
            .forecast("org_a", &"veh_nope".into(), 12)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_fill_up_counts_as_an_odometer_reading_and_nothing_more() {
    let (_dir, store, consumer) = setup_registered().await;
    let mut fill = event(
        "evt_fuel",
        EventKind::Fuel,
        3,
        41_500,
        serde_json::json!({"volume": 11.2, "volumeUnit": "gal", "fullTank": true}),
    );
    fill.cost_cents = Some(3_910);
    fill.currency = Some("USD".into());
    consumer.handle(&recorded(fill)).await.unwrap();
    let facts = store.vehicle_state(&"veh_1".into()).await.unwrap().facts;
    assert_eq!(facts.len(), 1);
    assert_eq!(facts[0].odometer, Some(41_500));
    assert!(matches!(
        facts[0].detail,
        vwc_valuation::model::FactDetail::Odometer
    ));
}

/// The bus keeps no order (SQS does not): a void delivered before its record, or an older correction
/// after a newer one, must not bring back what was voided or replaced.
#[tokio::test]
async fn revisions_apply_in_revision_order_whatever_order_they_arrive_in() {
    let (_dir, store, consumer) = setup();
    consumer.handle(&registered("org_a")).await.unwrap();
    let voided = reading("evt_read", 30, 60_000);
    consumer.handle(&revised(&voided, 2, true)).await.unwrap();
    consumer.handle(&recorded(voided.clone())).await.unwrap();
    let state = store.vehicle_state(&"veh_1".into()).await.unwrap();
    assert!(
        !state.facts.iter().any(|f| f.event_id == "evt_read"),
        "a voided record came back"
    );
    assert_eq!(state.revisions.get("evt_read"), Some(&2));

    let other = reading("evt_other", 20, 30_000);
    for delivery in corrections_newest_first(&other, 31_000, 39_000) {
        consumer.handle(&delivery).await.unwrap();
    }
    let state = store.vehicle_state(&"veh_1".into()).await.unwrap();
    let facts: Vec<_> = state
        .facts
        .iter()
        .filter(|f| f.event_id == "evt_other")
        .collect();
    assert_eq!(facts.len(), 1);
    let newest = VehicleEvent {
        odometer: Some(31_000),
        ..other
    };
    assert_eq!(
        facts[0],
        &vwc_valuation::model::Fact::from_event(&newest).unwrap()
    );
    assert_eq!(state.revisions.get("evt_other"), Some(&3));
}

/// A chain of one vehicle's envelopes — with a poison in the middle, a redelivery, another
/// organisation's event, a correction and a void — applied at once (one read, one commit batch, one
/// decision) answers and stores what delivering each alone does (a new valuer per envelope: each read
/// from the store, nothing kept in memory), and publishes only the points it ends with.
#[tokio::test]
async fn a_chain_applied_at_once_answers_and_stores_what_one_at_a_time_does_and_publishes_where_it_ends()
 {
    let acquisition = acquisition();
    let collision = event(
        "evt_crash",
        EventKind::Collision,
        5,
        30_000,
        serde_json::json!({"severity": "severe", "structural": true}),
    );
    let late_reading = reading("evt_r2", 3, 30_050);
    let poison = undecodable(&recorded(reading("evt_bad", 4, 1)));
    let mut foreign = reading("evt_foreign", 1, 90_000);
    foreign.org_id = "org_b".into();
    let chain = vec![
        registered("org_a"),
        acquisition.clone(),
        recorded(reading("evt_r1", 100, 25_000)),
        recorded(collision.clone()),
        poison,
        acquisition,
        recorded(late_reading.clone()),
        recorded(foreign),
        recorded(event(
            "evt_appraisal",
            EventKind::Valuation,
            2,
            30_100,
            serde_json::json!({"amountCents": 1_500_000, "source": "dealer_appraisal"}),
        )),
        revised(&collision, 2, false),
        revised(&late_reading, 2, true),
    ];

    let (_alone_dir, alone, _) = setup();
    let mut one_at_a_time = Vec::new();
    for envelope in &chain {
        let fresh = ValuationConsumer::new(Valuer::new(alone.clone()).with_clock(Arc::new(now)));
        one_at_a_time.push(fresh.handle(envelope).await.map_err(|e| e.to_string()));
    }
    let (_together_dir, together, consumer) = setup();
    let refs: Vec<&Envelope> = chain.iter().collect();
    let at_once: Vec<_> = (consumer.handle_chain(&refs).await.into_iter())
        .map(|o| o.map_err(|e| e.to_string()))
        .collect();

    assert_same_answers(&at_once, &one_at_a_time, &[4]);
    let (alone_points, together_points) = (
        published(alone.as_ref()).await,
        published(together.as_ref()).await,
    );
    // Decided once for the run, on its last state: every point the one-at-a-time deliveries end with,
    // each published once, and none of the values they published on the way there.
    assert!(alone_points.len() > 20, "{}", alone_points.len());
    let last_of = |points: &[ValuationUpdated]| {
        let mut last = std::collections::BTreeMap::new();
        for p in points {
            let key = match p.valuation.kind {
                ValuationPointKind::Current => None,
                _ => Some(p.valuation.as_of),
            };
            last.insert(key, p.valuation.clone());
        }
        last
    };
    let (mut alone_last, together_last) = (last_of(&alone_points), last_of(&together_points));
    // One at a time, the late reading's day had its own point before the reading was voided, and keeps
    // one (valued again without it); at once, the chain never published a point for that day.
    let voided_day = (now() - Duration::days(3)).date_naive();
    assert!(alone_last.remove(&Some(voided_day)).is_some());
    assert_eq!(together_last, alone_last);
    assert_eq!(
        together_points.len(),
        together_last.len(),
        "one point per key"
    );
    assert!(together_points.len() < alone_points.len());
    let kept = stored_state(together.as_ref()).await;
    let mut expected = stored_state(alone.as_ref()).await;
    expected.published.remove(&voided_day);
    assert_eq!(kept, expected);
    assert_eq!(kept.version, 8, "every applied envelope committed once");
}

/// A record voided, or corrected to another day, leaves its day's point valued again from the records as
/// they now read: the typo's mileage no longer counts on that day, the moved reading no longer on its old
/// day. (Nothing can withdraw a published point; the day keeps one, with the right value.)
#[tokio::test]
async fn a_day_whose_record_was_voided_or_moved_is_valued_again_without_it() {
    let (_dir, store, consumer) = setup_registered().await;
    consumer.handle(&acquisition()).await.unwrap();
    let typo = reading("evt_typo", 20, 250_000);
    let moved = reading("evt_moved", 40, 24_000);
    consumer.handle(&recorded(moved.clone())).await.unwrap();
    consumer.handle(&recorded(typo.clone())).await.unwrap();
    let (typo_day, old_day) = (
        (now() - Duration::days(20)).date_naive(),
        (now() - Duration::days(40)).date_naive(),
    );
    let day_point = |points: &[ValuationUpdated], day| {
        (points.iter().rev())
            .find(|p| p.valuation.as_of == day && p.valuation.kind != ValuationPointKind::Current)
            .map(|p| p.valuation.clone())
    };
    let with_typo = day_point(&published(store.as_ref()).await, typo_day).unwrap();

    let mut earlier = moved.clone();
    earlier.occurred_at = now() - Duration::days(30);
    consumer.handle(&revised(&typo, 2, true)).await.unwrap();
    consumer.handle(&revised(&earlier, 2, false)).await.unwrap();
    // What the corrections published (the outbox was emptied before them).
    let points = published(store.as_ref()).await;
    let state = stored_state(store.as_ref()).await;
    let profile = state.profile.as_ref().unwrap();
    for day in [typo_day, old_day] {
        let point = day_point(&points, day).unwrap_or_else(|| panic!("{day}: no point"));
        let valued =
            vwc_valuation::model::value_on(profile, &state.facts, day, ValuationPointKind::Event);
        assert_eq!(point, valued, "{day}");
    }
    assert!(day_point(&points, typo_day).unwrap().amount_cents > with_typo.amount_cents);
}

/// Voiding the earliest record moves the history's first day later (here to the registration); the points
/// published before the new first day counted the record too, and are valued again without it.
#[tokio::test]
async fn a_void_of_the_earliest_record_values_the_days_before_the_new_first_day_again() {
    let (_dir, store, consumer) = setup_registered().await;
    let first = reading("evt_first", 500, 250_000);
    consumer.handle(&recorded(first.clone())).await.unwrap();
    let registered_on = (now() - Duration::days(400)).date_naive();
    let counted: Vec<NaiveDate> = published(store.as_ref())
        .await
        .iter()
        .filter(|p| p.valuation.kind != ValuationPointKind::Current)
        .filter(|p| p.valuation.as_of < registered_on && p.valuation.odometer == Some(250_000))
        .map(|p| p.valuation.as_of)
        .collect();
    assert!(counted.len() >= 3, "{counted:?}");
    consumer.handle(&revised(&first, 2, true)).await.unwrap();
    let points = published(store.as_ref()).await;
    let state = stored_state(store.as_ref()).await;
    let profile = state.profile.as_ref().unwrap();
    for day in counted {
        let point = (points.iter().rev())
            .find(|p| p.valuation.as_of == day && p.valuation.kind != ValuationPointKind::Current)
            .unwrap_or_else(|| panic!("{day}: not valued again"));
        assert_eq!(point.valuation.odometer, None, "{day}");
        let valued =
            vwc_valuation::model::value_on(profile, &state.facts, day, ValuationPointKind::Event);
        assert_eq!(point.valuation, valued, "{day}");
    }
}

/// The vehicle's state as `store` holds it.
async fn stored_state(store: &dyn ValuationStore) -> vwc_valuation::store::VehicleState {
    vwc_store::vehicle_ledger::VehicleLedger::vehicle_state(store, &"veh_1".into())
        .await
        .unwrap()
}

/// Two registered stores that applied the acquisition and a reading 10 days old (`late`), both outboxes
/// emptied: `store` (with `consumer`) for the chain under test, and `alone`, which was then given a reading
/// 200 days old (`early`) on its own; `expected` is what that delivery published.
struct EarlyAfterLate {
    dir: tempfile::TempDir,
    store: Arc<dyn ValuationStore>,
    consumer: ValuationConsumer,
    _alone_dir: tempfile::TempDir,
    alone: Arc<dyn ValuationStore>,
    alone_consumer: ValuationConsumer,
    early: Envelope,
    late: Envelope,
    expected: Vec<ValuationUpdated>,
}

async fn early_after_late() -> EarlyAfterLate {
    let acquisition = acquisition();
    let late = recorded(reading("evt_late", 10, 26_000));
    let early = recorded(reading("evt_early", 200, 22_000));
    let (dir, store, consumer) = setup_registered().await;
    let (alone_dir, alone, alone_consumer) = setup_registered().await;
    for c in [&consumer, &alone_consumer] {
        c.handle(&acquisition).await.unwrap();
        c.handle(&late).await.unwrap();
    }
    published(store.as_ref()).await;
    published(alone.as_ref()).await;
    alone_consumer.handle(&early).await.unwrap();
    let expected = published(alone.as_ref()).await;
    assert!(expected.len() > 3, "{expected:?}");
    EarlyAfterLate {
        dir,
        store,
        consumer,
        _alone_dir: alone_dir,
        alone,
        alone_consumer,
        early,
        late,
        expected,
    }
}

/// A chain whose last envelope turns out a redelivery (its commit refused as a duplicate) still publishes
/// what the steps before it changed: their decision, which was to ride in the refused commit, is made in a
/// commit of its own — the same points as delivering the new envelope alone.
#[tokio::test]
async fn a_chain_ending_in_a_redelivery_still_publishes_what_its_new_envelopes_changed() {
    let case = early_after_late().await;
    let outcomes = case.consumer.handle_chain(&[&case.early, &case.late]).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(published(case.store.as_ref()).await, case.expected);
    let kept = stored_state(case.store.as_ref()).await;
    let alone_kept = stored_state(case.alone.as_ref()).await;
    assert_eq!(kept.published, alone_kept.published);
    assert_eq!(kept.current, alone_kept.current);
    assert_eq!(
        kept.version,
        alone_kept.version + 1,
        "the decision's own commit"
    );
}

/// When the store fails a chain's later commit, the decision owed by steps that did apply before it (a
/// redelivery between them took their deciding commit) is still made, in a commit of its own: those
/// steps are acknowledged and never delivered again, and the failed step's redelivery decides only over
/// its own days. The failed step answers the store's error and applies when delivered again.
#[tokio::test]
async fn a_store_error_after_a_redelivery_still_publishes_what_the_applied_envelopes_changed() {
    let case = early_after_late().await;
    let next = recorded(reading("evt_next", 5, 26_400));
    // The store refuses any transaction that claims `next` (a real SQLite error, not a conflict).
    let db = rusqlite::Connection::open(case.dir.path().join("valuation.db")).unwrap();
    db.execute_batch(&format!(
        "CREATE TRIGGER refuse_next BEFORE INSERT ON inbox WHEN NEW.event_id = '{}'
         BEGIN SELECT RAISE(ABORT, 'the disk is on fire'); END;",
        next.id
    ))
    .unwrap();
    let chain = [&case.early, &case.late, &next];
    let outcomes = case.consumer.handle_chain(&chain).await;
    assert!(outcomes[0].is_ok() && outcomes[1].is_ok(), "{outcomes:?}");
    let error = outcomes[2].as_ref().unwrap_err().to_string();
    assert!(error.contains("the disk is on fire"), "{error}");
    assert_eq!(published(case.store.as_ref()).await, case.expected);

    db.execute_batch("DROP TRIGGER refuse_next").unwrap();
    case.consumer.handle(&next).await.unwrap();
    case.alone_consumer.handle(&next).await.unwrap();
    let kept = stored_state(case.store.as_ref()).await;
    let alone_kept = stored_state(case.alone.as_ref()).await;
    assert_eq!(kept.published, alone_kept.published);
    assert_eq!(kept.current, alone_kept.current);
}

/// `veh_1` (org_a) sold `days_ago` before [`now`], at 25,000 mi, for $21,000.
fn sold(days_ago: i64) -> Envelope {
    use vwc_contracts::lifecycle::{
        PurchasePriceSource, Sale, TotalCostOfOwnership, VehicleSold, VehicleStatus,
    };
    let vehicle = Vehicle {
        status: VehicleStatus::Sold,
        sale: Some(Sale {
            sold_at: now() - Duration::days(days_ago),
            price_cents: 2_100_000,
            currency: "USD".into(),
            odometer: 25_000,
            total_cost_of_ownership: TotalCostOfOwnership {
                currency: "USD".into(),
                purchase_price_cents: 3_000_000,
                purchase_price_source: PurchasePriceSource::AcquisitionEvent,
                costs_cents: 0,
                sale_price_cents: 2_100_000,
                total_cents: 900_000,
                records_counted: 0,
                records_in_other_currencies: 0,
            },
        }),
        ..vehicle("org_a")
    };
    Envelope::new(
        "vwc.ingestion",
        "org_a",
        Some("veh_1"),
        None,
        VehicleSold { vehicle },
    )
}

#[tokio::test]
async fn a_sold_vehicle_is_valued_up_to_its_sale_and_no_further() {
    let (_dir, store, consumer) = setup_registered().await;
    consumer.handle(&acquisition()).await.unwrap();
    published(store.as_ref()).await;
    // Sold 20 days ago: the sale publishes no current value and no point after the sale's day.
    consumer.handle(&sold(20)).await.unwrap();
    let sale_day = (now() - Duration::days(20)).date_naive();
    for point in published(store.as_ref()).await {
        assert_ne!(
            point.valuation.kind,
            ValuationPointKind::Current,
            "{point:?}"
        );
        assert!(point.valuation.as_of <= sale_day, "{point:?}");
    }
    // The daily job values it no further: not tomorrow, nor on the first of next month.
    for day in [
        now().date_naive() + Duration::days(1),
        NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
    ] {
        let report = revalue(store.as_ref(), &DailyRun::of_day(None, day, now()))
            .await
            .unwrap();
        assert_eq!(
            (report.changed, report.published),
            (0, 0),
            "{day}: {report:?}"
        );
        assert!(published(store.as_ref()).await.is_empty(), "{day}");
    }
    // A late record dated before the sale still re-values the days up to it, and only those.
    consumer
        .handle(&recorded(reading("evt_late", 25, 24_000)))
        .await
        .unwrap();
    let late = published(store.as_ref()).await;
    assert!(!late.is_empty());
    assert!(
        late.iter()
            .all(|p| p.valuation.as_of <= sale_day
                && p.valuation.kind != ValuationPointKind::Current)
    );
}
