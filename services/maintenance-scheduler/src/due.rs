//! When a maintenance item is next due and how urgent it is, by date and by odometer, whichever comes
//! first. Pure functions of the item's settings, the vehicle's anchor, the task's history and today.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use vwc_contracts::validation::Validator;
use vwc_contracts::{EventKind, FieldError, OdometerUnit, VehicleEvent, is_task_code};

use crate::catalogue::Catalogue;
use crate::usage::OdometerEstimate;

pub const DEFAULT_DUE_SOON_DAYS: u32 = 30;
pub const DEFAULT_DUE_SOON_MILES: u32 = 500;
pub const DEFAULT_DUE_SOON_KM: u32 = 800;
/// Upper bounds accepted from users; they keep every date and odometer computation in range.
pub const MAX_INTERVAL_MONTHS: u32 = 240;
pub const MAX_INTERVAL_DISTANCE: u32 = 1_000_000;
pub const MAX_DUE_SOON_DAYS: u32 = 365;
pub const MAX_DUE_SOON_DISTANCE: u32 = 100_000;

const KM_PER_MILE: f64 = 1.609_344;
/// A projection further out than this says nothing useful (and would overflow date arithmetic).
const MAX_PROJECTION_DAYS: f64 = 36_500.0;

/// How the next due point follows a completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueMode {
    /// Next due = last done + interval (oil changes, filters).
    #[default]
    FromLastDone,
    /// The due dates keep a fixed cadence set by the first completion (or the anchor), like a
    /// registration renewal: doing it late or early does not shift the calendar.
    Fixed,
}

/// One schedule item of a vehicle, as the owner or fleet manager configured it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemSettings {
    pub task: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_miles: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_km: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_months: Option<u32>,
    #[serde(default = "default_due_soon_days")]
    pub due_soon_days: u32,
    #[serde(default = "default_due_soon_miles")]
    pub due_soon_miles: u32,
    #[serde(default = "default_due_soon_km")]
    pub due_soon_km: u32,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(default)]
    pub mode: DueMode,
}

fn default_due_soon_days() -> u32 {
    DEFAULT_DUE_SOON_DAYS
}
fn default_due_soon_miles() -> u32 {
    DEFAULT_DUE_SOON_MILES
}
fn default_due_soon_km() -> u32 {
    DEFAULT_DUE_SOON_KM
}
fn enabled_by_default() -> bool {
    true
}

impl ItemSettings {
    /// The catalogue defaults for a vehicle with odometer `unit`: the distance interval is set in that
    /// unit only, so what the owner sees is the round number the guidance uses.
    pub fn default_for(task: &str, unit: OdometerUnit) -> Option<ItemSettings> {
        let entry = Catalogue::standard().get(task)?;
        Some(ItemSettings {
            task: entry.task.clone(),
            interval_miles: entry.interval_miles.filter(|_| unit == OdometerUnit::Mi),
            interval_km: entry.interval_km.filter(|_| unit == OdometerUnit::Km),
            interval_months: entry.interval_months,
            due_soon_days: DEFAULT_DUE_SOON_DAYS,
            due_soon_miles: DEFAULT_DUE_SOON_MILES,
            due_soon_km: DEFAULT_DUE_SOON_KM,
            enabled: true,
            mode: entry.mode,
        })
    }

    /// Every catalogue task with its defaults: the schedule a newly registered vehicle starts with.
    pub fn standard_schedule(unit: OdometerUnit) -> Vec<ItemSettings> {
        Catalogue::standard()
            .entries()
            .iter()
            .filter_map(|e| ItemSettings::default_for(&e.task, unit))
            .collect()
    }

    /// The distance interval in the vehicle's unit. The vehicle's own unit wins; an interval given only
    /// in the other unit is converted (and rounded) rather than ignored.
    pub fn distance_interval(&self, unit: OdometerUnit) -> Option<u32> {
        let miles = self.interval_miles.filter(|n| *n > 0);
        let km = self.interval_km.filter(|n| *n > 0);
        let converted = match unit {
            OdometerUnit::Mi => km.map(|k| f64::from(k) / KM_PER_MILE),
            OdometerUnit::Km => miles.map(|m| f64::from(m) * KM_PER_MILE),
        }
        .map(|v| (v.round() as u32).max(1));
        match unit {
            OdometerUnit::Mi => miles,
            OdometerUnit::Km => km,
        }
        .or(converted)
    }

