//! The edge store conformance suite: each check is written once and runs against a fresh SQLite file,
//! always, and against a fresh MongoDB database when `VWC_TEST_MONGODB_URI` is set.

use std::collections::HashSet;

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use vwc_contracts::corrections::{VehicleEventCorrected, VehicleEventVoided};
use vwc_contracts::lifecycle::VehicleStatus;
use vwc_contracts::maintenance::{
    Channel, MaintenanceItemView, MaintenanceScheduleUpdated, MaintenanceStatus,
    NotificationDelivered, OdometerEstimateView,
};
use vwc_contracts::{
    Envelope, EventKind, EventSource, EventType, OdometerUnit, OrgId, Vehicle, VehicleEvent,
    VehicleId,
};
use vwc_edge::corrections::TimelineRevision;
use vwc_edge::store::{
    CostBucket, CostKey, CostTotal, Delivery, EventFilter, Feed, MaintenanceView, NotificationRef,
    NotificationView, Page, Projected, TimelinePosition, TimelineQuery, VehicleRef, VehicleView,
};
use vwc_edge::{EdgeStore, SqliteEdgeStore};

pub(crate) type Store = Arc<dyn EdgeStore>;

fn org(id: &str) -> OrgId {
    OrgId::from(id)
}

fn vehicle_id(id: &str) -> VehicleId {
    VehicleId::from(id)
}

/// The vehicle `id` as organisation `org` names it.
fn in_org(org: &str, id: &str) -> VehicleRef {
    VehicleRef::new(org, id)
}

/// The vehicle as its own organisation names it.
fn of(v: &Vehicle) -> VehicleRef {
    VehicleRef::new(v.org_id.clone(), v.id.clone())
}

/// The timeline read of `vehicle`: `filter`'s events, up to `limit` strictly after `after`.
fn query<'a>(
    vehicle: &'a VehicleRef,
    filter: &'a EventFilter,
    after: Option<&'a TimelinePosition>,
    limit: usize,
) -> TimelineQuery<'a> {
    let page = Page::after(after, limit);
    TimelineQuery {
        vehicle,
        filter,
        page,
    }
}

// ---------------------------------------------------------------------------------------------------
// Fixtures

pub(crate) fn vehicle(org: &str, id: &str) -> Vehicle {
    Vehicle {
        id: id.to_string().into(),
        org_id: org.to_string().into(),
        vin: vwc_testkit::vin(1),
        year: 2019,
        make: "Toyota".into(),
        model: "Corolla".into(),
        odometer_unit: OdometerUnit::Km,
        registered_at: at(1, 0),
        ..vwc_contracts::examples::vehicle()
    }
}

/// A whole-second instant, so it survives the stores' microsecond timestamps unchanged.
pub(crate) fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, day, hour, 0, 0).unwrap()
}

pub(crate) fn event(
    v: &Vehicle,
    id: &str,
    kind: EventKind,
    occurred_at: DateTime<Utc>,
) -> VehicleEvent {
    VehicleEvent {
        id: id.to_string().into(),
        vehicle_id: v.id.clone(),
        org_id: v.org_id.clone(),
        kind,
        occurred_at,
        recorded_at: vwc_clock::now(),
        odometer: None,
        cost_cents: Some(12_500),
        currency: Some("USD".into()),
        title: format!("{} {id}", kind.as_str()),
        notes: None,
        vendor: None,
        source: EventSource::User,
        details: serde_json::json!({}),
    }
}

fn reading(v: &Vehicle, id: &str, occurred_at: DateTime<Utc>, odometer: u64) -> VehicleEvent {
    VehicleEvent {
        odometer: Some(odometer),
        ..event(v, id, EventKind::OdometerReading, occurred_at)
    }
}

pub(crate) fn envelope_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Whether the store applied the registration delivered under `envelope` (`false`: a duplicate).
pub(crate) async fn registered(store: &Store, envelope: &str, v: &Vehicle) -> bool {
    let delivery = Delivery::new(envelope, &v.org_id);
    store.apply(&delivery, Projected::Vehicle(v)).await.unwrap()
}

pub(crate) async fn register(store: &Store, org: &str, id: &str) -> Vehicle {
    let v = vehicle(org, id);
    assert!(registered(store, &envelope_id(), &v).await);
    v
}

/// Whether the store applied the event delivered under `envelope` (`false`: a duplicate).
async fn recorded(store: &Store, envelope: &str, e: &VehicleEvent) -> bool {
    let delivery = Delivery::new(envelope, &e.org_id);
    store.apply(&delivery, Projected::Event(e)).await.unwrap()
}

pub(crate) async fn apply(store: &Store, e: &VehicleEvent) {
    let applied = recorded(store, &envelope_id(), e).await;
    assert!(applied, "event {} was not applied", e.id);
}

/// The vehicle counts one event and its timeline is `evt_1` alone.
async fn holds_only_evt_1(store: &Store, v: &Vehicle) {
    assert_eq!(view(store, "org_a", &v.id).await.event_count, 1);
    assert_eq!(timeline(store, v, &EventFilter::default()).await, ["evt_1"]);
}

/// The organisation's vehicles (the first hundred), by id.
async fn vehicles_of(store: &Store, org_id: &str) -> Vec<VehicleView> {
    (store.vehicles(&org(org_id), Page::first(100)))
        .await
        .unwrap()
}

/// The vehicle's view, which must exist.
async fn view(store: &Store, org_id: &str, id: &str) -> VehicleView {
    let found = store.vehicle(&in_org(org_id, id)).await.unwrap();
    found.expect("the vehicle is in the read model")
}

async fn timeline(store: &Store, v: &Vehicle, filter: &EventFilter) -> Vec<String> {
    ids(store
        .events(&query(&of(v), filter, None, 100))
        .await
        .unwrap())
}

fn ids(events: Vec<VehicleEvent>) -> Vec<String> {
    events.into_iter().map(|e| e.id.into()).collect()
}

/// A vehicle with events on days 1..=5, two of them at the same instant (ids `evt_3a` < `evt_3b`).
async fn vehicle_with_history(store: &Store) -> Vehicle {
    let v = register(store, "org_a", "veh_1").await;
    // Applied out of order on purpose: the order is the stores' job.
    for (id, kind, when) in [
        ("evt_5", EventKind::Repair, at(5, 8)),
        ("evt_1", EventKind::Acquisition, at(1, 8)),
        ("evt_3b", EventKind::Maintenance, at(3, 8)),
        ("evt_2", EventKind::Maintenance, at(2, 8)),
        ("evt_3a", EventKind::Repair, at(3, 8)),
        ("evt_4", EventKind::Collision, at(4, 8)),
    ] {
        apply(store, &event(&v, id, kind, when)).await;
    }
    v
}

pub(crate) fn item(task: &str, status: MaintenanceStatus, enabled: bool) -> MaintenanceItemView {
    MaintenanceItemView {
        task: task.to_string(),
        title: format!("Task {task}"),
        interval_miles: None,
        interval_km: Some(10_000),
        interval_months: Some(12),
        last_done_at: Some(at(1, 8)),
        last_done_odometer: Some(20_000),
        due_at: chrono::NaiveDate::from_ymd_opt(2025, 6, 1),
        due_odometer: Some(30_000),
        projected_due_at: chrono::NaiveDate::from_ymd_opt(2025, 5, 1),
        status,
        reason: format!("{} by date", status.as_str()),
        due_cycle: format!("{task}-cycle-1"),
        enabled,
    }
}

pub(crate) fn schedule(
    vehicle_id: &str,
    evaluated_at: DateTime<Utc>,
    items: Vec<MaintenanceItemView>,
) -> MaintenanceScheduleUpdated {
    MaintenanceScheduleUpdated {
        vehicle_id: vehicle_id.to_string(),
        items,
        odometer: Some(OdometerEstimateView {
            value: 25_000,
            unit: OdometerUnit::Km,
            as_of: evaluated_at.date_naive(),
            estimated: true,
            reading_on: evaluated_at
                .date_naive()
                .checked_sub_days(chrono::Days::new(10)),
        }),
        evaluated_at,
        evaluated_on: None,
        unit: None,
    }
}

/// veh_1 evaluated on day `day` of June: `oil` due soon and `brakes` overdue, and `wipers` overdue but
/// disabled (so not counted); then `more` items.
fn needs_attention(day: u32, more: Vec<MaintenanceItemView>) -> MaintenanceScheduleUpdated {
    let mut items = vec![
        item("oil", MaintenanceStatus::DueSoon, true),
        item("brakes", MaintenanceStatus::Overdue, true),
        item("wipers", MaintenanceStatus::Overdue, false),
    ];
    items.extend(more);
    schedule("veh_1", at(day, 8), items)
}

/// One enabled `oil` item of `status`, evaluated on day `day` of June at 08:00.
pub(crate) fn oil(
    vehicle_id: &str,
    day: u32,
    status: MaintenanceStatus,
) -> MaintenanceScheduleUpdated {
    schedule(vehicle_id, at(day, 8), vec![item("oil", status, true)])
}

/// Whether the store applied `change`, delivered to organisation `org` under `envelope` (`false`: a
/// duplicate).
pub(crate) async fn applied(
    store: &Store,
    envelope: &str,
    org: &str,
    change: Projected<'_>,
) -> bool {
    let org = OrgId::from(org);
    store
        .apply(&Delivery::new(envelope, &org), change)
        .await
        .unwrap()
}

/// Whether the store applied the evaluation delivered under `envelope` (`false`: a duplicate).
async fn evaluated(
    store: &Store,
    envelope: &str,
    org: &str,
    update: &MaintenanceScheduleUpdated,
) -> bool {
    applied(store, envelope, org, Projected::Maintenance(update)).await
}

pub(crate) async fn maintain(store: &Store, org: &str, update: &MaintenanceScheduleUpdated) {
    assert!(evaluated(store, &envelope_id(), org, update).await);
}

/// The vehicle's maintenance view, which must exist.
async fn maintenance(store: &Store, org_id: &str, id: &str) -> MaintenanceView {
    let found = (store.maintenance(&in_org(org_id, id))).await.unwrap();
    found.expect("the vehicle has been evaluated")
}

fn delivered(id: &str, channel: Channel, delivered_at: DateTime<Utc>) -> NotificationDelivered {
    NotificationDelivered {
        notification_id: id.to_string(),
        reminder_id: Some(format!("rem_{id}")),
        vehicle_id: Some("veh_1".into()),
        channel,
        title: format!("Title {id}"),
        body: format!("Body {id}"),
        severity: Some(MaintenanceStatus::DueSoon),
        delivered_at,
        task: None,
        reminded_at: None,
    }
}

/// Whether the store applied the delivery delivered under `envelope` (`false`: a duplicate).
async fn notified(store: &Store, envelope: &str, org: &str, n: &NotificationDelivered) -> bool {
    applied(store, envelope, org, Projected::Notification(n)).await
}

