//! The read model's arithmetic: how the HTTP views are folded from what the store answers (cost
//! summaries, the fleet's cost groups and totals, a page of per-vehicle totals, fleet fuel rows, which
//! odometer an overview shows). Pure functions, no I/O: the handlers fetch, these compute.

use std::collections::BTreeMap;

use chrono::{DateTime, Months, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use vwc_contracts::lifecycle::Sale;
use vwc_contracts::maintenance::OdometerEstimateView;
use vwc_contracts::{OdometerUnit, VehicleEvent};

use crate::fuel::{FuelCost, round};
use crate::store::{CostBucket, CostKey, CostTotal, MaintenanceView, OdometerView};

/// Costs in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CostSummary {
    pub currency: String,
    pub lifetime_cents: u64,
    pub last12_months_cents: u64,
    /// Lifetime cost per event kind (keys are event kinds).
    pub by_kind: BTreeMap<String, u64>,
}

/// The first month (`YYYY-MM`) of "the last 12 months" on `now`: this month and the eleven before it.
pub fn last_12_months_since(now: DateTime<Utc>) -> String {
    (now - Months::new(11)).format("%Y-%m").to_string()
}

/// Folds cost buckets into per-currency summaries; `since_month` bounds "last 12 months" (by calendar
/// month, inclusive).
pub fn summarise_costs(buckets: &[CostBucket], since_month: &str) -> Vec<CostSummary> {
    let mut by_currency: BTreeMap<String, CostSummary> = BTreeMap::new();
    for b in buckets {
        let s = by_currency
            .entry(b.currency.clone())
            .or_insert_with(|| CostSummary {
                currency: b.currency.clone(),
                lifetime_cents: 0,
                last12_months_cents: 0,
                by_kind: BTreeMap::new(),
            });
        s.lifetime_cents += b.total_cents;
        if b.month.as_str() >= since_month {
            s.last12_months_cents += b.total_cents;
        }
        *s.by_kind.entry(b.kind.as_str().to_string()).or_default() += b.total_cents;
    }
    by_currency.into_values().collect()
}

/// How fleet costs are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CostGrouping {
    Month,
    Kind,
    Vehicle,
}

/// Costs of one group in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CostGroup {
    /// The month (`YYYY-MM`), event kind or vehicle id, as `groupBy` says.
    pub key: String,
    pub currency: String,
    pub total_cents: u64,
    /// Events with a cost in the group.
    pub events: u64,
}

/// The organisation's buckets grouped by month or by kind, one group per (key, currency), ordered so.
/// (By vehicle, the groups are [`CostTotal`]s the store pages; see [`page_of_vehicle_totals`].)
pub fn group_fleet_costs(buckets: &[CostBucket], by_month: bool) -> Vec<CostGroup> {
    let mut groups: BTreeMap<(String, String), CostGroup> = BTreeMap::new();
    for b in buckets {
        let key = if by_month {
            b.month.clone()
        } else {
            b.kind.as_str().to_string()
        };
        let g = groups
            .entry((key.clone(), b.currency.clone()))
            .or_insert_with(|| CostGroup {
                key,
                currency: b.currency.clone(),
                total_cents: 0,
                events: 0,
            });
        g.total_cents += b.total_cents;
        g.events += b.events;
    }
    groups.into_values().collect()
}

impl From<CostTotal> for CostGroup {
    fn from(t: CostTotal) -> CostGroup {
        CostGroup {
            key: t.vehicle_id,
            currency: t.currency,
            total_cents: t.total_cents,
            events: t.events,
        }
    }
}

/// The whole fleet's costs in one currency over the requested range (every vehicle, not only a page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrencyTotal {
    pub currency: String,
    pub total_cents: u64,
    /// Events with a cost.
    pub events: u64,
}

/// The buckets summed per currency, by currency code.
pub fn currency_totals(buckets: &[CostBucket]) -> Vec<CurrencyTotal> {
    let mut sums: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for b in buckets {
        let sum = sums.entry(b.currency.as_str()).or_default();
        sum.0 += b.total_cents;
        sum.1 += b.events;
    }
    sums.into_iter()
        .map(|(currency, (total_cents, events))| CurrencyTotal {
            currency: currency.to_string(),
            total_cents,
            events,
        })
        .collect()
}

