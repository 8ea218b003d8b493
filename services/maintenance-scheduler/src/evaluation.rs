//! A vehicle's whole schedule evaluated for a day: the timeline facts the scheduler keeps, the item
//! settings (catalogue defaults plus the owner's changes) and the item views the API shows. Pure.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use vwc_contracts::catalogue::Catalogue;
use vwc_contracts::maintenance::{MaintenanceItemView, OdometerEstimateView};
use vwc_contracts::{EventKind, OdometerUnit, Vehicle, VehicleEvent};

use crate::due::{Anchor, Done, evaluate, evaluate_facts};
use crate::settings::{ItemSettings, schedule_for};
use crate::usage_estimate::{OdometerReading, Usage};

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
    /// Sold or archived: its schedule is kept, but it is reminded of nothing.
    pub retired: bool,
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
            retired: v.is_retired(),
        }
    }
}

vwc_contracts::wire_enum! {
    /// Which part of the timeline a fact comes from.
    pub enum FactKind {
        /// An acquisition: where never-done items count from.
        Acquisition,
        /// Maintenance naming tasks: resets those items.
        Maintenance,
        /// Any other event that carries an odometer.
        Reading,
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
    /// The fact of record `event_id`: what happened `at`, the odometer then, and the tasks done (a
    /// maintenance visit).
    pub fn new(
        event_id: &str,
        kind: FactKind,
        at: DateTime<Utc>,
        odometer: Option<u64>,
        tasks: &[&str],
    ) -> TimelineFact {
        TimelineFact {
            event_id: event_id.to_string(),
            kind,
            at,
            odometer,
            tasks: tasks.iter().map(|t| t.to_string()).collect(),
        }
    }

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
pub struct Timeline<'a> {
    pub anchor: Anchor,
    pub usage: Usage,
    /// Each task's completions, the task borrowed from the facts. A vehicle's facts name a dozen tasks or so:
    /// a list searched in order costs less than hashing each name (1.9 % of a first sweep).
    history: Vec<(&'a str, Vec<Done>)>,
}

impl<'a> Timeline<'a> {
    pub fn from_facts(registered_at: DateTime<Utc>, facts: &'a [TimelineFact]) -> Timeline<'a> {
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
        let mut history: Vec<(&str, Vec<Done>)> = Vec::new();
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
                match history.iter_mut().find(|(t, _)| *t == task.as_str()) {
                    Some((_, completions)) => completions.push(done),
                    None => history.push((task.as_str(), vec![done])),
                }
            }
        }
        Timeline {
            anchor,
            usage,
            history,
        }
    }

    pub fn history(&self, task: &str) -> &[Done] {
        self.history
            .iter()
            .find(|(t, _)| *t == task)
            .map_or(&[], |(_, completions)| completions.as_slice())
    }
}

/// A vehicle's schedule evaluated for one day.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub items: Vec<MaintenanceItemView>,
    pub odometer: Option<OdometerEstimateView>,
    /// A day after the evaluated one on or before which some item's status may change with no new fact
    /// (see [`status_may_change_on`]); `None` when time alone changes none.
    pub status_may_change_on: Option<NaiveDate>,
}

impl Evaluation {
    pub fn item(&self, task: &str) -> Option<&MaintenanceItemView> {
        self.items.iter().find(|i| i.task == task)
    }

    /// An item's title: its own, or the catalogue's for one evaluated with [`Derived::Later`] (a title is
    /// never empty).
    pub fn title_of(&self, item: &MaintenanceItemView) -> String {
        if item.title.is_empty() {
            Catalogue::standard().title_of(&item.task)
        } else {
            item.title.clone()
        }
    }

    /// An item's reason: its own, or worded now for one evaluated with [`Derived::Later`] (a reason is
    /// never empty).
    pub fn reason_of(
        &self,
        item: &MaintenanceItemView,
        unit: OdometerUnit,
        today: NaiveDate,
    ) -> String {
        if item.reason.is_empty() {
            item.reason_on(unit, today, self.odometer.as_ref().map(|o| o.value))
        } else {
            item.reason.clone()
        }
    }
}