async fn notify(store: &Store, org: &str, n: &NotificationDelivered) {
    assert!(notified(store, &envelope_id(), org, n).await);
}

/// A page of the organisation's feed (only the unread notifications if asked).
async fn feed_page(
    store: &Store,
    org: &str,
    unread_only: bool,
    page: Page<'_, (DateTime<Utc>, String)>,
) -> Vec<NotificationView> {
    let org_id = OrgId::from(org);
    let feed = Feed {
        org_id: &org_id,
        unread_only,
        page,
    };
    store.notifications(feed).await.unwrap()
}

/// The organisation's whole feed, newest first.
async fn notifications(store: &Store, org: &str) -> Vec<NotificationView> {
    feed_page(store, org, false, Page::first(100)).await
}

async fn feed(store: &Store, org: &str, unread_only: bool) -> Vec<String> {
    let page = feed_page(store, org, unread_only, Page::first(100)).await;
    page.into_iter().map(|n| n.id).collect()
}

/// Whether marking the notification read found it in the organisation.
async fn mark_read(store: &Store, org_id: &str, id: &str, at: DateTime<Utc>) -> bool {
    (store.mark_notification_read(
        NotificationRef {
            org_id: &org(org_id),
            id,
        },
        at,
    ))
    .await
    .unwrap()
}

/// Notifications `ntf_1`..`ntf_5` of org_a, `ntf_3a` and `ntf_3b` at the same instant, applied out of
/// order; `ntf_2` and `ntf_3b` are read.
async fn feed_with_history(store: &Store) {
    for (id, when) in [
        ("ntf_3b", at(3, 8)),
        ("ntf_1", at(1, 8)),
        ("ntf_5", at(5, 8)),
        ("ntf_3a", at(3, 8)),
        ("ntf_2", at(2, 8)),
        ("ntf_4", at(4, 8)),
    ] {
        notify(store, "org_a", &delivered(id, Channel::InApp, when)).await;
    }
    for id in ["ntf_2", "ntf_3b"] {
        assert!(mark_read(store, "org_a", id, at(10, 8)).await);
    }
}

pub(crate) fn costly(
    v: &Vehicle,
    id: &str,
    kind: EventKind,
    occurred_at: DateTime<Utc>,
    cost: Option<(u64, &str)>,
) -> VehicleEvent {
    VehicleEvent {
        cost_cents: cost.map(|(cents, _)| cents),
        currency: cost.map(|(_, currency)| currency.to_string()),
        ..event(v, id, kind, occurred_at)
    }
}

/// A whole-second instant of 2024 in any month.
pub(crate) fn on(month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, month, day, 8, 0, 0).unwrap()
}

fn bucket(
    vehicle_id: &str,
    kind: EventKind,
    month: &str,
    currency: &str,
    total_cents: u64,
    events: u64,
) -> CostBucket {
    CostBucket {
        vehicle_id: vehicle_id.to_string(),
        kind,
        month: month.to_string(),
        currency: currency.to_string(),
        total_cents,
        events,
    }
}

/// The cost buckets of the organisation (or one vehicle) with `occurredAt` in [from, to].
pub(crate) async fn buckets(
    store: &Store,
    org_id: &str,
    vehicle: Option<&VehicleId>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Vec<CostBucket> {
    (store.cost_buckets(&org(org_id), vehicle, from, to))
        .await
        .unwrap()
}

/// Two vehicles of org_a with costs in June and July 2024, in two currencies, plus events without a
/// cost; org_b has a costly event of its own.
async fn fleet_with_costs(store: &Store) -> (Vehicle, Vehicle) {
    let v1 = register(store, "org_a", "veh_1").await;
    let v2 = register(store, "org_a", "veh_2").await;
    let other = register(store, "org_b", "veh_9").await;
    for e in [
        costly(
            &v1,
            "c1",
            EventKind::Repair,
            on(6, 3),
            Some((10_000, "USD")),
        ),
        costly(
            &v1,
            "c2",
            EventKind::Repair,
            on(6, 20),
            Some((2_500, "USD")),
        ),
        costly(
            &v1,
            "c3",
            EventKind::Repair,
            on(6, 21),
            Some((7_000, "EUR")),
        ),
        costly(
            &v1,
            "c4",
            EventKind::Maintenance,
            on(6, 4),
            Some((4_000, "USD")),
        ),
        costly(
            &v1,
            "c5",
            EventKind::Maintenance,
            on(7, 1),
            Some((4_500, "USD")),
        ),
        costly(
            &v2,
            "c6",
            EventKind::Upgrade,
            on(6, 30),
            Some((90_000, "USD")),
        ),
        costly(
            &v2,
            "c7",
            EventKind::Repair,
            on(7, 15),
            Some((1_000, "USD")),
        ),
        costly(&v1, "free_1", EventKind::Maintenance, on(6, 5), None),
        VehicleEvent {
            cost_cents: None,
            currency: None,
            ..reading(&v2, "free_2", on(7, 2), 12_000)
        },
        costly(
            &other,
            "c8",
            EventKind::Repair,
            on(6, 3),
            Some((55_500, "USD")),
        ),
    ] {
        apply(store, &e).await;
    }
    (v1, v2)
}

// ---------------------------------------------------------------------------------------------------
// Checks

async fn a_registered_vehicle_reads_back_without_stats(store: Store) {
    let v = register(&store, "org_a", "veh_1").await;
    let view = view(&store, "org_a", "veh_1").await;
    assert_eq!(view.vehicle, v);
    assert_eq!(view.event_count, 0);
    assert_eq!(view.last_event_at, None);
    assert_eq!(view.odometer, None);
    let missing = in_org("org_a", "veh_missing");
    assert_eq!(store.vehicle(&missing).await.unwrap(), None);
}

async fn a_duplicate_delivery_returns_false_and_has_no_second_effect(store: Store) {
    let v = vehicle("org_a", "veh_1");
    let registration = envelope_id();
    assert!(registered(&store, &registration, &v).await);
    assert!(!registered(&store, &registration, &v).await);

    let e = reading(&v, "evt_1", at(2, 8), 1_000);
    let delivery = envelope_id();
    assert!(recorded(&store, &delivery, &e).await);
    assert!(!recorded(&store, &delivery, &e).await);

    holds_only_evt_1(&store, &v).await;
}

async fn the_same_event_under_another_envelope_has_no_second_effect(store: Store) {
    let v = register(&store, "org_a", "veh_1").await;
    let e = event(&v, "evt_1", EventKind::Repair, at(2, 8));
    assert!(recorded(&store, &envelope_id(), &e).await);
    assert!(!recorded(&store, &envelope_id(), &e).await);
    holds_only_evt_1(&store, &v).await;
}

async fn an_applied_event_reads_back_unchanged(store: Store) {
    let v = register(&store, "org_a", "veh_1").await;
    let e = reading(&v, "evt_1", at(2, 8), 1_234);
    store
        .apply(
            &Delivery {
                traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
                ..Delivery::new(&envelope_id(), &e.org_id)
            },
            Projected::Event(&e),
        )
        .await
        .unwrap();
    let events = store
        .events(&query(
            &in_org("org_a", "veh_1"),
            &EventFilter::default(),
            None,
            10,
        ))
        .await
        .unwrap();
    assert_eq!(events, vec![e]);
}

async fn the_timeline_is_newest_first_with_ties_broken_by_id(store: Store) {
    let v = vehicle_with_history(&store).await;
    assert_eq!(
        timeline(&store, &v, &EventFilter::default()).await,
        ["evt_5", "evt_4", "evt_3b", "evt_3a", "evt_2", "evt_1"]
    );
}

async fn the_timeline_filters_by_kind(store: Store) {
    let v = vehicle_with_history(&store).await;
    let filter = EventFilter {
        kinds: vec![EventKind::Repair, EventKind::Acquisition],
        ..EventFilter::default()
    };
    assert_eq!(
        timeline(&store, &v, &filter).await,
        ["evt_5", "evt_3a", "evt_1"]
    );
}

async fn the_timeline_filters_by_an_inclusive_time_range(store: Store) {
    let v = vehicle_with_history(&store).await;
    let range = |from, to| EventFilter {
        from,
        to,
        ..EventFilter::default()
    };
    assert_eq!(
        timeline(&store, &v, &range(Some(at(3, 8)), None)).await,
        ["evt_5", "evt_4", "evt_3b", "evt_3a"]
    );
    assert_eq!(
        timeline(&store, &v, &range(None, Some(at(3, 8)))).await,
        ["evt_3b", "evt_3a", "evt_2", "evt_1"]
    );
    let between = EventFilter {
        kinds: vec![EventKind::Maintenance],
        include_voided: false,
        ..range(Some(at(2, 9)), Some(at(4, 8)))
    };
    assert_eq!(timeline(&store, &v, &between).await, ["evt_3b"]);
}

async fn paging_strictly_after_a_position_covers_every_event_exactly_once(store: Store) {
    let v = vehicle_with_history(&store).await;
    for filter in [
        EventFilter::default(),
        EventFilter {
            kinds: vec![EventKind::Repair, EventKind::Maintenance],
            ..EventFilter::default()
        },
    ] {
        let everything = timeline(&store, &v, &filter).await;
        for page_size in [1, 2, 4] {
            let mut seen = Vec::new();
            let mut after: Option<TimelinePosition> = None;
            loop {
                let page = store
                    .events(&query(
                        &in_org("org_a", "veh_1"),
                        &filter,
                        after.as_ref(),
                        page_size,
                    ))
                    .await
                    .unwrap();
                assert!(page.len() <= page_size);
                let Some(last) = page.last() else { break };
                after = Some(TimelinePosition {
                    occurred_at: last.occurred_at,
                    id: last.id.to_string(),
                });
                seen.extend(ids(page));
            }
            assert_eq!(seen, everything, "pages of {page_size}");
            let distinct: HashSet<&String> = seen.iter().collect();
            assert_eq!(distinct.len(), seen.len());
        }
    }
}

/// The API's timeline page: each event's stored JSON as the typed event serialises, newest first, and
/// the position of the page's last event exactly when more follow; an unknown vehicle, or another
/// organisation's, is `None`, a known one without events an empty last page.
async fn timeline_pages_hold_the_stored_json_and_where_the_next_page_starts(store: Store) {
    let v = vehicle_with_history(&store).await;
    let typed = store
        .events(&query(&of(&v), &EventFilter::default(), None, 100))
        .await
        .unwrap();
    let everything: Vec<serde_json::Value> = typed
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_eq!(everything.len(), 6);
    for page_size in [1, 2, 4, 6, 7] {
        let (mut seen, mut after, mut pages) = (Vec::new(), None::<TimelinePosition>, 0);
        loop {
            let page = store
                .timeline_page(&query(
                    &of(&v),
                    &EventFilter::default(),
                    after.as_ref(),
                    page_size,
                ))
                .await
                .unwrap()
                .expect("the vehicle is known");
            pages += 1;
            assert!(page.len() <= page_size);
            let items: Vec<serde_json::Value> =
                serde_json::from_slice(&[b"[", page.items_json(), b"]"].concat()).unwrap();
            assert_eq!(items.len(), page.len());
            let more = seen.len() + items.len() < everything.len();
            seen.extend(items);
            let Some(next) = page.next else {
                assert!(!more, "pages of {page_size}: the last page came early");
                break;
            };
            assert!(more, "pages of {page_size}: a cursor after the last event");
            let last = &typed[seen.len() - 1];
            assert_eq!(
                next,
                TimelinePosition {
                    occurred_at: last.occurred_at,
                    id: last.id.to_string()
                }
            );
            after = Some(next);
        }
        assert_eq!(seen, everything, "pages of {page_size}");
        assert_eq!(
            pages,
            everything.len().div_ceil(page_size),
            "pages of {page_size}"
        );
    }
    register(&store, "org_a", "veh_2").await;
    let empty_page = br#"{"items":[],"nextCursor":null}"#.to_vec();
    for (who, which, answer) in [
        ("org_b", "veh_1", None),
        ("org_a", "veh_unknown", None),
        ("org_a", "veh_2", Some(empty_page)),
    ] {
        let page = store
            .timeline_page(&query(
                &in_org(who, which),
                &EventFilter::default(),
                None,
                10,
            ))
            .await
            .unwrap();
        assert_eq!(page.map(|p| p.into_json(None)), answer, "{who} {which}");
    }
}

async fn another_org_sees_neither_the_vehicle_nor_its_timeline(store: Store) {
    let v = vehicle_with_history(&store).await;
    assert_eq!(store.vehicle(&in_org("org_b", &v.id)).await.unwrap(), None);
    assert!(vehicles_of(&store, "org_b").await.is_empty());
    assert!(
        store
            .events(&query(
                &in_org("org_b", &v.id),
                &EventFilter::default(),
                None,
                100
            ))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(vehicles_of(&store, "org_a").await.len(), 1);
}

async fn vehicles_are_listed_in_id_order_after_a_position(store: Store) {
    for id in ["veh_3", "veh_1", "veh_4", "veh_2"] {
        register(&store, "org_a", id).await;
    }
    register(&store, "org_b", "veh_0").await;
    let listed = |views: Vec<VehicleView>| -> Vec<String> {
        views.into_iter().map(|v| v.vehicle.id.into()).collect()
    };
    let all = listed(vehicles_of(&store, "org_a").await);
    assert_eq!(all, ["veh_1", "veh_2", "veh_3", "veh_4"]);
    let page = listed(
        store
            .vehicles(&org("org_a"), Page::after(Some(&vehicle_id("veh_2")), 1))
            .await
            .unwrap(),
    );
    assert_eq!(page, ["veh_3"]);
}

async fn the_vehicle_view_counts_events_and_keeps_the_latest_time(store: Store) {
    vehicle_with_history(&store).await;
    let view = view(&store, "org_a", "veh_1").await;
    assert_eq!(view.event_count, 6);
    assert_eq!(view.last_event_at, Some(at(5, 8)));
    let listed = vehicles_of(&store, "org_a").await;
    assert_eq!(listed, vec![view]);
}

async fn the_odometer_is_the_highest_reading_the_latest_of_equals_even_out_of_order(store: Store) {
    let v = register(&store, "org_a", "veh_1").await;
    apply(&store, &reading(&v, "evt_late", at(20, 8), 42_000)).await;
    apply(&store, &reading(&v, "evt_early", at(10, 8), 30_000)).await;
    // An event without a reading leaves the odometer alone.
    apply(
        &store,
        &event(&v, "evt_repair", EventKind::Repair, at(25, 8)),
    )
    .await;

    let view = view(&store, "org_a", "veh_1").await;
    let odometer = view.odometer.expect("an odometer reading");
    assert_eq!(odometer.value, 42_000);
    assert_eq!(odometer.as_of, at(20, 8));
    assert_eq!(odometer.unit, OdometerUnit::Km);
    assert!(!odometer.estimated);
    assert_eq!(view.event_count, 3);
    assert_eq!(view.last_event_at, Some(at(25, 8)));

    apply(&store, &reading(&v, "evt_latest", at(28, 8), 43_500)).await;
    let latest = self::view(&store, "org_a", "veh_1").await;
    assert_eq!(
        latest.odometer.map(|o| (o.value, o.as_of)),
        Some((43_500, at(28, 8)))
    );
    // A later but lower reading is a rollback (a typo, a swapped cluster): the scheduler leaves it out,
    // and so does the vehicle's odometer; an equal later one moves the date on.
    apply(&store, &reading(&v, "evt_typo", at(29, 8), 4_350)).await;
    apply(&store, &reading(&v, "evt_again", at(30, 8), 43_500)).await;
    let after = self::view(&store, "org_a", "veh_1").await;
    assert_eq!(
        after.odometer.map(|o| (o.value, o.as_of)),
        Some((43_500, at(30, 8)))
    );
}

async fn events_applied_before_the_registration_still_count(store: Store) {
    let v = vehicle("org_a", "veh_1");
    apply(&store, &reading(&v, "evt_1", at(3, 8), 5_000)).await;
    register(&store, "org_a", "veh_1").await;
    let view = view(&store, "org_a", "veh_1").await;
    assert_eq!(view.event_count, 1);
    assert_eq!(view.odometer.map(|o| o.value), Some(5_000));
}

async fn dead_letters_are_listed_oldest_first_until_replayed(store: Store) {
    assert!(store.list_dead_letters().await.unwrap().is_empty());
    // A dead letter keeps what arrived, even data that is no event.
    let first = vwc_contracts::examples::undecodable(
        EventType::VehicleRegistered,
        "vwc.ingestion",
        "org_a",
        Some("veh_1"),
        serde_json::json!({ "n": 1 }),
    );
    let second = Envelope::new(
        "vwc.ingestion",
        "org_a",
        Some("veh_1"),
        None,
        vwc_contracts::examples::event(EventType::VehicleEventRecorded),
    );
    for (envelope, error, attempts) in [
        (&first, "malformed event: boom", 5),
        (&second, "store unavailable", 3),
    ] {
        let letter = vwc_store::NewDeadLetter {
            consumer: "edge",
            envelope,
            error,
            attempts,
        };
        store.put_dead_letter(letter).await.unwrap();
    }

    let listed = store.list_dead_letters().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[0].id < listed[1].id);
    assert_eq!(listed[0].consumer, "edge");
    assert_eq!(listed[0].envelope, first);
    assert_eq!(listed[0].error, "malformed event: boom");
    assert_eq!(listed[0].attempts, 5);
    assert_eq!(listed[0].replayed_at, None);
    assert_eq!(listed[1].envelope, second);
    assert_eq!(listed[1].attempts, 3);

    store.mark_replayed(listed[0].id).await.unwrap();
    let left = store.list_dead_letters().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, listed[1].id);
    assert_eq!(left[0].envelope, second);
}