/// One page of the fleet's cost by vehicle from its two sources: `whole`, the store's page of totals
/// over the whole months of the range (ordered by key, at most `limit`, strictly after `after`), and
/// `pieces`, the buckets of the partial months at the ends (every vehicle's). When `whole` is a full
/// page it says nothing past its last key, so pieces past that key wait for a later page; the first
/// `limit` keys of the union are then complete.
pub fn page_of_vehicle_totals(
    whole: Vec<CostTotal>,
    pieces: Vec<CostBucket>,
    after: Option<&CostKey>,
    limit: usize,
) -> Vec<CostTotal> {
    let bound = (whole.len() >= limit)
        .then(|| whole.last().map(CostTotal::key))
        .flatten();
    let mut sums: BTreeMap<CostKey, (u64, u64)> = BTreeMap::new();
    let pieces = pieces.into_iter().map(|b| CostTotal {
        vehicle_id: b.vehicle_id,
        currency: b.currency,
        total_cents: b.total_cents,
        events: b.events,
    });
    for t in whole.into_iter().chain(pieces) {
        let key = t.key();
        if after.is_some_and(|a| key <= *a) || bound.as_ref().is_some_and(|b| key > *b) {
            continue;
        }
        let sum = sums.entry(key).or_default();
        sum.0 += t.total_cents;
        sum.1 += t.events;
    }
    sums.into_iter()
        .filter(|(_, (_, events))| *events > 0)
        .take(limit)
        .map(|(key, (total_cents, events))| CostTotal {
            vehicle_id: key.vehicle_id,
            currency: key.currency,
            total_cents,
            events,
        })
        .collect()
}

/// Folds rows of per-vehicle monthly costs, read in (vehicle id, currency) order, into a page of totals
/// strictly after `after`: [`push`](Self::push) says when the page is complete, so an adapter can stop
/// reading there.
#[derive(Debug)]
pub struct VehicleTotalsPage<'a> {
    after: Option<&'a CostKey>,
    limit: usize,
    totals: Vec<CostTotal>,
}

impl<'a> VehicleTotalsPage<'a> {
    pub fn new(after: Option<&'a CostKey>, limit: usize) -> VehicleTotalsPage<'a> {
        VehicleTotalsPage {
            after,
            limit,
            totals: Vec::new(),
        }
    }

    /// Adds one row; `false` once the page holds `limit` complete totals and this row starts another.
    pub fn push(&mut self, vehicle_id: &str, currency: &str, cents: u64, events: u64) -> bool {
        if self
            .after
            .is_some_and(|a| (a.vehicle_id.as_str(), a.currency.as_str()) >= (vehicle_id, currency))
        {
            return true;
        }
        match self.totals.last_mut() {
            Some(t) if t.vehicle_id == vehicle_id && t.currency == currency => {
                t.total_cents += cents;
                t.events += events;
                return true;
            }
            _ => {}
        }
        self.drop_empty_last();
        if self.totals.len() >= self.limit {
            return false;
        }
        self.totals.push(CostTotal {
            vehicle_id: vehicle_id.to_string(),
            currency: currency.to_string(),
            total_cents: cents,
            events,
        });
        true
    }

    fn drop_empty_last(&mut self) {
        if self.totals.last().is_some_and(|t| t.events == 0) {
            self.totals.pop();
        }
    }

    pub fn finish(mut self) -> Vec<CostTotal> {
        self.drop_empty_last();
        self.totals
    }
}

/// One vehicle's fuel figures in the fleet's costs.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FleetFuelRow {
    pub vehicle_id: String,
    pub unit: crate::fuel::EconomyUnit,
    pub distance_unit: vwc_contracts::OdometerUnit,
    pub volume_unit: vwc_contracts::VolumeUnit,
    pub fill_ups: u64,
    pub volume: f64,
    /// Distance of the measured intervals.
    pub measured_distance: f64,
    /// Measured distance ÷ the fuel those intervals used; `null` without a full-to-full interval.
    pub average: Option<f64>,
    pub costs: Vec<FuelCost>,
    /// The vehicle's latest interval is more than 15 % below its trailing average (whole history).
    pub drop_flagged: bool,
}

