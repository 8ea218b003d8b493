//! The fleet aggregates: running totals the edge keeps beside its projection (costs per vehicle and month,
//! each vehicle's lifetime costs per currency, each vehicle's acquisition records, costs per organisation
//! and month, vehicle and attention counts, current values per currency), changed
//! in the same transaction as the fact that moves them, so the fleet routes read a few rows, never a scan.
//!
//! What each projected fact does to the totals is decided here, once, by [`changes`]; the adapters only
//! add the [`Change`]s up. A new kind of fact (a correction, a void, a vehicle leaving the fleet, fuel
//! volumes) is one more [`Fact`] variant and one more arm below.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use vwc_contracts::maintenance::{MaintenanceItemView, MaintenanceStatus};
use vwc_contracts::{EventKind, VehicleEvent};

use crate::store::CostBucket;

/// Costs of one (vehicle, calendar month, kind, currency) move by `cents` over `events` events. The same
/// change moves the organisation's (month, kind, currency) total and the vehicle's lifetime total in the
/// currency (what its fleet row's `lifetimeCost` starts from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostChange {
    pub org_id: String,
    pub vehicle_id: String,
    /// `YYYY-MM` of `occurredAt` (UTC).
    pub month: String,
    pub kind: EventKind,
    pub currency: String,
    pub cents: i64,
    pub events: i64,
}

/// How many acquisition records with a cost a vehicle has (recorded, not voided) moves by `records`: its
/// fleet row's `purchaseRecorded`, which says whether the purchase price given at registration counts in its
/// lifetime cost (an acquisition record's cost already is the purchase; one without a cost is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcquisitionChange {
    pub org_id: String,
    pub vehicle_id: String,
    pub records: i64,
}

/// The organisation's vehicle count and attention counts move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetChange {
    pub org_id: String,
    pub vehicles: i64,
    pub due_soon: i64,
    pub overdue: i64,
    /// Vehicles with at least one item overdue (probe p44 L5: `overdue` counts items).
    pub vehicles_overdue: i64,
}

/// The organisation's current value in one currency moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueChange {
    pub org_id: String,
    pub currency: String,
    pub cents: i64,
    pub vehicles: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Cost(CostChange),
    Acquisitions(AcquisitionChange),
    Fleet(FleetChange),
    Value(ValueChange),
}

/// What one vehicle adds to its organisation's fleet totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetMember {
    /// Counted as a vehicle of the fleet (registered in the read model).
    pub counted: bool,
    pub due_soon: i64,
    pub overdue: i64,
}

impl FleetMember {
    /// A vehicle that is (or is not) in the read model, with the attention counts of its maintenance view
    /// (`None` until the scheduler has evaluated it). Maintenance of a vehicle not in the read model counts
    /// nowhere, as the fleet rows (a join on the vehicles) do not show it.
    pub fn of(registered: bool, attention: Option<(i64, i64)>) -> FleetMember {
        if !registered {
            return FleetMember::default();
        }
        let (due_soon, overdue) = attention.unwrap_or((0, 0));
        FleetMember {
            counted: true,
            due_soon,
            overdue,
        }
    }
}

impl FleetMember {
    /// 1 for a counted vehicle with an item overdue: what it adds to the fleet's vehicles overdue.
    pub fn overdue_vehicle(&self) -> i64 {
        i64::from(self.counted && self.overdue > 0)
    }
}

/// (due soon, overdue) among the enabled items of a maintenance evaluation: what the fleet counts.
pub fn attention_counts(items: &[MaintenanceItemView]) -> (i64, i64) {
    let count = |status: MaintenanceStatus| {
        items
            .iter()
            .filter(|i| i.enabled && i.status == status)
            .count() as i64
    };
    (
        count(MaintenanceStatus::DueSoon),
        count(MaintenanceStatus::Overdue),
    )
}

/// A vehicle's current value as the fleet value sums it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentValue {
    pub currency: String,
    pub cents: i64,
}

