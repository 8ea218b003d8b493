//! The edge projection store port. `apply_*` methods claim the envelope id in the inbox in the same
//! transaction as their effect and return `false` for a duplicate delivery.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use vwc_contracts::maintenance::{
    Channel, MaintenanceItemView, MaintenanceScheduleUpdated, MaintenanceStatus,
    NotificationDelivered, OdometerEstimateView,
};
use vwc_contracts::valuation::{Valuation, ValuationUpdated};
use vwc_contracts::{Envelope, EventKind, OdometerUnit, OrgId, Vehicle, VehicleEvent, VehicleId};
pub use vwc_store::{Page, VehicleRef};
use vwc_store::{Plumbing, StoreResult, parse_ts};

use crate::aggregates::{MonthRange, merge_buckets, split_by_month};
use crate::corrections::TimelineRevision;

/// A vehicle as the read model shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VehicleView {
    #[serde(flatten)]
    pub vehicle: Vehicle,
    /// The highest reading of its records (the latest of equal ones): a later, lower one is a rollback,
    /// left out here as the maintenance scheduler leaves it out.
    pub odometer: Option<OdometerView>,
    pub event_count: u64,
    pub last_event_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OdometerView {
    pub value: u64,
    pub unit: OdometerUnit,
    pub as_of: DateTime<Utc>,
    pub estimated: bool,
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub kinds: Vec<EventKind>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Voided records too (marked); the default timeline leaves them out.
    pub include_voided: bool,
}

/// Position after which the next timeline page starts (newest first).
#[derive(Debug, Clone, PartialEq)]
pub struct TimelinePosition {
    pub occurred_at: DateTime<Utc>,
    pub id: String,
}

/// A read of one vehicle's timeline, newest first (occurredAt, then id, descending): which events, and
/// the page strictly after a position.
#[derive(Debug, Clone, Copy)]
pub struct TimelineQuery<'a> {
    pub vehicle: &'a VehicleRef,
    pub filter: &'a EventFilter,
    pub page: Page<'a, TimelinePosition>,
}

/// One delivery the read model projects: the envelope's id, claimed in the inbox in the same
/// transaction as the effect (a redelivery changes nothing and answers `false`), the organisation it
/// was published for and its trace context.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    pub envelope_id: &'a str,
    pub org_id: &'a OrgId,
    pub traceparent: Option<&'a str>,
}

impl<'a> Delivery<'a> {
    /// The delivery of `envelope` under the id the bus claims it by.
    pub fn of(envelope_id: &'a str, envelope: &'a Envelope) -> Delivery<'a> {
        Delivery {
            envelope_id,
            org_id: &envelope.org_id,
            traceparent: envelope.traceparent.as_deref(),
        }
    }

    /// A delivery without trace context.
    pub fn new(envelope_id: &'a str, org_id: &'a OrgId) -> Delivery<'a> {
        Delivery {
            envelope_id,
            org_id,
            traceparent: None,
        }
    }
}

