//! HTTP routes of the ingestion service (the write side of the API). Errors become HTTP only here.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use sha2::{Digest, Sha256};
use vwc_auth::{Permission, TokenVerifier};
use vwc_contracts::{EventKind, EventSource, NewVehicle, NewVehicleEvent};
use vwc_http::{ApiError, Auth, HasVerifier, RawBody, RequestTrace, parse_json};

use crate::Ingestion;
use crate::service::{RecordError, RegisterError};
use crate::store::IdempotencyKey;

#[derive(Clone)]
pub struct IngestionState {
    pub ingestion: Ingestion,
    pub dealers: Arc<dyn crate::dealers::DealerStore>,
    pub verifier: Arc<dyn TokenVerifier>,
}

impl HasVerifier for IngestionState {
    fn verifier(&self) -> &Arc<dyn TokenVerifier> {
        &self.verifier
    }
}

pub fn router(state: IngestionState) -> Router {
    Router::new()
        .route("/v1/vehicles", post(register_vehicle))
        .route("/v1/vehicles/{id}/events", post(record_event))
        .with_state(state)
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> ApiError {
        match e {
            RegisterError::Invalid(errors) => ApiError::Validation(errors),
            RegisterError::VinTaken(m) => ApiError::Conflict(m),
            RegisterError::Store(e) => ApiError::internal(e),
        }
    }
}

impl From<RecordError> for ApiError {
    fn from(e: RecordError) -> ApiError {
        match e {
            RecordError::Invalid(errors) => ApiError::Validation(errors),
            RecordError::KeyReused => ApiError::Unprocessable(
                "the Idempotency-Key was already used for a different request".into(),
            ),
            RecordError::Store(e) => ApiError::internal(e),
        }
    }
}

async fn register_vehicle(
    State(state): State<IngestionState>,
    auth: Auth,
    trace: RequestTrace,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    auth.require(Permission::RegisterVehicles)?;
    let new: NewVehicle = parse_json(&headers, &body)?;
    let vehicle = state
        .ingestion
        .register_vehicle(auth.org(), new, Some(trace.0.to_string()))
        .await?;
    // Dealer records that arrived before the vehicle was registered become its events now. A failure
    // here is retried at the next start-up (`adopt_waiting_dealer_records`); the registration stands.
    match state
        .dealers
        .adopt_unmatched(
            &vehicle,
            crate::dealers::http::event_builder(Some(trace.0.to_string())),
        )
        .await
    {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(vehicle = %vehicle.id, adopted = n, "unmatched dealer records adopted")
        }
        Err(e) => {
            tracing::warn!(vehicle = %vehicle.id, error = %e, "adopting dealer records failed; will retry at start-up")
        }
    }
    let location = format!("/v1/vehicles/{}", vehicle.id);
    let mut response = (StatusCode::CREATED, axum::Json(vehicle)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// Kinds a technician may record (service work); everything else needs `RecordAnyEvent`.
fn permission_for(kind: EventKind) -> Permission {
    match kind {
        EventKind::Maintenance | EventKind::Repair | EventKind::OdometerReading => {
            Permission::RecordServiceEvent
        }
        _ => Permission::RecordAnyEvent,
    }
}

fn idempotency_key(headers: &HeaderMap, body: &[u8]) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::BadRequest("Idempotency-Key must be 1–255 visible ASCII characters".into())
        })?;
    Ok(Some(IdempotencyKey {
        key: key.to_string(),
        request_hash: format!("{:x}", Sha256::digest(body)),
    }))
}

async fn record_event(
    State(state): State<IngestionState>,
    auth: Auth,
    trace: RequestTrace,
    Path(vehicle_id): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    // Existence in the caller's organisation first: another organisation's vehicle is a 404 for everyone.
    let vehicle = state
        .ingestion
        .store()
        .vehicle(auth.org(), &vehicle_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound("vehicle"))?;
    if !auth.0.can(Permission::RecordAnyEvent) {
        auth.require(Permission::RecordServiceEvent)?;
    }
    let key = idempotency_key(&headers, &body)?;
    let new: NewVehicleEvent = parse_json(&headers, &body)?;
    auth.require(permission_for(new.kind))?;
    let recorded = state
        .ingestion
        .record_event(
            &vehicle,
            new,
            EventSource::User,
            key,
            Some(trace.0.to_string()),
        )
        .await?;
    let mut response = (
        StatusCode::CREATED,
        axum::Json(json!({ "event": recorded.event })),
    )
        .into_response();
    if recorded.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}