/// A projected fact, as the aggregates see it.
#[derive(Debug, Clone, Copy)]
pub enum Fact<'a> {
    /// A timeline event was added (not a duplicate).
    EventRecorded(&'a VehicleEvent),
    /// A record was corrected or voided: the version that counted before (none if it was voided or not
    /// yet projected) gives way to the one that counts now (none when voided).
    EventRevised {
        before: Option<&'a VehicleEvent>,
        after: Option<&'a VehicleEvent>,
    },
    /// A vehicle's place in its organisation's fleet changed: registered, or its maintenance re-evaluated.
    FleetMember {
        org_id: &'a str,
        before: FleetMember,
        after: FleetMember,
    },
    /// A vehicle's current value was set or replaced.
    CurrentValue {
        org_id: &'a str,
        before: Option<&'a CurrentValue>,
        after: Option<&'a CurrentValue>,
    },
}

/// The currency a cost without one is counted in (the API's default).
pub const DEFAULT_CURRENCY: &str = "USD";

/// `YYYY-MM` of an instant.
pub fn month_of(at: &DateTime<Utc>) -> String {
    format!("{:04}-{:02}", at.year(), at.month())
}

fn cost_of(e: &VehicleEvent, sign: i64) -> Option<Change> {
    let cents = i64::try_from(e.cost_cents?).unwrap_or(i64::MAX);
    Some(Change::Cost(CostChange {
        org_id: e.org_id.to_string(),
        vehicle_id: e.vehicle_id.to_string(),
        month: month_of(&e.occurred_at),
        kind: e.kind,
        currency: e
            .currency
            .clone()
            .unwrap_or_else(|| DEFAULT_CURRENCY.into()),
        cents: sign * cents,
        events: sign,
    }))
}

/// The acquisition records of a vehicle moving from what `before` counted to what `after` counts (none
/// when both or neither are acquisitions).
fn acquisitions_moved(
    before: Option<&VehicleEvent>,
    after: Option<&VehicleEvent>,
) -> Option<Change> {
    // Only an acquisition with a cost holds the purchase: one without leaves the registration's price
    // counting.
    let counts = |e: Option<&VehicleEvent>| {
        i64::from(e.is_some_and(|e| e.kind == EventKind::Acquisition && e.cost_cents.is_some()))
    };
    let records = counts(after) - counts(before);
    let e = after.or(before)?;
    (records != 0).then(|| {
        Change::Acquisitions(AcquisitionChange {
            org_id: e.org_id.to_string(),
            vehicle_id: e.vehicle_id.to_string(),
            records,
        })
    })
}

/// What `fact` does to the aggregates (nothing when it moves no total).
pub fn changes(fact: Fact<'_>) -> Vec<Change> {
    match fact {
        Fact::EventRecorded(e) => cost_of(e, 1)
            .into_iter()
            .chain(acquisitions_moved(None, Some(e)))
            .collect(),
        Fact::EventRevised { before, after } => before
            .and_then(|e| cost_of(e, -1))
            .into_iter()
            .chain(after.and_then(|e| cost_of(e, 1)))
            .chain(acquisitions_moved(before, after))
            .collect(),
        Fact::FleetMember {
            org_id,
            before,
            after,
        } => {
            let change = FleetChange {
                org_id: org_id.to_string(),
                vehicles: i64::from(after.counted) - i64::from(before.counted),
                due_soon: after.due_soon - before.due_soon,
                overdue: after.overdue - before.overdue,
                vehicles_overdue: after.overdue_vehicle() - before.overdue_vehicle(),
            };
            let moved = (change.vehicles, change.due_soon, change.overdue);
            if moved == (0, 0, 0) && change.vehicles_overdue == 0 {
                Vec::new()
            } else {
                vec![Change::Fleet(change)]
            }
        }
        Fact::CurrentValue {
            org_id,
            before,
            after,
        } => {
            if before == after {
                return Vec::new();
            }
            let value = |v: &CurrentValue, sign: i64| {
                Change::Value(ValueChange {
                    org_id: org_id.to_string(),
                    currency: v.currency.clone(),
                    cents: sign * v.cents,
                    vehicles: sign,
                })
            };
            before
                .map(|v| value(v, -1))
                .into_iter()
                .chain(after.map(|v| value(v, 1)))
                .collect()
        }
    }
}

/// Whole calendar months `first..=last` (`YYYY-MM`; `None`: unbounded on that side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthRange {
    pub first: Option<String>,
    pub last: Option<String>,
}

/// An inclusive `[from, to]` range split into the whole months the aggregates answer and the pieces of
/// months at either end (at most two), which are read from the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostPeriod {
    pub whole: Option<MonthRange>,
    pub partial: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