async fn a_maintenance_update_reads_back_as_the_vehicle_view(store: Store) {
    let update = schedule(
        "veh_1",
        at(5, 8),
        vec![
            item("oil", MaintenanceStatus::DueSoon, true),
            item("tires", MaintenanceStatus::Ok, false),
        ],
    );
    maintain(&store, "org_a", &update).await;
    let view = maintenance(&store, "org_a", "veh_1").await;
    assert_eq!(view.vehicle_id, "veh_1");
    assert_eq!(view.items, update.items);
    assert_eq!(view.odometer, update.odometer);
    assert_eq!(view.evaluated_at, at(5, 8));
    let unevaluated = in_org("org_a", "veh_2");
    assert_eq!(store.maintenance(&unevaluated).await.unwrap(), None);
}

async fn a_duplicate_maintenance_delivery_returns_false_and_has_no_second_effect(store: Store) {
    let delivery = envelope_id();
    let first = oil("veh_1", 5, MaintenanceStatus::Ok);
    assert!(evaluated(&store, &delivery, "org_a", &first).await);
    // A newer evaluation would replace it, so only the inbox can be keeping it out.
    let newer = oil("veh_1", 6, MaintenanceStatus::Overdue);
    assert!(!evaluated(&store, &delivery, "org_a", &newer).await);
    let view = maintenance(&store, "org_a", "veh_1").await;
    assert_eq!(view.items, first.items);
    assert_eq!(view.evaluated_at, at(5, 8));
}

async fn an_older_evaluation_does_not_overwrite_a_newer_one(store: Store) {
    let newer = oil("veh_1", 6, MaintenanceStatus::Overdue);
    let older = oil("veh_1", 5, MaintenanceStatus::Ok);
    maintain(&store, "org_a", &newer).await;
    // Claimed (it was delivered and handled) but without effect.
    maintain(&store, "org_a", &older).await;
    let view = maintenance(&store, "org_a", "veh_1").await;
    assert_eq!(view.items, newer.items);
    assert_eq!(view.evaluated_at, at(6, 8));

    let newest = oil("veh_1", 7, MaintenanceStatus::Ok);
    maintain(&store, "org_a", &newest).await;
    let view = maintenance(&store, "org_a", "veh_1").await;
    assert_eq!(view.items, newest.items);
    assert_eq!(view.evaluated_at, at(7, 8));
}

async fn another_org_cannot_read_the_maintenance_view(store: Store) {
    let (veh_1, foreign) = (in_org("org_a", "veh_1"), in_org("org_b", "veh_1"));
    let overdue = oil("veh_1", 5, MaintenanceStatus::Overdue);
    maintain(&store, "org_a", &overdue).await;
    assert_eq!(store.maintenance(&foreign).await.unwrap(), None);
    assert!(store.maintenance(&veh_1).await.unwrap().is_some());
}

