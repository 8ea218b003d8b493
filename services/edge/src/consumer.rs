//! Applies the events routed to the edge to its projection.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::Instrument;
use vwc_bus::{Consumer, HandleError};
use vwc_contracts::maintenance::{MaintenanceScheduleUpdated, NotificationDelivered};
use vwc_contracts::{Envelope, EventType, VehicleEventRecorded, VehicleRegistered};
use vwc_telemetry::TraceParent;

use crate::{CONSUMER, EdgeStore};

pub struct EdgeConsumer {
    store: Arc<dyn EdgeStore>,
}

impl EdgeConsumer {
    pub fn new(store: Arc<dyn EdgeStore>) -> EdgeConsumer {
        EdgeConsumer { store }
    }
}

#[async_trait]
impl Consumer for EdgeConsumer {
    fn name(&self) -> &str {
        CONSUMER
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        let trace = envelope.traceparent.as_deref().and_then(TraceParent::parse);
        let span = tracing::info_span!("edge.apply", event_id = %envelope.id, event_type = %envelope.event_type,
            trace_id = trace.as_ref().map(|t| t.trace_id.as_str()).unwrap_or(""));
        if let Some(t) = &trace {
            vwc_telemetry::set_remote_parent(&span, t);
        }
        async {
            let id = envelope.id.to_string();
            let applied = match envelope.event_type {
                EventType::VehicleRegistered => {
                    let data: VehicleRegistered = envelope
                        .data_as()
                        .map_err(|e| HandleError::Malformed(e.to_string()))?;
                    self.store
                        .apply_vehicle_registered(&id, &data.vehicle)
                        .await
                        .map_err(HandleError::failed)?
                }
                EventType::VehicleEventRecorded => {
                    let data: VehicleEventRecorded = envelope
                        .data_as()
                        .map_err(|e| HandleError::Malformed(e.to_string()))?;
                    self.store
                        .apply_vehicle_event(&id, &data.event, envelope.traceparent.as_deref())
                        .await
                        .map_err(HandleError::failed)?
                }
                EventType::MaintenanceScheduleUpdated => {
                    let data: MaintenanceScheduleUpdated = envelope
                        .data_as()
                        .map_err(|e| HandleError::Malformed(e.to_string()))?;
                    self.store
                        .apply_maintenance(&id, &envelope.org_id, &data)
                        .await
                        .map_err(HandleError::failed)?
                }
                EventType::NotificationDelivered => {
                    let data: NotificationDelivered = envelope
                        .data_as()
                        .map_err(|e| HandleError::Malformed(e.to_string()))?;
                    self.store
                        .apply_notification(&id, &envelope.org_id, &data)
                        .await
                        .map_err(HandleError::failed)?
                }
                EventType::ValuationUpdated => {
                    let data: vwc_contracts::valuation::ValuationUpdated = envelope
                        .data_as()
                        .map_err(|e| HandleError::Malformed(e.to_string()))?;
                    self.store
                        .apply_valuation(&id, &envelope.org_id, &data)
                        .await
                        .map_err(HandleError::failed)?
                }
                // Not routed to the edge (routes.json); nothing to project.
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