fn month_start(d: NaiveDate) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(d.year(), d.month(), 1, 0, 0, 0)
        .single()
        .expect("the first of a month is a valid instant")
}

fn next_month_start(at: &DateTime<Utc>) -> DateTime<Utc> {
    let (y, m) = (at.year(), at.month());
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    month_start(NaiveDate::from_ymd_opt(y, m, 1).expect("valid month"))
}

/// The last instant of `at`'s month at the store's precision (timestamps are stored to the microsecond).
fn month_last_instant(at: &DateTime<Utc>) -> DateTime<Utc> {
    next_month_start(at) - Duration::microseconds(1)
}

/// Splits `[from, to]` (either end open) into whole months and partial pieces.
pub fn split_by_month(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> CostPeriod {
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return CostPeriod {
            whole: None,
            partial: Vec::new(),
        };
    }
    let mut partial = Vec::new();
    let first = match from {
        None => None,
        Some(f) if f == month_start(f.date_naive()) => Some(month_of(&f)),
        Some(f) => {
            let end = month_last_instant(&f);
            partial.push((f, to.map_or(end, |t| t.min(end))));
            Some(month_of(&next_month_start(&f)))
        }
    };
    let last = match to {
        None => None,
        Some(t) if t >= month_last_instant(&t) => Some(month_of(&t)),
        Some(t) => {
            let start = month_start(t.date_naive());
            // A `from` in the same month already took the piece up to `to`.
            if from.is_none_or(|f| f <= start) {
                partial.push((start, t));
            }
            let previous = start - Duration::days(1);
            Some(month_of(&previous))
        }
    };
    let whole = match (&first, &last) {
        (Some(f), Some(l)) if f > l => None,
        _ => Some(MonthRange { first, last }),
    };
    CostPeriod { whole, partial }
}