async fn the_fleet_view_counts_enabled_due_soon_and_overdue_items(store: Store) {
    for id in ["veh_2", "veh_1", "veh_3"] {
        register(&store, "org_a", id).await;
    }
    register(&store, "org_b", "veh_9").await;
    let v1 = vehicle("org_a", "veh_1");
    apply(&store, &reading(&v1, "evt_1", at(2, 8), 9_000)).await;
    let more = vec![
        item("coolant", MaintenanceStatus::Overdue, true),
        item("cabin_filter", MaintenanceStatus::DueSoon, false),
        item("tires", MaintenanceStatus::Ok, true),
        item("battery", MaintenanceStatus::Unknown, true),
    ];
    maintain(&store, "org_a", &needs_attention(5, more)).await;
    let veh_3 = oil("veh_3", 5, MaintenanceStatus::DueSoon);
    maintain(&store, "org_a", &veh_3).await;
    let veh_9 = oil("veh_9", 5, MaintenanceStatus::Overdue);
    maintain(&store, "org_b", &veh_9).await;

    let rows = store.fleet(&org("org_a"), Page::first(100)).await.unwrap();
    let summary: Vec<(&str, u32, u32)> = rows
        .iter()
        .map(|r| (r.vehicle.vehicle.id.as_str(), r.due_soon, r.overdue))
        .collect();
    assert_eq!(summary, [("veh_1", 1, 2), ("veh_2", 0, 0), ("veh_3", 1, 0)]);
    // Each row carries the same vehicle view as the vehicle list.
    let views = vehicles_of(&store, "org_a").await;
    let fleet_views: Vec<_> = rows.into_iter().map(|r| r.vehicle).collect();
    assert_eq!(fleet_views, views);
    assert_eq!(fleet_views[0].event_count, 1);

    let page = store
        .fleet(&org("org_a"), Page::after(Some(&vehicle_id("veh_1")), 1))
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].vehicle.vehicle.id, "veh_2");

    // A newer evaluation replaces the counts.
    maintain(&store, "org_a", &oil("veh_1", 6, MaintenanceStatus::Ok)).await;
    let rows = store.fleet(&org("org_a"), Page::first(1)).await.unwrap();
    assert_eq!((rows[0].due_soon, rows[0].overdue), (0, 0));

    let other = store.fleet(&org("org_b"), Page::first(100)).await.unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!((other[0].due_soon, other[0].overdue), (0, 1));
}

async fn an_in_app_notification_is_added_and_other_channels_are_ignored(store: Store) {
    let n = delivered("ntf_1", Channel::InApp, at(3, 8));
    notify(&store, "org_a", &n).await;
    // Delivered (and claimed) on another channel, but not part of the in-app feed.
    for (id, channel, day) in [("ntf_2", Channel::Email, 4), ("ntf_3", Channel::Webhook, 5)] {
        notify(&store, "org_a", &delivered(id, channel, at(day, 8))).await;
    }
    assert_eq!(
        notifications(&store, "org_a").await,
        vec![NotificationView {
            id: "ntf_1".into(),
            title: n.title.clone(),
            body: n.body.clone(),
            vehicle_id: Some("veh_1".into()),
            severity: Some(MaintenanceStatus::DueSoon),
            created_at: at(3, 8),
            read_at: None,
        }]
    );
    assert!(feed(&store, "org_b", false).await.is_empty());
}

/// An in-app reminder about `task` of veh_1, made (evaluated) at `reminded_at` and delivered a minute later.
fn reminder(id: &str, task: &str, reminded_at: DateTime<Utc>) -> NotificationDelivered {
    NotificationDelivered {
        task: Some(task.into()),
        reminded_at: Some(reminded_at),
        ..delivered(
            id,
            Channel::InApp,
            reminded_at + chrono::Duration::minutes(1),
        )
    }
}

/// The organisation's unread feed, sorted by id.
async fn unread(store: &Store, org: &str) -> Vec<String> {
    let mut ids = feed(store, org, true).await;
    ids.sort();
    ids
}

async fn a_newer_reminder_about_the_same_item_reads_the_older_ones(store: Store) {
    notify(&store, "org_a", &reminder("ntf_oil_1", "oil", at(3, 8))).await;
    notify(&store, "org_a", &reminder("ntf_tires", "tires", at(3, 8))).await;
    let other_vehicle = NotificationDelivered {
        vehicle_id: Some("veh_2".into()),
        ..reminder("ntf_oil_v2", "oil", at(3, 8))
    };
    notify(&store, "org_a", &other_vehicle).await;
    notify(&store, "org_b", &reminder("ntf_oil_b", "oil", at(3, 8))).await;
    // A delivery from before reminders carried their item is left as it is.
    notify(
        &store,
        "org_a",
        &delivered("ntf_plain", Channel::InApp, at(3, 9)),
    )
    .await;

    notify(&store, "org_a", &reminder("ntf_oil_2", "oil", at(3, 9))).await;
    let expected = ["ntf_oil_2", "ntf_oil_v2", "ntf_plain", "ntf_tires"];
    assert_eq!(unread(&store, "org_a").await, expected);
    // An older reminder about the item arriving after the newer one joins the feed read.
    notify(&store, "org_a", &reminder("ntf_oil_0", "oil", at(3, 7))).await;
    assert_eq!(unread(&store, "org_a").await, expected);
    let all = notifications(&store, "org_a").await;
    assert_eq!(all.len(), 6);
    for id in ["ntf_oil_0", "ntf_oil_1"] {
        let n = all.iter().find(|n| n.id == id).unwrap();
        assert!(n.read_at.is_some(), "{id} is read: {n:?}");
    }
    assert_eq!(unread(&store, "org_b").await, ["ntf_oil_b"]);
}

async fn an_evaluation_that_settles_an_item_reads_its_reminders(store: Store) {
    notify(&store, "org_a", &reminder("ntf_oil", "oil", at(3, 8))).await;
    notify(&store, "org_a", &reminder("ntf_brakes", "brakes", at(3, 8))).await;
    notify(&store, "org_a", &reminder("ntf_wipers", "wipers", at(3, 8))).await;
    notify(&store, "org_b", &reminder("ntf_oil_b", "oil", at(3, 8))).await;
    // Day 4: oil back to ok, brakes still overdue, wipers overdue but turned off.
    let day_4 = schedule(
        "veh_1",
        at(4, 8),
        vec![
            item("oil", MaintenanceStatus::Ok, true),
            item("brakes", MaintenanceStatus::Overdue, true),
            item("wipers", MaintenanceStatus::Overdue, false),
        ],
    );
    maintain(&store, "org_a", &day_4).await;
    assert_eq!(unread(&store, "org_a").await, ["ntf_brakes"]);
    assert_eq!(
        unread(&store, "org_b").await,
        ["ntf_oil_b"],
        "another org's"
    );

    // A reminder made before that evaluation, arriving after it (one hop more than the schedule), joins
    // the feed read; one made after it stays unread — its own evaluation is still on its way.
    notify(&store, "org_a", &reminder("ntf_oil_late", "oil", at(3, 20))).await;
    notify(&store, "org_a", &reminder("ntf_oil_new", "oil", at(5, 8))).await;
    assert_eq!(unread(&store, "org_a").await, ["ntf_brakes", "ntf_oil_new"]);
    // An older evaluation arriving late settles nothing.
    let day_2 = schedule(
        "veh_1",
        at(2, 8),
        vec![item("brakes", MaintenanceStatus::Ok, true)],
    );
    assert!(evaluated(&store, &envelope_id(), "org_a", &day_2).await);
    assert_eq!(unread(&store, "org_a").await, ["ntf_brakes", "ntf_oil_new"]);
    // The next evaluation settles the brakes, and not the oil reminder made after it ran.
    let day_5 = schedule(
        "veh_1",
        at(5, 7),
        vec![
            item("oil", MaintenanceStatus::Ok, true),
            item("brakes", MaintenanceStatus::Ok, true),
        ],
    );
    maintain(&store, "org_a", &day_5).await;
    assert_eq!(unread(&store, "org_a").await, ["ntf_oil_new"]);
}

async fn a_sold_or_archived_vehicles_reminders_are_read_and_later_ones_join_read(store: Store) {
    let first = register(&store, "org_a", "veh_1").await;
    let second = register(&store, "org_a", "veh_2").await;
    let on = |vehicle: &str, n: NotificationDelivered| NotificationDelivered {
        vehicle_id: Some(vehicle.into()),
        ..n
    };
    notify(&store, "org_a", &reminder("ntf_oil", "oil", at(3, 8))).await;
    notify(&store, "org_a", &reminder("ntf_tires", "tires", at(3, 8))).await;
    notify(
        &store,
        "org_a",
        &on("veh_2", reminder("ntf_oil_2", "oil", at(3, 8))),
    )
    .await;
    notify(&store, "org_b", &reminder("ntf_oil_b", "oil", at(3, 8))).await;
    // A delivery that names no item (a valuation drop) is left as it is.
    notify(
        &store,
        "org_a",
        &delivered("ntf_plain", Channel::InApp, at(3, 9)),
    )
    .await;

    let archived = Vehicle {
        status: VehicleStatus::Archived,
        ..first.clone()
    };
    assert!(registered(&store, &envelope_id(), &archived).await);
    assert_eq!(unread(&store, "org_a").await, ["ntf_oil_2", "ntf_plain"]);
    assert_eq!(
        unread(&store, "org_b").await,
        ["ntf_oil_b"],
        "another org's"
    );
    // A reminder about it still on its way when it was archived joins the feed read.
    notify(&store, "org_a", &reminder("ntf_brakes", "brakes", at(4, 8))).await;
    assert_eq!(unread(&store, "org_a").await, ["ntf_oil_2", "ntf_plain"]);
    let all = notifications(&store, "org_a").await;
    assert_eq!(all.len(), 5);
    for id in ["ntf_oil", "ntf_tires", "ntf_brakes"] {
        let n = all.iter().find(|n| n.id == id).unwrap();
        assert!(n.read_at.is_some(), "{id} is read: {n:?}");
    }

    let sold = Vehicle {
        status: VehicleStatus::Sold,
        ..second.clone()
    };
    assert!(registered(&store, &envelope_id(), &sold).await);
    assert_eq!(unread(&store, "org_a").await, ["ntf_plain"]);
}

async fn the_same_notification_under_two_envelopes_is_stored_once(store: Store) {
    let n = delivered("ntf_1", Channel::InApp, at(3, 8));
    let delivery = envelope_id();
    assert!(notified(&store, &delivery, "org_a", &n).await);
    assert!(!notified(&store, &delivery, "org_a", &n).await);
    assert!(mark_read(&store, "org_a", "ntf_1", at(4, 8)).await);
    // A re-publish under a new envelope id: handled, but neither a second row nor a reset read state.
    let republished = NotificationDelivered {
        title: "Changed".into(),
        delivered_at: at(6, 8),
        ..n.clone()
    };
    notify(&store, "org_a", &republished).await;

    let listed = notifications(&store, "org_a").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].title, n.title);
    assert_eq!(listed[0].created_at, at(3, 8));
    assert_eq!(listed[0].read_at, Some(at(4, 8)));
}

async fn the_feed_is_newest_first_and_filters_unread(store: Store) {
    feed_with_history(&store).await;
    let other = delivered("ntf_other", Channel::InApp, at(9, 8));
    notify(&store, "org_b", &other).await;
    assert_eq!(
        feed(&store, "org_a", false).await,
        ["ntf_5", "ntf_4", "ntf_3b", "ntf_3a", "ntf_2", "ntf_1"]
    );
    assert_eq!(
        feed(&store, "org_a", true).await,
        ["ntf_5", "ntf_4", "ntf_3a", "ntf_1"]
    );
    let listed = notifications(&store, "org_a").await;
    let read: Vec<(&str, Option<DateTime<Utc>>)> = listed
        .iter()
        .map(|n| (n.id.as_str(), n.read_at))
        .filter(|(_, read_at)| read_at.is_some())
        .collect();
    assert_eq!(
        read,
        [("ntf_3b", Some(at(10, 8))), ("ntf_2", Some(at(10, 8)))]
    );
}

