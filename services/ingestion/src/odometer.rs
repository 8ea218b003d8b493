//! Warnings about a recorded odometer reading that the vehicle's other records make doubtful (probe p44
//! M6). The record is kept — a reading lower than an earlier one may be a typo or a swapped cluster, and
//! only the person can tell — but the answer says what the schedule and the valuation will make of it, so
//! a typo is caught while the receipt is still at hand.

use chrono::{DateTime, Utc};
use vwc_contracts::text::{Distance, Grouped};
use vwc_contracts::{FieldError, OdometerUnit, VehicleEvent};

/// More than this a day since the previous reading is more than a vehicle is driven (about 42 mph, or
/// 67 km/h, around the clock): a digit too many, most likely.
const MAX_MILES_A_DAY: u64 = 1_000;
const MAX_KM_A_DAY: u64 = 1_600;

/// What the vehicle's other records (`others`, as they now read) make of `event`'s odometer, in `unit`:
/// nothing when it has none or it fits. The same rule as the maintenance scheduler's and the valuation's
/// (docs/maintenance-intervals.md): a reading lower than one recorded for the same time or earlier is a
/// rollback and left out; a reading higher than later ones makes those the rollbacks.
pub fn warnings(
    event: &VehicleEvent,
    others: &[VehicleEvent],
    unit: OdometerUnit,
) -> Vec<FieldError> {
    let Some(value) = event.odometer else {
        return Vec::new();
    };
    let readings = others
        .iter()
        .filter(|e| e.id != event.id)
        .filter_map(|e| e.odometer.map(|v| (e.occurred_at, v)));
    reading_warnings((event.occurred_at, value), readings, unit)
        .into_iter()
        .map(|message| FieldError {
            field: "odometer".into(),
            message,
        })
        .collect()
}

/// [`warnings`] of the reading `value` at `time` among the vehicle's other `readings` (time, value).
pub fn reading_warnings(
    (time, value): (DateTime<Utc>, u64),
    readings: impl IntoIterator<Item = (DateTime<Utc>, u64)>,
    unit: OdometerUnit,
) -> Vec<String> {
    // The highest reading up to the record's time (the latest of equal ones), and the later ones below it.
    let mut highest_before: Option<(DateTime<Utc>, u64)> = None;
    let mut lower_later: Vec<(DateTime<Utc>, u64)> = Vec::new();
    for (at, v) in readings {
        if at <= time {
            if highest_before.is_none_or(|(h_at, h)| v > h || (v == h && at > h_at)) {
                highest_before = Some((at, v));
            }
        } else if v < value {
            lower_later.push((at, v));
        }
    }
    let mut warnings = Vec::new();
    match highest_before {
        Some((at, before)) if before > value => warnings.push(format!(
            "{} is lower than the {} recorded on {}: the maintenance schedule and the valuation leave a \
             reading lower than an earlier one out, as a rollback; if it is a typo, correct the record",
            Distance(value, unit),
            Distance(before, unit),
            at.date_naive()
        )),
        Some((at, before)) => {
            let days = ((time - at).num_seconds() as f64 / 86_400.0).max(1.0);
            let per_day = (value - before) as f64 / days;
            let most = match unit {
                OdometerUnit::Mi => MAX_MILES_A_DAY,
                OdometerUnit::Km => MAX_KM_A_DAY,
            };
            if per_day > most as f64 {
                warnings.push(format!(
                    "{} is {} more than the {} recorded on {}, about {} {} a day since: more than a \
                     vehicle is driven; if a digit is wrong, correct the record",
                    Distance(value, unit),
                    Distance(value - before, unit),
                    Distance(before, unit),
                    at.date_naive(),
                    Grouped(per_day.round() as u64),
                    unit.as_str()
                ));
            }
        }
        None => {}
    }
    lower_later.sort();
    if let Some(&(at, first)) = lower_later.first() {
        let more = match lower_later.len() {
            1 => String::new(),
            n => format!(" and {} more later", n - 1),
        };
        warnings.push(format!(
            "{} is higher than the {} recorded later, on {}{more}: the maintenance schedule and the \
             valuation will leave {} out, as rollbacks; if this reading is a typo, correct the record",
            Distance(value, unit),
            Distance(first, unit),
            at.date_naive(),
            if lower_later.len() == 1 { "it" } else { "them" },
        ));
    }
    warnings
}

/// A reading (time, value).
type Reading = (DateTime<Utc>, u64);