/// One change the read model projects, as its event carries it.
#[derive(Debug, Clone, Copy)]
pub enum Projected<'a> {
    /// A registration or lifecycle change: the whole vehicle as it now reads replaces the stored one
    /// (never moving it to another organisation).
    Vehicle(&'a Vehicle),
    /// A timeline event. The same event under another envelope id (a re-publish) has no second effect
    /// and answers `false`.
    Event(&'a VehicleEvent),
    /// The scheduler's evaluation: replaces the vehicle's maintenance view unless a newer evaluation is
    /// already stored.
    Maintenance(&'a MaintenanceScheduleUpdated),
    /// A delivery: an in-app one joins the organisation's feed (other channels are ignored).
    Notification(&'a NotificationDelivered),
    /// One valuation point: a history point replaces the vehicle's point of the same `asOf`, a
    /// `current` one the vehicle's current value; an older computation never replaces a newer one.
    Valuation(&'a ValuationUpdated),
    /// A correction or void: replaces the record's row unless a later revision is held (a revision that
    /// arrives before the original is held, and the original then changes nothing), and recounts the
    /// vehicle's events, last event and odometer over its records that are not voided.
    Revision(&'a TimelineRevision),
}

/// A page of an organisation's notification feed, newest first (createdAt, then id).
#[derive(Debug, Clone, Copy)]
pub struct Feed<'a> {
    pub org_id: &'a OrgId,
    /// Only the notifications not read yet.
    pub unread_only: bool,
    pub page: Page<'a, (DateTime<Utc>, String)>,
}

/// One notification of an organisation's feed.
#[derive(Debug, Clone, Copy)]
pub struct NotificationRef<'a> {
    pub org_id: &'a OrgId,
    pub id: &'a str,
}

/// The maintenance picture of a vehicle, as the scheduler last published it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceView {
    pub vehicle_id: String,
    pub items: Vec<MaintenanceItemView>,
    pub odometer: Option<OdometerEstimateView>,
    pub evaluated_at: DateTime<Utc>,
}

/// One in-app notification in an organisation's feed.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    pub id: String,
    pub title: String,
    pub body: String,
    pub vehicle_id: Option<String>,
    pub severity: Option<MaintenanceStatus>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl MaintenanceView {
    /// The view of the scheduler's evaluation as both adapters store it (the event's JSON as the body).
    pub fn of(update: MaintenanceScheduleUpdated) -> MaintenanceView {
        MaintenanceView {
            vehicle_id: update.vehicle_id,
            items: update.items,
            odometer: update.odometer,
            evaluated_at: update.evaluated_at,
        }
    }
}

impl NotificationView {
    /// The feed entry of a delivery, unread; `None` for the channels the feed does not show (only in-app
    /// deliveries are projected).
    pub fn in_app(delivered: &NotificationDelivered) -> Option<NotificationView> {
        (delivered.channel == Channel::InApp).then(|| NotificationView {
            id: delivered.notification_id.clone(),
            title: delivered.title.clone(),
            body: delivered.body.clone(),
            vehicle_id: delivered.vehicle_id.clone(),
            severity: delivered.severity,
            created_at: delivered.delivered_at,
            read_at: None,
        })
    }
}

/// The item an in-app reminder is about and when the evaluation that made it ran: what the feed needs to tell
/// a reminder that no longer holds (docs/events.md, "Reminders that no longer hold"). `None` for a
/// delivery written before `NotificationDelivered` carried `task` and `remindedAt`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReminderItem {
    pub vehicle_id: String,
    pub task: String,
    pub reminded_at: DateTime<Utc>,
}

impl ReminderItem {
    pub fn of(delivered: &NotificationDelivered) -> Option<ReminderItem> {
        Some(ReminderItem {
            vehicle_id: delivered.vehicle_id.clone()?,
            task: delivered.task.clone()?,
            reminded_at: delivered.reminded_at?,
        })
    }

    /// Whether `evaluation` settles this reminder: it ran after the reminder was made and says the item
    /// needs no attention (ok, unknown or turned off). An item the evaluation does not hold (a valuation
    /// drop's) is never settled by one.
    pub fn settled_by(&self, evaluation: &MaintenanceScheduleUpdated) -> bool {
        evaluation.evaluated_at > self.reminded_at
            && settled_tasks(evaluation).any(|task| task == self.task)
    }
}

/// The tasks an evaluation says need no attention: their earlier reminders no longer hold.
pub fn settled_tasks(evaluation: &MaintenanceScheduleUpdated) -> impl Iterator<Item = &str> {
    evaluation
        .items
        .iter()
        .filter(|i| {
            !(i.enabled
                && matches!(
                    i.status,
                    MaintenanceStatus::DueSoon | MaintenanceStatus::Overdue
                ))
        })
        .map(|i| i.task.as_str())
}

/// A vehicle's running stats as both adapters keep them (`vehicle_stats`, apart from the vehicle because
/// events may arrive before the registration they follow); timestamps as stored by [`vwc_store::ts`].
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct VehicleStats {
    #[serde(default)]
    pub event_count: i64,
    pub last_event_at: Option<String>,
    pub odometer: Option<i64>,
    pub odometer_at: Option<String>,
    /// Its acquisition records that count (recorded, not voided): see [`FleetRow::purchase_recorded`].
    #[serde(default)]
    pub acquisitions: i64,
}

impl VehicleStats {
    /// The read model's view of `vehicle` with these stats (no stats yet: no events, no odometer).
    pub fn view(self, vehicle: Vehicle) -> StoreResult<VehicleView> {
        let odometer = match (self.odometer, self.odometer_at) {
            (Some(value), Some(at)) => Some(OdometerView {
                value: value.max(0) as u64,
                unit: vehicle.odometer_unit,
                as_of: parse_ts(&at)?,
                estimated: false,
            }),
            _ => None,
        };
        Ok(VehicleView {
            odometer,
            event_count: self.event_count.max(0) as u64,
            last_event_at: self.last_event_at.as_deref().map(parse_ts).transpose()?,
            vehicle,
        })
    }
}

/// One stored cost aggregate row (`cost_months`, or `fleet_cost_months` without a vehicle), as both
/// adapters read it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CostRow {
    #[serde(default)]
    pub vehicle_id: String,
    pub kind: String,
    pub month: String,
    pub currency: String,
    pub total_cents: i64,
    pub events: i64,
}