async fn paging_the_feed_strictly_after_a_position_covers_every_notification_exactly_once(
    store: Store,
) {
    feed_with_history(&store).await;
    for unread_only in [false, true] {
        let everything = feed(&store, "org_a", unread_only).await;
        for page_size in [1, 2, 4] {
            let mut seen = Vec::new();
            let mut after: Option<(DateTime<Utc>, String)> = None;
            loop {
                let page = Page::after(after.as_ref(), page_size);
                let page = feed_page(&store, "org_a", unread_only, page).await;
                assert!(page.len() <= page_size);
                let Some(last) = page.last() else { break };
                after = Some((last.created_at, last.id.clone()));
                seen.extend(page.into_iter().map(|n| n.id));
            }
            assert_eq!(
                seen, everything,
                "pages of {page_size}, unread only {unread_only}"
            );
            let distinct: HashSet<&String> = seen.iter().collect();
            assert_eq!(distinct.len(), seen.len());
        }
    }
}

async fn marking_read_keeps_the_first_time_and_stays_in_the_org(store: Store) {
    notify(
        &store,
        "org_a",
        &delivered("ntf_1", Channel::InApp, at(3, 8)),
    )
    .await;
    assert!(!mark_read(&store, "org_b", "ntf_1", at(4, 8)).await);
    assert!(!mark_read(&store, "org_a", "ntf_missing", at(4, 8)).await);
    assert_eq!(feed(&store, "org_a", true).await, ["ntf_1"]);

    assert!(mark_read(&store, "org_a", "ntf_1", at(5, 8)).await);
    assert!(mark_read(&store, "org_a", "ntf_1", at(7, 8)).await);
    let listed = notifications(&store, "org_a").await;
    assert_eq!(listed[0].read_at, Some(at(5, 8)));
    assert!(feed(&store, "org_a", true).await.is_empty());
}

async fn marking_every_notification_read_stops_at_through_and_keeps_earlier_reads(store: Store) {
    feed_with_history(&store).await;
    let other = delivered("ntf_other", Channel::InApp, at(1, 8));
    notify(&store, "org_b", &other).await;
    let (a, b) = (org("org_a"), org("org_b"));
    // Another organisation's notification, or none: nothing is marked.
    assert_eq!(
        store
            .mark_notifications_read(&a, Some("ntf_other"), at(11, 8))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        (store.mark_notifications_read(&a, Some("ntf_missing"), at(11, 8)))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        feed(&store, "org_a", true).await,
        ["ntf_5", "ntf_4", "ntf_3a", "ntf_1"]
    );
    // Through ntf_3a: it and the older unread ntf_1, not ntf_3b's tie-mate above it or anything newer.
    assert_eq!(
        (store.mark_notifications_read(&a, Some("ntf_3a"), at(11, 8)))
            .await
            .unwrap(),
        Some(2)
    );
    assert_eq!(feed(&store, "org_a", true).await, ["ntf_5", "ntf_4"]);
    // Everything: the two left; the ones read before keep their time.
    assert_eq!(
        store
            .mark_notifications_read(&a, None, at(12, 8))
            .await
            .unwrap(),
        Some(2)
    );
    assert!(feed(&store, "org_a", true).await.is_empty());
    let read_at: Vec<(String, Option<DateTime<Utc>>)> = notifications(&store, "org_a")
        .await
        .into_iter()
        .map(|n| (n.id, n.read_at))
        .collect();
    assert_eq!(
        read_at,
        [
            ("ntf_5".to_string(), Some(at(12, 8))),
            ("ntf_4".to_string(), Some(at(12, 8))),
            ("ntf_3b".to_string(), Some(at(10, 8))),
            ("ntf_3a".to_string(), Some(at(11, 8))),
            ("ntf_2".to_string(), Some(at(10, 8))),
            ("ntf_1".to_string(), Some(at(11, 8))),
        ]
    );
    assert_eq!(
        store
            .mark_notifications_read(&a, None, at(13, 8))
            .await
            .unwrap(),
        Some(0)
    );
    // The other organisation's feed is untouched.
    assert_eq!(feed(&store, "org_b", true).await, ["ntf_other"]);
    assert_eq!(
        store
            .mark_notifications_read(&b, None, at(13, 8))
            .await
            .unwrap(),
        Some(1)
    );
}

async fn cost_buckets_group_by_vehicle_kind_month_and_currency(store: Store) {
    fleet_with_costs(&store).await;
    assert_eq!(
        buckets(&store, "org_a", None, None, None).await,
        vec![
            bucket("veh_1", EventKind::Maintenance, "2024-06", "USD", 4_000, 1),
            bucket("veh_1", EventKind::Repair, "2024-06", "EUR", 7_000, 1),
            bucket("veh_1", EventKind::Repair, "2024-06", "USD", 12_500, 2),
            bucket("veh_2", EventKind::Upgrade, "2024-06", "USD", 90_000, 1),
            bucket("veh_1", EventKind::Maintenance, "2024-07", "USD", 4_500, 1),
            bucket("veh_2", EventKind::Repair, "2024-07", "USD", 1_000, 1),
        ]
    );
    let org_b = bucket("veh_9", EventKind::Repair, "2024-06", "USD", 55_500, 1);
    assert_eq!(buckets(&store, "org_b", None, None, None).await, [org_b]);
    assert!(buckets(&store, "org_c", None, None, None).await.is_empty());
}

async fn cost_buckets_filter_by_vehicle_and_an_inclusive_time_range(store: Store) {
    let (v1, v2) = fleet_with_costs(&store).await;
    assert_eq!(
        buckets(&store, "org_a", Some(&v2.id), None, None).await,
        vec![
            bucket("veh_2", EventKind::Upgrade, "2024-06", "USD", 90_000, 1),
            bucket("veh_2", EventKind::Repair, "2024-07", "USD", 1_000, 1),
        ]
    );
    // Both bounds are inclusive: c2 (June 20) and c5 (July 1) are on them.
    assert_eq!(
        buckets(
            &store,
            "org_a",
            Some(&v1.id),
            Some(on(6, 20)),
            Some(on(7, 1))
        )
        .await,
        vec![
            bucket("veh_1", EventKind::Repair, "2024-06", "EUR", 7_000, 1),
            bucket("veh_1", EventKind::Repair, "2024-06", "USD", 2_500, 1),
            bucket("veh_1", EventKind::Maintenance, "2024-07", "USD", 4_500, 1),
        ]
    );
    assert_eq!(
        buckets(&store, "org_a", None, Some(on(6, 30)), None).await,
        vec![
            bucket("veh_2", EventKind::Upgrade, "2024-06", "USD", 90_000, 1),
            bucket("veh_1", EventKind::Maintenance, "2024-07", "USD", 4_500, 1),
            bucket("veh_2", EventKind::Repair, "2024-07", "USD", 1_000, 1),
        ]
    );
    assert_eq!(
        buckets(&store, "org_a", None, None, Some(on(6, 4))).await,
        vec![
            bucket("veh_1", EventKind::Maintenance, "2024-06", "USD", 4_000, 1),
            bucket("veh_1", EventKind::Repair, "2024-06", "USD", 10_000, 1),
        ]
    );
    // Another org's vehicle id finds nothing of it.
    let elsewhere = vehicle_id("veh_9");
    assert!(
        buckets(&store, "org_a", Some(&elsewhere), None, None)
            .await
            .is_empty()
    );
}

/// The fleet counts follow registrations and the newest evaluation of each vehicle, per organisation; an
/// evaluation that arrives before the registration counts once the vehicle is registered.
async fn fleet_counts_cover_the_whole_fleet_and_follow_each_newest_evaluation(store: Store) {
    use vwc_edge::store::FleetCounts;
    // Vehicles, items due soon, items overdue, vehicles with an item overdue.
    let counts = |vehicles, due_soon, overdue, vehicles_overdue| FleetCounts {
        vehicles,
        due_soon,
        overdue,
        vehicles_overdue,
    };
    let fleet_counts = |org_id: &'static str| {
        let store = store.clone();
        async move { store.fleet_counts(&org(org_id)).await.unwrap() }
    };
    assert_eq!(fleet_counts("org_a").await, counts(0, 0, 0, 0));
    for id in ["veh_1", "veh_2", "veh_3"] {
        register(&store, "org_a", id).await;
    }
    maintain(&store, "org_a", &needs_attention(5, vec![])).await;
    // veh_4's evaluation arrives before its registration.
    let early = oil("veh_4", 5, MaintenanceStatus::Overdue);
    maintain(&store, "org_a", &early).await;
    assert_eq!(fleet_counts("org_a").await, counts(3, 1, 1, 1));
    register(&store, "org_a", "veh_4").await;
    assert_eq!(fleet_counts("org_a").await, counts(4, 1, 2, 2));
    // A re-registration does not count twice; an older evaluation changes nothing; a newer one replaces.
    register(&store, "org_a", "veh_4").await;
    let older = oil("veh_1", 4, MaintenanceStatus::Overdue);
    maintain(&store, "org_a", &older).await;
    assert_eq!(fleet_counts("org_a").await, counts(4, 1, 2, 2));
    maintain(&store, "org_a", &oil("veh_1", 6, MaintenanceStatus::Ok)).await;
    assert_eq!(fleet_counts("org_a").await, counts(4, 0, 1, 1));
    // A second overdue item of the same vehicle is one more item, not one more vehicle (probe p44 L5).
    let mut two = oil("veh_4", 7, MaintenanceStatus::Overdue);
    let mut brakes = two.items[0].clone();
    brakes.task = "brakes".into();
    two.items.push(brakes);
    maintain(&store, "org_a", &two).await;
    assert_eq!(fleet_counts("org_a").await, counts(4, 0, 2, 1));
    // The counts equal the rows summed over every page.
    let mut after: Option<VehicleId> = None;
    let mut summed = counts(0, 0, 0, 0);
    loop {
        let page = store
            .fleet(&org("org_a"), Page::after(after.as_ref(), 1))
            .await
            .unwrap();
        let Some(row) = page.first() else { break };
        summed.vehicles += 1;
        summed.due_soon += u64::from(row.due_soon);
        summed.overdue += u64::from(row.overdue);
        summed.vehicles_overdue += u64::from(row.overdue > 0);
        after = Some(row.vehicle.vehicle.id.clone());
    }
    assert_eq!(summed, fleet_counts("org_a").await);
    register(&store, "org_b", "veh_9").await;
    assert_eq!(fleet_counts("org_b").await, counts(1, 0, 0, 0));
}

