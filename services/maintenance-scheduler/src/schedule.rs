//! A vehicle's whole schedule evaluated for a day: the timeline facts the scheduler keeps, the item
//! settings (catalogue defaults plus the owner's changes) and the item views the API shows. Pure.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use vwc_contracts::maintenance::{MaintenanceItemView, MaintenanceStatus, OdometerEstimateView};
use vwc_contracts::{EventKind, OdometerUnit, Vehicle, VehicleEvent};

use crate::due::{Anchor, Done, DueMode, DueStatus, ItemSettings, ItemStatus, evaluate};
use crate::usage::{OdometerReading, Usage};

/// What the scheduler knows of a registered vehicle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VehicleRecord {
    pub id: String,
    pub org_id: String,
    /// e.g. "2021 Toyota RAV4 XLE (Blue)": year, make, model, trim, then the nickname in brackets.
    pub name: String,
    pub unit: OdometerUnit,
    pub registered_at: DateTime<Utc>,
}

impl VehicleRecord {
    pub fn from_vehicle(v: &Vehicle) -> VehicleRecord {
        let mut name = format!("{} {} {}", v.year, v.make.trim(), v.model.trim());
        if let Some(trim) = v.trim.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            name.push(' ');
            name.push_str(trim);
        }
        if let Some(nick) = v
            .nickname
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            name.push_str(&format!(" ({nick})"));
        }
        VehicleRecord {
            id: v.id.to_string(),
            org_id: v.org_id.to_string(),
            name,
            unit: v.odometer_unit,
            registered_at: v.registered_at,
        }
    }
}

/// Which part of the timeline a fact comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactKind {
    /// An acquisition: where never-done items count from.
    Acquisition,
    /// Maintenance naming tasks: resets those items.
    Maintenance,
    /// Any other event that carries an odometer.
    Reading,
}

