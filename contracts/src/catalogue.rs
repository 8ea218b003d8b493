//! The maintenance catalogue: which tasks the scheduler knows, their titles and default intervals.
//! The data lives in `seeds/maintenance-catalogue.json` (compiled in), each entry citing its public source.
//! It is part of the contracts because a `MaintenanceScheduleUpdated` of version 3 leaves out the standard
//! titles and default intervals, and every reader resolves them here (docs/events.md).

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::{OdometerUnit, is_task_code};

/// The catalogue as shipped, compiled into the binary so no service reads files at run time.
pub const STANDARD_CATALOGUE_JSON: &str = include_str!("../../seeds/maintenance-catalogue.json");

/// How the next due point follows a completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DueMode {
    /// Next due = last done + interval (oil changes, filters).
    #[default]
    FromLastDone,
    /// The due dates keep a fixed cadence set by the first completion (or the anchor), like a
    /// registration renewal: doing it late or early does not shift the calendar.
    Fixed,
}

/// One task of the catalogue with its default schedule (an interval left out is none).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogueEntry {
    /// Task code, as found in `details.tasks` of maintenance events.
    pub task: String,
    pub title: String,
    /// The distance in miles for vehicles in miles; given with `interval_km`, or neither is.
    pub interval_miles: Option<u32>,
    /// The distance in km for vehicles in km: a round metric number, not the miles converted.
    pub interval_km: Option<u32>,
    pub interval_months: Option<u32>,
    #[serde(default)]
    pub mode: DueMode,
    /// The public guidance the default follows.
    pub source: String,
}

impl CatalogueEntry {
    /// The task's default intervals, in both distance units.
    pub fn intervals(&self) -> Intervals {
        Intervals {
            miles: self.interval_miles,
            km: self.interval_km,
            months: self.interval_months,
        }
    }

    /// The distance interval in the vehicle's own unit.
    pub fn interval_distance(&self, unit: OdometerUnit) -> Option<u32> {
        self.intervals().distance(unit)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("the catalogue is not valid JSON of the expected shape: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("{0:?} is not a task code (lower snake_case)")]
    InvalidTaskCode(String),
    #[error("task {0:?} appears more than once")]
    DuplicateTask(String),
    #[error("task {0:?} has a blank title or source")]
    MissingText(String),
    #[error("task {0:?} has no interval, or an interval of zero")]
    NoInterval(String),
    #[error("task {0:?} gives a distance interval in only one unit; give both miles and km")]
    OneUnitOnly(String),
}

#[derive(Deserialize)]
struct CatalogueFile {
    version: u32,
    tasks: Vec<CatalogueEntry>,
}

/// The known maintenance tasks, in catalogue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    /// Raised whenever a title or a default interval changes: a schedule event names the version whose
    /// defaults it leaves out, and one naming another version is not read with these.
    version: u32,
    entries: Vec<CatalogueEntry>,
}

/// An item's intervals, whichever comes first: a distance in miles (for a vehicle in miles) or in km (for a
/// vehicle in km), and months; an interval left out is none. On the wire, the fields `intervalMiles`,
/// `intervalKm` and `intervalMonths` of the item that holds them (`#[serde(flatten)]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Intervals {
    #[serde(
        rename = "intervalMiles",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub miles: Option<u32>,
    #[serde(
        rename = "intervalKm",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub km: Option<u32>,
    #[serde(
        rename = "intervalMonths",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub months: Option<u32>,
}

impl Intervals {
    /// Miles, km and months, in that order.
    pub fn values(&self) -> [Option<u32>; 3] {
        [self.miles, self.km, self.months]
    }

    /// The distance interval in the vehicle's own unit (the other unit's is not converted).
    pub fn distance(&self, unit: OdometerUnit) -> Option<u32> {
        match unit {
            OdometerUnit::Mi => self.miles,
            OdometerUnit::Km => self.km,
        }
    }
}

impl Catalogue {
    /// Parses and checks a catalogue document (`{"tasks": [...]}`).
    pub fn parse(json: &str) -> Result<Catalogue, CatalogueError> {
        let file: CatalogueFile = serde_json::from_str(json)?;
        let mut seen = HashSet::new();
        for e in &file.tasks {
            if !is_task_code(&e.task) {
                return Err(CatalogueError::InvalidTaskCode(e.task.clone()));
            }
            if !seen.insert(e.task.as_str()) {
                return Err(CatalogueError::DuplicateTask(e.task.clone()));
            }
            if e.title.trim().is_empty() || e.source.trim().is_empty() {
                return Err(CatalogueError::MissingText(e.task.clone()));
            }
            let intervals = e.intervals().values();
            if intervals.iter().all(Option::is_none) || intervals.contains(&Some(0)) {
                return Err(CatalogueError::NoInterval(e.task.clone()));
            }
            if e.interval_miles.is_some() != e.interval_km.is_some() {
                return Err(CatalogueError::OneUnitOnly(e.task.clone()));
            }
        }
        Ok(Catalogue {
            version: file.version,
            entries: file.tasks,
        })
    }

