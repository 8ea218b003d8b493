//! How much a vehicle is driven: odometer readings, rollback detection, a least-squares usage rate and
//! the odometer estimate for a given day. Pure arithmetic; the readings come from the timeline.

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use vwc_contracts::VehicleEvent;

/// Only readings this recent (counted back from the latest trusted reading) shape the usage rate, so a
/// change of habits shows within a year.
pub const RATE_WINDOW_MONTHS: u32 = 12;

/// One odometer value in the vehicle's unit, as recorded at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OdometerReading {
    pub at: DateTime<Utc>,
    pub value: u64,
}

impl OdometerReading {
    /// Every timeline event that carries an odometer is a reading, whatever its kind.
    pub fn from_events(events: &[VehicleEvent]) -> Vec<OdometerReading> {
        events
            .iter()
            .filter_map(|e| {
                e.odometer.map(|value| OdometerReading {
                    at: e.occurred_at,
                    value,
                })
            })
            .collect()
    }
}

/// The odometer for a day: the latest reading, or a projection from it at the usage rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OdometerEstimate {
    pub value: u64,
    /// The day the value holds for: the requested day when projected, else the latest reading's day.
    pub as_of: NaiveDate,
    /// True when the value is projected rather than read.
    pub estimated: bool,
    /// Units (mi or km) per day, when enough trusted readings exist to fit one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_day: Option<f64>,
}

/// A vehicle's readings sorted into trusted ones and rollbacks, with the usage rate fitted to them.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    trusted: Vec<OdometerReading>,
    rollbacks: Vec<OdometerReading>,
    rate_per_day: Option<f64>,
}

impl Usage {
    /// Sorts readings by time; one lower than an earlier reading is a rollback (a typo, a swapped
    /// cluster, fraud) and is kept out of every estimate.
    pub fn from_readings(readings: &[OdometerReading]) -> Usage {
        let mut sorted = readings.to_vec();
        sorted.sort_by_key(|r| (r.at, r.value));
        let mut trusted: Vec<OdometerReading> = Vec::with_capacity(sorted.len());
        let mut rollbacks = Vec::new();
        let mut highest = vwc_contracts::HighestOdometer::default();
        for r in sorted {
            if highest.admit(r.value) {
                trusted.push(r);
            } else {
                rollbacks.push(r);
            }
        }
        let rate_per_day = fit_rate(&trusted);
        Usage {
            trusted,
            rollbacks,
            rate_per_day,
        }
    }

    pub fn from_events(events: &[VehicleEvent]) -> Usage {
        Usage::from_readings(&OdometerReading::from_events(events))
    }

    /// Readings used for estimates, oldest first.
    pub fn trusted(&self) -> &[OdometerReading] {
        &self.trusted
    }

    /// Readings lower than an earlier one, oldest first.
    pub fn rollbacks(&self) -> &[OdometerReading] {
        &self.rollbacks
    }

    /// The latest trusted reading, which is also the highest.
    pub fn latest(&self) -> Option<&OdometerReading> {
        self.trusted.last()
    }

    pub fn rate_per_day(&self) -> Option<f64> {
        self.rate_per_day
    }

    /// The odometer on `date`: the latest trusted reading projected forward at the usage rate. Without a
    /// rate (or for a day not after the latest reading) it is the latest reading itself, never less.
    pub fn estimate_at(&self, date: NaiveDate) -> Option<OdometerEstimate> {
        let latest = self.latest()?;
        let read_on = latest.at.date_naive();
        let as_read = OdometerEstimate {
            value: latest.value,
            as_of: read_on,
            estimated: false,
            rate_per_day: self.rate_per_day,
        };
        if date <= read_on {
            return Some(as_read);
        }
        let Some(rate) = self.rate_per_day else {
            return Some(as_read);
        };
        let days = (date - read_on).num_days() as f64;
        // `as` saturates, and the latest reading is the floor whatever the arithmetic says.
        let driven = (rate * days).round().max(0.0) as u64;
        // And no estimate goes past what an odometer can read (the highest value a record may carry): a
        // typo such as 4,999,999 after 11,000 would otherwise project tens of millions.
        let ceiling = (vwc_contracts::vehicle::MAX_ODOMETER - 1).max(latest.value);
        Some(OdometerEstimate {
            value: latest.value.saturating_add(driven).min(ceiling),
            as_of: date,
            estimated: true,
            rate_per_day: Some(rate),
        })
    }
}

