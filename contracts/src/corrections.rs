//! Corrections and voids of timeline records (docs/corrections.md). A record is never rewritten: a
//! correction is a new revision of it (`VehicleEventCorrected`), a void a last one (`VehicleEventVoided`),
//! and every consumer of recorded events replaces or withdraws the record it holds.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validation::{FieldError, Validator};
use crate::vehicle::{NewVehicleEvent, Vehicle, VehicleEvent};

/// Longest `reason` of a correction or void.
pub const MAX_REASON: usize = 500;

/// `PATCH /v1/vehicles/{id}/events/{eventId}` body: the fields to change, as in `POST …/events`, each
/// replacing the whole value it names (`details` and `vendor` too); `null` clears an optional field (a
/// `null` title restores the kind's default). At least one field besides `reason`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"costCents": 7999, "reason": "receipt says 79.99"}))]
pub struct EventCorrection {
    #[serde(default)]
    pub kind: Option<crate::vehicle::EventKind>,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    #[schema(maximum = 4_999_999)]
    pub odometer: Option<u64>,
    #[serde(default)]
    #[schema(maximum = 100_000_000_000_u64)]
    pub cost_cents: Option<u64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub title: Option<String>,
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub notes: Option<String>,
    #[serde(default)]
    pub vendor: Option<crate::vehicle::Vendor>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
    /// Why the record is corrected (kept in its history).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

crate::wire_enum! {
    /// What one revision of a record did.
    #[derive(JsonSchema, ToSchema)]
    pub enum RevisionChange as "lowercase" {
        Recorded,
        Corrected,
        Voided,
    }
}

/// One revision of a record: the original (1), each correction, and a void (the last one, if any).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventRevision {
    /// 1 for the record as first recorded, then one more for each correction or void.
    pub revision: u32,
    pub change: RevisionChange,
    pub at: DateTime<Utc>,
    /// The caller (`sub`) who made the change; absent for the original record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Top-level fields this revision changed (empty for the original and a void).
    #[serde(default)]
    pub changed: Vec<String>,
    /// The record as it reads after this revision (for a void: the version voided).
    pub event: VehicleEvent,
}

/// `GET /v1/vehicles/{id}/events/{eventId}/history`: the record now and every revision, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventHistory {
    pub current: VehicleEvent,
    pub voided: bool,
    pub revisions: Vec<EventRevision>,
}

/// Payload of `VehicleEventCorrected`: the record's new version (same id) and the one it replaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VehicleEventCorrected {
    pub event: VehicleEvent,
    pub previous: VehicleEvent,
    /// 2 for the first correction.
    pub revision: u32,
    pub changed: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub corrected_at: DateTime<Utc>,
    pub corrected_by: String,
}

/// Payload of `VehicleEventVoided`: the record, as it read when voided, no longer counts anywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VehicleEventVoided {
    pub event: VehicleEvent,
    pub revision: u32,
    pub reason: String,
    pub voided_at: DateTime<Utc>,
    pub voided_by: String,
}

/// The request an event would have been recorded with: the base a correction is applied to.
pub fn as_request(event: &VehicleEvent) -> serde_json::Map<String, serde_json::Value> {
    let new = NewVehicleEvent {
        kind: event.kind,
        occurred_at: event.occurred_at,
        odometer: event.odometer,
        cost_cents: event.cost_cents,
        currency: event.currency.clone(),
        title: Some(event.title.clone()),
        notes: event.notes.clone(),
        vendor: event.vendor.clone(),
        details: event.details.clone(),
    };
    match serde_json::to_value(new).expect("a request serialises") {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("a struct serialises to an object"),
    }
}

/// A correction that passed validation: the new version, the fields it changed and the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidCorrection {
    pub event: VehicleEvent,
    pub changed: Vec<String>,
    pub reason: Option<String>,
}

