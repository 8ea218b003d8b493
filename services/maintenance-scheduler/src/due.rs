//! Due computation: when a maintenance item is next due and how urgent it is, by date and by odometer,
//! whichever comes first. Pure functions of the item's settings, the vehicle's anchor, the task's
//! history and today.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use vwc_contracts::maintenance::{MaintenanceItemView, MaintenanceStatus};
use vwc_contracts::{EventKind, OdometerUnit, VehicleEvent};

use crate::settings::{DueMode, ItemSettings};
use crate::usage_estimate::OdometerEstimate;
use vwc_contracts::catalogue::Catalogue;

/// A projection further out than this says nothing useful (and would overflow date arithmetic).
const MAX_PROJECTION_DAYS: f64 = 36_500.0;

/// Where a never-done item counts from: when the vehicle was acquired (or registered here) and the
/// odometer then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub at: DateTime<Utc>,
    pub odometer: Option<u64>,
}

impl Anchor {
    /// The latest acquisition event, else the registration time. Its odometer is the acquisition's own,
    /// else the reading nearest the anchor (the last one on or before it, else the first after it).
    pub fn from_timeline(registered_at: DateTime<Utc>, events: &[VehicleEvent]) -> Anchor {
        let acquisitions = events
            .iter()
            .filter(|e| e.kind == EventKind::Acquisition)
            .map(|e| (e.occurred_at, e.odometer));
        let readings = crate::usage_estimate::OdometerReading::from_events(events);
        Anchor::from_parts(registered_at, acquisitions, &readings)
    }

    /// [`Anchor::from_timeline`] from facts already extracted: the acquisitions (when, odometer) and every
    /// odometer reading of the vehicle, in any order.
    pub fn from_parts(
        registered_at: DateTime<Utc>,
        acquisitions: impl IntoIterator<Item = (DateTime<Utc>, Option<u64>)>,
        readings: &[crate::usage_estimate::OdometerReading],
    ) -> Anchor {
        let acquisition = acquisitions.into_iter().max_by_key(|(at, _)| *at);
        let at = acquisition.map_or(registered_at, |(at, _)| at);
        let nearest = || {
            let before = readings
                .iter()
                .map(|r| (r.at, r.value))
                .filter(|(t, _)| *t <= at)
                .max();
            let after = || {
                readings
                    .iter()
                    .map(|r| (r.at, r.value))
                    .filter(|(t, _)| *t > at)
                    .min()
            };
            before.or_else(after).map(|(_, o)| o)
        };
        Anchor {
            at,
            odometer: acquisition.and_then(|(_, o)| o).or_else(nearest),
        }
    }
}

/// One completion of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    pub done_at: DateTime<Utc>,
    pub odometer: Option<u64>,
}

impl Done {
    /// Every maintenance event that lists `task`, in timeline order (order does not matter to `evaluate`).
    pub fn history_for(task: &str, events: &[VehicleEvent]) -> Vec<Done> {
        events
            .iter()
            .filter(|e| e.kind == EventKind::Maintenance)
            .filter(|e| e.maintenance_tasks().iter().any(|t| t == task))
            .map(|e| Done {
                done_at: e.occurred_at,
                odometer: e.odometer,
            })
            .collect()
    }
}

/// The more urgent of two statuses; `Unknown` only when both are.
pub fn worse(a: MaintenanceStatus, b: MaintenanceStatus) -> MaintenanceStatus {
    fn rank(s: MaintenanceStatus) -> u8 {
        match s {
            MaintenanceStatus::Unknown => 0,
            MaintenanceStatus::Ok => 1,
            MaintenanceStatus::DueSoon => 2,
            MaintenanceStatus::Overdue => 3,
        }
    }
    if rank(b) > rank(a) { b } else { a }
}

/// The next due point of an item, independent of today and of the odometer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextDue {
    /// The completion that counts: the latest `done_at` (ties: the higher odometer).
    pub last_done: Option<Done>,
    pub due_at: Option<NaiveDate>,
    pub due_odometer: Option<u64>,
}

/// A schedule item in context: its settings, the vehicle's unit and anchor, and the task's history.
#[derive(Debug, Clone, Copy)]
pub struct MaintenanceItem<'a> {
    pub settings: &'a ItemSettings,
    pub unit: OdometerUnit,
    pub anchor: &'a Anchor,
    pub history: &'a [Done],
}

impl MaintenanceItem<'_> {
    pub fn next_due(&self) -> NextDue {
        next_due(self.settings, self.unit, self.anchor, self.history)
    }

    pub fn status_on(
        &self,
        today: NaiveDate,
        odometer: Option<&OdometerEstimate>,
    ) -> MaintenanceItemView {
        evaluate(
            self.settings,
            self.unit,
            self.anchor,
            self.history,
            today,
            odometer,
        )
    }
}

