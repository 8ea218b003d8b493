//! HTTP routes of the ingestion service (the write side of the API). Errors become HTTP only here; each
//! route's `#[route]` documents it, and [`routes`] registers handler and documentation together.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use vwc_auth::{Permission, TokenVerifier};
use vwc_contracts::{
    EventKind, EventSource, FieldError, NewVehicle, NewVehicleEvent, OrgId, Vehicle, VehicleEvent,
    VehicleId,
};
use vwc_http::gate::AfterLookup;
use vwc_http::openapi::Conflict;
use vwc_http::route;
use vwc_http::{
    Admitted, ApiError, Auth, CallerVehicle, Created, FindVehicle, Gate, Json, RawBody,
    RequestTrace, VehiclePath, parse_json,
};

use crate::Ingestion;
use crate::openapi::{BearerBody, ResourceBody};
use crate::service::{RecordError, RegisterError};
use crate::store::IdempotencyKey;
use vwc_store::VehicleRef;

#[derive(Clone)]
pub struct IngestionState {
    pub ingestion: Ingestion,
    pub verifier: Arc<dyn TokenVerifier>,
}

vwc_http::has_verifier!(IngestionState);

/// The ingestion routes (with their OpenAPI documentation as `docs` says); the composition merges them and
/// adds the state.
pub fn routes(docs: vwc_http::openapi::Docs) -> OpenApiRouter<IngestionState> {
    vwc_http::service_routes![docs;
        register_vehicle,
        record_event,
        crate::vin::decode_vin,
        crate::import::http::import_csv,
    ]
    .merge(crate::corrections::http::routes(docs))
}

/// `201` of `POST /v1/vehicles/{id}/events`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordedEvent {
    pub event: VehicleEvent,
    /// What the vehicle's other records make doubtful about this one, the record kept as sent: an
    /// odometer lower than an earlier reading (left out as a rollback by the schedule and the valuation),
    /// higher than later ones, or further than a vehicle is driven since the previous reading. Left out
    /// when there is none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<FieldError>,
}

impl From<RegisterError> for ApiError {
    fn from(e: RegisterError) -> ApiError {
        match e {
            RegisterError::Invalid(errors) => ApiError::Validation(errors),
            RegisterError::VinTaken(m) => ApiError::Conflict(m),
            RegisterError::Store(e) => ApiError::from(e),
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
            RecordError::Store(e) => ApiError::from(e),
        }
    }
}

/// Register a vehicle
///
/// Registers a vehicle in the caller's organisation. Dealer records that arrived earlier for its VIN become
/// its timeline events now.
#[route(post "/v1/vehicles", tag = "vehicles", body = NewVehicle,
    ok(201, "Registered.", Vehicle,
        headers(("Location" = String, description = "`/v1/vehicles/{id}` of the new vehicle."))),
    errors(409 => Conflict, BearerBody))]
async fn register_vehicle(
    State(state): State<IngestionState>,
    Admitted { auth, .. }: Admitted<RegisterVehicles>,
    trace: RequestTrace,
    Json(new): Json<NewVehicle>,
) -> Result<Response, ApiError> {
    let vehicle = state
        .ingestion
        .register_vehicle(auth.org(), new, Some(trace.0.to_string()))
        .await?;
    let location = format!("/v1/vehicles/{}", vehicle.id);
    let mut response = Created(vehicle).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

impl FindVehicle<Vehicle> for IngestionState {
    async fn find_vehicle(&self, org: &OrgId, id: &VehicleId) -> Result<Option<Vehicle>, ApiError> {
        let vehicle = VehicleRef::new(org.clone(), id.clone());
        Ok(self.ingestion.store().vehicle(&vehicle).await?)
    }
}

/// The vehicle `{id}` of the caller's organisation, once gate `G` has admitted the caller (another
/// organisation's vehicle is a 404 like a missing one), with the service that records and changes it.
/// Every route on `/v1/vehicles/{id}…` starts here; it reads as the [`CallerVehicle`] it holds.
pub(crate) struct VehicleOf<G> {
    pub ingestion: Ingestion,
    caller: CallerVehicle<Vehicle, G>,
}

impl<G> std::ops::Deref for VehicleOf<G> {
    type Target = CallerVehicle<Vehicle, G>;

    fn deref(&self) -> &Self::Target {
        &self.caller
    }
}

/// The service of the state, as axum hands a part of the state to an extractor.
impl FromRef<IngestionState> for Ingestion {
    fn from_ref(state: &IngestionState) -> Ingestion {
        state.ingestion.clone()
    }
}

impl<S, G> FromRequestParts<S> for VehicleOf<G>
where
    S: FindVehicle<Vehicle>,
    Ingestion: FromRef<S>,
    G: Gate,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = CallerVehicle::from_request_parts(parts, state).await?;
        let ingestion = Ingestion::from_ref(state);
        Ok(VehicleOf { ingestion, caller })
    }
}