/// Applies `patch` (a `PATCH` body, already parsed as a JSON object) to `current` and validates the result
/// exactly as a new event of `vehicle` is validated. Keeps the id, source and `recordedAt`.
pub fn correct(
    current: &VehicleEvent,
    mut patch: serde_json::Map<String, serde_json::Value>,
    vehicle: &Vehicle,
    now: DateTime<Utc>,
) -> Result<ValidCorrection, Vec<FieldError>> {
    let mut v = Validator::default();
    let reason = match patch.remove("reason") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(r)) => {
            v.text("reason", &r, 1, MAX_REASON);
            Some(r.trim().to_string())
        }
        Some(_) => {
            v.fail("reason", "must be a string");
            None
        }
    };
    if patch.is_empty() {
        v.fail("body", "name at least one field to correct");
    }
    v.finish()?;
    let mut base = as_request(current);
    // A title that is its kind's default was never chosen: it follows the kind a correction gives.
    if current.title == current.kind.default_title() && !patch.contains_key("title") {
        base.remove("title");
    }
    for (field, value) in patch {
        if value.is_null() {
            base.remove(&field);
        } else {
            base.insert(field, value);
        }
    }
    let new: NewVehicleEvent =
        serde_json::from_value(serde_json::Value::Object(base)).map_err(|e| {
            vec![FieldError {
                field: "body".into(),
                message: e.to_string(),
            }]
        })?;
    let mut event = new.validate_keeping(
        current.id.clone(),
        vehicle,
        current.source,
        now,
        Some((current.occurred_at, current.odometer)),
    )?;
    event.recorded_at = current.recorded_at;
    let before = serde_json::to_value(current).expect("an event serialises");
    let after = serde_json::to_value(&event).expect("an event serialises");
    let mut changed: Vec<String> = after
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| before.get(k.as_str()) != Some(v))
        .map(|(k, _)| k.clone())
        .chain(
            before
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| after.get(k.as_str()).is_none())
                .map(|(k, _)| k.clone()),
        )
        .collect();
    changed.sort();
    changed.dedup();
    if changed.is_empty() {
        return Err(vec![FieldError {
            field: "body".into(),
            message: "the correction changes nothing: every field already has the value given"
                .into(),
        }]);
    }
    Ok(ValidCorrection {
        event,
        changed,
        reason,
    })
}

