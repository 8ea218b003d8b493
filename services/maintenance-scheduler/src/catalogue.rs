//! The maintenance catalogue: which tasks the scheduler knows, their titles and default intervals.
//! The data lives in `seeds/maintenance-catalogue.json` (compiled in), each entry citing its public source.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use vwc_contracts::{OdometerUnit, is_task_code};

use crate::settings::DueMode;

/// The catalogue as shipped, compiled into the binary so the scheduler never reads files at run time.
pub const STANDARD_CATALOGUE_JSON: &str = include_str!("../../../seeds/maintenance-catalogue.json");

/// One task of the catalogue with its default schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogueEntry {
    /// Task code, as found in `details.tasks` of maintenance events.
    pub task: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_miles: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_km: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_months: Option<u32>,
    #[serde(default)]
    pub mode: DueMode,
    /// The public guidance the default follows.
    pub source: String,
}

impl CatalogueEntry {
    /// The distance interval in the vehicle's own unit.
    pub fn interval_distance(&self, unit: OdometerUnit) -> Option<u32> {
        match unit {
            OdometerUnit::Mi => self.interval_miles,
            OdometerUnit::Km => self.interval_km,
        }
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
    tasks: Vec<CatalogueEntry>,
}

/// The known maintenance tasks, in catalogue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    entries: Vec<CatalogueEntry>,
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
            let intervals = [e.interval_miles, e.interval_km, e.interval_months];
            if intervals.iter().all(Option::is_none) || intervals.contains(&Some(0)) {
                return Err(CatalogueError::NoInterval(e.task.clone()));
            }
            if e.interval_miles.is_some() != e.interval_km.is_some() {
                return Err(CatalogueError::OneUnitOnly(e.task.clone()));
            }
        }
        Ok(Catalogue {
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

    pub fn entries(&self) -> &[CatalogueEntry] {
        &self.entries
    }

    pub fn get(&self, task: &str) -> Option<&CatalogueEntry> {
        self.entries.iter().find(|e| e.task == task)
    }

    /// The human title of a task; a task outside the catalogue gets its code spelled out ("Timing belt").
    pub fn title_of(&self, task: &str) -> String {
        match self.get(task) {
            Some(e) => e.title.clone(),
            None => {
                let words = task.replace('_', " ");
                let mut chars = words.chars();
                match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars).collect(),
                    None => String::new(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCS: &str = include_str!("../../../docs/maintenance-intervals.md");

    fn with_tasks(tasks: &str) -> Result<Catalogue, CatalogueError> {
        Catalogue::parse(&format!(r#"{{"tasks": [{tasks}]}}"#))
    }

    #[test]
    fn standard_catalogue_has_the_twelve_tasks_in_order() {
        let tasks: Vec<&str> = Catalogue::standard()
            .entries()
            .iter()
            .map(|e| e.task.as_str())
            .collect();
        assert_eq!(
            tasks,
            [
                "oil_change",
                "tire_rotation",
                "engine_air_filter",
                "cabin_air_filter",
                "brake_inspection",
                "brake_fluid",
                "coolant",
                "battery_check",
                "wiper_blades",
                "transmission_fluid",
                "spark_plugs",
                "annual_inspection",
            ]
        );
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
                let exact = f64::from(mi) * vwc_contracts::KM_PER_MILE;
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
            v.map(|n| vwc_contracts::text::grouped(u64::from(n)))
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