/// Whether `candidate` is higher than `best` (the later of equal ones): the earlier reading a record is
/// measured against.
fn higher(candidate: Reading, best: Option<Reading>) -> bool {
    best.is_none_or(|(at, value)| candidate.1 > value || (candidate.1 == value && candidate.0 > at))
}

/// [`reading_warnings`] of each reading of a file (`file[i]`, `None` for a row without one) among the
/// vehicle's `held` readings and the file's readings up to its time (not the file's later ones: a typo is
/// the row lower than those before it, not also each earlier row it is lower than), as (index, message).
/// In O(n log n) for n readings, but for the rows whose value is above some later held reading, which
/// scan those: an import of tens of thousands of rows (`vwc import` has no size limit) stays fast.
pub fn file_warnings(
    file: &[Option<Reading>],
    mut held: Vec<Reading>,
    unit: OdometerUnit,
) -> Vec<(usize, String)> {
    held.sort_unstable();
    // The lowest held value from each position on: a row above it has held readings later and lower.
    let mut lowest_after = vec![u64::MAX; held.len() + 1];
    for k in (0..held.len()).rev() {
        lowest_after[k] = lowest_after[k + 1].min(held[k].1);
    }
    // Every reading in time order, the file's with their index; the highest reading up to each file
    // reading's time other than itself, by groups of equal times.
    let mut all: Vec<(Reading, Option<usize>)> = held.iter().map(|&r| (r, None)).collect();
    all.extend(
        file.iter()
            .enumerate()
            .filter_map(|(i, r)| r.map(|r| (r, Some(i)))),
    );
    all.sort_by_key(|&((at, _), _)| at);
    let mut highest: Vec<Option<Reading>> = vec![None; file.len()];
    let mut before: Option<Reading> = None;
    let mut start = 0;
    while start < all.len() {
        let time = all[start].0.0;
        let end = start + all[start..].iter().take_while(|(r, _)| r.0 == time).count();
        for k in start..end {
            let Some(i) = all[k].1 else { continue };
            let mut best = before;
            for (j, &(r, _)) in all[start..end].iter().enumerate() {
                if start + j != k && higher(r, best) {
                    best = Some(r);
                }
            }
            highest[i] = best;
        }
        for &(r, _) in &all[start..end] {
            if higher(r, before) {
                before = Some(r);
            }
        }
        start = end;
    }
    let mut warnings = Vec::new();
    for (i, reading) in file.iter().enumerate() {
        let Some((at, value)) = *reading else {
            continue;
        };
        let k = held.partition_point(|&(h, _)| h <= at);
        let later = if lowest_after[k] < value {
            &held[k..]
        } else {
            &[][..]
        };
        let others = highest[i].into_iter().chain(later.iter().copied());
        for message in reading_warnings((at, value), others, unit) {
            warnings.push((i, message));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use vwc_contracts::{EventId, EventKind, EventSource, OrgId, VehicleId};

    fn reading(day: u32, odometer: Option<u64>) -> VehicleEvent {
        VehicleEvent {
            id: EventId::generate(),
            vehicle_id: VehicleId::from("veh_1"),
            org_id: OrgId::from("org_1"),
            kind: EventKind::OdometerReading,
            occurred_at: Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap(),
            recorded_at: Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap(),
            odometer,
            cost_cents: None,
            currency: None,
            title: "Odometer reading".into(),
            notes: None,
            vendor: None,
            source: EventSource::User,
            details: serde_json::Value::Null,
        }
    }

    fn messages(event: &VehicleEvent, others: &[VehicleEvent], unit: OdometerUnit) -> Vec<String> {
        warnings(event, others, unit)
            .into_iter()
            .inspect(|w| assert_eq!(w.field, "odometer"))
            .map(|w| w.message)
            .collect()
    }

    #[test]
    fn a_reading_that_fits_the_others_or_has_no_odometer_says_nothing() {
        let others = [reading(1, Some(41_000)), reading(20, Some(42_000))];
        assert!(messages(&reading(10, Some(41_500)), &others, OdometerUnit::Mi).is_empty());
        assert!(messages(&reading(10, None), &others, OdometerUnit::Mi).is_empty());
        assert!(messages(&reading(10, Some(41_500)), &[], OdometerUnit::Mi).is_empty());
        // Equal to the reading before it: a day without driving.
        assert!(messages(&reading(10, Some(41_000)), &others, OdometerUnit::Mi).is_empty());
        // Its own earlier version (a replay answers with the stored record) is not another reading.
        let event = reading(10, Some(40_000));
        let mut itself = event.clone();
        itself.odometer = Some(99_999);
        assert!(messages(&event, &[itself], OdometerUnit::Mi).is_empty());
    }

    #[test]
    fn a_reading_lower_than_an_earlier_one_is_named_a_rollback() {
        let others = [
            reading(1, Some(41_250)),
            reading(5, Some(41_400)),
            reading(6, None),
        ];
        assert_eq!(
            messages(&reading(10, Some(4_125)), &others, OdometerUnit::Mi),
            [
                "4,125 mi is lower than the 41,400 mi recorded on 2026-03-05: the maintenance schedule \
              and the valuation leave a reading lower than an earlier one out, as a rollback; if it is a \
              typo, correct the record"
            ]
        );
        // One of the same time counts as earlier (it arrived first).
        let same = reading(10, Some(50_000));
        assert_eq!(
            messages(&reading(10, Some(49_000)), &[same], OdometerUnit::Km).len(),
            1
        );
    }

    #[test]
    fn a_reading_higher_than_later_ones_names_them() {
        let others = [
            reading(1, Some(41_000)),
            reading(20, Some(41_900)),
            reading(25, Some(42_500)),
            reading(28, Some(43_500)),
        ];
        assert_eq!(
            messages(&reading(10, Some(43_000)), &others, OdometerUnit::Mi),
            [
                "43,000 mi is higher than the 41,900 mi recorded later, on 2026-03-20 and 1 more later: \
              the maintenance schedule and the valuation will leave them out, as rollbacks; if this \
              reading is a typo, correct the record"
            ]
        );
    }

    /// The file's warnings as the plain rule reads them: each row against every held reading and the
    /// file's other rows up to its time.
    fn file_warnings_by_the_rule(
        file: &[Option<Reading>],
        held: &[Reading],
        unit: OdometerUnit,
    ) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (i, reading) in file.iter().enumerate() {
            let Some(reading) = *reading else { continue };
            let others = (file.iter().enumerate())
                .filter(|(j, _)| *j != i)
                .filter_map(|(_, r)| r.filter(|(at, _)| *at <= reading.0))
                .chain(held.iter().copied());
            for message in reading_warnings(reading, others, unit) {
                out.push((i, message));
            }
        }
        out
    }

    #[test]
    fn a_files_warnings_are_the_rules_for_any_readings() {
        // A small generator (no dependency): days 0–39 so times repeat, values around a rising line
        // with typos (a digit dropped or doubled) and rows without an odometer.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let day = |d: u64| {
            Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap() + chrono::Duration::days(d as i64)
        };
        for case in 0..300 {
            let reading = |next: &mut dyn FnMut(u64) -> u64| {
                let d = next(40);
                let mut value = 30_000 + d * 40 + next(200);
                match next(10) {
                    0 => value /= 10,
                    1 => value *= 10,
                    _ => {}
                }
                (day(d), value)
            };
            let held: Vec<Reading> = (0..next(12)).map(|_| reading(&mut next)).collect();
            let file: Vec<Option<Reading>> = (0..next(30))
                .map(|_| (next(6) != 0).then(|| reading(&mut next)))
                .collect();
            let unit = [OdometerUnit::Mi, OdometerUnit::Km][case % 2];
            assert_eq!(
                file_warnings(&file, held.clone(), unit),
                file_warnings_by_the_rule(&file, &held, unit),
                "case {case}: file {file:?}, held {held:?}"
            );
        }
    }

    #[test]
    fn a_jump_no_vehicle_could_drive_is_named_with_its_pace() {
        let others = [reading(1, Some(41_250))];
        assert_eq!(
            messages(&reading(11, Some(412_500)), &others, OdometerUnit::Mi),
            [
                "412,500 mi is 371,250 mi more than the 41,250 mi recorded on 2026-03-01, about 37,125 mi \
              a day since: more than a vehicle is driven; if a digit is wrong, correct the record"
            ]
        );
        // 900 mi in a day is a long road trip, not a typo; 1,500 km a day neither.
        assert!(messages(&reading(2, Some(42_150)), &others, OdometerUnit::Mi).is_empty());
        assert!(messages(&reading(2, Some(42_750)), &others, OdometerUnit::Km).is_empty());
        // The same day counts as one.
        assert_eq!(
            messages(&reading(1, Some(43_000)), &others, OdometerUnit::Mi).len(),
            1
        );
    }
}
