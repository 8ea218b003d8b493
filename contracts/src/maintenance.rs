//! Events of the maintenance scheduler and the notification service.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use crate::OdometerUnit;

crate::wire_enum! {
    #[derive(JsonSchema, ToSchema)]
    pub enum MaintenanceStatus {
        Ok,
        DueSoon,
        Overdue,
        Unknown,
    }
}

/// One maintenance item as the API shows it (DESIGN §4.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceItemView {
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projected_due_at: Option<NaiveDate>,
    pub status: MaintenanceStatus,
    // Why the item has its status (`reason_on`). Always present in the API; a `MaintenanceScheduleUpdated`
    // of version 2 leaves it out, and `dueCycle` (`cycle_of`), and decoding it writes them again.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schema(required = true)]
    pub reason: String,
    /// Changes whenever the item is reset or its interval changes; reminders are once per cycle.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schema(required = true)]
    pub due_cycle: String,
    pub enabled: bool,
}

impl MaintenanceItemView {
    /// The due cycle of a due point: `"{dueAt}@{dueOdometer}"`, `-` for what is not known.
    pub fn cycle_of(due_at: Option<NaiveDate>, due_odometer: Option<u64>) -> String {
        format!(
            "{}@{}",
            due_at.map_or_else(|| "-".to_string(), |d| d.to_string()),
            due_odometer.map_or_else(|| "-".to_string(), |o| o.to_string())
        )
    }

    /// A copy of the item without the fields a version-2 schedule event leaves out (`reason`, `dueCycle`),
    /// cloning only what it keeps: serialising a sweep's schedules cloned every reason only to drop it.
    pub fn without_derived(&self) -> MaintenanceItemView {
        MaintenanceItemView {
            task: self.task.clone(),
            title: self.title.clone(),
            reason: String::new(),
            due_cycle: String::new(),
            ..*self
        }
    }

    /// The sentence that explains the item's status, written from the item's own facts, the vehicle's
    /// unit, the day it was evaluated for and the odometer estimated for that day. It names dates and
    /// odometer values, never "in N days", so it stays true until a fact changes. The scheduler writes
    /// `reason` with this function, and readers of a schedule event that leaves it out write it again.
    pub fn reason_on(&self, unit: OdometerUnit, today: NaiveDate, odometer: Option<u64>) -> String {
        let by_distance = [self.interval_miles, self.interval_km]
            .into_iter()
            .flatten()
            .any(|d| d > 0);
        if !self.enabled {
            return "Unknown: tracking is turned off for this item".to_string();
        }
        if !by_distance && self.interval_months.is_none_or(|m| m == 0) {
            return "Unknown: no interval configured".to_string();
        }
        let estimate = odometer.filter(|_| self.due_odometer.is_some());
        let days_left = self.due_at.map(|due| (due - today).num_days());
        let remaining = self
            .due_odometer
            .zip(estimate)
            .map(|(due, e)| i128::from(due) - i128::from(e));
        let odometer_gap = by_distance
            .then(|| self.odometer_gap(estimate.is_some()))
            .flatten();
        match self.status {
            MaintenanceStatus::Unknown => {
                format!(
                    "Unknown: {}",
                    odometer_gap.unwrap_or("due date out of range")
                )
            }
            MaintenanceStatus::Overdue => {
                let mut parts = Vec::new();
                if let Some(due) = self.due_at.filter(|_| days_left.is_some_and(|d| d < 0)) {
                    parts.push(format!("on {due}"));
                }
                if let Some(due) = self
                    .due_odometer
                    .filter(|_| remaining.is_some_and(|r| r < 0))
                {
                    parts.push(format!("at {}", crate::text::distance(due, unit)));
                }
                format!("Overdue: was due {}", parts.join(" and "))
            }
            MaintenanceStatus::Ok | MaintenanceStatus::DueSoon => {
                let odometer_text = remaining.zip(self.due_odometer).map(|(r, due)| {
                    let about = self
                        .projected_due_at
                        .filter(|p| *p > today)
                        .map(|p| format!(" (about {p} at current usage)"))
                        .unwrap_or_default();
                    (r, format!("at {}{about}", crate::text::distance(due, unit)))
                });
                let mut text = match (self.due_at.zip(days_left), odometer_text) {
                    // Tomorrow the item is overdue, a status change that publishes anyway.
                    (Some((_, 0)), _) => "Due today".to_string(),
                    (_, Some((0, _))) => format!(
                        "Due now: the odometer has reached {}",
                        crate::text::distance(self.due_odometer.unwrap_or_default(), unit)
                    ),
                    (Some((due, _)), Some((_, o))) => {
                        format!("Due on {due} or {o}, whichever comes first")
                    }
                    (Some((due, _)), None) => format!("Due on {due}"),
                    (None, Some((_, o))) => format!("Due {o}"),
                    // A known status has a due date or odometer; only a hand-made item lacks both.
                    (None, None) => "Due".to_string(),
                };
                if let Some(gap) = odometer_gap.filter(|_| remaining.is_none()) {
                    text.push_str(&format!(" (odometer not checked: {gap})"));
                }
                text
            }
        }
    }

