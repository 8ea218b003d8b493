//! The historian's own knowledge of one vehicle: what it was told by events (the registration, the timeline,
//! the latest valuation, the latest maintenance schedule). Pure data; the store keeps it, the engine reads it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use vwc_contracts::maintenance::MaintenanceScheduleUpdated;
use vwc_contracts::valuation::Valuation;
use vwc_contracts::{EventKind, OdometerUnit, Vehicle, VehicleEvent};

/// Everything the historian knows about one vehicle.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VehicleKnowledge {
    pub vehicle_id: String,
    pub org_id: String,
    /// `None` until `VehicleRegistered` was applied (events may arrive first).
    pub vehicle: Option<Vehicle>,
    /// Oldest first: (occurredAt, id).
    pub events: Vec<VehicleEvent>,
    pub valuation: Option<ValuationPoint>,
    pub maintenance: Option<MaintenanceScheduleUpdated>,
    /// Bumped by every applied change; caches of derived data key on it.
    pub version: u64,
}

impl VehicleKnowledge {
    /// The records of `kind`, in the order `events` keeps them.
    pub fn of_kind(&self, kind: EventKind) -> impl DoubleEndedIterator<Item = &VehicleEvent> {
        self.events.iter().filter(move |e| e.kind == kind)
    }

    pub fn unit(&self) -> OdometerUnit {
        self.vehicle
            .as_ref()
            .map(|v| v.odometer_unit)
            .unwrap_or_default()
    }

    /// "2021 Toyota RAV4 (Blue)".
    pub fn vehicle_name(&self) -> String {
        match &self.vehicle {
            Some(v) => {
                let mut name = format!("{} {} {}", v.year, v.make, v.model);
                if let Some(n) = &v.nickname {
                    name.push_str(&format!(" ({n})"));
                }
                name
            }
            None => "this vehicle".into(),
        }
    }

    pub fn event(&self, id: &str) -> Option<&VehicleEvent> {
        self.events.iter().find(|e| e.id == id)
    }

    /// Keeps `events` in (occurredAt, id) order after an insertion.
    pub fn sort_events(&mut self) {
        self.events
            .sort_by(|a, b| (a.occurred_at, &a.id).cmp(&(b.occurred_at, &b.id)));
    }
}

/// A valuation as the historian keeps it (the `valuation` of a `ValuationUpdated`), with the enumerations kept
/// as their wire text: stored points stay readable whatever codes the valuation service adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValuationView {
    pub amount_cents: u64,
    pub currency: String,
    pub as_of: NaiveDate,
    pub method: String,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub odometer: Option<u64>,
    #[serde(default)]
    pub factors: Vec<ValuationFactorView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValuationFactorView {
    #[serde(default)]
    pub code: String,
    pub label: String,
    pub amount_cents: i64,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub event_id: Option<String>,
}

impl From<&Valuation> for ValuationView {
    fn from(v: &Valuation) -> ValuationView {
        ValuationView {
            amount_cents: v.amount_cents,
            currency: v.currency.clone(),
            as_of: v.as_of,
            method: v.method.as_str().to_string(),
            kind: Some(v.kind.as_str().to_string()),
            odometer: v.odometer,
            factors: v
                .factors
                .iter()
                .map(|f| ValuationFactorView {
                    code: f.code.as_str().to_string(),
                    label: f.label.clone(),
                    amount_cents: f.amount_cents,
                    detail: f.detail.clone(),
                    event_id: f.event_id.clone(),
                })
                .collect(),
        }
    }
}

/// The newest valuation point the historian holds for a vehicle, with the envelope that brought it (cited).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValuationPoint {
    pub envelope_id: String,
    pub valuation: ValuationView,
    pub computed_at: DateTime<Utc>,
}

impl ValuationPoint {
    /// Whether this point should replace `stored`: a later `asOf`, or the same day computed later.
    pub fn supersedes(&self, stored: &ValuationPoint) -> bool {
        (self.valuation.as_of, self.computed_at) >= (stored.valuation.as_of, stored.computed_at)
    }
}