/// Checks a void's reason (required, 1–500 characters).
pub fn void_reason(reason: Option<&str>) -> Result<String, Vec<FieldError>> {
    let mut v = Validator::default();
    match reason {
        None => v.fail("reason", "is required: say why the record is voided"),
        Some(r) => v.text("reason", r, 1, MAX_REASON),
    }
    v.finish()?;
    Ok(reason.unwrap_or_default().trim().to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::EventSource;
    use crate::examples;

    fn patch(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_correction_keeps_identity_and_names_what_changed() {
        let current = examples::vehicle_event();
        let c = correct(
            &current,
            patch(json!({"odometer": 12_500, "notes": "typo", "reason": "misread"})),
            &examples::vehicle(),
            vwc_clock::now(),
        )
        .unwrap();
        assert_eq!(c.event.id, current.id);
        assert_eq!(c.event.recorded_at, current.recorded_at);
        assert_eq!(c.event.odometer, Some(12_500));
        assert_eq!(c.changed, ["notes", "odometer"]);
        assert_eq!(c.reason.as_deref(), Some("misread"));
    }

    /// [`examples::vehicle`], sold `days` after [`examples::vehicle_event`]'s reading.
    fn sold(days: i64) -> Vehicle {
        use crate::lifecycle::{PurchasePriceSource, Sale, TotalCostOfOwnership, VehicleStatus};
        let sold_at = examples::vehicle_event().occurred_at + chrono::Duration::days(days);
        Vehicle {
            status: VehicleStatus::Sold,
            sale: Some(Sale {
                sold_at,
                price_cents: 1_000_000,
                currency: "USD".into(),
                odometer: 12_500,
                total_cost_of_ownership: TotalCostOfOwnership {
                    currency: "USD".into(),
                    purchase_price_cents: 0,
                    purchase_price_source: PurchasePriceSource::Unknown,
                    costs_cents: 0,
                    sale_price_cents: 1_000_000,
                    total_cents: -1_000_000,
                    records_counted: 0,
                    records_in_other_currencies: 0,
                },
            }),
            ..examples::vehicle()
        }
    }

    #[test]
    fn a_sold_vehicle_takes_records_up_to_its_sale_and_none_after_it() {
        let vehicle = sold(10);
        let sold_at = vehicle.sale.as_ref().unwrap().sold_at;
        let new = |at: DateTime<Utc>| -> NewVehicleEvent {
            serde_json::from_value(json!({"kind": "odometer_reading", "odometer": 12_400,
                "occurredAt": at.to_rfc3339()}))
            .unwrap()
        };
        let record = |at| new(at).validate("evt_2".into(), &vehicle, EventSource::User, sold_at);
        // Late paperwork, dated before the sale or at its instant, is taken.
        assert!(record(sold_at - chrono::Duration::days(3)).is_ok());
        assert!(record(sold_at).is_ok());
        // A second after it, refused on `occurredAt`, naming the sale.
        let errors = record(sold_at + chrono::Duration::seconds(1)).unwrap_err();
        assert_eq!(errors[0].field, "occurredAt");
        assert!(
            errors[0]
                .message
                .contains(&sold_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            "{}",
            errors[0].message
        );
        // An unsold vehicle takes it.
        assert!(
            new(sold_at + chrono::Duration::seconds(1))
                .validate(
                    "evt_2".into(),
                    &examples::vehicle(),
                    EventSource::User,
                    sold_at
                )
                .is_ok()
        );
    }

    #[test]
    fn a_correction_keeps_a_record_after_the_sale_where_it_is_but_moves_none_past_it() {
        let now = examples::vehicle_event().occurred_at + chrono::Duration::days(30);
        // Sold before the reading (recorded before the sale was): still corrected where it is.
        let current = examples::vehicle_event();
        let before_it = sold(-1);
        let c = correct(
            &current,
            patch(json!({"odometer": 12_100})),
            &before_it,
            now,
        )
        .unwrap();
        assert_eq!(c.changed, ["odometer"]);
        // …but not moved to another day after the sale.
        let later = (current.occurred_at + chrono::Duration::days(1)).to_rfc3339();
        let errors = correct(
            &current,
            patch(json!({"occurredAt": later})),
            &before_it,
            now,
        )
        .unwrap_err();
        assert_eq!(errors[0].field, "occurredAt");
        // Sold after the reading: moving it past the sale is refused, moving it earlier is not.
        let after_it = sold(10);
        let past = (current.occurred_at + chrono::Duration::days(11)).to_rfc3339();
        let errors =
            correct(&current, patch(json!({"occurredAt": past})), &after_it, now).unwrap_err();
        assert_eq!(errors[0].field, "occurredAt");
        let earlier = (current.occurred_at - chrono::Duration::days(1)).to_rfc3339();
        assert!(
            correct(
                &current,
                patch(json!({"occurredAt": earlier})),
                &after_it,
                now
            )
            .is_ok()
        );
    }

    #[test]
    fn a_sold_vehicle_takes_no_reading_above_its_sales_odometer() {
        // Sold at 12,500 ten days after the example record.
        let vehicle = sold(10);
        let sold_at = vehicle.sale.as_ref().unwrap().sold_at;
        let reading = |odometer: u64| -> NewVehicleEvent {
            serde_json::from_value(json!({"kind": "odometer_reading", "odometer": odometer,
                "occurredAt": (sold_at - chrono::Duration::days(2)).to_rfc3339()}))
            .unwrap()
        };
        let record = |odometer| {
            reading(odometer).validate("evt_2".into(), &vehicle, EventSource::User, sold_at)
        };
        assert!(record(12_500).is_ok());
        // A lower one (a rollback the readers leave out) is the readers' business, as before.
        assert!(record(9_000).is_ok());
        let errors = record(12_501).unwrap_err();
        assert_eq!(errors[0].field, "odometer");
        assert!(errors[0].message.contains("12500"), "{}", errors[0].message);
        // A correction may not raise a record above it, but one already above keeps its reading.
        let now = sold_at + chrono::Duration::days(1);
        let current = examples::vehicle_event();
        let errors =
            correct(&current, patch(json!({"odometer": 99_999})), &vehicle, now).unwrap_err();
        assert_eq!(errors[0].field, "odometer");
        let above = VehicleEvent {
            odometer: Some(13_000),
            ..examples::vehicle_event()
        };
        let kept = correct(
            &above,
            patch(json!({"notes": "receipt found"})),
            &vehicle,
            now,
        );
        assert!(kept.is_ok(), "{kept:?}");
    }

    #[test]
    fn an_invalid_or_empty_correction_is_refused() {
        let current = examples::vehicle_event();
        let vehicle = examples::vehicle();
        // Each body, refused; where it matters, the field the first error names.
        for (body, field) in [
            (json!({"odometer": null}), Some("odometer")),
            (json!({"reason": "x"}), None),
            (json!({"odometer": 12_000}), None),
            (json!({"colour": 1}), None),
            (json!({"costCents": 5}), Some("currency")),
        ] {
            let refused = correct(&current, patch(body.clone()), &vehicle, vwc_clock::now());
            let Err(errors) = refused else {
                panic!("{body} was accepted")
            };
            if let Some(field) = field {
                assert_eq!(errors[0].field, field, "{body}");
            }
        }
    }

    #[test]
    fn a_default_title_follows_the_kind_a_correction_gives_and_a_chosen_one_stays() {
        let vehicle = examples::vehicle();
        let defaulted = VehicleEvent {
            kind: crate::EventKind::Maintenance,
            title: "Maintenance".into(),
            details: json!({"tasks": ["oil_change"]}),
            ..examples::vehicle_event()
        };
        let to_repair = patch(json!({"kind": "repair", "details": {}}));
        let c = correct(&defaulted, to_repair.clone(), &vehicle, vwc_clock::now()).unwrap();
        assert_eq!(c.event.title, "Repair");
        assert!(c.changed.contains(&"title".to_string()), "{:?}", c.changed);
        let chosen = VehicleEvent {
            title: "Oil change at Quick Lube".into(),
            ..defaulted
        };
        let c = correct(&chosen, to_repair, &vehicle, vwc_clock::now()).unwrap();
        assert_eq!(c.event.title, "Oil change at Quick Lube");
    }

    #[test]
    fn a_void_needs_a_reason() {
        assert!(void_reason(None).is_err());
        assert!(void_reason(Some(" ")).is_err());
        assert_eq!(void_reason(Some("duplicate")).unwrap(), "duplicate");
    }
}
