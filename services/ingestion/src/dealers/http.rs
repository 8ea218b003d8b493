//! Dealer routes: registration and rotation (fleet managers, bearer token) and the signed webhook.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::json;
use vwc_auth::{Permission, TokenVerifier};
use vwc_contracts::ids::new_id;
use vwc_contracts::{
    Envelope, EventSource, EventType, NewVehicleEvent, OdometerUnit, Vehicle, VehicleEventRecorded,
    check_vin,
};
use vwc_http::{ApiError, Auth, Clock, HasVerifier, RawBody, RequestTrace, parse_json};
use vwc_webhook::{WebhookHeaders, WebhookSecret};

use super::store::{
    DealerRow, DealerStore, EventBuilder, IncomingWebhook, StoredSecret, WebhookOutcome,
};
use super::{DealerPayload, ROTATION_GRACE_HOURS};
use crate::SOURCE;

#[derive(Clone)]
pub struct DealerState {
    pub dealers: Arc<dyn DealerStore>,
    pub clock: Clock,
    pub verifier: Arc<dyn TokenVerifier>,
}

impl HasVerifier for DealerState {
    fn verifier(&self) -> &Arc<dyn TokenVerifier> {
        &self.verifier
    }
}

pub fn router(state: DealerState) -> Router {
    Router::new()
        .route("/v1/dealers", post(register_dealer))
        .route("/v1/dealers/{id}/rotate-secret", post(rotate_secret))
        .route("/webhooks/dealers/{dealer_id}", post(receive_webhook))
        .with_state(state)
}

/// Builds events from record templates; runs inside the store's transaction.
pub fn event_builder(traceparent: Option<String>) -> EventBuilder {
    Arc::new(move |vehicle: &Vehicle, template: &str, _record_id: &str| {
        let new: NewVehicleEvent = serde_json::from_str(template).ok()?;
        let event = new
            .validate(new_id("evt"), vehicle, EventSource::Dealer, Utc::now())
            .ok()?;
        let envelope = Envelope::new(
            EventType::VehicleEventRecorded,
            SOURCE,
            &vehicle.org_id,
            Some(&vehicle.id),
            traceparent.clone(),
            VehicleEventRecorded {
                event: event.clone(),
            },
        );
        Some((event, envelope))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDealer {
    name: String,
}

async fn register_dealer(
    State(state): State<DealerState>,
    auth: Auth,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    auth.require(Permission::ManageDealers)?;
    let new: NewDealer = parse_json(&headers, &body)?;
    let name = new.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 120 {
        return Err(ApiError::field("name", "must be 1–120 characters"));
    }
    let secret = WebhookSecret::generate();
    let now = state.clock.now();
    let dealer = DealerRow {
        id: new_id("dlr"),
        org_id: auth.org().to_string(),
        name,
        created_at: now,
        secrets: vec![StoredSecret {
            secret: secret.clone(),
            created_at: now,
            expires_at: None,
        }],
    };
    state
        .dealers
        .insert_dealer(&dealer)
        .await
        .map_err(ApiError::internal)?;
    tracing::info!(dealer = %dealer.id, "dealer registered");
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({
            "dealerId": dealer.id,
            "name": dealer.name,
            "createdAt": dealer.created_at,
            "webhookUrl": format!("/webhooks/dealers/{}", dealer.id),
            "webhookSecret": secret.expose(),
        })),
    )
        .into_response())
}

async fn rotate_secret(
    State(state): State<DealerState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let dealer = state
        .dealers
        .dealer(&id)
        .await
        .map_err(ApiError::internal)?
        .filter(|d| d.org_id == auth.org())
        .ok_or(ApiError::NotFound("dealer"))?;
    auth.require(Permission::ManageDealers)?;
    let secret = WebhookSecret::generate();
    let now = state.clock.now();
    let old_until = now + Duration::hours(ROTATION_GRACE_HOURS);
    let rotated = state
        .dealers
        .rotate_secret(auth.org(), &dealer.id, &secret, now, old_until)
        .await
        .map_err(ApiError::internal)?;
    if !rotated {
        return Err(ApiError::NotFound("dealer"));
    }
    Ok(axum::Json(json!({
        "dealerId": dealer.id,
        "webhookSecret": secret.expose(),
        "previousSecretValidUntil": old_until,
    }))
    .into_response())
}

/// A placeholder vehicle to validate a payload's event before any vehicle matches it.
fn unmatched_vehicle(org_id: &str) -> Vehicle {
    Vehicle {
        id: "veh_unmatched".into(),
        org_id: org_id.into(),
        vin: String::new(),
        year: 2000,
        make: String::new(),
        model: String::new(),
        trim: None,
        nickname: None,
        odometer_unit: OdometerUnit::Mi,
        registered_at: Utc::now(),
    }
}

async fn receive_webhook(
    State(state): State<DealerState>,
    Path(dealer_id): Path<String>,
    trace: RequestTrace,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // An unknown dealer and a bad signature look the same from outside.
    let dealer = state
        .dealers
        .dealer(&dealer_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::Unauthorized)?;
    let now = state.clock.now();
    let webhook_headers = WebhookHeaders {
        id: header(vwc_webhook::HEADER_ID),
        timestamp: header(vwc_webhook::HEADER_TIMESTAMP),
        signature: header(vwc_webhook::HEADER_SIGNATURE),
    };
    if let Err(reason) = vwc_webhook::verify(
        &dealer.valid_secrets(now),
        webhook_headers,
        &body,
        now.timestamp(),
    ) {
        tracing::info!(dealer = %dealer.id, %reason, "webhook refused");
        return Err(ApiError::Unauthorized);
    }
    let webhook_id = webhook_headers.id.unwrap_or_default().trim().to_string();
    if webhook_id.len() > 255 {
        return Err(ApiError::BadRequest(
            "webhook-id is longer than 255 characters".into(),
        ));
    }
    let payload: DealerPayload = parse_json(&headers, &body)?;
    let vin = payload.vin.trim().to_ascii_uppercase();
    if let Err(m) = check_vin(&vin) {
        return Err(ApiError::field("vin", m));
    }
    let new = payload
        .to_new_event(&dealer.id, &dealer.name)
        .map_err(ApiError::Validation)?;
    new.clone()
        .validate(
            "evt_check".into(),
            &unmatched_vehicle(&dealer.org_id),
            EventSource::Dealer,
            now,
        )
        .map_err(ApiError::Validation)?;
    let raw = String::from_utf8_lossy(&body).into_owned();
    let template = serde_json::to_string(&new).map_err(ApiError::internal)?;
    let payload_type = serde_json::to_value(payload.payload_type)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let outcome = state
        .dealers
        .receive_webhook(
            &dealer,
            &IncomingWebhook {
                webhook_id,
                vin,
                payload_type,
                raw_payload: raw,
                template,
            },
            event_builder(Some(trace.0.to_string())),
        )
        .await
        .map_err(ApiError::internal)?;
    let body = match outcome {
        WebhookOutcome::Recorded {
            record_id,
            event_id,
        } => {
            json!({"status": "recorded", "eventId": event_id, "dealerRecordId": record_id})
        }
        WebhookOutcome::Unmatched { record_id } => {
            json!({"status": "unmatched", "dealerRecordId": record_id})
        }
        WebhookOutcome::Duplicate {
            record_id,
            event_id,
        } => {
            json!({"status": "duplicate", "eventId": event_id, "dealerRecordId": record_id})
        }
    };
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}