/// Whether an evaluation writes each item's derived fields: the catalogue's `title` of an item without its
/// own, its `reason` ([`MaintenanceItemView::reason_on`]) and its `due_cycle`
/// ([`MaintenanceItemView::cycle_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derived {
    /// Written for every item (what the API and a kept evaluation show).
    Written,
    /// Left empty, for whoever publishes an item to derive ([`Evaluation::title_of`],
    /// [`Evaluation::reason_of`], [`MaintenanceItemView::cycle`]). A sweep's schedule events leave them
    /// out, and they were ≈ a third of an evaluation's time (three strings an item).
    Later,
}

/// Evaluates every item of the vehicle as of `today`.
pub fn evaluate_vehicle(
    vehicle: &VehicleRecord,
    facts: &[TimelineFact],
    overrides: &[ItemSettings],
    today: NaiveDate,
) -> Evaluation {
    evaluate_vehicle_as(vehicle, facts, overrides, today, Derived::Written)
}

/// [`evaluate_vehicle`], with the items' derived fields written or not.
pub fn evaluate_vehicle_as(
    vehicle: &VehicleRecord,
    facts: &[TimelineFact],
    overrides: &[ItemSettings],
    today: NaiveDate,
    derived: Derived,
) -> Evaluation {
    let timeline = Timeline::from_facts(vehicle.registered_at, facts);
    let estimate = timeline.usage.estimate_at(today);
    let settings = schedule_for(vehicle.unit, overrides);
    let evaluate = match derived {
        Derived::Written => evaluate,
        Derived::Later => evaluate_facts,
    };
    let items: Vec<MaintenanceItemView> = settings
        .iter()
        .map(|settings| {
            evaluate(
                settings,
                vehicle.unit,
                &timeline.anchor,
                timeline.history(&settings.task),
                today,
                estimate.as_ref(),
            )
        })
        .collect();
    let status_may_change_on =
        status_may_change_on(&settings, &items, vehicle.unit, &timeline.usage, today);
    Evaluation {
        items,
        odometer: estimate.map(|e| OdometerEstimateView {
            value: e.value,
            unit: vehicle.unit,
            as_of: e.as_of,
            estimated: e.estimated,
            reading_on: timeline.usage.latest().map(|r| r.at.date_naive()),
        }),
        status_may_change_on,
    }
}