    /// Why the odometer side of an item with a distance interval cannot be judged, if it cannot.
    fn odometer_gap(&self, have_estimate: bool) -> Option<&'static str> {
        match (self.due_odometer, self.last_done_at) {
            (Some(_), _) if have_estimate => None,
            (Some(_), _) => Some("no odometer readings"),
            (None, Some(_)) => Some("no odometer recorded when last done"),
            // Never done: the due odometer counts from the odometer at acquisition.
            (None, None) => Some("odometer at acquisition not recorded"),
        }
    }
}

/// The current odometer as the scheduler estimates it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OdometerEstimateView {
    pub value: u64,
    pub unit: OdometerUnit,
    pub as_of: NaiveDate,
    pub estimated: bool,
}

/// Payload of `MaintenanceScheduleUpdated`: every item of a vehicle, whenever any item's view changed.
///
/// Version 2 (the envelope's `version`, docs/events.md): with `unit` set, the items leave out `reason` and
/// `dueCycle`, which are derived from the other fields ([`MaintenanceItemView::reason_on`] on the day
/// evaluated with `odometer`'s value, [`MaintenanceItemView::cycle_of`]); decoding this type writes them
/// back, so a reader holds whole items either way. Version 1 (no `unit`) carried them in every item and is
/// read as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct MaintenanceScheduleUpdated {
    pub vehicle_id: String,
    pub items: Vec<MaintenanceItemView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub odometer: Option<OdometerEstimateView>,
    pub evaluated_at: DateTime<Utc>,
    /// The day the items were evaluated for, when it is not `evaluatedAt`'s (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_on: Option<NaiveDate>,
    /// The vehicle's odometer unit; set by version 2, whose items leave out what it lets readers derive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<OdometerUnit>,
}

/// The version of `MaintenanceScheduleUpdated` envelopes whose items leave out `reason` and `dueCycle`.
pub const SCHEDULE_VERSION: u32 = 2;

impl MaintenanceScheduleUpdated {
    /// The day the items were evaluated for: the day their `reason` speaks of.
    pub fn evaluated_for(&self) -> NaiveDate {
        self.evaluated_on
            .unwrap_or_else(|| self.evaluated_at.date_naive())
    }
}

impl Serialize for MaintenanceScheduleUpdated {
    /// With `unit`, each item without the `reason` and `dueCycle` a reader derives (they are the derived
    /// ones: the scheduler writes them with the same functions).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Some(unit) = self.unit else {
            return MaintenanceScheduleUpdated::serialize(self, serializer);
        };
        let (today, odometer) = (
            self.evaluated_for(),
            self.odometer.as_ref().map(|o| o.value),
        );
        let items = self
            .items
            .iter()
            .map(|item| {
                debug_assert_eq!(item.reason, item.reason_on(unit, today, odometer));
                debug_assert_eq!(
                    item.due_cycle,
                    MaintenanceItemView::cycle_of(item.due_at, item.due_odometer)
                );
                item.without_derived()
            })
            .collect();
        let compact = MaintenanceScheduleUpdated {
            vehicle_id: self.vehicle_id.clone(),
            items,
            odometer: self.odometer.clone(),
            ..*self
        };
        MaintenanceScheduleUpdated::serialize(&compact, serializer)
    }
}

impl<'de> Deserialize<'de> for MaintenanceScheduleUpdated {
    /// Either version; an item without `reason` or `dueCycle` gets the derived one.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut update = MaintenanceScheduleUpdated::deserialize(deserializer)?;
        let (today, odometer) = (
            update.evaluated_for(),
            update.odometer.as_ref().map(|o| o.value),
        );
        for item in &mut update.items {
            if item.due_cycle.is_empty() {
                item.due_cycle = MaintenanceItemView::cycle_of(item.due_at, item.due_odometer);
            }
            // Version 1 (no `unit`) is read as written: an empty reason was left out, not derived.
            if let Some(unit) = update.unit.filter(|_| item.reason.is_empty()) {
                item.reason = item.reason_on(unit, today, odometer);
            }
        }
        Ok(update)
    }
}

/// Payload of `MaintenanceStatusChanged`: one item changed status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceStatusChanged {
    pub vehicle_id: String,
    pub task: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<MaintenanceStatus>,
    pub status: MaintenanceStatus,
    pub reason: String,
    pub due_cycle: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_odometer: Option<u64>,
}

/// Payload of `ReminderDue`: an item entered `due_soon` or `overdue` (once per item, status and due cycle),
/// or is still overdue a week later (`occurrence` counts those repeats from 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReminderDue {
    /// Stable per (vehicle, task, status, due cycle, occurrence): the notification service's dedup key.
    pub reminder_id: String,
    pub vehicle_id: String,
    /// e.g. "2021 Toyota RAV4 (Blue)".
    pub vehicle_name: String,
    pub task: String,
    pub title: String,
    pub status: MaintenanceStatus,
    pub reason: String,
    pub due_cycle: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_odometer: Option<u64>,
    pub occurrence: u32,
}

crate::wire_enum! {
    #[derive(JsonSchema, ToSchema)]
    pub enum Channel {
        InApp,
        Webhook,
        Email,
    }
}

