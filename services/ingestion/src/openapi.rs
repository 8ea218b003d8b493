//! The error responses the ingestion routes document, in two reusable sets: every route behind a bearer
//! token answers [`BearerRoute`]'s, every route that reads a request body [`RequestBody`]'s. A route lists
//! its success response, its sets and the statuses only it has (`404`, `409`).

use std::collections::BTreeMap;

use utoipa::openapi::{Ref, RefOr, Response};
use utoipa::{IntoResponses, ToResponse};
use vwc_http::openapi::{
    BadRequest, Forbidden, InternalServerError, PayloadTooLarge, ServiceUnavailable,
    TooManyRequests, Unauthorized, UnprocessableEntity, UnsupportedMediaType,
};

/// `status → $ref` to the shared problem response of that status (`vwc_http::openapi::components`).
fn references(
    responses: impl IntoIterator<Item = (u16, &'static str)>,
) -> BTreeMap<String, RefOr<Response>> {
    responses
        .into_iter()
        .map(|(status, name)| (status.to_string(), Ref::from_response_name(name).into()))
        .collect()
}

macro_rules! response_set {
    ($(#[$doc:meta])* $name:ident { $($status:literal => $response:ty),+ $(,)? }) => {
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                references([$(($status, <$response as ToResponse>::response().0)),+])
            }
        }
    };
}

response_set! {
    /// A route behind a bearer token: 401 without a valid one, 403 without the permission, and the
    /// rate limit and server failures any route may answer.
    BearerRoute {
        401 => Unauthorized,
        403 => Forbidden,
        429 => TooManyRequests,
        500 => InternalServerError,
        503 => ServiceUnavailable,
    }
}

response_set! {
    /// A route that reads a request body: unreadable (400), too large (413), of the wrong media type
    /// (415) or invalid (422).
    RequestBody {
        400 => BadRequest,
        413 => PayloadTooLarge,
        415 => UnsupportedMediaType,
        422 => UnprocessableEntity,
    }
}
