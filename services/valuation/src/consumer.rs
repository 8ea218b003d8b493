//! Applies `VehicleRegistered` and `VehicleEventRecorded` to the valuation service: each envelope is
//! claimed in the inbox in the same transaction as its effect and the valuations it publishes.

use async_trait::async_trait;
use tracing::Instrument;
use vwc_bus::{Consumer, HandleError};
use vwc_contracts::{Envelope, EventType, VehicleEventRecorded, VehicleRegistered};
use vwc_telemetry::TraceParent;

use crate::CONSUMER;
use crate::store::CommitOutcome;
use crate::valuer::Valuer;

pub struct ValuationConsumer {
    valuer: Valuer,
}

impl ValuationConsumer {
    pub fn new(valuer: Valuer) -> ValuationConsumer {
        ValuationConsumer { valuer }
    }
}

#[async_trait]
impl Consumer for ValuationConsumer {
    fn name(&self) -> &str {
        CONSUMER
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        let trace = envelope.traceparent.as_deref().and_then(TraceParent::parse);
        let span = tracing::info_span!("valuation.apply", event_id = %envelope.id,
            event_type = %envelope.event_type,
            trace_id = trace.as_ref().map(|t| t.trace_id.as_str()).unwrap_or(""));
        if let Some(t) = &trace {
            vwc_telemetry::set_remote_parent(&span, t);
        }
        // What this hop publishes continues the incoming trace.
        let outgoing = trace.map(|t| t.child().to_string());
        async {
            let id = envelope.id.to_string();
            let outcome = match envelope.event_type {
                EventType::VehicleRegistered => {
                    let data: VehicleRegistered = envelope
                        .data_as()
                        .map_err(|e| HandleError::Malformed(e.to_string()))?;
                    Some(
                        self.valuer
                            .vehicle_registered(&id, &data.vehicle, outgoing.as_deref())
                            .await
                            .map_err(HandleError::failed)?
                            .outcome,
                    )
                }
                EventType::VehicleEventRecorded => {
                    let data: VehicleEventRecorded = envelope
                        .data_as()
                        .map_err(|e| HandleError::Malformed(e.to_string()))?;
                    self.valuer
                        .vehicle_event(&id, &data.event, outgoing.as_deref())
                        .await
                        .map_err(HandleError::failed)?
                        .map(|u| u.outcome)
                }
                // Not routed here (routes.json).
                _ => None,
            };
            if outcome == Some(CommitOutcome::Duplicate) {
                tracing::debug!("duplicate delivery ignored");
            }
            Ok(())
        }
        .instrument(span)
        .await
    }
}
