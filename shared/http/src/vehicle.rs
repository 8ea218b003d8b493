//! The vehicle a `/v1/vehicles/{id}…` route names, found in the caller's organisation after the caller's
//! roles have admitted the route: the 403-then-404 order of docs/roles.md, written once for every service.
//! Also the path pieces those routes share: the `{id}` / `{eventId}` parameters (read by the handlers and
//! documented in OpenAPI from the same struct).

use std::future::Future;
use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::Deserialize;
use utoipa::IntoParams;
use vwc_auth::Permission;
use vwc_contracts::{EventId, OrgId, VehicleId};
use vwc_store::VehicleRef;

use crate::{Admitted, ApiError, Auth, HasVerifier, RequestTrace};

/// `{id}` of a route on `/v1/vehicles/{id}…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VehiclePath {
    /// The vehicle's id (`veh_…`).
    #[param(value_type = String)]
    pub id: VehicleId,
}

/// `{id}` and `{eventId}` of a route on `/v1/vehicles/{id}/events/{eventId}…`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct VehicleEventPath {
    /// The vehicle's id (`veh_…`).
    #[param(value_type = String)]
    pub id: VehicleId,
    /// The record's id (`evt_…`).
    #[param(value_type = String)]
    pub event_id: EventId,
}

/// A router state that can find a vehicle of an organisation in its service's own store (each service
/// keeps the vehicle in its own form, `V`). `None` when the organisation has no such vehicle.
pub trait FindVehicle<V>: HasVerifier + Send + Sync {
    fn find_vehicle(
        &self,
        org: &OrgId,
        id: &VehicleId,
    ) -> impl Future<Output = Result<Option<V>, ApiError>> + Send;

    /// The vehicle `id` of `org`, or the 404 that a missing vehicle and another organisation's both get.
    fn vehicle_of(
        &self,
        org: &OrgId,
        id: &VehicleId,
    ) -> impl Future<Output = Result<V, ApiError>> + Send {
        async move {
            self.find_vehicle(org, id)
                .await?
                .ok_or(ApiError::NotFound("vehicle"))
        }
    }
}

/// The check a route makes on the caller's roles alone, before it looks anything up (403).
pub trait Gate {
    fn admit(auth: &Auth) -> Result<(), ApiError>;
}

/// Declares a [`Gate`] that needs one [`Permission`]: `permission_gate!(ReadVehicles);`.
#[macro_export]
macro_rules! permission_gate {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name;

        impl $crate::Gate for $name {
            fn admit(auth: &$crate::Auth) -> Result<(), $crate::ApiError> {
                auth.require($crate::__private::Permission::$name)
            }
        }
    };
}

/// The gates the routes of several services share.
pub mod gate {
    use super::{ApiError, Auth, Gate};

    permission_gate!(
        /// `read_vehicles`.
        ReadVehicles
    );
    permission_gate!(
        /// `manage_vehicles`.
        ManageVehicles
    );
    permission_gate!(
        /// `configure_notifications` (the edge's calendar URLs and the notification service's channels).
        ConfigureNotifications
    );

    /// No check before the lookup: the route decides once it has the vehicle (another organisation's
    /// vehicle is then a 404 for every caller).
    pub struct AfterLookup;

    impl Gate for AfterLookup {
        fn admit(_: &Auth) -> Result<(), ApiError> {
            Ok(())
        }
    }
}

/// The caller, admitted by `G`, and the vehicle `{id}` of its organisation (another organisation's is a
/// 404 like a missing one), with the request's trace context for what the route publishes.
pub struct CallerVehicle<V, G> {
    pub auth: Auth,
    pub vehicle: V,
    pub trace: RequestTrace,
    gate: PhantomData<fn() -> G>,
}

impl<V, G> CallerVehicle<V, G> {
    /// The caller's organisation (from the token, which the vehicle belongs to).
    pub fn org(&self) -> OrgId {
        OrgId::from(self.auth.org())
    }

    /// The caller's id (the token's `sub`): who recorded or changed something.
    pub fn actor(&self) -> &str {
        &self.auth.0.sub
    }

    /// This request's `traceparent`, carried by the events it publishes.
    pub fn traceparent(&self) -> Option<String> {
        Some(self.trace.0.to_string())
    }

    /// 403 unless the caller's roles grant `permission` (a check that depends on the vehicle or its
    /// records, made after the lookup).
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        self.auth.require(permission)
    }
}

impl<S, V, G> FromRequestParts<S> for CallerVehicle<V, G>
where
    S: FindVehicle<V>,
    V: Send,
    G: Gate,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let VehicleScope { auth, vehicle, .. } =
            VehicleScope::<G>::from_request_parts(parts, state).await?;
        let vehicle = state
            .vehicle_of(&vehicle.org_id, &vehicle.vehicle_id)
            .await?;
        let Ok(trace) = RequestTrace::from_request_parts(parts, state).await;
        Ok(CallerVehicle {
            auth,
            vehicle,
            trace,
            gate: PhantomData,
        })
    }
}

/// The caller, admitted by `G`, and the vehicle `{id}` as the caller's organisation names it, not looked
/// up: for a route whose own read of its store finds the vehicle (or nothing, the route's 404, for a
/// missing vehicle and another organisation's alike). [`CallerVehicle`] is this and the lookup.
pub struct VehicleScope<G> {
    pub auth: Auth,
    /// The caller's organisation (from the token only) and the path's `{id}`.
    pub vehicle: VehicleRef,
    gate: PhantomData<fn() -> G>,
}

impl<G> VehicleScope<G> {
    /// The caller's id (the token's `sub`).
    pub fn actor(&self) -> &str {
        &self.auth.0.sub
    }
}

impl<S, G> FromRequestParts<S> for VehicleScope<G>
where
    S: Send + Sync,
    Admitted<G>: FromRequestParts<S, Rejection = ApiError>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // The gate first: a caller without the permission is a 403 whatever the path names.
        let Admitted { auth, org, .. } = Admitted::<G>::from_request_parts(parts, state).await?;
        // A path that cannot be read (an id that is not UTF-8) names no vehicle.
        let Path(VehiclePath { id }) = Path::<VehiclePath>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("vehicle"))?;
        Ok(VehicleScope {
            auth,
            vehicle: VehicleRef::new(org, id),
            gate: PhantomData,
        })
    }
}
