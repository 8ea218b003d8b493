//! HTTP plumbing every service router shares: RFC 9457 problem+json errors (the one place errors become
//! HTTP), a JSON extractor whose rejections are problems too, the bearer-token extractor, W3C trace
//! context taken from the request, and the OpenAPI pieces every service's routes document themselves with.

mod admitted;
mod auth;
mod body;
mod clock;
mod file;
mod json;
mod limit;
pub mod openapi;
mod problem;
mod trace;
mod vehicle;

pub use admitted::Admitted;
pub use auth::{Auth, Authentication, HasVerifier, authenticate, verify_headers};
pub use body::{JsonBody, RawBody, parse_json};
pub use clock::Clock;
pub use file::{Disposition, FileHeaders, file_response};
pub use json::Json;
pub use limit::{RateLimiter, rate_limit};
pub use problem::{ApiError, Problem};
pub use trace::{RequestTrace, trace_context};
pub use vehicle::{CallerVehicle, FindVehicle, Gate, Query, VehicleEventPath, VehiclePath, gate};
/// The verifier a [`HasVerifier`] state hands out (re-exported for [`has_verifier!`]).
pub use vwc_auth::TokenVerifier;

/// Largest request body accepted anywhere (DESIGN: 256 KiB → 413).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// `Content-Type` of every error response.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// What this crate's macros name in the crate that expands them.
#[doc(hidden)]
pub mod __private {
    pub use vwc_auth::Permission;
}
