//! The dealer webhook payload (DESIGN §4.3) and its mapping to a timeline event. Pure functions.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vwc_contracts::schema_types::{CurrencyCode, TaskCode};
use vwc_contracts::{
    AcquisitionDetails, CollisionDetails, Condition, EventKind, FieldError, MaintenanceDetails,
    NewVehicleEvent, RepairDetails, Severity, ValuationDetails, ValuationSource, Vendor,
    is_task_code,
};

/// What the dealer reports; decides the kind of timeline event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DealerPayloadType {
    /// Routine maintenance; tasks come from the lines' `task` codes.
    ServiceRecord,
    /// A repair; the lines' descriptions become its parts.
    RepairOrder,
    /// A valuation (`source: dealer_appraisal`); `totalCents` is the appraised value.
    Appraisal,
    /// The vehicle was bought from the dealer; `totalCents` is the price.
    Sale,
    /// A collision; needs `severity`.
    CollisionReport,
}

/// One line of a service record or repair order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DealerLine {
    /// On a repair order, the part (1–120 characters).
    #[schema(min_length = 1, max_length = 120, pattern = "\\S")]
    pub description: String,
    /// Maintenance task code such as `oil_change` (service records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<TaskCode>)]
    pub task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_cents: Option<u64>,
}

/// A dealer webhook body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!(examples::service_record()))]
pub struct DealerPayload {
    #[serde(rename = "type")]
    pub payload_type: DealerPayloadType,
    /// 17 characters, letters and digits without I, O and Q.
    #[schema(pattern = "^[A-HJ-NPR-Za-hj-npr-z0-9]{17}$")]
    pub vin: String,
    /// Not before 1886 and at most a day in the future.
    pub occurred_at: DateTime<Utc>,
    /// In the vehicle's own unit, as registered (`odometerUnit`, mi or km): a dealer sending miles for a km
    /// vehicle records a lower reading, which the maintenance schedule and valuation ignore as a rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 4_999_999)]
    pub odometer: Option<u64>,
    /// Invoice total; for an appraisal the appraised value, for a sale the price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 100_000_000_000_u64)]
    pub total_cents: Option<u64>,
    /// ISO 4217; defaults to USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<CurrencyCode>)]
    pub currency: Option<String>,
    /// Service records need at least one line with a `task`.
    #[serde(default)]
    #[schema(max_items = 200)]
    pub lines: Vec<DealerLine>,
    /// The dealer's own reference (repair-order number, deal number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The timeline title; a default for the type when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 4000)]
    pub notes: Option<String>,
    /// Repair orders: the system repaired (e.g. `brakes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 120)]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warranty: Option<bool>,
    /// Sales: `new` or `used`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    /// Collision reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structural: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub airbag_deployed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 120)]
    pub insurance_claim_id: Option<String>,
}

/// Payloads a dealer can copy, one per type: the files in `contracts/examples/dealer-webhooks/`, which the
/// OpenAPI document shows too.
pub mod examples {
    use serde_json::Value;

    macro_rules! example {
        ($name:ident, $file:literal) => {
            pub fn $name() -> Value {
                serde_json::from_str(include_str!(concat!(
                    "../../../../contracts/examples/dealer-webhooks/",
                    $file
                )))
                .expect(concat!($file, " is JSON"))
            }
        };
    }

    example!(service_record, "service_record.json");
    example!(repair_order, "repair_order.json");
    example!(appraisal, "appraisal.json");
    example!(sale, "sale.json");
    example!(collision_report, "collision_report.json");

    /// Every example with its name.
    pub fn all() -> Vec<(&'static str, Value)> {
        vec![
            ("service_record", service_record()),
            ("repair_order", repair_order()),
            ("appraisal", appraisal()),
            ("sale", sale()),
            ("collision_report", collision_report()),
        ]
    }
}