/// A vehicle's fuel row over [`from`, `to`] from its whole fuel history: volume and spending of the
/// fill-ups in the range, economy and cost per distance of the full-to-full intervals that close in it.
/// `None` when the vehicle has no fill-up in the range.
pub fn fleet_fuel_row(
    vehicle_id: &str,
    unit: OdometerUnit,
    events: &[VehicleEvent],
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Option<FleetFuelRow> {
    let in_range = |t: DateTime<Utc>| from.is_none_or(|f| t >= f) && to.is_none_or(|e| t <= e);
    let whole = crate::fuel::economy(unit, events)?;
    let ranged: Vec<_> = events
        .iter()
        .filter(|e| in_range(e.occurred_at))
        .cloned()
        .collect();
    if ranged.is_empty() {
        return None;
    }
    let in_range_figures = crate::fuel::economy(unit, &ranged)?;
    let intervals: Vec<_> = whole.intervals.iter().filter(|i| in_range(i.to)).collect();
    let measured_distance: f64 = intervals.iter().map(|i| i.distance).sum();
    let volume_used: f64 = intervals.iter().map(|i| i.volume).sum();
    let average = (volume_used > 0.0)
        .then(|| round(whole.unit.economy_of(measured_distance, volume_used), 2));
    let mut costs = in_range_figures.costs;
    for c in &mut costs {
        c.measure(intervals.iter().copied());
    }
    Some(FleetFuelRow {
        vehicle_id: vehicle_id.to_string(),
        unit: whole.unit,
        distance_unit: unit,
        volume_unit: whole.volume_unit,
        fill_ups: in_range_figures.fill_ups,
        volume: in_range_figures.total_volume,
        measured_distance: round(measured_distance, 1),
        average,
        costs,
        drop_flagged: whole.drop.is_some(),
    })
}

/// The odometer of an overview: an estimate (`asOf` a date) or the highest reading (`asOf` an instant).
/// On the wire it is the one or the other object as it is (untagged).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OdometerSnapshot {
    Estimate(OdometerEstimateView),
    Reading(OdometerView),
}

impl OdometerSnapshot {
    /// A sold vehicle's odometer: the reading given at its sale, as of the sale.
    pub fn at_sale(unit: OdometerUnit, sale: &Sale) -> OdometerSnapshot {
        OdometerSnapshot::Reading(OdometerView {
            value: sale.odometer,
            unit,
            as_of: sale.sold_at,
            estimated: false,
        })
    }

    /// The scheduler's estimate (projected from usage) when it is at least as recent and as high as the
    /// last reading and was projected from a reading at least as recent, else the highest reading. A
    /// reading the estimate did not see — recorded after the schedule was published, for a day before it
    /// (an import, records entered late), moving no due point, so not published again — makes it stale:
    /// 83,140 km projected from two readings of a year before were shown over a reading of 70,500 km made
    /// the day before.
    pub fn of(
        maintenance: Option<&MaintenanceView>,
        reading: Option<&OdometerView>,
    ) -> Option<OdometerSnapshot> {
        let estimate = maintenance.and_then(|m| m.odometer.as_ref()).filter(|e| {
            reading.is_none_or(|r| {
                let read_on = r.as_of.date_naive();
                e.as_of >= read_on
                    && e.value >= r.value
                    && e.reading_on.is_none_or(|from| from >= read_on)
            })
        });
        match (estimate, reading) {
            (Some(e), _) => Some(OdometerSnapshot::Estimate(e.clone())),
            (None, Some(r)) => Some(OdometerSnapshot::Reading(r.clone())),
            (None, None) => None,
        }
    }
}

impl utoipa::PartialSchema for OdometerSnapshot {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::Ref;
        use utoipa::openapi::schema::AnyOfBuilder;
        AnyOfBuilder::new()
            .item(Ref::from_schema_name(OdometerEstimateView::name()))
            .item(Ref::from_schema_name(OdometerView::name()))
            .description(Some(
                "The scheduler's estimate (`OdometerEstimateView`) or the highest reading (`OdometerView`).",
            ))
            .into()
    }
}

impl ToSchema for OdometerSnapshot {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push((
            OdometerEstimateView::name().into_owned(),
            OdometerEstimateView::schema(),
        ));
        OdometerEstimateView::schemas(schemas);
        schemas.push((OdometerView::name().into_owned(), OdometerView::schema()));
        OdometerView::schemas(schemas);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use serde_json::json;
    use vwc_contracts::EventKind;

    use super::*;

    fn bucket(
        vehicle: &str,
        kind: EventKind,
        month: &str,
        currency: &str,
        cents: u64,
    ) -> CostBucket {
        CostBucket {
            vehicle_id: vehicle.into(),
            kind,
            month: month.into(),
            currency: currency.into(),
            total_cents: cents,
            events: 1,
        }
    }

