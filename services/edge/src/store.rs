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
use vwc_contracts::{EventKind, OdometerUnit, OrgId, Vehicle, VehicleEvent, VehicleId};
use vwc_store::{Plumbing, StoreResult, parse_ts};

use crate::aggregates::{MonthRange, merge_buckets, split_by_month};

/// A vehicle as the read model shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VehicleView {
    #[serde(flatten)]
    pub vehicle: Vehicle,
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

/// A vehicle's running stats as both adapters keep them (`vehicle_stats`, apart from the vehicle because
/// events may arrive before the registration they follow); timestamps as stored by [`vwc_store::ts`].
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct VehicleStats {
    #[serde(default)]
    pub event_count: i64,
    pub last_event_at: Option<String>,
    pub odometer: Option<i64>,
    pub odometer_at: Option<String>,
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

/// The whole fleet's counts, from the fleet aggregate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetCounts {
    pub vehicles: u64,
    pub due_soon: u64,
    pub overdue: u64,
}

/// A fleet row: the vehicle and how many maintenance items need attention.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetRow {
    #[serde(flatten)]
    pub vehicle: VehicleView,
    pub due_soon: u32,
    pub overdue: u32,
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
pub trait EdgeStore: Plumbing + crate::corrections::RevisionProjection {
    async fn apply_vehicle_registered(
        &self,
        envelope_id: &str,
        vehicle: &Vehicle,
    ) -> StoreResult<bool>;
    async fn apply_vehicle_event(
        &self,
        envelope_id: &str,
        event: &VehicleEvent,
        traceparent: Option<&str>,
    ) -> StoreResult<bool>;
    /// Vehicles of the organisation ordered by id (registration order), after `after_id`.
    async fn vehicles(
        &self,
        org_id: &OrgId,
        after_id: Option<&VehicleId>,
        limit: usize,
    ) -> StoreResult<Vec<VehicleView>>;
    async fn vehicle(
        &self,
        org_id: &OrgId,
        vehicle_id: &VehicleId,
    ) -> StoreResult<Option<VehicleView>>;
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
            let page = self.vehicles(org_id, after.as_ref(), VEHICLE_PAGE).await?;
            let last_page = page.len() < VEHICLE_PAGE;
            after = page.last().map(|v| v.vehicle.id.clone());
            kept.extend(page.into_iter().filter(keep));
            if last_page || kept.len() >= at_most {
                kept.truncate(at_most);
                return Ok(kept);
            }
        }
    }
    /// Timeline newest first (occurredAt, then id, descending), strictly after `after`.
    async fn events(
        &self,
        org_id: &OrgId,
        vehicle_id: &VehicleId,
        filter: &EventFilter,
        after: Option<&TimelinePosition>,
        limit: usize,
    ) -> StoreResult<Vec<VehicleEvent>>;
    /// Replaces the vehicle's maintenance view unless a newer evaluation is already stored.
    async fn apply_maintenance(
        &self,
        envelope_id: &str,
        org_id: &OrgId,
        update: &MaintenanceScheduleUpdated,
    ) -> StoreResult<bool>;
    async fn maintenance(
        &self,
        org_id: &OrgId,
        vehicle_id: &VehicleId,
    ) -> StoreResult<Option<MaintenanceView>>;
    /// Adds an in-app notification to the organisation's feed (other channels are ignored).
    async fn apply_notification(
        &self,
        envelope_id: &str,
        org_id: &OrgId,
        delivered: &NotificationDelivered,
    ) -> StoreResult<bool>;
    /// The feed newest first, strictly after `after` (createdAt, id).
    async fn notifications(
        &self,
        org_id: &OrgId,
        unread_only: bool,
        after: Option<&(DateTime<Utc>, String)>,
        limit: usize,
    ) -> StoreResult<Vec<NotificationView>>;
    /// `false` when no such notification in the organisation.
    async fn mark_notification_read(
        &self,
        org_id: &OrgId,
        notification_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Cost buckets of whole calendar months `months.first..=months.last`, read from the cost aggregates:
    /// the organisation's totals ([`CostScope::Fleet`], `vehicle_id` empty), one vehicle's, or every
    /// vehicle's.
    async fn cost_months(
        &self,
        org_id: &OrgId,
        scope: CostScope<'_>,
        months: &MonthRange,
    ) -> StoreResult<Vec<CostBucket>>;
    /// Cost buckets summed from the timeline events with `occurredAt` in [from, to] (inclusive): only for
    /// the pieces of a month at the ends of a range (see [`split_by_month`]).
    async fn costs_between(
        &self,
        org_id: &OrgId,
        vehicle_id: Option<&VehicleId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
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
    async fn vehicle_cost_totals(
        &self,
        org_id: &OrgId,
        months: &MonthRange,
        after: Option<&CostKey>,
        limit: usize,
    ) -> StoreResult<Vec<CostTotal>>;
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
                self.vehicle_cost_totals(org_id, months, after, limit)
                    .await?
            }
            None => Vec::new(),
        };
        let mut pieces = Vec::new();
        for (from, to) in period.partial {
            pieces.extend(self.costs_between(org_id, None, from, to).await?);
        }
        Ok(crate::read_model::page_of_vehicle_totals(
            whole, pieces, after, limit,
        ))
    }
    /// The whole fleet's vehicle and attention counts (every vehicle of the organisation).
    async fn fleet_counts(&self, org_id: &OrgId) -> StoreResult<FleetCounts>;
    /// Vehicles with their due-soon and overdue counts, by id after `after_id`.
    async fn fleet(
        &self,
        org_id: &OrgId,
        after_id: Option<&VehicleId>,
        limit: usize,
    ) -> StoreResult<Vec<FleetRow>>;
    /// The timeline page the API serves: `None` when the vehicle is not in the organisation's read model,
    /// else up to `limit` events as their stored JSON, and where the next page starts
    /// ([`TimelinePage`](crate::timeline_page::TimelinePage)). Adapters answer it in one round trip
    /// when the page is not empty.
    async fn timeline_page(
        &self,
        org_id: &OrgId,
        vehicle_id: &VehicleId,
        filter: &EventFilter,
        after: Option<&TimelinePosition>,
        limit: usize,
    ) -> StoreResult<Option<crate::timeline_page::TimelinePage>>;
    /// Projects one valuation point: a history point replaces the vehicle's point of the same `asOf`,
    /// a `current` one the vehicle's current value; an older computation never replaces a newer one.
    async fn apply_valuation(
        &self,
        envelope_id: &str,
        org_id: &OrgId,
        update: &ValuationUpdated,
    ) -> StoreResult<bool>;
    /// The valuation history newest first (`asOf` descending), strictly before `before`.
    async fn valuations(
        &self,
        org_id: &OrgId,
        vehicle_id: &VehicleId,
        before: Option<chrono::NaiveDate>,
        limit: usize,
    ) -> StoreResult<Vec<Valuation>>;
    /// The vehicle's current value.
    async fn current_valuation(
        &self,
        org_id: &OrgId,
        vehicle_id: &VehicleId,
    ) -> StoreResult<Option<Valuation>>;
    /// The organisation's current values summed per currency (by currency code).
    async fn fleet_value(&self, org_id: &OrgId) -> StoreResult<Vec<FleetValue>>;
    /// The ids of the organisation's vehicles that have a `fuel` event not voided: the fleet's fuel rows
    /// read only those (not every vehicle of a fleet that mostly records no fill-ups).
    async fn fuel_vehicles(&self, org_id: &OrgId) -> StoreResult<Vec<VehicleId>>;
    /// Every `fuel` event of one vehicle (any order). Voided events must not be answered once voids exist.
    async fn fuel_events(
        &self,
        org_id: &OrgId,
        vehicle_id: &VehicleId,
    ) -> StoreResult<Vec<VehicleEvent>> {
        let filter = EventFilter {
            kinds: vec![EventKind::Fuel],
            ..EventFilter::default()
        };
        let mut all = Vec::new();
        let mut after: Option<TimelinePosition> = None;
        loop {
            let page = self
                .events(org_id, vehicle_id, &filter, after.as_ref(), FUEL_PAGE)
                .await?;
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
    let mut buckets = Vec::new();
    if let Some(months) = &period.whole {
        buckets.extend(store.cost_months(org_id, scope, months).await?);
    }
    let vehicle_id = match scope {
        CostScope::Vehicle(vehicle_id) => Some(vehicle_id),
        CostScope::Fleet | CostScope::EachVehicle => None,
    };
    for (from, to) in period.partial {
        let pieces = store.costs_between(org_id, vehicle_id, from, to).await?;
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
