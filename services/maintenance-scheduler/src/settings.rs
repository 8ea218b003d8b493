//! An item's settings: the catalogue defaults per unit, the owner's changes to them (`ItemChange`, the
//! body of `PUT …/maintenance/{task}`) with their validation, and the items a vehicle tracks. Pure.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize};
use vwc_contracts::validation::Validator;
use vwc_contracts::{FieldError, KM_PER_MILE, OdometerUnit, is_task_code};

pub use vwc_contracts::catalogue::DueMode;
use vwc_contracts::catalogue::{Catalogue, Intervals};

pub const DEFAULT_DUE_SOON_DAYS: u32 = 30;
pub const DEFAULT_DUE_SOON_MILES: u32 = 500;
pub const DEFAULT_DUE_SOON_KM: u32 = 800;
/// Upper bounds accepted from users; they keep every date and odometer computation in range.
pub const MAX_INTERVAL_MONTHS: u32 = 240;
pub const MAX_INTERVAL_DISTANCE: u32 = 1_000_000;
pub const MAX_DUE_SOON_DAYS: u32 = 365;
pub const MAX_DUE_SOON_DISTANCE: u32 = 100_000;
pub const MAX_ITEM_TITLE: usize = 120;

/// One schedule item of a vehicle, as the owner or fleet manager configured it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemSettings {
    pub task: String,
    /// The title shown for the item; `None` uses the catalogue's (or the task code spelled out). Custom
    /// tasks outside the catalogue are created with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `intervalMiles`, `intervalKm` and `intervalMonths`, as the API and the stored settings write them.
    #[serde(flatten)]
    pub intervals: Intervals,
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
        let catalogue = Catalogue::standard();
        let entry = catalogue.get(task)?;
        Some(ItemSettings {
            intervals: catalogue.default_intervals(task, unit),
            mode: entry.mode,
            ..ItemChange::blank(&entry.task)
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
        let miles = self.intervals.miles.filter(|n| *n > 0);
        let km = self.intervals.km.filter(|n| *n > 0);
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

    pub(crate) fn months(&self) -> Option<u32> {
        self.intervals.months.filter(|m| *m > 0)
    }

    /// Checks settings coming from a user (`PUT …/maintenance/{task}`); field names as in the API.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut v = Validator::default();
        if !is_task_code(&self.task) {
            v.fail(
                "task",
                "must be a task code (lower snake_case, up to 50 characters)",
            );
        }
        if let Some(title) = &self.title {
            v.line("title", title, 1, MAX_ITEM_TITLE);
        }
        for (field, value, max) in [
            ("intervalMiles", self.intervals.miles, MAX_INTERVAL_DISTANCE),
            ("intervalKm", self.intervals.km, MAX_INTERVAL_DISTANCE),
            ("intervalMonths", self.intervals.months, MAX_INTERVAL_MONTHS),
        ] {
            if let Some(n) = value
                && !(1..=max).contains(&n)
            {
                v.fail(field, format!("must be between 1 and {max}"));
            }
        }
        if self.enabled && self.intervals == Intervals::default() {
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

/// The items of a vehicle: every catalogue task with its defaults for `unit`, each replaced by the
/// owner's settings where there are some, then custom tasks in task order.
pub fn schedule_for(
    unit: OdometerUnit,
    overrides: &[ItemSettings],
) -> Cow<'static, [ItemSettings]> {
    static STANDARD: [OnceLock<Vec<ItemSettings>>; 2] = [OnceLock::new(), OnceLock::new()];
    let standard = STANDARD[usize::from(unit == OdometerUnit::Km)]
        .get_or_init(|| ItemSettings::standard_schedule(unit));
    if overrides.is_empty() {
        // Most vehicles: the catalogue's schedule as it is, built once per unit (not a dozen settings, each
        // with its strings, for every vehicle evaluated — docs/bench.md, stop 48).
        return Cow::Borrowed(standard);
    }
    let mut items = standard.clone();
    for item in &mut items {
        if let Some(o) = overrides.iter().find(|o| o.task == item.task) {
            *item = o.clone();
        }
    }
    let mut custom: Vec<&ItemSettings> = overrides
        .iter()
        .filter(|o| !items.iter().any(|i| i.task == o.task))
        .collect();
    custom.sort_by(|a, b| a.task.cmp(&b.task));
    items.extend(custom.into_iter().cloned());
    Cow::Owned(items)
}

/// The settings an item has now: the owner's, else the catalogue defaults; `None` for a task the vehicle
/// does not track.
pub fn current_settings(
    unit: OdometerUnit,
    overrides: &[ItemSettings],
    task: &str,
) -> Option<ItemSettings> {
    overrides
        .iter()
        .find(|o| o.task == task)
        .cloned()
        .or_else(|| ItemSettings::default_for(task, unit))
}

/// The body of `PUT /v1/vehicles/{id}/maintenance/{task}`: only the fields sent change. An interval sent
/// as `null` is cleared.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = MaintenanceItemChange, example = json!({"intervalMiles": 5000, "intervalMonths": 6, "dueSoonDays": 14}))]
pub struct ItemChange {
    /// Distance interval in miles; `null` clears it. Sent without `intervalKm`, it replaces the item's
    /// distance interval (a kilometre interval is cleared).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1_000_000)]
    pub interval_miles: Option<Option<u32>>,
    /// Distance interval in kilometres; `null` clears it. Sent without `intervalMiles`, it replaces the
    /// item's distance interval (a mile interval is cleared).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1_000_000)]
    pub interval_km: Option<Option<u32>>,
    /// Calendar interval in months; `null` clears it. An enabled item keeps at least one interval.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 240)]
    pub interval_months: Option<Option<u32>>,
    /// Days before the due date at which the item turns `due_soon` (default 30).
    #[serde(default)]
    #[schema(maximum = 365)]
    pub due_soon_days: Option<u32>,
    /// Miles before the due odometer at which the item turns `due_soon` (default 500).
    #[serde(default)]
    #[schema(maximum = 100_000)]
    pub due_soon_miles: Option<u32>,
    /// Kilometres before the due odometer at which the item turns `due_soon` (default 800).
    #[serde(default)]
    #[schema(maximum = 100_000)]
    pub due_soon_km: Option<u32>,
    /// `false` stops tracking the item: its status becomes `unknown` and no reminders are sent.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `from_last_done`: next due = last done + interval; `fixed`: a fixed calendar that late or early
    /// service does not shift.
    #[serde(default)]
    pub mode: Option<DueMode>,
    /// Required to create a task outside the catalogue; `null` goes back to the catalogue title.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 120, pattern = "\\S")]
    pub title: Option<Option<String>>,
}

/// `field` takes the value sent; a field not sent (`None`) keeps its value.
fn set_if_sent<T>(field: &mut T, sent: Option<T>) {
    if let Some(value) = sent {
        *field = value;
    }
}

/// A field that is present, `null` or not: `Some(None)` for `null`, `None` (via `default`) when absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl ItemChange {
    /// The settings after the change. A distance interval sent in one unit alone replaces the distance
    /// interval: the other unit's value is cleared, or on a km vehicle a new `intervalMiles` would be
    /// ignored in favour of the old `intervalKm` (the vehicle's own unit wins in `distance_interval`).
    pub fn apply_to(&self, current: &ItemSettings) -> ItemSettings {
        let mut s = current.clone();
        set_if_sent(&mut s.intervals.miles, self.interval_miles);
        set_if_sent(&mut s.intervals.km, self.interval_km);
        match (self.interval_miles, self.interval_km) {
            (Some(Some(_)), None) => s.intervals.km = None,
            (None, Some(Some(_))) => s.intervals.miles = None,
            _ => {}
        }
        set_if_sent(&mut s.intervals.months, self.interval_months);
        set_if_sent(&mut s.due_soon_days, self.due_soon_days);
        set_if_sent(&mut s.due_soon_miles, self.due_soon_miles);
        set_if_sent(&mut s.due_soon_km, self.due_soon_km);
        set_if_sent(&mut s.enabled, self.enabled);
        set_if_sent(&mut s.mode, self.mode);
        let title = self
            .title
            .as_ref()
            .map(|t| t.as_deref().map(|t| t.trim().to_string()));
        set_if_sent(&mut s.title, title);
        s
    }

    /// The settings a new custom task starts from: nothing configured yet.
    pub fn blank(task: &str) -> ItemSettings {
        ItemSettings {
            task: task.to_string(),
            title: None,
            intervals: Intervals::default(),
            due_soon_days: DEFAULT_DUE_SOON_DAYS,
            due_soon_miles: DEFAULT_DUE_SOON_MILES,
            due_soon_km: DEFAULT_DUE_SOON_KM,
            enabled: true,
            mode: DueMode::FromLastDone,
        }
    }
}