    /// The catalogue shipped in `seeds/maintenance-catalogue.json`.
    pub fn standard() -> &'static Catalogue {
        static STANDARD: OnceLock<Catalogue> = OnceLock::new();
        STANDARD.get_or_init(|| {
            Catalogue::parse(STANDARD_CATALOGUE_JSON)
                .expect("seeds/maintenance-catalogue.json is checked by the catalogue tests")
        })
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn entries(&self) -> &[CatalogueEntry] {
        &self.entries
    }

    pub fn get(&self, task: &str) -> Option<&CatalogueEntry> {
        self.entries.iter().find(|e| e.task == task)
    }

    /// The human title of a task; a task outside the catalogue gets its code spelled out ("Timing belt").
    pub fn title_of(&self, task: &str) -> String {
        self.defaults(task).title()
    }

    /// Whether `title` is the one [`title_of`](Self::title_of) gives `task`.
    pub fn is_default_title(&self, task: &str, title: &str) -> bool {
        self.defaults(task).has_title(title)
    }

    /// The intervals a vehicle with odometer `unit` starts with for `task` (see [`Defaults::intervals`]).
    pub fn default_intervals(&self, task: &str, unit: OdometerUnit) -> Intervals {
        self.defaults(task).intervals(unit)
    }

    /// What an item of `task` starts with: one look-up for its title and its intervals.
    pub fn defaults<'a>(&'a self, task: &'a str) -> Defaults<'a> {
        Defaults {
            task,
            entry: self.get(task),
        }
    }
}

/// The defaults of one task (of the catalogue, or outside it).
#[derive(Debug, Clone, Copy)]
pub struct Defaults<'a> {
    task: &'a str,
    entry: Option<&'a CatalogueEntry>,
}

impl Defaults<'_> {
    pub fn title(&self) -> String {
        self.entry
            .map_or_else(|| spelled_out(self.task), |e| e.title.clone())
    }

    /// Whether `title` is [`title`](Self::title) (without building it for a catalogue task).
    pub fn has_title(&self, title: &str) -> bool {
        match self.entry {
            Some(e) => e.title == title,
            None => spelled_out(self.task) == title,
        }
    }

    /// The intervals a vehicle with odometer `unit` starts with: the distance in that unit only (the round
    /// number the guidance uses), and the months; none for a task outside the catalogue.
    pub fn intervals(&self, unit: OdometerUnit) -> Intervals {
        self.entry.map_or_else(Intervals::default, |e| Intervals {
            miles: e.interval_miles.filter(|_| unit == OdometerUnit::Mi),
            km: e.interval_km.filter(|_| unit == OdometerUnit::Km),
            months: e.interval_months,
        })
    }
}