    /// How close (in the vehicle's unit) the odometer must be to the due odometer to count as due soon.
    pub fn due_soon_distance(&self, unit: OdometerUnit) -> u32 {
        match unit {
            OdometerUnit::Mi => self.due_soon_miles,
            OdometerUnit::Km => self.due_soon_km,
        }
    }

    fn months(&self) -> Option<u32> {
        self.interval_months.filter(|m| *m > 0)
    }

    /// Checks settings coming from a user (`PUT …/maintenance/{task}`); field names as in the API.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::default();
        if !is_task_code(&self.task) {
            v.fail("task", "must be a task code (lower snake_case, up to 50 characters)");
        }
        for (field, value, max) in [
            ("intervalMiles", self.interval_miles, MAX_INTERVAL_DISTANCE),
            ("intervalKm", self.interval_km, MAX_INTERVAL_DISTANCE),
            ("intervalMonths", self.interval_months, MAX_INTERVAL_MONTHS),
        ] {
            if let Some(n) = value
                && !(1..=max).contains(&n)
            {
                v.fail(field, format!("must be between 1 and {max}"));
            }
        }
        if self.enabled
            && self.interval_miles.is_none()
            && self.interval_km.is_none()
            && self.interval_months.is_none()
        {
            v.fail(
                "intervalMonths",
                "an enabled item needs at least one interval (miles, km or months)",
            );
        }
        if self.due_soon_days > MAX_DUE_SOON_DAYS {
            v.fail(
                "dueSoonDays",
                format!("must be at most {MAX_DUE_SOON_DAYS}"),
            );
        }
        for (field, value) in [
            ("dueSoonMiles", self.due_soon_miles),
            ("dueSoonKm", self.due_soon_km),
        ] {
            if value > MAX_DUE_SOON_DISTANCE {
                v.fail(field, format!("must be at most {MAX_DUE_SOON_DISTANCE}"));
            }
        }
        v.finish()
    }
}

/// Where a never-done item counts from: when the vehicle was acquired (or registered here) and the
/// odometer then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Anchor {
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub odometer: Option<u64>,
}

impl Anchor {
    /// The latest acquisition event, else the registration time. Its odometer is the acquisition's own,
    /// else the reading nearest the anchor (the last one on or before it, else the first after it).
    pub fn from_timeline(registered_at: DateTime<Utc>, events: &[VehicleEvent]) -> Anchor {
        let acquisition = events
            .iter()
            .filter(|e| e.kind == EventKind::Acquisition)
            .max_by_key(|e| e.occurred_at);
        let at = acquisition.map_or(registered_at, |e| e.occurred_at);
        let read = |e: &&VehicleEvent| e.odometer.map(|o| (e.occurred_at, o));
        let nearest = || {
            let before = events
                .iter()
                .filter_map(|e| read(&e))
                .filter(|(t, _)| *t <= at)
                .max();
            let after = || {
                events
                    .iter()
                    .filter_map(|e| read(&e))
                    .filter(|(t, _)| *t > at)
                    .min()
            };
            before.or_else(after).map(|(_, o)| o)
        };
        Anchor {
            at,
            odometer: acquisition.and_then(|e| e.odometer).or_else(nearest),
        }
    }
}

/// One completion of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Done {
    pub done_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueStatus {
    Ok,
    DueSoon,
    Overdue,
    Unknown,
}

impl DueStatus {
    /// The more urgent of two statuses; `Unknown` only when both are.
    pub fn worse(self, other: DueStatus) -> DueStatus {
        fn rank(s: DueStatus) -> u8 {
            match s {
                DueStatus::Unknown => 0,
                DueStatus::Ok => 1,
                DueStatus::DueSoon => 2,
                DueStatus::Overdue => 3,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DueStatus::Ok => "ok",
            DueStatus::DueSoon => "due_soon",
            DueStatus::Overdue => "overdue",
            DueStatus::Unknown => "unknown",
        }
    }
}

/// The next due point of an item, independent of today and of the odometer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextDue {
    /// The completion that counts: the latest `done_at` (ties: the higher odometer).
    pub last_done: Option<Done>,
    pub due_at: Option<NaiveDate>,
    pub due_odometer: Option<u64>,
}