/// The next due date and odometer. History may come in any order: the latest `done_at` counts, so a
/// back-dated record lands where it belongs. Never done: counted from the anchor.
pub fn next_due(
    item: &ItemSettings,
    unit: OdometerUnit,
    anchor: &Anchor,
    history: &[Done],
) -> NextDue {
    let last_done = history
        .iter()
        .copied()
        .max_by_key(|d| (d.done_at, d.odometer));
    let months = item.months();
    let distance = item.distance_interval(unit);
    // The odometer cannot go down: the highest recorded completion odometer is the base, but only when
    // the latest completion has one (an older one would make a fresh reset look overdue).
    let done_odometer = last_done
        .and_then(|d| d.odometer)
        .and_then(|_| history.iter().filter_map(|d| d.odometer).max());

    let (due_at, due_odometer) = match item.mode {
        DueMode::FromLastDone => {
            let date_base = last_done.map_or(anchor.at, |d| d.done_at).date_naive();
            let odometer_base = match last_done {
                Some(_) => done_odometer,
                None => anchor.odometer,
            };
            (
                months.and_then(|m| add_months(date_base, m)),
                distance
                    .zip(odometer_base)
                    .map(|(i, b)| b.saturating_add(u64::from(i))),
            )
        }
        DueMode::Fixed => {
            let first = history
                .iter()
                .copied()
                .min_by_key(|d| (d.done_at, d.odometer));
            let date_origin = first.map_or(anchor.at, |d| d.done_at).date_naive();
            // A completion inside the due-soon window counts for the coming date — for that one date at
            // most, however wide the window (a window as long as the interval skipped whole cycles), and not
            // when it fell on a date of the calendar itself (it was on time for that one).
            let date_threshold = last_done.map(|d| {
                let done = d.done_at.date_naive();
                let window = done + Duration::days(i64::from(item.due_soon_days));
                let on_calendar = done == date_origin
                    || months
                        .and_then(|m| first_date_after(date_origin, m, done.pred_opt()))
                        .is_some_and(|date| date == done);
                match months.and_then(|m| first_date_after(date_origin, m, Some(done))) {
                    _ if on_calendar => done,
                    Some(coming) => window.min(coming),
                    None => window,
                }
            });
            let odometer_origin = history
                .iter()
                .filter(|d| d.odometer.is_some())
                .min_by_key(|d| (d.done_at, d.odometer))
                .and_then(|d| d.odometer)
                .or(anchor.odometer);
            // The same bound by distance: early for the coming odometer at most.
            let odometer_threshold = match last_done {
                None => Some(None),
                Some(_) => done_odometer.map(|o| {
                    let window = o.saturating_add(u64::from(item.due_soon_distance(unit)));
                    match distance.zip(odometer_origin) {
                        Some((i, origin)) if o >= origin && (o - origin) % u64::from(i) == 0 => {
                            Some(o)
                        }
                        Some((i, origin)) => {
                            Some(window.min(first_odometer_after(origin, i, Some(o))))
                        }
                        None => Some(window),
                    }
                }),
            };
            (
                months.and_then(|m| first_date_after(date_origin, m, date_threshold)),
                match (distance, odometer_origin, odometer_threshold) {
                    (Some(i), Some(origin), Some(threshold)) => {
                        Some(first_odometer_after(origin, i, threshold))
                    }
                    _ => None,
                },
            )
        }
    };
    NextDue {
        last_done,
        due_at,
        due_odometer,
    }
}

/// The status of one item today: by date and by odometer, the worse of the two decides.
pub fn evaluate(
    item: &ItemSettings,
    unit: OdometerUnit,
    anchor: &Anchor,
    history: &[Done],
    today: NaiveDate,
    odometer: Option<&OdometerEstimate>,
) -> MaintenanceItemView {
    let mut view = evaluate_facts(item, unit, anchor, history, today, odometer);
    if view.title.is_empty() {
        view.title = Catalogue::standard().title_of(&view.task);
    }
    view.reason = view.reason_on(unit, today, odometer.map(|e| e.value));
    view.due_cycle = MaintenanceItemView::cycle_of(view.due_at, view.due_odometer);
    view
}

/// [`evaluate`] without what it derives, left empty: the catalogue's `title` (an item without a title of
/// its own), the `reason` and the `due_cycle` ([`MaintenanceItemView::reason_on`],
/// [`MaintenanceItemView::cycle`]). A sweep derives them only for the items it publishes a reminder or a
/// status change of — a schedule event leaves them out.
pub fn evaluate_facts(
    item: &ItemSettings,
    unit: OdometerUnit,
    anchor: &Anchor,
    history: &[Done],
    today: NaiveDate,
    odometer: Option<&OdometerEstimate>,
) -> MaintenanceItemView {
    let next = next_due(item, unit, anchor, history);
    let distance = item.distance_interval(unit);
    let due_soon_days = i64::from(item.due_soon_days);

    let days_left = next.due_at.map(|due| (due - today).num_days());
    let date_status = match days_left {
        None => MaintenanceStatus::Unknown,
        Some(d) if d < 0 => MaintenanceStatus::Overdue,
        Some(d) if d <= due_soon_days => MaintenanceStatus::DueSoon,
        Some(_) => MaintenanceStatus::Ok,
    };

    let estimate = odometer.filter(|_| next.due_odometer.is_some());
    let remaining = next
        .due_odometer
        .zip(estimate)
        .map(|(due, e)| i128::from(due) - i128::from(e.value));
    let projected = next
        .due_odometer
        .zip(estimate)
        .and_then(|(due, e)| project(due, e));
    let odometer_status = match remaining {
        None => MaintenanceStatus::Unknown,
        Some(r) if r < 0 => MaintenanceStatus::Overdue,
        Some(r) if r <= i128::from(item.due_soon_distance(unit)) => MaintenanceStatus::DueSoon,
        Some(_) if projected.is_some_and(|p| (p - today).num_days() <= due_soon_days) => {
            MaintenanceStatus::DueSoon
        }
        Some(_) => MaintenanceStatus::Ok,
    };
    // Worth showing only when the odometer wins the race against the calendar.
    let projected_due_at = projected.filter(|p| next.due_at.is_none_or(|due| *p < due));

    let status = if !item.enabled || (item.months().is_none() && distance.is_none()) {
        MaintenanceStatus::Unknown
    } else {
        worse(date_status, odometer_status)
    };

    MaintenanceItemView {
        task: item.task.clone(),
        // The catalogue's title is derived: written by `evaluate`, left empty here.
        title: item.title.clone().unwrap_or_default(),
        interval_miles: item.intervals.miles,
        interval_km: item.intervals.km,
        interval_months: item.intervals.months,
        last_done_at: next.last_done.map(|d| d.done_at),
        last_done_odometer: next.last_done.and_then(|d| d.odometer),
        due_at: next.due_at,
        due_odometer: next.due_odometer,
        projected_due_at,
        status,
        reason: String::new(),
        due_cycle: String::new(),
        enabled: item.enabled,
    }
}