vwc_http::permission_gate!(
    /// The role-only check of `POST /v1/vehicles`.
    RegisterVehicles
);

/// The role-only check of the routes that record or change records, before the kind is known: 403
/// unless the caller may record some kind of event (any kind, or service work).
pub(crate) struct Recording;

impl Gate for Recording {
    fn admit(auth: &Auth) -> Result<(), ApiError> {
        if !auth.0.can(Permission::RecordAnyEvent) {
            auth.require(Permission::RecordServiceEvent)?;
        }
        Ok(())
    }
}

/// Kinds a technician may record (service work); everything else needs `RecordAnyEvent`.
pub(crate) fn permission_for(kind: EventKind) -> Permission {
    match kind {
        EventKind::Maintenance | EventKind::Repair | EventKind::OdometerReading => {
            Permission::RecordServiceEvent
        }
        _ => Permission::RecordAnyEvent,
    }
}

/// The `Idempotency-Key` of a request with its fingerprint: the method, the route with its parameters and
/// the body, so the same key sent for another request (another vehicle, say) is told apart and refused.
fn idempotency_key(
    headers: &HeaderMap,
    method: &str,
    route: &str,
    params: &[&str],
    body: &[u8],
) -> Result<Option<IdempotencyKey>, ApiError> {
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
        request_hash: request_fingerprint(method, route, params, body),
    }))
}

/// SHA-256 over the method, the route template, each parameter and the body, each part length-prefixed so
/// no two different requests share the input. A JSON body counts as its value, not its bytes: a client
/// that serialises its retry again (other spacing, other key order) sends the same request.
fn request_fingerprint(method: &str, route: &str, params: &[&str], body: &[u8]) -> String {
    let canonical = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .map(|value| canonical_json(&value));
    let body = canonical.as_deref().unwrap_or(body);
    let mut hash = Sha256::new();
    for part in [method.as_bytes(), route.as_bytes()]
        .into_iter()
        .chain(params.iter().map(|p| p.as_bytes()))
        .chain([body])
    {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    format!("{:x}", hash.finalize())
}

/// `value` written with no spaces and every object's keys sorted (sorted here: whether serde_json's map
/// keeps insertion order depends on the features other crates of the build turn on; either way a map built
/// from sorted keys writes them sorted).
fn canonical_json(value: &serde_json::Value) -> Vec<u8> {
    fn sorted(value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                serde_json::Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(sorted).collect())
            }
            scalar => scalar.clone(),
        }
    }
    serde_json::to_vec(&sorted(value)).expect("a JSON value serialises")
}

/// Record a timeline event
///
/// Technicians may record `maintenance`, `repair` and `odometer_reading` events; owners and fleet managers
/// any kind. With an `Idempotency-Key`, a retry of the same request answers the first event again (with
/// `Idempotent-Replayed: true`); the same key with a different body is a 422. A sold vehicle takes records
/// dated up to its sale (late paperwork); one dated after it is a 422 on `occurredAt` naming the sale.
#[route(post "/v1/vehicles/{id}/events", tag = "timeline",
    params(
        VehiclePath,
        ("Idempotency-Key" = Option<String>, Header, max_length = 255, pattern = "^[ -~]*[!-~][ -~]*$",
            description = "Makes retries safe: 1–255 visible ASCII characters, unique per request."),
    ),
    body = vwc_contracts::schema_types::NewVehicleEventSchema,
    ok(201, "Recorded (or replayed for a repeated `Idempotency-Key`).", RecordedEvent,
        headers(("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same key."))),
    errors(ResourceBody))]
async fn record_event(
    // Existence in the caller's organisation first: another organisation's vehicle is a 404 for everyone.
    caller: VehicleOf<AfterLookup>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    Recording::admit(&caller.auth)?;
    let vehicle = &caller.vehicle;
    let key = idempotency_key(
        &headers,
        "POST",
        "/v1/vehicles/{id}/events",
        &[&vehicle.id],
        &body,
    )?;
    let new: NewVehicleEvent = parse_json(&headers, &body)?;
    caller.require(permission_for(new.kind))?;
    let recorded = caller
        .ingestion
        .record_event(vehicle, new, EventSource::User, key, caller.traceparent())
        .await?;
    // Advisory: the record is stored already, so a failed read of the others is no failed request.
    let warnings = caller
        .ingestion
        .odometer_warnings(vehicle, &recorded.event)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(vehicle = %vehicle.id, error = %e, "odometer warnings not read");
            Vec::new()
        });
    let mut response = Created(RecordedEvent {
        event: recorded.event,
        warnings,
    })
    .into_response();
    if recorded.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}
