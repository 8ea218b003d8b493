//! Corrections and voids in the read model (docs/corrections.md): the timeline keeps one row per record,
//! replaced by each later revision and marked; a voided row leaves the default timeline, the costs and the
//! vehicle's counts, and is shown (marked) only on request.

use chrono::{DateTime, Utc};
use serde::Serialize;
use vwc_contracts::VehicleEvent;
use vwc_contracts::corrections::{VehicleEventCorrected, VehicleEventVoided};
use vwc_store::StoreResult;

/// A timeline item as the API shows it: the record as it now reads, with its marks.
// Each mark is left out of the JSON when `None`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimelineItem {
    #[serde(flatten)]
    pub event: VehicleEvent,
    /// Present (`true`) when the record was corrected; `GET …/events/{eventId}/history` lists its versions.
    pub corrected: Option<bool>,
    /// The record's revision, when above 1 (the original).
    pub revision: Option<u32>,
    pub corrected_at: Option<DateTime<Utc>>,
    /// Present (`true`) on a voided record, which only `includeVoided=true` lists.
    pub voided: Option<bool>,
    pub voided_at: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
}

/// One revision of a record, ready to replace the row the read model holds.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRevision {
    pub event: VehicleEvent,
    pub revision: u32,
    pub voided: bool,
    /// The [`TimelineItem`] JSON the timeline serves.
    pub json: String,
}

impl TimelineRevision {
    pub fn corrected(c: &VehicleEventCorrected) -> StoreResult<TimelineRevision> {
        let item = TimelineItem {
            event: c.event.clone(),
            corrected: Some(true),
            revision: Some(c.revision),
            corrected_at: Some(c.corrected_at),
            voided: None,
            voided_at: None,
            void_reason: None,
        };
        Ok(TimelineRevision {
            event: c.event.clone(),
            revision: c.revision,
            voided: false,
            json: serde_json::to_string(&item)?,
        })
    }

    pub fn voided(v: &VehicleEventVoided) -> StoreResult<TimelineRevision> {
        let corrected = v.revision > 2;
        let item = TimelineItem {
            event: v.event.clone(),
            corrected: corrected.then_some(true),
            revision: Some(v.revision),
            corrected_at: None,
            voided: Some(true),
            voided_at: Some(v.voided_at),
            void_reason: Some(v.reason.clone()),
        };
        Ok(TimelineRevision {
            event: v.event.clone(),
            revision: v.revision,
            voided: true,
            json: serde_json::to_string(&item)?,
        })
    }
}
