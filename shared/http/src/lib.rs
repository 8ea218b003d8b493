//! HTTP plumbing every service router shares: RFC 9457 problem+json errors (the one place errors become
//! HTTP), a JSON extractor whose rejections are problems too, the bearer-token extractor, W3C trace
//! context taken from the request, and the OpenAPI pieces every service's routes document themselves with.

mod admitted;
mod auth;
mod body;
mod clock;
mod count;
mod file;
mod json;
mod limit;
pub mod openapi;
mod problem;
mod query;
mod trace;
mod vehicle;

pub use admitted::Admitted;
pub use auth::{Auth, Authentication, HasVerifier, authenticate, verify_headers};
pub use body::{JsonBody, RawBody, parse_json};
pub use clock::Clock;
pub use count::count_param;
pub use file::{Disposition, FileHeaders, content_disposition, file_response};
pub use json::{Created, Json};
pub use limit::{RateLimiter, rate_limit};
pub use problem::{ApiError, Problem};
pub use query::{AllFields, Query, RouteQuery, documented_query};
pub use trace::{RequestTrace, trace_context};
pub use vehicle::{
    CallerVehicle, FindVehicle, Gate, VehicleEventPath, VehiclePath, VehicleScope, gate,
};
/// The verifier a [`HasVerifier`] state hands out (re-exported for [`has_verifier!`]).
pub use vwc_auth::TokenVerifier;
/// A handler's route and its OpenAPI documentation in one attribute (see `vwc_http_macros`).
pub use vwc_http_macros::route;

/// Largest request body accepted anywhere (DESIGN: 256 KiB → 413).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// `Content-Type` of every error response.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// What this crate's macros name in the crate that expands them.
#[doc(hidden)]
pub mod __private {
    pub use utoipa_axum;
    pub use vwc_auth::Permission;
}

/// A service's routes and their OpenAPI documentation, starting from the [`openapi::components`] every
/// service shares: `service_routes![a, b | c]` registers handler `a`, then `b` and `c` (two methods of one
/// path) together; each with the `#[route]` it is declared with, so neither can go missing, and knowing
/// the query parameters it documents (a [`Query`] of the route refuses any other: [`documented_query`]).
#[macro_export]
macro_rules! service_routes {
    ($($handler:path $(| $same_path:path)*),* $(,)?) => {
        $crate::__private::utoipa_axum::router::OpenApiRouter::with_openapi($crate::openapi::components())
            $(.routes($crate::documented_query(
                $crate::__private::utoipa_axum::routes!($handler $(, $same_path)*)
            )))*
    };
}

/// The router of a service's `routes` on its `state`: what a test, or a server running that service
/// alone, serves.
pub fn router<S: Clone + Send + Sync + 'static>(
    routes: utoipa_axum::router::OpenApiRouter<S>,
    state: S,
) -> axum::Router {
    axum::Router::from(routes).with_state(state)
}