impl FactKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FactKind::Acquisition => "acquisition",
            FactKind::Maintenance => "maintenance",
            FactKind::Reading => "reading",
        }
    }

    pub fn parse(s: &str) -> Option<FactKind> {
        [
            FactKind::Acquisition,
            FactKind::Maintenance,
            FactKind::Reading,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// The part of one timeline event that matters to maintenance. Every fact with an odometer is also a
/// reading, whatever its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineFact {
    pub event_id: String,
    pub kind: FactKind,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub odometer: Option<u64>,
    /// Task codes of a maintenance event; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<String>,
}

impl TimelineFact {
    /// `None` when the event says nothing the schedule depends on (a valuation without an odometer).
    pub fn from_event(e: &VehicleEvent) -> Option<TimelineFact> {
        let (kind, tasks) = match e.kind {
            EventKind::Acquisition => (FactKind::Acquisition, Vec::new()),
            EventKind::Maintenance => match e.maintenance_tasks() {
                tasks if !tasks.is_empty() => (FactKind::Maintenance, tasks),
                _ => (FactKind::Reading, Vec::new()),
            },
            _ => (FactKind::Reading, Vec::new()),
        };
        if kind == FactKind::Reading && e.odometer.is_none() {
            return None;
        }
        Some(TimelineFact {
            event_id: e.id.to_string(),
            kind,
            at: e.occurred_at,
            odometer: e.odometer,
            tasks,
        })
    }
}

/// A vehicle's timeline facts digested for evaluation: the anchor, the usage and each task's history.
#[derive(Debug, Clone)]
pub struct Timeline {
    pub anchor: Anchor,
    pub usage: Usage,
    history: HashMap<String, Vec<Done>>,
}

impl Timeline {
    pub fn from_facts(registered_at: DateTime<Utc>, facts: &[TimelineFact]) -> Timeline {
        let readings: Vec<OdometerReading> = facts
            .iter()
            .filter_map(|f| f.odometer.map(|value| OdometerReading { at: f.at, value }))
            .collect();
        let usage = Usage::from_readings(&readings);
        let acquisitions = facts
            .iter()
            .filter(|f| f.kind == FactKind::Acquisition)
            .map(|f| (f.at, f.odometer));
        let anchor = Anchor::from_parts(registered_at, acquisitions, &readings);
        let mut history: HashMap<String, Vec<Done>> = HashMap::new();
        for f in facts.iter().filter(|f| f.kind == FactKind::Maintenance) {
            // A completion recorded with a rolled-back odometer keeps its date; its odometer is not
            // trusted, or a typo would make the next due odometer land in the past.
            let rolled_back = f.odometer.is_some_and(|value| {
                usage
                    .rollbacks()
                    .contains(&OdometerReading { at: f.at, value })
            });
            let done = Done {
                done_at: f.at,
                odometer: f.odometer.filter(|_| !rolled_back),
            };
            for task in &f.tasks {
                history.entry(task.clone()).or_default().push(done);
            }
        }
        Timeline {
            anchor,
            usage,
            history,
        }
    }

    pub fn history(&self, task: &str) -> &[Done] {
        self.history.get(task).map_or(&[], Vec::as_slice)
    }
}

/// The items of a vehicle: every catalogue task with its defaults for `unit`, each replaced by the
/// owner's settings where there are some, then custom tasks in task order.
pub fn schedule_for(unit: OdometerUnit, overrides: &[ItemSettings]) -> Vec<ItemSettings> {
    let mut items = ItemSettings::standard_schedule(unit);
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
    items
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

/// A vehicle's schedule evaluated for one day.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub items: Vec<MaintenanceItemView>,
    pub odometer: Option<OdometerEstimateView>,
}

impl Evaluation {
    pub fn item(&self, task: &str) -> Option<&MaintenanceItemView> {
        self.items.iter().find(|i| i.task == task)
    }
}

/// Evaluates every item of the vehicle as of `today`.
pub fn evaluate_vehicle(
    vehicle: &VehicleRecord,
    facts: &[TimelineFact],
    overrides: &[ItemSettings],
    today: NaiveDate,
) -> Evaluation {
    let timeline = Timeline::from_facts(vehicle.registered_at, facts);
    let estimate = timeline.usage.estimate_at(today);
    let items = schedule_for(vehicle.unit, overrides)
        .iter()
        .map(|settings| {
            let status = evaluate(
                settings,
                vehicle.unit,
                &timeline.anchor,
                timeline.history(&settings.task),
                today,
                estimate.as_ref(),
            );
            item_view(status, settings.enabled)
        })
        .collect();
    Evaluation {
        items,
        odometer: estimate.map(|e| OdometerEstimateView {
            value: e.value,
            unit: vehicle.unit,
            as_of: e.as_of,
            estimated: e.estimated,
        }),
    }
}

pub fn maintenance_status(s: DueStatus) -> MaintenanceStatus {
    match s {
        DueStatus::Ok => MaintenanceStatus::Ok,
        DueStatus::DueSoon => MaintenanceStatus::DueSoon,
        DueStatus::Overdue => MaintenanceStatus::Overdue,
        DueStatus::Unknown => MaintenanceStatus::Unknown,
    }
}

fn item_view(s: ItemStatus, enabled: bool) -> MaintenanceItemView {
    MaintenanceItemView {
        task: s.task,
        title: s.title,
        interval_miles: s.interval_miles,
        interval_km: s.interval_km,
        interval_months: s.interval_months,
        last_done_at: s.last_done_at,
        last_done_odometer: s.last_done_odometer,
        due_at: s.due_at,
        due_odometer: s.due_odometer,
        projected_due_at: s.projected_due_at,
        status: maintenance_status(s.status),
        reason: s.reason,
        due_cycle: s.due_cycle,
        enabled,
    }
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
        match (self.interval_miles, self.interval_km) {
            (Some(miles), None) => {
                s.interval_miles = miles;
                if miles.is_some() {
                    s.interval_km = None;
                }
            }
            (None, Some(km)) => {
                s.interval_km = km;
                if km.is_some() {
                    s.interval_miles = None;
                }
            }
            (Some(miles), Some(km)) => {
                s.interval_miles = miles;
                s.interval_km = km;
            }
            (None, None) => {}
        }
        if let Some(months) = self.interval_months {
            s.interval_months = months;
        }
        if let Some(d) = self.due_soon_days {
            s.due_soon_days = d;
        }
        if let Some(d) = self.due_soon_miles {
            s.due_soon_miles = d;
        }
        if let Some(d) = self.due_soon_km {
            s.due_soon_km = d;
        }
        if let Some(e) = self.enabled {
            s.enabled = e;
        }
        if let Some(m) = self.mode {
            s.mode = m;
        }
        if let Some(title) = &self.title {
            s.title = title.as_ref().map(|t| t.trim().to_string());
        }
        s
    }

    /// The settings a new custom task starts from: nothing configured yet.
    pub fn blank(task: &str) -> ItemSettings {
        ItemSettings {
            task: task.to_string(),
            title: None,
            interval_miles: None,
            interval_km: None,
            interval_months: None,
            due_soon_days: crate::due::DEFAULT_DUE_SOON_DAYS,
            due_soon_miles: crate::due::DEFAULT_DUE_SOON_MILES,
            due_soon_km: crate::due::DEFAULT_DUE_SOON_KM,
            enabled: true,
            mode: DueMode::FromLastDone,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn vehicle(unit: OdometerUnit) -> VehicleRecord {
        VehicleRecord {
            id: "veh_1".into(),
            org_id: "org_a".into(),
            name: "2021 Toyota RAV4".into(),
            unit,
            registered_at: at(2024, 1, 1),
        }
    }

    fn fact(
        id: &str,
        kind: FactKind,
        when: DateTime<Utc>,
        odometer: Option<u64>,
        tasks: &[&str],
    ) -> TimelineFact {
        TimelineFact {
            event_id: id.into(),
            kind,
            at: when,
            odometer,
            tasks: tasks.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn event(kind: &str, odometer: Option<u64>, details: serde_json::Value) -> VehicleEvent {
        serde_json::from_value(json!({
            "id": "evt_1", "vehicleId": "veh_1", "orgId": "org_a", "kind": kind,
            "occurredAt": "2025-03-01T10:00:00Z", "recordedAt": "2025-03-01T10:00:00Z",
            "odometer": odometer, "title": "t", "source": "user", "details": details
        }))
        .unwrap()
    }

    #[test]
    fn the_display_name_reads_like_the_reminder_example() {
        let v: Vehicle = serde_json::from_value(json!({
            "id": "veh_1", "orgId": "org_a", "vin": "1HGCM82633A004352", "year": 2021, "make": "Toyota",
            "model": "RAV4", "nickname": "Blue", "odometerUnit": "mi", "registeredAt": "2024-01-01T00:00:00Z"
        }))
        .unwrap();
        assert_eq!(
            VehicleRecord::from_vehicle(&v).name,
            "2021 Toyota RAV4 (Blue)"
        );
    }

    #[test]
    fn only_events_that_matter_to_maintenance_become_facts() {
        let oil = TimelineFact::from_event(&event(
            "maintenance",
            Some(40_000),
            json!({"tasks": ["oil_change"]}),
        ))
        .unwrap();
        assert_eq!(
            (oil.kind, oil.tasks.as_slice()),
            (FactKind::Maintenance, &["oil_change".to_string()][..])
        );
        let repair = TimelineFact::from_event(&event("repair", Some(41_000), json!({}))).unwrap();
        assert_eq!(
            (repair.kind, repair.odometer),
            (FactKind::Reading, Some(41_000))
        );
        assert_eq!(
            TimelineFact::from_event(&event("repair", None, json!({}))),
            None
        );
        assert_eq!(
            TimelineFact::from_event(&event(
                "valuation",
                None,
                json!({"amountCents": 1, "source": "user_estimate"})
            )),
            None
        );
        let bought = TimelineFact::from_event(&event("acquisition", None, json!({}))).unwrap();
        assert_eq!(bought.kind, FactKind::Acquisition);
    }

    #[test]
    fn a_fill_up_is_an_odometer_reading_and_never_maintenance() {
        let fuel = TimelineFact::from_event(&event(
            "fuel",
            Some(42_000),
            json!({"volume": 11.2, "volumeUnit": "gal", "fullTank": true}),
        ))
        .unwrap();
        assert_eq!(
            (fuel.kind, fuel.odometer, fuel.tasks.len()),
            (FactKind::Reading, Some(42_000), 0)
        );
        assert_eq!(
            TimelineFact::from_event(&event(
                "fuel",
                None,
                json!({"volume": 11.2, "volumeUnit": "gal"})
            )),
            None
        );
    }

    #[test]
    fn a_new_vehicle_gets_the_twelve_catalogue_items_in_its_unit() {
        let e = evaluate_vehicle(&vehicle(OdometerUnit::Km), &[], &[], day(2024, 2, 1));
        assert_eq!(e.items.len(), 12);
        let oil = e.item("oil_change").unwrap();
        assert_eq!((oil.interval_km, oil.interval_miles), (Some(8_000), None));
        assert!(e.items.iter().all(|i| i.enabled));
        assert_eq!(e.odometer, None);
    }

    #[test]
    fn the_worked_example_is_due_soon_at_44600_and_overdue_at_45100() {
        let v = vehicle(OdometerUnit::Mi);
        let mut facts = vec![fact(
            "e1",
            FactKind::Maintenance,
            at(2025, 3, 1),
            Some(40_000),
            &["oil_change"],
        )];
        let oil = |facts: &[TimelineFact], today| {
            evaluate_vehicle(&v, facts, &[], today)
                .item("oil_change")
                .unwrap()
                .clone()
        };
        let o = oil(&facts, day(2025, 3, 2));
        assert_eq!(
            (o.due_odometer, o.due_at),
            (Some(45_000), Some(day(2025, 9, 1)))
        );
        assert_eq!(o.status, MaintenanceStatus::Ok);
        facts.push(fact(
            "e2",
            FactKind::Reading,
            at(2025, 6, 1),
            Some(44_600),
            &[],
        ));
        assert_eq!(
            oil(&facts, day(2025, 6, 1)).status,
            MaintenanceStatus::DueSoon
        );
        facts.push(fact(
            "e3",
            FactKind::Reading,
            at(2025, 6, 10),
            Some(45_100),
            &[],
        ));
        let o = oil(&facts, day(2025, 6, 10));
        assert_eq!(o.status, MaintenanceStatus::Overdue);
        assert_eq!(o.reason, "Overdue: was due at 45,000 mi");
    }

    #[test]
    fn a_back_dated_completion_does_not_displace_a_later_one() {
        let v = vehicle(OdometerUnit::Mi);
        let facts = [
            fact(
                "late",
                FactKind::Maintenance,
                at(2025, 3, 1),
                Some(40_000),
                &["oil_change"],
            ),
            fact(
                "early",
                FactKind::Maintenance,
                at(2024, 9, 1),
                Some(35_000),
                &["oil_change"],
            ),
        ];
        let e = evaluate_vehicle(&v, &facts, &[], day(2025, 3, 2));
        assert_eq!(
            e.item("oil_change").unwrap().last_done_odometer,
            Some(40_000)
        );
    }

    #[test]
    fn a_completion_with_a_rolled_back_odometer_keeps_its_date_only() {
        let v = vehicle(OdometerUnit::Mi);
        let facts = [
            fact("r", FactKind::Reading, at(2025, 1, 1), Some(50_000), &[]),
            fact(
                "typo",
                FactKind::Maintenance,
                at(2025, 3, 1),
                Some(5_000),
                &["oil_change"],
            ),
        ];
        let e = evaluate_vehicle(&v, &facts, &[], day(2025, 3, 2));
        let oil = e.item("oil_change").unwrap();
        assert_eq!(oil.last_done_at, Some(at(2025, 3, 1)));
        assert_eq!((oil.last_done_odometer, oil.due_odometer), (None, None));
        assert_eq!(oil.status, MaintenanceStatus::Ok);
        assert_eq!(e.odometer.unwrap().value, 50_000);
    }

    #[test]
    fn owner_settings_replace_defaults_and_custom_tasks_follow_in_task_order() {
        let mut oil = ItemSettings::default_for("oil_change", OdometerUnit::Mi).unwrap();
        oil.interval_miles = Some(7_500);
        let mut belt = ItemChange::blank("timing_belt");
        belt.interval_months = Some(60);
        let mut axle = ItemChange::blank("axle_boots");
        axle.title = Some("CV axle boots".into());
        axle.interval_months = Some(24);
        let items = schedule_for(OdometerUnit::Mi, &[belt, oil, axle]);
        let tasks: Vec<&str> = items.iter().map(|i| i.task.as_str()).collect();
        assert_eq!(tasks.len(), 14);
        assert_eq!(&tasks[12..], ["axle_boots", "timing_belt"]);
        assert_eq!(items[0].interval_miles, Some(7_500));
        let e = evaluate_vehicle(
            &vehicle(OdometerUnit::Mi),
            &[],
            &items[12..],
            day(2024, 2, 1),
        );
        assert_eq!(e.item("axle_boots").unwrap().title, "CV axle boots");
        assert_eq!(e.item("timing_belt").unwrap().title, "Timing belt");
    }

    #[test]
    fn miles_sent_alone_on_a_km_vehicle_replace_the_km_interval() {
        let current = ItemSettings::default_for("oil_change", OdometerUnit::Km).unwrap();
        let change: ItemChange = serde_json::from_value(json!({"intervalMiles": 3_000})).unwrap();
        let next = change.apply_to(&current);
        assert_eq!((next.interval_miles, next.interval_km), (Some(3_000), None));
        assert_eq!(next.distance_interval(OdometerUnit::Km), Some(4_828));
        // And the other way round on a mile vehicle.
        let current = ItemSettings::default_for("oil_change", OdometerUnit::Mi).unwrap();
        let change: ItemChange = serde_json::from_value(json!({"intervalKm": 10_000})).unwrap();
        assert_eq!(
            change
                .apply_to(&current)
                .distance_interval(OdometerUnit::Mi),
            Some(6_214)
        );
    }

    #[test]
    fn absent_fields_are_kept_and_null_clears_an_interval() {
        let current = ItemSettings::default_for("oil_change", OdometerUnit::Mi).unwrap();
        let change: ItemChange = serde_json::from_value(
            json!({"intervalMonths": null, "dueSoonDays": 14, "mode": "fixed"}),
        )
        .unwrap();
        let next = change.apply_to(&current);
        assert_eq!(next.interval_months, None);
        assert_eq!(next.interval_miles, Some(5_000));
        assert_eq!((next.due_soon_days, next.mode), (14, DueMode::Fixed));
        assert_eq!(ItemChange::default().apply_to(&current), current);
        assert!(serde_json::from_value::<ItemChange>(json!({"intervalFurlongs": 3})).is_err());
    }
}