/// A maintenance item as the API shows it (DESIGN §4.3), plus `intervalKm` and `dueCycle`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemStatus {
    pub task: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_miles: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_km: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_months: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_done_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_done_odometer: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_odometer: Option<u64>,
    /// When the estimated odometer reaches `dueOdometer`, if that is before `dueAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projected_due_at: Option<NaiveDate>,
    pub status: DueStatus,
    pub reason: String,
    /// Changes exactly when the due point moves (a completion, a new interval): `"<dueAt|->@<dueOdometer|->"`.
    /// Reminders are sent once per (task, status, dueCycle).
    pub due_cycle: String,
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

    pub fn status_on(&self, today: NaiveDate, odometer: Option<&OdometerEstimate>) -> ItemStatus {
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
pub fn next_due(item: &ItemSettings, unit: OdometerUnit, anchor: &Anchor, history: &[Done]) -> NextDue {
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
                distance.zip(odometer_base).map(|(i, b)| b.saturating_add(u64::from(i))),
            )
        }
        DueMode::Fixed => {
            let first = history.iter().copied().min_by_key(|d| (d.done_at, d.odometer));
            let date_origin = first.map_or(anchor.at, |d| d.done_at).date_naive();
            let date_threshold = last_done.map(|d| {
                d.done_at.date_naive() + Duration::days(i64::from(item.due_soon_days))
            });
            let odometer_origin = history
                .iter()
                .filter(|d| d.odometer.is_some())
                .min_by_key(|d| (d.done_at, d.odometer))
                .and_then(|d| d.odometer)
                .or(anchor.odometer);
            let odometer_threshold = match last_done {
                None => Some(None),
                Some(_) => done_odometer
                    .map(|o| Some(o.saturating_add(u64::from(item.due_soon_distance(unit))))),
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
) -> ItemStatus {
    let next = next_due(item, unit, anchor, history);
    let distance = item.distance_interval(unit);
    let due_soon_days = i64::from(item.due_soon_days);

    let days_left = next.due_at.map(|due| (due - today).num_days());
    let date_status = match days_left {
        None => DueStatus::Unknown,
        Some(d) if d < 0 => DueStatus::Overdue,
        Some(d) if d <= due_soon_days => DueStatus::DueSoon,
        Some(_) => DueStatus::Ok,
    };

    let estimate = odometer.filter(|_| next.due_odometer.is_some());
    let remaining = next
        .due_odometer
        .zip(estimate)
        .map(|(due, e)| i128::from(due) - i128::from(e.value));
    let projected = next.due_odometer.zip(estimate).and_then(|(due, e)| project(due, e));
    let odometer_status = match remaining {
        None => DueStatus::Unknown,
        Some(r) if r < 0 => DueStatus::Overdue,
        Some(r) if r <= i128::from(item.due_soon_distance(unit)) => DueStatus::DueSoon,
        Some(_) if projected.is_some_and(|p| (p - today).num_days() <= due_soon_days) => {
            DueStatus::DueSoon
        }
        Some(_) => DueStatus::Ok,
    };
    // Worth showing only when the odometer wins the race against the calendar.
    let projected_due_at = projected.filter(|p| next.due_at.is_none_or(|due| *p < due));

    let (status, reason) = if !item.enabled {
        (
            DueStatus::Unknown,
            "Unknown: tracking is turned off for this item".to_string(),
        )
    } else if item.months().is_none() && distance.is_none() {
        (
            DueStatus::Unknown,
            "Unknown: no interval configured".to_string(),
        )
    } else {
        let status = date_status.worse(odometer_status);
        let odometer_gap = distance.and(odometer_gap(&next, estimate.is_some(), anchor));
        let reason = match status {
            DueStatus::Unknown => {
                format!("Unknown: {}", odometer_gap.unwrap_or("due date out of range"))
            }
            DueStatus::Overdue => {
                let mut parts = Vec::new();
                if let Some(d) = days_left.filter(|d| *d < 0) {
                    parts.push(days(-d));
                }
                if let Some(r) = remaining.filter(|r| *r < 0) {
                    parts.push(distance_text(r.unsigned_abs(), unit));
                }
                format!("Overdue by {}", parts.join(" and "))
            }
            DueStatus::Ok | DueStatus::DueSoon => {
                let odometer_text = remaining.map(|r| {
                    let soon = projected_due_at
                        .map(|p| (p - today).num_days())
                        .filter(|d| *d > 0)
                        .map(|d| format!(" (about {} at current usage)", days(d)))
                        .unwrap_or_default();
                    (r, format!("{}{soon}", distance_text(r.unsigned_abs(), unit)))
                });
                let mut text = match (days_left, odometer_text) {
                    (Some(0), _) => "Due today".to_string(),
                    (_, Some((0, _))) => format!(
                        "Due now: the odometer has reached {}",
                        distance_text(next.due_odometer.unwrap_or_default().into(), unit)
                    ),
                    (Some(d), Some((_, o))) => {
                        format!("Due in {} or {o}, whichever comes first", days(d))
                    }
                    (Some(d), None) => format!("Due in {}", days(d)),
                    (None, Some((_, o))) => format!("Due in {o}"),
                    (None, None) => unreachable!("status is known, so one dimension is"),
                };
                if let Some(gap) = odometer_gap.filter(|_| remaining.is_none()) {
                    text.push_str(&format!(" (odometer not checked: {gap})"));
                }
                text
            }
        };
        (status, reason)
    };

    ItemStatus {
        task: item.task.clone(),
        title: Catalogue::standard().title_of(&item.task),
        interval_miles: item.interval_miles,
        interval_km: item.interval_km,
        interval_months: item.interval_months,
        last_done_at: next.last_done.map(|d| d.done_at),
        last_done_odometer: next.last_done.and_then(|d| d.odometer),
        due_at: next.due_at,
        due_odometer: next.due_odometer,
        projected_due_at,
        status,
        reason,
        due_cycle: due_cycle(next.due_at, next.due_odometer),
    }
}

/// Why the odometer side cannot be judged, if it cannot.
fn odometer_gap(next: &NextDue, have_estimate: bool, anchor: &Anchor) -> Option<&'static str> {
    match (next.due_odometer, next.last_done) {
        (Some(_), _) if have_estimate => None,
        (Some(_), _) => Some("no odometer readings"),
        (None, Some(_)) => Some("no odometer recorded when last done"),
        (None, None) if anchor.odometer.is_none() => Some("odometer at acquisition not recorded"),
        (None, None) => Some("due odometer out of range"),
    }
}