impl CostRow {
    /// The row as a bucket; `None` for a kind this version does not know.
    pub fn bucket(self) -> Option<CostBucket> {
        Some(CostBucket {
            vehicle_id: self.vehicle_id,
            kind: EventKind::parse(&self.kind)?,
            month: self.month,
            currency: self.currency,
            total_cents: self.total_cents.max(0) as u64,
            events: self.events.max(0) as u64,
        })
    }
}

/// The `asOf` text every valuation day is before: the history's first page when no position is given.
pub fn valuations_before(before: Option<chrono::NaiveDate>) -> String {
    // Dates compare as text: `YYYY-MM-DD`; "9999-12-31" is after every day.
    before.map_or_else(|| "9999-12-31".to_string(), |d| d.to_string())
}

/// Costs summed by (vehicle, kind, calendar month, currency): the unit every cost view is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct CostBucket {
    pub vehicle_id: String,
    pub kind: EventKind,
    /// `YYYY-MM`
    pub month: String,
    pub currency: String,
    pub total_cents: u64,
    pub events: u64,
}

/// A vehicle's costs in one currency over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostTotal {
    pub vehicle_id: String,
    pub currency: String,
    pub total_cents: u64,
    pub events: u64,
}

/// Where a page of per-vehicle cost totals stands: (vehicle id, currency), the order they are listed in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct CostKey {
    #[serde(rename = "v")]
    pub vehicle_id: String,
    #[serde(rename = "c")]
    pub currency: String,
}

impl CostTotal {
    pub fn key(&self) -> CostKey {
        CostKey {
            vehicle_id: self.vehicle_id.clone(),
            currency: self.currency.clone(),
        }
    }
}

/// Which cost aggregate to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostScope<'a> {
    /// The organisation's totals by (month, kind, currency).
    Fleet,
    /// One vehicle's buckets.
    Vehicle(&'a VehicleId),
    /// Every vehicle's buckets.
    EachVehicle,
}

impl CostScope<'_> {
    /// The one vehicle read, if the scope is one vehicle.
    pub fn vehicle_id(&self) -> Option<&VehicleId> {
        match self {
            CostScope::Vehicle(vehicle_id) => Some(vehicle_id),
            CostScope::Fleet | CostScope::EachVehicle => None,
        }
    }
}

/// Whose costs a read sums: an organisation, and which of its vehicles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostsOf<'a> {
    pub org_id: &'a OrgId,
    pub scope: CostScope<'a>,
}