    /// Five costs of two vehicles in two currencies over a year and a bit.
    fn buckets() -> Vec<CostBucket> {
        vec![
            bucket("veh_1", EventKind::Maintenance, "2024-01", "USD", 5_000),
            bucket("veh_1", EventKind::Repair, "2025-01", "USD", 12_000),
            bucket("veh_1", EventKind::Repair, "2025-02", "USD", 3_000),
            bucket("veh_2", EventKind::Upgrade, "2025-02", "USD", 50_000),
            bucket("veh_2", EventKind::Repair, "2025-02", "EUR", 700),
        ]
    }

    fn total(vehicle: &str, currency: &str, cents: u64, events: u64) -> CostTotal {
        CostTotal {
            vehicle_id: vehicle.into(),
            currency: currency.into(),
            total_cents: cents,
            events,
        }
    }

    fn key(vehicle: &str, currency: &str) -> CostKey {
        CostKey {
            vehicle_id: vehicle.into(),
            currency: currency.into(),
        }
    }

    #[test]
    fn last_12_months_are_this_month_and_the_eleven_before() {
        let now = Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap();
        assert_eq!(last_12_months_since(now), "2025-04");
    }

    #[test]
    fn a_summary_per_currency_sums_lifetime_last_12_months_and_each_kind() {
        let summaries = summarise_costs(&buckets(), "2025-02");
        assert_eq!(
            summaries,
            vec![
                CostSummary {
                    currency: "EUR".into(),
                    lifetime_cents: 700,
                    last12_months_cents: 700,
                    by_kind: BTreeMap::from([("repair".into(), 700)]),
                },
                CostSummary {
                    currency: "USD".into(),
                    // 5,000 + 12,000 + 3,000 + 50,000
                    lifetime_cents: 70_000,
                    // February only: 3,000 + 50,000
                    last12_months_cents: 53_000,
                    by_kind: BTreeMap::from([
                        ("maintenance".into(), 5_000),
                        ("repair".into(), 15_000),
                        ("upgrade".into(), 50_000),
                    ]),
                },
            ]
        );
        assert!(summarise_costs(&[], "2025-02").is_empty());
    }

    #[test]
    fn fleet_costs_group_by_month_or_kind_and_currency() {
        let group = |key: &str, currency: &str, cents: u64, events: u64| CostGroup {
            key: key.into(),
            currency: currency.into(),
            total_cents: cents,
            events,
        };
        assert_eq!(
            group_fleet_costs(&buckets(), true),
            vec![
                group("2024-01", "USD", 5_000, 1),
                group("2025-01", "USD", 12_000, 1),
                group("2025-02", "EUR", 700, 1),
                group("2025-02", "USD", 53_000, 2),
            ]
        );
        // By kind, the groups are the summaries' lifetime `byKind`, currency by currency.
        let by_kind = group_fleet_costs(&buckets(), false);
        let mut from_summaries: Vec<(String, String, u64)> = summarise_costs(&buckets(), "")
            .into_iter()
            .flat_map(|s| {
                let currency = s.currency;
                s.by_kind
                    .into_iter()
                    .map(move |(kind, cents)| (kind, currency.clone(), cents))
            })
            .collect();
        from_summaries.sort();
        assert_eq!(
            by_kind
                .iter()
                .map(|g| (g.key.clone(), g.currency.clone(), g.total_cents))
                .collect::<Vec<_>>(),
            from_summaries
        );
        // USD repairs are two events (January and February); every other group one.
        let events: Vec<u64> = by_kind.iter().map(|g| g.events).collect();
        assert_eq!(events, [1, 1, 2, 1]);
        assert_eq!(
            currency_totals(&buckets()),
            vec![
                CurrencyTotal {
                    currency: "EUR".into(),
                    total_cents: 700,
                    events: 1
                },
                CurrencyTotal {
                    currency: "USD".into(),
                    total_cents: 70_000,
                    events: 4
                },
            ]
        );
    }