/// The date at which the estimated odometer reaches `due`, at the estimate's usage rate.
fn project(due: u64, estimate: &OdometerEstimate) -> Option<NaiveDate> {
    let rate = estimate.rate_per_day.filter(|r| r.is_finite() && *r > 0.0)?;
    let to_go = due.checked_sub(estimate.value).filter(|d| *d > 0)?;
    let days = (to_go as f64 / rate).ceil();
    (days <= MAX_PROJECTION_DAYS).then(|| estimate.as_of + Duration::days(days as i64))
}

fn add_months(date: NaiveDate, months: u32) -> Option<NaiveDate> {
    date.checked_add_months(Months::new(months))
}

/// The first date of the series `origin + k·months` (k ≥ 1) strictly after `threshold`; the first one
/// when there is no threshold. Each term is computed from the origin so month-end clamping never drifts.
fn first_date_after(origin: NaiveDate, months: u32, threshold: Option<NaiveDate>) -> Option<NaiveDate> {
    let nth = |k: u32| add_months(origin, k.checked_mul(months)?);
    let Some(threshold) = threshold else {
        return nth(1);
    };
    let months_apart = (threshold.year() - origin.year()) * 12 + threshold.month() as i32
        - origin.month() as i32;
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

fn due_cycle(due_at: Option<NaiveDate>, due_odometer: Option<u64>) -> String {
    format!(
        "{}@{}",
        due_at.map_or_else(|| "-".to_string(), |d| d.to_string()),
        due_odometer.map_or_else(|| "-".to_string(), |o| o.to_string())
    )
}

fn days(n: i64) -> String {
    if n == 1 {
        "1 day".to_string()
    } else {
        format!("{} days", group_thousands(n.unsigned_abs()))
    }
}

fn distance_text(n: u128, unit: OdometerUnit) -> String {
    let n = u64::try_from(n).unwrap_or(u64::MAX);
    format!("{} {}", group_thousands(n), unit.as_str())
}

/// `45000` → `"45,000"`.
pub(crate) fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