/// The date at which the estimated odometer reaches `due`, at the estimate's usage rate.
fn project(due: u64, estimate: &OdometerEstimate) -> Option<NaiveDate> {
    let rate = estimate
        .rate_per_day
        .filter(|r| r.is_finite() && *r > 0.0)?;
    let to_go = due.checked_sub(estimate.value).filter(|d| *d > 0)?;
    let days = (to_go as f64 / rate).ceil();
    (days <= MAX_PROJECTION_DAYS).then(|| estimate.as_of + Duration::days(days as i64))
}

fn add_months(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    date.checked_add_months(Months::new(months))
}

/// The first date of the series `origin + k·months` (k ≥ 1) strictly after `threshold`; the first one
/// when there is no threshold. Each term is computed from the origin so month-end clamping never drifts.
fn first_date_after(
    origin: NaiveDate,
    months: u32,
    threshold: Option<NaiveDate>,
) -> Option<NaiveDate> {
    let nth = |k: u32| add_months(origin, k.checked_mul(months)?);
    let Some(threshold) = threshold else {
        return nth(1);
    };
    let months_apart =
        (threshold.year() - origin.year()) * 12 + threshold.month() as i32 - origin.month() as i32;
    // Start a step below the answer so only a couple of iterations remain.
    let mut k = u32::try_from(months_apart / months as i32 - 1)
        .unwrap_or(0)
        .max(1);
    loop {
        let date = nth(k)?;
        if date > threshold {
            return Some(date);
        }
        k = k.checked_add(1)?;
    }
}

