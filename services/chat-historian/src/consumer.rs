//! Applies the events routed to the chat historian (routes.json) to its knowledge projection: each envelope
//! is claimed in the inbox in the same transaction as its effect.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::Instrument;
use vwc_bus::{Consumer, HandleError};
use vwc_contracts::maintenance::MaintenanceScheduleUpdated;
use vwc_contracts::{Envelope, EventType, VehicleEventRecorded, VehicleRegistered};
use vwc_telemetry::TraceParent;

use crate::knowledge::{ValuationPoint, ValuationUpdatedPayload};
use crate::{CONSUMER, ChatStore};

pub struct ChatConsumer {
    store: Arc<dyn ChatStore>,
}

impl ChatConsumer {
    pub fn new(store: Arc<dyn ChatStore>) -> ChatConsumer {
        ChatConsumer { store }
    }
}

fn decode<T: serde::de::DeserializeOwned>(envelope: &Envelope) -> Result<T, HandleError> {
    envelope
        .data_as()
        .map_err(|e| HandleError::Malformed(e.to_string()))
}

#[async_trait]
impl Consumer for ChatConsumer {
    fn name(&self) -> &str {
        CONSUMER
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        let trace = envelope.traceparent.as_deref().and_then(TraceParent::parse);
        let span = tracing::info_span!("chat_historian.apply", event_id = %envelope.id,
            event_type = %envelope.event_type,
            trace_id = trace.as_ref().map(|t| t.trace_id.as_str()).unwrap_or(""));
        if let Some(t) = &trace {
            vwc_telemetry::set_remote_parent(&span, t);
        }
        async {
            let id = envelope.id.to_string();
            let applied = match envelope.event_type {
                EventType::VehicleRegistered => {
                    let data: VehicleRegistered = decode(envelope)?;
                    self.store
                        .apply_vehicle_registered(&id, &data.vehicle)
                        .await
                        .map_err(HandleError::failed)?
                }
                EventType::VehicleEventRecorded => {
                    let data: VehicleEventRecorded = decode(envelope)?;
                    self.store
                        .apply_vehicle_event(&id, &data.event)
                        .await
                        .map_err(HandleError::failed)?
                }
                EventType::ValuationUpdated => {
                    let data: ValuationUpdatedPayload = decode(envelope)?;
                    let point = ValuationPoint {
                        envelope_id: id.clone(),
                        valuation: data.valuation,
                        computed_at: data.computed_at,
                    };
                    self.store
                        .apply_valuation(&id, &envelope.org_id, &data.vehicle_id, &point)
                        .await
                        .map_err(HandleError::failed)?
                }
                EventType::MaintenanceScheduleUpdated => {
                    let data: MaintenanceScheduleUpdated = decode(envelope)?;
                    self.store
                        .apply_maintenance(&id, &envelope.org_id, &data)
                        .await
                        .map_err(HandleError::failed)?
                }
                // Not routed here; nothing to project.
                _ => true,
            };
            if !applied {
                tracing::debug!("duplicate delivery ignored");
            }
            Ok(())
        }
        .instrument(span)
        .await
    }
}