fn field(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// The payload's name for a field of the event it becomes, so a 422 names what the dealer sent: the
/// amounts (a cost, an appraisal's value, a sale's price) all come from `totalCents`, a repair's parts
/// from the lines' descriptions, and the details a payload carries at its top level are named there.
pub fn payload_field(mut error: FieldError) -> FieldError {
    let field = match error.field.as_str() {
        "costCents" | "details.amountCents" | "details.priceCents" => "totalCents",
        "details.parts" => "lines",
        "details.system" => "system",
        "details.insuranceClaimId" => "insuranceClaimId",
        _ => return error,
    };
    error.field = field.into();
    error
}

/// The dealer's name as a record's vendor (and a sale's seller): one line. A name registered before names
/// had to be one line has its line breaks and control characters read as spaces, so the dealer's records
/// are not refused for what the dealer cannot change.
fn vendor_name(dealer_name: &str) -> String {
    dealer_name
        .chars()
        .map(|c| {
            if c.is_control() || vwc_contracts::validation::is_line_break(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

impl DealerPayload {
    /// The timeline event this payload becomes, before the per-vehicle validation every event gets.
    pub fn to_new_event(
        &self,
        dealer_id: &str,
        dealer_name: &str,
    ) -> Result<NewVehicleEvent, Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.lines.len() > 200 {
            errors.push(field("lines", "must have at most 200 lines"));
        }
        let currency = self.currency.clone().unwrap_or_else(|| "USD".into());
        let dealer_name = vendor_name(dealer_name);
        let dealer_name = dealer_name.as_str();
        let (kind, details, default_title) = match self.payload_type {
            DealerPayloadType::ServiceRecord => {
                let mut tasks: Vec<String> = Vec::new();
                for (i, line) in self.lines.iter().enumerate() {
                    if let Some(t) = &line.task {
                        if !is_task_code(t) {
                            errors.push(field(
                                &format!("lines[{i}].task"),
                                "is not a task code (lower snake_case)",
                            ));
                        } else if !tasks.contains(t) {
                            tasks.push(t.clone());
                        }
                    }
                }
                if tasks.is_empty() {
                    errors.push(field(
                        "lines",
                        "a service record needs at least one line with a `task` code",
                    ));
                }
                (
                    EventKind::Maintenance,
                    serde_json::to_value(MaintenanceDetails { tasks }),
                    "Dealer service",
                )
            }
            DealerPayloadType::RepairOrder => {
                // Each description becomes a part: one line, named here by its line.
                for (i, line) in self.lines.iter().enumerate() {
                    let mut v = vwc_contracts::validation::Validator::default();
                    v.line(
                        &format!("lines[{i}].description"),
                        &line.description,
                        1,
                        vwc_contracts::MAX_SHORT_TEXT,
                    );
                    errors.extend(v.finish().err().into_iter().flatten());
                }
                (
                    EventKind::Repair,
                    serde_json::to_value(RepairDetails {
                        system: self.system.clone(),
                        parts: self.lines.iter().map(|l| l.description.clone()).collect(),
                        warranty: self.warranty.unwrap_or(false),
                    }),
                    "Dealer repair",
                )
            }
            DealerPayloadType::Appraisal => match self.total_cents {
                Some(amount) => (
                    EventKind::Valuation,
                    serde_json::to_value(ValuationDetails {
                        amount_cents: amount,
                        source: ValuationSource::DealerAppraisal,
                    }),
                    "Dealer appraisal",
                ),
                None => {
                    errors.push(field(
                        "totalCents",
                        "an appraisal needs the appraised value",
                    ));
                    (EventKind::Valuation, Ok(serde_json::Value::Null), "")
                }
            },
            DealerPayloadType::Sale => (
                EventKind::Acquisition,
                serde_json::to_value(AcquisitionDetails {
                    price_cents: self.total_cents,
                    condition: self.condition,
                    seller: Some(dealer_name.to_string()),
                }),
                "Bought from dealer",
            ),
            DealerPayloadType::CollisionReport => match self.severity {
                Some(severity) => (
                    EventKind::Collision,
                    serde_json::to_value(CollisionDetails {
                        severity,
                        structural: self.structural.unwrap_or(false),
                        airbag_deployed: self.airbag_deployed.unwrap_or(false),
                        insurance_claim_id: self.insurance_claim_id.clone(),
                    }),
                    "Collision report",
                ),
                None => {
                    errors.push(field("severity", "a collision report needs a severity"));
                    (EventKind::Collision, Ok(serde_json::Value::Null), "")
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        // Appraisals and sales carry a value, not a cost to the owner.
        let cost_cents = match self.payload_type {
            DealerPayloadType::Appraisal => None,
            _ => self.total_cents,
        };
        Ok(NewVehicleEvent {
            kind,
            occurred_at: self.occurred_at,
            odometer: self.odometer,
            cost_cents,
            // With any amount, the cost's or an appraisal's (the valuation reads it in this currency), so
            // it is checked as an ISO 4217 code either way.
            currency: self.total_cents.map(|_| currency),
            title: Some(
                self.title
                    .clone()
                    .unwrap_or_else(|| default_title.to_string()),
            ),
            notes: self.notes.clone(),
            vendor: Some(Vendor {
                name: dealer_name.to_string(),
                dealer_id: Some(dealer_id.to_string()),
            }),
            details: details.expect("details serialise"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: serde_json::Value) -> DealerPayload {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_service_record_becomes_maintenance_with_tasks_from_its_lines() {
        let p = payload(
            json!({"type": "service_record", "vin": "1HGCM82633A004352", "occurredAt": "2026-01-01T00:00:00Z",
            "odometer": 41000, "totalCents": 12999, "lines": [
                {"description": "Oil and filter", "task": "oil_change", "amountCents": 8999},
                {"description": "Rotate tires", "task": "tire_rotation", "amountCents": 4000},
                {"description": "Shop supplies"}]}),
        );
        let e = p.to_new_event("dlr_1", "Main St Auto").unwrap();
        assert_eq!(e.kind, EventKind::Maintenance);
        assert_eq!(e.details["tasks"], json!(["oil_change", "tire_rotation"]));
        assert_eq!(e.cost_cents, Some(12999));
        assert_eq!(e.vendor.unwrap().dealer_id.as_deref(), Some("dlr_1"));
    }

    #[test]
    fn an_amount_out_of_bounds_is_reported_as_the_payloads_total() {
        let now = vwc_clock::now();
        for t in ["appraisal", "repair_order", "sale"] {
            let p = payload(json!({"type": t, "vin": "1HGCM82633A004352",
                "occurredAt": "2026-01-01T00:00:00Z", "totalCents": u64::MAX, "condition": "used",
                "lines": [{"description": "pads"}]}));
            let errors = p.to_new_event("d", "D").unwrap().check(now).unwrap_err();
            let fields: Vec<String> = errors.into_iter().map(|e| payload_field(e).field).collect();
            assert!(
                fields.contains(&"totalCents".to_string()),
                "{t}: {fields:?}"
            );
            assert!(
                fields
                    .iter()
                    .all(|f| !f.starts_with("details.") && f != "costCents"),
                "{t}: {fields:?}"
            );
        }
    }

    #[test]
    fn each_payload_type_maps_to_its_kind() {
        let base = |t: &str, extra: serde_json::Value| {
            let mut v = json!({"type": t, "vin": "1HGCM82633A004352", "occurredAt": "2026-01-01T00:00:00Z", "totalCents": 100});
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            payload(v).to_new_event("d", "D").unwrap()
        };
        assert_eq!(
            base("repair_order", json!({"lines": [{"description": "pads"}]})).kind,
            EventKind::Repair
        );
        let a = base("appraisal", json!({}));
        assert_eq!((a.kind, a.cost_cents), (EventKind::Valuation, None));
        assert_eq!(a.details["source"], "dealer_appraisal");
        // An appraisal keeps its currency (USD unless given), and a bad one is refused like a cost's.
        assert_eq!(a.currency.as_deref(), Some("USD"));
        let now = vwc_clock::now();
        let euros = base("appraisal", json!({"currency": "EUR"}));
        assert_eq!(euros.currency.as_deref(), Some("EUR"));
        assert!(euros.check(now).is_ok());
        let bad = base("appraisal", json!({"currency": "usd1"}))
            .check(now)
            .unwrap_err();
        assert_eq!(bad[0].field, "currency", "{bad:?}");
        assert_eq!(
            base("sale", json!({"condition": "used"})).kind,
            EventKind::Acquisition
        );
        assert_eq!(
            base("collision_report", json!({"severity": "major"})).kind,
            EventKind::Collision
        );
    }

    #[test]
    fn every_published_example_maps_to_an_event() {
        // The test's clock: a fixed instant after every example's `occurredAt` (an example dated later
        // would be a record from the future, refused).
        let now: chrono::DateTime<chrono::Utc> = "2026-06-01T00:00:00Z".parse().unwrap();
        for (name, example) in examples::all() {
            let p: DealerPayload = serde_json::from_value(example)
                .unwrap_or_else(|e| panic!("example {name} does not parse: {e}"));
            let vehicle = vwc_contracts::Vehicle {
                org_id: "org_a".into(),
                vin: p.vin.clone(),
                year: 2020,
                registered_at: now,
                ..vwc_contracts::examples::vehicle()
            };
            p.to_new_event("dlr_1", "Main St Auto")
                .and_then(|e| {
                    e.validate(
                        "evt_1".into(),
                        &vehicle,
                        vwc_contracts::EventSource::Dealer,
                        now,
                    )
                })
                .unwrap_or_else(|e| panic!("example {name} is refused: {e:?}"));
        }
    }

    /// A single-line field a dealer sends with a line break or a control character is refused under the
    /// payload's own name; the notes keep their line breaks; a dealer name registered with a line break
    /// reads as one line.
    #[test]
    fn single_line_fields_of_a_payload_refuse_line_breaks_under_the_payloads_names() {
        let now = vwc_clock::now();
        let repair = |extra: serde_json::Value| {
            let mut v = json!({"type": "repair_order", "vin": "1HGCM82633A004352",
                "occurredAt": "2026-01-01T00:00:00Z", "lines": [{"description": "pads"}]});
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            payload(v)
        };
        let fields = |p: DealerPayload| -> Vec<String> {
            match p.to_new_event("d", "D") {
                Err(errors) => errors.into_iter().map(|e| e.field).collect(),
                Ok(e) => e
                    .check(now)
                    .err()
                    .into_iter()
                    .flatten()
                    .map(|e| payload_field(e).field)
                    .collect(),
            }
        };
        assert_eq!(
            fields(repair(json!({"title": "Brakes\r\nand more"}))),
            ["title"]
        );
        assert_eq!(fields(repair(json!({"system": "brakes\n"}))), ["system"]);
        assert_eq!(
            fields(repair(
                json!({"lines": [{"description": "pads"}, {"description": "rotor\u{7}"}]})
            )),
            ["lines[1].description"]
        );
        let collision = payload(
            json!({"type": "collision_report", "vin": "1HGCM82633A004352",
            "occurredAt": "2026-01-01T00:00:00Z", "severity": "minor", "insuranceClaimId": "A\nB"}),
        );
        assert_eq!(fields(collision), ["insuranceClaimId"]);
        assert!(fields(repair(json!({"notes": "line one\nline two"}))).is_empty());
        assert_eq!(fields(repair(json!({"notes": "bell\u{7}"}))), ["notes"]);
        let e = repair(json!({}))
            .to_new_event("d", "Main St\nAuto")
            .unwrap();
        assert_eq!(e.vendor.unwrap().name, "Main St Auto");
    }

    #[test]
    fn missing_type_specific_fields_are_field_errors() {
        let p = payload(
            json!({"type": "collision_report", "vin": "1HGCM82633A004352", "occurredAt": "2026-01-01T00:00:00Z"}),
        );
        assert_eq!(p.to_new_event("d", "D").unwrap_err()[0].field, "severity");
        let p = payload(
            json!({"type": "service_record", "vin": "1HGCM82633A004352", "occurredAt": "2026-01-01T00:00:00Z",
            "lines": [{"description": "x"}]}),
        );
        assert_eq!(p.to_new_event("d", "D").unwrap_err()[0].field, "lines");
    }
}

#[cfg(test)]
mod schema_tests {
    use std::path::PathBuf;

    use super::DealerPayload;

    fn contracts() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contracts")
    }

    #[test]
    fn the_committed_dealer_webhook_schema_matches_the_type() {
        let schema = serde_json::to_value(schemars::schema_for!(DealerPayload)).unwrap();
        let want = vwc_contracts::schemas::render(&schema);
        let path = contracts().join("schemas/dealer-webhook.json");
        if std::env::var_os("VWC_BLESS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap_or_default(),
            want,
            "contracts/schemas/dealer-webhook.json drifted; run `VWC_BLESS=1 cargo test -p vwc-ingestion` and commit"
        );
    }

    #[test]
    fn every_published_example_parses_and_maps_to_an_event() {
        let dir = contracts().join("examples/dealer-webhooks");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let payload: DealerPayload =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                payload
                    .to_new_event("dlr_example", "Example Motors")
                    .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
                n += 1;
            }
        }
        assert_eq!(n, 5, "one example per payload type");
    }
}
