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
pub use query::{AllFields, Query, RouteQuery, documented_query, method_of, with_query};
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
    pub use axum;
    pub use utoipa_axum;
    pub use vwc_auth::Permission;
}

/// A service's routes, with their OpenAPI documentation (starting from the [`openapi::components`] every
/// service shares) when `docs` is [`Docs::Built`](openapi::Docs): `service_routes![docs; a, b | c]`
/// registers handler `a`, then `b` and `c` (two methods of one path) together; each with the `#[route]` it
/// is declared with, so neither can go missing, and knowing the query parameters it documents (a [`Query`]
/// of the route refuses any other: [`with_query`]). With [`Docs::Skipped`](openapi::Docs) only each
/// handler's path, methods and query parameters are read.
#[macro_export]
macro_rules! service_routes {
    // Each method of the handlers, with the query parameters its handler declares.
    // (Inside `paste!`, as `utoipa_axum::routes!` calls itself: a handler's path given on, which
    // `routes!(@path …)` takes apart, must reach it as tokens.)
    (@query $($handler:path),+) => {{
        let mut taken = ::std::vec::Vec::new();
        $($crate::__private::utoipa_axum::paste! {
            let names: ::std::boxed::Box<[::std::string::String]> =
                $crate::__private::utoipa_axum::routes!(@path [query_names()] of $handler).into();
            for method in $crate::__private::utoipa_axum::routes!(@path [methods()] of $handler) {
                taken.push(($crate::method_of(&method), names.clone()));
            }
        })*
        taken
    }};
    // The handlers on the methods they declare.
    (@router $router:expr; $handler:path $(, $rest:path)*) => {
        $crate::service_routes!(@router
            $crate::__private::utoipa_axum::paste! {
                $crate::__private::utoipa_axum::routes!(@path [methods()] of $handler)
            }
                .iter()
                .fold($router, |router, method| {
                    router.on($crate::__private::utoipa_axum::PathItemExt::to_method_filter(method), $handler)
                });
            $($rest),*)
    };
    (@router $router:expr;) => {
        $router
    };
    ($docs:expr; $($handler:path $(| $same_path:path)*),* $(,)?) => {
        match $docs {
            $crate::openapi::Docs::Built => {
                $crate::__private::utoipa_axum::router::OpenApiRouter::with_openapi($crate::openapi::components())
                    $(.routes($crate::documented_query(
                        $crate::__private::utoipa_axum::routes!($handler $(, $same_path)*),
                        $crate::service_routes!(@query $handler $(, $same_path)*),
                    )))*
            }
            $crate::openapi::Docs::Skipped => {
                $crate::__private::utoipa_axum::router::OpenApiRouter::from(
                    $crate::__private::axum::Router::new()
                        $(.route(
                            &{
                                let path = $crate::__private::utoipa_axum::paste! {
                                    $crate::__private::utoipa_axum::routes!(@path [path()] of $handler)
                                };
                                $(debug_assert_eq!(
                                    path,
                                    $crate::__private::utoipa_axum::paste! {
                                        $crate::__private::utoipa_axum::routes!(@path [path()] of $same_path)
                                    },
                                    "`a | b` in `service_routes!` are two methods of one path"
                                );)*
                                path
                            },
                            $crate::with_query(
                                $crate::service_routes!(@router $crate::__private::axum::routing::MethodRouter::new(); $handler $(, $same_path)*),
                                $crate::service_routes!(@query $handler $(, $same_path)*),
                            ),
                        ))*
                )
            }
        }
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