    /// Pages of `limit` read from the whole-month totals and the pieces, following the last key.
    fn every_page(whole: &[CostTotal], pieces: &[CostBucket], limit: usize) -> Vec<Vec<CostTotal>> {
        let mut pages = Vec::new();
        let mut after: Option<CostKey> = None;
        loop {
            // What a store answers: whole-month totals strictly after the cursor, at most `limit`.
            let stored: Vec<CostTotal> = whole
                .iter()
                .filter(|t| after.as_ref().is_none_or(|a| t.key() > *a))
                .take(limit)
                .cloned()
                .collect();
            let page = page_of_vehicle_totals(stored, pieces.to_vec(), after.as_ref(), limit);
            if page.is_empty() {
                return pages;
            }
            after = page.last().map(CostTotal::key);
            pages.push(page);
        }
    }

    #[test]
    fn pages_of_vehicle_totals_add_the_partial_months_once_and_in_order() {
        let whole = vec![
            total("veh_1", "USD", 15_000, 2),
            total("veh_3", "USD", 1_000, 1),
            total("veh_5", "EUR", 200, 1),
            total("veh_5", "USD", 300, 1),
        ];
        // veh_2 and veh_6 have costs only in the partial months; veh_3's add to its whole months.
        let pieces = vec![
            bucket("veh_6", EventKind::Repair, "2025-03", "USD", 600),
            bucket("veh_2", EventKind::Repair, "2025-01", "USD", 400),
            bucket("veh_3", EventKind::Repair, "2025-03", "USD", 50),
        ];
        let all = vec![
            total("veh_1", "USD", 15_000, 2),
            total("veh_2", "USD", 400, 1),
            total("veh_3", "USD", 1_050, 2),
            total("veh_5", "EUR", 200, 1),
            total("veh_5", "USD", 300, 1),
            total("veh_6", "USD", 600, 1),
        ];
        assert_eq!(every_page(&whole, &pieces, 100), vec![all.clone()]);
        for limit in 1..=5 {
            let pages = every_page(&whole, &pieces, limit);
            assert!(pages.iter().all(|p| p.len() <= limit), "{limit}: {pages:?}");
            assert_eq!(pages.concat(), all, "limit {limit}");
        }
        // A page after the last key is empty.
        assert!(page_of_vehicle_totals(vec![], pieces, Some(&key("veh_6", "USD")), 5).is_empty());
    }

    #[test]
    fn a_totals_page_folds_sorted_rows_and_stops_after_its_limit() {
        // Rows of (vehicle, currency, cents, events) as an adapter reads them, several months each.
        let rows = [
            ("veh_1", "USD", 100, 1),
            ("veh_1", "USD", 250, 2),
            ("veh_2", "EUR", 0, 0),
            ("veh_3", "EUR", 70, 1),
            ("veh_3", "USD", 30, 1),
            ("veh_3", "USD", 40, 1),
            ("veh_4", "USD", 9, 1),
        ];
        let read = |after: Option<&CostKey>, limit| {
            let mut page = VehicleTotalsPage::new(after, limit);
            let mut read = 0;
            for (v, c, cents, events) in rows {
                read += 1;
                if !page.push(v, c, cents, events) {
                    break;
                }
            }
            (page.finish(), read)
        };
        let (first, read_first) = read(None, 2);
        assert_eq!(
            first,
            vec![total("veh_1", "USD", 350, 3), total("veh_3", "EUR", 70, 1)]
        );
        assert_eq!(read_first, 5, "stops at the first row past the page");
        let after = key("veh_3", "EUR");
        let (second, _) = read(Some(&after), 2);
        assert_eq!(
            second,
            vec![total("veh_3", "USD", 70, 2), total("veh_4", "USD", 9, 1)]
        );
        assert!(read(Some(&key("veh_4", "USD")), 2).0.is_empty());
    }

    /// A full-tank fill-up of `gallons` on January `day`, 2025.
    fn fill(id: &str, day: u32, odometer: u64, gallons: f64, cents: u64) -> VehicleEvent {
        let at = Utc.with_ymd_and_hms(2025, 1, day, 8, 0, 0).unwrap();
        let mut event = vwc_contracts::examples::vehicle_event();
        event.id = id.into();
        event.kind = EventKind::Fuel;
        (event.occurred_at, event.recorded_at) = (at, at);
        event.odometer = Some(odometer);
        (event.cost_cents, event.currency) = (Some(cents), Some("USD".into()));
        event.details = json!({"volume": gallons, "volumeUnit": "gal", "fullTank": true});
        event
    }