/// Least-squares slope (units per day) of the trusted readings in the window before the latest one.
/// Needs two readings at least a day apart; otherwise there is no rate to speak of.
fn fit_rate(trusted: &[OdometerReading]) -> Option<f64> {
    let latest = trusted.last()?;
    let since = latest
        .at
        .checked_sub_months(Months::new(RATE_WINDOW_MONTHS))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let window: Vec<&OdometerReading> = trusted.iter().filter(|r| r.at >= since).collect();
    let first = window.first()?;
    let points: Vec<(f64, f64)> = window
        .iter()
        .map(|r| {
            let days = (r.at - first.at).num_seconds() as f64 / 86_400.0;
            (days, r.value as f64)
        })
        .collect();
    let span = points.last()?.0;
    if points.len() < 2 || span < 1.0 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points
        .iter()
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum();
    let sxx: f64 = points.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    let slope = sxy / sxx;
    // Trusted readings never decrease, so the slope is never negative except by rounding.
    slope.is_finite().then_some(slope.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    fn reading(y: i32, m: u32, d: u32, value: u64) -> OdometerReading {
        OdometerReading {
            at: at(y, m, d),
            value,
        }
    }

    #[test]
    fn an_estimate_never_passes_the_highest_value_a_record_may_carry() {
        let u = usage([(2025, 1, 1, 11_000), (2025, 1, 3, 4_999_999)]);
        let ceiling = vwc_contracts::vehicle::MAX_ODOMETER - 1;
        let e = u.estimate_at(day(2025, 3, 1)).unwrap();
        assert_eq!((e.value, e.estimated), (ceiling, true));
        assert!(e.rate_per_day.unwrap() > 1_000_000.0);
    }

    /// A day's reading of the odometer: (year, month, day, value).
    type Read = (i32, u32, u32, u64);

    /// 10,000 on 1 January 2025 and 10,400 ten days later: 40 a day.
    const FORTY_A_DAY: [Read; 2] = [(2025, 1, 1, 10_000), (2025, 1, 11, 10_400)];

    /// The usage of readings, in the order they arrive.
    fn usage(reads: impl IntoIterator<Item = Read>) -> Usage {
        let readings: Vec<_> = reads
            .into_iter()
            .map(|(y, m, d, value)| reading(y, m, d, value))
            .collect();
        Usage::from_readings(&readings)
    }

    /// What the case shows, its readings as (days after 1 January 2023, odometer) in the order they
    /// arrive, the rate per day expected and the tolerance.
    type RateCase = (&'static str, &'static [(i64, u64)], f64, f64);

    #[test]
    fn the_rate_is_the_least_squares_slope_of_the_trusted_readings_of_the_last_year() {
        let cases: [RateCase; 4] = [
            ("two readings", &[(0, 10_000), (10, 10_400)], 40.0, 1e-9),
            // Not on one line: the fit weighs every point (sxy 14,900 / sxx 500).
            (
                "off one line",
                &[(0, 1_000), (10, 1_310), (20, 1_590), (30, 1_900)],
                29.8,
                1e-9,
            ),
            // The reading of day 5 is below day 0's, which arrived before it: a rollback, not fitted.
            (
                "a rollback",
                &[(10, 10_400), (0, 10_000), (5, 9_000)],
                40.0,
                1e-9,
            ),
            // 100/day in 2023, 10/day over the last twelve months (2024 has 366 days).
            (
                "last year",
                &[(0, 0), (365, 36_500), (547, 38_320), (731, 40_150)],
                10.0,
                0.1,
            ),
        ];
        let origin = at(2023, 1, 1);
        for (case, reads, expected, tolerance) in cases {
            let readings: Vec<_> = reads
                .iter()
                .map(|&(days, value)| OdometerReading {
                    at: origin + Duration::days(days),
                    value,
                })
                .collect();
            let rate = Usage::from_readings(&readings).rate_per_day();
            assert!(
                rate.is_some_and(|rate| (rate - expected).abs() < tolerance),
                "{case}: rate {rate:?}, expected {expected} ± {tolerance}"
            );
        }
    }

    #[test]
    fn two_readings_project_the_daily_rate_forward() {
        let usage = usage(FORTY_A_DAY);
        let e = usage.estimate_at(day(2025, 1, 21)).unwrap();
        assert_eq!(e.value, 10_800);
        assert!(e.estimated);
        assert_eq!(e.as_of, day(2025, 1, 21));
        assert_eq!(e.rate_per_day, Some(40.0));
    }

    #[test]
    fn a_lower_reading_after_a_higher_one_is_a_flagged_rollback() {
        // 9,000 on 6 January, after 10,000 on the 1st: lower than a reading before it.
        let usage = usage(FORTY_A_DAY.into_iter().rev().chain([(2025, 1, 6, 9_000)]));
        assert_eq!(usage.rollbacks(), &[reading(2025, 1, 6, 9_000)]);
        assert_eq!(usage.trusted().len(), 2);
    }

    #[test]
    fn a_late_rollback_does_not_pull_the_estimate_down() {
        let usage = usage(FORTY_A_DAY.into_iter().chain([(2025, 1, 12, 500)]));
        assert_eq!(usage.latest().unwrap().value, 10_400);
        assert_eq!(usage.estimate_at(day(2025, 1, 12)).unwrap().value, 10_440);
    }

    #[test]
    fn a_single_reading_is_returned_as_read_not_projected() {
        let usage = usage([(2025, 1, 1, 10_000)]);
        assert_eq!(usage.rate_per_day(), None);
        let e = usage.estimate_at(day(2026, 1, 1)).unwrap();
        assert_eq!(
            e,
            OdometerEstimate {
                value: 10_000,
                as_of: day(2025, 1, 1),
                estimated: false,
                rate_per_day: None
            }
        );
    }

    #[test]
    fn readings_less_than_a_day_apart_give_no_rate() {
        let morning = Utc.with_ymd_and_hms(2025, 1, 1, 8, 0, 0).unwrap();
        let usage = Usage::from_readings(&[
            OdometerReading {
                at: morning,
                value: 100,
            },
            OdometerReading {
                at: morning + Duration::hours(20),
                value: 400,
            },
        ]);
        assert_eq!(usage.rate_per_day(), None);
        assert_eq!(usage.estimate_at(day(2025, 3, 1)).unwrap().value, 400);
    }

    #[test]
    fn no_readings_no_estimate() {
        assert_eq!(Usage::from_readings(&[]).estimate_at(day(2025, 1, 1)), None);
    }

    #[test]
    fn estimate_for_the_day_of_the_latest_reading_is_not_estimated() {
        let usage = usage(FORTY_A_DAY);
        let e = usage.estimate_at(day(2025, 1, 11)).unwrap();
        assert_eq!((e.value, e.estimated), (10_400, false));
        // A day before the latest reading still answers the latest reading: never less.
        let e = usage.estimate_at(day(2025, 1, 5)).unwrap();
        assert_eq!(
            (e.value, e.estimated, e.as_of),
            (10_400, false, day(2025, 1, 11))
        );
    }

    #[test]
    fn readings_come_from_any_event_with_an_odometer() {
        let event = |kind: &str, odometer: Option<u64>| -> VehicleEvent {
            serde_json::from_value(serde_json::json!({
                "id": "evt_1", "vehicleId": "veh_1", "orgId": "org_1", "kind": kind,
                "occurredAt": "2025-01-01T00:00:00Z", "recordedAt": "2025-01-01T00:00:00Z",
                "odometer": odometer, "title": "t", "source": "user", "details": {}
            }))
            .unwrap()
        };
        let events = [
            event("odometer_reading", Some(100)),
            event("maintenance", Some(200)),
            event("valuation", None),
        ];
        let values: Vec<u64> = OdometerReading::from_events(&events)
            .iter()
            .map(|r| r.value)
            .collect();
        assert_eq!(values, [100, 200]);
        assert_eq!(Usage::from_events(&events).latest().unwrap().value, 200);
    }

    fn readings() -> impl Strategy<Value = Vec<OdometerReading>> {
        proptest::collection::vec((0i64..800 * 86_400, 0u64..200_000), 1..12).prop_map(|raw| {
            let origin = at(2024, 1, 1);
            raw.into_iter()
                .map(|(secs, value)| OdometerReading {
                    at: origin + Duration::seconds(secs),
                    value,
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn estimate_is_never_below_the_latest_trusted_reading(
            readings in readings(),
            offset in -100i64..2_000,
        ) {
            let usage = Usage::from_readings(&readings);
            let latest = *usage.latest().unwrap();
            let date = latest.at.date_naive() + Duration::days(offset);
            let e = usage.estimate_at(date).unwrap();
            prop_assert!(e.value >= latest.value);
            prop_assert_eq!(usage.trusted().len() + usage.rollbacks().len(), readings.len());
            for pair in usage.trusted().windows(2) {
                prop_assert!(pair[0].value <= pair[1].value);
            }
        }

        #[test]
        fn adding_a_rollback_reading_does_not_change_the_estimate(
            readings in readings(),
            pick in any::<prop::sample::Index>(),
            after_secs in 1i64..400 * 86_400,
            below in 1u64..50_000,
            offset in 0i64..1_000,
        ) {
            let base = readings[pick.index(readings.len())];
            let rollback_at = base.at + Duration::seconds(after_secs);
            let highest_before = readings
                .iter()
                .filter(|r| r.at < rollback_at)
                .map(|r| r.value)
                .max()
                .unwrap();
            prop_assume!(highest_before > 0);
            let rollback = OdometerReading {
                at: rollback_at,
                value: highest_before.saturating_sub(below),
            };
            let before = Usage::from_readings(&readings);
            let mut more = readings.clone();
            more.push(rollback);
            let after = Usage::from_readings(&more);
            prop_assert!(after.rollbacks().contains(&rollback));
            prop_assert_eq!(after.trusted(), before.trusted());
            let date = before.latest().unwrap().at.date_naive() + Duration::days(offset);
            prop_assert_eq!(after.estimate_at(date), before.estimate_at(date));
        }
    }
}