/// Payload of `NotificationDelivered`: one notification reached one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationDelivered {
    pub notification_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_id: Option<String>,
    pub channel: Channel,
    pub title: String,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<MaintenanceStatus>,
    pub delivered_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::examples::maintenance_schedule;
    use serde_json::json;

    #[test]
    fn a_version_2_schedule_leaves_out_what_readers_derive_and_decodes_whole() {
        let schedule = maintenance_schedule();
        let json = serde_json::to_value(&schedule).unwrap();
        let item = &json["items"][0];
        assert_eq!(item.get("reason"), None);
        assert_eq!(item.get("dueCycle"), None);
        assert_eq!(item["dueAt"], "2026-09-01");
        assert_eq!(json["unit"], "mi");
        let decoded: MaintenanceScheduleUpdated = serde_json::from_value(json).unwrap();
        assert_eq!(decoded, schedule);
        assert_eq!(
            decoded.items[0].reason,
            "Due on 2026-09-01 or at 45,000 mi (about 2026-08-02 at current usage), whichever comes first"
        );
        assert_eq!(decoded.items[0].due_cycle, "2026-09-01@45000");
    }

    #[test]
    fn an_envelope_of_version_2_decodes_to_whole_items() {
        let envelope = crate::Envelope::new(
            "vwc.maintenance-scheduler",
            "org_1",
            Some("veh_1"),
            None,
            maintenance_schedule(),
        );
        assert_eq!(envelope.version, SCHEDULE_VERSION);
        let decoded: crate::Envelope =
            serde_json::from_str(&serde_json::to_string(&envelope).unwrap()).unwrap();
        assert_eq!(decoded, envelope);
        let schedule = decoded.payload::<MaintenanceScheduleUpdated>().unwrap();
        assert_eq!(schedule.items[0].due_cycle, "2026-09-01@45000");
    }

    #[test]
    fn a_version_1_schedule_decodes_as_it_was_written() {
        let json = json!({"vehicleId": "veh_1", "evaluatedAt": "2026-05-01T10:00:00Z", "items": [{
            "task": "oil_change", "title": "Oil change", "status": "due_soon", "dueAt": "2026-05-20",
            "reason": "Due in 19 days", "dueCycle": "c7", "enabled": true}]});
        let decoded: MaintenanceScheduleUpdated = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(decoded.items[0].reason, "Due in 19 days");
        assert_eq!(decoded.items[0].due_cycle, "c7");
        assert_eq!(decoded.unit, None);
        assert_eq!(serde_json::to_value(&decoded).unwrap(), json);
    }

    #[test]
    fn without_the_unit_an_item_is_read_as_written() {
        let json = json!({"vehicleId": "veh_1", "evaluatedAt": "2026-05-01T10:00:00Z", "items": [{
            "task": "oil_change", "title": "Oil change", "status": "ok", "enabled": true}]});
        let decoded: MaintenanceScheduleUpdated = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(decoded.items[0].reason, "");
        assert_eq!(decoded.items[0].due_cycle, "-@-");
        let mut with_unit = json;
        with_unit["unit"] = json!("mi");
        let decoded: MaintenanceScheduleUpdated = serde_json::from_value(with_unit).unwrap();
        assert_eq!(decoded.items[0].reason, "Unknown: no interval configured");
    }

    #[test]
    fn the_reason_speaks_of_the_day_evaluated_and_the_odometer_then() {
        let mut schedule = maintenance_schedule();
        let item = &mut schedule.items[0];
        let on = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            item.reason_on(OdometerUnit::Mi, on(2026, 9, 1), Some(44_000)),
            "Due today"
        );
        assert_eq!(
            item.reason_on(OdometerUnit::Mi, on(2026, 5, 1), Some(45_000)),
            "Due now: the odometer has reached 45,000 mi"
        );
        assert_eq!(
            item.reason_on(OdometerUnit::Mi, on(2026, 5, 1), None),
            "Due on 2026-09-01 (odometer not checked: no odometer readings)"
        );
        item.status = MaintenanceStatus::Overdue;
        assert_eq!(
            item.reason_on(OdometerUnit::Mi, on(2026, 9, 2), Some(45_100)),
            "Overdue: was due on 2026-09-01 and at 45,000 mi"
        );
        item.enabled = false;
        assert_eq!(
            item.reason_on(OdometerUnit::Mi, on(2026, 9, 2), None),
            "Unknown: tracking is turned off for this item"
        );
        // The evaluation day travels with the event when it is not the day of `evaluatedAt`.
        let mut schedule = maintenance_schedule();
        schedule.evaluated_on = Some(on(2026, 9, 1));
        schedule.items[0].reason =
            schedule.items[0].reason_on(OdometerUnit::Mi, on(2026, 9, 1), Some(41_000));
        let json = serde_json::to_value(&schedule).unwrap();
        assert_eq!(json["evaluatedOn"], "2026-09-01");
        let decoded: MaintenanceScheduleUpdated = serde_json::from_value(json).unwrap();
        assert_eq!(decoded.items[0].reason, "Due today");
        assert_eq!(decoded, schedule);
    }
}