/// A page of each vehicle's cost totals over whole months, ordered by (vehicle id, currency).
#[derive(Debug, Clone, Copy)]
pub struct VehicleTotals<'a> {
    pub org_id: &'a OrgId,
    pub months: &'a MonthRange,
    pub page: Page<'a, CostKey>,
}

/// The whole fleet's counts, from the fleet aggregate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetCounts {
    pub vehicles: u64,
    pub due_soon: u64,
    pub overdue: u64,
    /// Vehicles with at least one enabled item overdue.
    pub vehicles_overdue: u64,
}

/// A fleet row: the vehicle, how many maintenance items need attention and what it is worth now.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetRow {
    #[serde(flatten)]
    pub vehicle: VehicleView,
    pub due_soon: u32,
    pub overdue: u32,
    /// The vehicle's current value: the same point as its overview's `valuation` (not the latest point of
    /// its valuation history, a day or a month older); `null` until the valuation service has valued it.
    /// The overview's `totals.value` is these summed per currency over every row of every page.
    pub current_value: Option<RowValue>,
    /// Whether the vehicle has an acquisition record with a cost (recorded, not voided): that cost is the
    /// purchase, so the purchase price given at registration does not count again in `lifetimeCost`. An
    /// acquisition record without a cost leaves the registration's price counting.
    pub purchase_recorded: bool,
    /// The vehicle's lifetime cost, one amount per currency (by currency code; empty: no cost at all):
    /// everything paid for it over its whole history — every cost recorded and not voided, corrections
    /// included, an acquisition record's cost (what was paid in all) as its purchase — plus the purchase
    /// price given at registration (`purchasePriceCents` in `purchaseCurrency`) when no acquisition record
    /// carries a cost (`purchaseRecorded` false). Not a sale's total cost of ownership, which counts one
    /// owner's share: the latest acquisition's price (`details.priceCents`) and the costs since, in the
    /// sale's currency (docs/corrections.md). Kept with the projection, so a page of rows reads a few
    /// aggregate rows per vehicle.
    pub lifetime_cost: Vec<LifetimeCost>,
}

/// A vehicle's lifetime cost in one currency, as its fleet row carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LifetimeCost {
    pub currency: String,
    pub total_cents: u64,
}

impl LifetimeCost {
    /// The lifetime cost of `vehicle` per currency, by currency code: `recorded` — the totals of its
    /// recorded costs kept with the projection, as (currency, cents, events); a currency with no event left
    /// is none — plus the registration's purchase price when it has no acquisition record.
    pub fn of(
        vehicle: &Vehicle,
        purchase_recorded: bool,
        recorded: impl IntoIterator<Item = (String, i64, i64)>,
    ) -> Vec<LifetimeCost> {
        let mut sums: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for (currency, cents, events) in recorded {
            if events > 0 {
                *sums.entry(currency).or_default() += cents.max(0) as u64;
            }
        }
        if !purchase_recorded
            && let (Some(price), Some(currency)) = (
                vehicle.purchase_price_cents,
                vehicle.purchase_currency.as_ref(),
            )
            && !currency.is_empty()
        {
            *sums.entry(currency.clone()).or_default() += price;
        }
        sums.into_iter()
            .map(|(currency, total_cents)| LifetimeCost {
                currency,
                total_cents,
            })
            .collect()
    }
}

/// A vehicle's current value as a fleet row carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RowValue {
    pub amount_cents: u64,
    pub currency: String,
    /// The day the value is for.
    pub as_of: chrono::NaiveDate,
}

impl RowValue {
    /// The value from the fields both adapters keep beside a current valuation's body (`amount`,
    /// `currency`, `as_of` as `YYYY-MM-DD`).
    pub fn stored(amount: i64, currency: String, as_of: &str) -> StoreResult<RowValue> {
        let as_of = chrono::NaiveDate::parse_from_str(as_of, "%Y-%m-%d").map_err(|e| {
            vwc_store::StoreError::Other(format!("bad valuation day {as_of:?}: {e}"))
        })?;
        Ok(RowValue {
            amount_cents: amount.max(0) as u64,
            currency,
            as_of,
        })
    }
}