/// "timing_belt" → "Timing belt".
fn spelled_out(task: &str) -> String {
    let words = task.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCS: &str = include_str!("../../docs/maintenance-intervals.md");

    fn with_tasks(tasks: &str) -> Result<Catalogue, CatalogueError> {
        Catalogue::parse(&format!(r#"{{"version": 1, "tasks": [{tasks}]}}"#))
    }

    /// Schedule events of version 3 leave out what this table holds, and readers resolve it from the
    /// catalogue of the version the event names: changing a title or an interval means raising the
    /// catalogue's `version` and keeping this version's table for the events already written.
    #[test]
    fn standard_catalogue_version_1_has_the_twelve_tasks_in_order_with_their_defaults() {
        let catalogue = Catalogue::standard();
        assert_eq!(catalogue.version(), 1);
        let table: Vec<(&str, &str, [Option<u32>; 3])> = catalogue
            .entries()
            .iter()
            .map(|e| (e.task.as_str(), e.title.as_str(), e.intervals().values()))
            .collect();
        #[rustfmt::skip]
        assert_eq!(table, [
            ("oil_change", "Oil and filter change", [Some(5_000), Some(8_000), Some(6)]),
            ("tire_rotation", "Tire rotation", [Some(5_000), Some(8_000), Some(6)]),
            ("engine_air_filter", "Engine air filter replacement", [Some(30_000), Some(48_000), Some(36)]),
            ("cabin_air_filter", "Cabin air filter replacement", [Some(15_000), Some(24_000), Some(12)]),
            ("brake_inspection", "Brake inspection", [Some(12_000), Some(20_000), Some(12)]),
            ("brake_fluid", "Brake fluid replacement", [None, None, Some(24)]),
            ("coolant", "Coolant replacement", [Some(50_000), Some(80_000), Some(60)]),
            ("battery_check", "Battery test", [None, None, Some(12)]),
            ("wiper_blades", "Wiper blade replacement", [None, None, Some(12)]),
            ("transmission_fluid", "Transmission fluid replacement", [Some(60_000), Some(100_000), None]),
            ("spark_plugs", "Spark plug replacement", [Some(100_000), Some(160_000), None]),
            ("annual_inspection", "Annual safety inspection", [None, None, Some(12)]),
        ]);
    }

    #[test]
    fn a_vehicle_starts_with_the_distance_of_its_own_unit_and_a_custom_task_with_none() {
        let c = Catalogue::standard();
        let oil = [Some(5_000), None, Some(6)];
        assert_eq!(
            c.default_intervals("oil_change", OdometerUnit::Mi).values(),
            oil
        );
        let oil_km = [None, Some(8_000), Some(6)];
        assert_eq!(
            c.default_intervals("oil_change", OdometerUnit::Km).values(),
            oil_km
        );
        assert_eq!(
            c.default_intervals("timing_belt", OdometerUnit::Km),
            Intervals::default()
        );
        assert!(c.is_default_title("oil_change", "Oil and filter change"));
        assert!(c.is_default_title("timing_belt", "Timing belt"));
        assert!(!c.is_default_title("oil_change", "Oil change"));
    }

    #[test]
    fn every_entry_cites_a_named_public_source() {
        for e in Catalogue::standard().entries() {
            assert!(
                ["AAA", "Car Care Council", "owner's-manual", "State vehicle"]
                    .iter()
                    .any(|name| e.source.contains(name)),
                "{} cites no known source: {}",
                e.task,
                e.source
            );
            assert!(!e.source.contains("http"), "{}: no URLs in sources", e.task);
        }
    }

    #[test]
    fn km_intervals_are_round_metric_values_near_the_mile_intervals() {
        for e in Catalogue::standard().entries() {
            if let (Some(mi), Some(km)) = (e.interval_miles, e.interval_km) {
                assert_eq!(km % 1000, 0, "{}: {km} km is not a round number", e.task);
                let exact = f64::from(mi) * crate::KM_PER_MILE;
                let off = (f64::from(km) - exact).abs() / exact;
                assert!(
                    off < 0.05,
                    "{}: {km} km is {off:.3} away from {mi} mi",
                    e.task
                );
            }
        }
    }

    #[test]
    fn oil_change_default_is_5000_miles_8000_km_or_6_months() {
        let oil = Catalogue::standard().get("oil_change").unwrap();
        assert_eq!(oil.interval_distance(OdometerUnit::Mi), Some(5_000));
        assert_eq!(oil.interval_distance(OdometerUnit::Km), Some(8_000));
        assert_eq!(oil.interval_months, Some(6));
        assert_eq!(oil.mode, DueMode::FromLastDone);
    }

    #[test]
    fn annual_inspection_keeps_a_fixed_calendar() {
        let e = Catalogue::standard().get("annual_inspection").unwrap();
        assert_eq!(e.mode, DueMode::Fixed);
        assert_eq!(e.interval_months, Some(12));
        assert_eq!(e.interval_miles, None);
    }

    #[test]
    fn docs_table_matches_the_catalogue() {
        fn cell(v: Option<u32>) -> String {
            v.map(|n| crate::text::grouped(u64::from(n)))
                .unwrap_or_else(|| "—".to_string())
        }
        for e in Catalogue::standard().entries() {
            let row = format!(
                "| `{}` | {} | {} | {} | {} |",
                e.task,
                e.title,
                cell(e.interval_miles),
                cell(e.interval_km),
                cell(e.interval_months)
            );
            assert!(
                DOCS.contains(&row),
                "docs/maintenance-intervals.md lacks the row\n{row}"
            );
        }
    }

    #[test]
    fn unknown_tasks_get_a_readable_title() {
        let c = Catalogue::standard();
        assert_eq!(c.title_of("oil_change"), "Oil and filter change");
        assert_eq!(c.title_of("timing_belt"), "Timing belt");
    }

    #[test]
    fn catalogue_problems_are_refused() {
        let ok = r#"{"task":"a","title":"A","intervalMonths":1,"source":"AAA"}"#;
        assert!(with_tasks(ok).is_ok());
        assert!(matches!(
            with_tasks(&format!("{ok},{ok}")),
            Err(CatalogueError::DuplicateTask(_))
        ));
        assert!(matches!(
            with_tasks(r#"{"task":"Bad","title":"A","intervalMonths":1,"source":"AAA"}"#),
            Err(CatalogueError::InvalidTaskCode(_))
        ));
        assert!(matches!(
            with_tasks(r#"{"task":"a","title":"A","source":"AAA"}"#),
            Err(CatalogueError::NoInterval(_))
        ));
        assert!(matches!(
            with_tasks(r#"{"task":"a","title":"A","intervalMonths":0,"source":"AAA"}"#),
            Err(CatalogueError::NoInterval(_))
        ));
        assert!(matches!(
            with_tasks(r#"{"task":"a","title":"A","intervalMiles":5,"source":"AAA"}"#),
            Err(CatalogueError::OneUnitOnly(_))
        ));
        assert!(matches!(
            with_tasks(r#"{"task":"a","title":" ","intervalMonths":1,"source":"AAA"}"#),
            Err(CatalogueError::MissingText(_))
        ));
        assert!(matches!(
            with_tasks(r#"{"task":"a","title":"A","intervalMonths":1,"source":"AAA","x":1}"#),
            Err(CatalogueError::Malformed(_))
        ));
    }
}