    #[test]
    fn a_fleet_fuel_row_counts_fills_in_range_and_intervals_closing_in_it() {
        // Full tanks on the 1st, 10th and 20th: 300 mi on 10 gal, then 240 mi on 12 gal.
        let events = [
            fill("evt_1", 1, 1_000, 11.0, 3_300),
            fill("evt_2", 10, 1_300, 10.0, 3_000),
            fill("evt_3", 20, 1_540, 12.0, 4_200),
        ];
        let day = |d: u32| Some(Utc.with_ymd_and_hms(2025, 1, d, 0, 0, 0).unwrap());
        let all = fleet_fuel_row("veh_1", OdometerUnit::Mi, &events, None, None).unwrap();
        assert_eq!(all.fill_ups, 3);
        assert_eq!(all.volume, 33.0);
        assert_eq!(all.measured_distance, 540.0);
        // 540 mi ÷ 22 gal = 24.545…
        assert_eq!(all.average, Some(24.55));
        assert_eq!(all.costs.len(), 1);
        assert_eq!(all.costs[0].total_cents, 10_500);
        // From the 5th: the last two fills, both intervals close in the range.
        let late = fleet_fuel_row("veh_1", OdometerUnit::Mi, &events, day(5), None).unwrap();
        assert_eq!((late.fill_ups, late.volume), (2, 22.0));
        assert_eq!(late.measured_distance, 540.0);
        assert_eq!(late.costs[0].total_cents, 7_200);
        // Up to the 5th: the first fill only, no interval closes.
        let early = fleet_fuel_row("veh_1", OdometerUnit::Mi, &events, None, day(5)).unwrap();
        assert_eq!((early.fill_ups, early.volume), (1, 11.0));
        assert_eq!((early.measured_distance, early.average), (0.0, None));
        assert_eq!(early.costs[0].per_distance_cents, None);
        // No fill in the range: no row.
        assert_eq!(
            fleet_fuel_row("veh_1", OdometerUnit::Mi, &events, day(25), None),
            None
        );
    }

    #[test]
    fn an_overview_shows_the_estimate_only_when_it_is_as_recent_and_as_high_as_the_reading() {
        let reading = OdometerView {
            value: 41_000,
            unit: OdometerUnit::Mi,
            as_of: Utc.with_ymd_and_hms(2025, 5, 1, 9, 0, 0).unwrap(),
            estimated: false,
        };
        let view = |month: u32, day: u32, value: u64| MaintenanceView {
            vehicle_id: "veh_1".into(),
            items: Vec::new(),
            odometer: Some(OdometerEstimateView {
                value,
                unit: OdometerUnit::Mi,
                as_of: NaiveDate::from_ymd_opt(2025, month, day).unwrap(),
                estimated: true,
                reading_on: None,
            }),
            evaluated_at: reading.as_of,
        };
        let fresh = view(5, 3, 41_200);
        assert!(matches!(
            OdometerSnapshot::of(Some(&fresh), Some(&reading)),
            Some(OdometerSnapshot::Estimate(e)) if e.value == 41_200
        ));
        // Lower than the reading, or dated before it: the reading.
        for stale in [view(5, 3, 40_000), view(4, 30, 41_500)] {
            assert_eq!(
                OdometerSnapshot::of(Some(&stale), Some(&reading)),
                Some(OdometerSnapshot::Reading(reading.clone()))
            );
        }
        // Projected from a reading before the vehicle's highest (which the scheduler saw after it
        // published): the reading. Projected from that reading, or by a schedule that does not say: the
        // estimate.
        let from = |reading_on: Option<NaiveDate>| MaintenanceView {
            odometer: fresh
                .odometer
                .clone()
                .map(|o| OdometerEstimateView { reading_on, ..o }),
            ..fresh.clone()
        };
        let before = NaiveDate::from_ymd_opt(2025, 4, 2);
        assert_eq!(
            OdometerSnapshot::of(Some(&from(before)), Some(&reading)),
            Some(OdometerSnapshot::Reading(reading.clone()))
        );
        for seen in [NaiveDate::from_ymd_opt(2025, 5, 1), None] {
            assert!(matches!(
                OdometerSnapshot::of(Some(&from(seen)), Some(&reading)),
                Some(OdometerSnapshot::Estimate(e)) if e.value == 41_200
            ));
        }
        assert!(matches!(
            OdometerSnapshot::of(Some(&fresh), None),
            Some(OdometerSnapshot::Estimate(_))
        ));
        assert_eq!(OdometerSnapshot::of(None, None), None);
    }
}