/// The organisation's vehicles' current values summed, per currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetValue {
    pub currency: String,
    pub total_cents: u64,
    /// Vehicles with a current value in this currency.
    pub vehicles: u64,
}

#[async_trait]
pub trait EdgeStore: Plumbing {
    /// Applies `change` once per delivery: the envelope id is claimed in the inbox in the same
    /// transaction as the effect, and a duplicate delivery answers `false` with no effect.
    async fn apply(&self, delivery: &Delivery<'_>, change: Projected<'_>) -> StoreResult<bool>;
    /// Vehicles of the organisation ordered by id (registration order).
    async fn vehicles(
        &self,
        org_id: &OrgId,
        page: Page<'_, VehicleId>,
    ) -> StoreResult<Vec<VehicleView>>;
    async fn vehicle(&self, vehicle: &VehicleRef) -> StoreResult<Option<VehicleView>>;
    /// Up to `at_most` of the organisation's vehicles that `keep` accepts, by id, read a page at a time.
    async fn vehicles_up_to(
        &self,
        org_id: &OrgId,
        keep: for<'v> fn(&'v VehicleView) -> bool,
        at_most: usize,
    ) -> StoreResult<Vec<VehicleView>> {
        let mut kept = Vec::new();
        let mut after: Option<VehicleId> = None;
        loop {
            let page = Page::after(after.as_ref(), VEHICLE_PAGE);
            let page = self.vehicles(org_id, page).await?;
            let last_page = page.len() < VEHICLE_PAGE;
            after = page.last().map(|v| v.vehicle.id.clone());
            kept.extend(page.into_iter().filter(keep));
            if last_page || kept.len() >= at_most {
                kept.truncate(at_most);
                return Ok(kept);
            }
        }
    }
    /// The vehicle's timeline page (see [`TimelineQuery`]).
    async fn events(&self, query: &TimelineQuery<'_>) -> StoreResult<Vec<VehicleEvent>>;
    async fn maintenance(&self, vehicle: &VehicleRef) -> StoreResult<Option<MaintenanceView>>;
    /// A page of the feed (see [`Feed`]).
    async fn notifications(&self, feed: Feed<'_>) -> StoreResult<Vec<NotificationView>>;
    /// `false` when no such notification in the organisation.
    async fn mark_notification_read(
        &self,
        notification: NotificationRef<'_>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Marks read, at `at`, every unread notification of the organisation — only those up to and including
    /// `through` in the feed's order (newest first: that one and every older one) when it is given — and
    /// says how many it marked; `None` when `through` names no notification of the organisation.
    async fn mark_notifications_read(
        &self,
        org_id: &OrgId,
        through: Option<&str>,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<u64>>;
    /// Cost buckets of whole calendar months `months.first..=months.last`, read from the cost aggregates:
    /// the organisation's totals ([`CostScope::Fleet`], `vehicle_id` empty), one vehicle's, or every
    /// vehicle's.
    async fn cost_months(
        &self,
        of: CostsOf<'_>,
        months: &MonthRange,
    ) -> StoreResult<Vec<CostBucket>>;
    /// Cost buckets summed from the timeline events with `occurredAt` in [from, to] (inclusive): only for
    /// the pieces of a month at the ends of a range (see [`split_by_month`]). The fleet scope reads
    /// every vehicle's, as [`CostScope::EachVehicle`] does.
    async fn costs_between(
        &self,
        of: CostsOf<'_>,
        range: (DateTime<Utc>, DateTime<Utc>),
    ) -> StoreResult<Vec<CostBucket>>;
    /// Cost buckets of the organisation (or one vehicle) with `occurredAt` in [from, to]: whole months from
    /// the aggregates, the pieces at the ends from the timeline.
    async fn cost_buckets(
        &self,
        org_id: &OrgId,
        vehicle_id: Option<&VehicleId>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<CostBucket>> {
        let scope = vehicle_id.map_or(CostScope::EachVehicle, CostScope::Vehicle);
        costs_over_period(self, org_id, scope, from, to).await
    }
    /// The organisation's costs with `occurredAt` in [from, to] by (month, kind, currency), `vehicle_id`
    /// empty: what the fleet's cost by month or by kind is folded from.
    async fn fleet_cost_buckets(
        &self,
        org_id: &OrgId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<CostBucket>> {
        costs_over_period(self, org_id, CostScope::Fleet, from, to).await
    }
    /// A page of each vehicle's costs over whole months `months.first..=months.last`, per currency, summed
    /// by the store from the cost aggregates: up to `limit` totals ordered by (vehicle id, currency),
    /// strictly after `after`, each with at least one event.
    async fn vehicle_cost_totals(&self, totals: VehicleTotals<'_>) -> StoreResult<Vec<CostTotal>>;
    /// A page of the fleet's cost by vehicle: each vehicle's costs with `occurredAt` in [from, to], per
    /// currency, up to `limit` totals ordered by (vehicle id, currency), strictly after `after`.
    async fn fleet_costs_by_vehicle(
        &self,
        org_id: &OrgId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        after: Option<&CostKey>,
        limit: usize,
    ) -> StoreResult<Vec<CostTotal>> {
        let period = split_by_month(from, to);
        let whole = match &period.whole {
            Some(months) => {
                let page = Page::after(after, limit);
                let totals = VehicleTotals {
                    org_id,
                    months,
                    page,
                };
                self.vehicle_cost_totals(totals).await?
            }
            None => Vec::new(),
        };
        let each_vehicle = CostsOf {
            org_id,
            scope: CostScope::EachVehicle,
        };
        let mut pieces = Vec::new();
        for range in period.partial {
            pieces.extend(self.costs_between(each_vehicle, range).await?);
        }
        Ok(crate::read_model::page_of_vehicle_totals(
            whole, pieces, after, limit,
        ))
    }
    /// The whole fleet's vehicle and attention counts (every vehicle of the organisation).
    async fn fleet_counts(&self, org_id: &OrgId) -> StoreResult<FleetCounts>;
    /// Vehicles with their due-soon and overdue counts, by id.
    async fn fleet(&self, org_id: &OrgId, page: Page<'_, VehicleId>) -> StoreResult<Vec<FleetRow>>;
    /// The timeline page the API serves: `None` when the vehicle is not in the organisation's read model,
    /// else up to `limit` events as their stored JSON, and where the next page starts
    /// ([`TimelinePage`](crate::timeline_page::TimelinePage)). Adapters answer it in one round trip
    /// when the page is not empty.
    async fn timeline_page(
        &self,
        query: &TimelineQuery<'_>,
    ) -> StoreResult<Option<crate::timeline_page::TimelinePage>>;
    /// How many times the vehicle's timeline has changed (rows added, corrected, voided), for
    /// [`PageCache`](crate::page_cache::PageCache) and the page's `ETag`: `None` when the vehicle is not in
    /// the organisation's read model, or when this store keeps no such count (MongoDB's adapter: every
    /// page is then read whole). It only ever grows, whatever process or path wrote the timeline.
    async fn timeline_version(&self, _vehicle: &VehicleRef) -> StoreResult<Option<u64>> {
        Ok(None)
    }
    /// The valuation history newest first (`asOf` descending): the page's `after` is the day the
    /// points are strictly before.
    async fn valuations(
        &self,
        vehicle: &VehicleRef,
        page: Page<'_, chrono::NaiveDate>,
    ) -> StoreResult<Vec<Valuation>>;
    /// The vehicle's current value.
    async fn current_valuation(&self, vehicle: &VehicleRef) -> StoreResult<Option<Valuation>>;
    /// The organisation's current values summed per currency (by currency code).
    async fn fleet_value(&self, org_id: &OrgId) -> StoreResult<Vec<FleetValue>>;
    /// The ids of the organisation's vehicles that have a `fuel` event not voided: the fleet's fuel rows
    /// read only those (not every vehicle of a fleet that mostly records no fill-ups).
    async fn fuel_vehicles(&self, org_id: &OrgId) -> StoreResult<Vec<VehicleId>>;
    /// Every `fuel` event of one vehicle (any order). Voided events must not be answered once voids exist.
    async fn fuel_events(&self, vehicle: &VehicleRef) -> StoreResult<Vec<VehicleEvent>> {
        let filter = EventFilter {
            kinds: vec![EventKind::Fuel],
            ..EventFilter::default()
        };
        let mut all = Vec::new();
        let mut after: Option<TimelinePosition> = None;
        loop {
            let page = Page::after(after.as_ref(), FUEL_PAGE);
            let query = TimelineQuery {
                vehicle,
                filter: &filter,
                page,
            };
            let page = self.events(&query).await?;
            let done = page.len() < FUEL_PAGE;
            after = page.last().map(|e| TimelinePosition {
                occurred_at: e.occurred_at,
                id: e.id.to_string(),
            });
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }
}

/// Page size `vehicles_up_to` reads the vehicles with.
const VEHICLE_PAGE: usize = 200;

/// Page size `fuel_events` reads the timeline with.
const FUEL_PAGE: usize = 1_000;

/// Cost buckets of `scope` with `occurredAt` in [from, to]: whole months from the aggregates, the pieces
/// at the ends from the timeline (the fleet's pieces summed without their vehicle, as its aggregate is).
async fn costs_over_period<S: EdgeStore + ?Sized>(
    store: &S,
    org_id: &OrgId,
    scope: CostScope<'_>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> StoreResult<Vec<CostBucket>> {
    let period = split_by_month(from, to);
    let of = CostsOf { org_id, scope };
    let mut buckets = Vec::new();
    if let Some(months) = &period.whole {
        buckets.extend(store.cost_months(of, months).await?);
    }
    for range in period.partial {
        let pieces = store.costs_between(of, range).await?;
        buckets.extend(pieces.into_iter().map(|b| match scope {
            CostScope::Fleet => CostBucket {
                vehicle_id: String::new(),
                ..b
            },
            CostScope::Vehicle(_) | CostScope::EachVehicle => b,
        }));
    }
    Ok(merge_buckets(buckets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amounts(costs: Vec<LifetimeCost>) -> Vec<(String, u64)> {
        costs
            .into_iter()
            .map(|c| (c.currency, c.total_cents))
            .collect()
    }

    #[test]
    fn the_registration_price_counts_in_the_lifetime_cost_only_without_an_acquisition_record() {
        let priced = Vehicle {
            purchase_price_cents: Some(2_000_000),
            purchase_currency: Some("EUR".into()),
            ..vwc_contracts::examples::vehicle()
        };
        let recorded = || {
            vec![
                ("USD".to_string(), 5_000, 2),
                ("EUR".to_string(), 700, 1),
                // A currency whose every record was voided counts nothing.
                ("GBP".to_string(), 0, 0),
            ]
        };
        assert_eq!(
            amounts(LifetimeCost::of(&priced, false, recorded())),
            [("EUR".to_string(), 2_000_700), ("USD".to_string(), 5_000)]
        );
        assert_eq!(
            amounts(LifetimeCost::of(&priced, true, recorded())),
            [("EUR".to_string(), 700), ("USD".to_string(), 5_000)]
        );
        // No records: the registration's price alone; no price either: nothing at all.
        assert_eq!(
            amounts(LifetimeCost::of(&priced, false, [])),
            [("EUR".to_string(), 2_000_000)]
        );
        let unpriced = vwc_contracts::examples::vehicle();
        assert!(LifetimeCost::of(&unpriced, false, []).is_empty());
        // A cost of nothing recorded is an amount of nothing, not none.
        assert_eq!(
            amounts(LifetimeCost::of(&unpriced, false, [("USD".into(), 0, 1)])),
            [("USD".to_string(), 0)]
        );
    }
}
