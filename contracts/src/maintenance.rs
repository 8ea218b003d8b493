//! Events of the maintenance scheduler and the notification service.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
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
    pub reason: String,
    /// Changes whenever the item is reset or its interval changes; reminders are once per cycle.
    pub due_cycle: String,
    pub enabled: bool,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceScheduleUpdated {
    pub vehicle_id: String,
    pub items: Vec<MaintenanceItemView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub odometer: Option<OdometerEstimateView>,
    pub evaluated_at: DateTime<Utc>,
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