/// The first odometer of the series `origin + k·interval` (k ≥ 1) strictly above `threshold`.
fn first_odometer_after(origin: u64, interval: u32, threshold: Option<u64>) -> u64 {
    let interval = u64::from(interval);
    match threshold {
        Some(t) if t >= origin.saturating_add(interval) => {
            let k = (t - origin) / interval + 1;
            origin.saturating_add(k.saturating_mul(interval))
        }
        _ => origin.saturating_add(interval),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::*;
    use crate::test_support::{at, day};
    use proptest::prelude::*;
    use serde_json::json;
    use vwc_contracts::catalogue::Intervals;

    fn done(y: i32, m: u32, d: u32, odometer: Option<u64>) -> Done {
        Done {
            done_at: at(y, m, d),
            odometer,
        }
    }

    fn read(value: u64, as_of: NaiveDate) -> OdometerEstimate {
        OdometerEstimate {
            value,
            as_of,
            estimated: false,
            rate_per_day: None,
        }
    }

    fn settings(task: &str, unit: OdometerUnit) -> ItemSettings {
        ItemSettings::default_for(task, unit).unwrap()
    }

    fn anchor() -> Anchor {
        Anchor {
            at: at(2024, 1, 1),
            odometer: Some(30_000),
        }
    }

    /// `item` of a mile vehicle anchored by [`anchor`], done as `history` says, on `today` with `odometer`
    /// read that day (`None`: no readings).
    fn status_on(
        item: &ItemSettings,
        history: &[Done],
        today: NaiveDate,
        odometer: Option<u64>,
    ) -> MaintenanceItemView {
        let estimate = odometer.map(|o| read(o, today));
        let unit = OdometerUnit::Mi;
        evaluate(item, unit, &anchor(), history, today, estimate.as_ref())
    }

    /// The brief's example: oil change done at 40,000 mi on 1 March 2025, every 5,000 mi or 6 months.
    fn oil_status(today: NaiveDate, odometer: Option<u64>) -> MaintenanceItemView {
        oil_like(&settings("oil_change", OdometerUnit::Mi), today, odometer)
    }

    /// [`oil_status`] with the odometer `estimate` given.
    fn oil_status_by(today: NaiveDate, estimate: Option<&OdometerEstimate>) -> MaintenanceItemView {
        let history = [done(2025, 3, 1, Some(40_000))];
        let oil = settings("oil_change", OdometerUnit::Mi);
        evaluate(&oil, OdometerUnit::Mi, &anchor(), &history, today, estimate)
    }

    /// 42,000 mi estimated on `today`, growing `rate_per_day`.
    fn estimated_42_000(today: NaiveDate, rate_per_day: f64) -> OdometerEstimate {
        OdometerEstimate {
            value: 42_000,
            as_of: today,
            estimated: true,
            rate_per_day: Some(rate_per_day),
        }
    }

    #[test]
    fn oil_change_done_at_40000_is_due_at_45000_mi_or_six_months_later() {
        let s = oil_status(day(2025, 4, 1), Some(41_000));
        assert_eq!(s.due_odometer, Some(45_000));
        assert_eq!(s.due_at, Some(day(2025, 9, 1)));
        assert_eq!(s.last_done_at, Some(at(2025, 3, 1)));
        assert_eq!(s.last_done_odometer, Some(40_000));
    }

    #[test]
    fn the_worked_example_turns_due_soon_then_overdue_by_odometer_or_date() {
        use MaintenanceStatus::{DueSoon, Ok, Overdue};
        // Due on 2025-09-01 or at 45,000 mi; due soon 30 days or 500 mi before.
        let either = "Due on 2025-09-01 or at 45,000 mi, whichever comes first";
        let reached = "Due now: the odometer has reached 45,000 mi";
        let past_distance = "Overdue: was due at 45,000 mi";
        let past_date = "Overdue: was due on 2025-09-01";
        let past_both = "Overdue: was due on 2025-09-01 and at 45,000 mi";
        // (today, odometer read today, status, reason)
        let cases = [
            (day(2025, 4, 1), 41_000, Ok, either),
            (day(2025, 6, 1), 44_600, DueSoon, either),
            (day(2025, 6, 1), 45_000, DueSoon, reached),
            (day(2025, 6, 1), 45_100, Overdue, past_distance),
            (day(2025, 9, 1), 42_000, DueSoon, either),
            (day(2025, 9, 4), 42_000, Overdue, past_date),
            (day(2025, 9, 2), 46_000, Overdue, past_both),
        ];
        for (today, odometer, status, reason) in cases {
            let s = oil_status(today, Some(odometer));
            assert_eq!(
                (s.status, s.reason.as_str()),
                (status, reason),
                "{today} at {odometer} mi"
            );
        }
    }

    #[test]
    fn a_km_vehicle_gets_km_intervals_and_thresholds() {
        let item = settings("oil_change", OdometerUnit::Km);
        assert_eq!(
            (
                item.intervals.km,
                item.intervals.miles,
                item.intervals.months
            ),
            (Some(8_000), None, Some(6))
        );
        let history = [done(2025, 3, 1, Some(64_000))];
        let today = day(2025, 5, 1);
        let read_at = |km| {
            let estimate = read(km, today);
            evaluate(
                &item,
                OdometerUnit::Km,
                &anchor(),
                &history,
                today,
                Some(&estimate),
            )
        };
        let s = read_at(71_300);
        assert_eq!(s.due_odometer, Some(72_000));
        assert_eq!(s.status, MaintenanceStatus::DueSoon);
        assert_eq!(
            s.reason,
            "Due on 2025-09-01 or at 72,000 km, whichever comes first"
        );
        assert_eq!(
            read_at(71_100).status,
            MaintenanceStatus::Ok,
            "900 km is outside the 800 km window"
        );
    }

    #[test]
    fn a_task_never_done_counts_from_the_anchor() {
        let oil = settings("oil_change", OdometerUnit::Mi);
        let s = status_on(&oil, &[], day(2024, 3, 1), Some(31_000));
        assert_eq!(s.due_at, Some(day(2024, 7, 1)));
        assert_eq!(s.due_odometer, Some(35_000));
        assert_eq!(s.last_done_at, None);
        assert_eq!(s.status, MaintenanceStatus::Ok);
    }

    #[test]
    fn a_back_dated_record_lands_in_its_place_and_the_latest_completion_counts() {
        let item = settings("oil_change", OdometerUnit::Mi);
        let latest = done(2025, 3, 1, Some(40_000));
        let back_dated = done(2024, 9, 1, Some(35_000));
        for history in [[latest, back_dated], [back_dated, latest]] {
            let next = next_due(&item, OdometerUnit::Mi, &anchor(), &history);
            assert_eq!(next.last_done, Some(latest));
            assert_eq!(next.due_at, Some(day(2025, 9, 1)));
            assert_eq!(next.due_odometer, Some(45_000));
        }
    }

    #[test]
    fn months_are_calendar_months_clamped_at_the_month_end() {
        let item = settings("oil_change", OdometerUnit::Mi);
        let next = next_due(
            &item,
            OdometerUnit::Mi,
            &anchor(),
            &[done(2025, 8, 31, Some(40_000))],
        );
        assert_eq!(next.due_at, Some(day(2026, 2, 28)));
    }

    #[test]
    fn a_time_only_item_needs_no_odometer() {
        let fluid = settings("brake_fluid", OdometerUnit::Mi);
        let s = status_on(&fluid, &[done(2023, 2, 1, None)], day(2025, 1, 1), None);
        assert_eq!(s.due_at, Some(day(2025, 2, 1)));
        assert_eq!(s.due_odometer, None);
        assert_eq!(s.status, MaintenanceStatus::Ok);
        assert_eq!(s.reason, "Due on 2025-02-01");
    }

    #[test]
    fn a_distance_only_item_without_readings_is_unknown() {
        let fluid = settings("transmission_fluid", OdometerUnit::Mi);
        let s = status_on(&fluid, &[], day(2025, 1, 1), None);
        assert_eq!(s.due_odometer, Some(90_000));
        assert_eq!(s.status, MaintenanceStatus::Unknown);
        assert_eq!(s.reason, "Unknown: no odometer readings");
    }

    #[test]
    fn a_distance_only_item_without_a_starting_odometer_is_unknown() {
        let no_odometer = Anchor {
            at: at(2024, 1, 1),
            odometer: None,
        };
        let s = evaluate(
            &settings("spark_plugs", OdometerUnit::Mi),
            OdometerUnit::Mi,
            &no_odometer,
            &[],
            day(2025, 1, 1),
            Some(&read(50_000, day(2025, 1, 1))),
        );
        assert_eq!(s.status, MaintenanceStatus::Unknown);
        assert_eq!(s.reason, "Unknown: odometer at acquisition not recorded");
    }

    #[test]
    fn an_item_without_any_interval_is_unknown() {
        let mut item = settings("oil_change", OdometerUnit::Mi);
        item.intervals.miles = None;
        item.intervals.months = None;
        let s = status_on(&item, &[], day(2025, 1, 1), None);
        assert_eq!(s.status, MaintenanceStatus::Unknown);
        assert_eq!(s.reason, "Unknown: no interval configured");
        assert_eq!(s.due_cycle, "-@-");
    }

    #[test]
    fn a_disabled_item_is_unknown_but_still_shows_its_due_point() {
        let mut item = settings("oil_change", OdometerUnit::Mi);
        item.enabled = false;
        let s = oil_like(&item, day(2026, 1, 1), Some(50_000));
        assert_eq!(s.status, MaintenanceStatus::Unknown);
        assert_eq!(s.reason, "Unknown: tracking is turned off for this item");
        assert_eq!(s.due_odometer, Some(45_000));
    }

    fn oil_like(
        item: &ItemSettings,
        today: NaiveDate,
        odometer: Option<u64>,
    ) -> MaintenanceItemView {
        status_on(item, &[done(2025, 3, 1, Some(40_000))], today, odometer)
    }

    #[test]
    fn a_completion_without_an_odometer_is_judged_by_date_only() {
        let oil = settings("oil_change", OdometerUnit::Mi);
        let history = [done(2024, 9, 1, Some(35_000)), done(2025, 3, 1, None)];
        let s = status_on(&oil, &history, day(2025, 4, 1), Some(44_000));
        assert_eq!(
            s.due_odometer, None,
            "the older 35,000 must not make this look overdue"
        );
        assert_eq!(s.status, MaintenanceStatus::Ok);
        assert_eq!(
            s.reason,
            "Due on 2025-09-01 (odometer not checked: no odometer recorded when last done)"
        );
    }

    #[test]
    fn fixed_mode_keeps_the_calendar_when_done_late() {
        let mut item = settings("annual_inspection", OdometerUnit::Mi);
        let history = [done(2024, 1, 10, None), done(2025, 3, 1, None)];
        let fixed = next_due(&item, OdometerUnit::Mi, &anchor(), &history);
        assert_eq!(fixed.due_at, Some(day(2026, 1, 10)));
        item.mode = DueMode::FromLastDone;
        let rolling = next_due(&item, OdometerUnit::Mi, &anchor(), &history);
        assert_eq!(rolling.due_at, Some(day(2026, 3, 1)));
    }

    #[test]
    fn fixed_mode_counts_a_completion_inside_the_due_soon_window_for_the_coming_date() {
        let item = settings("annual_inspection", OdometerUnit::Mi);
        let early = [done(2024, 1, 10, None), done(2024, 12, 20, None)];
        let next = next_due(&item, OdometerUnit::Mi, &anchor(), &early);
        assert_eq!(next.due_at, Some(day(2026, 1, 10)));
        // Two months early is outside the 30-day window: the coming date still stands.
        let very_early = [done(2024, 1, 10, None), done(2024, 11, 10, None)];
        let next = next_due(&item, OdometerUnit::Mi, &anchor(), &very_early);
        assert_eq!(next.due_at, Some(day(2025, 1, 10)));
    }

    #[test]
    fn fixed_mode_counts_a_completion_for_one_coming_date_at_most_however_wide_the_window() {
        let mut item = settings("oil_change", OdometerUnit::Mi);
        item.mode = DueMode::Fixed;
        item.intervals.months = Some(3);
        item.intervals.miles = Some(3_000);
        let due = |due_soon_days: u32, due_soon_miles: u32, history: &[Done]| {
            let mut item = item.clone();
            item.due_soon_days = due_soon_days;
            item.due_soon_miles = due_soon_miles;
            let next = next_due(&item, OdometerUnit::Mi, &anchor(), history);
            (next.due_at, next.due_odometer)
        };
        // One completion, the one that sets the calendar: on time for its own date, so the next date is
        // one interval on whatever the window (a 95-, 200- or 365-day window used to skip 1, 2 or 4 cycles).
        let once = [done(2026, 8, 31, Some(20_000))];
        for (days, miles) in [(30, 500), (95, 3_100), (200, 6_500), (365, 12_000)] {
            assert_eq!(
                due(days, miles, &once),
                (Some(day(2026, 11, 30)), Some(23_000)),
                "window {days} days / {miles} mi"
            );
        }
        // Done again 20 days (and 2,800 mi) after the calendar date: inside a wide window before the
        // coming one, so it counts for that one — and for no date after it.
        let twice = [
            done(2026, 8, 31, Some(20_000)),
            done(2026, 9, 20, Some(22_800)),
        ];
        assert_eq!(
            due(30, 500, &twice),
            (Some(day(2026, 11, 30)), Some(26_000))
        );
        for (days, miles) in [(95, 3_100), (365, 12_000)] {
            assert_eq!(
                due(days, miles, &twice),
                (Some(day(2027, 2, 28)), Some(26_000)),
                "window {days} days / {miles} mi"
            );
        }
    }

    #[test]
    fn fixed_mode_never_done_counts_from_the_anchor() {
        let item = settings("annual_inspection", OdometerUnit::Mi);
        let next = next_due(&item, OdometerUnit::Mi, &anchor(), &[]);
        assert_eq!(next.due_at, Some(day(2025, 1, 1)));
    }

    #[test]
    fn fixed_mode_odometer_keeps_its_milestones() {
        let mut item = settings("tire_rotation", OdometerUnit::Mi);
        item.mode = DueMode::Fixed;
        item.intervals.months = None;
        let history = [
            done(2024, 2, 1, Some(5_100)),
            done(2024, 9, 1, Some(11_000)),
        ];
        let next = next_due(&item, OdometerUnit::Mi, &anchor(), &history);
        assert_eq!(next.due_odometer, Some(15_100));
        // Done at 14,700, inside the 500 mi window before 15,100: that milestone is met.
        let early = [history[0], done(2024, 9, 1, Some(14_700))];
        let next = next_due(&item, OdometerUnit::Mi, &anchor(), &early);
        assert_eq!(next.due_odometer, Some(20_100));
    }

    #[test]
    fn projected_due_date_shows_when_the_odometer_wins_and_makes_it_due_soon() {
        let today = day(2025, 4, 1);
        let s = oil_status_by(today, Some(&estimated_42_000(today, 100.0)));
        assert_eq!(s.projected_due_at, Some(day(2025, 5, 1)));
        assert_eq!(s.status, MaintenanceStatus::DueSoon);
        assert_eq!(
            s.reason,
            "Due on 2025-09-01 or at 45,000 mi (about 2025-05-01 at current usage), whichever comes first"
        );
    }

    #[test]
    fn no_projected_date_when_the_calendar_comes_first() {
        let today = day(2025, 4, 1);
        let s = oil_status_by(today, Some(&estimated_42_000(today, 5.0)));
        assert_eq!(s.projected_due_at, None);
        assert_eq!(s.status, MaintenanceStatus::Ok);
    }

    #[test]
    fn due_cycle_changes_with_a_reset_but_not_with_the_passing_days() {
        let a = oil_status(day(2025, 4, 1), Some(41_000));
        let b = oil_status(day(2025, 8, 20), Some(44_800));
        assert_eq!(a.due_cycle, "2025-09-01@45000");
        assert_eq!(a.due_cycle, b.due_cycle);
        let oil = settings("oil_change", OdometerUnit::Mi);
        let history = [
            done(2025, 3, 1, Some(40_000)),
            done(2025, 8, 25, Some(44_900)),
        ];
        let reset = status_on(&oil, &history, day(2025, 8, 26), None);
        assert_eq!(reset.due_cycle, "2026-02-25@49900");
    }

    #[test]
    fn item_status_serialises_in_the_api_shape() {
        let s = oil_status(day(2025, 6, 1), Some(44_600));
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            v,
            json!({
                "task": "oil_change", "title": "Oil and filter change",
                "intervalMiles": 5000, "intervalMonths": 6,
                "lastDoneAt": "2025-03-01T10:00:00Z", "lastDoneOdometer": 40000,
                "dueAt": "2025-09-01", "dueOdometer": 45000,
                "status": "due_soon",
                "reason": "Due on 2025-09-01 or at 45,000 mi, whichever comes first",
                "dueCycle": "2025-09-01@45000", "enabled": true
            })
        );
        let back: MaintenanceItemView = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn settings_deserialise_with_defaults_and_snake_case_mode() {
        let s: ItemSettings =
            serde_json::from_value(json!({"task": "oil_change", "intervalMiles": 6000})).unwrap();
        assert_eq!(
            (
                s.due_soon_days,
                s.due_soon_miles,
                s.due_soon_km,
                s.enabled,
                s.mode
            ),
            (30, 500, 800, true, DueMode::FromLastDone)
        );
        let s: ItemSettings = serde_json::from_value(
            json!({"task": "annual_inspection", "intervalMonths": 12, "mode": "fixed", "enabled": false}),
        )
        .unwrap();
        assert_eq!((s.mode, s.enabled), (DueMode::Fixed, false));
        assert_eq!(
            serde_json::to_value(ItemSettings::default_for("oil_change", OdometerUnit::Mi))
                .unwrap(),
            json!({"task": "oil_change", "intervalMiles": 5000, "intervalMonths": 6, "dueSoonDays": 30,
                   "dueSoonMiles": 500, "dueSoonKm": 800, "enabled": true, "mode": "from_last_done"})
        );
    }

    #[test]
    fn worse_prefers_urgency_and_ignores_unknown() {
        use MaintenanceStatus::*;
        assert_eq!(worse(Ok, DueSoon), DueSoon);
        assert_eq!(worse(Overdue, DueSoon), Overdue);
        assert_eq!(worse(Unknown, Ok), Ok);
        assert_eq!(worse(DueSoon, Unknown), DueSoon);
        assert_eq!(worse(Unknown, Unknown), Unknown);
    }

    #[test]
    fn an_interval_in_the_other_unit_is_converted_not_ignored() {
        let mut item = settings("oil_change", OdometerUnit::Mi);
        assert_eq!(item.distance_interval(OdometerUnit::Km), Some(8_047));
        item.intervals.km = Some(10_000);
        assert_eq!(item.distance_interval(OdometerUnit::Km), Some(10_000));
        assert_eq!(item.distance_interval(OdometerUnit::Mi), Some(5_000));
        item.intervals.miles = None;
        assert_eq!(item.distance_interval(OdometerUnit::Mi), Some(6_214));
    }

    #[test]
    fn unknown_tasks_have_no_defaults_and_every_catalogue_task_has_some() {
        assert_eq!(
            ItemSettings::default_for("flux_capacitor", OdometerUnit::Mi),
            None
        );
        let schedule = ItemSettings::standard_schedule(OdometerUnit::Km);
        assert_eq!(schedule.len(), 12);
        assert!(
            schedule
                .iter()
                .all(|s| s.intervals.miles.is_none() && s.validate().is_ok())
        );
    }

    #[test]
    fn invalid_settings_are_refused_field_by_field() {
        let mut item = settings("oil_change", OdometerUnit::Mi);
        item.intervals.miles = Some(0);
        item.intervals.months = Some(MAX_INTERVAL_MONTHS + 1);
        item.due_soon_days = 400;
        item.due_soon_km = MAX_DUE_SOON_DISTANCE + 1;
        item.task = "Oil Change".into();
        let fields: Vec<String> = item
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "task",
                "intervalMiles",
                "intervalMonths",
                "dueSoonDays",
                "dueSoonKm"
            ]
        );
        let mut none = settings("oil_change", OdometerUnit::Mi);
        none.intervals.miles = None;
        none.intervals.months = None;
        assert!(none.validate().is_err());
        none.enabled = false;
        assert!(none.validate().is_ok());
    }

    fn event(
        kind: &str,
        occurred_at: &str,
        odometer: Option<u64>,
        details: serde_json::Value,
    ) -> VehicleEvent {
        serde_json::from_value(json!({
            "id": "evt_1", "vehicleId": "veh_1", "orgId": "org_1", "kind": kind,
            "occurredAt": occurred_at, "recordedAt": occurred_at, "odometer": odometer,
            "title": "t", "source": "user", "details": details
        }))
        .unwrap()
    }

    #[test]
    fn history_comes_from_maintenance_events_naming_the_task() {
        let events = [
            event(
                "maintenance",
                "2025-03-01T10:00:00Z",
                Some(40_000),
                json!({"tasks": ["oil_change", "tire_rotation"]}),
            ),
            event(
                "maintenance",
                "2025-05-01T10:00:00Z",
                Some(42_000),
                json!({"tasks": ["wiper_blades"]}),
            ),
            event("repair", "2025-06-01T10:00:00Z", Some(43_000), json!({})),
        ];
        assert_eq!(
            Done::history_for("oil_change", &events),
            [done(2025, 3, 1, Some(40_000))]
        );
        assert!(Done::history_for("coolant", &events).is_empty());
    }

    #[test]
    fn the_anchor_is_the_latest_acquisition_or_else_the_registration() {
        let registered = at(2024, 6, 1);
        let events = [
            event(
                "odometer_reading",
                "2023-12-01T10:00:00Z",
                Some(29_000),
                json!({}),
            ),
            event("acquisition", "2024-01-01T10:00:00Z", None, json!({})),
            event(
                "odometer_reading",
                "2024-02-01T10:00:00Z",
                Some(31_000),
                json!({}),
            ),
        ];
        assert_eq!(
            Anchor::from_timeline(registered, &events),
            Anchor {
                at: at(2024, 1, 1),
                odometer: Some(29_000)
            }
        );
        let with_odometer = [event(
            "acquisition",
            "2024-01-01T10:00:00Z",
            Some(30_000),
            json!({}),
        )];
        assert_eq!(
            Anchor::from_timeline(registered, &with_odometer).odometer,
            Some(30_000)
        );
        let no_acquisition = [events[2].clone()];
        assert_eq!(
            Anchor::from_timeline(registered, &no_acquisition),
            Anchor {
                at: registered,
                odometer: Some(31_000)
            }
        );
    }

    #[test]
    fn maintenance_item_reads_in_domain_words() {
        let item = settings("oil_change", OdometerUnit::Mi);
        let history = [done(2025, 3, 1, Some(40_000))];
        let a = anchor();
        let oil = MaintenanceItem {
            settings: &item,
            unit: OdometerUnit::Mi,
            anchor: &a,
            history: &history,
        };
        assert_eq!(oil.next_due().due_odometer, Some(45_000));
        let today = day(2025, 6, 1);
        assert_eq!(
            oil.status_on(today, Some(&read(44_600, today))),
            oil_status(today, Some(44_600))
        );
    }

    // ---- properties -------------------------------------------------------------------------------

    fn origin() -> DateTime<Utc> {
        at(2015, 1, 1)
    }

    fn any_unit() -> impl Strategy<Value = OdometerUnit> {
        prop_oneof![Just(OdometerUnit::Mi), Just(OdometerUnit::Km)]
    }

    fn any_mode() -> impl Strategy<Value = DueMode> {
        prop_oneof![Just(DueMode::FromLastDone), Just(DueMode::Fixed)]
    }

    /// Settings with the distance interval in `unit` (or none), months or none, any thresholds.
    fn any_settings(unit: OdometerUnit) -> impl Strategy<Value = ItemSettings> {
        (
            proptest::option::of(1u32..20_000),
            proptest::option::of(1u32..36),
            0u32..90,
            0u32..2_000,
            any_mode(),
        )
            .prop_map(move |(distance, months, soon_days, soon_distance, mode)| {
                ItemSettings {
                    task: "oil_change".into(),
                    title: None,
                    intervals: Intervals {
                        miles: distance.filter(|_| unit == OdometerUnit::Mi),
                        km: distance.filter(|_| unit == OdometerUnit::Km),
                        months,
                    },
                    due_soon_days: soon_days,
                    due_soon_miles: soon_distance,
                    due_soon_km: soon_distance,
                    enabled: true,
                    mode,
                }
            })
    }

    fn any_anchor() -> impl Strategy<Value = Anchor> {
        (0i64..3_000, proptest::option::of(0u64..100_000)).prop_map(|(days, odometer)| Anchor {
            at: origin() + Duration::days(days),
            odometer,
        })
    }

    fn any_done(min_days: i64) -> impl Strategy<Value = Done> {
        (
            min_days..min_days + 3_000,
            proptest::option::of(0u64..300_000),
        )
            .prop_map(|(days, odometer)| Done {
                done_at: origin() + Duration::days(days),
                odometer,
            })
    }

    fn any_estimate(today: NaiveDate) -> impl Strategy<Value = Option<OdometerEstimate>> {
        proptest::option::of((0u64..400_000, proptest::option::of(0.0f64..500.0))).prop_map(
            move |e| {
                e.map(|(value, rate_per_day)| OdometerEstimate {
                    value,
                    as_of: today,
                    estimated: rate_per_day.is_some(),
                    rate_per_day,
                })
            },
        )
    }

    fn scenario() -> impl Strategy<
        Value = (
            OdometerUnit,
            ItemSettings,
            Anchor,
            Vec<Done>,
            NaiveDate,
            Option<OdometerEstimate>,
        ),
    > {
        any_unit().prop_flat_map(|unit| {
            (0i64..7_000).prop_flat_map(move |today_days| {
                let today = (origin() + Duration::days(today_days)).date_naive();
                (
                    Just(unit),
                    any_settings(unit),
                    any_anchor(),
                    proptest::collection::vec(any_done(0), 0..5),
                    Just(today),
                    any_estimate(today),
                )
            })
        })
    }

    proptest! {
        #[test]
        fn a_later_completion_never_moves_the_due_point_backwards(
            unit in any_unit(),
            item in any_unit().prop_flat_map(any_settings),
            anchor in any_anchor(),
            history in proptest::collection::vec(any_done(0), 1..6),
            later_by in 1i64..2_000,
            later_odometer in 0u64..400_000,
        ) {
            let mut item = item;
            // Put the interval in this vehicle's unit, whatever unit the strategy drew.
            let distance = item.intervals.miles.or(item.intervals.km);
            item.intervals.miles = distance.filter(|_| unit == OdometerUnit::Mi);
            item.intervals.km = distance.filter(|_| unit == OdometerUnit::Km);
            let before = next_due(&item, unit, &anchor, &history);
            let latest = history.iter().map(|d| d.done_at).max().unwrap();
            let mut reset = history.clone();
            reset.push(Done { done_at: latest + Duration::days(later_by), odometer: Some(later_odometer) });
            let after = next_due(&item, unit, &anchor, &reset);
            if let (Some(b), Some(a)) = (before.due_at, after.due_at) {
                prop_assert!(a >= b, "due date moved back from {b} to {a}");
            }
            if let (Some(b), Some(a)) = (before.due_odometer, after.due_odometer) {
                prop_assert!(a >= b, "due odometer moved back from {b} to {a}");
            }
            prop_assert_eq!(after.due_at.is_some(), item.intervals.months.is_some());
            prop_assert_eq!(after.due_odometer.is_some(), distance.is_some());
        }

        #[test]
        fn status_is_the_worse_of_the_date_status_and_the_odometer_status(
            (unit, item, anchor, history, today, estimate) in scenario(),
        ) {
            let full = evaluate(&item, unit, &anchor, &history, today, estimate.as_ref());
            let by_date = evaluate(&item, unit, &anchor, &history, today, None);
            let mut odometer_only = item.clone();
            odometer_only.intervals.months = None;
            let by_odometer =
                evaluate(&odometer_only, unit, &anchor, &history, today, estimate.as_ref());
            prop_assert_eq!(full.status, worse(by_date.status, by_odometer.status));
            prop_assert_eq!(full.due_at, by_date.due_at);
            prop_assert_eq!(full.due_odometer, by_odometer.due_odometer);
            prop_assert!(!full.reason.is_empty());
            if full.status == MaintenanceStatus::Overdue {
                prop_assert!(full.reason.starts_with("Overdue: was due "), "{}", full.reason);
            }
        }

        #[test]
        fn miles_and_km_schedules_behave_alike(
            (_, item, anchor, history, today, estimate) in scenario(),
        ) {
            let distance = item.intervals.miles.or(item.intervals.km);
            let in_unit = |unit: OdometerUnit| {
                let mut item = item.clone();
                item.intervals.miles = distance.filter(|_| unit == OdometerUnit::Mi);
                item.intervals.km = distance.filter(|_| unit == OdometerUnit::Km);
                item
            };
            let mi = evaluate(&in_unit(OdometerUnit::Mi), OdometerUnit::Mi, &anchor, &history, today, estimate.as_ref());
            let km = evaluate(&in_unit(OdometerUnit::Km), OdometerUnit::Km, &anchor, &history, today, estimate.as_ref());
            prop_assert_eq!(mi.status, km.status);
            prop_assert_eq!(mi.due_at, km.due_at);
            prop_assert_eq!(mi.due_odometer, km.due_odometer);
            prop_assert_eq!(mi.projected_due_at, km.projected_due_at);
            prop_assert_eq!(&mi.due_cycle, &km.due_cycle);
            prop_assert_eq!(mi.reason.replace(" mi", " km"), km.reason);
        }
    }
}