/// A day after `today` on or before which some item's status may change although no fact does — so that
/// the daily sweep needs to read only the vehicles whose day has come. Never later than the first such
/// change; it may be a little earlier (an evaluation that changes nothing).
///
/// With the facts fixed, an item's status only grows more urgent as days pass: its due date and due
/// odometer stay where they are, the day comes nearer and the estimated odometer (the latest reading
/// projected at a fixed rate, rounded to whole units) only grows. So each status changes at a few
/// thresholds: by date on the due-soon day and the day after the due date; by odometer when the
/// estimate reaches the due-soon distance before the due odometer, when the projected due day comes
/// within the due-soon days (the estimate reaches `due − rate × days`), and when it passes the due
/// odometer. Dates are exact. Odometer thresholds are compared in floating point by the evaluation, so
/// each is taken a unit and a day early, and one the estimate may not yet have passed counts from
/// tomorrow. The property test in `tests/sweep.rs` checks this against evaluating every day.
pub fn status_may_change_on(
    settings: &[ItemSettings],
    items: &[MaintenanceItemView],
    unit: OdometerUnit,
    usage: &Usage,
    today: NaiveDate,
) -> Option<NaiveDate> {
    let tomorrow = today.succ_opt()?;
    let latest = usage.latest();
    let rate = usage.rate_per_day().filter(|r| r.is_finite() && *r > 0.0);
    let now = usage.estimate_at(today).map(|e| e.value as f64);
    // When the estimate reaches `threshold`, at the earliest; `None` if it surely has already. The
    // estimate on day D after the latest reading (day r) is `latest + round(rate × (D − r))`, which
    // reaches a whole `k` above `latest` when `D − r ≥ (k − ½) / rate`.
    let reaches = |threshold: f64| -> Option<NaiveDate> {
        let (latest, rate) = (latest?, rate?);
        if now.is_some_and(|now| now >= threshold + 1.0) {
            return None;
        }
        let k = (threshold - 1.0).ceil() - latest.value as f64;
        let days = ((k - 0.5) / rate).ceil() - 1.0;
        if days > 36_500.0 {
            return None;
        }
        let day = latest.at.date_naive() + chrono::Duration::days(days.max(0.0) as i64);
        Some(day.max(tomorrow))
    };
    let mut candidates: Vec<NaiveDate> = Vec::new();
    for (s, item) in settings.iter().zip(items) {
        if !item.enabled {
            continue;
        }
        if let Some(due) = item.due_at {
            candidates.extend(due.checked_sub_days(chrono::Days::new(u64::from(s.due_soon_days))));
            candidates.extend(due.succ_opt());
        }
        if let Some(due) = item.due_odometer {
            let due = due as f64;
            candidates.extend(reaches(due - f64::from(s.due_soon_distance(unit))));
            candidates.extend(rate.and_then(|r| reaches(due - r * f64::from(s.due_soon_days))));
            candidates.extend(reaches(due + 1.0));
        }
    }
    candidates.into_iter().filter(|d| *d > today).min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{DueMode, ItemChange};
    use crate::test_support::{at, day};
    use serde_json::json;
    use vwc_contracts::maintenance::MaintenanceStatus;

    fn vehicle(unit: OdometerUnit) -> VehicleRecord {
        VehicleRecord {
            id: "veh_1".into(),
            org_id: "org_a".into(),
            name: "2021 Toyota RAV4".into(),
            unit,
            registered_at: at(2024, 1, 1),
            retired: false,
        }
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

    /// The fact an event of `kind` recorded on 1 March 2025 becomes, if any.
    fn fact_of(
        kind: &str,
        odometer: Option<u64>,
        details: serde_json::Value,
    ) -> Option<TimelineFact> {
        let event: VehicleEvent = serde_json::from_value(json!({
            "id": "evt_1", "vehicleId": "veh_1", "orgId": "org_a", "kind": kind,
            "occurredAt": "2025-03-01T10:00:00Z", "recordedAt": "2025-03-01T10:00:00Z",
            "odometer": odometer, "title": "t", "source": "user", "details": details
        }))
        .unwrap();
        TimelineFact::from_event(&event)
    }

    #[test]
    fn only_events_that_matter_to_maintenance_become_facts() {
        let oil = fact_of(
            "maintenance",
            Some(40_000),
            json!({"tasks": ["oil_change"]}),
        )
        .unwrap();
        assert_eq!(
            (oil.kind, oil.tasks.as_slice()),
            (FactKind::Maintenance, &["oil_change".to_string()][..])
        );
        let repair = fact_of("repair", Some(41_000), json!({})).unwrap();
        assert_eq!(
            (repair.kind, repair.odometer),
            (FactKind::Reading, Some(41_000))
        );
        assert_eq!(fact_of("repair", None, json!({})), None);
        assert_eq!(
            fact_of(
                "valuation",
                None,
                json!({"amountCents": 1, "source": "user_estimate"})
            ),
            None
        );
        let bought = fact_of("acquisition", None, json!({})).unwrap();
        assert_eq!(bought.kind, FactKind::Acquisition);
    }

    #[test]
    fn a_fill_up_is_an_odometer_reading_and_never_maintenance() {
        let fuel = fact_of(
            "fuel",
            Some(42_000),
            json!({"volume": 11.2, "volumeUnit": "gal", "fullTank": true}),
        )
        .unwrap();
        assert_eq!(
            (fuel.kind, fuel.odometer, fuel.tasks.len()),
            (FactKind::Reading, Some(42_000), 0)
        );
        assert_eq!(
            fact_of("fuel", None, json!({"volume": 11.2, "volumeUnit": "gal"})),
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

    /// An oil change recorded as event `id`.
    fn oil_change(id: &str, when: DateTime<Utc>, odometer: u64) -> TimelineFact {
        TimelineFact::new(
            id,
            FactKind::Maintenance,
            when,
            Some(odometer),
            &["oil_change"],
        )
    }

    fn reading(id: &str, when: DateTime<Utc>, odometer: u64) -> TimelineFact {
        TimelineFact::new(id, FactKind::Reading, when, Some(odometer), &[])
    }

    /// The oil change item of a mile vehicle registered on 1 January 2024 with `facts`, on `today`.
    fn oil_item(facts: &[TimelineFact], today: NaiveDate) -> MaintenanceItemView {
        let e = evaluate_vehicle(&vehicle(OdometerUnit::Mi), facts, &[], today);
        e.item("oil_change").unwrap().clone()
    }

    #[test]
    fn the_worked_example_is_due_soon_at_44600_and_overdue_at_45100() {
        let mut facts = vec![oil_change("e1", at(2025, 3, 1), 40_000)];
        let o = oil_item(&facts, day(2025, 3, 2));
        assert_eq!(
            (o.due_odometer, o.due_at),
            (Some(45_000), Some(day(2025, 9, 1)))
        );
        assert_eq!(o.status, MaintenanceStatus::Ok);
        facts.push(reading("e2", at(2025, 6, 1), 44_600));
        assert_eq!(
            oil_item(&facts, day(2025, 6, 1)).status,
            MaintenanceStatus::DueSoon
        );
        facts.push(reading("e3", at(2025, 6, 10), 45_100));
        let o = oil_item(&facts, day(2025, 6, 10));
        assert_eq!(o.status, MaintenanceStatus::Overdue);
        assert_eq!(o.reason, "Overdue: was due at 45,000 mi");
    }

    #[test]
    fn a_back_dated_completion_does_not_displace_a_later_one() {
        let facts = [
            oil_change("late", at(2025, 3, 1), 40_000),
            oil_change("early", at(2024, 9, 1), 35_000),
        ];
        let oil = oil_item(&facts, day(2025, 3, 2));
        assert_eq!(oil.last_done_odometer, Some(40_000));
    }

    #[test]
    fn a_completion_with_a_rolled_back_odometer_keeps_its_date_only() {
        let facts = [
            reading("r", at(2025, 1, 1), 50_000),
            oil_change("typo", at(2025, 3, 1), 5_000),
        ];
        let e = evaluate_vehicle(&vehicle(OdometerUnit::Mi), &facts, &[], day(2025, 3, 2));
        let oil = e.item("oil_change").unwrap();
        assert_eq!(oil.last_done_at, Some(at(2025, 3, 1)));
        assert_eq!((oil.last_done_odometer, oil.due_odometer), (None, None));
        assert_eq!(oil.status, MaintenanceStatus::Ok);
        assert_eq!(e.odometer.unwrap().value, 50_000);
    }

    #[test]
    fn owner_settings_replace_defaults_and_custom_tasks_follow_in_task_order() {
        let mut oil = ItemSettings::default_for("oil_change", OdometerUnit::Mi).unwrap();
        oil.intervals.miles = Some(7_500);
        let mut belt = ItemChange::blank("timing_belt");
        belt.intervals.months = Some(60);
        let mut axle = ItemChange::blank("axle_boots");
        axle.title = Some("CV axle boots".into());
        axle.intervals.months = Some(24);
        let items = schedule_for(OdometerUnit::Mi, &[belt, oil, axle]);
        let tasks: Vec<&str> = items.iter().map(|i| i.task.as_str()).collect();
        assert_eq!(tasks.len(), 14);
        assert_eq!(&tasks[12..], ["axle_boots", "timing_belt"]);
        assert_eq!(items[0].intervals.miles, Some(7_500));
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
        assert_eq!(
            (next.intervals.miles, next.intervals.km),
            (Some(3_000), None)
        );
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
        assert_eq!(next.intervals.months, None);
        assert_eq!(next.intervals.miles, Some(5_000));
        assert_eq!((next.due_soon_days, next.mode), (14, DueMode::Fixed));
        assert_eq!(ItemChange::default().apply_to(&current), current);
        assert!(serde_json::from_value::<ItemChange>(json!({"intervalFurlongs": 3})).is_err());
    }
}