/// Buckets summed by (month, vehicle, kind, currency) and ordered so, as every cost view expects them.
pub fn merge_buckets(buckets: impl IntoIterator<Item = CostBucket>) -> Vec<CostBucket> {
    let mut sums: BTreeMap<(String, String, &'static str, String), CostBucket> = BTreeMap::new();
    for b in buckets {
        let key = (
            b.month.clone(),
            b.vehicle_id.clone(),
            b.kind.as_str(),
            b.currency.clone(),
        );
        match sums.get_mut(&key) {
            Some(sum) => {
                sum.total_cents += b.total_cents;
                sum.events += b.events;
            }
            None => {
                sums.insert(key, b);
            }
        }
    }
    sums.into_values().filter(|b| b.events > 0).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use vwc_contracts::EventSource;

    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn end_of(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_micro_opt(23, 59, 59, 999_999)
            .unwrap()
            .and_utc()
    }

    fn months(first: Option<&str>, last: Option<&str>) -> Option<MonthRange> {
        Some(MonthRange {
            first: first.map(str::to_string),
            last: last.map(str::to_string),
        })
    }

    #[test]
    fn whole_months_come_from_the_aggregates_and_only_the_ends_from_the_timeline() {
        // The dashboard's month: from the 1st to the end of the last day.
        assert_eq!(
            split_by_month(Some(at(2024, 2, 1, 0)), Some(end_of(2024, 2, 29))),
            CostPeriod {
                whole: months(Some("2024-02"), Some("2024-02")),
                partial: vec![]
            }
        );
        assert_eq!(
            split_by_month(None, None),
            CostPeriod {
                whole: months(None, None),
                partial: vec![]
            }
        );
        assert_eq!(
            split_by_month(Some(at(2024, 6, 20, 8)), Some(at(2024, 9, 1, 8))),
            CostPeriod {
                whole: months(Some("2024-07"), Some("2024-08")),
                partial: vec![
                    (at(2024, 6, 20, 8), end_of(2024, 6, 30)),
                    (at(2024, 9, 1, 0), at(2024, 9, 1, 8)),
                ]
            }
        );
        // Within one month: one piece, no whole month.
        assert_eq!(
            split_by_month(Some(at(2024, 12, 3, 8)), Some(at(2024, 12, 9, 8))),
            CostPeriod {
                whole: None,
                partial: vec![(at(2024, 12, 3, 8), at(2024, 12, 9, 8))]
            }
        );
        assert_eq!(
            split_by_month(Some(at(2024, 12, 1, 0)), Some(at(2024, 12, 9, 8))),
            CostPeriod {
                whole: None,
                partial: vec![(at(2024, 12, 1, 0), at(2024, 12, 9, 8))]
            }
        );
        // Open ends, across a year.
        assert_eq!(
            split_by_month(Some(at(2024, 12, 3, 8)), None),
            CostPeriod {
                whole: months(Some("2025-01"), None),
                partial: vec![(at(2024, 12, 3, 8), end_of(2024, 12, 31))]
            }
        );
        assert_eq!(
            split_by_month(None, Some(at(2025, 1, 3, 8))),
            CostPeriod {
                whole: months(None, Some("2024-12")),
                partial: vec![(at(2025, 1, 1, 0), at(2025, 1, 3, 8))]
            }
        );
        // An empty range reads nothing.
        assert_eq!(
            split_by_month(Some(at(2025, 1, 3, 8)), Some(at(2025, 1, 2, 8))),
            CostPeriod {
                whole: None,
                partial: vec![]
            }
        );
    }

    fn in_months(month: &str, range: &MonthRange) -> bool {
        range.first.as_deref().is_none_or(|f| month >= f)
            && range.last.as_deref().is_none_or(|l| month <= l)
    }

    proptest! {
        /// Every instant of `[from, to]` is counted exactly once: in a whole month or in one piece, and
        /// nothing outside the range is.
        #[test]
        fn the_split_covers_the_range_exactly_once(
            from in proptest::option::of(0i64..1_000_000_000),
            len in 0i64..400_000_000,
            open_end in any::<bool>(),
            probe in 0i64..1_500_000_000,
            aligned in 0u8..3,
        ) {
            let base = at(2023, 1, 1, 0);
            let mut from = from.map(|s| base + Duration::seconds(s));
            if aligned == 1 {
                from = from.map(|f| month_start(f.date_naive()));
            }
            let mut to = (!open_end).then(|| from.unwrap_or(base) + Duration::seconds(len));
            if aligned == 2 {
                to = to.map(|t| month_last_instant(&t));
            }
            let probe = base + Duration::seconds(probe) - Duration::seconds(100_000_000);
            let period = split_by_month(from, to);
            let in_range = from.is_none_or(|f| probe >= f) && to.is_none_or(|t| probe <= t);
            let whole = period.whole.as_ref().is_some_and(|r| in_months(&month_of(&probe), r));
            let pieces = period.partial.iter().filter(|(a, b)| probe >= *a && probe <= *b).count();
            prop_assert_eq!(usize::from(whole) + pieces, usize::from(in_range),
                "{:?} {:?} {:?} {:?}", from, to, probe, period);
            for (a, b) in &period.partial {
                prop_assert_eq!(month_of(a), month_of(b));
                prop_assert!(!period.whole.as_ref().is_some_and(|r| in_months(&month_of(a), r)));
            }
        }
    }

    fn costly(kind: EventKind, cents: Option<u64>, currency: Option<&str>) -> VehicleEvent {
        VehicleEvent {
            id: "evt_1".into(),
            vehicle_id: "veh_1".into(),
            org_id: "org_a".into(),
            kind,
            occurred_at: at(2024, 6, 30, 23),
            recorded_at: at(2024, 7, 1, 0),
            odometer: None,
            cost_cents: cents,
            currency: currency.map(str::to_string),
            title: "t".into(),
            notes: None,
            vendor: None,
            source: EventSource::User,
            details: serde_json::Value::Null,
        }
    }

    #[test]
    fn an_event_with_a_cost_moves_its_vehicle_month_kind_and_currency() {
        assert_eq!(
            changes(Fact::EventRecorded(&costly(
                EventKind::Repair,
                Some(1_250),
                Some("EUR")
            ))),
            vec![Change::Cost(CostChange {
                org_id: "org_a".into(),
                vehicle_id: "veh_1".into(),
                month: "2024-06".into(),
                kind: EventKind::Repair,
                currency: "EUR".into(),
                cents: 1_250,
                events: 1,
            })]
        );
        let Change::Cost(c) = &changes(Fact::EventRecorded(&costly(
            EventKind::Repair,
            Some(1),
            None,
        )))[0] else {
            panic!("a cost change")
        };
        assert_eq!(c.currency, "USD");
        assert!(
            changes(Fact::EventRecorded(&costly(
                EventKind::OdometerReading,
                None,
                None
            )))
            .is_empty()
        );
    }

    #[test]
    fn acquisition_records_count_when_recorded_and_move_with_a_correction_or_a_void() {
        let acquisitions = |found: Vec<Change>| -> Vec<i64> {
            found
                .into_iter()
                .filter_map(|c| match c {
                    Change::Acquisitions(a) => Some(a.records),
                    _ => None,
                })
                .collect()
        };
        let bought = costly(EventKind::Acquisition, Some(1_800_000), None);
        let repair = costly(EventKind::Repair, Some(100), None);
        assert_eq!(acquisitions(changes(Fact::EventRecorded(&bought))), [1]);
        assert!(acquisitions(changes(Fact::EventRecorded(&repair))).is_empty());
        // An acquisition without a cost holds no purchase (the registration's price still counts); given
        // its cost by a correction it does, and the other way round.
        let priceless = costly(EventKind::Acquisition, None, None);
        assert!(acquisitions(changes(Fact::EventRecorded(&priceless))).is_empty());
        let revised = |before, after| acquisitions(changes(Fact::EventRevised { before, after }));
        assert_eq!(revised(Some(&priceless), Some(&bought)), [1]);
        assert_eq!(revised(Some(&bought), Some(&priceless)), [-1]);
        // Voided; a repair corrected into an acquisition and back; an acquisition corrected in place.
        assert_eq!(revised(Some(&bought), None), [-1]);
        assert_eq!(revised(Some(&repair), Some(&bought)), [1]);
        assert_eq!(revised(Some(&bought), Some(&repair)), [-1]);
        assert!(revised(Some(&bought), Some(&bought)).is_empty());
        assert!(revised(Some(&repair), None).is_empty());
        // A revision held before its original arrives counts the acquisition once.
        assert_eq!(revised(None, Some(&bought)), [1]);
    }

    #[test]
    fn fleet_members_and_values_move_by_their_difference() {
        let registered = FleetMember::of(true, None);
        let evaluated = FleetMember::of(true, Some((2, 1)));
        assert_eq!(
            changes(Fact::FleetMember {
                org_id: "org_a",
                before: FleetMember::of(false, Some((5, 5))),
                after: registered
            }),
            vec![Change::Fleet(FleetChange {
                org_id: "org_a".into(),
                vehicles: 1,
                due_soon: 0,
                overdue: 0,
                vehicles_overdue: 0
            })]
        );
        assert_eq!(
            changes(Fact::FleetMember {
                org_id: "org_a",
                before: evaluated,
                after: FleetMember::of(true, Some((0, 3)))
            }),
            vec![Change::Fleet(FleetChange {
                org_id: "org_a".into(),
                vehicles: 0,
                due_soon: -2,
                overdue: 2,
                vehicles_overdue: 0
            })]
        );
        // Its first overdue item makes the vehicle one of the fleet's overdue; its last one done, no more.
        let clear = FleetMember::of(true, Some((1, 0)));
        let overdue = FleetMember::of(true, Some((1, 2)));
        let moved = |before, after| match changes(Fact::FleetMember {
            org_id: "org_a",
            before,
            after,
        })
        .as_slice()
        {
            [Change::Fleet(f)] => (f.overdue, f.vehicles_overdue),
            other => panic!("{other:?}"),
        };
        assert_eq!(moved(clear, overdue), (2, 1));
        assert_eq!(moved(overdue, clear), (-2, -1));
        // Sold with items overdue: it leaves the count with them.
        assert_eq!(
            moved(overdue, FleetMember::of(false, Some((1, 2)))),
            (-2, -1)
        );
        assert!(
            changes(Fact::FleetMember {
                org_id: "org_a",
                before: evaluated,
                after: evaluated
            })
            .is_empty()
        );
        let usd = CurrentValue {
            currency: "USD".into(),
            cents: 100,
        };
        let eur = CurrentValue {
            currency: "EUR".into(),
            cents: 90,
        };
        assert_eq!(
            changes(Fact::CurrentValue {
                org_id: "org_a",
                before: Some(&usd),
                after: Some(&eur)
            })
            .len(),
            2
        );
        assert!(
            changes(Fact::CurrentValue {
                org_id: "org_a",
                before: Some(&usd),
                after: Some(&usd)
            })
            .is_empty()
        );
    }
}