/// Whatever the range, the buckets equal the timeline's costly events summed by hand: whole months come
/// from the aggregates and the ends of a range from the timeline, and the two never overlap.
async fn cost_buckets_of_any_range_equal_the_timeline_summed(store: Store) {
    use std::collections::BTreeMap;
    let (v1, v2) = fleet_with_costs(&store).await;
    // More months, including a year boundary and a cost on a month's first and last instants.
    let first = Utc.with_ymd_and_hms(2024, 12, 1, 0, 0, 0).unwrap();
    let last = Utc.with_ymd_and_hms(2024, 12, 31, 23, 59, 59).unwrap()
        + chrono::Duration::microseconds(999_999);
    for e in [
        costly(&v1, "d1", EventKind::Repair, first, Some((111, "USD"))),
        costly(&v1, "d2", EventKind::Repair, last, Some((222, "USD"))),
        costly(
            &v2,
            "d3",
            EventKind::Collision,
            on(8, 15),
            Some((333, "USD")),
        ),
        costly(
            &v2,
            "d4",
            EventKind::Repair,
            Utc.with_ymd_and_hms(2025, 1, 2, 0, 0, 0).unwrap(),
            Some((444, "EUR")),
        ),
    ] {
        apply(&store, &e).await;
    }
    let events: Vec<VehicleEvent> = {
        let mut all = Vec::new();
        for v in [&v1, &v2] {
            all.extend(
                store
                    .events(&query(
                        &in_org("org_a", &v.id),
                        &EventFilter::default(),
                        None,
                        1000,
                    ))
                    .await
                    .unwrap(),
            );
        }
        all
    };
    let by_hand =
        |vehicle: Option<&str>, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>| {
            let mut sums: BTreeMap<(String, String, String, String), (u64, u64)> = BTreeMap::new();
            for e in &events {
                let Some(cents) = e.cost_cents else { continue };
                if vehicle.is_some_and(|v| e.vehicle_id != v)
                    || from.is_some_and(|f| e.occurred_at < f)
                    || to.is_some_and(|t| e.occurred_at > t)
                {
                    continue;
                }
                let key = (
                    e.occurred_at.format("%Y-%m").to_string(),
                    e.vehicle_id.to_string(),
                    e.kind.as_str().to_string(),
                    e.currency.clone().unwrap(),
                );
                let sum = sums.entry(key).or_default();
                sum.0 += cents;
                sum.1 += 1;
            }
            sums
        };
    let as_map = |buckets: Vec<CostBucket>| {
        buckets
            .into_iter()
            .map(|b| {
                (
                    (
                        b.month,
                        b.vehicle_id,
                        b.kind.as_str().to_string(),
                        b.currency,
                    ),
                    (b.total_cents, b.events),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    let day = |m: u32, d: u32| Utc.with_ymd_and_hms(2024, m, d, 0, 0, 0).unwrap();
    let end = |y: i32, m: u32, d: u32| {
        Utc.with_ymd_and_hms(y, m, d, 23, 59, 59).unwrap() + chrono::Duration::microseconds(999_999)
    };
    let ranges = [
        (None, None),
        (Some(day(6, 1)), Some(end(2024, 6, 30))),
        (Some(day(6, 1)), Some(end(2024, 12, 31))),
        (Some(day(12, 1)), None),
        (None, Some(end(2024, 11, 30))),
        (Some(on(6, 20)), Some(on(7, 1))),
        (Some(on(6, 4)), Some(end(2025, 1, 1))),
        (
            Some(day(7, 2)),
            Some(Utc.with_ymd_and_hms(2025, 1, 2, 0, 0, 0).unwrap()),
        ),
        (Some(end(2024, 11, 30)), Some(day(12, 1))),
        (Some(day(9, 1)), Some(day(8, 1))),
    ];
    for (from, to) in ranges {
        for vehicle in [None, Some(v1.id.as_str()), Some(v2.id.as_str())] {
            let vehicle_id = vehicle.map(VehicleId::from);
            assert_eq!(
                as_map(buckets(&store, "org_a", vehicle_id.as_ref(), from, to).await),
                by_hand(vehicle, from, to),
                "{vehicle:?} {from:?} {to:?}"
            );
        }
        // The organisation's totals are the same sums without the vehicle.
        let mut fleet: BTreeMap<(String, String, String, String), (u64, u64)> = BTreeMap::new();
        for ((month, _, kind, currency), (cents, n)) in by_hand(None, from, to) {
            let sum = fleet
                .entry((month, String::new(), kind, currency))
                .or_default();
            sum.0 += cents;
            sum.1 += n;
        }
        assert_eq!(
            as_map(
                store
                    .fleet_cost_buckets(&org("org_a"), from, to)
                    .await
                    .unwrap()
            ),
            fleet,
            "{from:?} {to:?}"
        );
        // And each vehicle's totals are the same sums without month and kind.
        let mut per_vehicle: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        for ((_, vehicle, _, currency), (cents, n)) in by_hand(None, from, to) {
            let sum = per_vehicle.entry((vehicle, currency)).or_default();
            sum.0 += cents;
            sum.1 += n;
        }
        // Read in pages of every size, they are the same totals, each once, in key order.
        for limit in [1, 2, 3, 1_000] {
            let pages = costs_by_vehicle_in_pages(&store, "org_a", from, to, limit).await;
            let keys: Vec<_> = pages.iter().map(CostTotal::key).collect();
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
            let totals: BTreeMap<(String, String), (u64, u64)> = pages
                .into_iter()
                .map(|t| ((t.vehicle_id, t.currency), (t.total_cents, t.events)))
                .collect();
            assert_eq!(totals, per_vehicle, "{from:?} {to:?} in pages of {limit}");
        }
    }
    assert!(
        store
            .fleet_cost_buckets(&org("org_c"), None, None)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Every page of the fleet's cost by vehicle, `limit` totals at a time, each page after the last key.
pub(crate) async fn costs_by_vehicle_in_pages(
    store: &Store,
    org: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: usize,
) -> Vec<CostTotal> {
    let mut all = Vec::new();
    let mut after: Option<CostKey> = None;
    loop {
        let page = store
            .fleet_costs_by_vehicle(&org.into(), from, to, after.as_ref(), limit)
            .await
            .unwrap();
        assert!(page.len() <= limit, "{page:?}");
        let last_page = page.len() < limit;
        after = page.last().map(CostTotal::key);
        all.extend(page);
        if last_page {
            return all;
        }
    }
}

async fn a_ready_store_answers_ping(store: Store) {
    store.ping().await.unwrap();
}

// ---------------------------------------------------------------------------------------------------
// Valuations

pub(crate) fn valuation_update(
    vehicle_id: &str,
    day: u32,
    kind: vwc_contracts::valuation::ValuationPointKind,
    amount: u64,
    computed: DateTime<Utc>,
) -> vwc_contracts::valuation::ValuationUpdated {
    use vwc_contracts::valuation::*;
    ValuationUpdated {
        vehicle_id: vehicle_id.into(),
        vehicle_name: "2019 Toyota Corolla".into(),
        valuation: Valuation {
            amount_cents: amount,
            currency: "USD".into(),
            as_of: at(day, 0).date_naive(),
            method: ValuationMethod::AcquisitionPrice,
            kind,
            odometer: Some(1_000),
            odometer_unit: OdometerUnit::Km,
            factors: vec![ValuationFactor {
                code: FactorCode::Base,
                label: "Acquisition price".into(),
                amount_cents: amount as i64,
                detail: "d".into(),
                event_id: None,
            }],
        },
        previous_amount_cents: None,
        drop: None,
        computed_at: computed,
    }
}

/// Whether the store applied the valuation delivered under `envelope` (`false`: a duplicate).
pub(crate) async fn valued(
    store: &Store,
    envelope: &str,
    org_id: &str,
    update: &vwc_contracts::valuation::ValuationUpdated,
) -> bool {
    applied(store, envelope, org_id, Projected::Valuation(update)).await
}

/// The days of June of a page of valuation points.
fn days(points: &[vwc_contracts::valuation::Valuation]) -> Vec<u32> {
    (points.iter())
        .map(|p| chrono::Datelike::day(&p.as_of))
        .collect()
}

/// The organisation's fleet value as (currency, total, vehicles).
async fn fleet_value(store: &Store, org_id: &str) -> Vec<(String, u64, u64)> {
    (store.fleet_value(&org(org_id)).await.unwrap())
        .into_iter()
        .map(|f| (f.currency, f.total_cents, f.vehicles))
        .collect()
}

async fn valuation_history_is_newest_first_paged_and_a_point_is_replaced_by_a_newer_computation(
    store: Store,
) {
    use vwc_contracts::valuation::ValuationPointKind::{Event, Monthly};
    let v = vehicle("org_a", "veh_1");
    registered(&store, "env_r", &v).await;
    for (i, day) in [1u32, 5, 3, 2].into_iter().enumerate() {
        let kind = if day == 1 { Monthly } else { Event };
        let update = valuation_update("veh_1", day, kind, 1_000 - u64::from(day), at(10, 0));
        assert!(valued(&store, &format!("env_{i}"), "org_a", &update).await);
    }
    // A duplicate envelope: no second effect.
    let again = valuation_update("veh_1", 1, Monthly, 5, at(11, 0));
    assert!(!valued(&store, "env_0", "org_a", &again).await);
    let page = store
        .valuations(&in_org("org_a", "veh_1"), Page::first(2))
        .await
        .unwrap();
    assert_eq!(days(&page), [5, 3]);
    let rest = store
        .valuations(
            &in_org("org_a", "veh_1"),
            Page::after(Some(page[1].as_of).as_ref(), 10),
        )
        .await
        .unwrap();
    assert_eq!(days(&rest), [2, 1]);
    // A newer computation of day 3 replaces it; an older one does not.
    for (envelope, amount, computed) in [("env_new", 777, at(12, 0)), ("env_old", 111, at(9, 0))] {
        let update = valuation_update("veh_1", 3, Event, amount, computed);
        assert!(valued(&store, envelope, "org_a", &update).await);
    }
    let all = store
        .valuations(&in_org("org_a", "veh_1"), Page::first(10))
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[1].amount_cents, 777);
    assert_eq!(
        all[1],
        valuation_update("veh_1", 3, Event, 777, at(12, 0)).valuation
    );
    // Another organisation sees nothing.
    assert!(
        store
            .valuations(&in_org("org_b", "veh_1"), Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_current_value_is_the_latest_day_and_the_fleet_sums_it_per_currency(store: Store) {
    let (veh_1, foreign) = (in_org("org_a", "veh_1"), in_org("org_b", "veh_1"));
    use vwc_contracts::valuation::ValuationPointKind::Current;
    for (org, id) in [("org_a", "veh_1"), ("org_a", "veh_2"), ("org_b", "veh_3")] {
        registered(&store, &format!("env_r_{id}"), &vehicle(org, id)).await;
    }
    assert_eq!(store.current_valuation(&veh_1).await.unwrap(), None);
    assert!(fleet_value(&store, "org_a").await.is_empty());
    // e2: an earlier day never replaces a later one, whatever the computation time.
    let mut eur = valuation_update("veh_2", 6, Current, 500, at(6, 0));
    eur.valuation.currency = "EUR".into();
    for (envelope, org_id, update) in [
        (
            "e1",
            "org_a",
            valuation_update("veh_1", 5, Current, 1_000, at(5, 0)),
        ),
        (
            "e2",
            "org_a",
            valuation_update("veh_1", 4, Current, 9_999, at(20, 0)),
        ),
        (
            "e3",
            "org_a",
            valuation_update("veh_1", 6, Current, 990, at(6, 0)),
        ),
        ("e4", "org_a", eur),
        (
            "e5",
            "org_b",
            valuation_update("veh_3", 6, Current, 7, at(6, 0)),
        ),
    ] {
        assert!(valued(&store, envelope, org_id, &update).await);
    }
    let current = store.current_valuation(&veh_1).await.unwrap().unwrap();
    assert_eq!(
        (current.amount_cents, current.as_of.to_string()),
        (990, "2024-06-06".to_string())
    );
    assert_eq!(store.current_valuation(&foreign).await.unwrap(), None);
    // Current values are not part of the history.
    assert!(
        store
            .valuations(&veh_1, Page::first(10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        fleet_value(&store, "org_a").await,
        [("EUR".to_string(), 500, 1), ("USD".to_string(), 990, 1)]
    );
    // A vehicle whose value moves to another currency leaves the first currency's total.
    let usd = valuation_update("veh_2", 7, Current, 300, at(7, 0));
    assert!(valued(&store, "e6", "org_a", &usd).await);
    assert_eq!(
        fleet_value(&store, "org_a").await,
        [("USD".to_string(), 1_290, 2)]
    );
    // Each fleet row carries the current value the overview reads, and the fleet value is their sum.
    let rows = store.fleet(&org("org_a"), Page::first(10)).await.unwrap();
    let values: Vec<(String, u64, String, String)> = (rows.iter())
        .map(|r| {
            let v = r.current_value.clone().expect("a current value");
            let id = r.vehicle.vehicle.id.to_string();
            (id, v.amount_cents, v.currency, v.as_of.to_string())
        })
        .collect();
    assert_eq!(
        values,
        [
            ("veh_1".into(), 990, "USD".into(), "2024-06-06".into()),
            ("veh_2".into(), 300, "USD".into(), "2024-06-07".into()),
        ]
    );
    let other = store.fleet(&org("org_b"), Page::first(10)).await.unwrap();
    assert_eq!(
        other[0].current_value.as_ref().map(|v| v.amount_cents),
        Some(7)
    );
}

async fn fuel_events_are_every_fill_up_of_the_vehicle_and_nothing_else(store: Store) {
    let v = vehicle_with_history(&store).await;
    let other = register(&store, "org_a", "veh_2").await;
    let fill = |v: &Vehicle, id: &str, day: u32| VehicleEvent {
        odometer: Some(1_000 + day as u64 * 300),
        details: serde_json::json!({"volume": 40.5, "volumeUnit": "l", "fullTank": day.is_multiple_of(2)}),
        ..event(v, id, EventKind::Fuel, at(day, 12))
    };
    for e in [
        fill(&v, "evt_f2", 2),
        fill(&v, "evt_f6", 6),
        fill(&v, "evt_f4", 4),
        fill(&other, "evt_g1", 1),
    ] {
        apply(&store, &e).await;
    }
    let mut got = ids(store.fuel_events(&in_org("org_a", "veh_1")).await.unwrap());
    got.sort();
    assert_eq!(got, ["evt_f2", "evt_f4", "evt_f6"]);
    let back = store.fuel_events(&in_org("org_a", "veh_1")).await.unwrap();
    assert!(back.iter().all(|e| e.fuel_details().is_some()));
    assert!(
        store
            .fuel_events(&in_org("org_b", "veh_1"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(store.fuel_events(&in_org("org_a", "veh_2")).await.unwrap()),
        ["evt_g1"]
    );
    // The fleet's fuel rows start from the vehicles with fill-ups, in id order, of the organisation only.
    register(&store, "org_a", "veh_3").await;
    assert_eq!(
        store.fuel_vehicles(&org("org_a")).await.unwrap(),
        ["veh_1", "veh_2"]
    );
    assert!(store.fuel_vehicles(&org("org_b")).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------------
// Running every check against every adapter

// ---------------------------------------------------------------------------------------------------
// Corrections, voids and the lifecycle

pub(crate) fn corrected(e: &VehicleEvent, revision: u32) -> TimelineRevision {
    TimelineRevision::corrected(&VehicleEventCorrected {
        event: e.clone(),
        previous: e.clone(),
        revision,
        changed: vec!["costCents".into()],
        reason: None,
        corrected_at: vwc_clock::now(),
        corrected_by: "usr_1".into(),
    })
    .unwrap()
}

pub(crate) fn voided(e: &VehicleEvent, revision: u32) -> TimelineRevision {
    TimelineRevision::voided(&VehicleEventVoided {
        event: e.clone(),
        revision,
        reason: "recorded twice".into(),
        voided_at: vwc_clock::now(),
        voided_by: "usr_1".into(),
    })
    .unwrap()
}

pub(crate) async fn revise(store: &Store, r: &TimelineRevision) {
    let envelope = envelope_id();
    let delivery = Delivery::new(&envelope, &r.event.org_id);
    assert!(
        store
            .apply(&delivery, Projected::Revision(r))
            .await
            .unwrap()
    );
}

async fn a_correction_replaces_the_row_and_a_void_withdraws_it_from_timeline_costs_and_counts(
    store: Store,
) {
    let v = register(&store, "org_a", "veh_1").await;
    let first = reading(&v, "evt_1", at(1, 9), 1_000);
    let second = reading(&v, "evt_2", at(2, 9), 2_000);
    apply(&store, &first).await;
    apply(&store, &second).await;
    let fixed = VehicleEvent {
        cost_cents: Some(9_000),
        odometer: Some(1_100),
        ..first.clone()
    };
    revise(&store, &corrected(&fixed, 2)).await;
    revise(&store, &voided(&second, 2)).await;
    let everything = EventFilter::default();
    let events = store
        .events(&query(&of(&v), &everything, None, 10))
        .await
        .unwrap();
    assert_eq!(events, std::slice::from_ref(&fixed));
    let page = store
        .timeline_page(&query(&of(&v), &everything, None, 10))
        .await
        .unwrap()
        .unwrap();
    let items: serde_json::Value = serde_json::from_slice(&page.into_json(None)).unwrap();
    let item = &items["items"][0];
    assert_eq!(
        (item["corrected"].as_bool(), item["revision"].as_u64()),
        (Some(true), Some(2))
    );
    let with_voided = EventFilter {
        include_voided: true,
        ..EventFilter::default()
    };
    assert_eq!(timeline(&store, &v, &with_voided).await, ["evt_2", "evt_1"]);
    let costs = buckets(&store, "org_a", Some(&v.id), None, None).await;
    assert_eq!(
        costs
            .iter()
            .map(|b| (b.total_cents, b.events))
            .collect::<Vec<_>>(),
        [(9_000, 1)]
    );
    let view = view(&store, "org_a", "veh_1").await;
    assert_eq!(view.event_count, 1);
    assert_eq!(view.odometer.map(|o| o.value), Some(1_100));
    assert_eq!(view.last_event_at, Some(at(1, 9)));
}

async fn an_older_revision_or_the_original_never_replaces_a_newer_one(store: Store) {
    let v = register(&store, "org_a", "veh_1").await;
    let e = reading(&v, "evt_1", at(1, 9), 1_000);
    let third = VehicleEvent {
        odometer: Some(1_300),
        ..e.clone()
    };
    // The revision arrives first; the original and an older revision then change nothing.
    revise(&store, &corrected(&third, 3)).await;
    recorded(&store, &envelope_id(), &e).await;
    revise(
        &store,
        &corrected(
            &VehicleEvent {
                odometer: Some(1_200),
                ..e.clone()
            },
            2,
        ),
    )
    .await;
    let events = store
        .events(&query(&of(&v), &EventFilter::default(), None, 10))
        .await
        .unwrap();
    assert_eq!(events, [third]);
    let view = view(&store, "org_a", "veh_1").await;
    assert_eq!(
        (view.event_count, view.odometer.map(|o| o.value)),
        (1, Some(1_300))
    );
    // Another organisation's envelope naming the same event id changes nothing.
    let stranger = VehicleEvent {
        org_id: "org_b".to_string().into(),
        odometer: Some(9),
        ..e.clone()
    };
    revise(&store, &voided(&stranger, 9)).await;
    assert_eq!(
        timeline(&store, &v, &EventFilter::default()).await,
        ["evt_1"]
    );
}

async fn sold_and_archived_vehicles_leave_the_fleet_and_its_value_but_stay_listed(store: Store) {
    let active = register(&store, "org_a", "veh_1").await;
    let sold = register(&store, "org_a", "veh_2").await;
    let archived = register(&store, "org_a", "veh_3").await;
    let retire = |v: &Vehicle, status| Vehicle {
        status,
        ..v.clone()
    };
    for (v, status) in [
        (&sold, VehicleStatus::Sold),
        (&archived, VehicleStatus::Archived),
    ] {
        assert!(registered(&store, &envelope_id(), &retire(v, status)).await);
    }
    let fleet: Vec<String> = store
        .fleet(&org("org_a"), Page::first(10))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.vehicle.vehicle.id.to_string())
        .collect();
    assert_eq!(fleet, [active.id.to_string()]);
    // Still listed and readable.
    assert_eq!(vehicles_of(&store, "org_a").await.len(), 3);
    let read = view(&store, "org_a", "veh_2").await;
    assert_eq!(read.vehicle.status, VehicleStatus::Sold);
    // The fleet's value sums the active vehicle only.
    use vwc_contracts::valuation::ValuationPointKind::Current;
    for (n, v) in [&active, &sold, &archived].into_iter().enumerate() {
        let update = valuation_update(&v.id, 5, Current, 1_000 * (n as u64 + 1), at(5, 0));
        assert!(valued(&store, &envelope_id(), "org_a", &update).await);
    }
    assert_eq!(
        fleet_value(&store, "org_a").await,
        [("USD".to_string(), 1_000, 1)]
    );
}

/// Each fleet row's lifetime cost per currency: every cost recorded and not voided (corrections
/// included), plus the purchase price given at registration only when no acquisition record of the vehicle
/// carries a cost — kept right through voids and corrections that change a record's kind to or from
/// acquisition, and never mixed across organisations.
async fn a_fleet_rows_lifetime_cost_counts_the_registration_price_only_without_an_acquisition_record(
    store: Store,
) {
    let priced = |org: &str, id: &str, currency: &str| Vehicle {
        purchase_price_cents: Some(2_000_000),
        purchase_currency: Some(currency.into()),
        ..vehicle(org, id)
    };
    for v in [
        priced("org_a", "veh_1", "USD"),
        priced("org_a", "veh_2", "USD"),
        priced("org_a", "veh_3", "EUR"),
        priced("org_a", "veh_4", "EUR"),
        priced("org_b", "veh_5", "USD"),
    ] {
        assert!(registered(&store, &envelope_id(), &v).await);
    }
    let (bought, unbought, rekinded, theirs) = (
        vehicle("org_a", "veh_2"),
        vehicle("org_a", "veh_3"),
        vehicle("org_a", "veh_4"),
        vehicle("org_b", "veh_5"),
    );
    let costing = |v: &Vehicle, id: &str, kind, cents: u64, currency: &str| VehicleEvent {
        cost_cents: Some(cents),
        currency: Some(currency.into()),
        ..event(v, id, kind, at(3, 9))
    };
    // veh_2: an acquisition record without a cost (it holds no purchase: the registration's price still
    // counts) and costs in two currencies.
    let free = VehicleEvent {
        cost_cents: None,
        currency: None,
        ..event(&bought, "evt_2a", EventKind::Acquisition, at(2, 9))
    };
    apply(&store, &free).await;
    apply(
        &store,
        &costing(&bought, "evt_2b", EventKind::Repair, 12_000, "USD"),
    )
    .await;
    apply(
        &store,
        &costing(&bought, "evt_2c", EventKind::Repair, 700, "EUR"),
    )
    .await;
    // veh_3: its only acquisition voided.
    let wrong = costing(
        &unbought,
        "evt_3a",
        EventKind::Acquisition,
        1_800_000,
        "USD",
    );
    apply(&store, &wrong).await;
    apply(
        &store,
        &costing(&unbought, "evt_3b", EventKind::Repair, 5_000, "USD"),
    )
    .await;
    revise(&store, &voided(&wrong, 2)).await;
    // veh_4: a repair corrected into an acquisition.
    let repair = costing(&rekinded, "evt_4a", EventKind::Repair, 30_000, "USD");
    apply(&store, &repair).await;
    let acquisition = VehicleEvent {
        kind: EventKind::Acquisition,
        cost_cents: Some(1_700_000),
        ..repair.clone()
    };
    revise(&store, &corrected(&acquisition, 2)).await;
    // Another organisation's vehicle with an acquisition record.
    apply(
        &store,
        &costing(&theirs, "evt_5a", EventKind::Acquisition, 99_000, "USD"),
    )
    .await;

    type Row = (String, bool, Vec<(String, u64)>);
    async fn rows(store: &Store, org_id: &str) -> Vec<Row> {
        store
            .fleet(&org(org_id), Page::first(10))
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                let costs = r.lifetime_cost.into_iter();
                (
                    r.vehicle.vehicle.id.to_string(),
                    r.purchase_recorded,
                    costs.map(|c| (c.currency, c.total_cents)).collect(),
                )
            })
            .collect()
    }
    let row = |id: &str, has: bool, costs: &[(&str, u64)]| -> Row {
        let costs = costs.iter().map(|(c, n)| (c.to_string(), *n)).collect();
        (id.to_string(), has, costs)
    };
    assert_eq!(
        rows(&store, "org_a").await,
        [
            row("veh_1", false, &[("USD", 2_000_000)]),
            row("veh_2", false, &[("EUR", 700), ("USD", 2_012_000)]),
            row("veh_3", false, &[("EUR", 2_000_000), ("USD", 5_000)]),
            row("veh_4", true, &[("USD", 1_700_000)]),
        ]
    );
    assert_eq!(
        rows(&store, "org_b").await,
        [row("veh_5", true, &[("USD", 99_000)])]
    );
    // Its acquisition given a cost by a correction: that cost is the purchase now.
    let paid = VehicleEvent {
        cost_cents: Some(1_950_000),
        currency: Some("USD".into()),
        ..free.clone()
    };
    revise(&store, &corrected(&paid, 2)).await;
    assert_eq!(
        rows(&store, "org_a").await[1],
        row("veh_2", true, &[("EUR", 700), ("USD", 1_962_000)])
    );
    // Back into a repair, then that repair voided: only the registration's price is left.
    revise(&store, &corrected(&repair, 3)).await;
    assert_eq!(
        rows(&store, "org_a").await[3],
        row("veh_4", false, &[("EUR", 2_000_000), ("USD", 30_000)])
    );
    revise(&store, &voided(&repair, 4)).await;
    assert_eq!(
        rows(&store, "org_a").await[3],
        row("veh_4", false, &[("EUR", 2_000_000)])
    );
}

vwc_testkit::conformance!(
    "edge", Store;
    sqlite("edge.db"): SqliteEdgeStore::open,
    mongodb("edge"): vwc_edge::MongoEdgeStore::connect;
    a_registered_vehicle_reads_back_without_stats,
    a_duplicate_delivery_returns_false_and_has_no_second_effect,
    the_same_event_under_another_envelope_has_no_second_effect,
    an_applied_event_reads_back_unchanged,
    the_timeline_is_newest_first_with_ties_broken_by_id,
    the_timeline_filters_by_kind,
    the_timeline_filters_by_an_inclusive_time_range,
    paging_strictly_after_a_position_covers_every_event_exactly_once,
    timeline_pages_hold_the_stored_json_and_where_the_next_page_starts,
    another_org_sees_neither_the_vehicle_nor_its_timeline,
    vehicles_are_listed_in_id_order_after_a_position,
    the_vehicle_view_counts_events_and_keeps_the_latest_time,
    the_odometer_is_the_highest_reading_the_latest_of_equals_even_out_of_order,
    events_applied_before_the_registration_still_count,
    dead_letters_are_listed_oldest_first_until_replayed,
    a_maintenance_update_reads_back_as_the_vehicle_view,
    a_duplicate_maintenance_delivery_returns_false_and_has_no_second_effect,
    an_older_evaluation_does_not_overwrite_a_newer_one,
    another_org_cannot_read_the_maintenance_view,
    the_fleet_view_counts_enabled_due_soon_and_overdue_items,
    an_in_app_notification_is_added_and_other_channels_are_ignored,
    the_same_notification_under_two_envelopes_is_stored_once,
    a_newer_reminder_about_the_same_item_reads_the_older_ones,
    an_evaluation_that_settles_an_item_reads_its_reminders,
    a_sold_or_archived_vehicles_reminders_are_read_and_later_ones_join_read,
    the_feed_is_newest_first_and_filters_unread,
    paging_the_feed_strictly_after_a_position_covers_every_notification_exactly_once,
    marking_read_keeps_the_first_time_and_stays_in_the_org,
    marking_every_notification_read_stops_at_through_and_keeps_earlier_reads,
    cost_buckets_group_by_vehicle_kind_month_and_currency,
    cost_buckets_filter_by_vehicle_and_an_inclusive_time_range,
    valuation_history_is_newest_first_paged_and_a_point_is_replaced_by_a_newer_computation,
    the_current_value_is_the_latest_day_and_the_fleet_sums_it_per_currency,
    fleet_counts_cover_the_whole_fleet_and_follow_each_newest_evaluation,
    cost_buckets_of_any_range_equal_the_timeline_summed,
    a_ready_store_answers_ping,
    a_correction_replaces_the_row_and_a_void_withdraws_it_from_timeline_costs_and_counts,
    an_older_revision_or_the_original_never_replaces_a_newer_one,
    sold_and_archived_vehicles_leave_the_fleet_and_its_value_but_stay_listed,
    fuel_events_are_every_fill_up_of_the_vehicle_and_nothing_else,
    a_fleet_rows_lifetime_cost_counts_the_registration_price_only_without_an_acquisition_record,
);

/// SQLite only: the aggregates recomputed from the projection (what the migration does for a database
/// written before they existed, and `rebuild_aggregates`) equal the ones kept incrementally.
#[tokio::test]
async fn sqlite_aggregates_rebuilt_from_the_projection_equal_the_incremental_ones() {
    use vwc_contracts::valuation::ValuationPointKind::Current;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edge.db");
    let store: Store = Arc::new(SqliteEdgeStore::open(&path).unwrap());
    let (v1, v2) = fleet_with_costs(&store).await;
    register(&store, "org_a", "veh_3").await;
    // Acquisition records: one that counts, one voided, and a repair corrected into one.
    let bought = costly(
        &v1,
        "a1",
        EventKind::Acquisition,
        on(5, 2),
        Some((900_000, "USD")),
    );
    let wrong = costly(
        &v2,
        "a2",
        EventKind::Acquisition,
        on(5, 3),
        Some((800_000, "USD")),
    );
    let repair = costly(&v2, "a3", EventKind::Repair, on(5, 4), Some((3_000, "EUR")));
    for e in [&bought, &wrong, &repair] {
        apply(&store, e).await;
    }
    revise(&store, &voided(&wrong, 2)).await;
    let rekinded = VehicleEvent {
        kind: EventKind::Acquisition,
        ..repair.clone()
    };
    revise(&store, &corrected(&rekinded, 2)).await;
    maintain(&store, "org_a", &needs_attention(5, vec![])).await;
    let mut eur = valuation_update("veh_2", 6, Current, 500, at(6, 0));
    eur.valuation.currency = "EUR".into();
    assert!(valued(&store, "v1", "org_a", &eur).await);
    let usd = valuation_update("veh_1", 6, Current, 990, at(6, 0));
    assert!(valued(&store, "v2", "org_a", &usd).await);
    type Snapshot = Vec<(
        String,
        String,
        Vec<CostBucket>,
        Vec<CostBucket>,
        String,
        String,
    )>;
    async fn snapshot(store: &Store) -> Snapshot {
        let mut out = Vec::new();
        for org in ["org_a", "org_b"] {
            out.push((
                format!("{:?}", store.fleet_counts(&org.into()).await.unwrap()),
                format!("{:?}", store.fleet_value(&org.into()).await.unwrap()),
                buckets(store, org, None, None, None).await,
                store
                    .fleet_cost_buckets(&org.into(), None, None)
                    .await
                    .unwrap(),
                format!(
                    "{:?}",
                    costs_by_vehicle_in_pages(store, org, None, None, 1_000).await
                ),
                format!(
                    "{:?}",
                    store
                        .fleet(&org.into(), Page::first(10))
                        .await
                        .unwrap()
                        .iter()
                        .map(|r| (&r.vehicle.vehicle.id, r.purchase_recorded, &r.lifetime_cost))
                        .collect::<Vec<_>>()
                ),
            ));
        }
        out
    }
    let incremental = snapshot(&store).await;
    drop(store);
    SqliteEdgeStore::rebuild_aggregates(&path).unwrap();
    let store: Store = Arc::new(SqliteEdgeStore::open(&path).unwrap());
    assert_eq!(snapshot(&store).await, incremental);
    let counts = store.fleet_counts(&org("org_a")).await.unwrap();
    assert_eq!(
        (counts.vehicles, counts.due_soon, counts.overdue),
        (3, 1, 1)
    );
}
